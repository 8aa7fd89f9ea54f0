"""Fit scenario fields to observed daily series: what ``jsim calibrate`` computes.

The statistical model
---------------------
Each observed cell ``y[t, c]`` (day ``t``, column ``c`` of :mod:`jsim.io.observed`) is taken as a
Poisson count with mean ``mu[t, c](theta)``, the engine's expected series at the parameters
``theta`` (the mean-field engine's exact expectation, or the mean of ``reps`` replications of a
stochastic engine on the same seeds for every ``theta``: common random numbers). The fit minimises
the Poisson deviance ``D(theta) = 2 sum [y log(y / mu) - (y - mu)]`` over the observed cells;
``D / 2`` is the negative log-likelihood up to a constant.

``revenue`` is an amount, not a count: it enters as a count of orders, ``revenue / v`` with ``v``
the scenario's mean order value (its revenue per purchase over the horizon, computed once with the
mean-field engine at the file's values). So one order's worth of revenue weighs like one purchase.

Dispersion, per column ``c``: ``phi_c = max(1, Pearson chi2_c / (n_c - p) * (1 + rho_c) / (1 - rho_c))``
at the optimum: the quasi-Poisson dispersion times the variance inflation of an AR(1) series,
``rho_c`` the lag-1 autocorrelation of the column's Pearson residuals over consecutive days
(clipped to [0, 0.95]). The intervals, slices and the ABC kernel use the quasi-deviance
``sum_c D_c / phi_c``; the estimate is the Poisson one. Stage
columns are stocks: a customer counted today is mostly counted again tomorrow, so the residuals of
a real (or simulated) population are strongly autocorrelated and independent Poisson cells would
give intervals far too narrow. Independent noise (``rho`` = 0) and exact mean-field data keep the
Poisson intervals (``phi`` = 1). The AR(1) factor is an approximation, not a full model of the
dependence: its coverage is measured in ``tests/test_calibrate.py`` and ``benchmarks/README.md``.

Point fit and intervals (``method="optuna"``)
---------------------------------------------
Optuna's TPE sampler (seeded with :func:`jsim.rng.derive_seed`) searches the ``--fit`` box for
``trials`` trials; SciPy's bounded L-BFGS-B (deterministic engine) or Nelder-Mead (stochastic
engine) polishes the best trial. The 95% interval of each parameter is the Laplace one:
``estimate +- 1.96 sqrt(cov_ii)``, ``cov = 2 phi H^-1`` with ``H`` the Hessian of ``D`` by central
differences at the optimum, clipped to the box.

Identifiability warnings: a parameter whose deviance changes by less than ``phi`` (about one
log-likelihood unit) over its whole box with the others at the optimum (a flat slice; the profile
is then flat too) is *not identifiable* and gets the whole box as its interval; two parameters
whose correlation ``|cov_ij| / sqrt(cov_ii cov_jj)`` exceeds 0.95 *trade off*.

Posterior (``method="abc"``)
----------------------------
ABC-SMC with pyabc (``pip install jsim[abc]``): uniform priors over the boxes, pyabc's
:class:`~pyabc.StochasticAcceptor` with the exact kernel ``log p = -D / (2 phi)`` (``phi`` from a
point fit run first) and a temperature schedule down to 1, so the last population samples the
posterior of the same Poisson model (Wilkinson 2013, "Approximate Bayesian computation gives exact
results under the assumption of model error"). Estimates are weighted posterior medians, intervals
the weighted 2.5% and 97.5% quantiles. pyabc draws from NumPy's global generator: it is seeded from
``seed`` for the run (and restored afterwards) and runs on one core, so a seed gives the same
posterior on one machine; pyabc does not promise bit-identical populations across its versions.
"""

from __future__ import annotations

__all__ = [
    "METHODS",
    "DEFAULT_TRIALS",
    "DEFAULT_POPULATION",
    "DEFAULT_GENERATIONS",
    "CalibrationProblem",
    "Calibration",
    "setup_calibration",
    "run_calibration",
    "model_series",
    "poisson_deviance",
]

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, ScenarioError
from .params import RangeParam, check_param_keys, is_integer_field, parse_range_param

METHODS = ("optuna", "abc")
#: Optuna trials of the point fit when ``--trials`` is not given
DEFAULT_TRIALS = 60
#: ABC-SMC particles per generation, and the most generations
DEFAULT_POPULATION = 300
DEFAULT_GENERATIONS = 12
#: a deviance change of this many ``phi`` over a parameter's box: not identifiable
FLAT_DEVIANCE = 1.0
#: above this |correlation| two parameters trade off
TRADE_OFF = 0.95
#: points of each parameter's slice across its box
SLICE_POINTS = 9
#: the deviance of a point the scenario's rules refuse (two ranges that together break a rule)
INVALID = 1e30
_Z95 = 1.959963984540054


@dataclass
class CalibrationProblem:
    """A checked calibration question: the file's data, the parameters, the observed series."""

    scenario: str
    data: dict
    overrides: tuple
    params: list
    observed: object
    scenario_name: str
    warnings: list
    model: object


def setup_calibration(scenario: str, data_path, fit_texts, *, overrides=(), customers=None, days=None):
    """Read ``scenario`` once, check every ``--fit`` against it and read ``data_path`` against its model.

    Raises
    ------
    InputError, ScenarioError
        A bad ``--fit`` text or KEY, an end of a range the field refuses, a whole-number field, a
        bad observed file (:func:`jsim.io.observed.read_observed`).
    """
    from ..engine.resources import check_compile
    from ..io.observed import read_observed
    from ..model import compile_scenario
    from ..scenario import parse_override, read_scenario_data, scenario_warnings, scenario_with

    if not fit_texts:
        raise InputError(
            "--fit is required: name the fields to fit and their ranges, "
            "e.g. --fit transitions.aware->considering.p=0.002:0.02",
            params=("fits",),
        )
    try:
        ranges = [parse_range_param(t, flag="--fit") for t in fit_texts]
    except InputError as exc:
        raise InputError(str(exc), params=("fits",)) from None
    keys = [r[0] for r in ranges]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InputError(f"--fit: each KEY may be fitted once, got {dup} twice (keep one range)", params=("fits",))
    data = read_scenario_data(scenario)
    common = tuple(o if isinstance(o, tuple) else parse_override(o) for o in overrides)
    base = scenario_with(data, scenario, common)
    check_param_keys(data, scenario, common, [(k, lo) for k, lo, _, _ in ranges], flag="--fit")
    params = []
    for key, low, high, whole in ranges:
        for value in (low, high):
            scenario_with(data, scenario, [*common, (key, int(value) if whole else value)])
        if whole and is_integer_field(data, scenario, common, key, low, high):
            raise InputError(
                f"--fit {key}={low:g}:{high:g}: {key} takes whole numbers only, and calibrate fits continuous fields "
                f"(probabilities, rates, multipliers) (fit it with jsim sweep --param {key}={int(low)}:{int(high)}:N "
                "and compare, or fix it with --set)",
                params=("fits",),
            )
        params.append(RangeParam(key, low, high, False))
    check_compile(base, customers=customers, days=days)
    model = compile_scenario(base, customers=customers, days=days)
    observed = read_observed(data_path, model)
    return CalibrationProblem(
        scenario, data, common, params, observed, model.name, scenario_warnings(base, days=days), model
    )


def model_series(result, columns) -> np.ndarray:
    """``(R, T+1, C)`` the engine's series for OBSERVED ``columns`` (:mod:`jsim.io.observed`), float64."""
    m = result.model
    stages = {name: s for s, name in enumerate(m.stage_names)}
    tps = {name: j for j, name in enumerate(m.touchpoint_names)}
    cache = {}

    def one(name):
        if name in stages:
            if "occ" not in cache:
                cache["occ"] = result.occupancy.sum(axis=2)
            return cache["occ"][:, :, stages[name]]
        if name == "arrivals":
            return result.arrivals.sum(axis=2)
        if name == "new_converted":
            return result.new_converted.sum(axis=2)
        if name == "purchases":
            return result.purchases
        if name == "revenue":
            return result.revenue
        kind, _, tp = name.partition(":")
        return (result.deliveries if kind == "deliveries" else result.engagements)[:, :, tps[tp]]

    return np.stack([np.asarray(one(c), dtype=np.float64) for c in columns], axis=2)


def poisson_deviance(y: np.ndarray, mu: np.ndarray, scale: np.ndarray, weight=1.0) -> tuple[float, float]:
    """``(deviance, pearson)`` of observed ``y (n, C)`` (NaN: not observed) against means ``mu (n, C)``.

    Column ``c`` is compared on the count scale ``y / scale[c]`` (``scale`` 1 for counts, the mean
    order value for revenue), its terms multiplied by ``weight[c]`` (1 / the column's dispersion). A
    mean below 1e-9 counts as 1e-9 (an observed count where the model expects none is very unlikely,
    not impossible).
    """
    ok = np.isfinite(y)
    yy = np.where(ok, y, 0.0) / scale
    m = np.maximum(mu / scale, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(yy > 0, yy * np.log(np.where(yy > 0, yy, 1.0) / m), 0.0) - (yy - m)
    dev = 2.0 * float(np.sum((term * weight)[ok]))
    pearson = float(np.sum(((yy - m) ** 2 / m * weight)[ok]))
    return max(dev, 0.0), pearson


class _Simulator:
    """The deviance of the observed series at parameter values, counting the simulations it runs."""

    def __init__(self, problem: CalibrationProblem, *, customers, days, seed, reps, engine, cluster=None):
        from ..engine import get_engine
        from ..rng import as_seed_sequence, seed_entropy

        self.problem = problem
        self.cluster = cluster
        self.customers, self.days = customers, days
        self.engine = get_engine(engine)
        self.reps = int(reps) if self.engine.stochastic else 1
        self.root = seed_entropy(as_seed_sequence(seed))  # one entropy for every point: common random numbers
        self.calls = 0
        self.invalid = 0
        self._lock = threading.Lock()
        obs = problem.observed
        self.columns = list(obs.columns)
        self.scale = np.ones(len(self.columns))
        self.weight = np.ones(len(self.columns))
        if "revenue" in self.columns:
            self.scale[self.columns.index("revenue")] = self._order_value()
        self.lows = np.array([p.low for p in problem.params])
        self.widths = np.array([p.high - p.low for p in problem.params])

    def _order_value(self) -> float:
        from ..engine import simulate

        result = simulate(self.problem.model, seed=0, reps=1, engine="mean-field", check_memory=False)
        purchases, revenue = float(result.purchases.sum()), float(result.revenue.sum())
        return revenue / purchases if purchases > 0 and revenue > 0 else 1.0

    def theta(self, u) -> np.ndarray:
        """Parameter values at the box coordinates ``u`` (0 = LOW, 1 = HIGH)."""
        return self.lows + np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0) * self.widths

    def series(self, theta) -> np.ndarray | None:
        """``(T+1, C)`` mean series at ``theta``; None where the scenario's rules refuse the values."""
        from ..engine import simulate
        from ..engine.resources import check_resources
        from ..model import compile_scenario
        from ..scenario import scenario_with

        pairs = [(p.key, float(x)) for p, x in zip(self.problem.params, theta)]
        try:
            scenario = scenario_with(self.problem.data, self.problem.scenario, [*self.problem.overrides, *pairs])
            model = compile_scenario(scenario, customers=self.customers, days=self.days)
        except ScenarioError:
            with self._lock:
                self.invalid += 1
            return None
        if self.calls == 0:
            check_resources(model, self.engine, self.reps, 0)
        result = simulate(
            model, seed=self.root, reps=self.reps, engine=self.engine, check_memory=False, cluster=self.cluster
        )
        with self._lock:  # deviances computed side by side (``batch``)
            self.calls += 1
        return model_series(result, self.columns).mean(axis=0)

    def fit_stats(self, theta) -> tuple[float, float]:
        """``(deviance, pearson)`` at ``theta`` (:data:`INVALID` where the values are refused)."""
        mu = self.series(theta)
        if mu is None:
            return INVALID, INVALID
        return poisson_deviance(self.problem.observed.values, mu[self.problem.observed.days], self.scale, self.weight)

    def deviance_u(self, u) -> float:
        return self.fit_stats(self.theta(u))[0]


@dataclass
class Calibration:
    """A calibration's results.

    Attributes
    ----------
    parameters : dict
        ``{KEY: {"estimate", "low", "high", "std_error", "range", "identifiable"}}``: the fitted value
        and its 95% interval (Laplace for optuna, credible for abc).
    deviance : float
        The Poisson deviance at the estimates.
    dispersion : dict
        ``{column: phi}`` (>= 1): each column's deviance is divided by its ``phi`` for the intervals.
    fitted : (T+1, C) array
        The engine's series at the estimates, for ``columns``.
    posterior : (n, p) array or None, weights (n,)
        abc: the last population and its weights.
    simulations : int
        Simulator calls (each ``reps`` replications of a stochastic engine), every stage included.
    """

    scenario: str
    scenario_name: str
    data: str
    method: str
    engine: str
    reps: int
    seed: int
    trials: int
    params: list
    overrides: dict
    parameters: dict
    deviance: float
    dispersion: dict
    n_observations: int
    columns: list
    revenue_unit: float | None
    fitted: np.ndarray
    observed_days: np.ndarray
    observed: np.ndarray
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    correlation: list = field(default_factory=list)
    simulations: int = 0
    seconds: float = 0.0
    population: int | None = None
    generations: int | None = None
    posterior: np.ndarray | None = None
    weights: np.ndarray | None = None
    point: dict = field(default_factory=dict)

    def values(self) -> list[tuple[str, float]]:
        """``(KEY, estimate)`` pairs: what the fitted scenario sets."""
        return [(p.key, self.parameters[p.key]["estimate"]) for p in self.params]

    def as_json(self, settings: bool = False) -> dict:
        """``{"parameters", "warnings", "deviance", ...}``; with ``settings`` also how it was run (calibration.json)."""
        out = {
            "parameters": self.parameters,
            "warnings": self.warnings,
            "notes": self.notes,
            "deviance": self.deviance,
            "dispersion": self.dispersion,
            "n_observations": self.n_observations,
            "method": self.method,
            "engine": self.engine,
            "simulations": self.simulations,
            "seconds": round(self.seconds, 3),
        }
        if self.method == "abc":
            out["point_estimate"] = self.point
        if settings:
            out.update(
                {
                    "scenario_file": self.scenario,
                    "scenario": self.scenario_name,
                    "data": self.data,
                    "columns": self.columns,
                    "revenue_unit": self.revenue_unit,
                    "seed": self.seed,
                    "reps": self.reps,
                    "trials": self.trials,
                    "population": self.population,
                    "generations": self.generations,
                    "overrides": self.overrides,
                    "fit": {p.key: [p.low, p.high] for p in self.params},
                    "correlation": self.correlation,
                }
            )
        return out


def _point_fit(sim: _Simulator, trials: int, seed, progress, batch: int = 1) -> np.ndarray:
    """Box coordinates of the minimum deviance: Optuna TPE over the box, then a SciPy polish.

    With ``batch`` > 1 the search asks ``batch`` trials at a time (their coordinates suggested
    here, one after another), computes their deviances side by side in threads (with a cluster,
    their simulations' replications run as Dask tasks) and tells them in ask order: the same seed
    and batch give the same fit whatever finishes first.
    """
    import optuna
    from scipy.optimize import minimize

    from ..rng import derive_seed

    p = len(sim.problem.params)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=derive_seed(sim.root, "calibrate"), n_startup_trials=min(10, trials))
    study = optuna.create_study(sampler=sampler)
    study.enqueue_trial({f"u{i}": 0.5 for i in range(p)})  # the centre of the box first

    def objective(trial):
        return sim.deviance_u([trial.suggest_float(f"u{i}", 0.0, 1.0) for i in range(p)])

    def report(study, trial):
        if progress is not None:
            progress(0.7 * (trial.number + 1) / trials)

    if batch > 1:
        _search_in_batches(study, sim, p, trials, batch, report)
    else:
        study.optimize(objective, n_trials=trials, callbacks=[report])
    u0 = np.array([study.best_params[f"u{i}"] for i in range(p)])
    if sim.engine.stochastic:
        res = minimize(
            sim.deviance_u, u0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * p,
            options={"xatol": 1e-4, "fatol": 0.05, "maxfev": 80 * p},
        )  # fmt: skip
    else:
        res = minimize(sim.deviance_u, u0, method="L-BFGS-B", bounds=[(0.0, 1.0)] * p, options={"maxfun": 200 * p})
    return res.x if res.fun <= study.best_value else u0


def _search_in_batches(study, sim: _Simulator, p: int, trials: int, batch: int, report) -> None:
    """``trials`` trials of ``study``, ``batch`` at a time: asked and suggested in order, evaluated side by
    side, told in ask order (a Ctrl-C or an error fails the trials of the batch not told yet)."""
    from concurrent.futures import ThreadPoolExecutor

    from optuna.trial import TrialState

    done = 0
    with ThreadPoolExecutor(batch, thread_name_prefix="jsim-calibrate") as pool:
        while done < trials:
            asked = [study.ask() for _ in range(min(batch, trials - done))]
            points = [[t.suggest_float(f"u{i}", 0.0, 1.0) for i in range(p)] for t in asked]
            untold, futures = list(asked), []
            try:
                futures = [pool.submit(sim.deviance_u, u) for u in points]
                values = [f.result() for f in futures]
                for trial, value in zip(asked, values):
                    frozen = study.tell(trial, value)
                    untold.pop(0)
                    report(study, frozen)
            except BaseException:
                for f in futures:
                    f.cancel()
                for trial in untold:
                    study.tell(trial, state=TrialState.FAIL)
                raise
            done += len(asked)


def _hessian(f: Callable, u: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``u`` (moved inside the box by ``h`` where it sits closer to an edge)."""
    p = len(u)
    c = np.clip(u, h, 1.0 - h)
    f0 = f(c)
    H = np.zeros((p, p))
    e = np.eye(p) * h
    fp = [f(c + e[i]) for i in range(p)]
    fm = [f(c - e[i]) for i in range(p)]
    for i in range(p):
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
    for i in range(p):
        for j in range(i + 1, p):
            d = f(c + e[i] + e[j]) - f(c + e[i] - e[j]) - f(c - e[i] + e[j]) + f(c - e[i] - e[j])
            H[i, j] = H[j, i] = d / (4 * h[i] * h[j])
    return H


def _laplace(sim: _Simulator, u_all: np.ndarray, phi: float, free: np.ndarray) -> tuple:
    """``(cov, H)``: ``cov (k, k)`` of the box coordinates ``free`` (the others held at ``u_all``), ``2 phi H^-1``,
    None where the Hessian ``H (k, k)`` is not positive definite."""
    h0 = 0.02 if sim.engine.stochastic else 1e-3
    u = u_all[free]
    p = len(u)

    def f(v):
        w = u_all.copy()
        w[free] = v
        return sim.deviance_u(w)

    c = np.clip(u, h0, 1 - h0)
    f0 = f(c)
    h = np.full(p, h0)
    for i in range(p):  # a step of about one standard error, where that is smaller than h0
        e = np.zeros(p)
        e[i] = h0
        curv = (f(c + e) - 2 * f0 + f(c - e)) / h0**2
        if curv > 0:
            h[i] = float(np.clip(math.sqrt(2 * phi / curv), 1e-6 if not sim.engine.stochastic else h0, h0))
    H = _hessian(f, u, h)
    try:
        np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return None, H
    return 2 * phi * np.linalg.inv(H), H


def _dispersions(observed, mu: np.ndarray, scale: np.ndarray, n_params: int) -> np.ndarray:
    """``phi (C,)`` per column: ``max(1, Pearson / (n - p) * (1 + rho) / (1 - rho))``, ``rho`` the lag-1
    autocorrelation of its Pearson residuals over consecutive observed days, clipped to [0, 0.95]."""
    days = observed.days
    m = np.maximum(mu[days] / scale, 1.0)  # a series expected below 1 a day: its residual on the scale of 1
    r = (observed.values / scale - mu[days] / scale) / np.sqrt(m)
    nxt = np.flatnonzero(np.diff(days) == 1)
    out = np.ones(r.shape[1])
    for c in range(r.shape[1]):
        ok = np.isfinite(r[:, c])
        n = int(ok.sum())
        pearson = float(np.sum(r[ok, c] ** 2))
        a, b = r[nxt, c], r[nxt + 1, c]
        both = np.isfinite(a) & np.isfinite(b)
        den = float(np.sum(a[both] ** 2))
        rho = float(np.clip(np.sum(a[both] * b[both]) / den, 0.0, 0.95)) if den > 0 else 0.0
        out[c] = max(1.0, pearson / max(n - n_params, 1) * (1 + rho) / (1 - rho))
    return out


def _flat_direction(H: np.ndarray, free: np.ndarray) -> tuple | None:
    """The two parameters (indices into all) that load most on the flattest direction of ``H``, or None."""
    if len(free) < 2:
        return None
    d = 1.0 / np.sqrt(np.clip(np.abs(np.diag(H)), 1e-300, None))
    _, vectors = np.linalg.eigh(H * np.outer(d, d))  # on the scale of each parameter's own curvature
    top = np.argsort(-np.abs(vectors[:, 0]))[:2]
    return int(free[top[0]]), int(free[top[1]])


def _slices(sim: _Simulator, u: np.ndarray) -> np.ndarray:
    """``(p,)`` the change of the deviance over each parameter's box, the others at ``u``."""
    out = np.zeros(len(u))
    for i in range(len(u)):
        values = []
        for x in np.linspace(0.0, 1.0, SLICE_POINTS):
            v = u.copy()
            v[i] = x
            d = sim.deviance_u(v)
            if d < INVALID:
                values.append(d)
        out[i] = max(values) - min(values) if values else 0.0
    return out


def _abc(sim: _Simulator, phi: float, population: int, generations: int, seed, progress) -> tuple:
    """ABC-SMC posterior of the box coordinates: ``(samples (n, p) in parameter units, weights (n,))``."""
    import logging
    import os
    import tempfile

    try:
        import pyabc
    except ImportError:
        raise InputError(
            "--method abc needs pyabc, which is not installed (pip install 'jsim[abc]', or use --method optuna)",
            params=("method",),
        ) from None
    from ..rng import derive_seed

    for name in ("ABC", "Sampler", "Epsilon", "Acceptor", "Distance", "History"):
        logging.getLogger(name).setLevel(logging.WARNING)
    keys = [f"u{i}" for i in range(len(sim.problem.params))]
    prior = pyabc.Distribution(**{k: pyabc.RV("uniform", 0.0, 1.0) for k in keys})

    def model(par):
        return {"d": sim.deviance_u([par[k] for k in keys])}

    def log_kernel(x, x_0, t=None, par=None):
        return -x["d"] / (2.0 * phi)

    kernel = pyabc.distance.FunctionKernel(log_kernel, ret_scale=pyabc.distance.SCALE_LOG, pdf_max=0.0)
    state = np.random.get_state()
    np.random.seed(derive_seed(sim.root, "abc"))
    try:
        abc = pyabc.ABCSMC(
            model,
            prior,
            kernel,
            population_size=population,
            eps=pyabc.Temperature(),
            acceptor=pyabc.StochasticAcceptor(),
            sampler=pyabc.sampler.SingleCoreSampler(check_max_eval=False),
        )
        with tempfile.TemporaryDirectory(prefix="jsim-abc-") as tmp:
            abc.new("sqlite:///" + os.path.join(tmp, "abc.db"), {"d": 0.0})
            history = abc.run(max_nr_populations=generations)
            frame, weights = history.get_distribution()
            done = history.max_t + 1
            temperature = float(history.get_all_populations()["epsilon"].iloc[-1])
    finally:
        np.random.set_state(state)
    if progress is not None:
        progress(1.0)
    u = frame[keys].to_numpy(dtype=np.float64)
    return sim.lows + u * sim.widths, np.asarray(weights, dtype=np.float64), done, temperature


#: ABC's last population should keep at least this share of its particles as effective samples
MIN_ESS_SHARE = 0.25


def effective_sample_size(weights) -> float:
    """Kish's effective sample size of importance weights: ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.sum() ** 2 / (w**2).sum()) if w.size and (w**2).sum() > 0 else 0.0


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """The ``q`` quantile of samples ``x`` with weights ``w`` (each sample at the middle of its weight)."""
    order = np.argsort(x)
    ws = w[order] / w.sum()
    return float(np.interp(q, np.cumsum(ws) - ws / 2, x[order]))


def run_calibration(
    problem: CalibrationProblem,
    *,
    method: str = "optuna",
    trials: int | None = None,
    population: int | None = None,
    generations: int | None = None,
    customers=None,
    days=None,
    seed=0,
    reps: int = 1,
    engine: str = "mean-field",
    progress: Callable[[float], None] | None = None,
    cluster=None,
    batch: int = 1,
) -> Calibration:
    """Fit ``problem``'s parameters to its observed series (see the module docstring).

    ``batch`` (``optuna`` method): trials of the point fit asked together and evaluated side by
    side (see :func:`_point_fit`); 1 is one at a time. The same seed and batch give the same fit.

    Raises
    ------
    InputError
        ``method`` unknown, ``abc`` without pyabc installed, ``batch`` not a whole number >= 1.
    """
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}, got {method!r}", params=("method",))
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise InputError(
            f"batch must be a whole number >= 1 (trials evaluated side by side), got batch={batch!r} "
            "(use 1 for one trial at a time, or the number of workers)",
            params=("batch",),
        )
    trials = DEFAULT_TRIALS if trials is None else int(trials)
    sim = _Simulator(problem, customers=customers, days=days, seed=seed, reps=reps, engine=engine, cluster=cluster)
    params = problem.params
    t0 = time.perf_counter()
    u = _point_fit(sim, trials, seed, progress, batch)
    theta = sim.theta(u)
    dev, pearson = sim.fit_stats(theta)
    n = problem.observed.n_cells
    phi_c = _dispersions(problem.observed, sim.series(theta), sim.scale, len(params)) * (1 + 1 / sim.reps) ** (
        sim.engine.stochastic
    )  # a mean of R replications adds its own variance mu / R to the difference y - mu
    sim.weight = 1.0 / phi_c  # the Hessian and the slices of the quasi-likelihood; the estimate stays the MLE
    phi = 1.0
    spread = _slices(sim, u)
    warnings, notes = [], []
    flat = spread < FLAT_DEVIANCE * phi
    free = np.flatnonzero(~flat)  # the Hessian of the identifiable parameters only: a flat one makes it singular
    cov = None
    pair = None
    if free.size:
        cov_free, H = _laplace(sim, u, phi, free)
        if cov_free is None:
            pair = _flat_direction(H, free)
        else:
            cov = np.full((len(params), len(params)), np.nan)
            cov[np.ix_(free, free)] = cov_free * np.outer(sim.widths[free], sim.widths[free])
    parameters = {}
    for i, p in enumerate(params):
        se = math.sqrt(cov[i, i]) if cov is not None and not flat[i] and cov[i, i] > 0 else None
        low, high = (p.low, p.high) if se is None else (theta[i] - _Z95 * se, theta[i] + _Z95 * se)
        parameters[p.key] = {
            "estimate": float(theta[i]),
            "low": float(max(low, p.low)),
            "high": float(min(high, p.high)),
            "std_error": se,
            "range": [p.low, p.high],
            "identifiable": not flat[i],
        }
        if flat[i]:
            warnings.append(
                f"{p.key} is not identifiable: the deviance changes by {spread[i]:.3g} "
                f"(less than {FLAT_DEVIANCE * phi:.3g}) over {p.low:g}..{p.high:g}; the data say nothing about it "
                "(observe a series it moves, or fix it with --set)"
            )
        elif min(u[i], 1 - u[i]) < 1e-3:
            warnings.append(
                f"{p.key} = {theta[i]:.6g} is at the edge of its range {p.low:g}..{p.high:g} "
                f"(widen --fit {p.key}=LOW:HIGH)"
            )
    correlation = []
    if cov is not None:
        sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
        corr = cov / np.outer(sd, sd)
        correlation = [[None if not math.isfinite(c) else round(float(c), 6) for c in row] for row in corr]
        for i in range(len(params)):
            for j in range(i + 1, len(params)):
                if abs(corr[i, j]) > TRADE_OFF:
                    warnings.append(
                        f"{params[i].key} and {params[j].key} trade off (correlation {corr[i, j]:+.3f}): the data "
                        "fix a combination of the two, not each (observe a series that tells them apart, or fix one "
                        "with --set)"
                    )
    elif pair is not None:
        i, j = pair
        warnings.append(
            f"{params[i].key} and {params[j].key} trade off: the deviance does not change along a combination of the "
            "two (its Hessian is singular there), so the data fix that combination, not each; intervals are the whole "
            "ranges (observe a series that tells them apart, or fix one with --set)"
        )
    elif free.size:
        warnings.append(
            "the deviance is not curved upwards in every direction at the optimum (its Hessian is not positive "
            "definite): some parameters trade off or are not identifiable; intervals are the whole ranges"
        )
    if sim.invalid:
        notes.append(f"{sim.invalid} points of the ranges break a rule of the scenario and were skipped")
    if problem.observed.ignored:
        notes.append(f"{', '.join(problem.observed.ignored)}: read but not fitted (the spend is the scenario's input)")
    point = {p.key: float(theta[i]) for i, p in enumerate(params)}
    samples = weights = None
    done = None
    if method == "abc":
        population = DEFAULT_POPULATION if population is None else int(population)
        generations = DEFAULT_GENERATIONS if generations is None else int(generations)
        samples, weights, done, temperature = _abc(sim, phi, population, generations, seed, progress)
        ess = effective_sample_size(weights)
        if not temperature <= 1.0 + 1e-9:
            warnings.append(
                f"ABC stopped after {done} generations at temperature {temperature:.3g} > 1: its last population "
                "is wider than the posterior, so the intervals are too wide (raise --generations)"
            )
        if ess < MIN_ESS_SHARE * len(weights):
            warnings.append(
                f"ABC's last population has an effective sample size of {ess:.0f} of {len(weights)} particles: "
                "its weights rest on a few particles and the credible intervals are rough (raise --generations, "
                "so the temperature comes down to 1 in smaller steps, or --population)"
            )
        notes.append(
            f"ABC: {done} generations, final temperature {temperature:.3g}, effective sample size {ess:.0f} of "
            f"{len(weights)}"
        )
        for i, p in enumerate(params):
            entry = parameters[p.key]
            entry["estimate"] = _weighted_quantile(samples[:, i], weights, 0.5)
            entry["low"] = _weighted_quantile(samples[:, i], weights, 0.025)
            entry["high"] = _weighted_quantile(samples[:, i], weights, 0.975)
            entry["std_error"] = float(np.sqrt(np.cov(samples[:, i], aweights=weights)))
        theta = np.array([parameters[p.key]["estimate"] for p in params])
        sim.weight = np.ones(len(sim.columns))
        dev, _ = sim.fit_stats(theta)
    fitted = sim.series(theta)
    if progress is not None:
        progress(1.0)
    return Calibration(
        scenario=problem.scenario,
        scenario_name=problem.scenario_name,
        data=problem.observed.path,
        method=method,
        engine=sim.engine.name,
        reps=sim.reps,
        seed=sim.root,
        trials=trials,
        params=params,
        overrides=dict(problem.overrides),
        parameters=parameters,
        deviance=float(dev),
        dispersion={c: round(float(x), 6) for c, x in zip(sim.columns, phi_c)},
        n_observations=n,
        columns=sim.columns,
        revenue_unit=float(sim.scale[sim.columns.index("revenue")]) if "revenue" in sim.columns else None,
        fitted=fitted,
        observed_days=problem.observed.days,
        observed=problem.observed.values,
        warnings=warnings,
        notes=notes,
        correlation=correlation,
        simulations=sim.calls,
        seconds=time.perf_counter() - t0,
        population=population if method == "abc" else None,
        generations=done,
        posterior=samples,
        weights=weights,
        point=point,
    )
