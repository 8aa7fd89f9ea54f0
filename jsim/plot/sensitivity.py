"""The chart of ``jsim sensitivity``: a tornado (oat), mu* against sigma (morris) or S1/ST bars (sobol)."""

from __future__ import annotations

__all__ = ["SensitivityInfo", "get_sensitivity_info", "plot_sensitivity"]

from typing import NamedTuple

import numpy as np

from .figure import save_figure

#: per method, the figures :class:`SensitivityInfo` carries (its ``values`` axis 2), then their half-widths
_FIELDS = {
    "oat": (("at_low", "at_high", "swing"), (None, None, None)),
    "morris": (("mu_star", "sigma", "mu"), ("mu_star_conf", None, None)),
    "sobol": (("S1", "ST"), ("S1_conf", "ST_conf")),
}


class SensitivityInfo(NamedTuple):
    """``method``; ``metrics (m,)``, ``params (p,)``; ``fields (f,)`` the method's figures: oat
    ``at_low, at_high, swing``, morris ``mu_star, sigma, mu``, sobol ``S1, ST``; ``values (m, p, f)``
    and ``half_widths (m, p, f)`` of their 95% intervals (NaN where there is none); ``baseline (m,)``
    the metric as in the file (oat, else NaN)."""

    method: str
    metrics: tuple
    params: tuple
    fields: tuple
    values: np.ndarray
    half_widths: np.ndarray
    baseline: np.ndarray


def get_sensitivity_info(result) -> SensitivityInfo:
    """The data :func:`plot_sensitivity` draws."""
    names, confs = _FIELDS[result.method]
    metrics = tuple(m.name for m in result.metrics)
    params = tuple(p.key for p in result.params)
    shape = (len(metrics), len(params), len(names))
    values, half = np.full(shape, np.nan), np.full(shape, np.nan)
    mi = {m: i for i, m in enumerate(metrics)}
    pi = {p: i for i, p in enumerate(params)}
    for row in result.rows:
        i, j = mi[row["metric"]], pi[row["param"]]
        for k, (name, conf) in enumerate(zip(names, confs)):
            values[i, j, k] = np.nan if row[name] is None else row[name]
            if conf is not None and row[conf] is not None:
                half[i, j, k] = row[conf]
        if result.method == "oat" and row["swing_low"] is not None and row["swing_high"] is not None:
            half[i, j, 2] = (row["swing_high"] - row["swing_low"]) / 2
    baseline = np.array([np.nan if result.baseline.get(m) is None else result.baseline[m] for m in metrics])
    return SensitivityInfo(result.method, metrics, params, names, values, half, baseline)


def plot_sensitivity(result, path) -> None:
    """Draw one panel per metric into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = get_sensitivity_info(result)
    n = len(info.metrics)
    cols = min(n, 2)
    rows = -(-n // cols)
    height = 1.6 + 0.45 * len(info.params)
    fig, axes = plt.subplots(rows, cols, figsize=(7.5 * cols, max(3.5, height) * rows), squeeze=False)
    draw = {"oat": _tornado, "morris": _morris, "sobol": _sobol}[info.method]
    for k in range(n):
        draw(axes[k // cols][k % cols], info, k)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(f"{result.scenario_name}: sensitivity ({info.method}, engine {result.engine})", fontsize="medium")
    fig.tight_layout()
    save_figure(fig, path)


def _tornado(ax, info: SensitivityInfo, k: int) -> None:
    base = info.baseline[k]
    low, high = info.values[k, :, 0] - base, info.values[k, :, 1] - base
    order = np.argsort(-np.abs(np.nan_to_num(info.values[k, :, 2])))
    y = np.arange(len(order))
    ax.barh(y, low[order], color="C0", label="at LOW")
    ax.barh(y, high[order], color="C3", label="at HIGH")
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_yticks(y, [info.params[j] for j in order], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(f"change of {info.metrics[k]} from {base:.4g} (the file's value)")
    ax.set_title(info.metrics[k])
    ax.legend(loc="best", fontsize="small")
    ax.grid(axis="x", alpha=0.3)


def _morris(ax, info: SensitivityInfo, k: int) -> None:
    mu_star, sigma, conf = info.values[k, :, 0], info.values[k, :, 1], info.half_widths[k, :, 0]
    ax.errorbar(mu_star, sigma, xerr=np.nan_to_num(conf), fmt="o", capsize=3)
    for j, name in enumerate(info.params):
        if np.isfinite(mu_star[j]) and np.isfinite(sigma[j]):
            ax.annotate(name, (mu_star[j], sigma[j]), fontsize="x-small", xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("mu* (mean absolute effect over LOW..HIGH, 95% interval)")
    ax.set_ylabel("sigma (interactions, non-linearity)")
    ax.set_title(info.metrics[k])
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _sobol(ax, info: SensitivityInfo, k: int) -> None:
    y = np.arange(len(info.params))
    h = 0.38
    for f, (label, colour) in enumerate((("S1", "C0"), ("ST", "C1"))):
        x = info.values[k, :, f]
        err = info.half_widths[k, :, f]
        ax.barh(
            y - h / 2 + f * h, np.nan_to_num(x), height=h, color=colour, label=label, xerr=np.nan_to_num(err), capsize=3
        )
    ax.set_yticks(y, info.params, fontsize="small")
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", linewidth=1)
    ax.set_xlabel("Sobol index with its 95% interval")
    ax.set_title(info.metrics[k])
    ax.legend(loc="best", fontsize="small")
    ax.grid(axis="x", alpha=0.3)
