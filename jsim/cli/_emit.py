"""The end every command that reports shares: JSON on stdout, or a readable table and the files written."""

from __future__ import annotations

import sys

import click


def emit(fmt: str, data: dict, render, written, out) -> None:
    """Print ``data`` as JSON (``fmt == "json"``), else ``render(console)`` and the files written into ``out``.

    ``render`` takes a rich console on stdout: 120 columns wide when piped into a file (the same
    file on every machine), the terminal's width in a terminal; tables never break a number (they
    wrap their text columns at spaces, or grow wider than a narrow terminal).
    """
    if fmt == "json":
        from ..io import to_json

        click.echo(to_json(data), nl=False)
        return
    from rich.console import Console

    render(Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120))
    if written:
        click.echo(f"wrote {', '.join(p.name for p in written)} into {out}")


def report_needs_out(report: bool, out) -> None:
    """Refuse ``--report`` without ``--out`` (a usage error, exit 2)."""
    if report and not out:
        raise click.UsageError("--report needs --out DIR to write report.html into (or run `jsim report DIR` later)")


def plot_needs_out(plot: bool, out, name: str) -> None:
    """Refuse ``--plot`` without ``--out`` (a usage error, exit 2)."""
    if plot and not out:
        raise click.UsageError(f"--plot needs --out DIR to write {name} into")
