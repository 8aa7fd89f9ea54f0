"""``jsim sweep``: a grid over one or two scenario fields, on common random numbers."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit, plot_needs_out, report_needs_out


@click.command()
@opt.scenario_arg
@opt.sweep_param
@opt.metric
@opt.customers
@opt.days
@opt.sweep_reps
@opt.seed
@opt.engine
@opt.fmt_sweep
@opt.sweep_out
@opt.sweep_plot
@opt.sweep_report
@opt.quiet
@opt.strict
@opt.overrides
@opt.cluster
def sweep(
    scenario,
    params,
    metrics,
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
    """Run SCENARIO over a grid of one or two --param KEYs and report each --metric at every point.

    \b
    Every grid point runs on the same replication seeds (common random numbers), so the curve
    is not blurred by noise that differs from point to point; each point's difference to the
    first is paired. Every grid point is validated before the first is simulated.
    Examples:
      jsim sweep scenarios/support_understaffed.toml --param touchpoints.support_chat.service.agents=1:6:6 \\
        --metric new_customers --metric sources.support_chat:abandoned.moves --out out/agents --plot
      jsim sweep scenarios/webshop.toml --param economics.margin=0.25:0.45:5 \\
        --param touchpoints.search_ads.spend=100:500:5 --metric net_profit --engine mean-field
    --set applies first, then the grid's values; the other options mean what they mean for
    `jsim run`. --out writes sweep.csv and sweep.json as one set (sweep.png with --plot, report.html
    with --report).
    """
    from ..report.sweep import render_sweep
    from ..runner import sweep_scenario

    plot_needs_out(plot, out, "sweep.png")
    report_needs_out(report, out)
    result, written = sweep_scenario(
        scenario,
        params,
        metrics,
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
    emit(fmt, result.as_json(), lambda console: render_sweep(result, console), written, out)
