"""Variants against a baseline on common random numbers: paired differences with a verdict.

:func:`compare_runs` sets every :class:`~jsim.analysis.variants.VariantRun` against the first
(the baseline): for each metric of ``summary.json`` (``metrics``), each stage at the horizon,
each touchpoint's figures and each source's moves, the variant's mean and 95% interval and the
PAIRED difference to the baseline (replication r of both ran on the same seed), with whether it
is distinguishable from noise and how many replications would make a difference of the observed
size distinguishable (:func:`jsim.metrics.paired_difference`). Items only one side has (a
touchpoint a variant adds) get a value and no difference.
"""

from __future__ import annotations

__all__ = ["Comparison", "compare_runs", "TABLES"]

from dataclasses import dataclass

import numpy as np

from ..metrics import estimate, paired_difference

#: the tables compared, in the order they are reported
TABLES = ("metrics", "stages_at_horizon", "touchpoints", "sources")


def _value(values, deterministic: bool) -> dict:
    e = estimate(values)
    mean = None if not np.isfinite(e.mean) else e.mean
    if deterministic:
        return {"mean": mean, "low": mean, "high": mean}
    return {"mean": mean, "low": e.low, "high": e.high}


def _leaves(values: dict):
    """``(table, item, metric, array)`` for every per-replication array of :func:`jsim.metrics.rep_values`."""
    for table in TABLES:
        for key, v in values[table].items():
            if isinstance(v, dict):
                for metric, arr in v.items():
                    yield table, key, metric, arr
            else:
                yield table, "", key, v


@dataclass
class Comparison:
    """Variants against a baseline (see the module's docstring).

    ``runs[0]`` is the baseline. ``rows`` holds one dict per (variant, table, item, metric):
    ``variant, table, item, metric, mean, low, high`` and, for variants other than the baseline,
    ``difference, difference_low, difference_high, distinguishable, reps_needed`` (None where
    an item is only on one side). This is ``compare.csv``; :meth:`as_json` is ``compare.json``.
    """

    runs: list
    rows: list

    @property
    def baseline(self):
        return self.runs[0]

    @property
    def variants(self) -> list:
        return self.runs[1:]

    def table(self, variant: str, table: str) -> list[dict]:
        """The rows of one variant and table, in report order."""
        return [r for r in self.rows if r["variant"] == variant and r["table"] == table]

    def as_json(self) -> dict:
        """``{"baseline", "reps", "seed", "variants": [{"name", "overrides", "metrics", "difference", ...}]}``.

        ``metrics`` / ``difference`` are keyed by the metrics of ``summary.json``; the other
        tables (``stages_at_horizon``, ``touchpoints``, ``sources``) nest ``{item: {metric:
        {"mean", "low", "high", "difference": {...}}}}`` (stages: ``{stage: {...}}``).
        """
        base = self.baseline
        out = {
            "baseline": base.name,
            "reps": base.reps,
            "seed": base.seed,
            "engine": base.engine,
            "days": base.days,
            "currency": base.currency,
            "baseline_run": self._entry(base, with_difference=False),
            "variants": [self._entry(run, with_difference=True) for run in self.variants],
        }
        return out

    def _entry(self, run, with_difference: bool) -> dict:
        entry = {
            "name": run.name,
            "scenario_file": run.variant.scenario,
            "scenario": run.scenario_name,
            "overrides": dict(run.overrides),
            "metrics": {},
        }
        if with_difference:
            entry["difference"] = {}
        for table in TABLES[1:]:
            entry[table] = {}
        for r in self.rows:
            if r["variant"] != run.name:
                continue
            value = {"mean": r["mean"], "low": r["low"], "high": r["high"]}
            diff = None
            if with_difference and r["difference"] is not None:
                diff = {
                    "mean": r["difference"],
                    "low": r["difference_low"],
                    "high": r["difference_high"],
                    "distinguishable": r["distinguishable"],
                    "reps_needed": r["reps_needed"],
                }
            if r["table"] == "metrics":
                entry["metrics"][r["metric"]] = value
                if with_difference:
                    entry["difference"][r["metric"]] = diff
                continue
            cell = dict(value, difference=diff) if with_difference else value
            if r["table"] == "stages_at_horizon":
                entry[r["table"]][r["metric"]] = cell
            else:
                entry[r["table"]].setdefault(r["item"], {})[r["metric"]] = cell
        return entry


def compare_runs(runs: list) -> Comparison:
    """Compare ``runs[1:]`` with ``runs[0]`` (all from one :func:`~jsim.analysis.variants.run_variants` call).

    Raises
    ------
    ValueError
        The runs do not share replication seeds, engine and number of replications (they were
        not run together, so their differences would not be paired).
    """
    if not runs:
        raise ValueError("compare needs at least one run")
    base = runs[0]
    for run in runs[1:]:
        if (run.seed, run.reps, run.engine) != (base.seed, base.reps, base.engine):
            raise ValueError(
                f"runs to compare must share seed, reps and engine (common random numbers), got "
                f"{run.name}: {(run.seed, run.reps, run.engine)} and {base.name}: {(base.seed, base.reps, base.engine)}"
            )
    base_leaves = {(t, i, m): a for t, i, m, a in _leaves(base.values)}
    rows = []
    for k, run in enumerate(runs):
        for table, item, metric, arr in _leaves(run.values):
            row = {"variant": run.name, "table": table, "item": item, "metric": metric}
            row.update(_value(arr, run.deterministic))
            if k > 0:
                ref = base_leaves.get((table, item, metric))
                d = paired_difference(arr, ref, deterministic=run.deterministic) if ref is not None else None
                valid = d is not None and np.isfinite(d.mean)
                row.update(
                    difference=d.mean if valid else None,
                    difference_low=d.low if valid else None,
                    difference_high=d.high if valid else None,
                    distinguishable=d.distinguishable if valid else None,
                    reps_needed=d.reps_needed if valid else None,
                )
            rows.append(row)
    return Comparison(list(runs), rows)
