"""A capacity-limited service desk (live chat, phone support, couriers) as a SimPy component.

A :class:`ServiceDesk` is a pool of agents that customers queue for, first come first served.
Customers are SimPy processes: ``outcome = yield env.process(desk.serve(customer_id))``. A
customer with finite patience abandons when the patience runs out before service starts
(``yield request | env.timeout(patience)``; the request is then cancelled). Patience keeps
running while the desk is closed.

Time is in **days** (floats). Parameters quoted in hours or minutes are converted with
:data:`HOUR` and :data:`MINUTE` (``Distribution.from_minutes("exponential", 6)``); opening
hours are given in hours of the day.

How capacity varies
-------------------
The agents are the ``max_agents`` slots of a ``simpy.PriorityResource``. Slots that are not
staffed (the desk is closed, or fewer agents are rostered than ``max_agents``) are held by
*blocker* requests of priority ``-1``, which queue ahead of every customer (priority ``0``):

* lowering capacity issues blocker requests; a free slot is taken at once, a busy agent
  finishes the customer in hand and the blocker takes the slot next (no preemption);
* raising capacity cancels blockers still waiting, then releases blockers holding slots,
  whose slots go to the customers at the head of the queue.

Capacity changes come from :meth:`ServiceDesk.set_agents` (hiring), from ``agents`` given as
a function of the day (evaluated at each day's opening), and from ``open_hours``. A desk
whose capacity depends on the clock runs a roster process forever, so run it with
``env.run(until=...)``.

SimPy's ``SortedQueue`` re-sorts the whole queue on every request (O(n) per request, O(n^2)
to build a queue of n). Here requests carry two priorities and arrive in time order, so the
resource uses two FIFO deques instead (:class:`_BlockersFirstQueue`): the same order, in O(1).

Accounting
----------
The desk records a step function of (queue length, busy agents, available agents, scheduled
agents) at every change, and one row per request. *Available* agents are the slots not held
by blockers: the scheduled (rostered) agents plus agents still finishing a customer after
capacity was lowered (overtime), so ``busy <= available`` always and utilisation = busy
agent-time / available agent-time is at most 1. :class:`~jsim.engine.des.stats.ServiceStats`
(:attr:`ServiceDesk.stats`) computes every statistic from these records.

Randomness
----------
Every draw comes from the one ``numpy.random.Generator`` given to the desk. Each request draws,
at the moment it is made and whatever happens to it, its patience (if the desk has a patience
distribution) and then its service time: one Generator call per non-``fixed`` distribution.
The same seed and the same arrival times give bit-identical records, and a customer's service
time does not depend on the staffing (common random numbers across staffing scenarios).
"""

from __future__ import annotations

__all__ = ["HOUR", "MINUTE", "Distribution", "ServiceOutcome", "ServiceDesk", "desk_for_service"]

import math
import operator
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from .stats import ServiceStats

#: One hour in days (the desk's time unit).
HOUR = 1.0 / 24.0
#: One minute in days.
MINUTE = 1.0 / 1440.0

_KINDS = ("exponential", "fixed", "lognormal", "gamma")
_BLOCKER = -1  # request priority of a blocker (lower is served first)
_CUSTOMER = 0


@dataclass(frozen=True)
class Distribution:
    """A positive random duration in days: service times and patience.

    Parameters
    ----------
    kind : {"exponential", "fixed", "lognormal", "gamma"}
        Family. ``fixed`` is the constant ``mean``.
    mean : float
        Mean in days; > 0 (``fixed`` also allows 0: a patience of 0 means "served at once or
        lost", the Erlang loss system).
    sd : float, optional
        Standard deviation in days, > 0; required by ``lognormal`` and ``gamma``, not accepted
        by ``exponential`` (sd = mean) and ``fixed`` (sd = 0).

    Notes
    -----
    ``lognormal``: ``sigma^2 = ln(1 + sd^2 / mean^2)``, ``mu = ln(mean) - sigma^2 / 2``.
    ``gamma``: shape ``mean^2 / sd^2``, scale ``sd^2 / mean``. :meth:`sample` makes one
    Generator call, except for ``fixed`` (none).
    """

    kind: str
    mean: float
    sd: float | None = None
    _a: float = field(init=False, repr=False, compare=False)
    _b: float = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        kind, mean, sd = self.kind, self.mean, self.sd
        if kind not in _KINDS:
            raise ValueError(f"Distribution.kind must be one of {_KINDS}, got {kind!r}")
        if not (isinstance(mean, (int, float, np.integer, np.floating)) and math.isfinite(mean)):
            raise ValueError(f"Distribution({kind!r}).mean must be a finite number of days, got {mean!r}")
        mean = float(mean)
        if mean < 0.0 or (mean == 0.0 and kind != "fixed"):
            raise ValueError(f"Distribution({kind!r}).mean must be > 0, got {mean!r}")
        if kind in ("lognormal", "gamma"):
            if sd is None or not math.isfinite(sd) or sd <= 0.0:
                raise ValueError(f"Distribution({kind!r}).sd must be a number > 0 (days), got {sd!r}")
            sd = float(sd)
        elif sd is not None:
            implied = "sd = mean" if kind == "exponential" else "sd = 0"
            raise ValueError(
                f"Distribution({kind!r}) takes no sd ({implied}), got sd={sd!r} (leave sd out, "
                f"or use 'gamma'/'lognormal' for another spread)"
            )
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "sd", sd)
        a = b = 0.0
        if kind == "lognormal":
            b = math.sqrt(math.log1p((sd / mean) ** 2))  # sigma
            a = math.log(mean) - 0.5 * b * b  # mu
        elif kind == "gamma":
            a = (mean / sd) ** 2  # shape
            b = sd * sd / mean  # scale
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_b", b)

    @classmethod
    def from_hours(cls, kind: str, mean: float, sd: float | None = None) -> Distribution:
        """The distribution with ``mean`` and ``sd`` given in hours."""
        return cls(kind, mean * HOUR, None if sd is None else sd * HOUR)

    @classmethod
    def from_minutes(cls, kind: str, mean: float, sd: float | None = None) -> Distribution:
        """The distribution with ``mean`` and ``sd`` given in minutes."""
        return cls(kind, mean * MINUTE, None if sd is None else sd * MINUTE)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw, in days."""
        kind = self.kind
        if kind == "exponential":
            return float(rng.exponential(self.mean))
        if kind == "fixed":
            return self.mean
        if kind == "lognormal":
            return float(rng.lognormal(self._a, self._b))
        return float(rng.gamma(self._a, self._b))

    def moments(self) -> tuple[float, float]:
        """``(mean, variance)`` in days and days squared."""
        if self.kind == "exponential":
            return self.mean, self.mean**2
        if self.kind == "fixed":
            return self.mean, 0.0
        return self.mean, self.sd**2


@dataclass(frozen=True)
class ServiceOutcome:
    """What happened to one request; the value of a :meth:`ServiceDesk.serve` process.

    Attributes
    ----------
    customer_id : object
        As passed to :meth:`ServiceDesk.serve` (the request's index if none was).
    served : bool
        True if service started (and, when the process returns, finished); False if the
        customer abandoned.
    t_request, t_start, t_done : float
        Request time, service start (nan if abandoned), and the time the customer leaves
        (service end, or abandonment), in days.
    wait : float
        Days spent queueing: ``t_start - t_request``, or ``t_done - t_request`` if abandoned.
    service : float
        Service duration in days (0.0 if abandoned).
    """

    customer_id: object
    served: bool
    t_request: float
    t_start: float
    t_done: float
    wait: float
    service: float


def _as_array(buf, dtype) -> np.ndarray:
    return np.frombuffer(buf, dtype=dtype).copy() if len(buf) else np.empty(0, dtype=dtype)


class _BlockersFirstQueue:
    """Put queue of the desk's resource: blockers (priority < 0), then customers, each FIFO.

    The order SimPy's ``SortedQueue`` gives (by priority, then request time; stable), in O(1)
    per request, because the desk only ever uses two priorities and requests are made in time
    order. Supports what ``BaseResource`` and ``Put.cancel`` use: ``append``, ``pop(i)``,
    ``[i]``, ``len`` and ``remove``.
    """

    __slots__ = ("_blockers", "_customers")

    def __init__(self):
        self._blockers = deque()
        self._customers = deque()

    def _part(self, idx: int):
        n_b = len(self._blockers)
        return (self._blockers, idx) if idx < n_b else (self._customers, idx - n_b)

    def append(self, request) -> None:
        (self._blockers if request.priority < 0 else self._customers).append(request)

    def __len__(self) -> int:
        return len(self._blockers) + len(self._customers)

    def __getitem__(self, idx: int):
        part, i = self._part(idx)
        return part[i]

    def pop(self, idx: int = 0):
        part, i = self._part(idx)
        if i == 0:
            return part.popleft()
        item = part[i]
        del part[i]
        return item

    def remove(self, request) -> None:
        (self._blockers if request.priority < 0 else self._customers).remove(request)

    def __iter__(self):
        yield from self._blockers
        yield from self._customers


class _DeskResource(simpy.PriorityResource):
    """``PriorityResource`` with the O(1) two-priority FIFO put queue."""

    PutQueue = _BlockersFirstQueue


class ServiceDesk:
    """A pool of agents serving customers first come first served, with abandonment.

    Parameters
    ----------
    env : simpy.Environment
        Time in days.
    name : str
        Touchpoint name, used in messages and stats.
    agents : int or callable
        Agents on duty while open: a count, or ``agents(day) -> int`` evaluated at each day's
        opening (``day`` = ``floor(t)``). Overridden by :meth:`set_agents`.
    service : Distribution
        Service time in days.
    patience : Distribution or None
        Time a customer waits before abandoning, in days; None: customers never abandon.
    rng : numpy.random.Generator
        The desk's only source of randomness (see the module docstring for the draw order).
    open_hours : (float, float)
        Opening and closing hour of every day, ``0 <= open < close <= 24``; ``(0, 24)`` is
        always open. Closing before opening (overnight shifts) is not supported.
    max_agents : int, optional
        Slots of the underlying resource, the most agents ever on duty. Defaults to
        ``agents`` when it is an int; required when ``agents`` is callable.

    Notes
    -----
    A customer is ``env.process(desk.serve(customer_id))``; its value is a
    :class:`ServiceOutcome`. Customers must not be interrupted while at the desk.
    """

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        agents: int | Callable[[int], int],
        service: Distribution,
        patience: Distribution | None,
        rng: np.random.Generator,
        open_hours: tuple[float, float] = (0.0, 24.0),
        max_agents: int | None = None,
    ):
        where = f"ServiceDesk({name!r})"
        if not isinstance(service, Distribution):
            raise TypeError(f"{where}: service must be a Distribution, got {type(service).__name__}")
        if patience is not None and not isinstance(patience, Distribution):
            raise TypeError(f"{where}: patience must be a Distribution or None, got {type(patience).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                f"{where}: rng must be a numpy.random.Generator, got {type(rng).__name__} "
                f"(use numpy.random.default_rng(seed))"
            )
        try:
            t_open, t_close = (float(h) for h in open_hours)
        except (TypeError, ValueError):
            raise ValueError(
                f"{where}: open_hours must be two hours of the day (open, close), got {open_hours!r}"
            ) from None
        if not 0.0 <= t_open < t_close <= 24.0:
            raise ValueError(
                f"{where}: open_hours must satisfy 0 <= open < close <= 24, got {open_hours!r} "
                f"(overnight shifts are not supported; use (0, 24) for always open)"
            )
        if callable(agents):
            if max_agents is None:
                raise ValueError(
                    f"{where}: max_agents is required when agents is a function of the day "
                    f"(pass the most agents it ever returns)"
                )
            staff = agents
        else:
            staff = self._count(agents, "agents", where)
            if max_agents is None:
                max_agents = max(staff, 1)
        max_agents = self._count(max_agents, "max_agents", where)
        if max_agents < 1:
            raise ValueError(f"{where}: max_agents must be >= 1, got {max_agents}")

        self.env = env
        self.name = name
        self.service = service
        self.patience = patience
        self.max_agents = max_agents
        self.open_hours = (t_open, t_close)
        self._rng = rng
        self._where = where
        self._staff = staff
        self._t_open = t_open / 24.0  # fractions of a day
        self._t_close = t_close / 24.0
        self._resource = _DeskResource(env, capacity=max_agents)
        self._blockers: list = []  # blocker requests in creation order: granted ones first
        self._live: set = set()  # blockers not yet removed
        self._q = 0
        self._busy = 0
        self._off = 0  # slots held by granted blockers
        self._scheduled = 0
        # step function of (queue, busy, available, scheduled); one row per change
        self._log_t = array("d")
        self._log_q = array("i")
        self._log_busy = array("i")
        self._log_avail = array("i")
        self._log_sched = array("i")
        # one row per request
        self._ids: list = []
        self._r_request = array("d")
        self._r_start = array("d")
        self._r_done = array("d")
        self._r_abandon = array("d")
        self._r_service = array("d")
        self._r_patience = array("d")

        now = env.now
        self._day = math.floor(now)
        always_open = self._t_open == 0.0 and self._t_close == 1.0
        self._open = always_open or self._day + self._t_open <= now < self._day + self._t_close
        self._apply()
        if callable(staff) or not always_open:
            env.process(self._roster())

    @staticmethod
    def _count(value, what: str, where: str) -> int:
        try:
            n = operator.index(value)
        except TypeError:
            raise TypeError(f"{where}: {what} must be a whole number, got {value!r}") from None
        if n < 0:
            raise ValueError(f"{where}: {what} must be >= 0, got {n}")
        return n

    # -- state -----------------------------------------------------------------------------
    @property
    def queue_length(self) -> int:
        """Customers waiting now."""
        return self._q

    @property
    def n_busy(self) -> int:
        """Agents serving a customer now."""
        return self._busy

    @property
    def n_available(self) -> int:
        """Slots not held by blockers now (scheduled agents plus overtime)."""
        return self.max_agents - self._off

    @property
    def n_scheduled(self) -> int:
        """Agents rostered now (0 while closed)."""
        return self._scheduled

    @property
    def is_open(self) -> bool:
        return self._open

    # -- capacity ----------------------------------------------------------------------------
    def set_agents(self, n: int) -> None:
        """Set the agents on duty while open to ``n`` from now on (replaces an ``agents`` function).

        New services start under the new capacity at once; agents busy when capacity drops
        finish their customer first.
        """
        n = self._count(n, "set_agents(n)", self._where)
        if n > self.max_agents:
            raise ValueError(
                f"{self._where}: set_agents(n) needs n <= max_agents={self.max_agents}, got {n} "
                f"(build the desk with max_agents={n} or more)"
            )
        self._staff = n
        self._apply()

    def _target(self) -> int:
        if not self._open:
            return 0
        if not callable(self._staff):
            return self._staff
        n = self._staff(self._day)
        try:
            n = operator.index(n)
        except TypeError:
            raise TypeError(f"{self._where}: agents({self._day}) must return a whole number, got {n!r}") from None
        if not 0 <= n <= self.max_agents:
            raise ValueError(
                f"{self._where}: agents({self._day}) must be within [0, max_agents={self.max_agents}], got {n}"
            )
        return n

    def _apply(self) -> None:
        """Make the number of blockers equal to ``max_agents - target``."""
        target = self._target()
        self._scheduled = target
        want = self.max_agents - target
        blockers = self._blockers
        while len(blockers) < want:
            req = self._resource.request(priority=_BLOCKER)
            blockers.append(req)
            self._live.add(req)
            req.callbacks.append(self._on_blocker_granted)
        while len(blockers) > want:
            req = blockers.pop()  # newest first: waiting blockers before holding ones
            self._live.discard(req)
            if not req.triggered:
                req.cancel()
            else:
                if req.processed:  # its grant was counted in _off
                    self._off -= 1
                self._resource.release(req)
        self._log()

    def _on_blocker_granted(self, req) -> None:
        if req in self._live:
            self._off += 1
            self._log()

    def _roster(self):
        """Apply the opening and closing of every day (and the day's ``agents``) at its time."""
        env = self.env
        t_open, t_close = self._t_open, self._t_close
        skip_close = t_open == 0.0 and t_close == 1.0  # closing at 24 is the next day's opening
        day = self._day
        while True:
            for offset, opening in ((t_open, True), (t_close, False)):
                if skip_close and not opening:
                    continue
                t = day + offset
                if t <= env.now:  # already applied by __init__
                    continue
                yield env.timeout(t - env.now)
                self._open = opening
                if opening:
                    self._day = day
                self._apply()
            day += 1

    # -- records -----------------------------------------------------------------------------
    def _log(self) -> None:
        self._log_t.append(self.env.now)
        self._log_q.append(self._q)
        self._log_busy.append(self._busy)
        self._log_avail.append(self.max_agents - self._off)
        self._log_sched.append(self._scheduled)

    @property
    def stats(self) -> ServiceStats:
        """A snapshot of the records up to now (copies)."""
        f8 = np.float64
        i4 = np.int32
        return ServiceStats(
            name=self.name,
            t_end=float(self.env.now),
            times=_as_array(self._log_t, f8),
            queue_length=_as_array(self._log_q, i4),
            n_busy=_as_array(self._log_busy, i4),
            n_available=_as_array(self._log_avail, i4),
            n_scheduled=_as_array(self._log_sched, i4),
            customer_id=tuple(self._ids),
            t_request=_as_array(self._r_request, f8),
            t_start=_as_array(self._r_start, f8),
            t_done=_as_array(self._r_done, f8),
            t_abandon=_as_array(self._r_abandon, f8),
            service=_as_array(self._r_service, f8),
            patience=_as_array(self._r_patience, f8),
        )

    # -- customers ---------------------------------------------------------------------------
    def serve(self, customer_id=None):
        """Process body of one customer: queue, maybe abandon, be served.

        Use as ``outcome = yield env.process(desk.serve(customer_id))``; the value is a
        :class:`ServiceOutcome`. Draws patience (if any) and then the service time from the
        desk's Generator at the moment of the request.
        """
        env = self.env
        rng = self._rng
        patience = math.inf if self.patience is None else self.patience.sample(rng)
        service = self.service.sample(rng)
        t_request = env.now
        i = len(self._r_request)
        if customer_id is None:
            customer_id = i
        self._ids.append(customer_id)
        self._r_request.append(t_request)
        self._r_start.append(math.nan)
        self._r_done.append(math.nan)
        self._r_abandon.append(math.nan)
        self._r_service.append(service)
        self._r_patience.append(patience)
        self._q += 1
        self._log()

        req = self._resource.request(priority=_CUSTOMER)
        if self.patience is None:
            yield req
        else:
            yield req | env.timeout(patience)
            if not req.triggered:  # patience ran out first
                req.cancel()
                t = env.now
                self._q -= 1
                self._log()
                self._r_abandon[i] = t
                return ServiceOutcome(customer_id, False, t_request, math.nan, t, t - t_request, 0.0)
        t_start = env.now
        self._r_start[i] = t_start
        self._q -= 1
        self._busy += 1
        self._log()
        yield env.timeout(service)
        t_done = env.now
        self._r_done[i] = t_done
        self._busy -= 1
        self._log()
        self._resource.release(req)
        return ServiceOutcome(customer_id, True, t_request, t_start, t_done, t_start - t_request, service)


def desk_for_service(env: simpy.Environment, service, rng: np.random.Generator, n_days: int) -> ServiceDesk:
    """The desk of a compiled service touchpoint.

    Parameters
    ----------
    env : simpy.Environment
        Time in days.
    service : CompiledService
        Durations in days, opening hours as fractions of a day, ``agents (T+1,)`` per day.
    rng : numpy.random.Generator
        The desk's draws (patience and service times).
    n_days : int
        ``T``.

    Returns
    -------
    ServiceDesk
        Staffed with the agents of day 1 (later days by the calendar's capacity changes through
        :meth:`ServiceDesk.set_agents`), with as many slots as the most agents on any day.
    """

    def dist(kind: str, mean: float, sd: float) -> Distribution | None:
        if kind == "":  # no patience: customers never abandon
            return None
        return Distribution(kind, mean, None if kind in ("exponential", "fixed") or math.isnan(sd) else sd)

    sv = service
    return ServiceDesk(
        env,
        sv.name,
        int(sv.agents[min(1, n_days)]),
        dist(sv.service_dist, sv.service_mean, sv.service_sd),
        dist(sv.patience_dist, sv.patience_mean, sv.patience_sd),
        rng,
        open_hours=(sv.open_from * 24.0, sv.open_to * 24.0),
        max_agents=max(1, int(sv.agents.max())),
    )
