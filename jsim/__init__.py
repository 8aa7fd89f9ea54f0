"""jsim: customer-journey simulation and budget optimisation.

Quick use::

    import jsim
    scenario = jsim.load_scenario("scenarios/webshop.toml")
    model = jsim.compile_scenario(scenario, customers=100_000)
    result = jsim.simulate(model, seed=1)
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "load_scenario", "compile_scenario", "simulate", "summarise"]


def __getattr__(name):  # lazy, so that `jsim --help` does not import numba
    if name == "load_scenario":
        from .scenario import load_scenario

        return load_scenario
    if name == "compile_scenario":
        from .model import compile_scenario

        return compile_scenario
    if name == "simulate":
        from .engine import simulate

        return simulate
    if name == "summarise":
        from .analysis import summarise

        return summarise
    raise AttributeError(f"module 'jsim' has no attribute {name!r}")
