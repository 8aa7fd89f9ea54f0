"""Advancing customers: whole journeys when hazards are known, day by day when they are coupled.

Private numba kernels; call them through :mod:`jsim.kernels`. Every customer draws from its own
stream (:mod:`jsim.kernels._rng`: keyed by the run's key ``rng_states[0, 0]``, its index and
its count of draws), so results do not depend on how many threads run the ``prange`` loops or
on the chunk size, and two versions of a scenario on one seed share each customer's numbers
(common random numbers). ``m`` is a :class:`~jsim.model.ModelArrays`, ``fx`` a
:class:`~jsim.model.Coefficients`. Moves are counted per route (``m.pair_route``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from ._alias import _alias_tables, _pick_alias
from ._day import _day_step
from ._hazards import _outcome_route
from ._rng import _customer_double, _customer_exp, _customer_seed


class Cohorts(NamedTuple):
    """Customers ordered in cohorts (day, segment, stage): ``start (C+1,)`` first index of each
    cohort (cumulative sizes), ``day``, ``seg``, ``stage`` ``(C,)`` int64."""

    start: np.ndarray
    day: np.ndarray
    seg: np.ndarray
    stage: np.ndarray


class JourneyTables(NamedTuple):
    """Every day's tables of a model without coupling: ``cum (G, S, T+1)`` cumulative hazard,
    ``const_hazard (G, S)`` the daily hazard where it never changes (else 0), alias tables
    ``thresh`` float64 and ``alias`` int64 ``(T+1, G, S, P)``."""

    cum: np.ndarray
    const_hazard: np.ndarray
    thresh: np.ndarray
    alias: np.ndarray


class ChunkCounts(NamedTuple):
    """Per-chunk counts of :func:`_independent_chunks` (row b of each for the b-th chunk of the batch):
    ``occ_diff (B, G, S, T+2)`` (+1 from the first day present, -1 on the day left),
    ``moves (B, T+1, X)``, ``seg_flows (B, G, S, S)``, ``newconv (B, T+1, G)``."""

    occ_diff: np.ndarray
    moves: np.ndarray
    seg_flows: np.ndarray
    newconv: np.ndarray


class Customers(NamedTuple):
    """Per-customer state of the day-by-day path (16 bytes a customer): ``stage`` int16,
    ``seg`` int8, ``conv`` uint8 (ever converted), ``thr`` float64 (next threshold), ``draws``
    uint32 (numbers drawn from the customer's stream so far)."""

    stage: np.ndarray
    seg: np.ndarray
    conv: np.ndarray
    thr: np.ndarray
    draws: np.ndarray


class CoupledRun(NamedTuple):
    """The state and results of the day-by-day path (:func:`_coupled_days`), carried across calls.

    ``arrivals (T+1, G)`` int64 (read); written day by day: ``occupancy (T+1, G, S)`` (row 0
    given), ``moves (T+1, X)``, ``seg_flows (G, S, S)``, ``newconv (T+1, G)`` (row 0 given),
    ``shares (T+1, W)``, ``service (T+1, V, 8)`` (each queue's day), ``backlog (V,)`` (requests
    carried overnight), ``cum (G, S)`` (cumulative hazard at the end of the last day run).
    """

    arrivals: np.ndarray
    occupancy: np.ndarray
    moves: np.ndarray
    seg_flows: np.ndarray
    newconv: np.ndarray
    shares: np.ndarray
    service: np.ndarray
    backlog: np.ndarray
    cum: np.ndarray


class DayTables(NamedTuple):
    """Scratch of one day's tables: ``prob (G, S, P)``, ``hazard``, ``leave`` (G, S), alias tables
    ``thresh`` float64 and ``alias`` int64 (G, S, P) (entries past a stage's pairs keep 1 and 0)."""

    prob: np.ndarray
    hazard: np.ndarray
    leave: np.ndarray
    thresh: np.ndarray
    alias: np.ndarray


class DayCounts(NamedTuple):
    """Per-chunk counts of one day of :func:`_coupled_day` (zeroed by it): ``flows (C, G, S, S)``,
    ``moves (C, X)``, ``newconv (C, G)``."""

    flows: np.ndarray
    moves: np.ndarray
    newconv: np.ndarray


@njit(cache=True)
def _independent_chunk(b, c, chunk_size, n_total, cohorts, tables, m, rng_states, out):
    """Whole journeys of chunk ``c``, counted into row ``b`` of ``out``; see :func:`_independent_chunks`."""
    cum, const_hazard, thresh, alias = tables
    n_pairs, pair_dst, pair_route, is_absorbing, is_converted = (
        m.n_pairs,
        m.pair_dst,
        m.pair_route,
        m.is_absorbing,
        m.is_converted,
    )
    occ_diff, moves, seg_flows, newconv = out
    T = cum.shape[2] - 1
    key = rng_states[0, 0]
    lo = c * chunk_size
    hi = min(n_total, lo + chunk_size)
    co = np.searchsorted(cohorts.start, lo, side="right") - 1
    for i in range(lo, hi):
        while i >= cohorts.start[co + 1]:
            co += 1
        g = cohorts.seg[co]
        s = cohorts.stage[co]
        t_from = cohorts.day[co]
        t0 = t_from - 1 if t_from > 0 else 0
        conv = is_converted[s]
        if conv:
            newconv[b, t_from, g] += 1
        seed = _customer_seed(key, i)
        k = 0
        while not is_absorbing[s]:
            e = _customer_exp(seed, k)
            k += 1
            h = const_hazard[g, s]
            if h > 0.0:
                # constant daily hazard: the wait is geometric, ceil(E / h) days. Compared as a
                # float: E / h can exceed the int64 range (or be inf) when h is tiny.
                wait = max(1.0, np.ceil(e / h))
                if wait > T - t0:
                    break
                t = t0 + int(wait)
            else:
                thr = cum[g, s, t0] + e
                if t0 >= T or cum[g, s, T] < thr:
                    break
                a = t0 + 1
                z = T
                while a < z:
                    mid = (a + z) >> 1
                    if cum[g, s, mid] >= thr:
                        z = mid
                    else:
                        a = mid + 1
                t = a
            ip, _ = _pick_alias(_customer_double(seed, k), thresh[t, g, s], alias[t, g, s], n_pairs[g, s])
            k += 1
            d = pair_dst[g, s, ip]
            occ_diff[b, g, s, t_from] += 1
            occ_diff[b, g, s, t] -= 1
            moves[b, t, pair_route[g, s, ip, 0]] += 1
            seg_flows[b, g, s, d] += 1
            if not conv and is_converted[d]:
                conv = True
                newconv[b, t, g] += 1
            s = d
            t_from = t
            t0 = t
        occ_diff[b, g, s, t_from] += 1
        occ_diff[b, g, s, T + 1] -= 1


@njit(parallel=True, cache=True)
def _independent_chunks(chunk_ids, chunk_size, n_total, cohorts, tables, m, rng_states, out):
    """Simulate whole journeys of the customers in ``chunk_ids`` when hazards are known in advance.

    Each customer in stage s after day t0 draws E ~ Exp(1) and moves on the first day t with
    ``cum[g, s, t] - cum[g, s, t0] >= E`` (idle days are skipped by binary search, or in one
    step ``t = t0 + ceil(E / h)`` where ``const_hazard[g, s] = h > 0`` is the same every day), to the
    pair drawn from day t's alias tables, along the pair's route (no service clocks here: a model
    with services is coupled). Each customer draws from its own stream (key ``rng_states[0, 0]``):
    an exponential, then a uniform per move, alternately. Adds into row b of each array of
    ``out`` (:class:`ChunkCounts`).
    """
    # Each chunk runs in a function of its own: numba 0.68 loses writes made through a tuple's
    # fields directly inside a prange loop (the tuple is copied into the parallel region).
    for b in prange(chunk_ids.shape[0]):
        _independent_chunk(b, chunk_ids[b], chunk_size, n_total, cohorts, tables, m, rng_states, out)


@njit(cache=True)
def _coupled_init_chunk(c, n_initial, chunk_size, customers, is_converted, key):
    """First thresholds of the day-0 customers of chunk ``c``: their stream's first number."""
    stage, _, conv, thr, draws = customers
    for i in range(c * chunk_size, min(n_initial, (c + 1) * chunk_size)):
        thr[i] = _customer_exp(_customer_seed(key, i), 0)
        draws[i] = 1
        conv[i] = 1 if is_converted[stage[i]] else 0


@njit(parallel=True, cache=True, nogil=True)
def _coupled_init_parallel(n_initial, chunk_size, customers, is_converted, key):
    n_chunks = (n_initial + chunk_size - 1) // chunk_size
    for c in prange(n_chunks):
        _coupled_init_chunk(c, n_initial, chunk_size, customers, is_converted, key)


@njit(cache=True, nogil=True)
def _coupled_init(n_initial, chunk_size, customers, is_converted, rng_states, parallel):
    """Give the day-0 customers (indices < n_initial) their first threshold: their stream's first number.

    ``parallel``: over chunks in a parallel region; else in this thread (no parallel region is
    entered, so replications can run side by side in threads whatever numba's threading layer).
    """
    key = rng_states[0, 0]
    if parallel:
        _coupled_init_parallel(n_initial, chunk_size, customers, is_converted, key)
    else:
        n_chunks = (n_initial + chunk_size - 1) // chunk_size
        for c in range(n_chunks):
            _coupled_init_chunk(c, n_initial, chunk_size, customers, is_converted, key)


@njit(cache=True)
def _coupled_chunk(
    c, t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, m, fx, customers, rng_states, out
):
    """Advance chunk ``c`` through day t; see :func:`_coupled_day`."""
    # arrays read in the loop, as locals: LLVM then keeps their pointers in registers instead of
    # reloading them from the tuples after every store (measured: 40% of the day on the web shop)
    is_absorbing, is_converted, n_pairs, pair_dst = m.is_absorbing, m.is_converted, m.n_pairs, m.pair_dst
    pair_route = m.pair_route
    flows, moves, newconv = out
    stage, seg, conv, thr, draws = customers
    flows[c] = 0
    moves[c] = 0
    newconv[c] = 0
    key = rng_states[0, 0]
    for i in range(c * chunk_size, min(n_active, (c + 1) * chunk_size)):
        s = stage[i]
        g = seg[i]
        if i >= n_before:
            thr[i] = cum_prev[g, s] + _customer_exp(_customer_seed(key, i), 0)
            draws[i] = 1
            if is_converted[s]:
                conv[i] = 1
                newconv[c, g] += 1
        if is_absorbing[s] or cum_now[g, s] < thr[i]:
            continue
        seed = _customer_seed(key, i)
        k = draws[i]
        ip, v = _pick_alias(_customer_double(seed, k), thresh[g, s], alias[g, s], n_pairs[g, s])
        d = pair_dst[g, s, ip]
        flows[c, g, s, d] += 1
        route = pair_route[g, s, ip, 0]
        if route < 0 or pair_route[g, s, ip, 1] >= 0 or pair_route[g, s, ip, 2] >= 0:  # a service clock's outcome
            route = _outcome_route(t, g, s, ip, v, m, fx)
        moves[c, route] += 1
        if conv[i] == 0 and is_converted[d]:
            conv[i] = 1
            newconv[c, g] += 1
        stage[i] = d
        thr[i] = cum_now[g, d] + _customer_exp(seed, k + 1)
        draws[i] = k + 2


@njit(parallel=True, cache=True)
def _coupled_day(
    t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, m, fx, customers, rng_states, out
):
    """Advance every active customer through day ``t`` (population-coupled hazards).

    Customers ``n_before <= i < n_active`` arrived today: their stage and segment are already
    set; they get a threshold ``cum_prev + E``. A customer moves when ``cum_now >= thr``, along
    the pair drawn from today's alias tables ``thresh``, ``alias`` (G, S, P) and the route its
    residual uniform picks (:func:`~jsim.kernels._hazards._outcome_route`). Writes per chunk c
    today's counts into ``out`` (:class:`DayCounts`, zeroed here). Each customer draws from its
    own stream (key ``rng_states[0, 0]``): an exponential on arrival, a uniform and an exponential
    per move. Mutates ``customers``.
    """
    n_chunks = (n_active + chunk_size - 1) // chunk_size
    for c in prange(n_chunks):
        _coupled_chunk(
            c, t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, m, fx, customers, rng_states, out
        )


@njit(cache=True)
def _coupled_day_serial(
    t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, m, fx, customers, rng_states, out
):
    """:func:`_coupled_day` without a parallel region (cheaper when one chunk is active)."""
    n_chunks = (n_active + chunk_size - 1) // chunk_size
    for c in range(n_chunks):
        _coupled_chunk(
            c, t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, m, fx, customers, rng_states, out
        )


@njit(cache=True, nogil=True)
def _coupled_days(t_first, t_last, n_initial, chunk_size, m, fx, customers, rng_states, run, tables, day, parallel):
    """Days ``t_first .. t_last - 1`` of the day-by-day path (word of mouth, service queues).

    Each day: the day step (:func:`~jsim.kernels._day._day_step`: word-of-mouth shares from
    yesterday's census, the service queues, the day tables), the alias tables, then every active
    customer advanced (:func:`_coupled_day`, in parallel over chunks once there are several and
    ``parallel`` is true; else :func:`_coupled_day_serial`, in this thread), and the day's counts
    added to ``run`` (:class:`CoupledRun`). Customers are numbered day-0 first,
    then arrivals by day, so the active ones on day t are the first ``n_initial +
    arrivals[1..t].sum()``. ``tables`` (:class:`DayTables`) and ``day`` (:class:`DayCounts`) are
    scratch. Mutates ``fx`` (service touchpoints' day coefficients), ``customers``, ``rng_states``
    and ``run``.
    """
    G, S = run.occupancy.shape[1], run.occupancy.shape[2]
    a = m.arrival_stage
    no_fixed = np.zeros((0, run.shares.shape[1]))
    n_active = n_initial
    for t in range(1, t_first):
        for g in range(G):
            n_active += run.arrivals[t, g]
    occ_prev = np.zeros((G, S))
    arrivals_t = np.zeros(G)
    for t in range(t_first, t_last):
        for g in range(G):
            arrivals_t[g] = run.arrivals[t, g]
            for s in range(S):
                occ_prev[g, s] = run.occupancy[t - 1, g, s]
        _day_step(
            t,
            occ_prev,
            arrivals_t,
            no_fixed,
            m,
            fx,
            run.backlog,
            run.shares[t],
            run.service[t],
            tables.prob,
            tables.hazard,
            tables.leave,
        )
        _alias_tables(tables.prob, m.n_pairs, tables.thresh, tables.alias)
        cum_now = run.cum + tables.hazard
        n_before = n_active
        for g in range(G):
            n_active += run.arrivals[t, g]
        if parallel and n_active > chunk_size:
            _coupled_day(
                t,
                n_before,
                n_active,
                chunk_size,
                run.cum,
                cum_now,
                tables.thresh,
                tables.alias,
                m,
                fx,
                customers,
                rng_states,
                day,
            )
        else:
            _coupled_day_serial(
                t,
                n_before,
                n_active,
                chunk_size,
                run.cum,
                cum_now,
                tables.thresh,
                tables.alias,
                m,
                fx,
                customers,
                rng_states,
                day,
            )
        used = (n_active + chunk_size - 1) // chunk_size
        for g in range(G):
            for s in range(S):
                run.occupancy[t, g, s] = run.occupancy[t - 1, g, s]
            run.occupancy[t, g, a] += run.arrivals[t, g]
        for c in range(used):
            for g in range(G):
                run.newconv[t, g] += day.newconv[c, g]
                for s in range(S):
                    for d in range(S):
                        n = day.flows[c, g, s, d]
                        if n:
                            run.occupancy[t, g, s] -= n
                            run.occupancy[t, g, d] += n
                            run.seg_flows[g, s, d] += n
            for x in range(run.moves.shape[1]):
                run.moves[t, x] += day.moves[c, x]
        for g in range(G):
            for s in range(S):
                run.cum[g, s] = cum_now[g, s]
