"""Writing results: CSV and JSON that pandas opens, plots, each written atomically.

:func:`atomic_path` is the one way jsim writes a file: into a temporary file beside the target,
renamed into place when complete, with the permissions the user's umask gives a new file (so a
crash never leaves half a file, and outputs are not left private to the owner).
"""

from __future__ import annotations

__all__ = [
    "atomic_path",
    "atomic_write",
    "csv_text",
    "to_json",
    "daily_rows",
    "flow_rows",
    "segment_rows",
    "service_rows",
    "service_daily_rows",
    "wait_rows",
    "source_rows",
    "write_run",
]

import csv
import io
import json
import math
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .engine.records import WAIT_OUTCOMES

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; when the block ends without error it becomes ``path``.

    The temporary file is removed if the block fails. The final file has mode ``0o666`` minus
    the umask, like any new file the user creates.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        mode = "wb" if isinstance(data, bytes) else "w"
        kwargs = {} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""}
        with open(tmp, mode, **kwargs) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(summary: dict) -> str:
    """Summary as JSON (NaN and infinities become null)."""
    return json.dumps(_clean(summary), indent=2) + "\n"


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


def csv_text(header, rows) -> str:
    """CSV text of a header and rows (newline line ends)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
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


def write_run(out_dir, summary: dict, result) -> list[Path]:
    """Write ``summary.json``, ``daily.csv``, ``flows.csv``, ``touchpoints.csv``, ``segments.csv``,
    ``sources.csv`` (and ``services.csv``, ``service_daily.csv``, ``waits.csv``, ``journeys.csv``)
    into ``out_dir``, each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    atomic_write(out / "summary.json", to_json(summary))
    written.append(out / "summary.json")
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
    for name, table in tables:
        atomic_write(out / name, csv_text(*table))
        written.append(out / name)
    tps = summary["touchpoints"]
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
    rows = [[_clean(row[h]) if row[h] is not None else "" for h in header] for row in tps]
    atomic_write(out / "touchpoints.csv", csv_text(header, rows))
    written.append(out / "touchpoints.csv")
    if result.journeys is not None:
        j = result.journeys
        atomic_write(out / "journeys.csv", csv_text(list(j.columns), j.rows()))
        written.append(out / "journeys.csv")
    return written
