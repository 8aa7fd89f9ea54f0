"""Engines behind one :func:`simulate`, one contract (:mod:`jsim.engine.registry`) and one result.

Every engine returns a typed :class:`Run` per replication; :func:`simulate` gathers them into a
:class:`SimulationResult` that carries why every customer moved (moves per day and route,
:attr:`SimulationResult.moves`). Engines: ``fast`` (:mod:`jsim.engine.fast`), ``mean-field``
(:mod:`jsim.engine.meanfield`), ``des`` (:mod:`jsim.engine.des`).

Names are imported on first use, so that ``jsim.engine.registry`` (the engine names the command
line lists) imports nothing heavy.
"""

from __future__ import annotations

import importlib

__all__ = [
    "simulate",
    "SimulationResult",
    "Run",
    "ServiceRecord",
    "WaitLog",
    "DeskTimeline",
    "CalendarChange",
    "Engine",
    "engine_names",
    "get_engine",
    "register_engine",
]

_WHERE = {
    "simulate": "simulation",
    "SimulationResult": "result",
    "Run": "records",
    "ServiceRecord": "records",
    "WaitLog": "records",
    "DeskTimeline": "records",
    "CalendarChange": "records",
    "Engine": "registry",
    "engine_names": "registry",
    "get_engine": "registry",
    "register_engine": "registry",
}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
