"""``jsim calibrate``: fit scenario fields to observed daily series (Optuna point fit or ABC-SMC posterior)."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit, plot_needs_out, report_needs_out


@click.command()
@opt.scenario_arg
@opt.observed_data
@opt.fit_param
@opt.calibrate_method
@opt.calibrate_trials
@opt.population
@opt.generations
@opt.customers
@opt.days
@opt.sensitivity_reps
@opt.seed
@opt.sensitivity_engine
@opt.fmt_calibrate
@opt.calibrate_out
@opt.calibrate_plot
@opt.calibrate_report
@opt.quiet
@opt.strict
@opt.overrides
@opt.cluster
@opt.calibrate_batch
def calibrate(scenario, data, fits, method, trials, population, generations, customers, days, reps, seed, engine,
              fmt, out, plot, report, quiet, strict, overrides, scheduler, workers, batch):  # fmt: skip
    """Fit each --fit KEY within LOW:HIGH so the scenario reproduces the observed series in --data.

    \b
    The observed cells are Poisson counts around the engine's expected series (revenue counted in
    orders of the mean order value); --method optuna minimises their deviance (Optuna, then a local
    polish) and gives Laplace 95% intervals; --method abc samples the posterior with ABC-SMC
    (pyabc) and gives 95% credible intervals. A KEY the data cannot pin down (a flat deviance) and
    two KEYs that trade off (|correlation| > 0.95) are warned about. Example:
      jsim run scenarios/webshop.toml --engine mean-field -o obs
      jsim calibrate scenarios/webshop.toml --data obs/daily.csv \\
        --fit 'transitions.aware->considering.p=0.002:0.02' --fit 'transitions.considering->cart.p=0.001:0.02'
    --set applies first; --out writes calibration.json, fitted.toml, fitted.csv (and posterior.csv,
    calibration.png with --plot, report.html with --report) as one set.
    """
    from ..report.calibrate import render_calibration
    from ..runner import calibrate_scenario

    plot_needs_out(plot, out, "calibration.png")
    report_needs_out(report, out)
    result, written = calibrate_scenario(
        scenario, data, fits, method=method, trials=trials, population=population, generations=generations,
        customers=customers, days=days, seed=seed, reps=reps, engine=engine, out=out, plot=plot, report=report,
        progress=not quiet, strict=strict, overrides=overrides, scheduler=scheduler, workers=workers,
        batch=batch,
    )  # fmt: skip
    emit(fmt, result.as_json(), lambda console: render_calibration(result, console), written, out)
