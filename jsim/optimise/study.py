"""One call that does what ``jsim optimise`` does: search, then explain and compare the answer.

:func:`optimise_scenario` runs the Optuna study of a :class:`~jsim.optimise.objectives.ScenarioObjective`
(in memory, or in a journal / database that ``resume`` and ``worker`` continue), then explains
the best allocation and compares it with the scenario's current split and an equal split
(:mod:`jsim.optimise.explain`). It returns an :class:`OptimisationReport`; tables, terminal
output and files are :mod:`jsim.report`'s, plots :mod:`jsim.plot.optimise`'s.
"""

from __future__ import annotations

__all__ = ["OptimisationReport", "StudyInterrupted", "optimise_scenario", "default_study_name", "check_cluster_engine"]

import json
from dataclasses import dataclass

from ..errors import OptimiseError, OptimiseInputError, ScenarioError, ScenarioIssue
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
    rule : BudgetRule or None
        When one more unit of spend pays (:func:`jsim.optimise.budget.budget_rule`).
    advice : BudgetAdvice or None
        The marginal returns at the best split against ``rule`` (:func:`jsim.optimise.budget.advise`).
    total_search : TotalSearch or None
        The best total in ``budget_range`` (:func:`jsim.optimise.budget.search_total`).
    plan : dict or None
        The user's plan as an allocation (a row ``plan`` of ``comparison``).
    """

    objective: object
    result: object
    bounds: dict
    comparison: list
    explanation: Explanation
    curves: dict
    feasible: bool
    settings: dict
    storage: object = None  # the study's Optuna storage; None for a study in memory
    rule: object = None
    advice: object = None
    total_search: object = None
    plan: dict | None = None

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

    # the objective's constraint values reach the sampler through Trial.set_constraint
    # (optimise_allocation's ``constraints``), which TPE and NSGA-II read from each trial
    seed = derive_seed(seed, "constrained-sampler")
    if sampler == "nsga2" or (sampler == "auto" and n_objectives > 1):
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=10)


def result_trials(n_trials: int | None, max_evaluations: int | None) -> str:
    """How many trials a search was given, in words (for messages)."""
    if n_trials is not None:
        return f"{n_trials} trials"
    return "the search" if max_evaluations is None else f"the search of max_evaluations={max_evaluations}"


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


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`optimise_scenario`, with what the study's storage holds.

    A ``KeyboardInterrupt``, so callers that stop on Ctrl-C still do.

    Attributes
    ----------
    storage : str or None
        :func:`~jsim.optimise.storage.describe_storage` of the storage (no password); None for a
        study in memory, which is lost.
    study_name : str or None
        None when the study had not been created yet.
    n_complete : int or None
        Complete trials of the search kept in the storage (None when they could not be counted).
    n_trials : int
        Trials the search was asked for.
    finished : bool
        True when the search had finished and Ctrl-C came while its report was printed or written.
    """

    def __init__(
        self, storage: str | None, study_name: str | None, n_complete: int | None, n_trials: int, finished=False
    ):
        super().__init__()
        self.storage, self.study_name, self.n_complete, self.n_trials = storage, study_name, n_complete, n_trials
        self.finished = finished

    @classmethod
    def after(cls, report: OptimisationReport, n_trials: int) -> StudyInterrupted:
        """Ctrl-C after the search finished (while its report was printed or written)."""
        interrupted = _interrupted(report.storage, report.result.study.study_name, n_trials)
        interrupted.finished = True
        return interrupted


_SETTINGS_ATTR = "jsim:settings"  # study user attribute: the settings that define the study


def _study_settings(objective, bounds) -> dict:
    """What defines a study (a resume with other values would mix two problems), by library parameter."""
    from ..scenario import scenario_hash

    settings = {
        "scenario": objective.scenario.name,
        "scenario_hash": scenario_hash(objective.scenario),  # an edited file or other --set is another problem
        "metric": list(objective.metrics),
        "budget": objective.budget,
        "touchpoints": list(objective.names),
        "constraints": [c.text for c in objective.constraints],
        "bounds": {k: list(v) for k, v in sorted((bounds or {}).items())},
        "engine": objective.engine,
        "reps": objective.reps,
        "seed": objective.seed,
        "customers": objective.customers,
        "days": objective.days,
        "weekly": objective.weekly,
        "promote": objective.promote,
    }
    return json.loads(json.dumps(settings))


def _differences(stored: dict, settings: dict) -> list[str]:
    return [key for key in settings if key in stored and stored[key] != settings[key]]


def _check_same_problem(storage, name: str, settings: dict, *, resume: bool) -> None:
    """Raise when the study to continue was started with other settings (before any trial runs).

    Raises
    ------
    OptimiseInputError
        The study ``name`` exists with other settings; or ``resume`` and it does not exist, but
        the storage holds a jsim study (the settings differ, which changes the default name).
    """
    from .storage import describe_storage, n_complete

    studies = {s.study_name: s for s in storage.get_all_studies()}
    if name in studies:
        candidates = [studies[name]]
    elif resume:
        candidates = list(studies.values())
    else:
        return
    known = [
        (s, s.user_attrs[_SETTINGS_ATTR]) for s in candidates if isinstance(s.user_attrs.get(_SETTINGS_ATTR), dict)
    ]
    if not known:
        return
    study, stored = min(known, key=lambda item: len(_differences(item[1], settings)))
    keys = _differences(stored, settings)
    if not keys:
        return
    got = ", ".join(f"{k}={settings[k]!r}" for k in keys)
    had = ", ".join(f"{k}={stored[k]!r}" for k in keys)
    raise OptimiseInputError(
        f"resume: a continued study must keep the settings it was started with, got {got} but "
        f"study {study.study_name!r} in {describe_storage(storage)} "
        f"({n_complete(storage, study.study_name)} trials complete) was started with {had} "
        f"(pass {had} to continue it, or another out or storage to start a new study)",
        params=("resume", *keys, "out_dir", "storage"),
    )


def _interrupted(storage, name: str | None, n_trials: int) -> StudyInterrupted:
    from .storage import describe_storage, n_complete

    if storage is None:
        return StudyInterrupted(None, None, None, n_trials)
    try:
        count = n_complete(storage, name)
    except KeyError:  # interrupted before the study was created
        return StudyInterrupted(describe_storage(storage), None, None, n_trials)
    except Exception:  # a database gone with the interrupt: say what is certain
        count = None
    return StudyInterrupted(describe_storage(storage), name, count, n_trials)


def _is_database_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("sqlalchemy", "psycopg2", "psycopg", "pg8000", "sqlite3")


def check_cluster_engine(engine: str, scheduler=None, workers=None) -> None:
    """``--scheduler``/``--workers`` spread the replications of a stochastic objective's evaluations only.

    Raises
    ------
    OptimiseInputError
        A cluster asked for with the ``mean-field`` engine (one exact evaluation of milliseconds).
    """
    if (scheduler is not None or workers is not None) and engine == "mean-field":
        flag = f"--scheduler {scheduler}" if scheduler is not None else f"--workers {workers}"
        raise OptimiseInputError(
            f"{flag} spreads the replications of each trial over Dask workers, got engine 'mean-field', which "
            "runs one exact evaluation per trial (use --engine fast --reps N, or leave the flag out)",
            params=("engine", "scheduler" if scheduler is not None else "workers"),
        )


def optimise_scenario(
    objective,
    *,
    bounds: dict | None = None,
    n_trials: int | None = None,
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
    rule=None,
    budget_range: tuple[float, float] | None = None,
    range_trials: int = 10,
    plan: dict | None = None,
    max_evaluations: int | None = None,
    verbose: bool = False,
    cluster=None,
    batch: int = 1,
) -> OptimisationReport:
    """Optimise a :class:`ScenarioObjective`, explain the answer and compare it with the current and equal splits.

    Parameters
    ----------
    objective : ScenarioObjective
    bounds : dict of str to (float, float), optional
        Per-decision ``(min, max)`` spend.
    n_trials : int, optional
        Trials of the global search (counted over the whole study when resumed); at most
        ``max_evaluations``. Default: adaptive (see :func:`jsim.optimise.optimise_allocation`).
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
        Engine of the comparison (default: the objective's when stochastic, else ``fast``; with intervals).
    rule : BudgetRule, optional
        When one more unit of spend pays: the report then says whether the total should shrink or
        grow (:func:`jsim.optimise.budget.advise`).
    budget_range : (float, float), optional
        Also search the best total in ``[MIN, MAX]`` (needs ``rule``;
        :func:`jsim.optimise.budget.search_total`, in memory, not in the study's storage).
    range_trials : int
        Trials of the global search at each total of ``budget_range``.
    plan : dict, optional
        The user's own allocation (:func:`jsim.optimise.budget.plan_allocation`), scored with the others.
    max_evaluations : int, optional
        Cap on objective calls (simulations) of the search and the polish together; with
        constraints the polish keeps them too. Default
        :func:`jsim.optimise.core.default_max_evaluations`.
    verbose : bool
        Optuna's INFO line per trial; otherwise the call is quiet.
    cluster : Cluster, optional
        From :func:`jsim.engine.distributed.connect`, with the ``fast`` engine: each evaluation's
        replications run as Dask tasks on its workers (the same numbers as a local run); the
        trials are asked and told here, so the study stays in its storage and resumes as before.
    batch : int
        Trials evaluated side by side (see :func:`jsim.optimise.optimise_allocation`): with
        ``cluster``, on its workers, else in threads; the same ``seed`` and ``batch`` give the same
        numbers either way. Checked (a whole number in ``[1, max_evaluations]``) before the study starts.
    """
    from .core import _check_batch, default_max_evaluations

    _check_batch(batch, max_evaluations or default_max_evaluations(len(objective.names), n_trials), 1)
    if cluster is not None:
        check_cluster_engine(objective.engine, scheduler=cluster.address)
        objective.cluster = cluster
    constrained = bool(objective.constraints)
    n_obj = len(objective.metrics)
    _check_sampler(sampler, n_obj)
    if budget_range is not None and rule is None:
        raise ScenarioError(
            ScenarioIssue(
                "budget_range",
                f"needs a break-even or a target to find the best total, got objectives {list(objective.metrics)} "
                "without one (conversions or revenue grow with every unit spent)",
                "optimise profit or clv alone, or give target_cac (conversions) or target_roas (revenue)",
            )
        )
    if budget_range is not None and constrained:
        raise ScenarioError(
            ScenarioIssue(
                "budget_range",
                f"searches the total without constraints, got {[c.text for c in objective.constraints]}",
                "drop the constraints, or the budget range",
            )
        )
    smp = _constrained_sampler(sampler, objective, n_obj, seed) if constrained else sampler
    if out is not None:
        from ..io import check_output_dir

        check_output_dir(out)  # before the study starts: the folder holds its journal and, at the end, the report
    study_storage, name = None, None
    if storage is not None or out is not None or resume or worker:
        from .storage import open_storage, open_study

        study_storage = open_storage(storage, out)
        name = study_name or default_study_name(objective)
    try:
        if study_storage is not None:
            settings = _study_settings(objective, bounds)
            _check_same_problem(study_storage, name, settings, resume=resume or worker)
            study = open_study(study_storage, name, directions=objective.directions, resume=resume, worker=worker)
            if _SETTINGS_ATTR not in study.user_attrs:
                study.set_user_attr(_SETTINGS_ATTR, settings)
        report = _optimise_and_explain(
            objective,
            bounds,
            n_trials,
            seed,
            sampler,
            smp,
            study_storage,
            name,
            constrained,
            callbacks,
            compare_reps,
            compare_engine,
            rule,
            budget_range,
            range_trials,
            plan,
            max_evaluations,
            verbose,
            batch,
        )
        report.storage = study_storage
        return report
    except KeyboardInterrupt:
        raise _interrupted(study_storage, name, n_trials) from None
    except Exception as exc:
        if study_storage is None or not _is_database_error(exc):
            raise
        from .redact import scrub_secrets
        from .storage import describe_storage

        text = scrub_secrets(str(exc), storage).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise OptimiseError(f"storage: {describe_storage(study_storage)} failed during the study: {first}") from None


def _optimise_and_explain(
    objective,
    bounds,
    n_trials,
    seed,
    sampler,
    smp,
    study_storage,
    name,
    constrained,
    callbacks,
    compare_reps,
    compare_engine,
    rule=None,
    budget_range=None,
    range_trials=10,
    plan=None,
    max_evaluations=None,
    verbose=False,
    batch=1,
) -> OptimisationReport:
    from .budget import advise, search_total
    from .core import optimise_allocation

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
            callbacks=callbacks,
            initial=[objective.equal_allocation(), objective.current_allocation()],
            max_evaluations=max_evaluations,
            constraints=objective.constraint_values if constrained else None,
            verbose=verbose,
            batch=batch,
        )
    except ValueError as exc:
        if constrained and "feasible" in str(exc):
            raise OptimiseError(
                f"no allocation tried met the constraints {[c.text for c in objective.constraints]} "
                f"in {result_trials(n_trials, max_evaluations)} (relax a constraint, or raise the budget or "
                "the number of trials)"
            ) from None
        raise
    best = dict(result.allocation)
    feasible = objective.evaluate(best).feasible
    extra = {"plan": dict(plan)} if plan is not None else None
    comparison = compare_allocations(objective, best, reps=compare_reps, engine=compare_engine, extra=extra)
    explanation = explain_allocation(objective, best, budget=objective.budget, bounds=bounds)
    advice = advise(explanation, rule, objective.budget) if rule is not None else None
    total_search = None
    if budget_range is not None:
        total_search = search_total(
            objective,
            rule,
            *budget_range,
            bounds=bounds,
            budget=objective.budget,
            at_budget=best,
            n_trials=range_trials,
            seed=seed,
        )
    curves = response_curves(objective, best, bounds=bounds, budget=objective.budget)
    settings = {
        "seed": seed,
        "replication_seed": objective.seed,
        "engine": objective.engine,
        "reps": objective.reps,
        "trials": result.n_search if n_trials is None else n_trials,
        "max_evaluations": result.max_evaluations,
        "n_evaluations": result.n_evaluations,
        "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
        "study_name": result.study.study_name,
        "compare_reps": compare_reps,
        "compare_seed": comparison[0]["seed"],
        "weekly": objective.weekly,
        "budget_range": None if budget_range is None else list(budget_range),
        "range_trials": range_trials if budget_range is not None else None,
    }
    return OptimisationReport(
        objective,
        result,
        dict(bounds or {}),
        comparison,
        explanation,
        curves,
        feasible,
        settings,
        rule=rule,
        advice=advice,
        total_search=total_search,
        plan=None if plan is None else dict(plan),
    )
