"""The ``[teach]`` table: the sliders of ``jsim teach``, resolved against the scenario they belong to.

A slider is a KEY of the ``--set`` language (:mod:`jsim.scenario.overrides`) that must name a
number the scenario sets. Its range is ``[teach.ranges] KEY = [min, max, step]``, or derived from
the field: probabilities and shares span [0, 1], counts and rates [0, about 3 x the current value].
"""

from __future__ import annotations

__all__ = ["teach_issues", "teach_sliders", "slider_value"]

import math

from ..errors import ScenarioError, ScenarioIssue
from .checks import show
from .models import Scenario
from .overrides import apply_overrides

#: fields whose values lie in [0, 1]
_UNIT_FIELDS = {"p", "reach", "engagement", "share", "max_reach", "margin", "alpha"}

_MISSING = object()


def _walk(data, key: str):
    """The value ``key`` names in dumped scenario ``data``, or ``_MISSING``."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict):
            node = node.get(part, _MISSING)
        elif isinstance(node, list):
            node = next(
                (
                    e
                    for e in node
                    if isinstance(e, dict) and (e.get("name") == part or f"{e.get('from')}->{e.get('to')}" == part)
                ),
                _MISSING,
            )
        else:
            return _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def slider_value(scenario: Scenario, key: str):
    """The number ``key`` (a ``--set`` KEY) names in ``scenario``.

    Raises
    ------
    ScenarioError
        Located at ``--set KEY``: the KEY names no field (with a did-you-mean), or a field that is
        not a number this scenario sets.
    """
    data = scenario.model_dump(mode="json", by_alias=True)
    value = _walk(data, key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    apply_overrides(data, [(key, 0)])  # a KEY that names no field: the --set language says where it goes wrong
    shown = "a field left unset" if value is None or value is _MISSING else show(value)
    raise ScenarioError(
        ScenarioIssue(
            f"--set {key}",
            f"a slider must name a number this scenario sets, got {shown}",
            "set that field in the file first, or choose another KEY",
        )
    )


def _default_range(key: str, value) -> tuple[float, float, float]:
    field = key.rsplit(".", 1)[-1]
    if isinstance(value, int):
        return 0, max(10, 3 * value), 1
    if field in _UNIT_FIELDS and 0 <= value <= 1:
        return 0.0, 1.0, 0.001 if value < 0.05 else 0.01
    top = max(3 * abs(value), 1.0)
    magnitude = 10 ** math.floor(math.log10(top))
    top = math.ceil(top / magnitude) * magnitude  # a round maximum: 60, 0.9, 3000
    return 0.0, float(top), top / 100


def teach_issues(scenario: Scenario) -> list[ScenarioIssue]:
    """Every problem of the scenario's ``[teach]`` table (empty without one), located at ``teach.*``."""
    teach = scenario.teach
    if teach is None:
        return []
    issues: list[ScenarioIssue] = []
    for i, key in enumerate(teach.sliders):
        try:
            slider_value(scenario, key)
        except ScenarioError as exc:
            issues += [ScenarioIssue(f"teach.sliders[{i}] ({key})", x.message, x.fix) for x in exc.issues]
        if key in teach.sliders[:i]:
            issues.append(ScenarioIssue(f"teach.sliders[{i}]", f"names {show(key)} twice", "remove one of them"))
    for key, (low, high, _) in teach.ranges.items():
        if key not in teach.sliders:
            issues.append(
                ScenarioIssue(
                    f"teach.ranges.{key}", "gives the range of a KEY that is not a slider", "add it to sliders"
                )
            )
        if not low < high:
            issues.append(
                ScenarioIssue(f"teach.ranges.{key}", f"min < max must hold, got min={low:g}, max={high:g}", "")
            )
    if teach.predict and teach.predict not in {s.name for s in scenario.stages}:
        from .checks import did_you_mean

        issues.append(
            ScenarioIssue(
                "teach.predict",
                f"must name a stage, got {show(teach.predict)}",
                did_you_mean(teach.predict, [s.name for s in scenario.stages]),
            )
        )
    return issues


def teach_sliders(scenario: Scenario) -> dict:
    """What the teaching page shows: ``{"sliders": [{key, label, value, min, max, step, integer}], ...}``.

    ``question`` and ``predict`` (the stage students predict: ``[teach] predict``, else the last
    converted stage, else the last stage) come along; a scenario without ``[teach]`` has no sliders.
    """
    teach = scenario.teach
    sliders = []
    for key in teach.sliders if teach else ():
        value = slider_value(scenario, key)
        low, high, step = teach.ranges.get(key) or _default_range(key, value)
        sliders.append(
            {
                "key": key,
                "label": key.replace("->", " → "),
                "value": value,
                "min": min(low, value),
                "max": max(high, value),
                "step": step,
                "integer": isinstance(value, int),
            }
        )
    converted = [s.name for s in scenario.stages if s.converted]
    predict = (teach.predict if teach else "") or (converted[-1] if converted else scenario.stages[-1].name)
    return {"sliders": sliders, "question": teach.question if teach else "", "predict": predict}
