"""The contract every registered engine must pass (in the spirit of Optuna's storage test suites).

Each test runs once per engine in :func:`jsim.engine.engine_names`, so an engine added to the
registry is held to the same rules:

1. shapes: every array of the result has the shape the model implies, every service has one
   :class:`~jsim.engine.ServiceRecord` of the right resolution;
2. conservation: customers are conserved and every move is credited to exactly one source
   (:func:`conftest.check_accounting`), on a scenario with every kind of source;
3. determinism: the same seed gives bit-identical results (a stochastic engine: different
   seeds differ);
4. agreement with the expected-value engine on a scenario without word of mouth or queues:
   occupancy within 4.5 exact standard errors (the day matrices' chain moments), moves by
   source within 4.5 standard errors of the replications;
5. the calendar is obeyed: the trace each engine reports equals the model's, an outage stops
   deliveries and moves, a one-off move happens on its day only, capacity follows the roster.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import Z, assert_close, build, chain_moments, check_accounting, normal_cells

import jsim
from jsim.engine import ServiceRecord, engine_names, get_engine
from jsim.model.calendar import calendar_changes

ENGINES = list(engine_names())

STAGES = [
    {"name": "unaware"},
    {"name": "aware"},
    {"name": "cart"},
    {"name": "customer", "converted": True, "purchase": True, "advocate": True, "retained": True},
    {"name": "lost", "absorbing": True},
]

#: No word of mouth, no queue: every customer is an independent time-inhomogeneous Markov chain.
INDEPENDENT = {
    "stages": STAGES,
    "transitions": [
        {"from": "unaware", "to": "aware", "p": 0.02},
        {"from": "aware", "to": "cart", "p": 0.04},
        {"from": "aware", "to": "lost", "p": 0.01},
        {"from": "cart", "to": "customer", "p": 0.1},
        {"from": "cart", "to": "aware", "p": 0.05},
        {"from": "customer", "to": "lost", "p": 0.01},
    ],
    "touchpoints": [
        {
            "name": "search",
            "spend": 80.0,
            "response": {"kind": "hill", "ec": 60.0, "slope": 1.5, "max_reach": 0.5},
            "adstock": {"alpha": 0.5, "l_max": 4},
            "start_day": 4,
            "end_day": 15,
            "engagement": 0.6,
            "effects": [{"from": "unaware", "to": "aware", "p": 0.3}, {"from": "aware", "to": "cart", "p": 0.1}],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.4,
            "engagement": 0.3,
            "targets": ["cart", "customer"],
            "effects": [{"from": "cart", "to": "customer", "p": 0.4}, {"from": "customer", "to": "lost", "p": 0.02}],
        },
    ],
    "segments": [{"name": "a", "share": 0.6}, {"name": "b", "share": 0.4, "effect_multiplier": 0.5}],
    "population": {"customers": 4000, "days": 25, "initial": {"unaware": 0.7, "aware": 0.2, "cart": 0.1}},
}

#: Every kind of source and calendar entry: word of mouth, a service queue with a capacity
#: change, an outage, a promotion, a one-off move, arrivals.
EVERYTHING = {
    **INDEPENDENT,
    "touchpoints": INDEPENDENT["touchpoints"]
    + [
        {
            "name": "chat",
            "kind": "owned",
            "reach": 0.05,
            "targets": ["cart"],
            "effects": [{"from": "cart", "to": "customer", "p": 0.5}],
            "service": {
                "agents": 2,
                "service_time": {"mean": 0.2},
                "patience": {"mean": 0.1},
                "open": [8, 20],
                "abandon_effects": [{"from": "cart", "to": "aware", "p": 0.5}],
                "wait_loss_per_hour": 0.5,
            },
        },
    ],
    "word_of_mouth": [{"from": "unaware", "to": "aware", "p": 0.001, "q": 0.2}],
    "population": {**INDEPENDENT["population"], "arrivals_per_day": 30.0, "customers": 2000},
    "events": [
        {"kind": "shock", "name": "outage", "touchpoint": "email", "reach_multiplier": 0.0, "start": 10, "end": 12},
        {"kind": "promotion", "touchpoint": "search", "effect_multiplier": 1.5, "start": 6, "end": 8},
        {"kind": "shock", "name": "viral", "move": {"from": "unaware", "to": "aware", "share": 0.05}, "start": 14},
        {"kind": "capacity", "touchpoint": "chat", "agents": 5, "start": 16},
    ],
}

REPS = {"fast": 3, "des": 2}


def _simulate(data: dict, engine: str, seed: int = 1, reps: int | None = None):
    model = build(data)
    return model, jsim.simulate(model, seed=seed, reps=reps or REPS.get(engine, 1), engine=engine)


@pytest.fixture(scope="module", params=ENGINES)
def everything(request):
    return (request.param, *_simulate(EVERYTHING, request.param))


def test_engines_are_registered_and_typed():
    assert {"fast", "mean-field", "des"} <= set(ENGINES)
    for name in ENGINES:
        engine = get_engine(name)
        assert engine.name == name and isinstance(engine.stochastic, bool)
    with pytest.raises(ValueError, match="did you mean 'mean-field'"):
        get_engine("meanfield")


def test_shapes_and_service_records(everything):
    name, model, res = everything
    T, G, S, J, W, X = model.n_days, model.n_segments, model.n_stages, model.n_touchpoints, model.n_wom, model.n_routes
    R = res.n_reps
    assert R == (REPS.get(name, 1) if get_engine(name).stochastic else 1)
    shapes = dict(
        occupancy=(R, T + 1, G, S),
        occupancy_start=(R, T + 1, G, S),
        arrivals=(R, T + 1, G),
        moves=(R, T + 1, X),
        segment_flows=(R, G, S, S),
        new_converted=(R, T + 1, G),
        deliveries=(R, T + 1, J),
        engagements=(R, T + 1, J),
        cost=(R, T + 1, J),
        shares=(R, T + 1, W),
        flows=(R, T + 1, S, S),
        credits=(R, model.n_sources, S, S),
        moves_by_source=(R, T + 1, model.n_sources),
    )
    for field, shape in shapes.items():
        assert getattr(res, field).shape == shape, field
    integral = get_engine(name).stochastic
    assert (res.moves.dtype.kind == "i") == integral
    (rec,) = res.services
    assert isinstance(rec, ServiceRecord) and rec.name == "chat" and rec.n_reps == R
    for field in ("requests", "served", "abandoned", "queue", "utilisation", "mean_wait"):
        assert getattr(rec, field).shape == (R, T + 1), field
    if rec.resolution == "day":
        assert rec.waits is None and rec.p_served.shape == (R, T + 1)
    else:
        assert rec.p_served is None and len(rec.waits) == len(rec.timeline) == R
    assert np.all(rec.requests >= 0) and np.all(rec.served >= 0) and np.all(rec.abandoned >= 0)
    assert np.all((rec.utilisation >= 0) & (rec.utilisation <= 1 + 1e-9))


def test_customers_are_conserved_and_every_move_has_one_source(everything):
    name, model, res = everything
    for r in range(res.n_reps):
        check_accounting(model, res, exact=get_engine(name).stochastic, r=r)
    # a service touchpoint's moves are credited to its outcomes, never to the touchpoint's own name
    chat = [i for i, n in enumerate(model.source_names) if n.startswith("chat:")]
    assert [model.source_names[i] for i in chat] == ["chat:served", "chat:abandoned", "chat:lost_waiting"]
    assert "chat" not in model.source_names
    by_source = res.moves_by_source.sum(axis=(0, 1))
    assert by_source[chat].sum() > 0 and by_source[model.source_names.index("wom:unaware->aware")] > 0


def test_same_seed_same_result(everything):
    name, model, res = everything
    again = jsim.simulate(model, seed=1, reps=res.n_reps, engine=name)
    for field in dataclasses.fields(res):
        a, b = getattr(res, field.name), getattr(again, field.name)
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), field.name
    assert res.seed == again.seed == 1
    for rec_a, rec_b in zip(res.services, again.services):
        for field in dataclasses.fields(rec_a):
            a = getattr(rec_a, field.name)
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, getattr(rec_b, field.name), err_msg=field.name)
    if get_engine(name).stochastic:
        other = jsim.simulate(model, seed=2, reps=1, engine=name)
        assert not np.array_equal(other.occupancy[0], res.occupancy[0])
        assert not np.array_equal(res.occupancy[0], res.occupancy[1])


def _day_matrices(model) -> list[np.ndarray]:
    """(S, S) per segment for days 1..T from the day tables: the chain each customer follows."""
    out = []
    for t in range(1, model.n_days + 1):
        prob, _, leave = jsim.kernels.day_tables(model, t, np.zeros(model.n_wom))
        P = np.zeros((model.n_segments, model.n_stages, model.n_stages))
        for g in range(model.n_segments):
            P[g][np.diag_indices(model.n_stages)] = 1.0 - leave[g]
            for s in range(model.n_stages):
                for i in range(model.n_pairs[g, s]):
                    P[g, s, model.pair_dst[g, s, i]] += prob[g, s, i]
        out.append(P)
    return out


@pytest.mark.parametrize("engine", ENGINES)
def test_agrees_with_the_expected_value_engine_without_coupling(engine):
    model = build(INDEPENDENT)
    assert not model.is_coupled
    reps = 8 if get_engine(engine).stochastic else 1
    res = jsim.simulate(model, seed=3, reps=reps, engine=engine)
    mf = jsim.simulate(model, engine="mean-field")
    mats = _day_matrices(model)
    days = [5, 12, 25]
    for g in range(model.n_segments):
        mean, var = chain_moments(model.initial[g], [P[g] for P in mats])
        np.testing.assert_allclose(mf.occupancy[0, :, g], mean, rtol=1e-10, atol=1e-8)
        ok = normal_cells(var[days])
        got = res.occupancy[:, days, g].mean(axis=0)
        assert_close(got[ok], mean[days][ok], np.sqrt(var[days][ok] / reps), what=f"{engine} occupancy, segment {g}")
    # moves by source over the horizon, against the exact expectation
    per_rep = res.moves_by_source.sum(axis=1).astype(float)  # (R, sources)
    expected = mf.moves_by_source[0].sum(axis=0)
    if reps > 1:
        se = per_rep.std(axis=0, ddof=1) / np.sqrt(reps)
        live = expected > 50
        assert_close(per_rep.mean(axis=0)[live], expected[live], se[live], k=Z, what=f"{engine} moves by source")
    else:
        np.testing.assert_allclose(per_rep[0], expected, rtol=1e-9)


def test_calendar_is_obeyed(everything):
    name, model, res = everything
    assert [tuple(c) for c in res.calendar] == calendar_changes(model)
    kinds = {c.kind for c in res.calendar}
    assert {"reach", "effect", "capacity", "move"} <= kinds
    email = model.touchpoint_index["email"]
    src = model.source_names
    by_source = res.moves_by_source  # (R, T+1, sources)
    # the outage: nothing delivered, nothing moved by email on days 10..12, and both before and after
    assert np.all(res.deliveries[:, 10:13, email] == 0)
    assert np.all(by_source[:, 10:13, src.index("email")] == 0)
    assert np.all(res.deliveries[:, 9, email] > 0) and np.all(res.deliveries[:, 13, email] > 0)
    # the one-off move happens on its day only
    viral = by_source[:, :, src.index("event:viral")]
    assert np.all(viral[:, 14] > 0) and viral.sum() == viral[:, 14].sum()
    # capacity follows the roster: from day 16 on, five agents
    (sv,) = model.services
    assert sv.agents[15] == 2 and sv.agents[16] == 5
    rec = res.services[0]
    if rec.resolution == "event":
        for tl in rec.timeline:
            assert tl.n_scheduled.max() == 5 and tl.n_scheduled[tl.times < 15].max() == 2
    # the search flight: no spend and no search moves before day 4
    search = model.touchpoint_index["search"]
    assert np.all(res.cost[:, :4, search] == 0) and np.all(by_source[:, :4, src.index("search")] == 0)


def test_result_records_a_seed_that_reproduces_it():
    model = build(INDEPENDENT)
    drawn = jsim.simulate(model, seed=None, reps=2)
    again = jsim.simulate(model, seed=drawn.seed, reps=2)
    np.testing.assert_array_equal(drawn.moves, again.moves)
    assert drawn.seed == again.seed and drawn.seed > 2**64  # fresh entropy: a 128-bit number
