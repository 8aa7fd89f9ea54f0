"""xoshiro256+ random numbers owned by fixed-size chunks of customers (private numba kernels).

Each chunk of customers owns one state ``rng_states[c]`` (4 uint64, seeded by ``SeedSequence``
spawning in :func:`jsim.rng.chunk_states`), so results do not depend on how many threads run.
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


@njit(cache=True)
def _next_exp(state):
    """One Exp(1) draw, strictly positive: -log of a uniform on the open interval (0, 1)."""
    return -math.log(_next_double(state) + 0.5 * _ULP)
