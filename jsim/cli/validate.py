"""``jsim validate``: check scenario files and list every problem."""

from __future__ import annotations

import sys

import click

from ..errors import ScenarioError


@click.command()
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
            click.echo(
                f"{f}: ok ({len(sc.stages)} stages, {len(sc.touchpoints)} touchpoints, "
                f"{len(sc.segments) or 1} segments, {len(sc.word_of_mouth)} word-of-mouth rules)"
            )
    sys.exit(2 if bad else 0)
