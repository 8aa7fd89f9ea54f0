"""Throughput of this checkout against an earlier commit, measured in one run (a regression check).

Checks the commit out into a temporary git worktree, then alternates the two versions (A B A B
...) on the same scenarios, each run a fresh process that compiles (or loads its numba cache),
warms up, and times whole simulations. Prints each version's median customer-days per second
and the ratio new / old per round, so a drift of the machine hits both alike. Also checks that
both versions give bit-identical occupancy for the seed (the restructuring promise).

    python benchmarks/bench_versions.py --against c1873dc
    python benchmarks/bench_versions.py --against HEAD~5 --rounds 5 --scenario scenarios/webshop.toml:1000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WORKER = r"""
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
import jsim
scenario, customers, repeats, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sc = jsim.load_scenario(scenario)
jsim.simulate(jsim.compile_scenario(sc, customers=2000), seed=seed)  # JIT or cache load
model = jsim.compile_scenario(sc, customers=customers)
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    res = jsim.simulate(model, seed=seed)
    times.append(time.perf_counter() - t0)
digest = hashlib.sha256(res.occupancy.tobytes()).hexdigest()[:16]
print(json.dumps({"times": times, "customer_days": customers * model.n_days, "occupancy": digest}))
"""


def _run(tree: Path, scenario: str, customers: int, repeats: int, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(tree), scenario, str(customers), str(repeats), str(seed)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="git commit (or ref) to compare with")
    ap.add_argument(
        "--scenario",
        action="append",
        metavar="PATH:CUSTOMERS",
        help="scenario and population (repeatable); default the reference model at 1e7 and the "
        "web shop at 1e6 customers",
    )
    ap.add_argument("--rounds", type=int, default=3, help="A/B rounds (each a fresh process per version)")
    ap.add_argument("--repeats", type=int, default=3, help="timed simulations per process (median taken)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    cases = args.scenario or ["benchmarks/reference.toml:10000000", "scenarios/webshop.toml:1000000"]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="jsim-bench-") as tmp:
        old = Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), commit], cwd=ROOT, check=True)
        try:
            for case in cases:
                scenario, customers = case.rsplit(":", 1)
                n = int(float(customers))
                print(f"\n{scenario}, {n:,} customers: median customer-days/s (old = {commit}, new = this checkout)")
                ratios, digests = [], set()
                for r in range(args.rounds):
                    res = {
                        label: _run(tree, scenario, n, args.repeats, args.seed)
                        for label, tree in (("old", old), ("new", ROOT))
                    }
                    speed = {k: v["customer_days"] / statistics.median(v["times"]) for k, v in res.items()}
                    ratios.append(speed["new"] / speed["old"])
                    digests |= {v["occupancy"] for v in res.values()}
                    print(f"  round {r + 1}: old {speed['old']:.3g}  new {speed['new']:.3g}  new/old {ratios[-1]:.3f}")
                same = "bit-identical occupancy" if len(digests) == 1 else "occupancy DIFFERS between versions"
                print(
                    f"  median new/old {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f}); "
                    f"{same}"
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
