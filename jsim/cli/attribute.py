"""``jsim attribute``: split a path file's conversions among channels (Markov exact, Shapley, heuristics)."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit, report_needs_out


@click.command()
@click.argument("paths", type=click.Path(dir_okay=False, path_type=str), metavar="[PATHS]", required=False)
@opt.truth_scenario
@opt.truth_journeys
@opt.truth_reps
@opt.truth_engine
@opt.customers
@opt.days
@opt.seed
@opt.quiet
@opt.strict
@opt.overrides
@opt.attribute_method
@opt.order
@opt.half_life
@opt.fmt_attribute
@opt.attribute_out
@opt.attribute_report
@opt.path_col
@opt.conv_col
@opt.value_col
@opt.null_col
@opt.times_col
def attribute(
    paths,
    scenario,
    journeys,
    reps,
    engine,
    customers,
    days,
    seed,
    quiet,
    strict,
    overrides,
    methods,
    order,
    half_life,
    fmt,
    out,
    report,
    path_col,
    conv_col,
    value_col,
    null_col,
    times_col,
):
    """Attribute the conversions of the path file PATHS to its channels.

    \b
    PATHS has ChannelAttribution's columns path;total_conversions;total_conversion_value;total_null
    (';' or ',' detected, '.gz' too), channels joined by '>': 'search > email > search'. The Markov
    model (Anderl et al.) is solved exactly with the absorbing chain's fundamental matrix, so the
    same file always gives the same answer.
    With --scenario instead of PATHS: trace --journeys customers of the scenario, attribute their
    paths, and set every method beside the truth: each touchpoint switched off on the same
    --reps seeds (paired), its true incremental conversions with a 95% interval, and each
    method's error (mean absolute error, rank correlation).
    Examples:
      jsim attribute paths.csv
      jsim attribute paths.csv.gz --method markov --order 2 --format json
      jsim attribute export.csv --path-col journey --conv-col orders --out out/attr
      jsim attribute --scenario scenarios/tv_search.toml --out out/truth
    """
    from ..report.attribution import attribution_csv, render_against_truth, render_attribution
    from ..runner import attribute_paths, attribute_scenario

    if (paths is None) == (scenario is None):
        raise click.UsageError("give a path file PATHS or --scenario SCENARIO (one of the two)")
    report_needs_out(report, out)
    if scenario is not None:
        for name, value in (("--path-col", path_col), ("--conv-col", conv_col), ("--value-col", value_col)):
            if value is not None:
                raise click.UsageError(f"{name} reads a path file; with --scenario the paths are simulated")
        attribution, against, traced, written = attribute_scenario(
            scenario,
            journeys=journeys,
            reps=reps,
            engine=engine,
            methods=methods,
            order=order,
            half_life=half_life,
            customers=customers,
            days=days,
            seed=seed,
            out=out,
            report=report,
            progress=not quiet,
            strict=strict,
            overrides=overrides,
        )
        if fmt == "csv":
            click.echo(attribution_csv(attribution), nl=False)
            return
        doc = dict(attribution.as_json(), against_truth=against.as_dict())
        emit(fmt, doc, lambda console: render_against_truth(attribution, against, traced, console), written, out)
        return
    if any((journeys is not None, customers is not None, days is not None, overrides)):
        raise click.UsageError("--journeys, --customers, --days and --set simulate a scenario: they need --scenario")

    result, written = attribute_paths(
        paths,
        methods=methods,
        order=order,
        half_life=half_life,
        path_col=path_col,
        conv_col=conv_col,
        value_col=value_col,
        null_col=null_col,
        times_col=times_col,
        out=out,
        report=report,
    )
    if fmt == "csv":
        click.echo(attribution_csv(result), nl=False)
        return
    emit(fmt, result.as_json(), lambda console: render_attribution(result, console), written, out)
