"""Objectives over a scenario: an allocation of budget to touchpoints → simulated metrics.

An allocation ``{touchpoint: spend over the horizon}`` replaces each touchpoint's ``budget``
(spread evenly over its flight days, ``docs/model.md``); with ``weekly=True`` the decisions are
one spend per touchpoint and week of its flight (``{"search@w3": spend}``), so adstock carries
spend over from week to week. The allocation becomes a daily spend table on the compiled
model (:meth:`jsim.model.CompiledModel.with_spend`, no recompilation), which is simulated and
scored.

Every evaluation of one objective uses the same replication seeds (common random numbers):
the difference between two allocations is then not drowned in the noise of the replications.
:meth:`ScenarioObjective.reevaluate` runs chosen allocations on fresh seeds and reports means
with 95% intervals. The expected-value engine (``mean-field``, the default) makes a fast,
deterministic objective.
"""

from __future__ import annotations

__all__ = [
    "METRICS",
    "CONSTRAINT_METRICS",
    "Constraint",
    "Evaluation",
    "ScenarioObjective",
    "parse_constraint",
    "parse_metric",
    "parse_bounds",
    "budget_touchpoints",
]

import contextlib
import copy
import difflib
import math
import re
import shlex
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import OptimiseError, ScenarioError, ScenarioIssue
from ..rng import derive_seed
from ..scenario.limits import MAX_MONEY

#: guards the evaluation counters and the cache when evaluations run side by side (``call_many``)
_LOCK = threading.Lock()

#: one local simulation at a time from the threads of ``call_many`` when numba cannot run them at once
_RUN_LOCK = threading.Lock()


@contextlib.contextmanager
def _local_runs(local: bool):
    """Around a simulation: from a thread other than the main one (``call_many``), a local run waits for the
    others unless numba's threading layer runs parallel regions from several threads at once (``omp`` and
    ``tbb`` do, ``workqueue`` aborts the process; unknown before the first parallel region: wait)."""
    if not local or threading.current_thread() is threading.main_thread():
        yield
        return
    from ..kernels import threadsafe_layer

    if threadsafe_layer():
        yield
        return
    with _RUN_LOCK:
        yield


#: objective name -> (per-replication metric it reads, direction)
METRICS = {
    "conversions": ("new_customers", "maximize"),
    "retained": ("retained", "maximize"),
    "revenue": ("revenue", "maximize"),
    "profit": ("net_profit", "maximize"),
    "clv": ("clv", "maximize"),
    "cost": ("cost", "minimize"),
}
_METRIC_ALIASES = {
    "conversion": "conversions",
    "new_customers": "conversions",
    "retention": "retained",
    "net_profit": "profit",
    "lifetime_value": "clv",
    "ltv": "clv",
    "customer_lifetime_value": "clv",
}
#: names a constraint may use -> per-replication metric
CONSTRAINT_METRICS = {
    "conversion": "conversion_rate",
    "conversion_rate": "conversion_rate",
    "conversions": "new_customers",
    "new_customers": "new_customers",
    "retention": "retention_rate",
    "retention_rate": "retention_rate",
    "retained": "retained",
    "revenue": "revenue",
    "profit": "net_profit",
    "net_profit": "net_profit",
    "gross_profit": "gross_profit",
    "cost": "cost",
    "cac": "cac",
    "roi": "roi",
    "purchases": "purchases",
    "clv": "clv",
}
ENGINES = ("mean-field", "fast", "des")


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _example(where: str, value: str) -> str:
    """An example value in the words of whoever passed it: ``--objective conversions`` when ``where``
    is a command-line flag, ``'conversions'`` when it is a parameter (the issue's location names it)."""
    return f"{where} {shlex.quote(value)}" if where.startswith("-") else repr(value)


def parse_metric(name: str, where: str = "metric") -> str:
    """Canonical objective name for ``name`` (``conversion`` → ``conversions``); ScenarioError if unknown.

    ``where`` names the value in the caller's terms (a parameter, or a flag such as ``--objective``).
    """
    key = str(name).strip().lower().replace("-", "_")
    key = _METRIC_ALIASES.get(key, key)
    if key not in METRICS:
        raise ScenarioError(
            ScenarioIssue(
                where,
                f"must be one of {sorted(METRICS)}, got {name!r}",
                f"{_did_you_mean(key, METRICS)}e.g. {_example(where, 'conversions')}",
            )
        )
    return key


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``, e.g. ``retention >= 0.6``: feasible where :meth:`value` <= 0."""

    text: str
    metric: str
    op: str
    bound: float

    def value(self, x: float) -> float:
        """Optuna's convention: <= 0 feasible. NaN metrics (no customers to divide by) are infeasible."""
        if not math.isfinite(x):
            return math.inf
        return self.bound - x if self.op == ">=" else x - self.bound


_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


def parse_constraint(text: str, where: str = "constraints") -> Constraint:
    """Parse ``"retention>=0.6"`` or ``"cac<=40"`` into a :class:`Constraint`.

    ``where`` names the value in the caller's terms (a parameter, or a flag such as ``--constraint``).
    """
    m = _CONSTRAINT_RE.match(str(text))
    if not m:
        raise ScenarioError(
            ScenarioIssue(
                where,
                f"must read METRIC>=VALUE or METRIC<=VALUE, got {text!r}",
                f"e.g. {_example(where, 'retention>=0.6')} or {_example(where, 'cac<=40')}",
            )
        )
    name, op, raw = m.group(1).lower(), m.group(2), m.group(3)
    if name not in CONSTRAINT_METRICS:
        raise ScenarioError(
            ScenarioIssue(
                where,
                f"metric must be one of {sorted(CONSTRAINT_METRICS)}, got {name!r}",
                f"{_did_you_mean(name, CONSTRAINT_METRICS)}e.g. 'retention>=0.6'",
            )
        )
    try:
        bound = float(raw)
    except ValueError:
        raise ScenarioError(
            ScenarioIssue(where, f"bound must be a number, got {raw!r} in {text!r}", "e.g. 'cac<=40'")
        ) from None
    if not math.isfinite(bound):
        raise ScenarioError(
            ScenarioIssue(where, f"bound must be a finite number, got {raw!r} in {text!r}", "e.g. 'cac<=40'")
        )
    return Constraint(f"{name}{op}{bound:g}", CONSTRAINT_METRICS[name], op, bound)


def budget_touchpoints(scenario) -> list[str]:
    """Touchpoints whose delivery follows spend (a response curve): those a budget can be moved between."""
    return [tp.name for tp in scenario.touchpoints if tp.response is not None]


def parse_bounds(items, names, budget: float, where: str = "bounds") -> dict[str, tuple[float, float]]:
    """Parse ``["search=0:5000", "tv=1000:"]`` into ``{touchpoint: (min, max)}`` (missing ends: 0 and budget).

    ``where`` names ``items`` in the caller's terms (a parameter, or a flag such as ``--bounds``).
    """
    out = {}
    for item in items or ():
        if "=" not in item or ":" not in item.split("=", 1)[1]:
            example = f"{names[0] if names else 'search'}=0:{budget / 2:g}"
            raise ScenarioError(
                ScenarioIssue(where, f"must read TOUCHPOINT=MIN:MAX, got {item!r}", f"e.g. {_example(where, example)}")
            )
        name, rng = item.split("=", 1)
        name = name.strip()
        if name not in names:
            raise ScenarioError(
                ScenarioIssue(
                    where,
                    f"touchpoint must be one of the optimised touchpoints {list(names)}, got {name!r}",
                    f"{_did_you_mean(name, names)}check the name",
                )
            )
        lo_txt, hi_txt = (s.strip() for s in rng.split(":", 1))
        try:
            lo = float(lo_txt) if lo_txt else 0.0
            hi = float(hi_txt) if hi_txt else float(budget)
        except ValueError:
            raise ScenarioError(
                ScenarioIssue(where, f"MIN and MAX must be numbers, got {item!r}", f"e.g. {name}=0:{budget / 2:g}")
            ) from None
        if not all(map(math.isfinite, (lo, hi))):
            raise ScenarioError(
                ScenarioIssue(
                    where, f"MIN and MAX must be finite numbers, got {item!r}", f"e.g. {name}=0:{budget / 2:g}"
                )
            )
        if not 0 <= lo <= hi:
            raise ScenarioError(
                ScenarioIssue(
                    where,
                    f"0 <= min <= max must hold, but got min={lo:g}, max={hi:g} for {name!r}",
                    f"e.g. {name}={min(lo, hi):g}:{max(lo, hi):g}",
                )
            )
        if hi > MAX_MONEY:
            raise ScenarioError(
                ScenarioIssue(
                    where,
                    f"MIN and MAX must be <= {MAX_MONEY:g} (the largest amount of money jsim accepts), "
                    f"got {name}={lo:g}:{hi:g}",
                    f"leave MAX out to cap {name} at the budget, e.g. {name}={min(lo, MAX_MONEY):g}:",
                )
            )
        out[name] = (lo, hi)
    lo_sum = sum(out.get(n, (0.0, budget))[0] for n in names)
    hi_sum = sum(out.get(n, (0.0, budget))[1] for n in names)
    if not lo_sum <= budget + 1e-9 * max(budget, 1) <= hi_sum + 2e-9 * max(budget, 1):
        raise ScenarioError(
            ScenarioIssue(
                where,
                f"sum of minimums <= budget <= sum of maximums must hold, but got "
                f"{lo_sum:g} <= {budget:g} <= {hi_sum:g}",
                "lower some minimums or raise some maximums, or change the budget",
            )
        )
    return out


@dataclass(frozen=True)
class Evaluation:
    """One simulated allocation.

    Attributes
    ----------
    values : tuple of float
        The objectives, in the order of ``ScenarioObjective.metrics`` (means over replications).
    metrics : dict of str to (R,) float64
        Every per-replication metric of :func:`jsim.metrics.rep_metrics`, plus ``clv``.
    constraints : tuple of float
        One value per constraint, <= 0 feasible.
    """

    values: tuple
    metrics: dict
    constraints: tuple

    @property
    def feasible(self) -> bool:
        return all(c <= 0 for c in self.constraints)


class ScenarioObjective:
    """Simulated metrics of a scenario as a function of the touchpoints' budgets.

    Parameters
    ----------
    scenario : Scenario
        A validated scenario (:func:`jsim.scenario.load_scenario`).
    budget : float
        Total spend over the horizon shared by ``touchpoints`` (currency).
    touchpoints : list of str, optional
        The touchpoints to allocate to; default every touchpoint with a response curve.
    metric : str or list of str
        ``conversions`` (new customers), ``retained``, ``revenue``, ``profit`` (gross profit −
        cost), ``clv`` (new customers × expected 3-year gross profit per customer − cost),
        ``cost`` (minimised). Several metrics make a multi-objective problem.
    engine : {"mean-field", "fast", "des"}
        ``mean-field``: exact expected values, deterministic and fast. ``fast``: the numba
        engine with ``reps`` replications on common seeds. ``des``: the SimPy discrete-event
        engine (real queues within the day; much slower), ``reps`` replications likewise.
    reps : int
        Replications per evaluation (``fast`` and ``des``).
    seed : int
        Root seed of every evaluation (the same for every allocation: common random numbers).
    constraints : list of str or Constraint, optional
        E.g. ``["retention>=0.6", "cac<=40"]``; Optuna constraint values, <= 0 feasible.
    customers, days : int, optional
        Override the scenario's population and horizon.
    weekly : bool
        One decision per touchpoint and week of its flight instead of one per touchpoint.
    promote : int
        ``fast`` and ``des`` engines, one objective: a trial whose value comes within two standard errors of
        the best so far is evaluated again on ``reps * promote`` replications of the same seed
        (the first ``reps`` are the ones it already had: common random numbers), and that more
        precise value is the one reported. 1 turns this off.

    Attributes
    ----------
    cluster : Cluster or None
        Set by :func:`jsim.optimise.study.optimise_scenario` (``cluster=``): every evaluation's
        replications run as Dask tasks (:mod:`jsim.engine.distributed`), with the same numbers.
    """

    def __init__(
        self,
        scenario,
        budget: float,
        touchpoints=None,
        metric="conversions",
        engine: str = "mean-field",
        reps: int = 1,
        seed: int = 0,
        constraints=None,
        customers: int | None = None,
        days: int | None = None,
        weekly: bool = False,
        promote: int = 4,
    ):
        from ..engine.resources import check_compile, check_resources
        from ..model import compile_scenario

        if engine not in ENGINES:
            raise ScenarioError(
                ScenarioIssue(
                    "engine",
                    f"must be one of {list(ENGINES)}, got {engine!r}",
                    "'mean-field' for a fast deterministic objective, 'fast' for simulated noise, 'des' for "
                    "queues within the day",
                )
            )
        if not (isinstance(budget, (int, float, np.floating, np.integer)) and math.isfinite(budget) and budget > 0):
            raise ScenarioError(
                ScenarioIssue(
                    "budget",
                    f"must be a finite number > 0, got {budget!r}",
                    "use a positive amount of currency such as 50000",
                )
            )
        if not isinstance(reps, (int, np.integer)) or reps < 1:
            raise ScenarioError(ScenarioIssue("reps", f"must be a whole number >= 1, got {reps!r}", "e.g. 8"))
        metrics = [metric] if isinstance(metric, str) else list(metric)
        if not metrics:
            raise ScenarioError(
                ScenarioIssue("metric", "at least one objective is needed, got none", "e.g. 'conversions'")
            )
        self.metrics = tuple(dict.fromkeys(parse_metric(m) for m in metrics))
        self.directions = tuple(METRICS[m][1] for m in self.metrics)
        self.constraints = tuple(c if isinstance(c, Constraint) else parse_constraint(c) for c in (constraints or ()))
        allowed = budget_touchpoints(scenario)
        if touchpoints is None:
            touchpoints = allowed
        touchpoints = list(dict.fromkeys(touchpoints))
        for name in touchpoints:
            if name not in allowed:
                fixed = [tp.name for tp in scenario.touchpoints]
                rule = (
                    "has a fixed reach, so spend does not change its delivery"
                    if name in fixed
                    else "is not a touchpoint of the scenario"
                )
                raise ScenarioError(
                    ScenarioIssue(
                        "touchpoints",
                        f"every touchpoint must have a response curve; {name!r} {rule}",
                        f"{_did_you_mean(name, allowed)}choose among {allowed}",
                    )
                )
        if not touchpoints:
            raise ScenarioError(
                ScenarioIssue(
                    "touchpoints",
                    "at least one touchpoint with a response curve is needed, got none",
                    'give a touchpoint spend and a response = { kind = "hill", ... }',
                )
            )
        self.scenario = scenario
        self.budget = float(budget)
        self.touchpoints = tuple(touchpoints)
        self.engine = engine
        self.reps = 1 if engine == "mean-field" else int(reps)
        self.seed = int(seed)
        self.customers = customers
        self.days = days
        self.weekly = bool(weekly)
        check_compile(scenario, customers=customers, days=days)
        self._base = compile_scenario(scenario, customers=customers, days=days)  # raises on a bad override
        self.n_days = self._base.n_days
        self._flight = {name: self._flight_days(name) for name in self.touchpoints}
        self.names = tuple(self._decision_names())
        if not isinstance(promote, (int, np.integer)) or promote < 1:
            raise ScenarioError(
                ScenarioIssue(
                    "promote", f"must be a whole number >= 1, got {promote!r}", "e.g. 4, or 1 to turn promotion off"
                )
            )
        self.promote = int(promote)
        # once before the study, at the most replications an evaluation runs (promoted trials); every other
        # (engine, reps) an evaluation asks for is checked once when first used (the models differ in spend only)
        check_resources(self._base, engine, self.reps * (self.promote if engine != "mean-field" else 1))
        self._checked: set = set()
        self.n_promoted = 0
        self._best: float | None = None
        self._cache: dict = {}
        self.n_simulations = 0
        self.cluster = None

    # ------------------------------------------------------------------ decisions
    def _flight_days(self, name: str) -> np.ndarray:
        tp = next(t for t in self.scenario.touchpoints if t.name == name)
        end = min(tp.end_day if tp.end_day is not None else self.n_days, self.n_days)
        return np.arange(tp.start_day, end + 1)

    def _weeks(self, name: str) -> list[np.ndarray]:
        days = self._flight[name]
        return [days[i : i + 7] for i in range(0, len(days), 7)]

    def _decision_names(self):
        for name in self.touchpoints:
            if self.weekly:
                yield from (f"{name}@w{k + 1}" for k in range(len(self._weeks(name))))
            else:
                yield name

    def totals(self, allocation: dict) -> dict[str, float]:
        """Spend per touchpoint over the horizon (weekly decisions summed)."""
        out = {name: 0.0 for name in self.touchpoints}
        for key, value in allocation.items():
            out[key.split("@w", 1)[0] if self.weekly else key] += float(value)
        return out

    def current_allocation(self) -> dict[str, float]:
        """The scenario's own split (its spend over the flights, flight events included), scaled to ``budget``.

        Touchpoints with no spend at all in the scenario share the budget equally.
        """
        spend = self._base.spend
        per_day = {name: spend[:, self._base.touchpoint_index[name]] for name in self.touchpoints}
        if self.weekly:
            raw = {
                f"{n}@w{k + 1}": float(per_day[n][w].sum())
                for n in self.touchpoints
                for k, w in enumerate(self._weeks(n))
            }
        else:
            raw = {n: float(per_day[n].sum()) for n in self.touchpoints}
        total = sum(raw.values())
        if total <= 0:
            return self.equal_allocation()
        return {k: self.budget * v / total for k, v in raw.items()}

    def current_total(self) -> float:
        """The scenario's own spend over the horizon on the optimised touchpoints."""
        return float(sum(self._base.spend[:, self._base.touchpoint_index[n]].sum() for n in self.touchpoints))

    def with_budget(self, budget: float) -> ScenarioObjective:
        """The same objective (scenario, seeds, compiled model, cache) for another total ``budget``.

        Only :meth:`current_allocation` and :meth:`equal_allocation` depend on the budget;
        :meth:`evaluate` scores an allocation of any total.
        """
        if not (isinstance(budget, (int, float, np.floating, np.integer)) and math.isfinite(budget) and budget > 0):
            raise ScenarioError(ScenarioIssue("budget", f"must be a finite number > 0, got {budget!r}", "e.g. 50000"))
        twin = copy.copy(self)
        twin.budget = float(budget)
        twin._best = None
        return twin

    def customer_value(self, allocation: dict) -> float:
        """Expected 3-year gross profit of a new customer under ``allocation``
        (:func:`jsim.analysis.lifetime_value`, the figure of the ``clv`` objective; currency)."""
        from ..analysis import lifetime_value

        return float(lifetime_value(self.model_for(allocation)))

    def equal_allocation(self) -> dict[str, float]:
        """The budget split equally over the decisions."""
        return {k: self.budget / len(self.names) for k in self.names}

    # ------------------------------------------------------------------ evaluation
    def _check(self, allocation: dict) -> None:
        missing = set(self.names) - set(allocation)
        extra = set(allocation) - set(self.names)
        if missing or extra:
            raise OptimiseError(
                f"an allocation must name exactly the decisions {list(self.names)}, "
                f"got missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        bad = {k: v for k, v in allocation.items() if not (math.isfinite(float(v)) and float(v) >= -1e-9)}
        if bad:
            raise OptimiseError(f"every spend must be a finite number >= 0, got {bad}")

    def spend_for(self, allocation: dict) -> np.ndarray:
        """(T+1, J) daily spend of ``allocation``: each decision's spend spread evenly over its days
        (the touchpoint's flight, or the week's days), times the calendar's flight multipliers;
        touchpoints not optimised keep the scenario's spend."""
        self._check(allocation)
        base = self._base
        spend = np.array(base.spend)
        shape = base.media.spend_shape
        for name in self.touchpoints:
            j = base.touchpoint_index[name]
            if not self.weekly:
                days = self._flight[name]
                daily = max(float(allocation[name]), 0.0) / len(days) if len(days) else 0.0
                spend[:, j] = daily * shape[:, j]
            else:
                daily = np.zeros(self.n_days + 1)
                for k, days in enumerate(self._weeks(name)):
                    daily[days] = max(float(allocation[f"{name}@w{k + 1}"]), 0.0) / len(days)
                spend[:, j] = shape[:, j] * daily
        return spend

    def model_for(self, allocation: dict):
        """The compiled model with ``allocation``'s spend (:meth:`spend_for` on the compiled base model)."""
        return self._base.with_spend(self.spend_for(allocation))

    def scenario_for(self, allocation: dict):
        """The scenario with the touchpoints' budgets replaced by ``allocation`` (to save it, or compile it anew).

        Compiling it gives the model :meth:`model_for` builds without recompiling (weekly
        decisions become flight events on a daily base spend of 1).
        """
        from ..scenario.models import Event

        self._check(allocation)
        tps, events = [], list(self.scenario.events)
        for tp in self.scenario.touchpoints:
            if tp.name not in self._flight:
                tps.append(tp)
            elif not self.weekly:
                tps.append(tp.model_copy(update={"spend": None, "budget": max(float(allocation[tp.name]), 0.0)}))
            else:
                tps.append(tp.model_copy(update={"spend": 1.0, "budget": None}))
                for k, days in enumerate(self._weeks(tp.name)):
                    daily = max(float(allocation[f"{tp.name}@w{k + 1}"]), 0.0) / len(days)
                    events.append(
                        Event(
                            kind="flight",
                            start=int(days[0]),
                            end=int(days[-1]),
                            touchpoint=tp.name,
                            spend_multiplier=daily,
                            name=f"optimise {tp.name} week {k + 1}",
                        )
                    )
        return self.scenario.model_copy(update={"touchpoints": tps, "events": events})

    def evaluate(
        self, allocation: dict, *, reps: int | None = None, seed: int | None = None, engine: str | None = None
    ) -> Evaluation:
        """Simulate ``allocation`` and score it (cached for the objective's own seed and engine)."""
        from ..analysis import lifetime_value
        from ..engine import simulate
        from ..engine.resources import check_resources
        from ..metrics import rep_metrics

        engine = engine or self.engine
        reps = 1 if engine == "mean-field" else int(reps or self.reps)
        seed = self.seed if seed is None else int(seed)
        self._check(allocation)
        key = (tuple(float(allocation[k]) for k in self.names), reps, seed, engine)
        if key in self._cache:
            return self._cache[key]
        model = self.model_for(allocation)
        if (engine, reps) not in self._checked:
            check_resources(model, engine, reps)
            self._checked.add((engine, reps))
        with _local_runs(self.cluster is None):
            result = simulate(model, seed=seed, reps=reps, engine=engine, check_memory=False, cluster=self.cluster)
        with _LOCK:
            self.n_simulations += 1
        per_rep = rep_metrics(result)
        if "clv" in self.metrics or any(c.metric == "clv" for c in self.constraints):
            per_rep["clv"] = per_rep["new_customers"] * lifetime_value(model) - per_rep["cost"]
        values = tuple(float(np.mean(per_rep[METRICS[m][0]])) for m in self.metrics)
        cons = tuple(c.value(float(np.mean(per_rep[c.metric]))) for c in self.constraints)
        out = Evaluation(values, per_rep, cons)
        with _LOCK:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[key] = out
        return out

    def __call__(self, allocation: dict):
        """The objective value (a float), or a tuple with several metrics (see ``promote``)."""
        ev = self.evaluate(allocation)
        if len(ev.values) > 1:
            return ev.values
        if self.engine != "mean-field" and self.promote > 1:
            if self._promotes(ev):
                ev = self._promoted(allocation)
                self.n_promoted += 1
            self._note_best(ev.values[0])
        return ev.values[0]

    def call_many(self, allocations: list, run) -> list:
        """What ``[self(a) for a in allocations]`` returns, with the simulations run side by side by ``run``.

        ``run(fn, items)`` maps ``fn`` over ``items`` at once (threads; with :attr:`cluster`, each
        simulation's replications are Dask tasks), results in order. The answers, :attr:`n_promoted`
        and the best value so far are those of the calls one after another: the simulations on
        ``reps`` run first, then ``promote`` is decided in order; every allocation that could be
        promoted (within two standard errors of the best before it; the best only gets better,
        so the calls one after another promote a subset of these) is simulated on
        ``reps * promote`` replications side by side, and those the order does not promote are
        left unused (extra simulations, counted in :attr:`n_simulations`, never in the answers).
        """
        distinct = list({self._key(a): a for a in allocations}.values())
        evals = dict(zip(map(self._key, distinct), run(self.evaluate, distinct)))
        first = [evals[self._key(a)] for a in allocations]
        if len(self.metrics) > 1:
            return [ev.values for ev in first]
        if not (self.engine != "mean-field" and self.promote > 1):
            return [ev.values[0] for ev in first]
        wave = [a for a, ev in zip(allocations, first) if self._promotes(ev)]
        wave = list({self._key(a): a for a in wave}.values())
        promoted = dict(zip(map(self._key, wave), run(self._promoted, wave))) if wave else {}
        out = []
        for alloc, ev in zip(allocations, first):
            if self._promotes(ev):
                ev = promoted[self._key(alloc)]
                self.n_promoted += 1
            self._note_best(ev.values[0])
            out.append(ev.values[0])
        return out

    def _key(self, allocation: dict) -> tuple:
        return tuple(float(allocation[k]) for k in self.names)

    def _promoted(self, allocation: dict) -> Evaluation:
        return self.evaluate(allocation, reps=self.reps * self.promote)

    def _promotes(self, ev: Evaluation) -> bool:
        """Whether :meth:`__call__` evaluates ``ev``'s allocation again on more replications (given the best so far)."""
        sign = 1.0 if self.directions[0] == "maximize" else -1.0
        per = np.asarray(ev.metrics[METRICS[self.metrics[0]][0]], dtype=np.float64)
        se = float(per.std(ddof=1) / math.sqrt(per.size)) if per.size > 1 else math.inf
        return self._best is None or sign * ev.values[0] >= sign * self._best - 2.0 * se

    def _note_best(self, value: float) -> None:
        sign = 1.0 if self.directions[0] == "maximize" else -1.0
        if self._best is None or sign * value > sign * self._best:
            self._best = value

    def constraint_values(self, allocation: dict) -> tuple:
        """Constraint values of ``allocation`` (<= 0 feasible); from the cache after :meth:`__call__`."""
        return self.evaluate(allocation).constraints

    def fresh_seed(self, offset: int = 1) -> int:
        """A seed independent of the optimisation's (for re-evaluation), derived from it deterministically."""
        return derive_seed(self.seed, f"reevaluate:{offset}")

    def reevaluate(
        self,
        allocations: dict,
        reps: int = 20,
        seed: int | None = None,
        engine: str | None = None,
        baseline: str | None = None,
    ) -> dict:
        """Evaluate named allocations on fresh seeds; means and 95% intervals.

        Parameters
        ----------
        allocations : dict of str to allocation
            E.g. ``{"best": ..., "current": ..., "equal": ...}``.
        reps : int
            Replications per allocation (all allocations share the same seeds, so differences
            are paired).
        seed : int, optional
            Root seed; default :meth:`fresh_seed`, independent of the one used while searching.
        engine : str, optional
            Default ``fast`` (the expected-value engine has no noise and so no interval).
        baseline : str, optional
            With a baseline, each row also has the ``uplift`` over it: the paired difference
            (:func:`jsim.metrics.paired_difference`: mean, 95% interval, whether it is
            distinguishable from noise and the replications that would tell) and the relative uplift.

        Returns
        -------
        dict
            ``{name: {"allocation": ..., "metrics": {metric: Estimate}, "constraints": {text: Estimate},
            "uplift": {metric: {"difference": Difference, "relative": float}}}}``.
        """
        from ..metrics import estimate, paired_difference

        engine = engine or (self.engine if self.engine != "mean-field" else "fast")
        seed = self.fresh_seed() if seed is None else int(seed)
        evals = {name: self.evaluate(alloc, reps=reps, seed=seed, engine=engine) for name, alloc in allocations.items()}
        out = {}
        for name, ev in evals.items():
            row = {
                "allocation": dict(allocations[name]),
                "metrics": {m: estimate(ev.metrics[METRICS[m][0]]) for m in self.metrics},
                "constraints": {c.text: estimate(ev.metrics[c.metric]) for c in self.constraints},
                "reps": reps,
                "seed": seed,
                "engine": engine,
            }
            if baseline is not None and baseline in evals:
                base = evals[baseline]
                row["uplift"] = {}
                for m in self.metrics:
                    col = METRICS[m][0]
                    diff = paired_difference(ev.metrics[col], base.metrics[col], deterministic=engine == "mean-field")
                    ref = float(np.mean(base.metrics[col]))
                    row["uplift"][m] = {"difference": diff, "relative": diff.mean / ref if ref else math.nan}
            out[name] = row
        return out
