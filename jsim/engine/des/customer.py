"""The customers of a discrete-event replication: their state, and what they do when woken.

A customer is woken only when something happens to it: a stage threshold crossed or a service
request due (the daily clock, :mod:`jsim.engine.des.clock`, wakes it at the crossing time:
:meth:`Customers.wake`), or the end of its visit to a service desk. At a desk a customer is the
desk's SimPy process (:meth:`ServiceDesk.serve <jsim.engine.des.desk.ServiceDesk.serve>`), whose
end calls :meth:`Customers._outcome`. Between these moments a customer is a few list entries, not
a suspended SimPy process of its own (see :class:`jsim.engine.des.DesEngine` for why).

Stage moves. The woken customer draws its (clock, destination) pair from today's alias tables
(:func:`jsim.kernels.pick_alias`, one uniform from the ``pairs`` stream), moves, and the move is
credited to the pair's route (``model.sources.pair_route[g, s, pair, 0]``; service clocks never
fire from these tables, whose service columns are zeroed). It then draws its next threshold from
the next day boundary (at most one threshold move per day).

Service requests. A customer a service targets makes requests on the service's request clock
and queues at its desk. On the outcome, with probability ``1 - exp(-wait_loss_rate * wait)`` it
moves to the loss stage (route ``(s, NAME:lost_waiting, loss)``); otherwise a served customer
moves by the touchpoint's effects ``q[g, j, s, :]`` times the request day's engagement, fatigue
and calendar effect multiplier (``NAME:served``), an abandoning one by ``abandon_q[g, s, :]``
(``NAME:abandoned``); moves into purchase stages are scaled by the request day's purchase
multiplier. The move happens at the outcome, from the stage the customer stands in then, bumps
its version (cancelling the pending stage threshold) and restarts its clocks from the next day
boundary. A customer makes one request at a time (requests due while at a desk are dropped),
and keeps moving between stages while it queues. Customers in absorbing stages never move.
"""

from __future__ import annotations

__all__ = ["Customers", "STAGE", "REQUEST"]

import math

import numpy as np

from ...kernels import pick_alias
from ...model.calendar import DAY_PURCHASE

#: Kinds of wake-up.
STAGE, REQUEST = 0, 1
_SERVED, _ABANDONED, _LOST = 0, 1, 2  # service outcomes, in the order of their sources


class Customers:
    """Every customer's state (lists indexed by customer) and what happens when one is woken.

    Customers are numbered in the order they join: day-0 customers by segment and stage, then
    each day's arrivals by segment (the fast engine's order).

    Parameters
    ----------
    env : simpy.Environment
    model : CompiledModel
    stages, requests : ThresholdClocks
        Stage clocks (key ``g * S + s``) and request clocks (key: service index).
    desks : list of ServiceDesk
        One per service, in the model's order.
    streams : DesStreams
    tally : Tally
        Where moves, conversions, requests and served requests are recorded.
    n_total : int
        Customers who will ever join.
    """

    def __init__(self, env, model, stages, requests, desks, streams, tally, n_total: int):
        m = model
        G, S, X = m.n_segments, m.n_stages, m.n_routes
        self.env, self.model, self.stages, self.requests = env, m, stages, requests
        self.desks, self.tally = desks, tally
        self._exp, self._unif, self._unif_out = streams.thresholds, streams.pairs, streams.outcomes
        self.G, self.S, self.X = G, S, X
        # the model as lists (the hot paths index Python lists, not arrays)
        self.is_absorbing = m.is_absorbing.tolist()
        self.is_converted = m.is_converted.tolist()
        self.n_pairs = m.n_pairs.tolist()
        self.pair_dst = m.pair_dst.tolist()
        self.pair_route = m.sources.pair_route[..., 0].tolist()
        self.services = m.services
        self.svc_targets = [
            [tuple(v for v, sv in enumerate(m.services) if m.target[sv.touchpoint, g, s]) for s in range(S)]
            for g in range(G)
        ]
        # route of each outcome of service v from stage s to stage d: [v][outcome][s][d] (-1: none)
        self.outcome_route = [
            [
                m.sources.route_index[:, int(m.sources.clock_source[1 + sv.touchpoint]) + o, :].tolist()
                for o in (_SERVED, _ABANDONED, _LOST)
            ]
            for sv in m.services
        ]
        # (T+1, J) engagement * fatigue * calendar effect multiplier: what an exposure's effects are
        # multiplied by on a day it is delivered (requests are only made on such days)
        self.served_factor = m.engagement[None, :] * m.fatigue * m.effect_mult
        self.purchase_mult = np.where(m.is_purchase[None, :], m.day_mult[:, DAY_PURCHASE, None], 1.0)  # (T+1, S)
        # per customer
        self.stage = [0] * n_total
        self.seg = [0] * n_total
        self.ver = [0] * n_total  # stage-threshold version (bumped by every move)
        self.rver = [0] * n_total  # request-threshold version (bumped when the request clocks restart)
        self.conv = bytearray(n_total)
        self.busy = bytearray(n_total)  # at a desk
        self.n_customers = 0
        self.occ = [[0] * S for _ in range(G)]
        self.day = 0
        self._thresh = self._alias = None

    # -- the clock's side ------------------------------------------------------------------------
    def census(self) -> np.ndarray:
        """(G, S) int64 customers per segment and stage now."""
        return np.array(self.occ, dtype=np.int64).reshape(self.G, self.S)

    def start_day(self, t: int) -> None:
        """Moves and requests from now on belong to day ``t``."""
        self.day = t

    def set_tables(self, thresh: np.ndarray, alias: np.ndarray) -> None:
        """Today's alias tables ``(G, S, P)`` of the (clock, destination) pairs."""
        self._thresh, self._alias = thresh.tolist(), alias.tolist()

    def join(self, g: int, s: int, n: int, t: int) -> None:
        """``n`` customers of segment g join stage s at the start of day t (t = 0: the initial state).

        Draws one threshold per customer for the stage (unless absorbing), then one per service
        that targets (g, s), customer by customer.
        """
        if n == 0:
            return
        lo = self.n_customers
        hi = self.n_customers = lo + n
        self.occ[g][s] += n
        if self.is_converted[s]:
            self.tally.conversions.extend([t * self.G + g] * n)
            self.conv[lo:hi] = b"\x01" * n
        self.stage[lo:hi] = [s] * n
        self.seg[lo:hi] = [g] * n
        if not self.is_absorbing[s]:
            self.stages.push_new(g * self.S + s, lo, hi)
        for v in self.svc_targets[g][s]:
            for i in range(lo, hi):
                self.requests.push(v, i, 0)

    def wake(self, i: int, kind: int, version: int, v: int) -> None:
        """Customer i is woken: a stage move if ``version`` is still its stage version, a request to service
        ``v`` if ``version`` is still its request version and it is not at a desk."""
        if kind == STAGE:
            if version == self.ver[i]:  # else stale: a service outcome moved the customer meanwhile
                self._stage_move(i)
        elif version == self.rver[i] and not self.busy[i]:
            self._request(i, v)

    # -- what a woken customer does ---------------------------------------------------------------
    def _stage_move(self, i: int) -> None:
        """Customer i crosses its threshold today: draw the (clock, destination) pair and move."""
        g, s = self.seg[i], self.stage[i]
        ip, _ = pick_alias(next(self._unif), self._thresh[g][s], self._alias[g][s], self.n_pairs[g][s])
        self._move(i, g, s, self.pair_dst[g][s][ip], self.pair_route[g][s][ip])

    def _move(self, i: int, g: int, s: int, d: int, route: int) -> None:
        """Record customer i's move s -> d through ``route`` today; restart its clocks from tonight."""
        occ = self.occ[g]
        occ[s] -= 1
        occ[d] += 1
        day = self.day
        self.tally.moves.append((day * self.G + g) * self.X + route)
        self.stage[i] = d
        if not self.conv[i] and self.is_converted[d]:
            self.conv[i] = 1
            self.tally.conversions.append(day * self.G + g)
        v = self.ver[i] = self.ver[i] + 1
        if not self.is_absorbing[d]:
            self.stages.push(g * self.S + d, i, v)
        if self.services and not self.busy[i]:
            self._arm_requests(i, g, d)

    def _arm_requests(self, i: int, g: int, s: int) -> None:
        """Restart customer i's request clocks (one per service reaching (g, s)) from tonight."""
        rv = self.rver[i] = self.rver[i] + 1
        for v in self.svc_targets[g][s]:
            self.requests.push(v, i, rv)

    def _request(self, i: int, v: int) -> None:
        """Customer i contacts service v: it queues at the desk; :meth:`_outcome` runs when its visit ends."""
        t_request = self.day
        self.tally.request_day[v].append(t_request)
        self.busy[i] = 1
        serving = self.env.process(self.desks[v].serve(i))
        serving.callbacks.append(lambda event: self._outcome(i, v, event.value, t_request))

    def _outcome(self, i: int, v: int, outcome, t_request: int) -> None:
        """Customer i leaves desk v (``outcome``: a ServiceOutcome): lost while waiting, or the effects."""
        self.busy[i] = 0
        sv = self.services[v]
        g, s = self.seg[i], self.stage[i]
        if outcome.served:
            self.tally.served[v, t_request] += 1
        d, kind = s, -1
        if not self.is_absorbing[s]:
            loss = sv.loss_stage
            if (
                loss >= 0
                and loss != s
                and sv.wait_loss_rate > 0.0
                and next(self._unif_out) < -math.expm1(-sv.wait_loss_rate * outcome.wait)
            ):
                d, kind = loss, _LOST
            else:
                if outcome.served:
                    row = self.model.q[g, sv.touchpoint, s] * self.served_factor[t_request, sv.touchpoint]
                    kind = _SERVED
                else:
                    row = sv.abandon_q[g, s]
                    kind = _ABANDONED
                row = row * self.purchase_mult[t_request]
                u = next(self._unif_out)
                acc = 0.0
                for dd, p in enumerate(row.tolist()):
                    if p > 0.0:
                        acc += p
                        if u < acc:
                            d = dd
                            break
        if d != s:
            route = self.outcome_route[v][kind][s][d]
            if route < 0:
                raise RuntimeError(
                    f"service {sv.name!r}: no route for a {('served', 'abandoned', 'lost')[kind]} "
                    f"move from stage {s} to {d} (model.sources is inconsistent with the services)"
                )
            self._move(i, g, s, d, route)
        else:
            self._arm_requests(i, g, s)
