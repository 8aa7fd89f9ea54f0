"""Checked wrappers around the private numba kernels.

The kernels live in private modules, one per concern: random numbers (``_rng``), "first event
wins" day tables (``_hazards``), alias tables (``_alias``), advancing customers
(``_population``), the day-resolution service queue (``_queue``), the day step shared by the
day-by-day engines (``_day``), expected-value propagation (``_meanfield``) and the journey
tracer (``_journeys``). The wrappers here take a :class:`~jsim.model.CompiledModel` (the kernels
read its :attr:`~jsim.model.CompiledModel.arrays`), check shapes and dtypes, allocate outputs
and call the kernels. Importing this package imports numba (about half a second), so the
command line imports it only inside commands that simulate. Each kernel has a plain
NumPy/Python reference in the tests (``tests/test_kernels.py``, ``tests/test_service_day.py``).

Kernels are compiled with ``cache=True``; numba keys each cache on the kernel's own source file,
so after editing a kernel that others call from another file, clear the caches (``make clean``)
before measuring: the callers would otherwise run the old callee.
"""

from __future__ import annotations

__all__ = [
    "HAZARD_MAX",
    "EXPOSURE",
    "MOVE",
    "ChunkCounts",
    "CoupledRun",
    "DayTables",
    "Cohorts",
    "Customers",
    "DayCounts",
    "JourneyTables",
    "MeanField",
    "clock_hazard",
    "pick_alias",
    "day_tables",
    "all_day_tables",
    "alias_tables",
    "wom_shares",
    "mean_field_arrays",
    "service_day",
    "erlang_a",
    "arrival_timing",
    "independent_chunks",
    "threadsafe_layer",
    "coupled_init",
    "coupled_days",
    "trace",
]

import math
import os

# The day-by-day path ends a parallel region every day. GNU OpenMP (numba's ``omp`` threading
# layer on Linux) lets a thread that reaches the end first spin for up to 300,000 iterations
# before it sleeps: that takes a core from another process and, with one core busy, made two
# threads 1.2-1.6x slower than one (benchmarks/bench_busy.py). Sleeping at once
# (OMP_WAIT_POLICY=PASSIVE) fixes that but wakes the thread late every day (the idle speed-up on
# 720 days fell from 1.70x to 1.52x); a short spin of 3,000 iterations keeps both (busy 2t/1t
# 0.97-1.05, idle 1.62-1.84x). Unless the user set either variable. Read when numba first starts
# its threads, so it must be set before the first parallel kernel.
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "3000"

import numba
import numpy as np

from ._alias import _alias_days, _alias_tables, pick_alias
from ._day import _wom_shares
from ._hazards import HAZARD_MAX, _all_days, _day_pairs, clock_hazard
from ._journeys import EXPOSURE, MOVE, _trace
from ._meanfield import MeanField, _mean_field
from ._population import (
    ChunkCounts,
    Cohorts,
    CoupledRun,
    Customers,
    DayCounts,
    DayTables,
    JourneyTables,
    _coupled_days,
    _coupled_init,
    _independent_chunks,
)
from ._queue import _arrival_timing, _erlang_a, _service_day
from ._target import import_arraymath_without_scipy

import_arraymath_without_scipy()  # before any kernel loads: numba's set-up then skips scipy.linalg (0.18 s)


def _check(name: str, arr, shape: tuple, dtype) -> None:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")


def _coefficients(model, fx):
    from ..model import Coefficients

    if fx is None:
        return Coefficients.initial(model.exposure_effect)
    shape = (model.n_days + 1, model.n_touchpoints)
    for name, arr in zip(("eff", "eff_a", "eff_l"), fx):
        _check(f"fx.{name}", arr, shape, np.float64)
    return fx


def day_tables(model, t: int, shares: np.ndarray, fx=None):
    """Move probabilities of day ``t`` given word-of-mouth ``shares (W,)``.

    Parameters
    ----------
    fx : Coefficients, optional
        Day coefficients (default the model's own: no service queue effects).

    Returns
    -------
    prob : (G, S, P) float64
        Probability of moving through each (clock, destination) pair on day t.
    hazard : (G, S) float64
        Total daily hazard (at most ``HAZARD_MAX``, reached where leaving is certain).
    leave : (G, S) float64
        Probability of leaving each stage on day t; equals ``prob.sum(-1)``.
    """

    if not 1 <= t <= model.n_days:
        raise ValueError(f"t must be within [1, {model.n_days}], got {t}")
    shares = np.ascontiguousarray(shares, dtype=np.float64)
    _check("shares", shares, (model.n_wom,), np.float64)
    if np.any((shares < 0) | (shares > 1)):
        raise ValueError(f"shares must be within [0, 1], got {shares}")
    G, S, P = model.pair_src.shape
    prob, hazard, leave = np.zeros((G, S, P)), np.zeros((G, S)), np.zeros((G, S))
    _day_pairs(t, shares, model.arrays, _coefficients(model, fx), prob, hazard, leave)
    return prob, hazard, leave


def all_day_tables(model):
    """Day tables for every day of a model without population coupling.

    Returns ``prob (T+1, G, S, P)``, ``cum (G, S, T+1)`` cumulative hazard, ``leave (T+1, G, S)``,
    ``const_hazard (G, S)``: the daily hazard where it is the same on every day, else 0.
    """

    if model.is_coupled:
        raise ValueError(
            "all_day_tables needs a model without word of mouth or service queues; "
            "coupled models compute days one at a time (coupled_days)"
        )
    G, S, P = model.pair_src.shape
    T = model.n_days
    prob, cum, leave = np.zeros((T + 1, G, S, P)), np.zeros((G, S, T + 1)), np.zeros((T + 1, G, S))
    _all_days(T, np.zeros(0), model.arrays, _coefficients(model, None), prob, cum, leave)
    daily = np.diff(cum, axis=2)
    const_hazard = np.where(np.all(leave[1:] == leave[1], axis=0), daily[:, :, 0], 0.0)
    return prob, cum, leave, np.ascontiguousarray(const_hazard)


def alias_tables(prob: np.ndarray, n_pairs: np.ndarray):
    """Walker alias tables drawing a (clock, destination) pair with probability ``prob / prob.sum(-1)``.

    Parameters
    ----------
    prob : (..., G, S, P) float64
        Move probabilities from :func:`day_tables` (one day) or :func:`all_day_tables` (every day).
    n_pairs : (G, S) int64
        Pairs in use per segment and stage.

    Returns
    -------
    thresh : float64, alias : int64, both shaped like ``prob``.
    """

    prob = np.ascontiguousarray(prob, dtype=np.float64)
    if prob.ndim not in (3, 4) or prob.shape[-3:-1] != n_pairs.shape:
        raise ValueError(f"prob must have shape (..., G, S, P) with (G, S) = {n_pairs.shape}, got {prob.shape}")
    if np.any(prob < 0):
        raise ValueError("prob must be >= 0")
    thresh, alias = np.ones_like(prob), np.zeros(prob.shape, dtype=np.int64)
    (_alias_tables if prob.ndim == 3 else _alias_days)(prob, n_pairs, thresh, alias)
    return thresh, alias


def wom_shares(model, occupancy: np.ndarray) -> np.ndarray:
    """(W,) word-of-mouth shares of a census ``occupancy (G, S)``.

    The share of everyone (absorbing stages included) standing in each rule's advocate stages.
    """

    occ = np.ascontiguousarray(occupancy, dtype=np.float64)
    _check("occupancy", occ, (model.n_segments, model.n_stages), np.float64)
    out = np.zeros(model.n_wom)
    _wom_shares(occ, model.wom_advocate, out)
    return out


def mean_field_arrays(
    model, x0: np.ndarray | None = None, arrivals: np.ndarray | None = None, shares: np.ndarray | None = None
):
    """Expected-value propagation of ``model`` (``_meanfield._mean_field``).

    Parameters
    ----------
    x0 : (G, S) float64, optional
        Day-0 expected occupancy; default ``model.initial``.
    arrivals : (G,) or (T+1, G) float64, optional
        Expected arrivals per segment (every day, or per day); default the model's
        ``arrivals_mean`` times its seasonal ``arrivals_mult``.
    shares : (T+1, W) float64, optional
        Word-of-mouth shares to use on each day (row t for day t) instead of the propagated ones.

    Returns
    -------
    out : MeanField
        ``occupancy``, ``occupancy_start``, ``moves (T+1, X)``, ``segment_flows``,
        ``new_converted``, ``shares``, ``service (T+1, V, 8)``.
    fx : Coefficients
        The day coefficients the service queues wrote.
    """

    G, S, _ = model.pair_src.shape
    T, W = model.n_days, model.n_wom
    x0 = np.ascontiguousarray(model.initial if x0 is None else x0, dtype=np.float64)
    _check("x0", x0, (G, S), np.float64)
    if arrivals is None:
        arrivals = model.arrivals_mult[:, None] * model.arrivals_mean[None, :]
    arrivals = np.asarray(arrivals, dtype=np.float64)
    if arrivals.shape == (G,):
        arrivals = np.broadcast_to(arrivals, (T + 1, G))
    arrivals = np.ascontiguousarray(arrivals)
    _check("arrivals", arrivals, (T + 1, G), np.float64)
    if shares is None:
        fixed = np.zeros((0, W))
    else:
        fixed = np.ascontiguousarray(shares, dtype=np.float64)
        _check("shares", fixed, (T + 1, W), np.float64)
    V = len(model.services)
    out = MeanField(
        np.zeros((T + 1, G, S)),
        np.zeros((T + 1, G, S)),
        np.zeros((T + 1, model.n_routes)),
        np.zeros((G, S, S)),
        np.zeros((T + 1, G)),
        np.zeros((T + 1, W)),
        np.zeros((T + 1, V, 8)),
    )
    fx = _coefficients(model, None)
    _mean_field(T, x0, arrivals, fixed, model.arrays, fx, out)
    return out, fx


def service_day(
    n_new: float,
    backlog: float,
    agents: float,
    open_from: float,
    open_to: float,
    service_mean: float,
    patience: float,
    loss_rate: float,
    req_hazard: float,
) -> np.ndarray:
    """One day of a day-resolution service queue (``_queue._service_day``): returns its (8,) record.

    ``p_served, p_abandon, p_loss`` of one of today's requests, then the ``backlog`` after today,
    ``served``, ``abandoned``, ``utilisation`` and ``mean_wait`` (days). Times in days.
    """

    values = dict(n_new=n_new, backlog=backlog, agents=agents, service_mean=service_mean, req_hazard=req_hazard)
    for name, v in values.items():
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    if not 0.0 <= open_from < open_to <= 1.0:
        raise ValueError(f"0 <= open_from < open_to <= 1 must hold (fractions of a day), got {open_from}, {open_to}")
    if service_mean <= 0 or not patience > 0 or not loss_rate >= 0:
        raise ValueError(
            f"service_mean > 0, patience > 0 and loss_rate >= 0 must hold, got {service_mean}, {patience}, {loss_rate}"
        )
    out = np.zeros(8)
    _service_day(
        float(n_new),
        float(backlog),
        float(agents),
        float(open_from),
        float(open_to),
        float(service_mean),
        float(patience),
        float(loss_rate),
        float(req_hazard),
        out,
    )
    return out


def erlang_a(lam: float, mu: float, agents: int, patience: float) -> np.ndarray:
    """Stationary M/M/c+M queue (``_queue._erlang_a``): ``[P(wait), P(abandon), mean queue time, stable]``."""

    if not (lam >= 0 and mu > 0 and agents >= 0 and patience > 0):
        raise ValueError(
            f"lam >= 0, mu > 0, agents >= 0 and patience > 0 must hold, got {lam}, {mu}, {agents}, {patience}"
        )
    out = np.zeros(4)
    _erlang_a(float(lam), float(mu), int(agents), float(patience), out)
    return out


def arrival_timing(open_from: float, open_to: float, hazard: float, patience: float):
    """When in the day requests come (``_queue._arrival_timing``): share made while open, survival to
    opening and mean time waited of those made while closed."""

    if not 0.0 <= open_from < open_to <= 1.0:
        raise ValueError(f"0 <= open_from < open_to <= 1 must hold, got {open_from}, {open_to}")
    return _arrival_timing(float(open_from), float(open_to), float(hazard), float(patience))


def independent_chunks(
    model, chunk_ids: np.ndarray, chunk_size: int, n_total: int, cohorts, tables, rng_states, out
) -> None:
    """Simulate the whole journeys of chunks ``chunk_ids`` (``_population._independent_chunks``), adding into ``out``.

    ``cohorts``: :class:`~jsim.kernels._population.Cohorts`; ``tables``: ``JourneyTables`` from
    :func:`all_day_tables` and :func:`alias_tables`; ``rng_states (C, 4)`` uint64; ``out``: a
    ``ChunkCounts`` with ``len(chunk_ids)`` rows.
    """

    if model.is_coupled:
        raise ValueError("independent_chunks needs a model without word of mouth or service queues")
    T, G, S, X = model.n_days, model.n_segments, model.n_stages, model.n_routes
    B = len(chunk_ids)
    _check("rng_states", rng_states, rng_states.shape, np.uint64)
    if rng_states.ndim != 2 or rng_states.shape[1] != 4 or (B and chunk_ids.max() >= rng_states.shape[0]):
        raise ValueError(f"rng_states must be (n_chunks, 4) covering chunk_ids, got {rng_states.shape}")
    for name, shape in (
        ("occ_diff", (B, G, S, T + 2)),
        ("moves", (B, T + 1, X)),
        ("seg_flows", (B, G, S, S)),
        ("newconv", (B, T + 1, G)),
    ):
        _check(f"out.{name}", getattr(out, name), shape, np.int64)
    _independent_chunks(chunk_ids, chunk_size, n_total, cohorts, tables, model.arrays, rng_states, out)


def threadsafe_layer() -> bool:
    """Whether numba's threading layer runs parallel regions from two Python threads at once
    (``omp`` and ``tbb`` do; ``workqueue`` aborts the process). Unknown before the first parallel
    region: then no."""
    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:
        return False


def _threads(threads: int | None) -> int:
    """``threads`` checked against numba's pool (None: the calling thread's current count)."""
    if threads is None:
        return numba.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
    return min(int(threads), numba.config.NUMBA_NUM_THREADS)


class _using_threads:
    """Run numba's parallel regions entered from this thread on ``n`` threads, then restore the count
    (numba's count is per calling thread)."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.before = numba.get_num_threads()
        if self.n > 1 and self.n != self.before:
            numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        if numba.get_num_threads() != self.before:
            numba.set_num_threads(self.before)


def coupled_init(model, n_initial: int, chunk_size: int, customers, rng_states, threads: int | None = None) -> None:
    """First thresholds of the day-0 customers (``_population._coupled_init``).

    ``threads``: numba threads to use (1: none but the caller's; None: the current count).
    """
    n = _threads(threads)
    with _using_threads(n):
        _coupled_init(n_initial, chunk_size, customers, model.is_converted, rng_states, n > 1)


def coupled_days(
    model,
    t_first: int,
    t_last: int,
    n_initial: int,
    chunk_size: int,
    fx,
    customers,
    rng_states,
    run,
    tables,
    day,
    threads: int | None = None,
) -> None:
    """Run days ``t_first .. t_last - 1`` of the day-by-day path (``_population._coupled_days``).

    ``fx``: the working day coefficients; ``customers``: a ``Customers`` record; ``rng_states
    (C, 4)`` uint64, one per chunk; ``run``: a ``CoupledRun`` carried from day to day; ``tables``
    (``DayTables``) and ``day`` (``DayCounts`` with C rows) are scratch. ``threads``: numba
    threads for the days (1: the calling thread only, no parallel region; None: the current
    count). The GIL is released, so replications can run side by side in Python threads.
    Results do not depend on ``threads``.
    """
    n = _threads(threads)
    T, G, S, X, W, V = model.n_days, model.n_segments, model.n_stages, model.n_routes, model.n_wom, len(model.services)
    if not 1 <= t_first <= t_last <= T + 1:
        raise ValueError(f"1 <= t_first <= t_last <= T + 1 = {T + 1} must hold, got {t_first}, {t_last}")
    C = rng_states.shape[0]
    _check("rng_states", rng_states, (C, 4), np.uint64)
    n_total = n_initial + int(run.arrivals.sum())
    if len(customers.stage) != n_total or C * chunk_size < n_total:
        raise ValueError(
            f"customers and rng_states must cover {n_total} customers in chunks of {chunk_size}, got "
            f"{len(customers.stage)} customers and {C} chunks"
        )
    shapes = dict(
        arrivals=((T + 1, G), np.int64),
        occupancy=((T + 1, G, S), np.int64),
        moves=((T + 1, X), np.int64),
        seg_flows=((G, S, S), np.int64),
        newconv=((T + 1, G), np.int64),
        shares=((T + 1, W), np.float64),
        service=((T + 1, V, 8), np.float64),
        backlog=((V,), np.float64),
        cum=((G, S), np.float64),
    )
    for name, (shape, dtype) in shapes.items():
        _check(f"run.{name}", getattr(run, name), shape, dtype)
    P = model.pair_src.shape[2]
    for name, shape, dtype in (
        ("prob", (G, S, P), np.float64),
        ("hazard", (G, S), np.float64),
        ("leave", (G, S), np.float64),
        ("thresh", (G, S, P), np.float64),
        ("alias", (G, S, P), np.int64),
    ):
        _check(f"tables.{name}", getattr(tables, name), shape, dtype)
    for name, shape in (("flows", (C, G, S, S)), ("moves", (C, X)), ("newconv", (C, G))):
        _check(f"day.{name}", getattr(day, name), shape, np.int64)
    with _using_threads(n):
        _coupled_days(
            t_first,
            t_last,
            n_initial,
            chunk_size,
            model.arrays,
            _coefficients(model, fx),
            customers,
            rng_states,
            run,
            tables,
            day,
            n > 1,
        )


def trace(
    model,
    first: int,
    last: int,
    seg: np.ndarray,
    stage: np.ndarray,
    shares: np.ndarray,
    fx,
    states,
    rec_int: np.ndarray,
    rec_time: np.ndarray,
) -> tuple[int, int]:
    """Trace journeys ``first..last-1`` at exposure level (``_journeys._trace``); returns (records, next customer)."""

    cap = rec_int.shape[0]
    _check("rec_int", rec_int, (cap, 8), np.int64)
    _check("rec_time", rec_time, (cap,), np.float64)
    _check("shares", shares, (model.n_days + 1, model.n_wom), np.float64)
    return _trace(
        first, last, seg, stage, shares, model.arrays, _coefficients(model, fx), states, rec_int, rec_time, cap
    )
