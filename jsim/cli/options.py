"""Options shared by several commands, defined once and stacked onto commands."""

from __future__ import annotations

import click

scenario_arg = click.argument("scenario", type=click.Path(dir_okay=False, path_type=str), metavar="SCENARIO")
customers = click.option("--customers", "-n", type=click.IntRange(min=0), default=None,
                         help="Customers on day 0 (overrides population.customers).")
days = click.option("--days", "-d", type=click.IntRange(1, 100_000), default=None,
                    help="Horizon in days (overrides population.days).")
seed = click.option("--seed", "-s", type=click.IntRange(min=0), default=0, show_default=True,
                    help="Root seed; the same seed gives bit-identical results on any thread count.")
reps = click.option("--reps", "-r", type=click.IntRange(1, 10_000), default=1, show_default=True,
                    help="Replications on spawned seeds; means are reported with 95% intervals.")
engine = click.option("--engine", type=click.Choice(["fast", "mean-field", "des"]), default="fast", show_default=True,
                      help="fast: numba event engine; mean-field: exact expected values (deterministic); "
                           "des: SimPy discrete-event engine, service queues in continuous time (slower).")
out = click.option("--out", "-o", type=click.Path(file_okay=False, path_type=str), default=None,
                   help="Folder for summary.json, daily.csv, flows.csv, touchpoints.csv, segments.csv (+ journeys.csv).")
fmt = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
                   help="table: readable summary; json: the summary JSON on stdout.")
journeys = click.option("--journeys", type=click.IntRange(0, 1_000_000), default=0, show_default=True,
                        help="Trace this many individual journeys (exposures and moves) into journeys.csv.")
quiet = click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
plot = click.option("--plot", is_flag=True, help="With --out: also draw funnel.png (stage occupancy and conversion).")
