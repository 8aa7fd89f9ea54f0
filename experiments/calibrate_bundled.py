"""Check the two calibrated bundled scenarios against published targets, in one table.

* ``scenarios/webshop.toml``: cart abandonment, visitor-to-order, email open rate,
  repeat-customer rate and repeat share of orders (definitions and sources in
  ``experiments/calibrate_webshop.py``, which computes them);
* ``scenarios/saas.toml``: monthly churn of paying subscribers, ``1 - (1 - h)^30`` where ``h``
  = churn moves out of the paying stages / paying customer-days (the renewal day included, as
  the scenario's header derives its hazard).

Each line prints the target, its published range and source, the measured value and PASS or
FAIL. With the fast engine every value has a 95% interval from its pooled counts: Wilson for
the web shop's proportions, and for churn the exact Poisson (Garwood) interval of the churn
moves over the customer-days, carried through the monotone ``1 - (1 - h)^30``. The mean-field
engine gives expected values (no interval).

Run from the repository root::

    python experiments/calibrate_bundled.py                       # fast engine, seed 1, 1 rep
    python experiments/calibrate_bundled.py --engine mean-field   # expected values
    python experiments/calibrate_bundled.py --reps 4              # pooled over 4 replications

Exit status 0 when every target passes, 1 otherwise, 2 for an invalid scenario.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for path in (ROOT, HERE):  # run as a script from anywhere without installing jsim
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import calibrate_webshop as webshop  # noqa: E402
from scipy import stats  # noqa: E402

import jsim  # noqa: E402
from jsim.errors import ScenarioError  # noqa: E402

SAAS = ROOT / "scenarios" / "saas.toml"
#: published range of the SaaS scenario's monthly churn and what it means
SAAS_TARGET = (0.03, 0.07, "1 - (1 - churn moves / paying customer-days)^30")
# Recurly's churn study: average monthly churn 5% for B2B subscriptions; small-business SaaS
# on monthly plans commonly quoted at 3-7% a month (statsforstartups.com, joysubscription.com)
SAAS_SOURCE = "Recurly B2B ~5%, SMB 3-7%"


def churn_counts(result) -> tuple[float, float]:
    """(churn moves, paying customer-days) of a SaaS result, summed over days and replications.

    Paying stages are the converted, non-absorbing ones; customer-days count the customers at
    the start of days 1..T.
    """
    model = result.model
    paying = [i for i, n in enumerate(model.stage_names) if model.is_converted[i] and not model.is_absorbing[i]]
    churned = model.stage_index["churned"]
    moves = float(result.flows[:, :, paying, churned].sum())
    days = float(result.occupancy_start[:, 1:][..., paying].sum())
    return moves, days


def monthly(h: float) -> float:
    """Monthly churn of a daily hazard ``h``: ``1 - (1 - h)^30``."""
    return 1.0 - (1.0 - h) ** 30


def garwood(k: float, exposure: float, level: float = 0.95) -> tuple[float, float]:
    """Exact Poisson interval of the rate ``k / exposure``."""
    a = 1 - level
    lo = stats.chi2.ppf(a / 2, 2 * k) / 2 if k > 0 else 0.0
    hi = stats.chi2.ppf(1 - a / 2, 2 * k + 2) / 2
    return lo / exposure, hi / exposure


def checks(engine: str, seed: int, reps: int, customers: int | None) -> list[dict]:
    """Every target: scenario, name, value, interval (or None), range, source, meaning, pass."""
    stochastic = engine != "mean-field"
    rows = []
    model = jsim.compile_scenario(jsim.load_scenario(webshop.SCENARIO), customers=customers)
    res = jsim.simulate(model, seed=seed, engine=engine, reps=reps)
    for name, (s, n) in webshop.kpi_counts(res).items():
        low, high, meaning = webshop.TARGETS[name]
        value = s / n if n else float("nan")
        interval = webshop.wilson(s, n) if stochastic else None
        rows.append(
            dict(
                scenario="webshop",
                name=name,
                value=value,
                interval=interval,
                low=low,
                high=high,
                source=webshop.SOURCES[name],
                meaning=meaning,
            )
        )
    model = jsim.compile_scenario(jsim.load_scenario(SAAS), customers=customers)
    res = jsim.simulate(model, seed=seed, engine=engine, reps=reps)
    k, days = churn_counts(res)
    low, high, meaning = SAAS_TARGET
    interval = tuple(monthly(h) for h in garwood(k, days)) if stochastic else None
    rows.append(
        dict(
            scenario="saas",
            name="monthly_churn",
            value=monthly(k / days),
            interval=interval,
            low=low,
            high=high,
            source=SAAS_SOURCE,
            meaning=meaning,
        )
    )
    for row in rows:
        row["ok"] = bool(row["low"] <= row["value"] <= row["high"])
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=None, help="override population.customers of both scenarios")
    ap.add_argument("--seed", type=int, default=1, help="root random seed (default 1)")
    ap.add_argument("--engine", choices=["fast", "mean-field"], default="fast", help="simulation engine (default fast)")
    ap.add_argument("--reps", type=int, default=1, help="replications for the fast engine (default 1)")
    args = ap.parse_args(argv)
    try:
        rows = checks(args.engine, args.seed, args.reps, args.customers)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    stochastic = args.engine != "mean-field"
    print(f"engine {args.engine}" + (f", {args.reps} rep(s), seed {args.seed}" if stochastic else " (expected values)"))
    print()
    print(f"{'scenario':<9} {'target':<21} {'published':<13} {'value':>7}  {'95% interval':<17} check  source")
    for r in rows:
        iv = f"[{r['interval'][0]:.4f}, {r['interval'][1]:.4f}]" if r["interval"] else "(exact mean)"
        rng = f"[{r['low']:.2f}, {r['high']:.2f}]"
        print(
            f"{r['scenario']:<9} {r['name']:<21} {rng:<13} {r['value']:>7.4f}  "
            f"{iv:<17} {'PASS' if r['ok'] else 'FAIL':<5}  {r['source']}"
        )
    print()
    for r in rows:
        print(f"  {r['name']}: {r['meaning']}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
