"""Expected-value propagation of a compiled model, day by day (private numba kernel). Draws nothing."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ._day import _day_step


class MeanField(NamedTuple):
    """Outputs of :func:`_mean_field` (written): ``occupancy (T+1, G, S)`` end-of-day expected
    customers, ``occupancy_start (T+1, G, S)`` start of day (after arrivals), ``moves (T+1, X)``
    expected moves per route, ``segment_flows (G, S, S)``, ``new_converted (T+1, G)``,
    ``shares (T+1, W)`` word-of-mouth shares used, ``service (T+1, V, 8)`` each queue's day."""

    occupancy: np.ndarray
    occupancy_start: np.ndarray
    moves: np.ndarray
    segment_flows: np.ndarray
    new_converted: np.ndarray
    shares: np.ndarray
    service: np.ndarray


@njit(cache=True)
def _mean_field(n_days, x0, arrivals, fixed_shares, m, fx, out):
    """Expected-value propagation of the model, day by day.

    ``x0 (G, S)``: day-0 occupancy; ``arrivals (T+1, G)``: expected arrivals per day and segment;
    ``fixed_shares (T+1, W)`` or ``(0, W)``: with rows, the word-of-mouth shares of each day are
    taken from it (for example a stochastic run's own share path). ``fx`` holds working copies of
    the day coefficients, which the service queues rewrite. State ``x (G, S, 2)``: expected
    customers by segment, stage and ever-converted flag. Word-of-mouth shares use the expected
    occupancy (exact without word of mouth; the large-population limit with it). A service
    clock's expected moves are split over its outcomes in proportion to their terms.
    """
    G, S, P = m.pair_src.shape
    J = m.q.shape[1]
    W = m.wom_p.shape[0]
    x = np.zeros((G, S, 2))
    for g in range(G):
        for s in range(S):
            c = 1 if m.is_converted[s] else 0
            x[g, s, c] = x0[g, s]
            out.occupancy[0, g, s] = x0[g, s]
            if c == 1:
                out.new_converted[0, g] += x0[g, s]
    prob = np.zeros((G, S, P))
    hazard = np.zeros((G, S))
    leave = np.zeros((G, S))
    shares = np.zeros(W)
    backlog = np.zeros(m.svc_tp.shape[0])
    occ_prev = np.zeros((G, S))
    for t in range(1, n_days + 1):
        for g in range(G):
            for s in range(S):
                occ_prev[g, s] = x[g, s, 0] + x[g, s, 1]
        _day_step(t, occ_prev, arrivals[t], fixed_shares, m, fx, backlog, shares, out.service[t], prob, hazard, leave)
        for w in range(W):
            out.shares[t, w] = shares[w]
        ca = 1 if m.is_converted[m.arrival_stage] else 0
        for g in range(G):
            x[g, m.arrival_stage, ca] += arrivals[t, g]
            if ca == 1:
                out.new_converted[t, g] += arrivals[t, g]
        new = np.zeros((G, S, 2))
        for g in range(G):
            for s in range(S):
                for c in range(2):
                    mass = x[g, s, c]
                    out.occupancy_start[t, g, s] += mass
                    if mass == 0.0:
                        continue
                    new[g, s, c] += mass * (1.0 - leave[g, s])
                    for i in range(m.n_pairs[g, s]):
                        f = mass * prob[g, s, i]
                        if f == 0.0:
                            continue
                        k = m.pair_src[g, s, i]
                        d = m.pair_dst[g, s, i]
                        c2 = 1 if (c == 1 or m.is_converted[d]) else 0
                        new[g, d, c2] += f
                        out.segment_flows[g, s, d] += f
                        if 1 <= k <= J and m.is_service[k - 1]:
                            j = k - 1
                            a0 = fx.eff[t, j] * m.q[g, j, s, d]
                            a1 = fx.eff_a[t, j] * m.qa[g, j, s, d]
                            a2 = fx.eff_l[t, j] * m.ql[g, j, s, d]
                            total = a0 + a1 + a2
                            if a0 > 0.0:
                                out.moves[t, m.pair_route[g, s, i, 0]] += f * (a0 / total)
                            if a1 > 0.0:
                                out.moves[t, m.pair_route[g, s, i, 1]] += f * (a1 / total)
                            if a2 > 0.0:
                                out.moves[t, m.pair_route[g, s, i, 2]] += f * (a2 / total)
                        else:
                            out.moves[t, m.pair_route[g, s, i, 0]] += f
                        if c == 0 and c2 == 1:
                            out.new_converted[t, g] += f
        x = new
        for g in range(G):
            for s in range(S):
                out.occupancy[t, g, s] = x[g, s, 0] + x[g, s, 1]
