"""Random numbers of the numba kernels (private): xoshiro256+ streams and per-customer streams.

**Per-customer streams** (the population kernels): customer ``i`` of a run draws its k-th
number as ``mix64(seed_i + (k + 1) * GAMMA)`` with ``seed_i = mix64(key + (i + 1) * GAMMA_SEED)``:
a SplitMix64 sequence (Steele, Lea & Flood 2014; passes BigCrush) seeded per customer by
another SplitMix64 sequence from the run's ``key`` (``rng_states[0, 0]``, from ``SeedSequence`` spawning in
:func:`jsim.rng.chunk_states`). A customer's numbers depend only on the key, its index and how
many it has drawn, not on other customers, chunks or threads. That makes common random numbers
work customer by customer: two versions of a scenario run on one seed give each customer the
same thresholds and picks until the change affects that customer, instead of shifting every
later customer's draws when one customer draws one number more.

**xoshiro256+ states** ``rng_states[c]`` (4 uint64) owned by fixed-size chunks: the journeys tracer.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: 2^-53: the spacing of the uniforms :func:`_next_double` returns.
_ULP = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _next_double(state):
    """One uniform double in [0, 1) from xoshiro256+; advances ``state`` (4 uint64) in place."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return float(result >> np.uint64(11)) * _ULP


#: SplitMix64's Weyl increment (the golden ratio in 64 bits) and finaliser multipliers
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _mix64(z):
    """SplitMix64's finaliser (a bijection of uint64 that mixes every bit into every bit)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


#: the Weyl increment of the customers' seeds (an odd constant unrelated to ``_GAMMA``)
_GAMMA_SEED = np.uint64(0xD1B54A32D192ED03)


@njit(cache=True)
def _customer_seed(key, i):
    """The stream seed of customer ``i`` (int) under the run's ``key`` (uint64): SplitMix64's output i from ``key``."""
    return _mix64(key + (np.uint64(i) + np.uint64(1)) * _GAMMA_SEED)


@njit(cache=True)
def _customer_double(seed, k):
    """Customer stream ``seed``'s k-th uniform (k = 0, 1, ...) in [0, 1), on the 2^-53 grid."""
    return float(_mix64(seed + (np.uint64(k) + np.uint64(1)) * _GAMMA) >> np.uint64(11)) * _ULP


@njit(cache=True)
def _customer_exp(seed, k):
    """Customer stream ``seed``'s k-th number as an Exp(1) draw, strictly positive."""
    return -math.log(_customer_double(seed, k) + 0.5 * _ULP)
