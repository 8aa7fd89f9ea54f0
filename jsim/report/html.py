"""``report.html``: one self-contained page built from the files of a jsim output folder.

The page is built from the FILES a command wrote (``summary.json`` and the run's CSV tables,
``compare.json``, ``allocation.json`` and ``trials.csv``, ``attribution.json``), never from a
result in memory, so ``jsim report DIR`` and ``--report`` on a command give the same page, and
every number shown is a number in those files (formatted, never recomputed except for shares and
sums stated beside them). plotly.js is embedded from the plotly package: the page opens offline.

``get_*_info`` functions return plain data (tested); :func:`render_html` only templates.
"""

from __future__ import annotations

__all__ = [
    "REPORT_NAME",
    "REPORT_SOURCES",
    "Chart",
    "Section",
    "read_folder",
    "get_run_info",
    "get_compare_info",
    "get_optimise_info",
    "get_attribution_info",
    "get_channel_info",
    "get_sweep_info",
    "get_sensitivity_info",
    "get_calibration_info",
    "report_sections",
    "render_html",
    "plotly_js",
    "build_report",
    "write_html_report",
    "report_into_set",
]

import csv
import html
import io
import json
from pathlib import Path
from typing import NamedTuple

from ..errors import InputError
from ._numbers import NA, finite, fmt_number

#: The default file name of the report, in the folder it reports on.
REPORT_NAME = "report.html"

#: The files a report is built from: JSON documents (any one makes a folder reportable) and tables.
REPORT_SOURCES = (
    "summary.json",
    "compare.json",
    "allocation.json",
    "attribution.json",
    "sweep.json",
    "sensitivity.json",
    "calibration.json",
)
_TABLES = ("daily.csv", "flows.csv", "touchpoints.csv", "services.csv", "service_daily.csv", "trials.csv", "pareto.csv")


class Chart(NamedTuple):
    """One plotly chart: a unique ``id`` and the figure as plain JSON-ready ``{"data": [...], "layout": {...}}``."""

    id: str
    figure: dict


class Section(NamedTuple):
    """One section of the page: ``id``, ``title``, HTML ``body`` (already escaped) and its ``charts``."""

    id: str
    title: str
    body: str
    charts: tuple


# --- reading the folder --------------------------------------------------------------------------


def _bad(folder, rule: str, fix: str) -> InputError:
    return InputError(f"report folder {folder}: {rule} ({fix})", params=("run_dir",))


def read_folder(folder) -> dict:
    """The JSON documents and CSV tables of ``folder`` a report uses: ``{file name: dict or (header, rows)}``.

    CSV cells stay text (converted where used). Raises :class:`~jsim.errors.InputError` naming the
    folder, the rule and a fix when the folder is missing, holds none of :data:`REPORT_SOURCES`, or
    a file cannot be read (corrupt JSON, not UTF-8).
    """
    path = Path(folder)
    if not path.is_dir():
        raise _bad(folder, "must be a folder a jsim command wrote, got no such folder", "give the --out DIR of a run")
    files = {}
    for name in REPORT_SOURCES:
        if (path / name).is_file():
            try:
                doc = json.loads((path / name).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise _bad(
                    folder, f"{name} is not valid JSON: {exc}", "write the folder again with the command"
                ) from exc
            if not isinstance(doc, dict):
                raise _bad(folder, f"{name} must hold a JSON object, got {type(doc).__name__}", "write it again")
            files[name] = doc
    if not files:
        raise _bad(
            folder,
            f"must hold one of {', '.join(REPORT_SOURCES)}, got none",
            "give the --out DIR of jsim run, compare, optimise or attribute",
        )
    for name in _TABLES:
        if (path / name).is_file():
            try:
                rows = list(csv.reader(io.StringIO((path / name).read_text(encoding="utf-8"))))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise _bad(folder, f"{name} cannot be read: {exc}", "write the folder again with the command") from exc
            if rows:
                files[name] = (rows[0], rows[1:])
    return files


def _num(text):
    """A CSV cell as a float (None when empty)."""
    return float(text) if text not in ("", None) else None


def _columns(table) -> dict:
    header, rows = table
    return {h: [r[i] for r in rows] for i, h in enumerate(header)}


# --- data functions ------------------------------------------------------------------------------

#: summary.json ``metrics`` key -> (label, format spec); money labels get the currency
KEY_FIGURES = (
    ("customers", "customers (day 0 + arrivals)", ",.0f"),
    ("prospects", "prospects (not yet converted on entry)", ",.0f"),
    ("new_customers", "new customers (first conversion)", ",.0f"),
    ("conversion_rate", "conversion rate (new customers / prospects)", ".2%"),
    ("converted", "converted, incl. day-0 customer base", ",.0f"),
    ("retained", "retained at horizon", ",.0f"),
    ("retention_rate", "retention rate (retained / converted)", ".1%"),
    ("purchases", "purchases", ",.0f"),
    ("revenue", "revenue ({cur})", ",.0f"),
    ("gross_profit", "gross profit ({cur})", ",.0f"),
    ("cost", "cost ({cur})", ",.0f"),
    ("net_profit", "net profit ({cur})", ",.0f"),
    ("cac", "CAC ({cur} per new customer)", ",.2f"),
    ("roi", "ROI ((gross profit - cost) / cost)", ".1%"),
)

#: The headline figures shown as cards at the top of a run's report (summary.json metrics keys).
HEADLINE = ("new_customers", "conversion_rate", "revenue", "cost", "roi")


def fmt(x, spec: str) -> str:
    """``format(x, spec)``, ``n/a`` without a value: how every number of the report is shown."""
    return format(float(x), spec) if finite(x) else NA


def get_run_info(files: dict) -> dict:
    """Plain data of a run folder's sections, from ``summary.json`` and its CSV tables.

    Keys: ``title``, ``currency``, ``reps``, ``key_figures`` (rows ``key, label, spec, mean, low,
    high`` from ``summary.json`` → ``metrics``), ``stages`` (daily.csv stage columns), ``days``,
    ``occupancy`` ({stage: values}), ``calendar`` (``summary.json`` → ``calendar``), ``links``
    ((from, to, source, moves) summed over days from flows.csv), ``funnel`` (steps), ``cart``
    (the cart step or None), ``touchpoints`` (summary.json rows), ``services`` (summary.json rows).

    The funnel: the steps are the stages with moves out, in daily.csv's column order; a step's
    next stage is the later stage receiving most of its moves; its drop-off is the share of its
    moves out (flows.csv, summed over days and sources) that go anywhere else (lost, or back).
    Cart abandonment is the drop-off of the step named ``cart``: the share of customers leaving
    the cart who do not order.
    """
    s = files["summary.json"]
    cur = s.get("currency", "")
    metrics = s.get("metrics", {})
    key_figures = []
    for key, label, spec in KEY_FIGURES:
        if key in metrics:
            est = metrics[key] or {}
            key_figures.append(
                {
                    "key": key,
                    "label": label.format(cur=cur),
                    "spec": spec,
                    "mean": est.get("mean"),
                    "low": est.get("low"),
                    "high": est.get("high"),
                }
            )
    info = {
        "title": f"{s.get('scenario', '')}: {s.get('customers_day0', 0):,} customers on day 0, {s.get('days')} days",
        "settings": f"engine {s.get('engine')}, seed {s.get('seed')}, reps {s.get('reps')}",
        "currency": cur,
        "reps": s.get("reps", 1),
        "key_figures": key_figures,
        "lifetime_value_3y": s.get("lifetime_value_3y"),
        "calendar": list(s.get("calendar") or []),
        "touchpoints": list(s.get("touchpoints") or []),
        "services": list(s.get("services") or []),
        "service_daily": {},
        "stages": [],
        "days": [],
        "occupancy": {},
        "links": [],
        "funnel": [],
        "cart": None,
    }
    if "daily.csv" in files:
        cols = _columns(files["daily.csv"])
        header = files["daily.csv"][0]
        stages = header[1 : header.index("arrivals")] if "arrivals" in header else list(s.get("stages_at_horizon", {}))
        info["stages"] = stages
        info["days"] = [int(float(d)) for d in cols["day"]]
        info["occupancy"] = {st: [_num(v) for v in cols[st]] for st in stages}
    if "service_daily.csv" in files:
        daily: dict = {}
        header, rows = files["service_daily.csv"]
        for row in rows:
            rec = dict(zip(header, row))
            d = daily.setdefault(rec["service"], {"day": [], "requests": [], "abandoned": [], "mean_wait_hours": []})
            d["day"].append(int(float(rec["day"])))
            for k in ("requests", "abandoned", "mean_wait_hours"):
                d[k].append(_num(rec.get(k, "")))
        info["service_daily"] = daily
    if "flows.csv" in files:
        totals: dict = {}
        for _day, a, b, moves, src in files["flows.csv"][1]:
            totals[(a, b, src)] = totals.get((a, b, src), 0.0) + float(moves)
        info["links"] = [(a, b, src, v) for (a, b, src), v in totals.items()]
        info["funnel"] = _funnel(info["stages"] or sorted({a for a, _, _ in totals}), totals)
        info["cart"] = next((step for step in info["funnel"] if step["stage"] == "cart"), None)
    return info


def _funnel(stages: list, totals: dict) -> list[dict]:
    """Funnel steps (see :func:`get_run_info`): stage, moves out, next stage, moves to it, drop-off share."""
    out_by_pair: dict = {}
    for (a, b, _), v in totals.items():
        out_by_pair[(a, b)] = out_by_pair.get((a, b), 0.0) + v
    steps = []
    order = {st: i for i, st in enumerate(stages)}
    for st in stages:
        outs = {b: v for (a, b), v in out_by_pair.items() if a == st}
        later = {b: v for b, v in outs.items() if order.get(b, -1) > order[st] and any(a == b for a, _ in out_by_pair)}
        total = sum(outs.values())
        if not later or total <= 0:
            continue
        nxt = max(later, key=later.get)
        steps.append(
            {
                "stage": st,
                "next": nxt,
                "moves_out": total,
                "moves_on": outs[nxt],
                "drop_off": 1.0 - outs[nxt] / total,
            }
        )
    return steps


def get_compare_info(files: dict) -> dict:
    """Plain data of ``compare.json``: per variant, each metric's baseline and variant means and the
    paired difference with its 95% interval and verdict (``real``: the interval excludes 0)."""
    c = files["compare.json"]
    base = c.get("baseline_run", {}).get("metrics", {})
    variants = []
    for v in c.get("variants", []):
        rows = []
        for key, diff in (v.get("difference") or {}).items():
            b = (base.get(key) or {}).get("mean")
            rows.append(
                {
                    "metric": key,
                    "baseline": b,
                    "variant": (v.get("metrics", {}).get(key) or {}).get("mean"),
                    "difference": diff.get("mean"),
                    "low": diff.get("low"),
                    "high": diff.get("high"),
                    "real": bool(diff.get("distinguishable")),
                    "reps_needed": diff.get("reps_needed"),
                }
            )
        variants.append({"name": v.get("name", ""), "overrides": v.get("overrides", {}), "rows": rows})
    return {
        "baseline": c.get("baseline", ""),
        "settings": f"engine {c.get('engine')}, seed {c.get('seed')}, reps {c.get('reps')}, {c.get('days')} days",
        "currency": c.get("currency", ""),
        "variants": variants,
    }


def get_optimise_info(files: dict) -> dict:
    """Plain data of ``allocation.json`` (and ``trials.csv``, ``pareto.csv``): the allocation, the
    comparison of splits, the marginal returns, the response curves, the history and the Pareto front."""
    a = files["allocation.json"]
    objectives = a.get("objectives", [])
    info = {
        "scenario": a.get("scenario", ""),
        "budget": a.get("budget"),
        "objectives": objectives,
        "directions": a.get("directions", []),
        "allocation": dict(a.get("allocation") or {}),
        "value": a.get("value", []),
        "comparison": [
            {"split": r.get("split"), "metrics": r.get("metrics", {}), "allocation": r.get("allocation", {})}
            for r in a.get("comparison", [])
        ],
        "marginals": list((a.get("explanation") or {}).get("marginal_returns", [])),
        "curves": dict(a.get("response_curves") or {}),
        "history": None,
        "pareto": None,
    }
    if "trials.csv" in files and objectives:
        cols = _columns(files["trials.csv"])
        done = [i for i, state in enumerate(cols.get("state", [])) if state == "COMPLETE"]
        if objectives[0] in cols:
            info["history"] = {
                "trial": [int(cols["trial"][i]) for i in done],
                "value": [_num(cols[objectives[0]][i]) for i in done],
            }
        if len(objectives) > 1 and all(m in cols for m in objectives[:2]):
            info["pareto"] = {"trials": [[_num(cols[m][i]) for i in done] for m in objectives[:2]], "front": None}
    if "pareto.csv" in files and info["pareto"] is not None:
        cols = _columns(files["pareto.csv"])
        if all(m in cols for m in objectives[:2]):
            info["pareto"]["front"] = [[_num(x) for x in cols[m]] for m in objectives[:2]]
    return info


def get_attribution_info(files: dict) -> dict | None:
    """Plain data of ``attribution.json`` → ``against_truth`` (None without it): per touchpoint the
    true incremental conversions with their interval and each method's attributed conversions,
    and each method's error."""
    doc = files["attribution.json"].get("against_truth")
    if not doc:
        return None
    rows = doc.get("rows", [])
    fixed = {"touchpoint", "incremental", "low", "high", "credited"}
    methods = [k for k in (rows[0] if rows else {}) if k not in fixed]
    return {"rows": rows, "methods": methods, "errors": doc.get("errors", []), "scale": doc.get("scale")}


#: attribution.json ``channels`` key -> method name shown
_CHANNEL_METHODS = (
    ("markov_conversions", "markov"),
    ("shapley", "shapley"),
    ("first_touch", "first touch"),
    ("last_touch", "last touch"),
    ("linear", "linear"),
    ("position", "position"),
    ("time_decay", "time decay"),
)


def get_channel_info(files: dict) -> dict:
    """Plain data of ``attribution.json`` → ``channels``: each channel's conversions by method."""
    a = files["attribution.json"]
    channels = a.get("channels", [])
    methods = [(k, name) for k, name in _CHANNEL_METHODS if any(k in c for c in channels)]
    return {
        "total_conversions": a.get("total_conversions"),
        "n_paths": a.get("n_paths"),
        "methods": methods,
        "channels": [{"channel": c.get("channel"), **{k: c.get(k) for k, _ in methods}} for c in channels],
        "notes": list(a.get("notes", [])),
    }


def get_sweep_info(files: dict) -> dict:
    """Plain data of ``sweep.json``: per metric, one series per value of the other parameters, along the first."""
    w = files["sweep.json"]
    keys = [p["key"] for p in w.get("params", [])]
    series: dict = {}
    for row in w.get("rows", []):
        rest = tuple((k, row.get(k)) for k in keys[1:])
        series.setdefault(row["metric"], {}).setdefault(rest, []).append(row)
    return {
        "scenario": w.get("scenario", ""),
        "keys": keys,
        "metrics": w.get("metrics", []),
        "series": series,
        "rows": w.get("rows", []),
    }


#: sensitivity method -> the index drawn (the table has every index)
_MAIN_INDEX = {"oat": "swing", "morris": "mu_star", "sobol": "ST"}


def get_sensitivity_info(files: dict) -> dict:
    """Plain data of ``sensitivity.json``: the method, the index drawn and every (metric, parameter) row."""
    d = files["sensitivity.json"]
    method = d.get("method", "")
    rows = d.get("indices", [])
    skip = {"metric", "param", "low", "high", "integer"}
    fields = [k for k in (rows[0] if rows else {}) if k not in skip]
    return {
        "method": method,
        "main": _MAIN_INDEX.get(method, fields[0] if fields else ""),
        "fields": fields,
        "rows": rows,
        "metrics": d.get("metrics", []),
    }


def get_calibration_info(files: dict) -> dict:
    """Plain data of ``calibration.json``: each fitted field's estimate and 95% interval, and the fit."""
    c = files["calibration.json"]
    return {
        "method": c.get("method"),
        "deviance": c.get("deviance"),
        "n_observations": c.get("n_observations"),
        "parameters": dict(c.get("parameters") or {}),
        "fit": dict(c.get("fit") or {}),
        "warnings": list(c.get("warnings") or []),
    }


# --- rendering -----------------------------------------------------------------------------------

_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")
_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 40, "b": 50}, "font": {"size": 12}, "template": None}


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _table(header, rows, *, numeric_from: int = 1, cls: str = "") -> str:
    """An HTML table (cells escaped); columns from ``numeric_from`` right-aligned."""
    head = "".join(f"<th{' class=num' if i >= numeric_from else ''}>{_e(h)}</th>" for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _interval(low, high, spec: str) -> str:
    return f"[{fmt(low, spec)}, {fmt(high, spec)}]" if finite(low) and finite(high) else ""


def _interval_n(low, high) -> str:
    """``[low, high]`` to 4 significant digits, never in scientific notation above 1e-4 (:func:`fmt_number`)."""
    return f"[{fmt_number(low)}, {fmt_number(high)}]" if finite(low) and finite(high) else ""


def _value(v) -> str:
    """A parameter value of a grid point: numbers to 6 significant digits (0.3, not 0.30000000000000004)."""
    return fmt_number(v, 6) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _chart_div(chart: Chart) -> str:
    return f"<div class='chart' id='{_e(chart.id)}'></div>"


def _run_sections(info: dict) -> list[Section]:
    out = []
    spec_of = {k["key"]: k for k in info["key_figures"]}
    cards = []
    for key in HEADLINE:
        k = spec_of.get(key)
        if k is None:
            continue
        cards.append(
            f"<div class='card'><div class='label'>{_e(k['label'])}</div>"
            f"<div class='value' id='headline-{_e(key)}' data-metric='{_e(key)}' data-spec='{_e(k['spec'])}'>"
            f"{_e(fmt(k['mean'], k['spec']))}</div>"
            f"<div class='interval'>{_e(_interval(k['low'], k['high'], k['spec']))}</div></div>"
        )
    cart = info["cart"]
    if cart is not None:
        cards.append(
            "<div class='card warn'><div class='label'>cart abandonment (leave the cart without ordering)</div>"
            f"<div class='value' id='headline-cart_abandonment'>{_e(fmt(cart['drop_off'], '.1%'))}</div>"
            f"<div class='interval'>{_e(fmt(cart['moves_out'] - cart['moves_on'], ',.0f'))} of "
            f"{_e(fmt(cart['moves_out'], ',.0f'))} moves out of cart</div></div>"
        )
    label = "mean" if info["reps"] and info["reps"] > 1 else "value"
    rows = [
        [_e(k["label"]), _e(fmt(k["mean"], k["spec"])), _e(_interval(k["low"], k["high"], k["spec"]))]
        for k in info["key_figures"]
    ]
    rows.append([_e(f"lifetime value, 3 years ({info['currency']})"), _e(fmt(info["lifetime_value_3y"], ",.2f")), ""])
    body = (
        f"<p class='sub'>{_e(info['title'])}; {_e(info['settings'])}</p><div class='cards'>{''.join(cards)}</div>"
        + _table(["metric", label, "95% interval"], rows, cls="figures")
    )
    out.append(Section("key-figures", "Key figures", body, ()))
    if info["stages"]:
        out.append(_stages_section(info))
    if info["links"]:
        out.append(_flows_section(info))
    if info["funnel"]:
        out.append(_funnel_section(info))
    if info["touchpoints"]:
        out.append(_touchpoint_section(info))
    if info["services"]:
        out.append(_service_section(info))
    return out


def _stages_section(info: dict) -> Section:
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "stackgroup": "stages",
            "name": st,
            "x": info["days"],
            "y": info["occupancy"][st],
            "line": {"width": 0.5, "color": _COLORS[i % len(_COLORS)]},
        }
        for i, st in enumerate(info["stages"])
    ]
    shapes, notes = [], []
    for i, mark in enumerate(info["calendar"]):
        color = _COLORS[(i + 3) % len(_COLORS)]
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": mark["start"] - 0.5,
                "x1": mark["end"] + 0.5,
                "y0": 0,
                "y1": 1,
                "fillcolor": color,
                "opacity": 0.12,
                "line": {"width": 1, "color": color},
            }
        )
        notes.append(
            {
                "x": mark["start"],
                "y": 1 - 0.06 * (i % 4),
                "xref": "x",
                "yref": "paper",
                "xanchor": "left",
                "showarrow": False,
                "text": f"{mark['kind']}: {mark['name']}",
                "font": {"size": 10, "color": color},
            }
        )
    fig = {
        "data": traces,
        "layout": {
            **_LAYOUT,
            "height": 460,
            "xaxis": {"title": {"text": "day"}},
            "yaxis": {"title": {"text": "customers at end of day"}, "tickformat": ",d"},
            "legend": {"traceorder": "reversed"},
            "shapes": shapes,
            "annotations": notes,
        },
    }
    marks = "; ".join(f"{m['kind']} {m['name']} (days {m['start']} to {m['end']})" for m in info["calendar"])
    body = (
        "<p>Customers in each stage at the end of each day (daily.csv), stacked; the legend lists the stages "
        "from the top of the stack down (click a stage to hide it, so that small stages show). "
        + (f"Shaded: the calendar's {_e(marks)}." if marks else "The scenario has no flights or events.")
        + "</p>"
    )
    return Section("stages", "Stages over time", body, (Chart("chart-stages", fig),))


def _flows_section(info: dict) -> Section:
    nodes = list(
        dict.fromkeys([*info["stages"], *(a for a, _, _, _ in info["links"]), *(b for _, b, _, _ in info["links"])])
    )
    index = {n: i for i, n in enumerate(nodes)}
    sources = list(dict.fromkeys(src for _, _, src, _ in info["links"]))
    color = {src: _COLORS[i % len(_COLORS)] for i, src in enumerate(sources)}
    links = [lk for lk in info["links"] if lk[0] != lk[1] and lk[3] > 0]
    fig = {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "valueformat": ",.0f",
                "node": {"label": nodes, "pad": 18, "thickness": 14, "color": "#999"},
                "link": {
                    "source": [index[a] for a, _, _, _ in links],
                    "target": [index[b] for _, b, _, _ in links],
                    "value": [v for _, _, _, v in links],
                    "label": [src for _, _, src, _ in links],
                    "color": [color[src] + "99" for _, _, src, _ in links],
                },
            }
        ],
        "layout": {**_LAYOUT, "height": 520},
    }
    totals: dict = {}
    for _, _, src, v in info["links"]:
        totals[src] = totals.get(src, 0.0) + v
    legend = ", ".join(
        f"<span style='color:{color[s]}'>&#9632;</span> {_e(s)} {_e(fmt(totals[s], ',.0f'))}" for s in sources
    )
    body = f"<p>Moves between stages over the horizon (flows.csv, summed over days), coloured by source: {legend}.</p>"
    return Section("flows", "Flows between stages by source", body, (Chart("chart-flows", fig),))


def _funnel_section(info: dict) -> Section:
    steps = info["funnel"]
    fig = {
        "data": [
            {
                "type": "bar",
                "name": "move on",
                "x": [f"{s['stage']} → {s['next']}" for s in steps],
                "y": [1 - s["drop_off"] for s in steps],
                "marker": {"color": _COLORS[2]},
            },
            {
                "type": "bar",
                "name": "drop off (lost or back)",
                "x": [f"{s['stage']} → {s['next']}" for s in steps],
                "y": [s["drop_off"] for s in steps],
                "marker": {"color": _COLORS[3]},
            },
        ],
        "layout": {
            **_LAYOUT,
            "barmode": "stack",
            "height": 360,
            "yaxis": {"tickformat": ".0%", "title": {"text": "share of moves out"}},
        },
    }
    rows = [
        [
            _e(s["stage"]),
            _e(s["next"]),
            _e(fmt(s["moves_out"], ",.0f")),
            _e(fmt(s["moves_on"], ",.0f")),
            _e(fmt(s["drop_off"], ".1%")),
        ]
        for s in steps
    ]
    body = (
        "<p>Each step: of the moves out of a stage (flows.csv, over the horizon), the share to the next stage "
        "and the drop-off (to any other stage: lost, or back a step). Cart abandonment is the drop-off of the "
        "cart step.</p>" + _table(["stage", "next stage", "moves out", "moves on", "drop-off"], rows, numeric_from=2)
    )
    return Section("funnel", "Funnel and drop-off", body, (Chart("chart-funnel", fig),))


def _touchpoint_section(info: dict) -> Section:
    tps = info["touchpoints"]
    cur = info["currency"]
    names = [t["touchpoint"] for t in tps]
    fig = {
        "data": [
            {"type": "bar", "name": f"spend ({cur})", "x": names, "y": [t.get("cost") for t in tps]},
            {
                "type": "bar",
                "name": f"incremental revenue ({cur})",
                "x": names,
                "y": [t.get("incremental_revenue") for t in tps],
            },
        ],
        "layout": {**_LAYOUT, "barmode": "group", "height": 380, "yaxis": {"tickformat": ",.0f"}},
    }
    rows = [
        [
            _e(t["touchpoint"]),
            _e(t.get("kind", "")),
            _e(fmt(t.get("cost"), ",.0f")),
            _e(fmt(t.get("engagements"), ",.0f")),
            _e(fmt(t.get("moves_caused"), ",.0f")),
            _e(fmt(t.get("incremental_revenue"), ",.0f")),
            _e(fmt(t.get("incremental_roi"), ".0%")),
        ]
        for t in tps
    ]
    body = (
        "<p>touchpoints.csv: spend, engaged exposures, moves the touchpoint caused, and its incremental revenue "
        "and ROI (the expected-value model with and without it, ROI on its cost).</p>"
        + _table(
            ["touchpoint", "kind", f"spend ({cur})", "engaged", "moves caused", f"incr. revenue ({cur})", "incr. ROI"],
            rows,
            numeric_from=2,
        )
    )
    return Section("touchpoints", "Touchpoints", body, (Chart("chart-touchpoints", fig),))


def _mean(est):
    return (est or {}).get("mean")


def _service_section(info: dict) -> Section:
    svs = info["services"]
    names = [s["service"] for s in svs]
    charts = []
    for i, (name, d) in enumerate(info["service_daily"].items()):
        fig = {
            "data": [
                {"type": "scatter", "mode": "lines", "name": "requests", "x": d["day"], "y": d["requests"]},
                {"type": "scatter", "mode": "lines", "name": "abandoned", "x": d["day"], "y": d["abandoned"]},
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "mean wait (h)",
                    "x": d["day"],
                    "y": d["mean_wait_hours"],
                    "yaxis": "y2",
                    "line": {"dash": "dot"},
                },
            ],
            "layout": {
                **_LAYOUT,
                "height": 340,
                "title": {"text": f"{name}: per day (service_daily.csv)", "font": {"size": 13}},
                "xaxis": {"title": {"text": "day"}},
                "yaxis": {"title": {"text": "requests per day"}, "tickformat": ",.0f"},
                "yaxis2": {"title": {"text": "mean wait (hours)"}, "overlaying": "y", "side": "right"},
                "legend": {"orientation": "h", "y": -0.3},
            },
        }
        charts.append(Chart(f"chart-service-{i}", fig))
    if not charts:
        charts.append(
            Chart(
                "chart-services",
                {
                    "data": [
                        {
                            "type": "bar",
                            "name": "abandonment rate",
                            "x": names,
                            "y": [_mean(s.get("abandonment_rate")) for s in svs],
                        }
                    ],
                    "layout": {
                        **_LAYOUT,
                        "height": 320,
                        "yaxis": {"tickformat": ".0%", "title": {"text": "abandoned / requests"}},
                    },
                },
            )
        )
    rows = [
        [
            _e(s["service"]),
            _e(fmt(_mean(s.get("requests")), ",.0f")),
            _e(fmt(_mean(s.get("served")), ",.0f")),
            _e(fmt(_mean(s.get("abandoned")), ",.0f")),
            _e(fmt(_mean(s.get("abandonment_rate")), ".1%")),
            _e(fmt(_mean(s.get("mean_wait_hours")), ",.2f")),
            _e(fmt(_mean(s.get("utilisation")), ".0%")),
            _e(s.get("resolution", "")),
        ]
        for s in svs
    ]
    body = "<p>services.csv: the queues of service touchpoints (means over replications).</p>" + _table(
        ["service", "requests", "served", "abandoned", "abandon rate", "mean wait (h)", "utilisation", "model"], rows
    )
    return Section("services", "Services: waits and abandonment", body, tuple(charts))


_PCT = {"conversion_rate", "retention_rate", "roi"}


def _diff(x, pct: bool) -> str:
    """A difference: rates in percentage points (``+0.39 pp``), other metrics with two decimals."""
    return fmt(100 * x, "+,.2f") + " pp" if pct and finite(x) else fmt(x, "+,.2f")


def _compare_sections(info: dict) -> list[Section]:
    out = []
    for vi, v in enumerate(info["variants"]):
        rows, names, rel, lo, hi = [], [], [], [], []
        for r in v["rows"]:
            pct = r["metric"] in _PCT
            spec = ".2%" if pct else ",.2f"
            verdict = "real" if r["real"] else ("noise" + (f" (~{r['reps_needed']} reps)" if r["reps_needed"] else ""))
            rows.append(
                [
                    _e(r["metric"]),
                    _e(fmt(r["baseline"], spec)),
                    _e(fmt(r["variant"], spec)),
                    _e(_diff(r["difference"], pct)),
                    _e(f"[{_diff(r['low'], pct)}, {_diff(r['high'], pct)}]" if finite(r["low"]) else ""),
                    _e(verdict),
                ]
            )
            b = r["baseline"]
            if finite(b) and b != 0 and finite(r["difference"]):
                names.append(r["metric"])
                rel.append(r["difference"] / abs(b))
                lo.append((r["difference"] - r["low"]) / abs(b) if finite(r["low"]) else 0.0)
                hi.append((r["high"] - r["difference"]) / abs(b) if finite(r["high"]) else 0.0)
        fig = {
            "data": [
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": rel,
                    "y": names,
                    "error_x": {"type": "data", "symmetric": False, "array": hi, "arrayminus": lo},
                    "marker": {"color": _COLORS[0], "size": 9},
                    "name": v["name"],
                }
            ],
            "layout": {
                **_LAYOUT,
                "height": max(300, 26 * len(names) + 80),
                "margin": {"l": 140, "r": 20, "t": 30, "b": 50},
                "xaxis": {
                    "tickformat": ".1%",
                    "title": {"text": "difference / baseline (95% interval)"},
                    "zeroline": True,
                },
                "yaxis": {"autorange": "reversed"},
            },
        }
        changes = ", ".join(f"{k}={val}" for k, val in v["overrides"].items())
        body = (
            f"<p>{_e(v['name'])} against the baseline {_e(info['baseline'])} ({_e(info['settings'])})"
            + (f"; changes: {_e(changes)}" if changes else "")
            + ". Differences are paired (common random numbers); real: the 95% interval excludes 0.</p>"
            + _table(["metric", "baseline", v["name"], "difference", "95% interval", "verdict"], rows)
        )
        out.append(
            Section(f"compare-{vi}", f"Comparison: {v['name']} − baseline", body, (Chart(f"chart-compare-{vi}", fig),))
        )
    return out


def _optimise_sections(info: dict) -> list[Section]:
    out = []
    names = list(info["allocation"])
    alloc_fig = {
        "data": [
            {"type": "bar", "x": names, "y": [info["allocation"][n] for n in names], "marker": {"color": _COLORS[0]}}
        ],
        "layout": {**_LAYOUT, "height": 320, "yaxis": {"tickformat": ",.0f", "title": {"text": "spend"}}},
    }
    metrics = list(info["objectives"])
    rows = []
    for r in info["comparison"]:
        cells = [_e(r["split"])]
        for m in metrics:
            est = r["metrics"].get(m) or {}
            cells.append(_e(f"{fmt_number(est.get('mean'))} {_interval_n(est.get('low'), est.get('high'))}"))
        rows.append(cells)
    mrows = [
        [
            _e(m.get("name")),
            _e(fmt(m.get("spend"), ",.0f")),
            _e(fmt_number(m.get("marginal"))),
            _e(fmt(m.get("cost_per_conversion"), ",.2f")),
            _e(m.get("bound") or ""),
        ]
        for m in info["marginals"]
    ]
    body = (
        f"<p>{_e(info['scenario'])}: budget {_e(fmt(info['budget'], ',.0f'))}, objective "
        f"{_e(', '.join(f'{d} {m}' for d, m in zip(info['directions'], metrics)))} (allocation.json).</p>"
        + _table(["split", *metrics], rows)
        + "<h3>Marginal returns at the optimum</h3>"
        + _table(["touchpoint", "spend", "marginal return per unit", "cost per extra conversion", "bound"], mrows)
    )
    out.append(Section("allocation", "Optimiser: allocation", body, (Chart("chart-allocation", alloc_fig),)))
    if info["curves"]:
        charts = []
        marg = {m.get("name"): m for m in info["marginals"]}
        value = info["value"][0] if info["value"] else None
        for i, (name, curve) in enumerate(info["curves"].items()):
            xs, ys = curve["spend"], curve["value"]
            x0, slope = info["allocation"].get(name), (marg.get(name) or {}).get("marginal")
            data = [{"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": name}]
            if finite(x0) and finite(value):
                data.append({"type": "scatter", "mode": "markers", "x": [x0], "y": [value], "name": "optimum"})
                if finite(slope) and xs:
                    half = 0.25 * (max(xs) - min(xs))
                    a, b = (
                        max(min(xs), x0 - half),
                        min(max(xs), x0 + half),
                    )  # the tangent stays within the curve's spend
                    data.append(
                        {
                            "type": "scatter",
                            "mode": "lines",
                            "x": [a, b],
                            "y": [value + slope * (a - x0), value + slope * (b - x0)],
                            "line": {"dash": "dash"},
                            "name": f"marginal {fmt_number(slope)}",
                        }
                    )
            cpc = (marg.get(name) or {}).get("cost_per_conversion")
            title = f"{name}: marginal {fmt_number(slope)} per unit" + (
                f", {fmt(cpc, ',.0f')} per extra conversion" if finite(cpc) else ""
            )
            charts.append(
                Chart(
                    f"chart-curve-{i}",
                    {
                        "data": data,
                        "layout": {
                            **_LAYOUT,
                            "height": 300,
                            "title": {"text": title, "font": {"size": 13}},
                            "showlegend": False,
                            "xaxis": {"tickformat": ",.0f", "title": {"text": "spend over the horizon"}},
                            "yaxis": {"tickformat": ",.4~r", "title": {"text": metrics[0] if metrics else ""}},
                        },
                    },
                )
            )
        body = (
            "<p>The first objective against each touchpoint's spend, the others held at the optimum "
            "(allocation.json → response_curves); dashed: the tangent whose slope is the marginal return.</p>"
        )
        out.append(Section("response-curves", "Response curves and marginal return", body, tuple(charts)))
    if info["pareto"] and info["pareto"]["front"]:
        p = info["pareto"]
        fig = {
            "data": [
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": p["trials"][0],
                    "y": p["trials"][1],
                    "name": "trials",
                    "marker": {"color": "#aaa"},
                },
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": p["front"][0],
                    "y": p["front"][1],
                    "name": "Pareto front",
                },
            ],
            "layout": {
                **_LAYOUT,
                "height": 380,
                "xaxis": {"title": {"text": metrics[0]}},
                "yaxis": {"title": {"text": metrics[1]}},
            },
        }
        out.append(
            Section("pareto", "Pareto front", "<p>trials.csv and pareto.csv.</p>", (Chart("chart-pareto", fig),))
        )
    if info["history"]:
        h = info["history"]
        best, run = [], None
        maximise = not info["directions"] or info["directions"][0] == "maximize"
        for v in h["value"]:
            if v is not None and (run is None or (v > run if maximise else v < run)):
                run = v
            best.append(run)
        fig = {
            "data": [
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": h["trial"],
                    "y": h["value"],
                    "name": "trial",
                    "marker": {"color": "#999"},
                },
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": h["trial"],
                    "y": best,
                    "name": "best so far",
                    "line": {"shape": "hv"},
                },
            ],
            "layout": {
                **_LAYOUT,
                "height": 340,
                "xaxis": {"title": {"text": "trial"}},
                "yaxis": {"title": {"text": metrics[0]}},
            },
        }
        out.append(
            Section(
                "history",
                "Optimisation history",
                "<p>trials.csv (completed trials).</p>",
                (Chart("chart-history", fig),),
            )
        )
    return out


def _attribution_sections(info: dict) -> list[Section]:
    methods = info["methods"]
    rows = [
        [
            _e(r["touchpoint"]),
            _e(fmt(r.get("incremental"), ",.1f")),
            _e(_interval(r.get("low"), r.get("high"), ",.1f")),
            *(_e(fmt(r.get(m), ",.1f")) for m in methods),
        ]
        for r in info["rows"]
    ]
    names = [r["touchpoint"] for r in info["rows"]]
    data = [
        {
            "type": "bar",
            "name": "true incremental",
            "x": names,
            "y": [r.get("incremental") for r in info["rows"]],
            "error_y": {
                "type": "data",
                "symmetric": False,
                "array": [(r["high"] - r["incremental"]) if finite(r.get("high")) else 0 for r in info["rows"]],
                "arrayminus": [(r["incremental"] - r["low"]) if finite(r.get("low")) else 0 for r in info["rows"]],
            },
        },
        *({"type": "bar", "name": m, "x": names, "y": [r.get(m) for r in info["rows"]]} for m in methods),
    ]
    fig = {
        "data": data,
        "layout": {
            **_LAYOUT,
            "barmode": "group",
            "height": 380,
            "yaxis": {"title": {"text": "conversions"}, "tickformat": ",.0f"},
        },
    }
    body = (
        "<p>Each method's attributed conversions (scaled to the population) beside the true incremental "
        "conversions of the simulation (attribution.json → against_truth).</p>"
        + _table(["touchpoint", "true incremental", "95% interval", *methods], rows)
    )
    return [Section("attribution", "Attribution against truth", body, (Chart("chart-attribution", fig),))]


def _channel_sections(info: dict) -> list[Section]:
    names = [c["channel"] for c in info["channels"]]
    fig = {
        "data": [
            {"type": "bar", "name": label, "x": names, "y": [c.get(k) for c in info["channels"]]}
            for k, label in info["methods"]
        ],
        "layout": {
            **_LAYOUT,
            "barmode": "group",
            "height": 380,
            "yaxis": {"title": {"text": "conversions"}, "tickformat": ",.0f"},
        },
    }
    rows = [[_e(c["channel"]), *(_e(fmt(c.get(k), ",.1f")) for k, _ in info["methods"])] for c in info["channels"]]
    body = (
        f"<p>{_e(fmt(info['total_conversions'], ',.0f'))} conversions on {_e(fmt(info['n_paths'], ',.0f'))} paths, "
        "split among the channels by each method (attribution.json → channels).</p>"
        + _table(["channel", *(label for _, label in info["methods"])], rows)
        + "".join(f"<p class='sub'>{_e(n)}</p>" for n in info["notes"])
    )
    return [Section("channels", "Attribution by method", body, (Chart("chart-channels", fig),))]


def _sweep_sections(info: dict) -> list[Section]:
    out = []
    first = info["keys"][0] if info["keys"] else ""
    for mi, metric in enumerate(info["metrics"]):
        data = []
        for si, (rest, rows) in enumerate(info["series"].get(metric, {}).items()):
            name = ", ".join(f"{k}={_value(v)}" for k, v in rest) or metric
            xs = [r.get(first) for r in rows]
            color = _COLORS[si % len(_COLORS)]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "x": xs,
                    "y": [r.get("mean") for r in rows],
                    "name": name,
                    "line": {"color": color},
                    "error_y": {
                        "type": "data",
                        "symmetric": False,
                        "array": [_gap(r.get("high"), r.get("mean")) for r in rows],
                        "arrayminus": [_gap(r.get("mean"), r.get("low")) for r in rows],
                    },
                }
            )
        fig = {
            "data": data,
            "layout": {
                **_LAYOUT,
                "height": 360,
                "xaxis": {"title": {"text": first}},
                "yaxis": {"title": {"text": metric}, "tickformat": ",.4~r"},
            },
        }
        out.append(Section(f"sweep-{mi}", f"Sweep: {metric}", "", (Chart(f"chart-sweep-{mi}", fig),)))
    rows = [
        [
            *(_e(_value(r.get(k))) for k in info["keys"]),
            _e(r.get("metric")),
            _e(fmt_number(r.get("mean"))),
            _e(_interval_n(r.get("low"), r.get("high"))),
            _e(fmt_number(r.get("difference"))),
        ]
        for r in info["rows"]
    ]
    table = _table(
        [*info["keys"], "metric", "mean", "95% interval", "difference to the first point"],
        rows,
        numeric_from=len(info["keys"]) + 1,
    )
    body = f"<p>{_e(info['scenario'])}: every grid point (sweep.json → rows), with its 95% interval.</p>{table}"
    if out:
        out[0] = out[0]._replace(body=body)
    return out


def _gap(a, b) -> float:
    return a - b if finite(a) and finite(b) else 0.0


def _sensitivity_sections(info: dict) -> list[Section]:
    out = []
    main = info["main"]
    for mi, metric in enumerate(info["metrics"]):
        rows = sorted((r for r in info["rows"] if r["metric"] == metric), key=lambda r: abs(r.get(main) or 0))
        fig = {
            "data": [
                {
                    "type": "bar",
                    "orientation": "h",
                    "x": [r.get(main) for r in rows],
                    "y": [r["param"] for r in rows],
                    "marker": {"color": _COLORS[0]},
                }
            ],
            "layout": {
                **_LAYOUT,
                "height": max(260, 32 * len(rows) + 90),
                "margin": {"l": 220, "r": 20, "t": 30, "b": 50},
                "xaxis": {"title": {"text": f"{main} of {metric}"}},
            },
        }
        table = _table(
            ["parameter", *info["fields"]],
            [[_e(r["param"]), *(_e(fmt_number(r.get(f))) for f in info["fields"])] for r in reversed(rows)],
        )
        body = f"<p>Method {_e(info['method'])} (sensitivity.json → indices); drawn: {_e(main)}.</p>{table}"
        out.append(Section(f"sensitivity-{mi}", f"Sensitivity of {metric}", body, (Chart(f"chart-sens-{mi}", fig),)))
    return out


def _calibration_sections(info: dict) -> list[Section]:
    rows = []
    for key, p in info["parameters"].items():
        box = info["fit"].get(key) or [None, None]
        rows.append(
            [
                _e(key),
                _e(fmt_number(p.get("estimate"))),
                _e(_interval_n(p.get("low"), p.get("high"))),
                _e(_interval_n(box[0], box[1])),
                _e("yes" if p.get("identifiable", True) else "no"),
            ]
        )
    body = (
        f"<p>Method {_e(info['method'])}; deviance {_e(fmt_number(info['deviance']))} on "
        f"{_e(info['n_observations'])} observations (calibration.json).</p>"
        + _table(["field", "estimate", "95% interval", "searched", "identifiable"], rows)
        + "".join(f"<p class='sub'>warning: {_e(w)}</p>" for w in info["warnings"])
    )
    return [Section("calibration", "Calibration", body, ())]


def report_sections(files: dict) -> list[Section]:
    """The sections of the files a folder holds (see :func:`read_folder`), in page order."""
    out = []
    if "summary.json" in files:
        out += _run_sections(get_run_info(files))
    if "compare.json" in files:
        out += _compare_sections(get_compare_info(files))
    if "allocation.json" in files:
        out += _optimise_sections(get_optimise_info(files))
    if "attribution.json" in files:
        out += _channel_sections(get_channel_info(files))
        info = get_attribution_info(files)
        if info is not None:
            out += _attribution_sections(info)
    if "sweep.json" in files:
        out += _sweep_sections(get_sweep_info(files))
    if "sensitivity.json" in files:
        out += _sensitivity_sections(get_sensitivity_info(files))
    if "calibration.json" in files:
        out += _calibration_sections(get_calibration_info(files))
    return out


def plotly_js() -> str:
    """plotly.min.js from the plotly package (embedded so that the page opens offline)."""
    from importlib.resources import files as package_files

    return (package_files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def _json_script(obj) -> str:
    """JSON for an inline <script> (no ``</`` that would end it; NaN and infinities as null)."""
    from ..io import to_json

    return to_json(obj).replace("</", "<\\/")


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:22px}
nav{padding:6px 24px;background:#eceff1;font-size:13px}nav a{margin-right:14px;color:#37474f}
main{padding:8px 24px;max-width:1200px}section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;
margin:14px 0;padding:10px 18px}h2{font-size:18px;margin:6px 0}h3{font-size:15px}p{font-size:14px;line-height:1.4}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:3px 10px;border-bottom:1px solid #eee;
text-align:left;white-space:nowrap}.num{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}.card{border:1px solid #cfd8dc;border-radius:6px;
padding:8px 12px;min-width:160px}.card .label{font-size:12px;color:#546e7a}.card .value{font-size:22px;font-weight:600}
.card .interval{font-size:12px;color:#78909c}.card.warn{border-color:#e57373}.chart{width:100%;min-height:300px}
.sub{color:#546e7a}footer{font-size:12px;color:#78909c;padding:12px 24px}
"""


def render_html(title: str, sections: list[Section], folder_name: str = "") -> str:
    """The page: a header, a contents line, the sections, plotly.js once and one ``Plotly.newPlot`` per chart."""
    nav = "".join(f"<a href='#{_e(s.id)}'>{_e(s.title)}</a>" for s in sections)
    parts = []
    for s in sections:
        charts = "".join(_chart_div(c) for c in s.charts)
        parts.append(f"<section id='{_e(s.id)}'><h2>{_e(s.title)}</h2>{s.body}{charts}</section>")
    figures = {c.id: c.figure for s in sections for c in s.charts}
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1></header><nav>{nav}</nav><main>{''.join(parts)}</main>"
        f"<footer>Written by jsim from the files of {_e(folder_name)}; "
        "every number is a number in those files.</footer>"
        f"<script>{plotly_js()}</script>"
        f"<script id='jsim-figures' type='application/json'>{_json_script(figures)}</script>"
        "<script>(function(){var figs=JSON.parse(document.getElementById('jsim-figures').textContent);"
        "Object.keys(figs).forEach(function(id){var f=figs[id];"
        "Plotly.newPlot(id,f.data,f.layout,{displaylogo:false,responsive:true,showLink:false});});})();</script>"
        "</body></html>\n"
    )


_KINDS = {
    "summary.json": "run",
    "compare.json": "comparison",
    "allocation.json": "optimisation",
    "attribution.json": "attribution",
    "sweep.json": "sweep",
    "sensitivity.json": "sensitivity",
    "calibration.json": "calibration",
}


def build_report(folder, label=None) -> str:
    """The HTML page of the jsim output folder ``folder`` (see :func:`read_folder` for its errors);
    ``label`` names the folder on the page (default: its name)."""
    files = read_folder(folder)
    sections = report_sections(files)
    name = None
    for key, doc_key in (
        ("summary.json", "scenario"),
        ("compare.json", "baseline"),
        ("allocation.json", "scenario"),
        ("sweep.json", "scenario"),
        ("sensitivity.json", "scenario"),
        ("calibration.json", "scenario"),
    ):
        if key in files:
            name = files[key].get(doc_key)
            break
    kind = _KINDS[next(k for k in REPORT_SOURCES if k in files)]
    label = label or Path(folder).name
    title = f"jsim report: {name or label} ({kind})"
    return render_html(title, sections, label)


def write_html_report(folder, path=None, *, label=None) -> Path:
    """Build the report of ``folder`` and write it atomically to ``path``; returns the path written.

    Without ``path`` it is ``folder/report.html``, added to the folder's set of files
    (:func:`jsim.io.add_to_set`: the next set written there replaces it). Nothing is written when
    the folder cannot be reported on (:class:`~jsim.errors.InputError`, see :func:`read_folder`);
    :class:`~jsim.errors.OutputError` when the file cannot be written. ``label`` names the folder on the
    page (for a staging folder, the folder it becomes).
    """
    from ..errors import OutputError
    from ..io import add_to_set, atomic_write

    if path is not None and Path(path).resolve() == (Path(folder) / REPORT_NAME).resolve():
        path = None  # the folder's own report: it joins the set
    if path is not None and not Path(path).resolve().parent.is_dir():
        raise InputError(
            f"report file {path}: its folder {Path(path).parent} does not exist (create it, or choose another path)",
            params=("report_out",),
        )
    text = build_report(folder, label)
    if path is None:
        return add_to_set(folder, REPORT_NAME, text)
    target = Path(path)
    try:
        atomic_write(target, text)
    except OSError as exc:
        raise OutputError(
            f"report file {path}: cannot be written: {exc.strerror or exc} "
            "(choose a path in a folder you can write to)",
            params=("report_out",),
        ) from exc
    return target


def report_into_set(staging, out_dir) -> str:
    """Write ``report.html`` into ``staging``, the folder :func:`jsim.io.output_set` gives for ``out_dir``,
    from the files already written there; returns its name (``--report`` on a command)."""
    write_html_report(staging, Path(staging) / REPORT_NAME, label=Path(out_dir).name)
    return REPORT_NAME
