"""Output folders: checked before the work, written as one set (swapped in whole, or not at all),
with the user's umask, and without NaN or infinities in any file or table."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner
from conftest import ROOT

import jsim.io as jio
import jsim.io.folder as jfolder
import jsim.io.tables as jtables
from jsim.cli import main
from jsim.errors import OutputError

SUPPORT = ROOT / "scenarios" / "support_understaffed.toml"
TEACHING = ROOT / "scenarios" / "teaching.toml"
MINIMAL = ROOT / "scenarios" / "minimal.toml"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NON_FINITE = re.compile(r"\b(nan|inf|infinity)\b", re.IGNORECASE)


def _run(*args):
    return CliRunner().invoke(main, ["run", *map(str, args)])


def _support_run(out, *extra):
    """``jsim run`` of the support scenario, small: every kind of file (services, waits, journeys, plot)."""
    return _run(SUPPORT, "--engine", "des", "-n", 300, "-d", 10, "--out", out, "--plot", "--journeys", 5, "-q", *extra)


def _snapshot(folder):
    """{relative path: bytes} of every file under ``folder``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _hidden_beside(folder):
    """Staging, trash and probe folders jsim may have left beside or inside ``folder``."""
    beside = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}.")]
    inside = (
        [p.name for p in folder.iterdir() if ".jsim-" in p.name and p.name != jio.MANIFEST] if folder.is_dir() else []
    )
    return beside + inside


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a simulation starts (the output folder must be checked before)."""
    import jsim.analysis.value  # binds the real simulate (it imports it by name) before it is replaced
    import jsim.engine

    def refuse(*args, **kwargs):
        raise AssertionError("simulate() was called before the output folder was checked")

    monkeypatch.setattr(jsim.engine, "simulate", refuse)


# --- 5. the folder is checked before the work; write failures leave the previous set ------------------------


def test_out_under_a_regular_file_is_rejected_before_simulating(tmp_path, no_simulation):
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a folder")
    res = _run(MINIMAL, "--out", blocker / "run1", "-q")
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert f"output folder {blocker / 'run1'}" in res.output and "is a file" in res.output
    assert "[command line: --out]" in res.output
    assert blocker.read_text() == "not a folder"


def test_unwritable_out_is_rejected_before_simulating_monkeypatched(tmp_path, monkeypatch, no_simulation):
    """The permission check as root (CI) too: the probe folder cannot be made -> exit 2 with the reason."""

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr(jfolder.tempfile, "mkdtemp", denied)
    res = _run(MINIMAL, "--out", tmp_path / "out", "-q")
    assert res.exit_code == 2, res.output
    assert "cannot be created: Permission denied" in res.output and "chmod u+w" in res.output
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(IS_ROOT, reason="root ignores permissions")
def test_read_only_folders_are_rejected_before_simulating(tmp_path, no_simulation):
    locked = tmp_path / "locked"
    locked.mkdir()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "summary.json").write_text("{}")
    locked.chmod(0o555)
    existing.chmod(0o555)
    try:
        for out, what in ((locked / "out", "cannot be created"), (existing, "must be a folder jsim can write into")):
            res = _run(MINIMAL, "--out", out, "-q")
            assert res.exit_code == 2, res.output
            assert what in res.output and "Permission denied" in res.output, res.output
        assert (existing / "summary.json").read_text() == "{}"
    finally:
        locked.chmod(0o755)
        existing.chmod(0o755)


@pytest.mark.skipif(IS_ROOT, reason="root ignores permissions")
def test_optimise_rejects_a_read_only_out_before_the_study(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        res = CliRunner().invoke(
            main, ["optimise", str(TEACHING), "--budget", "900", "--trials", "3", "-q", "--out", str(locked / "o")]
        )
    finally:
        locked.chmod(0o755)
    assert res.exit_code == 2, res.output
    assert "Permission denied" in res.output and not (locked / "o").exists()


def test_optimise_rejects_out_under_a_file_before_the_study(tmp_path, monkeypatch):
    import jsim.optimise.core

    def refuse(*args, **kwargs):
        raise AssertionError("the study started before the output folder was checked")

    monkeypatch.setattr(jsim.optimise.core, "optimise_allocation", refuse)
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = CliRunner().invoke(
        main, ["optimise", str(TEACHING), "--budget", "900", "--trials", "3", "-q", "--out", str(blocker / "o")]
    )
    assert res.exit_code == 2, res.output
    assert "is a file" in res.output and "[command line: --out]" in res.output


@pytest.mark.parametrize("fail_at", [3, "plot"])
def test_a_write_failure_keeps_the_previous_set(tmp_path, monkeypatch, fail_at):
    """Disk full while writing the 3rd file (or the plot): exit 1, one line, the folder exactly as before."""
    out = tmp_path / "out"
    assert _support_run(out).exit_code == 0
    (out / "notes.txt").write_text("mine")
    before = _snapshot(out)
    calls = []
    real_write = jtables.atomic_write

    def full_disk(path, data):
        calls.append(path)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, data)

    monkeypatch.setattr(jtables, "atomic_write", full_disk)
    if fail_at == "plot":
        import jsim.plot.funnel

        def full_disk_plot(fig, path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))

        monkeypatch.setattr(jsim.plot.funnel, "save_figure", full_disk_plot)
    res = _support_run(out, "--seed", 7)
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert "No space left on device" in res.output and "keeps its previous contents" in res.output
    assert _snapshot(out) == before
    assert _hidden_beside(out) == []


def test_output_set_turns_oserror_into_output_error_and_cleans_up(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OutputError, match="Permission denied"):
        with jio.output_set(out) as folder:
            (folder / "a.csv").write_text("1\n")
            raise PermissionError(errno.EACCES, "Permission denied", str(folder / "b.csv"))
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(KeyError):  # not an OSError: cleaned up, raised as it is
        with jio.output_set(out) as folder:
            (folder / "a.csv").write_text("1\n")
            raise KeyError("bug")
    assert list(tmp_path.iterdir()) == []


# --- 6. one folder, one set; files jsim did not write are kept; a kill is recovered ----------------------


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_a_second_run_replaces_the_whole_set_and_keeps_other_files(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(jfolder, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    assert _support_run(out).exit_code == 0
    first = set(os.listdir(out))
    assert {"journeys.csv", "funnel.png", "services.csv", "waits.csv", jio.MANIFEST} <= first
    (out / "notes.txt").write_text("mine")
    (out / "study.journal").write_text("journal")
    (out / "own").mkdir()
    (out / "own" / "data.csv").write_text("x\n1\n")
    journal_inode = (out / "study.journal").stat().st_ino
    res = _run(SUPPORT, "--engine", "fast", "-n", 300, "-d", 10, "--out", out, "-q")  # no plot, journeys, waits
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / jio.MANIFEST).read_text())["files"]
    assert "journeys.csv" not in manifest and "funnel.png" not in manifest and "waits.csv" not in manifest
    assert set(os.listdir(out)) == {*manifest, jio.MANIFEST, "notes.txt", "study.journal", "own"}
    assert (out / "notes.txt").read_text() == "mine" and (out / "own" / "data.csv").read_text() == "x\n1\n"
    assert (out / "study.journal").stat().st_ino == journal_inode  # hard-linked: a worker appending keeps its file
    assert _hidden_beside(out) == []


def test_a_folder_from_before_manifests_loses_only_jsims_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("journeys.csv", "funnel.png", "summary.json", "mine.csv"):
        (out / name).write_text("old")
    with jio.output_set(out, replaces=jio.RUN_FILES) as folder:
        (folder / "summary.json").write_text("new")
    assert sorted(os.listdir(out)) == [jio.MANIFEST, "mine.csv", "summary.json"]
    assert (out / "summary.json").read_text() == "new"


def test_an_existing_folder_keeps_its_permissions(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o750)
    with jio.output_set(out) as folder:
        (folder / "a.txt").write_text("a")
    assert out.stat().st_mode & 0o777 == 0o750


_KILLED_COMMIT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import jsim.io.folder as jfolder

    out, when = Path(sys.argv[1]), sys.argv[2]
    jfolder._exchange = lambda a, b: False  # the two-rename swap, to be killed between its renames
    real_rename = os.rename

    def rename(src, dst):
        real_rename(src, dst)
        if ".jsim-old-" in str(dst):
            os._exit(9)  # killed: the previous set is put aside, the new one not yet in place

    os.rename = rename
    with jfolder.output_set(out) as folder:
        (folder / "new.csv").write_text("new")
        if when == "writing":
            os._exit(9)  # killed while writing the set
    """
)


@pytest.mark.parametrize("when", ["writing", "between-renames"])
def test_a_killed_run_is_recovered_by_the_next_one(tmp_path, when):
    out = tmp_path / "out"
    with jio.output_set(out) as folder:
        (folder / "old.csv").write_text("old")
    (out / "notes.txt").write_text("mine")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", _KILLED_COMMIT, str(out), when], env=env, capture_output=True)
    assert proc.returncode == 9, proc.stderr.decode()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsim-new-")]  # the kill left its staging folder
    if when == "between-renames":
        assert not out.exists()  # between the renames: no folder at all
    jio.check_output_dir(out)  # what every command does first
    expected = {"old.csv": "old"} if when == "writing" else {"new.csv": "new"}
    assert {n: (out / n).read_text() for n in os.listdir(out) if n.endswith(".csv")} == expected
    assert (out / "notes.txt").read_text() == "mine"
    assert _hidden_beside(out) == []


def test_a_kill_after_moving_a_subfolder_gives_it_back(tmp_path):
    """Killed after carrying the user's folder into the staging folder, before the swap: the next run gives it back."""
    out = tmp_path / "out"
    with jio.output_set(out) as folder:
        (folder / "old.csv").write_text("old")
    staging = tmp_path / ".out.jsim-new-000000-1-abcdefgh"  # another host's, a day old: dead
    staging.mkdir()
    (staging / "new.csv").write_text("new")
    (staging / jio.MANIFEST).write_text(json.dumps({"files": ["new.csv"]}))
    (staging / "own").mkdir()
    (staging / "own" / "data.csv").write_text("mine")
    os.utime(staging, (0, 0))
    jio.check_output_dir(out)
    assert sorted(os.listdir(out)) == [jio.MANIFEST, "old.csv", "own"]
    assert (out / "own" / "data.csv").read_text() == "mine"
    assert _hidden_beside(out) == []


@pytest.mark.parametrize("why", ["parent not writable", "working folder"])
def test_a_folder_that_cannot_be_swapped_is_written_in_place(tmp_path, monkeypatch, why):
    out = tmp_path / "out"
    with jio.output_set(out) as folder:
        (folder / "a.csv").write_text("1")
        (folder / "b.csv").write_text("1")
    (out / "notes.txt").write_text("mine")
    inode = out.stat().st_ino
    if why == "working folder":
        monkeypatch.chdir(out)
    else:
        monkeypatch.setattr(jfolder.os, "access", lambda path, mode: os.path.realpath(path) != str(tmp_path))
    with jio.output_set(out) as folder:
        assert folder.parent == out
        (folder / "a.csv").write_text("2")
    assert out.stat().st_ino == inode
    assert sorted(os.listdir(out)) == [jio.MANIFEST, "a.csv", "notes.txt"]
    assert (out / "a.csv").read_text() == "2"
    assert _hidden_beside(out) == []


def test_a_live_process_staging_folder_is_left_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    live = tmp_path / f".out.jsim-new-{jfolder._owner()}-abcdefgh"  # this process: alive
    live.mkdir()
    jio.check_output_dir(out)
    assert live.is_dir()


def test_optimise_replaces_its_set_and_keeps_the_study_journal(tmp_path):
    out = tmp_path / "opt"
    args = ["optimise", str(TEACHING), "--budget", "900", "-n", "200", "-d", "20", "--compare-reps", "2", "-q"]
    res = CliRunner().invoke(
        main, [*args, "--trials", "4", "--objective", "conversions", "--objective", "cost", "-o", out]
    )
    assert res.exit_code == 0, res.output
    assert {"pareto.csv", "pareto.png", "study.journal", jio.MANIFEST} <= set(os.listdir(out))
    res = CliRunner().invoke(main, [*args, "--trials", "4", "-o", out])  # one objective: no Pareto front
    assert res.exit_code == 0, res.output
    names = set(os.listdir(out))
    assert "pareto.csv" not in names and "pareto.png" not in names
    assert {"allocation.json", "trials.csv", "history.png", "study.journal"} <= names
    assert _hidden_beside(out) == []


# --- 7. permissions follow the umask ------------------------------------------------------------------


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_every_file_and_the_folder_follow_the_umask(tmp_path, mask):
    out = tmp_path / "out"
    old = os.umask(mask)
    try:
        res = _support_run(out)
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert {"summary.json", "services.csv", "waits.csv", "journeys.csv", "funnel.png", jio.MANIFEST} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o666 & ~mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask


# --- 3. no NaN or infinity in any output ------------------------------------------------------------------


def _assert_finite_files(out):
    for path in out.iterdir():
        if path.suffix in (".csv", ".json"):
            text = path.read_text()
            assert not NON_FINITE.search(text), f"{path.name}: {NON_FINITE.search(text)[0]!r}"
            if path.suffix == ".json":
                json.loads(text, parse_constant=pytest.fail)  # NaN, Infinity: not JSON


ZERO_SPEND = """
name = "zero_spend"
[[stages]]
name = "lead"
[[stages]]
name = "customer"
converted = true
purchase = true
[[stages]]
name = "lost"
absorbing = true
[[transitions]]
from = "lead"
to = "lost"
p = 0.1
[[touchpoints]]
name = "newsletter"
kind = "owned"
reach = 0.2
engagement = 0.3
cost_per_exposure = 0.0
targets = ["lead"]
effects = [{ from = "lead", to = "customer", p = 0.0 }]
[population]
customers = 500
days = 10
[economics]
revenue_per_purchase = 10.0
"""


@pytest.mark.parametrize("case", ["no customers", "zero spend"])
def test_no_nan_or_inf_in_files_or_tables(tmp_path, case):
    if case == "no customers":
        args = [TEACHING, "--customers", 0, "--reps", 2]
    else:
        scenario = tmp_path / "zero_spend.toml"
        scenario.write_text(ZERO_SPEND)
        args = [scenario]
    out = tmp_path / "out"
    res = _run(*args, "--out", out, "--journeys", 3, "--plot", "-q")
    assert res.exit_code == 0, res.output
    assert not NON_FINITE.search(res.output), res.output
    assert "n/a" in res.output  # conversion of no prospects / ROI of no spend / CAC of no conversions
    _assert_finite_files(out)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["cac"]["mean"] is None


def test_no_nan_or_inf_in_the_optimiser_outputs(tmp_path):
    out = tmp_path / "opt"
    res = CliRunner().invoke(
        main,
        [
            "optimise",
            str(TEACHING),
            "--budget",
            "1500",
            "--customers",
            "0",
            "--trials",
            "5",
            "--compare-reps",
            "2",
            "--objective",
            "conversions",
            "--objective",
            "cost",
            "-q",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert not NON_FINITE.search(res.output), res.output
    _assert_finite_files(out)


def test_csv_cells_and_table_numbers():
    from jsim.report._numbers import fmt_number

    text = jio.csv_text(["a", "b", "c", "d"], [[math.nan, math.inf, -math.inf, 1.5], [None, 2, "x", float("nan")]])
    assert text == "a,b,c,d\n,,,1.5\n,2,x,\n"
    assert fmt_number(1_234_567.8) == "1,234,568"  # money: never 1.235e+06
    assert fmt_number(12.345) == "12.35" and fmt_number(0.012345) == "0.01235" and fmt_number(-250.0) == "-250"
    assert fmt_number(math.nan) == fmt_number(math.inf) == fmt_number(None) == "n/a"
    assert (
        jio.to_json({"x": math.inf, "y": [math.nan, 1.0]}) == '{\n  "x": null,\n  "y": [\n    null,\n    1.0\n  ]\n}\n'
    )


def test_run_summary_money_in_fixed_notation():
    from io import StringIO

    from rich.console import Console

    from jsim.report import render_summary

    est = {"mean": 1.5e9, "low": 1.4e9, "high": 1.6e9}
    na = {"mean": float("nan"), "low": None, "high": None}
    metrics = dict.fromkeys(
        ["customers", "prospects", "new_customers", "converted", "retained", "purchases", "revenue", "gross_profit"],
        est,
    )
    metrics.update(
        conversion_rate=na, retention_rate=na, cost=est, cac=na, roi={"mean": math.inf, "low": None, "high": None}
    )
    summary = {
        "scenario": "s",
        "customers_day0": 10**9,
        "days": 3,
        "engine": "fast",
        "seed": 0,
        "reps": 2,
        "currency": "EUR",
        "metrics": metrics,
        "lifetime_value_3y": float("inf"),
        "stages_at_horizon": {"a": est},
        "touchpoints": [],
    }
    buf = StringIO()
    render_summary(summary, Console(file=buf, width=150))
    text = buf.getvalue()
    assert "1,500,000,000  [1,400,000,000, 1,600,000,000]" in text
    assert "e+" not in text and not NON_FINITE.search(text)
