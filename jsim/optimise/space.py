"""The search space of a budget split: the bounded simplex ``{a : sum(a) = budget, lo <= a <= hi}``.

Optuna samples ``n - 1`` numbers ``x_<name>`` in ``[0, 1]``, one for every touchpoint but the
last; :meth:`BudgetSpace.suggest` maps them to an allocation by bounded stick breaking, so every
trial is feasible and none is rejected. The map is a bijection from the open cube onto the
relative interior of the feasible set, and with no bounds other than ``>= 0`` a uniform ``x``
gives a uniform allocation on the simplex (each stick share ``1 - (1 - x)**(1 / k)`` is the
Beta(1, k) quantile, ``k`` the number of touchpoints still to be served).
"""

from __future__ import annotations

__all__ = ["BudgetSpace"]

import math
from collections.abc import Mapping, Sequence

import numpy as np

from jsim.errors import OptimiseError

_PARAM_PREFIX = "x_"


class BudgetSpace:
    """Budget splits over touchpoints that sum exactly to ``budget`` and respect per-touchpoint bounds.

    Parameters
    ----------
    names : list of str
        Touchpoint names (the order fixes the Optuna parameter order).
    budget : float
        Total spend, > 0 (any currency unit).
    bounds : dict of str to (float, float), optional
        Minimum and maximum spend per touchpoint; touchpoints not named get ``(0, budget)``.

    Raises
    ------
    OptimiseError
        When the bounds name unknown touchpoints or cannot all be met: a minimum above its
        maximum, a negative minimum, minimums that add up to more than the budget, or maximums
        that add up to less.
    """

    def __init__(self, names: Sequence[str], budget: float, bounds: Mapping[str, tuple[float, float]] | None = None):
        names = list(names)
        if not names:
            raise OptimiseError("names must list at least one touchpoint, got []")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise OptimiseError(f"touchpoint names must be unique, got {dup} more than once")
        budget = float(budget)
        if not (math.isfinite(budget) and budget > 0):
            raise OptimiseError(f"budget must be a finite number > 0, got {budget!r}")
        bounds = dict(bounds or {})
        unknown = [k for k in bounds if k not in names]
        if unknown:
            raise OptimiseError(f"bounds name touchpoints that are not optimised: {unknown} (touchpoints: {names})")
        lo = np.zeros(len(names))
        hi = np.full(len(names), budget)
        for i, name in enumerate(names):
            if name not in bounds:
                continue
            try:
                low, high = (float(v) for v in bounds[name])
            except (TypeError, ValueError):
                raise OptimiseError(f"bounds[{name!r}] must be a pair (min, max), got {bounds[name]!r}") from None
            if not low >= 0:
                raise OptimiseError(f"bounds[{name!r}]: min >= 0 must hold, but got min={low}")
            if not low <= high:
                raise OptimiseError(f"bounds[{name!r}]: min <= max must hold, but got min={low}, max={high}")
            lo[i], hi[i] = low, min(high, budget)
        tol = 1e-12 * budget
        if lo.sum() > budget + tol:
            raise OptimiseError(
                f"the sum of minimum spends must not exceed the budget, but got sum of mins={lo.sum():g} > "
                f"budget={budget:g} (lower some minimums or raise the budget)"
            )
        if hi.sum() < budget - tol:
            raise OptimiseError(
                f"the sum of maximum spends must reach the budget, but got sum of maxes={hi.sum():g} < "
                f"budget={budget:g} (raise some maximums or lower the budget)"
            )
        self.names = names
        self.budget = budget
        self.lower = lo
        self.upper = hi
        self._free = max(budget - lo.sum(), 0.0)
        self._cap = hi - lo
        # capacity of the touchpoints after i, for the stick-breaking intervals
        self._cap_after = np.concatenate([np.cumsum(self._cap[::-1])[::-1][1:], [0.0]])

    @property
    def n(self) -> int:
        """Number of touchpoints."""
        return len(self.names)

    @property
    def param_names(self) -> list[str]:
        """Optuna parameter names, ``x_<name>`` for every touchpoint but the last, each in ``[0, 1]``."""
        return [_PARAM_PREFIX + name for name in self.names[:-1]]

    # -- params <-> allocation -------------------------------------------------------------------

    def _interval(self, i: int, remaining: float) -> tuple[float, float]:
        """Feasible free spend of touchpoint ``i`` when ``remaining`` free spend is left for i and after."""
        low = max(0.0, remaining - self._cap_after[i])
        high = min(self._cap[i], remaining)
        return low, max(high, low)

    def from_unit(self, u: Sequence[float]) -> np.ndarray:
        """Allocation vector for stick-breaking coordinates ``u`` (length ``n - 1``, each in ``[0, 1]``)."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        if u.shape != (self.n - 1,):
            raise OptimiseError(f"unit coordinates must have length n - 1 = {self.n - 1}, got shape {u.shape}")
        free = np.zeros(self.n)
        remaining = self._free
        for i in range(self.n - 1):
            low, high = self._interval(i, remaining)
            k = self.n - 1 - i
            share = -math.expm1(math.log1p(-u[i]) / k) if u[i] < 1.0 else 1.0
            free[i] = low + (high - low) * share
            remaining -= free[i]
        free[-1] = min(max(remaining, 0.0), self._cap[-1])
        return self._settle(self.lower + free)

    def to_unit(self, alloc) -> np.ndarray:
        """Stick-breaking coordinates of an allocation (projected onto the space first)."""
        a = self.project(self._vector(alloc))
        free = a - self.lower
        u = np.zeros(self.n - 1)
        remaining = self._free
        for i in range(self.n - 1):
            low, high = self._interval(i, remaining)
            k = self.n - 1 - i
            share = 0.5 if high - low <= 1e-15 * self.budget else min(max((free[i] - low) / (high - low), 0.0), 1.0)
            u[i] = -math.expm1(k * math.log1p(-share)) if share < 1.0 else 1.0
            remaining -= low + (high - low) * share
        return u

    def suggest(self, trial) -> dict[str, float]:
        """Ask ``trial`` for the ``x_<name>`` parameters and return the feasible allocation they map to."""
        u = [trial.suggest_float(p, 0.0, 1.0) for p in self.param_names]
        return self.as_dict(self.from_unit(u))

    def from_params(self, params: Mapping[str, float]) -> dict[str, float]:
        """Allocation for Optuna parameters (as in ``trial.params``)."""
        return self.as_dict(self.from_unit([params[p] for p in self.param_names]))

    def to_params(self, alloc) -> dict[str, float]:
        """Optuna parameters that give ``alloc`` (projected onto the space first), for ``enqueue_trial``."""
        return dict(zip(self.param_names, (float(v) for v in self.to_unit(alloc))))

    # -- geometry --------------------------------------------------------------------------------

    def equal_split(self) -> dict[str, float]:
        """The budget split equally, or as equally as the bounds allow (projection of the equal split)."""
        return self.as_dict(self.project(np.full(self.n, self.budget / self.n)))

    def project(self, vec) -> np.ndarray:
        """Euclidean projection of ``vec`` (length ``n``, or a dict) onto the bounded simplex.

        Solves ``min ||a - vec||`` subject to ``sum(a) = budget``, ``lo <= a <= hi``: the answer
        is ``clip(vec - tau, lo, hi)`` for the ``tau`` where the sum equals the budget; ``tau``
        is found by bisection (the sum is monotone in ``tau``).
        """
        v = self._vector(vec)
        lo, hi = self.lower, self.upper

        def total(tau: float) -> float:
            return float(np.clip(v - tau, lo, hi).sum())

        t_low = float(np.min(v - hi)) - 1.0
        t_high = float(np.max(v - lo)) + 1.0
        for _ in range(200):
            mid = 0.5 * (t_low + t_high)
            if total(mid) > self.budget:
                t_low = mid
            else:
                t_high = mid
            if t_high - t_low <= 1e-15 * max(1.0, abs(mid)):
                break
        return self._settle(np.clip(v - 0.5 * (t_low + t_high), lo, hi))

    def _settle(self, a: np.ndarray) -> np.ndarray:
        """Clip to the bounds and spread the rounding residual over touchpoints with room, so the sum is exact."""
        a = np.clip(a, self.lower, self.upper)
        for _ in range(3):
            residual = self.budget - a.sum()
            if residual == 0.0:
                break
            room = (self.upper - a) if residual > 0 else (a - self.lower)
            if room.sum() <= 0:
                break
            a = np.clip(a + residual * room / room.sum(), self.lower, self.upper)
        return a

    def contains(self, alloc, rtol: float = 1e-9) -> bool:
        """Whether ``alloc`` sums to the budget (to ``rtol`` relative) and respects every bound."""
        a = self._vector(alloc)
        tol = rtol * self.budget
        return bool(
            abs(a.sum() - self.budget) <= tol and np.all(a >= self.lower - tol) and np.all(a <= self.upper + tol)
        )

    def active_bounds(self, alloc, rtol: float = 1e-6) -> dict[str, str]:
        """Touchpoints whose spend sits at a bound (within ``rtol * budget``): name -> ``"min"`` or ``"max"``.

        A minimum of 0 counts: it means the touchpoint was dropped.
        """
        a = self._vector(alloc)
        tol = rtol * self.budget
        active = {}
        for i, name in enumerate(self.names):
            if self.upper[i] - self.lower[i] <= tol:
                active[name] = "fixed"
            elif a[i] <= self.lower[i] + tol:
                active[name] = "min"
            elif a[i] >= self.upper[i] - tol:
                active[name] = "max"
        return active

    # -- conversions -----------------------------------------------------------------------------

    def _vector(self, alloc) -> np.ndarray:
        if isinstance(alloc, Mapping):
            missing = [n for n in self.names if n not in alloc]
            unknown = [k for k in alloc if k not in self.names]
            if missing or unknown:
                raise OptimiseError(
                    f"an allocation must give a spend for exactly the touchpoints {self.names}, "
                    f"got missing={missing}, unknown={unknown}"
                )
            return np.array([float(alloc[n]) for n in self.names])
        v = np.asarray(alloc, dtype=np.float64)
        if v.shape != (self.n,):
            raise OptimiseError(f"an allocation vector must have length {self.n}, got shape {v.shape}")
        return v

    def as_dict(self, vec) -> dict[str, float]:
        """Allocation dict ``{name: spend}`` for a vector in ``names`` order."""
        return {name: float(v) for name, v in zip(self.names, vec)}

    def __repr__(self) -> str:
        return f"BudgetSpace(names={self.names!r}, budget={self.budget!r})"
