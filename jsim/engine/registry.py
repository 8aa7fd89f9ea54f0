"""The engine contract and the registry of engines.

An engine is an object with a ``name``, a ``stochastic`` flag and ``run(model, seed, progress)``
returning one :class:`~jsim.engine.records.Run`: one replication of a compiled model for one
``numpy.random.SeedSequence`` (an engine that is not stochastic ignores the seed).
:func:`jsim.engine.simulate` runs the replications and gathers them into a
:class:`~jsim.engine.SimulationResult`. Every registered engine must pass the contract suite in
``tests/test_engine_contract.py`` (conservation of customers, shapes, bit-identical results for a
seed, agreement with the expected-value engine, the calendar obeyed).

This module imports nothing heavy, so the command line can list the engines cheaply: built-in
engines are named here by ``module:attribute`` and imported on first use.

An engine may also have ``run_replications(model, seeds, progress, memory_room)`` returning the
Runs of ``seeds`` in order (what ``run`` returns for each); :func:`~jsim.engine.simulate` then
calls it for several replications, so the engine can run them side by side (the fast engine
does on the day-by-day path, :mod:`jsim.engine.schedule`); ``memory_room`` is the memory, in
bytes, beyond the estimate of the run (which counts one replication at a time), or a callable
returning it (computed only when the engine asks). :func:`run_in_order` is what they do otherwise.

To add an engine: write a module with a class that has ``name``, ``stochastic`` and ``run``
(see :class:`Engine`), call :func:`register_engine` (or add it to :data:`_BUILTIN`), and add it to
the contract suite's engine list.
"""

from __future__ import annotations

__all__ = ["Engine", "register_engine", "get_engine", "engine_names", "run_in_order"]

import difflib
import importlib
from collections.abc import Callable
from typing import Protocol, runtime_checkable

_BUILTIN = {
    "fast": "jsim.engine.fast:FastEngine",
    "mean-field": "jsim.engine.meanfield:MeanFieldEngine",
    "des": "jsim.engine.des:DesEngine",
}
_ENGINES: dict = {}


@runtime_checkable
class Engine(Protocol):
    """What :func:`jsim.engine.simulate` needs of an engine."""

    #: Name used by ``simulate(engine=...)`` and ``--engine``.
    name: str
    #: False for an engine whose result does not depend on the seed (one replication is enough).
    stochastic: bool

    def run(self, model, seed, progress: Callable[[int, int], None] | None):
        """One replication of ``model`` (a CompiledModel) for ``seed`` (a SeedSequence): a Run.

        ``progress(done, total)``, when given, is called as work completes.
        """


def register_engine(engine) -> None:
    """Make ``engine`` available to :func:`jsim.engine.simulate` under ``engine.name`` (replacing one of that name)."""
    if not isinstance(engine, Engine):
        raise TypeError(f"an engine needs name, stochastic and run(model, seed, progress), got {engine!r}")
    _ENGINES[engine.name] = engine


def engine_names() -> tuple[str, ...]:
    """Names of the built-in and registered engines, built-in first."""
    return tuple(dict.fromkeys([*_BUILTIN, *_ENGINES]))


def get_engine(name: str):
    """The engine called ``name``; ValueError naming the choices if there is none."""
    if name in _ENGINES:
        return _ENGINES[name]
    if name not in _BUILTIN:
        close = difflib.get_close_matches(str(name), engine_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"engine must be one of {list(engine_names())}, got {name!r}{hint}")
    module, attr = _BUILTIN[name].split(":")
    engine = getattr(importlib.import_module(module), attr)()
    _ENGINES[name] = engine
    return engine


def run_in_order(engine, model, seeds, progress=None) -> list:
    """``engine.run`` on each of ``seeds``, one after another; ``progress(fraction)`` of all of them done."""
    seeds = list(seeds)
    n = len(seeds)
    runs = []
    for r, seed in enumerate(seeds):
        report = None
        if progress is not None:
            report = lambda done, total, r=r: progress((r + done / max(total, 1)) / n)
        runs.append(engine.run(model, seed, report))
    return runs
