"""Budget optimiser against problems whose optimum is known independently.

Concave curves: the optimum is the equal-marginal-return point, found here by bisection on the
common marginal return. S-shaped curves: the global optimum is found here by brute force over a
fine grid of the simplex, refined by golden-section search along the edge it lies on.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import warnings

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from jsim.errors import OptimiseError
from jsim.optimise import AllocationResult, BudgetSpace, optimise_allocation, response_curves
from jsim.optimise.response_curves import Exponential, Hill, MichaelisMenten, ResponseModel

optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- independent optima ---------------------------------------------------------------------------


def _inverse_marginal(curve, lam: float) -> float:
    """Spend at which ``curve``'s marginal return equals ``lam`` (0 if it is below ``lam`` already at 0)."""
    if isinstance(curve, MichaelisMenten):
        return max(np.sqrt(curve.alpha * curve.lam / lam) - curve.lam, 0.0)
    if isinstance(curve, Exponential):
        return max(np.log(curve.beta * curve.lam / lam) / curve.lam, 0.0)
    raise TypeError(curve)


def equal_marginal_optimum(curves: dict, budget: float, bounds: dict | None = None) -> dict:
    """Optimum of a sum of concave curves: every touchpoint at the common marginal return ``lam``
    (clipped to its bounds); ``lam`` by bisection until the spends sum to the budget within 1e-9."""
    bounds = bounds or {}

    def spends(lam: float) -> dict:
        out = {}
        for name, curve in curves.items():
            lo, hi = bounds.get(name, (0.0, budget))
            out[name] = min(max(_inverse_marginal(curve, lam), lo), hi)
        return out

    low, high = 1e-300, 1e6
    for _ in range(3000):
        mid = np.sqrt(low * high)  # bisect in log space: lam spans many decades
        total = sum(spends(mid).values())
        if abs(total - budget) <= 1e-9 * budget:
            break
        if total > budget:
            low = mid
        else:
            high = mid
    result = spends(mid)
    assert abs(sum(result.values()) - budget) <= 1e-9 * budget
    return result


def brute_force_optimum(model: ResponseModel, budget: float, steps: int = 1200) -> tuple[np.ndarray, float]:
    """Global optimum of a 3-touchpoint model: every grid point of the simplex with spacing
    ``budget / steps``, two rounds of finer local grids, then (if the best point is on a face)
    golden-section search along that face."""
    names = model.names
    assert len(names) == 3
    i, j = np.meshgrid(np.arange(steps + 1), np.arange(steps + 1), indexing="ij")
    keep = i + j <= steps
    a = i[keep] * budget / steps
    b = j[keep] * budget / steps
    c = np.clip(budget - a - b, 0.0, None)
    curves = [model.curves[n] for n in names]
    values = curves[0](a) + curves[1](b) + curves[2](c)
    k = int(np.argmax(values))
    best = np.array([a[k], b[k], c[k]])
    # refine in the neighbourhood with a dense local grid (two rounds)
    h = budget / steps
    for _ in range(2):
        da, db = np.meshgrid(np.linspace(-h, h, 201), np.linspace(-h, h, 201), indexing="ij")
        ra, rb = best[0] + da.ravel(), best[1] + db.ravel()
        rc = budget - ra - rb
        ok = (ra >= 0) & (rb >= 0) & (rc >= 0)
        ra, rb, rc = ra[ok], rb[ok], rc[ok]
        vals = curves[0](ra) + curves[1](rb) + curves[2](rc)
        k = int(np.argmax(vals))
        best = np.array([ra[k], rb[k], rc[k]])
        h /= 100
    k = int(np.argmin(best))
    if best[k] < budget / steps:  # on a face: golden-section search over the split of the other two
        i, j = [m for m in range(3) if m != k]
        f = lambda x: curves[i](x) + curves[j](budget - x)
        lo, hi = max(best[i] - 2 * budget / steps, 0.0), min(best[i] + 2 * budget / steps, budget)
        g = (np.sqrt(5) - 1) / 2
        for _ in range(200):
            x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
            lo, hi = (x1, hi) if f(x1) < f(x2) else (lo, x2)
        best = np.zeros(3)
        best[i], best[j] = lo, budget - lo
    return best, float(model(dict(zip(names, best))))


# -- response curves ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "curve",
    [
        Hill(40.0, 3.0, 2.0),
        Hill(5.0, 1.0),
        Hill(10.0, 0.5),
        Hill(10.0, 60.0),
        MichaelisMenten(3.0, 20.0),
        Exponential(0.05, 2.0),
    ],
)
def test_marginal_matches_finite_difference(curve):
    for x in [0.5, 3.0, 9.9, 10.1, 37.0, 200.0]:
        h = 1e-6 * x
        numeric = (curve(x + h) - curve(x - h)) / (2 * h)
        assert curve.marginal(x) == pytest.approx(numeric, rel=1e-5, abs=1e-12)


def test_curves_are_safe_at_zero_and_for_steep_slopes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert response_curves.hill(0.0, 10.0, 3.0) == 0.0
        assert response_curves.hill_marginal(0.0, 10.0, 3.0) == 0.0
        assert response_curves.hill_marginal(0.0, 10.0, 1.0) == pytest.approx(0.1)
        assert response_curves.hill_marginal(0.0, 10.0, 0.5) == np.inf
        steep = response_curves.hill(np.array([0.0, 9.0, 10.0, 11.0, 1e6]), 10.0, 500.0)
        assert np.all(np.isfinite(steep)) and steep[2] == pytest.approx(0.5)
        assert steep[1] < 1e-20 and steep[3] == pytest.approx(1.0) and steep[4] == 1.0
        assert np.all(np.isfinite(response_curves.hill_marginal(np.array([1e-300, 9.0, 11.0, 1e300]), 10.0, 500.0)))
        assert response_curves.exponential(1e6, 1.0, 2.0) == 2.0
        assert response_curves.michaelis_menten(0.0, 2.0, 5.0) == 0.0
    assert response_curves.hill(10.0, ec=10.0, slope=2.0, beta=3.0) == pytest.approx(1.5)
    assert response_curves.michaelis_menten(5.0, alpha=2.0, lam=5.0) == pytest.approx(1.0)
    assert response_curves.exponential(1.0, lam=np.log(2), beta=4.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="must be >= 0"):
        response_curves.hill(-1.0, 10.0, 2.0)
    with pytest.raises(ValueError, match="ec must be > 0"):
        response_curves.hill(1.0, 0.0, 2.0)


def test_response_model_sums_curves_and_reports_marginals():
    model = ResponseModel(
        {
            "tv": Hill(40.0, 2.0, 3.0),
            "search": functools.partial(response_curves.michaelis_menten, alpha=2.0, lam=10.0),
            "email": lambda x: 0.01 * x,
        }
    )
    alloc = {"tv": 40.0, "search": 10.0, "email": 5.0}
    assert model(alloc) == pytest.approx(1.5 + 1.0 + 0.05)
    marginal = model.marginal(alloc)
    assert marginal["tv"] == pytest.approx(response_curves.hill_marginal(40.0, 40.0, 2.0, 3.0))
    assert marginal["search"] == pytest.approx(2.0 * 10.0 / 20.0**2)
    assert marginal["email"] == pytest.approx(0.01, rel=1e-6)
    with pytest.raises(KeyError, match="did you mean 'search'"):
        model({"tv": 1.0, "serch": 1.0, "email": 1.0})


# -- the budget space -----------------------------------------------------------------------------


@st.composite
def spaces(draw):
    n = draw(st.integers(1, 7))
    names = [f"t{i}" for i in range(n)]
    budget = draw(st.floats(1e-3, 1e7))
    bounds = {}
    for name in names:
        if draw(st.booleans()):
            lo = draw(st.floats(0.0, 1.0)) * budget / n
            hi = lo + draw(st.floats(0.0, 2.0)) * budget
            bounds[name] = (lo, hi)
    hi_sum = sum(bounds.get(nm, (0.0, budget))[1] for nm in names)
    if hi_sum < budget:  # keep the space feasible: widen the last bound
        lo, hi = bounds[names[-1]]
        bounds[names[-1]] = (lo, hi + budget - hi_sum)
    return BudgetSpace(names, budget, bounds)


@settings(max_examples=300, deadline=None, database=None)
@given(space=spaces(), data=st.data())
def test_suggested_allocations_sum_to_budget_and_respect_bounds(space, data):
    u = data.draw(st.lists(st.floats(0.0, 1.0), min_size=space.n - 1, max_size=space.n - 1))
    trial = optuna.trial.FixedTrial(dict(zip(space.param_names, u)))
    alloc = space.suggest(trial)
    vec = np.array([alloc[n] for n in space.names])
    assert abs(vec.sum() - space.budget) <= 1e-9 * space.budget
    assert np.all(vec >= space.lower) and np.all(vec <= space.upper)
    assert space.contains(alloc)
    # the inverse gives back the allocation
    again = space.from_params(space.to_params(alloc))
    assert np.allclose([again[n] for n in space.names], vec, rtol=0, atol=1e-7 * space.budget)


@settings(max_examples=200, deadline=None, database=None)
@given(space=spaces(), data=st.data())
def test_projection_is_feasible_and_nearest(space, data):
    v = np.array(data.draw(st.lists(st.floats(-2.0, 2.0), min_size=space.n, max_size=space.n))) * space.budget
    p = space.project(v)
    assert space.contains(p)
    # no feasible point of the space is closer (check against random feasible points)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = space.from_unit(rng.random(space.n - 1))
        assert np.linalg.norm(v - p) <= np.linalg.norm(v - q) + 1e-9 * space.budget
    assert np.allclose(space.project(p), p, atol=1e-9 * space.budget)


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        (
            {"a": (60.0, 70.0), "b": (50.0, 60.0)},
            r"sum of minimum spends must not exceed the budget, but got sum of mins=110 > budget=100",
        ),
        (
            {"a": (0.0, 10.0), "b": (0.0, 20.0), "c": (0.0, 30.0)},
            r"sum of maximum spends must reach the budget, but got sum of maxes=60 < budget=100",
        ),
        ({"a": (30.0, 10.0)}, r"bounds\['a'\]: min <= max must hold, but got min=30.0, max=10.0"),
        ({"a": (-1.0, 10.0)}, r"bounds\['a'\]: min >= 0 must hold, but got min=-1.0"),
        ({"z": (0.0, 10.0)}, r"bounds name touchpoints that are not optimised: \['z'\]"),
    ],
)
def test_infeasible_bounds_raise_with_rule_and_values(bounds, message):
    with pytest.raises(OptimiseError, match=message):
        BudgetSpace(["a", "b", "c"], 100.0, bounds)
    with pytest.raises(OptimiseError, match=message):
        optimise_allocation(lambda a: 0.0, 100.0, bounds=bounds, names=["a", "b", "c"], n_trials=5)


def test_names_are_required_when_not_inferable():
    with pytest.raises(OptimiseError, match="names must list the touchpoints"):
        optimise_allocation(lambda a: 0.0, 100.0)


# -- known optima ---------------------------------------------------------------------------------

CONCAVE = {
    "mm3": (
        {"tv": MichaelisMenten(3.0, 20.0), "search": MichaelisMenten(2.0, 10.0), "social": MichaelisMenten(5.0, 60.0)},
        90.0,
    ),
    "exp4": (
        {
            f"e{i}": Exponential(lam, beta)
            for i, (lam, beta) in enumerate([(0.02, 3.0), (0.05, 1.5), (0.01, 4.0), (0.1, 0.8)])
        },
        250.0,
    ),
    "mixed6": (
        {
            "tv": MichaelisMenten(4.0, 40.0),
            "search": Exponential(0.04, 2.0),
            "social": MichaelisMenten(1.5, 8.0),
            "display": Exponential(0.015, 1.2),
            "email": MichaelisMenten(0.6, 3.0),  # gets nothing: its marginal at 0 is below the optimum's
            "influencer": Exponential(0.03, 1.0),
        },
        400.0,
    ),
}


@pytest.mark.parametrize("case", sorted(CONCAVE))
def test_concave_curves_reach_the_equal_marginal_return_optimum(case):
    curves, budget = CONCAVE[case]
    model = ResponseModel(curves)
    optimum = equal_marginal_optimum(curves, budget)
    best = model(optimum)
    raw = optimise_allocation(model, budget, n_trials=300, seed=1, polish=False)
    assert raw.value >= 0.9999 * best
    result = optimise_allocation(model, budget, n_trials=300, seed=1)
    assert isinstance(result, AllocationResult)
    assert abs(result.value - best) <= 1e-9 * best
    assert result.value <= best * (
        1 + 1e-9
    )  # the test's optimum (its spends sum to the budget within 1e-9) is the optimum
    assert sum(result.allocation.values()) == pytest.approx(budget, rel=1e-9)
    for name in curves:
        assert result.allocation[name] == pytest.approx(optimum[name], abs=1e-3 * budget)
    assert result.n_evaluations > 300 and len(result.history) >= 300


def test_bounds_are_respected_and_active_bounds_reported():
    curves, budget = CONCAVE["mm3"]
    bounds = {"social": (0.0, 20.0), "search": (35.0, 90.0)}  # social wants ~40, search ~26
    model = ResponseModel(curves)
    optimum = equal_marginal_optimum(curves, budget, bounds)
    result = optimise_allocation(model, budget, bounds=bounds, n_trials=300, seed=2)
    assert abs(result.value - model(optimum)) <= 1e-9 * model(optimum)
    assert result.allocation["social"] <= 20.0 and result.allocation["search"] >= 35.0
    assert result.active_bounds == {"social": "max", "search": "min"}
    for _, alloc, _ in result.history:
        assert alloc["social"] <= 20.0 and alloc["search"] >= 35.0
        assert sum(alloc.values()) == pytest.approx(budget, rel=1e-9)


def _slsqp_from_equal_split(model: ResponseModel, budget: float) -> float:
    """What a gradient method started from the equal split reaches (the trap the optimiser avoids)."""
    n = len(model.names)
    res = minimize(
        lambda z: -model(dict(zip(model.names, z))),
        np.full(n, budget / n),
        method="SLSQP",
        bounds=[(0.0, budget)] * n,
        constraints=[{"type": "eq", "fun": lambda z: z.sum() - budget}],
    )
    return -res.fun


def test_s_shaped_curves_global_optimum_drops_a_channel():
    # Steep Hill curves: three channels each below their threshold lose to two above it.
    model = ResponseModel({"a": Hill(40.0, 3.0, 1.0), "b": Hill(45.0, 3.0, 1.1), "c": Hill(38.0, 3.0, 0.95)})
    budget = 100.0
    best_vec, best = brute_force_optimum(model, budget)
    assert min(best_vec) == 0.0  # the global optimum drops a channel
    trapped = _slsqp_from_equal_split(model, budget)
    assert trapped < 0.95 * best  # a gradient method from the equal split keeps all three
    result = optimise_allocation(model, budget, n_trials=300, seed=0)
    assert result.value >= 0.999 * best
    assert result.value <= best * (1 + 1e-9)
    dropped = [n for n, v in result.allocation.items() if v < 1e-6 * budget]
    assert dropped == [model.names[int(np.argmin(best_vec))]]
    assert result.active_bounds == {dropped[0]: "min"}


def test_s_shaped_curves_global_optimum_keeps_all_channels():
    model = ResponseModel({"a": Hill(30.0, 2.5, 1.0), "b": Hill(50.0, 2.0, 1.4), "c": Hill(20.0, 3.0, 0.7)})
    budget = 240.0
    best_vec, best = brute_force_optimum(model, budget)
    assert min(best_vec) > 0.05 * budget
    result = optimise_allocation(model, budget, n_trials=300, seed=0)
    assert result.value >= 0.999 * best
    assert result.value <= best * (1 + 1e-9)
    assert min(result.allocation.values()) > 0.05 * budget
    marginal = model.marginal(result.allocation)  # interior optimum: equal marginal returns
    assert max(marginal.values()) == pytest.approx(min(marginal.values()), rel=1e-4)


@pytest.mark.parametrize("sampler", ["tpe", "random"])
def test_other_samplers_with_polish_reach_the_optimum(sampler):
    curves, budget = CONCAVE["mm3"]
    model = ResponseModel(curves)
    best = model(equal_marginal_optimum(curves, budget))
    result = optimise_allocation(model, budget, n_trials=150, seed=3, sampler=sampler)
    assert abs(result.value - best) <= 1e-9 * best


def test_minimise_direction():
    curves, budget = CONCAVE["mm3"]
    model = ResponseModel(curves)
    best = model(equal_marginal_optimum(curves, budget))
    result = optimise_allocation(lambda a: -model(a), budget, names=model.names, n_trials=200, directions=["minimize"])
    assert abs(result.value + best) <= 1e-9 * best


def test_multi_objective_returns_a_pareto_front():
    conversion = ResponseModel(
        {"tv": MichaelisMenten(3.0, 20.0), "search": MichaelisMenten(4.0, 10.0), "email": MichaelisMenten(1.0, 5.0)}
    )
    retention = ResponseModel(
        {"tv": MichaelisMenten(0.5, 20.0), "search": MichaelisMenten(0.2, 10.0), "email": MichaelisMenten(3.0, 30.0)}
    )
    result = optimise_allocation(
        lambda a: (conversion(a), retention(a)),
        100.0,
        names=["tv", "search", "email"],
        n_trials=120,
        seed=0,
        directions=["maximize", "maximize"],
    )
    assert result.pareto is not None and len(result.pareto) >= 5
    assert not result.polished
    values = np.array([v for _, v in result.pareto])
    assert np.all(np.diff(values[:, 0]) <= 0)  # sorted by the first objective, best first
    for k, (alloc, vals) in enumerate(result.pareto):
        assert sum(alloc.values()) == pytest.approx(100.0, rel=1e-9)
        assert vals == pytest.approx((conversion(alloc), retention(alloc)))
        others = np.delete(values, k, axis=0)
        assert not np.any(np.all(others >= np.array(vals), axis=1) & np.any(others > np.array(vals), axis=1))
    assert (result.allocation, result.value) in result.pareto
    with pytest.raises(OptimiseError, match="must return 2 values.*got 0.9"):
        optimise_allocation(lambda a: 0.9, 100.0, names=["a", "b"], n_trials=3, directions=["maximize", "maximize"])


def test_initial_allocations_are_evaluated_first():
    curves, budget = CONCAVE["mm3"]
    model = ResponseModel(curves)
    start = {"tv": 10.0, "search": 20.0, "social": 60.0}
    result = optimise_allocation(model, budget, n_trials=20, initial=[start], polish=False)
    assert result.history[0][0] == 0
    assert result.history[0][1] == pytest.approx(start)
    default = optimise_allocation(model, budget, n_trials=20, polish=False)
    assert default.history[0][1] == pytest.approx({n: 30.0 for n in curves})


def test_resumed_study_runs_only_the_missing_trials(tmp_path):
    curves, budget = CONCAVE["mm3"]
    model = ResponseModel(curves)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    first = optimise_allocation(model, budget, n_trials=30, storage=storage, study_name="s", polish=False)
    assert first.n_evaluations == 30
    again = optimise_allocation(model, budget, n_trials=50, storage=storage, study_name="s", polish=False)
    assert again.n_evaluations == 20 and len(again.history) == 50


_DETERMINISM_SCRIPT = """
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
from jsim.optimise import optimise_allocation
from jsim.optimise.response_curves import Hill, ResponseModel
model = ResponseModel({"a": Hill(40.0, 3.0, 1.0), "b": Hill(45.0, 3.0, 1.1), "c": Hill(38.0, 3.0, 0.95)})
r = optimise_allocation(model, 100.0, n_trials=80, seed=SEED)
print(repr((r.allocation, r.value, [h[2] for h in r.history])))
"""


def test_same_seed_same_result_in_a_fresh_process():
    runs = [
        subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT.replace("SEED", str(s))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for s in (7, 7, 8)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
