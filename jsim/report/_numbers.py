"""Numbers in terminal tables: thousands separators, never scientific notation for money, ``n/a`` without a value."""

from __future__ import annotations

from ..io.numbers import NA, finite, fmt_number, fmt_spec  # noqa: F401  (re-exported to the reports)


def fmt_estimate(est, digits: int = 4) -> str:
    """``mean [low, high]`` of an :class:`~jsim.metrics.Estimate` (``mean`` alone without an interval)."""
    if est is None or not finite(est.mean):
        return NA
    text = fmt_number(est.mean, digits)
    if finite(est.low) and finite(est.high):
        text += f" [{fmt_number(est.low, digits)}, {fmt_number(est.high, digits)}]"
    return text


def print_table(console, table) -> None:
    """Print a rich ``table`` no narrower than its longest word per column, so that no number is broken.

    In a console narrower than that, text columns wrap at spaces first; past it the table is
    printed wider than the console (the terminal wraps whole lines) instead of folding ``12,345``
    into ``12,3`` and ``45``.
    """
    from rich.measure import Measurement

    for column in table.columns:  # a header word is not cut either ("deliveries", not "delive…")
        words = str(column.header).split() if isinstance(column.header, str) else []
        column.min_width = max([column.min_width or 0, *(len(w) for w in words)])
    need = Measurement.get(console, console.options.update_width(10_000), table).minimum
    width = console.width
    if need <= width:
        console.print(table)
        return
    console.width = need  # console.print(width=...) cannot go past the console's width
    try:
        console.print(table, crop=False)
    finally:
        console.width = width
