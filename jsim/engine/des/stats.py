"""What a service desk recorded: :class:`ServiceStats`, and the engine's :class:`ServiceRecord` made from it.

:class:`ServiceStats` holds a desk's step function (queue length, busy, available and
scheduled agents at every change) and one row per request, and computes every queueing
statistic from them (Ciw's way: records first, statistics from records).
:func:`service_record` turns one replication's desk into the
:class:`~jsim.engine.records.ServiceRecord` every engine fills (``resolution="event"``): per-day
arrays, every wait (:class:`~jsim.engine.records.WaitLog`) and the desk's timeline
(:class:`~jsim.engine.records.DeskTimeline`).

Days: day ``t`` is the interval ``(t - 1, t]``, so something happening at time ``x`` belongs
to day ``ceil(x)`` (within ``1..T``).
"""

from __future__ import annotations

__all__ = ["ServiceStats", "service_record", "day_of"]

import math
from dataclasses import dataclass

import numpy as np

from ..records import DeskTimeline, ServiceRecord, WaitLog


@dataclass(frozen=True, eq=False)
class ServiceStats:
    """Records of a :class:`~jsim.engine.des.desk.ServiceDesk` up to ``t_end``, and the statistics computed from them.

    Step function (one row per change, in time order; row ``i`` holds on
    ``[times[i], times[i+1])``, the last row until ``t_end``):

    Attributes
    ----------
    times : (n_rows,) float64
        Days.
    queue_length : (n_rows,) int32
        Customers waiting (requested, not started, not abandoned).
    n_busy : (n_rows,) int32
        Agents serving a customer.
    n_available : (n_rows,) int32
        Slots not held by blockers: scheduled agents plus overtime of agents finishing a
        customer after capacity was lowered.
    n_scheduled : (n_rows,) int32
        Rostered agents (0 while closed).

    Per request, in request order:

    Attributes
    ----------
    customer_id : tuple
    t_request : (n_requests,) float64
    t_start : (n_requests,) float64
        Service start; nan if not started by ``t_end``.
    t_done : (n_requests,) float64
        Service end; nan if not finished by ``t_end``.
    t_abandon : (n_requests,) float64
        Abandonment time; nan unless abandoned.
    service, patience : (n_requests,) float64
        The draws (patience is inf without a patience distribution). Every request draws its
        service time, abandoned ones included.

    Windows
    -------
    Methods take ``t_from, t_to`` (days; ``t_to=None`` means ``t_end``). Time averages and
    agent-times integrate over ``[t_from, t_to]``; per-customer statistics use the customers
    who *requested* in ``[t_from, t_to)`` and have been resolved (served or abandoned), which
    is how a warm-up period is discarded and how batch means are formed.
    """

    name: str
    t_end: float
    times: np.ndarray
    queue_length: np.ndarray
    n_busy: np.ndarray
    n_available: np.ndarray
    n_scheduled: np.ndarray
    customer_id: tuple
    t_request: np.ndarray
    t_start: np.ndarray
    t_done: np.ndarray
    t_abandon: np.ndarray
    service: np.ndarray
    patience: np.ndarray

    # -- per-request ----------------------------------------------------------------------
    @property
    def is_served(self) -> np.ndarray:
        """(n_requests,) bool: service started."""
        return ~np.isnan(self.t_start)

    @property
    def is_abandoned(self) -> np.ndarray:
        """(n_requests,) bool: abandoned before service started."""
        return ~np.isnan(self.t_abandon)

    @property
    def n_requests(self) -> int:
        return len(self.t_request)

    @property
    def n_served(self) -> int:
        """Requests whose service started by ``t_end`` (finished or still in service)."""
        return int(self.is_served.sum())

    @property
    def n_abandoned(self) -> int:
        return int(self.is_abandoned.sum())

    @property
    def n_waiting(self) -> int:
        """Requests still queueing at ``t_end``."""
        return self.n_requests - self.n_served - self.n_abandoned

    @property
    def n_in_service(self) -> int:
        """Requests in service at ``t_end``."""
        return int((self.is_served & np.isnan(self.t_done)).sum())

    @property
    def waits_served(self) -> np.ndarray:
        """Waits (days) of served customers, in request order."""
        s = self.is_served
        return self.t_start[s] - self.t_request[s]

    @property
    def waits_abandoned(self) -> np.ndarray:
        """Waits (days) of abandoned customers (their realised patience), in request order."""
        a = self.is_abandoned
        return self.t_abandon[a] - self.t_request[a]

    def _requests_in(self, t_from: float, t_to: float | None) -> np.ndarray:
        t_to = self.t_end if t_to is None else t_to
        return (self.t_request >= t_from) & (self.t_request < t_to)

    def waits(self, t_from: float = 0.0, t_to: float | None = None, include_abandoned: bool = False) -> np.ndarray:
        """Waits (days) of customers who requested in ``[t_from, t_to)``: served, optionally abandoned too."""
        m = self._requests_in(t_from, t_to)
        served = m & self.is_served
        w = self.t_start[served] - self.t_request[served]
        if include_abandoned:
            ab = m & self.is_abandoned
            w = np.concatenate([w, self.t_abandon[ab] - self.t_request[ab]])
        return w

    def mean_wait(self, t_from: float = 0.0, t_to: float | None = None, include_abandoned: bool = False) -> float:
        """Mean wait in days of served customers (and abandoned ones if asked); nan if none."""
        w = self.waits(t_from, t_to, include_abandoned)
        return float(w.mean()) if len(w) else math.nan

    def wait_quantiles(
        self, qs, t_from: float = 0.0, t_to: float | None = None, include_abandoned: bool = False
    ) -> np.ndarray:
        """Quantiles ``qs`` (in [0, 1]) of the waits in days; nan if there are no waits."""
        w = self.waits(t_from, t_to, include_abandoned)
        qs = np.asarray(qs, dtype=np.float64)
        return np.quantile(w, qs) if len(w) else np.full(qs.shape, np.nan)

    def p_wait(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Share of resolved customers (served + abandoned) who waited more than 0."""
        w = self.waits(t_from, t_to, include_abandoned=True)
        return float((w > 0.0).mean()) if len(w) else math.nan

    def abandonment_rate(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Abandoned / (served + abandoned) among customers who requested in the window."""
        m = self._requests_in(t_from, t_to)
        n_ab = int((m & self.is_abandoned).sum())
        n = n_ab + int((m & self.is_served).sum())
        return n_ab / n if n else math.nan

    # -- time integrals -------------------------------------------------------------------
    def _integral(self, values: np.ndarray, t_from: float, t_to: float | None) -> float:
        t_to = self.t_end if t_to is None else t_to
        if not len(self.times) or t_to <= t_from:
            return 0.0
        starts = np.clip(self.times, t_from, t_to)
        ends = np.clip(np.append(self.times[1:], self.t_end), t_from, t_to)
        return float(np.dot(values, ends - starts))

    def queue_length_mean(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Time-average number of customers waiting over ``[t_from, t_to]``."""
        t_to = self.t_end if t_to is None else t_to
        return self._integral(self.queue_length, t_from, t_to) / (t_to - t_from) if t_to > t_from else math.nan

    def busy_time(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Busy agent-time (agent-days) over ``[t_from, t_to]``."""
        return self._integral(self.n_busy, t_from, t_to)

    def available_time(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Available agent-time (agent-days): scheduled agent-time plus overtime."""
        return self._integral(self.n_available, t_from, t_to)

    def scheduled_time(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Rostered agent-time (agent-days) over ``[t_from, t_to]``."""
        return self._integral(self.n_scheduled, t_from, t_to)

    def utilisation(self, t_from: float = 0.0, t_to: float | None = None) -> float:
        """Busy agent-time / available agent-time over ``[t_from, t_to]``; nan if nothing was available."""
        avail = self.available_time(t_from, t_to)
        return self.busy_time(t_from, t_to) / avail if avail > 0 else math.nan


def day_of(times: np.ndarray, n_days: int) -> np.ndarray:
    """(n,) int64 day ``ceil(x)`` of each time ``x`` (days), clipped to ``1..n_days``; NaN times are not allowed."""
    return np.clip(np.ceil(times), 1, n_days).astype(np.int64)


def _day_integrals(times: np.ndarray, values: np.ndarray, t_end: float, n_days: int) -> np.ndarray:
    """(T+1,) integral over each day ``[t - 1, t]`` of a step function (row i holds from ``times[i]``
    to the next row, the last to ``t_end``); row 0 is 0. Each day adds only the rows that overlap it."""
    out = np.zeros(n_days + 1)
    if not len(times):
        return out
    ends = np.append(times[1:], t_end)
    days = np.arange(n_days + 1, dtype=np.float64)
    first = np.searchsorted(ends, days[:-1], side="right")  # first row ending after t - 1
    last = np.searchsorted(times, days[1:], side="left")  # rows starting before t
    values = values.astype(np.float64)
    for t in range(1, n_days + 1):
        a, b = first[t - 1], last[t - 1]
        if a < b:
            overlap = np.clip(ends[a:b], t - 1, t) - np.clip(times[a:b], t - 1, t)
            out[t] = float(np.dot(values[a:b], overlap))
    return out


def service_record(
    name: str, touchpoint: int, stats: ServiceStats, request_day: np.ndarray, n_days: int
) -> ServiceRecord:
    """The event-resolution record (one replication) of a desk.

    Parameters
    ----------
    name : str
        The service touchpoint's name.
    touchpoint : int
        Its index.
    stats : ServiceStats
        The desk's records at the end of the run (``t_end = T``).
    request_day : (n_requests,) int64
        The day each request was made, in request order (the rows of ``stats``).
    n_days : int
        ``T``.

    Returns
    -------
    ServiceRecord
        Day arrays ``(1, T+1)``: ``requests`` (made that day), ``served`` (service started that
        day), ``abandoned`` (abandoned that day), ``queue`` (time-average queue length of the
        day), ``utilisation`` (busy over available agent-time of the day, 0 where no agent was
        available), ``mean_wait`` (days, mean wait of that day's requests that were served or
        abandoned, NaN where none); ``waits``: every resolved request in request order;
        ``timeline``: the desk's step function.
    """
    T = n_days
    request_day = np.asarray(request_day, dtype=np.int64)
    if len(request_day) != stats.n_requests:
        raise ValueError(
            f"request_day must have one day per request of desk {name!r} ({stats.n_requests}), got {len(request_day)}"
        )
    served, abandoned = stats.is_served, stats.is_abandoned
    resolved = served | abandoned
    wait = np.where(served, stats.t_start - stats.t_request, stats.t_abandon - stats.t_request)[resolved]
    outcome = np.where(served, 0, 1).astype(np.int8)[resolved]
    n_resolved = np.bincount(request_day[resolved], minlength=T + 1)
    total_wait = np.bincount(request_day[resolved], weights=wait, minlength=T + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_wait = np.where(n_resolved > 0, total_wait / n_resolved, np.nan)
    busy = _day_integrals(stats.times, stats.n_busy, stats.t_end, T)
    available = _day_integrals(stats.times, stats.n_available, stats.t_end, T)
    utilisation = np.divide(busy, available, out=np.zeros(T + 1), where=available > 0)
    queue = _day_integrals(stats.times, stats.queue_length, stats.t_end, T)  # days are 1 long: the mean
    count = lambda days: np.bincount(days, minlength=T + 1).astype(np.float64)
    row = lambda a: np.asarray(a, dtype=np.float64)[None, :]
    return ServiceRecord(
        name=name,
        touchpoint=touchpoint,
        resolution="event",
        requests=row(count(request_day)),
        served=row(count(day_of(stats.t_start[served], T))),
        abandoned=row(count(day_of(stats.t_abandon[abandoned], T))),
        queue=row(queue),
        utilisation=row(utilisation),
        mean_wait=row(mean_wait),
        waits=(WaitLog(stats.t_request[resolved], wait, outcome),),
        timeline=(DeskTimeline(stats.times, stats.queue_length, stats.n_busy, stats.n_available, stats.n_scheduled),),
    )
