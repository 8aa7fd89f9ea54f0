"""Moves by source: the labels, the routes, and a service request's outcome split.

A day-resolution service touchpoint moves a customer through one clock whose probability is
the sum of three terms (served, abandoned, lost while waiting). The move's source is the
outcome, chosen with what is left of the uniform that picked the move
(:func:`jsim.kernels._hazards._outcome_route`): checked here exactly on a grid of uniforms,
and in the fast engine against the multinomial split each day's terms imply.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, assert_close, build

import jsim
from jsim.kernels import _hazards
from jsim.model import Coefficients

SCENARIO = {
    "stages": [
        {"name": "visitor"},
        {"name": "cart"},
        {"name": "buyer", "converted": True, "purchase": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [{"from": "visitor", "to": "cart", "p": 0.05}, {"from": "cart", "to": "lost", "p": 0.02}],
    "touchpoints": [
        {"name": "ads", "reach": 0.3, "effects": [{"from": "visitor", "to": "cart", "p": 0.1}]},
        {
            "name": "chat",
            "kind": "owned",
            "reach": 0.3,
            "targets": ["cart"],
            "effects": [{"from": "cart", "to": "buyer", "p": 0.6}, {"from": "cart", "to": "lost", "p": 0.1}],
            "service": {
                "agents": 1,
                "service_time": {"mean": 0.5},
                "patience": {"mean": 0.2},
                "open": [9, 17],
                "abandon_effects": [{"from": "cart", "to": "lost", "p": 0.5}],
                "wait_loss_per_hour": 1.0,
            },
        },
    ],
    "word_of_mouth": [
        {"from": "visitor", "to": "cart", "p": 0.0, "q": 0.1, "advocates": ["buyer"]},
        {"from": "visitor", "to": "cart", "p": 0.001, "q": 0.0, "advocates": ["buyer"]},
    ],
    "events": [{"kind": "shock", "move": {"from": "visitor", "to": "cart", "share": 0.1}, "start": 3}],
    "population": {"customers": 20_000, "days": 20, "initial": {"visitor": 0.5, "cart": 0.5}},
}


def test_source_labels_and_routes():
    model = build(SCENARIO)
    assert model.source_names == (
        "organic",
        "ads",
        "chat:served",
        "chat:abandoned",
        "chat:lost_waiting",
        "wom:visitor->cart",
        "wom:visitor->cart#2",
        "event:shock-day3",
    )
    assert model.clock_names == (
        "organic",
        "ads",
        "chat",
        "wom:visitor->cart",
        "wom:visitor->cart#2",
        "event:shock-day3",
    )
    src = model.sources
    routes = {
        (model.stage_names[f], model.stage_names[t], model.source_names[k])
        for f, t, k in zip(src.route_from, src.route_to, src.route_source)
    }
    assert ("cart", "lost", "chat:abandoned") in routes and ("cart", "lost", "chat:lost_waiting") in routes
    assert ("cart", "lost", "chat:served") in routes and ("cart", "buyer", "chat:served") in routes
    assert ("cart", "buyer", "chat:abandoned") not in routes  # abandoning never buys
    # a queueing customer can be lost from any open stage, even one the chat does not target
    assert ("visitor", "lost", "chat:lost_waiting") in routes
    assert len(routes) == model.n_routes


def test_outcome_route_splits_a_service_move_in_proportion_to_its_terms():
    model = build(SCENARIO)
    fx = Coefficients.initial(model.exposure_effect)
    j = model.touchpoint_index["chat"]
    t = 5
    fx.eff[t, j], fx.eff_a[t, j], fx.eff_l[t, j] = 0.12, 0.05, 0.03
    g, s = 0, model.stage_index["cart"]
    lost = model.stage_index["lost"]
    (i,) = [
        i for i in range(model.n_pairs[g, s]) if model.pair_src[g, s, i] == 1 + j and model.pair_dst[g, s, i] == lost
    ]
    parts = np.array([0.12 * model.q[g, j, s, lost], 0.05 * model.qa[g, j, s, lost], 0.03 * model.ql[g, j, s, lost]])
    grid = (np.arange(100_000) + 0.5) / 100_000
    routes = np.array([_hazards._outcome_route(t, g, s, i, v, model.arrays, fx) for v in grid])
    expected_routes = model.sources.pair_route[g, s, i]
    for o in range(3):
        share = (routes == expected_routes[o]).mean()
        assert share == pytest.approx(parts[o] / parts.sum(), abs=2e-5)
        assert _hazards._outcome_route.py_func(t, g, s, i, grid[o * 7], model.arrays, fx) == routes[o * 7]


def test_fast_engine_splits_service_moves_as_the_day_terms_say():
    model = build(SCENARIO)
    res = jsim.simulate(model, seed=8, reps=4)
    rec = res.service["chat"]
    j = model.touchpoint_index["chat"]
    src, s, lost = model.sources, model.stage_index["cart"], model.stage_index["lost"]
    # the day terms of the pair cart -> lost: served (effect), abandoned, lost while waiting
    a0 = rec.effect_coefficient * model.q[0, j, s, lost]
    a1 = model.delivery[None, :, j] * (1 - rec.p_loss) * rec.p_abandon * model.qa[0, j, s, lost]
    a2 = model.delivery[None, :, j] * rec.p_loss * model.ql[0, j, s, lost]
    total = a0 + a1 + a2
    routes = [
        src.route_index[s, model.source_names.index(f"chat:{o}"), lost] for o in ("served", "abandoned", "lost_waiting")
    ]
    counts = res.moves[:, :, routes].astype(float)  # (R, T+1, 3)
    n = counts.sum(axis=2)  # moves cart -> lost through the chat, per replication and day
    assert n.sum() > 2000
    for o, part in enumerate((a0, a1, a2)):
        f = np.divide(part, total, out=np.zeros_like(part), where=total > 0)
        expected = (n * f).sum()
        se = np.sqrt((n * f * (1 - f)).sum())
        assert_close(counts[:, :, o].sum(), expected, se, what=f"chat moves cart -> lost, outcome {o}")


def test_every_engine_credits_the_same_sources_on_the_bundled_service_scenario():
    model = jsim.compile_scenario(
        jsim.load_scenario(ROOT / "scenarios" / "support_understaffed.toml"), customers=1500, days=15
    )
    seen = {}
    for engine in jsim.engine.engine_names():
        res = jsim.simulate(model, seed=2, engine=engine)
        totals = res.moves_by_source.sum(axis=(0, 1))
        seen[engine] = {name for name, n in zip(model.source_names, totals) if n > 0}
        assert {"organic", "support_chat:served", "support_chat:abandoned"} <= seen[engine], engine
