"""``optimise --batch``: a fast-engine search and polish on a local Dask cluster, ``batch=1`` against ``batch=K``.

One cluster of ``--workers`` processes serves every run (its start-up apart). Each run is
:func:`jsim.optimise.optimise_allocation` on a fresh
:class:`~jsim.optimise.objectives.ScenarioObjective` (``scenarios/webshop.toml``, engine
``fast``) with ``cluster=`` set, the same ``--trials`` and ``--max-evaluations``: what
``jsim optimise --workers N [--batch K]`` runs between the flags and the report. The runs
alternate (batch 1, batch K, batch 1, ...) and the best of ``--repeats`` is reported for each,
since other work on the machine only ever slows a run down. Each setting must give the same
answer on every repeat (checked). The two settings search differently (K trials are asked before
any is told), so they may promote a different number of trials to ``reps * promote``
replications: the simulations each ran are reported with the times. Run from the repository root::

    python benchmarks/bench_optimise_batch.py                       # --workers 2 --batch 2
    python benchmarks/bench_optimise_batch.py --reps 2 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    import optuna

    from jsim.engine.distributed import connect
    from jsim.optimise import optimise_allocation
    from jsim.optimise.objectives import ScenarioObjective
    from jsim.scenario import load_scenario

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--promote", type=int, default=4, help="ScenarioObjective's promote (1: off)")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--max-evaluations", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    scenario = load_scenario(ROOT / "scenarios" / "webshop.toml")

    def objective(cluster):
        obj = ScenarioObjective(
            scenario,
            20_000.0,
            engine="fast",
            reps=args.reps,
            customers=args.customers,
            days=args.days,
            promote=args.promote,
        )
        obj.cluster = cluster
        return obj

    def run(cluster, batch):
        obj = objective(cluster)
        t0 = time.perf_counter()
        result = optimise_allocation(
            obj,
            obj.budget,
            names=list(obj.names),
            n_trials=args.trials,
            max_evaluations=args.max_evaluations,
            seed=args.seed,
            batch=batch,
        )
        seconds = time.perf_counter() - t0
        answer = (result.allocation, result.value, [h[2] for h in result.history])
        return seconds, answer, result.n_evaluations, {"simulations": obj.n_simulations, "promoted": obj.n_promoted}

    t0 = time.perf_counter()
    with connect(workers=args.workers) as cluster:
        startup = time.perf_counter() - t0
        cluster.client.wait_for_workers(args.workers)
        objective(cluster)(objective(None).equal_allocation())  # numba's caches on the workers
        times = {1: [], args.batch: []}
        answers = {1: set(), args.batch: set()}
        counts = {}
        for _ in range(args.repeats):
            for batch in (1, args.batch):
                seconds, answer, n_eval, n_sim = run(cluster, batch)
                times[batch].append(seconds)
                answers[batch].add(repr(answer))
                counts[batch] = {"evaluations": n_eval, **n_sim}
    best_1, best_k = min(times[1]), min(times[args.batch])
    out = {
        "cores": os.cpu_count(),
        "workers": args.workers,
        "customers": args.customers,
        "days": args.days,
        "reps": args.reps,
        "promote": args.promote,
        "trials": args.trials,
        "max_evaluations": args.max_evaluations,
        "cluster_startup_seconds": round(startup, 2),
        "batch_1_seconds": [round(s, 2) for s in times[1]],
        f"batch_{args.batch}_seconds": [round(s, 2) for s in times[args.batch]],
        "batch_1_counts": counts[1],
        f"batch_{args.batch}_counts": counts[args.batch],
        "best_of": args.repeats,
        "speedup_best": round(best_1 / best_k, 2),
        "same_answer_every_repeat": all(len(a) == 1 for a in answers.values()),
    }
    print(json.dumps(out, indent=2))
    if not out["same_answer_every_repeat"]:
        sys.exit("a setting gave another answer on a repeat")


if __name__ == "__main__":
    main()
