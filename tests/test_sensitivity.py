"""jsim sensitivity: Sobol indices against a closed form, Morris zero effects, OAT swings against direct runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from jsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "scenarios" / "support_understaffed.toml"
WEBSHOP = ROOT / "scenarios" / "webshop.toml"
AGENTS = "touchpoints.support_chat.service.agents"

#: Two owned touchpoints with fixed reach: their deliveries do not depend on their cost per exposure, so the
#: total cost is exactly linear and additive in the two costs: cost = D_mail * c_mail + D_call * c_call.
LINEAR = """
name = "linear"
[[stages]]
name = "aware"
[[stages]]
name = "lost"
absorbing = true
[[transitions]]
from = "aware"
to = "lost"
p = 0.02
[[touchpoints]]
name = "mail"
kind = "owned"
reach = 0.1
cost_per_exposure = 1.0
targets = ["aware"]
[[touchpoints]]
name = "call"
kind = "owned"
reach = 0.3
cost_per_exposure = 1.0
targets = ["aware"]
[population]
customers = 1000
days = 30
"""
MAIL, CALL = "touchpoints.mail.cost_per_exposure", "touchpoints.call.cost_per_exposure"
RANGES = {MAIL: (0.5, 4.0), CALL: (1.0, 2.0)}


@pytest.fixture
def linear(tmp_path):
    path = tmp_path / "linear.toml"
    path.write_text(LINEAR)
    return path


def _problem(path, params, metrics, **kw):
    from jsim.analysis.sensitivity import setup_problem

    return setup_problem(str(path), params, metrics, **kw)


def _params():
    return [f"{k}={lo}:{hi}" for k, (lo, hi) in RANGES.items()]


def test_the_linear_scenario_is_linear_and_additive(linear):
    """Check the closed form's premise numerically: cost at the midpoint is the mean of the corners, and so on."""
    from jsim.analysis.sensitivity import run_sensitivity

    pr = _problem(linear, _params(), ["cost"])
    ev = run_sensitivity(pr, method="oat")
    slopes = {r["param"]: r["swing"] / (r["high"] - r["low"]) for r in ev.rows}
    base = ev.baseline["cost"]  # both costs at 1.0
    assert base == pytest.approx(slopes[MAIL] + slopes[CALL], rel=1e-12)
    for cm, cc in [(0.5, 2.0), (4.0, 1.0), (2.2, 1.7)]:
        pr_point = _problem(linear, [f"{MAIL}={cm}:{cm + 1}", f"{CALL}={cc}:{cc + 1}"], ["cost"])
        at = run_sensitivity(pr_point, method="oat").rows[0]["at_low"]  # mail at cm, call at its file value 1.0
        assert at == pytest.approx(slopes[MAIL] * cm + slopes[CALL] * 1.0, rel=1e-12)


def test_sobol_indices_match_the_closed_form_within_their_intervals(linear):
    """f = a x1 + b x2, x uniform on [lo, hi]: S1_i = ST_i = a_i^2 Var(x_i) / sum_j a_j^2 Var(x_j), S2 = 0."""
    from jsim.analysis.sensitivity import run_sensitivity

    pr = _problem(linear, _params(), ["cost"])
    slopes = {r["param"]: r["swing"] / (r["high"] - r["low"]) for r in run_sensitivity(pr, method="oat").rows}
    part = {k: slopes[k] ** 2 * (hi - lo) ** 2 / 12 for k, (lo, hi) in RANGES.items()}
    exact = {k: v / sum(part.values()) for k, v in part.items()}
    assert 0.3 < exact[MAIL] < 0.7  # a test of two comparable shares, not of one that takes everything

    res = run_sensitivity(pr, method="sobol", samples=512, seed=3)
    assert res.evaluations == 512 * (2 * 2 + 2)
    for row in res.rows:
        k = row["param"]
        # SALib's bootstrap half-width at 95%; a floor of 1e-3 for the (near-exact) total index of a linear model
        assert abs(row["S1"] - exact[k]) <= max(row["S1_conf"], 1e-3), (k, row["S1"], row["S1_conf"], exact[k])
        assert abs(row["ST"] - exact[k]) <= max(row["ST_conf"], 1e-3), (k, row["ST"], row["ST_conf"], exact[k])
        # for an additive model the estimators are much closer than their bootstrap intervals say (seen: < 1e-4)
        assert abs(row["S1"] - exact[k]) < 0.005 and abs(row["ST"] - exact[k]) < 0.005
    (pair,) = res.second_order
    assert abs(pair["S2"]) <= max(pair["S2_conf"], 1e-3)


@pytest.mark.parametrize("method", ["sobol", "morris"])
@pytest.mark.parametrize("seed", [0, 5])
def test_the_same_seed_gives_the_same_indices_and_intervals(linear, method, seed):
    """Regression: SALib seeds its bootstrap only for a truthy seed, so seed 0 gave other intervals every run."""
    from jsim.analysis.sensitivity import run_sensitivity

    pr = _problem(linear, _params(), ["cost"])
    a = run_sensitivity(pr, method=method, samples=32, seed=seed)
    b = run_sensitivity(pr, method=method, samples=32, seed=seed)
    assert a.rows == b.rows and a.second_order == b.second_order


def test_morris_an_ineffective_parameter_has_mu_star_zero_and_a_linear_one_its_range(linear):
    from jsim.analysis.sensitivity import run_sensitivity

    pr = _problem(linear, [*_params(), "economics.margin=0.1:0.9"], ["cost", "touchpoints.mail.deliveries"])
    res = run_sensitivity(pr, method="morris", samples=10, seed=1)
    rows = {(r["metric"], r["param"]): r for r in res.rows}
    assert rows[("cost", "economics.margin")]["mu_star"] == 0.0
    assert rows[("touchpoints.mail.deliveries", MAIL)]["mu_star"] == 0.0
    assert rows[("touchpoints.mail.deliveries", CALL)]["mu_star"] == 0.0
    swing = {r["param"]: r["swing"] for r in run_sensitivity(pr, method="oat").rows if r["metric"] == "cost"}
    for k in RANGES:  # linear: every elementary effect is the change over the whole range
        assert rows[("cost", k)]["mu_star"] == pytest.approx(swing[k], rel=1e-9)
        assert rows[("cost", k)]["sigma"] == pytest.approx(0.0, abs=1e-9 * swing[k])


def test_oat_swing_is_the_difference_of_two_direct_runs():
    from jsim.analysis.sensitivity import run_sensitivity
    from jsim.metrics import rep_values
    from jsim.runner import run_scenario

    small = {"customers": 2000, "days": 40}
    pr = _problem(SUPPORT, [f"{AGENTS}=1:5", "economics.margin=0.2:0.4"], ["new_customers", "net_profit"], **small)
    assert [p.integer for p in pr.params] == [True, False]
    for engine, reps in (("mean-field", 1), ("fast", 3)):
        res = run_sensitivity(pr, method="oat", engine=engine, reps=reps, seed=5, **small)
        for row in res.rows:
            key, metric = row["param"], row["metric"]
            low = 1 if key == AGENTS else row["low"]
            high = 5 if key == AGENTS else row["high"]
            runs = [
                rep_values(
                    run_scenario(SUPPORT, engine=engine, reps=reps, seed=5, overrides=[f"{key}={v}"], **small)[1]
                )
                for v in (low, high)
            ]
            lo, hi = (r["metrics"][metric] for r in runs)
            assert row["at_low"] == lo.mean() and row["at_high"] == hi.mean()
            assert row["swing"] == pytest.approx((hi - lo).mean(), rel=1e-12, abs=1e-9)
            if engine == "fast":
                assert row["swing_low"] < row["swing"] < row["swing_high"] or row["swing_low"] == row["swing_high"]


def test_integer_fields_are_detected_and_sampled_uniformly_on_their_integers():
    from jsim.analysis.sensitivity import _salib_problem, _value

    pr = _problem(SUPPORT, [f"{AGENTS}=1:6", "economics.margin=0:1", "population.customers=1000:3000"], ["cost"])
    assert [p.integer for p in pr.params] == [True, False, True]
    agents = pr.params[0]
    assert _salib_problem([agents])["bounds"] == [[0.5, 6.5]]
    x = np.linspace(0.5, 6.5, 6001)[:-1]
    counts = np.bincount([_value(agents, xi) for xi in x])[1:]
    assert list(counts) == [1000] * 6


def test_sobol_samples_round_up_to_a_power_of_two(linear):
    from jsim.analysis.sensitivity import run_sensitivity

    res = run_sensitivity(_problem(linear, [f"{MAIL}=1:2"], ["cost"]), method="sobol", samples=100)
    assert res.samples == 128 and res.evaluations == 128 * 3
    assert any("rounded up to 128" in n for n in res.notes)
    assert res.rows[0]["S1"] == pytest.approx(1.0, abs=max(res.rows[0]["S1_conf"], 1e-3))
    assert res.second_order == []


@pytest.mark.parametrize("method", ["oat", "morris", "sobol"])
def test_cli_writes_csv_json_and_plot(tmp_path, linear, method):
    out = tmp_path / method
    extra = [] if method == "oat" else ["--samples", "8"]
    args = ["sensitivity", str(linear), *(a for p in _params() for a in ("--param", p)), "--metric", "cost"]
    res = CliRunner().invoke(
        main, [*args, "--metric", "new_customers", "--method", method, *extra, "-q", "-o", str(out), "--plot"]
    )
    assert res.exit_code == 0, res.output
    assert f"sensitivity ({method})" in res.output
    table = pd.read_csv(out / "sensitivity.csv")
    from jsim.analysis.sensitivity import ROW_FIELDS

    assert list(table.columns) == ["metric", "param", "low", "high", "integer", *ROW_FIELDS[method]]
    assert len(table) == 2 * 2
    doc = json.loads((out / "sensitivity.json").read_text())
    assert doc["method"] == method and doc["engine"] == "mean-field" and doc["deterministic"] is True
    assert len(doc["indices"]) == 4 and doc["evaluations"] > 0
    assert (out / "sensitivity.png").stat().st_size > 0
    res = CliRunner().invoke(main, [*args, "--method", method, *extra, "-q", "--format", "json"])
    assert json.loads(res.output)["params"][0] == {"key": MAIL, "low": 0.5, "high": 4.0, "integer": False}


def test_plot_data():
    from jsim.analysis.sensitivity import run_sensitivity
    from jsim.plot.sensitivity import get_sensitivity_info

    pr = _problem(WEBSHOP, ["economics.margin=0.25:0.45", "touchpoints.search_ads.spend=25:150"], ["net_profit"])
    info = get_sensitivity_info(run_sensitivity(pr, method="oat"))
    assert info.values.shape == (1, 2, 3) and info.fields == ("at_low", "at_high", "swing")
    assert np.allclose(info.values[0, :, 1] - info.values[0, :, 0], info.values[0, :, 2])
    assert info.values[0, 0, 2] > 0 > info.values[0, 1, 2]  # margin raises profit, more search spend costs more


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "touchpoints.mail.cost_per_exposur=1:2"], "did you mean 'cost_per_exposure'"),
        (["--param", f"{MAIL}=2:1"], "LOW < HIGH must hold"),
        (["--param", f"{MAIL}=1:2:3"], "LOW:HIGH"),
        (["--param", f"{MAIL}=-1:2"], "cost_per_exposure"),  # LOW breaks the field's rule
        (["--param", f"{MAIL}=1:2", "--metric", "costs"], "did you mean 'cost'"),
        (["--param", f"{MAIL}=1:2", "--samples", "64"], "do not apply to --method oat"),
        (["--param", f"{MAIL}=1:2", "--method", "sobol", "--levels", "4"], "--levels applies to --method morris"),
        (["--param", f"{MAIL}=1:2", "--param", f"{MAIL}=2:3"], "varied once"),
        ([], "--param is required"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, linear, args, message):
    out = tmp_path / "out"
    metric = [] if "--metric" in args else ["--metric", "cost"]
    res = CliRunner().invoke(main, ["sensitivity", str(linear), *args, *metric, "-q", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output, res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_ranges_that_break_a_rule_together_exit_2_naming_the_point(tmp_path):
    out = tmp_path / "out"
    args = ["sensitivity", str(SUPPORT), "--param", "touchpoints.checkout.effects.cart->lost.p=0.05:0.2"]
    args += ["--param", "touchpoints.checkout.effects.cart->customer.p=0.4:0.7", "--metric", "new_customers"]
    res = CliRunner().invoke(main, [*args, "--method", "morris", "--samples", "4", "-q", "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "with --param touchpoints.checkout.effects.cart->lost.p=" in res.output and "must total <= 1" in res.output
    assert not out.exists()
