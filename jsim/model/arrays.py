"""The compiled model as one typed tuple of arrays: what the numba kernels take.

Kernels take a :class:`ModelArrays` (and, where the engines change them day by day, a
:class:`Coefficients`) instead of dozens of positional arrays; numba compiles a NamedTuple of
arrays into a struct, so reading ``m.p0[g, s, d]`` costs what reading a passed array costs.
Axis letters as in :mod:`jsim.model.compiled`.
"""

from __future__ import annotations

__all__ = ["ModelArrays", "Coefficients"]

from typing import NamedTuple

import numpy as np


class ModelArrays(NamedTuple):
    """Read-only arrays of a :class:`~jsim.model.CompiledModel` that the kernels read.

    p0 : (G, S, S) organic daily probabilities; q, qa, ql : (G, J, S, S) effects of an engaged
    exposure, of abandoning a service queue, and the one-hot move of a customer lost while
    waiting; day_mult : (T+1, 3) calendar multipliers (organic, word of mouth, purchases);
    is_purchase, is_absorbing, is_converted : (S,) bool; wom_p, wom_q : (W,) Bass hazards;
    wom_mult : (G,); wom_advocate : (W, S) bool; move_day : (E,) int64, move_share : (E,);
    pair_src, pair_dst : (G, S, P) int64 clock and destination of each pair; n_pairs : (G, S);
    pair_route : (G, S, P, 3) int64 route of each pair and service outcome; is_service : (J,)
    bool; target : (J, G, S) bool; delivery, exposure_effect : (T+1, J); engagement : (J,);
    svc_tp : (V,) int64; svc_agents : (T+1, V); svc_params : (V, 4) opening and closing time,
    mean service time and mean patience in days; svc_loss : (V,) loss hazard per day waited;
    arrival_stage : int.
    """

    p0: np.ndarray
    q: np.ndarray
    qa: np.ndarray
    ql: np.ndarray
    day_mult: np.ndarray
    is_purchase: np.ndarray
    is_absorbing: np.ndarray
    is_converted: np.ndarray
    wom_p: np.ndarray
    wom_q: np.ndarray
    wom_mult: np.ndarray
    wom_advocate: np.ndarray
    move_day: np.ndarray
    move_share: np.ndarray
    pair_src: np.ndarray
    pair_dst: np.ndarray
    n_pairs: np.ndarray
    pair_route: np.ndarray
    is_service: np.ndarray
    target: np.ndarray
    delivery: np.ndarray
    engagement: np.ndarray
    exposure_effect: np.ndarray
    svc_tp: np.ndarray
    svc_agents: np.ndarray
    svc_params: np.ndarray
    svc_loss: np.ndarray
    arrival_stage: int


class Coefficients(NamedTuple):
    """Day coefficients of each touchpoint's effects, ``(T+1, J)`` each.

    A touchpoint j acts on day t through ``eff[t, j] * q + eff_a[t, j] * qa + eff_l[t, j] * ql``.
    ``eff`` starts as the model's ``exposure_effect`` and ``eff_a``, ``eff_l`` as zeros; the
    day-resolution service queue rewrites the three for service touchpoints, day by day
    (``docs/model.md``, "Service touchpoints").
    """

    eff: np.ndarray
    eff_a: np.ndarray
    eff_l: np.ndarray

    @classmethod
    def initial(cls, exposure_effect: np.ndarray) -> Coefficients:
        """Working copies: ``exposure_effect`` and zeros."""
        return cls(
            np.array(exposure_effect, dtype=np.float64),
            np.zeros(exposure_effect.shape),
            np.zeros(exposure_effect.shape),
        )
