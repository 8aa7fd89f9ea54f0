"""Pure functions on simulation results: conversion, retention, revenue, CAC, ROI, intervals.

Every scalar metric is computed per replication and reported as a mean with a 95% Student-t
interval over replications (no interval from a single replication or from the deterministic
expected-value engine). Nothing here simulates: analyses that run a model (incremental revenue,
lifetime value, the run summary) live in :mod:`jsim.analysis`.

To add a metric: compute it per replication in :func:`rep_metrics` (it then appears in
``summary.json``'s ``metrics``, in the optimiser's constraints if listed in
``jsim.optimise.objectives.CONSTRAINT_METRICS``) and add a row to the terminal table in
:mod:`jsim.report.run`.
"""

from __future__ import annotations

__all__ = [
    "Estimate",
    "estimate",
    "Difference",
    "paired_difference",
    "reps_needed",
    "t975",
    "rep_metrics",
    "touchpoint_reps",
    "touchpoint_table",
    "segment_table",
    "service_table",
    "source_reps",
    "source_table",
    "rep_values",
]

import math
from dataclasses import dataclass

import numpy as np

#: ``scipy.special.stdtrit(df, 0.975)`` for ``df`` = 1, 2, ..., 100, the floats scipy computes
#: (``tests/test_metrics.py`` compares every entry): :func:`t975` of a whole ``df`` up to 100 reads
#: them instead of importing ``scipy.special``, 0.1-0.2 s of every ``jsim run``'s start.
# fmt: off
_T975 = (
    12.706204736174694, 4.302652729749462, 3.1824463052837078, 2.7764451051977934, 2.5705818356363146,
    2.4469118511449786, 2.364624251592784, 2.306004135204166, 2.262157162798205, 2.228138851986274,
    2.200985160091639, 2.1788128296672284, 2.1603686564627913, 2.144786687917804, 2.131449545559776,
    2.1199052992212546, 2.1098155778333156, 2.1009220402410382, 2.0930240544083087, 2.085963447265864,
    2.0796138447276795, 2.0738730679040254, 2.0686576104190486, 2.0638985616280245, 2.0595385527532972,
    2.0555294386428735, 2.0518305164802846, 2.0484071417952454, 2.045229642132703, 2.0422724563012378,
    2.039513446396408, 2.0369333434601016, 2.0345152974493383, 2.0322445093177186, 2.030107928250343,
    2.0280940009804502, 2.0261924630291093, 2.0243941639119694, 2.022690920036761, 2.021075390306273,
    2.019540970441376, 2.0180817028184443, 2.016692199227824, 2.0153675744437636, 2.014103388880846,
    2.012895598919429, 2.0117405137297655, 2.010634757624232, 2.0095752371292392, 2.008559112100761,
    2.007583770315836, 2.006646805061688, 2.0057459953178687, 2.0048792881880564, 2.0040447832891455,
    2.003240718847872, 2.002465459291007, 2.0017174841452356, 2.000995378088267, 2.0002978220142604,
    1.999623584994939, 1.9989715170333788, 1.998340542520741, 1.997729654317693, 1.9971379083920038,
    1.9965644189523117, 1.996008354025296, 1.9954689314298435, 1.9949454151072374, 1.994437111771186,
    1.9939433678456255, 1.9934635666618719, 1.992997125889855, 1.992543495180932, 1.9921021540022417,
    1.9916726096446642, 1.9912543953883846, 1.9908470688116906, 1.9904502102301285, 1.990063421254446,
    1.9896863234569029, 1.989318557136572, 1.9889597801751624, 1.9886096669757083, 1.9882679074772216,
    1.98793420623902, 1.9876082815890708, 1.9872898648311692, 1.986978699506281, 1.9866745407037683,
    1.9863771544186177, 1.98608631695113, 1.9858018143458227, 1.985523441866604, 1.9852510035054978,
    1.984984311522457, 1.9847231860139845, 1.9844674545084815, 1.9842169515864174, 1.9839715185235518,
)
# fmt: on


def t975(df: float) -> float:
    """97.5% quantile of Student's t with ``df`` degrees of freedom; NaN for ``df < 1``.

    ``scipy.special.stdtrit``, what ``scipy.stats.t.ppf`` computes: importing ``scipy.stats`` costs
    0.4-0.9 s (it parses every distribution's docstring), which every ``jsim run`` paid. A whole
    ``df`` up to 100 is looked up in :data:`_T975` (the same floats), so a run imports no scipy.
    """
    if not df >= 1:
        return math.nan
    if float(df).is_integer() and df <= len(_T975):
        return _T975[int(df) - 1]
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.975))


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


@dataclass(frozen=True)
class Difference:
    """A paired difference ``variant - baseline`` over common replications, with a verdict.

    ``mean`` with its 95% t-interval ``[low, high]`` over the per-replication differences;
    ``distinguishable`` is True when the interval excludes 0 (the difference is not noise at the
    5% level), None when it cannot be judged (one stochastic replication, or no value);
    ``reps_needed`` is the number of replications at which a true difference of the observed size
    would be found distinguishable with 80% power (:func:`reps_needed`), None where it does not
    apply (no difference, or a deterministic engine). For a deterministic engine
    (``deterministic``) the difference is exact: ``low == high == mean``.
    """

    mean: float
    low: float | None
    high: float | None
    sd: float | None
    n: int
    distinguishable: bool | None
    reps_needed: int | None

    def as_dict(self) -> dict:
        return {
            "mean": _no_nan(self.mean),
            "low": None if self.low is None else _no_nan(self.low),
            "high": None if self.high is None else _no_nan(self.high),
            "distinguishable": self.distinguishable,
            "sd": None if self.sd is None else _no_nan(self.sd),
            "n": self.n,
            "reps_needed": self.reps_needed,
        }


#: the most replications :func:`reps_needed` reports (more says "not within reach")
MAX_REPS_NEEDED = 10**7


def _power(n: int, effect: float) -> float:
    """Power of a two-sided paired t-test at 5% with ``n`` pairs, for a true difference of ``effect`` sd
    (the noncentral t CDF ``scipy.special.nctdtr``, as ``scipy.stats.nct`` uses)."""
    from scipy.special import nctdtr

    crit = t975(n - 1)
    nc = effect * math.sqrt(n)
    return float((1.0 - nctdtr(n - 1, nc, crit)) + nctdtr(n - 1, nc, -crit))


def reps_needed(difference: float, sd: float, power: float = 0.8) -> int | None:
    """Replications a paired two-sided t-test at 5% needs to find ``difference`` with probability ``power``.

    The smallest n >= 2 whose exact power (noncentral t with n - 1 degrees of freedom and
    noncentrality ``|difference| * sqrt(n) / sd``) reaches ``power``, taking the observed
    difference and spread as the truth. None when ``difference`` is 0 or not finite (nothing to
    find) or beyond :data:`MAX_REPS_NEEDED`; 2 when ``sd`` is 0 and the difference is not.
    """
    from scipy.special import ndtri

    if not (math.isfinite(difference) and math.isfinite(sd)) or difference == 0:
        return None
    if sd == 0:
        return 2
    effect = abs(difference) / sd
    start = (float(ndtri(0.975) + ndtri(power)) / effect) ** 2  # the normal approximation
    if start > MAX_REPS_NEEDED:
        return None
    n = max(2, math.ceil(start))
    while _power(n, effect) < power:  # the t test needs a little more than the normal approximation
        n += 1
    while n > 2 and _power(n - 1, effect) >= power:
        n -= 1
    return n


def paired_difference(variant, baseline, *, deterministic: bool = False) -> Difference:
    """The difference ``variant - baseline`` of per-replication values run on the same seeds.

    Parameters
    ----------
    variant, baseline : array-like (R,)
        One value per replication; replication r of both ran on the same seed (common random
        numbers), so the differences are paired and their spread is what the interval uses.
    deterministic : bool
        The values are exact expectations (one replication of the ``mean-field`` engine): the
        difference is exact and distinguishable whenever it is not 0.
    """
    a = np.asarray(variant, dtype=np.float64).ravel()
    b = np.asarray(baseline, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values must have one value per common replication, got {a.size} and {b.size}")
    n = a.size
    if n and np.array_equal(a, b, equal_nan=True):  # the same runs (a variant equal to its baseline): exactly 0
        return Difference(0.0, 0.0, 0.0, 0.0, n, False, None)
    with np.errstate(invalid="ignore"):
        d = a - b
    if n == 0 or not np.isfinite(d).all():
        return Difference(math.nan, None, None, None, n, None, None)
    mean = float(d.mean())
    if deterministic:
        return Difference(mean, mean, mean, 0.0, n, mean != 0.0, None)
    if n < 2:
        return Difference(mean, None, None, None, n, None, None)
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return Difference(mean, mean, mean, 0.0, n, mean != 0.0, reps_needed(mean, 0.0))
    half = t975(n - 1) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    return Difference(mean, low, high, sd, n, bool(low > 0 or high < 0), reps_needed(mean, sd))


def _safe_div(a, b):
    """``a / b``, NaN (no value) where ``b`` is 0 or the quotient overflows (a cost of 1e-320)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(over="ignore"):
        q = np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b != 0)
    q[~np.isfinite(q)] = np.nan
    return q


def _no_nan(x: float) -> float | None:
    return None if math.isnan(x) else x


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


def _price_factor(result) -> float:
    """Purchase-weighted mean of the price events' revenue multiplier (for counts without a day axis)."""
    purchases = result.purchases.sum(axis=0)
    total = purchases.sum()
    return float((purchases * result.model.revenue_mult).sum() / total) if total > 0 else 1.0


def touchpoint_reps(result) -> dict[str, dict[str, np.ndarray]]:
    """Per touchpoint, per-replication values (R,): cost, deliveries, engagements and what it caused.

    ``moves_caused``, ``conversions_caused`` (moves from a stage that is not converted into one
    that is), ``purchases_caused`` and ``revenue_caused`` count the moves credited to the
    touchpoint (a service touchpoint's: those of its three outcomes).
    """
    m = result.model
    price = _price_factor(result)
    conv_from = ~m.is_converted
    owner = m.sources.touchpoint
    out = {}
    for j, name in enumerate(m.touchpoint_names):
        cr = result.credits[:, owner == j].sum(axis=1)  # (R, S, S)
        out[name] = {
            "cost": result.cost[:, :, j].sum(axis=1).astype(np.float64),
            "deliveries": result.deliveries[:, :, j].sum(axis=1).astype(np.float64),
            "engagements": result.engagements[:, :, j].sum(axis=1).astype(np.float64),
            "moves_caused": cr.sum(axis=(1, 2)).astype(np.float64),
            "conversions_caused": cr[:, conv_from][:, :, m.is_converted].sum(axis=(1, 2)).astype(np.float64),
            "purchases_caused": cr[:, :, m.is_purchase].sum(axis=(1, 2)).astype(np.float64),
            "revenue_caused": ((cr.sum(axis=1) * m.purchase_value).sum(axis=1) * price).astype(np.float64),
        }
    return out


def touchpoint_table(result, incremental: np.ndarray) -> list[dict]:
    """One row per touchpoint: cost, deliveries, engagements, moves it caused, incremental ROI.

    Means over replications of :func:`touchpoint_reps`; ``incremental (J,)``: the revenue each
    touchpoint adds (:func:`jsim.analysis.incremental_revenue`).
    """
    m = result.model
    rows = []
    for j, (name, reps) in enumerate(touchpoint_reps(result).items()):
        c = float(reps["cost"].mean())
        rows.append(
            {
                "touchpoint": name,
                "kind": m.touchpoint_kinds[j],
                **{key: float(v.mean()) for key, v in reps.items()},
                "incremental_revenue": float(incremental[j]),
                "incremental_roi": _no_nan(float(_safe_div(incremental[j] * m.margin - c, c))),
            }
        )
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
        rows.append(
            {
                "segment": name,
                "customers": estimate(customers).as_dict(),
                "new_customers": estimate(new).as_dict(),
                "conversion_rate": estimate(_safe_div(new, prospects)).as_dict(),
                "purchases": estimate(into[:, m.is_purchase].sum(axis=1)).as_dict(),
                "revenue": estimate((into * m.purchase_value).sum(axis=1) * price).as_dict(),
            }
        )
    return rows


def service_table(result) -> list[dict]:
    """One row per service touchpoint: requests, served, abandoned, waits, utilisation, customers lost waiting.

    Day-resolution records (``fast``, ``mean-field``) report expectations of their daily queue
    model; event records (``des``) what their queues recorded, with wait quantiles. Utilisation
    is busy agent-time over available agent-time over the whole horizon. Moves after abandoning
    come from the moves by source (``NAME:abandoned``), the same for every engine.
    """
    m = result.model
    by_source = result.moves_by_source.sum(axis=1)  # (R, n_sources)
    rows = []
    for v, rec in enumerate(result.services):
        sources = {kind: m.source_names.index(f"{rec.name}:{kind}") for kind in ("abandoned", "lost_waiting")}
        moved_after_abandoning = estimate(by_source[:, sources["abandoned"]]).as_dict()
        if rec.resolution == "event":
            rows.append(_event_service_row(rec, by_source[:, sources["lost_waiting"]], moved_after_abandoning))
            continue
        req = rec.requests[:, 1:]
        total = req.sum(axis=1)
        capacity = m.svc_capacity[1:, v].sum()  # agent-time available, in requests
        rows.append(
            {
                "service": rec.name,
                "requests": estimate(total).as_dict(),
                "served": estimate(rec.served[:, 1:].sum(axis=1)).as_dict(),
                "abandoned": estimate(rec.abandoned[:, 1:].sum(axis=1)).as_dict(),
                "abandonment_rate": estimate(_safe_div((req * rec.p_abandon[:, 1:]).sum(axis=1), total)).as_dict(),
                "mean_wait_hours": estimate(24 * _safe_div((req * rec.mean_wait[:, 1:]).sum(axis=1), total)).as_dict(),
                "utilisation": estimate(_safe_div(rec.served[:, 1:].sum(axis=1), capacity)).as_dict(),
                "lost_while_waiting": estimate((req * rec.p_loss[:, 1:]).sum(axis=1)).as_dict(),
                "moved_after_abandoning": moved_after_abandoning,
                "wait_p50_minutes": None,
                "wait_p90_minutes": None,
                "resolution": "day",
            }
        )
    return rows


def _busy_share(tl) -> float:
    """Busy agent-time over available agent-time of a desk's timeline (row i holds from times[i])."""
    times = np.asarray(tl.times, dtype=np.float64)
    if times.size < 2:
        return math.nan
    dt = np.diff(times)
    avail = float((np.asarray(tl.n_available[:-1], dtype=np.float64) * dt).sum())
    return float((np.asarray(tl.n_busy[:-1], dtype=np.float64) * dt).sum()) / avail if avail > 0 else math.nan


def _event_service_row(rec, lost_waiting: np.ndarray, moved_after_abandoning: dict) -> dict:
    served = np.array([float((w.outcome == 0).sum()) for w in rec.waits])
    abandoned = np.array([float((w.outcome == 1).sum()) for w in rec.waits])
    n_req = rec.requests[:, 1:].sum(axis=1)
    waits = [w.wait if len(w.wait) else np.zeros(1) for w in rec.waits]
    return {
        "service": rec.name,
        "requests": estimate(n_req).as_dict(),
        "served": estimate(served).as_dict(),
        "abandoned": estimate(abandoned).as_dict(),
        "abandonment_rate": estimate(_safe_div(abandoned, n_req)).as_dict(),
        "mean_wait_hours": estimate([24 * w.mean() for w in waits]).as_dict(),
        "utilisation": estimate([_busy_share(tl) for tl in rec.timeline]).as_dict(),
        "lost_while_waiting": estimate(lost_waiting).as_dict(),
        "moved_after_abandoning": moved_after_abandoning,
        "wait_p50_minutes": estimate([1440 * float(np.quantile(w, 0.5)) for w in waits]).as_dict(),
        "wait_p90_minutes": estimate([1440 * float(np.quantile(w, 0.9)) for w in waits]).as_dict(),
        "resolution": "event",
    }


def source_reps(result) -> dict[str, dict[str, np.ndarray]]:
    """Per source, per-replication values (R,): the moves it caused, the conversions and purchases among them."""
    m = result.model
    cr = result.credits  # (R, n_sources, S, S)
    conv = cr[:, :, ~m.is_converted][:, :, :, m.is_converted].sum(axis=(2, 3))
    purchases = cr[:, :, :, m.is_purchase].sum(axis=(2, 3))
    moves = cr.sum(axis=(2, 3))
    return {
        name: {
            "moves": moves[:, i].astype(np.float64),
            "conversions": conv[:, i].astype(np.float64),
            "purchases": purchases[:, i].astype(np.float64),
        }
        for i, name in enumerate(m.sources.names)
    }


def source_table(result) -> list[dict]:
    """One row per source (``organic``, touchpoints, service outcomes, ``wom:...``, ``event:...``).

    Its kind, the moves it caused, the conversions among them (moves from a stage that is not
    converted into one that is) and the purchases (moves into a purchase stage).
    """
    kinds = result.model.sources.kinds
    return [
        {"source": name, "kind": kinds[i], **{key: estimate(v).as_dict() for key, v in reps.items()}}
        for i, (name, reps) in enumerate(source_reps(result).items())
    ]


def rep_values(result) -> dict[str, dict]:
    """Everything a run reports per replication, by table: what compare, sweep and sensitivity read.

    ``{"metrics": {metric: (R,)}, "stages_at_horizon": {stage: (R,)}, "touchpoints": {touchpoint:
    {field: (R,)}}, "sources": {source: {field: (R,)}}}`` (:func:`rep_metrics`,
    :func:`touchpoint_reps`, :func:`source_reps`); float64 arrays.
    """
    occ_T = result.occupancy[:, -1].sum(axis=1).astype(np.float64)
    return {
        "metrics": rep_metrics(result),
        "stages_at_horizon": {name: occ_T[:, s] for s, name in enumerate(result.model.stage_names)},
        "touchpoints": touchpoint_reps(result),
        "sources": source_reps(result),
    }
