"""Benchmark the SimPy service desk (``jsim.engine.des.desk``): throughput and memory.

Measures

* throughput: requests per second of wall time through an M/M/c desk (Poisson arrivals made
  by a SimPy process, exponential service, ``c`` agents, load ``rho``), with and without
  exponential patience (abandonment adds a timeout and a condition event per request);
* memory per waiting customer process (tracemalloc): ``n`` customers queued behind one busy
  agent, everything they allocate (process, generator frame, request, patience timeout,
  condition, the desk's records) divided by ``n``;
* the time to build a queue of ``n`` waiting customers with the desk's two-deque put queue
  and with SimPy's ``SortedQueue`` (which re-sorts the whole queue on every request).

Run from the repository root::

    python benchmarks/bench_service.py            # about 15 s
    python benchmarks/bench_service.py --quick
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jsim.engine.des import desk as _desk  # noqa: E402
from jsim.engine.des.desk import MINUTE, Distribution, ServiceDesk  # noqa: E402

__all__ = ["bytes_per_waiting_process", "queue_build_seconds", "throughput", "main"]


def _queued_desk(n: int, patience: bool, seed: int = 0):
    """A desk with one agent busy for a year and ``n`` customer processes created at time 0."""
    env = simpy.Environment()
    desk = ServiceDesk(
        env,
        "bench",
        1,
        Distribution("fixed", 365.0),
        Distribution("exponential", 365.0) if patience else None,
        np.random.default_rng(seed),
    )
    for i in range(n + 1):
        env.process(desk.serve(i))
    return env, desk


def bytes_per_waiting_process(n: int = 10_000, patience: bool = True) -> float:
    """Bytes allocated per waiting customer process, measured with tracemalloc.

    ``n + 1`` customers arrive at time 0 at a desk with one agent; the first is served (for a
    year), the other ``n`` wait. Returns (memory after they have all queued - memory before
    creating them) / n, which includes the SimPy process, generator frame, request event,
    patience timeout and ``|`` condition (when ``patience``), and the desk's records.
    """
    gc.collect()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        env = simpy.Environment()
        desk = ServiceDesk(
            env,
            "bench",
            1,
            Distribution("fixed", 365.0),
            Distribution("exponential", 365.0) if patience else None,
            np.random.default_rng(0),
        )
        env.process(desk.serve(-1))
        env.run(until=1e-9)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            env.process(desk.serve(i))
        env.run(until=2e-9)  # every process starts, requests and waits
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
        assert desk.queue_length == n, (desk.queue_length, n)
        return (after - before) / n
    finally:
        if started:
            tracemalloc.stop()


def queue_build_seconds(n: int = 10_000, sorted_queue: bool = False) -> float:
    """Wall time to let ``n`` customers join a queue (one busy agent, no patience)."""
    saved = _desk._DeskResource.PutQueue
    if sorted_queue:
        _desk._DeskResource.PutQueue = simpy.resources.resource.SortedQueue
    try:
        env, desk = _queued_desk(n, patience=False)
        t0 = time.perf_counter()
        env.run(until=1e-9)
        seconds = time.perf_counter() - t0
        assert desk.queue_length == n
        return seconds
    finally:
        _desk._DeskResource.PutQueue = saved


def throughput(
    n_requests: int = 200_000, agents: int = 10, rho: float = 0.9, patience: bool = False, seed: int = 0
) -> dict:
    """Requests per second of wall time through an M/M/c desk (6-minute chats, 12-minute patience)."""
    mu = 1.0 / (6 * MINUTE)
    lam = rho * agents * mu
    desk_seed, arrival_seed = np.random.SeedSequence(seed).spawn(2)
    arrivals_rng = np.random.default_rng(arrival_seed)
    env = simpy.Environment()
    desk = ServiceDesk(
        env,
        "chat",
        agents,
        Distribution("exponential", 1.0 / mu),
        Distribution("exponential", 12 * MINUTE) if patience else None,
        np.random.default_rng(desk_seed),
    )

    def arrivals():
        for i in range(n_requests):
            yield env.timeout(arrivals_rng.exponential(1.0 / lam))
            env.process(desk.serve(i))

    env.process(arrivals())
    t0 = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - t0
    s = desk.stats
    return {
        "requests": s.n_requests,
        "seconds": seconds,
        "requests_per_s": s.n_requests / seconds,
        "abandonment_rate": s.abandonment_rate(),
        "utilisation": s.utilisation(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200_000, help="requests per throughput run")
    ap.add_argument("--agents", type=int, default=10)
    ap.add_argument("--rho", type=float, default=0.9, help="offered load per agent")
    ap.add_argument("--repeats", type=int, default=3, help="throughput runs per case (median reported)")
    ap.add_argument("--waiting", type=int, default=10_000, help="queued customers for the memory measurement")
    ap.add_argument("--quick", action="store_true", help="small runs")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.repeats = 20_000, 1

    print(f"service desk benchmark: python {sys.version.split()[0]}, simpy {simpy.__version__}, numpy {np.__version__}")
    print(f"throughput (M/M/{args.agents}, rho {args.rho}, {args.requests:,} requests, median of {args.repeats}):")
    for patience in (False, True):
        runs = [throughput(args.requests, args.agents, args.rho, patience, seed=r) for r in range(args.repeats)]
        rate = statistics.median(r["requests_per_s"] for r in runs)
        extra = f", abandonment {runs[0]['abandonment_rate']:.3f}" if patience else ""
        print(
            f"  {'with' if patience else 'without'} patience: {rate:,.0f} requests/s "
            f"(utilisation {runs[0]['utilisation']:.3f}{extra})"
        )
    print(f"memory per waiting customer process ({args.waiting:,} queued, tracemalloc):")
    for patience in (False, True):
        b = bytes_per_waiting_process(args.waiting, patience)
        print(f"  {'with' if patience else 'without'} patience: {b:,.0f} bytes")
    print(f"time to queue {args.waiting:,} customers behind one busy agent:")
    fast = min(queue_build_seconds(args.waiting) for _ in range(3))
    slow = queue_build_seconds(args.waiting, sorted_queue=True)
    print(f"  two-deque put queue: {fast:.3f} s; simpy SortedQueue: {slow:.3f} s ({slow / fast:.0f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
