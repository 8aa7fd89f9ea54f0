"""Compile a validated scenario into frozen typed arrays."""

from .compiled import CompiledModel, compile_scenario, largest_remainder

__all__ = ["CompiledModel", "compile_scenario", "largest_remainder"]
