"""``jsim run``: simulate a scenario file and print (and write) its summary."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit, plot_needs_out, report_needs_out


@click.command()
@opt.scenario_arg
@opt.customers
@opt.days
@opt.seed
@opt.reps
@opt.engine
@opt.journeys
@opt.out
@opt.plot
@opt.report
@opt.fmt
@opt.quiet
@opt.strict
@opt.overrides
@opt.paths_file
@opt.cluster
def run(
    scenario,
    customers,
    days,
    seed,
    reps,
    engine,
    journeys,
    out,
    plot,
    report,
    fmt,
    quiet,
    strict,
    overrides,
    paths,
    scheduler,
    workers,
):
    """Simulate SCENARIO and print a summary (stages, conversion, retention, revenue, ROI).

    Progress goes to stderr, the summary to stdout; --out writes summary.json, daily.csv,
    flows.csv (moves by day, stages and source), sources.csv, touchpoints.csv and segments.csv
    (and the service tables, journeys.csv, funnel.png, report.html when asked) as one set: they
    replace the folder's previous set whole, and a failure leaves that set as it was. Nothing is
    simulated or written when the scenario, a flag or --out is invalid (exit 2). Warnings about the scenario go
    to stderr before simulating; --strict makes them errors.
    """
    from ..report import render_summary
    from ..runner import run_scenario

    plot_needs_out(plot, out, "funnel.png")
    report_needs_out(report, out)
    summary, _, written = run_scenario(
        scenario,
        customers=customers,
        days=days,
        seed=seed,
        reps=reps,
        engine=engine,
        journeys=journeys,
        out=out,
        plot=plot,
        report=report,
        progress=not quiet,
        strict=strict,
        overrides=overrides,
        scheduler=scheduler,
        workers=workers,
        paths=paths,
    )
    emit(fmt, summary, lambda console: render_summary(summary, console), written, out)
    if paths and fmt != "json":
        click.echo(f"wrote the traced journeys' paths into {paths}")
