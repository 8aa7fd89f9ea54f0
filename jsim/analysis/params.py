"""``--param`` of ``jsim sweep`` (``KEY=START:STOP:N``) and ``jsim sensitivity`` (``KEY=LOW:HIGH``).

KEY is a ``--set`` KEY (:mod:`jsim.scenario.overrides`): ``touchpoints.support_chat.service.agents``,
``transitions.aware->considering.p``, ``economics.margin``. Its values are applied after the
command's ``--set`` overrides, so a ``--param`` wins over a ``--set`` of the same KEY.
"""

from __future__ import annotations

__all__ = [
    "MAX_GRID_POINTS",
    "SweepParam",
    "RangeParam",
    "parse_sweep_param",
    "parse_range_param",
    "check_param_keys",
    "is_integer_field",
]

import math
import re
from typing import NamedTuple

import numpy as np

from ..errors import InputError, ScenarioError

#: the most grid points one sweep runs (a typo like 1:6:600 is caught before hours of simulation)
MAX_GRID_POINTS = 10_000

_INT = re.compile(r"^[+-]?\d+$")


class SweepParam(NamedTuple):
    """One swept KEY and its grid ``values`` (ints when START and STOP are integers and every value is one)."""

    key: str
    values: tuple


class RangeParam(NamedTuple):
    """One KEY of a sensitivity analysis, varied over ``[low, high]``; ``integer``: rounded to whole numbers."""

    key: str
    low: float
    high: float
    integer: bool = False


def _split(text: str, flag: str, shape: str, example: str) -> tuple[str, list[str]]:
    from ..scenario.checks import show

    key, eq, rng = str(text).partition("=")
    key, rng = key.strip(), rng.strip()
    if not eq or not key or not rng:
        raise InputError(f"{flag} must read {shape}, got {show(text)} (e.g. {flag} {example})", params=("params",))
    return key, [p.strip() for p in rng.split(":")]


def _number(part: str, what: str, text: str, flag: str, example: str) -> float:
    from ..scenario.checks import show

    try:
        x = float(part)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise InputError(
            f"{flag} {show(text)}: {what} must be a finite number, got {show(part)} (e.g. {flag} {example})",
            params=("params",),
        )
    return x


def parse_sweep_param(text: str, flag: str = "--param") -> SweepParam:
    """``"touchpoints.chat.service.agents=1:6:6"`` -> ``SweepParam(key, (1, 2, 3, 4, 5, 6))``.

    START:STOP:N gives N evenly spaced values from START to STOP, both included (N >= 2, or N = 1
    with START == STOP). When START and STOP are written as integers and every value is a whole
    number the values are ints, so integer fields (agents, customers) validate.

    Raises
    ------
    InputError
        Not ``KEY=START:STOP:N``, a bound that is not a finite number, N not a whole number >= 1,
        N = 1 with START != STOP, or more than :data:`MAX_GRID_POINTS` values.
    """
    from ..scenario.checks import show

    example = "touchpoints.support_chat.service.agents=1:6:6"
    key, parts = _split(text, flag, "KEY=START:STOP:N", example)
    if len(parts) != 3:
        raise InputError(
            f"{flag} {show(text)}: the range must read START:STOP:N (N values from START to STOP), "
            f"got {show(':'.join(parts))} (e.g. {flag} {example})",
            params=("params",),
        )
    start = _number(parts[0], "START", text, flag, example)
    stop = _number(parts[1], "STOP", text, flag, example)
    if not _INT.match(parts[2]) or not 1 <= int(parts[2]) <= MAX_GRID_POINTS:
        raise InputError(
            f"{flag} {show(text)}: N must be a whole number from 1 to {MAX_GRID_POINTS:,}, got {show(parts[2])} "
            f"(e.g. {flag} {key}={parts[0]}:{parts[1]}:5)",
            params=("params",),
        )
    n = int(parts[2])
    if n == 1 and start != stop:
        raise InputError(
            f"{flag} {show(text)}: N = 1 needs START == STOP, got {parts[0]} and {parts[1]} "
            f"(give N >= 2 values, e.g. {flag} {key}={parts[0]}:{parts[1]}:5)",
            params=("params",),
        )
    grid = np.linspace(start, stop, n)
    if _INT.match(parts[0]) and _INT.match(parts[1]) and np.all(grid == np.round(grid)):
        return SweepParam(key, tuple(int(v) for v in np.round(grid)))
    return SweepParam(key, tuple(float(v) for v in grid))


def parse_range_param(text: str, flag: str = "--param") -> tuple[str, float, float, bool]:
    """``"economics.margin=0.2:0.4"`` -> ``("economics.margin", 0.2, 0.4, False)``.

    The last item says whether LOW and HIGH are both written as integers (the KEY may then be an
    integer field: :func:`is_integer_field` decides).

    Raises
    ------
    InputError
        Not ``KEY=LOW:HIGH``, a bound that is not a finite number, or LOW >= HIGH.
    """
    from ..scenario.checks import show

    example = "economics.margin=0.25:0.45"
    key, parts = _split(text, flag, "KEY=LOW:HIGH", example)
    if len(parts) != 2:
        raise InputError(
            f"{flag} {show(text)}: the range must read LOW:HIGH, got {show(':'.join(parts))} (e.g. {flag} {example})",
            params=("params",),
        )
    low = _number(parts[0], "LOW", text, flag, example)
    high = _number(parts[1], "HIGH", text, flag, example)
    if not low < high:
        raise InputError(
            f"{flag} {show(text)}: LOW < HIGH must hold, but got LOW={parts[0]}, HIGH={parts[1]} "
            f"(write the smaller value first; to fix a value use --set {key}=VALUE)",
            params=("params",),
        )
    return key, low, high, bool(_INT.match(parts[0]) and _INT.match(parts[1]))


def _as_param(exc: ScenarioError, keys, flag: str = "--param") -> ScenarioError:
    """``exc`` with issues at ``--set KEY`` of a ``--param`` KEY located at ``--param KEY`` (``flag``) instead."""
    from dataclasses import replace

    from ..scenario.checks import shorten

    where = {f"--set {shorten(k)}": f"{flag} {shorten(k)}" for k in keys}
    return ScenarioError([replace(i, location=where.get(i.location, i.location)) for i in exc.issues], exc.source)


def check_param_keys(data: dict, source: str, overrides, pairs, flag: str = "--param") -> None:
    """Check that each ``(KEY, value)`` of ``pairs`` names a field of the scenario ``data`` (after ``overrides``).

    Only where the KEY leads is checked (not the value): the values are validated with the
    scenario, point by point.

    Raises
    ------
    ScenarioError
        A KEY that names no field, located at ``--param KEY`` (``flag``) with the closest key.
    """
    from ..scenario import apply_overrides

    changed, _ = apply_overrides(data, list(overrides))
    try:
        apply_overrides(changed, list(pairs))
    except ScenarioError as exc:
        raise _as_param(exc, [k for k, _ in pairs], flag) from None


def is_integer_field(data: dict, source: str, overrides, key: str, low: float, high: float) -> bool:
    """Whether ``key`` takes whole numbers only: a value between two integers is refused where its rounding is not.

    ``low`` and ``high`` are both valid (checked before) whole numbers; the probe is ``low + 0.5``.
    """
    from ..scenario import scenario_with

    probe = low + 0.5
    try:
        scenario_with(data, source, [*overrides, (key, probe)])
    except ScenarioError:
        try:
            scenario_with(data, source, [*overrides, (key, int(low))])
        except ScenarioError:
            return False
        return True
    return False
