"""One call that does what ``jsim run`` does: load, compile, simulate, summarise, write."""

from __future__ import annotations

__all__ = [
    "run_scenario",
    "compare_scenarios",
    "prepare",
    "run_summary",
    "progress_bar",
    "sweep_scenario",
    "sensitivity_scenario",
    "attribute_paths",
    "attribute_scenario",
    "calibrate_scenario",
]

import os
import sys
from contextlib import contextmanager

from . import __version__


@contextmanager
def progress_bar(enabled: bool, label: str):
    """A rich progress bar on stderr yielding ``advance(fraction)``, or None when disabled."""
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


def prepare(path, *, customers=None, days=None, overrides=(), data=None):
    """Every check ``jsim run`` makes of a scenario before its run, in order: ``(scenario, model, warnings)``.

    Loads the file with its ``--set`` overrides, checks that the model's arrays fit in memory,
    compiles the model and its calendar (over ``days`` when given) and lists the scenario's
    warnings. ``jsim validate`` calls the same, so a file it accepts is not rejected by ``run``.
    ``data`` (:func:`jsim.scenario.read_scenario_data` of ``path``) skips reading the file again.

    Raises
    ------
    ScenarioError, ResourceError
    """
    from .engine.resources import check_compile
    from .model import compile_scenario
    from .scenario import load_scenario, scenario_warnings, scenario_with

    scenario = load_scenario(path, overrides) if data is None else scenario_with(data, str(path), overrides)
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
    report=False,
    progress=False,
    strict=False,
    overrides=(),
    paths=None,
    scheduler=None,
    workers=None,
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
    stderr. ``paths`` (a file name, with ``journeys``) receives the traced journeys as attribution
    paths (:func:`jsim.analysis.truth.journey_paths`, the format ``jsim attribute`` reads,
    non-converting paths included); it is the last file written. ``report`` (with ``out``) adds
    ``report.html`` to the set, built from the set's files (:func:`jsim.report.html.write_html_report`).
    ``scheduler`` (a ``tcp://HOST:PORT`` address) or ``workers`` (N local processes) run the
    replications as Dask tasks (:mod:`jsim.engine.distributed`), with the same numbers.
    """
    from .engine import simulate
    from .engine.distributed import check_cluster_args, connect
    from .engine.resources import SLOW_SECONDS, check_resources, format_bytes
    from .scenario import warnings_as_error

    check_cluster_args(scheduler, workers)
    scenario, model, warnings = prepare(path, customers=customers, days=days, overrides=overrides)
    if strict and warnings:
        raise warnings_as_error(warnings, source=str(path))
    for issue in warnings:
        print(f"warning: {path}: {issue}", file=sys.stderr)
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    if paths:
        _check_paths_file(paths, journeys)
    est = check_resources(model, engine, reps, journeys)
    if progress and est.seconds > SLOW_SECONDS:
        print(
            f"note: this run is estimated to take about {_duration(est.seconds)} and {format_bytes(est.bytes_peak)} "
            f"({est.customer_days:.2g} customer-days, engine {est.engine})",
            file=sys.stderr,
        )
    with connect(scheduler, workers) as cluster, progress_bar(progress, f"simulating {model.name}") as advance:
        result = simulate(
            model,
            seed=seed,
            reps=reps,
            engine=engine,
            journeys=journeys,
            progress=advance,
            check_memory=False,
            cluster=cluster,
        )
    summary = run_summary(result, path, overrides, scenario)
    written = []
    if out:
        from .io import write_run

        extra = {}
        if plot:
            from .plot import plot_funnel

            extra["funnel.png"] = lambda path: plot_funnel(result, path)
        if report:
            from .report.html import REPORT_NAME, write_html_report

            extra[REPORT_NAME] = lambda path: write_html_report(
                path.parent, path, label=os.path.basename(os.path.normpath(out))
            )
        written = write_run(out, summary, result, extra=extra)
    if paths:
        from .analysis.truth import journey_paths
        from .io.paths import write_paths

        write_paths(journey_paths(result.journeys).table, paths)
    return summary, result, written


def run_summary(result, path, overrides=(), scenario=None) -> dict:
    """What ``jsim run --format json`` prints for ``result``, a run of file ``path`` with ``--set`` ``overrides``.

    With the ``scenario`` (validated), ``calendar`` lists its flights and events within the horizon
    (:func:`jsim.analysis.summary.calendar_marks`: what a report marks on its charts).
    """
    from .analysis import summarise
    from .analysis.summary import calendar_marks
    from .scenario import parse_override

    summary = summarise(result)
    summary["jsim_version"] = __version__
    summary["scenario_file"] = str(path)
    summary["overrides"] = dict(parse_override(text) for text in overrides)  # KEY: VALUE, as --set gave them
    if scenario is not None:
        summary["calendar"] = calendar_marks(scenario, result.model.n_days)
    return summary


def _check_paths_file(paths, journeys) -> None:
    """``--paths FILE`` needs traced journeys and a folder it can be written into (checked before simulating)."""
    import os
    from pathlib import Path

    from .errors import InputError

    if not journeys:
        raise InputError(
            f"--paths {paths}: the paths are the traced journeys, got --journeys 0 (add e.g. --journeys 20000)",
            params=("journeys",),
        )
    folder = Path(paths).parent
    if not folder.is_dir() or not os.access(folder, os.W_OK) or Path(paths).is_dir():
        raise InputError(
            f"--paths {paths}: must be a file in an existing folder this user can write, got folder '{folder}' "
            "(create the folder or name another file)",
            params=("paths",),
        )


def _announce(warnings_by_source, strict: bool) -> None:
    """Print each variant's scenario warnings on stderr, or raise them as an error with ``strict``."""
    from .scenario import warnings_as_error

    for source, warnings in warnings_by_source:
        if strict and warnings:
            raise warnings_as_error(warnings, source=source)
    shown = set()
    for source, warnings in warnings_by_source:
        for issue in warnings:
            line = f"warning: {source}: {issue}"
            if line not in shown:  # variants of one file share its warnings: say each once
                shown.add(line)
                print(line, file=sys.stderr)


def compare_scenarios(
    baseline,
    others=(),
    *,
    variants=(),
    customers=None,
    days=None,
    seed=0,
    reps=10,
    engine="fast",
    out=None,
    plot=False,
    report=False,
    progress=False,
    strict=False,
    overrides=(),
    scheduler=None,
    workers=None,
):
    """What ``jsim compare`` does: run the baseline, other files and ``--variant``s on common seeds and compare.

    ``baseline`` and ``others`` are scenario files (each reported under its file's stem);
    ``variants`` are ``NAME:KEY=VALUE[,KEY=VALUE...]`` texts, changes of the baseline;
    ``overrides`` (``--set``) apply to every one of them first. Everything is checked (files,
    overrides, memory, ``out``) before anything is simulated. Returns ``(comparison, written)``;
    ``report`` (with ``out``) adds ``report.html`` to the set. ``scheduler`` or ``workers`` run
    every (version, replication) as a Dask task (:mod:`jsim.engine.distributed`), same numbers.

    Raises
    ------
    ScenarioError, InputError, ResourceError
        Before simulating: an invalid file, override, variant, flag or output folder.
    """
    from pathlib import Path

    from .analysis.compare import compare_runs
    from .analysis.variants import Variant, check_variants, parse_variant, run_variants
    from .engine import get_engine
    from .engine.distributed import check_cluster_args, connect
    from .errors import InputError

    check_cluster_args(scheduler, workers)
    common = tuple(overrides)
    todo = [Variant(Path(p).stem, str(p), common) for p in (baseline, *others)]
    for text in variants:
        v = parse_variant(text, str(baseline))
        todo.append(Variant(v.name, v.scenario, common + v.overrides))
    if len(todo) < 2:
        raise InputError(
            "compare needs something to compare the baseline with, got only "
            f"{baseline} (add another scenario file or a --variant NAME:KEY=VALUE)",
            params=("variants",),
        )
    if get_engine(engine).stochastic and reps < 2:
        raise InputError(
            f"compare with engine {engine!r} needs at least 2 replications to tell a difference from noise, "
            f"got {reps} (e.g. --reps 10; or --engine mean-field for exact expected values)",
            params=("reps",),
        )
    checked = check_variants(todo, customers=customers, days=days)
    _announce([(c.variant.scenario + _with(c.variant, common), c.warnings) for c in checked], strict)
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    with connect(scheduler, workers) as cluster, progress_bar(progress, f"comparing {len(todo)} versions") as advance:
        runs = run_variants(
            todo,
            customers=customers,
            days=days,
            seed=seed,
            reps=reps,
            engine=engine,
            progress=advance,
            checked=checked,
            cluster=cluster,
        )
    comparison = compare_runs(runs)
    written = []
    if out:
        from .report.compare import write_comparison

        written = write_comparison(comparison, out, plot=plot, report=report)
    return comparison, written


def _with(variant, common) -> str:
    own = [o if isinstance(o, str) else f"{o[0]}={o[1]}" for o in variant.overrides[len(common) :]]
    return f" (variant {variant.name}: {', '.join(own)})" if own else ""


def sweep_scenario(
    scenario,
    params,
    metrics,
    *,
    customers=None,
    days=None,
    seed=0,
    reps=10,
    engine="fast",
    out=None,
    report=False,
    plot=False,
    progress=False,
    strict=False,
    overrides=(),
    scheduler=None,
    workers=None,
):
    """What ``jsim sweep`` does: run a grid over one or two ``--param`` KEYs on common seeds.

    ``params`` are ``KEY=START:STOP:N`` texts, ``metrics`` ``--metric`` names
    (:mod:`jsim.analysis.metric_paths`), ``overrides`` ``--set`` texts applied before the swept
    values. Every grid point, the metrics and ``out`` are checked before anything is simulated.
    ``scheduler`` or ``workers`` run every (grid point, replication) as a Dask task
    (:mod:`jsim.engine.distributed`), same numbers. Returns ``(sweep, written)``.

    Raises
    ------
    ScenarioError, InputError, ResourceError
        Before simulating: a bad ``--param``, KEY, grid value, metric, flag or output folder.
    """
    from .analysis.metric_paths import parse_metrics
    from .analysis.params import check_param_keys, parse_sweep_param
    from .analysis.sweep import sweep_of_runs, sweep_variants
    from .analysis.variants import check_variants, run_variants
    from .engine.distributed import check_cluster_args, connect
    from .engine.resources import check_compile
    from .model import compile_scenario
    from .scenario import parse_override, read_scenario_data

    check_cluster_args(scheduler, workers)
    grid = [parse_sweep_param(text) for text in params]
    variants, points = sweep_variants(str(scenario), grid, overrides)
    common = [parse_override(text) for text in overrides]
    check_param_keys(read_scenario_data(scenario), str(scenario), common, [(p.key, p.values[0]) for p in grid])
    checked = check_variants(variants, customers=customers, days=days)
    check_compile(checked[0].scenario, customers=customers, days=days)
    paths = parse_metrics(metrics, compile_scenario(checked[0].scenario, customers=customers, days=days))
    _announce(_grid_warnings(str(scenario), checked, len(common)), strict)
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    with (
        connect(scheduler, workers) as cluster,
        progress_bar(progress, f"sweeping {len(variants)} grid points") as advance,
    ):
        runs = run_variants(
            variants,
            customers=customers,
            days=days,
            seed=seed,
            reps=reps,
            engine=engine,
            progress=advance,
            checked=checked,
            cluster=cluster,
        )
    sweep = sweep_of_runs(str(scenario), grid, points, paths, runs)
    written = []
    if out:
        from .report.sweep import write_sweep

        written = write_sweep(sweep, out, plot=plot, report=report)
    return sweep, written


def _grid_warnings(source: str, checked, n_common: int) -> list:
    """``(source, warnings)`` pairs: a warning of every grid point once for the file, others at their points."""
    everywhere = set.intersection(*(set(map(str, c.warnings)) for c in checked)) if checked else set()
    out = [(source, [w for w in checked[0].warnings if str(w) in everywhere])] if checked else []
    for c in checked:
        own = [w for w in c.warnings if str(w) not in everywhere]
        if own:
            at = ", ".join(f"{k}={v}" for k, v in c.variant.overrides[n_common:])
            out.append((f"{source} (at {at})", own))
    return out


def sensitivity_scenario(
    scenario,
    params,
    metrics,
    *,
    method="sobol",
    samples=None,
    levels=None,
    customers=None,
    days=None,
    seed=0,
    reps=1,
    engine="mean-field",
    out=None,
    report=False,
    plot=False,
    progress=False,
    strict=False,
    overrides=(),
    scheduler=None,
    workers=None,
):
    """What ``jsim sensitivity`` does: vary ``--param`` KEYs over LOW:HIGH and measure the metrics' response.

    ``params`` are ``KEY=LOW:HIGH`` texts; ``method`` ``oat``, ``morris`` or ``sobol``
    (:mod:`jsim.analysis.sensitivity`). The parameters, metrics, every sample point and ``out``
    are checked before anything is simulated. ``scheduler`` or ``workers`` run every point's
    replications as Dask tasks (:mod:`jsim.engine.distributed`), same numbers. Returns
    ``(sensitivity, written)``.

    Raises
    ------
    ScenarioError, InputError, ResourceError
        Before simulating: a bad ``--param``, KEY, range, metric, flag, sample point or output folder.
    """
    from .analysis.sensitivity import check_samples, run_sensitivity, setup_problem
    from .engine.distributed import check_cluster_args, connect

    check_cluster_args(scheduler, workers)

    problem = setup_problem(scenario, params, metrics, overrides=overrides, customers=customers, days=days)
    check_samples(method, samples, levels, len(problem.params))
    _announce([(str(scenario), problem.warnings)], strict)
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    with (
        connect(scheduler, workers) as cluster,
        progress_bar(progress, f"sensitivity ({method}) of {len(problem.params)} parameters") as advance,
    ):
        result = run_sensitivity(
            problem,
            method=method,
            samples=samples,
            levels=levels,
            customers=customers,
            days=days,
            seed=seed,
            reps=reps,
            engine=engine,
            progress=advance,
            cluster=cluster,
        )
    written = []
    if out:
        from .report.sensitivity import write_sensitivity

        written = write_sensitivity(result, out, plot=plot, report=report)
    return result, written


def attribute_paths(
    paths_file,
    *,
    methods=("all",),
    order=1,
    half_life=7.0,
    path_col=None,
    conv_col=None,
    value_col=None,
    null_col=None,
    times_col=None,
    out=None,
    report=False,
):
    """What ``jsim attribute`` does: read a path file, attribute its conversions, write the set into ``out``.

    The columns and the output folder are checked before anything is computed. Returns
    ``(attribution, written)``.

    Raises
    ------
    InputError
        A bad file, row or column (naming line and column), method, order or output folder.
    """
    from .analysis.attribution import attribute
    from .io.paths import read_paths

    if out:
        from .io import check_output_dir

        check_output_dir(out)
    table = read_paths(
        paths_file, path_col=path_col, conv_col=conv_col, value_col=value_col, null_col=null_col, times_col=times_col
    )
    attribution = attribute(table, methods=methods, order=order, half_life=half_life)
    written = []
    if out:
        from .report.attribution import write_attribution

        written = write_attribution(attribution, out, report=report)
    return attribution, written


#: traced journeys ``jsim attribute --scenario`` attributes by default (at most the population)
DEFAULT_ATTRIBUTION_JOURNEYS = 50_000

#: attribution method -> the key of its attributed conversions in an Attribution's channel rows
_CREDIT_KEYS = {
    "markov": "markov_conversions",
    "shapley": "shapley",
    "first": "first_touch",
    "last": "last_touch",
    "linear": "linear",
    "position": "position",
    "time-decay": "time_decay",
}


def attribute_scenario(
    scenario,
    *,
    journeys=None,
    reps=10,
    engine="fast",
    methods=("all",),
    order=1,
    half_life=7.0,
    customers=None,
    days=None,
    seed=0,
    out=None,
    report=False,
    progress=False,
    strict=False,
    overrides=(),
):
    """What ``jsim attribute --scenario`` does: attribute simulated journeys and set each method beside the truth.

    Traces ``journeys`` customers (default the smaller of the population and
    :data:`DEFAULT_ATTRIBUTION_JOURNEYS`) on ``seed``, turns them into paths
    (:func:`jsim.analysis.truth.journey_paths`: non-converting paths included), attributes them
    (:func:`jsim.analysis.attribution.attribute`), and runs the truth
    (:func:`jsim.analysis.truth.true_contributions`: every touchpoint switched off on the same
    ``reps`` seeds). ``out`` gets the attribution files, ``paths.csv`` (the exported journeys, the
    path format with a ``times`` column) and ``truth.csv``. Returns ``(attribution, against,
    paths, written)``.

    Raises
    ------
    ScenarioError, InputError, ResourceError
        Before simulating: an invalid file, override, flag, or output folder.
    """
    from .analysis.attribution import METHODS, attribute
    from .analysis.truth import against_truth, journey_paths, true_contributions
    from .engine import simulate
    from .engine.resources import check_resources
    from .errors import InputError
    from .scenario import warnings_as_error

    scenario_, model, warnings = prepare(scenario, customers=customers, days=days, overrides=overrides)
    if strict and warnings:
        raise warnings_as_error(warnings, source=str(scenario))
    for issue in warnings:
        print(f"warning: {scenario}: {issue}", file=sys.stderr)
    population = int(model.initial.sum())
    k = journeys if journeys is not None else max(1, min(population, DEFAULT_ATTRIBUTION_JOURNEYS))
    if not 1 <= k <= 1_000_000:
        raise InputError(f"--journeys must be within [1, 1000000], got {k}", params=("journeys",))
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    check_resources(model, engine, reps, k)
    chosen = list(METHODS) if "all" in methods else list(methods)
    with progress_bar(progress, f"attribution against the truth: {model.name}") as advance:
        traced = simulate(model, seed=seed, reps=1, journeys=k, check_memory=False)
        paths = journey_paths(traced.journeys)
        if advance is not None:
            advance(0.1)
        attribution = attribute(paths.table, methods=chosen, order=order, half_life=half_life)
        truth = true_contributions(
            model,
            seed=seed,
            reps=reps,
            engine=engine,
            progress=None if advance is None else (lambda f: advance(0.1 + 0.9 * f)),
        )
    credits = {
        method: {c.channel: float(c.values[_CREDIT_KEYS[method]]) for c in attribution.channels}
        for method in attribution.methods
        if method in _CREDIT_KEYS
    }
    scale = truth.prospects.mean / paths.prospects if paths.prospects else float("nan")
    against = against_truth(truth, credits, scale=scale)
    written = []
    if out:
        from .report.attribution import write_attribution_against_truth

        written = write_attribution_against_truth(attribution, against, paths, out, report=report)
    return attribution, against, paths, written


def calibrate_scenario(
    scenario,
    data,
    fits,
    *,
    method="optuna",
    trials=None,
    population=None,
    generations=None,
    customers=None,
    days=None,
    seed=0,
    reps=1,
    engine="mean-field",
    out=None,
    report=False,
    plot=False,
    progress=False,
    strict=False,
    overrides=(),
    scheduler=None,
    workers=None,
    batch=1,
):
    """What ``jsim calibrate`` does: fit ``--fit`` KEYs (``KEY=LOW:HIGH`` texts) to the observed series in ``data``.

    The scenario, the ranges, the observed file, pyabc (``method="abc"``) and ``out`` are checked
    before anything is simulated (:mod:`jsim.analysis.calibrate`). ``scheduler`` or ``workers`` run
    each evaluation's replications as Dask tasks (:mod:`jsim.engine.distributed`), same numbers;
    ``batch`` trials of the point fit are evaluated side by side (there, or in threads).
    Returns ``(calibration, written)``.

    Raises
    ------
    ScenarioError, InputError, ResourceError
        Before simulating: a bad ``--fit``, KEY, range, observed file, flag or output folder.
    """
    from .analysis.calibrate import run_calibration, setup_calibration
    from .engine.distributed import check_cluster_args, connect
    from .errors import InputError

    check_cluster_args(scheduler, workers)

    problem = setup_calibration(scenario, data, fits, overrides=overrides, customers=customers, days=days)
    _announce([(str(scenario), problem.warnings)], strict)
    if method == "abc":
        import importlib.util

        if importlib.util.find_spec("pyabc") is None:
            raise InputError(
                "--method abc needs pyabc, which is not installed (pip install 'jsim[abc]', or use --method optuna)",
                params=("method",),
            )
    if engine == "mean-field" and (problem.model.services or len(problem.model.wom_from)):
        print(
            f"note: {scenario} has word of mouth or service queues: the mean-field engine fits their large-population "
            "limit (for a small population use --engine fast --reps N, fitted on common random numbers)",
            file=sys.stderr,
        )
    if out:
        from .io import check_output_dir

        check_output_dir(out)
    label = "calibrating" if method == "optuna" else "calibrating (point fit, then ABC-SMC)"
    with (
        connect(scheduler, workers) as cluster,
        progress_bar(progress, f"{label} {len(problem.params)} parameters") as advance,
    ):
        result = run_calibration(
            problem,
            method=method,
            trials=trials,
            population=population,
            generations=generations,
            customers=customers,
            days=days,
            seed=seed,
            reps=reps,
            engine=engine,
            progress=advance,
            cluster=cluster,
            batch=batch,
        )
    written = []
    if out:
        from .report.calibrate import write_calibration

        written = write_calibration(result, out, data=problem.data, plot=plot, report=report)
    return result, written
