"""Numbers in terminal tables: thousands separators, never scientific notation for money, ``n/a`` without a value."""

from __future__ import annotations

import math

NA = "n/a"


def finite(x) -> bool:
    """Whether ``x`` is a number with a value (not None, NaN or an infinity)."""
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_number(x, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits in fixed notation (``1,234,568``, ``12.35``, ``0.01235``).

    Magnitudes of ``10**digits`` and more show every integer digit (money is never ``1.2e+06``);
    only magnitudes below ``1e-4`` use an exponent. ``n/a`` for None, NaN and infinities.
    """
    if not finite(x):
        return NA
    x = float(x)
    if x == 0:
        return "0"
    if abs(x) < 1e-4:
        return format(x, f".{digits}g")
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = format(round(x, decimals), f",.{decimals}f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_spec(x, spec: str) -> str:
    """``format(x, spec)``, or ``n/a`` for None, NaN and infinities."""
    return format(x, spec) if finite(x) else NA


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
