"""Attribution: the Markov model against exact fractions and a Monte Carlo of the same chain; Shapley; heuristics."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction as F

import numpy as np
import pytest

from jsim.analysis.attribution import attribute
from jsim.errors import InputError
from jsim.io.paths import PathTable

# A>B>C>A is a cycle, so absorption needs the fundamental matrix, not a walk down a tree.
TOY = [
    (("A", "B"), 1, 10, 1),
    (("A",), 0, 0, 2),
    (("B", "C"), 2, 50, 0),
    (("C", "C", "A"), 1, 6, 1),  # collapsed: C>A
]


def table(rows, times=None):
    return PathTable.from_paths(
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows], times=times
    )


def rows_by_channel(result):
    return {c.channel: c.values for c in result.channels}


def test_markov_removal_effects_equal_the_hand_solved_fractions():
    """By hand: P(start->A,B,C) = 1/2,1/4,1/4; A->B 1/3, conv 1/6, null 1/2; B->C 1/2, conv 1/4, null 1/4;
    C->A 1/2, conv 1/2. Absorption a = b/3 + 1/6, b = c/2 + 1/4, c = a/2 + 1/2 gives a = 4/11,
    b = 13/22, c = 15/22 and P(conv) = 1/2. Without A (a = 0): c = b = 1/2, P = 1/4; without B: a = 1/6,
    c = 7/12, P = 11/48; without C: b = 1/4, a = 1/4, P = 3/16."""
    p = F(1, 2)
    expected = {"A": 1 - F(1, 4) / p, "B": 1 - F(11, 48) / p, "C": 1 - F(3, 16) / p}
    assert expected == {"A": F(1, 2), "B": F(13, 24), "C": F(5, 8)}
    result = attribute(table(TOY), methods="markov")
    assert result.conversion_probability == pytest.approx(float(p), abs=1e-12)
    got = rows_by_channel(result)
    total = sum(expected.values())
    for ch, re in expected.items():
        assert got[ch]["removal_effect"] == pytest.approx(float(re), abs=1e-12)
        assert got[ch]["markov_conversions"] == pytest.approx(float(re / total * 4), abs=1e-12)
    probs = {(f, t): pr for f, t, pr in result.transitions}
    assert probs[("A", "B")] == pytest.approx(1 / 3, abs=1e-15) and probs[("C", "(conversion)")] == 0.5
    assert probs[("(start)", "A")] == 0.5 and ("C", "C") not in probs


def _solve(a, b):
    """Gauss-Jordan in exact fractions: the x with a x = b."""
    n = len(b)
    m = [list(row) + [rhs] for row, rhs in zip(a, b)]
    for i in range(n):
        piv = next(r for r in range(i, n) if m[r][i] != 0)
        m[i], m[piv] = m[piv], m[i]
        m[i] = [v / m[i][i] for v in m[i]]
        for r in range(n):
            if r != i and m[r][i] != 0:
                m[r] = [vr - m[r][i] * vi for vr, vi in zip(m[r], m[i])]
    return [row[-1] for row in m]


def _reference_value(rows, removed=None):
    """The slow obvious chain in fractions: expected conversion value from (start), ``removed`` sent to (null)."""
    counts, conv_end, value_end = {}, {}, {}
    for path, conv, value, null in rows:
        states = ["(start)"] + [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        for a, b in zip(states, states[1:]):
            counts.setdefault(a, {}).setdefault(b, 0)
            counts[a][b] += conv + null
        counts.setdefault(states[-1], {})
        counts[states[-1]]["conv"] = counts[states[-1]].get("conv", 0) + conv
        counts[states[-1]]["null"] = counts[states[-1]].get("null", 0) + null
        conv_end[states[-1]] = conv_end.get(states[-1], 0) + conv
        value_end[states[-1]] = value_end.get(states[-1], 0) + value
    names = sorted(counts)
    # u_s = P(s->conv) m_s + sum_t P(s->t) u_t, with u = 0 at a removed state
    a, b = [], []
    for s in names:
        tot = sum(counts[s].values())
        row = [F(int(s == t)) for t in names]
        if s == removed or tot == 0:
            a.append(row)
            b.append(F(0))
            continue
        for t, n in counts[s].items():
            if t in names:
                row[names.index(t)] -= F(n, tot)
        m = F(value_end[s]) / conv_end[s] if conv_end.get(s) else F(0)
        a.append(row)
        b.append(F(counts[s].get("conv", 0), tot) * m)
    return _solve(a, b)[names.index("(start)")]


def test_markov_value_follows_the_mean_value_per_conversion_of_the_last_channel():
    base = _reference_value(TOY)
    effects = {ch: 1 - _reference_value(TOY, ch) / base for ch in "ABC"}
    total = sum(effects.values())
    got = rows_by_channel(attribute(table(TOY), methods="markov"))
    for ch, re in effects.items():
        assert got[ch]["markov_value"] == pytest.approx(float(re / total * 66), abs=1e-12)


def test_second_order_against_a_hand_computation():
    """Order 2 tells the B after A (always converts) from the B after C (never does); order 1 cannot.

    States (start) -> A -> A>B -> conv; (start) -> C -> C>B -> null; (start) -> B -> conv 1/2, null 1/2;
    start: A 1/4, C 1/4, B 1/2. P = 1/4 + 1/4 = 1/2; without A: 1/4 (RE 1/2); without B: 0 (RE 1); without C: 1/2.
    Order 1: B -> conv 1/2 whatever came before; without A or without C: 3/8 (RE 1/4 each: C gets credit).
    """
    rows = [(("A", "A", "B"), 1, 0, 0), (("C", "B"), 0, 0, 1), (("B",), 1, 0, 1)]
    two = rows_by_channel(attribute(table(rows), methods="markov", order=2))
    assert [two[c]["removal_effect"] for c in "ABC"] == pytest.approx([0.5, 1.0, 0.0], abs=1e-12)
    one = rows_by_channel(attribute(table(rows), methods="markov", order=1))
    assert [one[c]["removal_effect"] for c in "ABC"] == pytest.approx([0.25, 1.0, 0.25], abs=1e-12)
    result = attribute(table(rows), methods="markov", order=2)
    assert result.conversion_probability == pytest.approx(0.5, abs=1e-12)
    assert ("A", "A>B", 1.0) in result.transitions and ("C>B", "(null)", 1.0) in result.transitions


def _random_paths(rng, n_paths, n_channels, max_len=6):
    names = [f"ch{i}" for i in range(n_channels)]
    rows = []
    for _ in range(n_paths):
        k = rng.integers(1, max_len + 1)
        path = tuple(names[i] for i in rng.integers(0, n_channels, size=k))
        conv = int(rng.poisson(1.0 + (names[0] in path)))
        rows.append((path, conv, conv * float(rng.uniform(10, 50)), int(rng.poisson(3))))
    return rows


def test_markov_removal_effects_equal_a_monte_carlo_of_the_same_chain_within_its_standard_error():
    """Random walks on the fitted chain; the removal effect of c is the share of converting walks that visit c
    (ChannelAttribution's estimator): within 4.5 standard errors of the exact value."""
    rng = np.random.default_rng(20240610)
    result = attribute(table(_random_paths(rng, 300, 5)), methods="markov")
    labels = sorted({f for f, _, _ in result.transitions} | {t for _, t, _ in result.transitions})
    idx = {s: i for i, s in enumerate(labels)}
    p = np.zeros((len(labels), len(labels)))
    for f, t, pr in result.transitions:
        p[idx[f], idx[t]] = pr
    for s in ("(conversion)", "(null)"):
        p[idx[s], idx[s]] = 1.0
    cum = np.cumsum(p, axis=1)
    n_walks = 200_000
    state = np.full(n_walks, idx["(start)"])
    visited = np.zeros((n_walks, len(labels)), dtype=bool)
    absorbing = np.array([idx["(conversion)"], idx["(null)"]])
    while not np.isin(state, absorbing).all():
        u = rng.random(n_walks)[:, None]
        state = np.minimum((u > cum[state]).sum(axis=1), len(labels) - 1)
        visited[np.arange(n_walks), state] = True
    converted = state == idx["(conversion)"]
    n_conv = converted.sum()
    assert abs(n_conv / n_walks - result.conversion_probability) < 4.5 * math.sqrt(
        result.conversion_probability * (1 - result.conversion_probability) / n_walks
    )
    for c in result.channels:
        share = visited[converted, idx[c.channel]].mean()
        exact = c.values["removal_effect"]
        se = math.sqrt(max(exact * (1 - exact), 1e-12) / n_conv)
        assert abs(share - exact) < 4.5 * se, (c.channel, share, exact, se)


def test_heuristics_on_a_toy_table():
    rows = [(("a", "b", "a", "c"), 2, 20, 0), (("b",), 1, 5, 3), (("c", "a"), 1, 4, 0), (("a", "a", "a"), 0, 0, 9)]
    got = rows_by_channel(attribute(table(rows), methods=["first", "last", "linear", "position"]))
    assert {c: v["first_touch"] for c, v in got.items()} == {"a": 2, "b": 1, "c": 1}
    assert {c: v["last_touch"] for c, v in got.items()} == {"a": 1, "b": 1, "c": 2}
    # linear counts every raw touch: a gets 2/4 of path 1
    assert got["a"]["linear"] == pytest.approx(2 * 0.5 + 0.5)
    assert got["b"]["linear"] == pytest.approx(2 * 0.25 + 1)
    assert got["a"]["linear_value"] == pytest.approx(20 * 0.5 + 4 * 0.5)
    # position: 40/20/40 over 4 touches (a 0.4 + 0.1, b 0.1, c 0.4); two touches 50/50; one touch all
    assert got["a"]["position"] == pytest.approx(2 * 0.5 + 0.5)
    assert got["b"]["position"] == pytest.approx(2 * 0.1 + 1)
    assert got["c"]["position"] == pytest.approx(2 * 0.4 + 0.5)
    assert sum(v["position_value"] for v in got.values()) == pytest.approx(29)


def test_time_decay_halves_a_touch_each_half_life_before_the_last_touch():
    rows = [(("a", "b", "c"), 1, 7, 0)]
    got = rows_by_channel(attribute(table(rows, times=[(0, 7, 14)]), methods="time-decay", half_life=7))
    assert [got[c]["time_decay"] for c in "abc"] == pytest.approx([0.25 / 1.75, 0.5 / 1.75, 1 / 1.75])
    assert got["a"]["time_decay_value"] == pytest.approx(7 * 0.25 / 1.75)
    with pytest.raises(InputError, match="time-decay needs a time per touch"):
        attribute(table(rows), methods="time-decay")
    assert "time-decay" not in attribute(table(rows), methods="all").methods


def _shapley_by_enumeration(rows, players):
    """The Shapley formula over every coalition: sum over S not containing c of |S|!(n-|S|-1)!/n! (v(S+c) - v(S))."""

    def v(s):
        return sum(conv for path, conv, _, _ in rows if set(path) <= s)

    n = len(players)
    out = {}
    for c in players:
        others = [p for p in players if p != c]
        out[c] = sum(
            F(math.factorial(k) * math.factorial(n - k - 1), math.factorial(n)) * (v(set(s) | {c}) - v(set(s)))
            for k in range(n)
            for s in itertools.combinations(others, k)
        )
    return out


def test_shapley_equals_the_shapley_formula_enumerated_over_every_coalition():
    rows = [(("a", "b"), 3, 0, 1), (("a", "c", "a"), 2, 0, 0), (("c",), 1, 0, 4), (("a", "b", "c"), 6, 0, 0)]
    exact = _shapley_by_enumeration(rows, ["a", "b", "c"])
    got = rows_by_channel(attribute(table(rows), methods="shapley"))
    for ch, phi in exact.items():
        assert got[ch]["shapley"] == pytest.approx(float(phi), abs=1e-12)
    assert sum(exact.values()) == 12  # efficiency: the whole of v(N)


def test_every_method_splits_exactly_the_total_and_results_are_deterministic():
    rng = np.random.default_rng(5)
    t = table(_random_paths(rng, 500, 12))
    a, b = attribute(t, order=2), attribute(t, order=2)
    assert a.as_json() == b.as_json()
    for key in ("markov_conversions", "shapley", "first_touch", "last_touch", "linear", "position"):
        assert sum(c.values[key] for c in a.channels) == pytest.approx(a.total_conversions, rel=1e-12)
    assert sum(c.values["markov_value"] for c in a.channels) == pytest.approx(a.total_value, rel=1e-12)
    assert all(0 <= c.values["removal_effect"] <= 1 for c in a.channels)


def test_bad_arguments_name_the_rule_and_the_value():
    t = table(TOY)
    with pytest.raises(InputError, match="method must be one of"):
        attribute(t, methods="magic")
    with pytest.raises(InputError, match="order must be a whole number >= 1, got 0"):
        attribute(t, order=0)
    with pytest.raises(InputError, match=r"paths\[1\].conversions must be a finite number >= 0, got -1"):
        PathTable.from_paths([("a",), ("b",)], [1, -1])
    with pytest.raises(InputError, match=r"paths\[0\] must have at least one touch"):
        PathTable.from_paths([()], [1])
