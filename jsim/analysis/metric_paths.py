"""Names of what a sweep or a sensitivity analysis measures: ``--metric M``, one parser for both commands.

A metric is a key of ``summary.json``'s ``metrics`` (``new_customers``, ``conversion_rate``,
``net_profit``, ...), or a dotted path into the other tables of
:func:`jsim.metrics.rep_values`:

- ``stages_at_horizon.STAGE``: customers standing in STAGE on the last day (``stages_at_horizon.loyal``);
- ``touchpoints.TOUCHPOINT.FIELD``: ``cost``, ``deliveries``, ``engagements``, ``moves_caused``,
  ``conversions_caused``, ``purchases_caused``, ``revenue_caused`` (``touchpoints.search_ads.cost``);
- ``sources.SOURCE.FIELD``: ``moves``, ``conversions``, ``purchases`` of one source of moves
  (``sources.support_chat:abandoned.moves``, ``sources.organic.conversions``).

``metrics.NAME`` is accepted for a key of ``metrics`` too. Names cannot hold ``.`` (scenario names
are checked for it), so a path splits unambiguously. The names are checked against the compiled
model before anything is simulated; an unknown one is an :class:`~jsim.errors.InputError` with a
"did you mean".
"""

from __future__ import annotations

__all__ = [
    "METRICS",
    "TOUCHPOINT_FIELDS",
    "SOURCE_FIELDS",
    "MetricPath",
    "metric_names",
    "parse_metric",
    "parse_metrics",
    "metric_values",
]

from typing import NamedTuple

import numpy as np

from ..errors import InputError

#: the keys of ``summary.json``'s ``metrics`` (:func:`jsim.metrics.rep_metrics`; a test checks they agree)
METRICS = (
    "customers",
    "prospects",
    "converted",
    "new_customers",
    "conversion_rate",
    "retained",
    "retention_rate",
    "purchases",
    "revenue",
    "gross_profit",
    "cost",
    "net_profit",
    "cac",
    "roi",
)
#: per-touchpoint fields (:func:`jsim.metrics.touchpoint_reps`)
TOUCHPOINT_FIELDS = (
    "cost",
    "deliveries",
    "engagements",
    "moves_caused",
    "conversions_caused",
    "purchases_caused",
    "revenue_caused",
)
#: per-source fields (:func:`jsim.metrics.source_reps`)
SOURCE_FIELDS = ("moves", "conversions", "purchases")


class MetricPath(NamedTuple):
    """A resolved metric: ``name`` as reported (``new_customers``, ``sources.organic.moves``) and where it lives."""

    name: str
    table: str
    item: str
    field: str


def metric_names(model) -> list[str]:
    """Every metric name ``model`` answers (what ``--metric`` accepts), in report order."""
    names = list(METRICS)
    names += [f"stages_at_horizon.{s}" for s in model.stage_names]
    names += [f"touchpoints.{t}.{f}" for t in model.touchpoint_names for f in TOUCHPOINT_FIELDS]
    names += [f"sources.{s}.{f}" for s in model.sources.names for f in SOURCE_FIELDS]
    return names


def _unknown(text: str, rule: str, choices, where: str) -> InputError:
    from ..scenario.checks import did_you_mean, show

    hint = did_you_mean(text, choices)
    return InputError(
        f"{where} {show(text)}: {rule} ({hint}; e.g. {where} new_customers or {where} stages_at_horizon.loyal)",
        params=("metrics",),
    )


def parse_metric(text: str, model, where: str = "--metric") -> MetricPath:
    """Resolve one ``--metric``: ``"touchpoints.search_ads.cost"`` -> its :class:`MetricPath`.

    Raises
    ------
    InputError
        An unknown table, item or field, with the closest name (located at ``where``).
    """
    text = str(text).strip()
    parts = text.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[0] == "metrics"):
        name = parts[-1]
        if name in METRICS:
            return MetricPath(name, "metrics", "", name)
        raise _unknown(text, "is not a metric of summary.json", metric_names(model), where)
    table = parts[0]
    if table == "stages_at_horizon" and len(parts) == 2:
        if parts[1] in model.stage_names:
            return MetricPath(text, table, "", parts[1])
        raise _unknown(text, "names no stage of the scenario", [f"{table}.{s}" for s in model.stage_names], where)
    items = {
        "touchpoints": (model.touchpoint_names, TOUCHPOINT_FIELDS),
        "sources": (model.sources.names, SOURCE_FIELDS),
    }
    if table in items and len(parts) == 3:
        names, fields = items[table]
        if parts[1] not in names:
            raise _unknown(text, f"names no entry of {table}", [f"{table}.{n}.{parts[2]}" for n in names], where)
        if parts[2] not in fields:
            raise _unknown(text, f"has no field {parts[2]!r}", [f"{table}.{parts[1]}.{f}" for f in fields], where)
        return MetricPath(text, table, parts[1], parts[2])
    raise _unknown(
        text,
        "must be a metric of summary.json, stages_at_horizon.STAGE, touchpoints.TOUCHPOINT.FIELD "
        "or sources.SOURCE.FIELD",
        metric_names(model),
        where,
    )


def parse_metrics(texts, model, where: str = "--metric") -> list[MetricPath]:
    """Every ``--metric`` resolved (duplicates dropped, order kept); at least one.

    Raises
    ------
    InputError
        No metric, or an unknown one (:func:`parse_metric`).
    """
    if not texts:
        raise InputError(f"{where} is required: name what to measure (e.g. {where} new_customers)", params=("metrics",))
    out: dict[str, MetricPath] = {}
    for text in texts:
        path = parse_metric(text, model, where)
        out.setdefault(path.name, path)
    return list(out.values())


def metric_values(values: dict, path: MetricPath) -> np.ndarray:
    """The per-replication values ``(R,)`` of ``path`` in :func:`jsim.metrics.rep_values` ``values``."""
    if path.table == "metrics" or path.table == "stages_at_horizon":
        return values[path.table][path.field]
    return values[path.table][path.item][path.field]
