"""Day-resolution engine (fast) against the discrete-event engine (des), KPI by KPI.

For each bundled scenario (``scenarios/*.toml``, or the files given), both engines run R
replications at a small population, and each KPI gets the difference ``fast - des`` of the
replication means with a 95% Welch interval, and whether that interval covers 0:

* conversion rate, retention rate, purchases, revenue (:func:`jsim.metrics.rep_metrics`);
* per service touchpoint: abandonment rate and mean wait in hours
  (:func:`jsim.metrics.service_table`; both engines average the wait over all requests,
  served and abandoned).

Without service touchpoints the two engines implement the same model (see
``jsim/engine/des/``) and should agree in distribution: an interval that misses 0 there
is a bug, or one of the 5% of intervals that miss by chance (about one in twenty KPIs). With
service touchpoints the fast engine's day-resolution queue is an approximation of the DES's
continuous-time queue, and the differences measure it.

The two engines run on different root seeds (``--seed`` and ``--seed + 1``): the DES reuses
the fast engine's arrival and exposure streams, so equal seeds would make the samples
dependent, which Welch's interval does not allow for.

Run from the repository root::

    python experiments/dayres_vs_des.py                               # all bundled scenarios
    python experiments/dayres_vs_des.py --customers 5000 --reps 20 --days 60
    python experiments/dayres_vs_des.py scenarios/support_understaffed.toml --reps 30

Writes one CSV row per (scenario, KPI) to ``--out`` (default ``out/dayres_vs_des.csv``).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere without installing jsim
    sys.path.insert(0, str(ROOT))

import jsim  # noqa: E402
from jsim.errors import ScenarioError  # noqa: E402
from jsim.metrics import estimate, rep_metrics, service_table, t975  # noqa: E402

SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
OUT = ROOT / "out" / "dayres_vs_des.csv"
KPIS = ("conversion_rate", "retention_rate", "purchases", "revenue")
SERVICE_KPIS = ("abandonment_rate", "mean_wait_hours")
COLUMNS = (
    "scenario",
    "kpi",
    "fast_mean",
    "fast_sd",
    "fast_n",
    "des_mean",
    "des_sd",
    "des_n",
    "diff",
    "low",
    "high",
    "df",
    "covers_zero",
    "relative_diff",
)


def welch(a: dict, b: dict) -> dict:
    """``a - b`` with a 95% Welch interval, from two ``{mean, sd, n}`` summaries.

    ``low``/``high``/``df`` are None when either side has fewer than two values. With both
    standard deviations zero the interval is the point difference.
    """
    diff = a["mean"] - b["mean"]
    out = {"diff": diff, "low": None, "high": None, "df": None, "covers_zero": None}
    if a["sd"] is None or b["sd"] is None or a["n"] < 2 or b["n"] < 2:
        return out
    if not all(math.isfinite(v) for v in (a["mean"], b["mean"], a["sd"], b["sd"])):
        return out  # e.g. a rate with a zero denominator
    va, vb = a["sd"] ** 2 / a["n"], b["sd"] ** 2 / b["n"]
    se = math.sqrt(va + vb)
    if se == 0.0:
        df, half = float("inf"), 0.0
    else:
        df = (va + vb) ** 2 / (va**2 / (a["n"] - 1) + vb**2 / (b["n"] - 1))
        half = t975(max(1, int(math.floor(df)))) * se
    out.update(low=diff - half, high=diff + half, df=df, covers_zero=bool(diff - half <= 0.0 <= diff + half))
    return out


def kpi_summaries(result) -> dict[str, dict]:
    """KPI name -> ``{mean, sd, n}`` over replications (service KPIs named ``<service>.<kpi>``)."""
    out = {k: estimate(v).as_dict() for k, v in rep_metrics(result).items() if k in KPIS}
    for row in service_table(result):
        for k in SERVICE_KPIS:
            out[f"{row['service']}.{k}"] = row[k]
    return out


def compare(path, *, customers: int, days: int | None, reps: int, seed: int, log=print) -> list[dict]:
    """Rows (one per KPI) comparing the fast engine with the DES on scenario ``path`` (named by its file)."""
    model = jsim.compile_scenario(jsim.load_scenario(path), customers=customers, days=days)
    t0 = time.perf_counter()
    fast = kpi_summaries(jsim.simulate(model, seed=seed, reps=reps, engine="fast"))
    t1 = time.perf_counter()
    des = kpi_summaries(jsim.simulate(model, seed=seed + 1, reps=reps, engine="des"))
    t2 = time.perf_counter()
    name = Path(path).stem
    log(
        f"{name}: {model.n_customers:,} customers, {model.n_days} days, {reps} reps: "
        f"fast {t1 - t0:.1f} s, des {t2 - t1:.1f} s"
    )
    rows = []
    for kpi in fast:
        if kpi not in des:
            continue
        a, b = fast[kpi], des[kpi]
        w = welch(a, b)
        rel = w["diff"] / abs(b["mean"]) if math.isfinite(b["mean"]) and b["mean"] != 0.0 else None
        rows.append(
            {
                "scenario": name,
                "kpi": kpi,
                "fast_mean": a["mean"],
                "fast_sd": a["sd"],
                "fast_n": a["n"],
                "des_mean": b["mean"],
                "des_sd": b["sd"],
                "des_n": b["n"],
                **w,
                "relative_diff": rel,
            }
        )
    return rows


def _num(v, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def print_rows(rows: list[dict]) -> None:
    spec = {"conversion_rate": ".4f", "retention_rate": ".4f", "purchases": ",.1f", "revenue": ",.0f"}
    print(f"{'scenario':<22} {'KPI':<32} {'fast':>12} {'des':>12} {'fast - des [95% Welch]':<34} {'rel.':>7}  covers 0")
    for r in rows:
        s = spec.get(r["kpi"], ".4f")
        interval = _num(r["diff"], s)
        if r["low"] is not None:
            interval += f" [{_num(r['low'], s)}, {_num(r['high'], s)}]"
        cover = "-" if r["covers_zero"] is None else ("yes" if r["covers_zero"] else "NO")
        rel = "-" if r["relative_diff"] is None else f"{100 * r['relative_diff']:+.1f}%"
        print(
            f"{r['scenario']:<22} {r['kpi']:<32} {_num(r['fast_mean'], s):>12} {_num(r['des_mean'], s):>12} "
            f"{interval:<34} {rel:>7}  {cover}"
        )


def write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow(["" if r[c] is None else (f"{r[c]:.10g}" if isinstance(r[c], float) else r[c]) for c in COLUMNS])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument("scenarios", nargs="*", type=Path, help="scenario files (default: scenarios/*.toml)")
    ap.add_argument("--customers", type=int, default=5000, help="population.customers for every scenario")
    ap.add_argument("--days", type=int, default=None, help="override population.days (shorter runs)")
    ap.add_argument("--reps", type=int, default=20, help="replications per engine")
    ap.add_argument("--seed", type=int, default=1, help="root seed of the fast engine (the DES uses seed + 1)")
    ap.add_argument("--out", type=Path, default=OUT, help="CSV file")
    args = ap.parse_args(argv)
    if args.reps < 2:
        print("--reps must be at least 2 for an interval", file=sys.stderr)
        return 2
    rows = []
    for path in args.scenarios or SCENARIOS:
        try:
            rows += compare(
                path,
                customers=args.customers,
                days=args.days,
                reps=args.reps,
                seed=args.seed,
                log=lambda s: print(s, file=sys.stderr),
            )
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            return 2
    print_rows(rows)
    write_csv(rows, args.out)
    missed = [r for r in rows if r["covers_zero"] is False]
    print(
        f"\n{len(missed)} of {len(rows)} intervals miss 0 (about {0.05 * len(rows):.1f} expected by chance if the "
        f"engines agreed everywhere); wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
