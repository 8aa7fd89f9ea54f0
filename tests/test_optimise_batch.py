"""``batch``: trials asked together and evaluated side by side (``jsim optimise --batch K``).

The same seed and batch give the same numbers in threads of this process and on a Dask
cluster, bit for bit; ``batch=1`` is the one-trial-at-a-time search of before; the evaluation
cap, constraints and known optima hold in batch mode; a Ctrl-C mid-batch leaves a study that
a resume completes with no trial lost or run twice; bad ``--batch`` values exit 2.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import optuna
import pytest
from click.testing import CliRunner
from test_optimise_evaluations import _cac_problem, _concave3

from jsim.cli import main
from jsim.errors import OptimiseError
from jsim.optimise import optimise_allocation
from jsim.optimise.response_curves import Hill, ResponseModel

ROOT = Path(__file__).resolve().parents[1]
WEBSHOP = ROOT / "scenarios" / "webshop.toml"
TrialState = optuna.trial.TrialState


class Counting:
    """An objective that counts its calls (from several threads)."""

    def __init__(self, fn):
        self.fn, self.calls, self._lock = fn, 0, threading.Lock()

    def __call__(self, alloc):
        with self._lock:
            self.calls += 1
        return self.fn(alloc)


def _trials(result):
    """Every trial of the study: number, state, params, values, allocation."""
    return [
        (t.number, t.state, t.params, t.values, t.user_attrs.get("allocation"))
        for t in result.study.get_trials(deepcopy=False)
    ]


# -- same numbers -------------------------------------------------------------------------------------


def _webshop_objective():
    from jsim.optimise.objectives import ScenarioObjective
    from jsim.scenario import load_scenario

    return ScenarioObjective(load_scenario(WEBSHOP), 20_000.0, engine="fast", reps=2, customers=2_000, days=40)


def _scenario_run(cluster=None, batch=3):
    obj = _webshop_objective()
    obj.cluster = cluster
    result = optimise_allocation(
        obj, obj.budget, names=list(obj.names), n_trials=6, max_evaluations=12, seed=5, batch=batch
    )
    return result, obj


def test_batch_on_a_dask_cluster_is_bit_identical_to_batch_in_threads(cluster):
    local, local_obj = _scenario_run(None)
    remote, remote_obj = _scenario_run(cluster)
    assert remote.allocation == local.allocation and remote.value == local.value
    assert _trials(remote) == _trials(local)
    assert remote.history == local.history
    assert (remote.n_search, remote.n_polish) == (local.n_search, local.n_polish) == (6, 6)
    assert remote_obj.n_promoted == local_obj.n_promoted


def test_the_des_engine_optimises_on_a_dask_cluster_with_the_numbers_of_a_local_run(cluster):
    """``engine="des"``: each trial simulated by the SimPy engine (replications as tasks), promotion as with
    the fast engine; a cluster with batch 2 gives every trial of a local run, bit for bit."""
    from jsim.optimise.objectives import ScenarioObjective
    from jsim.scenario import load_scenario

    def run(where):
        obj = ScenarioObjective(load_scenario(WEBSHOP), 20_000.0, engine="des", reps=2, customers=400, days=20)
        obj.cluster = where
        res = optimise_allocation(
            obj, obj.budget, names=list(obj.names), n_trials=4, max_evaluations=6, seed=3, batch=2
        )
        return res, obj

    local, local_obj = run(None)
    remote, remote_obj = run(cluster)
    assert _trials(remote) == _trials(local) and remote.allocation == local.allocation
    assert remote_obj.n_simulations == local_obj.n_simulations > 0
    assert local_obj.n_promoted >= 1  # the first trial is the best so far: promoted to reps * promote
    per = local_obj.evaluate(local.allocation, reps=2).metrics["new_customers"]
    assert len(per) == 2 and np.ptp(per) > 0  # two distinct DES replications, not one expected value


def test_the_cli_gives_the_same_allocation_with_workers_as_in_threads(tmp_path):
    """`jsim optimise --batch 2 --workers 2` (a fresh local cluster) writes what `--batch 2` alone writes."""
    args = [
        "optimise", str(WEBSHOP), "--budget", "2000", "--engine", "fast", "--reps", "2", "--customers", "1500",
        "--days", "30", "--trials", "4", "--max-evaluations", "8", "--compare-reps", "2", "--batch", "2", "-q",
    ]  # fmt: skip
    local = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "local")])
    remote = CliRunner().invoke(main, [*args, "--workers", "2", "--out", str(tmp_path / "remote")])
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    a = json.loads((tmp_path / "local" / "allocation.json").read_text())
    b = json.loads((tmp_path / "remote" / "allocation.json").read_text())
    assert b["allocation"] == a["allocation"] and b["value"] == a["value"]
    assert "hint:" not in remote.stderr  # --batch given: no hint


def test_a_cluster_with_batch_1_prints_one_hint_line(cluster):
    args = [
        "optimise", str(WEBSHOP), "--budget", "2000", "--engine", "fast", "--reps", "2", "--customers", "1000",
        "--days", "20", "--trials", "2", "--max-evaluations", "3", "--compare-reps", "2",
    ]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--scheduler", cluster.address])
    assert result.exit_code == 0, result.output
    hints = [line for line in result.stderr.splitlines() if line.startswith("hint:")]
    assert len(hints) == 1 and "--batch N" in hints[0], result.stderr


def test_batch_1_is_the_search_of_before():
    model, budget, _ = _concave3()
    default = optimise_allocation(model, budget, names=model.names, max_evaluations=120, seed=4)
    one = optimise_allocation(model, budget, names=model.names, max_evaluations=120, seed=4, batch=1)
    assert one.allocation == default.allocation and one.value == default.value
    assert one.history == default.history and _trials(one) == _trials(default)
    assert (one.n_search, one.n_polish) == (default.n_search, default.n_polish)


def test_batch_gives_the_same_numbers_on_every_run_whatever_thread_finishes_first():
    """Evaluations that take random times finish in another order on each run: the study is the same."""
    model, budget, _ = _concave3()
    rng = np.random.default_rng()

    def slow(alloc):
        time.sleep(float(rng.uniform(0.0, 0.004)))
        return model(alloc)

    runs = [
        optimise_allocation(slow, budget, names=model.names, n_trials=24, max_evaluations=60, seed=2, batch=4)
        for _ in range(2)
    ]
    assert _trials(runs[0]) == _trials(runs[1])
    assert runs[0].allocation == runs[1].allocation


def test_scenario_objective_call_many_is_its_calls_one_after_another():
    """Promotion (more replications near the best) decided in order, as one call after another."""
    base = _webshop_objective()
    # the equal split, then all of the budget on one touchpoint (far worse: not promoted), and a repeat
    allocations = [base.equal_allocation()]
    allocations += [{m: base.budget if m == n else 0.0 for m in base.names} for n in base.names]
    allocations.insert(3, dict(allocations[1]))
    one_by_one = _webshop_objective()
    expected = [one_by_one(a) for a in allocations]
    side = _webshop_objective()
    with ThreadPoolExecutor(3) as pool:
        got = side.call_many(allocations, lambda fn, items: list(pool.map(fn, items)))
    assert got == expected
    assert side.n_promoted == one_by_one.n_promoted and side._best == one_by_one._best
    assert 0 < side.n_promoted < len(allocations)


def test_the_polish_evaluates_a_gradient_side_by_side_with_the_same_numbers():
    from jsim.optimise.core import _polish, _side_by_side
    from jsim.optimise.space import BudgetSpace

    model, budget, _ = _concave3()
    space = BudgetSpace(list(model.names), budget, None)
    starts = [space.project({"a": 40.0, "b": 10.0, "c": 10.0}), space.project({"a": 5.0, "b": 5.0, "c": 50.0})]
    ref = model(space.as_dict(starts[0]))
    for cap in (7, 40, 200):
        seq, par = Counting(model), Counting(model)
        expected = _polish(seq, space, starts, 1.0, ref, cap)
        with ThreadPoolExecutor(4) as pool:
            got = _polish(par, space, starts, 1.0, ref, cap, side_by_side=_side_by_side(pool))
        assert got[0] == expected[0] and got[1:] == expected[1:]
        assert par.calls == seq.calls == got[3] <= cap


# -- budget, optima, constraints ------------------------------------------------------------------------


@pytest.mark.parametrize("max_evaluations", [5, 40, 150])
@pytest.mark.parametrize("n_trials", [None, 5])
@pytest.mark.parametrize("batch", [2, 4])
def test_cap_is_never_exceeded_in_batch_mode(max_evaluations, n_trials, batch):
    model, budget, _ = _concave3()
    objective = Counting(model)
    result = optimise_allocation(
        objective, budget, names=model.names, n_trials=n_trials, max_evaluations=max_evaluations, seed=1, batch=batch
    )
    assert objective.calls == result.n_evaluations == result.n_search + result.n_polish
    assert result.n_evaluations <= max_evaluations
    counted = [t for t in result.study.get_trials() if "jsim:uncounted" not in t.system_attrs]
    assert len(counted) == result.n_search
    if n_trials is not None:
        assert result.n_search == n_trials


@pytest.mark.parametrize("batch", [3, 8])
def test_batch_reaches_a_known_concave_optimum_within_the_budget(batch):
    model, budget, optimum = _concave3()
    objective = Counting(model)
    result = optimise_allocation(objective, budget, names=model.names, max_evaluations=300, seed=0, batch=batch)
    assert result.value / optimum >= 0.9999
    assert objective.calls == result.n_evaluations <= 300


def test_batch_finds_the_global_optimum_of_s_shaped_curves():
    """The basin that drops a channel (brute force over the simplex, as in test_optimise_core)."""
    model = ResponseModel({"a": Hill(40.0, 3.0, 1.0), "b": Hill(45.0, 3.0, 1.1), "c": Hill(38.0, 3.0, 0.95)})
    budget, steps = 100.0, 400
    grid = np.arange(steps + 1) * budget / steps
    best = max(model({"a": a, "b": b, "c": budget - a - b}) for a in grid for b in grid if a + b <= budget + 1e-9)
    result = optimise_allocation(model, budget, seed=3, batch=4)
    assert result.value >= best * (1 - 1e-6)
    assert min(result.allocation.values()) <= 1e-6 * budget


def test_constraints_are_honoured_in_batch_mode():
    """Value favours `premium`, customers favour `mass`; the CAC target binds (test_optimise_evaluations)."""
    value, cac_excess, budget, optimum, _ = _cac_problem()
    objective = Counting(value)
    result = optimise_allocation(
        objective,
        budget,
        names=["premium", "mass"],
        sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10),
        constraints=cac_excess,
        max_evaluations=200,
        seed=0,
        batch=4,
    )
    assert objective.calls == result.n_evaluations <= 200
    assert cac_excess(result.allocation)[0] <= 0
    assert result.value / optimum >= 0.999
    trials = result.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    assert all(set(t.constraints) == {"0"} for t in trials)
    assert any(t.constraints["0"] > 0 for t in trials)  # the sampler saw infeasible trials


@pytest.mark.parametrize(("batch", "rule"), [(0, ">= 1"), (-2, ">= 1"), (2.5, ">= 1"), (True, ">= 1"), (11, "<=")])
def test_a_bad_batch_is_refused_by_the_library(batch, rule):
    model, budget, _ = _concave3()
    with pytest.raises(OptimiseError) as info:
        optimise_allocation(model, budget, names=model.names, max_evaluations=10, batch=batch)
    message = str(info.value)
    assert rule in message and f"batch={batch!r}" in message and "(" in message  # the rule, the value, a fix


@pytest.mark.parametrize(
    ("flags", "expect"),
    [
        (["--batch", "0"], ["--batch", "whole number >= 1", "got --batch 0", "e.g. --batch 4"]),
        (["--batch", "-3"], ["--batch", "whole number >= 1", "got --batch -3", "e.g. --batch 4"]),
        (["--batch", "2.5"], ["--batch", "whole number >= 1", "got --batch 2.5", "e.g. --batch 4"]),
        (["--batch", "two"], ["--batch", "whole number >= 1", "got --batch two", "e.g. --batch 4"]),
        (
            ["--batch", "9", "--max-evaluations", "8"],
            ["--batch <= --max-evaluations", "got --batch 9, --max-evaluations 8", "lower --batch"],
        ),
    ],
)
def test_a_bad_batch_flag_exits_2_naming_the_flag_rule_value_and_fix(flags, expect):
    result = CliRunner().invoke(main, ["optimise", str(WEBSHOP), "--budget", "1000", "-q", *flags])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    for part in expect:
        assert part in text, text


# -- Ctrl-C mid-batch, then resume --------------------------------------------------------------------

# Optimises a cheap deterministic objective in a journal study with batch=3; at the evaluation of
# trial `stop_at` it prints "ready" and waits (in its worker thread) for the test's SIGINT; every
# evaluation is logged. The interrupted run exits 130 as the CLI does.
RUNNER = textwrap.dedent(
    """
    import json, signal, sys, threading
    import optuna
    from jsim.optimise import optimise_allocation
    from jsim.optimise.response_curves import MichaelisMenten, ResponseModel
    from jsim.optimise.storage import open_storage, resume_study

    signal.signal(signal.SIGINT, signal.default_int_handler)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out, mode, stop_at, log = sys.argv[1:]
    stop_at = int(stop_at)
    model = ResponseModel(
        {"a": MichaelisMenten(3.0, 20.0), "b": MichaelisMenten(2.0, 5.0), "c": MichaelisMenten(1.0, 2.0)}
    )
    storage = open_storage(None, out)
    if mode == "resume":
        resume_study(storage, "s")
    released = threading.Event()
    lock = threading.Lock()
    seen = set()

    def objective(alloc):
        key = tuple(alloc.values())
        with lock:
            first = key not in seen
            seen.add(key)
            n = len(seen)
        if first and n == stop_at:
            print("ready", flush=True)
            released.wait(60)
        with lock, open(log, "a") as fh:
            fh.write(json.dumps({"pid": mode, "alloc": alloc}) + "\\n")
        return model(alloc)

    try:
        r = optimise_allocation(objective, 60.0, names=["a", "b", "c"], n_trials=12, max_evaluations=12,
                                storage=storage, study_name="s", seed=1, batch=3, polish=False)
    except KeyboardInterrupt:
        released.set()
        print("interrupted: run again with --resume to continue", file=sys.stderr)
        sys.exit(130)
    print("done", r.n_search, flush=True)
    """
)


def _run(tmp_path, mode, stop_at=-1):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    args = [sys.executable, str(script), str(tmp_path / "out"), mode, str(stop_at), str(tmp_path / "log.jsonl")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    if stop_at >= 0:
        deadline = time.monotonic() + 120
        while (left := deadline - time.monotonic()) > 0 and select.select([proc.stdout], [], [], left)[0]:
            line = proc.stdout.readline()
            if not line or line.startswith("ready"):
                break
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out, err


def test_ctrl_c_mid_batch_then_resume_loses_and_duplicates_nothing(tmp_path):
    code, _, err = _run(tmp_path, "new", stop_at=5)  # trial 4 of the second batch (3, 4, 5)
    assert code == 130 and "--resume" in err, err
    from jsim.optimise.storage import INTERRUPTED_ATTR, open_storage

    study = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path / "out"))
    states = [t.state for t in study.get_trials()]
    # the first batch told, the whole second batch failed as interrupted, nothing left RUNNING
    assert states == [TrialState.COMPLETE] * 3 + [TrialState.FAIL] * 3, states
    assert all(t.system_attrs.get(INTERRUPTED_ATTR) for t in study.get_trials()[3:])
    interrupted = {t.number: t.params for t in study.get_trials()[3:]}

    code, out, err = _run(tmp_path, "resume")
    assert code == 0, err
    study = optuna.load_study(study_name="s", storage=open_storage(None, tmp_path / "out"))
    trials = study.get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 12 and "done 9" in out  # 12 trials: 3 kept + 3 re-run + 6 new
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    retry = retry or optuna.storages.RetryFailedTrialCallback
    retried = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        for t in complete:
            origin = retry.retried_trial_number(t)
            if origin is not None:
                assert origin not in retried
                retried[origin] = t.params
    assert retried == interrupted  # each interrupted trial re-run once, with its parameters
    allocs = [tuple(t.user_attrs["allocation"].values()) for t in complete]
    assert len(set(allocs)) == 12  # no trial run twice


# -- calibrate's point fit (library; the CLI flag is not there yet) -------------------------------------


def _calibration_problem(tmp_path):
    from jsim.analysis.calibrate import setup_calibration
    from jsim.runner import run_scenario

    teaching = str(ROOT / "scenarios" / "teaching.toml")
    run_scenario(teaching, engine="fast", seed=1, customers=2_000, out=tmp_path / "obs")
    return setup_calibration(
        teaching, tmp_path / "obs" / "daily.csv", ["transitions.interested->customer.p=0.01:0.1"], customers=2_000
    )


def test_calibrate_batch_on_a_cluster_is_bit_identical_to_batch_in_threads(cluster, tmp_path):
    from jsim.analysis.calibrate import run_calibration

    problem = _calibration_problem(tmp_path)
    kw = dict(trials=6, customers=2_000, seed=2, reps=2, engine="fast", batch=3)
    local = run_calibration(problem, **kw).as_json()
    again = run_calibration(problem, **kw).as_json()
    remote = run_calibration(problem, cluster=cluster, **kw).as_json()
    for result in (local, again, remote):
        result.pop("seconds", None)
    assert remote == local == again
    one = run_calibration(problem, **{**kw, "batch": 1}).as_json()
    default = run_calibration(problem, **{k: v for k, v in kw.items() if k != "batch"}).as_json()
    for result in (one, default):
        result.pop("seconds", None)
    assert one == default


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_calibrate_refuses_a_bad_batch(tmp_path, batch):
    from jsim.analysis.calibrate import run_calibration
    from jsim.errors import InputError

    problem = _calibration_problem(tmp_path)
    with pytest.raises(InputError, match=r"batch must be a whole number >= 1.*got batch=") as info:
        run_calibration(problem, trials=4, batch=batch)
    assert repr(batch) in str(info.value)


def test_jsim_calibrate_batch_flag_gives_the_library_fit(tmp_path, monkeypatch):
    """``jsim calibrate --batch 3`` is run_calibration(batch=3); a bad --batch exits 2 naming it."""
    import json

    from click.testing import CliRunner

    import jsim.analysis.calibrate as calibrate_module
    from jsim.analysis.calibrate import run_calibration
    from jsim.cli import main

    seen = []

    def spy(*a, **k):
        seen.append(k.get("batch"))
        return run_calibration(*a, **k)

    monkeypatch.setattr(calibrate_module, "run_calibration", spy)

    problem = _calibration_problem(tmp_path)
    teaching = str(ROOT / "scenarios" / "teaching.toml")
    args = ["calibrate", teaching, "--data", str(tmp_path / "obs" / "daily.csv")]
    args += ["--fit", "transitions.interested->customer.p=0.01:0.1", "--trials", "6", "-n", "2000"]
    args += ["--engine", "fast", "--reps", "2", "--seed", "2", "--format", "json", "-q"]
    got = CliRunner().invoke(main, [*args, "--batch", "3"])
    assert got.exit_code == 0, got.output
    cli = json.loads(got.output)
    lib = run_calibration(problem, trials=6, customers=2_000, seed=2, reps=2, engine="fast", batch=3).as_json()
    for result in (cli, lib):
        result.pop("seconds", None)
    assert cli == json.loads(json.dumps(lib)) and seen == [3]
    bad = CliRunner().invoke(main, [*args, "--batch", "0"])
    assert bad.exit_code == 2 and "--batch" in bad.output and "whole number >= 1" in bad.output
