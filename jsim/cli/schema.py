"""``jsim schema``: print the JSON Schema of scenario files."""

from __future__ import annotations

import json

import click


@click.command()
def schema():
    """Print the JSON Schema of scenario files (point your editor at it for completion)."""
    from ..scenario import scenario_schema

    click.echo(json.dumps(scenario_schema(), indent=2))
