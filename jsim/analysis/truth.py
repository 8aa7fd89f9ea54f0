"""What each touchpoint truly contributes: the counterfactual, and the paths attribution reads.

A simulator knows what no attribution tool can: what would have happened without a touchpoint.
:func:`true_contributions` runs the scenario with each touchpoint switched off
(:meth:`jsim.model.CompiledModel.without_touchpoints`: it delivers nothing and costs nothing) on
the same replication seeds as the full scenario, so the difference is paired customer by
customer (the fast engine's per-customer random streams), and reports the incremental
conversions and revenue with 95% intervals, and which sources moved fewer (or more) customers
without it: the "why" (a TV campaign whose viewers would later have converted through branded
search shows up as conversions lost by ``search``).

:func:`journey_paths` turns traced journeys (:class:`jsim.engine.journeys.Journeys`) into the
paths attribution tools read: per prospect, the touchpoints of its engaged exposures up to its
first conversion (or to the horizon), with the conversion's value, aggregated by path.
"""

from __future__ import annotations

__all__ = [
    "TouchpointTruth",
    "Truth",
    "true_contributions",
    "JourneyPaths",
    "journey_paths",
    "MethodError",
    "AgainstTruth",
    "against_truth",
]

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..metrics import Difference, Estimate, estimate, paired_difference


@dataclass(frozen=True)
class TouchpointTruth:
    """One touchpoint's counterfactual: the full scenario minus the scenario without it, paired.

    ``incremental_conversions`` and ``incremental_revenue`` are paired differences (full - off)
    of ``new_customers`` and ``revenue``; ``credited_conversions`` the conversions its own
    sources caused in the full run (what the moves by source credit it with);
    ``conversions_by_source`` the paired difference of every source's conversions (full - off):
    positive where the source converted customers only because the touchpoint was there.
    """

    touchpoint: str
    incremental_conversions: Difference
    incremental_revenue: Difference
    credited_conversions: Estimate
    conversions_by_source: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "touchpoint": self.touchpoint,
            "incremental_conversions": self.incremental_conversions.as_dict(),
            "incremental_revenue": self.incremental_revenue.as_dict(),
            "credited_conversions": self.credited_conversions.as_dict(),
            "conversions_by_source": {k: v.as_dict() for k, v in self.conversions_by_source.items()},
        }


@dataclass(frozen=True)
class Truth:
    """The counterfactual of every touchpoint asked for, with the full run's totals."""

    scenario: str
    engine: str
    seed: int
    reps: int
    conversions: Estimate
    revenue: Estimate
    prospects: Estimate
    touchpoints: tuple

    def by_touchpoint(self) -> dict[str, TouchpointTruth]:
        return {t.touchpoint: t for t in self.touchpoints}

    def as_dict(self) -> dict:
        return {
            "scenario": self.scenario,
            "engine": self.engine,
            "seed": self.seed,
            "reps": self.reps,
            "conversions": self.conversions.as_dict(),
            "revenue": self.revenue.as_dict(),
            "prospects": self.prospects.as_dict(),
            "touchpoints": [t.as_dict() for t in self.touchpoints],
        }


def true_contributions(
    model,
    *,
    touchpoints: Sequence[str] | None = None,
    seed: int = 0,
    reps: int = 10,
    engine: str = "fast",
    progress: Callable[[float], None] | None = None,
) -> Truth:
    """Run ``model`` and, for each touchpoint, ``model`` without it, all on the same replication seeds.

    Parameters
    ----------
    model : CompiledModel
    touchpoints : sequence of str, optional
        Default every touchpoint of the model.
    seed, reps, engine
        As :func:`jsim.engine.simulate`; every run uses the same root seed (common random numbers).
    progress : callable, optional
        ``progress(fraction_done)``.

    Raises
    ------
    ValueError
        An unknown touchpoint name.
    """
    from ..engine import get_engine, simulate
    from ..metrics import rep_values
    from ..rng import as_seed_sequence, seed_entropy

    names = list(model.touchpoint_names if touchpoints is None else touchpoints)
    unknown = [n for n in names if n not in model.touchpoint_names]
    if unknown:
        raise ValueError(f"touchpoints must be among {list(model.touchpoint_names)}, got {unknown}")
    eng = get_engine(engine)
    deterministic = not eng.stochastic
    root = seed_entropy(as_seed_sequence(seed))
    n_runs = len(names) + 1

    def run(m, k):
        report = None if progress is None else (lambda f: progress((k + f) / n_runs))
        return rep_values(simulate(m, seed=root, reps=reps, engine=eng, progress=report, check_memory=False))

    base = run(model, 0)
    base_conv = _source_conversions(model, base)
    rows = []
    for k, name in enumerate(names, start=1):
        off = run(model.without_touchpoints([name]), k)
        off_conv = _source_conversions(model, off)
        by_source = {
            src: paired_difference(base_conv[src], off_conv[src], deterministic=deterministic) for src in base_conv
        }
        credited = sum(base_conv[src] for src in _own_sources(model, name))
        rows.append(
            TouchpointTruth(
                touchpoint=name,
                incremental_conversions=paired_difference(
                    base["metrics"]["new_customers"], off["metrics"]["new_customers"], deterministic=deterministic
                ),
                incremental_revenue=paired_difference(
                    base["metrics"]["revenue"], off["metrics"]["revenue"], deterministic=deterministic
                ),
                credited_conversions=estimate(credited),
                conversions_by_source=by_source,
            )
        )
    if progress is not None:
        progress(1.0)
    n = len(base["metrics"]["new_customers"])
    return Truth(
        scenario=model.name,
        engine=eng.name,
        seed=root,
        reps=n,
        conversions=estimate(base["metrics"]["new_customers"]),
        revenue=estimate(base["metrics"]["revenue"]),
        prospects=estimate(base["metrics"]["prospects"]),
        touchpoints=tuple(rows),
    )


def _source_conversions(model, values) -> dict[str, np.ndarray]:
    """Conversions per source and replication: ``{source: (R,)}``."""
    return {src: v["conversions"] for src, v in values["sources"].items()}


def _own_sources(model, touchpoint: str) -> list[str]:
    """The sources a touchpoint owns: its name, or a service's three outcomes."""
    src = model.sources
    j = model.touchpoint_names.index(touchpoint)
    return [name for i, name in enumerate(src.names) if src.touchpoint[i] == j]


@dataclass(frozen=True)
class JourneyPaths:
    """Traced journeys as attribution paths.

    ``table``: a :class:`~jsim.io.paths.PathTable` with one path per prospect that had a touch (its
    touches' days in ``t_touch``, for time-decay); ``paths``: the same aggregated by path,
    ``{(touchpoint, ...): [conversions, value, nulls]}`` (the ChannelAttribution columns
    ``total_conversions``, ``total_conversion_value``, ``total_null``); ``prospects``: traced
    customers who did not start converted (the population the paths describe);
    ``converted_without_touch`` and ``not_converted_without_touch``: prospects with no engaged
    exposure before converting (or at all), which no path can hold.
    """

    table: object
    paths: dict
    prospects: int
    converted_without_touch: int
    not_converted_without_touch: int

    @property
    def conversions(self) -> int:
        """Conversions of the traced prospects, with or without a touch."""
        return int(sum(v[0] for v in self.paths.values())) + self.converted_without_touch


def journey_paths(journeys, *, engaged_only: bool = True) -> JourneyPaths:
    """The attribution paths of traced journeys (see :class:`JourneyPaths`).

    A prospect's path is the touchpoints of its exposures (engaged ones only, by default: opens,
    clicks, conversations, what a tracking system logs) in time order, up to the move that first
    puts it in a converted stage (the exposure that caused that move included); that conversion's
    value is the purchase value of the stage it enters (with the day's price multiplier). A
    prospect that never converts gives a null path of all its exposures over the horizon.
    Customers who start converted are not prospects.
    """
    from ..io.paths import PathTable
    from ..kernels import MOVE

    m = journeys.model
    rec = journeys.records
    n = journeys.n_customers
    is_prospect = ~m.is_converted[journeys.start_stage]
    clock_touchpoint = np.full(len(m.clock_names), -1, dtype=np.int64)
    for j, name in enumerate(m.touchpoint_names):
        clock_touchpoint[m.clock_names.index(name)] = j
    # records are sorted by customer, then time (an exposure before the move it causes): the first move of
    # each customer into a converted stage ends its path, the exposures before it in that order are the path
    end = np.full(n, len(rec), dtype=np.int64)
    end_value = np.zeros(n)
    converting = np.flatnonzero((rec[:, 2] == MOVE) & m.is_converted[rec[:, 6]])
    for i in converting[::-1].tolist():  # backwards: the first one of each customer is written last
        cust, day, s_to = int(rec[i, 0]), int(rec[i, 1]), int(rec[i, 6])
        end[cust] = i
        end_value[cust] = float(m.purchase_value[s_to] * m.revenue_mult[day]) if m.is_purchase[s_to] else 0.0
    touches: list[list[str]] = [[] for _ in range(n)]
    days: list[list[float]] = [[] for _ in range(n)]
    exposure = (rec[:, 2] != MOVE) & (clock_touchpoint[rec[:, 3]] >= 0)
    if engaged_only:
        exposure &= rec[:, 4] == 1
    for i in np.flatnonzero(exposure).tolist():
        cust = int(rec[i, 0])
        if i < end[cust]:
            touches[cust].append(m.touchpoint_names[clock_touchpoint[rec[i, 3]]])
            days[cust].append(float(journeys.time[i]))
    paths: dict = {}
    rows: list[tuple] = []
    conv_none = null_none = 0
    for cust in np.flatnonzero(is_prospect).tolist():
        converted = bool(end[cust] < len(rec))
        path = tuple(touches[cust])
        if not path:
            conv_none += int(converted)
            null_none += int(not converted)
            continue
        value = end_value[cust] if converted else 0.0
        rows.append((path, days[cust], float(converted), value, float(not converted)))
        row = paths.setdefault(path, [0, 0.0, 0])
        row[0] += int(converted)
        row[1] += value
        row[2] += int(not converted)
    table = PathTable.from_paths(
        [r[0] for r in rows],
        [r[2] for r in rows],
        value=[r[3] for r in rows],
        nulls=[r[4] for r in rows],
        times=[r[1] for r in rows],
    )
    return JourneyPaths(table, paths, int(is_prospect.sum()), conv_none, null_none)


@dataclass(frozen=True)
class MethodError:
    """How far one attribution method is from the truth over the touchpoints: ``mae`` (mean absolute
    error in conversions), ``rank_correlation`` (Spearman's rho; None with fewer than 3 touchpoints or
    no variation) and ``attributed``/``incremental`` totals."""

    method: str
    mae: float
    rank_correlation: float | None
    attributed: float
    incremental: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class AgainstTruth:
    """Attributed conversions of every method beside the true incremental conversions, per touchpoint.

    ``attributed[method][touchpoint]`` is the method's credit scaled to the population (``scale``
    = the population's prospects over the traced prospects); ``errors`` one :class:`MethodError`
    per method.
    """

    truth: Truth
    attributed: dict
    scale: float
    errors: tuple

    def rows(self) -> list[dict]:
        """One row per touchpoint: ``touchpoint``, ``incremental``, ``low``, ``high``, ``credited``, then one
        column per method."""
        out = []
        for t in self.truth.touchpoints:
            d = t.incremental_conversions
            row = {
                "touchpoint": t.touchpoint,
                "incremental": d.mean,
                "low": d.low,
                "high": d.high,
                "credited": t.credited_conversions.mean,
            }
            row.update({m: a.get(t.touchpoint, 0.0) for m, a in self.attributed.items()})
            out.append(row)
        return out

    def as_dict(self) -> dict:
        return {
            "truth": self.truth.as_dict(),
            "scale": self.scale,
            "attributed": self.attributed,
            "errors": [e.as_dict() for e in self.errors],
            "rows": self.rows(),
        }


def against_truth(truth: Truth, attributed: dict, scale: float = 1.0) -> AgainstTruth:
    """Set each method's attributed conversions (``{method: {touchpoint: conversions}}``, on the traced
    paths) beside the truth, scaled to the population by ``scale``, with each method's error.

    A touchpoint a method does not credit counts as 0 (it never appeared on a path).
    """
    from scipy.stats import spearmanr

    names = [t.touchpoint for t in truth.touchpoints]
    inc = np.array([t.incremental_conversions.mean for t in truth.touchpoints], dtype=np.float64)
    scaled = {m: {k: float(v) * scale for k, v in a.items()} for m, a in attributed.items()}
    errors = []
    for method, credit in scaled.items():
        x = np.array([credit.get(n, 0.0) for n in names], dtype=np.float64)
        rho = None
        if len(names) >= 3 and np.ptp(x) > 0 and np.ptp(inc) > 0:
            rho = float(spearmanr(x, inc).statistic)
        errors.append(MethodError(method, float(np.abs(x - inc).mean()), rho, float(x.sum()), float(inc.sum())))
    return AgainstTruth(truth, scaled, float(scale), tuple(errors))
