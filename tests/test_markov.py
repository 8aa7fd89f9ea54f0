"""Scenarios of baseline transitions only are absorbing Markov chains (docs/model.md).

Everything expected here is computed with NumPy from the transition matrix written in the
test: daily occupancy ``e0 P^t``, absorption probabilities ``B = N R`` and expected days in
each transient stage, the fundamental matrix ``N = (I - Q)^-1``. The mean-field engine must
reproduce them to rounding; the fast engine within 4.5 standard errors derived from the
exact variances (sums of Binomials, since day-0 counts are fixed).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, build, chain_moments, day_matrix, first_event_wins, normal_cells

import jsim

STAGES = ("aware", "considering", "cart", "customer", "lost")
TRANSIENT = [0, 1, 2]
ABSORBING = [3, 4]
TRANSITIONS = {
    ("aware", "considering"): 0.10,
    ("aware", "lost"): 0.05,
    ("considering", "cart"): 0.08,
    ("considering", "aware"): 0.04,
    ("considering", "lost"): 0.03,
    ("cart", "customer"): 0.15,
    ("cart", "considering"): 0.05,
    ("cart", "lost"): 0.10,
}
N_CUSTOMERS = 20_000
INITIAL = {"aware": 0.7, "considering": 0.3}


def scenario(days: int, segments=None, touchpoints=None) -> dict:
    data = {
        "stages": [
            {"name": "aware"},
            {"name": "considering"},
            {"name": "cart"},
            {"name": "customer", "absorbing": True, "converted": True, "purchase": True},
            {"name": "lost", "absorbing": True},
        ],
        "transitions": [{"from": f, "to": t, "p": p} for (f, t), p in TRANSITIONS.items()],
        "population": {"customers": N_CUSTOMERS, "days": days, "initial": INITIAL},
    }
    if segments:
        data["segments"] = segments
    if touchpoints:
        data["touchpoints"] = touchpoints
    return data


def base_matrix(multiplier: float = 1.0) -> np.ndarray:
    """Transition matrix P written from TRANSITIONS (staying = 1 - row total)."""
    S = len(STAGES)
    P = np.zeros((S, S))
    for (f, t), p in TRANSITIONS.items():
        P[STAGES.index(f), STAGES.index(t)] = p * multiplier
    P[np.diag_indices(S)] = 1.0 - P.sum(axis=1)
    return P


def initial_counts(n: int) -> np.ndarray:
    """Day-0 counts; the shares used here split n exactly, so no rounding is involved."""
    n0 = np.zeros(len(STAGES))
    for name, share in INITIAL.items():
        n0[STAGES.index(name)] = n * share
    assert np.all(n0 == np.round(n0))
    return n0


def every_day(P: np.ndarray, T: int) -> list[np.ndarray]:
    """The same day matrix on days 1..T."""
    return [P] * T


def check_fast_against_exact(occ: np.ndarray, mean: np.ndarray, var: np.ndarray, what: str) -> None:
    """z-test of every (day, stage) cell that is close to normal; exact support elsewhere."""
    ok = normal_cells(var)
    assert ok.sum() > 0.5 * ok.size, "too few cells to test: increase the population"
    assert_close(occ[ok], mean[ok], np.sqrt(var[ok]), what=what)
    # cells with zero variance are certain (probability 0 or 1): the count is exact
    sure = var == 0
    np.testing.assert_array_equal(occ[sure], mean[sure])


# ------------------------------------------------------------------------------------------
# one segment, baseline transitions only
# ------------------------------------------------------------------------------------------

T_SHORT = 60


@pytest.fixture(scope="module")
def chain():
    model = build(scenario(T_SHORT))
    P = base_matrix()
    n0 = initial_counts(N_CUSTOMERS)
    np.testing.assert_array_equal(model.initial[0], n0)
    mean, var = chain_moments(n0, every_day(P, T_SHORT))
    return model, P, n0, mean, var


def test_mean_field_occupancy_is_e0_P_to_the_t(chain):
    model, P, n0, _, _ = chain
    res = jsim.simulate(model, engine="mean-field")
    occ = res.stage_occupancy[0] / N_CUSTOMERS
    e = n0 / N_CUSTOMERS
    expected = np.array([e @ np.linalg.matrix_power(P, t) for t in range(T_SHORT + 1)])
    np.testing.assert_allclose(occ, expected, rtol=0, atol=1e-12)
    # flows are the expected moves: occupancy of day t-1 times P off the diagonal
    flows = res.flows[0] / N_CUSTOMERS
    off = P - np.diag(np.diag(P))
    np.testing.assert_allclose(flows[1:], expected[:-1, :, None] * off[None], rtol=0, atol=1e-12)


def test_fast_occupancy_every_day_within_binomial_se(chain):
    model, _, _, mean, var = chain
    res = jsim.simulate(model, seed=11)
    check_fast_against_exact(res.stage_occupancy[0].astype(float), mean, var, "occupancy[day, stage]")


def test_fast_replications_are_independent_draws(chain):
    """Three replications: each within tolerance, and their mean within se / sqrt(3)."""
    model, _, _, mean, var = chain
    res = jsim.simulate(model, seed=12, reps=3)
    occ = res.stage_occupancy.astype(float)
    assert not np.array_equal(occ[0], occ[1])
    ok = normal_cells(var)
    assert_close(occ.mean(axis=0)[ok], mean[ok], np.sqrt(var[ok] / 3), what="mean of 3 replications")


# ------------------------------------------------------------------------------------------
# absorption probabilities and the fundamental matrix
# ------------------------------------------------------------------------------------------

T_LONG = 900


@pytest.fixture(scope="module")
def long_run():
    model = build(scenario(T_LONG))
    res_fast = jsim.simulate(model, seed=21)
    res_mf = jsim.simulate(model, engine="mean-field")
    P = base_matrix()
    Q = P[np.ix_(TRANSIENT, TRANSIENT)]
    R = P[np.ix_(TRANSIENT, ABSORBING)]
    N = np.linalg.inv(np.eye(len(TRANSIENT)) - Q)
    B = N @ R
    n0 = initial_counts(N_CUSTOMERS)[TRANSIENT]
    # mass still transient at the horizon bounds the truncation error of everything below
    remaining = (n0 / N_CUSTOMERS) @ np.linalg.matrix_power(Q, T_LONG) @ np.ones(len(TRANSIENT))
    assert remaining < 1e-9, f"horizon too short: transient mass {remaining:.3g} left at day {T_LONG}"
    return model, res_fast, res_mf, P, Q, N, B, n0, remaining


def test_absorption_fractions_match_B(long_run):
    model, res_fast, res_mf, P, Q, N, B, n0, remaining = long_run
    b = (n0 / N_CUSTOMERS) @ B  # probability a day-0 customer ends in customer / lost
    np.testing.assert_allclose(b.sum(), 1.0, atol=1e-12)
    final_mf = res_mf.stage_occupancy[0, -1, ABSORBING] / N_CUSTOMERS
    assert np.all(np.abs(final_mf - b) <= remaining + 1e-12)
    # day-0 counts are fixed: the number absorbed in a is a sum of Binomial(n_i, B[i, a])
    var = n0 @ (B * (1 - B))
    final = res_fast.stage_occupancy[0, -1, ABSORBING].astype(float)
    assert_close(final, N_CUSTOMERS * b, np.sqrt(var), slack=N_CUSTOMERS * remaining, what="absorbed[customer, lost]")


def test_customer_days_match_fundamental_matrix(long_run):
    model, res_fast, res_mf, P, Q, N, B, n0, remaining = long_run
    expected = n0 @ N  # expected customer-days (day 0 included) spent in each transient stage
    # truncation: the visits after the horizon, computed exactly (nonnegative, tiny)
    tail = n0 @ np.linalg.matrix_power(Q, T_LONG + 1) @ N
    mf_days = res_mf.stage_occupancy[0, :, TRANSIENT].sum(axis=1)
    np.testing.assert_allclose(mf_days + tail, expected, rtol=1e-10)
    # Kemeny & Snell (Thm 3.3.5): visits V_ij to j from i have E[V^2] = N (2 N_dg - I), so
    # Var = N (2 N_dg - I) - N o N; the day-0 counts are fixed, so variances add over i.
    var_visits = N @ (2 * np.diag(np.diag(N)) - np.eye(len(N))) - N * N
    assert np.all(var_visits >= 0)
    var = n0 @ var_visits
    days = res_fast.stage_occupancy[0, :, TRANSIENT].sum(axis=1).astype(float)
    assert_close(days, expected, np.sqrt(var), slack=tail, what="customer-days[aware, considering, cart]")


def test_visit_second_moment_formula():
    """The Kemeny-Snell second moment used above, checked on its own from matrix powers.

    ``E[V_ij^2] = sum_{t,u} P(X_t = j, X_u = j | X_0 = i)``; splitting at ``min(t, u)`` gives
    ``2 sum_{t<=u} Q^t_ij Q^(u-t)_jj - sum_t Q^t_ij``, which must equal ``N (2 N_dg - I)``.
    """
    P = base_matrix()
    Q = P[np.ix_(TRANSIENT, TRANSIENT)]
    N = np.linalg.inv(np.eye(3) - Q)
    H = 2000
    pw = [np.eye(3)]
    for _ in range(H):
        pw.append(pw[-1] @ Q)
    S_ = np.sum(pw, axis=0)  # ~ N
    second = 2 * S_ * np.diag(S_)[None, :] - S_
    np.testing.assert_allclose(second, N @ (2 * np.diag(np.diag(N)) - np.eye(3)), rtol=1e-9)


# ------------------------------------------------------------------------------------------
# several segments: each is its own chain with P scaled by transition_multiplier
# ------------------------------------------------------------------------------------------

SEGMENTS = [
    {"name": "slow", "share": 0.25, "transition_multiplier": 0.5},
    {"name": "mid", "share": 0.25},
    {"name": "fast", "share": 0.5, "transition_multiplier": 1.8},
]


def test_segments_are_separate_chains():
    T = 45
    model = build(scenario(T, segments=SEGMENTS))
    mf = jsim.simulate(model, engine="mean-field").occupancy[0]
    fast = jsim.simulate(model, seed=31).occupancy[0].astype(float)
    for g, seg in enumerate(SEGMENTS):
        n0 = initial_counts(round(N_CUSTOMERS * seg["share"]))
        np.testing.assert_array_equal(model.initial[g], n0)
        P = base_matrix(seg.get("transition_multiplier", 1.0))
        mean, var = chain_moments(n0, every_day(P, T))
        np.testing.assert_allclose(mf[:, g], mean, rtol=1e-12, atol=1e-9)
        check_fast_against_exact(fast[:, g], mean, var, f"segment {seg['name']} occupancy[day, stage]")


# ------------------------------------------------------------------------------------------
# touchpoints at constant reach: the day matrix is the combined "first event wins" matrix
# ------------------------------------------------------------------------------------------

TP_SEGMENTS = [
    {"name": "casual", "share": 0.6, "transition_multiplier": 0.8},
    {"name": "keen", "share": 0.4, "touchpoint_multipliers": {"ads": 0.5, "email": 1.5}},
]
TOUCHPOINTS = [
    {
        "name": "email",
        "kind": "owned",
        "reach": 0.3,
        "engagement": 0.5,
        "effects": [{"from": "considering", "to": "cart", "p": 0.4}, {"from": "aware", "to": "considering", "p": 0.2}],
    },
    {
        "name": "ads",
        "reach": 0.2,
        "targets": ["aware"],
        "effects": [{"from": "aware", "to": "considering", "p": 0.3}, {"from": "aware", "to": "lost", "p": 0.05}],
    },
    # certain to act (reach 1, engagement 1, effect 1) on casual customers in the cart
    {
        "name": "support",
        "kind": "owned",
        "reach": 1.0,
        "segments": ["casual"],
        "effects": [{"from": "cart", "to": "customer", "p": 1.0}],
    },
]


def touchpoint_sources(g: int) -> np.ndarray:
    """Sources ``(S, K, S)`` of segment g written from the scenario's numbers and docs/model.md."""
    seg = TP_SEGMENTS[g]
    S = len(STAGES)
    K = 1 + len(TOUCHPOINTS)
    a = np.zeros((S, K, S))
    P0 = base_matrix(seg.get("transition_multiplier", 1.0))
    for s in TRANSIENT:
        a[s, 0] = P0[s]
        a[s, 0, s] = 0.0
    for j, tp in enumerate(TOUCHPOINTS):
        if "segments" in tp and seg["name"] not in tp["segments"]:
            continue
        e = tp["reach"] * tp.get("engagement", 1.0)
        m = seg.get("effect_multiplier", 1.0) * seg.get("touchpoint_multipliers", {}).get(tp["name"], 1.0)
        for eff in tp["effects"]:
            a[STAGES.index(eff["from"]), 1 + j, STAGES.index(eff["to"])] = e * eff["p"] * m
    return a


def test_constant_reach_touchpoints_give_the_combined_matrix():
    T = 40
    model = build(scenario(T, segments=TP_SEGMENTS, touchpoints=TOUCHPOINTS))
    mf = jsim.simulate(model, engine="mean-field")
    fast = jsim.simulate(model, seed=41)
    K = model.n_sources
    expected_credits = np.zeros((K, len(STAGES), len(STAGES)))
    for g, seg in enumerate(TP_SEGMENTS):
        n0 = initial_counts(round(N_CUSTOMERS * seg["share"]))
        np.testing.assert_array_equal(model.initial[g], n0)
        sources = touchpoint_sources(g)
        P = day_matrix(sources)
        if g == 0:  # support surely moves casual cart customers to customer, alone
            np.testing.assert_allclose(P[2], np.eye(len(STAGES))[3], atol=1e-15)
        mean, var = chain_moments(n0, every_day(P, T))
        np.testing.assert_allclose(mf.occupancy[0, :, g], mean, rtol=1e-12, atol=1e-9)
        check_fast_against_exact(
            fast.occupancy[0, :, g].astype(float), mean, var, f"segment {seg['name']} occupancy[day, stage]"
        )
        # credits: the expected moves of each source, summed over days
        moves = np.zeros((K, len(STAGES), len(STAGES)))
        for s in range(len(STAGES)):
            moves[:, s, :] = first_event_wins(sources[s])
        expected_credits += np.einsum("ts,ksd->ksd", mean[:-1], moves)
    np.testing.assert_allclose(mf.credits[0], expected_credits, rtol=1e-10, atol=1e-8)
    # fast credits total the fast flows, and the support touchpoint only ever moves cart -> customer
    np.testing.assert_array_equal(fast.credits[0].sum(axis=0), fast.flows[0].sum(axis=0))
    support = model.touchpoint_index["support"] + 1
    assert fast.credits[0, support].sum() == fast.credits[0, support, 2, 3] > 0


def test_a_full_markov_matrix_with_its_diagonal_is_accepted():
    """Rows of a full matrix (staying probabilities and absorbing rows included) mean the same chain."""
    import jsim

    P = np.array([[0.7, 0.2, 0.1], [0.0, 0.6, 0.4], [0.0, 0.0, 1.0]])
    names = ["a", "b", "gone"]
    full = {
        "stages": [{"name": "a"}, {"name": "b"}, {"name": "gone", "absorbing": True}],
        "transitions": [
            {"from": names[i], "to": names[j], "p": float(P[i, j])} for i in range(3) for j in range(3) if P[i, j] > 0
        ],
        "population": {"customers": 1000, "days": 12},
    }
    sparse = dict(full, transitions=[t for t in full["transitions"] if t["from"] != t["to"]])
    a = jsim.simulate(build(full), engine="mean-field").stage_occupancy[0]
    b = jsim.simulate(build(sparse), engine="mean-field").stage_occupancy[0]
    np.testing.assert_array_equal(a, b)
    expected = 1000 * np.array([1.0, 0, 0]) @ np.linalg.matrix_power(P, 12)
    np.testing.assert_allclose(a[-1], expected, rtol=1e-12)
    from jsim.errors import ScenarioError
    from jsim.scenario import parse_scenario

    bad = dict(full, transitions=full["transitions"] + [])
    bad["transitions"] = [dict(t, p=0.8) if (t["from"], t["to"]) == ("a", "a") else t for t in full["transitions"]]
    with pytest.raises(ScenarioError, match="row of stage 'a'"):
        parse_scenario(bad)
