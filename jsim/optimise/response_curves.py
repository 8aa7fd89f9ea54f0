"""Response curves in the parameter names of the marketing-mix tools, and their derivatives.

The curve functions are those the compiled model uses (:mod:`jsim.model.response`, one
implementation each), re-exported here with a class per curve and :class:`ResponseModel`.
Each curve maps spend ``x`` (>= 0, any currency unit, scalar or array) to a response and has a
``*_marginal`` derivative (response per extra unit of spend). They are safe at ``x = 0`` and for
steep Hill slopes (no overflow, no 0/0, no warnings).

The formulas and where their parameter names come from (Meridian, PyMC-Marketing, Robyn) are
listed in :mod:`jsim.model.response`.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..model.response import (
    exponential,
    exponential_marginal,
    hill,
    hill_marginal,
    michaelis_menten,
    michaelis_menten_marginal,
)


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
