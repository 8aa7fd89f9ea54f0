"""A grid over one or two scenario fields on common random numbers: what ``jsim sweep`` computes.

Every grid point is a :class:`~jsim.analysis.variants.Variant` of the scenario with the point's
values set (after the command's ``--set`` overrides), run by
:func:`~jsim.analysis.variants.run_variants` on the SAME replication seeds: the curve across the
grid is not blurred by noise that differs from point to point, and the difference of each
point to the first one is paired (:func:`jsim.metrics.paired_difference`).
"""

from __future__ import annotations

__all__ = ["MAX_SWEEP_PARAMS", "Sweep", "sweep_variants", "sweep_of_runs", "SWEEP_COLUMNS"]

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..metrics import estimate, paired_difference
from .metric_paths import metric_values
from .params import MAX_GRID_POINTS
from .variants import Variant

#: a sweep is a line (one KEY) or a heat map (two)
MAX_SWEEP_PARAMS = 2

#: the columns of ``sweep.csv`` after the swept KEYs (one column each, holding the point's value)
SWEEP_COLUMNS = (
    "metric",
    "mean",
    "low",
    "high",
    "sd",
    "n",
    "difference",
    "difference_low",
    "difference_high",
    "distinguishable",
)


def sweep_variants(scenario: str, params, overrides=()) -> tuple[list[Variant], list[tuple]]:
    """One :class:`Variant` per grid point (the first KEY varies slowest) and the points' values.

    Raises
    ------
    InputError
        No ``--param``, more than :data:`MAX_SWEEP_PARAMS`, one KEY twice, or a grid of more than
        :data:`~jsim.analysis.params.MAX_GRID_POINTS` points.
    """
    keys = [p.key for p in params]
    if not params:
        raise InputError(
            "--param is required: name the KEY to sweep and its grid, "
            "e.g. --param touchpoints.support_chat.service.agents=1:6:6",
            params=("params",),
        )
    if len(params) > MAX_SWEEP_PARAMS <= MAX_SWEEP_PARAMS:
        raise InputError(
            f"--param: a sweep varies one KEY (a line) or two (a heat map), got {len(params)} ({', '.join(keys)})"
            " (for more KEYs use jsim sensitivity --method morris or sobol)",
            params=("params",),
        )
    if len(set(keys)) != len(keys):
        raise InputError(
            f"--param: each KEY may be swept once, got {keys[0]} twice (merge the ranges)", params=("params",)
        )
    points = list(itertools.product(*(p.values for p in params)))
    if len(points) > MAX_GRID_POINTS:
        raise InputError(
            f"--param: a sweep runs at most {MAX_GRID_POINTS:,} grid points, got "
            f"{' x '.join(str(len(p.values)) for p in params)} = {len(points):,} (use fewer values per KEY)",
            params=("params",),
        )
    common = tuple(overrides)
    variants = [
        Variant(", ".join(f"{k}={v}" for k, v in zip(keys, point)), scenario, common + tuple(zip(keys, point)))
        for point in points
    ]
    return variants, points


def _clean(x) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass
class Sweep:
    """A sweep's results.

    Attributes
    ----------
    scenario : str
        The scenario file.
    params : list of SweepParam
    metrics : list of MetricPath
    points : list of tuple
        The grid points' values, in the order of ``params`` (the first KEY varies slowest).
    runs : list of VariantRun
        One per point, on common seeds.
    rows : list of dict
        ``sweep.csv``: per point and metric, ``{KEY: value, ..., "metric", "mean", "low", "high",
        "sd", "n", "difference", "difference_low", "difference_high", "distinguishable"}``; the
        difference is to the first grid point, paired over the common replications.
    """

    scenario: str
    params: list
    metrics: list
    points: list
    runs: list
    rows: list

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    @property
    def deterministic(self) -> bool:
        return self.runs[0].deterministic

    def columns(self) -> list[str]:
        """The header of ``sweep.csv``: the swept KEYs, then :data:`SWEEP_COLUMNS`."""
        return [*self.keys, *SWEEP_COLUMNS]

    def as_json(self) -> dict:
        """``sweep.json``: the run's settings, the grid and ``rows`` (as ``sweep.csv``)."""
        base = self.runs[0]
        return {
            "scenario_file": self.scenario,
            "scenario": base.scenario_name,
            "engine": base.engine,
            "reps": base.reps,
            "seed": base.seed,
            "days": base.days,
            "currency": base.currency,
            "overrides": {k: v for k, v in base.overrides.items() if k not in self.keys},
            "params": [{"key": p.key, "values": list(p.values)} for p in self.params],
            "metrics": [m.name for m in self.metrics],
            "baseline_point": dict(zip(self.keys, self.points[0])),
            "rows": self.rows,
        }


def sweep_of_runs(scenario: str, params, points, metrics, runs) -> Sweep:
    """The :class:`Sweep` of ``runs`` (one per grid point, from one :func:`run_variants` call)."""
    keys = [p.key for p in params]
    first = runs[0]
    rows = []
    for point, run in zip(points, runs):
        for m in metrics:
            arr = metric_values(run.values, m)
            e = estimate(arr)
            mean = _clean(e.mean)
            row = dict(zip(keys, point))
            row.update(metric=m.name, mean=mean, n=e.n)
            if run.deterministic:
                row.update(low=mean, high=mean, sd=None)
            else:
                row.update(low=_clean(e.low), high=_clean(e.high), sd=_clean(e.sd))
            d = paired_difference(arr, metric_values(first.values, m), deterministic=run.deterministic)
            row.update(
                difference=_clean(d.mean),
                difference_low=None if d.low is None else _clean(d.low),
                difference_high=None if d.high is None else _clean(d.high),
                distinguishable=d.distinguishable if np.isfinite(d.mean) else None,
            )
            rows.append({c: row.get(c) for c in [*keys, *SWEEP_COLUMNS]})
    return Sweep(scenario, list(params), list(metrics), list(points), list(runs), rows)
