"""Start-up: `jsim run SCENARIO --reps 3` end to end, warm and cold, for every bundled scenario.

Each measurement is a fresh process (``python -m jsim run SCENARIO --reps 3``, the summary table
written to a pipe), timed from launch to exit. Warm: numba's cache is present (several runs; min,
median and max are printed). Cold: numba's cache is empty, so the first run compiles every kernel
it needs. The numba cache lives in a temporary ``NUMBA_CACHE_DIR`` per scenario and version: the
cold run starts with it empty (what removing ``jsim/**/*.nbi`` and ``*.nbc`` does, without
touching the checkout's caches or meeting a stale kernel whose callee changed in another file),
and the warm runs then load what it compiled. Also per run: CPU time (user + system) and peak
memory (``ru_maxrss``) of the child, from ``os.wait4``.

Baselines measured in the same run, so the figures can be read as ratios when the machine is
busy: ``python -c "import numpy"``, ``python -c "import numba"`` and a script calling one cached
``@njit`` function (what any numba program pays: numba's CPU target set-up), all warm; and with
``--against COMMIT`` that commit checked out into a temporary git worktree and run alternately
(old, new, old, new, ...) on the same scenarios.

    python benchmarks/bench_startup.py                        # every bundled scenario, about 6 min
    python benchmarks/bench_startup.py --against f9c6c22       # ... and the same for an earlier commit
    python benchmarks/bench_startup.py --scenario scenarios/webshop.toml --no-cold --repeats 9
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _bundled() -> list[str]:
    """The scenarios `jsim run` accepts at their default size: scenarios/*.toml and scenarios/teaching/*.toml."""
    found = sorted((ROOT / "scenarios").glob("*.toml")) + sorted((ROOT / "scenarios" / "teaching").glob("*.toml"))
    return [str(p.relative_to(ROOT)) for p in found]


#: whether the children may write Python's bytecode caches (``__pycache__/*.pyc``), as a user's
#: Python does; ``--no-pyc`` keeps ``PYTHONDONTWRITEBYTECODE=1`` (every module compiled from source)
WRITE_PYC = True


def _measure(argv: list[str], tree: Path, cache: str | None) -> tuple[float, float, float]:
    """One child process: ``(wall s, cpu s, peak memory MiB)``; raises if it fails."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    if WRITE_PYC:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = cache
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a chatty child cannot block on a full pipe
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(argv)} failed in {tree} (exit {proc.returncode}):\n{err.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _run_argv(scenario: str) -> list[str]:
    return [sys.executable, "-m", "jsim", "run", scenario, "--reps", "3"]


def _spread(values: list[float]) -> str:
    return f"{min(values):6.2f} {statistics.median(values):6.2f} {max(values):6.2f}"


#: the least any program that loads one cached numba function pays: numpy, numba, numba's CPU target set-up
FLOOR = """
from numba import njit

@njit(cache=True)
def one(x):
    return x + 1

one(1)
"""

#: the same with numba's BLAS probe kept from importing scipy.linalg, as jsim.kernels._target does
FLOOR_NO_LINALG = (
    """
import sys

sys.modules["scipy.linalg"] = None
import numba.np.arraymath

del sys.modules["scipy.linalg"]
"""
    + FLOOR
)


def _baselines(repeats: int, tmp: str) -> None:
    print("baselines, warm (s; min median max of wall, min cpu):")
    floor, floor_no_linalg = Path(tmp) / "numba_floor.py", Path(tmp) / "numba_floor_no_linalg.py"
    floor.write_text(FLOOR)
    floor_no_linalg.write_text(FLOOR_NO_LINALG)
    for script in (floor, floor_no_linalg):
        _measure([sys.executable, str(script)], ROOT, str(Path(tmp) / "cache-floor"))  # compiles once
    for label, argv in (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import numpy", [sys.executable, "-c", "import numpy"]),
        ("import numba", [sys.executable, "-c", "import numba"]),
        ("one cached njit", [sys.executable, str(floor)]),
        ("... no linalg", [sys.executable, str(floor_no_linalg)]),
    ):
        runs = [_measure(argv, ROOT, str(Path(tmp) / "cache-floor")) for _ in range(repeats)]
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        print(f"  {label:16s} {_spread(walls)}   cpu {min(cpus):5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", action="append", help="scenario file (repeatable); default every bundled one")
    ap.add_argument("--repeats", type=int, default=5, help="warm runs per scenario and version (default 5)")
    ap.add_argument("--no-cold", action="store_true", help="skip the cold runs (each compiles for 20-40 s)")
    ap.add_argument("--against", help="git commit (or ref) to measure alongside this checkout")
    ap.add_argument(
        "--no-pyc",
        action="store_true",
        help="set PYTHONDONTWRITEBYTECODE=1: every module compiled from source each run",
    )
    args = ap.parse_args()
    global WRITE_PYC
    WRITE_PYC = not args.no_pyc
    scenarios = args.scenario or _bundled()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f} at start, "
        f"bytecode caches {'written and used' if WRITE_PYC else 'off (PYTHONDONTWRITEBYTECODE=1)'}"
    )
    with tempfile.TemporaryDirectory(prefix="jsim-startup-") as tmp:
        _baselines(args.repeats, tmp)
        trees = {"new": ROOT}
        if args.against:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
            trees = {f"old {commit}": Path(tmp) / "old", "new": ROOT}
            subprocess.run(
                ["git", "worktree", "add", "--detach", "-q", str(trees[f"old {commit}"]), commit], cwd=ROOT, check=True
            )
        try:
            print(
                "\njsim run SCENARIO --reps 3, end to end (s). warm: min median max wall, min cpu; "
                "cold: one run, empty numba cache; peak memory of a warm run (MiB)"
            )
            print(f"  {'scenario':42s} {'version':12s} {'warm wall':>20s} {'cpu':>6s} {'cold':>7s} {'MiB':>5s}")
            for scenario in scenarios:
                caches = {label: str(Path(tmp) / f"cache-{i}-{Path(scenario).stem}") for i, label in enumerate(trees)}
                cold = {}
                for label, tree in trees.items():  # the cold run fills the scenario's cache for the warm runs
                    if args.no_cold:
                        _measure(_run_argv(scenario), tree, caches[label])
                    else:
                        cold[label] = _measure(_run_argv(scenario), tree, caches[label])[0]
                warm = {label: [] for label in trees}
                for _ in range(args.repeats):  # versions alternate, so a drift of the machine hits both alike
                    for label, tree in trees.items():
                        warm[label].append(_measure(_run_argv(scenario), tree, caches[label]))
                for label in trees:
                    walls, cpus, rss = ([r[k] for r in warm[label]] for k in range(3))
                    cold_text = f"{cold[label]:7.2f}" if label in cold else f"{'-':>7s}"
                    print(f"  {scenario:42s} {label:12s} {_spread(walls)} {min(cpus):6.2f} {cold_text} {max(rss):5.0f}")
                if len(trees) == 2:
                    old, new = (min(r[0] for r in warm[label]) for label in trees)
                    print(f"  {'':42s} {'new / old':12s} {new / old:6.2f} (min wall)")
        finally:
            if args.against:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(trees[f"old {commit}"])], cwd=ROOT, check=False
                )


if __name__ == "__main__":
    main()
