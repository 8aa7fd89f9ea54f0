"""The ``jsim`` command line: thin click commands over the library."""

from __future__ import annotations

import json
import sys

import click

from .. import __version__
from ..errors import JsimError, ScenarioError
from . import options as opt

EPILOG = "Docs: README.md and docs/model.md. Exit codes: 0 ok, 1 runtime failure, 2 invalid input."


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ScenarioError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except JsimError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="jsim")
def main():
    """jsim: simulate customer journeys through touchpoints and funnel stages.

    \b
    Start here:
      jsim run scenarios/webshop.toml            simulate and print a summary
      jsim run scenarios/webshop.toml -r 5 -o out   5 replications, CSV/JSON into out/
      jsim validate my.toml                      check a scenario file
      jsim schema > jsim.schema.json             JSON Schema for editor completion
      jsim optimise scenarios/teaching.toml --budget 1500   split a budget across touchpoints
    """


@main.command(epilog=EPILOG)
@opt.scenario_arg
@opt.customers
@opt.days
@opt.seed
@opt.reps
@opt.engine
@opt.journeys
@opt.out
@opt.plot
@opt.fmt
@opt.quiet
def run(scenario, customers, days, seed, reps, engine, journeys, out, plot, fmt, quiet):
    """Simulate SCENARIO and print a summary (stages, conversion, retention, revenue, ROI).

    Progress goes to stderr, the summary to stdout; --out writes summary.json, daily.csv,
    flows.csv, touchpoints.csv and segments.csv (each atomically). Nothing is written when the
    scenario or a flag is invalid.
    """
    from ..runner import run_scenario

    if plot and not out:
        raise click.UsageError("--plot needs --out DIR to write funnel.png into")

    summary, result = run_scenario(scenario, customers=customers, days=days, seed=seed, reps=reps, engine=engine,
                                   journeys=journeys, out=out, plot=plot,
                                   progress=not quiet)
    if fmt == "json":
        from ..io import to_json

        click.echo(to_json(summary), nl=False)
    else:
        from rich.console import Console

        from ..report import render_summary

        render_summary(summary, Console(file=sys.stdout, width=120))
        if out:
            extra = (", journeys.csv" if journeys else "") + (", funnel.png" if plot else "")
            click.echo(f"wrote {out}/summary.json, daily.csv, flows.csv, touchpoints.csv, segments.csv{extra}")


@main.command(epilog=EPILOG)
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str), metavar="FILE...")
def validate(files):
    """Check scenario FILEs; print every problem with its location and a fix."""
    from ..scenario import load_scenario

    bad = 0
    for f in files:
        try:
            sc = load_scenario(f)
        except ScenarioError as exc:
            bad += 1
            click.echo(f"error: {exc}", err=True)
        else:
            click.echo(f"{f}: ok ({len(sc.stages)} stages, {len(sc.touchpoints)} touchpoints, "
                       f"{len(sc.segments) or 1} segments, {len(sc.word_of_mouth)} word-of-mouth rules)")
    sys.exit(2 if bad else 0)


@main.command(epilog=EPILOG)
def schema():
    """Print the JSON Schema of scenario files (point your editor at it for completion)."""
    from ..scenario import scenario_schema

    click.echo(json.dumps(scenario_schema(), indent=2))


@main.command(epilog=EPILOG)
@opt.scenario_arg
@opt.budget
@opt.objective
@opt.constraint
@opt.trials
@opt.reps
@opt.seed
@opt.bounds
@opt.touchpoints
@opt.opt_engine
@opt.sampler
@opt.storage
@opt.resume
@opt.worker
@opt.study_name
@opt.opt_out
@opt.weekly
@opt.compare_reps
@opt.customers
@opt.days
@opt.quiet
@opt.promote
def optimise(scenario, budget, objectives, constraints, trials, reps, seed, bounds, touchpoints, engine, sampler, storage,
             resume, worker, study_name, out, weekly, compare_reps, customers, days, quiet, promote):
    """Split --budget across SCENARIO's touchpoints to maximise --objective (several: a Pareto front).

    Prints the best split against the scenario's current split and an equal split (fresh seeds,
    95% intervals, uplift), the marginal return of each touchpoint, active bounds and the cost of
    a 10% shift. --out writes allocation.json, trials.csv, pareto.csv and plots, each atomically;
    nothing is written when a flag is invalid (exit 2).
    """
    from rich.console import Console

    from ..optimise.explain import optimise_scenario, render_report, write_report
    from ..optimise.objectives import ScenarioObjective, parse_bounds
    from ..runner import progress_bar
    from ..scenario import load_scenario

    if (resume or worker) and not (out or storage):
        raise click.UsageError("--resume and --worker need the study's --out DIR or --storage URL")
    names = [t.strip() for t in touchpoints.split(",") if t.strip()] if touchpoints is not None else None
    obj = ScenarioObjective(load_scenario(scenario), budget, touchpoints=names, metric=list(objectives), engine=engine,
                            reps=reps, seed=seed, constraints=list(constraints), customers=customers, days=days,
                            weekly=weekly, promote=promote)
    limits = parse_bounds(bounds, list(obj.names), budget)
    _quiet_optuna()
    with progress_bar(not quiet, f"optimising {obj.scenario.name}") as report:
        done = [0]

        def tick(study, trial):
            done[0] += 1
            if report is not None:
                report(min(done[0] / trials, 1.0))

        result = optimise_scenario(obj, bounds=limits, n_trials=trials, seed=seed, sampler=sampler, storage=storage,
                                   out=out, resume=resume, worker=worker, study_name=study_name, callbacks=[tick],
                                   compare_reps=compare_reps)
    render_report(result, Console(file=sys.stdout, width=140))
    if out:
        written = write_report(result, out)
        click.echo(f"wrote {', '.join(p.name for p in written)} into {out}")


def _quiet_optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
