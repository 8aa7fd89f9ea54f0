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

__all__ = ["MarginalRow", "ShiftRow", "Explanation", "OptimisationReport", "explain_allocation", "compare_allocations",
           "response_curves", "scalar_objective", "optimise_scenario", "default_study_name"]

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
    """

    name: str
    spend: float
    share: float
    low: float
    high: float
    bound: str
    marginal: float
    method: str


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
    """Marginal returns, active bounds and the cost of a 10% shift at an allocation."""

    metric: str
    value: float
    step: float
    marginals: list = field(default_factory=list)
    shifts: list = field(default_factory=list)

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
        return {"metric": self.metric, "value": self.value, "step": self.step,
                "marginal_returns": [r.__dict__ for r in self.marginals],
                "active_bounds": self.active_bounds, "interior_spread": self.interior_spread,
                "shift_10pct": [r.__dict__ for r in self.shifts]}


def _bounds_of(names, bounds, budget):
    bounds = bounds or {}
    return {n: (float(bounds.get(n, (0.0, budget))[0]), float(bounds.get(n, (0.0, budget))[1])) for n in names}


def explain_allocation(objective, allocation: dict, *, budget: float | None = None, bounds: dict | None = None,
                       metric: str | None = None, step: float | None = None, shift: float = 0.1,
                       tol: float | None = None) -> Explanation:
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
    ex = Explanation(metric or (objective.metrics[0] if hasattr(objective, "metrics") else "objective"), f0, step)

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
            d, method = (f(moved(**{n: up})) - f(moved(**{n: -down}))) / (up + down), "central"
        elif up > 0 and at != "max":
            d, method = (f(moved(**{n: up})) - f0) / up, "forward"
        elif down > 0:
            d, method = (f0 - f(moved(**{n: -down}))) / down, "backward"
        else:
            d, method = math.nan, "none"
        ex.marginals.append(MarginalRow(n, x0[n], x0[n] / budget if budget else math.nan, lo, hi, at, d, method))

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


def response_curves(objective, allocation: dict, *, bounds: dict | None = None, budget: float | None = None,
                    metric: str | None = None, n_points: int = 25, span: float = 2.0) -> dict:
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


def compare_allocations(objective, best: dict, *, reps: int = 20, seed: int | None = None, engine: str | None = None,
                        extra: dict | None = None) -> list[dict]:
    """Best allocation vs the scenario's current split (scaled to the budget) vs an equal split, on fresh seeds.

    All allocations run on the same fresh replication seeds, so each uplift is a paired difference
    with its own 95% interval. The expected value of each allocation (the deterministic model) is
    given next to the simulated estimates as a cross-check.

    Returns
    -------
    list of dict
        One row per allocation (``best``, ``current``, ``equal`` and ``extra``): ``name``,
        ``allocation``, ``totals`` (per touchpoint), ``metrics`` (Estimate per objective),
        ``expected`` (expected value per objective), ``constraints`` (Estimate per constraint),
        ``uplift_vs_current`` and ``uplift_vs_equal`` for ``best``.
    """
    allocations = {"best": best, "current": objective.current_allocation(), "equal": objective.equal_allocation()}
    allocations.update(extra or {})
    vs_current = objective.reevaluate(allocations, reps=reps, seed=seed, engine=engine, baseline="current")
    vs_equal = objective.reevaluate(allocations, reps=reps, seed=seed, engine=engine, baseline="equal")
    rows = []
    for name, alloc in allocations.items():
        r = vs_current[name]
        expected = objective.evaluate(alloc, engine="mean-field").values
        rows.append({
            "name": name, "allocation": alloc, "totals": objective.totals(alloc), "metrics": r["metrics"],
            "expected": dict(zip(objective.metrics, expected)), "constraints": r["constraints"],
            "uplift_vs_current": r["uplift"], "uplift_vs_equal": vs_equal[name]["uplift"],
            "reps": r["reps"], "seed": r["seed"], "engine": r["engine"],
        })
    return rows


# ---------------------------------------------------------------------------------------- one call


@dataclass
class OptimisationReport:
    """Everything ``jsim optimise`` prints and writes: the answer, why, and how sure.

    Attributes
    ----------
    objective : ScenarioObjective
    result : AllocationResult
        From :func:`jsim.optimise.optimise_allocation` (study, history, Pareto front).
    bounds : dict of str to (float, float)
    comparison : list of dict
        :func:`compare_allocations` rows (best, current, equal) on fresh seeds.
    explanation : Explanation
        At the best allocation, on the first objective.
    curves : dict of str to (ndarray, ndarray)
        :func:`response_curves` around the best allocation (first objective).
    feasible : bool
        Whether the best allocation meets every constraint.
    settings : dict
        Seed, engine, reps, trials, sampler, study name: recorded in ``allocation.json``.
    """

    objective: object
    result: object
    bounds: dict
    comparison: list
    explanation: Explanation
    curves: dict
    feasible: bool
    settings: dict

    @property
    def allocation(self) -> dict:
        return dict(self.result.allocation)


def _constrained_sampler(sampler, objective, n_objectives: int, seed: int):
    """An Optuna sampler that reads the objective's constraint values (TPE, or NSGA-II for several objectives)."""
    import optuna

    if isinstance(sampler, optuna.samplers.BaseSampler):
        return sampler
    if sampler not in ("auto", "tpe", "nsga2"):
        from ..errors import ScenarioError, ScenarioIssue

        raise ScenarioError(ScenarioIssue("--sampler", f"with --constraint must be 'auto', 'tpe' or 'nsga2' (samplers that "
                                                       f"take Optuna constraints), got {sampler!r}", "drop --sampler"))

    def constraints_func(trial):
        alloc = trial.user_attrs.get("allocation")
        return objective.constraint_values(alloc) if alloc is not None else (1.0,) * len(objective.constraints)

    seed = int(np.random.SeedSequence([seed, 7]).generate_state(1)[0])
    import warnings

    # Optuna 5 deprecates constraints_func for Trial.set_constraint, but optimise_allocation hands
    # objectives an allocation, not the trial; constraints_func still works until Optuna 7.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if sampler == "nsga2" or (sampler == "auto" and n_objectives > 1):
            return optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints_func)
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=10,
                                          constraints_func=constraints_func)


def default_study_name(objective) -> str:
    """A study name fixed by the problem (scenario, objectives, budget, decisions), so ``--resume`` finds it."""
    import hashlib

    key = repr((objective.scenario.name, objective.metrics, objective.budget, objective.names, objective.engine,
                objective.reps, objective.seed, [c.text for c in objective.constraints]))
    return f"jsim-{objective.scenario.name}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def optimise_scenario(objective, *, bounds: dict | None = None, n_trials: int = 200, seed: int = 0,
                      sampler="auto", storage=None, out=None, resume: bool = False, worker: bool = False,
                      study_name: str | None = None, callbacks=None, compare_reps: int = 20,
                      compare_engine: str | None = None) -> OptimisationReport:
    """Optimise a :class:`ScenarioObjective`, explain the answer and compare it with the current and equal splits.

    Parameters
    ----------
    objective : ScenarioObjective
    bounds : dict of str to (float, float), optional
        Per-decision ``(min, max)`` spend.
    n_trials : int
        Trials of the global search (counted over the whole study when resumed).
    seed : int
        Seeds the sampler (the objective has its own replication seed).
    sampler : str
        See :func:`jsim.optimise.optimise_allocation`; with constraints, ``auto`` means TPE
        (NSGA-II for several objectives), samplers that honour Optuna constraints.
    storage : str, optional
        Optuna storage URL or journal path; default the journal ``<out>/study.journal`` when
        ``out`` is given, else in memory.
    resume, worker : bool
        Continue an existing study (trials a killed run left RUNNING are re-queued), or join one.
    study_name : str, optional
        Default :func:`default_study_name`.
    callbacks : list, optional
        Optuna callbacks (a progress bar).
    compare_reps : int
        Replications on fresh seeds for the comparison table.
    compare_engine : str, optional
        Engine of the comparison (default ``fast``: stochastic, with intervals).
    """
    from ..errors import OptimiseError
    from .core import optimise_allocation

    constrained = bool(objective.constraints)
    n_obj = len(objective.metrics)
    smp = _constrained_sampler(sampler, objective, n_obj, seed) if constrained else sampler
    study_storage, name = None, None
    if storage is not None or out is not None or resume or worker:
        from .storage import open_storage, open_study

        study_storage = open_storage(storage, out)
        name = study_name or default_study_name(objective)
        open_study(study_storage, name, directions=objective.directions, resume=resume, worker=worker)
    try:
        result = optimise_allocation(objective, objective.budget, bounds=bounds, names=list(objective.names),
                                     n_trials=n_trials, seed=seed, sampler=smp, directions=list(objective.directions),
                                     storage=study_storage, study_name=name, polish=not constrained,
                                     callbacks=callbacks, initial=[objective.equal_allocation(),
                                                                   objective.current_allocation()])
    except ValueError as exc:
        if constrained and "feasible" in str(exc):
            raise OptimiseError(f"no allocation tried met the constraints {[c.text for c in objective.constraints]} "
                                f"in {n_trials} trials (relax a constraint, raise --budget or --trials)") from None
        raise
    best = dict(result.allocation)
    feasible = objective.evaluate(best).feasible
    comparison = compare_allocations(objective, best, reps=compare_reps, engine=compare_engine)
    explanation = explain_allocation(objective, best, budget=objective.budget, bounds=bounds)
    curves = response_curves(objective, best, bounds=bounds, budget=objective.budget)
    settings = {"seed": seed, "replication_seed": objective.seed, "engine": objective.engine, "reps": objective.reps,
                "trials": n_trials, "sampler": sampler if isinstance(sampler, str) else type(sampler).__name__,
                "study_name": result.study.study_name, "compare_reps": compare_reps,
                "compare_seed": comparison[0]["seed"], "weekly": objective.weekly}
    return OptimisationReport(objective, result, dict(bounds or {}), comparison, explanation, curves, feasible, settings)


# ---------------------------------------------------------------------------------------- tables, files


def _fmt_est(est, spec=".4g") -> str:
    return format(est, spec) if est is not None else ""


def report_tables(report) -> dict:
    """Plain ``(header, rows)`` tables of a report: ``comparison``, ``explanation``, ``shifts``, ``pareto``."""
    obj = report.objective
    comp_header = ["split", *obj.touchpoints]
    for m in obj.metrics:
        comp_header += [m, f"{m} expected", f"{m} uplift vs current", f"{m} uplift vs equal"]
    comp_rows = []
    for row in report.comparison:
        line = [row["name"], *(f"{row['totals'][t]:,.0f}" for t in obj.touchpoints)]
        for m in obj.metrics:
            uc, ue = row["uplift_vs_current"][m], row["uplift_vs_equal"][m]
            line += [_fmt_est(row["metrics"][m]), f"{row['expected'][m]:.6g}",
                     f"{uc['difference']:.4g} ({uc['relative']:+.2%})", f"{ue['difference']:.4g} ({ue['relative']:+.2%})"]
        comp_rows.append(line)
    ex = report.explanation
    exp_rows = [[r.name, f"{r.spend:,.2f}", f"{r.share:.1%}", f"{r.low:g}:{r.high:g}", r.bound or "interior",
                 f"{r.marginal:.6g}", r.method] for r in ex.marginals]
    shift_rows = [[s.source, s.target, f"{s.amount:,.2f}", f"{s.change:+.6g}", f"{s.relative:+.3%}"] for s in ex.shifts]
    tables = {
        "comparison": (comp_header, comp_rows),
        "explanation": (["decision", "spend", "share", "bounds", "bound", f"marginal {ex.metric} per unit", "finite difference"],
                        exp_rows),
        "shifts": (["move 10% from", "to (best alternative)", "amount", f"change in {ex.metric}", "relative"], shift_rows),
    }
    if report.result.pareto:
        header = [*obj.names, *obj.metrics]
        rows = [[*(round(float(a[n]), 6) for n in obj.names), *(round(float(v), 6) for v in vals)]
                for a, vals in report.result.pareto]
        tables["pareto"] = (header, rows)
    return tables


def render_report(report, console) -> None:
    """Print the comparison, explanation, 10% shift and Pareto tables with rich."""
    from rich.table import Table

    obj = report.objective
    tables = report_tables(report)
    s = report.settings
    console.print(f"[bold]{obj.scenario.name}[/]: budget {obj.budget:,.2f} over {', '.join(obj.touchpoints)}; "
                  f"objective {' x '.join(obj.metrics)} on {obj.engine} (seed {s['replication_seed']}, "
                  f"{obj.reps} rep); {s['trials']} trials, study {s['study_name']}")
    titles = {
        "comparison": f"Best vs current (scenario's shares, scaled to the budget) vs equal split: simulated on fresh seeds "
                      f"({s['compare_reps']} reps, seed {s['compare_seed']}, mean [95% interval]); expected = "
                      f"expected-value model",
        "explanation": "Why: marginal return per touchpoint at the best split (equal where interior)",
        "shifts": "What a 10% shift would cost",
        "pareto": "Pareto front",
    }
    for key, (header, rows) in tables.items():
        table = Table(title=titles[key], title_justify="left")
        for h in header:
            table.add_column(str(h), overflow="fold")
        for row in rows:
            table.add_row(*(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row))
        console.print(table)
    if obj.constraints:
        state = "meets" if report.feasible else "does NOT meet"
        console.print(f"The best split {state} the constraints {', '.join(c.text for c in obj.constraints)}.")


def _csv_text(header, rows) -> str:
    from ..io import _csv

    return _csv(header, rows)


def trial_rows(report) -> tuple[list, list]:
    """One row per trial of the study: number, state, objectives, allocation, constraint values."""
    obj = report.objective
    header = ["trial", "state", *obj.metrics, *obj.names, *(f"constraint {c.text}" for c in obj.constraints),
              "feasible", "polished"]
    rows = []
    for t in report.result.study.get_trials(deepcopy=False):
        alloc = t.user_attrs.get("allocation") or {}
        vals = list(t.values) if t.values is not None else [None] * len(obj.metrics)
        cons = list(obj.constraint_values(alloc)) if (alloc and obj.constraints) else [None] * len(obj.constraints)
        feasible = all(c <= 0 for c in cons) if cons and None not in cons else (None if obj.constraints else True)
        rows.append([t.number, t.state.name, *vals, *(alloc.get(n) for n in obj.names), *cons, feasible,
                     bool(t.user_attrs.get("polished", False))])
    return header, [["" if v is None else v for v in r] for r in rows]


def report_json(report) -> dict:
    """``allocation.json``: the best allocation, its values, the comparison and explanation, and the settings."""
    obj = report.objective
    return {
        "scenario": obj.scenario.name, "budget": obj.budget, "touchpoints": list(obj.touchpoints),
        "objectives": list(obj.metrics), "directions": list(obj.directions),
        "constraints": [c.text for c in obj.constraints], "feasible": report.feasible,
        "allocation": report.allocation, "totals": obj.totals(report.allocation),
        "value": list(_as_tuple(report.result.value)), "bounds": {k: list(v) for k, v in report.bounds.items()},
        "active_bounds": report.explanation.active_bounds, "polished": bool(report.result.polished),
        "n_evaluations": int(report.result.n_evaluations), "settings": report.settings,
        "comparison": [{"split": r["name"], "allocation": r["allocation"], "totals": r["totals"],
                        "metrics": {m: e.as_dict() for m, e in r["metrics"].items()}, "expected": r["expected"],
                        "constraints": {k: e.as_dict() for k, e in r["constraints"].items()},
                        "uplift_vs_current": {m: {"difference": u["difference"].as_dict(), "relative": u["relative"]}
                                              for m, u in r["uplift_vs_current"].items()},
                        "uplift_vs_equal": {m: {"difference": u["difference"].as_dict(), "relative": u["relative"]}
                                            for m, u in r["uplift_vs_equal"].items()}}
                       for r in report.comparison],
        "explanation": report.explanation.as_dict(),
    }


def _as_tuple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def write_report(report, out_dir) -> list:
    """Write ``allocation.json``, ``trials.csv``, ``pareto.csv`` (several objectives) and the plots
    (``history.png``, ``response_curves.png``, ``pareto.png``) into ``out_dir``, each atomically."""
    from pathlib import Path

    from ..io import atomic_write, to_json
    from ..plot.optimise import plot_history, plot_pareto, plot_response_curves

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "allocation.json", to_json(report_json(report)))
    atomic_write(out / "trials.csv", _csv_text(*trial_rows(report)))
    written = [out / "allocation.json", out / "trials.csv"]
    tables = report_tables(report)
    if "pareto" in tables:
        atomic_write(out / "pareto.csv", _csv_text(*tables["pareto"]))
        plot_pareto(report, out / "pareto.png")
        written += [out / "pareto.csv", out / "pareto.png"]
    plot_history(report, out / "history.png")
    plot_response_curves(report, out / "response_curves.png")
    return written + [out / "history.png", out / "response_curves.png"]
