"""The command line: exit codes, outputs pandas opens, nothing written on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from jsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = """
[[stages]]
name = "aware"
[[stages]]
name = "lost"
absorbing = true
[[transitions]]
from = "aware"
to = "lost"
p = 0.2
"""


@pytest.fixture
def minimal(tmp_path):
    path = tmp_path / "minimal.toml"
    path.write_text(MINIMAL)
    return path


def test_help_lists_every_command():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for cmd in ("run", "validate", "schema"):
        assert cmd in res.output
    for cmd in ("run", "validate", "schema"):
        sub = CliRunner().invoke(main, [cmd, "--help"])
        assert sub.exit_code == 0 and "Usage:" in sub.output


def test_help_lists_the_commands_in_the_order_a_user_meets_them():
    res = CliRunner().invoke(main, ["--help"])
    lines = res.output.split("Commands:")[1].strip().split("\n\n")[0].splitlines()
    listed = [line.split()[0] for line in lines if not line.startswith("   ")]
    order = [
        "run",
        "compare",
        "sweep",
        "sensitivity",
        "attribute",
        "calibrate",
        "report",
        "validate",
        "schema",
        "optimise",
        "teach",
    ]
    assert listed == order


def test_help_imports_no_numerics():
    """`jsim --help` stays fast: the command modules import numpy, numba, Optuna... inside their bodies."""
    code = (
        "import sys, jsim.cli; "
        "heavy = ('numpy', 'numba', 'optuna', 'scipy', 'matplotlib', 'rich', 'pydantic'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert res.stdout.strip() == "[]"


def test_run_imports_only_what_it_needs():
    """`jsim run` starts fast: no pandas, plots, optimiser, Dask or scipy's linalg/special/stats on its path.

    numba's own set-up would import ``scipy.linalg`` (0.18 s; ``jsim.kernels._target`` avoids it) and
    the intervals' t quantile ``scipy.special`` (0.1-0.2 s; ``jsim.metrics._T975``). Both the
    day-coupled (webshop) and the independent path (minimal) run, with the printed summary.
    """
    code = (
        "import sys; from jsim.cli import main\n"
        "for path in ('scenarios/webshop.toml', 'scenarios/minimal.toml'):\n"
        "    main(['run', path, '--customers', '2000', '--days', '20', '--reps', '3', '-q'], standalone_mode=False)\n"
        "heavy = ('pandas', 'matplotlib', 'optuna', 'SALib', 'plotly', 'starlette', 'uvicorn', 'dask', 'distributed', "
        "'simpy', 'sqlalchemy', 'jinja2', 'scipy.linalg', 'scipy.special', 'scipy.stats', 'scipy.optimize')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert res.stdout.strip().splitlines()[-1] == "HEAVY []"


def test_run_minimal_writes_outputs(minimal, tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["run", str(minimal), "--customers", "1000", "--days", "10", "--seed", "3", "--out", str(out), "--quiet"]
    )
    assert res.exit_code == 0, res.output
    daily = pd.read_csv(out / "daily.csv")
    assert list(daily.columns[:3]) == ["day", "aware", "lost"]
    assert daily["day"].tolist() == list(range(11))
    assert (daily["aware"] + daily["lost"] == 1000).all()
    assert daily.loc[0, "aware"] == 1000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 3 and summary["days"] == 10 and "jsim_version" in summary and summary["scenario_hash"]
    assert pd.read_csv(out / "touchpoints.csv").empty
    flows = pd.read_csv(out / "flows.csv")
    assert list(flows.columns) == ["day", "from", "to", "moves", "source"]
    assert set(flows["from"]) == {"aware"} and set(flows["to"]) == {"lost"} and set(flows["source"]) == {"organic"}
    assert flows["moves"].sum() == daily.loc[10, "lost"]
    segments = pd.read_csv(out / "segments.csv")
    assert segments["segment"].tolist() == ["all"] and segments.loc[0, "customers"] == 1000
    sources = pd.read_csv(out / "sources.csv")
    assert sources["source"].tolist() == ["organic"] and sources.loc[0, "moves"] == daily.loc[10, "lost"]


def test_outputs_follow_the_umask(minimal, tmp_path):
    import os

    out = tmp_path / "out"
    old = os.umask(0o027)
    try:
        res = CliRunner().invoke(main, ["run", str(minimal), "-n", "100", "-d", "5", "-o", str(out), "-q", "--plot"])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert "funnel.png" in modes and "summary.json" in modes
    assert set(modes.values()) == {0o640}, modes
    # no temporary file left: the only hidden file is the list of the set's files
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [".jsim-manifest.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["minimal.toml", "out"]  # nor a staging folder beside it


def test_flows_by_source_sum_to_the_flows_between_stages(tmp_path):
    out = tmp_path / "webshop"
    res = CliRunner().invoke(
        main, ["run", str(ROOT / "scenarios" / "webshop.toml"), "-n", "3000", "-d", "30", "-q", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    flows = pd.read_csv(out / "flows.csv")
    daily = pd.read_csv(out / "daily.csv")
    assert {"organic", "search_ads", "wom:unaware->aware"} <= set(flows["source"])
    # per day and stage: yesterday + arrivals + moves in - moves out, the moves summed over sources
    into = flows.groupby(["day", "to"])["moves"].sum().unstack(fill_value=0)
    out_of = flows.groupby(["day", "from"])["moves"].sum().unstack(fill_value=0)
    stage = "customer"
    change = daily[stage].diff().iloc[1:].to_numpy()
    net = into.reindex(range(1, 31), fill_value=0).get(stage, 0) - out_of.reindex(range(1, 31), fill_value=0).get(
        stage, 0
    )
    assert (change == np.asarray(net)).all()


def test_run_json_format_is_the_summary(minimal):
    res = CliRunner().invoke(main, ["run", str(minimal), "-n", "500", "-d", "5", "--format", "json", "-q", "-r", "3"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["reps"] == 3 and data["metrics"]["customers"]["mean"] == 500


def test_mean_field_engine(minimal):
    res = CliRunner().invoke(
        main, ["run", str(minimal), "-n", "1000", "-d", "1", "--engine", "mean-field", "--format", "json", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["stages_at_horizon"]["lost"]["mean"] == pytest.approx(200.0, abs=1e-9)


def test_invalid_scenario_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("p = 0.2", "p = 20").replace('name = "lost"', 'name = "lost"\nabsorbng = true'))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(bad), "--out", str(out), "-q"])
    assert res.exit_code == 2
    assert "transitions[0].p" in res.output and "within [0, 1], got 20" in res.output and "0.2" in res.output
    assert "did you mean 'absorbing'" in res.output
    assert not out.exists()


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--customers", "-5"], "--customers"),
        (["--days", "0"], "--days"),
        (["--engine", "warp"], "--engine"),
        (["--reps", "0"], "--reps"),
    ],
)
def test_invalid_flags_exit_2(minimal, tmp_path, args, needle):
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(minimal), "--out", str(out), *args])
    assert res.exit_code == 2
    assert needle in res.output
    assert not out.exists()


def test_missing_file_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["run", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "no such scenario file" in res.output


def test_validate_and_schema(minimal, tmp_path):
    res = CliRunner().invoke(main, ["validate", str(minimal)])
    assert res.exit_code == 0 and "ok" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [{name: a}]\ntransitions: [{from: a, to: b, p: 0.1}]\n")
    res = CliRunner().invoke(main, ["validate", str(bad)])
    assert res.exit_code == 2 and "transitions[0].to" in res.output and "'b'" in res.output
    res = CliRunner().invoke(main, ["schema"])
    schema = json.loads(res.output)
    assert res.exit_code == 0 and "stages" in schema["properties"] and "touchpoints" in schema["properties"]


def test_bundled_scenarios_validate():
    files = sorted(str(p) for p in (ROOT / "scenarios").glob("*.toml"))
    assert files, "scenarios/ must ship scenario files"
    res = CliRunner().invoke(main, ["validate", *files])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("engine", ["fast", "des"])
def test_service_outputs(tmp_path, engine):
    out = tmp_path / engine
    res = CliRunner().invoke(
        main,
        [
            "run",
            str(ROOT / "scenarios" / "support_understaffed.toml"),
            "-n",
            "1500",
            "-d",
            "20",
            "--engine",
            engine,
            "-r",
            "2",
            "-q",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Service touchpoints" in res.output
    services = pd.read_csv(out / "services.csv")
    daily = pd.read_csv(out / "service_daily.csv")
    assert services["service"].tolist() == ["support_chat"]
    assert daily["day"].tolist() == list(range(1, 21))
    assert daily["requests"].sum() == pytest.approx(services.loc[0, "requests"], rel=1e-9)
    assert ((daily["utilisation"] >= 0) & (daily["utilisation"] <= 1)).all()
    summary = json.loads((out / "summary.json").read_text())
    if engine == "des":
        waits = pd.read_csv(out / "waits.csv")
        assert set(waits["outcome"]) <= {"served", "abandoned"} and (waits["wait_minutes"] >= 0).all()
        assert ((waits["request_time"] >= 0) & (waits["request_time"] <= 20)).all()
        assert ((waits["request_hour"] >= 0) & (waits["request_hour"] < 24)).all()
        # the request time tells requests made while the chat is open (9-18) from those made while closed
        closed = ~waits["request_hour"].between(9, 18)
        assert closed.any() and (~closed).any()
        n = summary["services"][0]
        assert len(waits) == pytest.approx(2 * (n["served"]["mean"] + n["abandoned"]["mean"]))
    else:
        assert not (out / "waits.csv").exists()


def _ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


def _ctrl_c_in_a_first_import(*args, **kwargs):
    """pybind11 turns a Ctrl-C during an extension's initialisation into an ImportError raised from it."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        raise ImportError("initialization failed") from exc


@pytest.mark.parametrize("interrupted", [_ctrl_c, _ctrl_c_in_a_first_import], ids=["Ctrl-C", "in a first import"])
def test_ctrl_c_exits_130_with_one_line(minimal, monkeypatch, interrupted):
    import jsim.runner

    monkeypatch.setattr(jsim.runner, "run_scenario", interrupted)
    res = CliRunner().invoke(main, ["run", str(minimal), "-q"])
    assert res.exit_code == 130
    assert res.output.strip() == "error: interrupted by Ctrl-C; no file is left half-written"


def test_a_ctrl_c_that_interrupted_an_extension_exits_130_without_finalising(minimal):
    """A half-initialised pybind11 module (Ctrl-C in a first import) can crash the interpreter's finalisation
    (an abort instead of 130): the jsim command then leaves with os._exit once its output is flushed."""
    code = (
        "import atexit, sys\n"
        "import jsim.runner\n"
        "from jsim.__main__ import entry\n"
        "def interrupted(*a, **k):\n"
        "    try:\n"
        "        raise KeyboardInterrupt\n"
        "    except KeyboardInterrupt as exc:\n"
        "        raise ImportError('initialization failed') from exc\n"
        "jsim.runner.run_scenario = interrupted\n"
        "atexit.register(lambda: print('finalised'))\n"
        f"sys.argv = ['jsim', 'run', {str(minimal)!r}, '-q']\n"
        "entry()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "error: interrupted by Ctrl-C; no file is left half-written"
    assert "finalised" not in proc.stdout  # atexit handlers did not run: no finalisation
    plain = code.replace("raise ImportError('initialization failed') from exc", "raise")
    proc = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130 and "finalised" in proc.stdout  # a plain Ctrl-C finalises as usual
