"""A word-of-mouth-only scenario is the Bass diffusion model.

Two stages, ``potential`` and ``adopter`` (absorbing, advocate), and one rule
potential -> adopter with the classic yearly coefficients p = 0.03, q = 0.38 divided by 365.
In continuous time the adopted share solves ``F' = (p + q F)(1 - F)``, whose closed form is

    F(t) = (1 - exp(-(p + q) t)) / (1 + (q / p) exp(-(p + q) t)).

jsim works in days: on day n a potential customer adopts with probability
``1 - exp(-(p + q F_{n-1}))`` (docs/model.md, the share of the end of the previous day), so the
mean-field share follows the map ``F_n = phi(F_{n-1})``, ``phi(F) = 1 - (1 - F) exp(-(p + q F))``.

Discretisation bound (derived here, checked numerically below)
---------------------------------------------------------------
Over one day the exact solution satisfies ``1 - F(n+1) = (1 - F(n)) exp(-p - q int_n^{n+1} F)``.
F increases, so ``int_n^{n+1} F >= F(n)`` and ``F(n+1) >= phi(F(n))``: the local error
``l_n = F(n+1) - phi(F(n))`` is >= 0 (the day uses the share at its start, a half-day lag).
``phi`` is increasing (``phi'(F) = exp(-(p + q F)) (1 + q (1 - F)) > 0``), so by induction
``F_n <= F(n)``, and since ``phi'`` decreases in F the mean-value theorem gives

    0 <= e_{n+1} = F(n+1) - F_{n+1} = l_n + phi(F(n)) - phi(F_n) <= l_n + phi'(F_n) e_n.

This recursion, with ``l_n`` from the closed form, is a rigorous bound ``E_n`` on the error of
the daily scheme. For these coefficients it peaks at ~3.1e-4 (about one day of adoption at the
peak), against a standard error of ~3e-3 for 100,000 customers.

Fluctuations: the coupled process is not Binomial (early adopters recruit more adopters),
so its standard error comes from the linear-noise approximation of the same map:
``V_{n+1} = phi'(F_n)^2 V_n + (1 - F_n) pi_n (1 - pi_n) / N`` with ``pi_n = 1 - exp(-(p + q F_n))``,
about twice the Binomial standard error near the peak. The mean of the finite-N process
differs from the mean field by O(1/N): the second-order moment recursion
``b_{n+1} = phi'(F_n) b_n + phi''(F_n) V_n / 2`` puts it at ~2e-5 here, far inside the tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_close, build

import jsim
from jsim.kernels import mean_field_arrays

P_YEAR, Q_YEAR = 0.03, 0.38
P_DAY, Q_DAY = P_YEAR / 365, Q_YEAR / 365
YEARS = 15
T = 365 * YEARS
N = 100_000


def scenario(p=P_DAY, q=Q_DAY, customers=N, days=T) -> dict:
    return {
        "stages": [
            {"name": "potential"},
            {"name": "adopter", "absorbing": True, "advocate": True, "converted": True},
        ],
        "word_of_mouth": [{"from": "potential", "to": "adopter", "p": p, "q": q}],
        "population": {"customers": customers, "days": days},
    }


def bass_closed_form(t, p=P_DAY, q=Q_DAY):
    t = np.asarray(t, dtype=np.float64)
    e = np.exp(-(p + q) * t)
    return (1.0 - e) / (1.0 + (q / p) * e)


def phi(F, p=P_DAY, q=Q_DAY):
    return 1.0 - (1.0 - F) * np.exp(-(p + q * F))


def dphi(F, p=P_DAY, q=Q_DAY):
    return np.exp(-(p + q * F)) * (1.0 + q * (1.0 - F))


def daily_map(days, p=P_DAY, q=Q_DAY):
    """F_0..F_T of the daily scheme, written independently of jsim."""
    F = np.zeros(days + 1)
    for n in range(days):
        F[n + 1] = phi(F[n], p, q)
    return F


def discretisation_bound(days, p=P_DAY, q=Q_DAY):
    """E_n >= F(n) - F_n >= 0 (see the module docstring)."""
    exact = bass_closed_form(np.arange(days + 1), p, q)
    F = daily_map(days, p, q)
    local = exact[1:] - phi(exact[:-1], p, q)
    E = np.zeros(days + 1)
    for n in range(days):
        E[n + 1] = local[n] + dphi(F[n], p, q) * E[n]
    return E, local


def lna_variance(days, n, p=P_DAY, q=Q_DAY):
    """Linear-noise variance of the adopted share of n customers on each day."""
    F = daily_map(days, p, q)
    V = np.zeros(days + 1)
    for k in range(days):
        pi = -np.expm1(-(p + q * F[k]))
        V[k + 1] = dphi(F[k], p, q) ** 2 * V[k] + (1.0 - F[k]) * pi * (1.0 - pi) / n
    return V


def test_discretisation_bound_is_valid_and_small():
    E, local = discretisation_bound(T)
    err = bass_closed_form(np.arange(T + 1)) - daily_map(T)
    assert np.all(local >= -1e-15)
    assert np.all(err >= -1e-15)
    assert np.all(err <= E + 1e-15)
    assert E.max() < 5e-4  # about one day of adoption at the peak rate (p+q)^2 / 4q ~ 2.8e-4 per day


@pytest.fixture(scope="module")
def model():
    return build(scenario())


def test_mean_field_follows_the_daily_map_and_the_closed_form(model):
    res = jsim.simulate(model, engine="mean-field")
    F_mf = res.stage_occupancy[0, :, 1] / N
    np.testing.assert_allclose(F_mf, daily_map(T), rtol=0, atol=1e-12)
    E, _ = discretisation_bound(T)
    gap = bass_closed_form(np.arange(T + 1)) - F_mf
    assert np.all(gap >= -1e-12), f"mean field ahead of the Bass curve by {-gap.min():.3g}"
    assert np.all(gap <= E + 1e-12), f"mean field behind the Bass curve by {np.max(gap - E):.3g} more than the bound"
    # the share the rule saw on day t is the adopted share at the end of day t - 1
    shares = mean_field_arrays(model)[0].shares[1:, 0]
    np.testing.assert_allclose(shares, daily_map(T)[:-1], rtol=0, atol=1e-12)
    # every move is credited to the word-of-mouth rule
    wom = 1 + model.n_touchpoints
    np.testing.assert_allclose(res.credits[0, wom, 0, 1], res.flows[0].sum(axis=0)[0, 1], rtol=1e-12)
    assert res.credits[0, 0].sum() == 0.0


def test_fast_engine_reproduces_bass_curve(model):
    res = jsim.simulate(model, seed=2024)
    occ = res.stage_occupancy[0]
    np.testing.assert_array_equal(occ.sum(axis=1), N)
    days = np.arange(180, T + 1, 365)  # mid-year of each of the 15 years
    F_hat = occ[days, 1] / N
    E, _ = discretisation_bound(T)
    se = np.sqrt(lna_variance(T, N)[days])
    assert_close(F_hat, bass_closed_form(days), se, slack=E[days], what="adopted share F(t) on day")
    # the curve takes off: from below 5% in year 1 to above 95% by year 15
    assert F_hat[0] < 0.05 and F_hat[-1] > 0.95
    assert np.array_equal(res.credits[0, 1], res.flows[0].sum(axis=0))
    np.testing.assert_array_equal(np.cumsum(res.new_converted[0, :, 0]), occ[:, 1])


def test_fluctuations_match_the_linear_noise_variance():
    """The coupled engine's spread across replications is the linear-noise spread, not Binomial.

    A faster diffusion (p = 0.01, q = 0.3 per day, 60 days) and 2,000 customers let 200
    replications run in seconds. For near-normal counts the sample variance of R replications
    has standard error ``sigma^2 sqrt(2 / (R - 1))``.
    """
    p, q, n, days, reps = 0.01, 0.3, 2_000, 60, 200
    m = build(scenario(p=p, q=q, customers=n, days=days))
    res = jsim.simulate(m, seed=7, reps=reps)
    F = res.stage_occupancy[:, :, 1] / n
    V = lna_variance(days, n, p, q)
    F_map = daily_map(days, p, q)
    check = np.array([8, 12, 16, 20, 30])
    s2 = F[:, check].var(axis=0, ddof=1)
    assert_close(s2, V[check], V[check] * np.sqrt(2 / (reps - 1)), what="variance of F on day")
    # and it is detectably larger than Binomial at the take-off
    binom = F_map[check] * (1 - F_map[check]) / n
    assert s2[1] > 2 * binom[1]
