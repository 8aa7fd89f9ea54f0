"""Lower a validated :class:`~jsim.scenario.Scenario` once into frozen typed arrays.

The engines never see pydantic objects: they read the :class:`CompiledModel` arrays below.
Axis letters used in the docstrings: ``T`` days (index 0 is the initial state, 1..T the
simulated days), ``G`` segments, ``S`` stages, ``J`` touchpoints, ``W`` word-of-mouth rules,
``K = 1 + J + W`` sources of movement (baseline, touchpoints, word-of-mouth rules, in that
order), ``P`` (source, destination) pairs of one stage.
"""

from __future__ import annotations

__all__ = ["CompiledModel", "CompiledService", "compile_scenario", "largest_remainder"]

from dataclasses import dataclass, field

import numpy as np

from ..errors import ScenarioError, ScenarioIssue
from ..scenario.load import scenario_hash
from ..scenario.models import Scenario
from .calendar import DAY_PURCHASE, DAY_TRANSITIONS, build_calendar


@dataclass(frozen=True, eq=False)
class CompiledService:
    """A capacity-limited service touchpoint. Durations in days (the scenario gives hours).

    Attributes
    ----------
    touchpoint : int
        Index of the touchpoint whose deliveries are service requests.
    agents : (T+1,) int64
        Agents on duty each day (capacity events applied).
    service_dist, patience_dist : str
        ``exponential``, ``fixed``, ``lognormal`` or ``gamma`` (patience: ``""`` = infinite).
    service_mean, service_sd, patience_mean, patience_sd : float
        In days (sd NaN where the distribution has none).
    open_from, open_to : float
        Opening hours as fractions of a day, ``[open_from, open_to)``.
    wait_loss_rate : float
        Hazard of loss per day waited.
    loss_stage : int
        Stage that waiting loses customers to (default: the first absorbing stage that is not
        converted, such as 'lost'); -1 if none.
    abandon_q : (G, S, S) float64
        Effects of abandoning the queue, segment multipliers applied.
    """

    touchpoint: int
    name: str
    agents: np.ndarray
    service_dist: str
    service_mean: float
    service_sd: float
    patience_dist: str
    patience_mean: float
    patience_sd: float
    open_from: float
    open_to: float
    wait_loss_rate: float
    loss_stage: int
    abandon_q: np.ndarray

    @property
    def open_fraction(self) -> float:
        """Share of each day the service is open."""
        return self.open_to - self.open_from


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """A scenario as arrays. Produced by :func:`compile_scenario`; read-only.

    Attributes (arrays)
    -------------------
    p0 : (G, S, S) float64
        Baseline daily transition probabilities, segment multipliers applied; rows sum to <= 1.
    q : (G, J, S, S) float64
        Effect of one engaged exposure, segment multipliers and targeting applied.
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
        ``delivery * engagement * fatigue * calendar effect multiplier``: multiplies ``q`` on each day.
    effect_mult : (T+1, J) float64
        The calendar's multiplier of each touchpoint's effects (promotions, seasonality, shocks).
    day_mult : (T+1, 3) float64
        Calendar multipliers of organic transitions, word-of-mouth hazards and moves into
        purchase stages (see :mod:`jsim.model.calendar`).
    arrivals_mult, revenue_mult : (T+1,) float64
        Calendar multipliers of arrivals and of revenue per purchase.
    move_day, move_from, move_to : (E,) int64
    move_share : (E,) float64
        One-off moves (shocks): on ``move_day``, a source moving ``move_share`` of the stage.
    qa, ql : (G, J, S, S) float64
        Service touchpoints only: effects of abandoning the queue, and the one-hot move of a
        customer lost while waiting (to the service's loss stage).
    eff_abandon, eff_loss : (T+1, J) float64
        Day coefficients of ``qa`` and ``ql``: zero in the compiled model; the engines fill them
        from their queues (see ``docs/model.md``).
    svc_tp : (V,) int64
        Touchpoint index of each service.
    svc_capacity : (T+1, V) float64
        Requests a service can complete each day: agents x open share of the day / mean service time.
    svc_agents : (T+1, V) float64
        Agents on duty each day.
    svc_params : (V, 4) float64
        Opening and closing time (fractions of the day), mean service time and mean patience
        (inf: none), in days.
    svc_loss : (V,) float64
        Hazard of loss per day waited.
    services : tuple of CompiledService
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
    effect_mult: np.ndarray
    day_mult: np.ndarray
    arrivals_mult: np.ndarray
    revenue_mult: np.ndarray
    move_day: np.ndarray
    move_from: np.ndarray
    move_to: np.ndarray
    move_share: np.ndarray
    qa: np.ndarray
    ql: np.ndarray
    eff_abandon: np.ndarray
    eff_loss: np.ndarray
    svc_tp: np.ndarray
    svc_capacity: np.ndarray
    svc_agents: np.ndarray
    svc_params: np.ndarray
    svc_loss: np.ndarray
    services: tuple
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
        return 1 + self.n_touchpoints + self.n_wom + len(self.move_day)

    @property
    def source_names(self) -> tuple[str, ...]:
        wom = tuple(f"word_of_mouth[{i}]" for i in range(self.n_wom))
        moves = tuple(f"event_move[day {d}]" for d in self.move_day.tolist())
        return ("organic",) + self.touchpoint_names + wom + moves

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(sv.name for sv in self.services)

    @property
    def is_coupled(self) -> bool:
        """True when hazards depend on the population state (word of mouth, service queues)."""
        return self.n_wom > 0 or len(self.services) > 0


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
        A validated scenario (from :func:`jsim.scenario.load_scenario`).
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
    pop = sc.population
    default_n = int(sum(pop.initial.values())) if pop.initial_counts else pop.customers
    N = int(customers if customers is not None else default_n)
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
        if t.from_ != t.to:  # an entry from a stage to itself states the staying probability: implied anyway
            base[sidx[t.from_], sidx[t.to]] = t.p
    p0 = base[None, :, :] * trans_mult[:, None, None]

    tps = sc.touchpoints
    J = len(tps)
    tp_names = tuple(tp.name for tp in tps)
    cal = build_calendar(sc, T, {n: j for j, n in enumerate(tp_names)}, sidx)
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
        spend[:, j] *= cal.spend_mult[:, j]
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
        delivery[:, j] = np.minimum(delivery[:, j] * cal.reach_mult[:, j], 1.0)
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
    exposure_effect = delivery * engagement[None, :] * fatigue * cal.effect_mult

    W = len(sc.word_of_mouth)
    wom_from = np.array([sidx[w.from_] for w in sc.word_of_mouth], dtype=np.int64)
    wom_to = np.array([sidx[w.to] for w in sc.word_of_mouth], dtype=np.int64)
    wom_p = np.array([w.p for w in sc.word_of_mouth], dtype=np.float64)
    wom_q = np.array([w.q for w in sc.word_of_mouth], dtype=np.float64)
    wom_advocate = np.zeros((W, S), dtype=np.bool_)
    for i, w in enumerate(sc.word_of_mouth):
        names = w.advocates if w.advocates is not None else [s.name for s in sc.stages if s.advocate]
        wom_advocate[i, [sidx[n] for n in names]] = True

    stage_share = np.zeros(S)
    if pop.initial is None:
        stage_share[0] = 1.0
    else:
        for n, v in pop.initial.items():
            stage_share[sidx[n]] = v
        stage_share /= stage_share.sum() if stage_share.sum() > 0 else 1.0
    if pop.initial_counts:
        # counts per stage as given (rescaled by largest remainder under --customers), each split over segments
        counts = np.array([pop.initial.get(n, 0) for n in stage_names], dtype=np.int64)
        if N != default_n:
            counts = largest_remainder(N, counts)
        initial = np.stack([largest_remainder(int(c), seg_share) for c in counts], axis=1)
    else:
        initial = largest_remainder(N, seg_share[:, None] * stage_share[None, :])
    arrival_stage = sidx[pop.arrival_stage] if pop.arrival_stage is not None else 0

    E = len(cal.moves)
    move_day = np.array([m[0] for m in cal.moves], dtype=np.int64)
    move_from = np.array([m[1] for m in cal.moves], dtype=np.int64)
    move_to = np.array([m[2] for m in cal.moves], dtype=np.int64)
    move_share = np.array([m[3] for m in cal.moves], dtype=np.float64)
    _check_calendar_probabilities(p0, q, fatigue * cal.effect_mult, cal.day_mult, is_purchase, stage_names, tp_names)
    services = tuple(_compile_service(tp, j, cal.agents[j], sidx, seg_names, is_absorbing, is_converted)
                     for j, tp in enumerate(tps) if tp.service is not None)
    qa, ql = np.zeros((G, J, S, S)), np.zeros((G, J, S, S))
    for sv in services:
        qa[:, sv.touchpoint] = sv.abandon_q
        if sv.loss_stage >= 0:
            for g in range(G):
                for st in np.flatnonzero(target[sv.touchpoint, g] & ~is_absorbing):
                    if st != sv.loss_stage:
                        ql[g, sv.touchpoint, st, sv.loss_stage] = 1.0
    V = len(services)
    svc_tp = np.array([sv.touchpoint for sv in services], dtype=np.int64)
    svc_capacity = np.zeros((T + 1, V))
    for v, sv in enumerate(services):
        svc_capacity[:, v] = sv.agents * sv.open_fraction / sv.service_mean
    svc_agents = np.zeros((T + 1, V))
    for v, sv in enumerate(services):
        svc_agents[:, v] = sv.agents
    svc_params = np.array([[sv.open_from, sv.open_to, sv.service_mean, sv.patience_mean] for sv in services],
                          dtype=np.float64).reshape(V, 4)
    svc_loss = np.array([sv.wait_loss_rate for sv in services], dtype=np.float64)

    # (source, destination) pairs that can fire from each (segment, stage)
    K = 1 + J + W + E
    pairs = [[[] for _ in range(S)] for _ in range(G)]
    for g in range(G):
        for s in range(S):
            if is_absorbing[s]:
                continue
            for d in np.flatnonzero(p0[g, s] > 0):
                pairs[g][s].append((0, int(d)))
            for j in range(J):
                for d in np.flatnonzero((q[g, j, s] > 0) | (qa[g, j, s] > 0) | (ql[g, j, s] > 0)):
                    pairs[g][s].append((1 + j, int(d)))
            for w in range(W):
                if wom_from[w] == s and (wom_p[w] > 0 or wom_q[w] > 0) and wom_mult[g] > 0:
                    pairs[g][s].append((1 + J + w, int(wom_to[w])))
            for e in range(E):
                if move_from[e] == s and move_share[e] > 0:
                    pairs[g][s].append((1 + J + W + e, int(move_to[e])))
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
        q=q, target=target, spend=spend, delivery=delivery, engagement=engagement, fatigue=fatigue,
        exposure_effect=np.ascontiguousarray(exposure_effect),
        cost_per_exposure=np.array([tp.cost_per_exposure for tp in tps], dtype=np.float64),
        wom_from=wom_from, wom_to=wom_to, wom_p=wom_p, wom_q=wom_q, wom_advocate=wom_advocate,
        wom_mult=wom_mult.astype(np.float64), initial=initial,
        arrivals_mean=(pop.arrivals_per_day * seg_share).astype(np.float64),
        pair_src=pair_src, pair_dst=pair_dst, n_pairs=n_pairs, effect_mult=cal.effect_mult, day_mult=cal.day_mult,
        arrivals_mult=cal.arrivals_mult, revenue_mult=cal.revenue_mult, move_day=move_day, move_from=move_from,
        move_to=move_to, move_share=move_share, qa=qa, ql=ql, eff_abandon=np.zeros((T + 1, J)),
        eff_loss=np.zeros((T + 1, J)), svc_tp=svc_tp, svc_capacity=svc_capacity, svc_agents=svc_agents, svc_params=svc_params,
        svc_loss=svc_loss,
    )
    for a in arrays.values():
        a.setflags(write=False)
    return CompiledModel(
        name=sc.name, scenario_hash=scenario_hash(sc), stage_names=stage_names, segment_names=seg_names,
        touchpoint_names=tp_names, touchpoint_kinds=tuple(tp.kind for tp in tps), n_days=T, n_customers=N,
        currency=sc.economics.currency, margin=sc.economics.margin, arrival_stage=arrival_stage,
        stage_index=sidx, touchpoint_index={n: i for i, n in enumerate(tp_names)}, segment_index=gidx,
        services=services, **arrays,
    )


def _check_calendar_probabilities(p0, q, per_exposure, day_mult, is_purchase, stage_names, tp_names) -> None:
    """Organic rows and each engaged exposure's effects must stay <= 1 once the calendar's multipliers apply.

    ``per_exposure (T+1, J)`` multiplies an engaged exposure's effects (fatigue, promotions, seasonality).
    """
    issues = []
    purch = is_purchase.astype(np.float64)
    # organic: p0 rows with moves into purchase stages scaled
    base_other = (p0 * (1 - purch)).sum(-1)  # (G, S)
    base_purch = (p0 * purch).sum(-1)
    r0 = day_mult[1:, DAY_TRANSITIONS, None, None] * (base_other[None] + day_mult[1:, DAY_PURCHASE, None, None] * base_purch[None])
    if r0.size and r0.max() > 1 + 1e-9:
        t, g, s = np.unravel_index(np.argmax(r0), r0.shape)
        issues.append(ScenarioIssue("seasonality/events", f"organic transitions out of stage '{stage_names[s]}' must total <= 1 "
                                    f"on every day, got {r0.max():.4g} on day {t + 1} after calendar multipliers",
                                    "lower the seasonal profile or the price event's purchase_multiplier"))
    q_other = (q * (1 - purch)).sum(-1)  # (G, J, S)
    q_purch = (q * purch).sum(-1)
    rj = per_exposure[1:, None, :, None] * (q_other[None] + day_mult[1:, DAY_PURCHASE, None, None, None] * q_purch[None])
    if rj.size and rj.max() > 1 + 1e-9:
        t, g, j, s = np.unravel_index(np.argmax(rj), rj.shape)
        issues.append(ScenarioIssue(f"touchpoints ({tp_names[j]})", f"an exposure's effects from stage '{stage_names[s]}' must total "
                                    f"<= 1 on every day, got {rj.max():.4g} on day {t + 1} after calendar multipliers",
                                    "lower the promotion's effect_multiplier, the seasonal profile or the effects"))
    if issues:
        raise ScenarioError(issues)


_HOURS_PER_DAY = 24.0


def _compile_service(tp, j, agents, sidx, seg_names, is_absorbing, is_converted) -> CompiledService:
    sv = tp.service
    S, G = len(sidx), len(seg_names)
    loss = sidx[sv.loss_stage] if sv.loss_stage is not None else next(
        (i for i in range(S) if is_absorbing[i] and not is_converted[i]), -1)
    abandon_q = np.zeros((G, S, S))
    seg_ok = np.array([tp.segments is None or name in tp.segments for name in seg_names])
    for e in sv.abandon_effects:
        abandon_q[:, sidx[e.from_], sidx[e.to]] = e.p * seg_ok
    pat = sv.patience
    agents = agents.copy()
    agents.setflags(write=False)
    abandon_q.setflags(write=False)
    return CompiledService(
        touchpoint=j, name=tp.name, agents=agents, service_dist=sv.service_time.dist,
        service_mean=sv.service_time.mean / _HOURS_PER_DAY,
        service_sd=(sv.service_time.sd or np.nan) / _HOURS_PER_DAY,
        patience_dist=pat.dist if pat is not None else "", patience_mean=pat.mean / _HOURS_PER_DAY if pat else np.inf,
        patience_sd=((pat.sd or np.nan) / _HOURS_PER_DAY) if pat else np.nan,
        open_from=sv.open[0] / _HOURS_PER_DAY, open_to=sv.open[1] / _HOURS_PER_DAY,
        wait_loss_rate=sv.wait_loss_per_hour * _HOURS_PER_DAY, loss_stage=loss, abandon_q=abandon_q,
    )
