"""What ``jsim calibrate`` prints and writes: fitted values with intervals, the fitted scenario, the series."""

from __future__ import annotations

__all__ = [
    "CALIBRATION_FILES",
    "render_calibration",
    "write_calibration",
    "fitted_rows",
    "posterior_rows",
    "fitted_text",
]

import math

from ._numbers import NA, finite, print_table

#: Every file :func:`write_calibration` may write (the previous set's, in a folder without a manifest).
CALIBRATION_FILES = (
    "calibration.json",
    "fitted.toml",
    "fitted.csv",
    "posterior.csv",
    "calibration.png",
    "report.html",
)


def _v(x) -> str:
    return format(float(x), ".6g") if finite(x) else NA


def render_calibration(result, console) -> None:
    """Print the fitted values with their 95% intervals, the fit's figures and the warnings."""
    from rich.table import Table

    kind = "95% credible interval (ABC-SMC posterior)" if result.method == "abc" else "95% interval (Laplace)"
    console.print(
        f"[bold]calibration[/bold] ({result.method})  {result.scenario} to {result.data}: "
        f"{result.n_observations:,} observed cells in {len(result.columns)} series; engine {result.engine}"
        + (f", {result.reps} replications on common seeds" if result.reps > 1 else "")
        + f"; {result.simulations:,} simulations in {result.seconds:.1f} s (seed {result.seed})"
    )
    t = Table(show_edge=False)
    t.add_column("parameter", overflow="fold")
    t.add_column("estimate", justify="right")
    t.add_column(kind, justify="right")
    t.add_column("range", justify="right")
    for p in result.params:
        e = result.parameters[p.key]
        flag = "" if e["identifiable"] else "  (not identifiable)"
        t.add_row(p.key, _v(e["estimate"]), f"{_v(e['low'])} .. {_v(e['high'])}{flag}", f"{p.low:g}..{p.high:g}")
    print_table(console, t)
    console.print(
        f"deviance {result.deviance:,.2f} on {result.n_observations:,} cells "
        f"(Poisson; dispersion up to {max(result.dispersion.values()):.3g} per series)"
        + (f"; revenue counted in orders of {result.revenue_unit:,.2f}" if result.revenue_unit else "")
    )
    for w in result.warnings:
        console.print(f"[yellow]warning[/yellow]: {w}")
    for note in result.notes:
        console.print(f"note: {note}")


def fitted_rows(result) -> tuple[list[str], list[list]]:
    """``fitted.csv``: ``day, series, observed, fitted`` for every day 0..horizon and observed column."""
    observed = {int(d): row for d, row in zip(result.observed_days, result.observed)}
    rows = []
    for t in range(result.fitted.shape[0]):
        for c, name in enumerate(result.columns):
            y = observed[t][c] if t in observed else math.nan
            rows.append([t, name, "" if not math.isfinite(y) else y, round(float(result.fitted[t, c]), 6)])
    return ["day", "series", "observed", "fitted"], rows


def posterior_rows(result) -> tuple[list[str], list[list]]:
    """``posterior.csv`` (abc): one row per particle of the last population: the KEYs, then ``weight``."""
    header = [p.key for p in result.params] + ["weight"]
    w = result.weights / result.weights.sum()
    return header, [[*(float(x) for x in row), float(wi)] for row, wi in zip(result.posterior, w)]


def fitted_text(result, data: dict) -> str:
    """``fitted.toml``: the scenario file with its ``--set`` overrides and the fitted values written into it."""
    from ..scenario.edit import scenario_text_with

    header = [f"fitted by jsim calibrate ({result.method}, engine {result.engine}) to {result.data}:"]
    for p in result.params:
        e = result.parameters[p.key]
        header.append(f"  {p.key} = {_v(e['estimate'])}  (95% interval {_v(e['low'])} .. {_v(e['high'])})")
    header += [f"warning: {w}" for w in result.warnings]
    pairs = [*result.overrides.items(), *result.values()]
    return scenario_text_with(result.scenario, data, pairs, header)


def write_calibration(result, out_dir, *, data: dict, plot: bool = False, report: bool = False) -> list:
    """Write ``calibration.json``, ``fitted.toml``, ``fitted.csv`` (abc: ``posterior.csv``; ``plot``:
    ``calibration.png``; ``report``: ``report.html``) into ``out_dir`` as one set."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json

    names = ["calibration.json", "fitted.toml", "fitted.csv"]
    with output_set(out_dir, replaces=CALIBRATION_FILES) as out:
        atomic_write(out / "calibration.json", to_json(result.as_json(settings=True)))
        atomic_write(out / "fitted.toml", fitted_text(result, data))
        atomic_write(out / "fitted.csv", csv_text(*fitted_rows(result)))
        if result.posterior is not None:
            atomic_write(out / "posterior.csv", csv_text(*posterior_rows(result)))
            names.append("posterior.csv")
        if plot:
            from ..plot.calibrate import plot_calibration

            plot_calibration(result, out / "calibration.png")
            names.append("calibration.png")
        if report:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]
