"""What ``jsim attribute`` prints and writes: each channel's conversions (and value) by every method."""

from __future__ import annotations

__all__ = [
    "ATTRIBUTE_FILES",
    "attribution_rows",
    "transition_rows",
    "attribution_csv",
    "render_attribution",
    "write_attribution",
]

from ._numbers import NA, fmt_number

#: Every file :func:`write_attribution` writes
ATTRIBUTE_FILES = ("attribution.csv", "transition_matrix.csv", "attribution.json")

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
    console.print(_table(a, order, keys, "", "conversions by method"))
    if a.total_value is not None:
        console.print(_table(a, order, keys, "_value", "value by method"))
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


def write_attribution(attribution, out_dir) -> list:
    """Write ``attribution.csv``, ``transition_matrix.csv`` and ``attribution.json`` into ``out_dir`` as one set."""
    from pathlib import Path

    from ..io import atomic_write, csv_text, output_set, to_json

    with output_set(out_dir, replaces=ATTRIBUTE_FILES) as out:
        atomic_write(out / "attribution.csv", csv_text(*attribution_rows(attribution)))
        atomic_write(out / "transition_matrix.csv", csv_text(*transition_rows(attribution)))
        atomic_write(out / "attribution.json", to_json(attribution.as_json()))
    return [Path(out_dir) / name for name in ATTRIBUTE_FILES]
