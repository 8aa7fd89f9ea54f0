"""The chart of ``jsim calibrate``: each observed series with the engine's series at the fitted values."""

from __future__ import annotations

__all__ = ["CalibrationInfo", "get_calibration_info", "plot_calibration"]

from typing import NamedTuple

import numpy as np

from .figure import save_figure


class CalibrationInfo(NamedTuple):
    """``columns (C,)``; ``observed_days (n,)`` and ``observed (n, C)`` (NaN: not observed);
    ``fitted (T+1, C)`` the engine's mean series at the estimates (day 0 to the horizon)."""

    columns: tuple
    observed_days: np.ndarray
    observed: np.ndarray
    fitted: np.ndarray


def get_calibration_info(result) -> CalibrationInfo:
    """The data :func:`plot_calibration` draws."""
    return CalibrationInfo(tuple(result.columns), result.observed_days, result.observed, result.fitted)


def plot_calibration(result, path) -> None:
    """Draw one panel per observed column into ``path``: observed points, fitted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = get_calibration_info(result)
    n = len(info.columns)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    days = np.arange(info.fitted.shape[0])
    for k, name in enumerate(info.columns):
        ax = axes[k // cols][k % cols]
        ok = np.isfinite(info.observed[:, k])
        ax.plot(info.observed_days[ok], info.observed[ok, k], ".", color="0.3", markersize=3, label="observed")
        ax.plot(days, info.fitted[:, k], color="C3", linewidth=1.5, label="fitted (mean)")
        ax.set_title(name, fontsize="medium")
        ax.set_xlabel("day")
        ax.grid(alpha=0.3)
        if k == 0:
            ax.legend(loc="best", fontsize="small")
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fitted = ", ".join(f"{_short(key)}={v['estimate']:.4g}" for key, v in result.parameters.items())
    fig.suptitle(
        f"{result.scenario_name}: observed vs fitted ({result.method}, {result.engine}): {fitted}", fontsize="medium"
    )
    fig.tight_layout()
    save_figure(fig, path)


def _short(key: str) -> str:
    """``transitions.aware->considering.p`` -> ``aware->considering``; ``economics.margin`` -> ``margin``."""
    parts = key.split(".")
    return parts[-2] if parts[-1] == "p" and len(parts) > 1 else parts[-1]
