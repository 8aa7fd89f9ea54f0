"""Check that scenarios/webshop.toml still behaves like a typical web shop.

Simulates the scenario and prints its calibration KPIs next to their target ranges:

* cart abandonment   = 1 - (cart -> customer moves) / (all moves out of cart)   target 0.65-0.75
* visitor-to-order   = entries into customer / entries into considering           target 0.01-0.04
* email open rate    = engaged (opened) newsletter emails / delivered emails      target 0.15-0.25
* repeat-customer rate = customers with 2+ orders in the horizon / customers with 1+  target 0.15-0.40
* repeat share of orders = orders by customers who had ordered before / all orders   target 0.30-0.65

The ranges are the commonly quoted e-commerce figures (sources in :data:`SOURCES`): about 70%
of carts abandoned, 1-4% of site visitors ordering, roughly one newsletter in five opened,
about 28% of buyers ordering more than once, and returning customers bringing a third to two
thirds of the orders.

Orders are entries into purchase stages. The repeat-customer rate counts, among everyone who
ordered within the horizon (the day-0 customer base included, as a shop's report for a period
would), those who ordered at least twice within it; it needs each customer's orders, which
``experiments/customer_orders.py`` gives (expected counts for the mean-field engine, the engine's own
customers for the fast engine). A repeat order is an order by a customer who had ordered
before, before day 0 or earlier in the horizon: in the web shop, an entry into
``repeat_purchase``.

With the stochastic engine (``--engine fast``) each KPI is also given a 95% Wilson binomial
interval from its counts, pooled over replications. The visitor-to-order ratio counts stage
*entries*, so a customer who visits twice counts twice; its interval treats entries as
independent trials, which is an approximation; so does the repeat share of orders (one
customer places several orders). Buyers are independent given the word-of-mouth shares.

Run from the repository root::

    python experiments/calibrate_webshop.py                       # fast engine, seed 1
    python experiments/calibrate_webshop.py --engine mean-field   # expected values
    python experiments/calibrate_webshop.py --customers 200000 --reps 4

Exit status 0 when every KPI is inside its range, 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere without installing jsim
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import jsim  # noqa: E402
from jsim.errors import ScenarioError  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from customer_orders import order_counts  # noqa: E402

SCENARIO = ROOT / "scenarios" / "webshop.toml"
EMAIL = "email_newsletter"

#: KPI name -> (low, high, what it means)
TARGETS = {
    "cart_abandonment": (0.65, 0.75, "1 - cart->customer / all moves out of cart"),
    "visitor_to_order": (0.01, 0.04, "entries into customer / entries into considering"),
    "email_open_rate": (0.15, 0.25, "opened / delivered newsletter emails"),
    "repeat_customer_rate": (0.15, 0.40, "buyers with 2+ orders / buyers with 1+ order in the horizon"),
    "repeat_order_share": (0.30, 0.65, "orders by earlier buyers / all orders in the horizon"),
}

#: KPI name -> where its published range comes from (printed with the check)
SOURCES = {
    # Baymard Institute, "Cart Abandonment Rate" (average of 49 studies, about 70%)
    "cart_abandonment": "Baymard Institute, ~70%",
    # the usual e-commerce conversion rate of site visitors, 1-4% (e.g. Shopify, Smart Insights)
    "visitor_to_order": "Shopify / Smart Insights, 1-4%",
    # Mailchimp, "Email Marketing Benchmarks" (average open rate about 21% over all industries)
    "email_open_rate": "Mailchimp benchmarks, ~21%",
    # Metrilo, "Retention rate" glossary: survey average 28%, 21-36% by niche; leangenix.io and
    # opensend.com quote 20-40% and 15-30%
    "repeat_customer_rate": "Metrilo survey, 28% (21-36%)",
    # Yotpo, "Repeat customer statistics": returning customers ~1/3 of online revenue; Metrilo,
    # "Revenue from returning customers": 47-68.5% by niche (average 60%, retention-minded
    # brands); Monetate Q4 2015: 48% of transactions by returning visitors. The model's orders
    # all have the same value, so the share of orders is the share of revenue.
    "repeat_order_share": "Yotpo ~33%, Monetate 48%, Metrilo 60%",
}


def kpi_counts(result) -> dict[str, tuple[float, float]]:
    """(successes, trials) behind each KPI, summed over days and replications.

    For cart abandonment the "successes" are abandoned carts (moves out of cart that do not
    go to customer). The repeat KPIs need each customer's orders (:func:`customer_orders.order_counts`:
    a fast result is replayed from its seed).
    """
    orders = order_counts(result)
    m = result.model
    flows = result.flows.sum(axis=(0, 1))  # (S, S) moves over the whole horizon
    cart, customer, considering = (m.stage_index[n] for n in ("cart", "customer", "considering"))
    out_of_cart = float(flows[cart].sum())
    j = m.touchpoint_index[EMAIL]
    return {
        "cart_abandonment": (out_of_cart - float(flows[cart, customer]), out_of_cart),
        "visitor_to_order": (float(flows[:, customer].sum()), float(flows[:, considering].sum())),
        "email_open_rate": (float(result.engagements[..., j].sum()), float(result.deliveries[..., j].sum())),
        "repeat_customer_rate": (sum(o.repeat_buyers for o in orders), sum(o.buyers for o in orders)),
        "repeat_order_share": (
            sum(o.repeat_orders for o in orders),
            sum(o.first_orders + o.repeat_orders for o in orders),
        ),
    }


def kpis(result) -> dict[str, float]:
    """The calibration KPIs of a webshop simulation result."""
    return {k: (s / n if n else float("nan")) for k, (s, n) in kpi_counts(result).items()}


def wilson(successes: float, trials: float, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion."""
    if trials <= 0:
        return float("nan"), float("nan")
    p = successes / trials
    den = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / den
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def in_range(name: str, value: float) -> bool:
    low, high, _ = TARGETS[name]
    return low <= value <= high


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--customers", type=int, default=None, help="override population.customers (default: the file's 50,000)"
    )
    ap.add_argument("--seed", type=int, default=1, help="root random seed (default 1)")
    ap.add_argument("--engine", choices=["fast", "mean-field"], default="fast", help="simulation engine (default fast)")
    ap.add_argument("--reps", type=int, default=1, help="replications for the fast engine (default 1)")
    ap.add_argument("--scenario", type=Path, default=SCENARIO, help="scenario file (default scenarios/webshop.toml)")
    args = ap.parse_args(argv)

    try:
        scenario = jsim.load_scenario(args.scenario)
        model = jsim.compile_scenario(scenario, customers=args.customers)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    result = jsim.simulate(model, seed=args.seed, engine=args.engine, reps=args.reps)
    stochastic = args.engine != "mean-field"

    print(
        f"scenario  {args.scenario}  ({model.n_customers:,} customers, {model.n_days} days, "
        f"engine {args.engine}{f', {result.n_reps} rep(s), seed {args.seed}' if stochastic else ''})"
    )
    print()
    head = f"{'KPI':<20} {'value':>8}  {'target':<13}"
    if stochastic:
        head += f" {'95% interval':<17}"
    print(head + "  check")
    counts = kpi_counts(result)
    all_ok = True
    for name, (s, n) in counts.items():
        low, high, meaning = TARGETS[name]
        value = s / n if n else float("nan")
        ok = in_range(name, value)
        all_ok &= ok
        line = f"{name:<20} {value:>8.4f}  {f'[{low:.2f}, {high:.2f}]':<13}"
        if stochastic:
            lo, hi = wilson(s, n)
            line += f" {f'[{lo:.4f}, {hi:.4f}]':<17}"
        print(line + ("  PASS" if ok else "  OUT-OF-RANGE") + f"   ({meaning}; n = {n:,.0f}; {SOURCES[name]})")

    reps = result.n_reps
    purchases = float(result.purchases.sum()) / reps
    revenue = float(result.revenue.sum()) / reps
    cost = float(result.cost.sum()) / reps
    cur = model.currency
    print()
    print(
        f"per replication: purchases {purchases:,.0f}, revenue {revenue:,.0f} {cur}, "
        f"gross margin {revenue * model.margin:,.0f} {cur}, touchpoint cost {cost:,.0f} {cur}, "
        f"margin after marketing {revenue * model.margin - cost:,.0f} {cur}"
    )
    print(
        f"day {model.n_days} occupancy: "
        + ", ".join(
            f"{n} {v:,.0f}" for n, v in zip(model.stage_names, np.asarray(result.stage_occupancy[:, -1].mean(axis=0)))
        )
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
