"""Same seed, same numbers: in one process, in a fresh process, and whatever the thread count.

Both paths of the fast engine are covered: the independent path (no word of mouth: whole
journeys drawn per customer) and the coupled path (word of mouth: the population advanced day
by day). Populations span several chunks (``chunk_size=1000``) so the per-chunk random streams
and the parallel loops over chunks are exercised.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, build

import jsim
from jsim.engine import SimulationResult
from jsim.engine.fast import FastEngine

CHUNK = 1000
FAST = FastEngine(chunk_size=CHUNK)

BASE = {
    "stages": [
        {"name": "aware"},
        {"name": "considering"},
        {"name": "cart"},
        {"name": "customer", "converted": True, "purchase": True, "advocate": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [
        {"from": "aware", "to": "considering", "p": 0.05},
        {"from": "considering", "to": "cart", "p": 0.1},
        {"from": "considering", "to": "lost", "p": 0.02},
        {"from": "cart", "to": "customer", "p": 0.2},
        {"from": "customer", "to": "lost", "p": 0.01},
    ],
    "touchpoints": [
        {
            "name": "search",
            "spend": 200.0,
            "response": {"kind": "hill", "ec": 150.0, "slope": 1.2, "max_reach": 0.4},
            "adstock": {"alpha": 0.5, "l_max": 5},
            "start_day": 3,
            "end_day": 20,
            "engagement": 0.7,
            "effects": [{"from": "aware", "to": "considering", "p": 0.3}],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.5,
            "engagement": 0.3,
            "cost_per_exposure": 0.01,
            "effects": [{"from": "cart", "to": "customer", "p": 0.5}],
        },
    ],
    "segments": [
        {"name": "a", "share": 0.6},
        {"name": "b", "share": 0.4, "transition_multiplier": 1.5, "effect_multiplier": 0.5},
    ],
    "population": {"customers": 5_500, "days": 30, "arrivals_per_day": 40.0},
}
COUPLED = dict(BASE, word_of_mouth=[{"from": "aware", "to": "considering", "p": 0.001, "q": 0.3}])

ARRAY_FIELDS = [
    f.name
    for f in dataclasses.fields(SimulationResult)
    if f.name not in ("model", "engine", "seed", "journeys", "timings", "services", "traced_calendar")
]
ARRAY_FIELDS += ["flows", "credits", "moves_by_source"]  # derived from moves


def arrays(res) -> dict[str, np.ndarray]:
    out = {name: getattr(res, name) for name in ARRAY_FIELDS}
    for rec in res.services:  # service queue records, flattened
        out.update(
            {
                f"service/{rec.name}/{f.name}": np.asarray(getattr(rec, f.name))
                for f in dataclasses.fields(rec)
                if isinstance(getattr(rec, f.name), np.ndarray)
            }
        )
    return out


def assert_identical(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        assert x.dtype == y.dtype and x.shape == y.shape, f"{what}: {name} differs in dtype or shape"
        assert x.tobytes() == y.tobytes(), f"{what}: {name} differs ({np.sum(x != y)} of {x.size} entries)"


@pytest.fixture(scope="module", params=["independent", "coupled"])
def model(request):
    m = build(BASE if request.param == "independent" else COUPLED)
    assert m.is_coupled == (request.param == "coupled")
    assert m.n_customers > 5 * CHUNK  # several chunks even before arrivals
    return m


def test_all_array_fields_are_known():
    assert {"occupancy", "moves", "flows", "credits", "deliveries", "cost", "shares"} <= set(ARRAY_FIELDS)


def test_same_seed_is_bit_identical(model):
    a = jsim.simulate(model, seed=123, reps=2, engine=FAST)
    b = jsim.simulate(model, seed=123, reps=2, engine=FAST)
    assert_identical(arrays(a), arrays(b), "same seed")
    assert a.seed == b.seed == 123


def test_different_seeds_differ(model):
    a = jsim.simulate(model, seed=1, engine=FAST)
    b = jsim.simulate(model, seed=2, engine=FAST)
    for name in ("occupancy", "flows", "arrivals", "deliveries"):
        assert not np.array_equal(getattr(a, name), getattr(b, name)), f"{name} identical for seeds 1 and 2"


def test_replications_differ(model):
    res = jsim.simulate(model, seed=5, reps=2, engine=FAST)
    assert not np.array_equal(res.occupancy[0], res.occupancy[1])


def test_thread_count_does_not_change_results(model):
    """In one process: the parallel loops over chunks with 1 thread and with every thread."""
    import numba

    n_max = numba.config.NUMBA_NUM_THREADS
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = jsim.simulate(model, seed=77, engine=FAST)
        numba.set_num_threads(n_max)
        many = jsim.simulate(model, seed=77, engine=FAST)
    finally:
        numba.set_num_threads(before)
    assert_identical(arrays(one), arrays(many), f"1 thread vs {n_max} threads")


SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import numba
import jsim
import test_determinism as td
assert numba.get_num_threads() == int(sys.argv[2]), numba.get_num_threads()
out = {{}}
for label, data in (("independent", td.BASE), ("coupled", td.COUPLED)):
    res = jsim.simulate(td.build(data), seed=2024, reps=2, engine=td.FAST)
    for name, arr in td.arrays(res).items():
        out[label + "/" + name] = arr
np.savez(sys.argv[1], **out)
"""


def run_fresh(tmp_path: Path, threads: int) -> dict:
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    out = tmp_path / f"threads{threads}.npz"
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    proc = subprocess.run(
        [sys.executable, str(script), str(out), str(threads)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def test_fresh_process_and_thread_count_give_identical_arrays(tmp_path):
    one = run_fresh(tmp_path, 1)
    two = run_fresh(tmp_path, 2)
    assert len(one) == 2 * len(ARRAY_FIELDS)
    assert_identical(one, two, "fresh process, NUMBA_NUM_THREADS=1 vs 2")
    # and this process agrees with both
    here = {}
    for label, data in (("independent", BASE), ("coupled", COUPLED)):
        for name, arr in arrays(jsim.simulate(build(data), seed=2024, reps=2, engine=FAST)).items():
            here[label + "/" + name] = arr
    assert_identical(here, one, "this process vs a fresh one")


def test_results_do_not_depend_on_the_chunk_size():
    """Every customer draws from a stream of its own (key, index, count), so the chunk size (how
    customers are grouped for threads and buffers) changes nothing, on either path."""
    for data in (BASE, COUPLED):
        m = build(data)
        a = jsim.simulate(m, seed=9, engine=FAST)
        b = jsim.simulate(m, seed=9, engine=FastEngine(chunk_size=2 * CHUNK + 1))
        for name in ("occupancy", "arrivals", "moves", "new_converted", "segment_flows"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
