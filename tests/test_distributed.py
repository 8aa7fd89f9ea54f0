"""Replications as Dask tasks (jsim.engine.distributed): the same seed gives the same numbers, bit for bit.

One cluster serves the module (conftest.py's ``cluster``): the scheduler at
``JSIM_TEST_DASK_SCHEDULER`` when CI started one (``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1, .ci/run), otherwise a local cluster of 2 processes. A worker killed
mid-run changes nothing: the scheduler runs its tasks again on the same seeds.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from jsim.cli import main

pytest.importorskip("distributed", reason="needs Dask's distributed (pip install 'jsim[distributed]')")

ROOT = Path(__file__).resolve().parents[1]
WEBSHOP = ROOT / "scenarios" / "webshop.toml"
SUPPORT = ROOT / "scenarios" / "support_understaffed.toml"
REFERENCE = ROOT / "benchmarks" / "reference.toml"  # no word of mouth, no queues: replications split into chunks
AGENTS = "touchpoints.support_chat.service.agents"
SCHEDULER = os.environ.get("JSIM_TEST_DASK_SCHEDULER")
ARRAYS = ("occupancy", "occupancy_start", "arrivals", "moves", "segment_flows", "new_converted", "deliveries", "cost")


def _model(path, **kw):
    from jsim.runner import prepare

    return prepare(path, **kw)[1]


def _assert_same(a, b):
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert a.seed == b.seed and a.n_reps == b.n_reps


@pytest.mark.parametrize(
    ("engine", "path", "kw", "reps"),
    [
        ("fast", WEBSHOP, {"customers": 20_000}, 4),
        ("fast", SUPPORT, {"customers": 3_000, "days": 40}, 3),  # word of mouth and queues: the day-by-day path
        ("mean-field", WEBSHOP, {}, 3),
        ("des", SUPPORT, {"customers": 300, "days": 20}, 2),
    ],
)
def test_simulate_on_the_cluster_is_bit_identical_to_a_local_run(cluster, engine, path, kw, reps):
    from jsim.engine import simulate

    model = _model(path, **kw)
    local = simulate(model, seed=7, reps=reps, engine=engine)
    remote = simulate(model, seed=7, reps=reps, engine=engine, cluster=cluster)
    _assert_same(remote, local)


def test_replications_split_into_chunk_tasks_reduced_on_the_workers_are_bit_identical(cluster):
    """A big replication runs as tasks of a few customer chunks whose counts are summed on the workers."""
    from jsim.engine import simulate
    from jsim.engine.fast import FastEngine
    from jsim.engine.result import SimulationResult
    from jsim.rng import as_seed_sequence, replication_seed

    engine = FastEngine(chunk_size=1_000)
    model = _model(REFERENCE, customers=30_000)
    local = simulate(model, seed=9, reps=2, engine=engine)
    seeds = [replication_seed(as_seed_sequence(9), r) for r in range(2)]
    assert engine.n_chunks(model, seeds[0]) > 20  # so chunks_per_task=3 makes 7+ tasks and two levels of sums
    runs = cluster.gather_runs(cluster.submit_runs(model, engine, seeds, chunks_per_task=3))
    _assert_same(SimulationResult.from_runs(model, "fast", local.seed, runs), local)
    coupled = _model(SUPPORT, customers=3_000, days=30)  # word of mouth and queues: not split, one task
    assert engine.n_chunks(coupled, seeds[0]) is None


def _same_values(a, b, where=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _same_values(a[key], b[key], f"{where}.{key}")
    else:
        assert np.array_equal(np.asarray(a), np.asarray(b)), where


def test_compare_and_sweep_variants_on_the_cluster_are_bit_identical(cluster):
    from jsim.analysis.params import parse_sweep_param
    from jsim.analysis.sweep import sweep_variants
    from jsim.analysis.variants import run_variants

    variants, _ = sweep_variants(str(SUPPORT), [parse_sweep_param(f"{AGENTS}=1:3:3")], ())
    kw = dict(customers=2_000, days=30, seed=5, reps=3, engine="fast")
    local = run_variants(variants, **kw)
    remote = run_variants(variants, cluster=cluster, **kw)
    assert [r.name for r in remote] == [r.name for r in local]
    for a, b in zip(remote, local):
        assert (a.seed, a.reps, a.scenario_hash) == (b.seed, b.reps, b.scenario_hash)
        _same_values(a.values, b.values, a.name)


def test_sensitivity_on_the_cluster_is_bit_identical(cluster):
    from jsim.analysis.sensitivity import run_sensitivity, setup_problem

    problem = setup_problem(
        str(WEBSHOP), ["economics.margin=0.25:0.45", "touchpoints.search_ads.spend=100:500"], ["net_profit"]
    )
    kw = dict(method="oat", customers=3_000, days=60, seed=4, reps=2, engine="fast")
    local = run_sensitivity(problem, **kw)
    remote = run_sensitivity(problem, cluster=cluster, **kw)
    assert remote.rows == local.rows and remote.baseline == local.baseline


def test_calibrate_on_the_cluster_is_bit_identical(cluster, tmp_path):
    from jsim.analysis.calibrate import run_calibration, setup_calibration
    from jsim.runner import run_scenario

    teaching = str(ROOT / "scenarios" / "teaching.toml")
    run_scenario(teaching, engine="fast", seed=1, customers=2_000, out=tmp_path / "obs")
    problem = setup_calibration(
        teaching, tmp_path / "obs" / "daily.csv", ["transitions.interested->customer.p=0.01:0.1"], customers=2_000
    )
    kw = dict(trials=4, customers=2_000, seed=2, reps=2, engine="fast")
    local = run_calibration(problem, **kw).as_json()
    remote = run_calibration(problem, cluster=cluster, **kw).as_json()
    for result in (local, remote):
        result.pop("seconds", None)
    assert remote == local


def test_an_optimise_evaluation_on_the_cluster_is_bit_identical(cluster):
    from jsim.optimise.objectives import ScenarioObjective
    from jsim.scenario import load_scenario

    obj = ScenarioObjective(load_scenario(WEBSHOP), 2_000.0, engine="fast", reps=3, customers=3_000, days=60)
    alloc = obj.equal_allocation()
    local = obj.evaluate(alloc)
    obj.cluster, obj._cache = cluster, {}
    remote = obj.evaluate(alloc)
    assert remote.values == local.values and remote.constraints == local.constraints
    _same_values(remote.metrics, local.metrics)


def test_optimise_with_the_mean_field_engine_refuses_a_cluster():
    result = CliRunner().invoke(
        main, ["optimise", str(WEBSHOP), "--budget", "1000", "--engine", "mean-field", "--workers", "2", "-q"]
    )
    assert result.exit_code == 2, result.output
    assert "engine 'mean-field'" in result.output and "--engine fast" in result.output


def test_the_cli_gives_the_same_json_with_workers_as_without():
    """`jsim compare --workers 2` (a fresh local cluster) prints what a local compare prints."""
    args = [
        "compare",
        str(SUPPORT),
        "--variant",
        f"chat3:{AGENTS}=3",
        "-n",
        "1500",
        "-d",
        "20",
        "-r",
        "3",
        "--format",
        "json",
        "-q",
    ]
    local = CliRunner().invoke(main, args)
    remote = CliRunner().invoke(main, [*args, "--workers", "2"])
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout


@pytest.mark.parametrize(
    ("command", "flags", "expect"),
    [
        ("run", ["--scheduler", "localhost:8786"], "tcp://HOST:PORT, got 'localhost:8786'"),
        ("run", ["--scheduler", "tcp://127.0.0.1:99999"], "tcp://HOST:PORT"),
        ("compare", ["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "are exclusive"),
        ("sweep", ["--workers", "0"], "--workers"),
    ],
)
def test_bad_cluster_flags_exit_2(command, flags, expect):
    extra = {
        "run": [],
        "compare": ["--variant", "m:economics.margin=0.3"],
        "sweep": ["--param", "economics.margin=0.2:0.3:2", "--metric", "net_profit"],
    }[command]
    result = CliRunner().invoke(main, [command, str(WEBSHOP), *extra, "-q", *flags])
    assert result.exit_code == 2, result.output
    assert expect in result.output


def test_an_unreachable_scheduler_exits_2_within_the_timeout(monkeypatch):
    import socket

    import jsim.engine.distributed as dist

    monkeypatch.setattr(dist, "CONNECT_TIMEOUT", 3.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    result = CliRunner().invoke(
        main, ["run", str(WEBSHOP), "-n", "100", "-q", "--scheduler", f"tcp://127.0.0.1:{port}"]
    )
    assert result.exit_code == 2, result.output
    assert "no Dask scheduler answered within" in result.output and "--scheduler" in result.output
    assert time.perf_counter() - t0 < 30


def test_a_scheduler_without_workers_exits_2(monkeypatch):
    from distributed import LocalCluster

    import jsim.engine.distributed as dist

    monkeypatch.setattr(dist, "CONNECT_TIMEOUT", 2.0)
    tcp = dict(protocol="tcp://", host="127.0.0.1", dashboard_address=":0")
    with LocalCluster(n_workers=0, processes=False, **tcp) as empty:
        args = ["run", str(WEBSHOP), "-n", "100", "-q", "--scheduler", empty.scheduler_address]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "has no workers" in result.output and "dask worker" in result.output


@pytest.mark.parametrize("flags", [["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]])
def test_without_distributed_the_flags_exit_2_saying_what_to_install(monkeypatch, flags):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    result = CliRunner().invoke(main, ["run", str(WEBSHOP), "-n", "100", "-q", *flags])
    assert result.exit_code == 2, result.output
    assert "pip install 'jsim[distributed]'" in result.output


def test_a_worker_killed_mid_run_does_not_change_the_answer(cluster):
    """SIGKILL one worker while it holds replications: the scheduler reruns them elsewhere, on the same seeds.

    Last in the module: the killed worker's nanny starts a new one.
    """
    from jsim.engine import get_engine, simulate
    from jsim.engine.result import SimulationResult
    from jsim.rng import as_seed_sequence, replication_seed

    model = _model(WEBSHOP, customers=300_000)
    reps = 6
    local = simulate(model, seed=3, reps=reps, engine="fast")
    pids = cluster.client.run(os.getpid)  # worker address -> process id (all on this machine)
    seeds = [replication_seed(as_seed_sequence(3), r) for r in range(reps)]
    futures = cluster.submit_runs(model, get_engine("fast"), seeds)
    busy, deadline = {}, time.monotonic() + 60
    while not busy and time.monotonic() < deadline:  # wait until a worker holds a replication
        busy = {w: tasks for w, tasks in cluster.client.processing().items() if tasks}
        time.sleep(0.02)
    assert busy, "no worker started a replication within 60 s"
    victim = next(iter(busy))
    os.kill(pids[victim], signal.SIGKILL)
    runs = cluster.gather_runs(futures)
    deadline = time.monotonic() + 60
    while pids[victim] in cluster.client.run(os.getpid).values() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pids[victim] not in cluster.client.run(os.getpid).values(), "the killed worker is still there"
    _assert_same(SimulationResult.from_runs(model, "fast", local.seed, runs), local)


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "sensitivity", "calibrate", "optimise"])
def test_every_simulating_command_has_the_cluster_flags(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0 and "--scheduler ADDRESS" in result.output and "--workers N" in result.output
