"""Random draws and bookkeeping the stochastic engines share: arrivals, exposure counts, start-of-day census.

A replication's ``SeedSequence`` is spawned into the named streams :data:`STREAMS` (in that
order: part of the contract), so the fast and discrete-event engines draw the same arrivals
and exposure counts for a seed.
"""

from __future__ import annotations

__all__ = ["STREAMS", "draw_arrivals", "draw_exposures", "start_of_day"]

import numpy as np

#: Named streams of one replication, in spawn order.
STREAMS = ("customers", "arrivals", "exposures", "journeys")


def draw_arrivals(model, seq: np.random.SeedSequence) -> np.ndarray:
    """(T+1, G) int64 Poisson arrivals per day and segment (row 0 zero)."""
    T, G = model.n_days, model.n_segments
    out = np.zeros((T + 1, G), dtype=np.int64)
    if model.arrivals_mean.any():
        mean = model.arrivals_mult[1:, None] * model.arrivals_mean[None, :]
        out[1:] = np.random.default_rng(seq).poisson(mean, size=(T, G))
    return out


def start_of_day(model, occupancy: np.ndarray, arrivals: np.ndarray) -> np.ndarray:
    """(T+1, G, S) customers at the start of each day: yesterday's census plus today's arrivals (row 0 zero)."""
    occ_start = np.zeros_like(occupancy)
    occ_start[1:] = occupancy[:-1]
    occ_start[1:, :, model.arrival_stage] += arrivals[1:]
    return occ_start


def draw_exposures(model, occupancy_start: np.ndarray, seq: np.random.SeedSequence):
    """Deliveries and engagements per day ``(T+1, J)`` int64, drawn from their exact marginals.

    ``Binomial(n_{g,s}, delivery_j(t))`` per targeted segment and stage given the start-of-day
    census, then ``Binomial(deliveries, engagement_j)`` (``docs/model.md``, "Counting").
    """
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
