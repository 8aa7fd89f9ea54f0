"""One scenario file, read once, simulated for many ``--set`` variants: what the teaching page asks for."""

from __future__ import annotations

__all__ = ["TeachSession", "daily_block", "MAX_REPS", "MAX_SETS", "MAX_DAYS", "ENGINES"]

import threading
from collections import OrderedDict
from collections.abc import Sequence

#: the engines the page may ask for: expected values for slider moves, the fast engine to show noise
ENGINES = ("mean-field", "fast")
#: most replications one noise request runs (a classroom needs a few lines, not a study)
MAX_REPS = 20
#: most ``set`` parameters in one request
MAX_SETS = 50
#: results kept per session (slider positions revisited are answered from memory)
CACHE_SIZE = 256
#: longest horizon a request may ask for (a classroom chart of ten years; longer answers are megabytes of JSON)
MAX_DAYS = 3650
#: most customers a stochastic request may simulate (the noise button answers in about a second)
MAX_NOISE_CUSTOMERS = 2_000_000


def daily_block(result) -> dict:
    """The day-by-day arrays of a result, as plain lists for JSON.

    ``occupancy`` (R, T+1, S): customers per stage at the end of each day (day 0 = the start),
    summed over segments; ``moves_by_source`` (R, T+1, n_sources): moves per day and source;
    ``moves_by_route`` (R, T+1, X): moves per day along route x, from ``routes[x]["from"]`` to
    ``routes[x]["to"]``, caused by ``routes[x]["source"]``.
    """
    m = result.model
    src = m.sources
    return {
        "days": m.n_days,
        "stages": list(m.stage_names),
        "sources": list(m.source_names),
        "occupancy": result.stage_occupancy.tolist(),
        "moves_by_source": result.moves_by_source.tolist(),
        "routes": [
            {
                "from": m.stage_names[src.route_from[x]],
                "to": m.stage_names[src.route_to[x]],
                "source": m.source_names[src.route_source[x]],
            }
            for x in range(src.n_routes)
        ],
        "moves_by_route": result.moves.tolist(),
    }


class TeachSession:
    """A scenario file read once; :meth:`simulate` runs ``--set`` variants of it, remembering recent ones.

    Parameters
    ----------
    path : str or Path
        The scenario file. It is read and validated here (a :class:`~jsim.errors.ScenarioError`
        when invalid), so a page never opens on a broken scenario.
    """

    def __init__(self, path):
        from ..runner import prepare
        from ..scenario import read_scenario_data, teach_sliders

        self.path = str(path)
        self.data = read_scenario_data(path)
        self.scenario, _, self.warnings = prepare(self.path, data=self.data)
        self.teach = teach_sliders(self.scenario)
        self._cache: OrderedDict = OrderedDict()
        self._lock = threading.Lock()  # one simulation at a time: the engines use every core already

    def warm_up(self) -> None:
        """Load (or compile) the stochastic engine's kernels with a tiny run of this scenario, so that the
        page's first "run with noise" answers in about a second instead of waiting for numba.

        Best effort: run in a background thread at start-up; a failure here only means a slow first press.
        """
        from ..engine import simulate
        from ..model import compile_scenario

        try:
            model = compile_scenario(self.scenario, days=min(self.scenario.population.days, 30))
            small = model if model.initial.sum() <= 5_000 else None
            if small is None:
                from ..scenario import scenario_with

                small = compile_scenario(
                    scenario_with(self.data, self.path, [("population.customers", 1000)]),
                    days=min(self.scenario.population.days, 30),
                )
            simulate(small, seed=0, reps=1, engine="fast", check_memory=False)
        except Exception:  # a warm-up never stops the page
            pass

    def info(self) -> dict:
        """What ``/api/scenario`` returns: name, description, stages, horizon, sliders, question, predict stage."""
        sc = self.scenario
        return {
            "name": sc.name,
            "description": sc.description,
            "scenario_file": self.path,
            "stages": [s.name for s in sc.stages],
            "days": sc.population.days,
            "currency": sc.economics.currency,
            **self.teach,
        }

    def simulate(self, sets: Sequence[str] = (), engine: str = "mean-field", reps: int = 1, seed: int = 0) -> dict:
        """``{"summary": ..., "daily": ...}`` of the scenario with ``--set`` texts ``sets``.

        ``summary`` is exactly what ``jsim run PATH --engine ENGINE --reps REPS --seed SEED
        --format json --set ...`` prints (:func:`jsim.runner.run_summary`); ``daily`` is
        :func:`daily_block`.

        Raises
        ------
        InputError
            An invalid engine, ``reps``, ``seed`` or ``set`` text, or a variant that breaks a rule
            of the scenario language; the message is the command line's.
        """
        from ..engine import simulate
        from ..engine.resources import check_resources
        from ..errors import InputError
        from ..runner import prepare, run_summary

        if engine not in ENGINES:
            raise InputError(f"engine: must be one of {', '.join(ENGINES)}, got {engine!r} (the page asks for these)")
        if not 1 <= reps <= MAX_REPS:
            raise InputError(f"reps: must be within [1, {MAX_REPS}], got {reps} (a few runs show the noise)")
        if seed < 0:
            raise InputError(f"seed: must be a whole number >= 0, got {seed} (e.g. seed=0)")
        if len(sets) > MAX_SETS:
            raise InputError(f"set: at most {MAX_SETS} overrides per request, got {len(sets)} (send fewer)")
        key = (tuple(sets), engine, reps if engine != "mean-field" else 1, seed)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            scenario, model, _ = prepare(self.path, overrides=tuple(sets), data=self.data)
            if model.n_days > MAX_DAYS:
                raise InputError(
                    f"population.days: the teaching page draws at most {MAX_DAYS} days, got {model.n_days} "
                    f"(use jsim run for longer horizons)"
                )
            customers = int(model.initial.sum())
            if engine != "mean-field" and customers > MAX_NOISE_CUSTOMERS:
                raise InputError(
                    f"population.customers: the noise button simulates at most {MAX_NOISE_CUSTOMERS:,} customers, "
                    f"got {customers:,} (use jsim run --reps for larger populations)"
                )
            check_resources(model, engine, reps, 0)
            result = simulate(model, seed=seed, reps=reps, engine=engine, check_memory=False)
            out = {"summary": run_summary(result, self.path, tuple(sets), scenario), "daily": daily_block(result)}
            self._cache[key] = out
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return out
