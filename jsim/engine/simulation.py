"""One call that runs any registered engine: :func:`simulate`."""

from __future__ import annotations

__all__ = ["simulate"]

import time

import numpy as np

from ..rng import as_seed_sequence, named_child, replication_seed, seed_entropy
from .registry import Engine, get_engine, run_in_order
from .resources import available_memory, check_resources, estimate_resources
from .result import SimulationResult

#: Journeys one run may trace, at most.
MAX_JOURNEYS = 1_000_000


def simulate(
    model,
    *,
    seed: int | None = 0,
    reps: int = 1,
    engine: str = "fast",
    journeys: int = 0,
    progress=None,
    check_memory: bool = True,
    cluster=None,
) -> SimulationResult:
    """Simulate a compiled scenario.

    Parameters
    ----------
    model : CompiledModel
        From :func:`jsim.model.compile_scenario`.
    seed : int or SeedSequence, optional
        Root seed; replication r uses the r-th child of ``SeedSequence(seed)``. The same seed
        gives bit-identical results whatever the number of threads. None draws fresh entropy,
        which the result records as its ``seed``.
    reps : int
        Replications (an engine that is not stochastic, ``mean-field``, runs once).
    engine : str or Engine
        A registered engine's name (:func:`jsim.engine.engine_names`): ``fast``, the numba event
        engine; ``mean-field``, expected values propagated exactly; ``des``, the SimPy
        discrete-event engine (one process per customer; service touchpoints queue at
        capacity-limited desks). Or an engine object (e.g. ``FastEngine(chunk_size=...)``).
    journeys : int
        Number of individual journeys to trace (exposure level) from the named child
        ``"journeys"`` of the seed (independent of ``reps``); 0 for none.
    progress : callable, optional
        ``progress(fraction_done)`` in [0, 1].
    check_memory : bool
        Estimate the run and refuse it when it cannot fit in memory (the default). A caller that
        runs many same-sized models (an optimiser) checks once with
        :func:`~jsim.engine.resources.check_resources` and passes False.

    Raises
    ------
    ResourceError
        Before anything is allocated, when the run's estimated memory
        (:func:`jsim.engine.resources.estimate_resources`) exceeds what this machine has
        available (``JSIM_MEMORY_LIMIT`` overrides it); the message says what to change.
    cluster : Cluster, optional
        From :func:`jsim.engine.distributed.connect`: the replications run as tasks on its
        workers, one per replication, on the same seeds, gathered in replication order (the
        result is bit-identical to a local run).
    """
    if isinstance(engine, str):
        eng = get_engine(engine)
    elif isinstance(engine, Engine):
        eng = engine
    else:
        raise TypeError(f"engine must be an engine name or an Engine, got {engine!r}")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ValueError(f"reps must be a whole number >= 1, got {reps!r}")
    if journeys and not (isinstance(journeys, (int, np.integer)) and 0 < journeys <= MAX_JOURNEYS):
        raise ValueError(f"journeys must be a whole number within [0, {MAX_JOURNEYS}], got {journeys!r}")
    n = int(reps) if eng.stochastic else 1
    estimate = check_resources(model, eng, n, journeys) if check_memory else None
    root = as_seed_sequence(seed)
    t0 = time.perf_counter()
    if cluster is not None:
        report = None if progress is None else (lambda done, total: progress(done / max(total, 1)))
        runs = cluster.run_replications(model, eng, [replication_seed(root, r) for r in range(n)], report)
    elif n > 1 and hasattr(eng, "run_replications"):
        # an engine that runs replications side by side (the fast engine, day by day) may hold
        # several at once in the memory the estimate did not count
        def room() -> float:  # asked only when replications could run side by side
            peak = (estimate or estimate_resources(model, eng, n, journeys)).bytes_peak
            return max(0.0, available_memory().usable - peak)

        seeds = [replication_seed(root, r) for r in range(n)]
        runs = eng.run_replications(model, seeds, progress, memory_room=room)
    else:
        runs = run_in_order(eng, model, [replication_seed(root, r) for r in range(n)], progress)
    trace = None
    if journeys:
        from .journeys import trace_journeys

        trace = trace_journeys(model, named_child(root, "journeys"), journeys, runs[0].shares, runs[0].coefficients)
    timings = {"seconds": time.perf_counter() - t0, "kernel_seconds": sum(run.seconds for run in runs)}
    if progress is not None:
        progress(1.0)
    return SimulationResult.from_runs(model, eng.name, seed_entropy(root), runs, journeys=trace, timings=timings)
