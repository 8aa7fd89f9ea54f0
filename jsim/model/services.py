"""Capacity-limited service touchpoints (live chat, phone, couriers) as arrays.

Durations are converted from the scenario's hours to days. See ``docs/model.md``, "Service
touchpoints".
"""

from __future__ import annotations

__all__ = ["CompiledService", "compile_services", "service_arrays"]

from dataclasses import dataclass

import numpy as np

HOURS_PER_DAY = 24.0


@dataclass(frozen=True, eq=False)
class CompiledService:
    """A capacity-limited service touchpoint. Durations in days (the scenario gives hours).

    Attributes
    ----------
    touchpoint : int
        Index of the touchpoint whose deliveries are service requests.
    name : str
        The touchpoint's name.
    agents : (T+1,) int64
        Agents on duty each day (capacity events applied).
    service_dist, patience_dist : str
        ``exponential``, ``fixed``, ``lognormal`` or ``gamma`` (patience: ``""`` = infinite).
    service_mean, service_sd, patience_mean, patience_sd : float
        In days (sd NaN where the distribution has none; patience mean inf when infinite).
    open_from, open_to : float
        Opening hours as fractions of a day, ``[open_from, open_to)``.
    wait_loss_rate : float
        Hazard of loss per day waited.
    loss_stage : int
        Stage that waiting loses customers to (default: the first absorbing stage that is not
        converted, such as 'lost'); -1 if none.
    abandon_q : (G, S, S) float64
        Effects of abandoning the queue, segment targeting applied.
    """

    touchpoint: int
    name: str
    agents: np.ndarray
    service_dist: str
    service_mean: float
    service_sd: float
    patience_dist: str
    patience_mean: float
    patience_sd: float
    open_from: float
    open_to: float
    wait_loss_rate: float
    loss_stage: int
    abandon_q: np.ndarray

    @property
    def open_fraction(self) -> float:
        """Share of each day the service is open."""
        return self.open_to - self.open_from


def _compile_service(tp, j, agents, sidx, seg_names, is_absorbing, is_converted) -> CompiledService:
    sv = tp.service
    S, G = len(sidx), len(seg_names)
    loss = (
        sidx[sv.loss_stage]
        if sv.loss_stage is not None
        else next((i for i in range(S) if is_absorbing[i] and not is_converted[i]), -1)
    )
    abandon_q = np.zeros((G, S, S))
    seg_ok = np.array([tp.segments is None or name in tp.segments for name in seg_names])
    for e in sv.abandon_effects:
        abandon_q[:, sidx[e.from_], sidx[e.to]] = e.p * seg_ok
    pat = sv.patience
    agents = agents.copy()
    agents.setflags(write=False)
    abandon_q.setflags(write=False)
    return CompiledService(
        touchpoint=j,
        name=tp.name,
        agents=agents,
        service_dist=sv.service_time.dist,
        service_mean=sv.service_time.mean / HOURS_PER_DAY,
        service_sd=(sv.service_time.sd or np.nan) / HOURS_PER_DAY,
        patience_dist=pat.dist if pat is not None else "",
        patience_mean=pat.mean / HOURS_PER_DAY if pat else np.inf,
        patience_sd=((pat.sd or np.nan) / HOURS_PER_DAY) if pat else np.nan,
        open_from=sv.open[0] / HOURS_PER_DAY,
        open_to=sv.open[1] / HOURS_PER_DAY,
        wait_loss_rate=sv.wait_loss_per_hour * HOURS_PER_DAY,
        loss_stage=loss,
        abandon_q=abandon_q,
    )


def compile_services(touchpoints, calendar, stage_index, segment_names, is_absorbing, is_converted) -> tuple:
    """One :class:`CompiledService` per touchpoint with a ``service`` block, in touchpoint order."""
    return tuple(
        _compile_service(tp, j, calendar.agents[j], stage_index, segment_names, is_absorbing, is_converted)
        for j, tp in enumerate(touchpoints)
        if tp.service is not None
    )


def service_arrays(services, target, is_absorbing, n_days: int) -> dict:
    """The kernels' arrays of the services (see :class:`jsim.model.CompiledModel`).

    Returns ``qa``, ``ql`` (G, J, S, S): effects of abandoning, and the one-hot move of a customer
    lost while waiting; ``svc_tp (V,)``, ``svc_capacity``, ``svc_agents (T+1, V)``,
    ``svc_params (V, 4)`` and ``svc_loss (V,)``.
    """
    J, G, S = target.shape
    T, V = n_days, len(services)
    qa, ql = np.zeros((G, J, S, S)), np.zeros((G, J, S, S))
    for sv in services:
        qa[:, sv.touchpoint] = sv.abandon_q
        if sv.loss_stage >= 0:
            for g in range(G):
                for st in np.flatnonzero(target[sv.touchpoint, g] & ~is_absorbing):
                    if st != sv.loss_stage:
                        ql[g, sv.touchpoint, st, sv.loss_stage] = 1.0
    svc_capacity = np.zeros((T + 1, V))
    svc_agents = np.zeros((T + 1, V))
    for v, sv in enumerate(services):
        svc_capacity[:, v] = sv.agents * sv.open_fraction / sv.service_mean
        svc_agents[:, v] = sv.agents
    return dict(
        qa=qa,
        ql=ql,
        svc_tp=np.array([sv.touchpoint for sv in services], dtype=np.int64),
        svc_capacity=svc_capacity,
        svc_agents=svc_agents,
        svc_params=np.array(
            [[sv.open_from, sv.open_to, sv.service_mean, sv.patience_mean] for sv in services], dtype=np.float64
        ).reshape(V, 4),
        svc_loss=np.array([sv.wait_loss_rate for sv in services], dtype=np.float64),
    )
