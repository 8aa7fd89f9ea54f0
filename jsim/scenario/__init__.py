"""Scenario language: pydantic models, loading TOML/YAML, JSON Schema."""

from .checks import scenario_warnings, warnings_as_error
from .load import load_scenario, parse_scenario, scenario_hash, scenario_schema
from .models import Scenario

__all__ = [
    "Scenario",
    "load_scenario",
    "parse_scenario",
    "scenario_hash",
    "scenario_schema",
    "scenario_warnings",
    "warnings_as_error",
]
