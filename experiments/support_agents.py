"""What is one more live-chat agent worth, and what does a checkout failure rate cost?

Two sweeps over a scenario with a capacity-limited service touchpoint (by default
``scenarios/support_understaffed.toml``):

* **Agents.** For each number of agents, the service touchpoint's ``agents`` is set in the
  parsed scenario and its capacity events are dropped (a clean sweep: the same staffing on
  every day). Each point reports conversion rate, retention rate and gross profit with 95%
  intervals over replications (:func:`jsim.analysis.summarise`), and the service's
  abandonment rate and mean wait.
* **Checkout failure rate.** For each rate, the ``cart -> lost`` effect of the checkout
  touchpoint is set to it (the scenario as written otherwise, capacity events included).

Between neighbouring points the script prints the *marginal value*: the change in gross
profit over the horizon per added agent (and per agent-day: divided by the horizon's days,
since one more agent on duty every day adds that many agent-days), or per added percentage
point of failure rate. Replication r of every point runs on the same seed (common random
numbers), so each difference gets a 95% t-interval from the R per-replication differences.
The deterministic ``mean-field`` engine gives point values without intervals.

Run from the repository root::

    python experiments/support_agents.py                              # fast engine, 20 reps
    python experiments/support_agents.py --engine mean-field
    python experiments/support_agents.py --engine des --reps 10
    python experiments/support_agents.py --agents 1..8 --failure-rates 0,0.05,0.1,0.2 --out out/support_agents

Writes ``agents.csv``, ``failure_rate.csv``, ``agents.png`` and ``failure_rate.png`` to
``--out`` (default ``out/support_agents/``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere without installing jsim
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import jsim  # noqa: E402
from jsim.analysis import summarise  # noqa: E402
from jsim.errors import ScenarioError  # noqa: E402
from jsim.metrics import estimate, rep_metrics  # noqa: E402
from jsim.scenario import parse_scenario  # noqa: E402

SCENARIO = ROOT / "scenarios" / "support_understaffed.toml"
OUT = ROOT / "out" / "support_agents"
KPIS = ("conversion_rate", "retention_rate", "gross_profit")
SERVICE_KPIS = ("abandonment_rate", "mean_wait_hours", "requests")


# -- scenario edits (on the parsed TOML/YAML dict) ---------------------------------------------


def read_scenario_dict(path) -> dict:
    """The scenario file as plain data (before validation), so that it can be edited."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        return tomllib.loads(path.read_text(encoding="utf-8"))
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def service_names(data: dict) -> list[str]:
    """Names of the touchpoints that have a service block."""
    return [tp["name"] for tp in data.get("touchpoints", []) if "service" in tp]


def _touchpoint(data: dict, name: str) -> dict:
    for tp in data.get("touchpoints", []):
        if tp["name"] == name:
            return tp
    raise KeyError(f"no touchpoint named '{name}' (touchpoints: {[tp['name'] for tp in data.get('touchpoints', [])]})")


def with_agents(data: dict, agents: int, service: str) -> dict:
    """A copy of ``data`` with ``agents`` on the service every day (its capacity events dropped)."""
    out = copy.deepcopy(data)
    tp = _touchpoint(out, service)
    if "service" not in tp:
        raise KeyError(f"touchpoint '{service}' has no service block")
    tp["service"]["agents"] = int(agents)
    out["events"] = [
        ev for ev in out.get("events", []) if not (ev.get("kind") == "capacity" and ev.get("touchpoint") == service)
    ]
    return out


def with_failure_rate(
    data: dict, rate: float, touchpoint: str = "checkout", from_: str = "cart", to: str = "lost"
) -> dict:
    """A copy of ``data`` whose ``touchpoint`` effect ``from_ -> to`` has probability ``rate`` (added if absent)."""
    out = copy.deepcopy(data)
    tp = _touchpoint(out, touchpoint)
    effects = tp.setdefault("effects", [])
    for e in effects:
        if e["from"] == from_ and e["to"] == to:
            e["p"] = float(rate)
            break
    else:
        effects.append({"from": from_, "to": to, "p": float(rate)})
    return out


# -- running ------------------------------------------------------------------------------------


def run_point(data: dict, *, engine: str, reps: int, seed: int, customers: int | None, days: int | None) -> dict:
    """Simulate one edited scenario: summary estimates, per-replication KPIs and the service row."""
    model = jsim.compile_scenario(parse_scenario(data), customers=customers, days=days)
    result = jsim.simulate(model, seed=seed, reps=reps, engine=engine)
    summary = summarise(result)
    return {
        "days": model.n_days,
        "estimates": {k: summary["metrics"][k] for k in KPIS},
        "per_rep": {k: v for k, v in rep_metrics(result).items() if k in KPIS},
        "services": {row["service"]: row for row in summary["services"]},
    }


def sweep(
    points, make, *, label: str, engine: str, reps: int, seed: int, customers, days, service: str | None, log=print
) -> list[dict]:
    """Run ``make(x)`` for each x in ``points``; one row per valid point (invalid ones are reported and skipped)."""
    rows = []
    for x in points:
        t0 = time.perf_counter()
        try:
            res = run_point(make(x), engine=engine, reps=reps, seed=seed, customers=customers, days=days)
        except ScenarioError as exc:
            log(f"  {label} = {x}: skipped, the scenario is invalid there:\n{exc}")
            continue
        res["x"] = x
        if service is not None and service in res["services"]:
            res["service"] = {k: res["services"][service][k] for k in SERVICE_KPIS}
        rows.append(res)
        log(f"  {label} = {x}: {time.perf_counter() - t0:.1f} s")
    return rows


def marginal(rows: list[dict], per: float = 1.0, key: str = "gross_profit") -> list[dict]:
    """Differences of ``key`` between neighbouring rows, per ``per`` units of x.

    Each difference is estimated from the per-replication differences (common seeds), with a
    95% t-interval; ``per_unit`` divides it by the step in x over ``per``.
    """
    out = []
    for a, b in zip(rows, rows[1:]):
        diff = np.asarray(b["per_rep"][key], dtype=np.float64) - np.asarray(a["per_rep"][key], dtype=np.float64)
        step = (b["x"] - a["x"]) / per
        est = estimate(diff)
        unit = estimate(diff / step)
        out.append({"from": a["x"], "to": b["x"], "delta": est.as_dict(), "per_unit": unit.as_dict()})
    return out


# -- plotting: plain data, then drawing -----------------------------------------------------------


class SweepInfo(NamedTuple):
    """Plain data behind a sweep plot.

    x : (n,) swept values; x_label ; panels : tuple of (title, y_label, scale, mean (n,), low (n,)
    or None, high (n,) or None), one per KPI (``scale`` multiplies the values for display).
    """

    title: str
    x: np.ndarray
    x_label: str
    panels: tuple


_PANELS = (
    ("conversion_rate", "conversion rate", "% of prospects", 100.0),
    ("retention_rate", "retention rate", "% of converted", 100.0),
    ("gross_profit", "gross profit", "thousand {cur}", 1e-3),
)


def get_sweep_info(rows: list[dict], x_label: str, title: str, currency: str = "EUR") -> SweepInfo:
    """Data for :func:`plot_sweep` from the rows of :func:`sweep`."""
    x = np.array([r["x"] for r in rows], dtype=np.float64)
    panels = []
    for key, name, unit, scale in _PANELS:
        mean = np.array([r["estimates"][key]["mean"] for r in rows], dtype=np.float64)
        lows = [r["estimates"][key]["low"] for r in rows]
        highs = [r["estimates"][key]["high"] for r in rows]
        low = high = None
        if all(v is not None for v in lows + highs):
            low, high = np.array(lows, dtype=np.float64), np.array(highs, dtype=np.float64)
        panels.append((name, unit.format(cur=currency), scale, mean, low, high))
    return SweepInfo(title, x, x_label, tuple(panels))


def plot_sweep(info: SweepInfo, path) -> None:
    """Draw one panel per KPI against the swept value (95% error bars when there are replications)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(info.panels), figsize=(4.2 * len(info.panels), 3.8))
    for ax, (name, unit, scale, mean, low, high) in zip(np.atleast_1d(axes), info.panels):
        yerr = None
        if low is not None:
            yerr = np.vstack([mean - low, high - mean]) * scale
        ax.errorbar(info.x, mean * scale, yerr=yerr, marker="o", ms=4, capsize=3, lw=1.5, color="C0")
        ax.set_title(name)
        ax.set_ylabel(unit)
        ax.set_xlabel(info.x_label)
        ax.grid(alpha=0.3)
    fig.suptitle(info.title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- output --------------------------------------------------------------------------------------


def _fmt(est: dict, spec: str, scale: float = 1.0) -> str:
    m = format(est["mean"] * scale, spec)
    if est.get("low") is None:
        return m
    return f"{m} [{format(est['low'] * scale, spec)}, {format(est['high'] * scale, spec)}]"


def print_sweep(rows, marg, *, x_name: str, unit_name: str, days: int, agent_days: bool, currency: str) -> None:
    """The sweep table, then the marginal-value table."""
    has_service = any("service" in r for r in rows)
    head = f"{x_name:>8}  {'conversion %':<24} {'retention %':<24} {'gross profit ' + currency:<30}"
    if has_service:
        head += f" {'abandoned %':>11} {'wait h':>7}"
    print(head)
    for r in rows:
        e = r["estimates"]
        line = (
            f"{r['x']:>8g}  {_fmt(e['conversion_rate'], '.2f', 100):<24} {_fmt(e['retention_rate'], '.2f', 100):<24} "
            f"{_fmt(e['gross_profit'], ',.0f'):<30}"
        )
        if has_service and "service" in r:
            s = r["service"]
            line += f" {100 * s['abandonment_rate']['mean']:>11.1f} {s['mean_wait_hours']['mean']:>7.2f}"
        print(line)
    if not marg:
        return
    print()
    head = f"{'step':<14} {'Δ gross profit ' + currency:<30} {'per ' + unit_name:<30}"
    if agent_days:
        head += f" {'per agent-day':<24}"
    print(head)
    for d in marg:
        step = format(d["from"], "g") + " -> " + format(d["to"], "g")
        line = f"{step:<14} {_fmt(d['delta'], ',.0f'):<30} {_fmt(d['per_unit'], ',.0f'):<30}"
        if agent_days:
            line += f" {_fmt(d['per_unit'], ',.1f', 1.0 / days):<24}"
        print(line)


def write_csv(rows, marg, path, x_name: str) -> None:
    """One line per point: x, each KPI's mean/low/high, service KPIs, and the step to the next point."""
    cols = [x_name]
    for k in KPIS:
        cols += [f"{k}", f"{k}_low", f"{k}_high"]
    cols += [f"service_{k}" for k in SERVICE_KPIS]
    cols += ["delta_gross_profit_to_next", "delta_low", "delta_high", "per_unit", "per_unit_low", "per_unit_high"]
    by_from = {d["from"]: d for d in marg}
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            line = [r["x"]]
            for k in KPIS:
                e = r["estimates"][k]
                line += [e["mean"], e["low"], e["high"]]
            line += [r["service"][k]["mean"] if "service" in r else None for k in SERVICE_KPIS]
            d = by_from.get(r["x"])
            line += (
                [
                    d["delta"]["mean"],
                    d["delta"]["low"],
                    d["delta"]["high"],
                    d["per_unit"]["mean"],
                    d["per_unit"]["low"],
                    d["per_unit"]["high"],
                ]
                if d
                else [None] * 6
            )
            w.writerow(["" if v is None else (f"{v:.10g}" if isinstance(v, float) else v) for v in line])


def parse_numbers(text: str, kind=float) -> list:
    """``"1,2,4"`` or a range ``"1..8"`` (integers, step 1) into a list of numbers."""
    text = text.strip()
    if ".." in text and kind is int:
        lo, hi = text.split("..")
        return list(range(int(lo), int(hi) + 1))
    return [kind(v) for v in text.split(",") if v.strip()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument("--scenario", type=Path, default=SCENARIO, help="scenario file")
    ap.add_argument("--service", default=None, help="service touchpoint to staff (default: the first one)")
    ap.add_argument("--agents", default="1..8", help="agent counts: a list '1,2,4' or a range '1..8'")
    ap.add_argument(
        "--failure-rates", default="0,0.02,0.04,0.06,0.08,0.12,0.16,0.2", help="checkout cart -> lost probabilities"
    )
    ap.add_argument("--checkout", default="checkout", help="touchpoint whose failure rate is varied")
    ap.add_argument("--failure-from", default="cart", help="stage of the failure move")
    ap.add_argument("--failure-to", default="lost", help="destination of the failure move")
    ap.add_argument("--engine", choices=["fast", "mean-field", "des"], default="fast")
    ap.add_argument("--reps", type=int, default=20, help="replications per point (not mean-field)")
    ap.add_argument("--customers", type=int, default=None, help="override population.customers")
    ap.add_argument("--days", type=int, default=None, help="override population.days")
    ap.add_argument("--seed", type=int, default=1, help="root seed, the same for every point (common random numbers)")
    ap.add_argument("--out", type=Path, default=OUT, help="folder for CSVs and plots")
    ap.add_argument("--no-plot", action="store_true", help="do not draw the figures")
    args = ap.parse_args(argv)

    try:
        data = read_scenario_dict(args.scenario)
        base = jsim.compile_scenario(
            parse_scenario(data, source=str(args.scenario)), customers=args.customers, days=args.days
        )
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"cannot read {args.scenario}: {exc}", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    services = service_names(data)
    service = args.service or (services[0] if services else None)
    if service is None or service not in services:
        print(f"{args.scenario} has no service touchpoint {args.service or ''} (services: {services})", file=sys.stderr)
        return 2
    try:
        agents = parse_numbers(args.agents, int)
        rates = parse_numbers(args.failure_rates, float)
    except ValueError as exc:
        print(f"bad list: {exc}", file=sys.stderr)
        return 2
    reps = 1 if args.engine == "mean-field" else args.reps
    cur, T = base.currency, base.n_days
    common = dict(engine=args.engine, reps=reps, seed=args.seed, customers=args.customers, days=args.days)
    print(
        f"scenario {args.scenario} ({base.n_customers:,} customers, {T} days), engine {args.engine}, "
        f"{reps} rep(s) per point, seed {args.seed}",
        file=sys.stderr,
    )

    print("sweeping agents", file=sys.stderr)
    agent_rows = sweep(
        agents,
        lambda a: with_agents(data, a, service),
        label="agents",
        service=service,
        log=lambda s: print(s, file=sys.stderr),
        **common,
    )
    agent_marg = marginal(agent_rows)
    print("sweeping checkout failure rate", file=sys.stderr)
    fail_rows = sweep(
        rates,
        lambda f: with_failure_rate(data, f, args.checkout, args.failure_from, args.failure_to),
        label="failure rate",
        service=service,
        log=lambda s: print(s, file=sys.stderr),
        **common,
    )
    fail_marg = marginal(fail_rows, per=0.01)

    print(
        f"\n== {service}: agents on duty every day (capacity events dropped); engine {args.engine}, "
        f"{reps} rep(s), {base.n_customers:,} customers, {T} days =="
    )
    print_sweep(agent_rows, agent_marg, x_name="agents", unit_name="added agent", days=T, agent_days=True, currency=cur)
    print(
        f"\n== {args.checkout}: {args.failure_from} -> {args.failure_to} probability per checkout attempt "
        f"(scenario staffing as written) =="
    )
    print_sweep(
        fail_rows, fail_marg, x_name="failure", unit_name="+1 point of failure", days=T, agent_days=False, currency=cur
    )
    if reps > 1:
        print("\nIntervals: 95% t over replications; differences from per-replication differences on common seeds.")

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(agent_rows, agent_marg, args.out / "agents.csv", "agents")
    write_csv(fail_rows, fail_marg, args.out / "failure_rate.csv", "failure_rate")
    if not args.no_plot:
        what = f"{base.name}, {args.engine}, {reps} rep(s)"
        plot_sweep(
            get_sweep_info(agent_rows, f"agents on {service}", f"{what}: chat agents", cur), args.out / "agents.png"
        )
        plot_sweep(
            get_sweep_info(
                fail_rows,
                f"{args.checkout} failure rate ({args.failure_from} -> {args.failure_to})",
                f"{what}: checkout failure",
                cur,
            ),
            args.out / "failure_rate.png",
        )
    print(
        f"\nwrote {args.out}/agents.csv, failure_rate.csv" + ("" if args.no_plot else ", agents.png, failure_rate.png"),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
