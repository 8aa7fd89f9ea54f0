"""One call that does what ``jsim run`` does: load, compile, simulate, summarise, write."""

from __future__ import annotations

__all__ = ["run_scenario", "prepare", "progress_bar"]

import sys
from contextlib import contextmanager

from . import __version__


@contextmanager
def progress_bar(enabled: bool, label: str):
    """A rich progress bar on stderr yielding ``report(fraction)``, or None when disabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)


def _duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def prepare(path, *, customers=None, days=None, overrides=()):
    """Every check ``jsim run`` makes of a scenario before its run, in order: ``(scenario, model, warnings)``.

    Loads the file with its ``--set`` overrides, checks that the model's arrays fit in memory,
    compiles the model and its calendar (over ``days`` when given) and lists the scenario's
    warnings. ``jsim validate`` calls the same, so a file it accepts is not rejected by ``run``.

    Raises
    ------
    ScenarioError, ResourceError
    """
    from .engine.resources import check_compile
    from .model import compile_scenario
    from .scenario import load_scenario, scenario_warnings

    scenario = load_scenario(path, overrides)
    check_compile(scenario, customers=customers, days=days)
    model = compile_scenario(scenario, customers=customers, days=days)
    return scenario, model, scenario_warnings(scenario, days=days)


def run_scenario(
    path,
    *,
    customers=None,
    days=None,
    seed=0,
    reps=1,
    engine="fast",
    journeys=0,
    out=None,
    plot=False,
    progress=False,
    strict=False,
    overrides=(),
):
    """Run a scenario file end to end.

    Returns ``(summary, result, written)``: the summary dict, the SimulationResult and the paths
    written into ``out`` (empty without ``out``), one set that replaces the folder's previous one
    (:func:`jsim.io.output_set`). Raises :class:`~jsim.errors.ScenarioError` before anything is
    written when the file or an override is invalid, :class:`~jsim.errors.InputError` before
    simulating when ``out`` cannot be created or written, :class:`~jsim.errors.OutputError` when
    a file could not be written (``out`` then keeps its previous contents). The scenario's
    warnings (:func:`jsim.scenario.scenario_warnings`) are printed on stderr before simulating,
    or raised as a ScenarioError with ``strict``. ``overrides`` (``KEY=VALUE`` texts, ``--set``)
    change the scenario as an edited copy of the file would; ``summary["overrides"]`` records
    them. Raises :class:`~jsim.errors.ResourceError` before compiling or simulating what cannot
    fit in memory; with ``progress``, a run estimated to take more than a minute is announced on
    stderr.
    """
    from .analysis import summarise
    from .engine import simulate
    from .engine.resources import SLOW_SECONDS, check_resources, format_bytes
    from .scenario import parse_override, warnings_as_error

    scenario, model, warnings = prepare(path, customers=customers, days=days, overrides=overrides)
    if strict and warnings:
        raise warnings_as_error(warnings, source=str(path))
    for issue in warnings:
        print(f"warning: {path}: {issue}", file=sys.stderr)
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    est = check_resources(model, engine, reps, journeys)
    if progress and est.seconds > SLOW_SECONDS:
        print(
            f"note: this run is estimated to take about {_duration(est.seconds)} and {format_bytes(est.bytes_peak)} "
            f"({est.customer_days:.2g} customer-days, engine {est.engine})",
            file=sys.stderr,
        )
    with progress_bar(progress, f"simulating {model.name}") as report:
        result = simulate(
            model, seed=seed, reps=reps, engine=engine, journeys=journeys, progress=report, check_memory=False
        )
    summary = summarise(result)
    summary["jsim_version"] = __version__
    summary["scenario_file"] = str(path)
    summary["overrides"] = dict(parse_override(text) for text in overrides)  # KEY: VALUE, as --set gave them
    written = []
    if out:
        from .io import write_run

        extra = {}
        if plot:
            from .plot import plot_funnel

            extra["funnel.png"] = lambda path: plot_funnel(result, path)
        written = write_run(out, summary, result, extra=extra)
    return summary, result, written
