"""What ``jsim optimise`` shows and writes: plain tables of an :class:`~jsim.optimise.study.OptimisationReport`,
their rich rendering, and the files of ``--out``.

:func:`report_tables` and :func:`trial_rows` return plain ``(header, rows)``; :func:`render_report`
only prints them; :func:`write_report` writes ``allocation.json`` (:func:`report_json`), the CSV
files and the plots of :mod:`jsim.plot.optimise`, as one set (:func:`jsim.io.output_set`).
"""

from __future__ import annotations

__all__ = ["report_tables", "render_report", "trial_rows", "report_json", "write_report", "OPTIMISE_FILES"]

from ._numbers import fmt_estimate, fmt_number, fmt_spec

#: Every file :func:`write_report` may write (the previous set's, in a folder without a manifest).
OPTIMISE_FILES = ("allocation.json", "trials.csv", "pareto.csv", "pareto.png", "history.png", "response_curves.png")


def _uplift(u) -> str:
    return f"{fmt_estimate(u['difference'])} ({fmt_spec(u['relative'], '+.2%')})"


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
    exp_rows = [
        [
            r.name,
            fmt_spec(r.spend, ",.2f"),
            fmt_spec(r.share, ".1%"),
            f"{fmt_number(r.low, 6)}:{fmt_number(r.high, 6)}".replace(",", ""),
            r.bound or "interior",
            fmt_number(r.marginal, 6),
            r.method,
        ]
        for r in ex.marginals
    ]
    shift_rows = [
        [s.source, s.target, fmt_spec(s.amount, ",.2f"), _signed(s.change), fmt_spec(s.relative, "+.3%")]
        for s in ex.shifts
    ]
    tables = {
        "comparison": (comp_header, comp_rows),
        "explanation": (
            ["decision", "spend", "share", "bounds", "bound", f"marginal {ex.metric} per unit", "finite difference"],
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
        f"{obj.reps} rep); {s['trials']} trials, study {s['study_name']}"
    )
    titles = {
        "comparison": "Best vs current (scenario's shares, scaled to the budget) vs equal split: "
        f"simulated on fresh seeds "
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
            table.add_row(*(fmt_number(v, 6) if isinstance(v, float) else str(v) for v in row))
        console.print(table)
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
            }
            for r in report.comparison
        ],
        "explanation": report.explanation.as_dict(),
    }


def _as_tuple(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _signed(x) -> str:
    text = fmt_number(x, 6)
    return text if text == "n/a" or text.startswith("-") else "+" + text


def write_report(report, out_dir) -> list:
    """Write ``allocation.json``, ``trials.csv``, ``pareto.csv`` (several objectives) and the plots
    (``history.png``, ``response_curves.png``, ``pareto.png``) into ``out_dir`` as one set
    (:func:`jsim.io.output_set`): they replace the previous set; the study journal and the
    user's own files stay. Raises :class:`~jsim.errors.OutputError` when a file cannot be written."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json
    from ..plot.optimise import plot_history, plot_pareto, plot_response_curves

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
    return [Path(out_dir) / name for name in names]
