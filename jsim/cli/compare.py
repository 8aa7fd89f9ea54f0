"""``jsim compare``: a baseline against other scenario files and variants, on common random numbers."""

from __future__ import annotations

import sys

import click

from . import options as opt


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
@opt.quiet
@opt.strict
@opt.overrides
def compare(baseline, others, variants, customers, days, reps, seed, engine, fmt, out, plot, quiet, strict, overrides):
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
    from ..runner import compare_scenarios

    if plot and not out:
        raise click.UsageError("--plot needs --out DIR to write compare.png into")
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
        progress=not quiet,
        strict=strict,
        overrides=overrides,
    )
    if fmt == "json":
        from ..io import to_json

        click.echo(to_json(comparison.as_json()), nl=False)
        return
    from rich.console import Console

    from ..report.compare import render_comparison

    render_comparison(comparison, Console(file=sys.stdout, width=120))
    if written:
        click.echo(f"wrote {', '.join(p.name for p in written)} into {out}")
