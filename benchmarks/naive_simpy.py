"""Naive SimPy baseline for the reference benchmark model.

This is the program a newcomer to discrete-event simulation would write: one SimPy process
per customer that wakes up once a day (``yield env.timeout(1)``) and rolls dice for every
touchpoint and for churn. It is a speed baseline for jsim's engines, and, because it follows
the same within-day semantics as jsim ("first event wins", ``docs/model.md``), its day-90
stage distribution must match ``reference_exact.exact_distribution()`` exactly (up to
sampling noise).

Within-day semantics
--------------------
On each day a customer standing in stage ``s`` faces independent sources:

* touchpoint ``j`` fires if the customer is exposed (probability ``p_j``) *and* the exposure
  has an effect (probability ``q[j, s]``), i.e. with probability ``r_j = p_j q[j, s]``; it
  moves the customer to the next stage (``purchased`` -> ``loyal``);
* churn fires with probability ``c[s]`` and moves the customer to ``churned``.

If no source fires the customer stays. If exactly one fires it wins. If several fire, each
fired source ``k`` draws its clock time within the day from the exponential law with hazard
``lambda_k = -ln(1 - r_k)`` *conditioned on falling inside the day*::

    T_k = -ln(1 - U r_k) / lambda_k,   U ~ Uniform(0, 1)

and the source with the smallest ``T_k`` wins. (This is the truncated-clock variant: a source
"fires" with probability ``r_k = P(Exp(lambda_k) < 1)`` and its clock given that it fired is
the truncated exponential, so the joint law of (which sources fired, their clock times) is
exactly that of independent untruncated ``Exp(lambda_k)`` clocks kept when ``< 1``. The winner
is therefore the first event among independent exponential clocks, which gives precisely
``P(via k) = lambda_k / Lambda * (1 - exp(-Lambda))`` as in ``reference_exact.daily_matrix``.)

Randomness comes from one ``numpy.random.Generator`` (``default_rng(seed)``), no global state.
By default every die is one scalar ``rng.random()`` call, as a newcomer would write it; a
scalar Generator call costs a few hundred nanoseconds, which dominates the run time, so
``batched=True`` (``--batched``) draws a customer-day's exposure, effect and churn uniforms in
one ``rng.random(17)`` call instead (same law, different random stream). Parameters are
converted to plain Python floats once, so the baseline is not slowed down by NumPy scalar
indexing; everything else is deliberately straightforward.

Run ``python benchmarks/naive_simpy.py`` to time 20,000 customers and check the result.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import simpy

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works as a script and as benchmarks.naive_simpy
from reference_exact import CHURN, CHURNED, DAYS, N_STAGES, NEXT_STAGE, UNAWARE, P, Q, check_distribution

__all__ = ["run_naive", "main"]


def _customer(env, rng, counts, days, p, q, churn, next_stage, batched=False):
    """SimPy process of one customer: a daily loop of dice rolls.

    Parameters
    ----------
    env : simpy.Environment
        The shared environment.
    rng : numpy.random.Generator
        The shared random generator.
    counts : list of int
        Per-stage tally, incremented with the customer's stage at the end of day `days`.
    days : int
        Number of days to simulate.
    p : list of float
        Daily exposure probability per touchpoint.
    q : list of list of float
        ``q[j][s]``: effect probability of touchpoint ``j`` on stage ``s``.
    churn : list of float
        Daily churn probability per stage.
    next_stage : list of int
        Destination of a touchpoint effect per stage (``-1``: none).
    batched : bool, optional
        If False (default) every die is one scalar ``rng.random()`` call. If True the day's
        exposure, effect and churn uniforms are drawn in one ``rng.random(2 n_tp + 1)`` call
        (same law, fewer Python-to-NumPy calls).

    Yields
    ------
    simpy.events.Timeout
        One timeout of 1 per simulated day.
    """
    stage = UNAWARE
    n_tp = len(p)
    n_u = 2 * n_tp + 1
    for _day in range(days):
        yield env.timeout(1)
        if stage == CHURNED:  # absorbing: nothing can happen any more
            break
        fired = []  # (source probability r_k, destination)
        if batched:
            u = rng.random(n_u).tolist()
            for j in range(n_tp):
                if u[2 * j] < p[j] and u[2 * j + 1] < q[j][stage]:
                    fired.append((p[j] * q[j][stage], next_stage[stage]))
            churned = u[2 * n_tp] < churn[stage]
        else:
            for j in range(n_tp):
                exposed = rng.random() < p[j]
                if exposed and rng.random() < q[j][stage]:
                    fired.append((p[j] * q[j][stage], next_stage[stage]))
            churned = rng.random() < churn[stage]
        if churned:
            fired.append((churn[stage], CHURNED))
        if not fired:
            continue
        if len(fired) == 1:
            stage = fired[0][1]
            continue
        # Several sources fired: the earliest clock within the day wins.
        best_time = math.inf
        best_dest = stage
        for r, dest in fired:
            lam = -math.log1p(-r)
            t = -math.log1p(-rng.random() * r) / lam
            if t < best_time:
                best_time, best_dest = t, dest
        stage = best_dest
    counts[stage] += 1


def run_naive(n_customers: int, days: int = DAYS, seed: int = 0, *, batched: bool = False) -> np.ndarray:
    """Simulate the reference model with one SimPy process per customer.

    Parameters
    ----------
    n_customers : int
        Number of customers; all start ``unaware`` on day 0.
    days : int, optional
        Number of days to simulate (90 by default).
    seed : int, optional
        Seed of the single ``numpy.random.default_rng`` generator.
    batched : bool, optional
        Draw each customer-day's exposure, effect and churn uniforms in one call instead of
        one scalar ``rng.random()`` call per die (default False: the plain newcomer version).
        Same distribution, different random stream.

    Returns
    -------
    numpy.ndarray of int64, shape (7,)
        Number of customers in each stage (``STAGES`` order) at the end of day `days`.
    """
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    counts = [0] * N_STAGES
    p = [float(x) for x in P]
    q = [[float(x) for x in row] for row in Q]
    churn = [float(x) for x in CHURN]
    next_stage = [int(x) for x in NEXT_STAGE]
    for _ in range(n_customers):
        env.process(_customer(env, rng, counts, days, p, q, churn, next_stage, batched))
    env.run()
    return np.asarray(counts, dtype=np.int64)


def main(argv: list[str] | None = None) -> int:
    """Time the naive SimPy baseline and check it against the exact answer.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        Exit status: 0 if the distribution check passes, 1 otherwise.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument(
        "--batched",
        action="store_true",
        help="draw a customer-day's uniforms in one rng.random(17) call",
    )
    args = parser.parse_args(argv)

    times = []
    counts = None
    for i in range(args.repeats):
        t0 = time.perf_counter()
        c = run_naive(args.customers, args.days, seed=args.seed + i, batched=args.batched)
        times.append(time.perf_counter() - t0)
        if counts is None:
            counts = c
    wall = statistics.median(times)
    cdays = args.customers * args.days
    print(
        f"naive SimPy ({'batched' if args.batched else 'scalar'} draws): "
        f"{args.customers:,} customers x {args.days} days, "
        f"median of {args.repeats} runs {wall:.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)})"
    )
    print(f"  {cdays / wall:,.0f} customer-days/s")
    check = check_distribution(counts, args.customers, args.days)
    print(f"day-{args.days} distribution vs exact (seed {args.seed}):")
    print(check.summary())
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
