"""Properties every run of every engine must have, on hypothesis-generated valid scenarios.

Random stages (some absorbing), baseline transitions, touchpoints (fixed reach or response
curves, adstock, fatigue, frequency caps, flights, segment targeting), segments with
multipliers, arrivals and word-of-mouth rules. Each example is simulated by both engines:

- customers are conserved: every day, per segment, occupancy = day-0 customers + arrivals so far;
- occupancy(t) = occupancy(t-1) + arrivals(t) + inflows(t) - outflows(t), stage by stage;
- nobody leaves an absorbing stage, nobody moves to the stage they are in;
- moves credited to the sources total the moves, and so do the per-segment moves;
- start-of-day occupancy is yesterday's plus today's arrivals; deliveries <= targeted customers,
  engagements <= deliveries;
- the first-conversion counts are consistent with who stands in converted stages;
- the day tables give probabilities in [0, 1] whose rows total ``leave`` <= 1.
"""

from __future__ import annotations

import numpy as np
from conftest import build, check_accounting
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jsim
from jsim.kernels import day_tables

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

unit = st.floats(0.0, 1.0, allow_nan=False)


def _split(draw, total: float, n: int) -> list[float]:
    """n nonnegative numbers summing to at most ``total`` (often exactly, sometimes with zeros)."""
    weights = [draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])) for _ in range(n)]
    s = sum(weights)
    return [total * w / s if s else 0.0 for w in weights]


@st.composite
def scenarios(draw) -> dict:
    S = draw(st.integers(2, 5))
    absorbing = [False] + [draw(st.booleans()) for _ in range(S - 1)]
    names = [f"s{i}" for i in range(S)]
    stages = [
        {
            "name": names[i],
            "absorbing": absorbing[i],
            "converted": draw(st.booleans()),
            "purchase": draw(st.booleans()),
            "advocate": draw(st.booleans()),
        }
        for i in range(S)
    ]
    movable = [i for i in range(S) if not absorbing[i]]
    T = draw(st.integers(1, 25))

    # segments (shares sum to 1 exactly: the last takes the rest)
    G = draw(st.integers(0, 3))
    seg_names = [f"g{i}" for i in range(G)]
    raw = [draw(st.floats(0.0, 1.0)) for _ in range(G)]
    shares = [x / sum(raw) for x in raw] if G and sum(raw) > 0 else ([1.0 / G] * G if G else [])
    if G:
        shares[-1] = 1.0 - sum(shares[:-1])
    segments = []
    for i in range(G):
        segments.append(
            {
                "name": seg_names[i],
                "share": max(0.0, min(1.0, shares[i])),
                "transition_multiplier": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
                "effect_multiplier": draw(st.sampled_from([0.0, 1.0, 1.5])),
                "word_of_mouth_multiplier": draw(st.sampled_from([0.0, 1.0, 3.0])),
            }
        )
    max_tm = max([g["transition_multiplier"] for g in segments] or [1.0])
    max_em = max([g["effect_multiplier"] for g in segments] or [1.0])

    transitions = []
    for s in movable:
        dests = [d for d in range(S) if d != s]
        total = draw(unit) / max(max_tm, 1.0)
        for d, p in zip(dests, _split(draw, total, len(dests))):
            if p > 0:
                transitions.append({"from": names[s], "to": names[d], "p": p})

    touchpoints = []
    for j in range(draw(st.integers(0, 3))):
        tp = {"name": f"tp{j}", "engagement": draw(unit)}
        mode = draw(st.sampled_from(["reach", "hill", "exponential"]))
        if mode == "reach":
            tp["reach"] = draw(unit)
        else:
            tp["spend"] = draw(st.floats(0.0, 500.0))
            if mode == "hill":
                tp["response"] = {
                    "kind": "hill",
                    "ec": draw(st.floats(1.0, 300.0)),
                    "slope": draw(st.floats(0.5, 3.0)),
                    "max_reach": draw(unit),
                }
            else:
                tp["response"] = {"kind": "exponential", "lam": draw(st.floats(0.001, 0.1)), "max_reach": draw(unit)}
            if draw(st.booleans()):
                tp["adstock"] = {
                    "alpha": draw(st.floats(0.0, 0.95)),
                    "l_max": draw(st.integers(1, 30)),
                    "normalize": draw(st.booleans()),
                }
        if draw(st.booleans()):
            tp["fatigue"] = {"halflife": draw(st.floats(0.5, 20.0)), "strength": draw(st.floats(0.0, 5.0))}
        if draw(st.booleans()):
            tp["frequency_cap"] = {"exposures": draw(st.floats(0.5, 3.0)), "days": draw(st.floats(1.0, 14.0))}
        start = draw(st.integers(1, T))
        tp["start_day"] = start
        if draw(st.booleans()):
            tp["end_day"] = draw(st.integers(start, T + 5))
        if G and draw(st.booleans()):
            tp["segments"] = draw(st.lists(st.sampled_from(seg_names), min_size=1, max_size=G, unique=True))
        effects = []
        for s in draw(st.lists(st.sampled_from(movable), max_size=len(movable), unique=True)):
            dests = [d for d in range(S) if d != s]
            total = draw(unit) / max(max_em, 1.0)
            for d, p in zip(dests, _split(draw, total, len(dests))):
                if p > 0:
                    effects.append({"from": names[s], "to": names[d], "p": p})
        tp["effects"] = effects
        touchpoints.append(tp)

    wom = []
    for _ in range(draw(st.integers(0, 2))):
        s = draw(st.sampled_from(movable))
        d = draw(st.sampled_from([i for i in range(S) if i != s]))
        wom.append(
            {
                "from": names[s],
                "to": names[d],
                "p": draw(st.floats(0.0, 0.3)),
                "q": draw(st.floats(0.0, 2.0)),
                "advocates": draw(st.lists(st.sampled_from(names), min_size=1, max_size=S, unique=True)),
            }
        )

    init_raw = [draw(st.sampled_from([0.0, 1.0, 2.0])) for _ in range(S)]
    if sum(init_raw) == 0:
        init_raw[0] = 1.0
    population = {
        "customers": draw(st.integers(0, 300)),
        "days": T,
        "initial": {names[i]: w / sum(init_raw) for i, w in enumerate(init_raw)},
        "arrivals_per_day": draw(st.sampled_from([0.0, 0.5, 4.0, 20.0])),
        "arrival_stage": names[draw(st.integers(0, S - 1))],
    }
    data = {
        "stages": stages,
        "transitions": transitions,
        "touchpoints": touchpoints,
        "word_of_mouth": wom,
        "population": population,
    }
    if G:
        data["segments"] = segments
    return data


@SETTINGS
@given(data=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_accounting_identities_hold_on_both_engines(data, seed):
    model = build(data)
    check_accounting(model, jsim.simulate(model, seed=seed), exact=True)
    check_accounting(model, jsim.simulate(model, engine="mean-field"), exact=False)


@SETTINGS
@given(data=scenarios(), shares_seed=st.integers(0, 2**32 - 1))
def test_day_tables_are_probabilities(data, shares_seed):
    model = build(data)
    rng = np.random.default_rng(shares_seed)
    for t in range(1, model.n_days + 1):
        shares = rng.choice([0.0, 1.0, rng.random()], size=model.n_wom)
        prob, hazard, leave = day_tables(model, t, shares)
        assert np.all((prob >= 0) & (prob <= 1))
        assert np.all((leave >= 0) & (leave <= 1))
        assert np.all(prob.sum(axis=-1) <= 1 + 1e-12)
        np.testing.assert_allclose(prob.sum(axis=-1), leave, rtol=0, atol=1e-12)
        # nothing leaves an absorbing stage; a positive hazard is what makes leaving possible
        assert np.all(leave[:, model.is_absorbing] == 0)
        assert np.all(hazard >= 0)
        np.testing.assert_allclose(leave, -np.expm1(-hazard), rtol=1e-12, atol=1e-15)
