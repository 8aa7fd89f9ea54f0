"""Numbers as jsim shows them (terminal tables, reports, plot labels): thousands separators, never
scientific notation for money, ``n/a`` without a value. Below the plots and reports, which both use it."""

from __future__ import annotations

__all__ = ["NA", "finite", "fmt_number", "fmt_spec"]

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
