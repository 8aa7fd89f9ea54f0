"""The counterfactual truth of each touchpoint, and traced journeys as attribution paths."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import jsim
from jsim.analysis.truth import journey_paths, true_contributions
from jsim.model import compile_scenario
from jsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
TV_SEARCH = ROOT / "scenarios" / "tv_search.toml"


@pytest.fixture(scope="module")
def tv_model():
    return compile_scenario(load_scenario(TV_SEARCH), customers=20_000)


def test_a_switched_off_touchpoint_delivers_nothing_and_costs_nothing(tv_model):
    off = tv_model.without_touchpoints(["tv"])
    j = tv_model.touchpoint_names.index("tv")
    res = jsim.simulate(off, seed=2, reps=2)
    assert res.deliveries[:, :, j].sum() == 0 and res.cost[:, :, j].sum() == 0
    assert res.moves_by_source[:, :, off.source_names.index("tv")].sum() == 0
    with pytest.raises(ValueError, match="switch off"):
        tv_model.without_touchpoints(["radio"])


def test_switching_off_a_touchpoint_that_moves_nobody_changes_nothing(tv_model):
    """Paired to the customer: a touchpoint without effect leaves every count bit-identical."""
    from jsim.scenario import parse_scenario, read_scenario_data

    data = read_scenario_data(TV_SEARCH)
    data["touchpoints"].append({"name": "billboard", "kind": "paid", "reach": 0.3, "targets": ["unaware"]})
    model = compile_scenario(parse_scenario(data), customers=5_000)
    truth = true_contributions(model, touchpoints=["billboard"], reps=3, seed=4)
    (row,) = truth.touchpoints
    assert row.incremental_conversions.mean == 0 and row.incremental_conversions.high == 0
    assert all(d.mean == 0 for d in row.conversions_by_source.values())


def test_the_expected_value_engine_gives_the_exact_difference(tv_model):
    truth = true_contributions(tv_model, engine="mean-field")
    full = jsim.simulate(tv_model, engine="mean-field").new_converted[0, 1:].sum()
    for row in truth.touchpoints:
        off = jsim.simulate(tv_model.without_touchpoints([row.touchpoint]), engine="mean-field")
        exact = full - off.new_converted[0, 1:].sum()
        d = row.incremental_conversions
        assert d.mean == pytest.approx(exact, rel=1e-12, abs=1e-9) and d.low == d.high == d.mean


def test_the_paired_difference_is_unbiased_for_the_exact_one(tv_model):
    """No coupling in tv_search: the fast engine's paired difference has the mean-field difference as
    its expectation; |x - mu| <= 4.5 SE with the SE of the paired replications."""
    reps = 12
    fast = true_contributions(tv_model, reps=reps, seed=11).by_touchpoint()
    exact = true_contributions(tv_model, engine="mean-field").by_touchpoint()
    for name, row in fast.items():
        d, mu = row.incremental_conversions, exact[name].incremental_conversions.mean
        se = d.sd / math.sqrt(reps)
        assert abs(d.mean - mu) <= 4.5 * se + 1e-9, (name, d.mean, mu, se)
    # the story of the scenario: TV brings many more customers than branded search
    assert exact["tv"].incremental_conversions.mean > 3 * exact["branded_search"].incremental_conversions.mean
    # and without TV, branded search converts fewer people: TV's effect shows in search's moves
    assert fast["tv"].conversions_by_source["branded_search"].low > 0


def test_journey_paths_follow_the_traced_records(tv_model):
    """Rebuild the paths from journeys.csv's rows by the plain rule and compare."""
    res = jsim.simulate(tv_model, seed=5, journeys=3_000)
    jp = journey_paths(res.journeys)
    m = tv_model
    rows = res.journeys.rows()
    by_customer: dict[int, list] = {}
    for cust, day, t, event, clock, engaged, _from, s_to, _, _ in rows:
        by_customer.setdefault(cust, []).append((t, event, clock, engaged, s_to, day))
    expected: dict = {}
    no_touch = [0, 0]
    value = dict(zip(m.stage_names, m.purchase_value))
    for cust in range(res.journeys.n_customers):
        path, converted, val = [], False, 0.0
        for _t, event, clock, engaged, s_to, day in by_customer.get(cust, []):
            if event == "move" and m.is_converted[m.stage_names.index(s_to)]:
                converted, val = True, value[s_to] * m.revenue_mult[day]
                break
            if event == "exposure" and engaged and clock in m.touchpoint_names:
                path.append(clock)
        if not path:
            no_touch[0 if converted else 1] += 1
            continue
        row = expected.setdefault(tuple(path), [0, 0.0, 0])
        row[0 if converted else 2] += 1
        row[1] += val
    assert jp.converted_without_touch == no_touch[0] and jp.not_converted_without_touch == no_touch[1]
    assert set(jp.paths) == set(expected)
    for path, (conv, val, null) in expected.items():
        assert jp.paths[path][0] == conv and jp.paths[path][2] == null
        assert jp.paths[path][1] == pytest.approx(val, rel=1e-12)
    assert jp.prospects == res.journeys.n_customers  # everyone starts unaware
    total = sum(v[0] + v[2] for v in jp.paths.values()) + sum(no_touch)
    assert total == jp.prospects


def test_traced_conversion_rate_matches_the_population(tv_model):
    """Traced journeys are draws from the run's process: their conversion rate agrees with the
    population's expected rate within 4.5 binomial standard errors."""
    n = 20_000
    res = jsim.simulate(tv_model, seed=6, journeys=n)
    jp = journey_paths(res.journeys)
    p_hat = jp.conversions / jp.prospects
    mf = jsim.simulate(tv_model, engine="mean-field")
    p = mf.new_converted[0, 1:].sum() / tv_model.initial.sum()
    se = math.sqrt(p * (1 - p) / n)
    assert abs(p_hat - p) <= 4.5 * se, (p_hat, p, se)
    assert stats.binomtest(jp.conversions, jp.prospects, p).pvalue > 1e-5
    assert np.isfinite(p_hat)


def test_against_truth_scales_credits_and_scores_each_method(tv_model):
    from jsim.analysis.truth import against_truth

    truth = true_contributions(tv_model, engine="mean-field")
    inc = {t.touchpoint: t.incremental_conversions.mean for t in truth.touchpoints}
    perfect = {k: v / 2 for k, v in inc.items()}  # on a sample of half the population
    reversed_ = dict(zip(inc, sorted(inc.values())))  # the smallest credit to the largest truth, ...
    res = against_truth(truth, {"perfect": perfect, "other": reversed_, "silent": {}}, scale=2.0)
    err = {e.method: e for e in res.errors}
    assert err["perfect"].mae == pytest.approx(0.0, abs=1e-9) and err["perfect"].rank_correlation == pytest.approx(1)
    expected = np.mean([abs(2 * reversed_[k] - inc[k]) for k in inc])
    assert err["other"].mae == pytest.approx(expected)
    assert err["silent"].mae == pytest.approx(np.mean([abs(v) for v in inc.values()]))
    assert err["silent"].rank_correlation is None
    assert [r["touchpoint"] for r in res.rows()] == list(tv_model.touchpoint_names)


# --- the command -------------------------------------------------------------------------------

from click.testing import CliRunner  # noqa: E402

from jsim.cli import main  # noqa: E402


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_attribute_scenario_sets_every_method_beside_the_truth(tmp_path):
    import json

    import pandas as pd

    out = tmp_path / "truth"
    res = invoke(
        "attribute", "--scenario", TV_SEARCH, "-n", 20_000, "--journeys", 20_000, "--reps", 4, "--out", out, "-q"
    )
    assert res.exit_code == 0, res.output
    assert "against the truth" in res.output and "error of each method" in res.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        ".jsim-manifest.json",
        "attribution.csv",
        "attribution.json",
        "paths.csv",
        "transition_matrix.csv",
        "truth.csv",
    ]
    truth = pd.read_csv(out / "truth.csv")
    assert list(truth.columns[:5]) == ["touchpoint", "incremental", "low", "high", "credited"]
    assert {"markov", "shapley", "first", "last", "linear", "position", "time-decay"} <= set(truth.columns)
    t = truth.set_index("touchpoint")
    # the scenario's point: last touch gives branded search far more than it adds, and TV far less
    assert t.loc["branded_search", "last"] > 3 * t.loc["branded_search", "high"]
    assert t.loc["tv", "last"] < 0.5 * t.loc["tv", "low"]
    doc = json.loads((out / "attribution.json").read_text())
    errors = {e["method"]: e for e in doc["against_truth"]["errors"]}
    assert errors["last"]["mae"] > errors["markov"]["mae"]
    # the exported paths are the traced journeys: attributing the file gives the same Markov answer
    again = json.loads(invoke("attribute", out / "paths.csv", "--method", "markov", "--format", "json").output)
    markov = {c["channel"]: c["markov_conversions"] for c in doc["channels"]}
    assert {c["channel"]: c["markov_conversions"] for c in again["channels"]} == pytest.approx(markov, rel=1e-9)


def test_attribute_scenario_with_the_expected_value_truth_is_exact():
    import json

    res = invoke(
        "attribute", "--scenario", TV_SEARCH, "-n", 5_000, "--journeys", 2_000, "--engine", "mean-field",
        "--method", "last", "--format", "json", "-q",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["against_truth"]["rows"]
    assert all(r["low"] == r["high"] == r["incremental"] for r in rows)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["paths.csv", "--scenario", TV_SEARCH], "one of the two"),
        ([], "one of the two"),
        (["paths.csv", "--journeys", "10"], "need --scenario"),
        (["--scenario", TV_SEARCH, "--set", "touchpoints.tvv.spend=0"], "tv"),
        (["--scenario", TV_SEARCH, "--path-col", "p"], "reads a path file"),
    ],
)
def test_attribute_bad_input_exits_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "o"
    res = invoke("attribute", *args, "--out", out, "-q")
    assert res.exit_code == 2, res.output
    assert needle in res.output
    assert not out.exists()


def test_run_paths_writes_what_attribute_reads(tmp_path):
    import json

    file = tmp_path / "paths.csv.gz"
    res = invoke("run", TV_SEARCH, "-n", 5_000, "--journeys", 3_000, "--paths", file, "-q")
    assert res.exit_code == 0, res.output
    doc = json.loads(invoke("attribute", file, "--method", "last", "--format", "json").output)
    traced = jsim.simulate(compile_scenario(load_scenario(TV_SEARCH), customers=5_000), seed=0, journeys=3_000)
    jp = journey_paths(traced.journeys)
    assert doc["total_conversions"] == jp.conversions - jp.converted_without_touch
    bad = invoke("run", TV_SEARCH, "-n", 5_000, "--paths", tmp_path / "x.csv", "-q")
    assert bad.exit_code == 2 and "--journeys" in bad.output and not (tmp_path / "x.csv").exists()
