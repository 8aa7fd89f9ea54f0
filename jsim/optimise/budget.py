"""Budget advice: is the total right, what is the best total, and how does the user's own plan score.

A split can be optimal for its total while the total itself is wrong: when the last unit spent
returns less than it costs, every split of that total wastes money. A :class:`BudgetRule` states
when one more unit of spend pays, as a *net value* in currency whose marginal is 0 at the
threshold:

- ``break-even`` (objectives ``profit`` and ``clv``, which already subtract the spend): the net
  value is the objective; the last unit pays while it returns >= 0 of it.
- ``target-cac X`` (objective ``conversions``): spending more pays while one extra new customer
  costs at most ``X``; net value ``X * new customers - total``.
- ``target-roas X`` (objective ``revenue``): spending more pays while one more unit of spend brings
  at least ``X`` of revenue; net value ``revenue - X * total``.

:func:`advise` compares the marginal returns at the optimum (:func:`~jsim.optimise.explain.explain_allocation`)
with the rule. :func:`search_total` finds the best total in a range: a grid of totals, the split
re-optimised at each (warm-started from its neighbour), then a bounded Brent refinement around the
best grid point (the curve of the net value against the total need not be concave with S-shaped
Hill curves, so the grid comes first). The break-even total is where the marginal net value of the
total crosses 0. :func:`parse_plan` and :func:`read_plan` read a split the user chose.
"""

from __future__ import annotations

__all__ = [
    "BudgetRule",
    "budget_rule",
    "BudgetAdvice",
    "advise",
    "TotalPoint",
    "TotalSearch",
    "search_total",
    "parse_budget_range",
    "range_bounds",
    "parse_plan",
    "read_plan",
    "plan_allocation",
    "settle_budget",
]

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ScenarioError, ScenarioIssue
from ..scenario.limits import MAX_MONEY
from .objectives import _did_you_mean, parse_bounds

#: a marginal net value within this distance of 0 (currency per unit: half a cent per EUR) is "at the threshold"
TOLERANCE = 0.005


def _issue(where: str, message: str, fix: str) -> ScenarioError:
    return ScenarioError(ScenarioIssue(where, message, fix))


@dataclass(frozen=True)
class BudgetRule:
    """When one more unit of spend pays (see the module docstring).

    Attributes
    ----------
    kind : {"break-even", "target-cac", "target-roas"}
    metric : str
        The objective it goes with (``profit``, ``clv``, ``conversions``, ``revenue``).
    target : float or None
        ``X`` of a target CAC or ROAS.
    currency : str
    """

    kind: str
    metric: str
    target: float | None
    currency: str = "EUR"

    def net(self, metrics: dict, total: float):
        """Net value in currency of an allocation of ``total`` with per-replication ``metrics`` (arrays or means)."""
        if self.kind == "target-cac":
            return self.target * np.asarray(metrics["new_customers"], dtype=np.float64) - total
        if self.kind == "target-roas":
            return np.asarray(metrics["revenue"], dtype=np.float64) - self.target * total
        return np.asarray(metrics["clv" if self.metric == "clv" else "net_profit"], dtype=np.float64)

    def net_marginal(self, row) -> float | None:
        """Marginal net value per unit of spend of one :class:`~jsim.optimise.explain.MarginalRow` (>= 0: it pays)."""
        if self.kind == "target-cac":
            m = row.marginal_conversions
            return None if m is None else self.target * m - 1.0
        if self.kind == "target-roas":
            m = row.marginal_revenue
            return None if m is None else m - self.target
        m = row.marginal if self.metric == "clv" else row.marginal_profit
        return None if m is None or not math.isfinite(m) else m

    @property
    def threshold_text(self) -> str:
        if self.kind == "target-cac":
            return f"target CAC {self.target:,.4g} {self.currency}"
        if self.kind == "target-roas":
            return f"target ROAS {self.target:,.4g}"
        return "break-even 0"

    def phrase(self, row) -> str:
        """What one more unit of spend on ``row``'s touchpoint brings, in the rule's terms."""
        cur = self.currency
        if self.kind == "target-cac":
            cpc = row.cost_per_conversion
            return "buys no extra new customer" if cpc is None else f"buys new customers at {cpc:,.2f} {cur} each"
        if self.kind == "target-roas":
            return f"returns {row.marginal_revenue:,.2f} {cur} of revenue"
        what = "customer lifetime value net of cost" if self.metric == "clv" else "profit"
        return f"returns {self.net_marginal(row):+,.2f} {cur} of {what}"

    def total_phrase(self, net_marginal: float) -> str:
        """What one more unit of the total brings, from the marginal net value of the total."""
        cur = self.currency
        if self.kind == "target-cac":
            per = net_marginal + 1.0  # = target * extra new customers per unit
            return (
                "buys no extra new customer"
                if per <= 0
                else f"buys new customers at {self.target / per:,.2f} {cur} each"
            )
        if self.kind == "target-roas":
            return f"returns {net_marginal + self.target:,.2f} {cur} of revenue"
        what = "customer lifetime value net of cost" if self.metric == "clv" else "profit"
        return f"returns {net_marginal:+,.2f} {cur} of {what}"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "metric": self.metric, "target": self.target, "currency": self.currency}


def budget_rule(
    objective,
    target_cac: float | None = None,
    target_roas: float | None = None,
    where: tuple[str, str] = ("target_cac", "target_roas"),
) -> BudgetRule | None:
    """The :class:`BudgetRule` of ``objective``: a target when given, break-even for ``profit``/``clv``, else None.

    ``where`` names the two targets in the caller's terms (parameters, or flags).

    Raises
    ------
    ScenarioError
        Both targets, a target that is not a finite number > 0, a target with several objectives or
        with an objective it does not measure (CAC goes with ``conversions``, ROAS with ``revenue``).
    """
    currency = objective.scenario.economics.currency
    metrics = list(objective.metrics)
    if target_cac is not None and target_roas is not None:
        raise _issue(
            where[0], f"give one target, got {where[0]}={target_cac:g} and {where[1]}={target_roas:g}", "drop one"
        )
    for value, name, metric in ((target_cac, where[0], "conversions"), (target_roas, where[1], "revenue")):
        if value is None:
            continue
        if not (math.isfinite(value) and 0 < value <= MAX_MONEY):
            raise _issue(name, f"must be a finite number > 0 and <= {MAX_MONEY:g}, got {value!r}", "e.g. 40")
        if metrics != [metric]:
            raise _issue(
                name,
                f"applies to the one objective {metric!r} (it is measured on it), got objectives {metrics}",
                f"optimise {metric!r} alone, or drop {name}",
            )
        kind = "target-cac" if metric == "conversions" else "target-roas"
        return BudgetRule(kind, metric, float(value), currency)
    if len(metrics) == 1 and metrics[0] in ("profit", "clv"):
        return BudgetRule("break-even", metrics[0], None, currency)
    return None


@dataclass
class BudgetAdvice:
    """The marginal returns at a split against a :class:`BudgetRule`.

    ``net_marginals``: the marginal net value per unit of spend of each decision (>= 0: it pays).
    ``last``: the lowest among decisions that could give spend up (where a cut would come from);
    ``next``: the highest among decisions that could take more (where one more unit would go).
    ``verdict``: ``spend less`` when ``last < -TOLERANCE``, ``spend more`` when ``next > TOLERANCE``,
    else ``hold``. ``suggested_range``: a ``budget_range`` that holds the better totals.
    """

    rule: BudgetRule
    budget: float
    net_marginals: dict
    last: float | None
    next: float | None
    verdict: str
    message: str
    suggested_range: tuple | None = None

    def as_dict(self) -> dict:
        return {
            "rule": self.rule.as_dict(),
            "budget": self.budget,
            "net_marginals": self.net_marginals,
            "last": self.last,
            "next": self.next,
            "verdict": self.verdict,
            "message": self.message,
            "suggested_range": list(self.suggested_range) if self.suggested_range else None,
        }


def _where_phrase(rule: BudgetRule, rows: list, value_of) -> str:
    """``"on every touchpoint that has spend"`` when the rows agree (an interior optimum), else their names."""
    values = [value_of(r) for r in rows]
    if len(rows) > 1 and max(values) - min(values) <= 0.01 * max(abs(v) for v in values) + TOLERANCE / 10:
        return f"{rule.phrase(rows[0])} on every touchpoint it goes to"
    worst = rows[int(np.argmin(values))]
    return f"{rule.phrase(worst)} on {worst.name}"


def advise(explanation, rule: BudgetRule, budget: float) -> BudgetAdvice:
    """Whether the total ``budget`` should shrink or grow, from the marginal returns of ``explanation``."""
    rows = [r for r in explanation.marginals if rule.net_marginal(r) is not None]
    nets = {r.name: rule.net_marginal(r) for r in explanation.marginals}
    givers = [r for r in rows if r.spend > r.low + 1e-9 * budget]
    takers = [r for r in rows if r.spend < r.high - 1e-9 * budget]
    last = min((nets[r.name] for r in givers), default=None)
    nxt = max((nets[r.name] for r in takers), default=None)
    cur = rule.currency
    if last is not None and last < -TOLERANCE:
        where = _where_phrase(rule, givers, lambda r: nets[r.name])
        low = max(budget / 10, 1.0)
        return BudgetAdvice(
            rule,
            budget,
            nets,
            last,
            nxt,
            "spend less",
            f"the last {cur} spent {where} ({rule.threshold_text}): spend less than {budget:,.0f} {cur}",
            (low, budget),
        )
    if nxt is not None and nxt > TOLERANCE:
        best = max(takers, key=lambda r: nets[r.name])
        return BudgetAdvice(
            rule,
            budget,
            nets,
            last,
            nxt,
            "spend more",
            f"the next {cur} spent {rule.phrase(best)} on {best.name} ({rule.threshold_text}): spending more "
            f"than {budget:,.0f} {cur} pays",
            (budget, min(3 * budget, MAX_MONEY)),
        )
    return BudgetAdvice(
        rule,
        budget,
        nets,
        last,
        nxt,
        "hold",
        f"the last {cur} spent is at the threshold ({rule.threshold_text}): "
        f"{budget:,.0f} {cur} is about the right total",
    )


# ---------------------------------------------------------------------------------------------- best total


@dataclass(frozen=True)
class TotalPoint:
    """The best split found at one total: objective ``value``, ``net`` value of the rule, and
    ``net_marginal``, the marginal net value of the total (per unit, by scaling the split)."""

    total: float
    allocation: dict
    value: float
    net: float
    net_marginal: float

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "allocation": self.allocation,
            "value": self.value,
            "net": self.net,
            "net_marginal": self.net_marginal,
        }


@dataclass
class TotalSearch:
    """The answer of :func:`search_total`.

    ``points`` sorted by total (grid, refinement, and the budget's own split when given);
    ``best`` the one with the highest net value; ``break_even`` the total where the marginal net
    value of the total falls through 0 nearest ``best`` (None when it does not in the range);
    ``crossings`` every crossing as ``(total, "down" | "up")``; ``vs_budget`` the paired
    difference of the net value at ``best`` over the net value at ``budget``
    (:class:`jsim.metrics.Difference`, on the objective's replications).
    """

    rule: BudgetRule
    low: float
    high: float
    budget: float | None
    points: list
    best: TotalPoint
    break_even: float | None
    crossings: list
    vs_budget: object = None
    n_evaluations: int = 0
    seconds: float = 0.0
    at_budget: TotalPoint | None = field(default=None)

    @property
    def beyond(self) -> str | None:
        """``"below"`` when the best total is ``low`` and less would still pay, ``"above"`` when it is
        ``high`` and more would still pay: the best total lies outside the range. Else None."""
        if self.best.total <= self.low and self.best.net_marginal < -TOLERANCE:
            return "below"
        if self.best.total >= self.high and self.best.net_marginal > TOLERANCE:
            return "above"
        return None

    def as_dict(self) -> dict:
        return {
            "rule": self.rule.as_dict(),
            "range": [self.low, self.high],
            "budget": self.budget,
            "best_total": self.best.total,
            "best": self.best.as_dict(),
            "at_budget": None if self.at_budget is None else self.at_budget.as_dict(),
            "break_even_total": self.break_even,
            "best_beyond_range": self.beyond,
            "crossings": [{"total": t, "direction": d} for t, d in self.crossings],
            "best_vs_budget": None if self.vs_budget is None else self.vs_budget.as_dict(),
            "points": [p.as_dict() for p in self.points],
            "n_evaluations": self.n_evaluations,
            "seconds": self.seconds,
        }


def _scaled(allocation: dict, total: float, names) -> dict:
    s = sum(max(float(allocation.get(n, 0.0)), 0.0) for n in names)
    if s <= 0:
        return {n: total / len(names) for n in names}
    return {n: max(float(allocation.get(n, 0.0)), 0.0) * total / s for n in names}


def _point(objective, rule: BudgetRule, total: float, allocation: dict, value: float, h: float = 0.005) -> TotalPoint:
    """A :class:`TotalPoint`; the marginal by scaling the split by ``1 +- h`` (the envelope theorem: at an
    optimum with its spending touchpoints interior, any direction that adds spend gives the same slope)."""

    def net(alloc, t):
        return float(np.mean(rule.net(objective.evaluate(alloc).metrics, t)))

    up = {k: v * (1 + h) for k, v in allocation.items()}
    down = {k: v * (1 - h) for k, v in allocation.items()}
    slope = (net(up, total * (1 + h)) - net(down, total * (1 - h))) / (2 * h * total)
    return TotalPoint(float(total), dict(allocation), float(value), net(allocation, total), float(slope))


def search_total(
    objective,
    rule: BudgetRule,
    low: float,
    high: float,
    *,
    bounds: dict | None = None,
    budget: float | None = None,
    at_budget: dict | None = None,
    n_grid: int = 9,
    n_trials: int = 10,
    refine: int = 10,
    seed: int = 0,
) -> TotalSearch:
    """The best total budget in ``[low, high]`` under ``rule``, each total with its own optimised split.

    Parameters
    ----------
    objective : ScenarioObjective
        One objective, no constraints.
    rule : BudgetRule
    low, high : float
        The range of totals, ``0 < low < high``.
    bounds : dict of str to (float, float), optional
        Per-decision ``(min, max)`` (a max above a total is capped at it); feasible over the range
        (:func:`range_bounds`).
    budget, at_budget : optional
        The budget of the main study and its best split: a point of the curve (not re-optimised),
        the start of the first split, and the reference of ``vs_budget``.
    n_grid : int
        Totals of the grid, evenly spaced from ``low`` to ``high``.
    n_trials : int
        Trials of the global search at each total of the grid (warm-started from the neighbouring
        total's split, the budget's split and the equal split), then the SLSQP polish of
        :func:`~jsim.optimise.optimise_allocation`.
    refine : int
        At most this many bounded Brent steps around the best grid point (0: none); each step
        polishes the split of the nearest solved total (:func:`~jsim.optimise.core.polish_allocation`).
    seed : int
    """
    from scipy.optimize import minimize_scalar

    from ..metrics import paired_difference
    from .core import optimise_allocation, polish_allocation

    if len(objective.metrics) != 1 or objective.constraints:
        raise _issue(
            "budget_range",
            f"searches the total for one objective without constraints, got objectives {list(objective.metrics)} "
            f"and constraints {[c.text for c in objective.constraints]}",
            "optimise one objective, without constraints",
        )
    started = time.perf_counter()
    calls_before = objective.n_simulations
    names = list(objective.names)
    points: dict[float, TotalPoint] = {}
    reference = dict(at_budget) if at_budget else None

    def solve(total: float, warm: dict | None, local: bool = False) -> TotalPoint:
        total = float(total)
        if total in points:
            return points[total]
        starts = [_scaled(s, total, names) for s in (warm, reference) if s]
        if local:  # a refinement step between two solved totals: the neighbour's basin
            alloc, value, _ = polish_allocation(objective, total, starts[:1], bounds=bounds, names=names)
        else:
            starts.append({n: total / len(names) for n in names})
            res = optimise_allocation(
                objective,
                total,
                bounds=bounds,
                names=names,
                n_trials=n_trials,
                seed=seed,
                directions=list(objective.directions),
                initial=starts,
            )
            alloc, value = res.allocation, res.value
        points[total] = _point(objective, rule, total, dict(alloc), float(value))
        return points[total]

    def nearest(total: float) -> dict | None:
        if not points:
            return reference
        return points[min(points, key=lambda t: abs(t - total))].allocation

    own = None
    if budget is not None and at_budget:
        own = _point(objective, rule, float(budget), dict(at_budget), float(objective.evaluate(at_budget).values[0]))
    grid = np.linspace(low, high, n_grid)
    for total in grid:
        solve(total, nearest(total))
    if own is not None and low <= own.total <= high:
        points.setdefault(own.total, own)
    if refine > 0:
        ordered = sorted(points)
        i = int(np.argmax([points[t].net for t in ordered]))
        lo_t, hi_t = ordered[max(i - 1, 0)], ordered[min(i + 1, len(ordered) - 1)]
        if hi_t > lo_t:
            minimize_scalar(
                lambda t: -solve(t, nearest(t), local=True).net,
                bounds=(lo_t, hi_t),
                method="bounded",
                options={"maxiter": refine, "xatol": 1e-3 * (high - low)},
            )
    ordered = [points[t] for t in sorted(points)]
    best = max(ordered, key=lambda p: p.net)
    crossings = []
    for a, b in zip(ordered, ordered[1:]):
        if (a.net_marginal > 0) != (b.net_marginal > 0):
            t = a.total + (b.total - a.total) * a.net_marginal / (a.net_marginal - b.net_marginal)
            crossings.append((float(t), "down" if a.net_marginal > 0 else "up"))
    downs = [t for t, d in crossings if d == "down"]
    break_even = min(downs, key=lambda t: abs(t - best.total)) if downs else None
    vs_budget = None
    if own is not None:
        net_best = rule.net(objective.evaluate(best.allocation).metrics, best.total)
        net_own = rule.net(objective.evaluate(own.allocation).metrics, own.total)
        vs_budget = paired_difference(net_best, net_own, deterministic=objective.engine == "mean-field")
    return TotalSearch(
        rule,
        float(low),
        float(high),
        None if budget is None else float(budget),
        ordered,
        best,
        break_even,
        crossings,
        vs_budget,
        objective.n_simulations - calls_before,
        time.perf_counter() - started,
        own,
    )


# ---------------------------------------------------------------------------------------------- inputs


def parse_budget_range(text: str, where: str = "budget_range") -> tuple[float, float]:
    """``"5000:50000"`` -> ``(5000.0, 50000.0)``; ScenarioError unless ``0 < MIN < MAX <= MAX_MONEY``, both finite."""
    example = "e.g. 5000:50000"
    parts = str(text).split(":")
    if len(parts) != 2:
        raise _issue(where, f"must read MIN:MAX, got {text!r}", example)
    try:
        low, high = (float(p.strip().replace(",", "")) for p in parts)
    except ValueError:
        raise _issue(where, f"MIN and MAX must be numbers, got {text!r}", example) from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise _issue(where, f"MIN and MAX must be finite numbers, got {text!r}", example)
    if not 0 < low < high:
        raise _issue(where, f"0 < MIN < MAX must hold, but got MIN={low:g}, MAX={high:g}", example)
    if high > MAX_MONEY:
        raise _issue(
            where,
            f"MAX must be <= {MAX_MONEY:g} (the largest amount of money jsim accepts), got {high:g}",
            f"e.g. {low:g}:{MAX_MONEY:g}",
        )
    return low, high


def range_bounds(
    items, names, budget: float, budget_range: tuple | None, where: str = "bounds", range_where: str = "budget_range"
) -> dict:
    """:func:`~jsim.optimise.objectives.parse_bounds` checked at ``budget`` and at both ends of ``budget_range``.

    The bounds are feasible at every total of the range when they are at its ends; a MAX left out
    is the largest total (each total caps it at itself).
    """
    if budget_range is None:
        return parse_bounds(items, names, budget, where=where)
    low, high = budget_range
    bounds = parse_bounds(items, names, max(budget, high), where=where)  # checks sum of maximums >= the top
    lo_sum = sum(lo for lo, _ in bounds.values())
    if lo_sum > low * (1 + 1e-9):
        raise _issue(
            where,
            f"sum of minimums <= MIN of {range_where} must hold, but got {lo_sum:g} > {low:g}",
            "lower some minimums, or raise MIN",
        )
    if budget < max(budget, high):
        parse_bounds(items, names, budget, where=where)
    return bounds


def _check_spend(where: str, name: str, raw, names) -> float:
    if name not in names:
        raise _issue(
            where,
            f"touchpoint must be one of the optimised touchpoints {list(names)}, got {name!r}",
            f"{_did_you_mean(name, names)}check the name",
        )
    try:
        if isinstance(raw, bool):
            raise TypeError
        spend = float(raw.replace(",", "").replace("_", "") if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        raise _issue(where, f"the spend of {name!r} must be a number, got {raw!r}", f"e.g. {name}=20000") from None
    if not (math.isfinite(spend) and 0 <= spend <= MAX_MONEY):
        raise _issue(
            where,
            f"the spend of {name!r} must be a finite number >= 0 and <= {MAX_MONEY:g}, got {raw!r}",
            f"e.g. {name}=20000",
        )
    return spend


def _plan_names(objective) -> list[str]:
    """Names a plan may use: the decisions, and with weekly decisions the touchpoints too."""
    return list(dict.fromkeys([*objective.names, *(objective.touchpoints if objective.weekly else ())]))


def parse_plan(text: str, objective, where: str = "plan") -> dict[str, float]:
    """``"search=20000,tv=5000"`` -> ``{"search": 20000.0, "tv": 5000.0}`` for ``objective``'s touchpoints.

    Touchpoints not named spend 0 (:func:`plan_allocation`); ScenarioError for an unknown
    touchpoint (with "did you mean"), one named twice, or a spend that is not a finite number >= 0.
    """
    names = _plan_names(objective)
    out: dict[str, float] = {}
    items = [i for i in str(text).split(",") if i.strip()]
    if not items:
        raise _issue(where, f"must read TOUCHPOINT=SPEND,..., got {text!r}", f"e.g. {names[0]}=20000")
    for item in items:
        if "=" not in item:
            raise _issue(
                where, f"must read TOUCHPOINT=SPEND,..., got {item.strip()!r} in {text!r}", "e.g. search=20000"
            )
        name, raw = (s.strip() for s in item.split("=", 1))
        if name in out:
            raise _issue(where, f"names each touchpoint once, got {name!r} twice", "keep one")
        out[name] = _check_spend(where, name, raw, names)
    return out


def read_plan(path, objective, where: str = "plan_file") -> dict[str, float]:
    """A plan from a JSON file: an object ``{touchpoint: spend}``, or the ``allocation`` of jsim's allocation.json."""
    path = Path(path)
    fix = 'write {"search": 20000, "tv": 5000}, or pass an allocation.json jsim wrote'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _issue(where, f"file not found: {str(path)!r}", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _issue(where, f"cannot read {str(path)!r}: {exc}", "check the file") from None
    except json.JSONDecodeError as exc:
        raise _issue(where, f"{str(path)!r} is not valid JSON: {exc}", fix) from None
    if isinstance(data, dict) and isinstance(data.get("allocation"), dict):
        data = data["allocation"]
    if not isinstance(data, dict) or not data:
        raise _issue(where, f"{str(path)!r} must hold a JSON object of spends, got {type(data).__name__}", fix)
    names = _plan_names(objective)
    return {str(k): _check_spend(f"{where} ({path.name})", str(k), v, names) for k, v in data.items()}


def plan_allocation(plan: dict, objective) -> dict[str, float]:
    """A plan as an allocation over ``objective.names``: touchpoints not named spend 0; with weekly
    decisions, a touchpoint's spend is spread over its weeks in proportion to their days."""
    out = {n: 0.0 for n in objective.names}
    for name, spend in plan.items():
        if name in out:
            out[name] += spend
            continue
        weeks = objective._weeks(name)
        days = sum(len(w) for w in weeks)
        for k, w in enumerate(weeks):
            out[f"{name}@w{k + 1}"] += spend * len(w) / days
    return out


def settle_budget(objective, budget: float | None, plan: dict | None, budget_range: tuple | None, where: str = "plan"):
    """``objective`` with its budget: ``budget`` when given, else the plan's total, else the scenario's
    current spend on the optimised touchpoints brought into ``budget_range``."""
    if budget is not None:
        return objective.with_budget(budget)
    if plan is not None:
        total = float(sum(plan.values()))
        if total <= 0:
            raise _issue(where, "spends 0 in total, so it cannot set the budget", "give the budget")
        return objective.with_budget(total)
    if budget_range is not None:
        return objective.with_budget(min(max(objective.current_total(), budget_range[0]), budget_range[1]))
    raise _issue("budget", "is needed (or a budget range or a plan to take it from)", "e.g. 50000")
