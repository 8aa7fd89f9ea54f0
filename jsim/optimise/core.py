"""Budget allocation by global Optuna search on the bounded simplex, then a local polish.

The global search samples only feasible splits (:class:`~jsim.optimise.space.BudgetSpace`), so
no trial is wasted. CMA-ES with IPOP restarts is the default for one objective: it explores the
whole simplex, so on S-shaped (Hill ``slope > 1``) curves it finds the basin of the global
optimum even where that drops a touchpoint, a basin that a gradient method started from the
equal split never leaves. The polish then runs SLSQP on the simplex from the best few *distinct*
trials (distinct basins), so deterministic objectives converge to many digits.

Objective calls are the cost (each may be a simulation), so one budget, ``max_evaluations``,
bounds the search trials and the polish's calls (finite-difference gradients included) together:
the search takes at most :data:`SEARCH_SHARE` of it and stops early once it stops improving, and
the polish spends what is left (see :func:`optimise_allocation`).
"""

from __future__ import annotations

__all__ = [
    "AllocationResult",
    "optimise_allocation",
    "polish_allocation",
    "default_max_evaluations",
    "SAMPLERS",
    "SEARCH_SHARE",
]

import contextlib
import importlib.util
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from jsim.errors import OptimiseError, caused_by_interrupt
from jsim.optimise.space import BudgetSpace
from jsim.rng import derive_seed

from .interrupts import GATE, interrupt_guard, interrupt_point
from .storage import UNCOUNTED_ATTR, counted, mark_interrupted, remaining_trials, resumable

SAMPLERS = ("auto", "cmaes", "tpe", "gp", "nsga2", "random")

_ALLOC_ATTR = "allocation"
_POLISH_ATTR = "polished"
_POLISH_OF_ATTR = "jsim:polish_of"  # system attribute: the n_trials of the search a polish trial follows
_CONSTRAINT_PREFIX = "constraints:"  # Optuna's system-attribute key of Trial.set_constraint values

#: Largest share of ``max_evaluations`` the global search takes when ``n_trials`` is not given.
SEARCH_SHARE = 0.4
#: Relative improvement of the best trial below which the search counts as converged.
_SEARCH_RTOL = 1e-3
#: Share of the polish's calls that runs SLSQP from each distinct start to a loose tolerance.
SCREEN_SHARE = 2 / 3
#: Tolerance of the final SLSQP run (relative, the objective is scaled by its value at the best trial).
_FINAL_FTOL = 1e-15


def default_max_evaluations(n_touchpoints: int, n_trials: int | None = None) -> int:
    """Objective calls :func:`optimise_allocation` makes by default: ``100 + 100 * n`` (n touchpoints), at most 5,000.

    Sized so the known optima of ``benchmarks/bench_optimise.py`` (6 concave, 5 S-shaped curves)
    are reached to 0.9999 on every seed tried.

    With ``n_trials`` given, that many search trials plus the polish's share of the default
    (``(1 - SEARCH_SHARE)`` of it), so the polish keeps its budget however long the search runs.
    """
    base = min(100 + 100 * int(n_touchpoints), 5000)
    if n_trials is None:
        return base
    return int(n_trials) + math.ceil((1.0 - SEARCH_SHARE) * base)


@contextlib.contextmanager
def _optuna_verbosity(verbose: bool):
    """Optuna's log level for one call: WARNING (no line per trial) unless ``verbose``; restored after."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class _BudgetSpent(Exception):
    """Raised inside the polish's objective when ``max_evaluations`` is spent (never escapes this module)."""


@dataclass
class AllocationResult:
    """The answer of :func:`optimise_allocation`.

    Attributes
    ----------
    allocation : dict of str to float
        Best split found, touchpoint -> spend; sums to the budget. With several objectives, the
        Pareto split closest to the utopia point (each objective scaled to [0, 1] over the front).
    value : float or tuple of float
        Objective value(s) of ``allocation``.
    study : optuna.Study
        The study (every trial; the allocation of each in ``trial.user_attrs["allocation"]``).
    history : list of (int, dict, float or tuple)
        ``(trial number, allocation, value)`` of every completed trial, in order.
    pareto : list of (dict, tuple) or None
        With several objectives, the Pareto-optimal ``(allocation, values)``, sorted by the first
        objective (best first); ``None`` with one objective.
    n_evaluations : int
        Objective calls made by this call (trials plus polish, finite-difference steps included).
    polished : bool
        Whether the local polish improved on the best trial (its answer is then added to the
        study as a trial with ``user_attrs["polished"] = True``).
    space : BudgetSpace or None
        The search space, for :attr:`active_bounds`.
    max_evaluations : int or None
        The cap on objective calls of the study's search plus this call's polish.
    n_search, n_polish : int
        Of ``n_evaluations``, the search trials and the polish calls.
    """

    allocation: dict
    value: float | tuple
    study: optuna.Study
    history: list
    pareto: list | None
    n_evaluations: int
    polished: bool
    space: BudgetSpace | None = field(default=None, repr=False)
    max_evaluations: int | None = None
    n_search: int = 0
    n_polish: int = 0

    @property
    def active_bounds(self) -> dict[str, str]:
        """Touchpoints at a bound in :attr:`allocation`: name -> ``"min"``, ``"max"`` or ``"fixed"``."""
        return {} if self.space is None else self.space.active_bounds(self.allocation)


def _resolve_names(names, bounds, initial, objective) -> list[str]:
    if names is not None:
        return list(names)
    if hasattr(objective, "names"):
        return list(objective.names)
    first = initial[0] if isinstance(initial, (list, tuple)) and initial else initial
    if isinstance(first, Mapping):
        return list(first)
    if bounds:
        return list(bounds)
    raise OptimiseError(
        "names must list the touchpoints when they cannot be read from bounds, initial or objective.names, "
        "got names=None (pass names=[...])"
    )


def _make_sampler(sampler, n_objectives: int, seed, space: BudgetSpace, x0: dict):
    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler not in SAMPLERS:
        raise OptimiseError(f"sampler must be one of {list(SAMPLERS)} or an Optuna sampler, got {sampler!r}")
    main_seed, side_seed = derive_seed(seed, "sampler"), derive_seed(seed, "sampler:independent")
    if sampler == "auto":
        sampler = "nsga2" if n_objectives > 1 else "cmaes"
        if sampler == "cmaes" and importlib.util.find_spec("cmaes") is None:
            # without the optional cmaes package, multivariate TPE is the next best (see benchmarks/README.md)
            warnings.warn(
                "sampler 'auto': the cmaes package is not installed, using 'tpe' (pip install cmaes)", stacklevel=3
            )
            sampler = "tpe"
    if sampler == "cmaes" and n_objectives > 1:
        raise OptimiseError(f"sampler 'cmaes' handles one objective, got {n_objectives} (use 'nsga2' or 'tpe')")
    if sampler == "random":
        return optuna.samplers.RandomSampler(seed=main_seed)
    if sampler == "tpe":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=main_seed, multivariate=True, n_startup_trials=10)
    if sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=main_seed)
    if sampler == "gp":
        if importlib.util.find_spec("torch") is None:
            raise OptimiseError(
                "sampler 'gp' needs PyTorch, which is not installed (pip install torch, or use 'cmaes')"
            )
        return optuna.samplers.GPSampler(seed=main_seed, deterministic_objective=False)
    # cmaes
    if importlib.util.find_spec("cmaes") is None:
        raise OptimiseError("sampler 'cmaes' needs the cmaes package, which is not installed (pip install cmaes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.samplers.CmaEsSampler(
            x0=x0 or None,
            sigma0=0.25,
            seed=main_seed,
            restart_strategy="ipop",
            independent_sampler=optuna.samplers.RandomSampler(seed=side_seed),
            warn_independent_sampling=False,
        )


def _as_values(raw, n_objectives: int):
    if n_objectives == 1:
        if isinstance(raw, (Sequence, np.ndarray)) and not isinstance(raw, str):
            if len(raw) != 1:
                raise OptimiseError(f"objective must return one value (directions has 1), got {len(raw)}")
            raw = raw[0]
        return float(raw)
    if not isinstance(raw, (Sequence, np.ndarray)) or isinstance(raw, str):
        raise OptimiseError(f"objective must return {n_objectives} values (one per direction), got {raw!r}")
    values = tuple(float(v) for v in raw)
    if len(values) != n_objectives:
        raise OptimiseError(f"objective must return {n_objectives} values (one per direction), got {len(values)}")
    return values


def _trial_allocation(space: BudgetSpace, trial) -> dict[str, float]:
    alloc = trial.user_attrs.get(_ALLOC_ATTR)
    return dict(alloc) if alloc is not None else space.from_params(trial.params)


def optimise_allocation(
    objective: Callable[[dict], float | Sequence[float]],
    budget: float,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    names: Sequence[str] | None = None,
    n_trials: int | None = None,
    seed: int | None = 0,
    sampler="auto",
    directions: Sequence[str] | None = None,
    storage=None,
    study_name: str | None = None,
    polish: bool = True,
    n_jobs: int = 1,
    callbacks=None,
    initial=None,
    max_evaluations: int | None = None,
    constraints: Callable[[dict], Sequence[float]] | None = None,
    verbose: bool = False,
    batch: int = 1,
) -> AllocationResult:
    """Split ``budget`` over touchpoints to maximise ``objective``.

    Parameters
    ----------
    objective : callable
        ``objective(allocation) -> float`` (maximised unless ``directions`` says otherwise), or a
        sequence of floats for several objectives; ``allocation`` is ``{touchpoint: spend}``
        summing to ``budget``. A :class:`~jsim.optimise.response_curves.ResponseModel` works as is.
    budget : float
        Total spend, > 0.
    bounds : dict of str to (float, float), optional
        Minimum and maximum spend per touchpoint (others ``(0, budget)``).
    names : sequence of str, optional
        Touchpoints; when omitted, read from ``objective.names`` (a ``ResponseModel``), else
        ``initial``, else the keys of ``bounds`` (which must then bound every touchpoint).
    n_trials : int, optional
        Trials of the global search, counted over the whole study (a resumed study runs only the
        missing ones); at most ``max_evaluations``. Default: adaptive, at most
        ``SEARCH_SHARE * max_evaluations`` (all of it without a polish), stopping early once the
        best trial has not improved by ``1e-3`` (relative) over the last ``max(20, 5 n)`` trials.
    seed : int or None, default 0
        Seeds the sampler (:func:`jsim.rng.derive_seed`); same seed, same result with ``n_jobs=1``.
    sampler : {"auto", "cmaes", "tpe", "gp", "nsga2", "random"} or optuna sampler
        ``"auto"``: CMA-ES (IPOP restarts) for one objective (TPE, with a warning, when the
        ``cmaes`` package is missing), NSGA-II for several.
    directions : sequence of {"maximize", "minimize"}, optional
        One per objective; default ``["maximize"]``.
    storage : str or optuna storage, optional
        Where the study lives (in memory by default); with ``study_name`` an existing study is
        resumed.
    study_name : str, optional
    polish : bool, default True
        Polish the best distinct trials with SLSQP on the simplex (one objective only), with the
        evaluations the search left.
    n_jobs : int, default 1
        Parallel trials in this process (results then depend on thread timing).
    callbacks : list of callable, optional
        Passed to ``study.optimize`` (a progress callback).
    initial : dict or list of dict, optional
        Allocations to evaluate first (projected onto the feasible set); default the equal split.
        Only enqueued when the study is new.
    max_evaluations : int, optional
        Cap on objective calls: the study's search trials (stored ones of a resumed study
        included) plus this call's polish, whose finite-difference steps count too. Default
        :func:`default_max_evaluations` (``100 + 100 n``; with ``n_trials``, those plus the
        polish's share).
    constraints : callable, optional
        ``constraints(allocation) -> sequence of float``, feasible where every value is <= 0,
        called after the objective at the same allocation (not counted as an evaluation; a
        :class:`~jsim.optimise.objectives.ScenarioObjective` answers from its cache). Given to
        Optuna by ``Trial.set_constraint`` (use a sampler that reads them: TPE, NSGA-II) and to
        the polish as SLSQP inequality constraints; the answer is the best feasible split.
    verbose : bool, default False
        Let Optuna log a line per trial (INFO); otherwise WARNING for the length of the call.
    batch : int, default 1
        Trials asked together and evaluated side by side, in ``batch`` threads of this process (an
        objective that runs its simulations on a Dask cluster spreads them over its workers). The
        sampler suggests the ``batch`` allocations one after another in this thread, they are
        evaluated at once, and told in the order they were asked, so the same ``seed`` and
        ``batch`` give the same numbers whatever thread finishes first. The polish evaluates the
        points of each finite-difference gradient side by side too (the same numbers as one after
        another). ``1``: one trial at a time (``study.optimize``). An objective with a
        ``call_many(allocations, run)`` method (:class:`~jsim.optimise.objectives.ScenarioObjective`)
        is given each batch whole; ``run(fn, items)`` maps ``fn`` over ``items`` side by side.

    Returns
    -------
    AllocationResult

    Raises
    ------
    OptimiseError
        Infeasible bounds, unknown sampler, wrong number of objective values, ``n_trials`` above
        ``max_evaluations``, ``batch`` not a whole number in ``[1, max_evaluations]``, ``batch > 1``
        with ``n_jobs > 1``.
    """
    names = _resolve_names(names, bounds, initial, objective)
    space = BudgetSpace(names, budget, bounds)
    directions = list(directions) if directions is not None else ["maximize"]
    for d in directions:
        if d not in ("maximize", "minimize"):
            raise OptimiseError(f"directions must be 'maximize' or 'minimize', got {d!r}")
    n_objectives = len(directions)
    if n_trials is not None and n_trials < 1:
        raise OptimiseError(f"n_trials >= 1 must hold, but got n_trials={n_trials}")
    if max_evaluations is None:
        max_evaluations = default_max_evaluations(space.n, n_trials)
    if max_evaluations < 1:
        raise OptimiseError(f"max_evaluations >= 1 must hold, but got max_evaluations={max_evaluations}")
    if n_trials is not None and n_trials > max_evaluations:
        raise OptimiseError(
            f"n_trials <= max_evaluations must hold (trials are evaluations), but got n_trials={n_trials}, "
            f"max_evaluations={max_evaluations} (raise max_evaluations or lower n_trials)"
        )
    _check_batch(batch, max_evaluations, n_jobs)
    will_polish = polish and n_objectives == 1 and space.n > 1
    adaptive = n_trials is None and will_polish
    if n_trials is None:
        n_trials = max(1, math.floor(SEARCH_SHARE * max_evaluations)) if will_polish else max_evaluations
    pool = ThreadPoolExecutor(batch, thread_name_prefix="jsim-trial") if batch > 1 else None
    try:
        with _optuna_verbosity(verbose):
            return _optimise(
                objective, space, n_trials, max_evaluations, adaptive, seed, sampler, directions, storage,
                study_name, will_polish, n_jobs, callbacks, initial, constraints, batch, _side_by_side(pool),
            )  # fmt: skip
    finally:
        if pool is not None:
            # an interrupted batch's evaluations still running are not waited for (their results are dropped)
            pool.shutdown(wait=False, cancel_futures=True)


def _check_batch(batch, max_evaluations: int, n_jobs: int) -> None:
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise OptimiseError(
            f"batch must be a whole number >= 1 (trials evaluated side by side), got batch={batch!r} "
            "(use 1 for one trial at a time, or the number of workers)"
        )
    if batch > max_evaluations:
        raise OptimiseError(
            f"batch <= max_evaluations must hold (each trial of a batch is an evaluation), got batch={batch}, "
            f"max_evaluations={max_evaluations} (lower batch or raise max_evaluations)"
        )
    if batch > 1 and n_jobs != 1:
        raise OptimiseError(
            f"batch and n_jobs both run trials side by side, got batch={batch}, n_jobs={n_jobs} "
            "(use batch: the same seed then gives the same numbers)"
        )


def _side_by_side(pool: ThreadPoolExecutor | None):
    """``run(fn, items) -> [fn(item) for item in items]`` on ``pool``'s threads, results in order; None without a pool.

    The caller (the main thread) waits inside :meth:`GATE.objective <jsim.optimise.interrupts._InterruptGate.objective>`
    so Ctrl-C stops the wait at once; evaluations not started yet are then cancelled.
    """
    if pool is None:
        return None

    def run(fn, items):
        futures = [pool.submit(fn, item) for item in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise

    return run


def _call_many(objective, allocations: list[dict], run) -> list:
    """The objective's raw answers for ``allocations``, evaluated side by side by ``run``, in order."""
    many = getattr(objective, "call_many", None)
    if many is not None:
        return list(many([dict(a) for a in allocations], run))
    return run(objective, [dict(a) for a in allocations])


def _import_before_the_study() -> None:
    """Import what the search and the polish import on first use (CMA-ES's ``cmaes``, which imports
    ``scipy.stats``; ``scipy.optimize``) before any trial runs.

    Inside an objective a Ctrl-C is raised at once (:func:`~jsim.optimise.interrupts.interrupt_guard`);
    landing in the middle of such a first import, inside a pybind11 extension's initialisation
    (``scipy.optimize``'s HiGHS), it becomes an ``ImportError``, and that extension can never be
    imported again in the process ("type ... is already registered").
    """
    import scipy.optimize  # noqa: F401

    if importlib.util.find_spec("cmaes") is not None:
        import cmaes  # noqa: F401


def _optimise(
    objective, space, n_trials, max_evaluations, adaptive, seed, sampler, directions, storage, study_name,
    will_polish, n_jobs, callbacks, initial, constraints, batch=1, run=None,
) -> AllocationResult:  # fmt: skip
    _import_before_the_study()
    n_objectives = len(directions)
    equal = space.equal_split()
    study = optuna.create_study(
        storage=storage,
        sampler=_make_sampler(sampler, n_objectives, seed, space, space.to_params(equal)),
        study_name=study_name,
        directions=directions,
        load_if_exists=study_name is not None,
    )
    if not study.trials:
        starts = initial if isinstance(initial, (list, tuple)) else [initial if initial is not None else equal]
        for start in starts:
            study.enqueue_trial(space.to_params(start), user_attrs={"start": True})

    n_calls = 0

    def run_trial(trial) -> float | tuple:
        nonlocal n_calls
        if _is_surplus(study, trial, n_trials):
            return _skip_surplus(study, trial)
        alloc = space.suggest(trial)
        trial.set_user_attr(_ALLOC_ATTR, alloc)
        n_calls += 1
        values = _as_values(objective(dict(alloc)), n_objectives)
        if constraints is not None:
            for i, c in enumerate(_constraint_values(constraints, alloc)):
                trial.set_constraint(str(i), c)
        return values

    sense = 1.0 if directions[0] == "maximize" else -1.0
    patience = max(20, 5 * space.n)

    def stop_when_full(study, trial) -> None:
        if not remaining_trials(study, n_trials):
            study.stop()
        elif adaptive and _converged(study, sense, patience, min_trials=max(30, 10 * space.n)):
            study.stop()  # the search has settled in a basin: the polish refines it better

    remaining = remaining_trials(study, n_trials)
    if remaining > 0 and not (adaptive and _converged(study, sense, patience, min_trials=max(30, 10 * space.n))):
        all_callbacks = [stop_when_full, interrupt_point] + list(callbacks or [])
        with interrupt_guard():  # Ctrl-C interrupts an objective call or waits for the end of the trial
            if batch > 1:
                n_calls += _search_in_batches(
                    study, space, objective, n_trials, batch, run, constraints, n_objectives, all_callbacks
                )
            else:
                study.optimize(resumable(run_trial), n_trials=remaining, n_jobs=n_jobs, callbacks=all_callbacks)
    n_search = n_calls

    complete = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if counted(t) or _is_polish(t)
    ]
    if not complete:
        raise OptimiseError(f"no trial of study {study.study_name!r} completed (every objective call failed)")
    history = [
        (t.number, _trial_allocation(space, t), t.value if n_objectives == 1 else tuple(t.values)) for t in complete
    ]

    def result(alloc, value, pareto=None, polished=False, n_polish=0):
        return AllocationResult(
            alloc, value, study, history, pareto, n_search + n_polish, polished, space, max_evaluations, n_search,
            n_polish,
        )  # fmt: skip

    if n_objectives > 1:
        pareto_trials = sorted(
            study.best_trials, key=lambda t: -t.values[0] if directions[0] == "maximize" else t.values[0]
        )
        if not pareto_trials:  # with constraints, the front holds feasible trials only
            raise ValueError(f"no feasible trial in study {study.study_name!r}: no allocation met the constraints")
        pareto = [(_trial_allocation(space, t), tuple(t.values)) for t in pareto_trials]
        pick = _compromise(pareto, directions)
        return result(pareto[pick][0], pareto[pick][1], pareto)

    feasible = [t for t in complete if all(v <= 0 for v in t.constraints.values())]
    if not feasible:
        raise ValueError(f"no feasible trial in study {study.study_name!r}: no allocation met the constraints")
    best = max(feasible, key=lambda t: sense * t.value)
    best_alloc, best_value = _trial_allocation(space, best), float(best.value)
    used = _n_counted(study)  # a resumed study's stored trials count against the budget too
    left = max_evaluations - used
    if not will_polish or left <= 0:
        return result(best_alloc, best_value)
    ranked = [(t.number, _trial_allocation(space, t), t.value) for t in feasible]
    starts = _distinct_starts(space, ranked, sense)
    alloc, value, cons, calls = _polish(objective, space, starts, sense, best_value, left, constraints, run)
    if sense * (value - best_value) <= 0:
        return result(best_alloc, best_value, n_polish=calls)
    number = _store_polish(study, space, alloc, value, n_trials, cons)
    if number is not None:
        history.append((number, alloc, value))
    return result(alloc, value, polished=True, n_polish=calls)


def _search_in_batches(
    study: optuna.Study, space: BudgetSpace, objective, n_trials: int, batch: int, run, constraints,
    n_objectives: int, callbacks: list,
) -> int:  # fmt: skip
    """The global search, ``batch`` trials at a time (see :func:`optimise_allocation`); returns the evaluations made.

    Each round asks up to ``batch`` trials (never more than the trials still missing), suggests
    their allocations here one after another (the sampler's draws do not depend on threads),
    evaluates them side by side, and tells them in ask order, each followed by ``callbacks`` as
    ``study.optimize`` calls them (the ``study.stop()`` of a callback ends the search after the
    round). A trial that finds the study full (another process ran it) is pruned as surplus, and
    the search stops. On Ctrl-C (raised while the evaluations run, or at the safe point after a
    tell) every trial of the round not told yet is marked interrupted and failed, so a resume
    runs it again with the same parameters; on an error they are failed and the error raised.
    """
    from optuna.storages._heartbeat import get_heartbeat_thread, is_heartbeat_enabled
    from optuna.study._tell import _tell_with_warning

    n_calls = 0
    study._stop_flag = False
    study._thread_local.in_optimize_loop = True  # what study.optimize sets: a callback may call study.stop()
    try:
        while not study._stop_flag:
            k = min(batch, remaining_trials(study, n_trials))
            if k <= 0:
                break
            if is_heartbeat_enabled(study._storage):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    optuna.storages.fail_stale_trials(study)
            untold: list = []  # asked, not told yet (in ask order)
            try:
                allocations = []
                for _ in range(k):
                    trial = study.ask()
                    untold.append(trial)
                    if _is_surplus(study, trial, n_trials):
                        trial.storage.set_trial_system_attr(trial._trial_id, UNCOUNTED_ATTR, "surplus")
                        _tell_with_warning(study, trial, state=TrialState.PRUNED, suppress_warning=True)
                        untold.pop()
                        study._stop_flag = True  # another process filled the study
                        break
                    alloc = space.suggest(trial)
                    trial.set_user_attr(_ALLOC_ATTR, alloc)
                    allocations.append(alloc)
                if not allocations:
                    break
                with contextlib.ExitStack() as beats:
                    for trial in untold:
                        beats.enter_context(get_heartbeat_thread(trial._trial_id, study._storage))
                    n_calls += len(allocations)
                    with GATE.objective():  # Ctrl-C while the batch runs is raised at once
                        raws = _call_many(objective, allocations, run)
                for alloc, raw in zip(allocations, raws):
                    trial = untold[0]
                    values = _as_values(raw, n_objectives)
                    if constraints is not None:
                        for i, c in enumerate(_constraint_values(constraints, alloc)):
                            trial.set_constraint(str(i), c)
                    _tell_with_warning(study, trial, values, suppress_warning=True)
                    untold.pop(0)
                    frozen = study._storage.get_trial(trial._trial_id)
                    for callback in callbacks:
                        callback(study, frozen)
            except KeyboardInterrupt:
                for trial in untold:
                    mark_interrupted(trial)
                    _tell_with_warning(study, trial, state=TrialState.FAIL, suppress_warning=True)
                raise
            except Exception as exc:
                interrupted = caused_by_interrupt(exc)  # a Ctrl-C a library turned into another error
                for trial in untold:
                    if interrupted:
                        mark_interrupted(trial)
                    _tell_with_warning(study, trial, state=TrialState.FAIL, suppress_warning=True)
                if interrupted:
                    raise KeyboardInterrupt from exc
                raise
    finally:
        study._thread_local.in_optimize_loop = False
    return n_calls


def _constraint_values(constraints, alloc: dict) -> tuple[float, ...]:
    values = tuple(float(c) for c in constraints(dict(alloc)))
    # NaN (nothing to divide by) is infeasible; Optuna refuses NaN constraint values
    return tuple(math.inf if math.isnan(v) else v for v in values)


def _n_counted(study: optuna.Study) -> int:
    """Search trials of the study that were evaluated (finished or failed, never the polish or surplus)."""
    return sum(
        1
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        if UNCOUNTED_ATTR not in t.system_attrs
    )


def _converged(study: optuna.Study, sense: float, patience: int, min_trials: int) -> bool:
    """Whether the best counted, feasible trial improved by less than ``_SEARCH_RTOL`` over the last ``patience``."""
    values = [
        sense * t.value
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if counted(t) and all(v <= 0 for v in t.constraints.values()) and math.isfinite(t.value)
    ]
    if len(values) < max(min_trials, patience + 1):
        return False
    best_before = max(values[:-patience])
    best_now = max(values)
    return best_now - best_before <= _SEARCH_RTOL * max(abs(best_now), 1e-300)


def polish_allocation(
    objective: Callable[[dict], float],
    budget: float,
    starts: Sequence[Mapping[str, float]],
    bounds: Mapping[str, tuple[float, float]] | None = None,
    names: Sequence[str] | None = None,
    direction: str = "maximize",
    max_evaluations: int | None = None,
) -> tuple[dict, float, int]:
    """A local optimum of one objective on the budget simplex: SLSQP from each of ``starts`` (projected
    onto the feasible set), no global search and no study. Returns ``(allocation, value, calls)``.

    ``max_evaluations`` caps the calls (default ``(1 - SEARCH_SHARE)`` of :func:`default_max_evaluations`).

    For a warm start near a known answer (the best split of a nearby total); a global search is
    :func:`optimise_allocation`.
    """
    names = _resolve_names(names, bounds, list(starts), objective)
    space = BudgetSpace(names, budget, bounds)
    if not starts:
        raise OptimiseError("starts must hold at least one allocation, got none")
    vectors = [space.project(s) for s in starts]
    sense = 1.0 if direction == "maximize" else -1.0
    reference = float(_as_values(objective(space.as_dict(vectors[0])), 1))
    if space.n == 1:
        return space.as_dict(vectors[0]), reference, 1
    if max_evaluations is None:
        max_evaluations = math.ceil((1.0 - SEARCH_SHARE) * default_max_evaluations(space.n))
    if max_evaluations < 2:
        return space.as_dict(vectors[0]), reference, 1
    alloc, value, _, calls = _polish(objective, space, vectors, sense, reference, max_evaluations - 1)
    if sense * (value - reference) <= 0:
        return space.as_dict(vectors[0]), reference, calls + 1
    return alloc, value, calls + 1


def _is_polish(trial) -> bool:
    return trial.system_attrs.get(UNCOUNTED_ATTR) == "polish"


def _is_surplus(study: optuna.Study, trial: optuna.Trial, n_trials: int) -> bool:
    """Whether ``n_trials`` counted trials numbered below ``trial`` are finished, running or queued.

    Trial numbers are handed out in one order to every process sharing the study, and a trial
    that will complete is never FAIL, so each of the trials that complete sees fewer than
    ``n_trials`` such trials before it: however many processes run, at most ``n_trials`` complete.
    """
    before = [t for t in study.get_trials(deepcopy=False) if t.number < trial.number and counted(t)]
    return len(before) >= n_trials


def _skip_surplus(study: optuna.Study, trial: optuna.Trial):
    """End a trial that found the study full (another process filled it): pruned, not counted, and stop."""
    trial.storage.set_trial_system_attr(trial._trial_id, UNCOUNTED_ATTR, "surplus")
    study.stop()
    raise optuna.TrialPruned("the study already holds its n_trials trials (another process ran them)")


def _store_polish(
    study: optuna.Study, space: BudgetSpace, alloc: dict, value: float, n_trials: int, constraints: tuple = ()
) -> int | None:
    """Add the polish result as a trial, unless a process polishing the same study got there first.

    The result is stored RUNNING, then completed only if no polish trial of the same ``n_trials``
    has a lower number and is not failed (a second process resuming the same journal polishes
    too); otherwise it is failed as a duplicate. Returns the number of the stored trial, or None.
    """
    storage = study._storage
    template = optuna.trial.create_trial(
        state=TrialState.RUNNING,
        params=space.to_params(alloc),
        distributions={p: FloatDistribution(0.0, 1.0) for p in space.param_names},
        user_attrs={_ALLOC_ATTR: alloc, _POLISH_ATTR: True},
        system_attrs={
            UNCOUNTED_ATTR: "polish",
            _POLISH_OF_ATTR: n_trials,
            # what Trial.set_constraint stores, so Optuna sees the polish result's feasibility
            **{f"{_CONSTRAINT_PREFIX}{i}": float(c) for i, c in enumerate(constraints)},
        },
    )
    with interrupt_guard():  # stored and settled together, or not at all
        trial_id = storage.create_new_trial(study._study_id, template_trial=template)
        mine = storage.get_trial(trial_id)
        first = min(
            (
                t.number
                for t in study.get_trials(deepcopy=False)
                if _is_polish(t) and t.state != TrialState.FAIL and t.system_attrs.get(_POLISH_OF_ATTR) == n_trials
            ),
            default=mine.number,
        )
        duplicate = first < mine.number
        if duplicate:
            storage.set_trial_system_attr(trial_id, "jsim:duplicate_of", first)
        storage.set_trial_state_values(
            trial_id, TrialState.FAIL if duplicate else TrialState.COMPLETE, None if duplicate else [value]
        )
    return None if duplicate else mine.number


def _compromise(pareto: list, directions: list[str]) -> int:
    """Index of the Pareto point nearest the utopia point, objectives scaled to [0, 1] over the front."""
    values = np.array([v for _, v in pareto], dtype=np.float64)
    signs = np.array([1.0 if d == "maximize" else -1.0 for d in directions])
    gains = values * signs
    span = gains.max(axis=0) - gains.min(axis=0)
    span[span == 0] = 1.0
    shortfall = (gains.max(axis=0) - gains) / span
    return int(np.argmin(np.linalg.norm(shortfall, axis=1)))


def _distinct_starts(space: BudgetSpace, history: list, sense: float, n_best: int = 3) -> list[np.ndarray]:
    """Starts for the polish: the best trials, then the best trial in each "touchpoint i gets the
    least" region, skipping any within 5% of the budget (max norm) of a start already chosen.

    On S-shaped curves the local optima differ in which touchpoints they drop; the per-region
    starts put one start in the basin of each "drop i" face the search has seen, so the polish
    compares the faces instead of refining only the one the global search settled on.
    """
    ranked = sorted(history, key=lambda h: -sense * h[2])
    vectors = [space.project(alloc) for _, alloc, _ in ranked]
    chosen: list[np.ndarray] = []

    def take(vec: np.ndarray) -> bool:
        if all(np.max(np.abs(vec - c)) > 0.05 * space.budget for c in chosen):
            chosen.append(vec)
            return True
        return False

    for vec in vectors:
        if len(chosen) == n_best:
            break
        take(vec)
    # relative position within each touchpoint's bounds, so "least" respects the bounds
    span = np.where(space.upper > space.lower, space.upper - space.lower, 1.0)
    least = [int(np.argmin((vec - space.lower) / span)) for vec in vectors]
    for i in range(space.n):
        for vec, k in zip(vectors, least):
            if k == i:
                take(vec)
                break
    return chosen


def _polish(
    objective,
    space: BudgetSpace,
    starts: list[np.ndarray],
    sense: float,
    reference: float,
    max_calls: int,
    constraints=None,
    side_by_side=None,
):
    """SLSQP on the simplex in budget shares within ``max_calls`` objective calls; returns
    ``(allocation, value, constraint values, calls)`` of the best (feasible) point evaluated.

    Works in shares ``z = a / budget`` so the finite-difference step and tolerances are relative,
    and divides the objective by ``|reference|`` so ``ftol`` is relative too. Each evaluated point
    is projected onto the feasible set first, so the objective never sees an infeasible split, and
    evaluated once (a memo shared by the objective, the constraints and their forward-difference
    gradients, which this function computes so every call is counted).

    With several starts, each first runs SLSQP to a loose tolerance (``ftol=1e-8``) on an equal
    part of :data:`SCREEN_SHARE` of the calls (on S-shaped curves the starts sit in different
    "drop one touchpoint" basins); the best point then runs to ``ftol=1e-15``. Then, while calls
    are left, it hops between supports: from the best point, every split that swaps the spend of a
    dropped touchpoint and a kept one is screened the same way, and the best is refined again if
    it improved (an S-shaped optimum may drop several touchpoints). It stops when a round of hops
    does not improve, or when the calls are spent (``_BudgetSpent``, the best point so far kept).

    With ``constraints`` (<= 0 feasible) SLSQP gets them as inequalities ``-c(z) >= 0`` and only
    feasible points count as the answer.

    With ``side_by_side`` (see :func:`_side_by_side`), the points of one finite-difference gradient not
    evaluated yet are evaluated side by side first, as many as the calls left allow, then
    recorded in order: the same calls, values and best point as evaluating them one by one.
    """
    from scipy.optimize import minimize

    budget = space.budget
    scale = abs(reference) if reference != 0 and math.isfinite(reference) else 1.0
    memo: dict[bytes, tuple[float, tuple]] = {}
    calls = 0
    limit = max_calls
    best: tuple[float, np.ndarray, tuple] | None = None

    def record(key: bytes, vec: np.ndarray, raw) -> tuple[float, tuple]:
        nonlocal calls, best
        calls += 1
        value = float(_as_values(raw, 1))
        cons = _constraint_values(constraints, space.as_dict(vec)) if constraints is not None else ()
        memo[key] = (value, cons)
        if math.isfinite(value) and all(c <= 0 for c in cons) and (best is None or sense * (value - best[0]) > 0):
            best = (value, vec.copy(), cons)
        return value, cons

    def evaluate(z: np.ndarray) -> tuple[float, tuple]:
        vec = space.project(np.asarray(z, dtype=np.float64) * budget)
        key = vec.tobytes()
        if key in memo:
            return memo[key]
        if calls >= limit:
            raise _BudgetSpent
        return record(key, vec, objective(dict(space.as_dict(vec))))

    def prefetch(points: list[np.ndarray]) -> None:
        """Evaluate side by side the points ``evaluate`` would call the objective for, in its order and budget."""
        if side_by_side is None:
            return
        todo: dict[bytes, np.ndarray] = {}
        for z in points:
            vec = space.project(np.asarray(z, dtype=np.float64) * budget)
            key = vec.tobytes()
            if key not in memo and key not in todo:
                todo[key] = vec
        todo = dict(list(todo.items())[: max(0, limit - calls)])
        if len(todo) < 2:
            return
        with GATE.objective():
            raws = _call_many(objective, [space.as_dict(v) for v in todo.values()], side_by_side)
        for (key, vec), raw in zip(todo.items(), raws):
            record(key, vec, raw)

    def loss(z):
        value = evaluate(z)[0]
        return -sense * value / scale if math.isfinite(value) else 1e300

    def margins(z):
        return -np.asarray(evaluate(z)[1], dtype=np.float64)

    step = math.sqrt(np.finfo(float).eps)
    lower, upper = space.lower / budget, space.upper / budget

    def forward(fun, z):
        """Forward differences of ``fun`` (a backward step at an upper bound): one call per coordinate."""
        z = np.asarray(z, dtype=np.float64)
        steps, points = [], [z]
        for i in range(z.size):
            h = step * max(1.0, abs(z[i]))
            if z[i] + h > upper[i]:
                h = -h
            zi = z.copy()
            zi[i] += h
            steps.append(h)
            points.append(zi)
        prefetch(points)
        f0 = np.atleast_1d(fun(z))
        jac = np.zeros((f0.size, z.size))
        for i, (h, zi) in enumerate(zip(steps, points[1:])):
            jac[:, i] = (np.atleast_1d(fun(zi)) - f0) / h
        return jac

    box = list(zip(lower, upper))
    cons = [{"type": "eq", "fun": lambda z: np.sum(z) - 1.0, "jac": lambda z: np.ones((1, z.size))}]
    if constraints is not None:
        cons.append({"type": "ineq", "fun": margins, "jac": lambda z: forward(margins, z)})

    def run(z0: np.ndarray, ftol: float, cap: int) -> None:
        nonlocal limit
        limit = min(max_calls, calls + cap)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                minimize(
                    loss,
                    z0,
                    jac=lambda z: forward(loss, z)[0],
                    method="SLSQP",
                    bounds=box,
                    constraints=cons,
                    options={"ftol": ftol, "maxiter": 500},
                )
            except _BudgetSpent:
                pass

    per_start = max(int(SCREEN_SHARE * max_calls) // len(starts), 2 * (space.n + 2))

    def screen(vectors: list[np.ndarray]) -> None:
        for vec in vectors:
            if calls >= max_calls:
                return
            run(vec / budget, ftol=1e-8, cap=per_start)

    if len(starts) > 1:
        screen(starts)
    if calls < max_calls:
        run((best[1] if best is not None else starts[0]) / budget, ftol=_FINAL_FTOL, cap=max_calls - calls)
    # basin hopping over supports: on S-shaped curves the optimum may drop several touchpoints,
    # and a start that drops the wrong one stays on its face; swap a dropped and a kept touchpoint
    tried: set[bytes] = set()
    while best is not None and calls < max_calls:
        hops = [h for h in _swaps(space, best[1]) if h.tobytes() not in tried]
        if not hops:
            break
        tried.update(h.tobytes() for h in hops)
        before = best[0]
        screen(hops)
        if not sense * (best[0] - before) > 1e-9 * max(abs(before), 1e-300):
            break  # no hop led to a better basin (a gain below 1e-9 is the same basin refined further)
        run(best[1] / budget, ftol=_FINAL_FTOL, cap=max_calls - calls)
    if best is None:
        return space.as_dict(starts[0]), reference, (), calls
    return space.as_dict(best[1]), best[0], best[2], calls


def _swaps(space: BudgetSpace, vec: np.ndarray) -> list[np.ndarray]:
    """Splits that move the spend of one kept touchpoint to one dropped one (at its minimum), projected."""
    tol = 1e-6 * space.budget
    dropped = [i for i in range(space.n) if vec[i] <= space.lower[i] + tol and space.upper[i] > space.lower[i] + tol]
    kept = [j for j in range(space.n) if vec[j] > space.lower[j] + tol]
    out = []
    for i in dropped:
        for j in kept:
            hop = vec.copy()
            hop[i], hop[j] = vec[j], vec[i]
            out.append(space.project(hop))
    return out
