"""One call that does what ``jsim run`` does: load, compile, simulate, summarise, write."""

from __future__ import annotations

__all__ = ["run_scenario", "progress_bar"]

import sys
from contextlib import contextmanager
from pathlib import Path

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


def run_scenario(
    path, *, customers=None, days=None, seed=0, reps=1, engine="fast", journeys=0, out=None, plot=False, progress=False
):
    """Run a scenario file end to end.

    Returns ``(summary, result, written)``: the summary dict, the SimulationResult and the paths
    written into ``out`` (empty without ``out``). Raises :class:`~jsim.errors.ScenarioError`
    before anything is written when the file or an override is invalid, and
    :class:`~jsim.errors.ResourceError` before compiling or simulating what cannot fit in memory.
    With ``progress``, a run estimated to take more than a minute is announced on stderr.
    """
    from .analysis import summarise
    from .engine import simulate
    from .engine.resources import SLOW_SECONDS, check_compile, check_resources, format_bytes
    from .model import compile_scenario
    from .scenario import load_scenario

    scenario = load_scenario(path)
    check_compile(scenario, customers=customers, days=days)
    model = compile_scenario(scenario, customers=customers, days=days)
    est = check_resources(model, engine, reps, journeys)  # simulate checks again: microseconds
    if progress and est.seconds > SLOW_SECONDS:
        print(
            f"note: this run is estimated to take about {_duration(est.seconds)} and {format_bytes(est.bytes_peak)} "
            f"({est.customer_days:.2g} customer-days, engine {est.engine})",
            file=sys.stderr,
        )
    with progress_bar(progress, f"simulating {model.name}") as report:
        result = simulate(model, seed=seed, reps=reps, engine=engine, journeys=journeys, progress=report)
    summary = summarise(result)
    summary["jsim_version"] = __version__
    summary["scenario_file"] = str(path)
    written = []
    if out:
        from .io import write_run

        written = write_run(out, summary, result)
        if plot:
            from .plot import plot_funnel

            plot_funnel(result, Path(out) / "funnel.png")
            written.append(Path(out) / "funnel.png")
    return summary, result, written
