"""Walker alias tables: draw a (clock, destination) pair in O(1) (private numba kernels).

:func:`pick_alias` is plain Python that numba also compiles (:func:`_pick_alias`): the
discrete-event engine calls the Python function on lists, the numba kernels the compiled one,
so the pick is written once.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def pick_alias(u, thresh, alias, n):
    """Draw an index from an alias table with one uniform ``u`` in [0, 1).

    Returns ``(index, residual)``: the residual is again uniform on [0, 1) and independent of
    the index (what is left of ``u`` after choosing), so a choice within the drawn entry (a
    service request's outcome) needs no further random number.
    """
    x = u * n
    ip = int(x)
    if ip >= n:
        ip = n - 1
    frac = x - ip
    cut = thresh[ip]
    if frac < cut:
        return ip, frac / cut
    return alias[ip], (frac - cut) / (1.0 - cut)


_pick_alias = njit(cache=True, inline="always")(pick_alias)


@njit(cache=True)
def _build_alias(prob, n, out_thresh, out_alias):
    """Walker alias table of the first ``n`` entries of ``prob`` (Vose's method). Draws nothing.

    Afterwards index i is drawn with probability ``prob[i] / prob[:n].sum()`` by
    :func:`pick_alias`. Entries past ``n`` are left untouched. ``n = 0`` or an all-zero ``prob``
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
