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
    high : (T+1,) its 95% band over replications (None with one replication); small : (S,) bool,
    open stages whose peak is under :data:`SMALL_SHARE` of the customers (drawn again in a panel of
    their own, so that cart and customer show); flights : ((touchpoint, first day, last day), ...)
    of the touchpoints active on part of the horizon only; events : ((name, day), ...) one-off moves.
    """

    title: str
    days: np.ndarray
    stages: tuple
    absorbing: np.ndarray
    occupancy: np.ndarray
    converted_share: np.ndarray
    low: np.ndarray | None
    high: np.ndarray | None
    small: np.ndarray | None = None
    flights: tuple = ()
    events: tuple = ()


#: An open stage whose peak occupancy is under this share of all customers gets its own panel.
SMALL_SHARE = 0.05


def _flights(m) -> tuple:
    """(touchpoint, first day, last day) of each touchpoint whose flight covers part of the horizon only."""
    in_flight = getattr(getattr(m, "media", None), "in_flight", None)
    if in_flight is None:
        return ()
    out = []
    for j, name in enumerate(m.touchpoint_names):
        days = np.flatnonzero(in_flight[1:, j]) + 1
        if len(days) and (days[0] > 1 or days[-1] < m.n_days):
            out.append((name, int(days[0]), int(days[-1])))
    return tuple(out)


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
    occupancy = occ.mean(axis=0)
    small = (~m.is_absorbing) & (occupancy.max(axis=0) < SMALL_SHARE * occupancy.sum(axis=1).max())
    events = tuple((name, int(day)) for name, day in zip(m.move_names, m.move_day) if 1 <= day <= m.n_days)
    return FunnelInfo(
        title,
        np.arange(m.n_days + 1),
        m.stage_names,
        m.is_absorbing.copy(),
        occupancy,
        conv.mean(axis=0),
        low,
        high,
        small,
        _flights(m),
        events,
    )


def plot_funnel(result, path) -> None:
    """Draw stage occupancy (stacked areas; small stages again in a panel of their own), the calendar's
    flights and events, and cumulative conversion into an image file ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import StrMethodFormatter

    info = get_funnel_info(result)
    has_small = info.small is not None and bool(info.small.any())
    ratios = [3, 1.4, 1.4] if has_small else [3, 1.4]
    fig, axes = plt.subplots(
        len(ratios), 1, figsize=(9, 3 + 2 * len(ratios)), sharex=True, gridspec_kw={"height_ratios": ratios}
    )
    ax1, ax2 = axes[0], axes[-1]
    # funnel stages in blues-to-greens, absorbing ones (lost, churned) in warm greys and reds
    n_open, n_closed = int((~info.absorbing).sum()), int(info.absorbing.sum())
    open_colors = iter(plt.get_cmap("viridis")(np.linspace(0.1, 0.85, max(n_open, 1))))
    closed_colors = iter(plt.get_cmap("OrRd")(np.linspace(0.35, 0.75, max(n_closed, 1))))
    colors = [next(closed_colors) if a else next(open_colors) for a in info.absorbing]
    ax1.stackplot(info.days, info.occupancy.T, labels=info.stages, colors=colors, alpha=0.9)
    ax1.set_ylabel("customers at end of day")
    ax1.set_title(info.title)
    handles, labels = ax1.get_legend_handles_labels()  # in stacking order: the top of the stack first
    ax1.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="stage")
    ax1.margins(x=0)
    if has_small:
        ax_small = axes[1]
        for s in np.flatnonzero(info.small):
            ax_small.plot(info.days, info.occupancy[:, s], color=colors[s], lw=2, label=info.stages[s])
        ax_small.set_yscale("symlog", linthresh=10)  # a log scale that keeps the zeros: cart beside loyal
        ax_small.set_ylim(bottom=0)
        ax_small.set_ylabel("customers, log scale\n(small stages)")
        ax_small.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
        ax_small.grid(alpha=0.3)
    for ax in axes[:-1]:  # after the log scale, which brings its own formatter
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    for k, (name, first, last) in enumerate(info.flights):
        for ax in axes:
            ax.axvspan(first - 0.5, last + 0.5, color=f"C{(k + 1) % 10}", alpha=0.12, lw=0)
        ax1.text(first, 0.98 - 0.07 * (k % 4), f"{name} flight", transform=ax1.get_xaxis_transform(), fontsize=8,
                 va="top", color=f"C{(k + 1) % 10}")  # fmt: skip
    for name, day in info.events:
        for ax in axes:
            ax.axvline(day, color="0.3", ls=":", lw=1)
        ax1.text(day, 0.02, name, transform=ax1.get_xaxis_transform(), fontsize=8, rotation=90, va="bottom")
    ax2.plot(info.days, 100 * info.converted_share, color="C0", lw=2, label="prospects converted so far")
    if info.low is not None:
        ax2.fill_between(info.days, 100 * info.low, 100 * info.high, color="C0", alpha=0.25, label="95% interval")
    ax2.set_ylabel("% converted")
    ax2.set_xlabel("day")
    ax2.legend(loc="upper left", fontsize=9)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
