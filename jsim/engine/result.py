"""The one result type every engine returns."""

from __future__ import annotations

__all__ = ["SimulationResult"]

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Counts of one or more replications of a scenario.

    Every array has a leading replication axis ``R`` (1 for the expected-value engine).
    Counts are int64 for stochastic engines and float64 (expectations) for ``mean-field``.

    Attributes
    ----------
    occupancy : (R, T+1, G, S)
        Customers per segment and stage at the end of each day (day 0 = initial state).
    occupancy_start : (R, T+1, G, S)
        Customers at the start of each day, after that day's arrivals (row 0 unused).
    arrivals : (R, T+1, G)
        New customers joining on each day.
    flows : (R, T+1, S, S)
        Moves from stage s to stage d on each day.
    segment_flows : (R, G, S, S)
        Moves per segment over the whole horizon.
    credits : (R, K, S, S)
        Moves per source that caused them (organic, touchpoints, word-of-mouth rules).
    new_converted : (R, T+1, G)
        Customers converted for the first time on each day (day 0: those who start converted).
    deliveries, engagements : (R, T+1, J)
        Touchpoint deliveries and engaged exposures per day.
    cost : (R, T+1, J)
        Money spent per touchpoint and day (spend + cost per exposure * deliveries).
    service : dict or None
        Per service touchpoint name, the queue's record. Day-resolution engines (``fast``,
        ``mean-field``): arrays (R, T+1) ``requests``, ``served``, ``abandoned``, ``backlog``,
        ``utilisation``, ``mean_wait`` (days), ``p_served``, ``p_abandon``, ``p_loss`` (fate of a
        request made that day). Discrete-event engine (``des``): per field of
        :func:`jsim.engine.des.run_des`'s ``service`` record (waits, counts, per-day requests
        and utilisation, moves caused by waiting; ``lost_waiting`` = ``wait_loss_moves``), a
        tuple with one entry per replication.
    """

    model: object
    engine: str
    seed: int | None
    occupancy: np.ndarray
    occupancy_start: np.ndarray
    arrivals: np.ndarray
    flows: np.ndarray
    segment_flows: np.ndarray
    credits: np.ndarray
    new_converted: np.ndarray
    deliveries: np.ndarray
    engagements: np.ndarray
    cost: np.ndarray
    journeys: object = None
    timings: dict = field(default_factory=dict)
    service: dict | None = None

    @property
    def n_reps(self) -> int:
        return self.occupancy.shape[0]

    @property
    def stage_occupancy(self) -> np.ndarray:
        """(R, T+1, S) customers per stage, summed over segments."""
        return self.occupancy.sum(axis=2)

    @property
    def purchases(self) -> np.ndarray:
        """(R, T+1) purchases per day: entries into purchase stages."""
        return self.flows[:, :, :, self.model.is_purchase].sum(axis=(2, 3))

    @property
    def revenue(self) -> np.ndarray:
        """(R, T+1) revenue per day (price events applied)."""
        return (self.flows.sum(axis=2) * self.model.purchase_value).sum(axis=-1) * self.model.revenue_mult
