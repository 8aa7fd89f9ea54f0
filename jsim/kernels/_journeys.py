"""Private numba kernel of the exposure-level journey tracer (see :mod:`jsim.engine.journeys`)."""

from __future__ import annotations

import math

from numba import njit

from ._core import _next_double as next_double

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
            n_tie = 0
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
                            best, best_k, n_tie = when, 1 + j, 1
                        elif when == best:  # sources sure to fire (time 0) share the move equally
                            n_tie += 1
                            if next_double(st) * n_tie < 1.0:
                                best_k = 1 + j
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
                    best, best_k, n_tie = when, 0, 1
                elif when == best:
                    n_tie += 1
                    if next_double(st) * n_tie < 1.0:
                        best_k = 0
            for w in range(W):
                if wom_from[w] != s:
                    continue
                rw = -math.expm1(-(wom_p[w] + wom_q[w] * shares[t, w]) * wom_mult[g])
                if rw > 0.0 and next_double(st) < rw:
                    when = _trunc_exp_time(next_double(st), rw)
                    if when < best:
                        best, best_k, n_tie = when, 1 + J + w, 1
                    elif when == best:
                        n_tie += 1
                        if next_double(st) * n_tie < 1.0:
                            best_k = 1 + J + w
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
