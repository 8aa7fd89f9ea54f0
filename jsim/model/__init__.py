"""Compile a validated scenario into frozen typed arrays (:class:`CompiledModel`)."""

from .arrays import Coefficients, ModelArrays
from .compiled import CompiledModel
from .compiler import compile_scenario, largest_remainder
from .services import CompiledService
from .sources import SERVICE_OUTCOMES, Sources

__all__ = [
    "CompiledModel",
    "CompiledService",
    "Coefficients",
    "ModelArrays",
    "SERVICE_OUTCOMES",
    "Sources",
    "compile_scenario",
    "largest_remainder",
]
