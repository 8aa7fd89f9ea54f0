"""The one result type every engine's runs are gathered into."""

from __future__ import annotations

__all__ = ["SimulationResult"]

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..model.calendar import calendar_changes
from .records import CalendarChange, Run, ServiceRecord

#: the per-replication arrays of a Run, stacked along a leading replication axis
_STACKED = tuple(f.name for f in dataclasses.fields(Run) if f.type == "np.ndarray")


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Counts of one or more replications of a scenario, with why every customer moved.

    Every array has a leading replication axis ``R`` (1 for the expected-value engine). Counts
    are int64 for stochastic engines and float64 (expectations) for ``mean-field``. Axis letters
    as in :mod:`jsim.model.compiled`.

    Attributes
    ----------
    model : CompiledModel
    engine : str
    seed : int
        The root seed's entropy: running again with this seed reproduces the result (also when
        no seed was given and fresh entropy was drawn).
    occupancy : (R, T+1, G, S)
        Customers per segment and stage at the end of each day (day 0 = initial state).
    occupancy_start : (R, T+1, G, S)
        Customers at the start of each day, after that day's arrivals (row 0 unused).
    arrivals : (R, T+1, G)
        New customers joining on each day.
    moves : (R, T+1, X)
        Moves per day and route; route x goes from ``model.sources.route_from[x]`` to
        ``route_to[x]``, caused by source ``route_source[x]`` (``model.source_names``). This is
        the (day, from, to, source) table; :attr:`flows`, :attr:`credits` and
        :attr:`moves_by_source` sum it.
    segment_flows : (R, G, S, S)
        Moves per segment over the whole horizon.
    new_converted : (R, T+1, G)
        Customers converted for the first time on each day (day 0: those who start converted).
    deliveries, engagements : (R, T+1, J)
        Touchpoint deliveries and engaged exposures per day (a service's requests and served requests).
    cost : (R, T+1, J)
        Money spent per touchpoint and day (spend + cost per exposure * deliveries).
    shares : (R, T+1, W)
        Word-of-mouth shares each day's hazards used.
    services : tuple of ServiceRecord
        One per service touchpoint (:attr:`service` by name).
    calendar : tuple of CalendarChange
        The calendar changes the runs obeyed (the same in every replication): the trace the
        engine recorded, or the model's own where the engine reads the calendar arrays directly.
    journeys : Journeys or None
        Traced journeys (exposure level), when asked for.
    timings : dict
        ``seconds`` (wall) and ``kernel_seconds`` (sum over replications).
    """

    model: object
    engine: str
    seed: int
    occupancy: np.ndarray
    occupancy_start: np.ndarray
    arrivals: np.ndarray
    moves: np.ndarray
    segment_flows: np.ndarray
    new_converted: np.ndarray
    deliveries: np.ndarray
    engagements: np.ndarray
    cost: np.ndarray
    shares: np.ndarray
    services: tuple = ()
    traced_calendar: tuple | None = field(default=None, repr=False)
    journeys: object = None
    timings: dict = field(default_factory=dict)

    @classmethod
    def from_runs(cls, model, engine: str, seed: int, runs: list[Run], journeys=None, timings=None) -> SimulationResult:
        """Gather replications (each checked against the model's shapes) into one result."""
        for run in runs:
            run.check(model)
        arrays = {name: np.stack([getattr(run, name) for run in runs]) for name in _STACKED}
        services = tuple(ServiceRecord.gather([run.services[v] for run in runs]) for v in range(len(model.services)))
        return cls(
            model=model,
            engine=engine,
            seed=seed,
            services=services,
            traced_calendar=None if runs[0].calendar is None else tuple(CalendarChange(*c) for c in runs[0].calendar),
            journeys=journeys,
            timings=dict(timings or {}),
            **arrays,
        )

    @cached_property
    def calendar(self) -> tuple:
        """The calendar changes the runs obeyed, as :class:`CalendarChange` records sorted by time."""
        if self.traced_calendar is not None:
            return self.traced_calendar
        return tuple(CalendarChange(*c) for c in calendar_changes(self.model))

    @property
    def n_reps(self) -> int:
        return self.occupancy.shape[0]

    @property
    def service(self) -> dict[str, ServiceRecord]:
        """Service records by touchpoint name."""
        return {rec.name: rec for rec in self.services}

    @property
    def stage_occupancy(self) -> np.ndarray:
        """(R, T+1, S) customers per stage, summed over segments."""
        return self.occupancy.sum(axis=2)

    @cached_property
    def flows(self) -> np.ndarray:
        """(R, T+1, S, S) moves from stage s to stage d on each day (all sources)."""
        src = self.model.sources
        S = self.model.n_stages
        out = np.zeros(self.moves.shape[:2] + (S, S), dtype=self.moves.dtype)
        for x in range(src.n_routes):
            out[:, :, src.route_from[x], src.route_to[x]] += self.moves[:, :, x]
        return out

    @cached_property
    def moves_by_source(self) -> np.ndarray:
        """(R, T+1, n_sources) moves per day and source."""
        src = self.model.sources
        out = np.zeros(self.moves.shape[:2] + (len(src.names),), dtype=self.moves.dtype)
        for x in range(src.n_routes):
            out[:, :, src.route_source[x]] += self.moves[:, :, x]
        return out

    @cached_property
    def credits(self) -> np.ndarray:
        """(R, n_sources, S, S) moves per source over the horizon (the "caused by" table)."""
        src = self.model.sources
        S = self.model.n_stages
        total = self.moves.sum(axis=1)  # (R, X)
        out = np.zeros((total.shape[0], len(src.names), S, S), dtype=self.moves.dtype)
        for x in range(src.n_routes):
            out[:, src.route_source[x], src.route_from[x], src.route_to[x]] += total[:, x]
        return out

    @property
    def purchases(self) -> np.ndarray:
        """(R, T+1) purchases per day: entries into purchase stages."""
        return self.flows[:, :, :, self.model.is_purchase].sum(axis=(2, 3))

    @property
    def revenue(self) -> np.ndarray:
        """(R, T+1) revenue per day (price events applied)."""
        return (self.flows.sum(axis=2) * self.model.purchase_value).sum(axis=-1) * self.model.revenue_mult
