"""What ``jsim compare`` prints and writes: differences to the baseline with intervals and a verdict."""

from __future__ import annotations

__all__ = ["COMPARE_FILES", "render_comparison", "write_comparison", "comparison_rows", "verdict"]

from ._numbers import NA, finite, fmt_number, print_table

#: Every file :func:`write_comparison` may write (the previous set's, in a folder without a manifest).
COMPARE_FILES = ("compare.json", "compare.csv", "compare.png", "report.html")

#: metrics shown as percentages
_PERCENT = {"conversion_rate", "retention_rate", "roi"}
#: moves-by-source rows shown per variant (all of them are in compare.csv)
_TOP_SOURCES = 12

_CSV_COLUMNS = (
    "variant",
    "table",
    "item",
    "metric",
    "mean",
    "low",
    "high",
    "difference",
    "difference_low",
    "difference_high",
    "distinguishable",
    "reps_needed",
)


def _num(metric: str, x, signed: bool = False) -> str:
    """A value (``12.5%`` for a rate) or, ``signed``, a difference (``+0.56 pp`` for a rate: percentage points)."""
    if not finite(x):
        return NA
    if metric in _PERCENT:
        return f"{100 * x:+.2f} pp" if signed else format(x, ".2%")
    text = fmt_number(x, 4)
    return f"+{text}" if signed and x > 0 else text


def _difference(metric: str, row: dict) -> str:
    """``+160.4 [+129.4, +191.4]``: the paired difference and its 95% interval."""
    if row.get("difference") is None:
        return NA
    if row["difference"] == 0 and row["difference_low"] == row["difference_high"]:
        return "0"
    text = _num(metric, row["difference"], signed=True)
    low, high = row["difference_low"], row["difference_high"]
    if finite(low) and finite(high) and low != high:
        unit = " pp" if metric in _PERCENT else ""
        text = text.removesuffix(unit)
        text += f" [{_num(metric, low, signed=True).removesuffix(unit)}, {_num(metric, high, signed=True)}]"
    return text


def _change(row: dict, ref: dict | None) -> str:
    """The difference relative to the baseline's mean (``+9.5%``)."""
    if ref is None or row.get("difference") is None or not finite(ref["mean"]) or ref["mean"] == 0:
        return NA
    if row["difference"] == 0:
        return "0"
    return f"{row['difference'] / abs(ref['mean']):+.1%}"


def verdict(row: dict, deterministic: bool) -> str:
    """``real``, ``noise (~N reps would tell)``, ``none`` (no difference at all) or ``exact`` (deterministic)."""
    if row.get("difference") is None:
        return "only here" if row.get("mean") is not None else NA
    if row["difference"] == 0 and row["difference_low"] == row["difference_high"]:
        return "none"
    if deterministic:
        return "exact"
    if row["distinguishable"] is None:
        return "? (needs >= 2 reps)"
    if row["distinguishable"]:
        return "real"
    need = row["reps_needed"]
    return f"noise (~{need:,} reps)" if need else "noise"


def render_comparison(comparison, console) -> None:
    """Print, per variant, its key figures and stages against the baseline's, then the moves by source that changed."""
    base = comparison.baseline
    det = base.deterministic
    reps = "exact expected values" if det else f"{base.reps} replications on common seeds"
    console.print(
        f"[bold]compare[/bold]  {base.name} (baseline) and {len(comparison.variants)} variant(s): engine "
        f"{base.engine}, {reps} (seed {base.seed}), {base.days} days; differences are variant - baseline, "
        f"paired, with 95% intervals"
    )
    base_rows = {(r["table"], r["item"], r["metric"]): r for r in comparison.rows if r["variant"] == base.name}
    for run in comparison.variants:
        sets = ", ".join(f"{k}={v}" for k, v in run.overrides.items()) or run.variant.scenario
        t = _table(f"{run.name} vs {base.name} ({sets})", "metric", base.name, run.name)
        for table, label in (("metrics", ""), ("stages_at_horizon", "stage ")):
            if table == "stages_at_horizon":
                t.add_section()
            for row in comparison.table(run.name, table):
                _add_row(t, f"{label}{row['metric']}", row, base_rows.get((table, row["item"], row["metric"])), det)
        print_table(console, t)
        _render_sources(comparison, run, base_rows, det, console)
    console.print(
        "Means over the replications; difference: variant - baseline, paired, 95% interval (pp: percentage "
        "points); real: the interval excludes 0; noise (~N reps): it does not, and about N replications would "
        "tell a difference of that size from noise (80% power). Per-version intervals and per-touchpoint "
        "figures: compare.json / compare.csv (--out)."
    )


def _table(title: str, first: str, base_name: str, name: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False)
    t.add_column(first, overflow="fold")
    t.add_column(base_name, justify="right", overflow="fold")
    t.add_column(name, justify="right", overflow="fold")
    t.add_column("difference [95%]", justify="right", overflow="fold")
    t.add_column("change", justify="right")
    t.add_column("verdict", overflow="fold")
    return t


def _add_row(t, label: str, row: dict, ref: dict | None, deterministic: bool) -> None:
    metric = row["metric"]
    base = NA if ref is None else _num(metric, ref["mean"])
    t.add_row(
        label, base, _num(metric, row["mean"]), _difference(metric, row), _change(row, ref), verdict(row, deterministic)
    )


def _render_sources(comparison, run, base_rows, det, console) -> None:
    base_name = comparison.baseline.name
    rows = [r for r in comparison.table(run.name, "sources") if r["metric"] == "moves"]
    changed = [r for r in rows if r.get("difference") is None or r["difference"] != 0]
    changed.sort(key=lambda r: -abs(r["difference"]) if r.get("difference") is not None else -abs(r["mean"] or 0))
    if not changed:
        console.print(f"moves by source: {run.name} moves customers exactly as {comparison.baseline.name} does")
        return
    t = _table(f"why: moves by source, {run.name} vs {comparison.baseline.name}", "source", base_name, run.name)
    for row in changed[:_TOP_SOURCES]:
        _add_row(t, row["item"], row, base_rows.get(("sources", row["item"], "moves")), det)
    print_table(console, t)
    rest = len(changed) - _TOP_SOURCES
    unchanged = len(rows) - len(changed)
    notes = []
    if rest > 0:
        notes.append(f"{rest} more sources changed")
    if unchanged:
        notes.append(f"{unchanged} sources moved exactly the same customers")
    if notes:
        console.print("; ".join(notes) + " (all in compare.csv)")


def comparison_rows(comparison) -> tuple[list[str], list[list]]:
    """``compare.csv``: one row per variant, table, item and metric (long format)."""
    return list(_CSV_COLUMNS), [[row.get(c) for c in _CSV_COLUMNS] for row in comparison.rows]


def write_comparison(comparison, out_dir, *, plot: bool = False, report: bool = False) -> list:
    """Write ``compare.json``, ``compare.csv``, with ``plot`` ``compare.png`` and with ``report`` ``report.html``
    (built from the files just written, :mod:`jsim.report.html`) into ``out_dir`` as one set."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json

    names = ["compare.json", "compare.csv"]
    with output_set(out_dir, replaces=COMPARE_FILES) as out:
        atomic_write(out / "compare.json", to_json(comparison.as_json()))
        atomic_write(out / "compare.csv", csv_text(*comparison_rows(comparison)))
        if plot:
            from ..plot.compare import plot_comparison

            plot_comparison(comparison, out / "compare.png")
            names.append("compare.png")
        if report:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]
