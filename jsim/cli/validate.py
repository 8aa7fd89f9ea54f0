"""``jsim validate``: check scenario files and list every problem."""

from __future__ import annotations

import sys

import click

from ..errors import ResourceError, ScenarioError, ScenarioIssue
from . import options as opt


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=str), metavar="FILE...")
@opt.customers
@opt.days
@opt.strict
@opt.overrides
def validate(files, customers, days, strict, overrides):
    """Check scenario FILEs; print every problem with its location and a fix.

    Runs every check `jsim run` runs (the model and its calendar are compiled too), so a file
    that passes here is not rejected by `jsim run`; --customers and --days check the file as
    `jsim run` with those flags would (a calendar is checked over the horizon it runs).
    Warnings (legal but probably unintended settings, such as an event after the horizon, or a
    population that a run at this size could not fit in this machine's memory) go to stderr
    and leave the exit code at 0, unless --strict makes them errors.
    """
    from ..engine.resources import check_resources
    from ..runner import prepare
    from ..scenario import warnings_as_error

    bad = 0
    for f in files:
        try:
            sc, model, issues = prepare(f, customers=customers, days=days, overrides=overrides)
            try:  # what `jsim run FILE` (fast engine, one replication) would be told
                check_resources(model)
            except ResourceError as exc:
                issues.append(ScenarioIssue("population", f"jsim run at this size would be refused: {exc}"))
            if strict and issues:
                raise warnings_as_error(issues, source=f)
        except ScenarioError as exc:
            bad += 1
            click.echo(f"error: {exc if exc.source else ScenarioError(exc.issues, source=f)}", err=True)
            continue
        except ResourceError as exc:  # the model itself cannot be compiled in this machine's memory
            bad += 1
            click.echo(f"error: {f}: {exc}", err=True)
            continue
        for issue in issues:
            click.echo(f"warning: {f}: {issue}", err=True)
        click.echo(
            f"{f}: ok ({len(sc.stages)} stages, {len(sc.touchpoints)} touchpoints, "
            f"{len(sc.segments) or 1} segments, {len(sc.word_of_mouth)} word-of-mouth rules"
            + (f", {len(issues)} warning{'s' if len(issues) > 1 else ''})" if issues else ")")
        )
    sys.exit(2 if bad else 0)
