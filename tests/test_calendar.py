"""Calendar events change every engine's results exactly on their days (event-trace tests)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import assert_close, build

import jsim

T = 30
BASE = {
    "stages": [
        {"name": "unaware"},
        {"name": "aware"},
        {"name": "cart"},
        {"name": "customer", "absorbing": True, "converted": True, "purchase": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [{"from": "aware", "to": "lost", "p": 0.01}, {"from": "cart", "to": "lost", "p": 0.02}],
    "touchpoints": [
        {
            "name": "tv",
            "spend": 100.0,
            "response": {"kind": "exponential", "lam": 0.002},
            "effects": [{"from": "unaware", "to": "aware", "p": 0.2}],
        },
        {"name": "site", "kind": "owned", "reach": 0.5, "effects": [{"from": "aware", "to": "cart", "p": 0.1}]},
        {"name": "checkout", "kind": "owned", "reach": 1.0, "effects": [{"from": "cart", "to": "customer", "p": 0.3}]},
    ],
    "population": {"customers": 200_000, "days": T},
    "economics": {"revenue_per_purchase": 50.0},
}


def with_events(*events, **extra) -> dict:
    data = copy.deepcopy(BASE)
    data["events"] = list(events)
    data.update(extra)
    return data


def test_flight_multiplies_spend_and_delivery_on_its_days_only():
    base, flight = (
        build(BASE),
        build(with_events({"kind": "flight", "touchpoint": "tv", "start": 10, "end": 14, "spend_multiplier": 3.0})),
    )
    on = np.zeros(T + 1, bool)
    on[10:15] = True
    np.testing.assert_array_equal(flight.spend[on, 0], 300.0)
    np.testing.assert_array_equal(flight.spend[~on, 0], base.spend[~on, 0])
    np.testing.assert_allclose(flight.delivery[on, 0], -np.expm1(-0.002 * 300.0), rtol=1e-15)
    np.testing.assert_array_equal(flight.delivery[~on, 1:], base.delivery[~on, 1:])
    assert flight.cost_per_exposure.sum() == 0
    r = jsim.simulate(flight, seed=1)
    assert r.cost[0, 10:15, 0].tolist() == [300.0] * 5 and r.cost[0, 9, 0] == 100.0


def test_outage_stops_a_touchpoint_exactly_on_its_days():
    data = with_events(
        {
            "kind": "shock",
            "name": "checkout outage",
            "touchpoint": "checkout",
            "start": 12,
            "end": 14,
            "reach_multiplier": 0.0,
        }
    )
    model = build(data)
    for engine in ("fast", "mean-field"):
        r = jsim.simulate(model, engine=engine, seed=2)
        into_customer = r.flows[0, :, 2, 3]
        assert np.all(into_customer[12:15] == 0), engine
        assert into_customer[11] > 0 and into_customer[15] > 0, engine
    # the carts pile up during the outage and convert once checkout is back
    mf = jsim.simulate(model, engine="mean-field")
    base = jsim.simulate(build(BASE), engine="mean-field")
    assert mf.stage_occupancy[0, 14, 2] > base.stage_occupancy[0, 14, 2]
    assert mf.flows[0, 15, 2, 3] > base.flows[0, 15, 2, 3]


def test_promotion_doubles_the_effect_on_its_days():
    model = build(
        with_events({"kind": "promotion", "touchpoint": "site", "start": 5, "end": 7, "effect_multiplier": 2.0})
    )
    out = jsim.simulate(model, engine="mean-field")
    aware_start = out.occupancy_start[0, :, 0, 1]
    to_cart = out.flows[0, :, 1, 2]
    # from 'aware' two sources compete (site, organic loss): first event wins, written out by hand
    for t in range(1, T + 1):
        r_site = 0.5 * 0.1 * (2.0 if 5 <= t <= 7 else 1.0)
        lam_s, lam_l = -np.log1p(-r_site), -np.log1p(-0.01)
        p = lam_s / (lam_s + lam_l) * -np.expm1(-(lam_s + lam_l))
        assert to_cart[t] == pytest.approx(aware_start[t] * p, rel=1e-12)


def test_price_event_changes_revenue_per_purchase_on_its_days():
    model = build(with_events({"kind": "price", "start": 20, "end": 25, "revenue_multiplier": 0.8}))
    r = jsim.simulate(model, seed=3)
    per_purchase = r.revenue[0, 1:] / np.maximum(r.purchases[0, 1:], 1)
    expected = np.where((np.arange(1, T + 1) >= 20) & (np.arange(1, T + 1) <= 25), 40.0, 50.0)
    np.testing.assert_allclose(per_purchase[r.purchases[0, 1:] > 0], expected[r.purchases[0, 1:] > 0])


def test_one_off_move_on_its_day():
    model = build(
        with_events(
            {
                "kind": "shock",
                "name": "viral review",
                "start": 8,
                "move": {"from": "unaware", "to": "aware", "share": 0.25},
            }
        )
    )
    mf = jsim.simulate(model, engine="mean-field")
    base = jsim.simulate(build(BASE), engine="mean-field")
    np.testing.assert_allclose(mf.flows[0, :8], base.flows[0, :8], rtol=1e-12)
    assert mf.flows[0, 8, 0, 1] > 2 * base.flows[0, 8, 0, 1]
    # the stochastic engine follows: unaware -> aware on day 8 within 4.5 SE of the expectation
    fast = jsim.simulate(model, seed=4)
    n = fast.occupancy_start[0, 8, 0, 0]
    p = mf.flows[0, 8, 0, 1] / mf.occupancy_start[0, 8, 0, 0]
    assert_close(fast.flows[0, 8, 0, 1], n * p, np.sqrt(n * p * (1 - p)), what="day-8 moves")


def test_seasonality_profiles():
    data = copy.deepcopy(BASE)
    data["population"]["arrivals_per_day"] = 100.0
    data["seasonality"] = {"weekly": [1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 0.5], "start_weekday": 2}
    model = build(data)
    weekday = (2 + np.arange(1, T + 1) - 1) % 7
    profile = np.array([1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 0.5])[weekday]
    np.testing.assert_allclose(model.arrivals_mult[1:], profile)
    np.testing.assert_allclose(model.exposure_effect[1:, 1], 0.5 * profile)
    mf = jsim.simulate(model, engine="mean-field")
    np.testing.assert_allclose(mf.arrivals[0, 1:, 0], 100.0 * profile)


def test_capacity_event_changes_agents_and_capacity():
    data = copy.deepcopy(BASE)
    data["touchpoints"].append(
        {
            "name": "chat",
            "kind": "owned",
            "reach": 0.1,
            "targets": ["cart"],
            "effects": [{"from": "cart", "to": "customer", "p": 0.5}],
            "service": {"agents": 2, "service_time": {"mean": 0.5}, "patience": {"mean": 1.0}, "open": [8, 20]},
        }
    )
    data["events"] = [{"kind": "capacity", "touchpoint": "chat", "start": 10, "agents": 6}]
    model = build(data)
    sv = model.services[0]
    assert sv.agents[9] == 2 and np.all(sv.agents[10:] == 6)
    np.testing.assert_allclose(model.svc_capacity[9, 0], 2 * 0.5 / (0.5 / 24))
    np.testing.assert_allclose(model.svc_capacity[10, 0], 6 * 0.5 / (0.5 / 24))
