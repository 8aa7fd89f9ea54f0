"""``jsim optimise``: split a budget across a scenario's touchpoints, explain and compare the answer."""

from __future__ import annotations

import sys

import click

from . import options as opt


@click.command()
@opt.scenario_arg
@opt.budget
@opt.objective
@opt.constraint
@opt.trials
@opt.reps
@opt.seed
@opt.bounds
@opt.touchpoints
@opt.opt_engine
@opt.sampler
@opt.storage
@opt.resume
@opt.worker
@opt.study_name
@opt.opt_out
@opt.weekly
@opt.compare_reps
@opt.customers
@opt.days
@opt.quiet
@opt.promote
@opt.overrides
def optimise(
    scenario,
    budget,
    objectives,
    constraints,
    trials,
    reps,
    seed,
    bounds,
    touchpoints,
    engine,
    sampler,
    storage,
    resume,
    worker,
    study_name,
    out,
    weekly,
    compare_reps,
    customers,
    days,
    quiet,
    promote,
    overrides,
):
    """Split --budget across SCENARIO's touchpoints to maximise --objective (several: a Pareto front).

    Prints the best split against the scenario's current split and an equal split (fresh seeds,
    95% intervals, uplift), the marginal return of each touchpoint, active bounds and the cost of
    a 10% shift. --out writes allocation.json, trials.csv, pareto.csv and plots as one set (the
    study journal there is kept); nothing is run or written when a flag or --out is invalid, or
    when --out holds a study and --resume is not given (exit 2).
    """
    from rich.console import Console

    from ..optimise.objectives import ScenarioObjective, parse_bounds, parse_constraint, parse_metric
    from ..optimise.study import StudyInterrupted, optimise_scenario
    from ..report import render_report, write_report
    from ..runner import progress_bar
    from ..scenario import load_scenario

    if (resume or worker) and not (out or storage):
        raise click.UsageError("--resume and --worker need the study's --out DIR or --storage URL")
    obj = ScenarioObjective(
        load_scenario(scenario, overrides),
        budget,
        touchpoints=touchpoints,
        metric=[parse_metric(m, where="--objective") for m in objectives],
        constraints=[parse_constraint(c, where="--constraint") for c in constraints],
        engine=engine,
        reps=reps,
        seed=seed,
        customers=customers,
        days=days,
        weekly=weekly,
        promote=promote,
    )
    limits = parse_bounds(bounds, list(obj.names), budget, where="--bounds")
    _quiet_optuna()
    with progress_bar(not quiet, f"optimising {obj.scenario.name}") as report:
        result = optimise_scenario(
            obj,
            bounds=limits,
            n_trials=trials,
            seed=seed,
            sampler=sampler,
            storage=storage,
            out=out,
            resume=resume,
            worker=worker,
            study_name=study_name,
            callbacks=[_progress(report, trials)],
            compare_reps=compare_reps,
        )
    try:
        render_report(result, Console(file=sys.stdout, width=140))
        if out:
            written = write_report(result, out)
            click.echo(f"wrote {', '.join(p.name for p in written)} into {out}")
    except KeyboardInterrupt:
        raise StudyInterrupted.after(result, trials) from None


def _progress(report, n_trials: int):
    """An Optuna callback that moves the progress bar ``report`` (or does nothing when it is None)."""
    done = [0]

    def tick(study, trial):
        done[0] += 1
        if report is not None:
            report(min(done[0] / n_trials, 1.0))

    return tick


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
