"""The fast engine: event-driven numba kernels over fixed-size chunks of customers.

Without word of mouth or service queues every customer's hazards are known in advance, so each
customer's whole journey is drawn at once (waiting times by inversion of the cumulative hazard,
idle days skipped) and nothing per customer is stored: memory is bounded by the chunk buffers.
With them the population is advanced day by day (hazards depend on yesterday's census and on
the day's queues, :func:`jsim.kernels.coupled_days`); each customer then keeps 16 bytes (stage,
segment, converted flag, threshold, count of random draws).
"""

from __future__ import annotations

__all__ = ["FastEngine", "CHUNK_SIZE"]

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .. import kernels
from ..model import Coefficients
from ..rng import chunk_states, named_streams
from .draws import STREAMS, draw_arrivals, draw_exposures, start_of_day
from .records import Run, ServiceRecord
from .registry import run_in_order
from .schedule import DaySchedule, ThreadShare

#: Customers per chunk. Fixed (never derived from the thread count) so results do not depend on it.
CHUNK_SIZE = 1 << 16
#: Chunks simulated per kernel call in the independent path, at most (results do not depend on it).
BATCH_CHUNKS = 64
#: Calls of the day-by-day kernel per run, at most: control returns to Python between them for
#: progress and for Ctrl-C (a signal waits until a numba call ends).
DAY_BATCHES = 50
#: Memory the per-chunk count buffers of one batch may take, in bytes.
BATCH_BYTES = 256 << 20


class FastEngine:
    """The numba engine (``engine="fast"``)."""

    name = "fast"
    stochastic = True

    def __init__(self, chunk_size: int = CHUNK_SIZE):
        if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")
        self.chunk_size = int(chunk_size)

    def run(self, model, seed: np.random.SeedSequence, progress=None, threads=None) -> Run:
        """One replication; ``seed`` is spawned into the named streams :data:`~jsim.engine.draws.STREAMS`.

        The chunk size is part of the random-stream layout: changing it changes results; the
        number of threads does not. ``threads()``, when given, is the most numba threads the
        day-by-day path may use for its next batch of days (default: numba's current count).
        """
        t_start = time.perf_counter()
        streams = _streams(seed)
        arrivals = draw_arrivals(model, streams["arrivals"])
        if model.is_coupled:
            out = _run_coupled(model, arrivals, streams["customers"], self.chunk_size, progress, threads)
        else:
            out = _run_independent(model, arrivals, streams["customers"], self.chunk_size, progress)
        return self._run_of(model, streams, arrivals, out, time.perf_counter() - t_start)

    def _run_of(self, model, streams, arrivals, out: dict, seconds: float) -> Run:
        occ_start = start_of_day(model, out["occupancy"], arrivals)
        deliveries, engagements = draw_exposures(model, occ_start, streams["exposures"])
        return Run(
            occupancy=out["occupancy"],
            occupancy_start=occ_start,
            arrivals=arrivals,
            moves=out["moves"],
            segment_flows=out["segment_flows"],
            new_converted=out["new_converted"],
            deliveries=deliveries,
            engagements=engagements,
            cost=model.cost(deliveries),
            shares=out["shares"],
            services=out["services"],
            coefficients=out["fx"],
            seconds=seconds,
        )

    def run_replications(self, model, seeds, progress=None, memory_room=float("inf")) -> list:
        """Replications on ``seeds``, in order: what ``[self.run(model, s) for s in seeds]`` returns.

        The day-by-day path meets at a barrier every day, which a busy core stalls; so with several
        replications of a day-coupled model and several numba threads, the replications run side
        by side in threads (the kernels release the GIL), one numba thread each, and one left
        running alone widens onto the threads the others gave back (:class:`ThreadShare`). At most
        ``memory_room // (bytes of one replication's customers)`` extra replications run at once
        (``memory_room``: bytes, or a callable returning them, called only when that matters).
        ``progress(fraction)`` gets the fraction of all the replications done; an exception it
        raises stops the run (at the next batch of days of every replication).
        """
        seeds = list(seeds)
        n = len(seeds)
        total = numba.get_num_threads()
        side_by_side = 1
        if model.is_coupled and min(n, total) > 1:
            room = memory_room() if callable(memory_room) else memory_room
            side_by_side = int(min(n, total, 1 + room // max(1.0, _customer_bytes(model))))
        if side_by_side < 2:
            return run_in_order(self, model, seeds, progress)
        share = ThreadShare(total, concurrent_regions=kernels.threadsafe_layer())
        done = [0.0] * n
        lock = threading.Lock()
        stop = threading.Event()

        def one(r):
            def report(d, tot):
                if stop.is_set():
                    raise _Stopped
                if progress is not None:
                    with lock:  # fractions reported in order, from one thread at a time
                        done[r] = d / max(tot, 1)
                        progress(sum(done) / n)

            share.enter()
            try:
                return self.run(model, seeds[r], report, share.most)
            finally:
                share.leave()

        pool = ThreadPoolExecutor(side_by_side, thread_name_prefix="jsim-replication")
        try:
            futures = [pool.submit(one, r) for r in range(n)]
            return [f.result() for f in futures]
        except BaseException:
            stop.set()
            for f in futures:
                f.cancel()
            raise
        finally:
            pool.shutdown(wait=True)

    def n_chunks(self, model, seed: np.random.SeedSequence) -> int | None:
        """Customer chunks of one replication on ``seed``; None when they cannot run apart (word of mouth, queues).

        Chunks ``lo..hi`` of a replication run on their own with :meth:`chunk_counts`; the sum of
        every range's counts, given to :meth:`run_from_counts`, is exactly what :meth:`run` returns.
        """
        if model.is_coupled:
            return None
        arrivals = draw_arrivals(model, _streams(seed)["arrivals"])
        n_total = int(model.initial.sum()) + int(arrivals.sum())
        return max(1, -(-n_total // self.chunk_size))

    def chunk_counts(self, model, seed: np.random.SeedSequence, lo: int, hi: int) -> tuple:
        """Counts ``(occ_diff, moves, segment_flows, new_converted)`` (int64) of chunks ``lo..hi-1`` of a replication.

        Integer counts: any grouping of the chunks sums to the same totals, bit for bit.
        """
        streams = _streams(seed)
        arrivals = draw_arrivals(model, streams["arrivals"])
        return _independent_counts(model, arrivals, streams["customers"], self.chunk_size, lo, hi, None)

    def run_from_counts(self, model, seed: np.random.SeedSequence, counts, seconds: float = 0.0) -> Run:
        """The Run of a replication from the summed :meth:`chunk_counts` of all its chunks."""
        streams = _streams(seed)
        arrivals = draw_arrivals(model, streams["arrivals"])
        return self._run_of(model, streams, arrivals, _independent_run(model, counts), seconds)


class _Stopped(Exception):
    """Raised in a replication's thread when another replication failed or the run was interrupted."""


def _customer_bytes(model) -> float:
    """Memory of one replication's day-by-day customer state (16 bytes a customer)."""
    from .resources import COUPLED_CUSTOMER_BYTES, _sizes

    return COUPLED_CUSTOMER_BYTES * float(_sizes(model).customers)


def _streams(seed: np.random.SeedSequence) -> dict:
    """The named streams of a replication's ``seed``, spawned from a copy: ``seed`` itself is left as it was,
    so the methods that split a replication into chunks see the same streams however often they are called."""
    copy = np.random.SeedSequence(
        seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size, n_children_spawned=seed.n_children_spawned
    )
    return named_streams(copy, STREAMS)


def _cohorts(model, arrivals) -> kernels.Cohorts:
    """Customers are ordered in cohorts (day, segment, stage): day-0 cells, then arrivals by day."""
    G, S = model.initial.shape
    day, seg, stg, size = [], [], [], []
    for g in range(G):
        for s in range(S):
            if model.initial[g, s]:
                day.append(0), seg.append(g), stg.append(s), size.append(model.initial[g, s])
    tt, gg = np.nonzero(arrivals)
    day += tt.tolist()
    seg += gg.tolist()
    stg += [model.arrival_stage] * len(tt)
    size += arrivals[tt, gg].tolist()
    start = np.zeros(len(size) + 1, dtype=np.int64)
    np.cumsum(np.asarray(size, dtype=np.int64), out=start[1:])
    return kernels.Cohorts(
        start, np.asarray(day, dtype=np.int64), np.asarray(seg, dtype=np.int64), np.asarray(stg, dtype=np.int64)
    )


def _run_independent(model, arrivals, seq, chunk_size, progress) -> dict:
    return _independent_run(model, _independent_counts(model, arrivals, seq, chunk_size, 0, None, progress))


def _independent_counts(model, arrivals, seq, chunk_size, lo, hi, progress) -> tuple:
    """Summed counts of chunks ``lo .. hi-1`` (``hi`` None: every chunk) of the independent path."""
    T, G, S, X = model.n_days, model.n_segments, model.n_stages, model.n_routes
    prob, cum, _, const_hazard = kernels.all_day_tables(model)
    thresh, alias = kernels.alias_tables(prob, model.n_pairs)
    tables = kernels.JourneyTables(cum, const_hazard, thresh, alias)
    cohorts = _cohorts(model, arrivals)
    n_total = int(cohorts.start[-1])
    n_chunks = max(1, -(-n_total // chunk_size))
    states = chunk_states(seq, n_chunks) if lo == 0 and hi is None else chunk_states(seq, n_chunks, lo, hi)
    hi = n_chunks if hi is None else min(hi, n_chunks)
    per_chunk = 8 * (G * S * (T + 2) + (T + 1) * X + G * S * S + (T + 1) * G)
    B = max(1, min(BATCH_CHUNKS, max(1, hi - lo), BATCH_BYTES // per_chunk))
    bufs = kernels.ChunkCounts(
        np.zeros((B, G, S, T + 2), np.int64),
        np.zeros((B, T + 1, X), np.int64),
        np.zeros((B, G, S, S), np.int64),
        np.zeros((B, T + 1, G), np.int64),
    )
    totals = [np.zeros(buf.shape[1:], np.int64) for buf in bufs]
    for first in range(lo, hi, B):
        ids = np.arange(first, min(first + B, hi), dtype=np.int64)
        for buf in bufs:
            buf[: len(ids)] = 0
        kernels.independent_chunks(
            model,
            ids,
            chunk_size,
            n_total,
            cohorts,
            tables,
            states,
            kernels.ChunkCounts(*(buf[: len(ids)] for buf in bufs)),
        )
        for total, buf in zip(totals, bufs):
            total += buf[: len(ids)].sum(axis=0)
        if progress is not None:
            progress(min(n_total, (first + len(ids)) * chunk_size), n_total)
    return tuple(totals)


def _independent_run(model, counts) -> dict:
    T = model.n_days
    occ_diff, moves, seg_flows, newconv = counts
    occupancy = np.cumsum(occ_diff, axis=2)[:, :, : T + 1].transpose(2, 0, 1).copy()
    return dict(
        occupancy=occupancy,
        moves=moves,
        segment_flows=seg_flows,
        new_converted=newconv,
        shares=np.zeros((T + 1, model.n_wom)),
        services=(),
        fx=Coefficients.initial(model.exposure_effect),
    )


def _population(model, arrivals) -> kernels.Customers:
    """Per-customer state, ordered as the independent path orders customers (day-0 cells, then arrivals by day)."""
    T, G, S = model.n_days, model.n_segments, model.n_stages
    n_total = int(model.initial.sum()) + int(arrivals.sum())
    stage = np.empty(n_total, dtype=np.int16)
    seg = np.empty(n_total, dtype=np.int8)
    i = 0
    for g in range(G):
        for s in range(S):
            n = int(model.initial[g, s])
            stage[i : i + n], seg[i : i + n] = s, g
            i += n
    for t in range(1, T + 1):
        for g in range(G):
            n = int(arrivals[t, g])
            stage[i : i + n], seg[i : i + n] = model.arrival_stage, g
            i += n
    return kernels.Customers(
        stage,
        seg,
        np.zeros(n_total, dtype=np.uint8),
        np.zeros(n_total, dtype=np.float64),
        np.zeros(n_total, dtype=np.uint32),
    )


def _run_coupled(model, arrivals, seq, chunk_size, progress, threads=None) -> dict:
    T, G, S, W, X = model.n_days, model.n_segments, model.n_stages, model.n_wom, model.n_routes
    V = len(model.services)
    customers = _population(model, arrivals)
    n_initial = int(model.initial.sum())
    n_chunks = max(1, -(-len(customers.stage) // chunk_size))
    states = chunk_states(seq, n_chunks)
    wide = numba.get_num_threads()
    most = threads if threads is not None else (lambda: wide)
    kernels.coupled_init(model, n_initial, chunk_size, customers, states, threads=max(1, most()))
    run = kernels.CoupledRun(
        arrivals=arrivals,
        occupancy=np.zeros((T + 1, G, S), np.int64),
        moves=np.zeros((T + 1, X), np.int64),
        seg_flows=np.zeros((G, S, S), np.int64),
        newconv=np.zeros((T + 1, G), np.int64),
        shares=np.zeros((T + 1, W)),
        service=np.zeros((T + 1, V, 8)),
        backlog=np.zeros(V),
        cum=np.zeros((G, S)),
    )
    run.occupancy[0] = model.initial
    run.newconv[0] = (model.initial * model.is_converted).sum(axis=1)
    shape = model.pair_src.shape
    tables = kernels.DayTables(
        np.zeros(shape), np.zeros((G, S)), np.zeros((G, S)), np.ones(shape), np.zeros(shape, np.int64)
    )
    day = kernels.DayCounts(
        np.zeros((n_chunks, G, S, S), np.int64), np.zeros((n_chunks, X), np.int64), np.zeros((n_chunks, G), np.int64)
    )
    fx = Coefficients.initial(model.exposure_effect)
    # customers active on each day (day-0 ones, then arrivals): the work of a batch of days
    active = n_initial + np.concatenate([[0], np.cumsum(arrivals[1:].sum(axis=1))])
    schedule = DaySchedule(most)
    step = max(1, -(-T // DAY_BATCHES))
    for t0 in range(1, T + 1, step):
        t1 = min(t0 + step, T + 1)
        parallel = active[t0] > chunk_size  # else the kernel runs the first days on one chunk, serially
        k = schedule.threads() if parallel else 1
        tic = time.perf_counter()
        kernels.coupled_days(model, t0, t1, n_initial, chunk_size, fx, customers, states, run, tables, day, k)
        if parallel:
            schedule.record(k, float(active[t0:t1].sum()), time.perf_counter() - tic)
        if progress is not None:
            progress(t1 - 1, T)
    occ_start = start_of_day(model, run.occupancy, arrivals)
    services = tuple(ServiceRecord.from_day_queue(model, v, run.service[:, v], occ_start, fx) for v in range(V))
    return dict(
        occupancy=run.occupancy,
        moves=run.moves,
        segment_flows=run.seg_flows,
        new_converted=run.newconv,
        shares=run.shares,
        services=services,
        fx=fx,
    )
