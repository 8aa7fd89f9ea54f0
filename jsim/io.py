"""Writing results: CSV and JSON that pandas opens, each written atomically."""

from __future__ import annotations

__all__ = ["atomic_write", "daily_rows", "write_run", "to_json"]

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np


def atomic_write(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place (no half-written files)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        rows.append([t, *(fmt(v) for v in occ[t]), fmt(arrivals[t]), fmt(newconv[t]), fmt(purchases[t]),
                     round(float(revenue[t]), 6), round(float(cost[t]), 6)])
    return header, rows


def _csv(header, rows) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def flow_rows(result) -> tuple[list[str], list[list]]:
    """Moves between stages in long form: day, from, to, moves, moves per source (replication means).

    Only (day, from, to) cells with a move are listed.
    """
    m = result.model
    flows = result.flows.mean(axis=0)
    header = ["day", "from", "to", "moves"]
    rows = []
    for t, s, d in zip(*np.nonzero(flows)):
        rows.append([int(t), m.stage_names[s], m.stage_names[d], round(float(flows[t, s, d]), 6)])
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
    """One row per service touchpoint (means and 95% bounds)."""
    keys = ["requests", "served", "abandoned", "abandonment_rate", "mean_wait_hours", "utilisation", "lost_while_waiting"]
    header = ["service", "resolution"] + [f"{k}{suffix}" for k in keys for suffix in ("", "_low", "_high")]
    rows = []
    for sv in summary["services"]:
        row = [sv["service"], sv["resolution"]]
        for k in keys:
            row += [_clean(sv[k]["mean"]), _clean(sv[k]["low"]), _clean(sv[k]["high"])]
        rows.append(["" if v is None else v for v in row])
    return header, rows


def write_run(out_dir, summary: dict, result) -> list[Path]:
    """Write ``summary.json``, ``daily.csv``, ``flows.csv``, ``touchpoints.csv``, ``segments.csv``
    (and ``journeys.csv``) into ``out_dir``, each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    atomic_write(out / "summary.json", to_json(summary))
    written.append(out / "summary.json")
    tables = [("daily.csv", daily_rows(result)), ("flows.csv", flow_rows(result)), ("segments.csv", segment_rows(summary))]
    if summary.get("services"):
        tables.append(("services.csv", service_rows(summary)))
    for name, table in tables:
        atomic_write(out / name, _csv(*table))
        written.append(out / name)
    tps = summary["touchpoints"]
    header = ["touchpoint", "kind", "cost", "deliveries", "engagements", "moves_caused", "conversions_caused",
              "purchases_caused", "revenue_caused", "incremental_revenue", "incremental_roi"]
    rows = [[_clean(row[h]) if row[h] is not None else "" for h in header] for row in tps]
    atomic_write(out / "touchpoints.csv", _csv(header, rows))
    written.append(out / "touchpoints.csv")
    if result.journeys is not None:
        j = result.journeys
        atomic_write(out / "journeys.csv", _csv(list(j.columns), j.rows()))
        written.append(out / "journeys.csv")
    return written
