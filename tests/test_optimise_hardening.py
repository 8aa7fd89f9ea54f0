"""``jsim optimise`` hardening: no password in any message, Ctrl-C and kill -9 never cost the study,
concurrent processes never run more than the requested trials, and a wrong re-run is the user's input (exit 2)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from click.testing import CliRunner
from optuna.trial import TrialState
from test_cli_optimise import TWO_CHANNELS

from jsim.cli import main
from jsim.errors import OptimiseError
from jsim.optimise.storage import (
    UNCOUNTED_ATTR,
    counted,
    describe_storage,
    open_storage,
    open_study,
    redact_url,
    scrub_secrets,
)

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# (URL, its password) in every form a user may write one
SECRET_URLS = [
    ("postgresql://jsim:plainpw1@127.0.0.1:1/jsim", "plainpw1"),
    ("postgresql://jsim:pa/ss9w@127.0.0.1:1/jsim", "pa/ss9w"),
    ("postgresql://jsim:p@ss9w0rd@127.0.0.1:1/jsim", "p@ss9w0rd"),
    ("postgresql://jsim@127.0.0.1:1/jsim?password=qu3rypw", "qu3rypw"),
    ("postgresql://jsim:enc%40pw9@127.0.0.1:1/jsim", "enc@pw9"),
    ("postgresql://jsim:badportpw@127.0.0.1:notaport/jsim", "badportpw"),  # SQLAlchemy cannot parse it
    ("postgresql:/jsim:slashpw9@127.0.0.1/jsim", "slashpw9"),  # not a URL at all
]


def _fragments(password: str) -> list[str]:
    """The password and its parts around ``@``/``/`` (a parser that splits there must not leak a part)."""
    parts = [password, password.replace("@", "%40")]
    parts += [p for sep in "@/" for p in password.split(sep) if len(p) >= 3 and p != password]
    return parts


@pytest.fixture
def scenario(tmp_path):
    path = tmp_path / "two_channels.toml"
    path.write_text(TWO_CHANNELS)
    return path


# --- 8. secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize("url, password", SECRET_URLS)
def test_redact_url_hides_every_form_of_password(url, password):
    shown = redact_url(url)
    assert "***" in shown and "127.0.0.1" in shown
    for part in _fragments(password):
        assert part not in shown, shown


@pytest.mark.parametrize("url, password", SECRET_URLS)
def test_storage_errors_never_quote_the_password(url, password, tmp_path):
    with pytest.raises(OptimiseError) as info:
        open_storage(url, tmp_path)
    text = str(info.value)
    assert "***" in text
    for part in _fragments(password):
        assert part not in text, text
    assert info.value.__cause__ is None  # no driver traceback
    assert info.value.__context__ is None or info.value.__suppress_context__


@pytest.mark.parametrize("url, password", SECRET_URLS)
def test_the_command_line_never_prints_the_password(url, password, scenario):
    res = CliRunner().invoke(main, ["optimise", str(scenario), "--budget", "900", "--trials", "3", "--storage", url])
    assert res.exit_code in (1, 2), res.output
    assert "Traceback" not in res.output
    for part in _fragments(password):
        assert part not in res.output, res.output


def test_scrub_secrets_masks_a_driver_message_and_describe_storage_redacts():
    url = "postgresql://jsim:p@ss9w0rd@db.example:5432/jsim?password=qu3rypw"
    message = f'connection to "{url}" failed: password "p@ss9w0rd" (p%40ss9w0rd) rejected; qu3rypw'
    scrubbed = scrub_secrets(message, url)
    assert "p@ss9w0rd" not in scrubbed and "p%40ss9w0rd" not in scrubbed and "qu3rypw" not in scrubbed
    assert "db.example" in scrubbed
    storage = object.__new__(optuna.storages.RDBStorage)  # describe_storage reads only .url
    storage.url = "postgresql+psycopg2://jsim:pa/ss9w@db.example/jsim?password=qu3rypw"
    shown = describe_storage(storage)
    assert "pa/ss9w" not in shown and "qu3rypw" not in shown and "db.example" in shown


def test_the_interrupt_line_redacts_the_storage_password(scenario, monkeypatch):
    import jsim.optimise.study as study_module

    def interrupted(*args, **kwargs):
        raise study_module.StudyInterrupted("postgresql://jsim:***@db/jsim", "s", 7, 20)

    monkeypatch.setattr(study_module, "optimise_scenario", interrupted)
    url = "postgresql://jsim:p@ss9w0rd@db/jsim"
    res = CliRunner().invoke(main, ["optimise", str(scenario), "--budget", "900", "--storage", url, "-q"])
    assert res.exit_code == 130, res.output
    (line,) = res.output.strip().splitlines()
    assert "7 of 20 trials complete are saved in postgresql://jsim:***@db/jsim" in line
    assert line.endswith("--storage 'postgresql://***@db/jsim' -q --resume"), line
    assert "ss9w0rd" not in line


def _import_interrupted(*args, **kwargs):
    """What a Ctrl-C during a pybind11 extension's initialisation (matplotlib's ft2font) raises."""
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt as exc:
        raise ImportError("initialization failed") from exc


def _ctrl_c(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("interrupted", [_ctrl_c, _import_interrupted], ids=["Ctrl-C", "Ctrl-C in a first import"])
def test_ctrl_c_while_the_report_is_written_says_the_study_is_complete(scenario, tmp_path, monkeypatch, interrupted):
    """After the search, Ctrl-C in the report's writing keeps the study and says how to write the report."""
    import jsim.report

    monkeypatch.setattr(jsim.report, "write_report", interrupted)
    out = tmp_path / "out"
    args = ["optimise", str(scenario), "--budget", "900", "--trials", "6", "--compare-reps", "2", "--out", str(out)]
    res = CliRunner().invoke(main, [*args, "-q"])
    assert res.exit_code == 130, res.output
    line = res.output.strip().splitlines()[-1]
    assert "the study is complete (6 of 6 trials) in journal file" in line, line
    assert line.endswith("-q --resume"), line
    monkeypatch.undo()
    res = CliRunner().invoke(main, [*args, "-q", "--resume"])  # writes the report, runs no new trial
    assert res.exit_code == 0, res.output
    assert (out / "allocation.json").is_file()


# --- 9. interrupts ---------------------------------------------------------------------------


def _cli(args, **kwargs):
    """``python -m jsim`` of this tree, with Ctrl-C behaving as at a terminal whoever started the tests."""
    return subprocess.Popen(
        [sys.executable, "-m", "jsim", "optimise", *map(str, args)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


def _journal_trials(out):
    storage = open_storage(None, out)
    (summary,) = storage.get_all_studies()
    return optuna.load_study(study_name=summary.study_name, storage=storage).get_trials()


def test_ctrl_c_at_random_moments_never_corrupts_the_study_and_resume_completes(scenario, tmp_path):
    out, n_trials = tmp_path / "out", 60
    args = [scenario, "--budget", 900, "--trials", n_trials, "--compare-reps", 2, "--out", out, "-q"]
    rng = random.Random(1)
    interrupted = 0
    for _ in range(5):
        journal = out / "study.journal"
        size = journal.stat().st_size if journal.exists() else 0
        proc = _cli(args + (["--resume"] if size else []))
        deadline = time.monotonic() + 120
        while not (journal.exists() and journal.stat().st_size > size) and proc.poll() is None:  # into the study
            assert time.monotonic() < deadline, "the study never started"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.6))  # into the trials: objective, Optuna's bookkeeping or a journal write
        proc.send_signal(signal.SIGINT)
        stdout, err = proc.communicate(timeout=120)
        assert "Traceback" not in err and "Aborted" not in err, err
        if proc.returncode == 0:
            break
        if proc.returncode == -signal.SIGINT and "wrote " in stdout:
            break  # the run had finished: Ctrl-C landed in the interpreter's own shutdown, after every file
        interrupted += 1
        assert proc.returncode == 130, err
        assert len(err.strip().splitlines()) == 1, err
        line = err.strip()
        assert line.startswith("error: interrupted by Ctrl-C; "), line
        if not line.endswith("the optimisation had not started; nothing new was saved"):  # Ctrl-C while importing
            assert line.endswith(" -q --resume"), line
            saved = f"of {n_trials} trials complete are saved in journal file {out / 'study.journal'}"
            complete = (
                f"the study is complete ({n_trials} of {n_trials} trials) in journal file {out / 'study.journal'}"
            )
            assert saved in line or complete in line, line  # Ctrl-C in the search, or in the polish after it
        _journal_trials(out)  # readable after every interrupt
    assert interrupted >= 1
    proc = _cli(args + ["--resume"])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    trials = _journal_trials(out)
    assert sum(t.state == TrialState.COMPLETE and counted(t) for t in trials) == n_trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert not list(out.glob("study.journal.lock*"))


def test_ctrl_c_inside_a_journal_write_waits_for_its_end(tmp_path, monkeypatch):
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", directions=["minimize"])
    real_fsync = os.fsync
    calls = []

    def fsync_with_ctrl_c(fd):
        calls.append(fd)
        os.kill(os.getpid(), signal.SIGINT)  # delivered while the append holds the lock
        time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_with_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        study.enqueue_trial({"x": 0.5})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert calls and not (tmp_path / "study.journal.lock").exists()
    again = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path))
    assert [t.state for t in again.get_trials()] == [TrialState.WAITING]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored


def test_a_half_written_line_is_cut_off_before_the_next_append(tmp_path):
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", directions=["minimize"])
    study.enqueue_trial({"x": 0.5})
    with open(tmp_path / "study.journal", "ab") as fh:
        fh.write(b'{"op_code":4,"worker_id":"dead","study_id":0,"datetime_st')  # a writer killed mid-line
    study.enqueue_trial({"x": 0.25})
    again = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path))
    assert len(again.get_trials()) == 2


LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from jsim.optimise.journal import _OwnedLock
    lock = _OwnedLock(sys.argv[1])
    lock.acquire()
    print("locked", flush=True)
    time.sleep(120)
    """
)


def _hold_lock(journal):
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(journal)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().startswith("locked")
    return proc


def _acquire_in(storage_dir, seconds):
    """Seconds a journal write to ``storage_dir`` waited, or None when it still waited after ``seconds``."""
    storage = open_storage(None, storage_dir)
    done = []

    def write():
        started = time.monotonic()
        optuna.create_study(storage=storage, study_name=f"s{len(os.listdir(storage_dir))}")
        done.append(time.monotonic() - started)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(seconds)
    return (done or [None])[0], thread


def test_a_lock_left_by_kill_9_is_broken_at_once(tmp_path):
    holder = _hold_lock(tmp_path / "study.journal")
    holder.kill()
    holder.wait()
    assert (tmp_path / "study.journal.lock").exists()
    waited, _ = _acquire_in(tmp_path, 10)
    assert waited is not None and waited < 5, waited  # Optuna's own lock: 30 s
    assert not (tmp_path / "study.journal.lock").exists()


def test_a_lock_file_of_optunas_open_lock_left_by_kill_9_is_broken_at_once(tmp_path):
    (tmp_path / "study.journal").touch()
    (tmp_path / "study.journal.lock").touch()  # JournalFileOpenLock's file: no owner recorded, not locked
    os.utime(tmp_path / "study.journal.lock", (time.time() - 5, time.time() - 5))
    waited, _ = _acquire_in(tmp_path, 10)
    assert waited is not None and waited < 5, waited


def test_a_live_owners_lock_is_respected(tmp_path):
    holder = _hold_lock(tmp_path / "study.journal")
    try:
        waited, thread = _acquire_in(tmp_path, 3)
        assert waited is None  # still waiting for the live owner
        assert (tmp_path / "study.journal.lock").exists()
    finally:
        holder.kill()
        holder.wait()
    thread.join(10)
    assert not thread.is_alive()


# Runs optimise_allocation on a cheap objective in the journal of argv[1] with argv[2] trials.
CONCURRENT = textwrap.dedent(
    """
    import sys, time
    import optuna
    from jsim.optimise import optimise_allocation
    from jsim.optimise.storage import open_storage

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(alloc):
        time.sleep(0.01)
        return -((alloc["a"] - 30.0) ** 2) - (alloc["b"] - 50.0) ** 2

    storage = open_storage(None, sys.argv[1])
    optimise_allocation(
        objective, 100.0, names=["a", "b", "c"], n_trials=int(sys.argv[2]), sampler="random",
        seed=int(sys.argv[3]), storage=storage, study_name="s",
    )
    """
)


def test_two_processes_on_one_journal_run_at_most_the_requested_trials(tmp_path):
    out, n_trials = tmp_path / "out", 40

    def start(n, seed):
        return subprocess.Popen(
            [sys.executable, "-c", CONCURRENT, str(out), str(n), str(seed)],
            cwd=ROOT,
            env=ENV,
            stderr=subprocess.PIPE,
            text=True,
        )

    first = start(4, 0)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    procs = [start(n_trials, seed) for seed in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
    trials = optuna.load_study(study_name="s", storage=open_storage(None, out)).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    search = [t for t in complete if counted(t)]
    polish = [t for t in complete if t.system_attrs.get(UNCOUNTED_ATTR) == "polish"]
    assert len(search) == n_trials
    assert len(polish) <= 1 and len(complete) <= n_trials + 1
    assert len({t.number for t in complete}) == len(complete)


# --- 10. input errors, before any trial runs -------------------------------------------------


def _run(args):
    return CliRunner().invoke(main, ["optimise", *map(str, args)])


def test_wrong_reruns_are_the_users_input_and_run_no_trial(scenario, tmp_path):
    out = tmp_path / "out"
    base = [scenario, "--trials", 6, "--compare-reps", 2, "--out", out, "-q"]
    assert _run([*base, "--budget", 900]).exit_code == 0
    before = len(_journal_trials(out))
    journal = (out / "study.journal").read_bytes()

    res = _run([*base, "--budget", 900])  # a used --out without --resume
    assert res.exit_code == 2, res.output
    assert "already exists in journal file" in res.output and "6 trials complete" in res.output
    assert "--resume" in res.output and "--out" in res.output

    res = _run([*base, "--budget", 1000, "--resume"])  # the study was started with another budget
    assert res.exit_code == 2, res.output
    assert "got budget=1000.0" in res.output and "started with budget=900.0" in res.output
    assert "--budget" in res.output and "6 trials complete" in res.output

    res = _run([*base, "--budget", 900, "--reps", 3, "--engine", "fast", "--resume"])
    assert res.exit_code == 2, res.output
    assert "engine='fast'" in res.output and "--engine" in res.output

    assert (out / "study.journal").read_bytes() == journal  # nothing ran, nothing was written
    assert len(_journal_trials(out)) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--budget", "1e308"], "--budget' / '-b': must be a number > 0 and <= 1e+12, got 1e308"),
        (["--budget", "1e13"], "<= 1e+12"),
        (["--budget", 900, "--bounds", "search=0:1e308"], "--bounds: MIN and MAX must be <= 1e+12"),
        (["--budget", 900, "--bounds", "search=0:inf"], "--bounds"),
    ],
)
def test_spends_are_bounded(scenario, tmp_path, args, message):
    out = tmp_path / "out"
    res = _run([scenario, "--trials", 3, *args, "--out", out])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert not out.exists()


def test_a_resumed_study_keeps_its_settings_in_the_journal(scenario, tmp_path):
    out = tmp_path / "out"
    assert _run([scenario, "--budget", 900, "--trials", 4, "--compare-reps", 2, "--out", out, "-q"]).exit_code == 0
    (summary,) = open_storage(None, out).get_all_studies()
    settings = summary.user_attrs["jsim:settings"]
    assert settings["budget"] == 900.0 and settings["engine"] == "mean-field"
    assert json.loads(json.dumps(settings)) == settings
    trials = pd.read_csv(out / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() >= 4


def test_a_pareto_search_with_no_feasible_trial_is_a_clean_error(scenario):
    """Two objectives and a constraint no trial meets (no customers, so no conversions): one line, exit 1."""
    args = ["optimise", str(scenario), "--budget", "900", "--trials", "6", "--customers", "0", "-q"]
    res = CliRunner().invoke(
        main, [*args, "--objective", "conversions", "--objective", "cost", "--constraint", "cac<=40"]
    )
    assert res.exit_code == 1, res.output
    assert res.output.startswith("error: no allocation tried met the constraints ['cac<=40']"), res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("text", ["retention>=1e400", "cac<=-1e999"])
def test_a_constraint_bound_must_be_finite(scenario, text):
    res = CliRunner().invoke(main, ["optimise", str(scenario), "--budget", "900", "--constraint", text, "-q"])
    assert res.exit_code == 2 and "bound must be a finite number" in res.output, res.output


def test_the_budget_flags_limit_is_the_scenarios_limit_on_money():
    from jsim.cli.options import MAX_SPEND
    from jsim.scenario.limits import MAX_MONEY

    assert MAX_SPEND == MAX_MONEY


@pytest.mark.parametrize(
    ("filename", "name", "deferred"),
    [
        ("<frozen importlib._bootstrap>", "cb", True),  # a module's import lock dropped by a weakref callback
        (f"{os.sep}site-packages{os.sep}llvmlite{os.sep}binding{os.sep}ffi.py", "__call__", True),
        ("<frozen importlib._bootstrap>", "_find_and_load", False),  # an ordinary import can be interrupted
        ("jsim/optimise/core.py", "cb", False),
    ],
)
def test_ctrl_c_in_a_callback_from_c_waits_for_a_safe_point(filename, name, deferred):
    """Regression: Ctrl-C while a first-time import released its module lock printed 'Exception ignored in
    <function _get_module_lock.<locals>.cb>' with a traceback, and the interrupt was lost."""
    from jsim.optimise.interrupts import _in_c_callback

    code = compile(f"def {name}():\n    import sys\n    return sys._getframe()\n", filename, "exec")
    namespace: dict = {}
    exec(code, namespace)
    assert _in_c_callback(namespace[name]()) is deferred


def test_a_ctrl_c_a_library_turned_into_another_error_is_still_a_ctrl_c(tmp_path):
    """pybind11 turns a KeyboardInterrupt raised while an extension initialises (a first import inside the
    objective) into an ImportError raised from it: the trial is marked interrupted and the study stops with
    KeyboardInterrupt, instead of failing the trial and going on with a half-imported extension."""
    from jsim.errors import caused_by_interrupt
    from jsim.optimise import optimise_allocation
    from jsim.optimise.storage import INTERRUPTED_ATTR

    import_interrupted = _import_interrupted

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j.log")))
    with pytest.raises(KeyboardInterrupt):
        optimise_allocation(import_interrupted, 10.0, names=["a", "b"], n_trials=4, storage=storage, study_name="s")
    study = optuna.load_study(study_name="s", storage=storage)
    assert [t.state for t in study.trials] == [TrialState.FAIL]
    assert study.trials[0].system_attrs.get(INTERRUPTED_ATTR) is True  # re-queued with the same parameters on --resume
    with pytest.raises(ImportError) as info:
        import_interrupted({})
    assert caused_by_interrupt(info.value)
    assert not caused_by_interrupt(ValueError("a plain error"))


def test_the_search_imports_what_it_imports_on_first_use_before_any_trial():
    """The CMA-ES sampler imports cmaes (and scipy.stats) in its first suggest, inside the objective, where a
    Ctrl-C is raised at once: imported before the study instead (a fresh process)."""
    code = textwrap.dedent(
        """
        import sys
        from jsim.optimise import optimise_allocation
        seen = {}
        def objective(alloc):
            seen.setdefault("modules", {m for m in ("cmaes", "scipy.optimize", "scipy.stats") if m in sys.modules})
            return -sum((v - 5.0) ** 2 for v in alloc.values())
        optimise_allocation(objective, 10.0, names=["a", "b"], n_trials=3, max_evaluations=3)
        print(sorted(seen["modules"]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split("\n")[-2] == "['cmaes', 'scipy.optimize', 'scipy.stats']"
