"""The bundled scenarios in scenarios/: each one loads, compiles and runs, and the two
calibrated ones (webshop, saas) hit their targets.

- Every file loads and compiles. A small population (``customers = 2,000``) runs under both
  engines, and the customer count adds up.
- webshop.toml: under the mean-field engine, its KPIs (cart abandonment, visitor-to-order,
  email open rate, repeat-customer rate, repeat share of orders) sit inside the target ranges
  of experiments/calibrate_webshop.py. The expected orders per customer
  (experiments/customer_orders.py) add up to the mean-field engine's purchases, and the fast engine's
  own customers give a repeat-customer rate within 4 standard errors of them.
- saas.toml: the implied monthly churn of paying customers, ``1 - (1 - h)^30`` with
  ``h`` = churn moves per paying customer-day, lies within [0.04, 0.06]; every target of
  experiments/calibrate_bundled.py passes under the mean-field engine.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jsim  # noqa: E402

SCENARIO_DIR = ROOT / "scenarios"
#: the bundled scenarios and the lessons of ``jsim teach`` (scenarios/teaching/)
FILES = sorted(
    p
    for folder in (SCENARIO_DIR, SCENARIO_DIR / "teaching")
    for p in folder.iterdir()
    if p.suffix in (".toml", ".yaml", ".yml")
)
SMALL = 2_000


def _experiment(name: str = "calibrate_webshop"):
    path = ROOT / "experiments" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _calibrate_module():
    return _experiment("calibrate_webshop")


def test_bundled_scenarios_exist():
    names = {p.relative_to(SCENARIO_DIR).as_posix() for p in FILES}
    assert {"webshop.toml", "saas.toml", "teaching.toml", "minimal.toml"} <= names
    lessons = {"slow_support", "fatigue", "word_of_mouth", "checkout_vs_ads", "retention"}
    assert {f"teaching/{name}.toml" for name in lessons} <= names


@pytest.mark.parametrize("path", sorted((SCENARIO_DIR / "teaching").glob("*.toml")), ids=lambda p: p.name)
def test_lessons_are_small_and_have_sliders(path):
    sc = jsim.load_scenario(path)
    assert sc.teach is not None and 2 <= len(sc.teach.sliders) <= 4
    assert sc.population.customers <= 5_000 and len(sc.stages) <= 5
    assert path.read_text().startswith("# ====")  # the story and the lesson, in comments


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(SCENARIO_DIR).as_posix())
def test_loads_and_compiles(path):
    sc = jsim.load_scenario(path)
    model = jsim.compile_scenario(sc, customers=SMALL)
    assert model.n_customers == SMALL
    assert int(model.initial.sum()) == SMALL
    assert model.n_days == sc.population.days


@pytest.mark.parametrize("engine", ["fast", "mean-field"])
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(SCENARIO_DIR).as_posix())
def test_runs_and_conserves_customers(path, engine):
    model = jsim.compile_scenario(jsim.load_scenario(path), customers=SMALL)
    res = jsim.simulate(model, seed=7, engine=engine)
    T, G, S, J = model.n_days, model.n_segments, model.n_stages, model.n_touchpoints
    assert res.occupancy.shape == (1, T + 1, G, S)
    assert res.flows.shape == (1, T + 1, S, S)
    assert res.deliveries.shape == (1, T + 1, J)
    for name in ("occupancy", "flows", "credits", "deliveries", "engagements", "cost"):
        arr = getattr(res, name)
        assert np.all(np.isfinite(arr)), name
        assert np.all(arr >= -1e-9), name
    # every customer is somewhere: day-0 population plus all arrivals so far
    total = res.occupancy.sum(axis=(2, 3))[0]
    expected = SMALL + np.cumsum(res.arrivals.sum(axis=2)[0])
    np.testing.assert_allclose(total, expected, rtol=1e-9, atol=1e-6)
    # every move is credited to exactly one source
    np.testing.assert_allclose(res.credits.sum(axis=1)[0], res.flows.sum(axis=1)[0], rtol=1e-9, atol=1e-6)
    # nobody leaves an absorbing stage
    assert np.all(res.flows[0][:, model.is_absorbing, :] == 0)
    # engaged exposures never exceed deliveries
    assert np.all(res.engagements <= res.deliveries + 1e-9)


def test_minimal_is_minimal():
    sc = jsim.load_scenario(SCENARIO_DIR / "minimal.toml")
    assert [s.name for s in sc.stages] == ["aware", "lost"]
    assert sc.stages[1].absorbing and not sc.stages[0].absorbing
    assert [(t.from_, t.to, t.p) for t in sc.transitions] == [("aware", "lost", 0.2)]
    assert not sc.touchpoints and not sc.segments and not sc.word_of_mouth
    model = jsim.compile_scenario(sc)
    res = jsim.simulate(model, engine="mean-field")
    t = np.arange(model.n_days + 1)
    np.testing.assert_allclose(res.stage_occupancy[0, :, 0], model.n_customers * 0.8**t, rtol=1e-12)


def test_teaching_is_small():
    sc = jsim.load_scenario(SCENARIO_DIR / "teaching.toml")
    assert 4 <= len(sc.stages) <= 5
    assert 2 <= len(sc.touchpoints) <= 3


def test_webshop_kpis_in_target_ranges():
    cal = _calibrate_module()
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO_DIR / "webshop.toml"))
    res = jsim.simulate(model, engine="mean-field")
    kpis = cal.kpis(res)
    assert set(kpis) == set(cal.TARGETS)
    out = {k: (v, cal.TARGETS[k][:2]) for k, v in kpis.items() if not cal.in_range(k, v)}
    assert not out, f"webshop KPIs out of their target ranges (value, range): {out}"
    assert cal.TARGETS["cart_abandonment"][:2] == (0.65, 0.75)
    assert cal.TARGETS["visitor_to_order"][:2] == (0.01, 0.04)
    assert cal.TARGETS["repeat_customer_rate"][:2] == (0.15, 0.40)
    assert set(cal.SOURCES) == set(cal.TARGETS)
    assert abs(kpis["email_open_rate"] - 0.20) < 1e-9  # mean-field: exactly the engagement


def test_webshop_expected_orders_add_up():
    orders = _experiment("customer_orders")
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO_DIR / "webshop.toml"))
    res = jsim.simulate(model, engine="mean-field")
    counts = orders.order_counts_mean_field(model, res.shares[0])
    flows = res.flows[0].sum(axis=0)
    s = model.stage_index
    # every customer is counted once, with as many orders as the engine counts purchases
    assert counts.customers.sum() == pytest.approx(model.n_customers + res.arrivals.sum(), rel=1e-12)
    assert counts.first_orders == pytest.approx(flows[:, s["customer"]].sum(), rel=1e-9)
    assert counts.repeat_orders == pytest.approx(flows[:, s["repeat_purchase"]].sum(), rel=1e-9)
    assert counts.customers[1].sum() == pytest.approx((model.initial * model.is_converted).sum(), rel=1e-12)
    assert counts.customers[0, 1:].sum() == pytest.approx(counts.first_orders, rel=1e-9)  # one first order each


def test_webshop_repeat_customer_rate_fast_engine_agrees():
    """The fast engine's customers (replayed from its seed) against the expected counts under the
    same run's word-of-mouth shares: buyers are independent given the shares, so the rate's
    standard error is binomial, sqrt(p (1 - p) / buyers); allow 4 of them."""
    orders = _experiment("customer_orders")
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO_DIR / "webshop.toml"))
    res = jsim.simulate(model, seed=3, engine="fast")
    (fast,) = orders.order_counts(res)  # also checks that the replay reproduces the run's moves
    assert fast.customers.sum() == model.n_customers + res.arrivals.sum()
    assert fast.first_orders + fast.repeat_orders == res.purchases.sum()
    expected = orders.order_counts_mean_field(model, res.shares[0])
    p = expected.repeat_buyers / expected.buyers
    se = np.sqrt(p * (1 - p) / fast.buyers)
    assert abs(fast.repeat_buyers / fast.buyers - p) < 4 * se


def test_bundled_targets_pass_mean_field():
    cal = _experiment("calibrate_bundled")
    rows = cal.checks("mean-field", seed=0, reps=1, customers=None)
    assert {r["scenario"] for r in rows} == {"webshop", "saas"}
    failed = [(r["name"], r["value"], (r["low"], r["high"])) for r in rows if not r["ok"]]
    assert not failed, f"bundled scenarios off their published targets (name, value, range): {failed}"


def test_webshop_structure():
    sc = jsim.load_scenario(SCENARIO_DIR / "webshop.toml")
    stages = {s.name: s for s in sc.stages}
    assert stages["customer"].purchase and stages["customer"].converted
    assert stages["loyal"].retained and stages["loyal"].advocate
    assert stages["repeat_purchase"].purchase
    assert stages["lost"].absorbing and stages["churned"].absorbing
    assert len(sc.touchpoints) >= 10
    assert {tp.kind for tp in sc.touchpoints} == {"paid", "owned", "earned"}
    assert 2 <= len(sc.segments) <= 3
    assert sc.population.days == 180 and sc.population.arrivals_per_day > 0
    assert sc.economics.revenue_per_purchase == 60.0 and sc.economics.margin == 0.35


def test_webshop_repeat_purchases_counted_each_entry():
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO_DIR / "webshop.toml"))
    res = jsim.simulate(model, engine="mean-field")
    flows = res.flows[0].sum(axis=0)
    s = model.stage_index
    entries = flows[:, s["customer"]].sum() + flows[:, s["repeat_purchase"]].sum()
    assert res.purchases.sum() == pytest.approx(entries, rel=1e-12)
    assert flows[s["loyal"], s["repeat_purchase"]] > flows[:, s["customer"]].sum()  # loyal customers reorder


def _monthly_churn(res) -> float:
    model = res.model
    paying = [i for i, n in enumerate(model.stage_names) if model.is_converted[i] and not model.is_absorbing[i]]
    churned = model.stage_index["churned"]
    moves = res.flows[0][:, paying, churned].sum()
    customer_days = res.occupancy_start[0][1:][..., paying].sum()
    h = moves / customer_days
    return 1.0 - (1.0 - h) ** 30


def test_saas_monthly_churn_near_five_percent():
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO_DIR / "saas.toml"))
    assert model.n_days == 365
    res = jsim.simulate(model, engine="mean-field")
    assert 0.04 <= _monthly_churn(res) <= 0.06


def test_saas_payments_once_per_billing_cycle():
    """Each payment is one entry into a purchase stage; re-entering the between-payments stage is free."""
    model = jsim.compile_scenario(jsim.load_scenario(SCENARIO_DIR / "saas.toml"))
    res = jsim.simulate(model, engine="mean-field")
    s = model.stage_index
    flows = res.flows[0].sum(axis=0)
    first = flows[:, s["subscriber"]].sum()
    renewals = flows[:, s["renewed"]].sum()
    assert res.purchases.sum() == pytest.approx(first + renewals, rel=1e-12)
    paying = [s["subscriber"], s["renewed"], s["active"]]
    months = res.occupancy_start[0][1:][..., paying].sum() / 30.0
    assert renewals / months == pytest.approx(1.0, abs=0.05)  # about one payment per paying month
