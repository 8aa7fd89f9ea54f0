"""Exact day-by-day answer for the reference benchmark model.

The reference model is specified in ``benchmark-model.md`` (7 stages, 8 touchpoints, daily
churn hazards, 90-day horizon). This module holds its parameters as NumPy arrays and computes
the exact daily transition matrix under jsim's within-day semantics ("first event wins",
``docs/model.md``):

* a customer in stage ``s`` faces independent sources: baseline churn (to ``churned`` with
  probability ``CHURN[s]``) and every touchpoint ``j`` (to the next stage with probability
  ``r_j = p_j * Q[j, s]``, ``p_j = 1 - exp(-B_j / K_j)``);
* sources compete as exponential clocks with hazards ``lambda_k = -ln(1 - r_k)``; with
  ``Lambda = sum_k lambda_k`` the customer leaves with probability ``1 - exp(-Lambda)`` and
  moves via source ``k`` with probability ``lambda_k / Lambda * (1 - exp(-Lambda))``.

The day-``T`` stage distribution of a cohort starting in ``unaware`` is ``e_unaware @ M**T``;
``check_distribution`` compares simulated counts with it (per-stage z scores and a chi-square
test). Only NumPy is required; SciPy is used for the chi-square p-value when importable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "STAGES",
    "N_STAGES",
    "UNAWARE",
    "LOYAL",
    "CHURNED",
    "TOUCHPOINTS",
    "B",
    "K",
    "P",
    "Q",
    "CHURN",
    "NEXT_STAGE",
    "DAYS",
    "Z_TOLERANCE",
    "exposure_probability",
    "combine_sources",
    "stage_sources",
    "daily_matrix",
    "exact_distribution",
    "DistributionCheck",
    "check_distribution",
]

# --------------------------------------------------------------------------------------------
# Parameters of the reference model
# --------------------------------------------------------------------------------------------

#: Stage names, in funnel order; ``churned`` is absorbing.
STAGES: tuple[str, ...] = (
    "unaware",
    "aware",
    "considering",
    "cart",
    "purchased",
    "loyal",
    "churned",
)
N_STAGES = len(STAGES)
UNAWARE = STAGES.index("unaware")
LOYAL = STAGES.index("loyal")
CHURNED = STAGES.index("churned")

#: Horizon of the benchmark, in days.
DAYS = 90

#: Per-stage |z| above which a simulated distribution is declared inconsistent.
Z_TOLERANCE = 4.5

#: Touchpoint names, in table order.
TOUCHPOINTS: tuple[str, ...] = (
    "tv",
    "search",
    "social",
    "display",
    "email",
    "reviews",
    "influencer",
    "retargeting",
)

#: Daily spend ``b`` per touchpoint.
B = np.array([50.0, 20.0, 30.0, 10.0, 5.0, 8.0, 15.0, 12.0])

#: Saturation scale ``k`` per touchpoint.
K = np.array([400.0, 100.0, 150.0, 120.0, 20.0, 60.0, 200.0, 50.0])


def exposure_probability(b: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Daily exposure probability of a touchpoint.

    Parameters
    ----------
    b : array_like
        Daily spend.
    k : array_like
        Saturation scale (same shape as `b`, positive).

    Returns
    -------
    numpy.ndarray
        ``1 - exp(-b / k)``.
    """
    b = np.asarray(b, dtype=float)
    k = np.asarray(k, dtype=float)
    return -np.expm1(-b / k)


#: Daily exposure probability ``p_j = 1 - exp(-b_j / k_j)``.
P = exposure_probability(B, K)

#: ``Q[j, s]``: probability that an exposure to touchpoint ``j`` moves a customer in stage
#: ``s`` to the next stage. Shape ``(8, 7)``; the ``loyal`` and ``churned`` columns are zero
#: (touchpoints do not act there).
Q = np.array(
    [
        # unaware aware considering cart  purchased loyal churned
        [0.10, 0.02, 0.01, 0.00, 0.00, 0.0, 0.0],  # tv
        [0.03, 0.06, 0.05, 0.02, 0.00, 0.0, 0.0],  # search
        [0.06, 0.03, 0.02, 0.00, 0.00, 0.0, 0.0],  # social
        [0.04, 0.01, 0.00, 0.00, 0.00, 0.0, 0.0],  # display
        [0.00, 0.03, 0.04, 0.08, 0.03, 0.0, 0.0],  # email
        [0.01, 0.04, 0.06, 0.03, 0.01, 0.0, 0.0],  # reviews
        [0.05, 0.03, 0.01, 0.00, 0.00, 0.0, 0.0],  # influencer
        [0.00, 0.02, 0.05, 0.10, 0.02, 0.0, 0.0],  # retargeting
    ]
)

#: Daily churn hazard (probability of moving to ``churned``) by stage.
CHURN = np.array([0.0, 0.004, 0.006, 0.02, 0.003, 0.001, 0.0])

#: Destination of a touchpoint effect from each stage (``-1``: touchpoints cannot move the
#: customer). From ``purchased`` the next stage is ``loyal``.
NEXT_STAGE = np.array([1, 2, 3, 4, 5, -1, -1])


# --------------------------------------------------------------------------------------------
# Within-day combination of sources ("first event wins")
# --------------------------------------------------------------------------------------------


def combine_sources(a: np.ndarray, stage: int | None = None) -> np.ndarray:
    """Combine independent sources competing within one day ("first event wins").

    Source ``k`` alone would move the customer to destination ``d`` with probability
    ``a[k, d]``; its total firing probability is ``r_k = sum_d a[k, d] <= 1``. Sources are
    exponential clocks with hazards ``lambda_k = -ln(1 - r_k)``; the first to fire moves the
    customer, to ``d`` with probability ``a[k, d] / r_k``. With ``Lambda = sum_k lambda_k``::

        P(move to d) = sum_k lambda_k / Lambda * (1 - exp(-Lambda)) * a[k, d] / r_k

    If some sources have ``r_k = 1`` the customer surely leaves and those sources share the
    move equally.

    Parameters
    ----------
    a : array_like, shape (n_sources, n_dest)
        Per-source destination probabilities for one origin stage. Entries must be
        non-negative and every row must sum to at most 1.
    stage : int, optional
        Index of the origin stage among the destinations. If given, the probability of
        staying (``1 - P(leave)``) is added at that index, so the result is a full row of the
        daily transition matrix; ``a[:, stage]`` must then be zero.

    Returns
    -------
    numpy.ndarray, shape (n_dest,)
        Probability of each destination on the day. Without `stage` the entries sum to
        ``P(leave)``; with `stage` they sum to 1.

    Raises
    ------
    ValueError
        If `a` is not two-dimensional, has negative entries, has a row summing to more than
        1, or puts mass on `stage`.

    Examples
    --------
    A single source is returned unchanged:

    >>> combine_sources(np.array([[0.0, 0.3, 0.1]]))
    array([0. , 0.3, 0.1])

    Two sources that each fire with probability 0.5 leave with probability 0.75, split
    evenly:

    >>> combine_sources(np.array([[0.0, 0.5], [0.5, 0.0]]))
    array([0.375, 0.375])
    """
    a = np.asarray(a, dtype=float)
    if a.ndim != 2:
        raise ValueError(f"a must be 2-D (n_sources, n_dest), got shape {a.shape}")
    if np.any(a < 0) or not np.all(np.isfinite(a)):
        raise ValueError("source probabilities must be finite and non-negative")
    r = a.sum(axis=1)
    eps = 1e-12
    if np.any(r > 1.0 + eps):
        raise ValueError(f"each source fires with probability <= 1, got max {r.max()!r}")
    if stage is not None and np.any(a[:, stage] > 0):
        raise ValueError("a source cannot move the customer to its own stage")

    out = np.zeros(a.shape[1])
    active = r > 0
    sure = r >= 1.0 - eps
    if np.any(sure):
        # Infinite hazards: the customer surely leaves; sure sources share the move equally.
        share = 1.0 / np.count_nonzero(sure)
        out = share * (a[sure] / r[sure, None]).sum(axis=0)
    elif np.any(active):
        rk = r[active]
        lam = -np.log1p(-rk)
        total = lam.sum()
        p_leave = -np.expm1(-total)
        weight = lam / total * p_leave / rk  # P(via k) / r_k
        out = weight @ a[active]
    if stage is not None:
        out[stage] += 1.0 - out.sum()
    return out


def stage_sources(
    stage: int,
    p: np.ndarray = P,
    q: np.ndarray = Q,
    churn: np.ndarray = CHURN,
    next_stage: np.ndarray = NEXT_STAGE,
) -> np.ndarray:
    """Per-source destination probabilities for a customer standing in one stage.

    Parameters
    ----------
    stage : int
        Origin stage index.
    p : array_like, shape (n_touchpoints,)
        Daily exposure probability of each touchpoint.
    q : array_like, shape (n_touchpoints, n_stages)
        Effect probability of an exposure by touchpoint and origin stage.
    churn : array_like, shape (n_stages,)
        Daily churn probability by stage.
    next_stage : array_like of int, shape (n_stages,)
        Destination of a touchpoint effect from each stage (``-1``: none).

    Returns
    -------
    numpy.ndarray, shape (1 + n_touchpoints, n_stages)
        Row 0 is baseline churn (mass ``churn[stage]`` on ``churned``); row ``1 + j`` is
        touchpoint ``j`` (mass ``p[j] * q[j, stage]`` on ``next_stage[stage]``).
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    churn = np.asarray(churn, dtype=float)
    n_tp, n_stages = q.shape
    a = np.zeros((1 + n_tp, n_stages))
    if stage == CHURNED:
        return a  # absorbing
    a[0, CHURNED] = churn[stage]
    dest = int(next_stage[stage])
    if dest >= 0:
        a[1:, dest] = p * q[:, stage]
    elif np.any(q[:, stage] > 0):
        raise ValueError(f"stage {STAGES[stage]!r} has touchpoint effects but no next stage")
    return a


def daily_matrix(
    p: np.ndarray = P,
    q: np.ndarray = Q,
    churn: np.ndarray = CHURN,
    next_stage: np.ndarray = NEXT_STAGE,
    combine: Callable[[np.ndarray], np.ndarray] = combine_sources,
) -> np.ndarray:
    """Daily transition matrix of the reference model under jsim's semantics.

    Parameters
    ----------
    p, q, churn, next_stage : array_like, optional
        Model parameters (see `stage_sources`); the reference values by default.
    combine : callable, optional
        Rule mapping a ``(n_sources, n_stages)`` array of per-source destination
        probabilities to the row of move probabilities (without the staying probability).
        Defaults to `combine_sources` ("first event wins"); other rules are accepted so that
        tests can show they give a different answer.

    Returns
    -------
    numpy.ndarray, shape (7, 7)
        ``M[s, d]`` = probability that a customer in stage ``s`` at the end of a day stands in
        ``d`` at the end of the next day. Rows sum to 1; ``churned`` is absorbing.
    """
    n_stages = np.asarray(q).shape[1]
    m = np.zeros((n_stages, n_stages))
    for s in range(n_stages):
        row = np.asarray(combine(stage_sources(s, p, q, churn, next_stage)), dtype=float)
        row = row.copy()
        row[s] += 1.0 - row.sum()
        m[s] = row
    return m


def exact_distribution(days: int = DAYS, matrix: np.ndarray | None = None) -> np.ndarray:
    """Exact stage distribution at the end of day `days` for a cohort starting unaware.

    Parameters
    ----------
    days : int, optional
        Number of simulated days (90 by default).
    matrix : array_like, shape (7, 7), optional
        Daily transition matrix; `daily_matrix()` by default.

    Returns
    -------
    numpy.ndarray, shape (7,)
        ``e_unaware @ M**days``: probability of each stage.
    """
    if days < 0:
        raise ValueError("days must be non-negative")
    m = daily_matrix() if matrix is None else np.asarray(matrix, dtype=float)
    start = np.zeros(m.shape[0])
    start[UNAWARE] = 1.0
    return start @ np.linalg.matrix_power(m, int(days))


# --------------------------------------------------------------------------------------------
# Statistical check of simulated counts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DistributionCheck:
    """Result of `check_distribution`.

    Attributes
    ----------
    expected : numpy.ndarray
        Exact stage probabilities.
    observed : numpy.ndarray
        Observed stage shares ``counts / n``.
    z : numpy.ndarray
        Per-stage z scores ``(count/n - p) / sqrt(p (1 - p) / n)``; ``nan`` where ``p == 0``.
    chi2 : float
        Pearson chi-square statistic over the stages with ``p > 0``.
    df : int
        Degrees of freedom (number of stages with ``p > 0``, minus one).
    p_value : float
        Upper-tail probability of `chi2`.
    ok : bool
        True if every ``|z| <= tolerance`` and every stage with ``p == 0`` has count 0.
    tolerance : float
        The per-stage |z| tolerance used.
    """

    expected: np.ndarray
    observed: np.ndarray
    z: np.ndarray
    chi2: float
    df: int
    p_value: float
    ok: bool
    tolerance: float

    @property
    def max_abs_z(self) -> float:
        """Largest per-stage |z| (ignoring stages with ``p == 0``)."""
        finite = self.z[np.isfinite(self.z)]
        return float(np.max(np.abs(finite))) if finite.size else 0.0

    def summary(self) -> str:
        """Human-readable table of the check."""
        lines = [f"{'stage':<12}{'exact':>10}{'observed':>10}{'z':>8}"]
        for name, e, o, z in zip(STAGES, self.expected, self.observed, self.z):
            lines.append(f"{name:<12}{e:>10.5f}{o:>10.5f}{z:>8.2f}")
        verdict = "OK" if self.ok else "MISMATCH"
        lines.append(
            f"chi2 = {self.chi2:.2f} (df {self.df}), p = {self.p_value:.3g}, "
            f"max |z| = {self.max_abs_z:.2f}: {verdict} (tolerance |z| <= {self.tolerance})"
        )
        return "\n".join(lines)


def _chi2_sf_wilson_hilferty(x: float, df: int) -> float:
    """Upper tail of the chi-square distribution, Wilson-Hilferty normal approximation.

    Parameters
    ----------
    x : float
        Statistic (non-negative).
    df : int
        Degrees of freedom (positive).

    Returns
    -------
    float
        Approximate ``P(X >= x)`` for ``X ~ chi2(df)``.
    """
    if df <= 0:
        return 1.0
    if x <= 0:
        return 1.0
    c = 2.0 / (9.0 * df)
    zw = ((x / df) ** (1.0 / 3.0) - (1.0 - c)) / math.sqrt(c)
    return 0.5 * math.erfc(zw / math.sqrt(2.0))


def _chi2_sf(x: float, df: int) -> float:
    """Upper tail of chi-square: SciPy when importable, else Wilson-Hilferty."""
    if df <= 0:
        return 1.0
    try:
        from scipy.stats import chi2
    except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
        return _chi2_sf_wilson_hilferty(x, df)
    return float(chi2.sf(x, df))


def check_distribution(
    counts: np.ndarray,
    n: int | float,
    days: int = DAYS,
    *,
    expected: np.ndarray | None = None,
    tolerance: float = Z_TOLERANCE,
) -> DistributionCheck:
    """Compare simulated stage counts with the exact distribution.

    Parameters
    ----------
    counts : array_like, shape (7,)
        Number of customers in each stage at the end of day `days` (floats allowed, e.g.
        ``n * some_distribution`` for analytic comparisons).
    n : int or float
        Number of customers in the cohort (all started unaware on day 0).
    days : int, optional
        Horizon of the simulation (90 by default).
    expected : array_like, shape (7,), optional
        Exact probabilities to compare with; ``exact_distribution(days)`` by default.
    tolerance : float, optional
        Largest accepted per-stage |z| (4.5 by default).

    Returns
    -------
    DistributionCheck
        Per-stage z scores, chi-square statistic, its p-value, and the verdict ``ok``.
        Stages with ``p == 0`` get ``z = nan`` and are left out of the chi-square; the check
        then requires their count to be exactly 0.

    Notes
    -----
    ``ok`` is based on the per-stage z scores only; the chi-square p-value is reported for
    information (with SciPy if importable, otherwise the Wilson-Hilferty approximation).
    """
    counts = np.asarray(counts, dtype=float)
    n = float(n)
    if n <= 0:
        raise ValueError("n must be positive")
    p = exact_distribution(days) if expected is None else np.asarray(expected, dtype=float)
    if counts.shape != p.shape:
        raise ValueError(f"counts must have shape {p.shape}, got {counts.shape}")
    observed = counts / n
    pos = p > 0
    z = np.full(p.shape, np.nan)
    var = p[pos] * (1.0 - p[pos]) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        zz = (observed[pos] - p[pos]) / np.sqrt(var)
    # p == 1 exactly: the observed share must be exactly 1 too.
    zz = np.where(var > 0, zz, np.where(observed[pos] == p[pos], 0.0, np.inf))
    z[pos] = zz
    expected_counts = n * p[pos]
    chi2 = float(np.sum((counts[pos] - expected_counts) ** 2 / expected_counts))
    df = int(np.count_nonzero(pos)) - 1
    p_value = _chi2_sf(chi2, df)
    ok = bool(np.all(np.abs(z[pos]) <= tolerance) and np.all(counts[~pos] == 0))
    return DistributionCheck(
        expected=p,
        observed=observed,
        z=z,
        chi2=chi2,
        df=df,
        p_value=p_value,
        ok=ok,
        tolerance=tolerance,
    )


if __name__ == "__main__":  # pragma: no cover
    np.set_printoptions(precision=5, suppress=True, linewidth=120)
    print("daily matrix (first event wins):")
    print(daily_matrix())
    print(f"exact day-{DAYS} distribution:")
    for name, value in zip(STAGES, exact_distribution()):
        print(f"  {name:<12}{value:.6f}")
