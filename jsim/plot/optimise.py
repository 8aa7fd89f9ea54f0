"""Plots of a budget optimisation: Pareto front, optimisation history, response curves at the optimum.

``get_*_info`` return plain data (tested); ``plot_*`` only draw, and write each image atomically.
"""

from __future__ import annotations

__all__ = [
    "ParetoInfo",
    "HistoryInfo",
    "ResponseInfo",
    "get_pareto_info",
    "get_history_info",
    "get_response_info",
    "plot_pareto",
    "plot_history",
    "plot_response_curves",
    "BudgetCurveInfo",
    "get_budget_curve_info",
    "plot_budget_curve",
    "tangent_segment",
]

from typing import NamedTuple

import numpy as np

from ..io.numbers import fmt_number
from .figure import save_figure


class ParetoInfo(NamedTuple):
    """Every completed trial's objectives ``values (n, k)``, the Pareto-optimal ones ``front (m, k)``
    (sorted by the first objective), the chosen compromise ``best (k,)``, and the objective names."""

    metrics: tuple
    values: np.ndarray
    front: np.ndarray
    best: np.ndarray


class HistoryInfo(NamedTuple):
    """Trial numbers ``(n,)``, their first-objective values ``(n,)`` and the best value so far ``(n,)``."""

    metric: str
    direction: str
    trials: np.ndarray
    values: np.ndarray
    best_so_far: np.ndarray


class ResponseInfo(NamedTuple):
    """Per decision: ``spend (n,)``, objective ``value (n,)`` with the others held at the optimum,
    the optimum's spend and value, and the marginal return there (slope of the tangent)."""

    metric: str
    names: tuple
    spend: tuple
    value: tuple
    optimum_spend: np.ndarray
    optimum_value: float
    marginal: np.ndarray
    cost_per_conversion: np.ndarray | None = None


class BudgetCurveInfo(NamedTuple):
    """The best split's objective ``value (n,)`` and the rule's ``net`` value ``(n,)`` against the ``total (n,)``
    budget, the marginal net value of the total ``net_marginal (n,)`` (0 at break-even), the best total,
    the break-even total (or NaN) and the main study's budget (or NaN)."""

    metric: str
    rule: str
    currency: str
    total: np.ndarray
    value: np.ndarray
    net: np.ndarray
    net_marginal: np.ndarray
    best_total: float
    best_value: float
    break_even: float
    budget: float


def _values(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list, np.ndarray)) else (v,)


def get_pareto_info(report) -> ParetoInfo:
    """Data of :func:`plot_pareto` from an :class:`~jsim.optimise.study.OptimisationReport`."""
    res = report.result
    values = np.array([_values(v) for _, _, v in res.history], dtype=np.float64)
    front = np.array([_values(v) for _, v in (res.pareto or [])], dtype=np.float64).reshape(-1, values.shape[1])
    return ParetoInfo(tuple(report.objective.metrics), values, front, np.array(_values(res.value), dtype=np.float64))


def get_history_info(report) -> HistoryInfo:
    """Data of :func:`plot_history`: the first objective over the trials, and the best so far."""
    res = report.result
    direction = report.objective.directions[0]
    trials = np.array([n for n, _, _ in res.history], dtype=np.int64)
    values = np.array([_values(v)[0] for _, _, v in res.history], dtype=np.float64)
    best = np.maximum.accumulate(values) if direction == "maximize" else np.minimum.accumulate(values)
    return HistoryInfo(report.objective.metrics[0], direction, trials, values, best)


def get_response_info(report) -> ResponseInfo:
    """Data of :func:`plot_response_curves` from the report's curves and explanation."""
    names = tuple(report.curves)
    marginal = {r.name: r.marginal for r in report.explanation.marginals}
    cpc = {r.name: r.cost_per_conversion for r in report.explanation.marginals}
    return ResponseInfo(
        report.explanation.metric,
        names,
        tuple(report.curves[n][0] for n in names),
        tuple(report.curves[n][1] for n in names),
        np.array([report.allocation[n] for n in names], dtype=np.float64),
        float(report.explanation.value),
        np.array([marginal.get(n, np.nan) for n in names]),
        np.array([_or_nan(cpc.get(n)) for n in names]),
    )


def _or_nan(x) -> float:
    return np.nan if x is None else float(x)


def get_budget_curve_info(report) -> BudgetCurveInfo:
    """Data of :func:`plot_budget_curve` from the report's :class:`~jsim.optimise.budget.TotalSearch`."""
    search = report.total_search
    pts = search.points
    rule = search.rule
    return BudgetCurveInfo(
        report.objective.metrics[0],
        rule.threshold_text,
        rule.currency,
        np.array([p.total for p in pts]),
        np.array([p.value for p in pts]),
        np.array([p.net for p in pts]),
        np.array([p.net_marginal for p in pts]),
        search.best.total,
        search.best.value,
        _or_nan(search.break_even),
        _or_nan(search.budget),
    )


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(report, path) -> None:
    """Scatter of every trial on the first two objectives, the Pareto front and the chosen split."""
    plt = _plt()
    info = get_pareto_info(report)
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter(info.values[:, 0], info.values[:, 1], s=12, color="0.6", alpha=0.6, label="trials")
    if len(info.front):
        ax.plot(info.front[:, 0], info.front[:, 1], "o-", color="C0", ms=5, label="Pareto front")
    ax.plot(info.best[0], info.best[1], "*", color="C3", ms=16, label="chosen split")
    ax.set_xlabel(info.metrics[0])
    ax.set_ylabel(info.metrics[1])
    ax.set_title("Pareto front of the budget split")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def plot_history(report, path) -> None:
    """Each trial's value of the first objective and the best so far."""
    plt = _plt()
    info = get_history_info(report)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(info.trials, info.values, ".", color="0.55", label="trial")
    ax.step(info.trials, info.best_so_far, where="post", color="C0", lw=2, label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(info.metric)
    ax.set_title(f"Optimisation history ({info.direction} {info.metric})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def tangent_segment(spend, x0: float, y0: float, slope: float, share: float = 0.25):
    """The tangent at ``(x0, y0)`` with ``slope``, ``share`` of the plotted spend either side, clipped to
    the plotted spend ``[min(spend), max(spend)]``: ``(xs (2,), ys (2,))``, or None without a slope."""
    if not (np.isfinite(slope) and np.isfinite(x0) and len(spend)):
        return None
    lo, hi = float(np.min(spend)), float(np.max(spend))
    half = share * (hi - lo)
    a, b = max(lo, x0 - half), min(hi, x0 + half)
    return np.array([a, b]), np.array([y0 + slope * (a - x0), y0 + slope * (b - x0)])


def _tick(x, _pos=None) -> str:
    return fmt_number(x, 4)


def plot_response_curves(report, path) -> None:
    """One panel per decision: the objective against its spend (others at the optimum), the optimum
    and the tangent whose slope is the marginal return."""
    plt = _plt()
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    info = get_response_info(report)
    n = len(info.names)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for i, name in enumerate(info.names):
        ax = axes[i // cols][i % cols]
        xs, ys = info.spend[i], info.value[i]
        ax.plot(xs, ys, color="C0", lw=2)
        x0, y0, m = info.optimum_spend[i], info.optimum_value, info.marginal[i]
        ax.plot([x0], [y0], "o", color="C3")
        seg = tangent_segment(xs, x0, y0, m)
        if seg is not None:
            ax.plot(seg[0], seg[1], "--", color="C3", lw=1)
        title = f"{name}: marginal {fmt_number(m, 3)} per unit"
        if info.cost_per_conversion is not None and np.isfinite(info.cost_per_conversion[i]):
            title += f"\n{info.cost_per_conversion[i]:,.0f} per extra conversion"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("spend over the horizon")
        ax.set_ylabel(info.metric)
        ax.xaxis.set_major_formatter(FuncFormatter(_tick))  # 12,500 not 1.25 with a 1e4 offset
        ax.yaxis.set_major_formatter(FuncFormatter(_tick))
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.grid(alpha=0.3)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.tight_layout()
    save_figure(fig, path)


def plot_budget_curve(report, path) -> None:
    """The objective against the total budget (each total with its best split), the best total, the
    break-even total and the budget; below, the marginal net value of the total against 0."""
    plt = _plt()
    info = get_budget_curve_info(report)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    top.plot(info.total, info.value, ".-", color="C0", lw=2, label=f"{info.metric} (best split at each total)")
    top.plot([info.best_total], [info.best_value], "*", color="C3", ms=16, label=f"best total {info.best_total:,.0f}")
    bottom.plot(info.total, info.net_marginal, ".-", color="C2", lw=1.5)
    bottom.axhline(0.0, color="0.3", lw=1)
    for ax in (top, bottom):
        if np.isfinite(info.break_even):
            ax.axvline(info.break_even, color="C1", ls="--", lw=1.2, label=f"break-even {info.break_even:,.0f}")
        if np.isfinite(info.budget):
            ax.axvline(info.budget, color="0.5", ls=":", lw=1.2, label=f"budget {info.budget:,.0f}")
        ax.grid(alpha=0.3)
    top.set_ylabel(info.metric)
    top.set_title(f"{info.metric} against the total budget ({info.rule})")
    top.legend(fontsize=8)
    bottom.set_ylabel(f"marginal net {info.currency}\nper {info.currency} of total")
    bottom.set_xlabel(f"total budget ({info.currency})")
    from matplotlib.ticker import FuncFormatter

    for ax in (top, bottom):  # 12,500 not 1.25 with a 1e4 offset, as on the response curves
        ax.xaxis.set_major_formatter(FuncFormatter(_tick))
        ax.yaxis.set_major_formatter(FuncFormatter(_tick))
    fig.tight_layout()
    save_figure(fig, path)
