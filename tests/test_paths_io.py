"""Path files: ChannelAttribution's format read and written; bad rows name their line and column."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from jsim.errors import InputError
from jsim.io.paths import PathTable, read_paths, write_paths

SEMI = """path;total_conversions;total_conversion_value;total_null
eta > iota > alpha > eta;1;0.244;3
iota>iota;2;3.195;6
beta;0;0;4
"""


def paths_of(t: PathTable):
    return [t.path(i) for i in range(len(t))]


@pytest.mark.parametrize("sep", [";", ","])
def test_separators_and_spaces_around_the_arrows(tmp_path, sep):
    f = tmp_path / "p.csv"
    f.write_text(SEMI.replace(";", sep))
    t = read_paths(f)
    assert paths_of(t) == [("eta", "iota", "alpha", "eta"), ("iota", "iota"), ("beta",)]
    assert (
        t.conversions.tolist() == [1, 2, 0] and t.value.tolist() == [0.244, 3.195, 0] and t.nulls.tolist() == [3, 6, 4]
    )
    assert t.has_value and t.t_touch is None


def test_gzip_and_custom_column_names(tmp_path):
    f = tmp_path / "p.csv.gz"
    f.write_bytes(gzip.compress(b"journey,orders,nothing\na>b,3,1\nb,1,0\n"))
    t = read_paths(f, path_col="journey", conv_col="orders", null_col="nothing")
    assert paths_of(t) == [("a", "b"), ("b",)] and t.nulls.tolist() == [1, 0] and not t.has_value


@pytest.mark.parametrize(
    "text, needle",
    [
        ("path;total_conversions\na;1\nb;x\n", "line 3, column 'total_conversions': must be a number >= 0, got 'x'"),
        ("path;total_conversions\na;-2\n", "line 2, column 'total_conversions': must be a number >= 0, got '-2'"),
        ("path;total_conversions;total_null\na;1;\n", "line 2, column 'total_null': must be a number >= 0, got ''"),
        ("path;total_conversions\n;1\n", "line 2, column 'path': every path must name channels"),
        ("path;total_conversions\na>>b;1\n", "line 2, column 'path': every path must name channels"),
        ("path;total_conversions\na;1;2\n", "line 2: must have 2 fields"),
        ("path;conversions\na;1\n", "line 1 (header): column 'total_conversions' not found"),
        ("path;total_conversions\n", "no paths after the header"),
        ("path;total_conversions;times\na>b;1;0>x\n", "line 2, column 'times': times must be numbers"),
        ("path;total_conversions;times\na>b;1;0\n", "line 2, column 'times': must give one time per touch (2), got 1"),
    ],
)
def test_bad_rows_name_line_and_column(tmp_path, text, needle):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        read_paths(f)
    assert needle in str(err.value) and str(f) in str(err.value)


def test_a_named_column_that_is_missing_is_an_error(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(SEMI)
    with pytest.raises(InputError, match="column 'revenue' not found.*--value-col"):
        read_paths(f, value_col="revenue")


def test_times_are_read_aligned_with_the_touches(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("path;total_conversions;total_null;times\na > b;1;0;0>3.5\nc;0;2;1\n")
    t = read_paths(f)
    assert t.t_touch.tolist() == [0, 3.5, 1]


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_write_then_read_gives_the_same_table(tmp_path, name):
    t = PathTable.from_paths(
        [("search", "email", "search"), ("tv",), ("email",)],
        [2, 0, 1.5],
        [20, 0, 7.25],
        [1, 5, 0],
        times=[(0, 1, 2.5), (3,), (0,)],
    )
    back = read_paths(write_paths(t, tmp_path / name))
    assert paths_of(back) == paths_of(t)
    for field in ("conversions", "value", "nulls", "t_touch"):
        assert np.array_equal(getattr(back, field), getattr(t, field))
    head = (gzip.open if name.endswith(".gz") else open)(tmp_path / name, "rt").readline()
    assert head.strip() == "path;total_conversions;total_conversion_value;total_null;times"


def test_write_refuses_a_channel_name_the_format_cannot_hold(tmp_path):
    with pytest.raises(InputError, match="channel 'a>b' cannot be written"):
        write_paths(PathTable.from_paths([("a>b",)], [1]), tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()


def test_aggregated_merges_identical_paths():
    t = PathTable.from_paths([("a", "b"), ("b",), ("a", "b")], [1, 0, 2], [5, 0, 7], [0, 3, 1]).aggregated()
    assert paths_of(t) == [("a", "b"), ("b",)]
    assert t.conversions.tolist() == [3, 0] and t.value.tolist() == [12, 0] and t.nulls.tolist() == [1, 3]
