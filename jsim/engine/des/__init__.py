"""The discrete-event engine (``engine="des"``): SimPy events per customer, woken only when something happens.

Semantics are those of ``docs/model.md``, realised in continuous time with the fast engine's
threshold algorithm: a customer entering a stage at a day boundary draws an Exp(1) threshold on
the stage's cumulative daily hazard and moves during the first day the hazard reaches it; the
daily clock pops the crossed thresholds each day and wakes each customer at its exact crossing
time, when it draws its (clock, destination) pair from the day's tables. Without service
touchpoints this is the fast engine's algorithm, so both engines agree in distribution (not draw
for draw: the random streams differ, except arrivals and exposure counts, which use the shared
named streams of :mod:`jsim.engine.draws`). Service touchpoints queue customers at
capacity-limited desks instead of acting through the day tables.

Modules
-------
- :mod:`~jsim.engine.des.clock`: threshold heaps, the daily clock process, the calendar processes;
- :mod:`~jsim.engine.des.customer`: customers' state and what they do when woken (stage moves,
  service requests, outcomes);
- :mod:`~jsim.engine.des.desk`: the service desk (agents, blockers-first queue, patience);
- :mod:`~jsim.engine.des.stats`: a desk's statistics and its :class:`~jsim.engine.records.ServiceRecord`;
- :mod:`~jsim.engine.des.tally`: what a replication records while it runs;
- :mod:`~jsim.engine.des.streams`: the random streams.

Performance: no process per customer, one pending wake-up at a time
-------------------------------------------------------------------
A customer between events is a few list entries, not a suspended SimPy process, and the day's
wake-ups are fired one after the other by one dispatch process (:mod:`~jsim.engine.des.clock`),
so only one of them is pending at a time. Long-lived generators, processes and events (one per
customer, or one per pending wake-up) survive the young garbage-collector generations and
trigger full collections, each rescanning the whole interpreter heap (about 123,000 objects once
jsim, numba and scipy are imported: 35-40 ms per full collection on the 2-core benchmark VM).
Measured with ``benchmarks/reference.toml`` at 200,000 customers (median of 3 runs): the old
engine (one process per customer, private SimPy state, cyclic GC disabled for the run) 7.3-7.6 s
(``benchmarks/bench_des.py``); public-API wake-ups all scheduled at the start of the day, GC on:
7.5 s (30 full collections, 2.0 s of collection), GC off 5.1 s, ``gc.freeze()`` of the
pre-existing heap 6.2 s; one pending wake-up at a time (this engine), GC on: 4.0 s with no full
collection (GC off: 3.9 s). So the engine leaves the garbage collector alone.

Randomness
----------
A replication's ``SeedSequence`` is spawned into :data:`jsim.engine.draws.STREAMS`; arrivals
and exposure counts are drawn as in the fast engine, and ``customers`` is spawned again into
:data:`DES_STREAMS` (thresholds, pair picks, service outcomes, one child per desk; draws
buffered :data:`BLOCK` at a time). Events at equal times run in scheduling order and the clock
orders each day's wake-ups by (time, customer), so the same seed gives bit-identical results.
"""

from __future__ import annotations

__all__ = ["DesEngine", "Replication", "build_replication", "DES_STREAMS", "BLOCK"]

import time
from typing import NamedTuple

import numpy as np
import simpy

from ...model import Coefficients
from ...rng import named_streams
from ..draws import STREAMS, draw_arrivals, draw_exposures, start_of_day
from ..records import Run
from .clock import DailyClock, ThresholdClocks, start_calendar
from .customer import Customers
from .desk import desk_for_service
from .stats import service_record
from .streams import BLOCK, DES_STREAMS, des_streams
from .tally import Tally


class DesEngine:
    """The SimPy discrete-event engine (``engine="des"``)."""

    name = "des"
    stochastic = True

    def run(self, model, seed: np.random.SeedSequence, progress=None) -> Run:
        """Simulate one replication of ``model``.

        Parameters
        ----------
        model : CompiledModel
        seed : numpy.random.SeedSequence
            This replication's seed, spawned into :data:`~jsim.engine.draws.STREAMS` and the
            ``customers`` stream into :data:`DES_STREAMS`.
        progress : callable, optional
            ``progress(done_days, total_days)`` once per simulated day.

        Returns
        -------
        Run
            Moves per day and route (a service outcome on its ``NAME:served``,
            ``NAME:abandoned`` or ``NAME:lost_waiting`` route); one event-resolution
            :class:`~jsim.engine.records.ServiceRecord` per service, whose requests are the
            touchpoint's deliveries and whose served requests its engagements; the calendar
            trace the calendar processes produced.
        """
        t_start = time.perf_counter()
        T = model.n_days
        streams = named_streams(seed, STREAMS)
        arrivals = draw_arrivals(model, streams["arrivals"])
        rep = build_replication(model, arrivals, streams["customers"], progress)
        tally = rep.run()
        occ_start = start_of_day(model, tally.occupancy, arrivals)
        deliveries, engagements = draw_exposures(model, occ_start, streams["exposures"])
        services = []
        for v, (sv, desk) in enumerate(zip(model.services, rep.desks)):
            request_day = tally.request_days(v)
            # a service touchpoint's deliveries are its requests; engaged ones those served
            deliveries[:, sv.touchpoint] = np.bincount(request_day, minlength=T + 1)
            engagements[:, sv.touchpoint] = tally.served[v]
            services.append(service_record(sv.name, sv.touchpoint, desk.stats, request_day, T))
        moves, segment_flows, new_converted = tally.counts(model)
        return Run(
            occupancy=tally.occupancy,
            occupancy_start=occ_start,
            arrivals=arrivals,
            moves=moves,
            segment_flows=segment_flows,
            new_converted=new_converted,
            deliveries=deliveries,
            engagements=engagements,
            cost=model.cost(deliveries),
            shares=tally.shares,
            services=tuple(services),
            calendar=tuple(sorted(tally.calendar)),
            coefficients=Coefficients.initial(model.exposure_effect),
            seconds=time.perf_counter() - t_start,
        )


class Replication(NamedTuple):
    """One discrete-event replication, built and ready to run (:func:`build_replication`)."""

    env: simpy.Environment
    desks: list
    tally: Tally
    customers: Customers
    clock: DailyClock

    def run(self) -> Tally:
        """Run days 1..T (until the daily clock's final census) and return what was recorded."""
        self.env.run(until=self.env.process(self.clock.run()))
        return self.tally


def build_replication(
    model, arrivals: np.ndarray, customers_seed: np.random.SeedSequence, progress=None
) -> Replication:
    """The desks, day-0 customers, calendar processes and daily clock of one replication, at time 0.

    Parameters
    ----------
    model : CompiledModel
    arrivals : (T+1, G) int64
        Arrivals per day and segment.
    customers_seed : numpy.random.SeedSequence
        The replication's ``customers`` stream (spawned into :data:`DES_STREAMS`).
    progress : callable, optional
        ``progress(done_days, total_days)`` once per simulated day.
    """
    T, G, S, V = model.n_days, model.n_segments, model.n_stages, len(model.services)
    env = simpy.Environment()
    streams = des_streams(customers_seed, V)
    desks = [desk_for_service(env, sv, streams.desks[v], T) for v, sv in enumerate(model.services)]
    tally = Tally(model)
    stages = ThresholdClocks(G * S, streams.thresholds)
    requests = ThresholdClocks(V, streams.thresholds)
    n_total = int(model.initial.sum() + arrivals.sum())
    customers = Customers(env, model, stages, requests, desks, streams, tally, n_total)
    for g in range(G):
        for s in range(S):
            customers.join(g, s, int(model.initial[g, s]), 0)
    start_calendar(env, model, desks, tally.calendar)
    clock = DailyClock(env, model, customers, stages, requests, arrivals, tally, progress)
    return Replication(env, desks, tally, customers, clock)
