"""The typed records every engine fills: one :class:`Run` per replication, one :class:`ServiceRecord`
per service touchpoint, the calendar trace.

Axis letters as in :mod:`jsim.model.compiled`; ``R`` replications. Counts are int64 for the
stochastic engines and float64 (expectations) for ``mean-field``.
"""

from __future__ import annotations

__all__ = [
    "CalendarChange",
    "WaitLog",
    "DeskTimeline",
    "ServiceRecord",
    "Run",
    "RESOLUTIONS",
    "WAIT_OUTCOMES",
    "SERVICE_DAY_FIELDS",
]

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

#: How a service record was made: ``day`` (a queue model per day) or ``event`` (queued customers).
RESOLUTIONS = ("day", "event")
#: Outcome codes of :attr:`WaitLog.outcome`.
WAIT_OUTCOMES = ("served", "abandoned")
#: Fields of the day-resolution queue's record per day (:func:`jsim.kernels.service_day`), in order.
SERVICE_DAY_FIELDS = ("p_served", "p_abandon", "p_loss", "backlog", "served", "abandoned", "utilisation", "mean_wait")


class CalendarChange(NamedTuple):
    """One change of the calendar, at the start of the day it takes effect.

    ``time`` in days (``t - 1`` for day t); ``kind`` one of ``spend``, ``reach``, ``effect``,
    ``capacity``, ``transitions``, ``word_of_mouth``, ``purchase``, ``arrivals``, ``revenue``,
    ``move``; ``where`` the touchpoint (or ``""``); ``what`` e.g. ``"1 -> 0"``.
    """

    time: float
    kind: str
    where: str
    what: str


class WaitLog(NamedTuple):
    """Every resolved request of one replication's queue, in request order.

    ``t_request`` (days since the start: day t runs from t-1 to t), ``wait`` (days queued: to the
    start of service, or to abandoning), ``outcome`` (int8 index into :data:`WAIT_OUTCOMES`).
    """

    t_request: np.ndarray
    wait: np.ndarray
    outcome: np.ndarray


class DeskTimeline(NamedTuple):
    """A queue's step function: row i holds from ``times[i]`` (days) to the next row.

    ``queue_length``, ``n_busy``, ``n_available`` (agents not off duty: rostered plus overtime)
    and ``n_scheduled`` (rostered) agents.
    """

    times: np.ndarray
    queue_length: np.ndarray
    n_busy: np.ndarray
    n_available: np.ndarray
    n_scheduled: np.ndarray


@dataclass(frozen=True, eq=False)
class ServiceRecord:
    """What one service touchpoint's queue did, over ``R`` replications; the same type for every engine.

    Day arrays are ``(R, T+1)`` float64 (row 0 unused). ``resolution`` says which optional fields
    are filled: ``day`` (day-resolution queue: ``fast``, ``mean-field``) fills the fate of a
    request made each day (``p_served``, ``p_abandon``, ``p_loss``) and the touchpoint's effect
    coefficient; ``event`` (``des``: customers queue at a desk) fills every wait and the desk's
    timeline.

    Attributes
    ----------
    requests : (R, T+1)
        Requests made each day.
    served, abandoned : (R, T+1)
        Requests served (service started) and abandoned on each day.
    queue : (R, T+1)
        ``day``: requests carried overnight (backlog); ``event``: time-average queue length.
    utilisation : (R, T+1)
        Busy over available agent-time of the day (0 where nobody was on duty).
    mean_wait : (R, T+1)
        Mean wait in days of the requests made that day (NaN where none was resolved).
    p_served, p_abandon, p_loss, effect_coefficient : (R, T+1) or None
        ``day`` only: fate of a request made that day, and the coefficient of the touchpoint's
        effects on that day.
    waits : tuple of WaitLog or None
        ``event`` only: one per replication.
    timeline : tuple of DeskTimeline or None
        ``event`` only: one per replication.
    """

    name: str
    touchpoint: int
    resolution: str
    requests: np.ndarray
    served: np.ndarray
    abandoned: np.ndarray
    queue: np.ndarray
    utilisation: np.ndarray
    mean_wait: np.ndarray
    p_served: np.ndarray | None = None
    p_abandon: np.ndarray | None = None
    p_loss: np.ndarray | None = None
    effect_coefficient: np.ndarray | None = None
    waits: tuple | None = None
    timeline: tuple | None = None

    def __post_init__(self):
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution!r}")
        day_only = (self.p_served, self.p_abandon, self.p_loss, self.effect_coefficient)
        event_only = (self.waits, self.timeline)
        filled, other = (day_only, event_only) if self.resolution == "day" else (event_only, day_only)
        if any(v is None for v in filled) or any(v is not None for v in other):
            raise ValueError(
                f"a {self.resolution}-resolution service record fills exactly its own optional fields "
                f"(service {self.name!r})"
            )

    @property
    def n_reps(self) -> int:
        return self.requests.shape[0]

    @classmethod
    def from_day_queue(cls, model, v: int, days: np.ndarray, occupancy_start: np.ndarray, fx) -> ServiceRecord:
        """The record (one replication) of service ``v`` from its day-resolution queue.

        ``days (T+1, 8)``: the queue's record per day (:data:`SERVICE_DAY_FIELDS`);
        ``occupancy_start (T+1, G, S)``: the census the requests came from; ``fx``: the day
        coefficients the queue wrote.
        """
        sv = model.services[v]
        j = sv.touchpoint
        rec = {name: days[None, :, i].astype(np.float64) for i, name in enumerate(SERVICE_DAY_FIELDS)}
        requests = (occupancy_start * model.target[j]).sum(axis=(1, 2)) * model.delivery[:, j]
        return cls(
            name=sv.name,
            touchpoint=j,
            resolution="day",
            requests=requests[None].astype(np.float64),
            served=rec["served"],
            abandoned=rec["abandoned"],
            queue=rec["backlog"],
            utilisation=rec["utilisation"],
            mean_wait=rec["mean_wait"],
            p_served=rec["p_served"],
            p_abandon=rec["p_abandon"],
            p_loss=rec["p_loss"],
            effect_coefficient=np.array(fx.eff[None, :, j]),
        )

    @classmethod
    def gather(cls, records) -> ServiceRecord:
        """One record over the replications of ``records`` (each the same service, in replication order)."""
        first = records[0]
        cat = lambda name: None if getattr(first, name) is None else np.concatenate([getattr(r, name) for r in records])
        tup = lambda name: None if getattr(first, name) is None else tuple(x for r in records for x in getattr(r, name))
        return cls(
            name=first.name,
            touchpoint=first.touchpoint,
            resolution=first.resolution,
            **{
                f: cat(f)
                for f in (
                    "requests",
                    "served",
                    "abandoned",
                    "queue",
                    "utilisation",
                    "mean_wait",
                    "p_served",
                    "p_abandon",
                    "p_loss",
                    "effect_coefficient",
                )
            },
            waits=tup("waits"),
            timeline=tup("timeline"),
        )


@dataclass(frozen=True, eq=False)
class Run:
    """One replication, as every engine returns it.

    Attributes
    ----------
    occupancy : (T+1, G, S)
        Customers per segment and stage at the end of each day (day 0 = initial state).
    occupancy_start : (T+1, G, S)
        Customers at the start of each day, after that day's arrivals (row 0 unused).
    arrivals : (T+1, G)
        New customers joining on each day.
    moves : (T+1, X)
        Moves per day and route (``model.sources``: from, to and source of each route).
    segment_flows : (G, S, S)
        Moves per segment over the whole horizon.
    new_converted : (T+1, G)
        Customers converted for the first time on each day (day 0: those who start converted).
    deliveries, engagements, cost : (T+1, J)
        Touchpoint deliveries (a service's requests), engaged exposures (a service's served
        requests) and money spent per day.
    shares : (T+1, W) float64
        Word-of-mouth shares each day's hazards used.
    services : tuple of ServiceRecord
        One per service touchpoint (``R = 1``), in the model's order.
    calendar : tuple of CalendarChange or None
        The calendar changes the run traced as it obeyed them, sorted by time; None for an
        engine that reads the model's per-day calendar arrays directly (``fast``,
        ``mean-field``), whose trace is the model's (:func:`jsim.model.calendar.calendar_changes`).
    coefficients : Coefficients
        The day coefficients the run's move tables used (service queues rewrite them).
    seconds : float
        Wall time of the replication.
    """

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
    services: tuple
    coefficients: object
    calendar: tuple | None = None
    seconds: float = 0.0

    def check(self, model) -> None:
        """Raise ValueError unless every array has the shape the model implies (the engine contract)."""
        T, G, S, J, W, X = (
            model.n_days,
            model.n_segments,
            model.n_stages,
            model.n_touchpoints,
            model.n_wom,
            model.n_routes,
        )
        shapes = dict(
            occupancy=(T + 1, G, S),
            occupancy_start=(T + 1, G, S),
            arrivals=(T + 1, G),
            moves=(T + 1, X),
            segment_flows=(G, S, S),
            new_converted=(T + 1, G),
            deliveries=(T + 1, J),
            engagements=(T + 1, J),
            cost=(T + 1, J),
            shares=(T + 1, W),
        )
        for name, shape in shapes.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"Run.{name} must have shape {shape}, got {got}")
        if tuple(s.name for s in self.services) != model.service_names:
            raise ValueError(
                f"Run.services must follow the model's services {model.service_names}, "
                f"got {tuple(s.name for s in self.services)}"
            )
