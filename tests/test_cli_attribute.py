"""``jsim attribute``: JSON contract, files written as one set, bad input exits 2 with nothing written."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from jsim.cli import main

PATHS = """path;total_conversions;total_conversion_value;total_null
A > B;1;10;1
A;0;0;2
B > C;2;50;0
C > C > A;1;6;1
"""


@pytest.fixture
def paths_file(tmp_path):
    f = tmp_path / "paths.csv"
    f.write_text(PATHS)
    return f


def test_json_has_the_contract_keys(paths_file):
    res = CliRunner().invoke(main, ["attribute", str(paths_file), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["conversion_probability"] == pytest.approx(0.5) and data["total_conversions"] == 4
    row = data["channels"][0]
    for key in (
        "channel",
        "removal_effect",
        "markov_conversions",
        "markov_value",
        "first_touch",
        "last_touch",
        "linear",
    ):
        assert key in row
    assert [c["channel"] for c in data["channels"]] == ["A", "B", "C"]


def test_out_writes_attribution_and_transition_matrix(paths_file, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["attribute", str(paths_file), "--method", "markov", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "conversion probability 50.0000%" in res.output and "wrote attribution.csv" in res.output
    table = pd.read_csv(out / "attribution.csv")
    assert list(table.columns) == ["channel", "removal_effect", "markov_conversions", "markov_value"]
    tm = pd.read_csv(out / "transition_matrix.csv")
    assert list(tm.columns) == ["from", "to", "probability"]
    assert tm.groupby("from")["probability"].sum().tolist() == pytest.approx([1.0] * 4)
    assert json.loads((out / "attribution.json").read_text())["order"] == 1


def test_csv_format_prints_attribution_csv(paths_file):
    res = CliRunner().invoke(main, ["attribute", str(paths_file), "--format", "csv", "--method", "first"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[0] == "channel,first_touch,first_touch_value"


@pytest.mark.parametrize(
    "text, args, needle",
    [
        (PATHS + "D;x;0;0\n", [], "line 6, column 'total_conversions'"),
        (PATHS, ["--method", "time-decay"], "time-decay needs a time per touch"),
        (PATHS, ["--conv-col", "orders"], "column 'orders' not found"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, text, args, needle):
    f = tmp_path / "p.csv"
    f.write_text(text)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["attribute", str(f), "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert needle in res.output and not out.exists()
