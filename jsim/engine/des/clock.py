"""The clocks of a discrete-event replication: threshold heaps, the daily clock process, the calendar processes.

Threshold clocks (:class:`ThresholdClocks`)
-------------------------------------------
A customer entering stage ``s`` of segment ``g`` at a day boundary draws ``E ~ Exp(1)`` and
leaves during the first day ``t`` with ``C[g, s](t) >= C[g, s](t0) + E``, ``C`` the cumulative
daily hazard of :func:`jsim.kernels.day_tables` (the fast engine's threshold algorithm). The
thresholds wait in one heap per (segment, stage); a service's request thresholds in one heap
per service, on the cumulative request hazard ``clock_hazard(delivery)``. Entries carry the
customer's version: a move or an outcome bumps it, so stale entries are skipped when popped.

The daily clock (:class:`DailyClock`)
-------------------------------------
A SimPy process that runs at the start of every day ``t`` (time ``t - 1``; day ``t`` is the
interval ``(t - 1, t]``), once every other event of that instant has run: it records
yesterday's census, computes the word-of-mouth shares from it (:func:`jsim.kernels.wom_shares`),
lets the day's arrivals join, computes day ``t``'s tables, advances every cumulative hazard and
pops the thresholds crossed today. A crossing at ``thr`` wakes its customer at the exact
crossing time ``(t - 1) + (thr - C(t - 1)) / hazard_t``; one dispatch process per day wakes the
day's customers in (time, customer) order, one ``Timeout`` after the other, so only one wake-up
of the day is pending at a time.

SimPy has no public way to give an event a priority after ``NORMAL``, so "after every other
event of this instant" is :func:`settle`: the clock yields ``Timeout(0)`` while
:meth:`simpy.Environment.peek` shows another event due now (each Timeout queues behind them).
SimPy schedules at ``now + delay``; :func:`exact_delay` finds the delay that lands exactly on a
wake-up's time.

The calendar
------------
Every per-day change is already in the model's arrays, which the clock obeys. The dated
changes (:func:`jsim.model.calendar.watched_series`) also run as SimPy processes that wake
only on the days a quantity changes and append ``(time, kind, where, what)`` to the trace;
capacity changes call :meth:`ServiceDesk.set_agents <jsim.engine.des.desk.ServiceDesk.set_agents>`
at the start of their first day.
"""

from __future__ import annotations

__all__ = ["ThresholdClocks", "DailyClock", "settle", "exact_delay", "start_calendar"]

import math
from collections.abc import Iterator
from heapq import heapify, heappop, heappush

import numpy as np

from ... import kernels
from ...model import Coefficients
from ...model.calendar import change_days, describe_move, watched_series
from .customer import REQUEST, STAGE


class ThresholdClocks:
    """Exp(1) thresholds on cumulative hazards: one heap of ``(threshold, customer, version)`` per key.

    Parameters
    ----------
    n_keys : int
        Keys (stage clocks: ``g * S + s``; request clocks: the service index).
    thresholds : iterator of float
        Exp(1) draws; :meth:`push` and :meth:`push_new` take one per customer.
    """

    __slots__ = ("cum", "heaps", "_exp")

    def __init__(self, n_keys: int, thresholds: Iterator[float]):
        self.cum = [0.0] * n_keys
        self.heaps = [[] for _ in range(n_keys)]
        self._exp = thresholds

    def push(self, key: int, i: int, version: int) -> None:
        """Customer ``i`` (at ``version``) starts a clock on ``key`` from the current cumulative hazard."""
        heappush(self.heaps[key], (self.cum[key] + next(self._exp), i, version))

    def push_new(self, key: int, lo: int, hi: int) -> None:
        """Customers ``lo..hi-1`` (version 0) start clocks on ``key``, one draw each in index order."""
        c, exp, heap = self.cum[key], self._exp, self.heaps[key]
        if heap:
            for i in range(lo, hi):
                heappush(heap, (c + next(exp), i, 0))
        else:
            heap.extend([(c + next(exp), i, 0) for i in range(lo, hi)])
            heapify(heap)

    def advance(self, key: int, hazard: float, versions: list, kind: int, tag: int, out: list) -> None:
        """Add ``hazard`` (> 0) to the clock of ``key``; append a wake-up for every current threshold crossed.

        Each wake-up is ``(f, customer, kind, version, tag)`` with ``f`` in [0, 1] the fraction of
        the day at which the threshold is crossed (the hazard is spread evenly over the day).
        """
        heap = self.heaps[key]
        c_old = self.cum[key]
        c_new = self.cum[key] = c_old + hazard
        while heap and heap[0][0] <= c_new:
            thr, i, v = heappop(heap)
            if v == versions[i]:
                out.append((min(1.0, max(0.0, (thr - c_old) / hazard)), i, kind, v, tag))


def settle(env):
    """Process steps that return once no other event is due at the current instant (yield from it)."""
    while env.peek() <= env.now:
        yield env.timeout(0)


class DailyClock:
    """The process that starts every day (see the module docstring).

    Parameters
    ----------
    env : simpy.Environment
    model : CompiledModel
    customers : Customers
    stages : ThresholdClocks
        Stage clocks, key ``g * S + s``.
    requests : ThresholdClocks
        Request clocks, key the service index.
    arrivals : (T+1, G) int64
        Arrivals per day and segment.
    tally : Tally
        Where the census (``occupancy``) and the shares are recorded.
    progress : callable or None
        ``progress(t, T)`` once per day.
    """

    def __init__(
        self,
        env,
        model,
        customers,
        stages: ThresholdClocks,
        requests: ThresholdClocks,
        arrivals: np.ndarray,
        tally,
        progress=None,
    ):
        self.env, self.model, self.customers = env, model, customers
        self.stages, self.requests = stages, requests
        self.arrivals, self.tally, self.progress = arrivals, tally, progress
        # the day tables see no service touchpoint: the desks carry their effects
        eff = np.array(model.exposure_effect)
        eff[:, model.svc_tp] = 0.0
        self.table_coefficients = Coefficients.initial(eff)
        self.request_hazard = [
            [kernels.clock_hazard(p) for p in model.delivery[:, sv.touchpoint].tolist()] for sv in model.services
        ]
        self.active = [s for s in range(model.n_stages) if not model.is_absorbing[s]]

    def run(self):
        """Process body: days 1..T, then the final census at time T."""
        env, m, tally, customers = self.env, self.model, self.tally, self.customers
        T, G = m.n_days, m.n_segments
        for t in range(1, T + 1):
            occ = customers.census()
            tally.occupancy[t - 1] = occ
            shares = tally.shares[t] = kernels.wom_shares(m, occ)
            customers.start_day(t)
            for g in range(G):
                customers.join(g, m.arrival_stage, int(self.arrivals[t, g]), t)
            prob, hazard, _ = kernels.day_tables(m, t, shares, self.table_coefficients)
            customers.set_tables(*kernels.alias_tables(prob, m.n_pairs))
            env.process(_dispatch(env, customers, self._crossings(t, hazard.tolist())))
            if self.progress is not None:
                self.progress(t, T)
            yield env.timeout(1.0)
            yield from settle(env)
        tally.occupancy[T] = customers.census()

    def _crossings(self, t: int, hazard: list) -> list:
        """Advance every clock by day ``t``'s hazards: the day's wake-ups ``(time, customer, kind, version,
        service)``, sorted."""
        customers, S = self.customers, self.model.n_stages
        wakes: list = []
        for g, h_g in enumerate(hazard):
            for s in self.active:
                if h_g[s] > 0.0:
                    self.stages.advance(g * S + s, h_g[s], customers.ver, STAGE, 0, wakes)
        for v, h_v in enumerate(self.request_hazard):
            if h_v[t] > 0.0:
                self.requests.advance(v, h_v[t], customers.rver, REQUEST, v, wakes)
        wakes.sort()
        return [(t - 1 + f, i, kind, version, v) for f, i, kind, version, v in wakes]


def exact_delay(now: float, at: float) -> float:
    """The delay ``d >= 0`` with ``now + d == at`` in floating point (SimPy schedules at ``now + delay``)."""
    d = at - now
    while now + d < at:
        d = math.nextafter(d, math.inf)
    while now + d > at:
        d = math.nextafter(d, -math.inf)
    return d


def _dispatch(env, customers, wakes: list):
    """Process body: wake each customer of ``wakes`` (sorted by time) at its time."""
    wake = customers.wake
    for at, i, kind, version, v in wakes:
        yield env.timeout(exact_delay(env.now, at))
        wake(i, kind, version, v)


def _watch(env, trace: list, kind: str, where: str, values: np.ndarray, apply=None):
    """Trace each day ``values`` changes (and ``apply(new)`` it) at the start of that day."""
    for t in change_days(values).tolist():
        yield env.timeout(t - 1 - env.now)
        trace.append((float(env.now), kind, where, f"{values[t - 1]:g} -> {values[t]:g}"))
        if apply is not None:
            apply(values[t])


def _one_off_move(env, trace: list, model, e: int):
    """Trace one-off move ``e`` at the start of its day (the move itself is a clock of the day tables)."""
    yield env.timeout(int(model.move_day[e]) - 1)
    trace.append((float(env.now), "move", "", describe_move(model, e)))


def start_calendar(env, model, desks, trace: list) -> None:
    """Start one process per watched quantity that changes and one per one-off move, tracing into ``trace``.

    Capacity changes staff ``desks`` (one per service, in the model's order).
    """
    staff = {
        ("capacity", sv.name): (lambda n, desk=desk: desk.set_agents(int(n))) for sv, desk in zip(model.services, desks)
    }
    for kind, where, values in watched_series(model):
        if len(change_days(values)):
            env.process(_watch(env, trace, kind, where, values, staff.get((kind, where))))
    for e in range(len(model.move_day)):
        env.process(_one_off_move(env, trace, model, e))
