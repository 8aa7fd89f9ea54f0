"""Why an allocation is the answer: marginal returns, active bounds, the cost of a shift, comparisons.

At an interior optimum of a smooth objective under a budget, the marginal return of every
touchpoint (the derivative of the objective with respect to its spend) is the same: moving a
small amount of budget from one touchpoint to another changes nothing to first order. A
touchpoint held at a bound may have a lower (at its minimum) or higher (at its maximum)
marginal return. :func:`explain_allocation` measures these by finite differences, and the
cost of moving 10% of each touchpoint's spend to the best alternative.
:func:`compare_allocations` sets the best allocation against the scenario's current split and an
equal split on fresh seeds, with paired 95% intervals on the uplift.
"""

from __future__ import annotations

__all__ = [
    "MarginalRow",
    "ShiftRow",
    "Explanation",
    "explain_allocation",
    "compare_allocations",
    "response_curves",
    "scalar_objective",
]

import math
from dataclasses import dataclass, field

import numpy as np


def scalar_objective(objective, metric: str | None = None):
    """A function ``allocation -> float`` for one metric of a :class:`ScenarioObjective` (default its first),
    and the sign (+1 maximise, -1 minimise) that turns it into a value to maximise."""
    if not hasattr(objective, "evaluate"):
        return objective, 1.0
    i = 0 if metric is None else objective.metrics.index(metric)
    sign = 1.0 if objective.directions[i] == "maximize" else -1.0
    return (lambda alloc: objective.evaluate(alloc).values[i]), sign


@dataclass(frozen=True)
class MarginalRow:
    """One decision (touchpoint, or touchpoint-week) at the allocation.

    ``marginal`` is the change of the objective per unit of extra spend; ``method`` says which
    difference measured it (``central``, ``forward`` at a lower bound, ``backward`` at an upper
    bound); ``bound`` is ``"min"``, ``"max"`` or ``""`` (interior).

    With a :class:`~jsim.optimise.objectives.ScenarioObjective`, the same differences give the
    marginal returns in currency and in customers, whatever the objective (None for a plain callable):

    - ``marginal_profit``: net profit (gross profit - cost) per extra unit of spend; below 0 the
      last unit spent loses money (break-even is 0).
    - ``marginal_revenue``: revenue per extra unit of spend (the marginal ROAS).
    - ``marginal_conversions``: new customers per extra unit of spend.
    - ``cost_per_conversion``: ``1 / marginal_conversions``, the cost of one extra new customer;
      None where ``marginal_conversions <= 0`` (more spend buys no customer).
    - ``marginal_value``: the objective's marginal in currency per unit of spend: the marginal itself
      for ``profit``, ``clv`` (both net of the spend), ``revenue`` and ``cost``; for ``conversions``
      and ``retained``, the marginal customers times ``Explanation.value_per_customer`` (the expected
      3-year gross profit of a new customer, the figure of the ``clv`` objective), gross of the spend.
    """

    name: str
    spend: float
    share: float
    low: float
    high: float
    bound: str
    marginal: float
    method: str
    marginal_value: float | None = None
    marginal_profit: float | None = None
    marginal_revenue: float | None = None
    marginal_conversions: float | None = None
    cost_per_conversion: float | None = None


@dataclass(frozen=True)
class ShiftRow:
    """Moving ``amount`` (10% of ``source``'s spend) to ``target``, the best alternative: objective change."""

    source: str
    target: str
    amount: float
    value: float
    change: float
    relative: float


@dataclass
class Explanation:
    """Marginal returns, active bounds and the cost of a 10% shift at an allocation.

    ``value_per_customer`` (currency) turns a marginal in customers into currency (see
    :class:`MarginalRow`); None for objectives that are not counted in customers.
    """

    metric: str
    value: float
    step: float
    marginals: list = field(default_factory=list)
    shifts: list = field(default_factory=list)
    value_per_customer: float | None = None

    @property
    def active_bounds(self) -> dict[str, str]:
        return {r.name: r.bound for r in self.marginals if r.bound}

    @property
    def interior_spread(self) -> float:
        """Largest relative difference between the marginal returns of interior decisions (0 at an exact optimum)."""
        vals = [r.marginal for r in self.marginals if not r.bound]
        if len(vals) < 2:
            return 0.0
        scale = max(abs(v) for v in vals)
        return (max(vals) - min(vals)) / scale if scale > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "value": self.value,
            "step": self.step,
            "marginal_returns": [r.__dict__ for r in self.marginals],
            "active_bounds": self.active_bounds,
            "interior_spread": self.interior_spread,
            "shift_10pct": [r.__dict__ for r in self.shifts],
            "value_per_customer": _finite_or_none(self.value_per_customer),
        }


def _finite_or_none(x):
    return float(x) if x is not None and math.isfinite(x) else None


#: objectives counted in customers: their currency value is the marginal times the value of a customer
_CUSTOMER_METRICS = ("conversions", "retained")


def _currency_marginals(objective, metric: str, plus: dict, minus: dict, width: float, marginal: float) -> dict:
    """:class:`MarginalRow`'s currency fields from the two allocations a finite difference compared.

    ``objective.evaluate`` caches by allocation, so these reuse the simulations the objective's
    own marginal ran.
    """
    hi, lo = objective.evaluate(plus).metrics, objective.evaluate(minus).metrics

    def slope(col: str) -> float:
        return float(np.mean(hi[col]) - np.mean(lo[col])) / width

    conversions = slope("new_customers")
    if metric in _CUSTOMER_METRICS:
        value = marginal * objective.customer_value(minus)
    else:
        value = marginal
    return {
        "marginal_value": _finite_or_none(value),
        "marginal_profit": _finite_or_none(slope("net_profit")),
        "marginal_revenue": _finite_or_none(slope("revenue")),
        "marginal_conversions": _finite_or_none(conversions),
        "cost_per_conversion": 1.0 / conversions if conversions > 0 and math.isfinite(conversions) else None,
    }


def _bounds_of(names, bounds, budget):
    bounds = bounds or {}
    return {n: (float(bounds.get(n, (0.0, budget))[0]), float(bounds.get(n, (0.0, budget))[1])) for n in names}


def explain_allocation(
    objective,
    allocation: dict,
    *,
    budget: float | None = None,
    bounds: dict | None = None,
    metric: str | None = None,
    step: float | None = None,
    shift: float = 0.1,
    tol: float | None = None,
) -> Explanation:
    """Marginal return per decision, active bounds, and the cost of shifting ``shift`` of each decision's spend.

    Parameters
    ----------
    objective : ScenarioObjective or callable
        ``allocation -> float`` (a callable is taken as a value to maximise).
    allocation : dict of str to float
        The allocation to explain (spend over the horizon, currency).
    budget : float, optional
        Total budget; default the allocation's total.
    bounds : dict of str to (float, float), optional
        Per-decision ``(min, max)``; default ``(0, budget)``.
    metric : str, optional
        Which objective of a multi-objective :class:`ScenarioObjective` (default the first).
    step : float, optional
        Finite-difference step in currency; default 1% of the budget over the number of decisions.
    shift : float
        Share of each decision's spend moved to the best alternative (0.1 = 10%).
    tol : float, optional
        Distance to a bound that counts as "at the bound"; default 1e-6 of the budget.
    """
    f, sign = scalar_objective(objective, metric)
    names = list(allocation)
    budget = float(sum(allocation.values()) if budget is None else budget)
    b = _bounds_of(names, bounds, budget)
    step = float(step) if step is not None else 0.01 * budget / max(len(names), 1)
    tol = float(tol) if tol is not None else 1e-6 * budget
    x0 = {k: float(v) for k, v in allocation.items()}
    f0 = f(x0)
    in_currency = hasattr(objective, "evaluate")
    name = metric or (objective.metrics[0] if hasattr(objective, "metrics") else "objective")
    ex = Explanation(name, f0, step)
    if in_currency and name in _CUSTOMER_METRICS:
        ex.value_per_customer = objective.customer_value(x0)

    def moved(**delta):
        x = dict(x0)
        for k, d in delta.items():
            x[k] = max(x[k] + d, 0.0)
        return x

    for n in names:
        lo, hi = b[n]
        at = "min" if x0[n] - lo <= tol else "max" if hi - x0[n] <= tol else ""
        up, down = min(step, max(hi - x0[n], 0.0)), min(step, x0[n])
        if up > 0 and down > 0 and not at:
            plus, minus, method = moved(**{n: up}), moved(**{n: -down}), "central"
        elif up > 0 and at != "max":
            plus, minus, method = moved(**{n: up}), x0, "forward"
        elif down > 0:
            plus, minus, method = x0, moved(**{n: -down}), "backward"
        else:
            plus, minus, method = None, None, "none"
        width = (plus[n] - minus[n]) if plus is not None else 0.0
        d = (f(plus) - f(minus)) / width if width > 0 else math.nan
        extra = _currency_marginals(objective, name, plus, minus, width, d) if in_currency and width > 0 else {}
        share = x0[n] / budget if budget else math.nan
        ex.marginals.append(MarginalRow(n, x0[n], share, lo, hi, at, d, method, **extra))

    for src in names:
        amount = min(shift * x0[src], max(x0[src] - b[src][0], 0.0))
        best = None
        for dst in names:
            if dst == src:
                continue
            moved_amount = min(amount, max(b[dst][1] - x0[dst], 0.0))
            if moved_amount <= 0:
                continue
            v = f(moved(**{src: -moved_amount, dst: moved_amount}))
            if best is None or sign * v > sign * best[1]:
                best = (dst, v, moved_amount)
        if best is not None:
            change = best[1] - f0
            ex.shifts.append(ShiftRow(src, best[0], best[2], best[1], change, change / f0 if f0 else math.nan))
    return ex


def response_curves(
    objective,
    allocation: dict,
    *,
    bounds: dict | None = None,
    budget: float | None = None,
    metric: str | None = None,
    n_points: int = 25,
    span: float = 2.0,
) -> dict:
    """The objective along each decision's spend, the others held at ``allocation``.

    Returns ``{name: (spend (n,), value (n,))}`` over ``[min, min(max, span * spend or budget / n))]``
    (``min``/``max`` from ``bounds``).
    """
    f, _ = scalar_objective(objective, metric)
    names = list(allocation)
    budget = float(sum(allocation.values()) if budget is None else budget)
    b = _bounds_of(names, bounds, budget)
    out = {}
    for n in names:
        lo, hi = b[n]
        top = min(hi, max(span * allocation[n], 2.0 * budget / len(names)))
        xs = np.linspace(lo, max(top, lo), n_points)
        ys = np.array([f({**allocation, n: float(x)}) for x in xs])
        out[n] = (xs, ys)
    return out


def compare_allocations(
    objective,
    best: dict,
    *,
    reps: int = 20,
    seed: int | None = None,
    engine: str | None = None,
    extra: dict | None = None,
) -> list[dict]:
    """Best allocation vs the scenario's current split (scaled to the budget) vs an equal split, on fresh seeds.

    All allocations run on the same fresh replication seeds, so each uplift is a paired difference
    with its own 95% interval and verdict (:func:`jsim.metrics.paired_difference`). An ``extra``
    allocation named ``"plan"`` (the user's own) is also the baseline of ``uplift_vs_plan``. The
    expected value of each allocation (the deterministic model) is given next to the simulated
    estimates as a cross-check.

    Returns
    -------
    list of dict
        One row per allocation (``best``, ``current``, ``equal`` and ``extra``): ``name``,
        ``allocation``, ``totals`` (per touchpoint), ``metrics`` (Estimate per objective),
        ``expected`` (expected value per objective), ``constraints`` (Estimate per constraint),
        ``uplift_vs_current`` and ``uplift_vs_equal`` (and ``uplift_vs_plan`` with a plan).
    """
    allocations = {"best": best, "current": objective.current_allocation(), "equal": objective.equal_allocation()}
    allocations.update(extra or {})
    vs_current = objective.reevaluate(allocations, reps=reps, seed=seed, engine=engine, baseline="current")
    # the same seeds again: every simulation is a cache hit, only the baseline changes
    vs_equal = objective.reevaluate(allocations, reps=reps, seed=seed, engine=engine, baseline="equal")
    vs_plan = None
    if "plan" in allocations:
        vs_plan = objective.reevaluate(allocations, reps=reps, seed=seed, engine=engine, baseline="plan")
    rows = []
    for name, alloc in allocations.items():
        r = vs_current[name]
        expected = objective.evaluate(alloc, engine="mean-field").values
        plan_uplift = {} if vs_plan is None else {"uplift_vs_plan": vs_plan[name]["uplift"]}
        rows.append(
            {
                "name": name,
                "allocation": alloc,
                "totals": objective.totals(alloc),
                "metrics": r["metrics"],
                "expected": dict(zip(objective.metrics, expected)),
                "constraints": r["constraints"],
                "uplift_vs_current": r["uplift"],
                "uplift_vs_equal": vs_equal[name]["uplift"],
                "reps": r["reps"],
                "seed": r["seed"],
                "engine": r["engine"],
                **plan_uplift,
            }
        )
    return rows
