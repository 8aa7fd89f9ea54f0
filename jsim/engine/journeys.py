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

from ..kernels._journeys import EXPOSURE, MOVE, _trace
from ..rng import named_streams


@dataclass(frozen=True)
class Journeys:
    """Traced journeys: one row per exposure or move, sorted by customer and time."""

    model: object
    records: np.ndarray  # (n, 7) int64
    time: np.ndarray  # (n,) float64
    converted: np.ndarray  # (n_customers,) bool: ever stood in a converted stage
    start_segment: np.ndarray  # (n_customers,) int64
    start_stage: np.ndarray  # (n_customers,) int64
    shares: np.ndarray  # (T+1, W) word-of-mouth shares the journeys were traced under

    columns = ("customer", "day", "time", "event", "touchpoint", "engaged", "stage_from", "stage_to", "customer_converted")

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
        m = self.model
        names = m.source_names
        out = []
        for (cust, day, event, src, engaged, s_from, s_to), t in zip(self.records.tolist(), self.time.tolist()):
            out.append([cust, day, round(t, 6), "move" if event == MOVE else "exposure", names[src], engaged,
                        m.stage_names[s_from], m.stage_names[s_to], bool(self.converted[cust])])
        return out


def trace_journeys(model, root: np.random.SeedSequence, n_customers: int, shares=None, run=None) -> Journeys:
    """Trace ``n_customers`` journeys with the exposure-level stepper (see module docstring).

    ``shares (T+1, W)`` and ``run`` (the engine's output dict, for the day coefficients of service
    touchpoints) make the journeys follow that run's population state.
    """
    from ..rng import chunk_states

    if not 0 < n_customers <= 1_000_000:
        raise ValueError(f"journeys must be within [1, 1000000], got {n_customers}")
    seq = named_streams(root.spawn(1)[0], ("start", "customers"))
    T, W = model.n_days, model.n_wom
    shares = np.zeros((T + 1, W)) if shares is None else np.ascontiguousarray(shares, dtype=np.float64)
    weights = model.initial.ravel().astype(np.float64)
    if weights.sum() == 0:
        weights = np.zeros_like(weights)
        weights.reshape(model.initial.shape)[:, model.arrival_stage] = model.seg_share
    cells = np.random.default_rng(seq["start"]).choice(weights.size, size=n_customers, p=weights / weights.sum())
    seg, stage = np.divmod(cells, model.n_stages)
    states = chunk_states(seq["customers"], n_customers)
    run = run or {}
    eff = run.get("eff", model.exposure_effect)
    eff_a = run.get("eff_a", model.eff_abandon)
    eff_l = run.get("eff_l", model.eff_loss)
    is_service = np.zeros(model.n_touchpoints, dtype=np.bool_)
    is_service[model.svc_tp] = True
    cap = max(1024, n_customers * 8 + T * (model.n_touchpoints + 1))
    recs, times, n, i = [], [], 0, 0
    while i < n_customers:
        rec_int = np.zeros((cap, 7), dtype=np.int64)
        rec_time = np.zeros(cap)
        n, nxt = _trace(i, n_customers, seg.astype(np.int64), stage.astype(np.int64), shares, model.delivery,
                        model.engagement, is_service, model.target, model.p0, model.q, model.qa, model.ql, eff, eff_a,
                        eff_l, model.day_mult,
                        model.is_purchase, model.wom_p, model.wom_q, model.wom_mult, model.move_day, model.move_share,
                        model.pair_src, model.pair_dst, model.n_pairs, model.is_absorbing, states, rec_int, rec_time, cap)
        recs.append(rec_int[:n])
        times.append(rec_time[:n])
        if nxt == i:
            cap *= 2
        i = nxt
    records = np.concatenate(recs) if recs else np.zeros((0, 7), np.int64)
    time = np.concatenate(times) if times else np.zeros(0)
    order = np.lexsort((time, records[:, 0]))
    records, time = records[order], time[order]
    converted = model.is_converted[stage].copy()
    moves = records[records[:, 2] == MOVE]
    converted[moves[model.is_converted[moves[:, 6]], 0]] = True
    return Journeys(model=model, records=records, time=time, converted=converted, start_segment=seg.astype(np.int64),
                    start_stage=stage.astype(np.int64), shares=shares)
