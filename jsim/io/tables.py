"""A run's tables: CSV and JSON that pandas opens, written as one set (:func:`write_run`).

Values without a number (a conversion rate of zero prospects, the ROI of zero spend) are empty
cells in CSV and ``null`` in JSON, never ``nan`` or ``inf``.
"""

from __future__ import annotations

__all__ = [
    "RUN_FILES",
    "csv_text",
    "to_json",
    "daily_rows",
    "flow_rows",
    "segment_rows",
    "service_rows",
    "service_daily_rows",
    "wait_rows",
    "source_rows",
    "touchpoint_rows",
    "write_run",
    "write_run_files",
]

import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..engine.records import WAIT_OUTCOMES
from .files import atomic_write
from .folder import output_set

#: Every file :func:`write_run` may write (``funnel.png`` and ``report.html`` are the runner's): in a folder without
#: a manifest (written by jsim before manifests), these are taken as the previous run's files.
RUN_FILES = (
    "summary.json",
    "daily.csv",
    "flows.csv",
    "segments.csv",
    "sources.csv",
    "services.csv",
    "service_daily.csv",
    "waits.csv",
    "touchpoints.csv",
    "journeys.csv",
    "funnel.png",
    "report.html",
)


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(summary: dict) -> str:
    """Summary as JSON (NaN and infinities become null)."""
    return json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n"


def daily_rows(result) -> tuple[list[str], list[list]]:
    """The daily table: day, one column per stage (customers at the end of the day), then flows.

    Values are replication means (integers when there is one stochastic replication).
    """
    m = result.model
    occ = result.stage_occupancy.mean(axis=0)
    purchases = result.purchases.mean(axis=0)
    revenue = result.revenue.mean(axis=0)
    newconv = result.new_converted.sum(axis=2).mean(axis=0)
    arrivals = result.arrivals.sum(axis=2).mean(axis=0)
    cost = result.cost.sum(axis=2).mean(axis=0)
    integral = result.engine != "mean-field" and result.n_reps == 1
    fmt = (lambda x: int(round(x))) if integral else (lambda x: round(float(x), 6))
    header = ["day", *m.stage_names, "arrivals", "new_converted", "purchases", "revenue", "cost"]
    rows = []
    for t in range(m.n_days + 1):
        rows.append(
            [
                t,
                *(fmt(v) for v in occ[t]),
                fmt(arrivals[t]),
                fmt(newconv[t]),
                fmt(purchases[t]),
                round(float(revenue[t]), 6),
                round(float(cost[t]), 6),
            ]
        )
    return header, rows


def _csv_cell(value):
    """A CSV cell: NaN and infinities (a value without a number) are empty, like None."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return ""
    return value


def csv_text(header, rows) -> str:
    """CSV text of a header and rows (newline line ends); NaN, infinities and None are empty cells."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([_csv_cell(v) for v in row] for row in rows)
    return buf.getvalue()


def flow_rows(result) -> tuple[list[str], list[list]]:
    """Moves between stages in long form: day, from, to, moves, source (replication means).

    One row per (day, from, to, source) with a move; summing ``moves`` over sources gives the
    moves from one stage to another on that day.
    """
    m = result.model
    src = m.sources
    moves = result.moves.mean(axis=0)  # (T+1, X)
    header = ["day", "from", "to", "moves", "source"]
    rows = []
    for t, x in zip(*np.nonzero(moves)):
        rows.append(
            [
                int(t),
                m.stage_names[src.route_from[x]],
                m.stage_names[src.route_to[x]],
                round(float(moves[t, x]), 6),
                src.names[src.route_source[x]],
            ]
        )
    return header, rows


def source_rows(summary: dict) -> tuple[list[str], list[list]]:
    """One row per source: kind, moves, conversions and purchases it caused (means and 95% bounds)."""
    keys = ["moves", "conversions", "purchases"]
    header = ["source", "kind"] + [f"{k}{suffix}" for k in keys for suffix in ("", "_low", "_high")]
    rows = []
    for row in summary["sources"]:
        line = [row["source"], row["kind"]]
        for k in keys:
            line += [_clean(row[k]["mean"]), _clean(row[k]["low"]), _clean(row[k]["high"])]
        rows.append(["" if v is None else v for v in line])
    return header, rows


def segment_rows(summary: dict) -> tuple[list[str], list[list]]:
    """One row per segment: customers, conversion rate, purchases, revenue (means and 95% bounds)."""
    keys = ["customers", "new_customers", "conversion_rate", "purchases", "revenue"]
    header = ["segment"] + [f"{k}{suffix}" for k in keys for suffix in ("", "_low", "_high")]
    rows = []
    for seg in summary["segments"]:
        row = [seg["segment"]]
        for k in keys:
            row += [_clean(seg[k]["mean"]), _clean(seg[k]["low"]), _clean(seg[k]["high"])]
        rows.append(["" if v is None else v for v in row])
    return header, rows


def service_rows(summary: dict) -> tuple[list[str], list[list]]:
    """One row per service touchpoint (means and 95% bounds; blank where an engine cannot tell)."""
    keys = [
        "requests",
        "served",
        "abandoned",
        "abandonment_rate",
        "mean_wait_hours",
        "utilisation",
        "lost_while_waiting",
        "moved_after_abandoning",
        "wait_p50_minutes",
        "wait_p90_minutes",
    ]
    header = ["service", "resolution"] + [f"{k}{suffix}" for k in keys for suffix in ("", "_low", "_high")]
    rows = []
    for sv in summary["services"]:
        row = [sv["service"], sv["resolution"]]
        for k in keys:
            est = sv.get(k) or {"mean": None, "low": None, "high": None}
            row += [_clean(est["mean"]), _clean(est["low"]), _clean(est["high"])]
        rows.append(["" if v is None else v for v in row])
    return header, rows


def _cell(x: float):
    return round(float(x), 6) if math.isfinite(x) else ""


def service_daily_rows(result) -> tuple[list[str], list[list]]:
    """Per service and day (replication means): requests, served, abandoned, queue, utilisation, wait.

    Day-resolution engines: expected counts of their daily queue, ``queue`` the backlog carried
    overnight. Discrete-event engine: counts of the day, ``queue`` the time-average queue
    length of the day. ``mean_wait_hours`` is the mean wait of the day's requests (blank where
    no request was resolved).
    """
    header = ["day", "service", "requests", "served", "abandoned", "queue", "utilisation", "mean_wait_hours"]
    rows = []
    for rec in result.services:
        mean = {k: getattr(rec, k).mean(axis=0) for k in ("requests", "served", "abandoned", "queue", "utilisation")}
        wait = 24 * rec.mean_wait.mean(axis=0)
        for t in range(1, result.model.n_days + 1):
            rows.append([t, rec.name, *(_cell(mean[k][t]) for k in mean), _cell(wait[t])])
    return header, rows


def wait_rows(result) -> tuple[list[str], list[list]]:
    """Every wait a discrete-event run recorded: service, replication, outcome, minutes, request time.

    ``request_time`` is in days since the start (day t runs from t-1 to t), ``request_hour`` the
    hour of the day it was made, so waits can be grouped by time of day.
    """
    header = ["service", "replication", "outcome", "wait_minutes", "request_time", "request_hour"]
    rows = []
    for rec in result.services:
        if rec.waits is None:
            continue
        for r, log in enumerate(rec.waits):
            for t, w, o in zip(log.t_request.tolist(), log.wait.tolist(), log.outcome.tolist()):
                rows.append(
                    [rec.name, r, WAIT_OUTCOMES[o], round(1440 * w, 6), round(t, 6), round(24 * (t - math.floor(t)), 4)]
                )
    return header, rows


def write_run(out_dir, summary: dict, result, *, extra: dict[str, Callable[[Path], None]] | None = None) -> list[Path]:
    """Write a run's files into ``out_dir`` as one set (:func:`output_set`).

    ``summary.json``, ``daily.csv``, ``flows.csv``, ``segments.csv``, ``sources.csv``,
    ``touchpoints.csv`` (and ``services.csv``, ``service_daily.csv``, ``waits.csv``,
    ``journeys.csv`` when there are any), then ``extra``: file name -> a function that writes
    that path (a plot). Returns the paths written, in ``out_dir``.

    Raises
    ------
    OutputError
        A file could not be written; ``out_dir`` keeps its previous contents.
    """
    with output_set(out_dir, replaces=RUN_FILES) as folder:
        names = write_run_files(folder, summary, result)
        for name, write in (extra or {}).items():
            write(folder / name)
            names.append(name)
    return [Path(out_dir) / name for name in names]


def write_run_files(folder, summary: dict, result) -> list[str]:
    """Write a run's files (see :func:`write_run`) into ``folder``, each atomically; returns their names."""
    out = Path(folder)
    tables = [
        ("daily.csv", daily_rows(result)),
        ("flows.csv", flow_rows(result)),
        ("segments.csv", segment_rows(summary)),
        ("sources.csv", source_rows(summary)),
    ]
    if summary.get("services"):
        tables += [("services.csv", service_rows(summary)), ("service_daily.csv", service_daily_rows(result))]
        if any(rec.waits is not None for rec in result.services):
            tables.append(("waits.csv", wait_rows(result)))
    tables.append(("touchpoints.csv", touchpoint_rows(summary)))
    if result.journeys is not None:
        j = result.journeys
        tables.append(("journeys.csv", (list(j.columns), j.rows())))
    atomic_write(out / "summary.json", to_json(summary))
    for name, table in tables:
        atomic_write(out / name, csv_text(*table))
    return ["summary.json", *(name for name, _ in tables)]


def touchpoint_rows(summary: dict) -> tuple[list[str], list[list]]:
    """One row per touchpoint: cost, deliveries, engagements, what it caused, incremental revenue and ROI."""
    header = [
        "touchpoint",
        "kind",
        "cost",
        "deliveries",
        "engagements",
        "moves_caused",
        "conversions_caused",
        "purchases_caused",
        "revenue_caused",
        "incremental_revenue",
        "incremental_roi",
    ]
    return header, [[_clean(row[h]) for h in header] for row in summary["touchpoints"]]
