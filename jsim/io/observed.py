"""``--data OBSERVED.csv`` of ``jsim calibrate``: the observed daily series a scenario is fitted to.

The file mirrors ``daily.csv`` (:func:`jsim.io.tables.daily_rows`), so a ``daily.csv`` jsim wrote
is itself a valid file. A ``day`` column (0 = the initial state, as in ``daily.csv``; at most
the horizon) and any of:

- one column per stage: customers in that stage at the end of the day;
- ``arrivals``, ``new_converted``, ``purchases``: counts of the day;
- ``revenue``: currency of the day;
- ``deliveries:TOUCHPOINT``, ``engaged:TOUCHPOINT``: a touchpoint's deliveries and engaged
  exposures of the day (``touchpoints.csv``'s ``deliveries`` and ``engagements``, per day);
- ``cost``: accepted (``daily.csv`` has it) but not fitted: the spend is the scenario's input.

Days may be missing and cells may be empty (not observed). Anything else (an unknown column, a
cell that is not a number, a negative count, a day twice, a day beyond the horizon) is refused
with the line and column it is on.
"""

from __future__ import annotations

__all__ = ["Observed", "SERIES", "read_observed", "observed_columns"]

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

#: the columns every model has, after its stages: counts of the day, then revenue and cost
SERIES = ("arrivals", "new_converted", "purchases", "revenue", "cost")
#: columns accepted but not fitted
NOT_FITTED = ("cost",)
#: prefixes of the per-touchpoint columns, ``deliveries:search_ads``
TOUCHPOINT_SERIES = ("deliveries", "engaged")
#: the largest OBSERVED file read (a daily series of a few years is a few hundred kilobytes)
MAX_BYTES = 50_000_000


@dataclass(frozen=True)
class Observed:
    """Observed series: ``values (n_days_observed, n_columns)`` float64, NaN where not observed.

    ``days (n,)`` int64 in increasing order; ``columns`` the fitted columns in file order;
    ``ignored`` columns read but not fitted (``cost``).
    """

    path: str
    days: np.ndarray
    columns: tuple
    values: np.ndarray
    ignored: tuple = ()

    @property
    def n_cells(self) -> int:
        """Observed cells (not empty) of the fitted columns."""
        return int(np.isfinite(self.values).sum())


def observed_columns(model) -> list[str]:
    """Every column an OBSERVED file may hold for ``model`` (a CompiledModel), ``day`` first."""
    tps = list(model.touchpoint_names)
    return [
        "day",
        *model.stage_names,
        *SERIES,
        *(f"{kind}:{tp}" for kind in TOUCHPOINT_SERIES for tp in tps),
    ]


def _fail(path, where: str, message: str, fix: str) -> InputError:
    return InputError(f"--data {path}{where}: {message} ({fix})", params=("data",))


def read_observed(path, model) -> Observed:
    """Read and check ``path`` against ``model``'s stages, touchpoints and horizon.

    Raises
    ------
    InputError
        The file is missing or unreadable; no ``day`` column; an unknown or repeated column; a
        row with too many cells; a day that is not a whole number in ``[0, horizon]`` or comes
        twice; a cell that is not a finite number or is negative; no observed cell at all.
        The message names the line and column.
    """
    from ..scenario.checks import did_you_mean, show

    p = Path(path)
    if not p.is_file():
        raise _fail(path, "", "no such file", "give the CSV of observed daily series, e.g. a daily.csv of jsim run")
    if p.stat().st_size > MAX_BYTES:
        raise _fail(path, "", f"the file must be at most {MAX_BYTES:,} bytes", "keep only the daily series")
    try:
        with open(p, encoding="utf-8-sig", newline="") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise _fail(
            path, "", f"cannot be read as UTF-8 CSV: {exc}", "save it as a comma-separated UTF-8 file"
        ) from None
    if not lines or not any(c.strip() for c in lines[0]):
        raise _fail(path, ", line 1", "the header is empty", "start with a header: day,<stage>,purchases,...")
    header = [c.strip() for c in lines[0]]
    allowed = observed_columns(model)
    if "day" not in header:
        raise _fail(path, ", line 1", f"a 'day' column is required, got {show(header)}", "add day (0 to the horizon)")
    for k, name in enumerate(header):
        if name not in allowed:
            hint = did_you_mean(name, allowed) or f"columns: {', '.join(allowed[:12])}, ..."
            raise _fail(path, f", line 1, column {k + 1}", f"unknown column {show(name)}", hint)
        if header.index(name) != k:
            raise _fail(path, f", line 1, column {k + 1}", f"column {show(name)} comes twice", "keep one of them")
    day_k = header.index("day")
    fitted = [k for k, name in enumerate(header) if k != day_k and name not in NOT_FITTED]
    horizon = model.n_days
    days, rows, seen = [], [], {}
    for ln, row in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in row):
            continue  # a blank line
        if len(row) > len(header):
            raise _fail(
                path, f", line {ln}", f"{len(row)} cells, the header has {len(header)}", "remove the extra cells"
            )
        cells = [c.strip() for c in row] + [""] * (len(header) - len(row))
        day = _day(path, ln, cells[day_k], horizon)
        if day in seen:
            raise _fail(
                path,
                f", line {ln}, column day",
                f"day {day} comes twice (also on line {seen[day]})",
                "keep one row per day",
            )
        seen[day] = ln
        values = [_cell(path, ln, header[k], cells[k]) for k in fitted]
        days.append(day)
        rows.append(values)
    order = np.argsort(days, kind="stable")
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(fitted))[order]
    observed = Observed(
        str(path),
        np.asarray(days, dtype=np.int64)[order],
        tuple(header[k] for k in fitted),
        values,
        tuple(h for h in header if h in NOT_FITTED),
    )
    if observed.n_cells == 0:
        raise _fail(
            path,
            "",
            "no observed value to fit (no row, or every cell of the fitted columns is empty)",
            "add rows with a stage, new_converted, purchases, revenue, deliveries:TP or engaged:TP column",
        )
    return observed


def _day(path, ln: int, text: str, horizon: int) -> int:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x == int(x)):
        raise _fail(
            path, f", line {ln}, column day", f"a day must be a whole number, got {text!r}", "write 0, 1, 2, ..."
        )
    if not 0 <= x <= horizon:
        raise _fail(
            path,
            f", line {ln}, column day",
            f"day must be within [0, {horizon}] (the horizon), got {int(x)}",
            f"drop the days after {horizon}, or run over more days with --days",
        )
    return int(x)


def _cell(path, ln: int, column: str, text: str) -> float:
    if text == "":
        return math.nan  # not observed
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not math.isfinite(x):
        raise _fail(
            path,
            f", line {ln}, column {column}",
            f"must be a finite number or empty, got {text!r}",
            "leave the cell empty where nothing was observed",
        )
    if x < 0:
        raise _fail(
            path,
            f", line {ln}, column {column}",
            f"must be >= 0 (a count or an amount), got {text}",
            "correct the value or leave it empty",
        )
    return x
