"""Stage occupancy over time and the cumulative conversion curve of a run."""

from __future__ import annotations

__all__ = ["FunnelInfo", "get_funnel_info", "plot_funnel"]

from typing import NamedTuple

import numpy as np

from .figure import save_figure


class FunnelInfo(NamedTuple):
    """Plain data behind the funnel plot.

    days : (T+1,) day numbers; stages : stage names; absorbing : (S,) bool; occupancy : (T+1, S)
    mean customers per stage at the end of each day; converted_share : (T+1,) mean share of the
    prospects so far (customers not converted on entry) who have converted by that day; low,
    high : (T+1,) its 95% band over replications (None with one replication).
    """

    title: str
    days: np.ndarray
    stages: tuple
    absorbing: np.ndarray
    occupancy: np.ndarray
    converted_share: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None


def get_funnel_info(result) -> FunnelInfo:
    """Data for :func:`plot_funnel` from a :class:`~jsim.engine.SimulationResult`."""
    from ..metrics import t975

    m = result.model
    occ = result.stage_occupancy.astype(np.float64)  # (R, T+1, S)
    newconv = result.new_converted.sum(axis=2).astype(np.float64)  # (R, T+1)
    customers = occ[:, 0].sum(axis=1)[:, None] + np.cumsum(result.arrivals.sum(axis=2), axis=1)
    prospects = customers - newconv[:, :1]
    newconv[:, 0] = 0.0
    conv = np.cumsum(newconv, axis=1) / np.maximum(prospects, 1)
    low = high = None
    if result.n_reps > 1:
        half = t975(result.n_reps - 1) * conv.std(axis=0, ddof=1) / np.sqrt(result.n_reps)
        low, high = conv.mean(axis=0) - half, conv.mean(axis=0) + half
    title = f"{m.name}: {int(m.initial.sum()):,} customers, {m.n_days} days ({result.engine}, {result.n_reps} rep)"
    return FunnelInfo(
        title,
        np.arange(m.n_days + 1),
        m.stage_names,
        m.is_absorbing.copy(),
        occ.mean(axis=0),
        conv.mean(axis=0),
        low,
        high,
    )


def plot_funnel(result, path) -> None:
    """Draw stage occupancy (stacked areas) and cumulative conversion into an image file ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = get_funnel_info(result)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    # funnel stages in blues-to-greens, absorbing ones (lost, churned) in warm greys and reds
    n_open, n_closed = int((~info.absorbing).sum()), int(info.absorbing.sum())
    open_colors = iter(plt.get_cmap("viridis")(np.linspace(0.1, 0.85, max(n_open, 1))))
    closed_colors = iter(plt.get_cmap("OrRd")(np.linspace(0.35, 0.75, max(n_closed, 1))))
    colors = [next(closed_colors) if a else next(open_colors) for a in info.absorbing]
    ax1.stackplot(info.days, info.occupancy.T, labels=info.stages, colors=colors, alpha=0.9)
    ax1.set_ylabel("customers at end of day")
    ax1.set_title(info.title)
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="stage")
    ax1.margins(x=0)
    ax2.plot(info.days, 100 * info.converted_share, color="C0", lw=2, label="prospects converted so far")
    if info.low is not None:
        ax2.fill_between(info.days, 100 * info.low, 100 * info.high, color="C0", alpha=0.25, label="95% interval")
    ax2.set_ylabel("% converted")
    ax2.set_xlabel("day")
    ax2.legend(loc="upper left", fontsize=9)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
