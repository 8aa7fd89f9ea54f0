"""Load scenario files (TOML first, YAML accepted) into a validated :class:`Scenario`."""

from __future__ import annotations

__all__ = ["load_scenario", "parse_scenario", "scenario_schema", "scenario_hash"]

import hashlib
import json
import tomllib
import typing
from pathlib import Path

import pydantic
from pydantic import BaseModel

from ..errors import ScenarioError, ScenarioIssue
from .checks import check_scenario, did_you_mean
from .models import Scenario


def load_scenario(path) -> Scenario:
    """Read, parse and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file, or ``.yaml`` / ``.yml``.

    Raises
    ------
    ScenarioError
        The file is missing, unreadable, not TOML/YAML, or breaks a rule; every problem found
        is listed with its location, the rule, the value received and a fix.
    """
    path = Path(path)
    src = str(path)
    if not path.exists():
        raise ScenarioError(
            ScenarioIssue(
                "", f"no such scenario file '{path}'", "check the path; bundled scenarios live in scenarios/"
            ),
            source=None,
        )
    if path.is_dir():
        raise ScenarioError(
            ScenarioIssue("", f"'{path}' is a folder, not a scenario file", "name a .toml or .yaml file inside it")
        )
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            ScenarioIssue("", f"cannot read the file: {exc}", "save it as UTF-8 text"), source=src
        ) from None
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(
                ScenarioIssue("", f"not valid TOML: {exc}", "fix the syntax at that line"), source=src
            ) from None
    elif suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(
                ScenarioIssue("", f"not valid YAML: {exc}", "fix the syntax at that line"), source=src
            ) from None
    else:
        raise ScenarioError(
            ScenarioIssue(
                "",
                f"scenario files must end in .toml, .yaml or .yml, got '{path.name}'",
                "rename the file or convert it to TOML",
            ),
        )
    return parse_scenario(data, source=src)


def parse_scenario(data, source: str | None = None) -> Scenario:
    """Validate already-parsed scenario data (a dict) into a :class:`Scenario`."""
    if not isinstance(data, dict):
        raise ScenarioError(
            ScenarioIssue(
                "",
                f"a scenario must be a table of keys, got {type(data).__name__}",
                "start from scenarios/minimal.toml",
            ),
            source=source,
        )
    try:
        scenario = Scenario.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ScenarioError([_translate(err, data) for err in exc.errors()], source=source) from None
    issues = check_scenario(scenario)
    if issues:
        raise ScenarioError(issues, source=source)
    return scenario


def scenario_schema() -> dict:
    """The JSON Schema of scenario files (for editor completion and validation)."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "jsim scenario"
    return schema


def scenario_hash(scenario: Scenario) -> str:
    """A short stable hash of the validated scenario (independent of comments and key order)."""
    canon = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


# --- translating pydantic errors -------------------------------------------------------------


def _unwrap_model(annotation, value):
    """The BaseModel class an annotation holds (through Optional, list, dict, Annotated, unions)."""
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if origin is typing.Annotated:
        return _unwrap_model(typing.get_args(annotation)[0], value)
    if origin in (list, tuple):
        return _unwrap_model(typing.get_args(annotation)[0], value)
    if origin is dict:
        return _unwrap_model(typing.get_args(annotation)[1], value)
    candidates = [a for a in typing.get_args(annotation) if a is not type(None)]
    models = [m for m in (_unwrap_model(a, value) for a in candidates) if m is not None]
    if len(models) > 1 and isinstance(value, dict):  # a discriminated union: pick by its "kind"
        for m in models:
            kind = m.model_fields.get("kind")
            if kind is not None and value.get("kind") in typing.get_args(kind.annotation):
                return m
    return models[0] if len(models) == 1 else None


def _walk(loc, data):
    """Follow ``loc`` through the input data and the models: (readable path, parent model, parent value, value)."""
    model, value, parts = Scenario, data, []
    parent_model, parent_value = None, None
    for key in loc:
        parent_model, parent_value = model, value
        if isinstance(key, int):
            parts.append(f"[{key}]")
            value = value[key] if isinstance(value, list) and key < len(value) else None
            if isinstance(value, dict) and isinstance(value.get("name"), str):
                parts.append(f" ({value['name']})")
            continue
        parts.append(("." if parts else "") + str(key))
        field = None
        if model is not None:
            field = next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)
        value = value.get(key) if isinstance(value, dict) else None
        model = _unwrap_model(field.annotation, value) if field is not None else None
    return "".join(parts), parent_model, parent_value, value


def _allowed_keys(model) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()] if model is not None else []


_PERCENT_FIELDS = {"p", "reach", "share", "engagement", "max_reach", "margin", "alpha"}


def _translate(err: dict, data) -> ScenarioIssue:
    loc = tuple(k for k in err["loc"] if k not in ("hill", "exponential"))  # drop union tags
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    path, parent_model, _, _ = _walk(loc, data)
    field = str(loc[-1]) if loc else ""
    shown = repr(value) if isinstance(value, str) else value

    if kind == "extra_forbidden":
        where = path.rsplit(".", 1)[0] if "." in path else "top level"
        allowed = _allowed_keys(parent_model)
        return ScenarioIssue(path, f"unknown key '{field}' in {where}", did_you_mean(field, allowed))
    if kind == "missing":
        model = _walk(loc, data)[1]
        hint = f"add {field} = ..." if field else ""
        if model is not None and field in model.model_fields and model.model_fields[field].description:
            hint = f"add {field} = ...: {model.model_fields[field].description}"
        return ScenarioIssue(path, f"{field or 'this'} is required but missing", hint)
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sym = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        fix = ""
        if field in _PERCENT_FIELDS and isinstance(value, (int, float)) and 1 < value <= 100:
            fix = f"write {value:g}% as {value / 100:g}"
        elif sym in (">=", ">"):
            fix = f"use a value {sym} {bound}"
        else:
            fix = f"use a value {sym} {bound}"
        if field in _PERCENT_FIELDS and sym in ("<=",) and bound == 1:
            rule = "must be within [0, 1]"
        elif field in _PERCENT_FIELDS and sym == ">=" and bound == 0:
            rule = "must be within [0, 1]" if field != "alpha" else "must be >= 0"
        else:
            rule = f"must be {sym} {bound}"
        return ScenarioIssue(path, f"{rule}, got {shown}", fix)
    if kind in (
        "float_type",
        "float_parsing",
        "int_type",
        "int_parsing",
        "int_from_float",
        "bool_type",
        "bool_parsing",
        "string_type",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "finite_number",
    ):
        expected = {
            "float": "a number",
            "int": "a whole number",
            "bool": "true or false",
            "string": "text in quotes",
            "list": "a list [...]",
            "dict": "a table",
            "model": "a table",
            "finite": "a finite number",
        }
        want = next((v for k, v in expected.items() if kind.startswith(k)), "another type")
        return ScenarioIssue(path, f"must be {want}, got {shown} ({type(value).__name__})", f"write it as {want}")
    if kind == "literal_error":
        options = [
            o.strip().strip("'\"") for o in str(ctx.get("expected", "")).replace(" or ", ",").split(",") if o.strip()
        ]
        return ScenarioIssue(
            path, f"must be one of {ctx.get('expected')}, got {shown}", did_you_mean(str(value), options)
        )
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return ScenarioIssue(
            path + ".kind",
            f"response kind must be 'hill' or 'exponential', got {ctx.get('tag', value)!r}",
            did_you_mean(str(ctx.get("tag", "")), ["hill", "exponential"]) or 'write kind = "hill"',
        )
    if kind == "too_short":
        return ScenarioIssue(
            path, f"needs at least {ctx.get('min_length', 1)} entry, got none", "add a [[stages]] table with a name"
        )
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        return ScenarioIssue(path or "scenario", msg)
    return ScenarioIssue(path, f"{err['msg'].lower()}, got {shown}")
