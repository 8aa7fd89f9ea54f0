"""Private numba kernel of the exposure-level journey tracer (see :mod:`jsim.engine.journeys`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._hazards import _outcome_route, _source_probs
from ._rng import _next_double as next_double

EXPOSURE, MOVE = 0, 1


@njit(cache=True)
def _trunc_exp_time(u, r):
    """Time within the day of a source that fires with daily probability r (exponential clock)."""
    if r >= 1.0:
        return 0.0
    return math.log1p(-u * r) / math.log1p(-r)


@njit(cache=True)
def _trace(first, last, start_seg, start_stage, shares, m, fx, states, rec_int, rec_time, cap):
    """Trace customers ``first..last-1``; returns (records written, next customer to trace).

    Each day, for the customer's (segment g, stage s): every touchpoint targeting it delivers
    (``delivery``) and the delivery is engaged (``engagement``); an engaged exposure fires with
    ``r_j / (delivery * engagement)`` where ``r_j`` is the source's daily probability from
    :func:`_source_probs`; organic, word-of-mouth and event sources fire with ``r_k``. Fired
    sources draw their time in the day from their exponential clock; the earliest wins (sources
    sure to fire share the move equally) and moves to a destination drawn in proportion to its
    pair probabilities. A service touchpoint's delivery is a request, always recorded as engaged,
    and fires with ``r_j / delivery`` (served, abandoned and lost outcomes are all in ``r_j``).
    The move's route (a service's outcome among them) is chosen by what is left of the
    destination's uniform (no extra draw). ``shares (T+1, W)``: word-of-mouth shares per day;
    ``m``: :class:`~jsim.model.ModelArrays`; ``fx``: the run's :class:`~jsim.model.Coefficients`.
    ``rec_int (cap, 8)`` int64 rows: customer, day, event, clock, engaged, stage_from, stage_to,
    route (-1 for an exposure); ``rec_time (cap,)`` time in days. Stops before a customer whose records might not fit.
    Draws from ``states[i]`` only for customer i (so a resumed call reproduces the same journey).
    """
    delivery, engagement, is_service, target = m.delivery, m.engagement, m.is_service, m.target
    pair_src, pair_dst, n_pairs = m.pair_src, m.pair_dst, m.n_pairs
    T = delivery.shape[0] - 1
    J = delivery.shape[1]
    P = pair_src.shape[2]
    K = 1 + J + m.wom_p.shape[0] + m.move_day.shape[0]
    a = np.zeros(P)
    r = np.zeros(K)
    n = 0
    i = first
    while i < last:
        if cap - n < T * (J + 1):
            return n, i
        st = states[i]
        g = start_seg[i]
        s = start_stage[i]
        for t in range(1, T + 1):
            if m.is_absorbing[s]:
                break
            _source_probs(t, g, s, shares[t], m, fx, a, r)
            n_day = n
            best = 2.0
            best_k = -1
            n_tie = 0
            for k in range(K):
                fired = False
                if 1 <= k <= J:
                    j = k - 1
                    if not target[j, g, s] or delivery[t, j] <= 0.0:
                        continue
                    if next_double(st) >= delivery[t, j]:
                        continue
                    engaged = is_service[j] or next_double(st) < engagement[j]
                    when = next_double(st)
                    if engaged and r[k] > 0.0:
                        per = delivery[t, j] if is_service[j] else delivery[t, j] * engagement[j]
                        fired = next_double(st) * per < r[k]
                    rec_int[n, 0], rec_int[n, 1], rec_int[n, 2], rec_int[n, 3] = i, t, EXPOSURE, k
                    rec_int[n, 4], rec_int[n, 5], rec_int[n, 6], rec_int[n, 7] = 1 if engaged else 0, s, s, -1
                    if fired:
                        when = _trunc_exp_time(next_double(st), r[k])
                    rec_time[n] = t - 1 + when
                    n += 1
                elif r[k] > 0.0:
                    fired = next_double(st) < r[k]
                    if fired:
                        when = _trunc_exp_time(next_double(st), r[k])
                if not fired:
                    continue
                if when < best:
                    best, best_k, n_tie = when, k, 1
                elif when == best:  # sources sure to fire (time 0) share the move equally
                    n_tie += 1
                    if next_double(st) * n_tie < 1.0:
                        best_k = k
            if best_k < 0:
                continue
            # destination of the winning source, in proportion to its pair probabilities
            u = next_double(st) * r[best_k]
            acc = 0.0
            d_new = -1
            p_new = -1
            v = 0.0
            for p in range(n_pairs[g, s]):
                if pair_src[g, s, p] == best_k and a[p] > 0.0:
                    d_new = pair_dst[g, s, p]
                    p_new = p
                    v = min(max((u - acc) / a[p], 0.0), 0.9999999999999999)
                    acc += a[p]
                    if u < acc:
                        break
            # exposures later in the day than the move happen in the new stage
            for x in range(n_day, n):
                if rec_time[x] > t - 1 + best:
                    rec_int[x, 5] = d_new
                    rec_int[x, 6] = d_new
            rec_int[n, 0], rec_int[n, 1], rec_int[n, 2], rec_int[n, 3] = i, t, MOVE, best_k
            rec_int[n, 4], rec_int[n, 5], rec_int[n, 6] = 0, s, d_new
            rec_int[n, 7] = _outcome_route(t, g, s, p_new, v, m, fx)
            rec_time[n] = t - 1 + best
            n += 1
            s = d_new
        i += 1
    return n, i
