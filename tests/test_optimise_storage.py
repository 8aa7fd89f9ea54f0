"""Study storage: kill or Ctrl-C a study mid-run and resume it losing nothing; many
workers sharing one study on PostgreSQL; the messages of the errors a user can make."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
import uuid
import warnings

import optuna
import pytest

from jsim.errors import OptimiseError
from jsim.optimise.storage import (
    INTERRUPTED_ATTR,
    JOURNAL_NAME,
    WORKER_ATTR,
    mark_interrupted,
    open_storage,
    open_study,
    remaining_trials,
    requeue_stale_trials,
    resume_study,
)

TrialState = optuna.trial.TrialState
# Optuna's retry callback, whose record jsim's retries carry (renamed in Optuna 4.9).
RETRY = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or optuna.storages.RetryFailedTrialCallback


def _retried_trial_number(trial):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RETRY.retried_trial_number(trial)


def _retry_history(trial):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return RETRY.retry_history(trial)


# A worker process: optimises a cheap deterministic objective in the study; records a seed
# per trial as jsim does (user attribute "seed"); at trial `kill_at`, once x and y are
# suggested, prints "ready" and waits there for the signal the test sends (a retry of that
# trial has another number, so it does not wait); appends every evaluation to `log`.
WORKER = textwrap.dedent(
    """
    import json, os, signal, sys, time
    import optuna
    from jsim.optimise.storage import open_storage, open_study, remaining_trials, resumable

    # Ctrl-C at a terminal reaches a foreground process, and Python turns it into
    # KeyboardInterrupt. A process started in the background by a shell without job control
    # (`pytest &` in a script) inherits SIGINT ignored and would never see it: restore the
    # foreground behaviour, whoever started the tests.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    storage_arg, out_dir, name, mode, n_trials, kill_at, log = sys.argv[1:]
    n_trials, kill_at = int(n_trials), int(kill_at)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(None if storage_arg == "-" else storage_arg, out_dir)
    study = open_study(
        storage, name, directions=["minimize"], sampler=optuna.samplers.RandomSampler(seed=os.getpid()),
        resume=mode == "resume", worker=mode == "worker",
    )

    def objective(trial):
        if "seed" not in trial.user_attrs:
            trial.set_user_attr("seed", 1_000_003 * (trial.number + 1) % 2**31)
        seed = trial.user_attrs["seed"]
        x = trial.suggest_float("x", -5.0, 5.0)
        y = trial.suggest_float("y", -5.0, 5.0)
        if trial.number == kill_at:
            print("ready", trial.number, flush=True)
            time.sleep(60)  # the signal ends the wait: SIGKILL the process, SIGINT the trial
            sys.exit(f"worker: no signal came within 60 s of reaching trial {trial.number}")
        value = (x - 1.0) ** 2 + (y + 2.0) ** 2 + seed * 1e-12
        with open(log, "a") as fh:
            fh.write(json.dumps({"number": trial.number, "x": x, "y": y, "seed": seed, "pid": os.getpid()}) + "\\n")
        return value

    if mode == "worker":
        stop = optuna.study.MaxTrialsCallback(n_trials, states=(optuna.trial.TrialState.COMPLETE,))
        study.optimize(resumable(objective), callbacks=[stop])
    else:
        try:
            study.optimize(resumable(objective), n_trials=remaining_trials(study, n_trials))
        except KeyboardInterrupt:  # as the CLI does: say how to go on, exit 130
            print("interrupted: run again with --resume to continue", file=sys.stderr)
            sys.exit(130)
    """
)


def _run_worker(tmp_path, mode, *, storage="-", name="s", n_trials=12, kill_at=-1, sig=signal.SIGKILL, wait=True):
    """Run WORKER; with `kill_at`, send it `sig` while it waits inside trial `kill_at`.

    The signal is sent only once the worker says it is there, so it lands mid-trial however
    slowly the machine runs; a worker that ends without getting there is not signalled.
    """
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    args = [
        sys.executable,
        str(script),
        storage,
        str(tmp_path / "out"),
        name,
        mode,
        str(n_trials),
        str(kill_at),
        str(tmp_path / "evaluations.jsonl"),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return proc
    if kill_at >= 0 and _wait_for_ready(proc, timeout=120):
        proc.send_signal(sig)
    out, err = proc.communicate(timeout=240)
    return proc.returncode, err


def _wait_for_ready(proc, *, timeout):
    """Whether the worker printed "ready" within `timeout` seconds (False once it ended)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([proc.stdout], [], [], left)[0]:
            return False
        line = proc.stdout.readline()
        if not line:  # end of output: the worker ended
            return False
        if line.startswith("ready"):
            return True
    return False


def _journal_study(tmp_path, name="s"):
    storage = open_storage(None, tmp_path / "out")
    return optuna.load_study(study_name=name, storage=storage)


def _evaluations(tmp_path):
    with open(tmp_path / "evaluations.jsonl") as fh:
        return [json.loads(line) for line in fh]


def _check_resumed(tmp_path, *, n_trials, kill_at):
    """The killed trial was re-queued once with its params and seed; nothing else was lost."""
    study = _journal_study(tmp_path)
    trials = study.get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    assert len(complete) == n_trials
    assert [t.number for t in failed] == [kill_at]
    (retry,) = [t for t in complete if _retried_trial_number(t) == kill_at]
    assert retry.params == failed[0].params
    assert retry.user_attrs == failed[0].user_attrs and "seed" in retry.user_attrs
    assert _retry_history(retry) == [kill_at]  # retried once
    # The retry ran in the resuming process and was not interrupted, whatever the killed one was.
    assert INTERRUPTED_ATTR not in retry.system_attrs
    assert retry.system_attrs[WORKER_ATTR] != failed[0].system_attrs[WORKER_ATTR]
    # Every trial completed before the kill is still there, with its evaluation's values.
    evaluations = _evaluations(tmp_path)
    by_number = {t.number: t for t in complete}
    for ev in evaluations:
        trial = by_number[ev["number"]]
        assert (trial.params["x"], trial.params["y"], trial.user_attrs["seed"]) == (ev["x"], ev["y"], ev["seed"])
    assert sorted(ev["number"] for ev in evaluations) == sorted(by_number)
    return study


def test_sigkill_mid_run_then_resume_loses_nothing(tmp_path):
    n_trials, kill_at = 12, 5
    code, err = _run_worker(tmp_path, "new", n_trials=n_trials, kill_at=kill_at)
    assert code == -signal.SIGKILL, err
    study = _journal_study(tmp_path)
    assert [t.number for t in study.get_trials(states=(TrialState.COMPLETE,))] == list(range(kill_at))
    assert [t.number for t in study.get_trials(states=(TrialState.RUNNING,))] == [kill_at]
    code, err = _run_worker(tmp_path, "resume", n_trials=n_trials)
    assert code == 0, err
    _check_resumed(tmp_path, n_trials=n_trials, kill_at=kill_at)
    # Resuming a finished study runs nothing more.
    code, err = _run_worker(tmp_path, "resume", n_trials=n_trials)
    assert code == 0, err
    assert len(_journal_study(tmp_path).get_trials()) == n_trials + 1


def test_ctrl_c_mid_run_ends_cleanly_then_resume_loses_nothing(tmp_path):
    n_trials, kill_at = 10, 4
    code, err = _run_worker(tmp_path, "new", n_trials=n_trials, kill_at=kill_at, sig=signal.SIGINT)
    assert code == 130 and "--resume" in err, err
    study = _journal_study(tmp_path)
    states = [t.state for t in study.get_trials()]
    assert states == [TrialState.COMPLETE] * kill_at + [TrialState.FAIL]  # nothing left RUNNING
    code, err = _run_worker(tmp_path, "resume", n_trials=n_trials)
    assert code == 0, err
    _check_resumed(tmp_path, n_trials=n_trials, kill_at=kill_at)
    # The Ctrl-C'd trial was retried once; resuming again does not retry it a second time.
    study = resume_study(open_storage(None, tmp_path / "out"), "s")
    assert len(study.get_trials()) == n_trials + 1
    assert not study.get_trials(states=(TrialState.WAITING,))


def test_resume_leaves_trials_of_a_live_process_alone(tmp_path):
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", directions=["minimize"])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        host = __import__("socket").gethostname()
        storage.set_trial_system_attr(trial._trial_id, "jsim:worker", f"{host}:{child.pid}")
        resume_study(storage, "s")
        assert study.get_trials()[0].state == TrialState.RUNNING
    finally:
        child.kill()
        child.wait()
    resume_study(storage, "s")
    failed, retry = study.get_trials()
    assert [failed.state, retry.state] == [TrialState.FAIL, TrialState.WAITING]
    assert retry.params == failed.params and _retry_history(retry) == [0]
    assert WORKER_ATTR not in retry.system_attrs  # queued, run by no process yet


def test_a_trial_that_always_kills_its_worker_is_retried_at_most_max_retry_times(tmp_path):
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", directions=["minimize"])
    trial = study.ask()  # trial 0, whose worker dies, and so do those of its two retries
    trial.suggest_float("x", 0, 1)
    storage.set_trial_system_attr(trial._trial_id, "jsim:worker", "nowhere:1")
    for _ in range(2):
        study = resume_study(storage, "s", max_retry=2)
        trial = study.ask()
        storage.set_trial_system_attr(trial._trial_id, "jsim:worker", "nowhere:1")
    resume_study(storage, "s", max_retry=2)
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL] * 3  # nothing queued a third time
    assert [_retry_history(t) for t in trials] == [[], [0], [0, 1]]
    assert [_retried_trial_number(t) for t in trials] == [None, 0, 0]
    # The retries were killed before they suggested anything: the parameters are the queued ones.
    assert trials[0].params == trials[1].params == trials[2].params
    assert len(trials[0].params) == 1


def test_a_retry_keeps_the_parameters_its_trial_had_not_suggested_yet(tmp_path):
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", directions=["minimize"])
    study.enqueue_trial({"x": 0.25, "y": 0.75}, user_attrs={"seed": 7})  # as jsim queues its start point
    trial = study.ask()
    trial.suggest_float("x", 0, 1)  # then its worker dies before suggesting y
    storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, "nowhere:1")
    study = resume_study(storage, "s")
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [t.params for t in waiting] == [{"x": 0.25}]
    assert waiting[0].system_attrs["fixed_params"] == {"x": 0.25, "y": 0.75}
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_float("y", 0, 1), n_trials=1)
    failed, retry = study.get_trials()
    assert retry.state == TrialState.COMPLETE and _retried_trial_number(retry) == failed.number
    assert retry.params == {"x": 0.25, "y": 0.75} and retry.user_attrs == {"seed": 7}


def test_a_retry_that_fails_for_another_reason_is_not_taken_for_interrupted(tmp_path):
    storage = open_storage(None, tmp_path)
    study = open_study(storage, "s", directions=["minimize"])
    trial = study.ask()
    trial.set_user_attr("seed", 11)
    trial.suggest_float("x", 0, 1)
    mark_interrupted(trial)  # Ctrl-C
    study.tell(trial, state=TrialState.FAIL)
    study = resume_study(storage, "s")
    failed, retry = study.get_trials()
    assert failed.system_attrs[INTERRUPTED_ATTR] and WORKER_ATTR in failed.system_attrs
    assert retry.state == TrialState.WAITING
    assert (retry.params, retry.user_attrs, _retry_history(retry)) == (failed.params, {"seed": 11}, [0])
    assert INTERRUPTED_ATTR not in retry.system_attrs and WORKER_ATTR not in retry.system_attrs
    retried = study.ask()  # the retry runs and fails with an error of its own, not Ctrl-C
    study.tell(retried, state=TrialState.FAIL)
    assert requeue_stale_trials(study) == []
    assert [t.state for t in study.get_trials()] == [TrialState.FAIL, TrialState.FAIL]


def _postgres_url() -> str:
    url = os.environ.get("JSIM_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "PostgreSQL not available: JSIM_TEST_POSTGRES_URL is not set (.ci/run sets it when it can start a server)"
        )
    try:
        import psycopg2
    except ImportError:
        pytest.skip("PostgreSQL not available: psycopg2 is not installed (pip install psycopg2-binary)")
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as exc:
        pytest.skip(
            f"PostgreSQL not available: cannot connect to JSIM_TEST_POSTGRES_URL: {str(exc).strip().splitlines()[0]}"
        )
    return url


def test_two_workers_share_one_postgresql_study(tmp_path):
    url = _postgres_url()
    name = f"jsim-test-{uuid.uuid4().hex[:12]}"
    n_trials = 24
    workers = [_run_worker(tmp_path, "worker", storage=url, name=name, n_trials=n_trials, wait=False) for _ in range(2)]
    for proc in workers:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    try:
        complete = study.get_trials(states=(TrialState.COMPLETE,))
        # MaxTrialsCallback is checked after each trial, so each worker may finish one more.
        assert n_trials <= len(complete) <= n_trials + 1
        assert not study.get_trials(states=(TrialState.RUNNING, TrialState.FAIL, TrialState.WAITING))
        numbers = [t.number for t in complete]
        assert len(set(numbers)) == len(numbers)
        params = [(t.params["x"], t.params["y"]) for t in complete]
        assert len(set(params)) == len(params)
        evaluations = _evaluations(tmp_path)
        assert sorted(ev["number"] for ev in evaluations) == sorted(numbers)  # each evaluated once
        assert len({ev["pid"] for ev in evaluations}) == 2  # both workers took part
    finally:
        optuna.delete_study(study_name=name, storage=open_storage(url))


@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used with Study.optimize")
def test_postgresql_worker_killed_mid_trial_is_requeued_by_heartbeat(tmp_path):
    url = _postgres_url()
    name = f"jsim-test-{uuid.uuid4().hex[:12]}"
    storage = open_storage(url, heartbeat_interval=1, grace_period=2)
    study = open_study(storage, name, directions=["minimize"])
    try:
        trial = study.ask()
        trial.set_user_attr("seed", 42)
        trial.suggest_float("x", 0, 1)
        storage.record_heartbeat(trial._trial_id)  # then the "worker" dies
        time.sleep(3)
        study = open_study(storage, name, directions=["minimize"], worker=True)
        trials = study.get_trials()
        assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
        assert trials[1].params == trials[0].params and len(trials[0].params) == 1
        assert trials[1].user_attrs == {"seed": 42}
        assert (_retried_trial_number(trials[1]), _retry_history(trials[1])) == (0, [0])
    finally:
        optuna.delete_study(study_name=name, storage=storage)


# --- error messages ----------------------------------------------------------------------


def test_bad_url_names_the_accepted_forms(tmp_path):
    with pytest.raises(OptimiseError, match=r"scheme must be postgresql:// or sqlite:///, got 'mysqlx://'"):
        open_storage("mysqlx://u:secret@localhost/db", tmp_path)
    with pytest.raises(OptimiseError, match=r"must look like postgresql://") as info:
        open_storage("postgresql:/u:secret@localhost/db", tmp_path)
    assert "secret" not in str(info.value)


def test_missing_driver_says_what_to_install(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "psycopg2" else real(n, *a))
    with pytest.raises(OptimiseError, match=r"driver 'psycopg2'.*pip install psycopg2-binary") as info:
        open_storage("postgresql://jsim:secret@127.0.0.1:1/jsim", tmp_path)
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_unreachable_database_is_an_optimise_error(tmp_path):
    pytest.importorskip("psycopg2")
    with pytest.raises(OptimiseError, match=r"cannot open postgresql://jsim:\*\*\*@127.0.0.1:1/jsim"):
        open_storage("postgresql://jsim:secret@127.0.0.1:1/jsim?connect_timeout=2", tmp_path)


def test_resume_of_a_missing_study_lists_the_existing_ones(tmp_path):
    storage = open_storage(None, tmp_path)
    with pytest.raises(
        OptimiseError,
        match=r"^resume_study: a resumed study must exist, got study_name='a', "
        r"which does not exist in journal file .*holds no study",
    ):
        open_study(storage, "a", resume=True)
    open_study(storage, "b")
    with pytest.raises(
        OptimiseError,
        match=r"studies there: 'b' \(call open_study without resume=True to start "
        r"it, or pass the study_name and storage that hold it\)$",
    ) as info:
        resume_study(storage, "a")
    assert "--" not in str(info.value)  # a library error names parameters, not CLI flags


def test_existing_study_without_resume_offers_resume(tmp_path):
    storage = open_storage(str(tmp_path), None)  # a directory: study.journal inside
    open_study(storage, "s")
    assert (tmp_path / JOURNAL_NAME).exists()
    with pytest.raises(
        OptimiseError,
        match=r"^open_study: a new study must not exist yet, got study_name='s', "
        r"which already exists in journal file .*\(0 trials complete; pass resume=True to "
        r"continue it, worker=True to join it, or another study_name or "
        r"storage\)$",
    ) as info:
        open_study(storage, "s")
    assert "--" not in str(info.value)
    assert open_study(storage, "s", worker=True).study_name == "s"
    with pytest.raises(
        OptimiseError,
        match=r"^open_study: directions must match the stored study 's', got "
        r"directions=\['minimize'\] but journal file .* holds \['maximize'\] \(pass "
        r"directions=\['maximize'\], or another study_name\)$",
    ):
        open_study(storage, "s", directions=["minimize"], resume=True)


def test_journal_needs_an_output_directory():
    with pytest.raises(
        OptimiseError,
        match=r"^storage: a journal file needs an output directory, got "
        r"url_or_path=None and out_dir=None \(pass out_dir=DIR .* or "
        r"url_or_path=a postgresql:// or sqlite:/// URL",
    ) as info:
        open_storage(None, None)
    assert "--out" not in str(info.value) and "--storage" not in str(info.value)


def test_sqlite_storage_resumes_like_postgresql(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = open_study(open_storage(url), "s", directions=["maximize"])
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    study = resume_study(open_storage(url), "s")
    assert remaining_trials(study, 5) == 2
