"""Counter-based random numbers for the jitted shop: one SplitMix64 stream per session.

Every session (offline or online) owns a 64-bit state, seeded from the world or
experiment key and the shopper id, so a session's events depend on nothing but its seed
and the slates it is shown: not on thread count, chunking, batch size or the order in
which sessions are processed. That makes the logs bit-reproducible under ``prange``.

SplitMix64 (Steele, Lea & Flood 2014) advances ``x <- x + 0x9E3779B97F4A7C15`` and
outputs ``mix64(x)``; it passes BigCrush as a stand-alone generator. A uniform is
``((mix64(x) >> 11) + 0.5) * 2^-53``, which lies strictly inside (0, 1) so ``log(u)`` is
finite; a normal is the cosine branch of Box–Muller from two uniforms
(``normal_pair`` returns both branches).

:class:`SplitMix64` is the plain-Python reference of the jitted functions (exact integer
arithmetic mod 2^64); tests compare both.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_MASK = (1 << 64) - 1
_GOLDEN_INT = 0x9E3779B97F4A7C15
_M1_INT = 0xBF58476D1CE4E5B9
_M2_INT = 0x94D049BB133111EB

GOLDEN = np.uint64(_GOLDEN_INT)
M1 = np.uint64(_M1_INT)
M2 = np.uint64(_M2_INT)
S30 = np.uint64(30)
S27 = np.uint64(27)
S31 = np.uint64(31)
S11 = np.uint64(11)
TWO_M53 = 1.0 / 9007199254740992.0
TWO_PI = 2.0 * math.pi

#: Salt separating a session's policy stream (random logging slates) from its shopper stream.
POLICY_SALT = np.uint64(0x5DEECE66D1234567)


# ---------------------------------------------------------------------- LOW LEVEL (jitted)
@njit(cache=True, inline="always")
def mix64(z: np.uint64) -> np.uint64:
    """SplitMix64's output function (a bijection of uint64)."""
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


@njit(cache=True, inline="always")
def u01(st: np.ndarray) -> float:
    """Advance ``st[0]`` and return a uniform in (0, 1)."""
    st[0] += GOLDEN
    return (float(mix64(st[0]) >> S11) + 0.5) * TWO_M53


@njit(cache=True, inline="always")
def normal(st: np.ndarray) -> float:
    """A standard normal from two uniforms (Box–Muller, cosine branch)."""
    a = u01(st)
    b = u01(st)
    return math.sqrt(-2.0 * math.log(a)) * math.cos(TWO_PI * b)


@njit(cache=True, inline="always")
def normal_pair(st: np.ndarray) -> tuple[float, float]:
    """Two independent standard normals from two uniforms (Box–Muller, cos and sin)."""
    a = u01(st)
    b = u01(st)
    r = math.sqrt(-2.0 * math.log(a))
    return r * math.cos(TWO_PI * b), r * math.sin(TWO_PI * b)


@njit(cache=True)
def session_seeds(key: np.uint64, ids: np.ndarray) -> np.ndarray:
    """Seeds ``mix64(mix64(key) + (id + 1) * GOLDEN)`` for int64 ids, uint64[n]."""
    out = np.empty(len(ids), np.uint64)
    base = mix64(key)
    for i in range(len(ids)):
        out[i] = mix64(base + (np.uint64(ids[i]) + np.uint64(1)) * GOLDEN)
    return out


@njit(cache=True)
def derive_key(a: np.uint64, b: np.uint64) -> np.uint64:
    """Combine two 64-bit keys into one (order matters)."""
    return mix64(mix64(a) ^ (b + GOLDEN))


# ---------------------------------------------------------------------- HIGH LEVEL
def make_key(*parts: int) -> int:
    """A 64-bit stream key (a Python int) from non-negative integers (seed, stream id, ...)."""
    key = 0x243F6A8885A308D3
    for p in parts:
        p = int(p)
        if p < 0:
            raise ValueError(f"key parts must be non-negative, got {p}")
        key = int(derive_key(np.uint64(key), np.uint64(p & _MASK)))
    return key


def seeds_for(key: np.uint64, ids: np.ndarray) -> np.ndarray:
    """Per-session seeds for shopper ids (int64[n] -> uint64[n])."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if len(ids) and ids.min() < 0:
        raise ValueError("shopper ids must be non-negative")
    return session_seeds(np.uint64(int(key) & _MASK), ids)


# ---------------------------------------------------------------------- REFERENCE
def mix64_ref(z: int) -> int:
    """Plain-integer reference of :func:`mix64`."""
    z &= _MASK
    z = ((z ^ (z >> 30)) * _M1_INT) & _MASK
    z = ((z ^ (z >> 27)) * _M2_INT) & _MASK
    return z ^ (z >> 31)


class SplitMix64:
    """Plain-Python reference of the jitted stream (same outputs, bit for bit)."""

    def __init__(self, state: int) -> None:
        self.state = int(state) & _MASK

    def u01(self) -> float:
        self.state = (self.state + _GOLDEN_INT) & _MASK
        return ((mix64_ref(self.state) >> 11) + 0.5) * TWO_M53

    def normal(self) -> float:
        a = self.u01()
        b = self.u01()
        return math.sqrt(-2.0 * math.log(a)) * math.cos(TWO_PI * b)

    def normal_pair(self) -> tuple[float, float]:
        a = self.u01()
        b = self.u01()
        r = math.sqrt(-2.0 * math.log(a))
        return r * math.cos(TWO_PI * b), r * math.sin(TWO_PI * b)


def session_seed_ref(key: int, shopper_id: int) -> int:
    """Reference of :func:`session_seeds` for one id."""
    return mix64_ref((mix64_ref(key) + (shopper_id + 1) * _GOLDEN_INT) & _MASK)
