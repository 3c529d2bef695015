"""CPython's ``random.Random`` (Mersenne Twister MT19937) in numba, for drawing windows cheaply.

``random.Random(S).getstate()`` is loaded into an int64 array (624 words and the position) and
advanced here exactly as CPython advances it, so ``randint`` below returns what
``random.Random.randint`` returns from the same state, and the state can be handed back to
Python with ``setstate`` afterwards. ``randint(a, b)`` is CPython's ``a + _randbelow(b - a + 1)``
with ``_randbelow_with_getrandbits``: draw ``k = n.bit_length()`` bits, ``genrand_uint32() >>
(32 - k)``, until the value is below ``n`` (n < 2**32 here).
"""

from __future__ import annotations

import random

import numpy as np
from numba import njit

_N, _M = 624, 397
_MASK = 0xFFFFFFFF


def state_of(rng: random.Random) -> np.ndarray:
    """The generator's state as int64 (625,): the 624 words, then the position."""
    version, internal, _gauss = rng.getstate()
    assert version == 3 and len(internal) == _N + 1
    return np.array(internal, dtype=np.int64)


def load_state(rng: random.Random, state: np.ndarray) -> None:
    """Put a state advanced here back into ``rng``."""
    rng.setstate((3, tuple(int(v) for v in state), None))


@njit(cache=True, error_model="numpy")
def _twist(mt):
    for kk in range(_N):
        y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % _N] & 0x7FFFFFFF)
        v = mt[(kk + _M) % _N] ^ (y >> 1)
        if y & 1:
            v ^= 0x9908B0DF
        mt[kk] = v


@njit(cache=True, error_model="numpy")
def genrand_uint32(state):
    """Next 32-bit output; state[624] is the position in the block."""
    if state[_N] >= _N:
        _twist(state)
        state[_N] = 0
    y = state[state[_N]]
    state[_N] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C5680
    y ^= (y << 15) & 0xEFC60000
    y ^= y >> 18
    return y & _MASK


@njit(cache=True, error_model="numpy")
def randint(state, a, b):
    """random.Random.randint(a, b) from the same state (b - a + 1 < 2**32)."""
    n = b - a + 1
    k = 0
    m = n
    while m > 0:
        k += 1
        m >>= 1
    r = genrand_uint32(state) >> (32 - k)
    while r >= n:
        r = genrand_uint32(state) >> (32 - k)
    return a + r
