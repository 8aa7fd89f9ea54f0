"""jsim sweep: common random numbers across the grid, sweep.csv, the plot's data, bad input exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from jsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "scenarios" / "support_understaffed.toml"
WEBSHOP = ROOT / "scenarios" / "webshop.toml"
AGENTS = "touchpoints.support_chat.service.agents"
ABANDONED = "sources.support_chat:abandoned.moves"
SMALL = {"customers": 3000, "days": 40}


def test_grid_values_are_ints_when_start_and_stop_are_whole():
    from jsim.analysis.params import parse_sweep_param

    assert parse_sweep_param(f"{AGENTS}=1:6:6").values == (1, 2, 3, 4, 5, 6)
    assert all(type(v) is int for v in parse_sweep_param(f"{AGENTS}=1:6:6").values)
    assert parse_sweep_param("economics.margin=0:1:3").values == (0.0, 0.5, 1.0)
    assert all(type(v) is float for v in parse_sweep_param("economics.margin=0:1:3").values)
    assert all(type(v) is float for v in parse_sweep_param("k=1.0:6:6").values)
    assert parse_sweep_param("k=2:2:1").values == (2,)


def test_a_grid_point_at_the_files_value_is_bit_identical_to_jsim_run():
    """Common random numbers: the grid point agents=2 is the run `jsim run --set agents=2` with the same seed."""
    from jsim.metrics import rep_values
    from jsim.runner import run_scenario, sweep_scenario

    sweep, _ = sweep_scenario(
        SUPPORT, [f"{AGENTS}=2:3:2"], ["new_customers", ABANDONED], seed=11, reps=3, engine="fast", **SMALL
    )
    _, result, _ = run_scenario(SUPPORT, seed=11, reps=3, engine="fast", overrides=[f"{AGENTS}=2"], **SMALL)
    ran = rep_values(result)
    at_two = sweep.runs[0].values
    for table in ("metrics", "stages_at_horizon"):
        for key, arr in ran[table].items():
            np.testing.assert_array_equal(at_two[table][key], arr, err_msg=f"{table}.{key}")
    for table in ("touchpoints", "sources"):
        for item, fields in ran[table].items():
            for key, arr in fields.items():
                np.testing.assert_array_equal(at_two[table][item][key], arr, err_msg=f"{table}.{item}.{key}")
    # and the second point differs (the sweep changed something), paired to the first
    row = next(r for r in sweep.rows if r[AGENTS] == 3 and r["metric"] == ABANDONED)
    assert row["difference"] < 0 and row["difference_low"] <= row["difference"] <= row["difference_high"]


def test_more_chat_agents_fewer_abandoned_chats_mean_field():
    from jsim.runner import sweep_scenario

    sweep, _ = sweep_scenario(SUPPORT, [f"{AGENTS}=1:6:6"], [ABANDONED, "new_customers"], engine="mean-field")
    abandoned = [r["mean"] for r in sweep.rows if r["metric"] == ABANDONED]
    converted = [r["mean"] for r in sweep.rows if r["metric"] == "new_customers"]
    assert len(abandoned) == 6
    assert np.all(np.diff(abandoned) < 0), abandoned
    assert np.all(np.diff(converted) > 0), converted
    # deterministic: intervals collapse onto the means
    assert all(r["low"] == r["mean"] == r["high"] for r in sweep.rows)


def test_two_params_csv_json_and_heat_map_data(tmp_path):
    from jsim.plot.sweep import get_sweep_info

    out = tmp_path / "grid"
    args = [
        "sweep",
        str(WEBSHOP),
        "--param",
        "economics.margin=0.25:0.45:2",
        "--param",
        "touchpoints.search_ads.spend=50:150:3",
        "--metric",
        "net_profit",
        "--metric",
        "stages_at_horizon.loyal",
        "--engine",
        "mean-field",
        "-n",
        "2000",
        "-d",
        "30",
        "-q",
        "--out",
        str(out),
        "--plot",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "net_profit: rows economics.margin" in res.output
    table = pd.read_csv(out / "sweep.csv")
    assert list(table.columns) == [
        "economics.margin",
        "touchpoints.search_ads.spend",
        "metric",
        "mean",
        "low",
        "high",
        "sd",
        "n",
        "difference",
        "difference_low",
        "difference_high",
        "distinguishable",
    ]
    assert len(table) == 2 * 3 * 2
    assert set(table["metric"]) == {"net_profit", "stages_at_horizon.loyal"}
    assert sorted(set(table["economics.margin"])) == [0.25, 0.45]
    assert sorted(set(table["touchpoints.search_ads.spend"])) == [50, 100, 150]
    assert (out / "sweep.png").stat().st_size > 0
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["params"][1] == {"key": "touchpoints.search_ads.spend", "values": [50, 100, 150]}
    assert len(doc["rows"]) == 12
    # margin does not change loyal customers; profit grows with margin at every spend
    loyal = table[table["metric"] == "stages_at_horizon.loyal"]
    assert loyal.groupby("touchpoints.search_ads.spend")["mean"].nunique().eq(1).all()

    from jsim.runner import sweep_scenario

    sweep, _ = sweep_scenario(
        WEBSHOP,
        ["economics.margin=0.25:0.45:2", "touchpoints.search_ads.spend=50:150:3"],
        ["net_profit", "stages_at_horizon.loyal"],
        engine="mean-field",
        customers=2000,
        days=30,
    )
    info = get_sweep_info(sweep)
    assert info.mean.shape == (2, 2, 3) and info.keys == ("economics.margin", "touchpoints.search_ads.spend")
    profit = table[table["metric"] == "net_profit"]
    for _, r in profit.iterrows():
        i = info.values[0].index(r["economics.margin"])
        j = info.values[1].index(r["touchpoints.search_ads.spend"])
        assert info.mean[0, i, j] == pytest.approx(r["mean"], rel=1e-12)
    assert np.all(np.diff(info.mean[0], axis=0) > 0)


def test_json_format_prints_sweep_json():
    args = ["sweep", str(SUPPORT), "--param", f"{AGENTS}=2:4:2", "--metric", "new_customers", "--reps", "2"]
    res = CliRunner().invoke(main, [*args, "-n", "1000", "-q", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["reps"] == 2 and doc["engine"] == "fast" and doc["params"][0]["values"] == [2, 4]
    assert [r[AGENTS] for r in doc["rows"]] == [2, 4]
    assert doc["rows"][1]["low"] <= doc["rows"][1]["mean"] <= doc["rows"][1]["high"]


def test_set_applies_before_the_grid():
    """--set of the swept KEY is overridden by the grid; another --set changes every point."""
    from jsim.runner import sweep_scenario

    common = dict(engine="mean-field", customers=2000, days=30)
    plain, _ = sweep_scenario(SUPPORT, [f"{AGENTS}=2:3:2"], ["net_profit"], **common)
    same, _ = sweep_scenario(SUPPORT, [f"{AGENTS}=2:3:2"], ["net_profit"], overrides=[f"{AGENTS}=6"], **common)
    assert [r["mean"] for r in plain.rows] == [r["mean"] for r in same.rows]
    margin, _ = sweep_scenario(
        SUPPORT, [f"{AGENTS}=2:3:2"], ["net_profit"], overrides=["economics.margin=0.5"], **common
    )
    assert all(m["mean"] > p["mean"] for m, p in zip(margin.rows, plain.rows))
    assert margin.as_json()["overrides"] == {"economics.margin": 0.5}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "touchpoints.support_chat.service.agent=1:6:6"], "did you mean 'agents'"),
        (["--param", f"{AGENTS}=1:6"], "START:STOP:N"),
        (["--param", f"{AGENTS}=1:6:0"], "N must be a whole number"),
        (["--param", f"{AGENTS}=1:6:1"], "N = 1 needs START == STOP"),
        (["--param", f"{AGENTS}=a:6:3"], "START must be a finite number"),
        (["--param", f"{AGENTS}=1:6:3"], "agents"),  # 3.5 agents: the field's rule, before anything runs
        (
            [
                "--param",
                f"{AGENTS}=1:2:2",
                "--param",
                "economics.margin=0.2:0.3:2",
                "--param",
                "population.days=9:10:2",
            ],
            "one KEY (a line) or two",
        ),
        (["--param", f"{AGENTS}=1:2:2", "--param", f"{AGENTS}=3:4:2"], "swept once"),
        ([], "--param is required"),
        (["--param", f"{AGENTS}=1:2:2", "--metric", "new_customer"], "did you mean 'new_customers'"),
        (["--param", f"{AGENTS}=1:2:2", "--metric", "sources.support_chat:abandon.moves"], "support_chat:abandoned"),
        (["--param", f"{AGENTS}=1:2:2", "--metric", "touchpoints.support_chat.costs"], "did you mean"),
        (["--param", f"{AGENTS}=1:2:2", "--metric", "stages_at_horizon.loyl"], "stages_at_horizon.loyal"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    metric = [] if "--metric" in args else ["--metric", "new_customers"]
    res = CliRunner().invoke(main, ["sweep", str(SUPPORT), *args, *metric, "-q", "--out", str(out), "--plot"])
    assert res.exit_code == 2, res.output
    assert message in res.output, res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_missing_metric_and_plot_without_out_are_usage_errors():
    res = CliRunner().invoke(main, ["sweep", str(SUPPORT), "--param", f"{AGENTS}=1:2:2", "-q"])
    assert res.exit_code == 2 and "--metric is required" in res.output
    res = CliRunner().invoke(main, ["sweep", str(SUPPORT), "--param", f"{AGENTS}=1:2:2", "--metric", "cost", "--plot"])
    assert res.exit_code == 2 and "--plot needs --out" in res.output


def test_metric_names_agree_with_rep_values():
    from jsim.analysis.metric_paths import METRICS, SOURCE_FIELDS, TOUCHPOINT_FIELDS, metric_names
    from jsim.engine import simulate
    from jsim.metrics import rep_values
    from jsim.model import compile_scenario
    from jsim.scenario import load_scenario

    model = compile_scenario(load_scenario(SUPPORT), customers=500, days=5)
    values = rep_values(simulate(model, seed=0, reps=1, engine="mean-field"))
    assert tuple(values["metrics"]) == METRICS
    assert all(tuple(v) == TOUCHPOINT_FIELDS for v in values["touchpoints"].values())
    assert all(tuple(v) == SOURCE_FIELDS for v in values["sources"].values())
    names = metric_names(model)
    assert ABANDONED in names and "touchpoints.support_chat.cost" in names and "stages_at_horizon.loyal" in names
