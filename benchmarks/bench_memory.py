"""Measured peak memory and time of runs against :func:`jsim.engine.resources.estimate_resources`.

Each case runs in a fresh subprocess: compile, a tiny warm-up run (numba's caches), then the
peak-RSS counter is reset (``/proc/self/clear_refs``) and the run measured is
``simulate(...)`` followed by the tables every consumer derives (``flows``, ``credits``,
``moves_by_source``), as the estimate counts them. Reported: resident-set growth (peak minus
the resident set before the run), tracemalloc's peak of Python and numpy allocations, the
estimate, and their ratio (the estimate must be an upper bound). Run from the repository root::

    python benchmarks/bench_memory.py            # the cases of docs/limits.md (a few minutes, < 2 GB)
    python benchmarks/bench_memory.py --quick    # small cases only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (scenario, engine, customers, days, reps, journeys)
CASES = [
    ("scenarios/webshop.toml", "fast", 1_000_000, 60, 1, 0),
    ("scenarios/webshop.toml", "fast", 20_000_000, 20, 1, 0),
    ("scenarios/webshop.toml", "fast", 100_000_000, 10, 1, 0),
    ("benchmarks/reference.toml", "fast", 10_000_000, 90, 1, 0),
    ("benchmarks/reference.toml", "fast", 100_000, 20_000, 2, 0),
    ("scenarios/webshop.toml", "mean-field", 50_000, 100_000, 1, 0),
    ("scenarios/webshop.toml", "fast", 50_000, 180, 20, 100_000),
    ("scenarios/saas.toml", "fast", 30_000, 365, 1, 200_000),
    ("benchmarks/reference.toml", "des", 200_000, 90, 1, 0),
    ("benchmarks/reference.toml", "des", 1_000_000, 30, 1, 0),
    ("scenarios/support_understaffed.toml", "des", 200_000, 60, 1, 0),
]
QUICK = [
    ("scenarios/webshop.toml", "fast", 1_000_000, 30, 1, 0),
    ("benchmarks/reference.toml", "fast", 1_000_000, 90, 1, 0),
    ("scenarios/webshop.toml", "mean-field", 50_000, 5_000, 1, 0),
    ("benchmarks/reference.toml", "des", 50_000, 30, 1, 0),
]

CHILD = r"""
import json, sys, time, tracemalloc
import jsim
from jsim.engine import simulate
from jsim.engine.resources import estimate_resources

path, engine, customers, days, reps, journeys = json.loads(sys.argv[1])

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

model = jsim.compile_scenario(jsim.load_scenario(path), customers=customers, days=days)
small = jsim.compile_scenario(jsim.load_scenario(path), customers=1000, days=min(days, 30))
simulate(small, engine=engine, reps=1, journeys=10 if journeys else 0)
est = estimate_resources(model, engine, reps, journeys)
trace = len(sys.argv) > 2
if trace:
    tracemalloc.start()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")
before = rss("VmRSS:")
t0 = time.perf_counter()
result = simulate(model, engine=engine, reps=reps, journeys=journeys)
result.flows, result.credits, result.moves_by_source
seconds = time.perf_counter() - t0
peak = rss("VmHWM:")
out = dict(rss_growth=peak - before, seconds=seconds, estimate=est.bytes_peak, est_seconds=est.seconds,
           breakdown=est.breakdown, customers=est.customers)
if trace:
    out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(out))
"""


def measure(case, trace: bool = False) -> dict:
    args = [sys.executable, "-c", CHILD, json.dumps(case)] + (["trace"] if trace else [])
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'case':58} {'measured':>10} {'estimate':>10} {'ratio':>6} {'s':>7} {'est. s':>7}")
    for case in QUICK if args.quick else CASES:
        r = measure(case)
        r["case"] = case
        rows.append(r)
        path, engine, n, days, reps, journeys = case
        label = f"{Path(path).stem} {engine} n={n:.0e} T={days} R={reps}" + (f" J={journeys:.0e}" if journeys else "")
        ratio = r["estimate"] / max(r["rss_growth"], 1)
        print(
            f"{label:58} {r['rss_growth'] / 1e6:9.0f}M {r['estimate'] / 1e6:9.0f}M {ratio:6.2f} "
            f"{r['seconds']:7.1f} {r['est_seconds']:7.1f}",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
