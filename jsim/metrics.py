"""Pure functions on simulation results: conversion, retention, revenue, CAC, ROI, intervals.

Every scalar metric is computed per replication and reported as a mean with a 95% Student-t
interval over replications (no interval from a single replication or from the deterministic
expected-value engine).
"""

from __future__ import annotations

__all__ = ["Estimate", "estimate", "rep_metrics", "touchpoint_table", "segment_table", "service_table", "summarise",
           "lifetime_value", "incremental_revenue"]

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

# two-sided 97.5% Student-t quantiles for 1..30 degrees of freedom
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    """97.5% quantile of Student's t with ``df`` degrees of freedom (normal beyond 30, Cornish-Fisher)."""
    if df < 1:
        return math.nan
    if df <= 30:
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


@dataclass(frozen=True)
class Estimate:
    """A mean over replications with its 95% interval (``low``/``high`` are None for one value)."""

    mean: float
    low: float | None
    high: float | None
    sd: float | None
    n: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "sd": self.sd, "n": self.n}

    def __format__(self, spec: str) -> str:
        spec = spec or ".4g"
        if self.low is None:
            return format(self.mean, spec)
        return f"{format(self.mean, spec)} [{format(self.low, spec)}, {format(self.high, spec)}]"


def estimate(values) -> Estimate:
    """Mean and 95% t-interval of per-replication ``values``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    mean = float(v.mean()) if n else math.nan
    if n < 2:
        return Estimate(mean, None, None, None, n)
    sd = float(v.std(ddof=1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, sd, n)


def _safe_div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b != 0)


def rep_metrics(result) -> dict[str, np.ndarray]:
    """Per-replication scalar metrics, each an array of shape (R,).

    ``prospects`` are customers not converted when they enter (day-0 customers outside converted
    stages, plus arrivals); ``new_customers`` those converted for the first time during the
    horizon; ``conversion_rate = new_customers / prospects``; ``converted`` counts everyone who
    has stood in a converted stage (the day-0 customer base too), ``retention_rate = retained /
    converted``; ``cac = cost / new_customers``; ``roi = (gross_profit - cost) / cost``.
    """
    m = result.model
    occ_T = result.occupancy[:, -1].sum(axis=1)  # (R, S)
    customers = result.occupancy[:, 0].sum(axis=(1, 2)) + result.arrivals.sum(axis=(1, 2))
    converted = result.new_converted.sum(axis=(1, 2))
    newly_converted = result.new_converted[:, 1:].sum(axis=(1, 2))
    prospects = customers - result.new_converted[:, 0].sum(axis=1)
    retained = occ_T[:, m.is_retained].sum(axis=1)
    purchases = result.purchases.sum(axis=1)
    revenue = result.revenue.sum(axis=1)
    cost = result.cost.sum(axis=(1, 2))
    profit = revenue * m.margin
    return {
        "customers": customers.astype(np.float64),
        "prospects": prospects.astype(np.float64),
        "converted": converted.astype(np.float64),
        "new_customers": newly_converted.astype(np.float64),
        "conversion_rate": _safe_div(newly_converted, prospects),
        "retained": retained.astype(np.float64),
        "retention_rate": _safe_div(retained, converted),
        "purchases": purchases.astype(np.float64),
        "revenue": revenue.astype(np.float64),
        "gross_profit": profit.astype(np.float64),
        "cost": cost.astype(np.float64),
        "net_profit": (profit - cost).astype(np.float64),
        "cac": _safe_div(cost, newly_converted),
        "roi": _safe_div(profit - cost, cost),
    }


def incremental_revenue(model) -> np.ndarray:
    """Expected revenue each touchpoint adds: the expected-value model with and without it. (J,)"""
    from .engine.meanfield import run_mean_field

    def revenue(mdl) -> float:
        out = run_mean_field(mdl)
        return float(((out["flows"].sum(axis=1) * mdl.purchase_value).sum(axis=1) * mdl.revenue_mult).sum())

    base = revenue(model)
    inc = np.zeros(model.n_touchpoints)
    for j in range(model.n_touchpoints):
        eff, delivery = model.exposure_effect.copy(), model.delivery.copy()
        eff[:, j] = 0.0
        delivery[:, j] = 0.0  # a service touchpoint without deliveries has no requests, queue or losses either
        inc[j] = base - revenue(dataclasses.replace(model, exposure_effect=eff, delivery=delivery))
    return inc


def _price_factor(result) -> float:
    """Purchase-weighted mean of the price events' revenue multiplier (for counts without a day axis)."""
    purchases = result.purchases.sum(axis=0)
    total = purchases.sum()
    return float((purchases * result.model.revenue_mult).sum() / total) if total > 0 else 1.0


def touchpoint_table(result) -> list[dict]:
    """One row per touchpoint: cost, deliveries, engagements, moves it caused, incremental ROI."""
    m = result.model
    inc = incremental_revenue(m)
    price = _price_factor(result)
    rows = []
    conv_from = ~m.is_converted
    for j, name in enumerate(m.touchpoint_names):
        cr = result.credits[:, 1 + j]  # (R, S, S)
        cost = result.cost[:, :, j].sum(axis=1)
        purchases = cr[:, :, m.is_purchase].sum(axis=(1, 2))
        credited_revenue = (cr.sum(axis=1) * m.purchase_value).sum(axis=1) * price
        c = float(cost.mean())
        rows.append({
            "touchpoint": name,
            "kind": m.touchpoint_kinds[j],
            "cost": c,
            "deliveries": float(result.deliveries[:, :, j].sum(axis=1).mean()),
            "engagements": float(result.engagements[:, :, j].sum(axis=1).mean()),
            "moves_caused": float(cr.sum(axis=(1, 2)).mean()),
            "conversions_caused": float(cr[:, conv_from][:, :, m.is_converted].sum(axis=(1, 2)).mean()),
            "purchases_caused": float(purchases.mean()),
            "revenue_caused": float(credited_revenue.mean()),
            "incremental_revenue": float(inc[j]),
            "incremental_roi": (inc[j] * m.margin - c) / c if c > 0 else None,
        })
    return rows


def segment_table(result) -> list[dict]:
    """One row per segment: customers, new customers, conversion rate (of prospects), purchases, revenue."""
    m = result.model
    price = _price_factor(result)
    rows = []
    for g, name in enumerate(m.segment_names):
        customers = result.occupancy[:, 0, g].sum(axis=1) + result.arrivals[:, :, g].sum(axis=1)
        new = result.new_converted[:, 1:, g].sum(axis=1)
        prospects = customers - result.new_converted[:, 0, g]
        into = result.segment_flows[:, g].sum(axis=1)  # (R, S) entries per stage
        rows.append({
            "segment": name,
            "customers": estimate(customers).as_dict(),
            "new_customers": estimate(new).as_dict(),
            "conversion_rate": estimate(_safe_div(new, prospects)).as_dict(),
            "purchases": estimate(into[:, m.is_purchase].sum(axis=1)).as_dict(),
            "revenue": estimate((into * m.purchase_value).sum(axis=1) * price).as_dict(),
        })
    return rows


def service_table(result) -> list[dict]:
    """One row per service touchpoint: requests, served, abandoned, waits, utilisation, customers lost waiting.

    Day-resolution engines report expectations of their daily queue model; the discrete-event
    engine reports what its queues recorded (see :class:`~jsim.engine.SimulationResult`).
    Utilisation is busy agent-time over available agent-time over the whole horizon.
    """
    if not result.service:
        return []
    rows = []
    for name, rec in result.service.items():
        if "waits_served" in rec:  # discrete-event record, one entry per replication
            rows.append(_des_service_row(name, rec))
            continue
        req = rec["requests"][:, 1:]
        total = req.sum(axis=1)
        v = result.model.service_names.index(name)
        capacity = result.model.svc_capacity[1:, v].sum()  # agent-time available, in requests
        rows.append({
            "service": name,
            "requests": estimate(total).as_dict(),
            "served": estimate(rec["served"][:, 1:].sum(axis=1)).as_dict(),
            "abandoned": estimate(rec["abandoned"][:, 1:].sum(axis=1)).as_dict(),
            "abandonment_rate": estimate(_safe_div((req * rec["p_abandon"][:, 1:]).sum(axis=1), total)).as_dict(),
            "mean_wait_hours": estimate(24 * _safe_div((req * rec["mean_wait"][:, 1:]).sum(axis=1), total)).as_dict(),
            "utilisation": estimate(_safe_div(rec["served"][:, 1:].sum(axis=1), capacity)).as_dict(),
            "lost_while_waiting": estimate((req * rec["p_loss"][:, 1:]).sum(axis=1)).as_dict(),
            "moved_after_abandoning": None,
            "wait_p50_minutes": None,
            "wait_p90_minutes": None,
            "resolution": "day",
        })
    return rows


def _busy_share(times, busy, available) -> float:
    """Busy agent-time over available agent-time of a desk's step functions (row i holds from times[i])."""
    times = np.asarray(times, dtype=np.float64)
    if times.size < 2:
        return math.nan
    dt = np.diff(times)
    avail = float((np.asarray(available[:-1], dtype=np.float64) * dt).sum())
    return float((np.asarray(busy[:-1], dtype=np.float64) * dt).sum()) / avail if avail > 0 else math.nan


def _des_service_row(name: str, rec: dict) -> dict:
    reps = rec["waits_served"]
    n_req = np.array([float(n) for n in rec["n_requests"]])
    served = np.array([float(n) for n in rec["n_served"]])
    abandoned = np.array([float(n) for n in rec["n_abandoned"]])
    waits = [np.concatenate([ws, wa]) if len(ws) + len(wa) else np.zeros(1) for ws, wa in zip(reps, rec["waits_abandoned"])]
    return {
        "service": name,
        "requests": estimate(n_req).as_dict(),
        "served": estimate(served).as_dict(),
        "abandoned": estimate(abandoned).as_dict(),
        "abandonment_rate": estimate(_safe_div(abandoned, n_req)).as_dict(),
        "mean_wait_hours": estimate([24 * w.mean() for w in waits]).as_dict(),
        "utilisation": estimate([_busy_share(t, b, a) for t, b, a in zip(rec["times"], rec["n_busy"], rec["n_available"])]).as_dict(),
        "lost_while_waiting": estimate([float(np.sum(m)) for m in rec["wait_loss_moves"]]).as_dict(),
        "moved_after_abandoning": estimate([float(np.sum(m)) for m in rec["abandon_moves"]]).as_dict(),
        "wait_p50_minutes": estimate([1440 * float(np.quantile(w, 0.5)) for w in waits]).as_dict(),
        "wait_p90_minutes": estimate([1440 * float(np.quantile(w, 0.9)) for w in waits]).as_dict(),
        "resolution": "event",
    }


def lifetime_value(model, years: float = 3.0) -> float:
    """Expected gross profit of a newly converted customer over ``years``, under the last day's conditions.

    Uses the day-T transition matrix of the first converted stage's customers (segment mix by
    share) and the fundamental-matrix series ``sum_t e P^t``, truncated at ``years``. Word-of-mouth
    shares are taken from the expected-value run. Returns NaN when no stage is converted.
    """
    from .kernels import day_tables, mean_field_arrays

    conv = np.flatnonzero(model.is_converted)
    if conv.size == 0:
        return math.nan
    T = model.n_days
    shares = mean_field_arrays(model)["shares"][T] if model.n_wom else np.zeros(0)
    prob, _, leave = day_tables(model, T, shares)
    G, S = model.n_segments, model.n_stages
    P = np.zeros((G, S, S))
    for g in range(G):
        for s in range(S):
            P[g, s, s] = 1.0 - leave[g, s]
            for i in range(model.n_pairs[g, s]):
                P[g, s, model.pair_dst[g, s, i]] += prob[g, s, i]
    value = P @ model.purchase_value * model.revenue_mult[T]  # (G, S): expected revenue of tomorrow's move
    total = 0.0
    for g in range(G):
        x = np.zeros(S)
        x[conv[0]] = 1.0
        v = model.purchase_value[conv[0]] * model.revenue_mult[T]
        for _ in range(int(round(365 * years))):
            v += x @ value[g]
            x = x @ P[g]
        total += model.seg_share[g] * v
    return float(total * model.margin)


def summarise(result) -> dict:
    """Everything a run reports, as plain JSON-ready data."""
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
        "touchpoints": touchpoint_table(result),
        "segments": segment_table(result),
        "services": service_table(result),
    }
