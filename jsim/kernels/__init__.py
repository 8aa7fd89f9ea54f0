"""Checked wrappers around the private numba kernels in :mod:`jsim.kernels._core`.

The wrappers take a :class:`~jsim.model.CompiledModel`, check shapes and dtypes, allocate the
outputs, and call the kernels. numba is imported on first use only (``jsim --help`` stays fast).
"""

from __future__ import annotations

__all__ = ["day_tables", "all_day_tables", "alias_tables", "mean_field_arrays"]

import numpy as np


def _kernels():
    from . import _core as core  # noqa: PLC0415  (lazy: importing numba costs ~0.5 s)

    return core


def _check(name: str, arr: np.ndarray, shape: tuple, dtype) -> None:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.dtype(dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")


def _model_args(m):
    """The model arrays :func:`_core._day_pairs` reads, in its argument order."""
    return (m.p0, m.q, m.qa, m.ql, m.exposure_effect, m.eff_abandon, m.eff_loss, m.day_mult, m.is_purchase, m.wom_p,
            m.wom_q, m.wom_mult, m.move_day, m.move_share, m.pair_src, m.pair_dst, m.n_pairs)


def day_tables(model, t: int, shares: np.ndarray):
    """Move probabilities of day ``t`` given word-of-mouth ``shares (W,)``.

    Returns
    -------
    prob : (G, S, P) float64
        Probability of moving through each (source, destination) pair on day t.
    hazard : (G, S) float64
        Total daily hazard (capped at ``HAZARD_MAX`` where leaving is certain).
    leave : (G, S) float64
        Probability of leaving each stage on day t; equals ``prob.sum(-1)``.
    """
    if not 1 <= t <= model.n_days:
        raise ValueError(f"t must be within [1, {model.n_days}], got {t}")
    shares = np.ascontiguousarray(shares, dtype=np.float64)
    _check("shares", shares, (model.n_wom,), np.float64)
    if np.any((shares < 0) | (shares > 1)):
        raise ValueError(f"shares must be within [0, 1], got {shares}")
    G, S, P = model.pair_src.shape
    prob, hazard, leave = np.zeros((G, S, P)), np.zeros((G, S)), np.zeros((G, S))
    _kernels()._day_pairs(t, shares, *_model_args(model), prob, hazard, leave)
    return prob, hazard, leave


def all_day_tables(model):
    """Day tables for every day of a model without population coupling.

    Returns ``prob (T+1, G, S, P)``, ``cum (G, S, T+1)`` cumulative hazard, ``leave (T+1, G, S)``,
    ``const_hazard (G, S)``: the daily hazard where it is the same on every day, else 0.
    """
    if model.is_coupled:
        raise ValueError("all_day_tables needs a model without word of mouth; coupled models compute days one at a time")
    G, S, P = model.pair_src.shape
    T = model.n_days
    prob, cum, leave = np.zeros((T + 1, G, S, P)), np.zeros((G, S, T + 1)), np.zeros((T + 1, G, S))
    _kernels()._all_days(T, np.zeros(0), *_model_args(model), prob, cum, leave)
    daily = np.diff(cum, axis=2)
    const_hazard = np.where(np.all(leave[1:] == leave[1], axis=0), daily[:, :, 0], 0.0)
    return prob, cum, leave, np.ascontiguousarray(const_hazard)


def alias_tables(prob: np.ndarray, n_pairs: np.ndarray):
    """Walker alias tables drawing a (source, destination) pair with probability ``prob / prob.sum(-1)``.

    Parameters
    ----------
    prob : (..., G, S, P) float64
        Move probabilities from :func:`day_tables` (one day) or :func:`all_day_tables` (every day).
    n_pairs : (G, S) int64
        Pairs in use per segment and stage.

    Returns
    -------
    thresh : float64, alias : int64, both shaped like ``prob``.
    """
    prob = np.ascontiguousarray(prob, dtype=np.float64)
    if prob.ndim not in (3, 4) or prob.shape[-3:-1] != n_pairs.shape:
        raise ValueError(f"prob must have shape (..., G, S, P) with (G, S) = {n_pairs.shape}, got {prob.shape}")
    if np.any(prob < 0):
        raise ValueError("prob must be >= 0")
    thresh, alias = np.ones_like(prob), np.zeros(prob.shape, dtype=np.int64)
    core = _kernels()
    if prob.ndim == 3:
        core._alias_tables(prob, n_pairs, thresh, alias)
    else:
        core._alias_days(prob, n_pairs, thresh, alias)
    return thresh, alias


def mean_field_arrays(model, x0: np.ndarray | None = None, arrivals: np.ndarray | None = None,
                      shares: np.ndarray | None = None) -> dict:
    """Expected-value propagation of ``model``; see :func:`jsim.kernels._core._mean_field`.

    Parameters
    ----------
    x0 : (G, S) float64, optional
        Day-0 expected occupancy; default ``model.initial``.
    arrivals : (G,) or (T+1, G) float64, optional
        Expected arrivals per segment (every day, or per day); default the model's
        ``arrivals_mean`` times its seasonal ``arrivals_mult``.
    shares : (T+1, W) float64, optional
        Word-of-mouth shares to use on each day (row t for day t) instead of the propagated ones.
    """
    G, S, _ = model.pair_src.shape
    T, W, K = model.n_days, model.n_wom, model.n_sources
    x0 = np.ascontiguousarray(model.initial if x0 is None else x0, dtype=np.float64)
    _check("x0", x0, (G, S), np.float64)
    if arrivals is None:
        arrivals = model.arrivals_mult[:, None] * model.arrivals_mean[None, :]
    arrivals = np.asarray(arrivals, dtype=np.float64)
    if arrivals.shape == (G,):
        arrivals = np.broadcast_to(arrivals, (T + 1, G))
    arrivals = np.ascontiguousarray(arrivals)
    _check("arrivals", arrivals, (T + 1, G), np.float64)
    if shares is None:
        fixed = np.zeros((0, W))
    else:
        fixed = np.ascontiguousarray(shares, dtype=np.float64)
        _check("shares", fixed, (T + 1, W), np.float64)
    V = len(model.svc_tp)
    out = dict(
        occupancy=np.zeros((T + 1, G, S)), occupancy_start=np.zeros((T + 1, G, S)), flows=np.zeros((T + 1, S, S)),
        segment_flows=np.zeros((G, S, S)), credits=np.zeros((K, S, S)), new_converted=np.zeros((T + 1, G)),
        shares=np.zeros((T + 1, W)), service=np.zeros((T + 1, V, 8)),
        eff=model.exposure_effect.copy(), eff_a=model.eff_abandon.copy(), eff_l=model.eff_loss.copy(),
    )
    args = _model_args(model)
    args = args[:4] + (out["eff"], out["eff_a"], out["eff_l"]) + args[7:]
    _kernels()._mean_field(T, x0, arrivals, model.arrival_stage, *args, model.wom_advocate, model.is_converted, fixed,
                           model.svc_tp, model.svc_agents, model.svc_params, model.svc_loss, model.target,
                           model.delivery, model.exposure_effect, out["occupancy"], out["occupancy_start"],
                           out["flows"], out["segment_flows"], out["credits"], out["new_converted"], out["shares"],
                           out["service"])
    return out
