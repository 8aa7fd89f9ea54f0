"""jsim calibrate: known parameters recovered from data jsim simulated, intervals that cover, warnings, bad files."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from jsim.analysis.calibrate import poisson_deviance, run_calibration, setup_calibration
from jsim.cli import main
from jsim.errors import InputError
from jsim.runner import run_scenario

ROOT = Path(__file__).resolve().parents[1]
TEACHING = str(ROOT / "scenarios" / "teaching.toml")
P_BUY = "transitions.interested->customer.p"
ENGAGE = "touchpoints.flyers.engagement"
EFFECT = "touchpoints.flyers.effects.unaware->interested.p"


def _daily(tmp_path, truth: dict, engine="mean-field", seed=0, name="obs") -> Path:
    """daily.csv of the teaching scenario run with ``truth`` set."""
    out = tmp_path / f"{name}_{engine}_{seed}"
    run_scenario(TEACHING, engine=engine, seed=seed, overrides=[f"{k}={v}" for k, v in truth.items()], out=out)
    return out / "daily.csv"


def _poisson_noised(path: Path, dest: Path, rng, columns=None) -> Path:
    """``path`` with every count drawn from a Poisson of its value (independent cells), ``columns`` only."""
    with open(path) as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    keep = [0] + [k for k, h in enumerate(header) if h != "day" and (columns is None or h in columns)]
    with open(dest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([header[k] for k in keep])
        for row in rows[1:]:
            w.writerow([row[0], *(int(rng.poisson(float(row[k]))) for k in keep[1:])])
    return dest


def _fit(data, fits, **kw):
    problem = setup_calibration(TEACHING, data, fits)
    return run_calibration(problem, **kw)


def test_deviance_zero_at_the_data_and_positive_elsewhere():
    y = np.array([[3.0, np.nan], [0.0, 5.0]])
    assert poisson_deviance(y, np.nan_to_num(y), np.ones(2))[0] == pytest.approx(0.0, abs=1e-6)
    assert poisson_deviance(y, np.array([[4.0, 1.0], [1.0, 5.0]]), np.ones(2))[0] > 0


@pytest.mark.parametrize(
    "truth", [{P_BUY: 0.05, ENGAGE: 0.4}, {P_BUY: 0.025, ENGAGE: 0.65}, {P_BUY: 0.08, ENGAGE: 0.2}]
)
def test_exact_mean_field_data_recovered(tmp_path, truth):
    data = _daily(tmp_path, truth)
    fit = _fit(data, [f"{P_BUY}=0.01:0.1", f"{ENGAGE}=0.1:0.8"], trials=30)
    for key, value in truth.items():
        e = fit.parameters[key]
        assert e["low"] <= value <= e["high"], (key, e)
        assert e["estimate"] == pytest.approx(value, rel=1e-3)
    assert fit.warnings == []
    assert fit.deviance < 1e-3


def test_interval_coverage_on_poisson_noise(tmp_path):
    """20 fits of one parameter to independent Poisson noise around the mean-field series: the 95%
    intervals cover the truth at least 16 times (P(X <= 15 | p = 0.95, n = 20) = 1.6%)."""
    exact = _daily(tmp_path, {P_BUY: 0.05})
    rng = np.random.default_rng(2024)
    covered = 0
    for k in range(20):
        data = _poisson_noised(exact, tmp_path / f"noised{k}.csv", rng, columns=["customer", "lost", "purchases"])
        e = _fit(data, [f"{P_BUY}=0.01:0.1"], trials=15).parameters[P_BUY]
        covered += e["low"] <= 0.05 <= e["high"]
    assert covered >= 16, covered


@pytest.mark.parametrize("engine", ["fast", "des"])
def test_stochastic_engine_data_recovered(tmp_path, engine):
    """One replication of 2,000 customers from a stochastic engine, fitted on the mean-field engine."""
    truth = {P_BUY: 0.05, ENGAGE: 0.4}
    data = _daily(tmp_path, truth, engine=engine, seed=1)
    fit = _fit(data, [f"{P_BUY}=0.01:0.1", f"{ENGAGE}=0.1:0.8"], trials=30)
    for key, value in truth.items():
        e = fit.parameters[key]
        assert e["low"] <= value <= e["high"], (key, e)
        assert e["high"] - e["low"] < 0.25 * value  # informative, not the whole range


def test_fast_engine_fit_with_common_random_numbers(tmp_path):
    truth = {P_BUY: 0.05}
    data = _daily(tmp_path, truth, engine="fast", seed=3)
    fit = _fit(data, [f"{P_BUY}=0.01:0.1"], trials=15, engine="fast", reps=20, seed=5)
    e = fit.parameters[P_BUY]
    assert e["low"] <= 0.05 <= e["high"], e
    assert fit.engine == "fast" and fit.reps == 20


def test_parameter_that_moves_no_observed_column_is_flagged(tmp_path):
    data = _daily(tmp_path, {P_BUY: 0.05})
    fit = _fit(data, [f"{P_BUY}=0.01:0.1", "economics.margin=0.2:0.8"], trials=20)
    assert not fit.parameters["economics.margin"]["identifiable"]
    assert fit.parameters["economics.margin"]["low"] == 0.2 and fit.parameters["economics.margin"]["high"] == 0.8
    assert any("economics.margin is not identifiable" in w for w in fit.warnings)
    assert fit.parameters[P_BUY]["identifiable"]
    assert fit.parameters[P_BUY]["low"] <= 0.05 <= fit.parameters[P_BUY]["high"]


def test_parameters_that_trade_off_are_flagged(tmp_path):
    """A flyer's engaged readers move with engagement x effect p: without an engaged:flyers column only the
    product is seen."""
    data = _daily(tmp_path, {ENGAGE: 0.3, EFFECT: 0.5})
    fit = _fit(data, [f"{ENGAGE}=0.1:0.6", f"{EFFECT}=0.2:0.9"], trials=30)
    assert any("trade off" in w and ENGAGE in w and EFFECT in w for w in fit.warnings), fit.warnings


def test_abc_credible_interval_contains_the_truth(tmp_path):
    pytest.importorskip("pyabc")
    exact = _daily(tmp_path, {P_BUY: 0.05})
    data = _poisson_noised(exact, tmp_path / "noised.csv", np.random.default_rng(7), columns=["customer", "lost"])
    fit = _fit(data, [f"{P_BUY}=0.01:0.1"], trials=15, method="abc", population=100, generations=5)
    e = fit.parameters[P_BUY]
    assert e["low"] <= 0.05 <= e["high"], e
    assert e["high"] - e["low"] < 0.02
    assert fit.posterior.shape == (100, 1) and fit.weights.shape == (100,)


def test_abc_reports_its_final_temperature_and_effective_sample_size(tmp_path):
    """pyabc's schedule ends at temperature 1 (it jumps there at the last generation); what a short run loses is
    effective samples, so the note states Kish's ESS of the final weights and a warning flags a degenerate one."""
    pytest.importorskip("pyabc")
    from jsim.analysis.calibrate import MIN_ESS_SHARE, effective_sample_size

    assert effective_sample_size([1.0, 1.0, 1.0, 1.0]) == pytest.approx(4.0)
    assert effective_sample_size([1.0, 0.0, 0.0, 0.0]) == pytest.approx(1.0)
    data = _daily(tmp_path, {P_BUY: 0.05})
    fit = _fit(data, [f"{P_BUY}=0.01:0.1"], trials=10, method="abc", population=50, generations=3)
    ess = effective_sample_size(fit.weights)
    note = next(n for n in fit.notes if n.startswith("ABC: "))
    assert "final temperature 1" in note and f"effective sample size {ess:.0f} of 50" in note
    assert any("effective sample size" in w for w in fit.warnings) == (ess < MIN_ESS_SHARE * 50)


def test_abc_same_seed_same_posterior(tmp_path):
    pytest.importorskip("pyabc")
    data = _daily(tmp_path, {P_BUY: 0.05})
    a = _fit(data, [f"{P_BUY}=0.01:0.1"], trials=10, method="abc", population=50, generations=3, seed=4)
    b = _fit(data, [f"{P_BUY}=0.01:0.1"], trials=10, method="abc", population=50, generations=3, seed=4)
    np.testing.assert_array_equal(a.posterior, b.posterior)


def test_cli_round_trip_of_daily_csv(tmp_path):
    """jsim run writes daily.csv; jsim calibrate fits it and writes its set; fitted.toml keeps the comments."""
    runner = CliRunner()
    obs = tmp_path / "obs"
    r = runner.invoke(main, ["run", TEACHING, "--engine", "mean-field", "--set", f"{P_BUY}=0.06", "-o", str(obs)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "cal"
    args = ["calibrate", TEACHING, "--data", str(obs / "daily.csv"), "--fit", f"{P_BUY}=0.01:0.1", "--trials", "15"]
    r = runner.invoke(main, [*args, "--format", "json", "-q"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) >= {"parameters", "warnings", "deviance"}
    assert set(doc["parameters"][P_BUY]) >= {"estimate", "low", "high"}
    assert doc["parameters"][P_BUY]["estimate"] == pytest.approx(0.06, rel=1e-3)
    r = runner.invoke(main, [*args, "-q", "-o", str(out), "--plot"])
    assert r.exit_code == 0, r.output
    assert {"calibration.json", "fitted.toml", "fitted.csv", "calibration.png"} <= {p.name for p in out.iterdir()}
    text = (out / "fitted.toml").read_text()
    fitted = tomllib.loads(text)
    p = next(t["p"] for t in fitted["transitions"] if t["from"] == "interested" and t["to"] == "customer")
    assert p == pytest.approx(0.06, rel=1e-3)
    assert "# pops in to try" in text  # the comment on the fitted line is kept
    with open(out / "fitted.csv") as fh:
        assert next(csv.reader(fh)) == ["day", "series", "observed", "fitted"]
    assert json.loads((out / "calibration.json").read_text())["seed"] == 0


def test_cli_abc_writes_posterior(tmp_path):
    pytest.importorskip("pyabc")
    data = _daily(tmp_path, {P_BUY: 0.05})
    out = tmp_path / "cal"
    args = ["calibrate", TEACHING, "--data", str(data), "--fit", f"{P_BUY}=0.01:0.1", "--method", "abc"]
    r = CliRunner().invoke(
        main, [*args, "--trials", "10", "--population", "50", "--generations", "3", "-q", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    with open(out / "posterior.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [P_BUY, "weight"] and len(rows) == 51


BAD = {
    "unknown column": ("day,customer,cusotmer\n0,0,0\n", "unknown column 'cusotmer'"),
    "not a number": ("day,customer\n0,0\n1,abc\n", "line 3, column customer"),
    "negative": ("day,customer\n0,0\n1,-4\n", "must be >= 0"),
    "duplicate day": ("day,customer\n0,0\n1,3\n1,4\n", "day 1 comes twice"),
    "beyond horizon": ("day,customer\n0,0\n61,3\n", "within [0, 60]"),
    "no day": ("customer\n0\n", "a 'day' column is required"),
    "nothing observed": ("day,customer\n0,\n", "no observed value"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_exit_2_nothing_written(tmp_path, case):
    text, message = BAD[case]
    data = tmp_path / "obs.csv"
    data.write_text(text)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        main, ["calibrate", TEACHING, "--data", str(data), "--fit", f"{P_BUY}=0.01:0.1", "-q", "-o", str(out)]
    )
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert not out.exists()


@pytest.mark.parametrize(
    "fit, message",
    [
        ("economics.marjin=0.1:0.2", "--fit economics.marjin"),
        (f"{P_BUY}=0.1:0.01", "LOW < HIGH"),
        ("population.customers=100:200", "whole numbers"),
    ],
)
def test_bad_fit_exit_2(tmp_path, fit, message):
    data = tmp_path / "obs.csv"
    data.write_text("day,customer\n0,0\n")
    r = CliRunner().invoke(main, ["calibrate", TEACHING, "--data", str(data), "--fit", fit, "-q"])
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_missing_fit_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="--fit is required"):
        setup_calibration(TEACHING, tmp_path / "x.csv", [])
