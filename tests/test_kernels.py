"""Each numba kernel against a plain reference (STYLE.md: "slow obvious reference in tests").

1. ``_day_pairs`` (``jsim.kernels._hazards``) against a NumPy transcription of docs/model.md
   (``conftest.first_event_wins``), including clocks that are sure to fire (``r_k = 1``) and
   clocks that are zero; ``_wom_shares`` and ``clock_hazard`` against plain formulas.
2. ``_mean_field`` against a NumPy day loop over the full (stage x stage) matrices.
3. ``_independent_chunks``, ``_coupled_init`` and ``_coupled_days`` (``jsim.kernels._population``)
   against their own ``.py_func`` (the same code run by the Python interpreter, with the
   random-number and pair-picking helpers interpreted too), from identical random states:
   outputs must be equal bit for bit. The helpers ``_next_double`` and the alias tables
   (``_build_alias``, ``pick_alias`` and its residual uniform) are checked against plain
   references first.
4. The fast engine against a slow, obvious per-customer, per-day simulation written here, on a
   scenario whose reach changes from day to day (adstock, flights starting and ending, fatigue,
   a frequency cap), so the inversion of the cumulative hazard is exercised.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from conftest import assert_close, build, chain_moments, first_event_wins, normal_cells

import jsim
from jsim import kernels
from jsim.engine.fast import DAY_BATCHES, FastEngine
from jsim.kernels import _alias, _hazards, _population, _rng, day_tables, mean_field_arrays
from jsim.model import Coefficients

# ------------------------------------------------------------------------------------------
# a scenario with every kind of source: sure (r = 1), zero, time-varying, word of mouth
# ------------------------------------------------------------------------------------------

KERNEL_SCENARIO = {
    "stages": [
        {"name": "s0"},
        {"name": "s1"},
        {"name": "s2", "converted": True},
        {"name": "s3", "converted": True, "purchase": True},
        {"name": "s4", "absorbing": True},
        {"name": "s5", "absorbing": True, "advocate": True, "converted": True},
    ],
    "transitions": [
        {"from": "s0", "to": "s1", "p": 0.10},
        {"from": "s1", "to": "s2", "p": 0.05},
        {"from": "s1", "to": "s4", "p": 0.02},
        {"from": "s2", "to": "s3", "p": 0.10},
        {"from": "s2", "to": "s0", "p": 0.03},
        {"from": "s3", "to": "s5", "p": 0.05},
    ],
    "touchpoints": [
        # two sources sure to fire from s1 for segment g0: they share the move equally
        {
            "name": "sure_a",
            "kind": "owned",
            "reach": 1.0,
            "segments": ["g0"],
            "effects": [{"from": "s1", "to": "s2", "p": 1.0}],
        },
        {
            "name": "sure_b",
            "kind": "owned",
            "reach": 1.0,
            "segments": ["g0"],
            "effects": [{"from": "s1", "to": "s3", "p": 0.6}, {"from": "s1", "to": "s4", "p": 0.4}],
        },
        # only on days 3..6 (zero source on the other days)
        {
            "name": "flight",
            "spend": 100.0,
            "response": {"kind": "hill", "ec": 50.0, "slope": 2.0, "max_reach": 0.8},
            "engagement": 0.5,
            "start_day": 3,
            "end_day": 6,
            "effects": [{"from": "s0", "to": "s1", "p": 0.3}, {"from": "s2", "to": "s3", "p": 0.2}],
        },
        # never delivered: a zero source every day
        {"name": "silent", "reach": 0.0, "effects": [{"from": "s0", "to": "s2", "p": 0.5}]},
        {
            "name": "retarget",
            "reach": 0.4,
            "engagement": 0.9,
            "fatigue": {"halflife": 2.0, "strength": 1.0},
            "effects": [{"from": "s3", "to": "s2", "p": 0.2}, {"from": "s2", "to": "s5", "p": 0.1}],
        },
    ],
    "segments": [
        {"name": "g0", "share": 0.5},
        {
            "name": "g1",
            "share": 0.3,
            "transition_multiplier": 2.0,
            "effect_multiplier": 0.5,
            "touchpoint_multipliers": {"flight": 3.0},
            "word_of_mouth_multiplier": 0.5,
        },
        {"name": "g2", "share": 0.2, "transition_multiplier": 0.0, "word_of_mouth_multiplier": 0.0},
    ],
    "word_of_mouth": [
        {"from": "s0", "to": "s1", "p": 0.01, "q": 0.5},
        {"from": "s3", "to": "s5", "p": 0.02, "q": 1.0, "advocates": ["s3", "s5"]},
        # p = 40 per day: 1 - exp(-40) rounds to 1, another source sure to fire (from s2)
        {"from": "s2", "to": "s4", "p": 40.0, "q": 0.0},
    ],
    "population": {
        "customers": 3000,
        "days": 10,
        "initial": {"s0": 0.4, "s1": 0.2, "s2": 0.2, "s3": 0.2},
        "arrivals_per_day": 25.0,
        "arrival_stage": "s0",
    },
}


def without_word_of_mouth(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "word_of_mouth"}


def reference_sources(model, t: int, shares: np.ndarray) -> np.ndarray:
    """``a (G, S, K, S)`` of docs/model.md, built from the kernel's input arrays."""
    G, S, J, W = model.n_segments, model.n_stages, model.n_touchpoints, model.n_wom
    a = np.zeros((G, S, 1 + J + W, S))
    for g in range(G):
        for s in range(S):
            if model.is_absorbing[s]:
                continue
            a[g, s, 0] = model.p0[g, s]
            for j in range(J):
                a[g, s, 1 + j] = model.exposure_effect[t, j] * model.q[g, j, s]
            for w in range(W):
                if model.wom_from[w] == s:
                    a[g, s, 1 + J + w, model.wom_to[w]] = -np.expm1(
                        -(model.wom_p[w] + model.wom_q[w] * shares[w]) * model.wom_mult[g]
                    )
    return a


def reference_moves(model, t: int, shares: np.ndarray) -> np.ndarray:
    """``(G, S, K, S)`` probability of moving s -> d via source k on day t."""
    a = reference_sources(model, t, shares)
    out = np.zeros_like(a)
    for g in range(a.shape[0]):
        for s in range(a.shape[1]):
            out[g, s] = first_event_wins(a[g, s])
    return out


def scatter_pairs(model, prob: np.ndarray) -> np.ndarray:
    """Kernel pair probabilities ``(G, S, P)`` as ``(G, S, K, S)``."""
    G, S, _ = prob.shape
    out = np.zeros((G, S, model.n_clocks, S))
    for g in range(G):
        for s in range(S):
            for i in range(model.n_pairs[g, s]):
                out[g, s, model.pair_src[g, s, i], model.pair_dst[g, s, i]] += prob[g, s, i]
    return out


@pytest.fixture(scope="module")
def kmodel():
    return build(KERNEL_SCENARIO)


# ------------------------------------------------------------------------------------------
# 1. _day_pairs
# ------------------------------------------------------------------------------------------


def test_scenario_has_sure_and_zero_sources(kmodel):
    a = reference_sources(kmodel, 1, np.zeros(kmodel.n_wom))
    r = a.sum(axis=-1)  # (G, S, K)
    assert (r[0, 1] >= 1.0).sum() == 2  # s1, g0: sure_a and sure_b
    assert r[0, 2, -1] == 1.0  # s2: word of mouth with p = 40
    assert r[2, 2, -1] == 0.0  # ... zero for g2 (multiplier 0)
    assert np.all(r[2, :, 0] == 0.0)  # g2 has no baseline transitions
    assert np.all(r[:, :, 1 + kmodel.touchpoint_index["silent"]] == 0.0)
    assert kmodel.exposure_effect[2, kmodel.touchpoint_index["flight"]] == 0.0  # before the flight
    assert kmodel.exposure_effect[4, kmodel.touchpoint_index["flight"]] > 0.0


@pytest.mark.parametrize("shares", [(0.0, 0.0, 0.0), (0.3, 0.7, 0.1), (1.0, 1.0, 1.0)])
def test_day_pairs_matches_the_first_event_wins_formulas(kmodel, shares):
    shares = np.array(shares)
    for t in range(1, kmodel.n_days + 1):
        prob, hazard, leave = day_tables(kmodel, t, shares)
        moves = reference_moves(kmodel, t, shares)
        np.testing.assert_allclose(scatter_pairs(kmodel, prob), moves, rtol=0, atol=1e-12, err_msg=f"day {t}")
        r = reference_sources(kmodel, t, shares).sum(axis=-1)  # (G, S, K)
        sure = (r >= 1.0).any(axis=-1)
        lam = -np.log1p(-np.where(r >= 1.0, 0.0, r))
        expected_leave = np.where(sure, 1.0, 1.0 - np.prod(1.0 - r, axis=-1))
        expected_hazard = np.where(sure, kernels.HAZARD_MAX, np.minimum(lam.sum(axis=-1), kernels.HAZARD_MAX))
        np.testing.assert_allclose(leave, expected_leave, rtol=0, atol=1e-12, err_msg=f"day {t}")
        np.testing.assert_allclose(hazard, expected_hazard, rtol=1e-12, atol=1e-15, err_msg=f"day {t}")
    # the two sure sources of g0 in s1 share the move equally; the baseline gets nothing
    sa, sb = 1 + kmodel.touchpoint_index["sure_a"], 1 + kmodel.touchpoint_index["sure_b"]
    moves = scatter_pairs(kmodel, day_tables(kmodel, 1, shares)[0])
    np.testing.assert_allclose(moves[0, 1, sa].sum(), 0.5, atol=1e-15)
    np.testing.assert_allclose(moves[0, 1, sb], [0, 0, 0, 0.3, 0.2, 0], atol=1e-15)
    assert moves[0, 1, 0].sum() == 0.0


def test_day_pairs_direct_call_writes_every_output(kmodel):
    """The raw kernel overwrites stale values in its outputs (no accumulation across days)."""
    G, S, P = kmodel.pair_src.shape
    prob, hazard, leave = np.full((G, S, P), 7.0), np.full((G, S), 7.0), np.full((G, S), 7.0)
    fx = Coefficients.initial(kmodel.exposure_effect)
    _hazards._day_pairs(2, np.array([0.2, 0.2, 0.2]), kmodel.arrays, fx, prob, hazard, leave)
    ref_prob, ref_hazard, ref_leave = day_tables(kmodel, 2, np.array([0.2, 0.2, 0.2]))
    np.testing.assert_array_equal(prob, ref_prob)
    np.testing.assert_array_equal(hazard, ref_hazard)
    np.testing.assert_array_equal(leave, ref_leave)


def test_wom_shares_and_clock_hazard_match_their_formulas(kmodel):
    occ = np.arange(kmodel.n_segments * kmodel.n_stages, dtype=float).reshape(kmodel.n_segments, kmodel.n_stages)
    expected = [occ[:, kmodel.wom_advocate[w]].sum() / occ.sum() for w in range(kmodel.n_wom)]
    np.testing.assert_array_equal(kernels.wom_shares(kmodel, occ), expected)
    assert kernels.wom_shares(kmodel, np.zeros_like(occ)).tolist() == [0.0] * kmodel.n_wom
    for p in (0.0, 1e-12, 0.3, 1 - 1e-16, 1.0):
        expected = kernels.HAZARD_MAX if p >= 1 else min(-np.log1p(-p), kernels.HAZARD_MAX)
        assert kernels.clock_hazard(p) == expected == _hazards._clock_hazard(p)


# ------------------------------------------------------------------------------------------
# 2. _mean_field
# ------------------------------------------------------------------------------------------


def reference_mean_field(model) -> dict:
    """Expected counts by a plain day loop over full (S, S) matrices per segment and source."""
    T, G, S, K, W = model.n_days, model.n_segments, model.n_stages, model.n_clocks, model.n_wom
    conv = model.is_converted.astype(float)
    a_stage = model.arrival_stage
    x = np.zeros((G, S, 2))  # [..., 1]: ever converted
    x[:, :, 0] = model.initial * (1 - conv)
    x[:, :, 1] = model.initial * conv
    out = dict(
        occupancy=np.zeros((T + 1, G, S)),
        occupancy_start=np.zeros((T + 1, G, S)),
        flows=np.zeros((T + 1, S, S)),
        segment_flows=np.zeros((G, S, S)),
        credits=np.zeros((K, S, S)),
        moves_by_day_and_clock=np.zeros((T + 1, K)),
        new_converted=np.zeros((T + 1, G)),
        shares=np.zeros((T + 1, W)),
    )
    out["occupancy"][0] = model.initial
    out["new_converted"][0] = (model.initial * conv).sum(axis=1)
    for t in range(1, T + 1):
        total = x.sum()
        shares = np.array([x.sum(axis=2)[:, model.wom_advocate[w]].sum() / total if total else 0.0 for w in range(W)])
        out["shares"][t] = shares
        x[:, a_stage, int(conv[a_stage])] += model.arrivals_mean
        out["new_converted"][t] += model.arrivals_mean * conv[a_stage]
        out["occupancy_start"][t] = x.sum(axis=2)
        moves = reference_moves(model, t, shares)  # (G, S, K, S)
        new = np.zeros_like(x)
        for g in range(G):
            M = moves[g].sum(axis=1)  # (S, S) moves, off the diagonal
            full = M + np.diag(1.0 - M.sum(axis=1))
            to_conv = M * conv[None, :]  # moves of never-converted customers into converted stages
            new[g, :, 1] = x[g, :, 1] @ full + x[g, :, 0] @ to_conv
            new[g, :, 0] = x[g, :, 0] @ (full - to_conv)
            n_g = x[g].sum(axis=1)
            out["flows"][t] += n_g[:, None] * M
            out["segment_flows"][g] += n_g[:, None] * M
            out["credits"] += np.einsum("s,skd->ksd", n_g, moves[g])
            out["moves_by_day_and_clock"][t] += np.einsum("s,skd->k", n_g, moves[g])
            out["new_converted"][t, g] += (x[g, :, 0] @ to_conv).sum()
        x = new
        out["occupancy"][t] = x.sum(axis=2)
    return out


@pytest.mark.parametrize("with_wom", [True, False], ids=["word-of-mouth", "independent"])
def test_mean_field_matches_a_numpy_day_loop(with_wom):
    model = build(KERNEL_SCENARIO if with_wom else without_word_of_mouth(KERNEL_SCENARIO))
    out, _ = mean_field_arrays(model)
    src = model.sources
    assert model.n_sources == model.n_clocks  # no service: one source per clock
    S = model.n_stages
    got = {
        name: getattr(out, name)
        for name in ("occupancy", "occupancy_start", "segment_flows", "new_converted", "shares")
    }
    got["flows"] = np.zeros((model.n_days + 1, S, S))
    got["credits"] = np.zeros((model.n_sources, S, S))
    got["moves_by_day_and_clock"] = np.zeros((model.n_days + 1, model.n_sources))
    for x in range(src.n_routes):  # the kernel counts moves per route: (from, to, source)
        got["flows"][:, src.route_from[x], src.route_to[x]] += out.moves[:, x]
        got["credits"][src.route_source[x], src.route_from[x], src.route_to[x]] += out.moves[:, x].sum()
        got["moves_by_day_and_clock"][:, src.route_source[x]] += out.moves[:, x]
    ref = reference_mean_field(model)
    for name, expected in ref.items():
        np.testing.assert_allclose(got[name], expected, rtol=1e-10, atol=1e-9, err_msg=name)


# ------------------------------------------------------------------------------------------
# 3. event kernels: jitted vs interpreted, from identical random states
# ------------------------------------------------------------------------------------------

MASK = (1 << 64) - 1


def xoshiro256plus(s: list[int]) -> float:
    """Reference xoshiro256+ (Blackman & Vigna) on Python ints; advances ``s`` in place."""
    result = (s[0] + s[3]) & MASK
    t = (s[1] << 17) & MASK
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = ((s[3] << 45) | (s[3] >> 19)) & MASK
    return (result >> 11) * 2.0**-53


def test_next_double_is_xoshiro256plus():
    state = np.random.SeedSequence(3).generate_state(4, np.uint64)
    ref = [int(v) for v in state]
    jit_state, py_state = state.copy(), state.copy()
    for _ in range(2000):
        expected = xoshiro256plus(ref)
        assert _rng._next_double(jit_state) == expected
        with np.errstate(over="ignore"):
            assert _rng._next_double.py_func(py_state) == expected
    assert [int(v) for v in jit_state] == ref == [int(v) for v in py_state]


def alias_distribution(thresh, alias, n):
    """Exact probability of each index under an alias table (plain reference)."""
    out = np.zeros(n)
    for i in range(n):
        out[i] += thresh[i] / n
        out[alias[i]] += (1.0 - thresh[i]) / n
    return out


def splitmix64_mix(z: int) -> int:
    """Reference SplitMix64 finaliser (Steele, Lea & Flood 2014) on Python ints."""
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def test_customer_streams_are_splitmix64_seeded_by_key_and_index():
    """Customer i's k-th number mix(seed_i + (k + 1) GAMMA), seed_i = mix(key + (i + 1) GAMMA_SEED), on Python ints."""
    mask = (1 << 64) - 1
    for key in (0, 1, 0xDEADBEEFCAFEBABE, mask):
        for i in (0, 1, 7, 10**12):
            seed = splitmix64_mix((key + (i + 1) * 0xD1B54A32D192ED03) & mask)
            assert int(_rng._customer_seed(np.uint64(key), i)) == seed
            for k in (0, 1, 2, 1000, 2**32 - 1):
                word = splitmix64_mix((seed + (k + 1) * 0x9E3779B97F4A7C15) & mask)
                expected = (word >> 11) * 2.0**-53
                assert _rng._customer_double(np.uint64(seed), k) == expected
                assert _rng._customer_exp(np.uint64(seed), k) == -math.log(expected + 2.0**-54)


def test_customer_streams_look_uniform_and_independent():
    """Across customers and within one stream: mean, variance and lag-1 correlation of uniforms
    within 4.5 standard errors of U(0, 1)'s."""
    n = 20_000
    across = np.array([_rng._customer_double(np.uint64(_rng._customer_seed(np.uint64(42), i)), 0) for i in range(n)])
    seed = np.uint64(_rng._customer_seed(np.uint64(42), 5))
    within = np.array([_rng._customer_double(seed, k) for k in range(n)])
    for u in (across, within):
        assert abs(u.mean() - 0.5) <= 4.5 * math.sqrt(1 / 12 / n)
        assert abs(u.var() - 1 / 12) <= 4.5 * math.sqrt(1 / 180 / n)
        r = np.corrcoef(u[:-1], u[1:])[0, 1]
        assert abs(r) <= 4.5 / math.sqrt(n)


def test_alias_tables_reproduce_the_pair_probabilities():
    rng = np.random.default_rng(4)
    for _ in range(500):
        n = int(rng.integers(1, 9))
        prob = rng.random(n) * (rng.random(n) < 0.7)
        if not prob.any():
            prob[rng.integers(n)] = 0.3
        thresh, alias = np.ones(n), np.zeros(n, dtype=np.int64)
        _alias._build_alias(prob, n, thresh, alias)
        py_thresh, py_alias = np.ones(n), np.zeros(n, dtype=np.int64)
        _alias._build_alias.py_func(prob, n, py_thresh, py_alias)
        np.testing.assert_array_equal(thresh, py_thresh)
        np.testing.assert_array_equal(alias, py_alias)
        np.testing.assert_allclose(alias_distribution(thresh, alias, n), prob / prob.sum(), rtol=0, atol=1e-12)
        # a zero-probability pair is never drawn, whatever the uniform; lists (the DES) pick the same
        for u in np.linspace(0, 1, 97, endpoint=False):
            got, v = _alias._pick_alias(u, thresh, alias, n)
            assert prob[got] > 0 and (got, v) == kernels.pick_alias(u, thresh.tolist(), alias.tolist(), n)
            assert 0.0 <= v < 1.0


def test_alias_residual_is_uniform_whatever_the_index():
    """pick_alias's residual: given the index drawn, what is left of u is uniform on [0, 1).

    Exactly: over a fine grid of u, the residuals of each index are spread evenly (each tenth
    of [0, 1) gets a tenth of the index's mass), up to the grid's resolution.
    """
    prob = np.array([0.5, 0.05, 0.3, 0.15])
    n = len(prob)
    thresh, alias = kernels.alias_tables(prob[None, None], np.array([[n]]))
    grid = (np.arange(200_000) + 0.5) / 200_000
    picks = np.array([kernels.pick_alias(u, thresh[0, 0], alias[0, 0], n) for u in grid])
    idx, res = picks[:, 0].astype(int), picks[:, 1]
    for i in range(n):
        counts = np.histogram(res[idx == i], bins=10, range=(0, 1))[0]
        np.testing.assert_allclose(counts / len(grid), prob[i] / 10, atol=3 / len(grid))


def test_alias_wrapper_checks_shapes():
    from jsim.kernels import alias_tables

    with pytest.raises(ValueError, match="shape"):
        alias_tables(np.zeros((2, 3)), np.zeros((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match=">= 0"):
        alias_tables(-np.ones((1, 2, 3)), np.ones((1, 2), dtype=np.int64))


#: helpers the population kernels call, by module: interpreted while a kernel's .py_func runs
HELPERS = {
    _rng: ("_rotl", "_mix64", "_customer_double"),
    _population: (
        "_customer_seed",
        "_customer_double",
        "_customer_exp",
        "_pick_alias",
        "_outcome_route",
        "_independent_chunk",
        "_coupled_chunk",
        "_coupled_day",
        "_coupled_day_serial",
        "_coupled_init_chunk",
        "_coupled_init_parallel",
        "_day_step",
        "_alias_tables",
    ),
}


@contextlib.contextmanager
def interpreted_helpers():
    """Make the kernels' ``.py_func`` call interpreted helpers too (fully pure Python)."""
    saved = {(mod, name): getattr(mod, name) for mod, names in HELPERS.items() for name in names}
    try:
        for (mod, name), fn in saved.items():
            setattr(mod, name, fn.py_func)
        with np.errstate(over="ignore", divide="ignore"):
            yield
    finally:
        for (mod, name), fn in saved.items():
            setattr(mod, name, fn)


def _copy(arg):
    """Deep copy of the arrays of an argument (an array, or a tuple of arrays such as ModelArrays)."""
    if isinstance(arg, np.ndarray):
        return arg.copy()
    if isinstance(arg, tuple):
        return type(arg)(*(_copy(a) for a in arg))
    return arg


def _arrays(arg, where):
    if isinstance(arg, np.ndarray):
        yield where, arg
    elif isinstance(arg, tuple):
        for name, a in zip(getattr(arg, "_fields", range(len(arg))), arg):
            yield from _arrays(a, f"{where}.{name}")


class TwinRunner:
    """Wraps a jitted kernel: each call also runs ``.py_func`` on copies and compares every array."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.calls = 0

    def __call__(self, *args):
        before = [_copy(a) for a in args]
        self.kernel(*args)
        with interpreted_helpers():
            self.kernel.py_func(*before)
        for i, (jit_arg, py_arg) in enumerate(zip(args, before)):
            for (where, jit_arr), (_, py_arr) in zip(_arrays(jit_arg, f"argument {i}"), _arrays(py_arg, "")):
                assert jit_arr.dtype == py_arr.dtype
                np.testing.assert_array_equal(jit_arr, py_arr, err_msg=f"{self.kernel.__name__} {where}")
        self.calls += 1


def run_twinned(monkeypatch, model, names, seed=0, chunk_size=8):
    """Simulate with the kernels ``names`` (as the wrappers in jsim.kernels call them) twinned."""
    twins = {name: TwinRunner(getattr(kernels, name)) for name in names}
    for name, twin in twins.items():
        monkeypatch.setattr(kernels, name, twin)
    res = jsim.simulate(model, seed=seed, engine=FastEngine(chunk_size=chunk_size))
    monkeypatch.undo()
    return twins, res


def tiny(data: dict, customers=40, days=12, arrivals=3.0) -> dict:
    pop = dict(data["population"], customers=customers, days=days, arrivals_per_day=arrivals)
    return dict(data, population=pop)


def test_independent_chunks_jit_equals_python(monkeypatch):
    model = build(tiny(without_word_of_mouth(KERNEL_SCENARIO)))
    from jsim.kernels import all_day_tables

    # both ways of finding the day of a move are exercised: constant hazards and varying ones
    const_hazard = all_day_tables(model)[3]
    movable = model.n_pairs > 0
    assert (const_hazard[movable] > 0).any() and (const_hazard[movable] == 0).any()
    twins, res = run_twinned(monkeypatch, model, ["_independent_chunks"])
    assert twins["_independent_chunks"].calls == 1
    assert model.initial.sum() + res.arrivals.sum() > 4 * 8  # several chunks
    assert res.flows.sum() > 0


@pytest.mark.parametrize("customers", [40, 4], ids=["several chunks", "one chunk, then several"])
def test_coupled_kernels_jit_equal_python(monkeypatch, customers):
    model = build(tiny(KERNEL_SCENARIO, customers=customers, days=8))
    twins, res = run_twinned(monkeypatch, model, ["_coupled_init", "_coupled_days"])
    step = max(1, -(-model.n_days // DAY_BATCHES))
    assert twins["_coupled_init"].calls == 1 and twins["_coupled_days"].calls == -(-model.n_days // step)
    # the day loop advances serially while one chunk (8 customers) holds everyone, in parallel after that
    n_active = model.initial.sum() + np.cumsum(res.arrivals[0].sum(axis=1))[1:]
    assert (n_active > 8).any() and ((n_active <= 8).any() or customers > 8)
    assert res.flows.sum() > 0


def test_tiny_constant_hazard_does_not_overflow_the_geometric_wait():
    """Regression: ceil(E / h) for h ~ 1e-300 overflowed int64, so everyone moved the next day
    (and a customer reaching the stage on the last day was written past the horizon)."""
    data = {
        "stages": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        "transitions": [{"from": "a", "to": "b", "p": 1.0}, {"from": "b", "to": "c", "p": 1e-300}],
        "population": {"customers": 1000, "days": 30},
    }
    res = jsim.simulate(build(data), seed=0)
    np.testing.assert_array_equal(res.stage_occupancy[0, -1], [0, 1000, 0])


# ------------------------------------------------------------------------------------------
# 4. fast engine vs a slow obvious simulation, with reach that changes from day to day
# ------------------------------------------------------------------------------------------

T4 = 40
STAGES4 = ("visitor", "interested", "cart", "buyer", "lost")
VARYING = {
    "stages": [
        {"name": "visitor"},
        {"name": "interested"},
        {"name": "cart"},
        {"name": "buyer", "absorbing": True, "converted": True, "purchase": True},
        {"name": "lost", "absorbing": True},
    ],
    "transitions": [
        {"from": "visitor", "to": "interested", "p": 0.01},
        {"from": "visitor", "to": "lost", "p": 0.01},
        {"from": "interested", "to": "cart", "p": 0.03},
        {"from": "interested", "to": "lost", "p": 0.02},
        {"from": "cart", "to": "buyer", "p": 0.05},
        {"from": "cart", "to": "interested", "p": 0.05},
    ],
    "touchpoints": [
        {
            "name": "search",
            "spend": 100.0,
            "response": {"kind": "hill", "ec": 80.0, "slope": 1.5, "max_reach": 0.6},
            "adstock": {"alpha": 0.6, "l_max": 7},
            "start_day": 5,
            "end_day": 18,
            "engagement": 0.8,
            "effects": [
                {"from": "visitor", "to": "interested", "p": 0.25},
                {"from": "interested", "to": "cart", "p": 0.1},
            ],
        },
        {
            "name": "social",
            "spend": 50.0,
            "response": {"kind": "exponential", "lam": 0.02, "max_reach": 0.5},
            "adstock": {"alpha": 0.8, "normalize": False},
            "frequency_cap": {"exposures": 2, "days": 7},
            "fatigue": {"halflife": 3.0, "strength": 2.0},
            "start_day": 10,
            "end_day": 25,
            "effects": [
                {"from": "visitor", "to": "interested", "p": 0.15},
                {"from": "visitor", "to": "lost", "p": 0.05},
            ],
        },
        {
            "name": "email",
            "kind": "owned",
            "reach": 0.5,
            "engagement": 0.3,
            "start_day": 20,
            "end_day": 30,
            "targets": ["cart"],
            "effects": [{"from": "cart", "to": "buyer", "p": 0.4}],
        },
    ],
    "segments": [
        {"name": "new", "share": 0.7},
        {"name": "returning", "share": 0.3, "transition_multiplier": 1.5, "effect_multiplier": 1.2},
    ],
    "population": {"customers": 20_000, "days": T4, "arrivals_per_day": 100.0, "arrival_stage": "visitor"},
}


def engaged_exposure(tp: dict, T: int) -> np.ndarray:
    """e_j(t) * f_j(t) for t = 0..T, from the formulas of docs/model.md ("Touchpoint delivery")."""
    days = np.arange(T + 1)
    end = tp.get("end_day", T)
    in_flight = (days >= tp.get("start_day", 1)) & (days <= end) & (days >= 1)
    if "reach" in tp:
        delivery = np.where(in_flight, tp["reach"], 0.0)
    else:
        x = np.where(in_flight, tp["spend"], 0.0)
        ad = tp.get("adstock")
        if ad:
            L = ad.get("l_max", T)
            w = ad["alpha"] ** np.arange(L)
            if ad.get("normalize", True):
                w = w / w.sum()
            A = np.array([sum(w[lag] * x[t - lag] for lag in range(L) if t - lag >= 0) for t in days])
        else:
            A = x
        r = tp["response"]
        if r["kind"] == "hill":
            delivery = r["max_reach"] * A ** r["slope"] / (A ** r["slope"] + r["ec"] ** r["slope"])
        else:
            delivery = r["max_reach"] * (1.0 - np.exp(-r["lam"] * A))
        delivery[0] = 0.0
    if "frequency_cap" in tp:
        delivery = np.minimum(delivery, tp["frequency_cap"]["exposures"] / tp["frequency_cap"]["days"])
    e = delivery * tp.get("engagement", 1.0)
    f = np.ones(T + 1)
    if "fatigue" in tp:
        delta = 0.5 ** (1.0 / tp["fatigue"]["halflife"])
        for t in range(1, T + 1):
            F = sum(delta ** (lag - 1) * e[t - lag] for lag in range(1, t + 1))
            f[t] = 1.0 / (1.0 + tp["fatigue"]["strength"] * F)
    return e * f


def varying_day_matrices(data: dict, T: int) -> np.ndarray:
    """``(G, T+1, S, S)`` day matrices written from the scenario's numbers."""
    S = len(data["stages"])
    names = [s["name"] for s in data["stages"]]
    absorbing = [s.get("absorbing", False) for s in data["stages"]]
    tps = data["touchpoints"]
    eff = np.stack([engaged_exposure(tp, T) for tp in tps], axis=1)  # (T+1, J)
    out = np.zeros((len(data["segments"]), T + 1, S, S))
    for g, seg in enumerate(data["segments"]):
        for t in range(1, T + 1):
            a = np.zeros((S, 1 + len(tps), S))
            for tr in data["transitions"]:
                a[names.index(tr["from"]), 0, names.index(tr["to"])] = tr["p"] * seg.get("transition_multiplier", 1.0)
            for j, tp in enumerate(tps):
                m = seg.get("effect_multiplier", 1.0) * seg.get("touchpoint_multipliers", {}).get(tp["name"], 1.0)
                for e in tp["effects"]:
                    a[names.index(e["from"]), 1 + j, names.index(e["to"])] = eff[t, j] * e["p"] * m
            for s in range(S):
                if not absorbing[s]:
                    moves = first_event_wins(a[s]).sum(axis=0)
                    out[g, t, s] = moves
                out[g, t, s, s] = 1.0 - out[g, t, s].sum()
    return out


def slow_simulation(data: dict, initial: np.ndarray, matrices: np.ndarray, seed: int) -> np.ndarray:
    """Every customer, every day: one uniform picks the next stage from its row of the day matrix.

    Returns end-of-day occupancy ``(T+1, G, S)``. Arrivals (Poisson per segment) join the arrival
    stage at the start of their day and move that same day.
    """
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(matrices, axis=-1)
    G, T1, S, _ = matrices.shape
    T = T1 - 1
    a = [s["name"] for s in data["stages"]].index(data["population"].get("arrival_stage", data["stages"][0]["name"]))
    lam = data["population"]["arrivals_per_day"] * np.array([seg["share"] for seg in data["segments"]])
    stage = np.concatenate([np.repeat(np.arange(S), initial[g]) for g in range(G)])
    seg = np.concatenate([np.full(initial[g].sum(), g) for g in range(G)])
    occ = np.zeros((T + 1, G, S), dtype=np.int64)
    np.add.at(occ[0], (seg, stage), 1)
    for t in range(1, T + 1):
        n_new = rng.poisson(lam)
        stage = np.concatenate([stage, np.full(n_new.sum(), a)])
        seg = np.concatenate([seg, np.repeat(np.arange(G), n_new)])
        u = rng.random(stage.size)
        # per customer: invert the CDF of its row (the number of CDF steps at or below u)
        rows = cdf[seg, t, stage]  # (customers, S)
        stage = np.minimum((u[:, None] >= rows).sum(axis=1), S - 1)
        np.add.at(occ[t], (seg, stage), 1)
    return occ


@pytest.fixture(scope="module")
def varying():
    model = build(VARYING)
    matrices = varying_day_matrices(VARYING, T4)
    G, S = model.n_segments, model.n_stages
    lam = VARYING["population"]["arrivals_per_day"] * np.array([g["share"] for g in VARYING["segments"]])
    mean = np.zeros((T4 + 1, G, S))
    var = np.zeros((T4 + 1, G, S))
    for g in range(G):
        mean[:, g], var[:, g] = chain_moments(
            model.initial[g], list(matrices[g, 1:]), arrivals=lam[g], arrival_stage=model.arrival_stage
        )
    return model, matrices, mean, var


def test_compiled_exposure_matches_the_delivery_formulas(varying):
    model, *_ = varying
    expected = np.stack([engaged_exposure(tp, T4) for tp in VARYING["touchpoints"]], axis=1)
    np.testing.assert_allclose(model.exposure_effect, expected, rtol=1e-12, atol=1e-15)
    e = model.exposure_effect
    # reach really varies: ramps up with adstock, carries over after the flight, steps for email
    assert e[4, 0] == 0 and 0 < e[5, 0] < e[8, 0] and e[19, 0] > 0 and e[26, 0] == 0
    assert e[19, 2] == 0 and e[20, 2] > 0 and e[31, 2] == 0
    assert len(np.unique(np.round(e[1:, 1], 12))) > 10


@pytest.mark.parametrize("l_max", [3, 40, 41, 100, 10**9])
def test_adstock_normalisation_uses_l_max_whatever_the_horizon(l_max):
    """docs/model.md: weights alpha^l for l < l_max divided by their sum, even when l_max > T.

    Regression: the compiler clipped l_max to the horizon first, so the same scenario
    delivered ~14% more on its first days when simulated for 20 days than for 200.
    """
    tp = {
        "name": "tv",
        "spend": 100.0,
        "response": {"kind": "exponential", "lam": 0.01, "max_reach": 1.0},
        "adstock": {"alpha": 0.9, "l_max": l_max},
        "effects": [{"from": "a", "to": "b", "p": 0.1}],
    }
    data = {"stages": [{"name": "a"}, {"name": "b"}], "touchpoints": [tp], "population": {"customers": 10, "days": 40}}
    short, long = build(data, days=20), build(data, days=200)
    np.testing.assert_allclose(short.exposure_effect[:, 0], long.exposure_effect[:21, 0], rtol=1e-12)
    if l_max < 10**6:
        np.testing.assert_allclose(build(data).exposure_effect[:, 0], engaged_exposure(tp, 40), rtol=1e-12)


def test_fast_engine_matches_slow_reference(varying):
    model, matrices, mean, var = varying
    fast = jsim.simulate(model, seed=99).occupancy[0].astype(float)
    slow = slow_simulation(VARYING, model.initial, matrices, seed=100).astype(float)
    days = [10, 20, 30, T4]
    ok = normal_cells(var[days])
    sd = np.sqrt(var[days])
    # the reference itself is right ...
    assert_close(slow[days][ok], mean[days][ok], sd[ok], what="slow reference occupancy")
    # ... the engine is right ...
    assert_close(fast[days][ok], mean[days][ok], sd[ok], what="fast engine occupancy")
    # ... and they agree with each other on the final day (two independent samples)
    okT = normal_cells(var[T4])
    assert okT.sum() >= 6
    assert_close(fast[T4][okT], slow[T4][okT], np.sqrt(2 * var[T4][okT]), what="fast - slow, final day")


def test_fast_engine_reacts_to_the_flight_timing(varying):
    """A scenario whose flights are shifted by 10 days gives a detectably different day 20."""
    model, matrices, mean, var = varying
    shifted = {
        **VARYING,
        "touchpoints": [
            dict(tp, start_day=tp["start_day"] + 10, end_day=tp["end_day"] + 10) for tp in VARYING["touchpoints"]
        ],
    }
    other = jsim.simulate(build(shifted), seed=99).occupancy[0, 20].astype(float)
    z = np.abs(other - mean[20]) / np.sqrt(np.maximum(var[20], 1.0))
    assert z.max() > 10


@pytest.mark.parametrize("coupled", [False, True], ids=["independent", "coupled"])
def test_arrivals_move_on_their_first_day_and_only_once(coupled):
    """docs/model.md: arrivals join at the start of their day and can move that day, once."""
    data = {
        "stages": [{"name": "a"}, {"name": "b"}, {"name": "c", "absorbing": True}],
        "transitions": [{"from": "a", "to": "b", "p": 1.0}, {"from": "b", "to": "c", "p": 0.5}],
        "population": {"customers": 0, "days": 20, "arrivals_per_day": 50.0},
    }
    if coupled:  # a rule that never fires still sends the run down the day-coupled path
        data["word_of_mouth"] = [{"from": "b", "to": "c", "p": 0.0, "q": 0.0, "advocates": ["c"]}]
    model = build(data)
    assert model.is_coupled == coupled
    for res in (
        jsim.simulate(model, seed=3, engine=FastEngine(chunk_size=64)),
        jsim.simulate(model, engine="mean-field"),
    ):
        occ, arr, flows = res.stage_occupancy[0], res.arrivals[0].sum(axis=1), res.flows[0]
        assert arr.sum() > 0
        np.testing.assert_allclose(occ[:, 0], 0.0)  # nobody ends a day in a ...
        np.testing.assert_allclose(flows[:, 0, 1], arr)  # ... they left on their arrival day
        assert np.all(occ[1:, 1] >= arr[1:] - 1e-9)  # and moved no further that day
        np.testing.assert_allclose(flows[1:, 1, 2] + occ[1:, 1], occ[:-1, 1] + arr[1:])
    mf = jsim.simulate(model, engine="mean-field").stage_occupancy[0, :, 1]
    expected = np.zeros(21)
    for t in range(1, 21):
        expected[t] = 50.0 + 0.5 * expected[t - 1]
    np.testing.assert_allclose(mf, expected, rtol=1e-12)
