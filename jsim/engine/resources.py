"""Memory and time a run will take, estimated from the compiled model before anything is allocated.

:func:`estimate_resources` adds up what each engine allocates (``docs/limits.md`` has the
formulas and the measurements behind the constants); :func:`check_resources` compares the
estimate with the memory this machine has available (:func:`available_memory`) and raises
:class:`~jsim.errors.ResourceError`, saying what to change, when the run cannot fit.
:func:`jsim.engine.simulate` calls it before every run, so a run that would exhaust the memory
is refused in about a millisecond instead of ending in a ``MemoryError`` or the kernel's OOM
killer. :func:`estimate_compile` does the same for compiling a scenario (the model's arrays grow
with stages² x touchpoints x segments and the compile checks with days x touchpoints x
segments x stages).

The estimate is an upper bound: constants are rounded up from measurements (peak resident
memory in a fresh process, ``benchmarks``-style), and random counts (arrivals, moves) get a
margin of six standard deviations. Axis letters as in :mod:`jsim.model.compiled`; ``N`` the
expected customers (day 0 plus arrivals), ``R`` replications.
"""

from __future__ import annotations

__all__ = [
    "Estimate",
    "estimate_resources",
    "estimate_compile",
    "check_resources",
    "check_compile",
    "available_memory",
    "parse_size",
    "format_bytes",
    "MEMORY_ENV",
    "USABLE_SHARE",
    "SLOW_SECONDS",
    "SAFETY",
    "OVERHEAD_BYTES",
]

import functools
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..errors import ResourceError

#: Environment variable that sets the memory a run may use (``4G``, ``512M``, ``2.5GB``, bytes),
#: instead of the share :data:`USABLE_SHARE` of the memory the machine has available.
MEMORY_ENV = "JSIM_MEMORY_LIMIT"
#: Share of the available memory a run may use when :data:`MEMORY_ENV` is not set.
USABLE_SHARE = 0.8
#: Estimated seconds from which ``jsim run`` announces the expected duration on stderr.
SLOW_SECONDS = 60.0

# -- constants (bytes and seconds), measured on the project's 2-core VM and rounded up -------------
#: fast engine, day-by-day path: stage int16 + segment int8 + converted uint8 + threshold float64
COUPLED_CUSTOMER_BYTES = 16
#: customers per chunk of the fast engine (``jsim.engine.fast.CHUNK_SIZE``)
CHUNK_SIZE = 1 << 16
#: per chunk (and per traced journey): a spawned SeedSequence while the states are made, plus the state
SEED_BYTES = 420
SEED_SECONDS = 2.5e-5
#: fast engine, independent path: the per-chunk count buffers of one batch (``fast.BATCH_BYTES``)
BATCH_BYTES = 256 << 20
BATCH_CHUNKS = 64
#: the independent path's lists of (day, segment) cohorts with arrivals
COHORT_BYTES = 160
#: discrete-event engine: per customer, four list slots and two bytearrays ...
DES_CUSTOMER_BYTES = 40
#: ... per pending threshold (a heap entry: a (float, int, int) tuple, its float and int, a slot) ...
DES_WAITING_BYTES = 136
#: ... per move (its code while running, the arrays made from the codes at the end) ...
DES_MOVE_BYTES = 56
#: ... per service request (the desk's records and log, their copies in the service record) ...
DES_REQUEST_BYTES = 300
#: ... per wake-up of the busiest day (two lists of tuples)
DES_WAKE_BYTES = 240
#: traced journeys: per record (buffers, the concatenated and sorted copies)
JOURNEY_RECORD_BYTES = 232
#: throughputs
COUPLED_CUSTOMER_DAYS_PER_SECOND = 1.0e8
INDEPENDENT_CUSTOMERS_PER_SECOND = 1.0e7
DES_EVENTS_PER_SECOND = 6.0e4
TABLE_CELLS_PER_SECOND = 5.0e7
#: the estimate is the sum of the parts alive at the peak, times SAFETY, plus OVERHEAD (allocator
#: slack, small temporaries)
SAFETY = 1.1
OVERHEAD_BYTES = 32 << 20
#: standard deviations of margin on random counts (Poisson arrivals, the DES's moves)
_MARGIN_SD = 6.0


def format_bytes(n: float) -> str:
    """``1.5 GB``, ``12 MB``, ``512 B`` (powers of 1000; ``inf`` for a non-finite amount)."""
    if not math.isfinite(n):
        return "inf B"
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


def _num(x: float) -> str:
    """A count for a message: ``1e+10`` -> ``1e10``, ``2800000`` -> ``2.8e6``, ``1500`` -> ``1,500``."""
    if not math.isfinite(x):
        return str(x)
    if abs(x) < 1e5:
        return f"{x:,.0f}"
    mant, exp = f"{x:.2g}".split("e")
    return f"{mant}e{int(exp)}"


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of ``"4G"``, ``"4GB"``, ``"512M"``, ``"1.5GiB"``, ``"1000000"`` (K, M, G, T as powers of 1024).

    Raises ValueError naming the rule and the value.
    """
    match = _SIZE.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"{MEMORY_ENV} must be an amount of memory > 0 such as 4G, 512M or 2000000000 (bytes), got {text!r}"
        )
    power = "kmgtp".find(match.group(2).lower()) + 1 if match.group(2) else 0
    return int(float(match.group(1)) * 1024**power)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    """Memory left under this process's cgroup limit (v2 ``memory.max``, v1 ``limit_in_bytes``), if any."""
    for limit_path, usage_path in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        limit = _read_int(limit_path)
        if limit is not None and limit < 1 << 60:  # v1 reports "no limit" as a huge number
            return max(0, limit - (_read_int(usage_path) or 0))
    return None


class Memory(NamedTuple):
    """What a run may use: ``usable`` bytes, out of ``available`` bytes found at ``source``."""

    usable: int
    available: int
    source: str


_CACHE: dict = {}
_CACHE_SECONDS = 1.0


def available_memory() -> Memory:
    """The memory a run may use now.

    :data:`MEMORY_ENV` when set (all of it usable); else :data:`USABLE_SHARE` of the least of
    ``MemAvailable`` (``/proc/meminfo``) and the room under a cgroup limit, falling back to
    ``psutil`` and then ``os.sysconf``. Read at most once a second (an optimisation calls this
    on every evaluation).

    Raises
    ------
    ResourceError
        :data:`MEMORY_ENV` is set to something that is not an amount of memory.
    """
    env = os.environ.get(MEMORY_ENV)
    if env is not None and env.strip():
        try:
            limit = parse_size(env)
        except ValueError as exc:
            raise ResourceError(f"environment: {exc}") from None
        return Memory(limit, limit, f"{MEMORY_ENV}={env.strip()}")
    now = time.monotonic()
    hit = _CACHE.get("memory")
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    found = [(v, src) for v, src in ((_meminfo_available(), "MemAvailable"), (_cgroup_room(), "cgroup limit")) if v]
    if not found:
        try:
            import psutil

            found = [(int(psutil.virtual_memory().available), "psutil")]
        except (ImportError, AttributeError, OSError):
            try:
                found = [(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "sysconf")]
            except (ValueError, OSError, AttributeError):
                found = [(1 << 62, "unknown")]
    available, source = min(found)
    mem = Memory(int(available * USABLE_SHARE), int(available), source)
    _CACHE["memory"] = (now, mem)
    return mem


# -- sizes ---------------------------------------------------------------------------------------
class _Sizes(NamedTuple):
    """What the estimate depends on (floats: counts can be huge or infinite)."""

    T: float
    G: float
    S: float
    J: float
    W: float
    X: float
    V: float
    P: float
    n_src: float
    initial: float  # day-0 customers
    arrivals_per_day: float  # expected arrivals per day, averaged over the horizon
    coupled: bool
    clocks: float  # stage clock + the most service request clocks one customer can hold
    journey_records: float  # records (exposures and moves) per traced journey

    @property
    def arrivals(self) -> float:
        return self.arrivals_per_day * self.T

    @property
    def customers(self) -> float:
        """Customers who will ever join, with a margin for the Poisson arrivals."""
        a = self.arrivals
        return self.initial + (a + _MARGIN_SD * math.sqrt(a) + 10.0 if a > 0 else 0.0)

    @property
    def customer_days(self) -> float:
        """Customer-days the day-by-day path visits: day-0 customers every day, arrivals from their day on."""
        return self.initial * self.T + self.arrivals_per_day * self.T * (self.T + 1) / 2.0


def _sizes(model, journeys: int = 1) -> _Sizes:
    """The sizes of ``model`` (a traced journey's records only counted when ``journeys``: they depend on
    the spend, which changes on every optimiser evaluation, while the rest does not)."""
    T = model.n_days
    if T > 0:
        per_day = float(np.sum(model.arrivals_mean)) * float(np.mean(model.arrivals_mult[1:]))
    else:
        per_day = 0.0
    V = len(model.services)
    svc_clocks = float(np.max(model.target[model.svc_tp].sum(axis=0))) if V else 0.0
    J = model.n_touchpoints
    # cheap bound of a traced journey's records: every delivery of every day, a move a day
    records = ((float(np.sum(model.delivery[1:])) if J else 0.0) + T + 1.0) if journeys else 0.0
    return _Sizes(
        T=float(T),
        G=float(model.n_segments),
        S=float(model.n_stages),
        J=float(J),
        W=float(model.n_wom),
        X=float(model.n_routes),
        V=float(V),
        P=float(model.pair_src.shape[2]),
        n_src=float(model.n_sources),
        initial=float(np.sum(model.initial)),
        arrivals_per_day=per_day if math.isfinite(per_day) else math.inf,
        coupled=bool(model.is_coupled),
        clocks=1.0 + svc_clocks,
        journey_records=records,
    )


# -- the estimate --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """Memory and time one :func:`~jsim.engine.simulate` call is expected to take.

    Attributes
    ----------
    bytes_peak : float
        Upper bound of the memory the run allocates at its peak, in bytes: the parts alive at
        the same time, times :data:`SAFETY`, plus :data:`OVERHEAD_BYTES` (the compiled model,
        already allocated, is not included: see ``model_bytes``).
    customer_days : float
        Customers x days the run visits (day-0 customers every day, arrivals from their day on).
    customers : float
        Customers who will ever join (day 0 plus the expected arrivals and a margin).
    seconds : float
        Rough wall time on a 2-core machine (within a factor of a few).
    breakdown : dict of str to float
        Bytes of each part (``results``, ``derived tables``, ``customers``, ``exposures``, ...).
    formulas : dict of str to str
        How each part was counted, e.g. ``1e10 customers x 16 bytes``.
    model_bytes : float
        The compiled model's arrays (already allocated).
    engine, reps, journeys
        What was estimated.
    """

    bytes_peak: float
    customer_days: float
    customers: float
    seconds: float
    breakdown: dict = field(default_factory=dict)
    formulas: dict = field(default_factory=dict)
    model_bytes: float = 0.0
    engine: str = "fast"
    reps: int = 1
    journeys: int = 0

    def describe(self, n_parts: int = 3) -> str:
        """The largest parts with their formulas: ``1e10 customers x 16 bytes (day-by-day state) = 160 GB; ...``."""
        parts = sorted(self.breakdown.items(), key=lambda kv: -kv[1])[:n_parts]
        return "; ".join(f"{self.formulas.get(k, k)} = {format_bytes(v)}" for k, v in parts if v > 0)


def _engine_name(engine) -> tuple[str, int]:
    name = engine if isinstance(engine, str) else getattr(engine, "name", "?")
    chunk = int(getattr(engine, "chunk_size", CHUNK_SIZE)) if not isinstance(engine, str) else CHUNK_SIZE
    return name, chunk


def _model_bytes(G, S, J, T, X, n_src, P) -> float:
    """Arrays of a compiled model: effects (G, J, S, S) x 3, routes, pairs, (T+1, J) day tables."""
    return 8.0 * (3 * G * J * S * S + S * n_src * S + 6 * G * S * P + 14 * (T + 1) * J + G * S * S + X * 3)


def _terms(z: _Sizes, engine: str, reps: int, journeys: int, chunk_size: int, refined=None):
    """``(parts, formulas, seconds, peak)`` of one simulate call: bytes of each part, how each was
    counted, the wall time and the peak (parts that are not alive at the same time are not added)."""
    T, G, S, J, W, X, V, P = z.T, z.G, z.S, z.J, z.W, z.X, z.V, z.P
    T1 = T + 1
    stochastic = engine != "mean-field"
    R = float(reps) if stochastic else 1.0
    N = z.customers
    parts: dict = {}
    text: dict = {}
    # one replication's Run (held in a list until the result stacks them: two copies at once)
    run = 8.0 * (2 * T1 * G * S + 2 * T1 * G + T1 * X + G * S * S + 6 * T1 * J + T1 * W + 12 * T1 * V)
    parts["results"] = 2.0 * R * run
    reps_text = f"{_num(R)} rep{'s' if R != 1 else ''}"
    text["results"] = f"{reps_text} x 2 copies x {format_bytes(run)} ({_num(T1)} days x counts)"
    # what every consumer computes from a result: flows (R, T+1, S, S), credits, moves by source
    parts["derived tables"] = 8.0 * R * (T1 * S * S + z.n_src * S * S + T1 * z.n_src)
    text["derived tables"] = f"flows: {reps_text} x {_num(T1)} days x {_num(S)}² stages x 8 bytes"
    # exposure counts: the (T, J, G, S) census x targets and its binomial draw (expected values: one)
    parts["exposures"] = 16.0 * T * J * G * S if stochastic else 8.0 * T1 * J * G * S
    text["exposures"] = (
        f"{_num(T)} days x {_num(J)} touchpoints x {_num(G * S)} (segment, stage) x {16 if stochastic else 8} bytes"
    )
    seconds = 0.0
    path = 0.0  # the engine's own peak before the exposures are drawn
    if engine == "fast":
        n_chunks = max(1.0, math.ceil(N / chunk_size)) if math.isfinite(N) else math.inf
        parts["chunk seeds"] = SEED_BYTES * n_chunks
        text["chunk seeds"] = f"{_num(n_chunks)} chunks of {_num(chunk_size)} customers x {SEED_BYTES} bytes"
        if z.coupled:
            parts["customers"] = COUPLED_CUSTOMER_BYTES * N + n_chunks * (8.0 * (G * S * S + X + G) + 32.0)
            text["customers"] = f"{_num(N)} customers x {COUPLED_CUSTOMER_BYTES} bytes (day-by-day state)"
            seconds = z.customer_days / COUPLED_CUSTOMER_DAYS_PER_SECOND + T * 2e-5
            path = parts["customers"] + parts["chunk seeds"]
        else:
            per_chunk = 8.0 * (G * S * (T + 2) + T1 * X + G * S * S + T1 * G)
            B = max(1.0, min(BATCH_CHUNKS, n_chunks, BATCH_BYTES // per_chunk))
            parts["day tables"] = (
                8.0 * (3 * T1 * G * S * P + 6 * T1 * G * S) + (B + 2) * per_chunk + COHORT_BYTES * T * G
            )
            text["day tables"] = f"{_num(T1)} days x {_num(G * S * P)} (segment, stage, pair) x 24 bytes + buffers"
            seconds = N / INDEPENDENT_CUSTOMERS_PER_SECOND + T1 * G * S * P / TABLE_CELLS_PER_SECOND
            path = parts["day tables"] + parts["chunk seeds"]
        seconds += n_chunks * SEED_SECONDS
    elif engine == "mean-field":
        seconds = T1 * G * S * (P + 4) * 2 / TABLE_CELLS_PER_SECOND
    elif engine == "des":
        per = DES_CUSTOMER_BYTES + DES_WAITING_BYTES * z.clocks
        parts["customers"] = per * N
        text["customers"] = f"{_num(N)} customers x {per:.0f} bytes (DES state, {z.clocks:.0f} clock(s) each)"
        moves, requests, busiest = refined if refined is not None else (0.0, 0.0, 0.0)
        if refined is not None:
            parts["events"] = DES_MOVE_BYTES * moves + DES_REQUEST_BYTES * requests + DES_WAKE_BYTES * busiest
            text["events"] = (
                f"{_num(moves)} moves x {DES_MOVE_BYTES} + {_num(requests)} requests x {DES_REQUEST_BYTES} bytes"
            )
        seconds = (N + moves + 3 * requests) / DES_EVENTS_PER_SECOND + T * G * S * P / TABLE_CELLS_PER_SECOND
        path = parts["customers"] + parts.get("events", 0.0)
    seconds *= R
    j_peak = j_final = 0.0
    if journeys:
        n = float(journeys)
        records = n * z.journey_records
        cap = max(1024.0, n * 8 + T * (J + 1))
        j_peak = JOURNEY_RECORD_BYTES * records + 72.0 * cap + SEED_BYTES * n
        j_final = 80.0 * records + 24.0 * n
        parts["journeys"] = j_peak
        text["journeys"] = f"{_num(n)} journeys x {records / n:.0f} records x {JOURNEY_RECORD_BYTES} bytes"
        seconds += n * SEED_SECONDS + records / 2e7
    held = parts["results"] / 2.0  # the replications run so far
    engine_peak = max(path, parts["exposures"])
    peak = held + max(engine_peak, j_peak, held + j_final, j_final + parts["derived tables"])
    return parts, text, seconds, SAFETY * peak + OVERHEAD_BYTES


def _peak(z: _Sizes, name: str, reps: int, journeys: int, chunk: int, refined=None) -> float:
    return _terms(z, name, reps, journeys, chunk, refined)[3]


def _des_counts(model) -> tuple[float, float, float]:
    """Moves, service requests and wake-ups of the busiest day the DES will have: the expected-value
    run's, with a margin (20% and six standard deviations)."""
    from ..kernels import mean_field_arrays

    out, _ = mean_field_arrays(model)
    moves_t = out.moves.sum(axis=1)
    req_t = np.zeros_like(moves_t)
    for j in model.svc_tp.tolist():
        req_t += (out.occupancy_start * model.target[j]).sum(axis=(1, 2)) * model.delivery[:, j]
    up = lambda x: 1.2 * x + _MARGIN_SD * math.sqrt(max(x, 0.0)) + 10.0
    busiest = float(np.max(moves_t + req_t)) if len(moves_t) else 0.0
    return up(float(moves_t.sum())), up(float(req_t.sum())), up(busiest)


def _journey_records(model) -> float:
    """Records of one traced journey: the expected exposures and moves of a day-0 customer (the
    expected-value run without arrivals), with a 20% margin."""
    from ..kernels import mean_field_arrays

    x0 = model.initial.astype(np.float64)
    if x0.sum() == 0:
        x0[:, model.arrival_stage] = model.seg_share
    out, _ = mean_field_arrays(model, x0=x0, arrivals=np.zeros(model.n_segments))
    n0 = max(float(x0.sum()), 1e-300)
    exposures = 0.0
    if model.n_touchpoints:
        per_tj = np.einsum("tgs,jgs->tj", out.occupancy_start[1:], model.target.astype(np.float64))
        exposures = float((per_tj * model.delivery[1:]).sum())
    return 1.2 * (exposures + float(out.moves.sum())) / n0 + 4.0


def _prepare(model, engine, reps, journeys, usable: float):
    """``(sizes, engine name, chunk size, refined DES counts or None)``."""
    name, chunk = _engine_name(engine)
    z = _sizes(model, journeys)
    refined = None
    if journeys and math.isfinite(_peak(z, name, reps, journeys, chunk)) and z.T * z.G * z.S * z.P < 1e9:
        z = z._replace(journey_records=min(z.journey_records, _journey_records(model)))
    if name == "des":
        # the expected-value run that counts the DES's events is only worth it when the customers fit
        cheap = _peak(z, name, reps, journeys, chunk)
        if math.isfinite(cheap) and cheap <= usable:
            refined = _des_counts(model)
    return z, name, chunk, refined


@functools.lru_cache(maxsize=256)  # an optimiser's evaluations share their sizes: microseconds saved on each
def _estimate(z: _Sizes, name, reps, journeys, chunk, refined=None) -> Estimate:
    parts, text, seconds, peak = _terms(z, name, reps, journeys, chunk, refined)
    return Estimate(
        bytes_peak=peak,
        customer_days=z.customer_days,
        customers=z.customers,
        seconds=seconds,
        breakdown=parts,
        formulas=text,
        model_bytes=_model_bytes(z.G, z.S, z.J, z.T, z.X, z.n_src, z.P),
        engine=name,
        reps=int(reps) if name != "mean-field" else 1,
        journeys=int(journeys),
    )


def estimate_resources(model, engine="fast", reps: int = 1, journeys: int = 0) -> Estimate:
    """Estimate the memory and time of ``simulate(model, engine=engine, reps=reps, journeys=journeys)``.

    Parameters
    ----------
    model : CompiledModel
    engine : str or Engine
        ``fast``, ``mean-field``, ``des``, or an engine object (a plug-in engine's own memory is
        not known: only its results and exposure counts are estimated).
    reps : int
    journeys : int

    Returns
    -------
    Estimate
        O(T) arithmetic on the model's sizes (microseconds), except for ``des`` when its
        customers fit: its moves and service requests come from an expected-value run
        (O(T G S P), small next to the DES itself).
    """
    z, name, chunk, refined = _prepare(model, engine, reps, journeys, available_memory().usable)
    return _estimate(z, name, reps, journeys, chunk, refined)


# -- refusing ------------------------------------------------------------------------------------
def _largest(fits, lo: float, hi: float, integer: bool = True) -> float | None:
    """The largest x in [lo, hi] with ``fits(x)`` (``fits`` monotone), or None when not even ``lo`` fits."""
    if not fits(lo):
        return None
    if fits(hi):
        return hi
    for _ in range(200):
        if hi - lo <= (1 if integer else max(hi * 1e-3, 1e-9)):
            break
        mid = math.floor((lo + hi) / 2) if integer else (lo + hi) / 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def _fixes(z: _Sizes, name: str, reps: int, journeys: int, chunk: int, usable: float, refined):
    """What to change so that the run fits: ``(phrases, params)``, each a change that fits on its own."""

    def fits(zz=z, r=reps, j=journeys, e=name, ref=refined):
        return _peak(zz, e, r, j, chunk, ref) <= usable

    def scaled(k):  # the DES's expected events scale with the customers
        return None if refined is None else tuple(x * k for x in refined)

    fixes, params = [], []
    if not math.isfinite(z.customers):
        return ["population.arrivals_per_day and customers in the scenario must be finite"], ("customers",)
    per_customer = name == "des" or (name == "fast" and z.coupled)
    if per_customer and z.initial > 0 and math.isfinite(z.initial):
        n = _largest(lambda x: fits(z._replace(initial=x), ref=scaled(x / z.initial)), 0, z.initial)
        if n is not None and n > 0:
            fixes.append(f"lower customers (at most about {_num(n)} fit)")
            params.append("customers")
    if per_customer and z.arrivals_per_day > 0:
        a = _largest(lambda x: fits(z._replace(arrivals_per_day=x)), 0.0, z.arrivals_per_day, integer=False)
        if a is not None and a > 0:
            fixes.append(f"lower population.arrivals_per_day in the scenario (at most about {a:.3g} fit)")
    if name != "mean-field" and reps > 1:
        r = _largest(lambda x: fits(r=int(x)), 1, reps)
        if r is not None:
            fixes.append(f"lower reps (at most {int(r)} fit)")
            params.append("reps")
    if journeys > 0:
        j = _largest(lambda x: fits(j=int(x)), 0, journeys)
        if j is not None and j > 0:
            fixes.append(f"lower journeys (at most {int(j):,} fit)")
            params.append("journeys")
    if z.T > 1:
        # fewer days: the (T+1, ...) tables shrink, and so do the arrivals over the horizon
        d = _largest(lambda x: fits(z._replace(T=float(x), journey_records=z.journey_records * x / z.T)), 1, z.T)
        if d is not None:
            fixes.append(f"lower days (at most about {int(d):,} fit)")
            params.append("days")
    if name != "mean-field":
        mf = _peak(z, "mean-field", 1, journeys, chunk)
        if mf <= usable:
            fixes.append(f"use engine='mean-field' (expected values: about {format_bytes(mf)})")
            params.append("engine")
    if not fixes:
        fixes.append("use a machine with more memory, or fewer stages, touchpoints or segments in the scenario")
    return fixes, tuple(params)


def check_resources(model, engine="fast", reps: int = 1, journeys: int = 0) -> Estimate:
    """Estimate a run (:func:`estimate_resources`) and refuse it when it cannot fit in memory.

    Returns
    -------
    Estimate

    Raises
    ------
    ResourceError
        The estimate exceeds the usable memory (:func:`available_memory`): the message gives
        the estimate and its largest parts, the limit, and each change that would make the run
        fit (the largest customers, reps, days or journeys, or another engine); ``params`` names
        the parameters to change.
    """
    mem = available_memory()
    z, name, chunk, refined = _prepare(model, engine, reps, journeys, mem.usable)
    est = _estimate(z, name, reps, journeys, chunk, refined)
    if est.bytes_peak <= mem.usable:
        return est
    fixes, params = _fixes(z, name, reps, journeys, chunk, mem.usable, refined)
    if mem.source.startswith(MEMORY_ENV):
        limit = f"the limit is {format_bytes(mem.usable)} ({mem.source})"
    else:
        limit = (
            f"this machine has {format_bytes(mem.available)} available ({mem.source}) and a run may use "
            f"{USABLE_SHARE:.0%} of it, {format_bytes(mem.usable)} (or set {MEMORY_ENV})"
        )
    plural = "s" if est.reps != 1 else ""
    raise ResourceError(
        f"simulate: a run must fit in the memory available, but this one (engine {name!r}, "
        f"{_num(est.customers)} customers, {_num(z.T)} days, {est.reps} rep{plural}) needs about "
        f"{format_bytes(est.bytes_peak)} (estimate: {est.describe()}); {limit}: {'; or '.join(fixes)}",
        params=params,
    )


# -- compiling -----------------------------------------------------------------------------------
def estimate_compile(n_segments: int, n_touchpoints: int, n_stages: int, n_days: int) -> float:
    """Bytes :func:`jsim.model.compile_scenario` allocates at its peak, from the scenario's sizes.

    The effects ``(G, J, S, S)`` (three arrays) and the day check of every exposure's effects
    ``(T, G, J, S)`` (about three temporaries) dominate.
    """
    G, J, S, T = (float(x) for x in (n_segments, n_touchpoints, n_stages, n_days))
    n_src = 1 + 3 * J + S * S
    return _model_bytes(G, S, J, T, 0.0, n_src, 2 * S + J * S) + 8.0 * 3 * T * G * J * S


def check_compile(scenario, customers: int | None = None, days: int | None = None) -> float:
    """Refuse to compile ``scenario`` when its arrays cannot fit in memory; returns the estimate in bytes.

    Raises
    ------
    ResourceError
        Naming the sizes, the estimate and the limit.
    """
    G = max(1, len(scenario.segments))
    J, S = len(scenario.touchpoints), len(scenario.stages)
    T = int(days) if days is not None else int(scenario.population.days)
    need = estimate_compile(G, J, S, T)
    mem = available_memory()
    if need <= mem.usable:
        return need
    raise ResourceError(
        f"compile: a scenario's arrays must fit in the memory available, but {G} segments x {J} touchpoints x "
        f"{S} stages over {T:,} days need about {format_bytes(need)} (effects: segments x touchpoints x stages² "
        f"x 24 bytes; day checks: days x segments x touchpoints x stages x 24 bytes); the limit is "
        f"{format_bytes(mem.usable)} ({mem.source}): lower days, or use fewer stages, touchpoints or segments",
        params=("days",),
    )
