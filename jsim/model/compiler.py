"""Lower a validated :class:`~jsim.scenario.Scenario` once into a :class:`CompiledModel`.

One step per concern, in the order they depend on each other: the horizon and population size,
stages, segments, organic transitions, the calendar, media (spend to delivery,
:mod:`jsim.model.media`), touchpoint effects and targeting, word of mouth, the day-0 population,
service touchpoints (:mod:`jsim.model.services`), and the clocks, sources and routes of the
moves (:mod:`jsim.model.sources`).
"""

from __future__ import annotations

__all__ = ["compile_scenario", "largest_remainder"]

import numpy as np

from ..errors import ScenarioError, ScenarioIssue
from ..scenario.limits import MAX_CUSTOMERS
from ..scenario.load import scenario_hash
from ..scenario.models import Scenario
from .calendar import build_calendar
from .checks import check_day_probabilities
from .compiled import CompiledModel
from .media import compile_media, deliver, scenario_spend
from .services import compile_services, service_arrays
from .sources import compile_sources


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


def _horizon(sc: Scenario, customers, days) -> tuple[int, int, int]:
    """(T, N, the scenario's own N): days and day-0 customers, overrides applied."""
    if customers is not None and (not isinstance(customers, (int, np.integer)) or not 0 <= customers <= MAX_CUSTOMERS):
        raise ScenarioError(
            ScenarioIssue(
                "customers",
                f"must be a whole number within [0, {MAX_CUSTOMERS:,}], got {customers!r}",
                "give a count of customers such as 100000",
            )
        )
    if days is not None and (not isinstance(days, (int, np.integer)) or not 1 <= days <= 100_000):
        raise ScenarioError(
            ScenarioIssue(
                "days", f"must be a whole number within [1, 100000], got {days!r}", "give a horizon in days such as 90"
            )
        )
    pop = sc.population
    default_n = int(sum(pop.initial.values())) if pop.initial_counts else pop.customers
    return (
        int(days if days is not None else pop.days),
        int(customers if customers is not None else default_n),
        default_n,
    )


def _stages(sc: Scenario) -> dict:
    value = sc.economics.revenue_per_purchase
    return dict(
        is_absorbing=np.array([s.absorbing for s in sc.stages], dtype=np.bool_),
        is_converted=np.array([s.converted for s in sc.stages], dtype=np.bool_),
        is_retained=np.array([s.retained for s in sc.stages], dtype=np.bool_),
        is_purchase=np.array([s.purchase for s in sc.stages], dtype=np.bool_),
        purchase_value=np.array(
            [(s.value if s.value is not None else value) if s.purchase else 0.0 for s in sc.stages], dtype=np.float64
        ),
    )


def _segments(sc: Scenario) -> dict:
    segments = sc.segments or []
    return dict(
        names=tuple(g.name for g in segments) or ("all",),
        share=np.array([g.share for g in segments] or [1.0], dtype=np.float64),
        transition=np.array([g.transition_multiplier for g in segments] or [1.0]),
        effect=np.array([g.effect_multiplier for g in segments] or [1.0]),
        wom=np.array([g.word_of_mouth_multiplier for g in segments] or [1.0], dtype=np.float64),
    )


def _transitions(sc: Scenario, sidx: dict, seg: dict) -> np.ndarray:
    """p0 (G, S, S): an entry from a stage to itself states the staying probability (implied anyway)."""
    base = np.zeros((len(sidx), len(sidx)))
    for t in sc.transitions:
        if t.from_ != t.to:
            base[sidx[t.from_], sidx[t.to]] = t.p
    return np.ascontiguousarray(base[None, :, :] * seg["transition"][:, None, None])


def _effects(sc: Scenario, sidx: dict, seg: dict, is_absorbing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """q (G, J, S, S) and target (J, G, S): what an engaged exposure does, and to whom it is delivered."""
    G, S, J = len(seg["names"]), len(sidx), len(sc.touchpoints)
    q = np.zeros((G, J, S, S))
    target = np.zeros((J, G, S), dtype=np.bool_)
    for j, tp in enumerate(sc.touchpoints):
        seg_ok = np.array([tp.segments is None or name in tp.segments for name in seg["names"]])
        if tp.targets is not None:
            reached = [sidx[n] for n in tp.targets]
        elif tp.effects:
            reached = sorted({sidx[e.from_] for e in tp.effects})
        else:
            reached = [i for i in range(S) if not is_absorbing[i]]
        for g in range(G):
            if seg_ok[g]:
                target[j, g, reached] = True
        tp_mult = np.array([g.touchpoint_multipliers.get(tp.name, 1.0) for g in sc.segments] or [1.0])
        for e in tp.effects:
            q[:, j, sidx[e.from_], sidx[e.to]] = e.p * seg["effect"] * tp_mult * seg_ok
    return q, target


def _word_of_mouth(sc: Scenario, sidx: dict) -> dict:
    rules = sc.word_of_mouth
    advocate = np.zeros((len(rules), len(sidx)), dtype=np.bool_)
    for i, w in enumerate(rules):
        names = w.advocates if w.advocates is not None else [s.name for s in sc.stages if s.advocate]
        advocate[i, [sidx[n] for n in names]] = True
    return dict(
        wom_from=np.array([sidx[w.from_] for w in rules], dtype=np.int64),
        wom_to=np.array([sidx[w.to] for w in rules], dtype=np.int64),
        wom_p=np.array([w.p for w in rules], dtype=np.float64),
        wom_q=np.array([w.q for w in rules], dtype=np.float64),
        wom_advocate=advocate,
    )


def _initial(sc: Scenario, sidx: dict, seg_share: np.ndarray, n: int, default_n: int) -> np.ndarray:
    """(G, S) day-0 customers: stage shares (or counts) split over segments by largest remainder."""
    pop = sc.population
    stage_names = list(sidx)
    if pop.initial_counts:
        counts = np.array([pop.initial.get(name, 0) for name in stage_names], dtype=np.int64)
        if n != default_n:
            counts = largest_remainder(n, counts)
        return np.stack([largest_remainder(int(c), seg_share) for c in counts], axis=1)
    stage_share = np.zeros(len(sidx))
    if pop.initial is None:
        stage_share[0] = 1.0
    else:
        for name, v in pop.initial.items():
            stage_share[sidx[name]] = v
        stage_share /= stage_share.sum() if stage_share.sum() > 0 else 1.0
    return largest_remainder(n, seg_share[:, None] * stage_share[None, :])


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

    Raises
    ------
    ScenarioError
        A bad override, or calendar multipliers that push a daily probability above 1.
    """
    sc = scenario
    T, N, default_n = _horizon(sc, customers, days)
    stage_names = tuple(s.name for s in sc.stages)
    sidx = {name: i for i, name in enumerate(stage_names)}
    stages = _stages(sc)
    seg = _segments(sc)
    p0 = _transitions(sc, sidx, seg)
    tps = sc.touchpoints
    tp_names = tuple(tp.name for tp in tps)
    cal = build_calendar(sc, T, {name: j for j, name in enumerate(tp_names)}, sidx)
    media = compile_media(tps, T, cal)
    spend = scenario_spend(tps, media)
    delivery, fatigue, exposure_effect = deliver(media, spend)
    q, target = _effects(sc, sidx, seg, stages["is_absorbing"])
    wom = _word_of_mouth(sc, sidx)
    check_day_probabilities(
        p0, q, fatigue * cal.effect_mult, cal.day_mult, stages["is_purchase"], stage_names, tp_names
    )
    services = compile_services(tps, cal, sidx, seg["names"], stages["is_absorbing"], stages["is_converted"])
    svc = service_arrays(services, target, stages["is_absorbing"], T)
    moves = dict(
        move_day=np.array([m[0] for m in cal.moves], dtype=np.int64),
        move_from=np.array([m[1] for m in cal.moves], dtype=np.int64),
        move_to=np.array([m[2] for m in cal.moves], dtype=np.int64),
        move_share=np.array([m[3] for m in cal.moves], dtype=np.float64),
    )
    is_service = np.zeros(len(tps), dtype=np.bool_)
    loss_stage = np.full(len(tps), -1, dtype=np.int64)
    for sv in services:
        is_service[sv.touchpoint] = True
        loss_stage[sv.touchpoint] = sv.loss_stage
    sources = compile_sources(
        p0=p0,
        q=q,
        qa=svc["qa"],
        ql=svc["ql"],
        is_absorbing=stages["is_absorbing"],
        wom_from=wom["wom_from"],
        wom_to=wom["wom_to"],
        wom_p=wom["wom_p"],
        wom_q=wom["wom_q"],
        wom_mult=seg["wom"],
        move_from=moves["move_from"],
        move_to=moves["move_to"],
        move_share=moves["move_share"],
        is_service=is_service,
        loss_stage=loss_stage,
        stage_names=stage_names,
        touchpoint_names=tp_names,
        move_names=[m[4] for m in cal.moves],
    )
    pop = sc.population
    arrays = dict(
        **stages,
        seg_share=seg["share"],
        p0=p0,
        q=q,
        target=target,
        spend=spend,
        delivery=delivery,
        engagement=media.engagement,
        fatigue=fatigue,
        exposure_effect=np.ascontiguousarray(exposure_effect),
        cost_per_exposure=np.array([tp.cost_per_exposure for tp in tps], dtype=np.float64),
        **wom,
        wom_mult=seg["wom"],
        initial=_initial(sc, sidx, seg["share"], N, default_n),
        arrivals_mean=(pop.arrivals_per_day * seg["share"]).astype(np.float64),
        effect_mult=cal.effect_mult,
        day_mult=cal.day_mult,
        arrivals_mult=cal.arrivals_mult,
        revenue_mult=cal.revenue_mult,
        **moves,
        **svc,
    )
    for a in (*arrays.values(), *(v for v in vars(sources).values() if isinstance(v, np.ndarray))):
        a.setflags(write=False)
    return CompiledModel(
        name=sc.name,
        scenario_hash=scenario_hash(sc),
        stage_names=stage_names,
        segment_names=seg["names"],
        touchpoint_names=tp_names,
        touchpoint_kinds=tuple(tp.kind for tp in tps),
        n_days=T,
        n_customers=N,
        currency=sc.economics.currency,
        margin=sc.economics.margin,
        arrival_stage=sidx[pop.arrival_stage] if pop.arrival_stage is not None else 0,
        move_names=tuple(m[4] for m in cal.moves),
        services=services,
        media=media,
        sources=sources,
        stage_index=sidx,
        touchpoint_index={name: j for j, name in enumerate(tp_names)},
        segment_index={name: g for g, name in enumerate(seg["names"])},
        **arrays,
    )
