"""1e9 customers of the reference model: one process against a local Dask cluster of 2 workers.

The one-process run is ``simulate`` as ``jsim run`` calls it (numba on every core). The cluster
run is ``simulate(..., cluster=...)`` on ``connect(workers=2)``: the replication is split into
tasks of 64 customer chunks whose integer counts are summed on the workers
(:mod:`jsim.engine.distributed`), each worker with its share of numba threads. Both runs must be
bit-identical (checked). Reported: wall time of each (the cluster's start-up apart), peak
resident memory of the one process and of each worker process (``ru_maxrss``), and the
speed-up. Run from the repository root::

    python benchmarks/bench_distributed.py                    # 1e9 customers (minutes)
    python benchmarks/bench_distributed.py --customers 1e8    # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    import numpy as np

    from jsim.engine import simulate
    from jsim.engine.distributed import connect
    from jsim.runner import prepare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=float, default=1e9)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    n = int(args.customers)
    model = prepare(ROOT / "benchmarks" / "reference.toml", customers=n)[1]
    simulate(prepare(ROOT / "benchmarks" / "reference.toml", customers=1000)[1], seed=args.seed)  # numba's caches

    t0 = time.perf_counter()
    local = simulate(model, seed=args.seed, check_memory=False)
    local_s = time.perf_counter() - t0
    local_peak = _peak_mib()

    t0 = time.perf_counter()
    with connect(workers=args.workers) as cluster:
        startup_s = time.perf_counter() - t0
        cluster.client.run(lambda: simulate(prepare(ROOT / "benchmarks" / "reference.toml", customers=1000)[1]))
        t0 = time.perf_counter()
        remote = simulate(model, seed=args.seed, check_memory=False, cluster=cluster)
        remote_s = time.perf_counter() - t0
        worker_peaks = sorted(cluster.client.run(_peak_mib).values())
        threads = sorted(cluster.client.run(lambda: __import__("numba").get_num_threads()).values())
    identical = all(
        np.array_equal(getattr(local, a), getattr(remote, a)) for a in ("occupancy", "moves", "new_converted", "cost")
    )
    out = {
        "customers": n,
        "days": model.n_days,
        "cores": os.cpu_count(),
        "one_process_seconds": round(local_s, 2),
        "one_process_peak_mib": round(local_peak),
        "workers": args.workers,
        "worker_numba_threads": threads,
        "cluster_startup_seconds": round(startup_s, 2),
        "cluster_seconds": round(remote_s, 2),
        "worker_peak_mib": [round(p) for p in worker_peaks],
        "speedup": round(local_s / remote_s, 2),
        "customer_days_per_second_cluster": f"{n * model.n_days / remote_s:.3g}",
        "bit_identical": identical,
    }
    print(json.dumps(out, indent=2))
    if not identical:
        sys.exit("the cluster's result differs from the one process's")


if __name__ == "__main__":
    main()
