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
    """One row per service touchpoint (means and 95% bounds; blank where an engine cannot tell)."""
    keys = ["requests", "served", "abandoned", "abandonment_rate", "mean_wait_hours", "utilisation", "lost_while_waiting",
            "moved_after_abandoning", "wait_p50_minutes", "wait_p90_minutes"]
    header = ["service", "resolution"] + [f"{k}{suffix}" for k in keys for suffix in ("", "_low", "_high")]
    rows = []
    for sv in summary["services"]:
        row = [sv["service"], sv["resolution"]]
        for k in keys:
            est = sv.get(k) or {"mean": None, "low": None, "high": None}
            row += [_clean(est["mean"]), _clean(est["low"]), _clean(est["high"])]
        rows.append(["" if v is None else v for v in row])
    return header, rows


def service_daily_rows(result) -> tuple[list[str], list[list]]:
    """Per service and day (replication means): requests, served, abandoned, queue, utilisation, wait.

    Day-resolution engines: expected counts of their daily queue, ``queue`` the backlog carried
    overnight. Discrete-event engine: requests counted, ``queue`` the time-average queue length
    of the day; served, abandoned and wait are blank (see waits.csv).
    """
    header = ["day", "service", "requests", "served", "abandoned", "queue", "utilisation", "mean_wait_hours"]
    rows = []
    T = result.model.n_days
    for name, rec in (result.service or {}).items():
        if "waits_served" in rec:
            req = np.mean([np.asarray(r, dtype=np.float64) for r in rec["requests"]], axis=0)
            util = np.mean([np.asarray(u, dtype=np.float64) for u in rec["utilisation"]], axis=0)
            queue = np.mean([_daily_average(t, q, T) for t, q in zip(rec["times"], rec["queue_length"])], axis=0)
            for t in range(1, T + 1):
                rows.append([t, name, round(float(req[t]), 6), "", "", round(float(queue[t]), 6),
                             round(float(util[t]), 6), ""])
        else:
            mean = {k: np.asarray(v, dtype=np.float64).mean(axis=0) for k, v in rec.items()}
            for t in range(1, T + 1):
                rows.append([t, name] + [round(float(mean[k][t]), 6) for k in ("requests", "served", "abandoned", "backlog",
                                                                               "utilisation")]
                            + [round(24 * float(mean["mean_wait"][t]), 6) if np.isfinite(mean["mean_wait"][t]) else ""])
    return header, rows


def _daily_average(times, values, n_days: int) -> np.ndarray:
    """(T+1,) time-average over each day (t-1, t] of a step function (row i holds from times[i])."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(n_days + 1)
    edges = np.append(times, max(n_days, times[-1] if times.size else 0.0))
    for t in range(1, n_days + 1):
        lo, hi = np.clip(edges[:-1], t - 1, t), np.clip(edges[1:], t - 1, t)
        out[t] = float((values * (hi - lo)).sum())
    return out


def wait_rows(result) -> tuple[list[str], list[list]]:
    """Every waiting time a discrete-event run recorded: service, replication, outcome, minutes."""
    header = ["service", "replication", "outcome", "wait_minutes"]
    rows = []
    for name, rec in (result.service or {}).items():
        if "waits_served" not in rec:
            continue
        for r, (served, abandoned) in enumerate(zip(rec["waits_served"], rec["waits_abandoned"])):
            rows += [[name, r, "served", round(1440 * float(w), 6)] for w in served]
            rows += [[name, r, "abandoned", round(1440 * float(w), 6)] for w in abandoned]
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
        tables += [("services.csv", service_rows(summary)), ("service_daily.csv", service_daily_rows(result))]
        if result.engine == "des":
            tables.append(("waits.csv", wait_rows(result)))
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
