"""The fast engine: event-driven numba kernels over fixed-size chunks of customers.

Without word of mouth every customer's hazards are known in advance, so each customer's
whole journey is drawn at once (waiting times by inversion of the cumulative hazard, idle
days skipped) and nothing per customer is stored: memory is bounded by the chunk buffers.
With word of mouth the population is advanced day by day (hazards depend on yesterday's
shares); each customer then keeps 12 bytes (stage, segment, converted flag, threshold).
"""

from __future__ import annotations

__all__ = ["run_fast", "CHUNK_SIZE"]

import time

import numpy as np

from ..kernels import _model_args, alias_tables, all_day_tables
from ..rng import chunk_states, named_streams

#: Customers per chunk. Fixed (never derived from the thread count) so results do not depend on it.
CHUNK_SIZE = 1 << 16
#: Chunks simulated per kernel call in the independent path (buffers are per chunk in a batch).
BATCH_CHUNKS = 64
STREAMS = ("customers", "arrivals", "exposures", "journeys")


def _arrivals(model, seq) -> np.ndarray:
    """(T+1, G) Poisson arrivals per day and segment (row 0 zero)."""
    T, G = model.n_days, model.n_segments
    out = np.zeros((T + 1, G), dtype=np.int64)
    if model.arrivals_mean.any():
        mean = model.arrivals_mult[1:, None] * model.arrivals_mean[None, :]
        out[1:] = np.random.default_rng(seq).poisson(mean, size=(T, G))
    return out


def _cohorts(model, arrivals):
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
    return (start, np.asarray(day, dtype=np.int64), np.asarray(seg, dtype=np.int64), np.asarray(stg, dtype=np.int64))


def _exposures(model, occupancy_start, seq):
    """Deliveries and engagements per day, drawn from their exact marginals given start-of-day occupancy."""
    T, J = model.n_days, model.n_touchpoints
    deliveries = np.zeros((T + 1, J), dtype=np.int64)
    engagements = np.zeros((T + 1, J), dtype=np.int64)
    if J:
        rng = np.random.default_rng(seq)
        n = occupancy_start[1:, None, :, :] * model.target[None, :, :, :]  # (T, J, G, S)
        p = np.broadcast_to(model.delivery[1:, :, None, None], n.shape)
        deliveries[1:] = rng.binomial(n, p).sum(axis=(2, 3))
        engagements[1:] = rng.binomial(deliveries[1:], np.broadcast_to(model.engagement, (T, J)))
    return deliveries, engagements


def run_fast(model, seq: np.random.SeedSequence, chunk_size: int = CHUNK_SIZE, progress=None) -> dict:
    """Simulate one replication of ``model`` with the numba engine.

    Parameters
    ----------
    model : CompiledModel
    seq : numpy.random.SeedSequence
        This replication's seed; spawned into the named streams ``STREAMS``.
    chunk_size : int
        Customers per chunk (part of the random-stream layout: changing it changes results).
    progress : callable, optional
        ``progress(done, total)`` called as work completes.

    Returns
    -------
    dict of arrays, the fields of :class:`SimulationResult` without the replication axis.
    """
    streams = named_streams(seq, STREAMS)
    arrivals = _arrivals(model, streams["arrivals"])
    t_start = time.perf_counter()
    if model.is_coupled:
        out = _run_coupled(model, arrivals, streams["customers"], chunk_size, progress)
    else:
        out = _run_independent(model, arrivals, streams["customers"], chunk_size, progress)
    out["arrivals"] = arrivals
    occ_start = np.zeros_like(out["occupancy"])
    occ_start[1:] = out["occupancy"][:-1]
    occ_start[1:, :, model.arrival_stage] += arrivals[1:]
    out["occupancy_start"] = occ_start
    out["deliveries"], out["engagements"] = _exposures(model, occ_start, streams["exposures"])
    out["cost"] = model.spend + out["deliveries"] * model.cost_per_exposure
    out["seconds"] = time.perf_counter() - t_start
    return out


def _run_independent(model, arrivals, seq, chunk_size, progress):
    from ..kernels._core import _independent_chunks

    T, G, S, K = model.n_days, model.n_segments, model.n_stages, model.n_sources
    prob, cum, _, const_hazard = all_day_tables(model)
    thresh, alias = alias_tables(prob, model.n_pairs)
    start, day, seg, stg = _cohorts(model, arrivals)
    n_total = int(start[-1])
    n_chunks = max(1, -(-n_total // chunk_size))
    states = chunk_states(seq, n_chunks)
    occ_diff = np.zeros((G, S, T + 2), dtype=np.int64)
    flows = np.zeros((T + 1, S, S), dtype=np.int64)
    seg_flows = np.zeros((G, S, S), dtype=np.int64)
    credits = np.zeros((K, S, S), dtype=np.int64)
    newconv = np.zeros((T + 1, G), dtype=np.int64)
    B = min(BATCH_CHUNKS, n_chunks)
    bufs = (np.zeros((B, G, S, T + 2), np.int64), np.zeros((B, T + 1, S, S), np.int64), np.zeros((B, G, S, S), np.int64),
            np.zeros((B, K, S, S), np.int64), np.zeros((B, T + 1, G), np.int64))
    for lo in range(0, n_chunks, B):
        ids = np.arange(lo, min(lo + B, n_chunks), dtype=np.int64)
        for buf in bufs:
            buf[: len(ids)] = 0
        _independent_chunks(ids, chunk_size, n_total, start, day, seg, stg, cum, const_hazard, thresh, alias, model.pair_src,
                            model.pair_dst, model.n_pairs, model.is_absorbing, model.is_converted, states,
                            *(buf[: len(ids)] for buf in bufs))
        for total, buf in zip((occ_diff, flows, seg_flows, credits, newconv), bufs):
            total += buf[: len(ids)].sum(axis=0)
        if progress is not None:
            progress(min(n_total, (lo + len(ids)) * chunk_size), n_total)
    occupancy = np.cumsum(occ_diff, axis=2)[:, :, : T + 1].transpose(2, 0, 1).copy()
    return dict(occupancy=occupancy, flows=flows, segment_flows=seg_flows, credits=credits, new_converted=newconv)


def _run_coupled(model, arrivals, seq, chunk_size, progress):
    from ..kernels._core import (_alias_tables, _coupled_day, _coupled_day_serial, _coupled_init, _day_pairs,
                                 _service_coefficients, _service_day)

    T, G, S, K, W = model.n_days, model.n_segments, model.n_stages, model.n_sources, model.n_wom
    n_initial = int(model.initial.sum())
    n_total = n_initial + int(arrivals.sum())
    stage = np.empty(n_total, dtype=np.int16)
    seg = np.empty(n_total, dtype=np.int8)
    conv = np.zeros(n_total, dtype=np.uint8)
    thr = np.zeros(n_total, dtype=np.float64)
    i = 0
    for g in range(G):
        for s in range(S):
            n = int(model.initial[g, s])
            stage[i:i + n], seg[i:i + n] = s, g
            i += n
    for t in range(1, T + 1):
        for g in range(G):
            n = int(arrivals[t, g])
            stage[i:i + n], seg[i:i + n] = model.arrival_stage, g
            i += n
    n_chunks = max(1, -(-n_total // chunk_size))
    states = chunk_states(seq, n_chunks)
    _coupled_init(n_initial, chunk_size, stage, seg, conv, thr, model.is_converted, states)

    occupancy = np.zeros((T + 1, G, S), dtype=np.int64)
    occupancy[0] = model.initial
    flows = np.zeros((T + 1, S, S), dtype=np.int64)
    seg_flows = np.zeros((G, S, S), dtype=np.int64)
    newconv = np.zeros((T + 1, G), dtype=np.int64)
    newconv[0] = (model.initial * model.is_converted).sum(axis=1)
    day_flows = np.zeros((n_chunks, G, S, S), dtype=np.int64)
    credits_c = np.zeros((n_chunks, K, S, S), dtype=np.int64)
    newconv_c = np.zeros((n_chunks, G), dtype=np.int64)
    prob, hazard, leave = np.zeros(model.pair_src.shape), np.zeros((G, S)), np.zeros((G, S))
    thresh, alias = np.ones(model.pair_src.shape), np.zeros(model.pair_src.shape, dtype=np.int64)
    cum_prev, shares = np.zeros((G, S)), np.zeros(W)
    share_path = np.zeros((T + 1, W))
    n_active = n_initial
    V = len(model.svc_tp)
    service = np.zeros((T + 1, V, 8))
    eff, eff_a, eff_l = model.exposure_effect.copy(), model.eff_abandon.copy(), model.eff_loss.copy()
    args = _model_args(model)
    args = args[:4] + (eff, eff_a, eff_l) + args[7:]
    backlog = np.zeros(V)
    for t in range(1, T + 1):
        pop = occupancy[t - 1].sum()
        for w in range(W):
            shares[w] = occupancy[t - 1][:, model.wom_advocate[w]].sum() / pop if pop else 0.0
        share_path[t] = shares
        if V:
            start = occupancy[t - 1].astype(np.float64)
            start[:, model.arrival_stage] += arrivals[t]
            for v, j in enumerate(model.svc_tp):
                n_new = float((start * model.target[j]).sum() * model.delivery[t, j])
                req_hazard = -np.log1p(-min(model.delivery[t, j], 1.0 - 1e-16))
                _service_day(n_new, backlog[v], model.svc_agents[t, v], *model.svc_params[v], model.svc_loss[v],
                             req_hazard, service[t, v])
                backlog[v] = service[t, v, 3]
                _service_coefficients(t, v, model.svc_tp, model.delivery, model.exposure_effect, eff, eff_a, eff_l,
                                      service[t, v])
        _day_pairs(t, shares, *args, prob, hazard, leave)
        _alias_tables(prob, model.n_pairs, thresh, alias)
        cum_now = cum_prev + hazard
        n_before, n_active = n_active, n_active + int(arrivals[t].sum())
        advance = _coupled_day if n_active > chunk_size else _coupled_day_serial
        advance(t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, model.pair_src, model.pair_dst,
                     model.n_pairs, model.is_absorbing, model.is_converted, stage, seg, conv, thr, states,
                     day_flows, credits_c, newconv_c)
        used = -(-n_active // chunk_size)
        moved = day_flows[:used].sum(axis=0)
        occupancy[t] = occupancy[t - 1] - moved.sum(axis=2) + moved.sum(axis=1)
        occupancy[t, :, model.arrival_stage] += arrivals[t]
        flows[t] = moved.sum(axis=0)
        seg_flows += moved
        newconv[t] = newconv_c[:used].sum(axis=0)
        cum_prev = cum_now
        if progress is not None:
            progress(t, T)
    return dict(occupancy=occupancy, flows=flows, segment_flows=seg_flows, credits=credits_c.sum(axis=0),
                new_converted=newconv, shares=share_path, service=service, eff=eff, eff_a=eff_a, eff_l=eff_l)
