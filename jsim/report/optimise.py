"""What ``jsim optimise`` shows and writes: plain tables of an :class:`~jsim.optimise.study.OptimisationReport`,
their rich rendering, and the files of ``--out``.

:func:`report_tables` and :func:`trial_rows` return plain ``(header, rows)``; :func:`render_report`
only prints them; :func:`write_report` writes ``allocation.json`` (:func:`report_json`), the CSV
files and the plots of :mod:`jsim.plot.optimise`, as one set (:func:`jsim.io.output_set`).
"""

from __future__ import annotations

__all__ = [
    "report_tables",
    "render_report",
    "trial_rows",
    "report_json",
    "write_report",
    "verdict_lines",
    "budget_lines",
    "plan_lines",
    "OPTIMISE_FILES",
]

from ._numbers import fmt_estimate, fmt_number, fmt_spec, print_table

#: Every file :func:`write_report` may write (the previous set's, in a folder without a manifest).
OPTIMISE_FILES = (
    "allocation.json",
    "trials.csv",
    "pareto.csv",
    "pareto.png",
    "history.png",
    "response_curves.png",
    "budget_curve.png",
    "report.html",
)


def _exact(d) -> bool:
    return d.sd == 0 and d.n == 1


def _uplift(u) -> str:
    d = u["difference"]
    text = fmt_number(d.mean, 4) if _exact(d) else fmt_estimate(d)
    return f"{text} ({fmt_spec(u['relative'], '+.2%')})"


def _verdict(d, reps: int) -> str:
    """Whether a paired difference (:class:`jsim.metrics.Difference`) is more than noise, in words."""
    if d.mean == 0:
        return "no difference"
    if _exact(d):
        return "exact (expected-value engine)"
    if d.distinguishable is None:
        return "cannot be judged (one replication)"
    if d.distinguishable:
        return f"distinguishable from noise (the 95% interval excludes 0 at {reps} replications)"
    if d.reps_needed is None:
        return f"not distinguishable from noise at {reps} replications; no practical number of replications would tell"
    return (
        f"not distinguishable from noise at {reps} replications; about {d.reps_needed:,} would tell "
        f"(--compare-reps {d.reps_needed})"
    )


def verdict_lines(report) -> list[str]:
    """One line per uplift that matters: best vs current and vs equal, and with a plan, plan vs best and vs current."""
    rows = {r["name"]: r for r in report.comparison}
    pairs = [("best", "current", "uplift_vs_current"), ("best", "equal", "uplift_vs_equal")]
    if "plan" in rows:
        pairs = [("best", "plan", "uplift_vs_plan"), ("plan", "current", "uplift_vs_current"), *pairs]
    lines = []
    for name, base, key in pairs:
        for m, u in rows[name][key].items():
            d = u["difference"]
            value = fmt_number(d.mean, 4) if _exact(d) else fmt_estimate(d)
            lines.append(f"{name} vs {base}, {m}: {_signed_text(value)}: {_verdict(d, rows[name]['reps'])}")
    return lines


def _signed_text(text: str) -> str:
    return text if text.startswith(("-", "n/a")) or text == "0" else "+" + text


def _money(x: float, cur: str) -> str:
    return f"{fmt_number(x, 6)} {cur}"


def budget_lines(report) -> list[str]:
    """The advice on the total budget (:class:`~jsim.optimise.budget.BudgetAdvice`) and the best total found
    in ``--budget-range`` (:class:`~jsim.optimise.budget.TotalSearch`), in sentences."""
    advice, search = report.advice, report.total_search
    lines = []
    if advice is not None:
        text = f"Budget: {advice.message}"
        if search is None and advice.suggested_range:
            low, high = advice.suggested_range
            text += f"; --budget-range {low:.0f}:{high:.0f} finds the best total"
        lines.append(text + ".")
    if search is None:
        return lines
    rule, best, cur = search.rule, search.best, search.rule.currency
    metric = report.objective.metrics[0]
    text = (
        f"Best total in [{fmt_number(search.low, 6)}, {fmt_number(search.high, 6)}]: {_money(best.total, cur)}, "
        f"{metric} {fmt_number(best.value, 6)}"
    )
    if rule.kind != "break-even":
        text += f", net of the {rule.threshold_text} {fmt_number(best.net, 6)}"
    if search.at_budget is not None and search.vs_budget is not None:
        d = search.vs_budget
        value = fmt_number(d.mean, 4) if _exact(d) else fmt_estimate(d)
        text += (
            f" (at the budget {fmt_number(search.at_budget.total, 6)}: "
            f"{metric} {fmt_number(search.at_budget.value, 6)}; "
            f"net value {_signed_text(value)}, {_verdict(d, d.n)})"
        )
    lines.append(text + ".")
    if search.beyond == "below":
        lines.append(
            f"At {_money(best.total, cur)} the last {cur} still {rule.total_phrase(best.net_marginal)} "
            f"({rule.threshold_text}): the best total is below the range; try --budget-range "
            f"{search.low / 10:.0f}:{search.low:.0f}."
        )
    elif search.beyond == "above":
        lines.append(
            f"At {_money(best.total, cur)} the next {cur} still {rule.total_phrase(best.net_marginal)} "
            f"({rule.threshold_text}): the best total is above the range; try --budget-range "
            f"{search.high:.0f}:{3 * search.high:.0f}."
        )
    if search.break_even is not None:
        lines.append(
            f"Break-even total ({rule.threshold_text}: the last {cur} of the total just pays): "
            f"{_money(search.break_even, cur)}."
        )
    elif search.beyond is None:
        lines.append("The marginal return of the total does not cross the threshold within the range.")
    split = ", ".join(f"{k} {fmt_number(v if v > 1e-9 * best.total else 0.0, 6)}" for k, v in best.allocation.items())
    lines.append(f"Split at the best total: {split}.")
    lines.append(
        f"Searched {len(search.points)} totals (each split re-optimised) in {search.seconds:.1f} s, "
        f"{search.n_evaluations:,} simulations."
    )
    return lines


def plan_lines(report) -> list[str]:
    """What the table does with the user's plan: its total against the budget, the touchpoints it leaves at 0."""
    if report.plan is None:
        return []
    obj, cur = report.objective, report.objective.scenario.economics.currency
    total = sum(report.plan.values())
    lines = []
    if abs(total - obj.budget) > 1e-9 * max(obj.budget, 1.0):
        lines.append(
            f"Your plan spends {_money(total, cur)}, the budget is {_money(obj.budget, cur)}: scored as given, "
            f"not rescaled (its uplift includes the difference in spend)."
        )
    zero = [k for k, v in report.plan.items() if v == 0]
    if zero:
        lines.append(f"Your plan spends 0 on {', '.join(zero)}.")
    return lines


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
            line += [fmt_estimate(row["metrics"][m]), fmt_number(row["expected"][m], 6), _uplift(uc), _uplift(ue)]
        comp_rows.append(line)
    ex = report.explanation
    cur = obj.scenario.economics.currency
    in_customers = ex.value_per_customer is not None
    exp_rows = [
        [
            r.name,
            fmt_spec(r.spend, ",.2f"),
            fmt_spec(r.share, ".1%"),
            f"{fmt_number(r.low, 6)}:{fmt_number(r.high, 6)}".replace(",", ""),
            r.bound or "interior",
            fmt_number(r.marginal, 6),
            *([fmt_number(r.marginal_value, 4)] if in_customers else []),
            *([fmt_number(r.marginal_profit, 4)] if ex.metric != "profit" else []),
            *([fmt_number(r.marginal_revenue, 4)] if ex.metric != "revenue" else []),
            fmt_number(r.cost_per_conversion, 5) if r.marginal_conversions is not None else "n/a",
            r.method,
        ]
        for r in ex.marginals
    ]
    value_header = [f"value {cur} per {cur} (x {fmt_number(ex.value_per_customer, 4)})"] if in_customers else []
    shift_rows = [
        [s.source, s.target, fmt_spec(s.amount, ",.2f"), _signed(s.change), fmt_spec(s.relative, "+.3%")]
        for s in ex.shifts
    ]
    tables = {
        "comparison": (comp_header, comp_rows),
        "explanation": (
            [
                "decision",
                "spend",
                "share",
                "bounds",
                "bound",
                f"marginal {ex.metric} per {cur}",
                *value_header,
                *([f"profit per {cur}"] if ex.metric != "profit" else []),
                *([f"revenue per {cur}"] if ex.metric != "revenue" else []),
                f"{cur} per extra conversion",
                "finite difference",
            ],
            exp_rows,
        ),
        "shifts": (
            ["move 10% from", "to (best alternative)", "amount", f"change in {ex.metric}", "relative"],
            shift_rows,
        ),
    }
    if report.result.pareto:
        header = [*obj.names, *obj.metrics]
        rows = [
            [*(round(float(a[n]), 6) for n in obj.names), *(round(float(v), 6) for v in vals)]
            for a, vals in report.result.pareto
        ]
        tables["pareto"] = (header, rows)
    return tables


def render_report(report, console) -> None:
    """Print the comparison, explanation, 10% shift and Pareto tables with rich."""
    from rich.table import Table

    obj = report.objective
    tables = report_tables(report)
    s = report.settings
    console.print(
        f"[bold]{obj.scenario.name}[/]: budget {obj.budget:,.2f} over {', '.join(obj.touchpoints)}; "
        f"objective {' x '.join(obj.metrics)} on {obj.engine} (seed {s['replication_seed']}, "
        f"{obj.reps} rep); {s['trials']} trials, {_evaluations(report)}, study {s['study_name']}"
    )
    titles = {
        "comparison": "Best vs current (scenario's shares, scaled to the budget) vs equal split: "
        f"simulated on fresh seeds "
        f"({s['compare_reps']} reps, seed {s['compare_seed']}, mean [95% interval]); expected = "
        f"expected-value model",
        "explanation": "Why: marginal return per touchpoint at the best split (equal where interior); "
        "profit per unit < 0: the last unit spent loses money",
        "shifts": "What a 10% shift would cost",
        "pareto": "Pareto front",
    }
    for key, (header, rows) in tables.items():
        table = Table(title=titles[key], title_justify="left")
        for h in header:
            table.add_column(str(h), overflow="fold")
        for row in rows:
            table.add_row(*(fmt_number(v, 6) if isinstance(v, float) else str(v) for v in row))
        print_table(console, table)
        if key == "comparison":
            for line in [*plan_lines(report), *verdict_lines(report)]:
                console.print(line, highlight=False)
    for line in budget_lines(report):
        console.print(line, highlight=False)
    if obj.constraints:
        state = "meets" if report.feasible else "does NOT meet"
        console.print(f"The best split {state} the constraints {', '.join(c.text for c in obj.constraints)}.")


def trial_rows(report) -> tuple[list, list]:
    """One row per trial of the study: number, state, objectives, allocation, constraint values."""
    obj = report.objective
    header = [
        "trial",
        "state",
        *obj.metrics,
        *obj.names,
        *(f"constraint {c.text}" for c in obj.constraints),
        "feasible",
        "polished",
    ]
    rows = []
    for t in report.result.study.get_trials(deepcopy=False):
        alloc = t.user_attrs.get("allocation") or {}
        vals = list(t.values) if t.values is not None else [None] * len(obj.metrics)
        cons = list(obj.constraint_values(alloc)) if (alloc and obj.constraints) else [None] * len(obj.constraints)
        feasible = all(c <= 0 for c in cons) if cons and None not in cons else (None if obj.constraints else True)
        rows.append(
            [
                t.number,
                t.state.name,
                *vals,
                *(alloc.get(n) for n in obj.names),
                *cons,
                feasible,
                bool(t.user_attrs.get("polished", False)),
            ]
        )
    return header, [["" if v is None else v for v in r] for r in rows]


def report_json(report) -> dict:
    """``allocation.json``: the best allocation, its values, the comparison and explanation, and the settings."""
    obj = report.objective
    return {
        "scenario": obj.scenario.name,
        "budget": obj.budget,
        "touchpoints": list(obj.touchpoints),
        "objectives": list(obj.metrics),
        "directions": list(obj.directions),
        "constraints": [c.text for c in obj.constraints],
        "feasible": report.feasible,
        "allocation": report.allocation,
        "totals": obj.totals(report.allocation),
        "value": list(_as_tuple(report.result.value)),
        "bounds": {k: list(v) for k, v in report.bounds.items()},
        "active_bounds": report.explanation.active_bounds,
        "polished": bool(report.result.polished),
        "n_evaluations": int(report.result.n_evaluations),
        "max_evaluations": getattr(report.result, "max_evaluations", None),
        "settings": report.settings,
        "comparison": [
            {
                "split": r["name"],
                "allocation": r["allocation"],
                "totals": r["totals"],
                "metrics": {m: e.as_dict() for m, e in r["metrics"].items()},
                "expected": r["expected"],
                "constraints": {k: e.as_dict() for k, e in r["constraints"].items()},
                "uplift_vs_current": {
                    m: {"difference": u["difference"].as_dict(), "relative": u["relative"]}
                    for m, u in r["uplift_vs_current"].items()
                },
                "uplift_vs_equal": {
                    m: {"difference": u["difference"].as_dict(), "relative": u["relative"]}
                    for m, u in r["uplift_vs_equal"].items()
                },
                **(
                    {
                        "uplift_vs_plan": {
                            m: {"difference": u["difference"].as_dict(), "relative": u["relative"]}
                            for m, u in r["uplift_vs_plan"].items()
                        }
                    }
                    if "uplift_vs_plan" in r
                    else {}
                ),
            }
            for r in report.comparison
        ],
        "explanation": report.explanation.as_dict(),
        "budget_rule": None if report.rule is None else report.rule.as_dict(),
        "advice": None if report.advice is None else report.advice.as_dict(),
        "budget_search": None if report.total_search is None else report.total_search.as_dict(),
        "plan": None if report.plan is None else {"allocation": report.plan, "total": sum(report.plan.values())},
        "response_curves": {
            name: {"spend": list(map(float, spend)), "value": list(map(float, value))}
            for name, (spend, value) in (report.curves or {}).items()
        },
    }


def _as_tuple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _signed(x) -> str:
    text = fmt_number(x, 6)
    return text if text == "n/a" or text.startswith("-") else "+" + text


def write_report(report, out_dir, *, html: bool = False) -> list:
    """Write ``allocation.json``, ``trials.csv``, ``pareto.csv`` (several objectives) and the plots
    (``history.png``, ``response_curves.png``, ``pareto.png``, ``budget_curve.png`` with a budget range) into
    ``out_dir`` as one set
    (:func:`jsim.io.output_set`): they replace the previous set; the study journal and the
    user's own files stay; with ``html`` also ``report.html``, built from those files (:mod:`jsim.report.html`).
    Raises :class:`~jsim.errors.OutputError` when a file cannot be written."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json
    from ..plot.optimise import plot_budget_curve, plot_history, plot_pareto, plot_response_curves

    with output_set(out_dir, replaces=OPTIMISE_FILES) as out:
        atomic_write(out / "allocation.json", to_json(report_json(report)))
        atomic_write(out / "trials.csv", csv_text(*trial_rows(report)))
        names = ["allocation.json", "trials.csv"]
        tables = report_tables(report)
        if "pareto" in tables:
            atomic_write(out / "pareto.csv", csv_text(*tables["pareto"]))
            plot_pareto(report, out / "pareto.png")
            names += ["pareto.csv", "pareto.png"]
        plot_history(report, out / "history.png")
        plot_response_curves(report, out / "response_curves.png")
        names += ["history.png", "response_curves.png"]
        if report.total_search is not None:
            plot_budget_curve(report, out / "budget_curve.png")
            names.append("budget_curve.png")
        if html:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]


def _evaluations(report) -> str:
    """``"412 of 600 evaluations"``: objective calls of the search and polish, against the cap."""
    used = int(report.result.n_evaluations)
    cap = getattr(report.result, "max_evaluations", None)
    return f"{used:,} evaluations" if cap is None else f"{used:,} of {cap:,} evaluations"
