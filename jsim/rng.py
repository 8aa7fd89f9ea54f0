"""Seed handling: one root ``SeedSequence`` per run, spawned into named streams.

A run's root ``SeedSequence(seed)`` spawns one child per replication; each replication
spawns one child per fixed-size chunk of customers (plus named streams for arrivals and
counting). Chunk sizes never depend on the thread count, so results do not either.
"""

from __future__ import annotations

__all__ = ["as_seed_sequence", "replication_seeds", "chunk_states", "named_streams"]

import numpy as np


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Return a ``SeedSequence`` for ``seed`` (an int, a SeedSequence, or None for fresh entropy)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(seed)


def replication_seeds(seed, n_reps: int) -> list[np.random.SeedSequence]:
    """Spawn ``n_reps`` independent replication seeds from ``seed``."""
    return as_seed_sequence(seed).spawn(n_reps)


def named_streams(seq: np.random.SeedSequence, names: tuple[str, ...]) -> dict[str, np.random.SeedSequence]:
    """Spawn one child per name, in the order given (the order is part of the contract)."""
    return dict(zip(names, seq.spawn(len(names))))


def chunk_states(seq: np.random.SeedSequence, n_chunks: int) -> np.ndarray:
    """Xoshiro256 states for ``n_chunks`` chunks: ``(n_chunks, 4)`` uint64, one spawned child each.

    A state of all zeros is invalid for xoshiro; SeedSequence output makes that astronomically
    unlikely, and it is repaired deterministically if it ever happens.
    """
    states = np.empty((n_chunks, 4), dtype=np.uint64)
    for i, child in enumerate(seq.spawn(n_chunks)):
        states[i] = child.generate_state(4, np.uint64)
        if not states[i].any():
            states[i, 0] = np.uint64(0x9E3779B97F4A7C15)
    return states
