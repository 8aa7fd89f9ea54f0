"""Human-readable terminal summary of a run (rich tables): what ``jsim run`` prints."""

from __future__ import annotations

__all__ = ["render_summary"]

from ._numbers import NA, finite, fmt_spec, print_table


def _fmt(est: dict, spec: str = ",.0f") -> str:
    """``mean  [low, high]`` of an estimate dict; ``n/a`` without a value (None, NaN, infinite)."""
    if est is None or not finite(est.get("mean")):
        return NA
    text = format(est["mean"], spec)
    if finite(est.get("low")) and finite(est.get("high")):
        text += f"  [{format(est['low'], spec)}, {format(est['high'], spec)}]"
    return text


def _num(x, spec: str = ",.0f") -> str:
    return fmt_spec(x, spec)


def render_summary(summary: dict, console) -> None:
    """Print a run summary: KPIs, stages at the horizon, touchpoints."""
    from rich.table import Table

    cur = summary["currency"]
    m = summary["metrics"]
    interval = "mean [95% interval]" if summary["reps"] > 1 else "value"
    head = (
        f"[bold]{summary['scenario']}[/bold]  {summary['customers_day0']:,} customers on day 0, "
        f"{summary['days']} days, engine {summary['engine']}, seed {summary['seed']}, reps {summary['reps']}"
    )
    console.print(head)
    kpi = Table(title="Key figures", title_justify="left", show_edge=False)
    kpi.add_column("metric")
    kpi.add_column(interval, justify="right")
    rows = [
        ("customers (day 0 + arrivals)", _fmt(m["customers"])),
        ("prospects (not yet converted on entry)", _fmt(m["prospects"])),
        ("new customers (first conversion)", _fmt(m["new_customers"])),
        ("conversion rate (new customers / prospects)", _fmt(m["conversion_rate"], ".2%")),
        ("converted, incl. day-0 customer base", _fmt(m["converted"])),
        ("retained at horizon", _fmt(m["retained"])),
        ("retention rate (retained / converted)", _fmt(m["retention_rate"], ".1%")),
        ("purchases", _fmt(m["purchases"])),
        (f"revenue ({cur})", _fmt(m["revenue"])),
        (f"gross profit ({cur})", _fmt(m["gross_profit"])),
        (f"cost ({cur})", _fmt(m["cost"])),
        (f"CAC ({cur} per new customer)", _fmt(m["cac"], ",.2f")),
        ("ROI ((gross profit - cost) / cost)", _fmt(m["roi"], ".1%")),
        (f"lifetime value, 3 years ({cur})", _num(summary["lifetime_value_3y"], ",.2f")),
    ]
    for row in rows:
        kpi.add_row(*row)
    print_table(console, kpi)
    st = Table(title=f"Stages on day {summary['days']}", title_justify="left", show_edge=False)
    st.add_column("stage")
    st.add_column("customers", justify="right")
    for name, est in summary["stages_at_horizon"].items():
        st.add_row(name, _fmt(est))
    print_table(console, st)
    if summary["touchpoints"]:
        tp = Table(title="Touchpoints", title_justify="left", show_edge=False)
        for col in (
            "touchpoint",
            "kind",
            f"cost ({cur})",
            "deliveries",
            "engaged",
            "moves",
            "revenue",
            "incr. revenue",
            "incr. ROI",
        ):
            tp.add_column(
                col, justify="left" if col in ("touchpoint", "kind") else "right", no_wrap=col == "touchpoint"
            )
        for r in summary["touchpoints"]:
            tp.add_row(
                r["touchpoint"],
                r["kind"],
                _num(r["cost"]),
                _num(r["deliveries"]),
                _num(r["engagements"]),
                _num(r["moves_caused"]),
                _num(r["revenue_caused"]),
                _num(r["incremental_revenue"]),
                _num(r["incremental_roi"], ".0%"),
            )
        print_table(console, tp)
        _render_services(summary, console)
        console.print(
            "[dim]moves, revenue: moves the touchpoint triggered and the purchases among them; incr.: "
            "expected-value model with and without the touchpoint (ROI on its cost).[/dim]"
        )


def _render_services(summary: dict, console) -> None:
    from rich.table import Table

    if not summary.get("services"):
        return
    tb = Table(title="Service touchpoints (queues)", title_justify="left", show_edge=False)
    for col in (
        "service",
        "requests",
        "served",
        "abandoned",
        "abandon rate",
        "mean wait (h)",
        "utilisation",
        "lost waiting",
        "model",
    ):
        tb.add_column(col, justify="left" if col in ("service", "model") else "right", no_wrap=col == "service")
    for r in summary["services"]:
        tb.add_row(
            r["service"],
            _fmt(r["requests"]),
            _fmt(r["served"]),
            _fmt(r["abandoned"]),
            _fmt(r["abandonment_rate"], ".1%"),
            _fmt(r["mean_wait_hours"], ".2f"),
            _fmt(r["utilisation"], ".0%"),
            _fmt(r["lost_while_waiting"]),
            r["resolution"],
        )
    print_table(console, tb)
