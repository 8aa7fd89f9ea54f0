"""Expected-value ("mean-field") engine: occupancy expectations advanced day by day.

Exact expectations for scenarios without word of mouth or service queues (the model is then a
time-inhomogeneous Markov chain per customer); the large-population limit with them.
"""

from __future__ import annotations

__all__ = ["MeanFieldEngine"]

import time

from ..kernels import mean_field_arrays
from .records import Run, ServiceRecord


class MeanFieldEngine:
    """Expected values (``engine="mean-field"``): deterministic, so one replication."""

    name = "mean-field"
    stochastic = False

    def run(self, model, seed=None, progress=None) -> Run:
        """Expected counts of ``model`` (``seed`` is not used)."""
        t0 = time.perf_counter()
        out, fx = mean_field_arrays(model)
        arrivals = model.arrivals_mult[:, None] * model.arrivals_mean[None, :]
        arrivals[0] = 0.0
        n = out.occupancy_start[:, None, :, :] * model.target[None]  # (T+1, J, G, S)
        deliveries = n.sum(axis=(2, 3)) * model.delivery
        deliveries[0] = 0.0
        services = tuple(
            ServiceRecord.from_day_queue(model, v, out.service[:, v], out.occupancy_start, fx)
            for v in range(len(model.services))
        )
        if progress is not None:
            progress(model.n_days, model.n_days)
        return Run(
            occupancy=out.occupancy,
            occupancy_start=out.occupancy_start,
            arrivals=arrivals,
            moves=out.moves,
            segment_flows=out.segment_flows,
            new_converted=out.new_converted,
            deliveries=deliveries,
            engagements=deliveries * model.engagement,
            cost=model.cost(deliveries),
            shares=out.shares,
            services=services,
            coefficients=fx,
            seconds=time.perf_counter() - t0,
        )
