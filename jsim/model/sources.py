"""Why customers move: clocks that compete within the day, the sources moves are credited to, routes.

*Clocks* are what competes by "first event wins" (``docs/model.md``): organic transitions, each
touchpoint, each word-of-mouth rule, each one-off event move, in that order (``K = 1 + J + W + E``).
*Sources* are what a move is credited to: the clock's own label, except that a service
touchpoint's clock has three outcomes, each its own source (``NAME:served``, ``NAME:abandoned``,
``NAME:lost_waiting``). Source labels:

| clock | source label(s) |
|---|---|
| organic transitions | ``organic`` |
| touchpoint ``NAME`` | ``NAME`` |
| service touchpoint ``NAME`` | ``NAME:served``, ``NAME:abandoned``, ``NAME:lost_waiting`` |
| word-of-mouth rule | ``wom:FROM->TO`` (``#2`` ... on repeats) |
| one-off event move | ``event:NAME`` |

A *route* is one ``(from stage, to stage, source)`` a move can take; every engine counts moves
per day and route (:attr:`jsim.engine.SimulationResult.moves`), a compact form of the
``(day, from, to, source)`` table since only a few routes are possible.

*Pairs* are the (clock, destination) entries that can move a customer out of a (segment,
stage); the kernels draw a pair, then its route (by outcome for a service clock).
"""

from __future__ import annotations

__all__ = ["SERVICE_OUTCOMES", "SOURCE_KINDS", "Sources", "compile_sources"]

from dataclasses import dataclass

import numpy as np

#: Outcomes of a service request, in the order of their sources and of ``pair_route[..., o]``.
SERVICE_OUTCOMES = ("served", "abandoned", "lost_waiting")
#: Kinds of source.
SOURCE_KINDS = ("organic", "touchpoint", "service", "word_of_mouth", "event")


@dataclass(frozen=True, eq=False)
class Sources:
    """Clocks, sources, routes and pairs of a compiled model.

    Attributes
    ----------
    names : (X_src,) tuple of str
        Source labels (see the module docstring), in clock order.
    kinds : tuple of str
        One of :data:`SOURCE_KINDS` per source.
    touchpoint : (X_src,) int64
        Touchpoint of each source (-1 for organic, word of mouth and events).
    clock_source : (K,) int64
        First source of each clock (a service clock's three sources follow each other).
    route_from, route_to, route_source : (X,) int64
        The routes, sorted by (from, source, to).
    pair_src, pair_dst : (G, S, P) int64
        Clock and destination of each pair of a (segment, stage).
    n_pairs : (G, S) int64
        Pairs in use.
    pair_route : (G, S, P, 3) int64
        Route of each pair: ``[..., 0]`` for every clock (a service clock's ``served`` outcome),
        ``[..., 1]`` and ``[..., 2]`` a service clock's ``abandoned`` and ``lost_waiting``
        outcomes; -1 where the pair has no such outcome.
    route_index : (S, X_src, S) int64
        Route of every (from, source, to), -1 where none.
    """

    names: tuple
    kinds: tuple
    touchpoint: np.ndarray
    clock_source: np.ndarray
    route_from: np.ndarray
    route_to: np.ndarray
    route_source: np.ndarray
    pair_src: np.ndarray
    pair_dst: np.ndarray
    n_pairs: np.ndarray
    pair_route: np.ndarray
    route_index: np.ndarray

    @property
    def n_routes(self) -> int:
        return len(self.route_from)


def _unique(name: str, taken: set) -> str:
    out, k = name, 1
    while out in taken:
        k += 1
        out = f"{name}#{k}"
    taken.add(out)
    return out


def _source_table(touchpoint_names, is_service, wom_from, wom_to, stage_names, move_names):
    names, kinds, tps, clock_source = [], [], [], []
    taken: set = set()

    def add(name, kind, j=-1):
        names.append(_unique(name, taken))
        kinds.append(kind)
        tps.append(j)

    clock_source.append(0)
    add("organic", "organic")
    for j, name in enumerate(touchpoint_names):
        clock_source.append(len(names))
        if is_service[j]:
            for outcome in SERVICE_OUTCOMES:
                add(f"{name}:{outcome}", "service", j)
        else:
            add(name, "touchpoint", j)
    for f, t in zip(wom_from, wom_to):
        clock_source.append(len(names))
        add(f"wom:{stage_names[f]}->{stage_names[t]}", "word_of_mouth")
    for name in move_names:
        clock_source.append(len(names))
        add(f"event:{name}", "event")
    return tuple(names), tuple(kinds), np.array(tps, dtype=np.int64), np.array(clock_source, dtype=np.int64)


def compile_sources(
    *,
    p0,
    q,
    qa,
    ql,
    is_absorbing,
    wom_from,
    wom_to,
    wom_p,
    wom_q,
    wom_mult,
    move_from,
    move_to,
    move_share,
    is_service,
    loss_stage,
    stage_names,
    touchpoint_names,
    move_names,
) -> Sources:
    """The :class:`Sources` of a model from its arrays (axis letters as in :mod:`jsim.model.compiled`).

    ``is_service (J,)`` marks service touchpoints and ``loss_stage (J,)`` the stage each loses
    waiting customers to (-1: none). A pair exists where its clock can move a customer of the
    segment from the stage to the destination; the routes are those of the pairs plus, for a
    service with a loss stage, losses from every other open stage (a queueing customer can move
    to a stage the service does not target before the wait ends, and be lost from there).
    """
    G, J, S, _ = q.shape
    W, E = len(wom_from), len(move_from)
    names, kinds, tps, clock_source = _source_table(
        touchpoint_names, is_service, wom_from, wom_to, stage_names, move_names
    )
    # (clock, destination, outcome routes as (source, to)) for every (segment, stage)
    pairs = [[[] for _ in range(S)] for _ in range(G)]
    touches = (q > 0) | (qa > 0) | (ql > 0)  # (G, J, S, S): touchpoint j can move s -> d
    for g in range(G):
        for s in range(S):
            if is_absorbing[s]:
                continue
            pairs[g][s].extend((0, int(d)) for d in np.flatnonzero(p0[g, s] > 0))
            js, ds = np.nonzero(touches[g, :, s])  # row-major: by touchpoint, then destination
            pairs[g][s].extend((1 + int(j), int(d)) for j, d in zip(js, ds))
            for w in range(W):
                if wom_from[w] == s and (wom_p[w] > 0 or wom_q[w] > 0) and wom_mult[g] > 0:
                    pairs[g][s].append((1 + J + w, int(wom_to[w])))
            for e in range(E):
                if move_from[e] == s and move_share[e] > 0:
                    pairs[g][s].append((1 + J + W + e, int(move_to[e])))

    def outcomes(g, s, k, d):
        """The (source, outcome slot) of pair (k, d): one for most clocks, up to three for a service."""
        base = int(clock_source[k])
        if not (1 <= k <= J and is_service[k - 1]):
            return [(base, 0)]
        j = k - 1
        coef = (q[g, j, s, d], qa[g, j, s, d], ql[g, j, s, d])
        return [(base + o, o) for o in range(3) if coef[o] > 0]

    routes = set()
    for g in range(G):
        for s in range(S):
            for k, d in pairs[g][s]:
                routes.update((s, src, d) for src, _ in outcomes(g, s, k, d))
    for j in range(J):
        if is_service[j] and loss_stage[j] >= 0:
            lost = int(clock_source[1 + j]) + 2
            routes.update((s, lost, int(loss_stage[j])) for s in range(S) if not is_absorbing[s] and s != loss_stage[j])
    routes = sorted(routes)
    route_index = np.full((S, len(names), S), -1, dtype=np.int64)
    for x, (s, src, d) in enumerate(routes):
        route_index[s, src, d] = x

    P = max(1, max(len(pairs[g][s]) for g in range(G) for s in range(S)))
    pair_src = np.zeros((G, S, P), dtype=np.int64)
    pair_dst = np.zeros((G, S, P), dtype=np.int64)
    pair_route = np.full((G, S, P, 3), -1, dtype=np.int64)
    n_pairs = np.zeros((G, S), dtype=np.int64)
    for g in range(G):
        for s in range(S):
            for i, (k, d) in enumerate(pairs[g][s]):
                pair_src[g, s, i], pair_dst[g, s, i] = k, d
                for src, o in outcomes(g, s, k, d):
                    pair_route[g, s, i, o] = route_index[s, src, d]
            n_pairs[g, s] = len(pairs[g][s])
    arr = lambda col: np.array([r[col] for r in routes], dtype=np.int64)
    return Sources(
        names, kinds, tps, clock_source, arr(0), arr(2), arr(1), pair_src, pair_dst, n_pairs, pair_route, route_index
    )
