"""Day tables by "first event wins" (``docs/model.md``): private numba kernels. Draw no random numbers.

Clock k = 0 organic, 1..J touchpoints, then word-of-mouth rules, then one-off event moves. A
touchpoint j acts through ``fx.eff[t, j] * q + fx.eff_a[t, j] * qa + fx.eff_l[t, j] * ql``
(served effects, abandonment effects, loss while waiting; the last two are zero except for
service touchpoints). ``m`` is a :class:`~jsim.model.ModelArrays`, ``fx`` a
:class:`~jsim.model.Coefficients`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: A day on which some clock moves a customer surely gets this hazard: exp(-50) ~ 2e-22.
HAZARD_MAX = 50.0


def clock_hazard(p):
    """Daily hazard ``-ln(1 - p)`` of a clock that fires within the day with probability ``p``;
    :data:`HAZARD_MAX` where it surely fires (``p >= 1``), never more."""
    if p >= 1.0:
        return HAZARD_MAX
    return min(-math.log1p(-p), HAZARD_MAX)


_clock_hazard = njit(cache=True)(clock_hazard)


@njit(cache=True)
def _source_probs(t, g, s, shares, m, fx, out_a, out_r):
    """Per-pair move probabilities ``out_a (P,)`` and per-clock totals ``out_r (K,)`` of (g, s) on day t.

    Pair i alone would move the customer with probability ``out_a[i]`` (the purchase multiplier
    applied to moves into purchase stages); ``out_r[k]`` totals clock k's pairs.
    """
    J = m.q.shape[1]
    W = m.wom_p.shape[0]
    for k in range(out_r.shape[0]):
        out_r[k] = 0.0
    for i in range(m.n_pairs[g, s]):
        k = m.pair_src[g, s, i]
        d = m.pair_dst[g, s, i]
        if k == 0:
            a = m.p0[g, s, d] * m.day_mult[t, 0]
        elif k <= J:
            j = k - 1
            a = fx.eff[t, j] * m.q[g, j, s, d] + fx.eff_a[t, j] * m.qa[g, j, s, d] + fx.eff_l[t, j] * m.ql[g, j, s, d]
        elif k <= J + W:
            w = k - 1 - J
            a = -math.expm1(-(m.wom_p[w] + m.wom_q[w] * shares[w]) * m.wom_mult[g] * m.day_mult[t, 1])
        else:
            e = k - 1 - J - W
            a = m.move_share[e] if m.move_day[e] == t else 0.0
        if m.is_purchase[d]:
            a *= m.day_mult[t, 2]
        out_a[i] = a
        out_r[k] += a


@njit(cache=True, inline="always")
def _outcome_route(t, g, s, i, v, m, fx):
    """Route of a move through pair i of (g, s) on day t, given a uniform ``v`` in [0, 1).

    Most clocks have one route per pair. A service clock's move is served, abandoned or lost
    while waiting with probabilities proportional to its three terms; ``v`` chooses.
    """
    k = m.pair_src[g, s, i]
    J = m.q.shape[1]
    if k < 1 or k > J or not m.is_service[k - 1]:
        return m.pair_route[g, s, i, 0]
    j = k - 1
    d = m.pair_dst[g, s, i]
    a0 = fx.eff[t, j] * m.q[g, j, s, d]
    a1 = fx.eff_a[t, j] * m.qa[g, j, s, d]
    a2 = fx.eff_l[t, j] * m.ql[g, j, s, d]
    x = v * (a0 + a1 + a2)
    if x < a0:
        return m.pair_route[g, s, i, 0]
    if x < a0 + a1 or a2 <= 0.0:
        return m.pair_route[g, s, i, 1] if a1 > 0.0 else m.pair_route[g, s, i, 0]
    return m.pair_route[g, s, i, 2]


@njit(cache=True)
def _day_pairs(t, shares, m, fx, out_prob, out_hazard, out_leave):
    """Fill the day-``t`` move probabilities of every (segment, stage, pair).

    Implements ``docs/model.md`` ("first event wins"). Writes ``out_prob (G, S, P)``,
    ``out_hazard (G, S)`` (the day's total hazard, at most HAZARD_MAX) and ``out_leave (G, S)``
    (probability of leaving the stage on day t). ``shares (W,)``: word-of-mouth shares.
    """
    G, S, P = m.pair_src.shape
    K = 1 + m.q.shape[1] + m.wom_p.shape[0] + m.move_day.shape[0]
    r = np.zeros(K)
    lam = np.zeros(K)
    a = np.zeros(P)
    for g in range(G):
        for s in range(S):
            n = m.n_pairs[g, s]
            for i in range(P):
                out_prob[g, s, i] = 0.0
            out_hazard[g, s] = 0.0
            out_leave[g, s] = 0.0
            if n == 0:
                continue
            _source_probs(t, g, s, shares, m, fx, a, r)
            n_inf = 0
            total = 0.0
            for k in range(K):
                if r[k] >= 1.0:
                    n_inf += 1
                    lam[k] = 0.0
                elif r[k] > 0.0:
                    lam[k] = -math.log1p(-r[k])
                    total += lam[k]
                else:
                    lam[k] = 0.0
            if n_inf > 0:
                leave = 1.0
                out_hazard[g, s] = HAZARD_MAX
            else:
                leave = -math.expm1(-total)
                out_hazard[g, s] = min(total, HAZARD_MAX)
            out_leave[g, s] = leave
            for i in range(n):
                k = m.pair_src[g, s, i]
                if a[i] <= 0.0 or r[k] <= 0.0:
                    prob = 0.0
                elif n_inf > 0:
                    prob = a[i] / r[k] / n_inf if r[k] >= 1.0 else 0.0
                else:
                    prob = lam[k] / total * leave * (a[i] / r[k])
                out_prob[g, s, i] = prob


@njit(cache=True)
def _all_days(n_days, shares, m, fx, out_prob, out_cum, out_leave):
    """Day tables for every day at fixed word-of-mouth shares.

    ``out_prob (T+1, G, S, P)``, ``out_leave (T+1, G, S)``, ``out_cum (G, S, T+1)`` the
    cumulative hazard (``out_cum[..., 0] = 0``).
    """
    G, S, P = m.pair_src.shape
    hazard = np.zeros((G, S))
    for g in range(G):
        for s in range(S):
            out_cum[g, s, 0] = 0.0
    for t in range(1, n_days + 1):
        _day_pairs(t, shares, m, fx, out_prob[t], hazard, out_leave[t])
        for g in range(G):
            for s in range(S):
                out_cum[g, s, t] = out_cum[g, s, t - 1] + hazard[g, s]
