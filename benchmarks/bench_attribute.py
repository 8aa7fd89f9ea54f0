"""Speed and memory of ``jsim attribute``'s library call, and ChannelAttribution's Markov model beside it.

Three synthetic path tables over 12 channels (lengths 1 + geometric, a channel often repeated,
conversion more likely after some channels):

- 10,000 distinct paths (aggregated, as analysts' files are);
- 1,000,000 journeys aggregated into distinct paths (what a 1M-journey export becomes);
- 1,000,000 distinct paths (longer journeys, so nearly every one is unique).

Each is timed through ``attribute(paths, methods="all")`` (Markov order 1 solved exactly, Shapley,
heuristics; order 2 too for the first), with the peak of the memory it allocates (tracemalloc)
per distinct path. When a venv with ChannelAttribution exists (``--ca-python``, default
``/tmp/ca-venv/bin/python``; ``python -m venv /tmp/ca-venv && /tmp/ca-venv/bin/pip install
channelattribution matplotlib``) its ``markov_model`` runs on the same file (default settings:
simulation, 10 folds, convergence 5%, seed 0), timed without reading the file, and the largest
difference of its removal effects from jsim's exact ones is shown.

Run: ``python benchmarks/bench_attribute.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from jsim.analysis.attribution import attribute
from jsim.io.paths import PathTable, write_paths

N_CHANNELS = 12
CA_SCRIPT = r"""
import json, sys, time, pandas as pd
from ChannelAttribution import markov_model
d = pd.read_csv(sys.argv[1], sep=";")
t = time.perf_counter()
r = markov_model(d, "path", "total_conversions", var_value="total_conversion_value", var_null="total_null",
                 out_more=True, verbose=False, seed=0)
s = time.perf_counter() - t
re = r["removal_effects"]
print(json.dumps({"seconds": s, "channels": list(re["channel_name"]),
                  "removal_effects": list(re["removal_effects_conversion"]),
                  "conversions": list(r["result"]["total_conversions"])}))
"""


def journeys(n: int, mean_len: float, seed: int) -> PathTable:
    """``n`` journeys, one row each (conversions 0 or 1, nulls 1 - conversions)."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(1 + rng.geometric(1 / mean_len, size=n) - 1, 40)
    lengths = np.maximum(lengths, 1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    popularity = rng.dirichlet(np.ones(N_CHANNELS) * 0.8)
    touches = rng.choice(N_CHANNELS, size=offsets[-1], p=popularity)
    repeat = rng.random(offsets[-1]) < 0.3
    repeat[offsets[:-1]] = False
    touches[repeat] = touches[np.flatnonzero(repeat) - 1]  # a channel often repeated (collapsed by Markov)
    lift = rng.normal(0, 0.6, N_CHANNELS)
    pid = np.repeat(np.arange(n), lengths)
    score = -2.5 + np.bincount(pid, weights=lift[touches], minlength=n) / np.sqrt(lengths)
    conv = (rng.random(n) < 1 / (1 + np.exp(-score))).astype(np.float64)
    value = conv * rng.gamma(2.0, 40.0, size=n)
    return PathTable.from_arrays(
        tuple(f"ch{i:02d}" for i in range(N_CHANNELS)), offsets, touches, conv, value, 1.0 - conv
    )


def distinct(n_distinct: int, mean_len: float, seed: int) -> PathTable:
    """At least ``n_distinct`` distinct paths (journeys aggregated), cut to exactly that many."""
    n = n_distinct
    t = journeys(n, mean_len, seed).aggregated()
    while len(t) < n_distinct:
        n = int(n * 1.2 * n_distinct / len(t)) + 1
        t = journeys(n, mean_len, seed).aggregated()
    k = n_distinct
    end = t.offsets[k]
    return PathTable.from_arrays(
        t.channels, t.offsets[: k + 1], t.touch_channel_idx[:end], t.conversions[:k], t.value[:k], t.nulls[:k]
    )


def measure(table: PathTable, order: int = 1) -> tuple[float, int, object]:
    tracemalloc.start()
    t0 = time.perf_counter()
    result = attribute(table, methods="all", order=order)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, result


def channel_attribution(table: PathTable, result, ca_python: str) -> str:
    if not Path(ca_python).exists():
        return f"not run: {ca_python} not found (see the docstring to install it)"
    with tempfile.TemporaryDirectory() as tmp:
        f = write_paths(table, Path(tmp) / "paths.csv")
        script = Path(tmp) / "ca.py"
        script.write_text(CA_SCRIPT)
        proc = subprocess.run([ca_python, str(script), str(f)], capture_output=True, text=True)
    if proc.returncode != 0:
        return "failed: " + proc.stderr.strip().splitlines()[-1]
    ca = json.loads(proc.stdout.strip().splitlines()[-1])
    exact = {c.channel: c.values["removal_effect"] for c in result.channels}
    diff = max(abs(exact[ch] - re) for ch, re in zip(ca["channels"], ca["removal_effects"]))
    return f"{ca['seconds']:.2f} s; removal effects differ from jsim's exact ones by at most {diff:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 instead of 1,000,000 paths")
    parser.add_argument("--ca-python", default="/tmp/ca-venv/bin/python")
    args = parser.parse_args()
    big = 100_000 if args.quick else 1_000_000
    attribute(journeys(100, 3.0, 0), methods="all")  # imports (scipy.sparse) and first calls: not timed
    cases = [
        (f"{10_000:,} distinct paths", lambda: distinct(10_000, 4.0, 1), (1, 2)),
        (f"{big:,} journeys, aggregated", lambda: journeys(big, 4.0, 2).aggregated(), (1,)),
        (f"{big:,} distinct paths", lambda: distinct(big, 9.0, 3), (1,)),
    ]
    print(f"attribute(paths, methods='all') over {N_CHANNELS} channels; ChannelAttribution: {args.ca_python}")
    print(
        f"{'table':34} {'distinct':>10} {'touches':>11} {'order':>5} {'seconds':>8} {'peak MB':>8} "
        f"{'B/path':>7}  CA markov_model"
    )
    for label, make, orders in cases:
        table = make()
        for order in orders:
            seconds, peak, result = measure(table, order)
            ca = channel_attribution(table, result, args.ca_python) if order == 1 else ""
            print(
                f"{label:34} {len(table):>10,} {table.touch_channel_idx.size:>11,} {order:>5} {seconds:>8.2f} "
                f"{peak / 1e6:>8.1f} {peak / len(table):>7.0f}  {ca}",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())
