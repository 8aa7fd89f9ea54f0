"""What one discrete-event replication records while it runs, and the engine's counts made from it."""

from __future__ import annotations

__all__ = ["Tally"]

from array import array

import numpy as np


class Tally:
    """The records of one replication, appended in event order.

    Attributes
    ----------
    moves : array of int64
        One code per move: ``(day * G + g) * X + route`` (``model.sources`` routes).
    conversions : array of int64
        One code per first conversion: ``day * G + g``.
    request_day : list of array of int64
        Per service, the day of each request, in request order (the rows of its desk's records).
    served : (V, T+1) int64
        Requests served per service and request day, counted when the service ends.
    occupancy : (T+1, G, S) int64
        The census at the end of each day (written by the daily clock).
    shares : (T+1, W) float64
        The word-of-mouth shares each day's tables used.
    calendar : list of (time, kind, where, what)
        The calendar trace, in the order the calendar processes ran.
    """

    def __init__(self, model):
        T, G, S, V = model.n_days, model.n_segments, model.n_stages, len(model.services)
        self.moves = array("q")
        self.conversions = array("q")
        self.request_day = [array("q") for _ in range(V)]
        self.served = np.zeros((V, T + 1), dtype=np.int64)
        self.occupancy = np.zeros((T + 1, G, S), dtype=np.int64)
        self.shares = np.zeros((T + 1, model.n_wom))
        self.calendar: list = []

    def request_days(self, v: int) -> np.ndarray:
        """(n_requests,) int64 day of each request to service ``v``, in request order."""
        buf = self.request_day[v]
        return np.frombuffer(buf, dtype=np.int64).copy() if len(buf) else np.zeros(0, dtype=np.int64)

    def counts(self, model):
        """``moves (T+1, X)`` per day and route, ``segment_flows (G, S, S)`` and ``new_converted (T+1, G)``, int64."""
        T, G, S, X = model.n_days, model.n_segments, model.n_stages, model.n_routes
        src = model.sources
        code = np.frombuffer(self.moves, dtype=np.int64) if len(self.moves) else np.zeros(0, np.int64)
        day_seg, route = np.divmod(code, X)
        day, g = np.divmod(day_seg, G)
        moves = np.bincount(day * X + route, minlength=(T + 1) * X).reshape(T + 1, X)
        by_seg = np.bincount(g * X + route, minlength=G * X).reshape(G, X)
        segment_flows = np.zeros((G, S, S), dtype=np.int64)
        np.add.at(segment_flows, (slice(None), src.route_from, src.route_to), by_seg)
        conv = np.frombuffer(self.conversions, dtype=np.int64) if len(self.conversions) else np.zeros(0, np.int64)
        new_converted = np.bincount(conv, minlength=(T + 1) * G).reshape(T + 1, G)
        return moves.astype(np.int64), segment_flows, new_converted.astype(np.int64)
