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
