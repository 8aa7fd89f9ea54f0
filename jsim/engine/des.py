"""The discrete-event engine: one SimPy process per customer, woken only when something happens.

Semantics are those of ``docs/model.md``, realised in continuous time with the threshold
algorithm of the fast engine (:func:`jsim.kernels._core._coupled_chunk`):

* a customer entering stage ``s`` at day boundary ``t0`` (day-0 customers: ``t0 = 0``;
  arrivals of day ``t``: ``t0 = t - 1``; after a move during day ``t``: ``t0 = t``, so at most
  one threshold move per day) draws ``E ~ Exp(1)`` and moves during the first day ``t`` with
  ``C[g, s](t) >= C[g, s](t0) + E``, ``C`` the cumulative daily hazard of
  :func:`jsim.kernels.day_tables`;
* one *clock* process runs at the start of every day ``t`` (time ``t - 1``; days are the
  intervals ``(t - 1, t]``): it records yesterday's census, computes the word-of-mouth shares
  from it, lets the day's arrivals join, computes day ``t``'s tables, advances ``C``, pops
  every customer whose threshold is crossed from a heap per (segment, stage), and sets each
  one's alarm at the exact crossing time ``(t - 1) + (thr - C(t - 1)) / hazard_t``;
* the woken customer draws its (source, destination) pair from day ``t``'s
  ``prob / leave`` (Walker alias tables), records the move and pushes its next threshold
  ``C[g, d](t) + E'``.

Without service blocks this is the fast engine's algorithm, so both engines agree in
distribution (not draw for draw: the random streams differ, except arrivals and exposure
counts, which use the fast engine's named streams).

Calendar
--------
Every per-day change is already in the model's arrays, which the clock obeys. The dated
changes also run as SimPy processes that wake only on the days a quantity changes and append
``(time, kind, touchpoint, what)`` to the ``events`` trace; capacity changes call
:meth:`ServiceDesk.set_agents <jsim.engine.service.ServiceDesk.set_agents>` at the start of
their first day.

Service touchpoints
-------------------
A touchpoint with a service block does not act through the day tables (its column of
``exposure_effect`` is zeroed for them). Instead each customer it targets makes requests with
daily probability ``delivery[t, j]`` (a second threshold clock, cumulative hazard
``-ln(1 - delivery)``, driven by the same clock process) and queues at the touchpoint's
:class:`~jsim.engine.service.ServiceDesk`. On the outcome, with probability
``1 - exp(-wait_loss_rate * wait)`` (``wait``: time queued, up to service or abandonment) the
customer moves to ``loss_stage``; otherwise a served customer moves by the touchpoint's effects
``q[g, j, s, :]`` times the request day's ``exposure_effect / delivery`` (engagement, fatigue
and calendar effect multiplier, as an exposure of the day-resolution engines), an abandoning
one by ``abandon_q[g, s, :]``; moves into purchase stages are scaled by the request day's
purchase multiplier. Such a move happens at the outcome time, from the stage the customer
stands in then, is credited to source ``1 + j``, cancels the pending stage threshold (heap
entries carry a version number; stale ones are skipped) and restarts the clocks from the next
day boundary. A customer makes one request at a time (requests that fall while they are at a
desk are dropped), the request clocks restart from the next day boundary after each outcome,
and stage moves keep happening while a customer queues. Customers in absorbing stages never
move, whatever the outcome.

Randomness
----------
One replication's ``SeedSequence`` is spawned into the fast engine's named streams
(:data:`jsim.engine.fast.STREAMS`); ``arrivals`` and ``exposures`` are used exactly as there,
and ``customers`` is spawned again into :data:`DES_STREAMS`: thresholds (Exp(1)), pair picks,
service outcomes (uniforms, drawn in blocks of :data:`BLOCK`) and one child per desk. Events
at equal times run in scheduling order and the clock orders each day's alarms by (time,
customer), so the same seed gives bit-identical results.
"""

from __future__ import annotations

__all__ = ["run_des", "DES_STREAMS", "BLOCK"]

import dataclasses
import gc
import math
import time
from array import array
from heapq import heapify, heappop, heappush

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from ..kernels import alias_tables, day_tables
from ..model.calendar import DAY_PURCHASE, DAY_TRANSITIONS, DAY_WOM
from ..rng import named_streams
from .fast import STREAMS, _arrivals, _exposures
from .service import Distribution, ServiceDesk

#: Children of the fast engine's ``customers`` stream, in spawn order (part of the contract).
DES_STREAMS = ("thresholds", "pairs", "outcomes", "desks")
#: Random numbers drawn per Generator call (buffered; consumed in event order).
BLOCK = 4096
#: A day on which leaving is certain gets this hazard (as in :mod:`jsim.kernels._core`).
HAZARD_MAX = 50.0

_LATE = 2  # priority after URGENT (0) and NORMAL (1): the clock runs once a day's other events are done
_STAGE, _REQUEST = 0, 1  # alarm messages: (kind, version, service index)


class _Alarm(Event):
    """An event that another process sets to go off later, carrying a value (a Timeout set after creation)."""

    def ring(self, delay: float, value, priority=NORMAL) -> None:
        self._ok = True
        self._value = value
        self.env.schedule(self, priority, delay)


def _exponentials(rng: np.random.Generator):
    """Endless strictly positive Exp(1) draws, ``BLOCK`` per Generator call: ``-log(U + 2^-54)``."""
    while True:
        yield from (-np.log(rng.random(BLOCK) + 0.5 / 9007199254740992.0)).tolist()


def _uniforms(rng: np.random.Generator):
    """Endless uniforms on [0, 1), ``BLOCK`` per Generator call."""
    while True:
        yield from rng.random(BLOCK).tolist()


def _distribution(kind: str, mean: float, sd: float) -> Distribution | None:
    if kind == "":
        return None
    return Distribution(kind, mean, None if kind in ("exponential", "fixed") or math.isnan(sd) else sd)


def _change_days(values: np.ndarray) -> np.ndarray:
    """Days t in 2..T whose value differs from day t-1 (relative tolerance 1e-9)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 3:
        return np.zeros(0, dtype=np.int64)
    same = np.isclose(v[2:], v[1:-1], rtol=1e-9, atol=0.0)
    return np.flatnonzero(~same) + 2


class _Run:
    """State of one replication. Built and run by :func:`run_des`."""

    def __init__(self, model, seq: np.random.SeedSequence, progress):
        m = self.model = model
        self.progress = progress
        T, G, S, J = m.n_days, m.n_segments, m.n_stages, m.n_touchpoints
        self.T, self.G, self.S, self.K = T, G, S, m.n_sources
        streams = named_streams(seq, STREAMS)
        self.arrivals = _arrivals(m, streams["arrivals"])
        self.exposure_seq = streams["exposures"]
        des = named_streams(streams["customers"], DES_STREAMS)
        self.exp = _exponentials(np.random.default_rng(des["thresholds"]))
        self.unif = _uniforms(np.random.default_rng(des["pairs"]))
        self.unif_out = _uniforms(np.random.default_rng(des["outcomes"]))
        self.env = env = simpy.Environment()

        # the day tables see no service touchpoint: the desks carry their effects
        self.services = m.services
        eff = np.array(m.exposure_effect)
        for sv in self.services:
            eff[:, sv.touchpoint] = 0.0
        self.table_model = dataclasses.replace(m, exposure_effect=eff) if self.services else m
        self.is_absorbing = m.is_absorbing.tolist()
        self.is_converted = m.is_converted.tolist()
        self.pair_src = m.pair_src.tolist()
        self.pair_dst = m.pair_dst.tolist()
        self.n_pairs = m.n_pairs.tolist()
        self.active = [s for s in range(S) if not m.is_absorbing[s]]
        # service v reaches (g, s) when its touchpoint targets it
        V = len(self.services)
        self.svc_targets = [[tuple(v for v, sv in enumerate(self.services) if m.target[sv.touchpoint, g, s])
                             for s in range(S)] for g in range(G)]
        with np.errstate(divide="ignore"):  # delivery 1: a sure request, hazard HAZARD_MAX
            self.req_hazard = [np.minimum(-np.log1p(-m.delivery[:, sv.touchpoint]), HAZARD_MAX).tolist()
                               for sv in self.services]
        self.req_cum = [0.0] * V
        self.req_heaps = [[] for _ in range(V)]
        # (T+1, J) engagement * fatigue * calendar effect multiplier: what an exposure's effects are
        # multiplied by on a day it is delivered (requests are only made on such days)
        self.served_factor = m.engagement[None, :] * m.fatigue * m.effect_mult
        self.purchase_mult = np.where(m.is_purchase[None, :], m.day_mult[:, DAY_PURCHASE, None], 1.0)  # (T+1, S)
        desk_seqs = des["desks"].spawn(V) if V else []
        self.desks = [ServiceDesk(env, sv.name, int(sv.agents[min(1, T)]),
                                  _distribution(sv.service_dist, sv.service_mean, sv.service_sd),
                                  _distribution(sv.patience_dist, sv.patience_mean, sv.patience_sd),
                                  np.random.default_rng(desk_seqs[v]),
                                  open_hours=(sv.open_from * 24.0, sv.open_to * 24.0),
                                  max_agents=max(1, int(sv.agents.max())))
                      for v, sv in enumerate(self.services)]
        self.requests = np.zeros((V, T + 1), dtype=np.int64)
        self.served_requests = np.zeros((V, T + 1), dtype=np.int64)
        self.svc_moves = np.zeros((V, 3, S, S), dtype=np.int64)  # served, abandoned, wait-loss

        # customers: index order as in the fast engine (day-0 cells by segment and stage, then arrivals by day)
        n_total = int(m.initial.sum() + self.arrivals.sum())
        self.stage = [0] * n_total
        self.seg = [0] * n_total
        self.ver = [0] * n_total  # stage-threshold version (bumped by every move)
        self.rver = [0] * n_total  # request-threshold version (bumped when the request clocks restart)
        self.conv = bytearray(n_total)
        self.busy = bytearray(n_total)
        self.alarm = [None] * n_total
        self.extra = {}  # customer -> [(time, message)] alarms that fell while one was already set
        self.n_customers = 0
        self.cum = [[0.0] * S for _ in range(G)]
        self.heaps = [[[] for _ in range(S)] for _ in range(G)]
        self.occ = [[0] * S for _ in range(G)]
        self.occupancy = np.zeros((T + 1, G, S), dtype=np.int64)
        self.shares = np.zeros((T + 1, m.n_wom))
        self.moves = array("q")  # one code per move: (((t * G + g) * S + s) * S + d) * K + k
        self.conversions = array("q")  # one code per first conversion: t * G + g
        self.events = []
        self.day = self.day_code = 0
        self.thresh = self.alias_ = None

    # -- customers ----------------------------------------------------------------------------
    def _join(self, g: int, s: int, n: int, t: int) -> None:
        """``n`` customers of segment g join stage s at the start of day t (t = 0: the initial state)."""
        if n == 0:
            return
        env, exp = self.env, self.exp
        lo = self.n_customers
        hi = self.n_customers = lo + n
        self.occ[g][s] += n
        if self.is_converted[s]:
            self.conversions.extend([t * self.G + g] * n)
            self.conv[lo:hi] = b"\x01" * n
        self.stage[lo:hi] = [s] * n
        self.seg[lo:hi] = [g] * n
        absorbing = self.is_absorbing[s]
        targets = self.svc_targets[g][s]
        if not absorbing:
            c = self.cum[g][s]
            heap = self.heaps[g][s]
            if heap:
                for i in range(lo, hi):
                    heappush(heap, (c + next(exp), i, 0))
            else:
                heap.extend([(c + next(exp), i, 0) for i in range(lo, hi)])
                heapify(heap)
        for v in targets:
            c = self.req_cum[v]
            heap = self.req_heaps[v]
            for i in range(lo, hi):
                heappush(heap, (c + next(exp), i, 0))
        if absorbing and not targets:
            return  # nothing can ever happen to them: their process would end at once
        Alarm, alarm, process, journey = _Alarm, self.alarm, env.process, self._journey
        for i in range(lo, hi):
            alarm[i] = Alarm(env)
            process(journey(i))

    def _journey(self, i: int):
        """Process of customer i: sleeps on its alarm; stage moves and service requests when it rings."""
        alarm = self.alarm[i]
        ver, rver, busy = self.ver, self.rver, self.busy
        stage, seg, n_pairs, unif, pair_src, pair_dst = self.stage, self.seg, self.n_pairs, self.unif, self.pair_src, self.pair_dst
        while True:
            msg = yield alarm
            alarm = self._rearm(i)
            if msg[0] == _STAGE:
                if msg[1] == ver[i]:  # else stale: a service outcome moved the customer meanwhile
                    # _stage_move, inlined: the hot path of the engine
                    g, s = seg[i], stage[i]
                    n = n_pairs[g][s]
                    x = next(unif) * n
                    ip = int(x)
                    if ip >= n:
                        ip = n - 1
                    if x - ip >= self.thresh[g][s][ip]:
                        ip = self.alias_[g][s][ip]
                    self._move(i, g, s, pair_dst[g][s][ip], pair_src[g][s][ip])
            elif msg[1] == rver[i] and not busy[i]:
                yield from self._request(i, msg[2])
                alarm = self.alarm[i]
            s = self.stage[i]
            if self.is_absorbing[s] and not self.svc_targets[self.seg[i]][s] and not alarm.triggered:
                self.alarm[i] = None
                return

    def _rearm(self, i: int) -> _Alarm:
        """A fresh alarm for customer i, set for its earliest pending message if any."""
        alarm = self.alarm[i] = _Alarm(self.env)
        pending = self.extra.get(i)
        if pending:
            when, msg = pending.pop(0)
            if not pending:
                del self.extra[i]
            alarm.ring(max(0.0, when - self.env.now), msg)
        return alarm

    def _stage_move(self, i: int) -> None:
        """Customer i crosses its threshold today: draw the (source, destination) pair and move."""
        g, s = self.seg[i], self.stage[i]
        n = self.n_pairs[g][s]
        x = next(self.unif) * n
        ip = int(x)
        if ip >= n:
            ip = n - 1
        if x - ip >= self.thresh[g][s][ip]:
            ip = self.alias_[g][s][ip]
        self._move(i, g, s, self.pair_dst[g][s][ip], self.pair_src[g][s][ip])

    def _move(self, i: int, g: int, s: int, d: int, k: int) -> None:
        """Record customer i's move s -> d caused by source k today; restart its clocks from tonight."""
        occ = self.occ[g]
        occ[s] -= 1
        occ[d] += 1
        S = self.S
        self.moves.append(self.day_code + ((g * S + s) * S + d) * self.K + k)
        self.stage[i] = d
        if not self.conv[i] and self.is_converted[d]:
            self.conv[i] = 1
            self.conversions.append(self.day * self.G + g)
        v = self.ver[i] = self.ver[i] + 1
        if not self.is_absorbing[d]:
            heappush(self.heaps[g][d], (self.cum[g][d] + next(self.exp), i, v))
        if self.services and not self.busy[i]:
            self._arm_requests(i, g, d)

    def _arm_requests(self, i: int, g: int, s: int) -> None:
        """Restart customer i's request clocks (one per service reaching (g, s)) from tonight."""
        rv = self.rver[i] = self.rver[i] + 1
        for v in self.svc_targets[g][s]:
            heappush(self.req_heaps[v], (self.req_cum[v] + next(self.exp), i, rv))

    def _request(self, i: int, v: int):
        """Customer i contacts service v: queue at the desk (moving stage meanwhile if due), then the outcome."""
        env = self.env
        t_request = self.day
        self.requests[v, t_request] += 1
        self.busy[i] = 1
        serving = env.process(self.desks[v].serve(i))
        alarm = self.alarm[i]
        while not serving.processed:
            yield serving | alarm
            if alarm.processed:
                msg = alarm.value
                alarm = self._rearm(i)
                if msg[0] == _STAGE and msg[1] == self.ver[i]:
                    self._stage_move(i)
        self.busy[i] = 0
        self._outcome(i, v, serving.value, t_request)

    def _outcome(self, i: int, v: int, outcome, t_request: int) -> None:
        sv = self.services[v]
        g, s = self.seg[i], self.stage[i]
        if outcome.served:
            self.served_requests[v, t_request] += 1
        d, kind = s, -1
        if not self.is_absorbing[s]:
            loss = sv.loss_stage
            if (loss >= 0 and loss != s and sv.wait_loss_rate > 0.0
                    and next(self.unif_out) < -math.expm1(-sv.wait_loss_rate * outcome.wait)):
                d, kind = loss, 2
            else:
                if outcome.served:
                    row = self.model.q[g, sv.touchpoint, s] * self.served_factor[t_request, sv.touchpoint]
                    kind = 0
                else:
                    row = sv.abandon_q[g, s]
                    kind = 1
                row = row * self.purchase_mult[t_request]
                u = next(self.unif_out)
                acc = 0.0
                for dd, p in enumerate(row.tolist()):
                    if p > 0.0:
                        acc += p
                        if u < acc:
                            d = dd
                            break
        if d != s:
            self.svc_moves[v, kind, s, d] += 1
            self._move(i, g, s, d, 1 + sv.touchpoint)
        else:
            self._arm_requests(i, g, s)

    # -- the clock and the calendar ---------------------------------------------------------
    def _clock(self, done: Event):
        """Once a day, at its start: census, arrivals, day tables, threshold crossings."""
        env, m = self.env, self.model
        G, S, T = self.G, self.S, self.T
        ver, rver, alarm, extra, active = self.ver, self.rver, self.alarm, self.extra, self.active
        adv = m.wom_advocate
        for t in range(1, T + 1):
            self.day = t
            self.day_code = t * G * S * S * self.K
            occ = np.array(self.occ, dtype=np.int64).reshape(G, S)
            self.occupancy[t - 1] = occ
            pop = occ.sum()
            shares = np.array([occ[:, adv[w]].sum() / pop if pop else 0.0 for w in range(m.n_wom)])
            self.shares[t] = shares
            for g in range(G):
                self._join(g, m.arrival_stage, int(self.arrivals[t, g]), t)
            prob, hazard, _ = day_tables(self.table_model, t, shares)
            thresh, alias = alias_tables(prob, m.n_pairs)
            self.thresh, self.alias_ = thresh.tolist(), alias.tolist()
            hazard = hazard.tolist()
            wakes = []
            for g in range(G):
                cum, heaps, h_g = self.cum[g], self.heaps[g], hazard[g]
                for s in active:
                    h = h_g[s]
                    if h <= 0.0:
                        continue
                    c_old = cum[s]
                    c_new = cum[s] = c_old + h
                    heap = heaps[s]
                    while heap and heap[0][0] <= c_new:
                        thr, i, v = heappop(heap)
                        if v == ver[i]:
                            wakes.append((min(1.0, max(0.0, (thr - c_old) / h)), i, _STAGE, v, 0))
            for v, heap in enumerate(self.req_heaps):
                h = self.req_hazard[v][t]
                if h <= 0.0:
                    continue
                c_old = self.req_cum[v]
                c_new = self.req_cum[v] = c_old + h
                while heap and heap[0][0] <= c_new:
                    thr, i, rv = heappop(heap)
                    if rv == rver[i]:
                        wakes.append((min(1.0, max(0.0, (thr - c_old) / h)), i, _REQUEST, rv, v))
            wakes.sort()
            for f, i, kind, version, v in wakes:
                a = alarm[i]
                if a.triggered:
                    extra.setdefault(i, []).append((t - 1 + f, (kind, version, v)))
                else:
                    a.ring(f, (kind, version, v))
            if self.progress is not None:
                self.progress(t, T)
            tick = _Alarm(env)
            tick.ring(1.0, None, _LATE)
            yield tick
        self.occupancy[T] = np.array(self.occ, dtype=np.int64).reshape(G, S)
        self.day = T + 1
        done.succeed()

    def _watch(self, kind: str, where: str, values: np.ndarray, apply=None):
        """Trace each day ``values`` changes (and ``apply(new)`` it) at the start of that day."""
        env = self.env
        for t in _change_days(values).tolist():
            yield env.timeout(t - 1 - env.now)
            self.events.append((env.now, kind, where, f"{values[t - 1]:g} -> {values[t]:g}"))
            if apply is not None:
                apply(values[t])

    def _shock_move(self, e: int):
        m, env = self.model, self.env
        yield env.timeout(int(m.move_day[e]) - 1)
        self.events.append((env.now, "move", "", f"{m.move_share[e]:g} of {m.stage_names[m.move_from[e]]} -> "
                                                  f"{m.stage_names[m.move_to[e]]}"))

    def _start_calendar(self) -> None:
        m, env = self.model, self.env
        for j, name in enumerate(m.touchpoint_names):
            env.process(self._watch("spend", name, m.spend[:, j]))
            env.process(self._watch("reach", name, m.delivery[:, j]))
            env.process(self._watch("effect", name, m.effect_mult[:, j]))
        for v, sv in enumerate(self.services):
            env.process(self._watch("capacity", sv.name, sv.agents, lambda n, desk=self.desks[v]: desk.set_agents(int(n))))
        for col, kind in ((DAY_TRANSITIONS, "transitions"), (DAY_WOM, "word_of_mouth"), (DAY_PURCHASE, "purchase")):
            env.process(self._watch(kind, "", m.day_mult[:, col]))
        env.process(self._watch("arrivals", "", m.arrivals_mult))
        env.process(self._watch("revenue", "", m.revenue_mult))
        for e in range(len(m.move_day)):
            env.process(self._shock_move(e))

    # -- run ----------------------------------------------------------------------------------
    def run(self) -> dict:
        m = self.model
        G, S, T, K = self.G, self.S, self.T, self.K
        for g in range(G):
            for s in range(S):
                self._join(g, s, int(m.initial[g, s]), 0)
        self._start_calendar()
        done = self.env.event()
        self.env.process(self._clock(done))
        self.env.run(until=done)
        return self._collect()

    def release(self) -> None:
        """Break the reference cycles of the finished run (process <-> alarm, processes -> run), so
        reference counting frees it at once instead of a full garbage collection."""
        for alarm in self.alarm:
            if alarm is not None:
                alarm.callbacks = None
        self.alarm = self.extra = None
        self.env._queue.clear()
        self.heaps = self.req_heaps = None

    def _collect(self) -> dict:
        m = self.model
        G, S, T, K = self.G, self.S, self.T, self.K
        code = np.frombuffer(self.moves, dtype=np.int64) if len(self.moves) else np.zeros(0, np.int64)
        code, k = np.divmod(code, K)
        code, d = np.divmod(code, S)
        code, s = np.divmod(code, S)
        t, g = np.divmod(code, G)
        flows = np.bincount((t * S + s) * S + d, minlength=(T + 1) * S * S).reshape(T + 1, S, S)
        seg_flows = np.bincount((g * S + s) * S + d, minlength=G * S * S).reshape(G, S, S)
        credits = np.bincount((k * S + s) * S + d, minlength=K * S * S).reshape(K, S, S)
        daily_credits = np.bincount(t * K + k, minlength=(T + 1) * K).reshape(T + 1, K)
        conv = np.frombuffer(self.conversions, dtype=np.int64) if len(self.conversions) else np.zeros(0, np.int64)
        new_converted = np.bincount(conv, minlength=(T + 1) * G).reshape(T + 1, G)
        occupancy = self.occupancy
        occ_start = np.zeros_like(occupancy)
        occ_start[1:] = occupancy[:-1]
        occ_start[1:, :, m.arrival_stage] += self.arrivals[1:]
        deliveries, engagements = _exposures(m, occ_start, self.exposure_seq)
        service = {}
        for v, (sv, desk) in enumerate(zip(self.services, self.desks)):
            # a service touchpoint's deliveries are its requests; engaged ones those served
            deliveries[:, sv.touchpoint] = self.requests[v]
            engagements[:, sv.touchpoint] = self.served_requests[v]
            st = desk.stats
            util = np.zeros(T + 1)
            for day in range(1, T + 1):
                u = st.utilisation(day - 1, day)
                util[day] = 0.0 if math.isnan(u) else u
            service[sv.name] = dict(
                times=st.times, queue_length=st.queue_length, n_busy=st.n_busy, n_available=st.n_available,
                n_scheduled=st.n_scheduled, waits_served=st.waits_served,
                waits_abandoned=st.waits_abandoned, n_requests=st.n_requests, n_served=st.n_served,
                n_abandoned=st.n_abandoned, requests=self.requests[v].copy(), utilisation=util,
                served_moves=self.svc_moves[v, 0].copy(), abandon_moves=self.svc_moves[v, 1].copy(),
                wait_loss_moves=self.svc_moves[v, 2].copy(),
            )
        return dict(
            occupancy=occupancy, flows=flows.astype(np.int64), segment_flows=seg_flows.astype(np.int64),
            credits=credits.astype(np.int64), new_converted=new_converted.astype(np.int64), arrivals=self.arrivals,
            occupancy_start=occ_start, deliveries=deliveries, engagements=engagements,
            cost=m.spend + deliveries * m.cost_per_exposure, shares=self.shares,
            daily_credits=daily_credits.astype(np.int64), service=service, events=self.events,
        )


def run_des(model, seq: np.random.SeedSequence, progress=None) -> dict:
    """Simulate one replication of ``model`` with the SimPy discrete-event engine.

    Parameters
    ----------
    model : CompiledModel
    seq : numpy.random.SeedSequence
        This replication's seed (see the module docstring for the streams it is spawned into).
    progress : callable, optional
        ``progress(done_days, total_days)`` once per simulated day.

    Returns
    -------
    dict
        The fields of :func:`jsim.engine.fast.run_fast` (``occupancy (T+1, G, S)``, ``flows
        (T+1, S, S)``, ``segment_flows (G, S, S)``, ``credits (K, S, S)``, ``new_converted
        (T+1, G)``, ``arrivals``, ``occupancy_start``, ``deliveries``, ``engagements``,
        ``cost``, ``shares (T+1, W)``, ``seconds``), plus:

        - ``daily_credits (T+1, K)``: moves per day and source;
        - ``events``: list of ``(time, kind, touchpoint, what)``, one per calendar change
          (kinds ``spend``, ``reach``, ``effect``, ``capacity``, ``transitions``,
          ``word_of_mouth``, ``purchase``, ``arrivals``, ``revenue``, ``move``) at the start
          of the day it takes effect (time ``t - 1`` for day ``t``);
        - ``service``: per service touchpoint name, a dict with the desk's step function
          ``times`` with ``queue_length``, ``n_busy``, ``n_available`` and ``n_scheduled``
          agents (row i holds from ``times[i]``), ``waits_served`` and ``waits_abandoned`` (days),
          ``n_requests``/``n_served``/``n_abandoned``, ``requests (T+1,)`` per day,
          ``utilisation (T+1,)`` per day (busy / available agent-time; nan when no agent was
          available), and ``served_moves``, ``abandon_moves``, ``wait_loss_moves`` (S, S).
          For service touchpoints ``deliveries`` are the requests made each day and
          ``engagements`` those of them that were served.
    """
    t0 = time.perf_counter()
    # Hundreds of thousands of live generators and events would make the cyclic garbage
    # collector rescan them again and again (2.5x the run time at 2e5 customers); the run
    # creates no garbage cycles that outlive it (see _Run.release), so collection is paused.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        run = _Run(model, seq, progress)
        out = run.run()
        run.release()
        del run
    finally:
        if was_enabled:
            gc.enable()
    out["seconds"] = time.perf_counter() - t0
    return out
