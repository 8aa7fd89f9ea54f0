"""Seed handling: one root ``SeedSequence`` per run, children derived by position or by name.

A run's root ``SeedSequence(seed)`` has one child per replication (replication r is the child
with spawn key ``root.spawn_key + (r,)``, what ``root.spawn`` gives a fresh root), and named
children for everything that is not a replication (traced journeys, re-evaluation seeds,
samplers): :func:`named_child`, whose key lies far outside the replication range, so no
stream depends on how many replications run. Each replication spawns one child per fixed-size
chunk of customers (plus named streams for arrivals and counting); chunk sizes never depend on
the thread count, so results do not either. No function here touches global random state.
"""

from __future__ import annotations

__all__ = [
    "as_seed_sequence",
    "seed_entropy",
    "replication_seed",
    "replication_seeds",
    "named_child",
    "derive_seed",
    "chunk_states",
    "named_streams",
]

import hashlib

import numpy as np


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """Return a ``SeedSequence`` for ``seed`` (an int, a SeedSequence, or None for fresh entropy)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(seed)


def seed_entropy(seq: np.random.SeedSequence) -> int:
    """The integer that reproduces ``seq`` as a root seed (``SeedSequence(seed_entropy(seq))``).

    For a root drawn from fresh entropy (``seed=None``) this is the entropy it drew, so a
    result always records a seed that reproduces it.
    """
    entropy = seq.entropy
    if not isinstance(entropy, (int, np.integer)):  # a sequence of ints: fold it into one
        entropy = int.from_bytes(np.asarray(entropy, dtype=np.uint32).tobytes()[::-1], "big")
    return int(entropy)


def replication_seed(root: np.random.SeedSequence, r: int) -> np.random.SeedSequence:
    """Seed of replication ``r`` of a run rooted at ``root`` (independent of what ``root`` spawned before)."""
    return np.random.SeedSequence(root.entropy, spawn_key=tuple(root.spawn_key) + (int(r),), pool_size=root.pool_size)


def replication_seeds(seed, n_reps: int) -> list[np.random.SeedSequence]:
    """Seeds of replications ``0 .. n_reps-1`` of a run with root ``seed``."""
    root = as_seed_sequence(seed)
    return [replication_seed(root, r) for r in range(n_reps)]


def _name_key(name: str) -> int:
    # 2**63 + a 62-bit hash: never a replication index, stable across Python versions
    return (1 << 63) + (int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") >> 2)


def named_child(root, name: str) -> np.random.SeedSequence:
    """The child of ``root`` called ``name`` (e.g. ``"journeys"``).

    Independent of the replications' seeds and of the other named children.
    """
    root = as_seed_sequence(root)
    return np.random.SeedSequence(
        root.entropy, spawn_key=tuple(root.spawn_key) + (_name_key(name),), pool_size=root.pool_size
    )


def derive_seed(seed, name: str) -> int:
    """A 32-bit integer seed derived from ``seed`` for ``name``: the one way jsim seeds a third-party
    sampler (Optuna's) or a fresh set of replications."""
    return int(named_child(seed, name).generate_state(1, np.uint32)[0])


def named_streams(seq: np.random.SeedSequence, names: tuple[str, ...]) -> dict[str, np.random.SeedSequence]:
    """Spawn one child per name, in the order given (the order is part of the contract)."""
    return dict(zip(names, seq.spawn(len(names))))


def chunk_states(seq: np.random.SeedSequence, n_chunks: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Xoshiro256 states for ``n_chunks`` chunks: ``(n_chunks, 4)`` uint64, one spawned child each.

    A state of all zeros is invalid for xoshiro; SeedSequence output makes that astronomically
    unlikely, and it is repaired deterministically if it ever happens. With ``lo``/``hi`` (a part
    of a replication run apart) only rows ``lo .. hi-1`` and row 0 (whose first word keys every
    customer's stream) are filled, exactly as the full call fills them, the others left zero,
    and ``seq`` is not advanced: a part does not pay for the states of every other chunk.
    """
    states = np.zeros((n_chunks, 4), dtype=np.uint64)
    if lo == 0 and hi is None:
        children = list(enumerate(seq.spawn(n_chunks)))
    else:
        base = seq.n_children_spawned
        rows = sorted({0, *range(lo, min(n_chunks, n_chunks if hi is None else hi))})
        children = [
            (i, np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, base + i), pool_size=seq.pool_size))
            for i in rows
        ]
    for i, child in children:
        states[i] = child.generate_state(4, np.uint64)
        if not states[i].any():
            states[i, 0] = np.uint64(0x9E3779B97F4A7C15)
    return states
