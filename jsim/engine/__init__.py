"""Engines behind one :func:`simulate` and one :class:`SimulationResult`."""

from __future__ import annotations

__all__ = ["simulate", "SimulationResult", "ENGINES"]

import time

import numpy as np

from ..rng import as_seed_sequence
from .result import SimulationResult

ENGINES = ("fast", "mean-field", "des")
_FIELDS = ("occupancy", "occupancy_start", "arrivals", "flows", "segment_flows", "credits", "new_converted",
           "deliveries", "engagements", "cost")


def simulate(model, *, seed: int | None = 0, reps: int = 1, engine: str = "fast", journeys: int = 0,
             progress=None, chunk_size: int | None = None) -> SimulationResult:
    """Simulate a compiled scenario.

    Parameters
    ----------
    model : CompiledModel
        From :func:`jsim.model.compile_scenario`.
    seed : int, optional
        Root seed; replication r uses the r-th child of ``SeedSequence(seed)``. The same seed
        gives bit-identical results whatever the number of threads.
    reps : int
        Replications (ignored by ``mean-field``, which is deterministic).
    engine : {"fast", "mean-field", "des"}
        ``fast``: the numba event engine. ``mean-field``: expected values, propagated exactly.
        ``des``: the SimPy discrete-event engine (one process per customer; service touchpoints
        queue at capacity-limited desks).
    journeys : int
        Number of individual journeys to trace (exposure-level) per replication; 0 for none.
    progress : callable, optional
        ``progress(fraction_done)`` in [0, 1].
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if not isinstance(reps, (int, np.integer)) or reps < 1:
        raise ValueError(f"reps must be a whole number >= 1, got {reps!r}")
    root = as_seed_sequence(seed)
    t0 = time.perf_counter()
    if engine == "mean-field":
        from .meanfield import run_mean_field

        runs = [run_mean_field(model)]
    else:
        if engine == "des":
            from .des import run_des as run_one
        else:
            from .fast import CHUNK_SIZE, run_fast

            def run_one(model, seq, report):
                return run_fast(model, seq, chunk_size or CHUNK_SIZE, report)

        runs = []
        for r, child in enumerate(root.spawn(reps)):
            report = None
            if progress is not None:
                report = (lambda done, total, r=r: progress((r + done / max(total, 1)) / reps))
            runs.append(run_one(model, child, report))
    arrays = {f: np.stack([run[f] for run in runs]) for f in _FIELDS}
    trace = None
    if journeys:
        from .journeys import trace_journeys

        trace = trace_journeys(model, root, journeys, runs[0].get("shares"), runs[0])
    timings = {"seconds": time.perf_counter() - t0, "kernel_seconds": sum(run.get("seconds", 0.0) for run in runs)}
    if progress is not None:
        progress(1.0)
    return SimulationResult(model=model, engine=engine, seed=None if seed is None else int(root.entropy),
                            journeys=trace, timings=timings,
                            service=_service_events(runs) if engine == "des" else _service_days(model, runs), **arrays)


def _service_events(runs) -> dict | None:
    """Per service touchpoint, the discrete-event record of each run: ``{field: tuple over replications}``."""
    if not runs[0]["service"]:
        return None
    out = {}
    for name in runs[0]["service"]:
        out[name] = {key: tuple(run["service"][name][key] for run in runs) for key in runs[0]["service"][name]}
    return out


_SERVICE_DAY_FIELDS = ("p_served", "p_abandon", "p_loss", "backlog", "served", "abandoned", "utilisation", "mean_wait")


def _service_days(model, runs) -> dict | None:
    """Per service touchpoint, the day-resolution queue record of each run (see SimulationResult.service)."""
    if not model.services or "service" not in runs[0] or isinstance(runs[0]["service"], dict):
        return None
    out = {}
    for v, sv in enumerate(model.services):
        days = np.stack([run["service"][:, v, :] for run in runs])  # (R, T+1, 8)
        rec = {name: days[:, :, i] for i, name in enumerate(_SERVICE_DAY_FIELDS)}
        eff = np.stack([run["eff"] for run in runs]) if "eff" in runs[0] else None
        rec["requests"] = np.stack([(run["occupancy_start"] * model.target[sv.touchpoint]).sum(axis=(1, 2))
                                    for run in runs]) * model.delivery[:, sv.touchpoint]
        if eff is not None:
            rec["effect_coefficient"] = eff[:, :, sv.touchpoint]
        out[sv.name] = rec
    return out
