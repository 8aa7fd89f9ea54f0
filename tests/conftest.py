"""Shared helpers of the jsim test suite.

- :func:`build` parses and compiles a scenario written as a dict.
- :func:`assert_close` is the z-test every statistical test uses: ``|x_hat - mu| <= k * se + slack``,
  with ``se`` a standard error derived from an exact variance (STYLE.md: never decimal places).
- :func:`first_event_wins` is an independent NumPy transcription of the "first event wins"
  rule of ``docs/model.md``; :func:`chain_moments` gives the exact mean and variance of the
  occupancy of a population of independent customers driven by a sequence of day matrices.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: z-score used by every statistical assertion (two-sided p ~ 7e-6 per comparison).
Z = 4.5


def build(data: dict, *, customers: int | None = None, days: int | None = None):
    """Parse and compile a scenario written as a dict (the TOML structure)."""
    from jsim.model import compile_scenario
    from jsim.scenario import parse_scenario

    return compile_scenario(parse_scenario(data), customers=customers, days=days)


def assert_close(x_hat, mu, se, k: float = Z, slack=0.0, what: str = "value") -> None:
    """Assert ``|x_hat - mu| <= k * se + slack`` elementwise, with a readable failure message.

    Parameters
    ----------
    x_hat : array_like
        Estimates (simulated counts or means).
    mu : array_like
        Exact expectations.
    se : array_like
        Standard errors of ``x_hat`` (from an exact variance, not estimated from ``x_hat``).
    k : float
        Number of standard errors allowed.
    slack : array_like
        A deterministic bound added to the tolerance (a truncation or discretisation bound).
    what : str
        Name of the quantity, for the message.
    """
    x_hat, mu, se, slack = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x_hat, mu, se, slack)))
    tol = k * se + slack
    err = np.abs(x_hat - mu)
    bad = ~(err <= tol)
    if bad.any():
        z = np.where(se > 0, (x_hat - mu) / np.where(se > 0, se, 1.0), np.inf)
        idx = np.argwhere(bad)
        lines = [
            f"{what}{list(map(int, i)) if i.size else ''}: got {x_hat[tuple(i)]:.10g}, expected {mu[tuple(i)]:.10g} "
            f"(se {se[tuple(i)]:.3g}, z {z[tuple(i)]:+.2f}, tolerance {k:g}*se + {slack[tuple(i)]:.3g})"
            for i in idx[:8]
        ]
        more = f"\n... and {len(idx) - 8} more" if len(idx) > 8 else ""
        raise AssertionError(f"{len(idx)} of {bad.size} outside tolerance:\n" + "\n".join(lines) + more)


def first_event_wins(a: np.ndarray) -> np.ndarray:
    """Move probabilities of one customer-day from the sources' rows (docs/model.md).

    Parameters
    ----------
    a : (K, S) float64
        ``a[k, d]``: probability that source k alone would move the customer to d; rows sum to <= 1.

    Returns
    -------
    (K, S) float64
        ``P(move to d via source k)``. If some rows sum to 1 the move is sure and those
        sources share it equally; otherwise source k wins with weight ``lambda_k / Lambda``,
        ``lambda_k = -ln(1 - r_k)``, and the customer leaves with probability ``1 - exp(-Lambda)``.
    """
    a = np.asarray(a, dtype=np.float64)
    r = a.sum(axis=1)
    out = np.zeros_like(a)
    sure = r >= 1.0
    if sure.any():
        out[sure] = a[sure] / sure.sum()
        return out
    lam = -np.log1p(-r)
    total = lam.sum()
    if total == 0.0:
        return out
    leave = -np.expm1(-total)
    live = r > 0
    out[live] = (lam[live] / total * leave / r[live])[:, None] * a[live]
    return out


def day_matrix(sources: np.ndarray) -> np.ndarray:
    """Full (S, S) day matrix from per-stage sources ``(S, K, S)`` (zero rows for absorbing stages)."""
    S = sources.shape[0]
    P = np.zeros((S, S))
    for s in range(S):
        moves = first_event_wins(sources[s]).sum(axis=0)
        P[s] = moves
        P[s, s] += 1.0 - moves.sum()
    return P


def chain_moments(n0: np.ndarray, matrices, arrivals=None, arrival_stage: int = 0):
    """Exact mean and variance of end-of-day occupancy of independent customers.

    Parameters
    ----------
    n0 : (S,) int
        Customers per stage on day 0 (a fixed count, not a draw).
    matrices : sequence of (S, S) float64
        Day matrices of days 1..T.
    arrivals : float, optional
        Mean Poisson arrivals per day joining ``arrival_stage`` at the start of each day.

    Returns
    -------
    mean, var : (T+1, S) float64
        Day-0 customers from stage i end day t in stage s independently with probability
        ``pi_i(t, s)``: a sum of Binomials. Poisson arrivals thinned by the chain stay Poisson,
        so they add ``lambda * sum_u pi_u(t, s)`` to both the mean and the variance.
    """
    n0 = np.asarray(n0, dtype=np.float64)
    S = n0.shape[0]
    T = len(matrices)
    mean = np.zeros((T + 1, S))
    var = np.zeros((T + 1, S))
    prod = np.eye(S)
    arr_mass = np.zeros(S)  # sum over past arrival days u of pi_u(t, .)
    mean[0] = n0
    for t, P in enumerate(matrices, start=1):
        prod = prod @ P
        if arrivals:
            arr_mass = arr_mass + np.eye(S)[arrival_stage]
            arr_mass = arr_mass @ P
        mean[t] = n0 @ prod + (arrivals or 0.0) * arr_mass
        var[t] = n0 @ (prod * (1.0 - prod)) + (arrivals or 0.0) * arr_mass
    return mean, var


def normal_cells(var: np.ndarray, min_var: float = 10.0) -> np.ndarray:
    """Cells whose count is close enough to normal for a z-test (variance at least ``min_var``)."""
    return np.asarray(var) >= min_var


def check_accounting(model, res, exact: bool, r: int = 0) -> None:
    """The accounting identities of replication ``r`` of a result (exact for counts, to rounding for expectations)."""
    if exact:
        eq = np.testing.assert_array_equal
    else:

        def eq(a, b):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)

    occ, occ_start, arrivals = res.occupancy[r], res.occupancy_start[r], res.arrivals[r]
    flows, seg_flows, credits = res.flows[r], res.segment_flows[r], res.credits[r]
    T, S = occ.shape[0] - 1, model.n_stages
    a = model.arrival_stage
    for arr in (
        occ,
        occ_start,
        arrivals,
        flows,
        seg_flows,
        credits,
        res.new_converted[r],
        res.deliveries[r],
        res.engagements[r],
        res.cost[r],
        res.moves[r],
    ):
        assert np.all(arr >= -1e-9)

    # conservation per segment and in total
    eq(occ[0], model.initial)
    eq(occ.sum(axis=2), model.initial.sum(axis=1)[None, :] + np.cumsum(arrivals, axis=0))
    # balance stage by stage: yesterday + arrivals + inflows - outflows
    stage = occ.sum(axis=1)
    arrived = np.zeros((T + 1, S))
    arrived[:, a] = arrivals.sum(axis=1)
    eq(stage[1:], stage[:-1] + arrived[1:] + flows[1:].sum(axis=1) - flows[1:].sum(axis=2))
    eq(occ_start[1:], occ[:-1] + np.eye(S)[a][None, None, :] * arrivals[1:, :, None])
    # who can move where
    assert np.all(flows[0] == 0)
    assert np.all(flows[:, model.is_absorbing, :] == 0)
    assert np.all(np.diagonal(flows, axis1=1, axis2=2) == 0)
    # every move credited once (moves per route sum to the flows), and counted once per segment
    eq(credits.sum(axis=0), flows.sum(axis=0))
    eq(res.moves_by_source[r].sum(axis=1), flows.sum(axis=(1, 2)))
    eq(seg_flows.sum(axis=0), flows.sum(axis=0))
    # deliveries and engagements
    targeted = np.einsum("tgs,jgs->tj", occ_start, model.target.astype(float))
    assert np.all(res.deliveries[r] <= targeted + 1e-9)
    assert np.all(res.engagements[r] <= res.deliveries[r] + 1e-9)
    eq(res.cost[r], model.spend + res.deliveries[r] * model.cost_per_exposure)
    # ever-converted customers: at least those standing in converted stages, at most everyone so far
    ever = np.cumsum(res.new_converted[r].sum(axis=1))
    in_conv = stage[:, model.is_converted].sum(axis=1)
    assert np.all(ever >= in_conv - 1e-9)
    assert np.all(ever <= stage.sum(axis=1) + 1e-9)


@pytest.fixture(scope="module")
def cluster():
    """A Dask cluster for a test module: the scheduler at ``JSIM_TEST_DASK_SCHEDULER`` when CI started one
    (``dask scheduler`` and two ``dask worker`` processes, .ci/run), otherwise a local cluster of 2 processes."""
    pytest.importorskip("distributed", reason="needs Dask's distributed (pip install 'jsim[distributed]')")
    from jsim.engine.distributed import connect

    scheduler = os.environ.get("JSIM_TEST_DASK_SCHEDULER")
    kwargs = {"scheduler": scheduler} if scheduler else {"workers": 2}
    with connect(**kwargs) as c:
        c.client.wait_for_workers(2, timeout=60)
        yield c
