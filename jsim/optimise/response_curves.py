"""Response curves in the parameter names of the marketing-mix tools, and their derivatives.

Each curve maps spend ``x`` (>= 0, any currency unit, scalar or array) to a response and has a
``*_marginal`` derivative (response per extra unit of spend). They are written to be safe at
``x = 0`` and for steep Hill slopes (no overflow, no 0/0, no warnings).

| curve | formula | names from |
|---|---|---|
| :func:`hill` | ``beta * x**slope / (x**slope + ec**slope)`` | Meridian (``ec``, ``slope``); PyMC-Marketing ``hill_function`` calls ``ec`` ``kappa``; Robyn calls ``slope`` ``alpha`` and the inflexion ``gamma`` (rescale it to spend) |
| :func:`michaelis_menten` | ``alpha * x / (lam + x)`` | PyMC-Marketing |
| :func:`exponential` | ``beta * (1 - exp(-lam * x))`` | PyMC-Marketing ``saturation`` with ``lam``; jsim scenarios |

:class:`ResponseModel` sums one curve per touchpoint; it is a ready objective for
:func:`jsim.optimise.optimise_allocation`.
"""

from __future__ import annotations

__all__ = [
    "hill",
    "hill_marginal",
    "michaelis_menten",
    "michaelis_menten_marginal",
    "exponential",
    "exponential_marginal",
    "Hill",
    "MichaelisMenten",
    "Exponential",
    "ResponseModel",
]

import difflib
import functools
from dataclasses import dataclass
from typing import Callable, Mapping

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
        Same shape as ``x``. Computed as ``beta * sigmoid(slope * (log x - log ec))``, so
        steep slopes do not overflow.
    """
    _check_positive(ec=ec, slope=slope)
    arr = _as_spend(x)
    with np.errstate(divide="ignore"):
        r = slope * (np.log(arr) - np.log(ec))
    return _out(beta * np.exp(_log_sigmoid(r)), x)


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
    return _out(-beta * np.expm1(-lam * arr), x)


def exponential_marginal(x, lam, beta=1.0):
    """Derivative of :func:`exponential`: ``beta * lam * exp(-lam * x)``."""
    _check_positive(lam=lam)
    arr = _as_spend(x)
    return _out(beta * lam * np.exp(-lam * arr), x)


@dataclass(frozen=True)
class Hill:
    """A :func:`hill` curve with fixed parameters; call it on spend, ``.marginal`` for the slope."""

    ec: float
    slope: float
    beta: float = 1.0

    def __call__(self, x):
        return hill(x, self.ec, self.slope, self.beta)

    def marginal(self, x):
        return hill_marginal(x, self.ec, self.slope, self.beta)


@dataclass(frozen=True)
class MichaelisMenten:
    """A :func:`michaelis_menten` curve with fixed parameters."""

    alpha: float
    lam: float

    def __call__(self, x):
        return michaelis_menten(x, self.alpha, self.lam)

    def marginal(self, x):
        return michaelis_menten_marginal(x, self.alpha, self.lam)


@dataclass(frozen=True)
class Exponential:
    """An :func:`exponential` curve with fixed parameters."""

    lam: float
    beta: float = 1.0

    def __call__(self, x):
        return exponential(x, self.lam, self.beta)

    def marginal(self, x):
        return exponential_marginal(x, self.lam, self.beta)


_DERIVATIVES = {hill: hill_marginal, michaelis_menten: michaelis_menten_marginal, exponential: exponential_marginal}


def _marginal_of(curve: Callable) -> Callable:
    """The derivative of ``curve``: its ``.marginal``, the known derivative of a ``functools.partial``
    of a curve in this module, or else a central finite difference."""
    if hasattr(curve, "marginal"):
        return curve.marginal
    if isinstance(curve, functools.partial) and curve.func in _DERIVATIVES:
        return functools.partial(_DERIVATIVES[curve.func], *curve.args, **curve.keywords)

    def finite_difference(x):
        x = float(x)
        h = 1e-6 * max(abs(x), 1.0)
        low = max(x - h, 0.0)
        return (float(curve(x + h)) - float(curve(low))) / (x + h - low)

    return finite_difference


class ResponseModel:
    """Total response of a budget split: the sum of one response curve per touchpoint.

    Parameters
    ----------
    curves : dict of str to callable
        Touchpoint name to a curve of spend (e.g. ``Hill(ec=..., slope=...)``,
        ``functools.partial(michaelis_menten, alpha=..., lam=...)`` or any ``f(x) -> float``).

    Examples
    --------
    >>> model = ResponseModel({"tv": Hill(ec=40.0, slope=2.0, beta=3.0),
    ...                        "search": MichaelisMenten(alpha=2.0, lam=10.0)})
    >>> round(model({"tv": 40.0, "search": 10.0}), 6)
    2.5
    """

    def __init__(self, curves: Mapping[str, Callable]):
        if not curves:
            raise ValueError("curves must name at least one touchpoint, got an empty mapping")
        for name, curve in curves.items():
            if not callable(curve):
                raise TypeError(f"curves[{name!r}] must be callable (a curve of spend), got {curve!r}")
        self.curves = dict(curves)
        self._marginals = {name: _marginal_of(curve) for name, curve in self.curves.items()}

    @property
    def names(self) -> list[str]:
        """Touchpoint names, in the order given."""
        return list(self.curves)

    def _check(self, alloc: Mapping[str, float]) -> None:
        missing = [name for name in self.curves if name not in alloc]
        unknown = [name for name in alloc if name not in self.curves]
        if unknown:
            hints = [difflib.get_close_matches(name, self.curves, n=1) for name in unknown]
            said = ", ".join(f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in zip(unknown, hints))
            raise KeyError(f"allocation names touchpoints without a response curve: {said}")
        if missing:
            raise KeyError(f"allocation must give a spend for every touchpoint, missing {missing}")

    def __call__(self, alloc: Mapping[str, float]) -> float:
        """Total response of ``alloc`` (touchpoint -> spend)."""
        self._check(alloc)
        return float(sum(float(curve(alloc[name])) for name, curve in self.curves.items()))

    def responses(self, alloc: Mapping[str, float]) -> dict[str, float]:
        """Response of each touchpoint at its spend in ``alloc``."""
        self._check(alloc)
        return {name: float(curve(alloc[name])) for name, curve in self.curves.items()}

    def marginal(self, alloc: Mapping[str, float]) -> dict[str, float]:
        """Marginal return of each touchpoint at ``alloc``: extra response per extra unit of spend."""
        self._check(alloc)
        return {name: float(self._marginals[name](alloc[name])) for name in self.curves}

    def __repr__(self) -> str:
        return f"ResponseModel({self.curves!r})"
