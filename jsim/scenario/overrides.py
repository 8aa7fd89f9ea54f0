"""``--set KEY=VALUE``: change fields of a scenario's data before it is validated like a file.

KEY addresses a field through the scenario's tables, naming list entries the way a reader does:

- tables by key: ``population.customers``, ``economics.margin``, ``population.initial.aware``;
- entries of a list by name: ``touchpoints.email_newsletter.engagement``, ``stages.loyal.value``,
  ``segments.young.share``, ``touchpoints.tv.response.ec``, ``touchpoints.chat.service.agents``;
- transitions, effects and word-of-mouth rules by their endpoints: ``transitions.aware->considering.p``,
  ``touchpoints.search_ads.effects.aware->considering.p``, ``word_of_mouth.unaware->aware.q`` (an
  entry that does not exist yet is added, so a what-if can open a new path).

VALUE is a TOML value (``0.2``, ``true``, ``"text"``, ``[9, 18]``, ``{ mean = 0.1 }``); a bare word
(``owned``) is taken as text. Names cannot hold ``.`` or ``>`` (see ``models.Name``), so a KEY
splits unambiguously.
"""

from __future__ import annotations

__all__ = ["parse_override", "apply_overrides", "set_in_place"]

import tomllib
import types
import typing
from collections.abc import Sequence

from pydantic import BaseModel

from ..errors import ScenarioError, ScenarioIssue
from .checks import did_you_mean, shorten, show
from .models import Scenario

_BARE_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- ")


def parse_override(text: str) -> tuple[str, object]:
    """``"economics.margin=0.3"`` -> ``("economics.margin", 0.3)``.

    Raises
    ------
    ScenarioError
        Located at ``--set``: no ``=``, an empty KEY, or a VALUE that is not a TOML value.
    """
    key, eq, raw = str(text).partition("=")
    key, raw = key.strip(), raw.strip()
    if not eq or not key:
        raise ScenarioError(
            ScenarioIssue(
                "--set",
                f"must read KEY=VALUE, got {show(text)}",
                "e.g. --set touchpoints.email_newsletter.engagement=0.3 or --set population.customers=20000",
            )
        )
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw and set(raw) <= _BARE_WORD and not raw[0].isdigit():
            return key, raw  # a bare word: text
        raise ScenarioError(
            ScenarioIssue(
                f"--set {shorten(key)}",
                f"VALUE must be a TOML value, got {show(raw)}",
                'write a number (0.3), true/false, "text" in quotes, a list [9, 18] or a table { mean = 0.1 }',
            )
        ) from None
    return key, value


def _strip(annotation):
    """``annotation`` without ``Annotated`` and ``None`` (Optional)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (typing.Union, types.UnionType) and len(args) == 1:
            annotation = args[0]
            continue
        return annotation


def _models(annotation) -> list[type[BaseModel]]:
    """The models a (union) annotation allows."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models(a)]


def _pick_model(annotation, value) -> type[BaseModel] | None:
    """The model of a table (a discriminated union picks by the table's ``kind``)."""
    models = _models(annotation)
    if len(models) > 1 and isinstance(value, dict):
        for m in models:
            kind = m.model_fields.get("kind")
            if kind is not None and value.get("kind") in typing.get_args(_strip(kind.annotation)):
                return m
    return models[0] if models else None


def _field(model: type[BaseModel], key: str):
    """``(alias, FieldInfo)`` of ``key`` in ``model`` (by name or alias), else None."""
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.alias or name, info
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def _set_one(data: dict, key: str, value, copy: bool = True) -> None:
    parts = key.split(".")
    where = f"--set {shorten(key)}"

    def fail(message: str, fix: str = "") -> ScenarioError:
        return ScenarioError(ScenarioIssue(where, message, fix))

    model: type[BaseModel] | None = Scenario
    node = data
    done: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        here = ".".join(done) or "the scenario"
        if model is None:  # a table of free keys (population.initial, touchpoint_multipliers)
            if i != len(parts) - 1:
                raise fail(f"{here} holds plain values, got more after {show(part)}")
            node[part] = value
            return
        found = _field(model, part)
        if found is None:
            raise fail(f"{show(part)} is not a key of {here}", did_you_mean(part, _keys(model)))
        alias, info = found
        done.append(alias)
        if i == len(parts) - 1:
            node[alias] = value
            return
        annotation = _strip(info.annotation)
        origin = typing.get_origin(annotation)
        if origin is list:
            item = _pick_model(typing.get_args(annotation)[0], None)
            entries = node.setdefault(alias, [])
            if copy and isinstance(entries, list):
                entries = node[alias] = list(entries)  # copy on the way down: the caller's data stays as it was
            if item is None or not isinstance(entries, list):
                raise fail(f"{'.'.join(done)} is a list of values: set it whole, e.g. {alias} = [...]")
            node, model = _entry(entries, item, parts[i + 1], ".".join(done), fail, copy)
            done.append(parts[i + 1])
            i += 2
            continue
        if origin is dict:
            child = node.setdefault(alias, {})
            if copy and isinstance(child, dict):
                child = node[alias] = dict(child)
            if not isinstance(child, dict):
                raise fail(f"{'.'.join(done)} must be a table to set a key in it, got {show(child)}")
            node, model = child, _pick_model(typing.get_args(annotation)[1], None)
            i += 1
            continue
        child = node.get(alias)
        if child is None:
            child = node[alias] = {}
        elif copy and isinstance(child, dict):
            child = node[alias] = dict(child)
        if not isinstance(child, dict):
            raise fail(f"{'.'.join(done)} must be a table to set a key in it, got {show(child)}")
        model = _pick_model(annotation, child)
        if model is None:
            raise fail(f"{'.'.join(done)} is a value, not a table: set it whole", f"--set {'.'.join(done)}=VALUE")
        node = child
        i += 1
    keys = _keys(model) if model is not None else []
    raise fail(
        f"{'.'.join(done)} is a table: KEY must go on to one of its keys",
        f"e.g. --set {'.'.join(done)}.{keys[0] if keys else 'KEY'}=VALUE"
        + (f" ({', '.join(keys[:8])})" if keys else ""),
    )


def _entry(entries: list, item: type[BaseModel], selector: str, where: str, fail, copy: bool = True):
    """The entry of a list of tables that ``selector`` names: by ``name``, or ``FROM->TO`` for moves."""
    if "name" in item.model_fields:
        names = [e.get("name") for e in entries if isinstance(e, dict)]
        for k, e in enumerate(entries):
            if isinstance(e, dict) and e.get("name") == selector:
                if copy:
                    entries[k] = e = dict(e)
                return e, item
        raise fail(
            f"{where} has no entry named {show(selector)}",
            did_you_mean(selector, [n for n in names if isinstance(n, str)]) or f"define it under [[{where}]]",
        )
    if "from_" in item.model_fields and "to" in item.model_fields:
        src, arrow, dst = selector.partition("->")
        if not arrow or not src or not dst:
            pairs = [f"{e.get('from')}->{e.get('to')}" for e in entries if isinstance(e, dict)]
            raise fail(
                f"entries of {where} are named FROM->TO, got {show(selector)}",
                did_you_mean(selector, pairs) if pairs else "e.g. aware->considering",
            )
        for k, e in enumerate(entries):
            if isinstance(e, dict) and e.get("from") == src and e.get("to") == dst:
                if copy:
                    entries[k] = e = dict(e)
                return e, item
        entry = {"from": src, "to": dst}  # a new move: validated with the rest
        entries.append(entry)
        return entry, item
    raise fail(f"entries of {where} have no name: set the list whole")


def apply_overrides(data: dict, overrides: Sequence[str]) -> tuple[dict, dict]:
    """Apply ``--set`` texts to scenario ``data`` (as read from the file); return ``(new data, {KEY: VALUE})``.

    An override is a ``KEY=VALUE`` text or a ``(KEY, value)`` pair (a value already parsed: what a
    sweep or a sensitivity analysis sets).

    ``data`` is not changed. Later overrides of the same KEY win. Every problem found is raised
    at once as a :class:`ScenarioError` located at ``--set KEY``; the result is to be validated
    like a file (:func:`jsim.scenario.parse_scenario`).
    """
    data = dict(data)  # each override copies the tables and lists on its path (never the caller's)
    applied: dict = {}
    issues: list[ScenarioIssue] = []
    for text in overrides:
        try:
            key, value = text if isinstance(text, tuple) else parse_override(text)
            _set_one(data, key, value)
        except ScenarioError as exc:
            issues.extend(exc.issues)
            continue
        applied[key] = value
    if issues:
        raise ScenarioError(issues)
    return data, applied


def set_in_place(document, pairs: Sequence[tuple]) -> None:
    """Set each ``(KEY, value)`` of ``pairs`` in ``document`` itself (no copies), e.g. a ``tomlkit`` document.

    The tables and lists on a KEY's path are changed where they are, so a document that keeps its
    comments and layout (``tomlkit``) keeps them around the new values.

    Raises
    ------
    ScenarioError
        A KEY that names no field, located at ``--set KEY``.
    """
    for key, value in pairs:
        _set_one(document, key, value, copy=False)
