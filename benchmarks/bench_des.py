"""Benchmark jsim's discrete-event engine (``--engine des``) against the naive SimPy baseline, in one run.

On the reference model (``benchmarks/reference.toml``), with the same number of customers:

* jsim's DES engine (:class:`jsim.engine.des.DesEngine`): median wall time of ``--repeats`` whole
  simulations as customer-days per second (the numba day tables are loaded first and not
  timed), at ``--customers`` and at each of ``--more`` larger populations;
* the naive SimPy program (``naive_simpy.run_naive``: one process per customer, a timeout per
  day, scalar dice);
* the ratio DES / naive, against the target of 5x;
* both day-90 stage distributions against the exact answer (``reference_exact``);
* memory per waiting customer (tracemalloc): all day-0 customers joined (their state and their
  threshold heap entries; the engine keeps no SimPy process per customer), before the first day
  is simulated.

Run from the repository root::

    python benchmarks/bench_des.py                   # 20,000 customers, about 40 s
    python benchmarks/bench_des.py --quick           # 5,000 customers, 1 repeat
    python benchmarks/bench_des.py --profile         # also the top functions of one DES run

Exit status 0 when both distribution checks pass; with ``--strict`` also when the DES is at
least 5x the naive program.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from naive_simpy import run_naive  # noqa: E402
from reference_exact import DAYS, check_distribution  # noqa: E402

import jsim  # noqa: E402
from jsim.engine import des  # noqa: E402

REFERENCE = HERE / "reference.toml"
TARGET_RATIO = 5.0


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def time_des(scenario, customers: int, repeats: int, seed: int):
    """Median and every wall time of ``repeats`` DES runs; day-90 stage counts of the first."""
    model = jsim.compile_scenario(scenario, customers=customers)
    times, counts = [], None
    for r in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = des.DesEngine().run(model, np.random.SeedSequence(seed + r))
        times.append(time.perf_counter() - t0)
        if counts is None:
            counts = out.occupancy[-1].sum(axis=0)
        del out
    return statistics.median(times), times, counts


def time_naive(customers: int, repeats: int, seed: int):
    times, counts = [], None
    for r in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        c = run_naive(customers, DAYS, seed=seed + r)
        times.append(time.perf_counter() - t0)
        if counts is None:
            counts = c
    return statistics.median(times), times, counts


def memory_per_customer(scenario, customers: int) -> dict:
    """Bytes per customer once every day-0 customer has joined, waiting for its threshold to be crossed.

    ``state``: the per-customer lists (stage, segment, versions, flags) and the engine's other
    allocations before anyone joins; ``join``: what joining allocates (threshold heap entries and
    the lists' contents). No SimPy process or event exists per customer.
    """
    model = jsim.compile_scenario(scenario, customers=customers)
    arrivals = np.zeros((model.n_days + 1, model.n_segments), dtype=np.int64)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rep = des.build_replication(model, arrivals, np.random.SeedSequence(0))
    after_join = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    waiting = sum(len(heap) for heap in rep.clock.stages.heaps)
    return {"customers": customers, "waiting": waiting, "total": (after_join - base) / customers}


def profile_des(scenario, customers: int, top: int = 12) -> str:
    model = jsim.compile_scenario(scenario, customers=customers)
    prof = cProfile.Profile()
    prof.enable()
    des.DesEngine().run(model, np.random.SeedSequence(0))
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000, help="customers of both programs (same population)")
    parser.add_argument("--more", default="200000", help="comma-separated larger DES populations ('' for none)")
    parser.add_argument("--repeats", type=int, default=3, help="timed DES runs per population (median reported)")
    parser.add_argument("--naive-repeats", type=int, default=1, help="timed naive runs (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5,000 customers, 1 repeat, no larger populations")
    parser.add_argument("--profile", action="store_true", help="print the top functions of one DES run")
    parser.add_argument("--strict", action="store_true", help=f"exit 1 if the DES is below {TARGET_RATIO:g}x naive")
    args = parser.parse_args(argv)
    if args.quick:
        args.customers, args.more, args.repeats = 5_000, "", 1
    more = [int(x) for x in args.more.split(",") if x.strip()]

    scenario = jsim.load_scenario(REFERENCE)
    print(f"load average at start: {_load()}")
    t0 = time.perf_counter()
    des.DesEngine().run(jsim.compile_scenario(scenario, customers=100), np.random.SeedSequence(0))
    print(f"warm-up (numba day tables from the on-disk cache or compiled): {time.perf_counter() - t0:.2f} s")

    n = args.customers
    cdays = n * DAYS
    rows = []
    ok = True
    for label, (wall, times, counts) in (
        ("jsim DES", time_des(scenario, n, args.repeats, args.seed)),
        ("naive SimPy", time_naive(n, args.naive_repeats, args.seed)),
    ):
        check = check_distribution(np.asarray(counts), n, DAYS)
        ok &= check.ok
        rows.append((label, n, wall, cdays / wall, check))
        print(
            f"\n{label}: {n:,} customers x {DAYS} days, median {wall:.3f} s "
            f"(runs: {', '.join(f'{t:.3f}' for t in times)})"
        )
        print(f"  {cdays / wall:,.0f} customer-days/s")
        print(check.summary())
    for m in more:
        wall, times, counts = time_des(scenario, m, args.repeats, args.seed)
        check = check_distribution(np.asarray(counts), m, DAYS)
        ok &= check.ok
        rows.append(("jsim DES", m, wall, m * DAYS / wall, check))
        print(
            f"\njsim DES: {m:,} customers, median {wall:.3f} s: {m * DAYS / wall:,.0f} customer-days/s, "
            f"max|z| {check.max_abs_z:.2f} {'PASS' if check.ok else 'FAIL'}"
        )

    ratio = rows[0][3] / rows[1][3]
    mem = memory_per_customer(scenario, n)
    print(f"\nload average at end: {_load()}")
    print("\n| program | customers | median s | customer-days/s | max|z| | check |")
    print("|---|---:|---:|---:|---:|---|")
    for label, m, wall, rate, check in rows:
        print(
            f"| {label} | {m:,} | {wall:.3f} | {rate:.3g} | {check.max_abs_z:.2f} | {'PASS' if check.ok else 'FAIL'} |"
        )
    print(
        f"\nratio DES / naive at {n:,} customers: {ratio:.1f}x (target >= {TARGET_RATIO:g}x: "
        f"{'met' if ratio >= TARGET_RATIO else 'MISSED'})"
    )
    print(
        f"memory per waiting customer ({mem['waiting']:,} waiting of {mem['customers']:,}): "
        f"{mem['total']:.0f} B (state lists + threshold heap entry; no process per customer)"
    )
    if args.profile:
        print("\nTop functions of one DES run (cProfile, tottime):")
        print(profile_des(scenario, n))
    if not ok:
        return 1
    return 1 if args.strict and ratio < TARGET_RATIO else 0


if __name__ == "__main__":
    raise SystemExit(main())
