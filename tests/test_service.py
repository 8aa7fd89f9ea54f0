"""The SimPy service desk (``jsim.engine.des.desk``) against queueing theory.

Theory is computed here, independently of the desk: Erlang C and Erlang B by the stable
recursion, Erlang-A (M/M/c+M) from its birth-death chain. Arrivals are Poisson, made by a
SimPy process in the test from their own stream.

Standard errors: waits of successive customers and the queue length are autocorrelated, so
the SE of a steady-state estimate is taken from **batch means**: after a warm-up, the run is
cut into ``B`` equal time windows (each hundreds of relaxation times long), the statistic is
computed per window, and SE = sd(window values) / sqrt(B). The assertion is
``|x_hat - theory| <= 4.5 SE`` (conftest ``Z``); with B = 40 windows the t statistic has 39
degrees of freedom, P(|t| > 4.5) ~ 6e-5.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import simpy
from conftest import ROOT, assert_close

from jsim.engine.des import desk as desk_mod
from jsim.engine.des.desk import HOUR, MINUTE, Distribution, ServiceDesk
from jsim.engine.des.stats import ServiceStats

MU = 1.0 / (6 * MINUTE)  # service rate per day: 6-minute chats, 240 a day per agent


# -- theory ------------------------------------------------------------------------------------
def erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability, recursion B(k) = a B(k-1) / (k + a B(k-1))."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C probability of waiting, C = B / (1 - rho (1 - B)), rho = a / c < 1."""
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def erlang_a(lam: float, mu: float, theta: float, c: int, n_max: int = 2000) -> dict:
    """M/M/c+M stationary quantities from the birth-death chain truncated at ``n_max``.

    Birth rate lam; death rate min(n, c) mu + max(n - c, 0) theta.
    """
    n = np.arange(n_max + 1)
    death = np.minimum(n, c) * mu + np.maximum(n - c, 0) * theta
    log_p = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(death[1:]))])
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    assert p[-1] < 1e-30, "truncation too early"
    eq = float(np.dot(np.maximum(n - c, 0), p))
    return {
        "p_wait": float(p[c:].sum()),
        "queue_mean": eq,
        "p_abandon": theta * eq / lam,
        "utilisation": float(np.dot(np.minimum(n, c), p)) / c,
    }


# -- helpers -----------------------------------------------------------------------------------
def poisson_arrivals(env, desk, rate: float, rng: np.random.Generator, t_stop: float = math.inf):
    """SimPy process: Poisson arrivals at ``rate`` per day, each a customer process at ``desk``."""
    i = 0
    while True:
        gap = rng.exponential(1.0 / rate)
        if env.now + gap >= t_stop:
            return
        yield env.timeout(gap)
        env.process(desk.serve(i))
        i += 1


def run_desk(lam, agents, T, seed, patience=None, service=None, open_hours=(0.0, 24.0), max_agents=None, at=()):
    """Run a desk with Poisson arrivals until ``T``; ``at``: (time, callable(desk)) actions."""
    desk_seed, arrival_seed = np.random.SeedSequence(seed).spawn(2)
    env = simpy.Environment()
    desk = ServiceDesk(
        env,
        "chat",
        agents,
        service or Distribution("exponential", 1.0 / MU),
        patience,
        np.random.default_rng(desk_seed),
        open_hours=open_hours,
        max_agents=max_agents,
    )
    env.process(poisson_arrivals(env, desk, lam, np.random.default_rng(arrival_seed)))
    for t, action in at:

        def act(t=t, action=action):
            yield env.timeout(t)
            action(desk)

        env.process(act())
    env.run(until=T)
    return desk.stats


def batch_means(stat, t_from: float, t_to: float, n_batches: int = 40):
    """(mean of the batch values, SE) of ``stat(a, b)`` over ``n_batches`` equal windows."""
    edges = np.linspace(t_from, t_to, n_batches + 1)
    vals = np.array([stat(a, b) for a, b in zip(edges[:-1], edges[1:])])
    return float(vals.mean()), float(vals.std(ddof=1) / math.sqrt(n_batches))


def check_conservation(s: ServiceStats) -> None:
    assert s.n_requests == s.n_served + s.n_abandoned + s.n_waiting
    assert not (s.is_served & s.is_abandoned).any()
    assert s.queue_length[-1] == s.n_waiting
    assert s.n_busy[-1] == s.n_in_service
    assert (s.queue_length >= 0).all() and (s.n_busy >= 0).all()
    assert (s.n_busy <= s.n_available).all()
    assert (np.diff(s.times) >= 0).all()
    served = s.is_served
    assert (np.diff(s.t_start[served]) >= 0).all(), "served customers start in request order (FIFO)"
    done = ~np.isnan(s.t_done)
    np.testing.assert_allclose(s.t_done[done] - s.t_start[done], s.service[done], rtol=1e-9, atol=1e-12)


def report(what, measured, theory, se):
    print(f"  {what:<28} measured {measured:.6g}  theory {theory:.6g}  se {se:.3g}  z {(measured - theory) / se:+.2f}")


# -- 1. M/M/c ----------------------------------------------------------------------------------
def test_mmc_matches_erlang_c():
    c, rho = 3, 0.8
    lam = rho * c * MU  # 576 a day
    T, warm = 400.0, 5.0  # about 230,000 customers; the relaxation time is about 0.1 day
    s = run_desk(lam, c, T, seed=11)
    check_conservation(s)
    a = lam / MU
    C = erlang_c(c, a)
    theory = {"P(wait)": C, "Wq (days)": C / (c * MU - lam), "Lq": C * rho / (1 - rho), "utilisation": rho}
    stats = {"P(wait)": s.p_wait, "Wq (days)": s.mean_wait, "Lq": s.queue_length_mean, "utilisation": s.utilisation}
    print(f"\nM/M/{c}, rho {rho}, {s.n_requests} requests, batch means of 40 windows:")
    for key, stat in stats.items():
        est, se = batch_means(stat, warm, T)
        report(key, est, theory[key], se)
        assert_close(est, theory[key], se, what=key)
    assert s.n_abandoned == 0


# -- 2. M/M/c+M (Erlang-A) and M/M/c/c (Erlang B) -----------------------------------------------
def test_mmc_with_abandonment_matches_erlang_a():
    c, theta = 3, MU / 2  # patience: exponential, mean 12 minutes
    lam = 1.0 * c * MU  # offered load 1 per agent: stable only thanks to abandonment
    T, warm = 300.0, 5.0
    s = run_desk(lam, c, T, seed=12, patience=Distribution("exponential", 1.0 / theta))
    check_conservation(s)
    th = erlang_a(lam, MU, theta, c)
    stats = {
        "p_abandon": s.abandonment_rate,
        "p_wait": s.p_wait,
        "queue_mean": s.queue_length_mean,
        "utilisation": s.utilisation,
    }
    print(f"\nM/M/{c}+M, lambda/(c mu) 1.0, theta/mu 0.5, {s.n_requests} requests:")
    for key, stat in stats.items():
        est, se = batch_means(stat, warm, T)
        report(key, est, th[key], se)
        assert_close(est, th[key], se, what=key)
    assert (s.waits_abandoned > 0).all()


def test_zero_patience_is_erlang_loss():
    c, a = 3, 2.4
    T = 150.0
    s = run_desk(a * MU, c, T, seed=13, patience=Distribution("fixed", 0.0))
    check_conservation(s)
    est, se = batch_means(s.abandonment_rate, 1.0, T)
    report("blocking (Erlang B)", est, erlang_b(c, a), se)
    assert_close(est, erlang_b(c, a), se, what="blocking")
    assert (s.waits(include_abandoned=True) == 0).all()
    assert s.queue_length.max() == 1 and s.queue_length_mean() == 0.0  # blocked customers leave at once


# -- 3. opening hours ----------------------------------------------------------------------------
def closed_overlap(t0: np.ndarray, t1: np.ndarray, open_h: float, close_h: float) -> np.ndarray:
    """Length of [t0, t1] outside the daily opening hours, per interval (days)."""
    out = np.zeros(len(t0))
    for k, (a, b) in enumerate(zip(t0, t1)):
        d = math.floor(a)
        total = b - a
        while d <= b:
            total -= max(0.0, min(b, d + close_h / 24) - max(a, d + open_h / 24))
            d += 1
        out[k] = total
    return out


@pytest.mark.parametrize("agents", [2, "by-day"])
def test_opening_hours(agents):
    days = 30
    schedule = (lambda d: 1 + d % 3) if agents == "by-day" else None
    s = run_desk(
        100.0,
        schedule or agents,
        float(days),
        seed=14,
        open_hours=(9, 17),
        service=Distribution.from_minutes("exponential", 10),
        patience=Distribution.from_hours("exponential", 4),
        max_agents=3 if schedule else None,
    )
    check_conservation(s)
    served = s.is_served
    hour = (s.t_start[served] % 1.0) * 24
    assert ((hour >= 9 - 1e-9) & (hour <= 17 + 1e-9)).all(), "a service started while closed"
    # the roster: agents x 8 hours each day
    per_day = [schedule(d) if schedule else agents for d in range(days)]
    assert s.scheduled_time() == pytest.approx(sum(per_day) * 8 * HOUR, rel=1e-12)
    for d in range(days):
        assert s.scheduled_time(d, d + 1) == pytest.approx(per_day[d] * 8 * HOUR, rel=1e-12)
    # available = roster + overtime of agents finishing a customer after closing
    t_end = np.minimum(s.t_start[served] + s.service[served], s.t_end)
    overtime = closed_overlap(s.t_start[served], t_end, 9, 17).sum()
    assert overtime > 0
    assert s.available_time() == pytest.approx(s.scheduled_time() + overtime, rel=1e-10)
    assert s.utilisation() <= 1.0
    # customers wait across closing time: requested while closed, served after opening
    req_hour = (s.t_request[served] % 1.0) * 24
    overnight = served.nonzero()[0][(req_hour < 9) | (req_hour >= 17)]
    assert len(overnight) > 10
    print(
        f"\nopen 9-17, agents {agents}: {s.n_requests} requests, {s.n_served} served, {s.n_abandoned} abandoned, "
        f"{len(overnight)} served after waiting across closing; roster {s.scheduled_time() * 24:.1f} "
        f"agent-hours, overtime {overtime * 24:.2f}, utilisation {s.utilisation():.3f}"
    )


# -- 4. set_agents ------------------------------------------------------------------------------
def test_set_agents_raises_capacity():
    lam = 0.9 * 2 * MU  # rho 0.9 with 2 agents, 0.45 with 4
    T0, T = 30.0, 130.0
    s = run_desk(lam, 2, T, seed=15, max_agents=4, at=[(T0, lambda desk: desk.set_agents(4))])
    check_conservation(s)
    assert s.available_time(0, T0) == pytest.approx(2 * T0, rel=1e-12)
    assert s.available_time(T0, T) == pytest.approx(4 * (T - T0), rel=1e-12)
    assert s.scheduled_time() == pytest.approx(s.available_time(), rel=1e-12)  # raising makes no overtime
    before, after = s.mean_wait(1.0, T0), s.mean_wait(T0, T)
    assert before > 5 * after
    wq4 = erlang_c(4, lam / MU) / (4 * MU - lam)
    est, se = batch_means(s.mean_wait, T0 + 1.0, T)
    print(f"\nset_agents 2 -> 4 at day {T0:g}: mean wait {before * 1440:.2f} min before, {after * 1440:.3f} min after")
    report("Wq after (days), M/M/4", est, wq4, se)
    assert_close(est, wq4, se, what="Wq after")
    wq2 = erlang_c(2, lam / MU) / (2 * MU - lam)
    assert 0.5 * wq2 < before < 2 * wq2  # loosely: 29 days of an M/M/2 at rho 0.9


def test_set_agents_lowering_lets_busy_agents_finish():
    env = simpy.Environment()
    desk = ServiceDesk(env, "phone", 3, Distribution("fixed", 1 * HOUR), None, np.random.default_rng(0))
    outcomes = []

    def customer(i):
        outcomes.append((yield env.process(desk.serve(i))))

    def script():
        for i in range(6):
            env.process(customer(i))
        yield env.timeout(0.5 * HOUR)
        desk.set_agents(1)  # two slots busy: two blockers wait for them
        assert (desk.n_scheduled, desk.n_available, desk.n_busy) == (1, 3, 3)
        yield env.timeout(0.25 * HOUR)
        desk.set_agents(2)  # cancels one waiting blocker
        yield env.timeout(0.75 * HOUR)
        assert (desk.n_scheduled, desk.n_available, desk.n_busy) == (2, 2, 2)
        desk.set_agents(3)  # releases the blocker holding a slot: customer 5 starts now

    env.process(script())
    env.run(until=3 * HOUR)
    s = desk.stats
    check_conservation(s)
    np.testing.assert_allclose(s.t_start / HOUR, [0, 0, 0, 1, 1, 1.5], atol=1e-9)
    assert all(o.served and abs(o.service - HOUR) < 1e-12 for o in outcomes)
    # agent-hours over [0, 3h]
    assert s.available_time() / HOUR == pytest.approx(3 + 2 * 0.5 + 3 * 1.5)  # 8.5
    assert s.scheduled_time() / HOUR == pytest.approx(3 * 0.5 + 1 * 0.25 + 2 * 0.75 + 3 * 1.5)  # 7.75
    assert s.busy_time() / HOUR == pytest.approx(6.0)
    assert s.utilisation() == pytest.approx(6 / 8.5)


# -- 5. determinism -----------------------------------------------------------------------------
_SCENARIO = """
import hashlib, numpy as np, simpy
from jsim.engine.des.desk import Distribution, ServiceDesk

def scenario(seed):
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    desk = ServiceDesk(env, "chat", lambda d: 1 + d % 2, Distribution.from_minutes("gamma", 8, 5),
                       Distribution.from_minutes("lognormal", 20, 30), rng, open_hours=(8, 20), max_agents=4)
    def arrivals():
        i = 0
        while True:
            yield env.timeout(rng.exponential(1 / 150))
            env.process(desk.serve(i))
            i += 1
            if i == 600:
                desk.set_agents(3)
    env.process(arrivals())
    env.run(until=10.0)
    return desk.stats

def digest(s):
    h = hashlib.sha256()
    for name in ("times", "queue_length", "n_busy", "n_available", "n_scheduled", "t_request", "t_start",
                 "t_done", "t_abandon", "service", "patience"):
        h.update(getattr(s, name).tobytes())
    return h.hexdigest()
"""
_ARRAYS = (
    "times",
    "queue_length",
    "n_busy",
    "n_available",
    "n_scheduled",
    "t_request",
    "t_start",
    "t_done",
    "t_abandon",
    "service",
    "patience",
)


def _scenario_namespace():
    ns: dict = {}
    exec(_SCENARIO, ns)
    return ns


def test_same_seed_same_stats_different_seed_differs():
    ns = _scenario_namespace()
    a, b, c = ns["scenario"](5), ns["scenario"](5), ns["scenario"](6)
    assert a.n_served > 500 and a.n_abandoned > 50
    for name in _ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.customer_id == b.customer_id
    assert a.n_requests != c.n_requests or not np.array_equal(a.t_start, c.t_start, equal_nan=True)
    assert ns["digest"](a) != ns["digest"](c)
    # a fresh interpreter gives the same bits
    code = _SCENARIO + "\nprint(digest(scenario(5)))\n"
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ns["digest"](a)


def test_two_deque_queue_orders_like_simpy_sorted_queue(monkeypatch):
    ns = _scenario_namespace()
    fast = ns["digest"](ns["scenario"](7))
    monkeypatch.setattr(desk_mod._DeskResource, "PutQueue", simpy.resources.resource.SortedQueue)
    assert ns["digest"](ns["scenario"](7)) == fast


# -- 6. memory ----------------------------------------------------------------------------------
def test_memory_per_waiting_process():
    from benchmarks.bench_service import bytes_per_waiting_process

    per = bytes_per_waiting_process(10_000, patience=True)
    print(f"\nmemory per waiting customer process (10,000 queued, with patience): {per:,.0f} bytes")
    assert 0 < per < 5000


# -- distributions and validation ----------------------------------------------------------------
def fourth_central_moment(dist: Distribution) -> float:
    """Exact E[(X - mean)^4]: gamma 3k(k+2) scale^4 (exponential: k = 1); lognormal from raw moments."""
    mean, var = dist.moments()
    if dist.kind in ("exponential", "gamma"):
        k, scale = mean**2 / var, var / mean
        return 3 * k * (k + 2) * scale**4
    s2 = math.log1p(var / mean**2)
    mu = math.log(mean) - s2 / 2
    raw = [math.exp(r * mu + r * r * s2 / 2) for r in range(5)]  # E[X^r]
    return raw[4] - 4 * mean * raw[3] + 6 * mean**2 * raw[2] - 3 * mean**4


@pytest.mark.parametrize(
    "dist",
    [
        Distribution("exponential", 2.0),
        Distribution("lognormal", 2.0, 1.5),
        Distribution("gamma", 2.0, 0.5),
        Distribution.from_hours("gamma", 48, 12),
    ],
)
def test_distribution_moments(dist):
    """Sample mean and variance within 4.5 SE; SE(variance) = sqrt((mu4 - var^2) / n) from the exact mu4."""
    n = 200_000
    rng = np.random.default_rng(3)
    x = np.array([dist.sample(rng) for _ in range(n)])
    mean, var = dist.moments()
    assert_close(x.mean(), mean, math.sqrt(var / n), what="mean")
    assert_close(x.var(), var, math.sqrt((fourth_central_moment(dist) - var**2) / n), what="variance")
    assert (x > 0).all()


def test_agents_by_day_always_open():
    env = simpy.Environment()
    desk = ServiceDesk(
        env, "courier", lambda d: d % 4, Distribution("fixed", 0.1), None, np.random.default_rng(0), max_agents=3
    )
    env.run(until=8.0)
    s = desk.stats
    np.testing.assert_allclose([s.scheduled_time(d, d + 1) for d in range(8)], [0, 1, 2, 3, 0, 1, 2, 3])
    assert s.available_time() == pytest.approx(s.scheduled_time())


def test_fixed_draws_nothing():
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    assert Distribution.from_minutes("fixed", 30).sample(rng) == pytest.approx(30 * MINUTE)
    assert rng.bit_generator.state == state


@pytest.mark.parametrize(
    "args, match",
    [
        (("weibull", 1.0), "kind must be one of"),
        (("exponential", 0.0), "mean must be > 0, got 0.0"),
        (("exponential", 1.0, 0.5), "takes no sd"),
        (("gamma", 1.0), "sd must be a number > 0"),
        (("fixed", -1.0), "mean must be > 0"),
    ],
)
def test_distribution_validation(args, match):
    with pytest.raises(ValueError, match=match):
        Distribution(*args)


def test_desk_validation():
    env = simpy.Environment()
    rng = np.random.default_rng(0)
    exp = Distribution("exponential", 0.01)
    with pytest.raises(ValueError, match=r"open_hours must satisfy 0 <= open < close <= 24, got \(22, 6\)"):
        ServiceDesk(env, "chat", 2, exp, None, rng, open_hours=(22, 6))
    with pytest.raises(ValueError, match="max_agents is required"):
        ServiceDesk(env, "chat", lambda d: 2, exp, None, rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        ServiceDesk(env, "chat", 2, exp, None, 0)
    desk = ServiceDesk(env, "chat", 2, exp, None, rng)
    with pytest.raises(ValueError, match=r"set_agents\(n\) needs n <= max_agents=2, got 3"):
        desk.set_agents(3)
    bad = ServiceDesk(env, "chat", lambda d: 5, exp, None, rng, open_hours=(9, 17), max_agents=3)
    with pytest.raises(ValueError, match=r"agents\(0\) must be within \[0, max_agents=3\], got 5"):
        env.run(until=1.0)
    assert bad.n_scheduled == 0
