"""One call that does what ``jsim optimise`` does: search, then explain and compare the answer.

:func:`optimise_scenario` runs the Optuna study of a :class:`~jsim.optimise.objectives.ScenarioObjective`
(in memory, or in a journal / database that ``resume`` and ``worker`` continue), then explains
the best allocation and compares it with the scenario's current split and an equal split
(:mod:`jsim.optimise.explain`). It returns an :class:`OptimisationReport`; tables, terminal
output and files are :mod:`jsim.report`'s, plots :mod:`jsim.plot.optimise`'s.
"""

from __future__ import annotations

__all__ = ["OptimisationReport", "optimise_scenario", "default_study_name"]

from dataclasses import dataclass

from ..errors import OptimiseError, ScenarioError, ScenarioIssue
from ..rng import derive_seed
from .explain import Explanation, compare_allocations, explain_allocation, response_curves


@dataclass
class OptimisationReport:
    """Everything ``jsim optimise`` prints and writes: the answer, why, and how sure.

    Attributes
    ----------
    objective : ScenarioObjective
    result : AllocationResult
        From :func:`jsim.optimise.optimise_allocation` (study, history, Pareto front).
    bounds : dict of str to (float, float)
    comparison : list of dict
        :func:`compare_allocations` rows (best, current, equal) on fresh seeds.
    explanation : Explanation
        At the best allocation, on the first objective.
    curves : dict of str to (ndarray, ndarray)
        :func:`response_curves` around the best allocation (first objective).
    feasible : bool
        Whether the best allocation meets every constraint.
    settings : dict
        Seed, engine, reps, trials, sampler, study name: recorded in ``allocation.json``.
    """

    objective: object
    result: object
    bounds: dict
    comparison: list
    explanation: Explanation
    curves: dict
    feasible: bool
    settings: dict

    @property
    def allocation(self) -> dict:
        return dict(self.result.allocation)


def _check_sampler(sampler, n_objectives: int) -> None:
    """Reject a sampler that cannot run the problem before a study is stored (a study left behind by a
    failed start would make the corrected re-run fail with "already exists")."""
    from .core import SAMPLERS

    if not isinstance(sampler, str):
        return
    if sampler not in SAMPLERS:
        raise ScenarioError(
            ScenarioIssue(
                "sampler",
                f"must be one of {list(SAMPLERS)} or an Optuna sampler, got {sampler!r}",
                "leave it at 'auto'",
            )
        )
    if sampler == "cmaes" and n_objectives > 1:
        raise ScenarioError(
            ScenarioIssue(
                "sampler",
                f"'cmaes' handles one objective, got {n_objectives}",
                "use 'nsga2' or 'tpe', or leave it at 'auto'",
            )
        )


def _constrained_sampler(sampler, objective, n_objectives: int, seed: int):
    """An Optuna sampler that reads the objective's constraint values (TPE, or NSGA-II for several objectives)."""
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler not in ("auto", "tpe", "nsga2"):
        raise ScenarioError(
            ScenarioIssue(
                "sampler",
                f"with constraints must be 'auto', 'tpe' or 'nsga2' (samplers that "
                f"take Optuna constraints), got {sampler!r}",
                "leave it at 'auto'",
            )
        )

    def constraints_func(trial):
        alloc = trial.user_attrs.get("allocation")
        return objective.constraint_values(alloc) if alloc is not None else (1.0,) * len(objective.constraints)

    seed = derive_seed(seed, "constrained-sampler")
    import warnings

    # Optuna 5 deprecates constraints_func for Trial.set_constraint, but optimise_allocation hands
    # objectives an allocation, not the trial; constraints_func still works until Optuna 7.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if sampler == "nsga2" or (sampler == "auto" and n_objectives > 1):
            return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints_func)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, n_startup_trials=10, constraints_func=constraints_func
        )


def default_study_name(objective) -> str:
    """A study name fixed by the problem (scenario, objectives, budget, decisions), so ``resume=True`` finds it."""
    import hashlib

    key = repr(
        (
            objective.scenario.name,
            objective.metrics,
            objective.budget,
            objective.names,
            objective.engine,
            objective.reps,
            objective.seed,
            [c.text for c in objective.constraints],
        )
    )
    return f"jsim-{objective.scenario.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def optimise_scenario(
    objective,
    *,
    bounds: dict | None = None,
    n_trials: int = 200,
    seed: int = 0,
    sampler="auto",
    storage=None,
    out=None,
    resume: bool = False,
    worker: bool = False,
    study_name: str | None = None,
    callbacks=None,
    compare_reps: int = 20,
    compare_engine: str | None = None,
) -> OptimisationReport:
    """Optimise a :class:`ScenarioObjective`, explain the answer and compare it with the current and equal splits.

    Parameters
    ----------
    objective : ScenarioObjective
    bounds : dict of str to (float, float), optional
        Per-decision ``(min, max)`` spend.
    n_trials : int
        Trials of the global search (counted over the whole study when resumed).
    seed : int
        Seeds the sampler (the objective has its own replication seed).
    sampler : str
        See :func:`jsim.optimise.optimise_allocation`; with constraints, ``auto`` means TPE
        (NSGA-II for several objectives), samplers that honour Optuna constraints.
    storage : str, optional
        Optuna storage URL or journal path; default the journal ``<out>/study.journal`` when
        ``out`` is given, else in memory.
    resume, worker : bool
        Continue an existing study (trials a killed run left RUNNING are re-queued), or join one.
    study_name : str, optional
        Default :func:`default_study_name`.
    callbacks : list, optional
        Optuna callbacks (a progress bar).
    compare_reps : int
        Replications on fresh seeds for the comparison table.
    compare_engine : str, optional
        Engine of the comparison (default ``fast``: stochastic, with intervals).
    """
    from .core import optimise_allocation

    constrained = bool(objective.constraints)
    n_obj = len(objective.metrics)
    _check_sampler(sampler, n_obj)
    smp = _constrained_sampler(sampler, objective, n_obj, seed) if constrained else sampler
    if out is not None:
        from ..io import check_output_dir

        check_output_dir(out)  # before the study starts: the folder holds its journal and, at the end, the report
    study_storage, name = None, None
    if storage is not None or out is not None or resume or worker:
        from .storage import open_storage, open_study

        study_storage = open_storage(storage, out)
        name = study_name or default_study_name(objective)
        open_study(study_storage, name, directions=objective.directions, resume=resume, worker=worker)
    try:
        result = optimise_allocation(
            objective,
            objective.budget,
            bounds=bounds,
            names=list(objective.names),
            n_trials=n_trials,
            seed=seed,
            sampler=smp,
            directions=list(objective.directions),
            storage=study_storage,
            study_name=name,
            polish=not constrained,
            callbacks=callbacks,
            initial=[objective.equal_allocation(), objective.current_allocation()],
        )
    except ValueError as exc:
        if constrained and "feasible" in str(exc):
            raise OptimiseError(
                f"no allocation tried met the constraints {[c.text for c in objective.constraints]} "
                f"in {n_trials} trials (relax a constraint, or raise the budget or the number of trials)"
            ) from None
        raise
    best = dict(result.allocation)
    feasible = objective.evaluate(best).feasible
    comparison = compare_allocations(objective, best, reps=compare_reps, engine=compare_engine)
    explanation = explain_allocation(objective, best, budget=objective.budget, bounds=bounds)
    curves = response_curves(objective, best, bounds=bounds, budget=objective.budget)
    settings = {
        "seed": seed,
        "replication_seed": objective.seed,
        "engine": objective.engine,
        "reps": objective.reps,
        "trials": n_trials,
        "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
        "study_name": result.study.study_name,
        "compare_reps": compare_reps,
        "compare_seed": comparison[0]["seed"],
        "weekly": objective.weekly,
    }
    return OptimisationReport(
        objective, result, dict(bounds or {}), comparison, explanation, curves, feasible, settings
    )
