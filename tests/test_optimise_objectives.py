"""Scenario objectives: budgets replaced exactly, common random numbers, constraints, explanations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import jsim
from jsim.errors import OptimiseError, ScenarioError
from jsim.optimise.explain import compare_allocations, explain_allocation, response_curves
from jsim.optimise.objectives import ScenarioObjective, parse_bounds, parse_constraint, parse_metric
from jsim.optimise.study import optimise_scenario
from jsim.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]

TWO_CHANNELS = {
    "name": "two_channels",
    "stages": [
        {"name": "unaware"},
        {"name": "interested"},
        {"name": "customer", "converted": True, "purchase": True, "retained": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [
        {"from": "unaware", "to": "interested", "p": 0.002},
        {"from": "interested", "to": "customer", "p": 0.02},
        {"from": "interested", "to": "lost", "p": 0.02},
        {"from": "customer", "to": "lost", "p": 0.01},
    ],
    "touchpoints": [
        {
            "name": "search",
            "spend": 20.0,
            "response": {"kind": "hill", "ec": 30.0, "slope": 1.0, "max_reach": 0.2},
            "effects": [{"from": "unaware", "to": "interested", "p": 0.3}],
        },
        {
            "name": "social",
            "spend": 10.0,
            "start_day": 5,
            "end_day": 24,
            "response": {"kind": "hill", "ec": 15.0, "slope": 2.0, "max_reach": 0.3},
            "adstock": {"alpha": 0.5},
            "effects": [{"from": "interested", "to": "customer", "p": 0.2}],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.1,
            "targets": ["interested"],
            "effects": [{"from": "interested", "to": "customer", "p": 0.05}],
        },
    ],
    "population": {"customers": 3000, "days": 30},
    "economics": {"revenue_per_purchase": 10.0, "margin": 0.5},
}


@pytest.fixture(scope="module")
def two_channels():
    return parse_scenario(TWO_CHANNELS)


def teaching_two_paid():
    """scenarios/teaching.toml with a second paid touchpoint, so there is a split to choose.

    The bundled file has one paid touchpoint (flyers; the newsletter has a fixed reach), so a
    budget over it alone has nothing to decide.
    """
    from jsim.scenario.models import Touchpoint

    sc = load_scenario(ROOT / "scenarios" / "teaching.toml")
    posters = Touchpoint.model_validate(
        {
            "name": "posters",
            "kind": "paid",
            "spend": 10.0,
            "response": {"kind": "hill", "ec": 15.0, "slope": 2.0, "max_reach": 0.2},
            "engagement": 0.5,
            "targets": ["interested"],
            "effects": [{"from": "interested", "to": "customer", "p": 0.2}],
        }
    )
    return sc.model_copy(update={"touchpoints": [*sc.touchpoints, posters]})


# ---------------------------------------------------------------------------------------- budget


@pytest.mark.parametrize(
    "alloc", [{"search": 600.0, "social": 300.0}, {"search": 0.0, "social": 900.0}, {"search": 123.4, "social": 776.6}]
)
def test_allocation_replaces_budgets_exactly(two_channels, alloc):
    obj = ScenarioObjective(two_channels, 900.0)
    assert obj.names == ("search", "social")  # email has a fixed reach: nothing to allocate
    model = obj.model_for(alloc)
    for name, total in alloc.items():
        j = model.touchpoint_index[name]
        assert model.spend[:, j].sum() == pytest.approx(total, rel=1e-12, abs=1e-9)
    social = model.spend[:, model.touchpoint_index["social"]]
    assert (social[1:5] == 0).all() and (social[25:] == 0).all()  # the flight is kept
    ev = obj.evaluate(alloc)
    assert ev.metrics["cost"][0] == pytest.approx(sum(alloc.values()), rel=1e-9)  # no cost per exposure here


def test_weekly_decisions_sum_to_the_budget(two_channels):
    obj = ScenarioObjective(two_channels, 900.0, weekly=True)
    assert obj.names[:5] == ("search@w1", "search@w2", "search@w3", "search@w4", "search@w5")
    assert sum(n.startswith("social@") for n in obj.names) == 3  # days 5..24: 20 days, three weeks
    rng = np.random.default_rng(1)
    shares = rng.dirichlet(np.ones(len(obj.names)))
    alloc = dict(zip(obj.names, 900.0 * shares))
    model = obj.model_for(alloc)
    assert model.spend.sum() == pytest.approx(900.0, rel=1e-12)
    search = model.spend[:, model.touchpoint_index["search"]]
    assert search[8:15].sum() == pytest.approx(alloc["search@w2"], rel=1e-12)
    assert obj.totals(alloc)["social"] == pytest.approx(sum(v for k, v in alloc.items() if k.startswith("social")))


@pytest.mark.parametrize("weekly", [False, True], ids=["per touchpoint", "weekly"])
def test_spend_override_is_the_recompiled_scenario(two_channels, weekly):
    """model_for changes spend on the compiled model; compiling the edited scenario gives the same arrays."""
    from jsim.model import compile_scenario

    sc = parse_scenario(
        {
            **TWO_CHANNELS,
            "events": [
                {"kind": "flight", "touchpoint": "search", "spend_multiplier": 1.7, "start": 3, "end": 9},
                {"kind": "shock", "touchpoint": "social", "reach_multiplier": 0.0, "start": 12, "end": 13},
            ],
        }
    )
    obj = ScenarioObjective(sc, 900.0, weekly=weekly)
    rng = np.random.default_rng(2)
    alloc = dict(zip(obj.names, 900.0 * rng.dirichlet(np.ones(len(obj.names)))))
    fast, slow = obj.model_for(alloc), compile_scenario(obj.scenario_for(alloc))
    assert fast.spend_overridden and not slow.spend_overridden
    for name in ("spend", "delivery", "fatigue", "exposure_effect"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-13, atol=1e-15, err_msg=name)
    for name in ("p0", "q", "target", "initial"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
    a = jsim.simulate(fast, engine="mean-field")
    b = jsim.simulate(slow, engine="mean-field")
    np.testing.assert_allclose(a.occupancy, b.occupancy, rtol=1e-12)


def test_with_spend_checks_its_input(two_channels):
    from jsim.model import compile_scenario

    model = compile_scenario(two_channels)
    with pytest.raises(ValueError, match="shape"):
        model.with_spend(np.zeros((3, 3)))
    bad = np.array(model.spend)
    bad[4, 0] = -1.0
    with pytest.raises(ValueError, match=">= 0"):
        model.with_spend(bad)
    bad[4, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.with_spend(bad)


def test_current_and_equal_splits(two_channels):
    obj = ScenarioObjective(two_channels, 900.0)
    # the scenario spends 20/day x 30 days on search and 10/day x 20 days on social: 600 : 200
    assert obj.current_total() == pytest.approx(800.0)
    assert obj.current_allocation() == pytest.approx({"search": 675.0, "social": 225.0})
    assert obj.equal_allocation() == {"search": 450.0, "social": 450.0}


BAD_LIBRARY_CALLS = {  # what the library is given -> its message, which names the parameter (no flag)
    "metric": (lambda sc: ScenarioObjective(sc, 900.0, metric="conversoins"), r"^metric: .*did you mean 'conversions'"),
    "touchpoints": (
        lambda sc: ScenarioObjective(sc, 900.0, touchpoints=["search", "email"]),
        r"^touchpoints: .*'email' has a fixed reach",
    ),
    "no touchpoints": (lambda sc: ScenarioObjective(sc, 900.0, touchpoints=[]), r"^touchpoints: at least one"),
    "budget": (lambda sc: ScenarioObjective(sc, -5), r"^budget: must be a finite number > 0, got -5 \(use a positive"),
    "budget nan": (lambda sc: ScenarioObjective(sc, math.nan), r"^budget: .*got nan"),
    "budget inf": (lambda sc: ScenarioObjective(sc, math.inf), r"^budget: .*got inf"),
    "engine": (lambda sc: ScenarioObjective(sc, 900.0, engine="agent-based"), r"^engine: must be one of"),
    "reps": (
        lambda sc: ScenarioObjective(sc, 900.0, engine="fast", reps=0),
        r"^reps: must be a whole number >= 1, got 0",
    ),
    "promote": (lambda sc: ScenarioObjective(sc, 900.0, promote=0), r"^promote: must be a whole number >= 1, got 0"),
    "bounds": (
        lambda sc: parse_bounds(["search=500:100"], ["search", "social"], 900.0),
        r"^bounds: 0 <= min <= max must hold, but got min=500, max=100",
    ),
    "bounds sum": (
        lambda sc: parse_bounds(["search=600:", "social=400:"], ["search", "social"], 900.0),
        r"^bounds: sum of minimums <= budget .*change the budget",
    ),
    "constraint": (lambda sc: parse_constraint("retention = 0.6"), r"^constraints: must read METRIC>=VALUE"),
    "sampler": (
        lambda sc: optimise_scenario(ScenarioObjective(sc, 900.0, constraints=["cac<=40"]), sampler="cmaes"),
        r"^sampler: with constraints must be 'auto', 'tpe' or 'nsga2'",
    ),
    "sampler objectives": (
        lambda sc: optimise_scenario(ScenarioObjective(sc, 900.0, metric=["conversions", "cost"]), sampler="cmaes"),
        r"^sampler: 'cmaes' handles one objective, got 2",
    ),
}


@pytest.mark.parametrize("case", list(BAD_LIBRARY_CALLS))
def test_bad_inputs_name_the_parameter(two_channels, case):
    """The library names its own parameters; the command line turns them into flags (tests/test_cli_optimise.py)."""
    call, pattern = BAD_LIBRARY_CALLS[case]
    with pytest.raises(ScenarioError, match=pattern) as info:
        call(two_channels)
    assert "--" not in str(info.value)


def test_where_names_the_value_in_the_callers_words():
    with pytest.raises(
        ScenarioError, match=r"^--objective: .*\(did you mean 'conversions'\? e\.g\. --objective conversions\)$"
    ):
        parse_metric("conversoins", where="--objective")
    with pytest.raises(
        ScenarioError, match=r"^--constraint: .*e\.g\. --constraint 'retention>=0\.6' or --constraint 'cac<=40'"
    ):
        parse_constraint("retention = 0.6", where="--constraint")
    with pytest.raises(
        ScenarioError, match=r"^--bounds: must read TOUCHPOINT=MIN:MAX, got 'search' \(e\.g\. --bounds search=0:450\)"
    ):
        parse_bounds(["search"], ["search", "social"], 900.0, where="--bounds")


def test_allocations_name_every_decision_and_metrics_have_aliases(two_channels):
    with pytest.raises(OptimiseError, match="exactly the decisions"):
        ScenarioObjective(two_channels, 900.0).evaluate({"search": 900.0})
    assert parse_bounds(["social=100:"], ["search", "social"], 900.0) == {"social": (100.0, 900.0)}
    assert parse_metric("Retention") == "retained"


def test_constraints_are_optuna_values(two_channels):
    obj = ScenarioObjective(
        two_channels,
        900.0,
        metric=["conversions", "profit"],
        constraints=["retention>=0.2", "cac<=1e9", "conversion>=0.99"],
    )
    ev = obj.evaluate({"search": 600.0, "social": 300.0})
    rate = ev.metrics["retention_rate"][0]
    assert ev.constraints[0] == pytest.approx(0.2 - rate)
    assert ev.constraints[1] < 0 and ev.constraints[2] > 0
    assert not ev.feasible
    assert ev.values[1] == pytest.approx(ev.metrics["gross_profit"][0] - ev.metrics["cost"][0])
    assert obj.directions == ("maximize", "maximize")


# ---------------------------------------------------------------------------------------- noise


def test_common_random_numbers_reduce_variance_of_differences(two_channels):
    """Same seeds for both allocations vs independent seeds: the difference's variance falls.

    40 paired replications; under equal variances F = var_ind / var_crn would exceed 2 with
    probability below 2% (F(39, 39)); measured about 3.4.
    """
    obj = ScenarioObjective(two_channels, 900.0, engine="fast", reps=1)
    a, b = {"search": 600.0, "social": 300.0}, {"search": 450.0, "social": 450.0}
    crn, ind = [], []
    for i in range(40):
        va = obj.evaluate(a, seed=i).values[0]
        crn.append(va - obj.evaluate(b, seed=i).values[0])
        ind.append(va - obj.evaluate(b, seed=10_000 + i).values[0])
    var_crn, var_ind = np.var(crn, ddof=1), np.var(ind, ddof=1)
    assert var_ind / var_crn > 2.0, (var_crn, var_ind)


def test_objective_uses_the_same_seed_for_every_allocation(two_channels):
    obj = ScenarioObjective(two_channels, 900.0, engine="fast", reps=3, seed=5)
    alloc = {"search": 500.0, "social": 400.0}
    first = obj(alloc)
    fresh = ScenarioObjective(two_channels, 900.0, engine="fast", reps=3, seed=5)
    assert fresh(alloc) == first  # no hidden state: the seed alone fixes the value
    re = obj.reevaluate({"x": alloc, "y": {"search": 400.0, "social": 500.0}}, reps=6, baseline="y")
    est = re["x"]["metrics"]["conversions"]
    assert est.n == 6 and est.low < est.mean < est.high and re["x"]["seed"] != 5
    assert re["y"]["uplift"]["conversions"]["difference"].mean == 0.0


# ---------------------------------------------------------------------------------------- explanations


def test_explain_on_a_known_concave_objective():
    """f = sum w_i log(1 + x_i): at the optimum the marginal returns w_i / (1 + x_i) are equal."""
    w = {"a": 1.0, "b": 2.0, "c": 3.0}
    budget = 100.0
    lam = sum(w.values()) / (budget + len(w))  # w_i / (1 + x_i) = lam, sum x_i = budget
    opt = {k: v / lam - 1.0 for k, v in w.items()}

    def f(x):
        return sum(wi * math.log1p(x[k]) for k, wi in w.items())

    ex = explain_allocation(f, opt, budget=budget, step=1e-3)
    assert ex.active_bounds == {}
    assert ex.interior_spread < 1e-6
    for row in ex.marginals:
        assert row.marginal == pytest.approx(lam, rel=1e-6)
    assert all(s.change < 0 for s in ex.shifts)  # any 10% shift loses value at the optimum
    bounded = explain_allocation(f, {"a": 0.0, "b": 40.0, "c": 60.0}, budget=budget, bounds={"c": (0.0, 60.0)})
    assert bounded.active_bounds == {"a": "min", "c": "max"}
    assert {r.name: r.method for r in bounded.marginals} == {"a": "forward", "b": "central", "c": "backward"}
    curves = response_curves(f, opt, budget=budget, n_points=5)
    xs, ys = curves["b"]
    assert xs[0] == 0.0 and np.all(np.diff(ys) > 0)


def _grid_best(obj, n=200):
    """Stand-in optimiser for a two-way split: the best of a fine grid, then a golden-section polish."""
    B = obj.budget
    f = lambda s: obj({obj.names[0]: s, obj.names[1]: B - s})
    xs = np.linspace(0, B, n + 1)
    k = int(np.argmax([f(x) for x in xs]))
    lo, hi = xs[max(k - 1, 0)], xs[min(k + 1, n)]
    g = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = hi - g * (hi - lo), lo + g * (hi - lo)
        lo, hi = (lo, d) if f(c) >= f(d) else (c, hi)
    s = (lo + hi) / 2
    return {obj.names[0]: s, obj.names[1]: B - s}


def _optimise(obj, n_trials=120):
    try:
        from jsim.optimise import optimise_allocation
    except ImportError:
        return _grid_best(obj)
    res = optimise_allocation(obj, obj.budget, names=list(obj.names), n_trials=n_trials, seed=0)
    return dict(res.allocation)


def test_teaching_optimum_beats_current_and_equal_splits():
    obj = ScenarioObjective(teaching_two_paid(), 1500.0, metric="conversions")
    assert obj.names == ("flyers", "posters")
    best = _optimise(obj)
    assert sum(best.values()) == pytest.approx(1500.0, rel=1e-9)
    v_best = obj(best)
    assert v_best >= obj(obj.current_allocation()) - 1e-9
    assert v_best >= obj(obj.equal_allocation()) - 1e-9
    ex = explain_allocation(obj, best, budget=1500.0)
    if not ex.active_bounds:  # interior: the two marginal returns agree
        assert ex.interior_spread < 0.02
    rows = compare_allocations(obj, best, reps=4)
    assert [r["name"] for r in rows] == ["best", "current", "equal"]
    assert rows[0]["expected"]["conversions"] == pytest.approx(v_best)
    assert rows[1]["uplift_vs_current"]["conversions"]["difference"].mean == 0.0


def test_plot_data_of_a_report(two_channels, tmp_path):
    from jsim.plot.optimise import get_history_info, get_pareto_info, get_response_info

    obj = ScenarioObjective(two_channels, 900.0, metric=["conversions", "cost"])
    report = optimise_scenario(obj, n_trials=12, compare_reps=2)
    pareto = get_pareto_info(report)
    assert pareto.metrics == ("conversions", "cost") and pareto.values.shape[1] == 2 and len(pareto.front) >= 1
    history = get_history_info(report)
    assert np.all(np.diff(history.best_so_far) >= 0) and history.trials.shape == history.values.shape
    curves = get_response_info(report)
    assert curves.names == ("search", "social")
    assert curves.optimum_spend.sum() == pytest.approx(900.0) and np.isfinite(curves.marginal).all()


def test_promising_trials_get_more_replications(two_channels):
    """With the fast engine, a trial near the best so far is re-run on reps x promote replications."""
    obj = ScenarioObjective(two_channels, 900.0, engine="fast", reps=3, seed=5, promote=4)
    good, bad = {"search": 500.0, "social": 400.0}, {"search": 890.0, "social": 10.0}
    first = obj(good)  # the first trial is the best so far: promoted
    assert obj.n_promoted == 1
    assert first == obj.evaluate(good, reps=12).values[0]
    obj(bad)  # far below the best: keeps its 3 replications
    assert obj.n_promoted == 1
    # the 12 replications start with the 3 the trial had: the same seeds, extended
    three = obj.evaluate(good, reps=3).metrics["new_customers"]
    twelve = obj.evaluate(good, reps=12).metrics["new_customers"]
    np.testing.assert_array_equal(twelve[:3], three)
    off = ScenarioObjective(two_channels, 900.0, engine="fast", reps=3, seed=5, promote=1)
    assert off(good) == off.evaluate(good, reps=3).values[0] and off.n_promoted == 0


def test_constrained_scenario_is_polished_within_the_cap(two_channels):
    """Constraints reach Optuna by Trial.set_constraint (no deprecation warning) and the polish keeps them."""
    import warnings

    import optuna

    obj = ScenarioObjective(two_channels, 900.0, constraints=["cac<=1e9", "retention>=0"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", optuna.exceptions.ExperimentalWarning)
        report = optimise_scenario(obj, max_evaluations=60, compare_reps=2)
    result = report.result
    assert report.feasible and result.n_evaluations <= 60 == report.settings["max_evaluations"]
    assert result.n_polish > 0
    trials = result.study.get_trials(deepcopy=False)
    assert all(set(t.constraints) == {"0", "1"} for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
