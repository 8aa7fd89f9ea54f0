"""``jsim sensitivity``: which scenario fields move a metric (one at a time, Morris, Sobol with SALib)."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit, plot_needs_out, report_needs_out


@click.command()
@opt.scenario_arg
@opt.sensitivity_param
@opt.metric
@opt.method
@opt.samples
@opt.levels
@opt.customers
@opt.days
@opt.sensitivity_reps
@opt.seed
@opt.sensitivity_engine
@opt.fmt_sensitivity
@opt.sensitivity_out
@opt.sensitivity_plot
@opt.sensitivity_report
@opt.quiet
@opt.strict
@opt.overrides
@opt.cluster
def sensitivity(
    scenario,
    params,
    metrics,
    method,
    samples,
    levels,
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
    """Vary each --param KEY over LOW:HIGH and measure how much it moves each --metric.

    \b
    --method oat: each KEY at LOW and at HIGH, the others as in the file; the swing f(HIGH) - f(LOW).
    --method morris: elementary effects (SALib): mu* (mean absolute effect over the range, with
      its 95% interval) and sigma (interactions, non-linearity); cheap screening of many KEYs.
    --method sobol: variance-based indices (SALib): S1 (alone), ST (with interactions), S2
      (pairs), each with its 95% bootstrap interval; N x (2D+2) evaluations.
    Parameters are uniform on [LOW, HIGH]; a whole-number field (agents, customers) is sampled
    uniformly on the integers LOW..HIGH. The mean-field engine (default) is exact and fast; with
    --engine fast each evaluation averages --reps replications on the same seeds. --seed also
    seeds SALib's sampler and bootstrap. Example:
      jsim sensitivity scenarios/webshop.toml --param economics.margin=0.25:0.45 \\
        --param touchpoints.search_ads.spend=100:500 --metric net_profit --method sobol
    --set applies first; --out writes sensitivity.csv and sensitivity.json as one set
    (sensitivity.png with --plot, report.html with --report).
    """
    from ..report.sensitivity import render_sensitivity
    from ..runner import sensitivity_scenario

    plot_needs_out(plot, out, "sensitivity.png")
    report_needs_out(report, out)
    result, written = sensitivity_scenario(
        scenario,
        params,
        metrics,
        method=method,
        samples=samples,
        levels=levels,
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
    emit(fmt, result.as_json(), lambda console: render_sensitivity(result, console), written, out)
