"""``jsim report``: one self-contained HTML page of a folder a jsim command wrote."""

from __future__ import annotations

import click


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=str), metavar="RUN_DIR")
@click.option(
    "--out",
    "-o",
    "report_out",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="The HTML file to write (default: RUN_DIR/report.html, which joins the folder's set of files).",
)
def report(run_dir, report_out):
    """Write one HTML page of RUN_DIR, the --out folder of jsim run, compare, optimise or attribute.

    \b
    The page opens offline (plotly.js is embedded) and shows what the folder holds: a run's key
    figures with intervals, stages over time with the calendar's flights and events, flows between
    stages by source, the funnel with its drop-off (cart abandonment), touchpoints and services;
    a comparison's differences with intervals; the optimiser's allocation, response curves,
    history and Pareto front; attribution against truth. Every number is read from the folder's
    files. Examples:
      jsim run scenarios/webshop.toml -r 5 -o out && jsim report out
      jsim report out --out ~/webshop.html
    A folder without jsim's files, or with a corrupt one, is refused (exit 2, nothing written).
    `--report` on run, compare and optimise writes the same page into their --out folder.
    """
    from ..report.html import write_html_report

    path = write_html_report(run_dir, report_out)
    click.echo(f"wrote {path}")
