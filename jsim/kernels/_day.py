"""The day step every day-by-day engine runs (private numba kernels). Draw no random numbers.

At the start of day t: word-of-mouth shares from yesterday's census, today's arrivals join,
each service queue takes the day's requests (day resolution) and sets its touchpoint's day
coefficients, then the day's move tables follow by "first event wins". The expected-value
kernel and the fast engine's day-by-day path both call :func:`_day_step`; the discrete-event
engine calls :func:`_wom_shares` and the day tables (its service queues are real).
"""

from __future__ import annotations

from numba import njit

from ._hazards import _clock_hazard, _day_pairs
from ._queue import _service_coefficients, _service_day


@njit(cache=True)
def _wom_shares(occ, wom_advocate, out):
    """Share of the whole population (``occ (G, S)``, absorbing stages included) standing in each
    rule's advocate stages: ``out (W,)``; 0 for an empty population."""
    G, S = occ.shape
    total = 0.0
    for g in range(G):
        for s in range(S):
            total += occ[g, s]
    for w in range(wom_advocate.shape[0]):
        adv = 0.0
        for g in range(G):
            for s in range(S):
                if wom_advocate[w, s]:
                    adv += occ[g, s]
        out[w] = adv / total if total > 0 else 0.0


@njit(cache=True)
def _service_step(t, occ_start, m, fx, backlog, out_service):
    """Day t of every service queue: ``occ_start (G, S)`` customers at the start of the day.

    Service v's requests are its targeted customers times the day's delivery; its queue's day
    (:func:`~jsim.kernels._queue._service_day`) is written into ``out_service[v] (8,)``, its
    overnight ``backlog[v]`` updated, and its touchpoint's coefficients in ``fx`` set.
    """
    G, S = occ_start.shape
    for v in range(m.svc_tp.shape[0]):
        j = m.svc_tp[v]
        targeted = 0.0
        for g in range(G):
            for s in range(S):
                if m.target[j, g, s]:
                    targeted += occ_start[g, s]
        p = m.delivery[t, j]
        _service_day(
            targeted * p,
            backlog[v],
            m.svc_agents[t, v],
            m.svc_params[v, 0],
            m.svc_params[v, 1],
            m.svc_params[v, 2],
            m.svc_params[v, 3],
            m.svc_loss[v],
            _clock_hazard(p),
            out_service[v],
        )
        backlog[v] = out_service[v, 3]
        _service_coefficients(t, j, m, fx, out_service[v])


@njit(cache=True)
def _day_step(
    t, occ_prev, arrivals, fixed_shares, m, fx, backlog, out_shares, out_service, out_prob, out_hazard, out_leave
):
    """Everything about day t that depends on the population, then its move tables.

    Parameters
    ----------
    occ_prev : (G, S) float64
        Customers at the end of day t-1.
    arrivals : (G,) float64
        Today's arrivals (they join the model's arrival stage at the start of the day).
    fixed_shares : (T+1, W) or (0, W) float64
        With rows, the word-of-mouth shares of day t are taken from row t instead of the census.
    m, fx
        Model arrays and the working day coefficients (service touchpoints' are written).
    backlog : (V,) float64
        Requests carried overnight by each service (updated).
    out_shares : (W,), out_service : (V, 8), out_prob : (G, S, P), out_hazard, out_leave : (G, S)
        Written: the shares used, each queue's day, and the day tables of
        :func:`~jsim.kernels._hazards._day_pairs`.
    """
    _wom_shares(occ_prev, m.wom_advocate, out_shares)
    if fixed_shares.shape[0] > t:
        for w in range(out_shares.shape[0]):
            out_shares[w] = fixed_shares[t, w]
    if m.svc_tp.shape[0] > 0:
        occ_start = occ_prev.copy()
        for g in range(occ_start.shape[0]):
            occ_start[g, m.arrival_stage] += arrivals[g]
        _service_step(t, occ_start, m, fx, backlog, out_service)
    _day_pairs(t, out_shares, m, fx, out_prob, out_hazard, out_leave)
