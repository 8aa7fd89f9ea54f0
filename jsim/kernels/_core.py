"""Private numba kernels. Call them through :mod:`jsim.kernels` (checked wrappers) only.

Random numbers come from xoshiro256+ states owned by fixed-size chunks of customers
(``rng_states[c]``, seeded by ``SeedSequence`` spawning), so results do not depend on how
many threads run the ``prange`` loops. Axis letters as in :mod:`jsim.model.compiled`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# A day on which some source moves a customer surely gets this hazard: exp(-50) ~ 2e-22.
HAZARD_MAX = 50.0


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _next_double(state):
    """One uniform double in [0, 1) from xoshiro256+; advances ``state`` (4 uint64) in place."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return float(result >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _next_exp(state):
    """One Exp(1) draw, strictly positive: -log of a uniform on the open interval (0, 1)."""
    return -math.log(_next_double(state) + 0.5 / 9007199254740992.0)


@njit(cache=True)
def _source_probs(t, g, s, shares, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p, wom_q, wom_mult,
                  move_day, move_share, pair_src, pair_dst, n_pairs, out_a, out_r):
    """Per-pair move probabilities ``out_a (P,)`` and per-source totals ``out_r (K,)`` of (g, s) on day t.

    Source k = 0 organic, 1..J touchpoints, then word-of-mouth rules, then one-off event moves.
    ``day_mult (T+1, 3)`` holds the calendar's multipliers of organic transitions, word-of-mouth
    hazards and moves into purchase stages. A touchpoint j acts through
    ``eff[t, j] * q + eff_a[t, j] * qa + eff_l[t, j] * ql`` (served effects, abandonment effects,
    loss while waiting; the last two are zero except for service touchpoints). Draws no random numbers.
    """
    J = q.shape[1]
    W = wom_p.shape[0]
    for k in range(out_r.shape[0]):
        out_r[k] = 0.0
    for i in range(n_pairs[g, s]):
        k = pair_src[g, s, i]
        d = pair_dst[g, s, i]
        if k == 0:
            a = p0[g, s, d] * day_mult[t, 0]
        elif k <= J:
            j = k - 1
            a = eff[t, j] * q[g, j, s, d] + eff_a[t, j] * qa[g, j, s, d] + eff_l[t, j] * ql[g, j, s, d]
        elif k <= J + W:
            w = k - 1 - J
            a = -math.expm1(-(wom_p[w] + wom_q[w] * shares[w]) * wom_mult[g] * day_mult[t, 1])
        else:
            e = k - 1 - J - W
            a = move_share[e] if move_day[e] == t else 0.0
        if is_purchase[d]:
            a *= day_mult[t, 2]
        out_a[i] = a
        out_r[k] += a


@njit(cache=True)
def _day_pairs(t, shares, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p, wom_q, wom_mult, move_day,
               move_share, pair_src, pair_dst, n_pairs, out_prob, out_hazard, out_leave):
    """Fill the day-``t`` move probabilities of every (segment, stage, pair).

    Implements ``docs/model.md`` ("first event wins"). Writes ``out_prob (G, S, P)``,
    ``out_hazard (G, S)`` (the day's total hazard, capped at HAZARD_MAX) and ``out_leave (G, S)``
    (probability of leaving the stage on day t). Draws no random numbers.
    """
    G, S, P = pair_src.shape
    K = 1 + q.shape[1] + wom_p.shape[0] + move_day.shape[0]
    r = np.zeros(K)
    lam = np.zeros(K)
    a = np.zeros(P)
    for g in range(G):
        for s in range(S):
            n = n_pairs[g, s]
            for i in range(P):
                out_prob[g, s, i] = 0.0
            out_hazard[g, s] = 0.0
            out_leave[g, s] = 0.0
            if n == 0:
                continue
            _source_probs(t, g, s, shares, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p, wom_q,
                          wom_mult, move_day, move_share, pair_src, pair_dst, n_pairs, a, r)
            n_inf = 0
            total = 0.0
            for k in range(K):
                if r[k] >= 1.0:
                    n_inf += 1
                    lam[k] = 0.0
                elif r[k] > 0.0:
                    lam[k] = -math.log1p(-r[k])
                    total += lam[k]
                else:
                    lam[k] = 0.0
            if n_inf > 0:
                leave = 1.0
                out_hazard[g, s] = HAZARD_MAX
            else:
                leave = -math.expm1(-total)
                out_hazard[g, s] = min(total, HAZARD_MAX)
            out_leave[g, s] = leave
            for i in range(n):
                k = pair_src[g, s, i]
                if a[i] <= 0.0 or r[k] <= 0.0:
                    prob = 0.0
                elif n_inf > 0:
                    prob = a[i] / r[k] / n_inf if r[k] >= 1.0 else 0.0
                else:
                    prob = lam[k] / total * leave * (a[i] / r[k])
                out_prob[g, s, i] = prob


@njit(cache=True)
def _all_days(n_days, shares, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p, wom_q, wom_mult,
              move_day, move_share, pair_src, pair_dst, n_pairs, out_prob, out_cum, out_leave):
    """Day tables for every day at fixed word-of-mouth shares.

    ``out_prob (T+1, G, S, P)``, ``out_leave (T+1, G, S)``, ``out_cum (G, S, T+1)`` the
    cumulative hazard (``out_cum[..., 0] = 0``).
    """
    G, S, P = pair_src.shape
    hazard = np.zeros((G, S))
    for g in range(G):
        for s in range(S):
            out_cum[g, s, 0] = 0.0
    for t in range(1, n_days + 1):
        _day_pairs(t, shares, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p, wom_q, wom_mult,
                   move_day, move_share, pair_src, pair_dst, n_pairs, out_prob[t], hazard, out_leave[t])
        for g in range(G):
            for s in range(S):
                out_cum[g, s, t] = out_cum[g, s, t - 1] + hazard[g, s]


@njit(cache=True)
def _build_alias(prob, n, out_thresh, out_alias):
    """Walker alias table of the first ``n`` entries of ``prob`` (Vose's method). Draws nothing.

    Afterwards index i is drawn with probability ``prob[i] / prob[:n].sum()`` by
    :func:`_pick_alias`. Entries past ``n`` are left untouched. ``n = 0`` or an all-zero ``prob``
    gives a table that is never used (nobody moves from such a stage).
    """
    total = 0.0
    for i in range(n):
        total += prob[i]
    if n == 0 or total <= 0.0:
        for i in range(n):
            out_thresh[i] = 1.0
            out_alias[i] = i
        return
    scaled = np.empty(n)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        scaled[i] = prob[i] * n / total
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        lo = small[ns]
        hi = large[nl - 1]
        out_thresh[lo] = scaled[lo]
        out_alias[lo] = hi
        scaled[hi] = (scaled[hi] + scaled[lo]) - 1.0
        if scaled[hi] < 1.0:
            nl -= 1
            small[ns] = hi
            ns += 1
    for k in range(nl):
        out_thresh[large[k]] = 1.0
        out_alias[large[k]] = large[k]
    for k in range(ns):  # only rounding leaves entries here
        out_thresh[small[k]] = 1.0
        out_alias[small[k]] = small[k]


@njit(cache=True)
def _alias_tables(prob, n_pairs, out_thresh, out_alias):
    """Alias tables of every (segment, stage) of one day: ``prob (G, S, P)`` -> ``(G, S, P)`` twice."""
    G, S, _ = prob.shape
    for g in range(G):
        for s in range(S):
            _build_alias(prob[g, s], n_pairs[g, s], out_thresh[g, s], out_alias[g, s])


@njit(cache=True)
def _alias_days(prob, n_pairs, out_thresh, out_alias):
    """:func:`_alias_tables` for every day: ``prob (T+1, G, S, P)``."""
    for t in range(prob.shape[0]):
        _alias_tables(prob[t], n_pairs, out_thresh[t], out_alias[t])


@njit(cache=True)
def _pick_alias(u, thresh, alias, n):
    """Draw a pair index from an alias table with one uniform ``u`` in [0, 1)."""
    x = u * n
    i = int(x)
    if i >= n:
        i = n - 1
    return i if x - i < thresh[i] else alias[i]


@njit(parallel=True, cache=True)
def _independent_chunks(chunk_ids, chunk_size, n_total, cohort_start, cohort_day, cohort_seg, cohort_stage,
                        cum, const_hazard, thresh, alias, pair_src, pair_dst, n_pairs, is_absorbing, is_converted,
                        rng_states, out_occ_diff, out_flows, out_seg_flows, out_credits, out_newconv):
    """Simulate whole journeys of the customers in ``chunk_ids`` when hazards are known in advance.

    Each customer in stage s after day t0 draws E ~ Exp(1) and moves on the first day t with
    ``cum[g, s, t] - cum[g, s, t0] >= E`` (idle days are skipped by binary search, or in one
    step ``t = t0 + ceil(E / h)`` where ``const_hazard[g, s] = h > 0`` is the same every day), to the
    (source, destination) pair drawn from day t's conditional probabilities (alias tables
    ``thresh``, ``alias`` of shape (T+1, G, S, P), built by :func:`_alias_days`).
    Draws 2 uniforms per stage entry (+1 per stay to the horizon) from ``rng_states[c]``.
    Adds into row ``b`` of each output: ``out_occ_diff (B, G, S, T+2)`` (+1 from the first day
    present, -1 on the day left), ``out_flows (B, T+1, S, S)``, ``out_seg_flows (B, G, S, S)``,
    ``out_credits (B, K, S, S)``, ``out_newconv (B, T+1, G)``.
    """
    T = cum.shape[2] - 1
    for b in prange(chunk_ids.shape[0]):
        c = chunk_ids[b]
        state = rng_states[c].copy()
        lo = c * chunk_size
        hi = min(n_total, lo + chunk_size)
        co = np.searchsorted(cohort_start, lo, side="right") - 1
        for i in range(lo, hi):
            while i >= cohort_start[co + 1]:
                co += 1
            g = cohort_seg[co]
            s = cohort_stage[co]
            t_from = cohort_day[co]
            t0 = t_from - 1 if t_from > 0 else 0
            conv = is_converted[s]
            if conv:
                out_newconv[b, t_from, g] += 1
            while not is_absorbing[s]:
                e = _next_exp(state)
                h = const_hazard[g, s]
                if h > 0.0:
                    # constant daily hazard: the wait is geometric, ceil(E / h) days. Compared as a
                    # float: E / h can exceed the int64 range (or be inf) when h is tiny.
                    wait = max(1.0, np.ceil(e / h))
                    if wait > T - t0:
                        break
                    t = t0 + int(wait)
                else:
                    thr = cum[g, s, t0] + e
                    if t0 >= T or cum[g, s, T] < thr:
                        break
                    a = t0 + 1
                    z = T
                    while a < z:
                        mid = (a + z) >> 1
                        if cum[g, s, mid] >= thr:
                            z = mid
                        else:
                            a = mid + 1
                    t = a
                ip = _pick_alias(_next_double(state), thresh[t, g, s], alias[t, g, s], n_pairs[g, s])
                k = pair_src[g, s, ip]
                d = pair_dst[g, s, ip]
                out_occ_diff[b, g, s, t_from] += 1
                out_occ_diff[b, g, s, t] -= 1
                out_flows[b, t, s, d] += 1
                out_seg_flows[b, g, s, d] += 1
                out_credits[b, k, s, d] += 1
                if not conv and is_converted[d]:
                    conv = True
                    out_newconv[b, t, g] += 1
                s = d
                t_from = t
                t0 = t
            out_occ_diff[b, g, s, t_from] += 1
            out_occ_diff[b, g, s, T + 1] -= 1


@njit(parallel=True, cache=True)
def _coupled_init(n_initial, chunk_size, stage, seg, conv, thr, is_converted, rng_states):
    """Give the day-0 customers (indices < n_initial) their first threshold. One uniform each."""
    n_chunks = (n_initial + chunk_size - 1) // chunk_size
    for c in prange(n_chunks):
        state = rng_states[c].copy()
        for i in range(c * chunk_size, min(n_initial, (c + 1) * chunk_size)):
            thr[i] = _next_exp(state)
            conv[i] = 1 if is_converted[stage[i]] else 0
        rng_states[c] = state


@njit(cache=True)
def _coupled_chunk(c, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, pair_src, pair_dst, n_pairs,
                   is_absorbing, is_converted, stage, seg, conv, thr, rng_states, out_day_flows, out_credits, out_newconv):
    """Advance chunk ``c`` through one day; see :func:`_coupled_day`."""
    out_day_flows[c] = 0
    out_newconv[c] = 0
    state = rng_states[c].copy()
    for i in range(c * chunk_size, min(n_active, (c + 1) * chunk_size)):
        s = stage[i]
        g = seg[i]
        if i >= n_before:
            thr[i] = cum_prev[g, s] + _next_exp(state)
            if is_converted[s]:
                conv[i] = 1
                out_newconv[c, g] += 1
        if is_absorbing[s] or cum_now[g, s] < thr[i]:
            continue
        ip = _pick_alias(_next_double(state), thresh[g, s], alias[g, s], n_pairs[g, s])
        k = pair_src[g, s, ip]
        d = pair_dst[g, s, ip]
        out_day_flows[c, g, s, d] += 1
        out_credits[c, k, s, d] += 1
        if conv[i] == 0 and is_converted[d]:
            conv[i] = 1
            out_newconv[c, g] += 1
        stage[i] = d
        thr[i] = cum_now[g, d] + _next_exp(state)
    rng_states[c] = state


@njit(parallel=True, cache=True)
def _coupled_day(t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, pair_src, pair_dst, n_pairs,
                 is_absorbing, is_converted, stage, seg, conv, thr, rng_states,
                 out_day_flows, out_credits, out_newconv):
    """Advance every active customer through day ``t`` (population-coupled hazards).

    Customers ``n_before <= i < n_active`` arrived today: their stage and segment are already
    set; they get a threshold ``cum_prev + E``. A customer moves when ``cum_now >= thr``.
    Per chunk c: ``out_day_flows (C, G, S, S)`` today's moves (zeroed here),
    ``out_credits (C, K, S, S)`` and ``out_newconv (C, G)`` (zeroed here) accumulate.
    Mutates ``stage``, ``conv``, ``thr`` and ``rng_states``.
    """
    n_chunks = (n_active + chunk_size - 1) // chunk_size
    for c in prange(n_chunks):
        _coupled_chunk(c, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, pair_src, pair_dst, n_pairs,
                       is_absorbing, is_converted, stage, seg, conv, thr, rng_states, out_day_flows, out_credits, out_newconv)


@njit(cache=True)
def _coupled_day_serial(t, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, pair_src, pair_dst, n_pairs,
                 is_absorbing, is_converted, stage, seg, conv, thr, rng_states,
                 out_day_flows, out_credits, out_newconv):
    """:func:`_coupled_day` without a parallel region (cheaper when one chunk is active)."""
    n_chunks = (n_active + chunk_size - 1) // chunk_size
    for c in range(n_chunks):
        _coupled_chunk(c, n_before, n_active, chunk_size, cum_prev, cum_now, thresh, alias, pair_src, pair_dst, n_pairs,
                       is_absorbing, is_converted, stage, seg, conv, thr, rng_states, out_day_flows, out_credits, out_newconv)


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
    out[2] = closed * -math.expm1(-loss_rate * (w_closed + s_closed * wq)) + (1.0 - closed) * -math.expm1(-loss_rate * wq)
    out[3] = carry
    out[4] = served
    out[5] = lost_closed + entering * p_ab_open
    out[6] = served / capacity
    out[7] = w_all


@njit(cache=True)
def _service_coefficients(t, v, svc_tp, delivery, base_eff, eff, eff_a, eff_l, day):
    """Write day t's served / abandoned / lost coefficients of service v from ``day`` (see _service_day)."""
    j = svc_tp[v]
    keep = 1.0 - day[2]
    eff[t, j] = base_eff[t, j] * keep * day[0]
    eff_a[t, j] = delivery[t, j] * keep * day[1]
    eff_l[t, j] = delivery[t, j] * day[2]


@njit(cache=True)
def _mean_field(n_days, x0, arrivals, arrival_stage, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p,
                wom_q, wom_mult, move_day, move_share, pair_src, pair_dst, n_pairs, wom_advocate, is_converted,
                fixed_shares, svc_tp, svc_agents, svc_params, svc_loss, target, delivery, base_eff,
                out_occ, out_occ_start, out_flows, out_seg_flows, out_credits, out_newconv, out_shares, out_service):
    """Expected-value propagation of the same model, day by day. Draws no random numbers.

    ``arrivals (T+1, G)``: expected arrivals per day and segment.
    Service touchpoints ``svc_tp (V,)`` (agents ``svc_agents (T+1, V)``, ``svc_params (V, 4)``
    opening and closing time, mean service time and mean patience in days, loss rate per day
    waited ``svc_loss (V,)``) run a
    day-resolution queue (:func:`_service_day`) on the expected requests; their coefficients are
    written into ``eff``, ``eff_a``, ``eff_l`` (working copies) and the queue's day into
    ``out_service (T+1, V, 8)``.
    ``fixed_shares (T+1, W)``: when it has T+1 rows, the word-of-mouth shares of each day are
    taken from it (for example a stochastic run's own share path) instead of from ``x``.

    State ``x (G, S, 2)``: expected customers by segment, stage and ever-converted flag.
    Word-of-mouth shares use the expected occupancy (exact when there is no word of mouth;
    the large-population limit otherwise). Writes ``out_occ (T+1, G, S)`` end-of-day
    occupancy, ``out_occ_start (T+1, G, S)`` start-of-day occupancy (after arrivals),
    ``out_flows (T+1, S, S)``, ``out_seg_flows (G, S, S)``, ``out_credits (K, S, S)``,
    ``out_newconv (T+1, G)``, ``out_shares (T+1, W)`` the shares used on each day.
    """
    G, S, P = pair_src.shape
    W = wom_p.shape[0]
    x = np.zeros((G, S, 2))
    for g in range(G):
        for s in range(S):
            c = 1 if is_converted[s] else 0
            x[g, s, c] = x0[g, s]
            out_occ[0, g, s] = x0[g, s]
            if c == 1:
                out_newconv[0, g] += x0[g, s]
    prob = np.zeros((G, S, P))
    hazard = np.zeros((G, S))
    leave = np.zeros((G, S))
    shares = np.zeros(W)
    backlog = np.zeros(svc_tp.shape[0])
    for t in range(1, n_days + 1):
        total = 0.0
        for g in range(G):
            for s in range(S):
                total += x[g, s, 0] + x[g, s, 1]
        for w in range(W):
            adv = 0.0
            for g in range(G):
                for s in range(S):
                    if wom_advocate[w, s]:
                        adv += x[g, s, 0] + x[g, s, 1]
            shares[w] = adv / total if total > 0 else 0.0
            if fixed_shares.shape[0] == n_days + 1:
                shares[w] = fixed_shares[t, w]
            out_shares[t, w] = shares[w]
        ca = 1 if is_converted[arrival_stage] else 0
        for g in range(G):
            x[g, arrival_stage, ca] += arrivals[t, g]
            if ca == 1:
                out_newconv[t, g] += arrivals[t, g]
        for v in range(svc_tp.shape[0]):
            j = svc_tp[v]
            n_new = 0.0
            for g in range(G):
                for s in range(S):
                    if target[j, g, s]:
                        n_new += (x[g, s, 0] + x[g, s, 1]) * delivery[t, j]
            _service_day(n_new, backlog[v], svc_agents[t, v], svc_params[v, 0], svc_params[v, 1], svc_params[v, 2],
                         svc_params[v, 3], svc_loss[v], -math.log1p(-min(delivery[t, j], 1.0 - 1e-16)),
                         out_service[t, v])
            backlog[v] = out_service[t, v, 3]
            _service_coefficients(t, v, svc_tp, delivery, base_eff, eff, eff_a, eff_l, out_service[t, v])
        _day_pairs(t, shares, p0, q, qa, ql, eff, eff_a, eff_l, day_mult, is_purchase, wom_p, wom_q, wom_mult, move_day,
                   move_share, pair_src, pair_dst, n_pairs, prob, hazard, leave)
        new = np.zeros((G, S, 2))
        for g in range(G):
            for s in range(S):
                for c in range(2):
                    m = x[g, s, c]
                    out_occ_start[t, g, s] += m
                    if m == 0.0:
                        continue
                    new[g, s, c] += m * (1.0 - leave[g, s])
                    for i in range(n_pairs[g, s]):
                        f = m * prob[g, s, i]
                        if f == 0.0:
                            continue
                        k = pair_src[g, s, i]
                        d = pair_dst[g, s, i]
                        c2 = 1 if (c == 1 or is_converted[d]) else 0
                        new[g, d, c2] += f
                        out_flows[t, s, d] += f
                        out_seg_flows[g, s, d] += f
                        out_credits[k, s, d] += f
                        if c == 0 and c2 == 1:
                            out_newconv[t, g] += f
        x = new
        for g in range(G):
            for s in range(S):
                out_occ[t, g, s] = x[g, s, 0] + x[g, s, 1]
