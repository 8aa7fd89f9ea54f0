"""What ``jsim sweep`` prints and writes: each metric across the grid, with 95% intervals."""

from __future__ import annotations

__all__ = ["SWEEP_FILES", "render_sweep", "write_sweep", "sweep_rows", "fmt_metric"]

from ._numbers import NA, finite, fmt_number, print_table

#: Every file :func:`write_sweep` may write (the previous set's, in a folder without a manifest).
SWEEP_FILES = ("sweep.csv", "sweep.json", "sweep.png", "report.html")

#: metrics shown as percentages
PERCENT = {"conversion_rate", "retention_rate", "roi"}


def fmt_metric(metric: str, x, signed: bool = False) -> str:
    """A metric's value as the tables show it: ``12.5%`` for a rate, ``1,234`` otherwise (``+`` when ``signed``)."""
    if not finite(x):
        return NA
    if metric in PERCENT:
        return f"{100 * x:+.2f} pp" if signed else format(x, ".2%")
    text = fmt_number(x, 4)
    return f"+{text}" if signed and x > 0 else text


def _cell(row: dict, deterministic: bool) -> str:
    """``1,724 [1,700, 1,748]``, or the exact value."""
    metric = row["metric"]
    text = fmt_metric(metric, row["mean"])
    if deterministic or not (finite(row["low"]) and finite(row["high"])):
        return text
    return f"{text} [{fmt_metric(metric, row['low'])}, {fmt_metric(metric, row['high'])}]"


def _difference(row: dict, deterministic: bool) -> str:
    """``+157.8 [+120.1, +195.5]`` (paired, to the first grid point)."""
    metric, d = row["metric"], row["difference"]
    if not finite(d):
        return NA
    if d == 0 and row["difference_low"] == row["difference_high"]:
        return "0"
    text = fmt_metric(metric, d, signed=True)
    low, high = row["difference_low"], row["difference_high"]
    if deterministic or not (finite(low) and finite(high)):
        return text
    mark = "" if row["distinguishable"] else " ~"
    return f"{text} [{fmt_metric(metric, low, signed=True)}, {fmt_metric(metric, high, signed=True)}]{mark}"


def _value(v) -> str:
    return fmt_number(v, 6) if isinstance(v, float) else str(v)


def render_sweep(sweep, console) -> None:
    """Print the sweep: a table per metric (one KEY: rows are grid values; two KEYs: a grid of means)."""
    from rich.table import Table

    base = sweep.runs[0]
    det = sweep.deterministic
    how = "exact expected values" if det else f"{base.reps} replications on common seeds, means with 95% intervals"
    console.print(
        f"[bold]sweep[/bold]  {sweep.scenario}: {len(sweep.points)} grid points, engine {base.engine}, {how} "
        f"(seed {base.seed}), {base.days} days"
    )
    keys = sweep.keys
    for m in sweep.metrics:
        rows = [r for r in sweep.rows if r["metric"] == m.name]
        if len(keys) == 1:
            t = Table(title=m.name, title_justify="left", show_edge=False)
            t.add_column(keys[0], justify="right", overflow="fold")
            t.add_column(m.name if det else f"{m.name} [95%]", justify="right")
            t.add_column(f"vs {keys[0].rsplit('.', 1)[-1]}={_value(sweep.points[0][0])}", justify="right")
            for r in rows:
                t.add_row(_value(r[keys[0]]), _cell(r, det), _difference(r, det))
        else:
            first, second = sweep.params
            t = Table(title=f"{m.name}: rows {first.key}, columns {second.key}", title_justify="left", show_edge=False)
            t.add_column(first.key.rsplit(".", 1)[-1], justify="right")
            for v in second.values:
                t.add_column(_value(v), justify="right")
            by_point = {(r[keys[0]], r[keys[1]]): r for r in rows}
            for v1 in first.values:
                cells = []
                for v2 in second.values:
                    r = by_point[(v1, v2)]
                    half = _half(r)
                    cells.append(fmt_metric(m.name, r["mean"]) + ("" if det or half is None else f" ±{half}"))
                t.add_row(_value(v1), *cells)
        print_table(console, t)
    notes = ["sweep.csv (--out) holds every point with its interval and its paired difference to the first point"]
    if not det and len(keys) == 1:
        notes.insert(
            0, "vs: paired difference to the first grid point, 95% interval (~: not distinguishable from noise)"
        )
    elif not det:
        notes.insert(0, "±: half-width of the 95% interval")
    console.print("; ".join(notes) + ".")


def _half(row: dict) -> str | None:
    if not (finite(row["low"]) and finite(row["high"])):
        return None
    half = (row["high"] - row["low"]) / 2
    return fmt_metric(row["metric"], half)


def sweep_rows(sweep) -> tuple[list[str], list[list]]:
    """``sweep.csv``: one row per grid point and metric (long format)."""
    columns = sweep.columns()
    return columns, [[row.get(c) for c in columns] for row in sweep.rows]


def write_sweep(sweep, out_dir, *, plot: bool = False, report: bool = False) -> list:
    """Write ``sweep.csv``, ``sweep.json``, with ``plot`` ``sweep.png`` and with ``report`` ``report.html``
    into ``out_dir`` as one set."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json

    names = ["sweep.csv", "sweep.json"]
    with output_set(out_dir, replaces=SWEEP_FILES) as out:
        atomic_write(out / "sweep.csv", csv_text(*sweep_rows(sweep)))
        atomic_write(out / "sweep.json", to_json(sweep.as_json()))
        if plot:
            from ..plot.sweep import plot_sweep

            plot_sweep(sweep, out / "sweep.png")
            names.append("sweep.png")
        if report:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]
