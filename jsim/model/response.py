"""Media response: geometric adstock and saturation curves, one implementation each.

The compiled model turns each touchpoint's daily spend into a delivery probability with these
functions, and :mod:`jsim.optimise.response_curves` wraps the same functions for budget
allocation, so a curve means the same thing everywhere. Names follow the marketing-mix tools so
fitted parameters carry over:

- :func:`hill`: ``beta * x**slope / (x**slope + ec**slope)``. Meridian's names (``ec``,
  ``slope``); PyMC-Marketing's ``hill_function`` calls ``ec`` ``kappa``; Robyn calls ``slope``
  ``alpha`` and the inflexion ``gamma`` (rescale it to spend).
- :func:`michaelis_menten`: ``alpha * x / (lam + x)``, PyMC-Marketing's names.
- :func:`exponential`: ``beta * (1 - exp(-lam * x))``, PyMC-Marketing's ``saturation`` with
  ``lam``; jsim scenarios.
- :func:`adstock_weights`: ``alpha**l`` for ``l < l_max``, optionally normalised: the geometric
  adstock of PyMC-Marketing and Meridian.

Each curve maps spend ``x`` (>= 0, scalar or array) to a response and has a ``*_marginal``
derivative (response per extra unit of spend). They are safe at ``x = 0`` and for steep Hill
slopes (no overflow, no 0/0, no warnings).

To add a response curve: write ``name(x, ...)`` and ``name_marginal`` here, register the
scenario form in :data:`SATURATION` (what ``response = { kind = "name", ... }`` computes), add its
pydantic model to :mod:`jsim.scenario.models` and a class to :mod:`jsim.optimise.response_curves`.
"""

from __future__ import annotations

__all__ = [
    "hill",
    "hill_marginal",
    "exponential",
    "exponential_marginal",
    "michaelis_menten",
    "michaelis_menten_marginal",
    "adstock_weights",
    "geometric_adstock",
    "SATURATION",
    "saturate",
]

import numpy as np


def _as_spend(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if np.any(arr < 0) or np.any(np.isnan(arr)):
        raise ValueError(f"{name} (spend) must be >= 0, got {x!r}")
    return arr


def _out(arr: np.ndarray, like):
    return float(arr) if np.ndim(like) == 0 else arr


def _check_positive(**params) -> None:
    for key, value in params.items():
        if not np.all(np.asarray(value, dtype=np.float64) > 0):
            raise ValueError(f"{key} must be > 0, got {value!r}")


def _log_sigmoid(r: np.ndarray) -> np.ndarray:
    """``log(1 / (1 + exp(-r)))`` without overflow."""
    return -np.logaddexp(0.0, -r)


def hill(x, ec, slope, beta=1.0):
    """Hill saturation ``beta * x**slope / (x**slope + ec**slope)``.

    Parameters
    ----------
    x : float or array of float
        Spend, >= 0.
    ec : float
        Half-saturation spend (response is ``beta / 2`` at ``x = ec``), > 0.
    slope : float
        Hill exponent, > 0; above 1 the curve is S-shaped.
    beta : float, default 1
        Maximum response (the asymptote).

    Returns
    -------
    float or array of float
        Same shape as ``x``. Computed as ``beta / (1 + (ec / x)**slope)``: at ``x = 0`` the ratio
        is infinite and the response 0; a steep slope overflows the ratio to infinity (response
        0) or underflows it to 0 (response ``beta``), never to NaN.
    """
    _check_positive(ec=ec, slope=slope)
    arr = _as_spend(x)
    with np.errstate(over="ignore", divide="ignore"):
        ratio = np.power(np.divide(ec, arr, out=np.full_like(arr, np.inf), where=arr > 0), slope)
    return _out(beta / (1.0 + ratio), x)


def hill_marginal(x, ec, slope, beta=1.0):
    """Derivative of :func:`hill` with respect to spend ``x`` (response per unit of spend).

    ``beta * slope / x * s * (1 - s)`` with ``s = sigmoid(slope * log(x / ec))``, evaluated in
    log space. At ``x = 0`` it is 0 for ``slope > 1``, ``beta / ec`` for ``slope == 1`` and
    ``inf`` for ``slope < 1``.
    """
    _check_positive(ec=ec, slope=slope)
    arr = _as_spend(x)
    positive = arr > 0
    safe = np.where(positive, arr, 1.0)
    r = slope * (np.log(safe) - np.log(ec))
    log_d = np.log(slope) - np.log(safe) + _log_sigmoid(r) + _log_sigmoid(-r)
    at_zero = 0.0 if slope > 1 else (1.0 / ec if slope == 1 else np.inf)
    return _out(beta * np.where(positive, np.exp(log_d), at_zero), x)


def exponential(x, lam, beta=1.0):
    """Exponential saturation ``beta * (1 - exp(-lam * x))``.

    Parameters
    ----------
    x : float or array of float
        Spend, >= 0.
    lam : float
        Rate per unit of spend, > 0 (``1 / lam`` is the spend that reaches 63% of ``beta``).
    beta : float, default 1
        Maximum response.
    """
    _check_positive(lam=lam)
    arr = _as_spend(x)
    return _out(beta * -np.expm1(-lam * arr), x)


def exponential_marginal(x, lam, beta=1.0):
    """Derivative of :func:`exponential`: ``beta * lam * exp(-lam * x)``."""
    _check_positive(lam=lam)
    arr = _as_spend(x)
    return _out(beta * lam * np.exp(-lam * arr), x)


def michaelis_menten(x, alpha, lam):
    """Michaelis-Menten saturation ``alpha * x / (lam + x)``.

    Parameters
    ----------
    x : float or array of float
        Spend, >= 0.
    alpha : float
        Maximum response (the asymptote).
    lam : float
        Spend at which the response is ``alpha / 2``, > 0.
    """
    _check_positive(lam=lam)
    arr = _as_spend(x)
    return _out(alpha * arr / (lam + arr), x)


def michaelis_menten_marginal(x, alpha, lam):
    """Derivative of :func:`michaelis_menten`: ``alpha * lam / (lam + x)**2``."""
    _check_positive(lam=lam)
    arr = _as_spend(x)
    return _out(alpha * lam / (lam + arr) ** 2, x)


def adstock_weights(alpha: float, l_max: int, normalize: bool, n_keep: int) -> np.ndarray:
    """The first ``min(l_max, n_keep)`` geometric adstock weights ``alpha**l``.

    With ``normalize`` the weights are divided by the sum of all ``l_max`` of them, so lags past
    the horizon (which never meet any spend) still count and a scenario's delivery does not depend
    on how many days are simulated.
    """
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be within [0, 1), got {alpha!r}")
    if l_max < 1:
        raise ValueError(f"l_max must be >= 1, got {l_max!r}")
    w = alpha ** np.arange(min(l_max, n_keep), dtype=np.float64)
    if not normalize:
        return w
    if l_max <= n_keep:
        return w / w.sum()
    return w * ((1.0 - alpha) / (1.0 - alpha**l_max))  # sum_{l < l_max} alpha^l = (1 - alpha^l_max) / (1 - alpha)


def geometric_adstock(spend: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Carried-over spend ``A(t) = sum_l w_l x(t - l)`` of a daily series (same length as ``spend``)."""
    spend = np.asarray(spend, dtype=np.float64)
    return np.convolve(spend, weights)[: spend.shape[0]]


#: Saturation curves a scenario's ``response = { kind = ... }`` names: kind -> (curve, parameter
#: names of the scenario model passed to it; ``max_reach`` is the curve's ``beta``).
SATURATION = {
    "hill": (hill, ("ec", "slope")),
    "exponential": (exponential, ("lam",)),
}


def saturate(kind: str, x, params: dict, max_reach: float):
    """Daily delivery probability of adstocked spend ``x`` under the scenario curve ``kind``."""
    try:
        curve, names = SATURATION[kind]
    except KeyError:
        raise ValueError(f"response kind must be one of {sorted(SATURATION)}, got {kind!r}") from None
    return curve(x, *(params[n] for n in names), beta=max_reach)
