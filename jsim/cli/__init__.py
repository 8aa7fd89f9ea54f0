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
    from ..spec import load_scenario

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
    from ..spec import scenario_schema

    click.echo(json.dumps(scenario_schema(), indent=2))
