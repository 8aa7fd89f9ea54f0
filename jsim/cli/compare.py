"""``jsim compare``: a baseline against other scenario files and variants, on common random numbers."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit, plot_needs_out, report_needs_out


@click.command()
@click.argument("baseline", type=click.Path(dir_okay=False, path_type=str), metavar="BASE")
@click.argument("others", nargs=-1, type=click.Path(dir_okay=False, path_type=str), metavar="[OTHER...]")
@opt.variant
@opt.customers
@opt.days
@opt.compare_reps_opt
@opt.seed
@opt.engine
@opt.fmt_compare
@opt.compare_out
@opt.compare_plot
@opt.compare_report
@opt.quiet
@opt.strict
@opt.overrides
@opt.cluster
def compare(
    baseline,
    others,
    variants,
    customers,
    days,
    reps,
    seed,
    engine,
    fmt,
    out,
    plot,
    report,
    quiet,
    strict,
    overrides,
    scheduler,
    workers,
):
    """Compare BASE with OTHER scenario files and --variant changes of BASE, on the same random numbers.

    \b
    Every version runs on the same replication seeds (common random numbers), so the difference
    to BASE is paired: its 95% interval is much narrower than independent runs would give, and
    each difference gets a verdict: real (the interval excludes 0) or noise, with the
    replications that would tell a difference of that size apart. The moves by source show why.
    Examples:
      jsim compare scenarios/support_understaffed.toml --variant chat3:touchpoints.support_chat.service.agents=3
      jsim compare scenarios/webshop.toml my_webshop.toml --reps 20 --out out/cmp --plot
    --set applies to every version; the options mean what they mean for `jsim run`.
    """
    from ..report.compare import render_comparison
    from ..runner import compare_scenarios

    plot_needs_out(plot, out, "compare.png")
    report_needs_out(report, out)
    comparison, written = compare_scenarios(
        baseline,
        others,
        variants=variants,
        customers=customers,
        days=days,
        seed=seed,
        reps=reps,
        engine=engine,
        out=out,
        plot=plot,
        report=report,
        progress=not quiet,
        strict=strict,
        overrides=overrides,
        scheduler=scheduler,
        workers=workers,
    )
    emit(fmt, comparison.as_json(), lambda console: render_comparison(comparison, console), written, out)
