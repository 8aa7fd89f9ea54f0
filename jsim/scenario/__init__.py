"""Scenario language: pydantic models, loading TOML/YAML, JSON Schema."""

from .load import load_scenario, parse_scenario, scenario_hash, scenario_schema
from .models import Scenario

__all__ = ["Scenario", "load_scenario", "parse_scenario", "scenario_hash", "scenario_schema"]
