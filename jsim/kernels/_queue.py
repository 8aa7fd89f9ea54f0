"""The day-resolution service queue (private numba kernels): Erlang A over opening hours. Draw nothing.

See ``docs/model.md``, "Service touchpoints", for the contract these kernels implement.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def _erlang_a(lam, mu, c, theta, out):
    """Stationary M/M/c+M queue (Erlang-A; theta = mean patience, inf for M/M/c). Draws nothing.

    Writes ``out[0]`` P(wait), ``out[1]`` P(abandon), ``out[2]`` mean time in queue (all
    customers, Little's law), ``out[3]`` 1 if the queue is stable. Rates per day.
    """
    for i in range(4):
        out[i] = 0.0
    if lam <= 0.0:
        out[3] = 1.0
        return
    inv_theta = 0.0 if math.isinf(theta) else 1.0 / theta
    if inv_theta == 0.0 and lam >= c * mu:
        return  # overloaded without abandonment: no steady state
    # unnormalised probabilities by the birth-death recursion, scaled to avoid overflow
    p = 1.0
    total = 1.0
    wait = 0.0
    queue = 0.0
    n = 0
    while n < 200_000:
        death = min(n + 1, c) * mu + max(n + 1 - c, 0) * inv_theta
        p *= lam / death
        n += 1
        total += p
        if n >= c:
            wait += p
            queue += (n - c) * p
        if total > 1e250:
            p /= 1e250
            total /= 1e250
            wait /= 1e250
            queue /= 1e250
        if n > c and lam < death and p < 1e-15 * total:
            break
    # P(wait) by PASTA counts arrivals finding all agents busy (n >= c before arrival)
    p_wait = wait / total
    out[0] = p_wait
    out[1] = (queue / total) * inv_theta / lam if inv_theta > 0.0 else 0.0
    out[2] = (queue / total) / lam
    out[3] = 1.0


@njit(cache=True)
def _arrival_timing(open_from, open_to, hazard, patience):
    """When in the day requests come, for a request clock of daily ``hazard``.

    A request made on a day falls at x in [0, 1) with density ``h exp(-h x) / (1 - exp(-h))``
    (the exponential clock of ``docs/model.md``; uniform as h -> 0). Returns the share made while
    open, and for those made while closed (before opening: wait ``open_from - x``; after
    closing: wait ``1 - x + open_from``) the probability of still waiting at opening, with
    exponential patience of mean ``patience`` days, and the mean time waited ``E[min(wait,
    patience)]`` (midpoint rule on 200 points per closed interval; the share is exact).
    """

    def density(x):
        if hazard < 1e-9:
            return 1.0
        return hazard * math.exp(-hazard * x) / -math.expm1(-hazard)

    finite = not math.isinf(patience)
    n = 200
    p_closed = 0.0
    surv = 0.0
    waited = 0.0
    for lo, hi, shift in ((0.0, open_from, open_from), (open_to, 1.0, 1.0 + open_from)):
        width = (hi - lo) / n
        for i in range(n):
            x = lo + (i + 0.5) * width
            w = shift - x
            mass = density(x) * width
            p_closed += mass
            if finite:
                surv += mass * math.exp(-w / patience)
                waited += mass * patience * -math.expm1(-w / patience)
            else:
                surv += mass
                waited += mass * w
    if p_closed <= 0.0:
        return 1.0, 1.0, 0.0
    # the share made while open, exactly: F(b) - F(a) with F(x) = (1 - exp(-h x)) / (1 - exp(-h))
    if hazard < 1e-9:
        share_open = open_to - open_from
    else:
        share_open = (math.exp(-hazard * open_from) - math.exp(-hazard * open_to)) / -math.expm1(-hazard)
    return share_open, surv / p_closed, waited / p_closed


@njit(cache=True)
def _service_day(n_new, backlog, agents, open_from, open_to, service_mean, patience, loss_rate, req_hazard, out):
    """One day of a service queue at day resolution. Draws nothing.

    ``n_new`` requests come over the day as an exponential clock of daily hazard ``req_hazard``
    would make them (:func:`_arrival_timing`); those made while closed wait for opening
    (abandoning if their patience, exponential with mean ``patience`` days, runs out first) and,
    with ``backlog`` carried from earlier days, join the open-hours queue: a stationary
    M/M/c+M queue (Erlang-A) with ``agents`` agents, mean service time ``service_mean`` days and
    arrivals spread over the opening hours ``[open_from, open_to)`` (fractions of the day).
    Without patience and with more work than the agents can do, the surplus is carried to
    tomorrow (FIFO, served first). Waiting ``w`` days loses the customer with probability
    ``1 - exp(-loss_rate * w)``. Writes into ``out (8,)`` the fate of one of today's requests,
    ``p_served, p_abandon, p_loss``, then the queue's ``backlog`` after today, ``served``,
    ``abandoned``, ``utilisation`` and ``mean_wait`` (days) of today's requests.
    """
    open_fraction = open_to - open_from
    open_share, s_closed, w_closed = _arrival_timing(open_from, open_to, req_hazard, patience)
    closed = 1.0 - open_share
    finite = not math.isinf(patience)
    lost_closed = n_new * closed * (1.0 - s_closed)
    entering = n_new - lost_closed + backlog
    mu = 1.0 / service_mean
    c = agents
    capacity = c * mu * open_fraction
    res = np.zeros(4)
    if c <= 0 or open_fraction <= 0.0:
        out[0] = 0.0
        out[1] = 1.0 if finite else 0.0
        out[2] = 1.0 if loss_rate > 0.0 else 0.0
        out[3] = 0.0 if finite else entering
        out[4] = 0.0
        out[5] = n_new if finite else 0.0
        out[6] = 0.0
        out[7] = math.inf
        return
    lam = entering / open_fraction
    _erlang_a(lam, mu, c, patience, res)
    if res[3] > 0.0:
        p_ab_open, wq = res[1], res[2]
        served = entering * (1.0 - p_ab_open)
        carry = 0.0
        f_today = 1.0 - p_ab_open
    else:  # overloaded, infinitely patient: serve capacity, carry the rest (FIFO)
        served = capacity
        carry = entering - capacity
        p_ab_open = 0.0
        f_today = capacity / entering
        wq = 0.5 * open_fraction + carry / capacity * 1.0
    p_reach = 1.0 - closed * (1.0 - s_closed)  # a request that gets to the open-hours queue
    out[0] = p_reach * f_today
    out[1] = closed * (1.0 - s_closed) + p_reach * p_ab_open
    w_all = closed * (w_closed + s_closed * wq) + (1.0 - closed) * wq
    out[2] = closed * -math.expm1(-loss_rate * (w_closed + s_closed * wq)) + (1.0 - closed) * -math.expm1(
        -loss_rate * wq
    )
    out[3] = carry
    out[4] = served
    out[5] = lost_closed + entering * p_ab_open
    out[6] = served / capacity
    out[7] = w_all


@njit(cache=True)
def _service_coefficients(t, j, m, fx, day):
    """Write day t's served / abandoned / lost coefficients of service touchpoint j from its queue's ``day`` (8,).

    A request is lost while waiting with probability ``day[2]``; otherwise it is served
    (``day[0]``: the touchpoint's effects, scaled like an exposure) or abandoned (``day[1]``).
    """
    keep = 1.0 - day[2]
    fx.eff[t, j] = m.exposure_effect[t, j] * keep * day[0]
    fx.eff_a[t, j] = m.delivery[t, j] * keep * day[1]
    fx.eff_l[t, j] = m.delivery[t, j] * day[2]
