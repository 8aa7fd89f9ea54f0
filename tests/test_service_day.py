"""The day-resolution service queue (fast and expected-value engines) against queueing theory."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jsim.kernels._queue import _arrival_timing, _erlang_a, _service_day


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c with offered load a = lambda / mu (closed form)."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def erlang_a_reference(lam, mu, c, theta, n_max=2000):
    """Birth-death chain written out with numpy (plain reference)."""
    death = np.array([min(n, c) * mu + max(n - c, 0) / theta for n in range(1, n_max + 1)])
    logp = np.concatenate([[0.0], np.cumsum(np.log(lam / death))])
    p = np.exp(logp - logp.max())
    p /= p.sum()
    n = np.arange(n_max + 1)
    queue = (np.maximum(n - c, 0) * p).sum()
    return p[c:].sum(), queue / theta / lam, queue / lam


@pytest.mark.parametrize("c, lam, mu", [(1, 0.5, 1.0), (3, 2.4, 1.0), (10, 90.0, 10.0)])
def test_erlang_c_without_patience(c, lam, mu):
    out = np.zeros(4)
    _erlang_a(lam, mu, c, math.inf, out)
    pw = erlang_c(c, lam / mu)
    assert out[0] == pytest.approx(pw, rel=1e-9)
    assert out[1] == 0.0
    assert out[2] == pytest.approx(pw / (c * mu - lam), rel=1e-9)
    assert out[3] == 1.0


@pytest.mark.parametrize("c, lam, mu, theta", [(3, 3.0, 1.0, 2.0), (2, 10.0, 1.0, 0.5), (5, 2.0, 1.0, 10.0)])
def test_erlang_a_with_patience(c, lam, mu, theta):
    out = np.zeros(4)
    _erlang_a(lam, mu, c, theta, out)
    pw, pab, wq = erlang_a_reference(lam, mu, c, theta)
    assert out[:3] == pytest.approx([pw, pab, wq], rel=1e-9)


def test_overloaded_without_patience_has_no_steady_state():
    out = np.ones(4)
    _erlang_a(5.0, 1.0, 3, math.inf, out)
    assert out[3] == 0.0


def test_closed_hours_abandonment():
    # open 9-18 (0.375 of the day), requests spread evenly over the day (hazard -> 0), patience
    # 6 minutes: a request made while closed waits tau ~ U(0, 0.625 day) for opening (the two
    # closed intervals joined); it survives with probability E[exp(-tau / patience)]
    patience = 6 / 1440
    out = np.zeros(8)
    _service_day(1000.0, 0.0, 50, 9 / 24, 18 / 24, 1 / 1440, patience, 0.0, 1e-12, out)
    closed = 0.625
    survive = patience / closed * (1 - math.exp(-closed / patience))
    assert out[1] >= closed * (1 - survive) - 1e-6
    assert out[0] + out[1] == pytest.approx(1.0, rel=1e-12)
    # with plenty of agents almost nobody who reaches the open desk abandons
    assert abs(out[1] - closed * (1 - survive)) < 1e-3


def test_more_agents_never_serve_fewer():
    served = []
    for c in range(1, 10):
        out = np.zeros(8)
        _service_day(400.0, 0.0, c, 0.25, 0.75, 0.1 / 24, 0.2, 0.5, 0.3, out)
        served.append(out[0])
    assert np.all(np.diff(served) >= -1e-12)


def test_no_agents():
    out = np.zeros(8)
    _service_day(100.0, 0.0, 0, 0.25, 0.75, 0.01, 0.1, 1.0, 0.3, out)
    assert out[0] == 0.0 and out[1] == 1.0 and out[4] == 0.0


def test_arrival_timing_follows_the_exponential_clock():

    # a request clock of daily hazard h puts its request at x with density h exp(-h x) / (1 - exp(-h))
    for h in (1e-12, 0.2, 2.0):
        share, _, _ = _arrival_timing(0.375, 0.75, h, math.inf)
        exact = (math.exp(-h * 0.375) - math.exp(-h * 0.75)) / -math.expm1(-h) if h > 1e-9 else 0.375
        assert share == pytest.approx(exact, rel=1e-12)
    # infinitely patient: everyone made while closed waits for opening
    _, surv, waited = _arrival_timing(0.375, 0.75, 1e-12, math.inf)
    assert surv == 1.0
    # mean wait of the closed ones: before 9:00 average 4.5 h, after 18:00 average 6 h + 9 h
    assert waited * 24 == pytest.approx((9 * 4.5 + 6 * 12.0) / 15, rel=1e-4)


def test_day_step_of_the_services_matches_a_plain_reference():
    """``_day._service_step`` inside the expected-value run, recomputed in Python day by day.

    Each day: requests = targeted start-of-day customers x delivery; the queue's day from
    :func:`jsim.kernels.service_day` with yesterday's backlog; the touchpoint's coefficients
    served = exposure effect x (1 - p_loss) x p_served, abandoned = delivery x (1 - p_loss) x
    p_abandon, lost = delivery x p_loss (docs/model.md, "Service touchpoints").
    """
    from conftest import ROOT

    import jsim
    from jsim import kernels

    model = jsim.compile_scenario(jsim.load_scenario(ROOT / "scenarios" / "support_understaffed.toml"), days=40)
    out, fx = kernels.mean_field_arrays(model)
    (sv,) = model.services
    j, v = sv.touchpoint, 0
    backlog = 0.0
    for t in range(1, model.n_days + 1):
        p = model.delivery[t, j]
        n_new = (out.occupancy_start[t] * model.target[j]).sum() * p
        day = kernels.service_day(
            n_new, backlog, model.svc_agents[t, v], *model.svc_params[v], model.svc_loss[v], kernels.clock_hazard(p)
        )
        np.testing.assert_allclose(out.service[t, v], day, rtol=1e-12, atol=1e-12, err_msg=f"day {t}")
        backlog = day[3]
        keep = 1.0 - day[2]
        np.testing.assert_allclose(fx.eff[t, j], model.exposure_effect[t, j] * keep * day[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fx.eff_a[t, j], p * keep * day[1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(fx.eff_l[t, j], p * day[2], rtol=1e-12, atol=1e-15)
    assert out.service[1:, v, 0].min() < 0.99 and fx.eff_l[1:, j].max() > 0  # the queue really loses customers
