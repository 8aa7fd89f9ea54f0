"""Tests of the reference benchmark's exact answer and its naive SimPy baseline.

The exact daily matrix (``benchmarks/reference_exact.py``) encodes jsim's "first event wins"
within-day semantics; the naive SimPy program (``benchmarks/naive_simpy.py``) must reproduce
its day-90 distribution, and a different combination rule must be detectably different.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import naive_simpy  # noqa: E402
from benchmarks import reference_exact as ref  # noqa: E402


def combine_sequential(a: np.ndarray) -> np.ndarray:
    """A deliberately different rule: apply the sources one after another, in row order.

    Source ``k`` gets its chance only if sources ``0..k-1`` did not fire, so the first rows
    (baseline churn in ``stage_sources``) take priority. ``P(leave)`` is the same as under
    "first event wins"; only the split between destinations differs.
    """
    out = np.zeros(a.shape[1])
    survive = 1.0
    for row in a:
        out += survive * row
        survive *= 1.0 - row.sum()
    return out


def combine_sequential_churn_last(a: np.ndarray) -> np.ndarray:
    """Sequential rule with the touchpoints first and baseline churn last."""
    return combine_sequential(np.vstack([a[1:], a[:1]]))


# ------------------------------------------------------------------------------------------
# (a) the daily matrix is a stochastic matrix of the right shape
# ------------------------------------------------------------------------------------------


def test_parameters_shapes():
    assert ref.STAGES == (
        "unaware",
        "aware",
        "considering",
        "cart",
        "purchased",
        "loyal",
        "churned",
    )
    assert ref.B.shape == ref.K.shape == ref.P.shape == (8,)
    assert ref.Q.shape == (8, 7)
    assert ref.CHURN.shape == (7,)
    np.testing.assert_allclose(ref.P, 1.0 - np.exp(-ref.B / ref.K))
    assert ref.NEXT_STAGE[ref.STAGES.index("purchased")] == ref.LOYAL
    assert np.all(ref.Q[:, ref.LOYAL] == 0) and np.all(ref.Q[:, ref.CHURNED] == 0)


def test_daily_matrix_is_stochastic():
    m = ref.daily_matrix()
    assert m.shape == (7, 7)
    assert np.all(m >= 0) and np.all(m <= 1)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    # churned is absorbing; loyal only churns; funnel stages move one step or churn
    np.testing.assert_array_equal(m[ref.CHURNED], np.eye(7)[ref.CHURNED])
    loyal = np.zeros(7)
    loyal[ref.LOYAL] = 1 - ref.CHURN[ref.LOYAL]
    loyal[ref.CHURNED] = ref.CHURN[ref.LOYAL]
    np.testing.assert_allclose(m[ref.LOYAL], loyal, rtol=0, atol=1e-15)
    for s in range(5):
        allowed = {s, s + 1, ref.CHURNED}
        assert all(m[s, d] == 0 for d in range(7) if d not in allowed)
    assert m[ref.UNAWARE, ref.CHURNED] == 0  # no churn hazard while unaware


def test_daily_matrix_matches_hand_formula():
    m = ref.daily_matrix()
    for s in range(6):
        r = np.concatenate([[ref.CHURN[s]], ref.P * ref.Q[:, s]])
        lam = -np.log(1 - r)
        total = lam.sum()
        p_leave = 1 - np.exp(-total)
        np.testing.assert_allclose(1 - m[s, s], 1 - np.prod(1 - r), rtol=1e-12)
        np.testing.assert_allclose(m[s, ref.CHURNED], lam[0] / total * p_leave, rtol=1e-12)
        if s < 5:
            np.testing.assert_allclose(m[s, s + 1], lam[1:].sum() / total * p_leave, rtol=1e-12)


def test_exact_distribution():
    d = ref.exact_distribution()
    assert d.shape == (7,)
    np.testing.assert_allclose(d.sum(), 1.0, atol=1e-12)
    assert np.all(d > 0)
    np.testing.assert_array_equal(ref.exact_distribution(0), np.eye(7)[0])
    m = ref.daily_matrix()
    np.testing.assert_allclose(ref.exact_distribution(3), m[0] @ m @ m, rtol=1e-13)
    # unaware only leaves: survival is the product of the daily staying probabilities
    np.testing.assert_allclose(d[ref.UNAWARE], m[0, 0] ** 90, rtol=1e-12)


# ------------------------------------------------------------------------------------------
# (b) combine_sources: reductions and limiting cases
# ------------------------------------------------------------------------------------------


def test_combine_single_source_is_identity():
    a = np.array([[0.0, 0.2, 0.05, 0.1]])
    np.testing.assert_allclose(ref.combine_sources(a), a[0], rtol=1e-14)
    full = ref.combine_sources(a, stage=0)
    np.testing.assert_allclose(full, [0.65, 0.2, 0.05, 0.1], rtol=1e-14)


def test_combine_inactive_sources_do_not_matter():
    a = np.array([[0.0, 0.2, 0.05, 0.1]])
    padded = np.vstack([np.zeros(4), a, np.zeros((3, 4))])
    np.testing.assert_allclose(ref.combine_sources(padded), a[0], rtol=1e-14)
    np.testing.assert_array_equal(ref.combine_sources(np.zeros((3, 4))), np.zeros(4))
    np.testing.assert_array_equal(ref.combine_sources(np.zeros((3, 4)), stage=2), np.eye(4)[2])


def test_combine_two_sources():
    # two independent sources: leave with 1 - (1 - r1)(1 - r2), split by hazards
    r1, r2 = 0.3, 0.1
    out = ref.combine_sources(np.array([[0.0, r1, 0.0], [0.0, 0.0, r2]]))
    l1, l2 = -math.log(1 - r1), -math.log(1 - r2)
    p_leave = 1 - (1 - r1) * (1 - r2)
    np.testing.assert_allclose(out, [0.0, l1 / (l1 + l2) * p_leave, l2 / (l1 + l2) * p_leave])
    # equal sources split evenly
    np.testing.assert_allclose(ref.combine_sources(np.array([[0.0, 0.5], [0.5, 0.0]])), [0.375, 0.375])


def test_combine_sure_sources_share_equally():
    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.4], [0.0, 0.5, 0.5]])
    np.testing.assert_allclose(ref.combine_sources(a), [0.0, 0.75, 0.25])


def test_combine_rejects_bad_input():
    with pytest.raises(ValueError):
        ref.combine_sources(np.array([0.1, 0.2]))
    with pytest.raises(ValueError):
        ref.combine_sources(np.array([[0.6, 0.6]]))
    with pytest.raises(ValueError):
        ref.combine_sources(np.array([[-0.1, 0.2]]))
    with pytest.raises(ValueError):
        ref.combine_sources(np.array([[0.1, 0.2]]), stage=0)


def test_matrix_with_churn_only():
    m = ref.daily_matrix(p=np.zeros(8))
    expected = np.diag(1 - ref.CHURN)
    expected[:, ref.CHURNED] += ref.CHURN
    np.testing.assert_allclose(m, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("j", range(8))
def test_matrix_with_one_touchpoint_only(j):
    p = np.zeros(8)
    p[j] = ref.P[j]
    m = ref.daily_matrix(p=p, churn=np.zeros(7))
    expected = np.eye(7)
    for s in range(5):
        r = ref.P[j] * ref.Q[j, s]
        expected[s, s] = 1 - r
        expected[s, s + 1] = r
    np.testing.assert_allclose(m, expected, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------------------
# check_distribution
# ------------------------------------------------------------------------------------------


def test_check_accepts_exact_counts_and_rejects_a_shift():
    n = 100_000
    d = ref.exact_distribution()
    good = ref.check_distribution(n * d, n)
    assert good.ok and good.max_abs_z < 1e-9 and good.chi2 < 1e-12
    assert good.df == 6 and good.p_value == pytest.approx(1.0)
    shifted = n * d
    shifted[ref.LOYAL] += 500  # 500 customers moved from churned to loyal
    shifted[ref.CHURNED] -= 500
    bad = ref.check_distribution(shifted, n)
    assert not bad.ok
    assert bad.z[ref.LOYAL] > 4.5 and bad.z[ref.CHURNED] < -3  # churned has larger variance
    assert bad.p_value < 1e-4


def test_check_zero_probability_stages():
    # after one day only unaware and aware are reachable
    d = ref.exact_distribution(1)
    assert np.count_nonzero(d) == 2
    n = 10_000
    counts = np.round(n * d)
    res = ref.check_distribution(counts, n, days=1)
    assert res.ok and res.df == 1
    assert np.all(np.isnan(res.z[2:]))
    counts[ref.CHURNED] = 1
    counts[ref.UNAWARE] -= 1
    assert not ref.check_distribution(counts, n, days=1).ok


def test_chi2_p_value_without_scipy(monkeypatch):
    stats = pytest.importorskip("scipy.stats")
    n = 5_000
    counts = np.array([180, 520, 700, 500, 1050, 420, 1630])
    with_scipy = ref.check_distribution(counts, n)
    assert with_scipy.p_value == pytest.approx(stats.chi2.sf(with_scipy.chi2, 6))
    # hide scipy: the p-value falls back to the Wilson-Hilferty approximation
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    without = ref.check_distribution(counts, n)
    assert without.chi2 == with_scipy.chi2
    assert without.p_value != with_scipy.p_value
    assert without.p_value == pytest.approx(with_scipy.p_value, abs=0.01)
    for x, df in [(3.0, 6), (12.6, 6), (30.0, 6), (5.0, 1), (50.0, 20)]:
        approx = ref._chi2_sf_wilson_hilferty(x, df)
        assert approx == pytest.approx(stats.chi2.sf(x, df), rel=0.15, abs=2e-3)


# ------------------------------------------------------------------------------------------
# the semantics are testable: a different combination rule is rejected
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", [combine_sequential, combine_sequential_churn_last])
def test_sequential_rule_is_rejected_at_one_million(rule):
    n = 1_000_000
    m_seq = ref.daily_matrix(combine=rule)
    # same probability of leaving each day, so only the split differs ...
    np.testing.assert_allclose(np.diag(m_seq), np.diag(ref.daily_matrix()), rtol=1e-12)
    d_seq = ref.exact_distribution(matrix=m_seq)
    res = ref.check_distribution(n * d_seq, n)
    # ... and yet a simulation of 1e6 customers under that rule would be flagged
    assert not res.ok
    assert res.max_abs_z > 2 * ref.Z_TOLERANCE
    assert res.p_value < 1e-20


# ------------------------------------------------------------------------------------------
# (c) the naive SimPy baseline reproduces the exact answer
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("batched", [False, True])
def test_naive_simpy_matches_exact(batched):
    n = 5_000
    counts = naive_simpy.run_naive(n, days=90, seed=12345, batched=batched)
    assert counts.shape == (7,) and counts.sum() == n
    res = ref.check_distribution(counts, n)
    assert res.ok, res.summary()


def test_naive_simpy_is_reproducible_and_short_horizons():
    a = naive_simpy.run_naive(300, days=10, seed=7)
    b = naive_simpy.run_naive(300, days=10, seed=7)
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(naive_simpy.run_naive(50, days=0), np.eye(7, dtype=int)[0] * 50)
    one_day = naive_simpy.run_naive(2_000, days=1, seed=3)
    assert ref.check_distribution(one_day, 2_000, days=1).ok
