"""Exposure-level tracing of individual journeys (timestamped touch sequences).

A traced customer is stepped day by day: each targeting touchpoint delivers (probability
``delivery``), the delivery is engaged (``engagement``), an engaged exposure acts with the
fatigue-scaled effect probability; organic and word-of-mouth sources fire too; the first source
to fire (times within the day drawn from each source's exponential clock, as in
``docs/model.md``) moves the customer. The day's move probabilities are exactly those of the
fast engine, so traced journeys are draws from the same process: a sample of customers who
start like the day-0 population, under the run's own word-of-mouth shares.
"""

from __future__ import annotations

__all__ = ["Journeys", "trace_journeys"]

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from ..kernels._core import _next_double as next_double
from ..rng import named_streams

EXPOSURE, MOVE = 0, 1


@njit(cache=True)
def _trunc_exp_time(u, r):
    """Time within the day of a source that fires with daily probability r (exponential clock)."""
    if r >= 1.0:
        return 0.0
    return math.log1p(-u * r) / math.log1p(-r)


@njit(cache=True)
def _trace(first, last, start_seg, start_stage, shares, delivery, engagement, fatigue, target, p0, q, q_sum, eff,
           wom_from, wom_to, wom_p, wom_q, wom_mult, is_absorbing, states, rec_int, rec_time, cap):
    """Trace customers ``first..last-1``; returns (records written, next customer to trace).

    ``rec_int (cap, 7)`` int64 rows: customer, day, event, source, engaged, stage_from, stage_to.
    ``rec_time (cap,)`` time in days. Stops before a customer whose records might not fit.
    Draws from ``states[i]`` only for customer i (so a resumed call reproduces the same journey).
    """
    T = delivery.shape[0] - 1
    J = delivery.shape[1]
    W = wom_from.shape[0]
    S = p0.shape[1]
    n = 0
    i = first
    while i < last:
        if cap - n < T * (J + 1):
            return n, i
        st = states[i]
        g = start_seg[i]
        s = start_stage[i]
        for t in range(1, T + 1):
            if is_absorbing[s]:
                break
            n_day = n
            best = 2.0
            best_k = -1
            for j in range(J):
                if not target[j, g, s] or delivery[t, j] <= 0.0:
                    continue
                if next_double(st) >= delivery[t, j]:
                    continue
                engaged = next_double(st) < engagement[j]
                when = next_double(st)
                if engaged and q_sum[g, j, s] > 0.0:
                    if next_double(st) < fatigue[t, j] * q_sum[g, j, s]:
                        when = _trunc_exp_time(next_double(st), eff[t, j] * q_sum[g, j, s])
                        if when < best:
                            best, best_k = when, 1 + j
                rec_int[n, 0], rec_int[n, 1], rec_int[n, 2], rec_int[n, 3] = i, t, EXPOSURE, 1 + j
                rec_int[n, 4], rec_int[n, 5], rec_int[n, 6] = 1 if engaged else 0, s, s
                rec_time[n] = t - 1 + when
                n += 1
            r0 = 0.0
            for d in range(S):
                r0 += p0[g, s, d]
            if r0 > 0.0 and next_double(st) < r0:
                when = _trunc_exp_time(next_double(st), r0)
                if when < best:
                    best, best_k = when, 0
            for w in range(W):
                if wom_from[w] != s:
                    continue
                rw = -math.expm1(-(wom_p[w] + wom_q[w] * shares[t, w]) * wom_mult[g])
                if rw > 0.0 and next_double(st) < rw:
                    when = _trunc_exp_time(next_double(st), rw)
                    if when < best:
                        best, best_k = when, 1 + J + w
            if best_k < 0:
                continue
            # destination of the winning source
            u = next_double(st)
            d_new = -1
            if best_k == 0:
                acc = 0.0
                for d in range(S):
                    acc += p0[g, s, d] / r0
                    if p0[g, s, d] > 0.0:
                        d_new = d
                        if u < acc:
                            break
            elif best_k <= J:
                j = best_k - 1
                acc = 0.0
                for d in range(S):
                    acc += q[g, j, s, d] / q_sum[g, j, s]
                    if q[g, j, s, d] > 0.0:
                        d_new = d
                        if u < acc:
                            break
            else:
                d_new = wom_to[best_k - 1 - J]
            # exposures later in the day than the move happen in the new stage
            for m in range(n_day, n):
                if rec_time[m] > t - 1 + best:
                    rec_int[m, 5] = d_new
                    rec_int[m, 6] = d_new
            rec_int[n, 0], rec_int[n, 1], rec_int[n, 2], rec_int[n, 3] = i, t, MOVE, best_k
            rec_int[n, 4], rec_int[n, 5], rec_int[n, 6] = 0, s, d_new
            rec_time[n] = t - 1 + best
            n += 1
            s = d_new
        i += 1
    return n, i


@dataclass(frozen=True)
class Journeys:
    """Traced journeys: one row per exposure or move, sorted by customer and time."""

    model: object
    records: np.ndarray  # (n, 7) int64
    time: np.ndarray  # (n,) float64
    converted: np.ndarray  # (n_customers,) bool: ever stood in a converted stage

    columns = ("customer", "day", "time", "event", "touchpoint", "engaged", "stage_from", "stage_to", "customer_converted")

    def rows(self) -> list[list]:
        m = self.model
        names = m.source_names
        out = []
        for (cust, day, event, src, engaged, s_from, s_to), t in zip(self.records.tolist(), self.time.tolist()):
            out.append([cust, day, round(t, 6), "move" if event == MOVE else "exposure", names[src], engaged,
                        m.stage_names[s_from], m.stage_names[s_to], bool(self.converted[cust])])
        return out


def trace_journeys(model, root: np.random.SeedSequence, n_customers: int, shares=None) -> Journeys:
    """Trace ``n_customers`` journeys with the exposure-level stepper (see module docstring)."""
    from ..rng import chunk_states

    if not 0 < n_customers <= 1_000_000:
        raise ValueError(f"journeys must be within [1, 1000000], got {n_customers}")
    seq = named_streams(root.spawn(1)[0], ("start", "customers"))
    T, W = model.n_days, model.n_wom
    shares = np.zeros((T + 1, W)) if shares is None else np.ascontiguousarray(shares, dtype=np.float64)
    weights = model.initial.ravel().astype(np.float64)
    if weights.sum() == 0:
        weights = np.zeros_like(weights)
        weights.reshape(model.initial.shape)[:, model.arrival_stage] = model.seg_share
    cells = np.random.default_rng(seq["start"]).choice(weights.size, size=n_customers, p=weights / weights.sum())
    seg, stage = np.divmod(cells, model.n_stages)
    states = chunk_states(seq["customers"], n_customers)
    cap = max(1024, n_customers * 8 + T * (model.n_touchpoints + 1))
    recs, times, n, i = [], [], 0, 0
    while i < n_customers:
        rec_int = np.zeros((cap, 7), dtype=np.int64)
        rec_time = np.zeros(cap)
        n, nxt = _trace(i, n_customers, seg.astype(np.int64), stage.astype(np.int64), shares, model.delivery,
                        model.engagement, model.fatigue, model.target, model.p0, model.q, model.q_sum,
                        model.exposure_effect, model.wom_from, model.wom_to, model.wom_p, model.wom_q, model.wom_mult,
                        model.is_absorbing, states, rec_int, rec_time, cap)
        recs.append(rec_int[:n])
        times.append(rec_time[:n])
        if nxt == i:
            cap *= 2
        i = nxt
    records = np.concatenate(recs) if recs else np.zeros((0, 7), np.int64)
    time = np.concatenate(times) if times else np.zeros(0)
    order = np.lexsort((time, records[:, 0]))
    records, time = records[order], time[order]
    converted = model.is_converted[stage].copy()
    moves = records[records[:, 2] == MOVE]
    converted[moves[model.is_converted[moves[:, 6]], 0]] = True
    return Journeys(model=model, records=records, time=time, converted=converted)
