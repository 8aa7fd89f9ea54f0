"""Spend to delivery: each touchpoint's flight, adstock, saturation, frequency cap, outages and fatigue.

:func:`compile_media` keeps every touchpoint's response parameters in a :class:`Media` record,
and :func:`deliver` turns a daily spend table into the day's delivery probabilities, fatigue and
exposure effect. The compiler calls :func:`deliver` once with the scenario's spend;
:meth:`jsim.model.CompiledModel.with_spend` calls it again with other spend, so the optimiser
changes spend on the compiled model without rebuilding the scenario. See ``docs/model.md``,
"Touchpoint delivery".
"""

from __future__ import annotations

__all__ = ["Media", "compile_media", "scenario_spend", "deliver"]

from dataclasses import dataclass

import numpy as np

from .response import adstock_weights, geometric_adstock, saturate


@dataclass(frozen=True, eq=False)
class Media:
    """How each touchpoint's spend becomes delivery. Axis letters as in :mod:`jsim.model.compiled`.

    Attributes
    ----------
    response : tuple of (str, dict, float) or None, one per touchpoint
        ``(kind, parameters, max_reach)`` of the saturation curve; None for a fixed ``reach``.
    reach : (J,) float64
        Fixed daily delivery probability (touchpoints without a response curve; NaN otherwise).
    adstock : tuple of ((L,) float64 or None)
        Geometric adstock weights of each touchpoint (None: no carryover).
    cap : (J,) float64
        Frequency cap in deliveries per day (inf: none).
    fatigue_delta, fatigue_strength : (J,) float64
        Daily decay of recent exposures and the wear-out strength (NaN delta: no fatigue).
    in_flight : (T+1, J) bool
        Days of each touchpoint's flight.
    spend_shape : (T+1, J) float64
        Spend of each day per unit of planned daily spend: 1 in the flight, times the calendar's
        flight multipliers (0 outside the flight).
    reach_mult, effect_mult : (T+1, J) float64
        The calendar's multipliers of delivery (outages) and of an exposure's effects.
    engagement : (J,) float64
    """

    response: tuple
    reach: np.ndarray
    adstock: tuple
    cap: np.ndarray
    fatigue_delta: np.ndarray
    fatigue_strength: np.ndarray
    in_flight: np.ndarray
    spend_shape: np.ndarray
    reach_mult: np.ndarray
    effect_mult: np.ndarray
    engagement: np.ndarray

    @property
    def n_touchpoints(self) -> int:
        return len(self.response)


def compile_media(touchpoints, n_days: int, calendar) -> Media:
    """The :class:`Media` record of the scenario's ``touchpoints`` over ``n_days`` days."""
    T, J = n_days, len(touchpoints)
    days = np.arange(T + 1)
    in_flight = np.zeros((T + 1, J), dtype=np.bool_)
    response, adstock = [], []
    reach = np.full(J, np.nan)
    cap = np.full(J, np.inf)
    delta, strength = np.full(J, np.nan), np.zeros(J)
    for j, tp in enumerate(touchpoints):
        end = min(tp.end_day if tp.end_day is not None else T, T)
        in_flight[:, j] = (days >= tp.start_day) & (days <= end)
        if tp.response is None:
            response.append(None)
            reach[j] = tp.reach
        else:
            r = tp.response
            params = r.model_dump(exclude={"kind", "max_reach"})
            response.append((r.kind, params, r.max_reach))
        adstock.append(
            None
            if tp.adstock is None or tp.response is None
            else adstock_weights(tp.adstock.alpha, tp.adstock.l_max or T, tp.adstock.normalize, T + 1)
        )
        if tp.frequency_cap is not None:
            cap[j] = tp.frequency_cap.exposures / tp.frequency_cap.days
        if tp.fatigue is not None:
            delta[j] = 0.5 ** (1.0 / tp.fatigue.halflife)
            strength[j] = tp.fatigue.strength
    spend_shape = in_flight * calendar.spend_mult
    engagement = np.array([tp.engagement for tp in touchpoints], dtype=np.float64)
    return Media(
        tuple(response),
        reach,
        tuple(adstock),
        cap,
        delta,
        strength,
        in_flight,
        spend_shape,
        calendar.reach_mult,
        calendar.effect_mult,
        engagement,
    )


def scenario_spend(touchpoints, media: Media) -> np.ndarray:
    """(T+1, J) daily spend the scenario plans: ``spend`` per day, or ``budget`` spread over the flight."""
    daily = np.zeros(media.n_touchpoints)
    n_flight = media.in_flight.sum(axis=0)
    for j, tp in enumerate(touchpoints):
        daily[j] = tp.spend if tp.spend is not None else ((tp.budget or 0.0) / n_flight[j] if n_flight[j] else 0.0)
    return daily[None, :] * media.spend_shape


def deliver(media: Media, spend: np.ndarray):
    """Delivery, fatigue and exposure effect of daily ``spend (T+1, J)``.

    Returns
    -------
    delivery : (T+1, J) float64
        Daily delivery probability: a fixed reach on flight days, or the saturation curve of the
        adstocked spend (day 0: 0); capped by the frequency cap, times the outage multiplier,
        at most 1.
    fatigue : (T+1, J) float64
        ``1 / (1 + strength * F(t))``, ``F(t) = sum_{l >= 1} delta^(l-1) e(t-l)`` the discounted
        engaged exposures before day t (1 without fatigue).
    exposure_effect : (T+1, J) float64
        ``delivery * engagement * fatigue * effect_mult``: what multiplies an effect on each day.
    """
    T1, J = spend.shape
    delivery = np.zeros((T1, J))
    fatigue = np.ones((T1, J))
    for j, resp in enumerate(media.response):
        if resp is None:
            delivery[media.in_flight[:, j], j] = media.reach[j]
        else:
            kind, params, max_reach = resp
            x = spend[:, j]
            if media.adstock[j] is not None:
                x = geometric_adstock(x, media.adstock[j])
            delivery[:, j] = saturate(kind, x, params, max_reach)
            delivery[0, j] = 0.0
        if np.isfinite(media.cap[j]):
            np.minimum(delivery[:, j], media.cap[j], out=delivery[:, j])
        delivery[:, j] = np.minimum(delivery[:, j] * media.reach_mult[:, j], 1.0)
        if not np.isnan(media.fatigue_delta[j]):
            recent = 0.0
            for t in range(1, T1):
                recent = delivery[t - 1, j] * media.engagement[j] + media.fatigue_delta[j] * recent
                fatigue[t, j] = 1.0 / (1.0 + media.fatigue_strength[j] * recent)
    exposure_effect = delivery * media.engagement[None, :] * fatigue * media.effect_mult
    return delivery, fatigue, exposure_effect
