"""Orders per customer in a simulation: how many customers ordered once, twice or more.

The engines count moves between stages, not customers, so the repeat-customer rate (the share
of buyers who ordered more than once) needs each customer's number of orders. An order is an
entry into a stage with ``purchase = true`` (``docs/model.md``, "Counting"). Two ways to get
the counts:

* :func:`order_counts_mean_field`: expected counts. The mean-field state (segment, stage) is
  extended with the customer's orders so far in the horizon (0, 1, 2 or more) and with whether
  the customer had ordered before day 0 (stood in a ``converted`` stage on day 0), and is
  advanced with each day's move tables (:func:`jsim.kernels.day_tables`) under the word-of-mouth
  shares of a run. Exact for a Markov model; with word of mouth, exact given the share path.
* :func:`order_counts_fast`: the fast engine's own customers. Replays the engine's day-by-day
  path (``jsim.engine.fast``, models with word of mouth or service queues) one day per kernel
  call, on the same streams as :func:`jsim.simulate` with the same seed, and compares each
  customer's stage before and after each day (a customer moves at most once a day).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere without installing jsim
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from jsim import kernels  # noqa: E402
from jsim.engine.draws import STREAMS, draw_arrivals  # noqa: E402
from jsim.engine.fast import CHUNK_SIZE  # noqa: E402
from jsim.model import Coefficients  # noqa: E402
from jsim.rng import chunk_states, named_streams, replication_seed  # noqa: E402


class OrderCounts(NamedTuple):
    """Customers by orders placed within the horizon, ``(2, 3)``: rows = had ordered before day 0
    (0 no, 1 yes: a ``converted`` stage on day 0), columns = orders in the horizon (0, 1, 2+).
    ``first_orders``, ``repeat_orders``: entries into purchase stages by customers with no order
    before (neither before day 0 nor earlier in the horizon) and by customers with one."""

    customers: np.ndarray
    first_orders: float
    repeat_orders: float

    @property
    def buyers(self) -> float:
        """Customers with at least one order in the horizon."""
        return float(self.customers[:, 1:].sum())

    @property
    def repeat_buyers(self) -> float:
        """Customers with two or more orders in the horizon."""
        return float(self.customers[:, 2].sum())

    @property
    def new_buyers(self) -> float:
        """Customers whose first order ever falls in the horizon."""
        return float(self.customers[0, 1:].sum())

    @property
    def new_repeat_buyers(self) -> float:
        """New buyers (above) who ordered again within the horizon."""
        return float(self.customers[0, 2])


def _purchase_moves(model, t: int, shares: np.ndarray):
    """Day-t transition matrices ``(G, S, S)``: moves into purchase stages, and everything else
    (staying included). Rows of their sum add up to 1."""
    G, S = model.n_segments, model.n_stages
    prob, _, leave = kernels.day_tables(model, t, shares)
    M = np.zeros((G, S, S))
    g_idx, s_idx, p_idx = np.nonzero(np.arange(prob.shape[2])[None, None, :] < model.n_pairs[:, :, None])
    np.add.at(M, (g_idx, s_idx, model.pair_dst[g_idx, s_idx, p_idx]), prob[g_idx, s_idx, p_idx])
    M[:, np.arange(S), np.arange(S)] += 1.0 - leave
    into_purchase = M * model.is_purchase[None, None, :]
    into_purchase[:, np.arange(S), np.arange(S)] = 0.0  # staying is not entering
    return into_purchase, M - into_purchase


def order_counts_mean_field(model, shares: np.ndarray) -> OrderCounts:
    """Expected :class:`OrderCounts` of ``model`` under word-of-mouth ``shares (T+1, W)``.

    ``shares`` comes from a run (``result.run_shares(r)`` or the mean-field result's own); the
    arrivals are the expected ones (``arrivals_mean`` times the seasonal multiplier).
    """
    G, S, T = model.n_segments, model.n_stages, model.n_days
    x = np.zeros((G, S, 2, 3))  # segment, stage, ordered before day 0, orders in the horizon (capped at 2)
    before = model.is_converted.astype(int)
    for s in range(S):
        x[:, s, before[s], 0] = model.initial[:, s]
    first = repeat = 0.0
    arrivals = model.arrivals_mult[:, None] * model.arrivals_mean[None, :]
    for t in range(1, T + 1):
        x[:, model.arrival_stage, 0, 0] += arrivals[t]
        buy, other = _purchase_moves(model, t, shares[t])
        new = np.einsum("gsbc,gsd->gdbc", x, other)
        bought = np.einsum("gsbc,gsd->gdbc", x, buy)
        first += bought[:, :, 0, 0].sum()
        repeat += bought.sum() - bought[:, :, 0, 0].sum()
        new[..., 1] += bought[..., 0]
        new[..., 2] += bought[..., 1] + bought[..., 2]
        x = new
    return OrderCounts(x.sum(axis=(0, 1)), float(first), float(repeat))


class FastOrders(NamedTuple):
    """One replication of the fast engine: :class:`OrderCounts`, the word-of-mouth shares of the
    run ``(T+1, W)`` and the moves between stages summed over the horizon ``(S, S)``."""

    counts: OrderCounts
    shares: np.ndarray
    flows: np.ndarray


def order_counts_fast(model, seed: int, rep: int = 0) -> FastOrders:
    """Orders per customer in replication ``rep`` of ``jsim.simulate(model, seed=seed)``.

    Replays the fast engine's day-by-day path one day at a time (the same streams, so the same
    customers and moves as the engine's run; ``flows`` lets a caller check that).
    """
    if not model.is_coupled:
        raise ValueError("order_counts_fast replays the day-by-day path: the model needs word of mouth")
    T, G, S, W, X = model.n_days, model.n_segments, model.n_stages, model.n_wom, model.n_routes
    V = len(model.services)
    streams = named_streams(replication_seed(np.random.SeedSequence(seed), rep), STREAMS)
    arrivals = draw_arrivals(model, streams["arrivals"])
    stage, seg = [], []
    for g in range(G):  # the engine's order: day-0 cells, then arrivals by day
        for s in range(S):
            stage.append(np.full(int(model.initial[g, s]), s)), seg.append(np.full(int(model.initial[g, s]), g))
    n_initial = int(model.initial.sum())
    for t in range(1, T + 1):
        for g in range(G):
            stage.append(np.full(int(arrivals[t, g]), model.arrival_stage)), seg.append(np.full(int(arrivals[t, g]), g))
    stage, seg = np.concatenate(stage).astype(np.int16), np.concatenate(seg).astype(np.int8)
    n = len(stage)
    customers = kernels.Customers(stage, seg, np.zeros(n, np.uint8), np.zeros(n), np.zeros(n, np.uint32))
    n_chunks = max(1, -(-n // CHUNK_SIZE))
    states = chunk_states(streams["customers"], n_chunks)
    kernels.coupled_init(model, n_initial, CHUNK_SIZE, customers, states)
    run = kernels.CoupledRun(
        arrivals=arrivals,
        occupancy=np.zeros((T + 1, G, S), np.int64),
        moves=np.zeros((T + 1, X), np.int64),
        seg_flows=np.zeros((G, S, S), np.int64),
        newconv=np.zeros((T + 1, G), np.int64),
        shares=np.zeros((T + 1, W)),
        service=np.zeros((T + 1, V, 8)),
        backlog=np.zeros(V),
        cum=np.zeros((G, S)),
    )
    run.occupancy[0] = model.initial
    run.newconv[0] = (model.initial * model.is_converted).sum(axis=1)
    shape = model.pair_src.shape
    tables = kernels.DayTables(
        np.zeros(shape), np.zeros((G, S)), np.zeros((G, S)), np.ones(shape), np.zeros(shape, np.int64)
    )
    day = kernels.DayCounts(
        np.zeros((n_chunks, G, S, S), np.int64), np.zeros((n_chunks, X), np.int64), np.zeros((n_chunks, G), np.int64)
    )
    fx = Coefficients.initial(model.exposure_effect)
    before = model.is_converted[customers.stage].astype(np.int64)  # ordered before day 0
    orders = np.zeros(n, np.int64)
    first = repeat = 0
    prev = customers.stage.copy()
    for t in range(1, T + 1):
        kernels.coupled_days(model, t, t + 1, n_initial, CHUNK_SIZE, fx, customers, states, run, tables, day)
        now = customers.stage
        bought = (now != prev) & model.is_purchase[now]
        new_buyer = bought & (before == 0) & (orders == 0)
        first += int(new_buyer.sum())
        repeat += int(bought.sum()) - int(new_buyer.sum())
        orders += bought
        prev[:] = now
    table = np.zeros((2, 3))
    np.add.at(table, (before, np.minimum(orders, 2)), 1.0)
    return FastOrders(OrderCounts(table, float(first), float(repeat)), run.shares.copy(), run.seg_flows.sum(axis=0))


def order_counts(result) -> list[OrderCounts]:
    """:class:`OrderCounts` of each replication of a ``mean-field`` or ``fast`` result.

    Mean-field: the expected counts under the run's own word-of-mouth shares. Fast: the engine's
    customers, replayed from the seed the result records; the replay's moves must equal the
    result's (else the engine's stream layout changed and the replay no longer matches it).
    """
    model = result.model
    if result.engine == "mean-field":
        return [order_counts_mean_field(model, result.shares[0])]
    if result.engine != "fast":
        raise ValueError(f"order counts need a mean-field or fast result, got engine {result.engine!r}")
    out = []
    for r in range(result.n_reps):
        replay = order_counts_fast(model, result.seed, r)
        if not np.array_equal(replay.flows, result.flows[r].sum(axis=0)):
            raise RuntimeError(f"the replay of replication {r} does not reproduce the fast engine's moves")
        out.append(replay.counts)
    return out
