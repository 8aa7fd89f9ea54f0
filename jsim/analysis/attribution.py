"""Multi-touch attribution of conversion paths: the Markov model solved exactly, Shapley values and heuristics.

A :class:`PathTable` holds paths the way analysts aggregate them (ChannelAttribution's format):
each row is one distinct sequence of channel touches with its conversions, conversion value and
non-converting journeys (``nulls``), optionally a time per touch. :func:`attribute` splits the
conversions (and value) among the channels by every method asked for and returns an
:class:`Attribution`. No file is read here: :mod:`jsim.io.paths` reads and writes path files.

The Markov model is ChannelAttribution's (Anderl et al. 2016): consecutive repeats of a channel
are collapsed; a path with ``c`` conversions and ``n`` nulls adds ``c + n`` to each of its
transitions ``(start) -> first -> ... -> last``, ``c`` to ``last -> (conversion)`` and ``n`` to
``last -> (null)``; rows are normalised to transition probabilities. Instead of simulating
random walks on that chain (which makes ChannelAttribution's answers change from run to run),
every quantity is an absorption probability of the chain, solved exactly with the fundamental
matrix: the expected visits ``x`` to the transient states from ``(start)`` solve
``(I - Q)^T x = e_start``, and ``P(conversion) = x . r``, with ``r`` the one-step probabilities
into ``(conversion)``.
"""

from __future__ import annotations

__all__ = ["METHODS", "HEURISTICS", "PathTable", "ChannelAttribution", "Attribution", "attribute"]

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..io.paths import PathTable

#: every method :func:`attribute` knows, in the order they are reported
METHODS = ("markov", "shapley", "first", "last", "linear", "position", "time-decay")
#: the rule-based methods (no model): per-path shares of each conversion
HEURISTICS = ("first", "last", "linear", "position", "time-decay")
#: method -> the key of its conversions in :meth:`Attribution.as_json` rows (its value: key + "_value")
_KEYS = {
    "markov": "markov_conversions",
    "shapley": "shapley",
    "first": "first_touch",
    "last": "last_touch",
    "linear": "linear",
    "position": "position",
    "time-decay": "time_decay",
}
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


@dataclass(frozen=True)
class ChannelAttribution:
    """One channel's share by each method (None: the method was not run, or there is no value).

    ``removal_effect`` is the Markov model's: the share of the chain's conversion probability
    lost when the channel is removed; ``*_value`` split the conversion value likewise.
    """

    channel: str
    values: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"channel": self.channel, **self.values}


@dataclass(frozen=True)
class Attribution:
    """What :func:`attribute` returns.

    Attributes
    ----------
    channels : list of ChannelAttribution
        One per channel, in order of first appearance in the paths.
    conversion_probability : float
        The Markov chain's probability of reaching ``(conversion)`` from ``(start)`` (NaN
        without the Markov method).
    total_conversions, total_value : float
        Sums over the paths: what every method splits.
    transitions : list of (str, str, float)
        ``(from, to, probability)`` of the fitted chain (empty without the Markov method);
        a higher-order state is its channels joined by ``>``.
    methods, order, half_life, n_paths, n_states : as given / as fitted
    notes : list of str
        What a reader needs to know (definitions, methods skipped and why).
    """

    channels: list[ChannelAttribution]
    conversion_probability: float
    total_conversions: float
    total_value: float | None
    transitions: list[tuple[str, str, float]]
    methods: tuple[str, ...]
    order: int
    half_life: float
    n_paths: int
    n_states: int
    notes: list[str]

    def column_keys(self) -> list[str]:
        """The per-channel keys present (``removal_effect``, ``markov_conversions``, ...), in report order."""
        return list(self.channels[0].values) if self.channels else []

    def as_json(self) -> dict:
        """``{"conversion_probability", "total_conversions", "channels": [{"channel", ...}], ...}``."""
        return {
            "conversion_probability": self.conversion_probability,
            "total_conversions": self.total_conversions,
            "total_value": self.total_value,
            "methods": list(self.methods),
            "order": self.order,
            "half_life_days": self.half_life if "time-decay" in self.methods else None,
            "n_paths": self.n_paths,
            "n_states": self.n_states,
            "channels": [c.as_json() for c in self.channels],
            "notes": self.notes,
        }


def _methods(methods) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    asked = list(dict.fromkeys(methods))
    if "all" in asked:
        return METHODS
    unknown = [m for m in asked if m not in METHODS]
    if unknown or not asked:
        raise InputError(
            f"method must be one of {', '.join(METHODS)} or all, got {unknown or 'nothing'} (e.g. method='markov')",
            params=("methods",),
        )
    return tuple(m for m in METHODS if m in asked)


def attribute(paths: PathTable, methods="all", order: int = 1, half_life: float = 7.0) -> Attribution:
    """Split the conversions (and value) of ``paths`` among their channels.

    Parameters
    ----------
    paths : PathTable
        The paths, e.g. from :func:`jsim.io.paths.read_paths` or built in memory.
    methods : str or sequence of str
        Any of :data:`METHODS`, or ``"all"`` (time-decay then only when the paths carry times).
    order : int
        Markov order K >= 1: a state is the last K channels of the collapsed path so far
        (shorter at the start of a path), e.g. ``(start) -> (a) -> (a,b) -> (b,c)`` for K = 2.
    half_life : float
        Time-decay half-life in days: a touch ``half_life`` days before the path's last touch
        counts half as much as the last touch.

    Returns
    -------
    Attribution
        Per channel: ``removal_effect``, ``markov_conversions`` (removal effects normalised to
        sum to the total conversions, ChannelAttribution's rule), ``markov_value`` (value removal
        effects normalised to the total value, each conversion worth the mean value per
        conversion of the paths ending in its last state), ``shapley`` and the heuristics
        ``first_touch``, ``last_touch``, ``linear``, ``position``, ``time_decay``, each with
        ``*_value`` when the paths carry value.

    Raises
    ------
    InputError
        An unknown method, ``order < 1``, ``half_life <= 0``, time-decay asked for paths
        without times, or an order whose states do not fit in 63 bits.
    """
    asked_all = methods == "all" or (not isinstance(methods, str) and "all" in methods)
    chosen = _methods(methods)
    notes: list[str] = []
    if "time-decay" in chosen and paths.t_touch is None:
        if not asked_all:
            raise InputError(
                "time-decay needs a time per touch, got paths without times "
                "(add a times column such as 0>3.5>7, one time in days per touch)",
                params=("methods",),
            )
        chosen = tuple(m for m in chosen if m != "time-decay")
        notes.append("time-decay skipped: the paths carry no times")
    if not (isinstance(order, (int, np.integer)) and order >= 1):
        raise InputError(f"order must be a whole number >= 1, got {order!r} (e.g. order=1)", params=("order",))
    if not (np.isfinite(half_life) and half_life > 0):
        raise InputError(f"half_life must be a number of days > 0, got {half_life!r} (e.g. 7)", params=("half_life",))

    n_ch = len(paths.channels)
    total_conv = float(paths.conversions.sum())
    total_value = float(paths.value.sum()) if paths.has_value else None
    cols: dict[str, np.ndarray] = {}
    p_conv, transitions, n_states = float("nan"), [], 0
    if "markov" in chosen:
        fit = _markov(paths, int(order))
        p_conv, transitions, n_states = fit.p_conversion, fit.transitions(paths.channels), fit.n_states
        cols["removal_effect"] = fit.removal_effect
        cols["markov_conversions"] = _normalised(fit.removal_effect, total_conv)
        if paths.has_value:
            cols["markov_value"] = _normalised(fit.value_removal_effect, total_value)
        notes.append(
            f"markov: order {order}, {n_states} states, solved exactly (absorbing chain); removal effects "
            "normalised to the total conversions"
        )
    for method in chosen:
        if method == "markov":
            continue
        share = _touch_shares(paths, method, half_life)
        key = _KEYS[method]
        cols[key] = _per_channel(paths, share, paths.conversions, n_ch)
        if paths.has_value:
            cols[key + "_value"] = _per_channel(paths, share, paths.value, n_ch)
    if "shapley" in chosen:
        notes.append(
            "shapley: the Shapley value of v(S) = conversions of the paths whose channels all lie in S, "
            "exact (each path gives each of its distinct channels an equal share)"
        )
    rows = [
        ChannelAttribution(name, {k: float(v[i]) for k, v in cols.items()}) for i, name in enumerate(paths.channels)
    ]
    return Attribution(
        channels=rows,
        conversion_probability=p_conv,
        total_conversions=total_conv,
        total_value=total_value,
        transitions=transitions,
        methods=chosen,
        order=int(order),
        half_life=float(half_life),
        n_paths=len(paths),
        n_states=n_states,
        notes=notes,
    )


def _normalised(effects: np.ndarray, total: float) -> np.ndarray:
    s = effects.sum()
    return effects / s * total if s > 0 else np.zeros_like(effects)


def _path_ids(paths: PathTable) -> np.ndarray:
    """(n_touches,) the row of each touch."""
    return np.repeat(np.arange(len(paths), dtype=np.int64), np.diff(paths.offsets))


def _per_channel(paths: PathTable, share: np.ndarray, amount: np.ndarray, n_ch: int) -> np.ndarray:
    """Sum over touches of ``share * amount[path]`` by channel: (n_channels,)."""
    return np.bincount(paths.touch_channel_idx, weights=share * amount[_path_ids(paths)], minlength=n_ch)


def _touch_shares(paths: PathTable, method: str, half_life: float) -> np.ndarray:
    """(n_touches,) each raw touch's share of its path's conversions; every path's shares sum to 1."""
    length = np.diff(paths.offsets)
    pid = _path_ids(paths)
    n = length[pid]
    pos = np.arange(paths.touch_channel_idx.size) - paths.offsets[:-1][pid]
    if method == "first":
        return (pos == 0).astype(np.float64)
    if method == "last":
        return (pos == n - 1).astype(np.float64)
    if method == "linear":  # every raw occurrence, repeats included (ChannelAttribution's linear touch)
        return 1.0 / n
    if method == "position":  # 40/20/40; one touch: 100%; two: 50/50
        ends = (pos == 0) | (pos == n - 1)
        middle = np.where(n > 2, 0.2 / np.maximum(n - 2, 1), 0.0)
        return np.where(n == 1, 1.0, np.where(n == 2, 0.5, np.where(ends, 0.4, middle)))
    if method == "time-decay":  # weight 2^(-(t_last - t) / half_life), normalised within the path
        t_last = paths.t_touch[paths.offsets[1:] - 1][pid]
        w = np.exp2(-(t_last - paths.t_touch) / half_life)
        return w / np.bincount(pid, weights=w, minlength=len(paths))[pid]
    if method == "shapley":  # each distinct channel of the path: 1/|A|, split over its occurrences
        key = pid * max(len(paths.channels), 1) + paths.touch_channel_idx
        _, first_idx, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        n_distinct = np.bincount(pid[first_idx], minlength=len(paths))
        return 1.0 / (n_distinct[pid] * counts[inverse])
    raise AssertionError(method)


@dataclass(frozen=True)
class _MarkovFit:
    """The fitted chain: transient states 0 = (start), 1..S; S+1 = (conversion); S+2 = (null)."""

    state_digits: np.ndarray  # (S, K) channel index + 1 of each state, newest first, 0 = none
    p: object  # scipy.sparse csr (S+3, S+3), rows of transient states sum to 1
    p_conversion: float
    removal_effect: np.ndarray  # (n_channels,)
    value_removal_effect: np.ndarray  # (n_channels,)

    @property
    def n_states(self) -> int:
        return self.p.shape[0]

    def transitions(self, channels) -> list[tuple[str, str, float]]:
        n_s = self.state_digits.shape[0]

        def label(s: int) -> str:
            if s == 0:
                return START
            if s == n_s + 1:
                return CONVERSION
            if s == n_s + 2:
                return NULL
            digits = [d for d in self.state_digits[s - 1][::-1] if d > 0]
            return ">".join(channels[d - 1] for d in digits)

        coo = self.p.tocoo()
        order = np.lexsort((coo.col, coo.row))
        return [(label(int(coo.row[i])), label(int(coo.col[i])), float(coo.data[i])) for i in order]


def _collapse(paths: PathTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Collapsed touches (consecutive repeats merged): channel, row and position in the collapsed path."""
    ch = paths.touch_channel_idx
    first = np.zeros(ch.size, dtype=bool)
    first[paths.offsets[:-1]] = True
    keep = first.copy()
    keep[1:] |= ch[1:] != ch[:-1]
    pid = _path_ids(paths)[keep]
    ch = ch[keep]
    starts = np.flatnonzero(first[keep])
    pos = np.arange(ch.size) - np.repeat(starts, np.diff(np.append(starts, ch.size)))
    return ch, pid, pos


def _markov(paths: PathTable, order: int) -> _MarkovFit:
    import scipy.sparse as sp

    n_ch = len(paths.channels)
    base = n_ch + 1
    if base**order >= 2**62:
        raise InputError(
            f"order {order} with {n_ch} channels gives more states than fit in 63 bits (choose order <= "
            f"{max(1, int(62 / np.log2(base)))})",
            params=("order",),
        )
    weight = paths.conversions + paths.nulls
    ch, pid, pos = _collapse(paths)
    # a state: the last `order` channels of the collapsed path, digits channel+1 (0: before the path started)
    digits = np.zeros((ch.size, order), dtype=np.int64)
    for lag in range(order):
        ok = pos >= lag
        digits[ok, lag] = ch[np.flatnonzero(ok) - lag] + 1
    code = digits @ (base ** np.arange(order, dtype=np.int64))
    uniq, inverse = np.unique(code, return_inverse=True)
    state = inverse.astype(np.int64) + 1
    n_s = uniq.size
    state_digits = (uniq[:, None] // base ** np.arange(order, dtype=np.int64)) % base
    conv_state, null_state, n_all = n_s + 1, n_s + 2, n_s + 3

    w = weight[pid]
    is_first = pos == 0
    is_last = np.append(pid[1:] != pid[:-1], True)
    last_state = state[is_last]
    rows = paths.offsets.size - 1
    src = np.concatenate([np.zeros(rows, np.int64), state[:-1][~is_last[:-1]], last_state, last_state])
    dst = np.concatenate(
        [state[is_first], state[1:][~is_last[:-1]], np.full(rows, conv_state), np.full(rows, null_state)]
    )
    cnt = np.concatenate([weight, w[:-1][~is_last[:-1]], paths.conversions, paths.nulls])
    counts = sp.coo_matrix((cnt, (src, dst)), shape=(n_all, n_all)).tocsr()
    counts.sum_duplicates()
    counts.eliminate_zeros()
    out = np.asarray(counts.sum(axis=1)).ravel()
    p = sp.diags(np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)) @ counts
    p = p.tocsr()

    n_t = n_s + 1
    q_t = p[:n_t, :n_t].T.tocsc()  # Q transposed: the system for visits is (I - Q^T) x = e_start
    r = p[:n_t, conv_state].toarray().ravel()
    # each conversion's value: mean value per conversion of the paths ending in its last state
    conv_end = np.bincount(last_state, weights=paths.conversions, minlength=n_t)
    value_end = np.bincount(last_state, weights=paths.value, minlength=n_t)
    mean_value = np.divide(value_end, conv_end, out=np.zeros(n_t), where=conv_end > 0)
    e0 = np.zeros(n_t)
    e0[0] = 1.0

    def solve(keep: np.ndarray | None) -> np.ndarray:
        from scipy.sparse.linalg import spsolve

        qk = q_t if keep is None else (sp.diags(keep.astype(np.float64)) @ q_t)
        x = spsolve((sp.identity(n_t, format="csc") - qk).tocsc(), e0)
        return np.atleast_1d(x)

    x = solve(None)
    p_conv = float(x @ r)
    v_all = float(x @ (r * mean_value))
    contains = np.zeros((n_t, n_ch), dtype=bool)
    for lag in range(order):
        d = state_digits[:, lag]
        ok = np.flatnonzero(d > 0)
        contains[ok + 1, d[ok] - 1] = True
    removal = np.zeros(n_ch)
    value_removal = np.zeros(n_ch)
    for c in range(n_ch):
        keep = ~contains[:, c]
        if keep.all():
            continue
        xc = solve(keep)  # transitions into a state that contains c go to (null)
        if p_conv > 0:
            removal[c] = 1.0 - float(xc @ r) / p_conv
        if v_all > 0:
            value_removal[c] = 1.0 - float(xc @ (r * mean_value)) / v_all
    return _MarkovFit(state_digits, p, p_conv, np.clip(removal, 0.0, 1.0), np.clip(value_removal, 0.0, 1.0))
