"""Metrics against answers computed by hand from the scenario's numbers (expected-value engine, exact)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import build

from jsim.analysis import lifetime_value, summarise
from jsim.engine import simulate
from jsim.metrics import estimate, rep_metrics, t975

T = 60
V = 40.0  # revenue per purchase
MARGIN = 0.25
P_ORGANIC, REACH, ENGAGE, EFFECT = 0.01, 0.5, 0.4, 0.05
A_RETURN, C_CHURN = 0.10, 0.05


def scenario(with_email: bool = True) -> dict:
    tps = [
        {
            "name": "email",
            "kind": "owned",
            "reach": REACH,
            "engagement": ENGAGE,
            "spend": 2.0,
            "cost_per_exposure": 0.1,
            "effects": [{"from": "lead", "to": "customer", "p": EFFECT}],
        }
    ]
    return {
        "stages": [
            {"name": "lead"},
            {"name": "customer", "converted": True, "purchase": True},
            {"name": "between", "converted": True, "retained": True},
            {"name": "churned", "absorbing": True},
        ],
        "transitions": [
            {"from": "lead", "to": "customer", "p": P_ORGANIC},
            {"from": "customer", "to": "between", "p": 1.0},
            {"from": "between", "to": "customer", "p": A_RETURN},
            {"from": "between", "to": "churned", "p": C_CHURN},
        ],
        "touchpoints": tps if with_email else [],
        "population": {"customers": 1000, "days": T},
        "economics": {"revenue_per_purchase": V, "margin": MARGIN},
    }


def daily_matrix(with_email: bool) -> np.ndarray:
    """The day's matrix written out by hand: two independent sources act on 'lead'."""
    r_org, r_email = P_ORGANIC, (REACH * ENGAGE * EFFECT if with_email else 0.0)
    P = np.zeros((4, 4))
    P[0, 1] = 1 - (1 - r_org) * (1 - r_email)
    P[0, 0] = 1 - P[0, 1]
    P[1, 2] = 1.0
    P[2, 1], P[2, 3], P[2, 2] = A_RETURN, C_CHURN, 1 - A_RETURN - C_CHURN
    P[3, 3] = 1.0
    return P


def propagate(P: np.ndarray):
    x = np.array([1000.0, 0, 0, 0])
    purchases, lead_start = 0.0, []
    for _ in range(T):
        lead_start.append(x[0])
        purchases += x @ P[:, 1]
        x = x @ P
    return x, purchases, np.array(lead_start)


def test_run_metrics_match_hand_computation():
    model = build(scenario())
    m = {k: float(v[0]) for k, v in rep_metrics(simulate(model, engine="mean-field")).items()}
    x, purchases, lead_start = propagate(daily_matrix(True))
    deliveries = REACH * lead_start.sum()
    cost = 2.0 * T + 0.1 * deliveries
    new = 1000 - x[0]
    assert m["prospects"] == 1000 and m["customers"] == 1000
    assert m["new_customers"] == pytest.approx(new, rel=1e-12)
    assert m["conversion_rate"] == pytest.approx(new / 1000, rel=1e-12)
    assert m["purchases"] == pytest.approx(purchases, rel=1e-12)
    assert m["revenue"] == pytest.approx(V * purchases, rel=1e-12)
    assert m["gross_profit"] == pytest.approx(MARGIN * V * purchases, rel=1e-12)
    assert m["cost"] == pytest.approx(cost, rel=1e-12)
    assert m["cac"] == pytest.approx(cost / new, rel=1e-12)
    assert m["roi"] == pytest.approx((MARGIN * V * purchases - cost) / cost, rel=1e-12)
    assert m["retained"] == pytest.approx(x[2], rel=1e-12)
    assert m["retention_rate"] == pytest.approx(x[2] / (x[1] + x[2] + x[3]), rel=1e-12)


def test_touchpoint_credit_and_incremental_revenue():
    result = simulate(build(scenario()), engine="mean-field")
    row = summarise(result)["touchpoints"][0]
    _, purchases_with, lead_start = propagate(daily_matrix(True))
    _, purchases_without, _ = propagate(daily_matrix(False))
    # moves the email caused: its share of the competing hazards times the day's leaving probability
    lam_o, lam_e = -math.log1p(-P_ORGANIC), -math.log1p(-REACH * ENGAGE * EFFECT)
    leave = daily_matrix(True)[0, 1]
    assert row["moves_caused"] == pytest.approx(lead_start.sum() * leave * lam_e / (lam_o + lam_e), rel=1e-12)
    assert row["incremental_revenue"] == pytest.approx(V * (purchases_with - purchases_without), rel=1e-10)
    assert row["deliveries"] == pytest.approx(REACH * lead_start.sum(), rel=1e-12)
    assert row["engagements"] == pytest.approx(REACH * ENGAGE * lead_start.sum(), rel=1e-12)
    cost = 2.0 * T + 0.1 * row["deliveries"]
    assert row["incremental_roi"] == pytest.approx((MARGIN * row["incremental_revenue"] - cost) / cost, rel=1e-10)


@pytest.mark.parametrize("p_on", [1.0, 0.25])
def test_lifetime_value_closed_form(p_on):
    # a new customer buys once, then returns with probability a / (a + c) per cycle:
    # expected purchases 1 + x / (1 - x) with x = a / (a + c); 3 years leave (2/3)^140 unexplored.
    # With p_on < 1 customers stay in the purchase stage for days: a stay is not another purchase
    # (regression: every day spent in 'customer' counted as one more order).
    x = A_RETURN / (A_RETURN + C_CHURN)
    expected = MARGIN * V * (1 + x / (1 - x))
    data = scenario()
    data["transitions"][1] = {"from": "customer", "to": "between", "p": p_on}
    assert lifetime_value(build(data)) == pytest.approx(expected, rel=1e-6 if p_on < 1 else 1e-9)


def test_estimate_interval():
    e = estimate([1.0, 2.0, 3.0, 4.0])
    half = t975(3) * np.std([1, 2, 3, 4], ddof=1) / 2
    assert e.mean == 2.5 and e.low == pytest.approx(2.5 - half) and e.high == pytest.approx(2.5 + half)
    assert estimate([5.0]).low is None
    # exact Student-t quantiles (tables give 12.706, 4.303, 1.972 to three decimals)
    assert t975(1) == pytest.approx(12.7062047362, rel=1e-10) and t975(3) == pytest.approx(3.1824463053, rel=1e-10)
    assert t975(200) == pytest.approx(1.9718962236, rel=1e-10) and np.isnan(t975(0))


def test_t975_table_is_scipys():
    """The looked-up quantiles are the floats scipy computes, so intervals do not depend on the lookup."""
    from scipy.special import stdtrit

    for df in range(1, 102):
        assert t975(df) == float(stdtrit(df, 0.975)), df
        assert t975(np.int64(df)) == t975(float(df)) == t975(df)
    assert t975(2.5) == float(stdtrit(2.5, 0.975)) and t975(math.inf) == float(stdtrit(math.inf, 0.975))


def test_segment_rows_add_up():
    data = scenario()
    data["segments"] = [{"name": "a", "share": 0.25}, {"name": "b", "share": 0.75, "effect_multiplier": 2.0}]
    result = simulate(build(data), seed=2, reps=2)
    rows = summarise(result)["segments"]
    m = rep_metrics(result)
    assert sum(r["customers"]["mean"] for r in rows) == pytest.approx(m["customers"].mean())
    assert sum(r["new_customers"]["mean"] for r in rows) == pytest.approx(m["new_customers"].mean())
    assert sum(r["purchases"]["mean"] for r in rows) == pytest.approx(m["purchases"].mean())
    assert sum(r["revenue"]["mean"] for r in rows) == pytest.approx(m["revenue"].mean())
    # the more responsive segment converts more (mean-field: exactly computable ordering)
    mf = summarise(simulate(build(data), engine="mean-field"))["segments"]
    assert mf[1]["conversion_rate"]["mean"] > mf[0]["conversion_rate"]["mean"]
