"""The chart of ``jsim sweep``: each metric against one KEY with its 95% band, or a heat map over two KEYs."""

from __future__ import annotations

__all__ = ["SweepInfo", "get_sweep_info", "plot_sweep"]

from typing import NamedTuple

import numpy as np

from .figure import save_figure


class SweepInfo(NamedTuple):
    """``keys (k,)`` swept (one or two), ``values`` per KEY, ``metrics (m,)``; ``mean``, ``low``, ``high``
    of shape ``(m, n1)`` for one KEY or ``(m, n1, n2)`` for two (rows: first KEY's values), NaN
    where a value is missing; ``deterministic``: the intervals collapse onto the means."""

    keys: tuple
    values: tuple
    metrics: tuple
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    deterministic: bool


def get_sweep_info(sweep) -> SweepInfo:
    """The data :func:`plot_sweep` draws: the means and 95% bounds on the grid, per metric."""
    keys = tuple(sweep.keys)
    values = tuple(tuple(p.values) for p in sweep.params)
    metrics = tuple(m.name for m in sweep.metrics)
    shape = (len(metrics), *(len(v) for v in values))
    arrays = {name: np.full(shape, np.nan) for name in ("mean", "low", "high")}
    index = [{v: i for i, v in enumerate(vals)} for vals in values]
    m_index = {name: i for i, name in enumerate(metrics)}
    for row in sweep.rows:
        at = (m_index[row["metric"]], *(index[k][row[key]] for k, key in enumerate(keys)))
        for name, arr in arrays.items():
            x = row[name]
            arr[at] = np.nan if x is None else x
    return SweepInfo(keys, values, metrics, arrays["mean"], arrays["low"], arrays["high"], sweep.deterministic)


def plot_sweep(sweep, path) -> None:
    """Draw one panel per metric into ``path``: a line with its 95% band (one KEY) or a heat map (two)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = get_sweep_info(sweep)
    n = len(info.metrics)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.8 * rows), squeeze=False)
    for k, metric in enumerate(info.metrics):
        ax = axes[k // cols][k % cols]
        if len(info.keys) == 1:
            _line(ax, info, k)
        else:
            _heat(fig, ax, info, k)
        ax.set_title(metric)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    how = "exact expected values" if info.deterministic else "means with 95% intervals, common random numbers"
    fig.suptitle(f"{sweep.runs[0].scenario_name}: sweep ({how})", fontsize="medium")
    fig.tight_layout()
    save_figure(fig, path)


def _line(ax, info: SweepInfo, k: int) -> None:
    x = np.asarray(info.values[0], dtype=float)
    ax.plot(x, info.mean[k], marker="o", color="C0")
    if not info.deterministic:
        ax.fill_between(x, info.low[k], info.high[k], color="C0", alpha=0.25, linewidth=0, label="95% interval")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel(info.keys[0])
    ax.grid(alpha=0.3)
    if all(isinstance(v, int) for v in info.values[0]):
        ax.set_xticks(x)


def _heat(fig, ax, info: SweepInfo, k: int) -> None:
    mean = info.mean[k]
    im = ax.imshow(mean, origin="lower", aspect="auto", cmap="viridis")
    fig.colorbar(im, ax=ax, shrink=0.85)
    v1, v2 = info.values
    ax.set_yticks(range(len(v1)), [f"{v:g}" for v in v1])
    ax.set_xticks(range(len(v2)), [f"{v:g}" for v in v2])
    ax.set_ylabel(info.keys[0])
    ax.set_xlabel(info.keys[1])
    if mean.size <= 100:  # annotate the mean and the half-width of its interval where the cells are large enough
        half = (info.high[k] - info.low[k]) / 2
        top = np.nanmax(mean) if np.isfinite(mean).any() else 0.0
        bottom = np.nanmin(mean) if np.isfinite(mean).any() else 0.0
        for i in range(mean.shape[0]):
            for j in range(mean.shape[1]):
                if not np.isfinite(mean[i, j]):
                    continue
                text = f"{mean[i, j]:.4g}"
                if not info.deterministic and np.isfinite(half[i, j]):
                    text += f"\n±{half[i, j]:.2g}"
                light = mean[i, j] < bottom + 0.6 * (top - bottom)
                ax.text(j, i, text, ha="center", va="center", fontsize="x-small", color="white" if light else "black")
