"""Scenario language: pydantic models, loading TOML/YAML, JSON Schema."""

from .checks import scenario_warnings, warnings_as_error
from .load import load_scenario, parse_scenario, read_scenario_data, scenario_hash, scenario_schema, scenario_with
from .models import Scenario
from .overrides import apply_overrides, parse_override
from .teach import slider_value, teach_sliders

__all__ = [
    "Scenario",
    "apply_overrides",
    "parse_override",
    "load_scenario",
    "read_scenario_data",
    "scenario_with",
    "parse_scenario",
    "scenario_hash",
    "scenario_schema",
    "scenario_warnings",
    "warnings_as_error",
    "slider_value",
    "teach_sliders",
]
