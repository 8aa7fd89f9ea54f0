"""Load scenario files (TOML first, YAML accepted) into a validated :class:`Scenario`."""

from __future__ import annotations

__all__ = ["load_scenario", "read_scenario_data", "scenario_with", "parse_scenario", "scenario_schema", "scenario_hash"]

import hashlib
import json
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path

import pydantic
from pydantic import BaseModel

from ..errors import ScenarioError, ScenarioIssue
from .checks import check_scenario, did_you_mean, shorten, show
from .limits import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from .models import Scenario
from .overrides import apply_overrides
from .teach import teach_issues


def load_scenario(path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, parse and validate a scenario file.

    Parameters
    ----------
    path : str or Path
        A ``.toml`` file, or ``.yaml`` / ``.yml``.
    overrides : sequence of str
        ``KEY=VALUE`` changes applied to the file's data before it is validated
        (:func:`jsim.scenario.overrides.apply_overrides`): the result is what an edited copy of
        the file gives.

    Raises
    ------
    ScenarioError
        The file is missing, unreadable, not TOML/YAML, or breaks a rule; every problem found
        is listed with its location, the rule, the value received and a fix.
    """
    return scenario_with(read_scenario_data(path), str(path), overrides)


def read_scenario_data(path) -> dict:
    """The data of a scenario file (TOML or YAML, checked for size and nesting), not yet validated.

    Raises
    ------
    ScenarioError
        The file is missing, unreadable, too large or not TOML/YAML.
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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                ScenarioIssue(
                    "",
                    f"a scenario file must be at most {MAX_FILE_BYTES:,} bytes, got {size:,}",
                    "a scenario is a few kilobytes: keep data (spend series, customer lists) in other files",
                ),
                source=src,
            )
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            ScenarioIssue("", f"cannot read the file: {shorten(exc)}", "save it as UTF-8 text"), source=src
        ) from None
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(
                ScenarioIssue("", f"not valid TOML: {exc}", "fix the syntax at that line"), source=src
            ) from None
        except RecursionError:
            raise ScenarioError(_too_deep(), source=src) from None
    elif suffix in (".yaml", ".yml"):
        data = _load_yaml(text, src)
    else:
        raise ScenarioError(
            ScenarioIssue(
                "",
                f"scenario files must end in .toml, .yaml or .yml, got '{path.name}'",
                "rename the file or convert it to TOML",
            ),
        )
    return data


def scenario_with(data, source: str, overrides: Sequence = ()) -> Scenario:
    """The scenario of ``data`` (:func:`read_scenario_data`) with ``overrides`` applied, validated like a file.

    ``overrides`` are ``KEY=VALUE`` texts or ``(KEY, value)`` pairs
    (:func:`jsim.scenario.overrides.apply_overrides`). Reading a file once and calling this for
    many variants (a sweep, a sensitivity analysis) skips re-reading and re-parsing the file.
    """
    src = source
    if overrides and isinstance(data, dict):
        data, applied = apply_overrides(data, overrides)
        src = f"{src} with --set {', '.join(applied)}"  # an error may come from a changed value
    return parse_scenario(data, source=src)


def _too_deep() -> ScenarioIssue:
    return ScenarioIssue(
        "", "lists or tables are nested too deeply to read", "a scenario nests tables a few levels deep: flatten it"
    )


class _TooLarge(Exception):
    """A YAML document expands to more values than :data:`MAX_YAML_NODES`."""


class _TooDeep(Exception):
    """A YAML document nests lists and tables deeper than :data:`MAX_YAML_DEPTH`."""


class _SelfAlias(Exception):
    """A YAML alias refers to the list or table it stands in (a recursive document)."""


def _check_yaml_events(text: str, loader) -> None:
    """Refuse a YAML document before it is composed: too many values, too deep, or recursive.

    Walks the parser's events (libyaml's parser keeps its own stack: no recursion, linear time)
    and counts the values each node stands for once its aliases are expanded: a scalar 1, a list
    or table 1 plus its entries, an alias the whole size of its anchor's node. A "billion laughs"
    document of a few hundred bytes is refused after a few hundred events.
    """
    import yaml

    sizes: dict[str, int] = {}  # anchor -> values its node expands to
    open_anchors: set[str] = set()
    stack: list[list] = [[None, 0]]  # [anchor, values so far] of the document and each open list or table
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(stack) > MAX_YAML_DEPTH:
                raise _TooDeep()
            stack.append([event.anchor, 1])
            if event.anchor:
                open_anchors.add(event.anchor)
            continue
        if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, size = stack.pop()
            if anchor:
                sizes[anchor] = size
                open_anchors.discard(anchor)
        elif isinstance(event, yaml.ScalarEvent):
            size = 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor in open_anchors:
                raise _SelfAlias(event.anchor)
            size = sizes.get(event.anchor, 1)  # an undefined alias: the composer reports it
        else:
            continue
        stack[-1][1] += size  # a list or table adds its whole size to its parent when it ends
        if stack[-1][1] > MAX_YAML_NODES:
            raise _TooLarge(stack[-1][1])


def _load_yaml(text: str, src: str):
    import yaml

    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader  # libyaml when installed: 20x faster
    try:
        _check_yaml_events(text, loader)
        return yaml.load(text, Loader=loader)  # a safe loader: as safe as yaml.safe_load
    except _TooLarge as exc:
        raise ScenarioError(
            ScenarioIssue(
                "",
                f"a YAML document may hold at most {MAX_YAML_NODES:,} values (keys, numbers, lists, tables; "
                f"an alias counts everything it repeats), got more than {exc.args[0]:,}",
                "write the values out instead of repeating an anchor &name through aliases *name",
            ),
            source=src,
        ) from None
    except _SelfAlias as exc:
        raise ScenarioError(
            ScenarioIssue(
                "",
                f"a YAML alias may not refer to the list or table it stands in, got *{shorten(exc.args[0])} "
                "inside its own anchor",
                "write the values out",
            ),
            source=src,
        ) from None
    except (_TooDeep, RecursionError):
        raise ScenarioError(_too_deep(), source=src) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(
            ScenarioIssue("", f"not valid YAML: {shorten(exc, 400)}", "fix the syntax at that line"), source=src
        ) from None


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
    issues = check_scenario(scenario) + teach_issues(scenario)
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
    """A short stable hash of the validated scenario (independent of comments and key order).

    The ``[teach]`` table is left out: it chooses the sliders of a classroom page and changes no
    simulation, so a scenario hashes the same with or without one.
    """
    dumped = scenario.model_dump(mode="json", by_alias=True, exclude={"teach"})
    canon = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
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
                name = value["name"]
                parts.append(f" ({shorten(name if name.isprintable() else repr(name))})")
            continue
        parts.append(("." if parts else "") + shorten(key))
        field = None
        if model is not None:
            field = next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)
        value = value.get(key) if isinstance(value, dict) else None
        model = _unwrap_model(field.annotation, value) if field is not None else None
    return "".join(parts), parent_model, parent_value, value


def _allowed_keys(model) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()] if model is not None else []


def _field(model, key):
    """The pydantic field ``key`` (name or alias) of ``model``, or None."""
    if model is None or not isinstance(key, str):
        return None
    return next((f for n, f in model.model_fields.items() if key in (n, f.alias)), None)


def _table_keys(model) -> str:
    """``kind = "hill", ec = ..., slope = ..., max_reach = ...``: the keys of a table, required ones first."""
    fields = sorted(model.model_fields.items(), key=lambda item: not item[1].is_required())
    keys = []
    for name, f in fields:
        literal = typing.get_args(f.annotation) if typing.get_origin(f.annotation) is typing.Literal else ()
        keys.append(f'{f.alias or name} = "{literal[0]}"' if len(literal) == 1 else f"{f.alias or name} = ...")
    return ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")


def _table_fix(model, key) -> str:
    """How to write field ``key`` of ``model`` as the table it is: its keys, or the form of its entries."""
    field = _field(model, key)
    if field is None:
        return "write it as a table { key = value, ... }"
    tables = []
    for option in _options(field.annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            tables.append(f"{{ {_table_keys(option)} }}")
        elif typing.get_origin(option) is dict:
            entry = {"touchpoint_multipliers": "<touchpoint>", "initial": "<stage>"}.get(str(key), "<name>")
            tables.append(f"{{ {entry} = ..., ... }}")
        elif option is dict:
            tables.append("{ key = value, ... }")
    if not tables:
        return "write it as a table"
    return f"write it as a table: {key} = " + " or ".join(tables)


def _options(annotation) -> list:
    """The types an annotation allows, through Annotated and unions (``None`` left out)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for a in typing.get_args(annotation) for t in _options(a)]
    return [] if annotation is type(None) else [annotation]


def _number(x) -> str:
    """A bound as a user would write it: ``1``, ``0.5``, ``1e12``."""
    if isinstance(x, (int, float)) and x and not 1e-3 <= abs(x) < 1e6:
        mantissa, exp = f"{x:.0e}".split("e")
        return f"{mantissa}e{int(exp)}"
    return f"{x:g}" if isinstance(x, float) else str(x)


#: list fields with a size limit: (what the entries are, how to stay within the limit)
_LIST_LIMITS = {
    "stages": ("stages", "merge stages customers pass through together (the model's arrays grow with stages squared)"),
    "touchpoints": ("touchpoints", "merge touchpoints of the same channel"),
    "segments": ("segments", "merge segments with similar multipliers"),
    "word_of_mouth": ("word-of-mouth rules", "merge rules between the same stages"),
    "events": ("calendar events", "merge events: one event covers every day from start to end"),
    "transitions": ("transitions", "give each (from, to) pair of stages once"),
    "effects": ("effects", "give each (from, to) pair of stages once"),
    "abandon_effects": ("effects", "give each (from, to) pair of stages once"),
    "touchpoint_multipliers": ("touchpoint multipliers", "give each touchpoint once"),
    "initial": ("stages", "give each stage once"),
    "targets": ("stages", "name each stage once"),
    "advocates": ("stages", "name each stage once"),
}

_PERCENT_FIELDS = {"p", "reach", "share", "engagement", "max_reach", "margin", "alpha"}


def _translate(err: dict, data) -> ScenarioIssue:
    loc = tuple(k for k in err["loc"] if k not in ("hill", "exponential"))  # drop union tags
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    path, parent_model, _, _ = _walk(loc, data)
    field = str(loc[-1]) if loc else ""
    shown = show(value)

    if kind == "extra_forbidden":
        where = _walk(loc[:-1], data)[0] or "top level"
        allowed = _allowed_keys(parent_model)
        return ScenarioIssue(path, f"unknown key '{shorten(field)}' in {where}", did_you_mean(field, allowed))
    if kind == "missing":
        model = _walk(loc, data)[1]
        hint = f"add {field} = ..." if field else ""
        if model is not None and field in model.model_fields and model.model_fields[field].description:
            hint = f"add {field} = ...: {model.model_fields[field].description}"
        return ScenarioIssue(path, f"{field or 'this'} is required but missing", hint)
    if kind == "finite_number":
        return ScenarioIssue(
            path, f"must be a finite number, got {shown}", "nan and inf are not allowed: write a number such as 0.5"
        )
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        sym = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        if field in _PERCENT_FIELDS and isinstance(value, (int, float)) and 1 < value <= 100:
            fix = f"write {value:g}% as {value / 100:g}"
        elif sym in ("<=", "<") and isinstance(bound, (int, float)) and bound >= 1e3:
            fix = f"use a value {sym} {_number(bound)}, the largest jsim accepts; see docs/model.md, Limits"
        else:
            fix = f"use a value {sym} {_number(bound)}"
        if field in _PERCENT_FIELDS and sym in ("<=",) and bound == 1:
            rule = "must be within [0, 1]"
        elif field in _PERCENT_FIELDS and sym == ">=" and bound == 0:
            rule = "must be within [0, 1]" if field != "alpha" else "must be >= 0"
        else:
            rule = f"must be {sym} {_number(bound)}"
        return ScenarioIssue(path, f"{rule}, got {shown}", fix)
    if kind in ("dict_type", "model_type", "model_attributes_type") or (
        kind in ("union_tag_not_found", "union_tag_invalid") and not isinstance(value, dict)
    ):
        fix = _table_fix(parent_model, loc[-1]) if loc else "write it as a table { key = value, ... }"
        return ScenarioIssue(path, f"must be a table, got {shown} ({type(value).__name__})", fix)
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
    ):
        expected = {
            "float": "a number",
            "int": "a whole number",
            "bool": "true or false",
            "string": "text in quotes",
            "list": "a list [...]",
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
        tag = ctx.get("tag", value)
        return ScenarioIssue(
            path + ".kind",
            f"response kind must be 'hill' or 'exponential', got {show(tag)}",
            did_you_mean(str(ctx.get("tag", "")), ["hill", "exponential"]) or 'write kind = "hill"',
        )
    if kind == "too_long":
        noun, fix = _LIST_LIMITS.get(field, ("entries", "shorten the list"))
        actual, most = ctx.get("actual_length"), ctx.get("max_length")
        if field in ("weekly", "yearly"):
            return ScenarioIssue(
                path, f"needs exactly {most} multipliers, got {actual}", _description(parent_model, loc)
            )
        return ScenarioIssue(path, f"at most {most:,} {noun}, got {actual:,}", fix)
    if kind == "too_short":
        most, actual = ctx.get("min_length", 1), ctx.get("actual_length", 0)
        if field == "stages":
            return ScenarioIssue(path, "needs at least 1 stage, got none", "add a [[stages]] table with a name")
        if field in ("weekly", "yearly"):
            return ScenarioIssue(
                path, f"needs exactly {most} multipliers, got {actual}", _description(parent_model, loc)
            )
        return ScenarioIssue(path, f"needs at least {most} entries, got {actual}", _description(parent_model, loc))
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        return ScenarioIssue(path or "scenario", msg)
    return ScenarioIssue(path, f"{err['msg'].lower()}, got {shown}")


def _description(parent_model, loc) -> str:
    """The description of the field at ``loc`` in ``parent_model`` (its unit, its form), as a fix; ``""`` if none."""
    field = _field(parent_model, loc[-1]) if loc else None
    if field is None or not field.description:
        return ""
    return f"{loc[-1]}: {field.description[0].lower()}{field.description[1:].rstrip('.')}"
