"""The optimiser spends what it is told: ``max_evaluations`` caps search and polish together.

Also: Optuna's log stays quiet unless ``verbose=True``, and constraints reach Optuna through
``Trial.set_constraint`` and the polish through SLSQP, checked against a constrained optimum
found by root finding on the constraint's boundary.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import optuna
import pytest
from scipy.optimize import brentq

from jsim.errors import OptimiseError
from jsim.optimise import optimise_allocation
from jsim.optimise.core import default_max_evaluations, polish_allocation
from jsim.optimise.response_curves import MichaelisMenten, ResponseModel


class Counting:
    """An objective that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, alloc):
        self.calls += 1
        return self.fn(alloc)


def _concave3():
    """Three Michaelis-Menten curves; the optimum is the equal-marginal-return point (bisection)."""
    curves = {"a": MichaelisMenten(3.0, 20.0), "b": MichaelisMenten(2.0, 5.0), "c": MichaelisMenten(1.0, 2.0)}
    budget = 60.0

    def spend(c, lam):
        return max(np.sqrt(c.alpha * c.lam / lam) - c.lam, 0.0)

    low, high = 1e-12, 1e3
    for _ in range(400):
        mid = np.sqrt(low * high)
        low, high = (mid, high) if sum(spend(c, mid) for c in curves.values()) > budget else (low, mid)
    model = ResponseModel(curves)
    return model, budget, model({k: spend(c, mid) for k, c in curves.items()})


@pytest.mark.parametrize("max_evaluations", [5, 40, 150, 400])
@pytest.mark.parametrize("n_trials", [None, 5])
def test_cap_is_never_exceeded(max_evaluations, n_trials):
    model, budget, _ = _concave3()
    objective = Counting(model)
    result = optimise_allocation(
        objective, budget, names=model.names, n_trials=n_trials, max_evaluations=max_evaluations, seed=1
    )
    assert objective.calls == result.n_evaluations == result.n_search + result.n_polish
    assert result.n_evaluations <= max_evaluations == result.max_evaluations
    assert sum(result.allocation.values()) == pytest.approx(budget, rel=1e-9)


def test_small_known_optimum_within_the_cap():
    model, budget, optimum = _concave3()
    objective = Counting(model)
    result = optimise_allocation(objective, budget, names=model.names, max_evaluations=300, seed=0)
    assert result.value / optimum >= 0.9999
    assert objective.calls <= 300
    assert result.n_polish > 0 and result.polished


def test_default_is_sized_from_the_touchpoints():
    model, budget, _ = _concave3()
    result = optimise_allocation(model, budget, seed=0)
    assert result.max_evaluations == default_max_evaluations(3) == 400
    assert result.n_evaluations <= 400
    # with n_trials alone: those trials plus the polish's share of the default
    assert default_max_evaluations(3, n_trials=100) == 100 + 240


def test_trials_cannot_exceed_the_cap():
    model, budget, _ = _concave3()
    with pytest.raises(OptimiseError, match="n_trials <= max_evaluations must hold"):
        optimise_allocation(model, budget, n_trials=50, max_evaluations=40)


def test_a_resumed_study_counts_its_stored_trials():
    model, budget, optimum = _concave3()
    storage = optuna.storages.InMemoryStorage()
    first = optimise_allocation(model, budget, n_trials=30, storage=storage, study_name="s", polish=False)
    assert first.n_evaluations == 30
    objective = Counting(model)
    again = optimise_allocation(
        objective, budget, names=model.names, n_trials=30, max_evaluations=120, storage=storage, study_name="s"
    )
    assert again.n_search == 0  # the 30 trials are stored
    assert 0 < objective.calls == again.n_polish <= 120 - 30
    assert again.value / optimum >= 0.999


def test_polish_allocation_respects_its_cap():
    model, budget, _ = _concave3()
    objective = Counting(model)
    _, _, calls = polish_allocation(objective, budget, [{"a": 20.0, "b": 20.0, "c": 20.0}], max_evaluations=25)
    assert objective.calls == calls <= 25


# -- quiet library --------------------------------------------------------------------------------


def _trial_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("optuna") and "Trial" in r.getMessage()]


def test_quiet_unless_verbose(caplog):
    model, budget, _ = _concave3()
    optuna.logging.enable_propagation()
    try:
        optuna.logging.set_verbosity(optuna.logging.INFO)
        caplog.set_level(logging.INFO)
        optimise_allocation(model, budget, max_evaluations=30, seed=0)
        assert _trial_lines(caplog) == []
        assert optuna.logging.get_verbosity() == optuna.logging.INFO  # restored
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optimise_allocation(model, budget, max_evaluations=30, seed=0, verbose=True)
        assert len(_trial_lines(caplog)) >= 5
        assert optuna.logging.get_verbosity() == optuna.logging.WARNING
    finally:
        optuna.logging.disable_propagation()
        optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- constraints ----------------------------------------------------------------------------------


def _cac_problem():
    """Two channels: value favours ``premium`` (few, valuable customers), customers favour ``mass``.

    Maximise value subject to ``cac = budget / customers <= target``. The unconstrained optimum
    breaks the target, so the constrained optimum lies where ``customers = budget / target`` on the
    budget line; of the two crossings, the one with the most spend on ``premium`` (root finding).
    """
    budget, target = 100.0, 3.2
    customers = {"premium": MichaelisMenten(10.0, 30.0), "mass": MichaelisMenten(40.0, 20.0)}
    worth = {"premium": 20.0, "mass": 1.0}

    def n_customers(alloc):
        return sum(c(alloc[k]) for k, c in customers.items())

    def value(alloc):
        return sum(worth[k] * c(alloc[k]) for k, c in customers.items())

    def cac_excess(alloc):
        return (budget / n_customers(alloc) - target,)

    def on_line(p):
        return {"premium": p, "mass": budget - p}

    grid = np.linspace(0.0, budget, 100_001)
    values = np.array([value(on_line(p)) for p in grid])
    free = grid[np.argmax(values)]
    assert cac_excess(on_line(free))[0] > 0, "the constraint must bind"
    p_star = brentq(lambda p: cac_excess(on_line(p))[0], 0.0, free, xtol=1e-14)
    return value, cac_excess, budget, value(on_line(p_star)), p_star


def test_known_optimum_under_a_cac_constraint():
    value, cac_excess, budget, optimum, p_star = _cac_problem()
    objective = Counting(value)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        warnings.simplefilter("error", optuna.exceptions.ExperimentalWarning)
        result = optimise_allocation(
            objective,
            budget,
            names=["premium", "mass"],
            sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10),
            constraints=cac_excess,
            max_evaluations=200,
            seed=0,
        )
    assert objective.calls == result.n_evaluations <= 200
    assert cac_excess(result.allocation)[0] <= 0
    assert result.value / optimum >= 0.999
    assert result.allocation["premium"] == pytest.approx(p_star, rel=1e-3)
    assert result.polished and result.n_polish > 0
    trials = result.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    assert all(set(t.constraints) == {"0"} for t in trials)  # Trial.set_constraint, polish trial included
    assert any(t.constraints["0"] > 0 for t in trials)  # the sampler saw infeasible trials


def test_no_feasible_trial_is_an_error():
    value, _, budget, _, _ = _cac_problem()
    with pytest.raises(ValueError, match="no feasible trial"):
        optimise_allocation(
            value, budget, names=["premium", "mass"], constraints=lambda a: (1.0,), sampler="tpe", max_evaluations=15
        )
