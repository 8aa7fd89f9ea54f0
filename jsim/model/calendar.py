"""Lower a scenario's calendar (seasonality and dated events) into per-day multiplier arrays.

Every engine reads the same arrays, so a flight, a promotion or an outage changes every
engine's results on exactly the same days. Days are 1..T; row 0 (the initial state) is 1.
"""

from __future__ import annotations

__all__ = ["Calendar", "build_calendar", "DAY_TRANSITIONS", "DAY_WOM", "DAY_PURCHASE"]

from dataclasses import dataclass

import numpy as np

from ..errors import ScenarioError, ScenarioIssue
from ..scenario.limits import MAX_CALENDAR_PRODUCT

#: columns of ``Calendar.day_mult``
DAY_TRANSITIONS, DAY_WOM, DAY_PURCHASE = 0, 1, 2

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Calendar:
    """Per-day multipliers.

    spend_mult, effect_mult, reach_mult : (T+1, J)
        Flights, promotions (and seasonality of effects, effect shocks), reach shocks.
    day_mult : (T+1, 3)
        Organic transitions, word-of-mouth hazards, moves into purchase stages.
    arrivals_mult, revenue_mult : (T+1,)
    moves : list of (day, from_idx, to_idx, share, name)
        One-off moves; ``name`` is the event's name (unique: ``KIND-dayN`` when it has none,
        ``#2``, ``#3`` ... appended to repeats).
    agents : dict touchpoint index -> (T+1,) int64
        Agents on duty per day for service touchpoints.
    """

    spend_mult: np.ndarray
    effect_mult: np.ndarray
    reach_mult: np.ndarray
    day_mult: np.ndarray
    arrivals_mult: np.ndarray
    revenue_mult: np.ndarray
    moves: list
    agents: dict


def _unique(name: str, taken: list) -> str:
    """``name``, or ``name#2``, ``name#3``, ... if it is taken."""
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}#{k}"
    return out


def month_of_day(n_days: int, start_month: int) -> np.ndarray:
    """(T+1,) month index 0..11 of each day, day 1 being the first day of ``start_month``."""
    months = []
    m = start_month - 1
    while len(months) < n_days:
        months += [m] * _MONTH_DAYS[m]
        m = (m + 1) % 12
    return np.array([start_month - 1] + months[:n_days], dtype=np.int64)


def build_calendar(sc, n_days: int, tp_index: dict, stage_index: dict) -> Calendar:
    """Per-day multipliers of scenario ``sc`` over ``n_days`` days (events past the horizon are cut)."""
    T, J = n_days, len(tp_index)
    spend_mult, effect_mult, reach_mult = np.ones((T + 1, J)), np.ones((T + 1, J)), np.ones((T + 1, J))
    day_mult = np.ones((T + 1, 3))
    arrivals_mult, revenue_mult = np.ones(T + 1), np.ones(T + 1)
    agents = {
        tp_index[tp.name]: np.full(T + 1, tp.service.agents, dtype=np.int64)
        for tp in sc.touchpoints
        if tp.service is not None
    }
    season = sc.seasonality
    if season is not None:
        profile = np.ones(T + 1)
        days = np.arange(T + 1)
        if season.weekly is not None:
            profile[1:] *= np.asarray(season.weekly)[(season.start_weekday + days[1:] - 1) % 7]
        if season.yearly is not None:
            profile[1:] *= np.asarray(season.yearly)[month_of_day(T, season.start_month)[1:]]
        if "arrivals" in season.applies_to:
            arrivals_mult *= profile
        if "effects" in season.applies_to:
            effect_mult *= profile[:, None]
        if "transitions" in season.applies_to:
            day_mult[:, DAY_TRANSITIONS] *= profile
    moves = []
    for ev in sc.events:
        if ev.start > T:
            continue
        end = ev.end if ev.end is not None else (ev.start if ev.kind == "shock" else T)
        days = slice(ev.start, min(end, T) + 1)
        cols = [tp_index[ev.touchpoint]] if ev.touchpoint is not None else list(range(J))
        if ev.spend_multiplier is not None:
            spend_mult[days, cols] *= ev.spend_multiplier
        if ev.effect_multiplier is not None:
            effect_mult[days, cols] *= ev.effect_multiplier
        if ev.reach_multiplier is not None:
            reach_mult[days, cols] *= ev.reach_multiplier
        if ev.word_of_mouth_multiplier is not None:
            day_mult[days, DAY_WOM] *= ev.word_of_mouth_multiplier
        if ev.revenue_multiplier is not None:
            revenue_mult[days] *= ev.revenue_multiplier
        if ev.purchase_multiplier is not None:
            day_mult[days, DAY_PURCHASE] *= ev.purchase_multiplier
        if ev.agents is not None:
            agents[cols[0]][days] = ev.agents
        if ev.move is not None:
            moves.append(
                (
                    ev.start,
                    stage_index[ev.move.from_],
                    stage_index[ev.move.to],
                    ev.move.share,
                    _unique(ev.name or f"{ev.kind}-day{ev.start}", [m[4] for m in moves]),
                )
            )
    calendar = Calendar(spend_mult, effect_mult, reach_mult, day_mult, arrivals_mult, revenue_mult, moves, agents)
    _check_products(sc, calendar, tp_index)
    return calendar


#: Calendar field -> (what it multiplies, the event field that sets it, multiplies one touchpoint's column)
_PRODUCTS = (
    ("spend_mult", "spend", "spend_multiplier", True),
    ("effect_mult", "effects", "effect_multiplier", True),
    ("reach_mult", "delivery", "reach_multiplier", True),
    ("arrivals_mult", "arrivals", None, False),
    ("revenue_mult", "revenue per purchase", "revenue_multiplier", False),
)
_DAY_PRODUCTS = (
    (DAY_TRANSITIONS, "organic transitions", None),
    (DAY_WOM, "word-of-mouth hazards", "word_of_mouth_multiplier"),
    (DAY_PURCHASE, "moves into purchase stages", "purchase_multiplier"),
)


def _check_products(sc, calendar: Calendar, tp_index: dict) -> None:
    """Every product of calendar multipliers on one day stays <= :data:`MAX_CALENDAR_PRODUCT` (finite sums).

    Raises :class:`ScenarioError` naming the quantity, the day, the product and the events in force then.
    """
    names = {j: name for name, j in tp_index.items()}
    tables = [(getattr(calendar, f), what, key, per_tp) for f, what, key, per_tp in _PRODUCTS]
    tables += [(calendar.day_mult[:, col], what, key, False) for col, what, key in _DAY_PRODUCTS]
    issues = []
    for values, what, key, per_tp in tables:
        if not values.size or values.max() <= MAX_CALENDAR_PRODUCT:
            continue
        day, *col = np.unravel_index(np.argmax(values), values.shape)
        where = f" of touchpoint '{names[col[0]]}'" if per_tp else ""
        active = [
            f"events[{i}]" + (f" ({ev.name[:40]})" if ev.name else "")
            for i, ev in enumerate(sc.events)
            if key is not None
            and getattr(ev, key) is not None
            and ev.start <= day <= (ev.end if ev.end is not None else (ev.start if ev.kind == "shock" else day))
            and (not per_tp or ev.touchpoint is None or ev.touchpoint == names[col[0]])
        ]
        shown = ", ".join(active[:5]) + (", ..." if len(active) > 5 else "")
        issues.append(
            ScenarioIssue(
                "seasonality/events",
                f"calendar multipliers of {what}{where} must multiply to at most {MAX_CALENDAR_PRODUCT:g} on every "
                f"day, got {values.max():.4g} on day {day}" + (f" (events in force: {shown})" if shown else ""),
                "lower the multipliers of events that overlap, or the seasonal profile",
            )
        )
    if issues:
        raise ScenarioError(issues)


def change_days(values: np.ndarray) -> np.ndarray:
    """Days t in 2..T whose value differs from day t-1 (relative tolerance 1e-9)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 3:
        return np.zeros(0, dtype=np.int64)
    same = np.isclose(v[2:], v[1:-1], rtol=1e-9, atol=0.0)
    return np.flatnonzero(~same) + 2


def watched_series(model) -> list[tuple[str, str, np.ndarray]]:
    """Every per-day quantity the calendar changes: ``(kind, where, values (T+1,))``."""
    out = []
    for j, name in enumerate(model.touchpoint_names):
        out += [
            ("spend", name, model.spend[:, j]),
            ("reach", name, model.delivery[:, j]),
            ("effect", name, model.effect_mult[:, j]),
        ]
    out += [("capacity", sv.name, sv.agents) for sv in model.services]
    out += [
        ("transitions", "", model.day_mult[:, DAY_TRANSITIONS]),
        ("word_of_mouth", "", model.day_mult[:, DAY_WOM]),
        ("purchase", "", model.day_mult[:, DAY_PURCHASE]),
        ("arrivals", "", model.arrivals_mult),
        ("revenue", "", model.revenue_mult),
    ]
    return out


def describe_move(model, e: int) -> str:
    """How the calendar trace describes one-off move ``e``: ``"0.05 of unaware -> aware"``."""
    return (
        f"{model.move_share[e]:g} of {model.stage_names[model.move_from[e]]} -> {model.stage_names[model.move_to[e]]}"
    )


def calendar_changes(model) -> list[tuple[float, str, str, str]]:
    """The calendar trace a run of ``model`` obeys: ``(time, kind, where, what)`` sorted.

    One entry at the start of each day (time ``t - 1`` for day t, t >= 2) on which a watched
    quantity (:func:`watched_series`) changes (as :func:`change_days` decides), ``what`` =
    ``"old -> new"``, and one per one-off move on its day.
    """
    series = watched_series(model)
    out = [(float(model.move_day[e] - 1), "move", "", describe_move(model, e)) for e in range(len(model.move_day))]
    if series and model.n_days >= 2:
        values = np.stack([np.asarray(v, dtype=np.float64) for _, _, v in series])  # (n_series, T+1)
        changed = ~np.isclose(values[:, 2:], values[:, 1:-1], rtol=1e-9, atol=0.0)
        for i, col in zip(*np.nonzero(changed)):
            t = int(col) + 2
            kind, where, _ = series[i]
            out.append((float(t - 1), kind, where, f"{values[i, t - 1]:g} -> {values[i, t]:g}"))
    return sorted(out)
