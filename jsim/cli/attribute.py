"""``jsim attribute``: split a path file's conversions among channels (Markov exact, Shapley, heuristics)."""

from __future__ import annotations

import click

from . import options as opt
from ._emit import emit


@click.command()
@click.argument("paths", type=click.Path(dir_okay=False, path_type=str), metavar="PATHS")
@opt.attribute_method
@opt.order
@opt.half_life
@opt.fmt_attribute
@opt.attribute_out
@opt.path_col
@opt.conv_col
@opt.value_col
@opt.null_col
@opt.times_col
def attribute(paths, methods, order, half_life, fmt, out, path_col, conv_col, value_col, null_col, times_col):
    """Attribute the conversions of the path file PATHS to its channels.

    \b
    PATHS has ChannelAttribution's columns path;total_conversions;total_conversion_value;total_null
    (';' or ',' detected, '.gz' too), channels joined by '>': 'search > email > search'. The Markov
    model (Anderl et al.) is solved exactly with the absorbing chain's fundamental matrix, so the
    same file always gives the same answer. Examples:
      jsim attribute paths.csv
      jsim attribute paths.csv.gz --method markov --order 2 --format json
      jsim attribute export.csv --path-col journey --conv-col orders --out out/attr
    """
    from ..report.attribution import attribution_csv, render_attribution
    from ..runner import attribute_paths

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
    )
    if fmt == "csv":
        click.echo(attribution_csv(result), nl=False)
        return
    emit(fmt, result.as_json(), lambda console: render_attribution(result, console), written, out)
