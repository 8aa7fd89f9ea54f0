"""Analyses that run the engines to answer a question (the run summary, incremental value, lifetime value).

:mod:`jsim.metrics` holds the pure functions of a result these build on.
"""

from .summary import summarise
from .value import incremental_revenue, lifetime_value

__all__ = ["summarise", "incremental_revenue", "lifetime_value"]
