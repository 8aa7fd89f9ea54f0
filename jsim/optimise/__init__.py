"""Budget optimisation: split a budget over touchpoints to maximise one or several objectives.

- :class:`BudgetSpace`: the exact budget simplex with per-touchpoint bounds.
- :func:`optimise_allocation`: global Optuna search (CMA-ES, TPE, GP, NSGA-II, random) then a
  local SLSQP polish; returns an :class:`AllocationResult`.
- :mod:`jsim.optimise.response_curves`: Hill, Michaelis-Menten and exponential curves and
  :class:`~jsim.optimise.response_curves.ResponseModel`, a ready objective.
"""

from __future__ import annotations

__all__ = ["AllocationResult", "BudgetSpace", "optimise_allocation", "response_curves"]

from jsim.optimise import response_curves
from jsim.optimise.core import AllocationResult, optimise_allocation
from jsim.optimise.space import BudgetSpace
