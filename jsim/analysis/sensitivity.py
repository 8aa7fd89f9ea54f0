"""Which scenario fields move a metric, and how much: what ``jsim sensitivity`` computes.

Three methods, the last two with SALib (the field's library; no estimator is written here):

- ``oat`` (one at a time): the scenario as it is, then each parameter at LOW and at HIGH with the
  others at their scenario values. The swing ``f(HIGH) - f(LOW)`` is a paired difference over
  the common replications (exact for the mean-field engine). A tornado chart ranks the swings.
- ``morris`` (elementary effects, :func:`SALib.sample.morris.sample` and
  :func:`SALib.analyze.morris.analyze`): ``--samples`` trajectories over ``--levels`` levels.
  ``mu_star`` is the mean absolute elementary effect with its bootstrap 95% half-width
  ``mu_star_conf``; ``sigma`` their spread (interactions, non-linearity); ``mu`` their signed
  mean. SALib divides each step's change by the step as a share of the range, so for a metric
  linear in a parameter ``mu_star`` is the change from LOW to HIGH.
- ``sobol`` (variance-based, Saltelli sampling :func:`SALib.sample.sobol.sample` and
  :func:`SALib.analyze.sobol.analyze`): first-order ``S1``, total ``ST`` and with two or more
  parameters second-order ``S2`` indices, each with its bootstrap 95% half-width (``*_conf``).
  ``--samples`` N is the base sample (a power of two; another N is rounded up); the model is
  evaluated ``N * (2D + 2)`` times (``N * (D + 2)`` for one parameter).

Parameters are uniform on ``[LOW, HIGH]``. A parameter whose field takes whole numbers (agents,
customers: found by trying a value between two integers) is sampled uniformly on
``[LOW - 0.5, HIGH + 0.5]`` and rounded to the nearest integer, so each whole number from LOW to
HIGH is equally likely; the indices are those of that discrete parameter.

Speed: the file is read once; each evaluation applies its values to that data
(:func:`jsim.scenario.scenario_with`), compiles and simulates (the memory estimate is cached by
the model's sizes). Every point is validated like a file before the first is simulated; a rule
only the compiled model checks stops the run at the first point that breaks it, naming its values.
With a stochastic engine each evaluation is
the mean of ``reps`` replications on the same seeds for every point (common random numbers);
the intervals of morris and sobol are SALib's bootstrap over the sample (they do not add the
simulation noise left in each evaluation: raise ``reps`` until the indices settle).
"""

from __future__ import annotations

__all__ = ["METHODS", "DEFAULT_SAMPLES", "Sensitivity", "SensitivityProblem", "run_sensitivity", "setup_problem"]

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ScenarioError
from ..metrics import paired_difference
from .metric_paths import metric_values, parse_metrics
from .params import RangeParam, check_param_keys, is_integer_field, parse_range_param

METHODS = ("oat", "morris", "sobol")
#: ``--samples`` when not given: Morris trajectories, Sobol base sample N
DEFAULT_SAMPLES = {"morris": 20, "sobol": 256}
#: bootstrap resamples of SALib's confidence intervals
RESAMPLES = 1000
#: the most model evaluations one analysis runs
MAX_EVALUATIONS = 1_000_000


@dataclass
class SensitivityProblem:
    """A checked sensitivity question, ready to run: the file's data, the parameters and metrics."""

    scenario: str
    data: dict
    overrides: tuple
    params: list
    metrics: list
    scenario_name: str
    warnings: list


def setup_problem(scenario: str, param_texts, metric_texts, *, overrides=(), customers=None, days=None):
    """Read ``scenario`` once and check every ``--param`` and ``--metric`` against it.

    Raises
    ------
    InputError, ScenarioError
        A bad ``--param`` text or KEY, a LOW or HIGH the field refuses, or an unknown metric.
    """
    from ..engine.resources import check_compile
    from ..model import compile_scenario
    from ..scenario import parse_override, read_scenario_data, scenario_warnings, scenario_with

    if not param_texts:
        raise InputError(
            "--param is required: name the fields to vary, e.g. --param economics.margin=0.25:0.45",
            params=("params",),
        )
    ranges = [parse_range_param(t) for t in param_texts]
    keys = [r[0] for r in ranges]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InputError(f"--param: each KEY may be varied once, got {dup} twice", params=("params",))
    data = read_scenario_data(scenario)
    common = tuple(o if isinstance(o, tuple) else parse_override(o) for o in overrides)
    base = scenario_with(data, scenario, common)
    check_param_keys(data, scenario, common, [(k, lo) for k, lo, _, _ in ranges])
    params = []
    for key, low, high, whole in ranges:
        for value in (low, high):  # each end is valid on its own, with the rest as the scenario has it
            scenario_with(data, scenario, [*common, (key, int(value) if whole else value)])
        integer = whole and is_integer_field(data, scenario, common, key, low, high)
        params.append(RangeParam(key, low, high, integer))
    check_compile(base, customers=customers, days=days)
    model = compile_scenario(base, customers=customers, days=days)
    metrics = parse_metrics(metric_texts, model)
    return SensitivityProblem(scenario, data, common, params, metrics, model.name, scenario_warnings(base, days=days))


def _salib_problem(params) -> dict:
    bounds = [[p.low - 0.5, p.high + 0.5] if p.integer else [p.low, p.high] for p in params]
    return {"num_vars": len(params), "names": [p.key for p in params], "bounds": bounds}


def _value(p: RangeParam, x: float):
    """The value set for parameter ``p`` at sample value ``x`` (a whole number, clipped to the range, if integer)."""
    if p.integer:
        return int(min(max(math.floor(x + 0.5), p.low), p.high))
    return float(x)


@dataclass
class Sensitivity:
    """A sensitivity analysis's results.

    Attributes
    ----------
    method : str
        ``oat``, ``morris`` or ``sobol``.
    rows : list of dict
        ``sensitivity.csv``: one per metric and parameter: ``metric, param, low, high, integer``
        and the method's figures (:data:`ROW_FIELDS`).
    second_order : list of dict
        Sobol with two or more parameters: ``metric, param, other, S2, S2_conf`` per pair.
    baseline : dict
        ``{metric: value}`` of the scenario as it is (oat), else empty.
    deterministic : bool
        The engine computes exact expected values (no simulation noise).
    evaluations : int
        Model evaluations (each ``reps`` replications for a stochastic engine).
    seconds : float
        Wall time of the evaluations (validation included).
    notes : list of str
        What the reader should know (a sample size rounded up, a metric that does not vary).
    """

    scenario: str
    scenario_name: str
    method: str
    engine: str
    reps: int
    seed: int
    samples: int | None
    levels: int | None
    params: list
    metrics: list
    overrides: dict
    rows: list
    second_order: list = field(default_factory=list)
    baseline: dict = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    deterministic: bool = False

    @property
    def evaluations_per_second(self) -> float | None:
        return self.evaluations / self.seconds if self.seconds > 0 else None

    def columns(self) -> list[str]:
        """The header of ``sensitivity.csv``."""
        return ["metric", "param", "low", "high", "integer", *ROW_FIELDS[self.method]]

    def as_json(self) -> dict:
        """``sensitivity.json``: settings, parameters, ``indices`` (``sensitivity.csv``'s rows), ``second_order``."""
        return {
            "scenario_file": self.scenario,
            "scenario": self.scenario_name,
            "method": self.method,
            "engine": self.engine,
            "reps": self.reps,
            "seed": self.seed,
            "samples": self.samples,
            "levels": self.levels,
            "deterministic": self.deterministic,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 3),
            "evaluations_per_second": self.evaluations_per_second,
            "overrides": self.overrides,
            "params": [p._asdict() for p in self.params],
            "metrics": [m.name for m in self.metrics],
            "baseline": self.baseline,
            "indices": self.rows,
            "second_order": self.second_order,
            "notes": self.notes,
        }


#: the method's columns of ``sensitivity.csv`` after ``metric, param, low, high, integer``
ROW_FIELDS = {
    "oat": ("baseline", "at_low", "at_high", "swing", "swing_low", "swing_high"),
    "morris": ("mu", "mu_star", "mu_star_conf", "sigma"),
    "sobol": ("S1", "S1_conf", "ST", "ST_conf"),
}


class _Evaluator:
    """Evaluate the metrics at many points of one scenario: per-replication values ``(M, R)`` per point."""

    def __init__(self, problem: SensitivityProblem, *, customers, days, seed, reps, engine, cluster=None):
        from ..engine import get_engine
        from ..rng import as_seed_sequence, seed_entropy

        self.problem = problem
        self.cluster = cluster
        self.customers, self.days = customers, days
        self.engine = get_engine(engine)
        self.reps = int(reps) if self.engine.stochastic else 1
        self.root = seed_entropy(as_seed_sequence(seed))  # one entropy for every point: common random numbers

    def scenario(self, values: dict):
        """The validated scenario with ``{KEY: value}`` set (raises ScenarioError located at the values)."""
        from ..scenario import scenario_with

        return scenario_with(self.problem.data, self.problem.scenario, [*self.problem.overrides, *values.items()])

    def run(self, scenarios: list, settings: list, progress: Callable[[float], None] | None) -> np.ndarray:
        """``(n_points, M, R)`` values of the metrics at each scenario, on common seeds.

        ``settings`` (``{KEY: value}`` per scenario) locate an error the model's checks find at a point
        (the settings of the scenario as it is: ``{}``).
        """
        from ..engine import simulate
        from ..engine.result import SimulationResult
        from ..metrics import rep_values
        from ..rng import replication_seed

        out = np.empty((len(scenarios), len(self.problem.metrics), self.reps))
        step = max(1, len(scenarios) // 200)
        models = (self._model(scenarios, settings, k) for k in range(len(scenarios)))
        if self.cluster is not None:  # a few points' replications in flight as tasks, gathered in order
            seeds = [replication_seed(np.random.SeedSequence(self.root), r) for r in range(self.reps)]
            results = (
                SimulationResult.from_runs(model, self.engine.name, self.root, runs)
                for model, runs in self.cluster.map_models(models, self.engine, seeds)
            )
        else:
            results = (
                simulate(model, seed=self.root, reps=self.reps, engine=self.engine, check_memory=False)
                for model in models
            )
        for k, result in enumerate(results):
            values = rep_values(result)
            for i, m in enumerate(self.problem.metrics):
                out[k, i] = metric_values(values, m)
            del result
            if progress is not None and k % step == 0:
                progress(k / len(scenarios))
        if progress is not None:
            progress(1.0)
        return out

    def _model(self, scenarios: list, settings: list, k: int):
        """The compiled model of ``scenarios[k]`` (then dropped from the list), checked to fit in memory."""
        from ..engine.resources import check_compile, check_resources
        from ..model import compile_scenario

        scenario, scenarios[k] = scenarios[k], None  # drop each scenario once compiled
        check_compile(scenario, customers=self.customers, days=self.days)
        try:
            model = compile_scenario(scenario, customers=self.customers, days=self.days)
        except ScenarioError as exc:
            at = ", ".join(f"{key}={v:.6g}" for key, v in settings[k].items())
            raise ScenarioError(exc.issues, source=f"{self.problem.scenario} with --param {at}") from None
        check_resources(model, self.engine, self.reps, 0)
        return model


def _points(ev: _Evaluator, X: np.ndarray) -> list:
    """Every row of the sample ``X`` as a validated scenario (all checked before any is simulated) and its values."""
    params = ev.problem.params
    settings = [{p.key: _value(p, xi) for p, xi in zip(params, x)} for x in X]
    return [ev.scenario(s) for s in settings], settings


def _finite(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _oat(ev: _Evaluator, progress) -> tuple[list, list, dict, int, list]:
    params, metrics = ev.problem.params, ev.problem.metrics
    settings = [{}]
    for p in params:
        for x in (p.low, p.high):
            settings.append({p.key: int(x) if p.integer else float(x)})
    values = ev.run([ev.scenario(s) for s in settings], settings, progress)  # (1 + 2D, M, R)
    det = not ev.engine.stochastic
    rows = []
    for i, m in enumerate(metrics):
        for d, p in enumerate(params):
            lo, hi = values[1 + 2 * d, i], values[2 + 2 * d, i]
            diff = paired_difference(hi, lo, deterministic=det)
            ok = math.isfinite(diff.mean)
            rows.append(
                {
                    "metric": m.name,
                    "param": p.key,
                    "low": p.low,
                    "high": p.high,
                    "integer": p.integer,
                    "baseline": _finite(values[0, i].mean()),
                    "at_low": _finite(lo.mean()),
                    "at_high": _finite(hi.mean()),
                    "swing": diff.mean if ok else None,
                    "swing_low": diff.low if ok and diff.low is not None else None,
                    "swing_high": diff.high if ok and diff.high is not None else None,
                }
            )
    baseline = {m.name: _finite(values[0, i].mean()) for i, m in enumerate(metrics)}
    return rows, [], baseline, len(settings), []


def _constant_or_nan(y: np.ndarray) -> str | None:
    if not np.isfinite(y).all():
        return "has no value at some points (a ratio of 0)"
    if np.ptp(y) == 0:
        return "does not vary over the ranges"
    return None


def _salib_seed(seed) -> int:
    """SALib's seed for ``seed``: derived, and never 0 (SALib skips seeding its bootstrap when ``seed`` is falsy,
    which would make the confidence intervals differ from run to run)."""
    from ..rng import derive_seed

    return derive_seed(seed, "salib") or 1


def _morris(ev: _Evaluator, samples: int, levels: int, seed: int, progress):
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = _salib_problem(ev.problem.params)
    seed = _salib_seed(seed)
    X = sample.sample(problem, samples, num_levels=levels, seed=seed)
    Y = ev.run(*_points(ev, X), progress=progress).mean(axis=2)  # (n, M)
    rows, notes = [], []
    for i, m in enumerate(ev.problem.metrics):
        why = _constant_or_nan(Y[:, i])
        res = None
        if why is None or why.startswith("does not"):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                res = analyze.analyze(
                    problem, X, Y[:, i], num_resamples=RESAMPLES, conf_level=0.95, num_levels=levels, seed=seed
                )
        if why:
            notes.append(f"{m.name} {why}")
        for d, p in enumerate(ev.problem.params):
            row = {"metric": m.name, "param": p.key, "low": p.low, "high": p.high, "integer": p.integer}
            for key in ROW_FIELDS["morris"]:
                row[key] = None if res is None else _finite(res[key][d])
            rows.append(row)
    return rows, [], {}, len(X), notes


def _sobol(ev: _Evaluator, samples: int, seed: int, progress):
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    params = ev.problem.params
    problem = _salib_problem(params)
    second = len(params) >= 2
    seed = _salib_seed(seed)
    X = sample.sample(problem, samples, calc_second_order=second, seed=seed)
    Y = ev.run(*_points(ev, X), progress=progress).mean(axis=2)
    rows, pairs, notes = [], [], []
    for i, m in enumerate(ev.problem.metrics):
        why = _constant_or_nan(Y[:, i])
        res = None
        if why is None:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                res = analyze.analyze(
                    problem, Y[:, i], calc_second_order=second, num_resamples=RESAMPLES, conf_level=0.95, seed=seed
                )
        else:
            notes.append(f"{m.name} {why}: no Sobol indices")
        for d, p in enumerate(params):
            row = {"metric": m.name, "param": p.key, "low": p.low, "high": p.high, "integer": p.integer}
            for key in ROW_FIELDS["sobol"]:
                row[key] = None if res is None else _finite(res[key][d])
            rows.append(row)
        if second:
            for a in range(len(params)):
                for b in range(a + 1, len(params)):
                    pairs.append(
                        {
                            "metric": m.name,
                            "param": params[a].key,
                            "other": params[b].key,
                            "S2": None if res is None else _finite(res["S2"][a, b]),
                            "S2_conf": None if res is None else _finite(res["S2_conf"][a, b]),
                        }
                    )
    return rows, pairs, {}, len(X), notes


def check_samples(method: str, samples: int | None, levels: int | None, n_params: int) -> tuple:
    """``(samples, levels, notes)`` for ``method``: defaults filled, a Sobol N rounded up to a power of two.

    Raises
    ------
    InputError
        ``--samples`` or ``--levels`` given where the method has none, a Morris ``--levels`` below 2,
        or more than :data:`MAX_EVALUATIONS` evaluations.
    """
    notes = []
    if method == "oat":
        if samples is not None or levels is not None:
            raise InputError(
                "--samples and --levels do not apply to --method oat (it runs each parameter at LOW and HIGH); "
                "drop them, or use --method morris or sobol",
                params=("samples",),
            )
        return None, None, notes
    if levels is not None and method != "morris":
        raise InputError(f"--levels applies to --method morris only, got --method {method} (drop --levels)")
    n = samples if samples is not None else DEFAULT_SAMPLES[method]
    if method == "sobol":
        power = 1 << max(0, int(n) - 1).bit_length()
        if power != n:
            notes.append(f"--samples {n} rounded up to {power} (Sobol sampling needs a power of two)")
        n = power
        evaluations = n * (2 * n_params + 2 if n_params >= 2 else n_params + 2)
    else:
        levels = 4 if levels is None else levels
        evaluations = n * (n_params + 1)
    if evaluations > MAX_EVALUATIONS:
        raise InputError(
            f"--samples: {method} with {n} samples and {n_params} parameters needs {evaluations:,} evaluations, "
            f"at most {MAX_EVALUATIONS:,} are allowed (lower --samples)",
            params=("samples",),
        )
    return n, levels, notes


def run_sensitivity(
    problem: SensitivityProblem,
    *,
    method: str = "sobol",
    samples: int | None = None,
    levels: int | None = None,
    customers=None,
    days=None,
    seed: int = 0,
    reps: int = 1,
    engine: str = "mean-field",
    progress: Callable[[float], None] | None = None,
    cluster=None,
) -> Sensitivity:
    """Run ``method`` on ``problem`` (:func:`setup_problem`); see the module's docstring.

    ``seed`` is the simulations' root seed (common to every point) and SALib's sampler and
    bootstrap seed. Raises :class:`~jsim.errors.ScenarioError` before simulating when a sample
    point makes an invalid scenario (two ranges that together break a rule), located at the values.
    ``cluster`` (:func:`jsim.engine.distributed.connect`) runs every point's replications as Dask
    tasks, on the same seeds (bit-identical values).
    """
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}", params=("method",))
    samples, levels, notes = check_samples(method, samples, levels, len(problem.params))
    ev = _Evaluator(problem, customers=customers, days=days, seed=seed, reps=reps, engine=engine, cluster=cluster)
    t0 = time.perf_counter()
    if method == "oat":
        rows, pairs, baseline, n_eval, more = _oat(ev, progress)
    elif method == "morris":
        rows, pairs, baseline, n_eval, more = _morris(ev, samples, levels, seed, progress)
    else:
        rows, pairs, baseline, n_eval, more = _sobol(ev, samples, seed, progress)
    seconds = time.perf_counter() - t0
    return Sensitivity(
        scenario=problem.scenario,
        scenario_name=problem.scenario_name,
        method=method,
        engine=ev.engine.name,
        reps=ev.reps,
        seed=ev.root,
        samples=samples,
        levels=levels,
        params=problem.params,
        metrics=problem.metrics,
        overrides=dict(problem.overrides),
        rows=rows,
        second_order=pairs,
        baseline=baseline,
        evaluations=n_eval,
        seconds=seconds,
        notes=notes + more,
        deterministic=not ev.engine.stochastic,
    )
