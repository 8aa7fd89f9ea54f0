"""Everything a run reports, as plain JSON-ready data: :func:`summarise`."""

from __future__ import annotations

__all__ = ["summarise", "calendar_marks"]

from ..metrics import estimate, rep_metrics, segment_table, service_table, source_table, touchpoint_table
from .value import incremental_revenue, lifetime_value


def summarise(result) -> dict:
    """The summary of a :class:`~jsim.engine.SimulationResult` (what ``summary.json`` holds).

    Metrics per replication with 95% intervals, stages at the horizon, per touchpoint (with the
    incremental revenue of the expected-value model), segment and service tables, and the moves
    caused by each source (``sources``).
    """
    m = result.model
    per_rep = rep_metrics(result)
    occ_T = result.occupancy[:, -1].sum(axis=1)
    return {
        "scenario": m.name,
        "scenario_hash": m.scenario_hash,
        "engine": result.engine,
        "seed": result.seed,
        "reps": result.n_reps,
        "customers_day0": int(m.initial.sum()),
        "days": m.n_days,
        "currency": m.currency,
        "metrics": {k: estimate(v).as_dict() for k, v in per_rep.items()},
        "lifetime_value_3y": lifetime_value(m),
        "stages_at_horizon": {name: estimate(occ_T[:, s]).as_dict() for s, name in enumerate(m.stage_names)},
        "touchpoints": touchpoint_table(result, incremental_revenue(m)),
        "segments": segment_table(result),
        "services": service_table(result),
        "sources": source_table(result),
    }


def calendar_marks(scenario, n_days: int) -> list[dict]:
    """The scenario's dated marks within ``n_days``: touchpoint flights and calendar events (JSON-ready).

    Each mark is ``{"kind", "name", "touchpoint", "start", "end"}`` with inclusive days 1..n_days:
    ``kind`` ``"flight"`` for a touchpoint active on part of the horizon only (its ``start_day`` to
    ``end_day``), else the event's kind (``flight``, ``promotion``, ``capacity``, ``price``, ``shock``).
    """
    marks = []
    for tp in scenario.touchpoints:
        start, end = tp.start_day, min(tp.end_day if tp.end_day is not None else n_days, n_days)
        if start <= n_days and (start > 1 or end < n_days):
            marks.append({"kind": "flight", "name": tp.name, "touchpoint": tp.name, "start": start, "end": end})
    for ev in scenario.events:
        if ev.start > n_days:
            continue
        end = ev.end if ev.end is not None else (ev.start if ev.kind == "shock" else n_days)
        marks.append(
            {
                "kind": ev.kind,
                "name": ev.name or f"{ev.kind}-day{ev.start}",
                "touchpoint": ev.touchpoint,
                "start": ev.start,
                "end": min(end, n_days),
            }
        )
    return marks
