"""The chart of ``jsim compare``: each variant's paired difference to the baseline, per metric, with its interval.

Metrics have different units, so each difference is drawn relative to the baseline's mean
(``+3%``: the variant has 3% more of it); the interval is the paired 95% interval, scaled alike.
"""

from __future__ import annotations

__all__ = ["CompareInfo", "get_compare_info", "plot_comparison"]

import math
from typing import NamedTuple

import numpy as np

from .figure import save_figure


class CompareInfo(NamedTuple):
    """``metrics (m,)``; per variant ``names (v,)``; ``relative (v, m)`` difference / baseline mean and its
    interval ``low (v, m)``, ``high (v, m)`` (NaN where the baseline mean is 0 or a value is missing);
    ``distinguishable (v, m)``."""

    baseline: str
    metrics: tuple
    names: tuple
    relative: np.ndarray
    low: np.ndarray
    high: np.ndarray
    distinguishable: np.ndarray


def get_compare_info(comparison) -> CompareInfo:
    """The data :func:`plot_comparison` draws: the ``metrics`` table of every variant, relative to the baseline."""
    base = {r["metric"]: r["mean"] for r in comparison.table(comparison.baseline.name, "metrics")}
    metrics = tuple(base)
    names = tuple(run.name for run in comparison.variants)
    shape = (len(names), len(metrics))
    rel, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    dist = np.zeros(shape, dtype=bool)
    for v, name in enumerate(names):
        rows = {r["metric"]: r for r in comparison.table(name, "metrics")}
        for k, metric in enumerate(metrics):
            row, ref = rows.get(metric), base[metric]
            if row is None or row["difference"] is None or ref is None or ref == 0 or not math.isfinite(ref):
                continue
            scale = 1.0 / abs(ref)
            rel[v, k] = row["difference"] * scale
            lo, hi = row["difference_low"], row["difference_high"]
            low[v, k] = rel[v, k] if lo is None else lo * scale
            high[v, k] = rel[v, k] if hi is None else hi * scale
            dist[v, k] = bool(row["distinguishable"])
    return CompareInfo(comparison.baseline.name, metrics, names, rel, low, high, dist)


def plot_comparison(comparison, path) -> None:
    """Draw the differences of every variant to the baseline with their 95% intervals into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = get_compare_info(comparison)
    n_m, n_v = len(info.metrics), max(len(info.names), 1)
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.42 * n_m * max(1, 0.6 * n_v)))
    height = 0.8 / n_v
    colours = plt.get_cmap("tab10")
    for v, name in enumerate(info.names):
        y = np.arange(n_m) - 0.4 + height * (v + 0.5)
        x = 100 * info.relative[v]
        err = np.vstack([x - 100 * info.low[v], 100 * info.high[v] - x])
        ok = np.isfinite(x)
        ax.errorbar(
            x[ok], y[ok], xerr=err[:, ok], fmt="none", ecolor=colours(v % 10), elinewidth=2, capsize=3, alpha=0.8
        )
        real = ok & info.distinguishable[v]
        ax.scatter(x[real], y[real], color=colours(v % 10), zorder=3, label=f"{name} (filled: real)")
        ax.scatter(
            x[ok & ~real], y[ok & ~real], facecolor="white", edgecolor=colours(v % 10), zorder=3, label="_nolegend_"
        )
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(np.arange(n_m), info.metrics)
    ax.invert_yaxis()
    ax.set_xlabel(f"difference to {info.baseline}, % of the baseline's mean (paired 95% interval)")
    ax.set_title(f"Variants against {info.baseline}: filled = distinguishable from noise, open = not")
    ax.grid(axis="x", alpha=0.3)
    if info.names:
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)
