"""Conversion-path files in ChannelAttribution's format, and :class:`PathTable`, the paths in memory.

A path file is a table with a header and the columns ``path;total_conversions;total_conversion_value;total_null``
(``;`` or ``,`` between fields, detected from the header), one row per distinct path; a path is
its channels joined by ``>`` (spaces around ``>`` allowed): ``search > email > search``. A
``times`` column, when present, gives a time in days per touch, aligned with the path
(``0>3.5>7``); only the time-decay heuristic uses it. Files ending ``.gz`` are gzip-compressed.

:func:`read_paths` reads such a file into a :class:`PathTable` (every bad row is an
:class:`~jsim.errors.InputError` naming the line and the column); :func:`write_paths` writes one,
so that journeys simulated by jsim can go through other attribution tools too.
"""

from __future__ import annotations

__all__ = ["PATH_COLUMNS", "TIMES_COLUMN", "PathTable", "read_paths", "write_paths"]

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .files import atomic_write

#: the columns of a path file, ChannelAttribution's names
PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
#: the optional column of touch times (days, one per touch, joined by ``>``)
TIMES_COLUMN = "times"


@dataclass(frozen=True, eq=False)
class PathTable:
    """Conversion paths, one row per (usually distinct) sequence of channel touches.

    Stored flat (structure of arrays), so a million paths cost a few arrays, not a million tuples.
    Build one with :meth:`from_paths` (sequences of channel names) or :meth:`from_arrays`.

    Attributes
    ----------
    channels : tuple of str
        Channel names; ``touch_channel_idx`` indexes them.
    offsets : (n_paths + 1,) int64
        Path ``i``'s touches are ``touch_channel_idx[offsets[i]:offsets[i + 1]]``, in time order.
    touch_channel_idx : (n_touches,) int64
        The channel of every touch, raw (repeats kept).
    conversions : (n_paths,) float64
        Conversions of journeys that followed the path (``total_conversions``), >= 0.
    value : (n_paths,) float64
        Their total conversion value (``total_conversion_value``), >= 0; zeros when unknown.
    nulls : (n_paths,) float64
        Journeys that followed the path and did not convert (``total_null``), >= 0.
    t_touch : (n_touches,) float64 or None
        Time of each touch in days (any origin), non-decreasing within a path; only the
        time-decay heuristic uses it.
    has_value : bool
        Whether ``value`` was given (else the value columns are left out of the results).
    """

    channels: tuple[str, ...]
    offsets: np.ndarray
    touch_channel_idx: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    t_touch: np.ndarray | None = None
    has_value: bool = True

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[Sequence[str]],
        conversions: Sequence[float],
        value: Sequence[float] | None = None,
        nulls: Sequence[float] | None = None,
        times: Iterable[Sequence[float]] | None = None,
    ) -> PathTable:
        """A table from paths as sequences of channel names, e.g. ``[("search", "email"), ("tv",)]``.

        ``value`` and ``nulls`` default to zeros; ``times`` (days, one per touch) to none.
        """
        index: dict[str, int] = {}
        lengths, touches = [], []
        for path in paths:
            lengths.append(len(path))
            touches.extend(index.setdefault(str(name), len(index)) for name in path)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        t_touch = None if times is None else np.array([t for ts in times for t in ts], dtype=np.float64)
        return cls.from_arrays(
            tuple(index), offsets, np.array(touches, dtype=np.int64), conversions, value, nulls, t_touch
        )

    @classmethod
    def from_arrays(
        cls, channels, offsets, touch_channel_idx, conversions, value=None, nulls=None, t_touch=None
    ) -> PathTable:
        """A checked table from the flat arrays described in the class docstring.

        Raises
        ------
        InputError
            Naming the path (0-based row), the rule and the value: an empty path, a negative or
            non-finite count, a channel index out of range, times not aligned with the touches.
        """
        offsets = np.asarray(offsets, dtype=np.int64)
        touches = np.asarray(touch_channel_idx, dtype=np.int64)
        n = len(offsets) - 1
        conv = np.asarray(conversions, dtype=np.float64)
        has_value = value is not None
        val = np.zeros(n) if value is None else np.asarray(value, dtype=np.float64)
        nul = np.zeros(n) if nulls is None else np.asarray(nulls, dtype=np.float64)
        t = None if t_touch is None else np.asarray(t_touch, dtype=np.float64)
        table = cls(tuple(channels), offsets, touches, conv, val, nul, t, has_value)
        table._check()
        return table

    def _check(self) -> None:
        n = len(self.offsets) - 1
        if n < 0 or self.offsets[0] != 0 or self.offsets[-1] != len(self.touch_channel_idx):
            raise InputError(f"offsets must start at 0 and end at the number of touches, got {self.offsets[:3]}...")
        for name, arr in (("conversions", self.conversions), ("value", self.value), ("nulls", self.nulls)):
            if arr.shape != (n,):
                raise InputError(f"{name} must have one entry per path ({n}), got shape {arr.shape}")
            bad = np.flatnonzero(~(np.isfinite(arr) & (arr >= 0)))
            if bad.size:
                raise InputError(f"paths[{bad[0]}].{name} must be a finite number >= 0, got {arr[bad[0]]}")
        empty = np.flatnonzero(np.diff(self.offsets) <= 0)
        if empty.size:
            raise InputError(f"paths[{empty[0]}] must have at least one touch, got an empty path (drop the row)")
        if self.touch_channel_idx.size and not (
            0 <= self.touch_channel_idx.min() and self.touch_channel_idx.max() < len(self.channels)
        ):
            raise InputError(f"touch_channel_idx must index channels (0..{len(self.channels) - 1})")
        if self.t_touch is not None:
            if self.t_touch.shape != self.touch_channel_idx.shape:
                raise InputError(
                    f"times must give one time per touch ({self.touch_channel_idx.size}), got {self.t_touch.size}"
                )
            step = np.diff(self.t_touch)
            inner = np.ones(step.size, dtype=bool)
            inner[self.offsets[1:-1] - 1] = False  # a path's first touch may be earlier than the last one's
            bad = np.flatnonzero(~np.isfinite(self.t_touch))
            bad = bad if bad.size else np.flatnonzero(inner & ~(step >= 0)) + 1
            if bad.size:
                row = int(np.searchsorted(self.offsets, bad[0], side="right") - 1)
                raise InputError(
                    f"paths[{row}].times must be finite and non-decreasing along the path, got "
                    f"{self.t_touch[self.offsets[row] : self.offsets[row + 1]].tolist()}"
                )

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def path(self, i: int) -> tuple[str, ...]:
        """Path ``i`` as channel names."""
        return tuple(self.channels[c] for c in self.touch_channel_idx[self.offsets[i] : self.offsets[i + 1]])

    def aggregated(self) -> PathTable:
        """The same paths with identical rows merged (conversions, value and nulls summed), first-seen order.

        Paths with times are kept as they are (two journeys through the same channels at other
        times are different rows).
        """
        if self.t_touch is not None:
            return self
        seen: dict[bytes, int] = {}
        idx = np.empty(len(self), dtype=np.int64)
        touches = self.touch_channel_idx
        for i in range(len(self)):
            idx[i] = seen.setdefault(touches[self.offsets[i] : self.offsets[i + 1]].tobytes(), len(seen))
        firsts = np.unique(idx, return_index=True)[1]
        lengths = np.diff(self.offsets)[firsts]
        offsets = np.zeros(len(firsts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        keep = (
            np.concatenate([touches[self.offsets[i] : self.offsets[i + 1]] for i in firsts]) if len(firsts) else touches
        )

        def total(a):
            return np.bincount(idx, weights=a, minlength=len(firsts))

        return PathTable(
            self.channels,
            offsets,
            keep,
            total(self.conversions),
            total(self.value),
            total(self.nulls),
            None,
            self.has_value,
        )


def _open_text(path: Path):
    if path.suffix == ".gz":
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def read_paths(
    source,
    *,
    path_col: str | None = None,
    conv_col: str | None = None,
    value_col: str | None = None,
    null_col: str | None = None,
    times_col: str | None = None,
) -> PathTable:
    """Read a path file (ChannelAttribution's format, ``;`` or ``,``, ``.gz`` too) into a :class:`PathTable`.

    Parameters
    ----------
    source : str or path
        The file.
    path_col, conv_col, value_col, null_col, times_col : str, optional
        Column names other than ``path``, ``total_conversions``, ``total_conversion_value``,
        ``total_null``, ``times``. The path and conversions columns must exist; value, nulls
        and times are optional unless named here (then missing is an error).

    Raises
    ------
    InputError
        The file cannot be read, a column is missing, or a row is bad: naming the line (1 is the
        header), the column, the rule, the value and a fix.
    """
    import csv

    path = Path(source)
    names = {
        "path_col": (path_col or PATH_COLUMNS[0], True),
        "conv_col": (conv_col or PATH_COLUMNS[1], True),
        "value_col": (value_col or PATH_COLUMNS[2], value_col is not None),
        "null_col": (null_col or PATH_COLUMNS[3], null_col is not None),
        "times_col": (times_col or TIMES_COLUMN, times_col is not None),
    }
    try:
        with _open_text(path) as fh:
            header_line = fh.readline()
            sep = ";" if header_line.count(";") >= max(header_line.count(","), 1) else ","
            header = next(csv.reader([header_line], delimiter=sep), [])
            header = [h.strip() for h in header]
            where: dict[str, int | None] = {}
            for param, (name, required) in names.items():
                if name in header:
                    where[param] = header.index(name)
                elif required:
                    flag = "--" + param.replace("_", "-")
                    raise InputError(
                        f"{source}: line 1 (header): column {name!r} not found, the header has "
                        f"{', '.join(repr(h) for h in header) or 'nothing'} (name the column with {flag})",
                        params=(param,),
                    )
                else:
                    where[param] = None
            return _read_rows(source, csv.reader(fh, delimiter=sep), header, where, sep)
    except OSError as exc:
        raise InputError(f"{source}: cannot read the path file: {exc.strerror or exc} (check the name)") from exc
    except (UnicodeDecodeError, EOFError) as exc:
        raise InputError(f"{source}: not a text path file ({exc}); give a CSV, or a .gz of one") from exc


def _read_rows(source, reader, header, where, sep) -> PathTable:
    import csv

    index: dict[str, int] = {}
    touches: list[int] = []
    lengths: list[int] = []
    times: list[float] = []
    conv: list[float] = []
    value: list[float] = []
    nulls: list[float] = []
    n_fields = len(header)
    i_path, i_conv, i_value, i_null, i_times = (
        where[k] for k in ("path_col", "conv_col", "value_col", "null_col", "times_col")
    )

    def number(row, i, line) -> float:
        raw = row[i].strip()
        try:
            x = float(raw)
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and x >= 0):
            raise InputError(
                f"{source}: line {line}, column {header[i]!r}: must be a number >= 0, got {raw!r} "
                f"({'write 0 for none' if not raw else 'fix or drop the row'})"
            )
        return x

    try:
        for row in reader:
            line = reader.line_num + 1  # the header was read before the reader started
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != n_fields:
                raise InputError(
                    f"{source}: line {line}: must have {n_fields} fields separated by {sep!r} like the header, "
                    f"got {len(row)} (quote a field that contains {sep!r})"
                )
            text = row[i_path]
            channels = [c.strip() for c in text.split(">")]
            if not text.strip() or any(not c for c in channels):
                what = "an empty path" if not text.strip() else f"an empty channel name in {text!r}"
                raise InputError(
                    f"{source}: line {line}, column {header[i_path]!r}: every path must name channels joined "
                    f"by '>', got {what} (drop the row, or remove the extra '>')"
                )
            conv.append(number(row, i_conv, line))
            value.append(number(row, i_value, line) if i_value is not None else 0.0)
            nulls.append(number(row, i_null, line) if i_null is not None else 0.0)
            if i_times is not None:
                ts = row[i_times].split(">")
                if len(ts) != len(channels):
                    raise InputError(
                        f"{source}: line {line}, column {header[i_times]!r}: must give one time per touch "
                        f"({len(channels)}), got {len(ts)} in {row[i_times]!r}"
                    )
                t_row = []
                for t in ts:
                    try:
                        t_row.append(float(t))
                    except ValueError:
                        t_row.append(math.nan)
                if not all(math.isfinite(t) for t in t_row) or any(b < a for a, b in zip(t_row, t_row[1:])):
                    raise InputError(
                        f"{source}: line {line}, column {header[i_times]!r}: times must be numbers of days, "
                        f"non-decreasing along the path, got {row[i_times]!r}"
                    )
                times.extend(t_row)
            lengths.append(len(channels))
            touches.extend(index.setdefault(c, len(index)) for c in channels)
    except csv.Error as exc:
        raise InputError(f"{source}: line {reader.line_num + 1}: not valid CSV: {exc}") from exc
    if not lengths:
        raise InputError(f"{source}: no paths after the header (one row per path: {';'.join(PATH_COLUMNS)})")
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return PathTable.from_arrays(
        tuple(index),
        offsets,
        np.array(touches, dtype=np.int64),
        conv,
        value if i_value is not None else None,
        nulls,
        np.array(times) if i_times is not None else None,
    )


def _cell(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def write_paths(paths: PathTable, file) -> Path:
    """Write ``paths`` as a path file ``read_paths`` (and ChannelAttribution) reads; ``.gz``: compressed.

    Columns ``path;total_conversions;total_conversion_value;total_null`` (+ ``times`` when the
    paths carry times), channels joined by ``" > "``; rows with no conversions are kept (their
    journeys are the ``total_null``). Written atomically.

    Raises
    ------
    InputError
        A channel name that the format cannot hold (empty, padded with spaces, or containing
        ``>``, ``;``, a quote or a line break).
    """
    for name in paths.channels:
        if not name or name != name.strip() or any(ch in name for ch in '>;"\n\r'):
            raise InputError(
                f"channel {name!r} cannot be written to a path file: names must be non-empty, without "
                "surrounding spaces and without '>', ';', quotes or line breaks (rename the channel)"
            )
    names = paths.channels
    lines = [";".join(PATH_COLUMNS + ((TIMES_COLUMN,) if paths.t_touch is not None else ()))]
    for i in range(len(paths)):
        a, b = paths.offsets[i], paths.offsets[i + 1]
        fields = [
            " > ".join(names[c] for c in paths.touch_channel_idx[a:b]),
            _cell(paths.conversions[i]),
            _cell(paths.value[i]),
            _cell(paths.nulls[i]),
        ]
        if paths.t_touch is not None:
            fields.append(">".join(_cell(t) for t in paths.t_touch[a:b]))
        lines.append(";".join(fields))
    text = "\n".join(lines) + "\n"
    file = Path(file)
    if file.suffix == ".gz":
        import gzip

        atomic_write(file, gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        atomic_write(file, text)
    return file
