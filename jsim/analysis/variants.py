"""Run several versions of a scenario on common random numbers: what compare and sweep build on.

A :class:`Variant` is a scenario file with ``--set`` overrides. :func:`run_variants` checks every
variant before it simulates any (a mistake in the last one is found before the first runs),
then simulates each on the SAME replication seeds: replication r of every variant starts from
the r-th child of ``SeedSequence(seed)``, and the engines draw from chunked streams keyed by
that seed, so where two variants share structure their customers meet the same random numbers
and the difference between them is the effect of the change, not noise. Each run is reduced
to its per-replication values (:func:`jsim.metrics.rep_values`) and dropped, so memory does
not grow with the number of variants.
"""

from __future__ import annotations

__all__ = ["Variant", "VariantRun", "check_variants", "run_variants", "parse_variant"]

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError, ScenarioError


@dataclass(frozen=True)
class Variant:
    """A scenario file and the overrides that make this version of it.

    ``overrides`` are ``KEY=VALUE`` texts or ``(KEY, value)`` pairs, applied in order (later wins).
    """

    name: str
    scenario: str
    overrides: tuple = ()


@dataclass
class VariantRun:
    """One variant's run reduced to what comparisons read.

    Attributes
    ----------
    variant : Variant
    overrides : dict
        ``{KEY: VALUE}`` as applied (what ``summary.json`` records as ``overrides``).
    scenario_name, scenario_hash : str
    engine : str
    seed : int
        The root seed's entropy (the same for every variant of one call).
    reps : int
        Replications run (1 for a deterministic engine).
    deterministic : bool
        True for the expected-value engine: values are exact, differences need no interval.
    values : dict
        :func:`jsim.metrics.rep_values` of the run: per-replication arrays by table.
    currency : str
    days : int
    warnings : list
        The scenario's warnings (:func:`jsim.scenario.scenario_warnings`).
    """

    variant: Variant
    overrides: dict
    scenario_name: str
    scenario_hash: str
    engine: str
    seed: int
    reps: int
    deterministic: bool
    values: dict
    currency: str
    days: int
    warnings: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.variant.name


@dataclass
class _Checked:
    variant: Variant
    scenario: object
    overrides: dict
    warnings: list


def check_variants(variants: Sequence[Variant], *, customers=None, days=None) -> list[_Checked]:
    """Load and validate every variant (each file read once); raise at the first invalid one.

    Raises
    ------
    ScenarioError
        A file or an override is invalid (located at the file, ``with --set KEY``).
    InputError
        Two variants share a name.
    """
    from ..scenario import read_scenario_data, scenario_warnings, scenario_with
    from ..scenario.overrides import parse_override

    seen: dict[str, Variant] = {}
    for v in variants:
        if v.name in seen:
            raise InputError(
                f"variant names must be unique, got {v.name!r} for {seen[v.name].scenario} and {v.scenario} "
                f"(name a --variant NAME:... differently, or rename one of the files)",
                params=("variants",),
            )
        seen[v.name] = v
    files: dict[str, dict] = {}
    out = []
    for v in variants:
        if v.scenario not in files:
            files[v.scenario] = read_scenario_data(v.scenario)
        try:
            scenario = scenario_with(files[v.scenario], v.scenario, v.overrides)
        except ScenarioError as exc:
            if v.name == Path(v.scenario).stem:
                raise
            raise ScenarioError(exc.issues, source=f"{exc.source or v.scenario} [variant {v.name}]") from None
        applied = dict(o if isinstance(o, tuple) else parse_override(o) for o in v.overrides)
        out.append(_Checked(v, scenario, applied, scenario_warnings(scenario, days=days)))
    return out


def run_variants(
    variants: Sequence[Variant],
    *,
    customers: int | None = None,
    days: int | None = None,
    seed: int = 0,
    reps: int = 10,
    engine: str = "fast",
    progress: Callable[[float], None] | None = None,
    checked: list | None = None,
    cluster=None,
) -> list[VariantRun]:
    """Simulate every variant on the same replication seeds; return their per-replication values.

    Parameters
    ----------
    variants : sequence of Variant
    customers, days : int, optional
        Override ``population.customers`` / ``population.days`` of every variant (as ``jsim run``).
    seed : int
        Root seed shared by all variants (common random numbers).
    reps : int
        Replications (a deterministic engine runs once).
    engine : str
        A registered engine name.
    progress : callable, optional
        ``progress(fraction_done)``.
    checked : list, optional
        The result of :func:`check_variants` when the caller already checked (and warned).
    cluster : Cluster, optional
        From :func:`jsim.engine.distributed.connect`: every (variant, replication) runs as a
        task (a few variants in flight at once), gathered in order, on the same seeds as a local
        call (bit-identical values).

    Raises
    ------
    ScenarioError, InputError, ResourceError
        Before anything is simulated: an invalid variant, or one that cannot fit in memory.
    """
    from ..engine import get_engine, simulate
    from ..engine.resources import check_compile, check_resources
    from ..model import compile_scenario
    from ..rng import as_seed_sequence, seed_entropy

    eng = get_engine(engine)
    n = int(reps) if eng.stochastic else 1
    checked = checked if checked is not None else check_variants(variants, customers=customers, days=days)
    for c in checked:  # every variant fits before the first one runs
        check_compile(c.scenario, customers=customers, days=days)
    root = seed_entropy(as_seed_sequence(seed))  # one entropy for all variants (also when seed is None)
    if cluster is not None:
        return _run_on_cluster(checked, cluster, eng, n, root, customers, days, progress)
    runs = []
    for k, c in enumerate(checked):
        model = compile_scenario(c.scenario, customers=customers, days=days)
        check_resources(model, eng, n, 0)
        report = None
        if progress is not None:
            report = lambda f, k=k: progress((k + f) / len(checked))
        result = simulate(model, seed=root, reps=n, engine=eng, progress=report, check_memory=False)
        runs.append(_reduced(c, model, result, eng))
        del result, model
    if progress is not None:
        progress(1.0)
    return runs


def _reduced(c, model, result, eng) -> VariantRun:
    from ..metrics import rep_values

    return VariantRun(
        variant=c.variant,
        overrides=c.overrides,
        scenario_name=model.name,
        scenario_hash=model.scenario_hash,
        engine=result.engine,
        seed=result.seed,
        reps=result.n_reps,
        deterministic=not eng.stochastic,
        values=rep_values(result),
        currency=model.currency,
        days=model.n_days,
        warnings=c.warnings,
    )


def _run_on_cluster(checked, cluster, eng, n, root, customers, days, progress) -> list[VariantRun]:
    """Each variant's replications as tasks, a few variants in flight; each gathered, reduced and dropped in order."""
    from ..engine.resources import check_resources
    from ..engine.result import SimulationResult
    from ..model import compile_scenario
    from ..rng import as_seed_sequence, replication_seed

    def models():
        for c in checked:
            model = compile_scenario(c.scenario, customers=customers, days=days)
            check_resources(model, eng, n, 0)
            yield model

    seeds = [replication_seed(as_seed_sequence(root), r) for r in range(n)]
    runs = []
    for k, (c, (model, gathered)) in enumerate(zip(checked, cluster.map_models(models(), eng, seeds))):
        timings = {"seconds": 0.0, "kernel_seconds": sum(run.seconds for run in gathered)}
        result = SimulationResult.from_runs(model, eng.name, root, gathered, timings=timings)
        runs.append(_reduced(c, model, result, eng))
        del result, gathered, model
        if progress is not None:
            progress((k + 1) / len(checked))
    return runs


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` at commas outside brackets, braces and quotes (a TOML value may hold commas)."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_variant(text: str, scenario: str, where: str = "--variant") -> Variant:
    """``"chat3:touchpoints.support_chat.service.agents=3,economics.margin=0.4"`` -> a :class:`Variant` of ``scenario``.

    NAME is what the variant is reported as; each ``KEY=VALUE`` is a ``--set`` override (a
    VALUE may hold commas inside ``[...]``, ``{...}`` or quotes).

    Raises
    ------
    InputError
        No ``NAME:``, an empty or unusable NAME, or no ``KEY=VALUE`` after it (located at ``where``).
    """
    from ..scenario.checks import show

    name, colon, rest = str(text).partition(":")
    name = name.strip()
    example = f"e.g. {where} more_agents:touchpoints.support_chat.service.agents=6"
    if not colon or not name or "=" in name:
        raise InputError(f"{where} must read NAME:KEY=VALUE[,KEY=VALUE...], got {show(text)} ({example})")
    if any(ch in name for ch in "\"'\\/,") or not name.isprintable():
        raise InputError(
            f"{where} NAME must be a plain word (letters, digits, _ - . and spaces), got {show(name)} ({example})"
        )
    overrides = _split_top_level(rest)
    if not overrides or any("=" not in o for o in overrides):
        raise InputError(f"{where} {name}: needs KEY=VALUE changes after the colon, got {show(rest)} ({example})")
    return Variant(name, scenario, tuple(overrides))
