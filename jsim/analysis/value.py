"""What a touchpoint or a customer is worth: analyses that run the expected-value model.

:func:`incremental_revenue` compares the model with and without each touchpoint;
:func:`lifetime_value` follows a newly converted customer through the last day's transition
matrix. Both are deterministic (the ``mean-field`` engine and the day tables), so they serve as
exact references next to simulated estimates.
"""

from __future__ import annotations

__all__ = ["incremental_revenue", "lifetime_value"]

import dataclasses
import math

import numpy as np

from ..engine import simulate
from ..kernels import day_tables, mean_field_arrays


def _expected_revenue(model) -> float:
    return float(simulate(model, engine="mean-field").revenue.sum())


def incremental_revenue(model) -> np.ndarray:
    """(J,) expected revenue each touchpoint adds: the expected-value model with and without it.

    Without a touchpoint its deliveries and effects are zero (a service touchpoint without
    deliveries has no requests, queue or losses either).
    """
    base = _expected_revenue(model)
    inc = np.zeros(model.n_touchpoints)
    for j in range(model.n_touchpoints):
        eff, delivery = model.exposure_effect.copy(), model.delivery.copy()
        eff[:, j] = 0.0
        delivery[:, j] = 0.0
        eff.setflags(write=False)  # read-only like the model's own arrays: one compiled signature of the kernel
        delivery.setflags(write=False)
        inc[j] = base - _expected_revenue(dataclasses.replace(model, exposure_effect=eff, delivery=delivery))
    return inc


def lifetime_value(model, years: float = 3.0) -> float:
    """Expected gross profit of a newly converted customer over ``years``, under the last day's conditions.

    Uses the day-T transition matrix of the first converted stage's customers (segment mix by
    share) and the fundamental-matrix series ``sum_t e P^t``, truncated at ``years``. Word-of-mouth
    shares are taken from the expected-value run. Returns NaN when no stage is converted.
    """
    conv = np.flatnonzero(model.is_converted)
    if conv.size == 0:
        return math.nan
    T = model.n_days
    shares = mean_field_arrays(model)[0].shares[T] if model.n_wom else np.zeros(0)
    prob, _, leave = day_tables(model, T, shares)
    G, S = model.n_segments, model.n_stages
    P = np.zeros((G, S, S))
    moves = np.zeros((G, S, S))  # the moves alone: staying in a purchase stage is not another purchase
    for g in range(G):
        for s in range(S):
            P[g, s, s] = 1.0 - leave[g, s]
            for i in range(model.n_pairs[g, s]):
                P[g, s, model.pair_dst[g, s, i]] += prob[g, s, i]
                moves[g, s, model.pair_dst[g, s, i]] += prob[g, s, i]
    value = moves @ model.purchase_value * model.revenue_mult[T]  # (G, S): expected revenue of tomorrow's move
    total = 0.0
    for g in range(G):
        x = np.zeros(S)
        x[conv[0]] = 1.0
        v = model.purchase_value[conv[0]] * model.revenue_mult[T]
        for _ in range(int(round(365 * years))):
            v += x @ value[g]
            x = x @ P[g]
        total += model.seg_share[g] * v
    return float(total * model.margin)
