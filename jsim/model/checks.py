"""Rules a model must obey on every day once the calendar's multipliers apply."""

from __future__ import annotations

__all__ = ["check_day_probabilities"]

import numpy as np

from ..errors import ScenarioError, ScenarioIssue
from .calendar import DAY_PURCHASE, DAY_TRANSITIONS


def check_day_probabilities(p0, q, per_exposure, day_mult, is_purchase, stage_names, tp_names) -> None:
    """Organic rows and each engaged exposure's effects must stay <= 1 on every day.

    ``per_exposure (T+1, J)`` multiplies an engaged exposure's effects (fatigue, promotions,
    seasonality); ``day_mult`` is the calendar's (T+1, 3) table. Raises :class:`ScenarioError`
    naming the stage, touchpoint and day.
    """
    issues = []
    purch = is_purchase.astype(np.float64)
    # organic: p0 rows with moves into purchase stages scaled
    base_other = (p0 * (1 - purch)).sum(-1)  # (G, S)
    base_purch = (p0 * purch).sum(-1)
    r0 = day_mult[1:, DAY_TRANSITIONS, None, None] * (
        base_other[None] + day_mult[1:, DAY_PURCHASE, None, None] * base_purch[None]
    )
    if r0.size and r0.max() > 1 + 1e-9:
        t, g, s = np.unravel_index(np.argmax(r0), r0.shape)
        issues.append(
            ScenarioIssue(
                "seasonality/events",
                f"organic transitions out of stage '{stage_names[s]}' must total <= 1 "
                f"on every day, got {r0.max():.4g} on day {t + 1} after calendar multipliers",
                "lower the seasonal profile or the price event's purchase_multiplier",
            )
        )
    q_other = (q * (1 - purch)).sum(-1)  # (G, J, S)
    q_purch = (q * purch).sum(-1)
    rj = per_exposure[1:, None, :, None] * (
        q_other[None] + day_mult[1:, DAY_PURCHASE, None, None, None] * q_purch[None]
    )
    if rj.size and rj.max() > 1 + 1e-9:
        t, g, j, s = np.unravel_index(np.argmax(rj), rj.shape)
        issues.append(
            ScenarioIssue(
                f"touchpoints ({tp_names[j]})",
                f"an exposure's effects from stage '{stage_names[s]}' must total "
                f"<= 1 on every day, got {rj.max():.4g} on day {t + 1} after calendar multipliers",
                "lower the promotion's effect_multiplier, the seasonal profile or the effects",
            )
        )
    if issues:
        raise ScenarioError(issues)
