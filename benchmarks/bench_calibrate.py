"""Wall time and simulator calls of ``jsim calibrate``: a 3-parameter point fit and the ABC-SMC posterior.

The observed series are the web shop's mean-field ``daily.csv`` with three fields set to known
values; the fit starts from ranges around them. The point fit (Optuna + polish, Laplace
intervals, identifiability slices) runs on the mean-field engine (goal: under 30 s); the ABC
posterior (pyabc, after the point fit) on the same data. Each line reports the wall time,
simulator calls, the estimates and whether the 95% intervals cover the truth.

Run: ``python benchmarks/bench_calibrate.py [--trials 60] [--population 300] [--no-abc]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from jsim.analysis.calibrate import run_calibration, setup_calibration
from jsim.runner import run_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "webshop.toml")
TRUTH = {
    "transitions.aware->considering.p": (0.008, 0.002, 0.02),
    "transitions.considering->cart.p": (0.007, 0.001, 0.02),
    "touchpoints.search_ads.engagement": (0.45, 0.1, 0.9),
}


def _line(label: str, fit, seconds: float) -> str:
    cover = all(fit.parameters[k]["low"] <= v <= fit.parameters[k]["high"] for k, (v, _, _) in TRUTH.items())
    est = ", ".join(f"{k.split('.')[-2] if k.endswith('.p') else k.split('.')[-1]}={fit.parameters[k]['estimate']:.5g}"
                    for k in TRUTH)  # fmt: skip
    return f"{label:<28} {seconds:7.1f} s  {fit.simulations:6,} calls  covers truth: {cover}  {est}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--population", type=int, default=None)
    ap.add_argument("--generations", type=int, default=None)
    ap.add_argument("--no-abc", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "obs"
        run_scenario(SCENARIO, engine="mean-field", overrides=[f"{k}={v}" for k, (v, _, _) in TRUTH.items()], out=out)
        fits = [f"{k}={lo}:{hi}" for k, (_, lo, hi) in TRUTH.items()]
        problem = setup_calibration(SCENARIO, out / "daily.csv", fits)
        t0 = time.perf_counter()
        fit = run_calibration(problem, trials=args.trials, engine="mean-field")
        print(_line("point fit (optuna, mean-field)", fit, time.perf_counter() - t0))
        if not args.no_abc:
            t0 = time.perf_counter()
            post = run_calibration(
                problem, method="abc", trials=args.trials, population=args.population, generations=args.generations
            )
            print(_line(f"ABC-SMC ({post.population} x {post.generations} gen.)", post, time.perf_counter() - t0))
            for line in [n for n in post.notes if n.startswith("ABC")] + [w for w in post.warnings if "ABC" in w]:
                print(f"  {line}")


if __name__ == "__main__":
    main()
