"""Random streams of one discrete-event replication.

The replication's ``customers`` stream (:data:`jsim.engine.draws.STREAMS`) is spawned into
:data:`DES_STREAMS`, in that order (part of the contract): Exp(1) thresholds, uniforms for the
(clock, destination) pair of a stage move, uniforms for service outcomes, and one child per
service desk. Draws are buffered, :data:`BLOCK` per Generator call, and consumed in event order,
so the same seed gives the same results.
"""

from __future__ import annotations

__all__ = ["DES_STREAMS", "BLOCK", "DesStreams", "des_streams", "exponentials", "uniforms"]

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from ...rng import named_streams

#: Children of the ``customers`` stream, in spawn order (part of the contract).
DES_STREAMS = ("thresholds", "pairs", "outcomes", "desks")
#: Random numbers drawn per Generator call (buffered; consumed in event order).
BLOCK = 4096

_TINY = 0.5 / 9007199254740992.0  # 2^-54: keeps -log(U + tiny) finite and > 0


def exponentials(rng: np.random.Generator) -> Iterator[float]:
    """Endless strictly positive Exp(1) draws, ``BLOCK`` per Generator call: ``-log(U + 2^-54)``."""
    while True:
        yield from (-np.log(rng.random(BLOCK) + _TINY)).tolist()


def uniforms(rng: np.random.Generator) -> Iterator[float]:
    """Endless uniforms on [0, 1), ``BLOCK`` per Generator call."""
    while True:
        yield from rng.random(BLOCK).tolist()


class DesStreams(NamedTuple):
    """The draws of one replication, by use.

    Attributes
    ----------
    thresholds : iterator of float
        Exp(1): every stage and request threshold.
    pairs : iterator of float
        Uniform [0, 1): one per stage move (the alias pick of its pair).
    outcomes : iterator of float
        Uniform [0, 1): service outcomes (loss while waiting, then the destination).
    desks : tuple of numpy.random.Generator
        One per service desk, in the model's service order (patience and service times).
    """

    thresholds: Iterator[float]
    pairs: Iterator[float]
    outcomes: Iterator[float]
    desks: tuple


def des_streams(customers: np.random.SeedSequence, n_desks: int) -> DesStreams:
    """Spawn the ``customers`` stream of a replication into :data:`DES_STREAMS`."""
    seqs = named_streams(customers, DES_STREAMS)
    desk_seqs = seqs["desks"].spawn(n_desks) if n_desks else []
    return DesStreams(
        exponentials(np.random.default_rng(seqs["thresholds"])),
        uniforms(np.random.default_rng(seqs["pairs"])),
        uniforms(np.random.default_rng(seqs["outcomes"])),
        tuple(np.random.default_rng(s) for s in desk_seqs),
    )
