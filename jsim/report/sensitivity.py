"""What ``jsim sensitivity`` prints and writes: the indices of each parameter, per metric, with their intervals."""

from __future__ import annotations

__all__ = ["SENSITIVITY_FILES", "render_sensitivity", "write_sensitivity", "sensitivity_rows"]

from ._numbers import NA, finite, fmt_number, print_table
from .sweep import fmt_metric

#: Every file :func:`write_sensitivity` may write (the previous set's, in a folder without a manifest).
SENSITIVITY_FILES = ("sensitivity.csv", "sensitivity.json", "sensitivity.png", "report.html")

_EXPLAIN = {
    "oat": "swing: value at HIGH - value at LOW, the others as in the file (paired over common seeds; "
    "exact with mean-field); sorted by the size of the swing",
    "morris": "mu*: mean absolute elementary effect, as a change over the whole LOW..HIGH range, with its "
    "95% bootstrap half-width; mu: signed mean (mu << mu*: effects of both signs); sigma: spread of the "
    "effects (interactions or non-linearity)",
    "sobol": "S1: share of the metric's variance due to the parameter alone; ST: with all its interactions "
    "(ST - S1: interactions); S2: share due to a pair's interaction alone; ± 95% bootstrap half-widths; an index "
    "within its half-width of 0: no influence shown",
}


def _index(x, conf=None) -> str:
    if not finite(x):
        return NA
    text = f"{x:.3f}"
    return f"{text} ± {conf:.3f}" if finite(conf) else text


def _range(row: dict) -> str:
    return f"{fmt_number(row['low'], 6)}..{fmt_number(row['high'], 6)}" + (" (int)" if row["integer"] else "")


def render_sensitivity(result, console) -> None:
    """Print, per metric, the parameters' indices (most influential first)."""
    from rich.table import Table

    det = result.deterministic
    how = "exact expected values" if det else f"each evaluation the mean of {result.reps} replications on common seeds"
    rate = result.evaluations_per_second
    speed = f", {rate:,.0f}/s" if rate else ""
    console.print(
        f"[bold]sensitivity[/bold] ({result.method})  {result.scenario}: {len(result.params)} parameters, "
        f"{result.evaluations:,} evaluations in {result.seconds:.1f} s{speed}; engine {result.engine}, {how} "
        f"(seed {result.seed})"
    )
    for m in result.metrics:
        rows = [r for r in result.rows if r["metric"] == m.name]
        t = Table(title=m.name, title_justify="left", show_edge=False)
        t.add_column("param", overflow="fold")
        t.add_column("range", justify="right")
        if result.method == "oat":
            base = result.baseline.get(m.name)
            t.title = f"{m.name} (as in the file: {fmt_metric(m.name, base)})"
            for head in ("at LOW", "at HIGH", "swing" if det else "swing [95%]"):
                t.add_column(head, justify="right")
            rows.sort(key=lambda r: -abs(r["swing"]) if finite(r["swing"]) else 0)
            for r in rows:
                t.add_row(
                    r["param"],
                    _range(r),
                    fmt_metric(m.name, r["at_low"]),
                    fmt_metric(m.name, r["at_high"]),
                    _swing(m.name, r, det),
                )
        elif result.method == "morris":
            for head in ("mu*", "mu", "sigma"):
                t.add_column(head, justify="right")
            rows.sort(key=lambda r: -(r["mu_star"] or 0))
            for r in rows:
                t.add_row(
                    r["param"],
                    _range(r),
                    _morris(m.name, r["mu_star"], r["mu_star_conf"]),
                    fmt_metric(m.name, r["mu"], signed=True),
                    fmt_metric(m.name, r["sigma"]),
                )
        else:
            for head in ("S1", "ST"):
                t.add_column(head, justify="right")
            rows.sort(key=lambda r: -(r["ST"] or 0))
            for r in rows:
                t.add_row(r["param"], _range(r), _index(r["S1"], r["S1_conf"]), _index(r["ST"], r["ST_conf"]))
        print_table(console, t)
        pairs = [p for p in result.second_order if p["metric"] == m.name and finite(p["S2"])]
        if pairs:
            t2 = Table(title=f"{m.name}: second-order indices S2 (pairs)", title_justify="left", show_edge=False)
            t2.add_column("param", overflow="fold")
            t2.add_column("with", overflow="fold")
            t2.add_column("S2", justify="right")
            for p in pairs:
                t2.add_row(p["param"], p["other"], _index(p["S2"], p["S2_conf"]))
            print_table(console, t2)
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(_EXPLAIN[result.method] + ".")


def _swing(metric: str, row: dict, det: bool) -> str:
    text = fmt_metric(metric, row["swing"], signed=True)
    low, high = row["swing_low"], row["swing_high"]
    if det or not (finite(low) and finite(high)) or low == high:
        return text
    return f"{text} [{fmt_metric(metric, low, signed=True)}, {fmt_metric(metric, high, signed=True)}]"


def _morris(metric: str, x, conf) -> str:
    text = fmt_metric(metric, x)
    return f"{text} ± {fmt_metric(metric, conf)}" if finite(conf) and text != NA else text


def sensitivity_rows(result) -> tuple[list[str], list[list]]:
    """``sensitivity.csv``: one row per metric and parameter."""
    columns = result.columns()
    return columns, [[row.get(c) for c in columns] for row in result.rows]


def write_sensitivity(result, out_dir, *, plot: bool = False, report: bool = False) -> list:
    """Write ``sensitivity.csv``, ``sensitivity.json``, with ``plot`` ``sensitivity.png`` and with ``report``
    ``report.html`` into ``out_dir`` as one set."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json

    names = ["sensitivity.csv", "sensitivity.json"]
    with output_set(out_dir, replaces=SENSITIVITY_FILES) as out:
        atomic_write(out / "sensitivity.csv", csv_text(*sensitivity_rows(result)))
        atomic_write(out / "sensitivity.json", to_json(result.as_json()))
        if plot:
            from ..plot.sensitivity import plot_sensitivity

            plot_sensitivity(result, out / "sensitivity.png")
            names.append("sensitivity.png")
        if report:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]
