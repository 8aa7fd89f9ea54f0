"""Budget allocation by global Optuna search on the bounded simplex, then a local polish.

The global search samples only feasible splits (:class:`~jsim.optimise.space.BudgetSpace`), so
no trial is wasted. CMA-ES with IPOP restarts is the default for one objective: it explores the
whole simplex, so on S-shaped (Hill ``slope > 1``) curves it finds the basin of the global
optimum even where that drops a touchpoint, a basin that a gradient method started from the
equal split never leaves. The polish then runs SLSQP on the simplex from the best few *distinct*
trials (distinct basins), so deterministic objectives converge to many digits.
"""

from __future__ import annotations

__all__ = ["AllocationResult", "optimise_allocation", "polish_allocation", "SAMPLERS"]

import importlib.util
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState

from jsim.errors import OptimiseError
from jsim.optimise.space import BudgetSpace
from jsim.rng import derive_seed

from .interrupts import interrupt_guard, interrupt_point
from .storage import UNCOUNTED_ATTR, counted, remaining_trials, resumable

SAMPLERS = ("auto", "cmaes", "tpe", "gp", "nsga2", "random")

_ALLOC_ATTR = "allocation"
_POLISH_ATTR = "polished"
_POLISH_OF_ATTR = "jsim:polish_of"  # system attribute: the n_trials of the search a polish trial follows


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
        Objective calls made by this call (trials plus polish).
    polished : bool
        Whether the local polish improved on the best trial (its answer is then added to the
        study as a trial with ``user_attrs["polished"] = True``).
    space : BudgetSpace or None
        The search space, for :attr:`active_bounds`.
    """

    allocation: dict
    value: float | tuple
    study: optuna.Study
    history: list
    pareto: list | None
    n_evaluations: int
    polished: bool
    space: BudgetSpace | None = field(default=None, repr=False)

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
    n_trials: int = 300,
    seed: int | None = 0,
    sampler="auto",
    directions: Sequence[str] | None = None,
    storage=None,
    study_name: str | None = None,
    polish: bool = True,
    n_jobs: int = 1,
    callbacks=None,
    initial=None,
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
    n_trials : int, default 300
        Trials of the global search, counted over the whole study (a resumed study runs only the
        missing ones).
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
        Polish the best distinct trials with SLSQP on the simplex (one objective only).
    n_jobs : int, default 1
        Parallel trials in this process (results then depend on thread timing).
    callbacks : list of callable, optional
        Passed to ``study.optimize``.
    initial : dict or list of dict, optional
        Allocations to evaluate first (projected onto the feasible set); default the equal split.
        Only enqueued when the study is new.

    Returns
    -------
    AllocationResult

    Raises
    ------
    OptimiseError
        Infeasible bounds, unknown sampler, wrong number of objective values.
    """
    names = _resolve_names(names, bounds, initial, objective)
    space = BudgetSpace(names, budget, bounds)
    directions = list(directions) if directions is not None else ["maximize"]
    for d in directions:
        if d not in ("maximize", "minimize"):
            raise OptimiseError(f"directions must be 'maximize' or 'minimize', got {d!r}")
    n_objectives = len(directions)
    if n_trials < 1:
        raise OptimiseError(f"n_trials >= 1 must hold, but got n_trials={n_trials}")

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
        return _as_values(objective(dict(alloc)), n_objectives)

    def stop_when_full(study, trial) -> None:
        if not remaining_trials(study, n_trials):
            study.stop()

    remaining = remaining_trials(study, n_trials)
    if remaining > 0:
        all_callbacks = [stop_when_full, interrupt_point] + list(callbacks or [])
        with interrupt_guard():  # Ctrl-C interrupts an objective call or waits for the end of the trial
            study.optimize(resumable(run_trial), n_trials=remaining, n_jobs=n_jobs, callbacks=all_callbacks)

    complete = [
        t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if counted(t) or _is_polish(t)
    ]
    if not complete:
        raise OptimiseError(f"no trial of study {study.study_name!r} completed (every objective call failed)")
    history = [
        (t.number, _trial_allocation(space, t), t.value if n_objectives == 1 else tuple(t.values)) for t in complete
    ]

    if n_objectives > 1:
        pareto_trials = sorted(
            study.best_trials, key=lambda t: -t.values[0] if directions[0] == "maximize" else t.values[0]
        )
        if not pareto_trials:  # with constraints, the front holds feasible trials only
            raise ValueError(f"no feasible trial in study {study.study_name!r}: no allocation met the constraints")
        pareto = [(_trial_allocation(space, t), tuple(t.values)) for t in pareto_trials]
        pick = _compromise(pareto, directions)
        return AllocationResult(pareto[pick][0], pareto[pick][1], study, history, pareto, n_calls, False, space)

    sense = 1.0 if directions[0] == "maximize" else -1.0
    best = study.best_trial
    best_alloc, best_value = _trial_allocation(space, best), float(best.value)
    polished = False
    if polish and space.n > 1:
        starts = _distinct_starts(space, history, sense)
        alloc, value, calls = _polish(objective, space, starts, sense, best_value)
        n_calls += calls
        if sense * (value - best_value) > 0:
            polished = True
            best_alloc, best_value = alloc, value
            number = _store_polish(study, space, alloc, value, n_trials)
            if number is not None:
                history.append((number, alloc, value))
    return AllocationResult(best_alloc, best_value, study, history, None, n_calls, polished, space)


def polish_allocation(
    objective: Callable[[dict], float],
    budget: float,
    starts: Sequence[Mapping[str, float]],
    bounds: Mapping[str, tuple[float, float]] | None = None,
    names: Sequence[str] | None = None,
    direction: str = "maximize",
) -> tuple[dict, float, int]:
    """A local optimum of one objective on the budget simplex: SLSQP from each of ``starts`` (projected
    onto the feasible set), no global search and no study. Returns ``(allocation, value, calls)``.

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
    alloc, value, calls = _polish(objective, space, vectors, sense, reference)
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


def _store_polish(study: optuna.Study, space: BudgetSpace, alloc: dict, value: float, n_trials: int) -> int | None:
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
        system_attrs={UNCOUNTED_ATTR: "polish", _POLISH_OF_ATTR: n_trials},
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


def _polish(objective, space: BudgetSpace, starts: list[np.ndarray], sense: float, reference: float):
    """SLSQP from each start on the simplex in budget shares; returns (allocation, value, calls).

    Works in shares ``z = a / budget`` so the finite-difference step and tolerances are relative,
    and divides the objective by ``|reference|`` so ``ftol`` is relative too. Each evaluated point
    is projected onto the feasible set first, so the objective never sees an infeasible split.
    """
    from scipy.optimize import minimize

    budget = space.budget
    scale = abs(reference) if reference != 0 and math.isfinite(reference) else 1.0
    calls = 0
    best: tuple[float, np.ndarray] | None = None

    def evaluate(vec: np.ndarray) -> float:
        nonlocal calls, best
        calls += 1
        value = float(_as_values(objective(space.as_dict(vec)), 1))
        if math.isfinite(value) and (best is None or sense * (value - best[0]) > 0):
            best = (value, vec.copy())
        return value

    def loss(z: np.ndarray) -> float:
        value = evaluate(space.project(z * budget))
        return -sense * value / scale if math.isfinite(value) else 1e300

    box = list(zip(space.lower / budget, space.upper / budget))
    constraint = {"type": "eq", "fun": lambda z: np.sum(z) - 1.0, "jac": lambda z: np.ones_like(z)}
    for start in starts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            minimize(
                loss,
                start / budget,
                method="SLSQP",
                bounds=box,
                constraints=[constraint],
                options={"ftol": 1e-15, "maxiter": 100},
            )
    if best is None:
        return space.as_dict(starts[0]), reference, calls
    return space.as_dict(best[1]), best[0], calls
