"""``jsim optimise``: split a budget across a scenario's touchpoints, explain and compare the answer."""

from __future__ import annotations

import sys

import click

from . import options as opt
from ._emit import report_needs_out


@click.command()
@opt.scenario_arg
@opt.budget
@opt.objective
@opt.constraint
@opt.trials
@opt.max_evaluations
@opt.batch
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
@opt.opt_report
@opt.weekly
@opt.compare_reps
@opt.customers
@opt.days
@opt.quiet
@opt.promote
@opt.budget_range
@opt.target_cac
@opt.target_roas
@opt.evaluate
@opt.allocation
@opt.overrides
@opt.cluster
def optimise(
    scenario,
    budget,
    objectives,
    constraints,
    trials,
    max_evaluations,
    batch,
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
    report,
    weekly,
    compare_reps,
    customers,
    days,
    quiet,
    promote,
    budget_range,
    target_cac,
    target_roas,
    evaluate,
    allocation_file,
    overrides,
    scheduler,
    workers,
):
    """Split --budget across SCENARIO's touchpoints to maximise --objective (several: a Pareto front).

    Prints the best split against the scenario's current split and an equal split (fresh seeds,
    95% intervals, uplift), the marginal return of each touchpoint, active bounds and the cost of
    a 10% shift. --out writes allocation.json, trials.csv, pareto.csv and plots (report.html with
    --report) as one set (the study journal there is kept); nothing is run or written when a flag
    or --out is invalid, or when --out holds a study and --resume is not given (exit 2).

    Budget advice: with --objective profit or clv (break-even) or a --target-cac/--target-roas, it
    says whether the last unit spent pays; --budget-range MIN:MAX also finds the best total.
    --evaluate/--allocation scores your own split in the same table. --scheduler/--workers (with
    --engine fast) run each trial's replications on Dask workers; the study stays in its storage.
    --batch N evaluates N trials side by side (on those workers, or in threads).
    """
    from rich.console import Console

    from ..engine.distributed import check_cluster_args, connect
    from ..errors import caused_by_interrupt
    from ..optimise.objectives import ScenarioObjective, parse_constraint, parse_metric
    from ..optimise.study import StudyInterrupted, check_cluster_engine, optimise_scenario
    from ..report import render_report, write_report
    from ..runner import progress_bar
    from ..scenario import load_scenario

    report_needs_out(report, out)
    if (resume or worker) and not (out or storage):
        raise click.UsageError("--resume and --worker need the study's --out DIR or --storage URL")
    if trials is not None and max_evaluations is not None and trials > max_evaluations:
        raise click.UsageError(
            f"--trials <= --max-evaluations must hold (each trial is an evaluation), got --trials {trials}, "
            f"--max-evaluations {max_evaluations}"
        )
    _check_budget_flags(budget, budget_range, evaluate, allocation_file)
    check_cluster_args(scheduler, workers)
    check_cluster_engine(engine, scheduler, workers)
    obj = ScenarioObjective(
        load_scenario(scenario, overrides),
        budget or 1.0,  # settled by _budget_inputs when --budget is not given
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
    obj, limits, advice = _budget_inputs(
        obj, budget, bounds, budget_range, target_cac, target_roas, evaluate, allocation_file
    )
    _check_batch(batch, obj, trials, max_evaluations)
    if batch == 1 and (scheduler is not None or workers is not None) and not quiet:
        n = workers if workers is not None else "N"
        click.echo(
            f"hint: trials run one at a time, each one's replications on the workers; --batch {n} spreads {n} "
            "trials over the workers at once (numbers differ from --batch 1, and are the same local or on a cluster)",
            err=True,
        )
    _quiet_optuna()
    with connect(scheduler, workers) as cluster, progress_bar(not quiet, f"optimising {obj.scenario.name}") as advance:
        result = optimise_scenario(
            obj,
            bounds=limits,
            n_trials=trials,
            max_evaluations=max_evaluations,
            seed=seed,
            sampler=sampler,
            storage=storage,
            out=out,
            resume=resume,
            worker=worker,
            study_name=study_name,
            callbacks=[_progress(advance, _search_length(obj, trials, max_evaluations))],
            compare_reps=compare_reps,
            cluster=cluster,
            batch=batch,
            **advice,
        )
    try:
        render_report(result, Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140))
        if out:
            written = write_report(result, out, html=report)
            click.echo(f"wrote {', '.join(p.name for p in written)} into {out}")
    except KeyboardInterrupt:
        raise StudyInterrupted.after(result, trials) from None
    except Exception as exc:
        if not caused_by_interrupt(exc):  # a Ctrl-C in a first import (matplotlib's) comes back as ImportError
            raise
        raise StudyInterrupted.after(result, trials) from None


def _check_batch(batch, obj, trials, max_evaluations) -> None:
    """--batch at most --max-evaluations (given or default): each trial of a batch is an evaluation."""
    from ..optimise.core import default_max_evaluations

    limit = max_evaluations if max_evaluations is not None else default_max_evaluations(len(obj.names), trials)
    if batch > limit:
        flag = f"--max-evaluations {max_evaluations}" if max_evaluations is not None else f"the default {limit}"
        raise click.UsageError(
            f"--batch <= --max-evaluations must hold (each trial of a batch is an evaluation), got --batch {batch}, "
            f"{flag} (lower --batch, or raise --max-evaluations)"
        )


def _check_budget_flags(budget, budget_range, evaluate, allocation_file) -> None:
    if evaluate is not None and allocation_file is not None:
        raise click.UsageError("--evaluate and --allocation both give a plan; pass one of them")
    if budget is None and not (budget_range or evaluate or allocation_file):
        raise click.UsageError(
            "--budget is required unless --budget-range, --evaluate or --allocation gives the total "
            "(e.g. --budget 50000)"
        )


def _budget_inputs(obj, budget, bounds, budget_range, target_cac, target_roas, evaluate, allocation_file):
    """Parse the budget advice flags (all before any work): the objective with its settled budget,
    the bounds, and the keyword arguments of ``optimise_scenario``."""
    from ..optimise.budget import (
        budget_rule,
        parse_budget_range,
        parse_plan,
        plan_allocation,
        range_bounds,
        read_plan,
        settle_budget,
    )

    span = parse_budget_range(budget_range, where="--budget-range") if budget_range is not None else None
    plan = None
    if evaluate is not None:
        plan = parse_plan(evaluate, obj, where="--evaluate")
    elif allocation_file is not None:
        plan = read_plan(allocation_file, obj, where="--allocation")
    obj = settle_budget(obj, budget, plan, span, where="--evaluate" if evaluate is not None else "--allocation")
    rule = budget_rule(obj, target_cac, target_roas, where=("--target-cac", "--target-roas"))
    limits = range_bounds(bounds, list(obj.names), obj.budget, span, where="--bounds", range_where="--budget-range")
    plan = plan_allocation(plan, obj) if plan is not None else None
    return obj, limits, {"rule": rule, "budget_range": span, "plan": plan}


def _progress(report, n_trials: int):
    """An Optuna callback that moves the progress bar ``report`` (or does nothing when it is None)."""
    done = [0]

    def tick(study, trial):
        done[0] += 1
        if report is not None:
            report(min(done[0] / n_trials, 1.0))

    return tick


def _search_length(obj, trials, max_evaluations) -> int:
    """Trials the search runs at most, for the progress bar."""
    from ..optimise.core import SEARCH_SHARE, default_max_evaluations

    if trials is not None:
        return trials
    n = len(obj.names)
    total = max_evaluations or default_max_evaluations(n)
    return max(1, int(SEARCH_SHARE * total)) if len(obj.metrics) == 1 and n > 1 else total


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
