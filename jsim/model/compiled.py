"""Lower a validated :class:`~jsim.spec.Scenario` once into frozen typed arrays.

The engines never see pydantic objects: they read the :class:`CompiledModel` arrays below.
Axis letters used in the docstrings: ``T`` days (index 0 is the initial state, 1..T the
simulated days), ``G`` segments, ``S`` stages, ``J`` touchpoints, ``W`` word-of-mouth rules,
``K = 1 + J + W`` sources of movement (baseline, touchpoints, word-of-mouth rules, in that
order), ``P`` (source, destination) pairs of one stage.
"""

from __future__ import annotations

__all__ = ["CompiledModel", "compile_scenario", "largest_remainder"]

from dataclasses import dataclass, field

import numpy as np

from ..errors import ScenarioError, ScenarioIssue
from ..spec.load import scenario_hash
from ..spec.models import Scenario


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A scenario as arrays. Produced by :func:`compile_scenario`; read-only.

    Attributes (arrays)
    -------------------
    p0 : (G, S, S) float64
        Baseline daily transition probabilities, segment multipliers applied; rows sum to <= 1.
    q : (G, J, S, S) float64
        Effect of one engaged exposure, segment multipliers and targeting applied.
    q_sum : (G, J, S) float64
        ``q.sum(-1)``.
    target : (J, G, S) bool
        Whether touchpoint j delivers to customers of segment g standing in stage s.
    spend : (T+1, J) float64
        Daily spend (row 0 is zero).
    delivery : (T+1, J) float64
        Daily delivery probability after adstock, saturation and frequency cap.
    engagement : (J,) float64
    fatigue : (T+1, J) float64
        Effect multiplier from wear-out, in (0, 1].
    exposure_effect : (T+1, J) float64
        ``delivery * engagement * fatigue``: multiplies ``q`` on each day.
    wom_from, wom_to : (W,) int64
    wom_p, wom_q : (W,) float64
        Bass hazards per day.
    wom_advocate : (W, S) bool
    wom_mult : (G,) float64
    initial : (G, S) int64
        Day-0 customers.
    arrivals_mean : (G,) float64
        Mean daily arrivals per segment (Poisson).
    pair_src, pair_dst : (G, S, P) int64
        The (source, destination) pairs that can move a customer out of stage s.
    n_pairs : (G, S) int64
    """

    name: str
    scenario_hash: str
    stage_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    touchpoint_names: tuple[str, ...]
    touchpoint_kinds: tuple[str, ...]
    n_days: int
    n_customers: int
    currency: str
    margin: float
    is_absorbing: np.ndarray
    is_converted: np.ndarray
    is_retained: np.ndarray
    is_purchase: np.ndarray
    purchase_value: np.ndarray
    seg_share: np.ndarray
    p0: np.ndarray
    q: np.ndarray
    q_sum: np.ndarray
    target: np.ndarray
    spend: np.ndarray
    delivery: np.ndarray
    engagement: np.ndarray
    fatigue: np.ndarray
    exposure_effect: np.ndarray
    cost_per_exposure: np.ndarray
    wom_from: np.ndarray
    wom_to: np.ndarray
    wom_p: np.ndarray
    wom_q: np.ndarray
    wom_advocate: np.ndarray
    wom_mult: np.ndarray
    initial: np.ndarray
    arrivals_mean: np.ndarray
    arrival_stage: int
    pair_src: np.ndarray
    pair_dst: np.ndarray
    n_pairs: np.ndarray
    stage_index: dict = field(repr=False)
    touchpoint_index: dict = field(repr=False)
    segment_index: dict = field(repr=False)

    @property
    def n_stages(self) -> int:
        return len(self.stage_names)

    @property
    def n_segments(self) -> int:
        return len(self.segment_names)

    @property
    def n_touchpoints(self) -> int:
        return len(self.touchpoint_names)

    @property
    def n_wom(self) -> int:
        return len(self.wom_from)

    @property
    def n_sources(self) -> int:
        return 1 + self.n_touchpoints + self.n_wom

    @property
    def source_names(self) -> tuple[str, ...]:
        wom = tuple(f"word_of_mouth[{i}]" for i in range(self.n_wom))
        return ("organic",) + self.touchpoint_names + wom

    @property
    def is_coupled(self) -> bool:
        """True when hazards depend on the population state (word of mouth)."""
        return self.n_wom > 0


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split integer ``total`` proportionally to ``weights`` (any shape), rounding by largest remainder."""
    w = np.asarray(weights, dtype=np.float64)
    if total == 0 or w.sum() == 0:
        return np.zeros(w.shape, dtype=np.int64)
    exact = total * w.ravel() / w.sum()
    base = np.floor(exact).astype(np.int64)
    short = int(total - base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base.reshape(w.shape)


def _adstock_weights(alpha: float, l_max: int, normalize: bool, n_keep: int) -> np.ndarray:
    """The first ``min(l_max, n_keep)`` adstock weights; normalised by the sum of all ``l_max``.

    Lags past the horizon never meet any spend, but they still count in the normalisation,
    so a scenario's delivery does not depend on how many days are simulated.
    """
    w = alpha ** np.arange(min(l_max, n_keep), dtype=np.float64)
    if not normalize:
        return w
    if l_max <= n_keep:
        return w / w.sum()
    return w * ((1.0 - alpha) / (1.0 - alpha**l_max))  # sum_{l < l_max} alpha^l = (1 - alpha^l_max) / (1 - alpha)


def compile_scenario(scenario: Scenario, *, customers: int | None = None, days: int | None = None) -> CompiledModel:
    """Lower a validated scenario into a :class:`CompiledModel`.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (from :func:`jsim.spec.load_scenario`).
    customers : int, optional
        Overrides ``population.customers``.
    days : int, optional
        Overrides ``population.days``.
    """
    if customers is not None and (not isinstance(customers, (int, np.integer)) or customers < 0):
        raise ScenarioError(ScenarioIssue("--customers", f"must be a whole number >= 0, got {customers!r}", "e.g. --customers 100000"))
    if days is not None and (not isinstance(days, (int, np.integer)) or not 1 <= days <= 100_000):
        raise ScenarioError(ScenarioIssue("--days", f"must be a whole number within [1, 100000], got {days!r}", "e.g. --days 90"))
    sc = scenario
    T = int(days if days is not None else sc.population.days)
    N = int(customers if customers is not None else sc.population.customers)
    stage_names = tuple(s.name for s in sc.stages)
    sidx = {n: i for i, n in enumerate(stage_names)}
    S = len(stage_names)
    segments = sc.segments or []
    seg_names = tuple(g.name for g in segments) or ("all",)
    G = len(seg_names)
    gidx = {n: i for i, n in enumerate(seg_names)}
    seg_share = np.array([g.share for g in segments] or [1.0], dtype=np.float64)
    trans_mult = np.array([g.transition_multiplier for g in segments] or [1.0])
    eff_mult = np.array([g.effect_multiplier for g in segments] or [1.0])
    wom_mult = np.array([g.word_of_mouth_multiplier for g in segments] or [1.0])

    is_absorbing = np.array([s.absorbing for s in sc.stages], dtype=np.bool_)
    is_converted = np.array([s.converted for s in sc.stages], dtype=np.bool_)
    is_retained = np.array([s.retained for s in sc.stages], dtype=np.bool_)
    is_purchase = np.array([s.purchase for s in sc.stages], dtype=np.bool_)
    purchase_value = np.array(
        [(s.value if s.value is not None else sc.economics.revenue_per_purchase) if s.purchase else 0.0 for s in sc.stages]
    )

    base = np.zeros((S, S))
    for t in sc.transitions:
        base[sidx[t.from_], sidx[t.to]] = t.p
    p0 = base[None, :, :] * trans_mult[:, None, None]

    tps = sc.touchpoints
    J = len(tps)
    tp_names = tuple(tp.name for tp in tps)
    q = np.zeros((G, J, S, S))
    target = np.zeros((J, G, S), dtype=np.bool_)
    spend = np.zeros((T + 1, J))
    delivery = np.zeros((T + 1, J))
    fatigue = np.ones((T + 1, J))
    engagement = np.array([tp.engagement for tp in tps], dtype=np.float64)
    days_axis = np.arange(T + 1)
    for j, tp in enumerate(tps):
        end = min(tp.end_day if tp.end_day is not None else T, T)
        in_flight = (days_axis >= tp.start_day) & (days_axis <= end)
        n_flight = int(in_flight.sum())
        daily = tp.spend if tp.spend is not None else ((tp.budget or 0.0) / n_flight if n_flight else 0.0)
        spend[in_flight, j] = daily
        if tp.response is None:
            delivery[in_flight, j] = tp.reach
        else:
            x = spend[:, j]
            if tp.adstock is not None:
                w = _adstock_weights(tp.adstock.alpha, tp.adstock.l_max or T, tp.adstock.normalize, T + 1)
                x = np.convolve(x, w)[: T + 1]
            r = tp.response
            if r.kind == "hill":
                # max_reach * x^slope / (x^slope + ec^slope), written so large slopes cannot overflow
                with np.errstate(over="ignore", divide="ignore"):
                    ratio = np.power(np.divide(r.ec, x, out=np.full_like(x, np.inf), where=x > 0), r.slope)
                delivery[:, j] = r.max_reach / (1.0 + ratio)
            else:
                delivery[:, j] = r.max_reach * -np.expm1(-r.lam * x)
            delivery[0, j] = 0.0
        if tp.frequency_cap is not None:
            np.minimum(delivery[:, j], tp.frequency_cap.exposures / tp.frequency_cap.days, out=delivery[:, j])
        if tp.fatigue is not None:
            delta = 0.5 ** (1.0 / tp.fatigue.halflife)
            recent = 0.0
            for t in range(1, T + 1):
                recent = delivery[t - 1, j] * engagement[j] + delta * recent
                fatigue[t, j] = 1.0 / (1.0 + tp.fatigue.strength * recent)
        seg_ok = np.array([tp.segments is None or name in tp.segments for name in seg_names])
        if tp.targets is not None:
            stages_reached = [sidx[n] for n in tp.targets]
        elif tp.effects:
            stages_reached = sorted({sidx[e.from_] for e in tp.effects})
        else:
            stages_reached = [i for i in range(S) if not is_absorbing[i]]
        for g in range(G):
            if seg_ok[g]:
                target[j, g, stages_reached] = True
        tp_mult = np.array([g.touchpoint_multipliers.get(tp.name, 1.0) for g in segments] or [1.0])
        for e in tp.effects:
            q[:, j, sidx[e.from_], sidx[e.to]] = e.p * eff_mult * tp_mult * seg_ok
    q_sum = q.sum(axis=-1)
    exposure_effect = delivery * engagement[None, :] * fatigue

    W = len(sc.word_of_mouth)
    wom_from = np.array([sidx[w.from_] for w in sc.word_of_mouth], dtype=np.int64)
    wom_to = np.array([sidx[w.to] for w in sc.word_of_mouth], dtype=np.int64)
    wom_p = np.array([w.p for w in sc.word_of_mouth], dtype=np.float64)
    wom_q = np.array([w.q for w in sc.word_of_mouth], dtype=np.float64)
    wom_advocate = np.zeros((W, S), dtype=np.bool_)
    for i, w in enumerate(sc.word_of_mouth):
        names = w.advocates if w.advocates is not None else [s.name for s in sc.stages if s.advocate]
        wom_advocate[i, [sidx[n] for n in names]] = True

    pop = sc.population
    stage_share = np.zeros(S)
    if pop.initial is None:
        stage_share[0] = 1.0
    else:
        for n, v in pop.initial.items():
            stage_share[sidx[n]] = v
    initial = largest_remainder(N, seg_share[:, None] * stage_share[None, :])
    arrival_stage = sidx[pop.arrival_stage] if pop.arrival_stage is not None else 0

    # (source, destination) pairs that can fire from each (segment, stage)
    K = 1 + J + W
    pairs = [[[] for _ in range(S)] for _ in range(G)]
    for g in range(G):
        for s in range(S):
            if is_absorbing[s]:
                continue
            for d in np.flatnonzero(p0[g, s] > 0):
                pairs[g][s].append((0, int(d)))
            for j in range(J):
                for d in np.flatnonzero(q[g, j, s] > 0):
                    pairs[g][s].append((1 + j, int(d)))
            for w in range(W):
                if wom_from[w] == s and (wom_p[w] > 0 or wom_q[w] > 0) and wom_mult[g] > 0:
                    pairs[g][s].append((1 + J + w, int(wom_to[w])))
    P = max(1, max(len(pairs[g][s]) for g in range(G) for s in range(S)))
    pair_src = np.zeros((G, S, P), dtype=np.int64)
    pair_dst = np.zeros((G, S, P), dtype=np.int64)
    n_pairs = np.zeros((G, S), dtype=np.int64)
    for g in range(G):
        for s in range(S):
            for i, (k, d) in enumerate(pairs[g][s]):
                pair_src[g, s, i], pair_dst[g, s, i] = k, d
            n_pairs[g, s] = len(pairs[g][s])
    assert K >= 1

    arrays = dict(
        is_absorbing=is_absorbing, is_converted=is_converted, is_retained=is_retained, is_purchase=is_purchase,
        purchase_value=purchase_value.astype(np.float64), seg_share=seg_share, p0=np.ascontiguousarray(p0),
        q=q, q_sum=q_sum, target=target, spend=spend, delivery=delivery, engagement=engagement, fatigue=fatigue,
        exposure_effect=np.ascontiguousarray(exposure_effect),
        cost_per_exposure=np.array([tp.cost_per_exposure for tp in tps], dtype=np.float64),
        wom_from=wom_from, wom_to=wom_to, wom_p=wom_p, wom_q=wom_q, wom_advocate=wom_advocate,
        wom_mult=wom_mult.astype(np.float64), initial=initial,
        arrivals_mean=(pop.arrivals_per_day * seg_share).astype(np.float64),
        pair_src=pair_src, pair_dst=pair_dst, n_pairs=n_pairs,
    )
    for a in arrays.values():
        a.setflags(write=False)
    return CompiledModel(
        name=sc.name, scenario_hash=scenario_hash(sc), stage_names=stage_names, segment_names=seg_names,
        touchpoint_names=tp_names, touchpoint_kinds=tuple(tp.kind for tp in tps), n_days=T, n_customers=N,
        currency=sc.economics.currency, margin=sc.economics.margin, arrival_stage=arrival_stage,
        stage_index=sidx, touchpoint_index={n: i for i, n in enumerate(tp_names)}, segment_index=gidx, **arrays,
    )
