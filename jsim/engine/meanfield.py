"""Expected-value ("mean-field") engine: occupancy expectations advanced day by day.

Exact expectations for scenarios without word of mouth (the model is then a
time-inhomogeneous Markov chain per customer); the large-population limit with it.
"""

from __future__ import annotations

__all__ = ["run_mean_field"]

import time

import numpy as np

from ..kernels import mean_field_arrays


def run_mean_field(model) -> dict:
    """Expected counts of ``model`` in the layout of :func:`jsim.engine.fast.run_fast`."""
    t0 = time.perf_counter()
    out = mean_field_arrays(model)
    T = model.n_days
    arrivals = model.arrivals_mult[:, None] * model.arrivals_mean[None, :]
    arrivals[0] = 0.0
    n = out["occupancy_start"][:, None, :, :] * model.target[None]  # (T+1, J, G, S)
    deliveries = n.sum(axis=(2, 3)) * model.delivery
    deliveries[0] = 0.0
    out.update(arrivals=arrivals, deliveries=deliveries, engagements=deliveries * model.engagement,
               cost=model.spend + deliveries * model.cost_per_exposure, seconds=time.perf_counter() - t0)
    return out
