"""What ``jsim attribute`` prints and writes: each channel's conversions (and value) by every method."""

from __future__ import annotations

__all__ = [
    "ATTRIBUTE_FILES",
    "attribution_rows",
    "transition_rows",
    "attribution_csv",
    "render_attribution",
    "write_attribution",
    "AGAINST_TRUTH_FILES",
    "truth_rows",
    "render_against_truth",
    "write_attribution_against_truth",
]

from ._numbers import NA, fmt_number, print_table

#: Every file :func:`write_attribution` writes
ATTRIBUTE_FILES = ("attribution.csv", "transition_matrix.csv", "attribution.json")
_REPLACES = (*ATTRIBUTE_FILES, "report.html")

#: column key -> table heading
_HEADINGS = {
    "markov_conversions": "markov",
    "shapley": "shapley",
    "first_touch": "first",
    "last_touch": "last",
    "linear": "linear",
    "position": "position",
    "time_decay": "time-decay",
}


def attribution_rows(attribution) -> tuple[list[str], list[list]]:
    """``attribution.csv``: one row per channel, ``channel`` and every key of the JSON rows."""
    keys = attribution.column_keys()
    return ["channel", *keys], [[c.channel, *(c.values[k] for k in keys)] for c in attribution.channels]


def transition_rows(attribution) -> tuple[list[str], list[list]]:
    """``transition_matrix.csv``: ``from,to,probability``, one row per transition of the fitted chain."""
    return ["from", "to", "probability"], [list(t) for t in attribution.transitions]


def attribution_csv(attribution) -> str:
    """``attribution.csv`` as text (what ``--format csv`` prints)."""
    from ..io import csv_text

    return csv_text(*attribution_rows(attribution))


def render_attribution(attribution, console) -> None:
    """A header with the totals, the conversions table and, when the paths carry value, the value table."""
    a = attribution
    head = f"[bold]attribute[/bold]  {a.n_paths:,} paths, {len(a.channels)} channels; total conversions " + fmt_number(
        a.total_conversions, 6
    )
    if a.total_value is not None:
        head += f", total value {fmt_number(a.total_value, 6)}"
    if "markov" in a.methods:
        head += f"; Markov order {a.order}: conversion probability {a.conversion_probability:.4%} ({a.n_states} states)"
    console.print(head)
    keys = [k for k in _HEADINGS if k in a.column_keys()]
    order = sorted(a.channels, key=lambda c: -c.values.get(keys[0], 0) if keys else 0)
    print_table(console, _table(a, order, keys, "", "conversions by method"))
    if a.total_value is not None:
        print_table(console, _table(a, order, keys, "_value", "value by method"))
    console.print(
        "removal effect: the share of the chain's conversion probability lost without the channel (exact); "
        "markov: removal effects scaled to the total; " + "; ".join(n for n in a.notes if not n.startswith("markov"))
    )


def _table(a, order, keys, suffix: str, title: str):
    from rich.table import Table

    t = Table(title=title, title_justify="left", show_edge=False)
    t.add_column("channel", overflow="fold")
    show_removal = "removal_effect" in a.column_keys() and not suffix
    if show_removal:
        t.add_column("removal effect", justify="right")
    for k in keys:
        t.add_column(_HEADINGS[k], justify="right")
    keys = [_value_key(k) if suffix else k for k in keys]
    total = {k: 0.0 for k in keys}
    for c in order:
        cells = [c.channel]
        if show_removal:
            cells.append(f"{c.values['removal_effect']:.2%}")
        for k in keys:
            total[k] += c.values[k]
            cells.append(fmt_number(c.values[k], 5))
        t.add_row(*cells)
    t.add_section()
    t.add_row("total", *([NA] if show_removal else []), *(fmt_number(total[k], 6) for k in keys))
    return t


def _value_key(key: str) -> str:
    """The key of a method's value from the key of its conversions (``markov_conversions`` -> ``markov_value``)."""
    return "markov_value" if key == "markov_conversions" else key + "_value"


def write_attribution(attribution, out_dir, *, report: bool = False) -> list:
    """Write ``attribution.csv``, ``transition_matrix.csv``, ``attribution.json`` (and with ``report``
    ``report.html``) into ``out_dir`` as one set."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json

    with output_set(out_dir, replaces=_REPLACES) as out:
        atomic_write(out / "attribution.csv", csv_text(*attribution_rows(attribution)))
        atomic_write(out / "transition_matrix.csv", csv_text(*transition_rows(attribution)))
        atomic_write(out / "attribution.json", to_json(attribution.as_json()))
        names = list(ATTRIBUTE_FILES)
        if report:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]


#: Every file :func:`write_attribution_against_truth` writes
AGAINST_TRUTH_FILES = (*ATTRIBUTE_FILES, "paths.csv", "truth.csv")

#: method -> its column heading in the truth table
_METHOD_HEADINGS = {
    "markov": "markov",
    "shapley": "shapley",
    "first": "first",
    "last": "last",
    "linear": "linear",
    "position": "position",
    "time-decay": "time-decay",
}


def truth_rows(against) -> tuple[list[str], list[list]]:
    """``truth.csv``: per touchpoint the true incremental conversions (mean, 95% interval), the conversions its
    sources are credited with, and each method's attributed conversions (scaled to the population)."""
    rows = against.rows()
    header = ["touchpoint", "incremental", "low", "high", "credited", *against.attributed]
    return header, [[r[h] for h in header] for r in rows]


def render_against_truth(attribution, against, paths, console) -> None:
    """The attribution of the traced journeys, then every method beside the truth, then each method's error."""
    from rich.table import Table

    render_attribution(attribution, console)
    truth = against.truth
    engine = (
        "exact expected values" if truth.engine == "mean-field" else f"{truth.reps} common seeds, engine {truth.engine}"
    )
    console.print(
        f"[bold]against the truth[/bold]  {truth.scenario}: each touchpoint switched off on {engine} (paired); "
        f"the methods' credit from {paths.prospects:,} traced prospects, scaled x{against.scale:.4g} to the "
        f"population's {fmt_number(truth.prospects.mean, 6)} prospects"
    )
    t = Table(title="conversions: true incremental vs attributed", title_justify="left", show_edge=False)
    t.add_column("touchpoint", overflow="fold")
    t.add_column("true incremental [95%]", justify="right")
    for m in against.attributed:
        t.add_column(_METHOD_HEADINGS.get(m, m), justify="right")
    for row in against.rows():
        true = fmt_number(row["incremental"], 4)
        if row["low"] is not None and row["high"] is not None and row["low"] != row["high"]:
            true += f" [{fmt_number(row['low'], 4)}, {fmt_number(row['high'], 4)}]"
        t.add_row(row["touchpoint"], true, *(fmt_number(row[m], 4) for m in against.attributed))
    t.add_section()
    totals = {e.method: e for e in against.errors}
    t.add_row(
        "total",
        fmt_number(sum(r["incremental"] for r in against.rows()), 5),
        *(fmt_number(totals[m].attributed, 5) for m in against.attributed),
    )
    print_table(console, t)
    _render_why(truth, console)
    e = Table(title="error of each method against the truth", title_justify="left", show_edge=False)
    for col in ("method", "mean absolute error", "rank correlation"):
        e.add_column(col, justify="left" if col == "method" else "right")
    for err in sorted(against.errors, key=lambda x: x.mae):
        rho = NA if err.rank_correlation is None else f"{err.rank_correlation:+.2f}"
        e.add_row(_METHOD_HEADINGS.get(err.method, err.method), fmt_number(err.mae, 4), rho)
    print_table(console, e)
    console.print(
        "true incremental: conversions lost when the touchpoint is switched off (same seeds, paired 95% interval); "
        "attributed: the method's credit on the traced paths, scaled to the population. Attribution splits each "
        "converting path among its channels; true incremental conversions need not add up to the conversions "
        "(those that would have happened anyway count for no touchpoint, those that need two count for both)."
    )


def _render_why(truth, console) -> None:
    """Why: per touchpoint switched off, the conversions each source lost (full - off, paired means)."""
    from rich.table import Table

    sources = [
        src
        for src in (truth.touchpoints[0].conversions_by_source if truth.touchpoints else {})
        if any(abs(t.conversions_by_source[src].mean) >= 0.5 for t in truth.touchpoints)
    ]
    if not sources:
        return
    t = Table(
        title="why: conversions each source loses without the touchpoint (full - off)",
        title_justify="left",
        show_edge=False,
    )
    t.add_column("without", overflow="fold")
    for src in sources:
        t.add_column(src, justify="right", overflow="fold")
    for row in truth.touchpoints:
        cells = []
        for src in sources:
            d = row.conversions_by_source[src]
            text = fmt_number(d.mean, 4)
            cells.append(text if d.distinguishable or d.mean == 0 else f"~{text}")
        t.add_row(row.touchpoint, *cells)
    print_table(console, t)
    console.print("~: not distinguishable from noise at these replications.")


def write_attribution_against_truth(attribution, against, paths, out_dir, *, report: bool = False) -> list:
    """Write the attribution files, ``paths.csv`` (the traced journeys' paths) and ``truth.csv`` into ``out_dir``
    as one set; ``attribution.json`` carries the truth too (key ``against_truth``)."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json
    from ..io.paths import write_paths

    with output_set(out_dir, replaces=(*AGAINST_TRUTH_FILES, "report.html")) as out:
        atomic_write(out / "attribution.csv", csv_text(*attribution_rows(attribution)))
        atomic_write(out / "transition_matrix.csv", csv_text(*transition_rows(attribution)))
        doc = dict(attribution.as_json(), against_truth=against.as_dict())
        atomic_write(out / "attribution.json", to_json(doc))
        write_paths(paths.table, out / "paths.csv")
        atomic_write(out / "truth.csv", csv_text(*truth_rows(against)))
        names = list(AGAINST_TRUTH_FILES)
        if report:
            from .html import report_into_set

            names.append(report_into_set(out, out_dir))
    return [Path(out_dir) / name for name in names]
