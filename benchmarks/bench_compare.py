"""What common random numbers buy ``jsim compare``: the paired interval against independent seeds.

For each what-if below, the variant and the baseline run R replications on the same seeds
(what ``jsim compare`` does) and, separately, the variant runs R replications on other seeds
(what copying the file, running it and diffing two ``summary.json`` files gives). The paired
difference's 95% interval (Student t over the R paired differences) is set against the interval
of the difference of two independent means (Welch). Their ratio is the variance reduction in
interval widths; its square is how many times more replications independent runs need for the
same interval.

Run: ``python benchmarks/bench_compare.py [--reps 20] [--customers N]``; prints one table.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from scipy import stats

from jsim.analysis.compare import compare_runs
from jsim.analysis.variants import Variant, run_variants

ROOT = Path(__file__).resolve().parents[1]
CASES = [
    (
        "webshop",
        "scenarios/webshop.toml",
        "email_newsletter engagement 0.4",
        "touchpoints.email_newsletter.engagement=0.4",
    ),
    (
        "webshop",
        "scenarios/webshop.toml",
        "checkout cart->lost 0.03",
        "touchpoints.checkout_payment.effects.cart->lost.p=0.03",
    ),
    (
        "support_understaffed",
        "scenarios/support_understaffed.toml",
        "3 chat agents",
        "touchpoints.support_chat.service.agents=3",
    ),
    (
        "reference",
        "benchmarks/reference.toml",
        "search considering->cart 0.07",
        "touchpoints.search.effects.considering->cart.p=0.07",
    ),
]
METRICS = ("new_customers", "revenue", "net_profit", "retained")


def welch_half_width(a: np.ndarray, b: np.ndarray) -> float:
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if va + vb > 0 else a.size + b.size - 2
    return float(stats.t.ppf(0.975, df) * math.sqrt(va + vb))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--customers", type=int, default=None)
    args = parser.parse_args()
    print(f"paired (common seeds) vs independent seeds, {args.reps} replications each, 95% intervals")
    print(f"{'scenario':<22}{'what-if':<34}{'metric':<15}{'difference':>12}{'paired ±':>11}{'indep. ±':>11}"
          f"{'ratio':>7}{'reps x':>8}")  # fmt: skip
    ratios = []
    for name, path, label, change in CASES:
        path = str(ROOT / path)
        t0 = time.perf_counter()
        paired = run_variants(
            [Variant("base", path), Variant("var", path, (change,))], reps=args.reps, seed=1, customers=args.customers
        )
        seconds = time.perf_counter() - t0
        other = run_variants([Variant("var", path, (change,))], reps=args.reps, seed=2, customers=args.customers)[0]
        cmp = compare_runs(paired)
        for metric in METRICS:
            row = next(r for r in cmp.table("var", "metrics") if r["metric"] == metric)
            paired_half = row["difference_high"] - row["difference"]
            indep_half = welch_half_width(other.values["metrics"][metric], paired[0].values["metrics"][metric])
            if paired_half == 0 and indep_half == 0:  # a metric the change cannot move (no revenue in the model)
                print(f"{name:<22}{label:<34}{metric:<15}{'0 (no noise either way)':>34}")
                continue
            ratio = indep_half / paired_half if paired_half > 0 else math.inf
            ratios.append(ratio)
            print(f"{name:<22}{label:<34}{metric:<15}{row['difference']:>12,.1f}{paired_half:>11,.1f}"
                  f"{indep_half:>11,.1f}{ratio:>7.1f}{ratio**2:>8.0f}")  # fmt: skip
        print(f"{'':<22}(compare of 2 versions x {args.reps} reps: {seconds:.2f} s)")
    median = float(np.median([r for r in ratios if math.isfinite(r)]))
    print(f"median interval ratio independent/paired: {median:.1f} (replications factor {median**2:.0f})")


if __name__ == "__main__":
    main()
