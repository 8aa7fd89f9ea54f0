"""Threads on the day-by-day path: the per-batch schedule, replications side by side, and that
neither changes a single number (every customer draws from its own stream).

Speed under load is measured in ``benchmarks/bench_busy.py``, not here.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import pytest
from conftest import build
from test_determinism import ARRAY_FIELDS, COUPLED, assert_identical

import jsim
from jsim.engine.fast import FastEngine
from jsim.engine.schedule import MAX_EXPLORE_EVERY, DaySchedule, ThreadShare

FAST = FastEngine(chunk_size=500)


def arrays(res) -> dict:
    return {name: np.asarray(getattr(res, name)) for name in ARRAY_FIELDS}


@pytest.fixture(scope="module")
def model():
    return build(COUPLED, customers=6000, days=60)


# -- the schedule ---------------------------------------------------------------------------------
def drive(schedule: DaySchedule, speed, batches: int) -> list[int]:
    """Run ``batches`` batches of 1e6 customer-days; ``speed(threads, i)`` is customer-days per second."""
    for i in range(batches):
        k = schedule.threads()
        schedule.record(k, 1e6, 1e6 / speed(k, i))
    return schedule.history


def test_the_wider_count_wins_on_an_idle_machine():
    history = drive(DaySchedule(lambda: 4), lambda k, i: 1e8 * (1.9 if k == 4 else 1.0), 50)
    # two batches wide (the first one's time not counted), one on a single thread, then wide only
    assert history[:3] == [4, 4, 1]
    assert set(history[3:]) == {4}


def test_one_thread_wins_when_the_wider_count_is_slower_and_is_tried_again_now_and_then():
    history = drive(DaySchedule(lambda: 2), lambda k, i: 1e8 * (0.7 if k == 2 else 1.0), 60)
    assert history[:3] == [2, 2, 1]
    tries = [i for i, k in enumerate(history) if k == 2 and i > 2]
    assert 3 <= len(tries) <= 60 // 4
    # backing off while it keeps losing, never further apart than MAX_EXPLORE_EVERY + 1 batches
    gaps = np.diff(tries)
    assert (np.diff(gaps) >= 0).all() and gaps.max() <= MAX_EXPLORE_EVERY + 1
    assert history.count(1) > 0.8 * len(history)


def test_the_schedule_follows_the_load():
    """Busy for the first 30 batches (two threads slower), idle after: back to two threads."""
    busy = lambda k, i: 1e8 * ((0.7 if k == 2 else 1.0) if i < 30 else (1.9 if k == 2 else 1.0))
    history = drive(DaySchedule(lambda: 2), busy, 80)
    assert history[10:30].count(1) >= 15
    assert history[30 + MAX_EXPLORE_EVERY + 2 :] == [2] * (80 - 32 - MAX_EXPLORE_EVERY)
    # and from idle to busy: one thread within a batch of the change
    idle_then_busy = lambda k, i: 1e8 * ((1.9 if k == 2 else 1.0) if i < 30 else (0.6 if k == 2 else 1.0))
    history = drive(DaySchedule(lambda: 2), idle_then_busy, 60)
    assert history[31:].count(1) >= 25


def test_one_thread_allowed_means_one_thread():
    assert set(drive(DaySchedule(lambda: 1), lambda k, i: 1e8, 10)) == {1}


def test_thread_share_divides_the_threads_among_running_replications():
    share = ThreadShare(4)
    assert share.most() == 4
    share.enter()
    assert share.most() == 4
    share.enter()
    assert share.most() == 2
    share.enter()
    assert share.most() == 1
    share.leave(), share.leave()
    assert share.most() == 4
    unsafe = ThreadShare(4, concurrent_regions=False)
    unsafe.enter(), unsafe.enter()
    assert unsafe.most() == 1  # two parallel regions at once would abort numba's workqueue layer
    unsafe.leave()
    assert unsafe.most() == 4


# -- nothing changes a number ---------------------------------------------------------------------
def test_any_thread_schedule_gives_identical_results(model, monkeypatch):
    reference = jsim.simulate(model, seed=31, reps=3, engine=FAST)
    rng = np.random.default_rng(0)
    wide = numba.get_num_threads()
    monkeypatch.setattr(DaySchedule, "threads", lambda self: int(rng.integers(1, wide + 1)))
    shuffled = jsim.simulate(model, seed=31, reps=3, engine=FAST)
    assert_identical(arrays(reference), arrays(shuffled), "schedule chosen by measurement vs at random")


def test_replications_side_by_side_equal_replications_one_after_another(model):
    seeds = jsim.rng.replication_seeds(5, 4)
    alone = [FAST.run(model, s) for s in seeds]
    together = FAST.run_replications(model, seeds)
    sequential = FAST.run_replications(model, seeds, memory_room=0.0)
    for r in range(4):
        for name in ("occupancy", "moves", "segment_flows", "new_converted", "deliveries", "engagements"):
            np.testing.assert_array_equal(getattr(alone[r], name), getattr(together[r], name), err_msg=name)
            np.testing.assert_array_equal(getattr(alone[r], name), getattr(sequential[r], name), err_msg=name)


def test_replications_run_side_by_side_when_there_are_threads_and_memory(model, monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread: nothing runs side by side")
    seen, shares = set(), []
    run = FastEngine.run

    def spy(self, model, seed, progress=None, threads=None):
        seen.add(threading.current_thread().name)
        shares.append(None if threads is None else threads())
        return run(self, model, seed, progress, threads)

    monkeypatch.setattr(FastEngine, "run", spy)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        FAST.run_replications(model, jsim.rng.replication_seeds(1, 3))
        assert len(seen) == 2 and all(name.startswith("jsim-replication") for name in seen)
        assert shares[:2] == [1, 1] or shares[0] == 2  # the first may start before the second enters
        seen.clear()
        FAST.run_replications(model, jsim.rng.replication_seeds(1, 3), memory_room=0.0)
        assert seen == {threading.current_thread().name}  # no room for a second population
        seen.clear()
        numba.set_num_threads(1)
        FAST.run_replications(model, jsim.rng.replication_seeds(1, 3))
        assert seen == {threading.current_thread().name}
    finally:
        numba.set_num_threads(before)


def test_progress_is_ordered_and_a_failure_stops_every_replication(model):
    fractions = []
    FAST.run_replications(model, jsim.rng.replication_seeds(2, 3), fractions.append)
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)

    def interrupt(fraction):
        if fraction > 0.2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        FAST.run_replications(model, jsim.rng.replication_seeds(2, 4), interrupt)
    assert not [t for t in threading.enumerate() if t.name.startswith("jsim-replication")]


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, ("3000", None)),
        ({"GOMP_SPINCOUNT": "100"}, ("100", None)),
        ({"OMP_WAIT_POLICY": "active"}, (None, "active")),
    ],
    ids=["unset: a short spin", "the user's spin count kept", "the user's wait policy kept"],
)
def test_openmp_threads_spin_briefly_unless_the_user_says_otherwise(env, expected):
    """GNU OpenMP reads these when numba first starts its threads: jsim.kernels sets a short spin
    (benchmarks/bench_busy.py) only when the user set neither."""
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    code = "import os, jsim.kernels; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == [str(v) for v in expected]
