"""Exposure-level tracing of individual journeys (timestamped touch sequences).

A traced customer is stepped day by day: each targeting touchpoint delivers (probability
``delivery``), the delivery is engaged (``engagement``), an engaged exposure acts with the
fatigue-scaled effect probability; organic and word-of-mouth sources fire too; the first source
to fire (times within the day drawn from each source's exponential clock, as in
``docs/model.md``) moves the customer. The day's move probabilities are exactly those of the
fast engine, so traced journeys are draws from the same process: a sample of customers who
start like the day-0 population, under the run's own word-of-mouth shares.
"""

from __future__ import annotations

__all__ = ["Journeys", "trace_journeys"]

from dataclasses import dataclass

import numpy as np

from .. import kernels
from ..kernels import MOVE
from ..model import Coefficients
from ..rng import chunk_states, named_streams


@dataclass(frozen=True)
class Journeys:
    """Traced journeys: one row per exposure or move, sorted by customer and time.

    ``records (n, 8)`` int64 columns: customer, day, event (0 exposure, 1 move), clock,
    engaged, stage_from, stage_to, route (-1 for an exposure; a move's route names its source).
    """

    model: object
    records: np.ndarray  # (n, 8) int64
    time: np.ndarray  # (n,) float64
    converted: np.ndarray  # (n_customers,) bool: ever stood in a converted stage
    start_segment: np.ndarray  # (n_customers,) int64
    start_stage: np.ndarray  # (n_customers,) int64
    shares: np.ndarray  # (T+1, W) word-of-mouth shares the journeys were traced under

    columns = (
        "customer",
        "day",
        "time",
        "event",
        "touchpoint",
        "engaged",
        "stage_from",
        "stage_to",
        "customer_converted",
        "source",
    )

    @property
    def n_customers(self) -> int:
        return len(self.start_stage)

    def final_stage(self) -> np.ndarray:
        """(n_customers,) stage index of each traced customer at the horizon."""
        out = self.start_stage.copy()
        moves = self.records[self.records[:, 2] == MOVE]  # sorted by customer, then time
        cust, last = np.unique(moves[::-1, 0], return_index=True)
        out[cust] = moves[len(moves) - 1 - last, 6]
        return out

    def rows(self) -> list[list]:
        """One list per record, in :attr:`columns` order: ``touchpoint`` is the clock (``organic``, a
        touchpoint, ``wom:FROM->TO``, ``event:NAME``), ``source`` the move's source (a service's
        outcome: ``NAME:served`` ...; empty for an exposure)."""
        m = self.model
        clocks, sources, route_source = m.clock_names, m.source_names, m.sources.route_source
        out = []
        for (cust, day, event, k, engaged, s_from, s_to, route), t in zip(self.records.tolist(), self.time.tolist()):
            out.append(
                [
                    cust,
                    day,
                    round(t, 6),
                    "move" if event == MOVE else "exposure",
                    clocks[k],
                    engaged,
                    m.stage_names[s_from],
                    m.stage_names[s_to],
                    bool(self.converted[cust]),
                    sources[route_source[route]] if route >= 0 else "",
                ]
            )
        return out


def trace_journeys(model, seed: np.random.SeedSequence, n_customers: int, shares=None, fx=None) -> Journeys:
    """Trace ``n_customers`` journeys with the exposure-level stepper (see module docstring).

    ``seed`` is the journeys' own seed (:func:`jsim.engine.simulate` passes the seed's named child
    ``"journeys"``). ``shares (T+1, W)`` and ``fx`` (a run's day coefficients, which its service
    queues wrote) make the journeys follow that run's population state.
    """
    if not 0 < n_customers <= 1_000_000:
        raise ValueError(f"journeys must be within [1, 1000000], got {n_customers}")
    seq = named_streams(seed, ("start", "customers"))
    T, W = model.n_days, model.n_wom
    shares = np.zeros((T + 1, W)) if shares is None else np.ascontiguousarray(shares, dtype=np.float64)
    weights = model.initial.ravel().astype(np.float64)
    if weights.sum() == 0:
        weights = np.zeros_like(weights)
        weights.reshape(model.initial.shape)[:, model.arrival_stage] = model.seg_share
    cells = np.random.default_rng(seq["start"]).choice(weights.size, size=n_customers, p=weights / weights.sum())
    seg, stage = np.divmod(cells, model.n_stages)
    states = chunk_states(seq["customers"], n_customers)
    fx = fx if fx is not None else Coefficients.initial(model.exposure_effect)
    cap = max(1024, n_customers * 8 + T * (model.n_touchpoints + 1))
    recs, times, n, i = [], [], 0, 0
    while i < n_customers:
        rec_int = np.zeros((cap, 8), dtype=np.int64)
        rec_time = np.zeros(cap)
        n, nxt = kernels.trace(
            model, i, n_customers, seg.astype(np.int64), stage.astype(np.int64), shares, fx, states, rec_int, rec_time
        )
        recs.append(rec_int[:n])
        times.append(rec_time[:n])
        if nxt == i:
            cap *= 2
        i = nxt
    records = np.concatenate(recs) if recs else np.zeros((0, 8), np.int64)
    time = np.concatenate(times) if times else np.zeros(0)
    order = np.lexsort((time, records[:, 0]))
    records, time = records[order], time[order]
    converted = model.is_converted[stage].copy()
    moves = records[records[:, 2] == MOVE]
    converted[moves[model.is_converted[moves[:, 6]], 0]] = True
    return Journeys(
        model=model,
        records=records,
        time=time,
        converted=converted,
        start_segment=seg.astype(np.int64),
        start_stage=stage.astype(np.int64),
        shares=shares,
    )
