"""Sticky assignment of shoppers to test groups by a salted hash.

Every shopper id is hashed with BLAKE2b keyed by the experiment's salt; the first 8
bytes of the digest, read as an unsigned little-endian integer ``h``, give a point
``u = h / 2**64`` in ``[0, 1)``, and the shopper joins the group whose slice of ``[0, 1)``
(cumulative normalised weights) contains ``u``:

.. math:: g(s) = \\min\\{\\, g : u(s) < \\textstyle\\sum_{j \\le g} w_j \\,\\}.

The map depends only on ``(salt, shopper_id, weights)``: the same shopper lands in the same
group on every day, in every process and on every machine (no Python ``hash``
randomisation, no RNG state). A new salt gives an independent re-randomisation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

_DIGEST_BYTES = 8
_SALT_MAX_BYTES = 64  # BLAKE2b key limit


def hash_unit_interval(shopper_ids: Any, salt: str) -> np.ndarray:
    """The salted hash of each shopper id mapped to ``[0, 1)``.

    Parameters
    ----------
    shopper_ids : array-like of int, shape (N,)
        Non-negative ids that fit ``int64``.
    salt : str
        The experiment's salt (UTF-8, 1..64 bytes), used as the BLAKE2b key.

    Returns
    -------
    ndarray(float64, shape=(N,))
        ``u = h / 2**64`` where ``h`` is the first 8 digest bytes (little-endian) of
        ``blake2b(id as 8 little-endian bytes, key=salt, digest_size=8)``.

    Raises
    ------
    TypeError
        If the ids are not integers.
    ValueError
        If the ids are not 1-D, negative, or the salt is empty or too long.
    """
    ids = _as_ids(shopper_ids)
    key = _salt_bytes(salt)
    raw = ids.astype("<i8").tobytes()
    digests = b"".join(
        hashlib.blake2b(raw[i : i + 8], digest_size=_DIGEST_BYTES, key=key).digest()
        for i in range(0, len(raw), 8)
    )
    h = np.frombuffer(digests, dtype="<u8")
    # (h >> 11) is a 53-bit integer, exactly representable: u in [0, 1) without rounding to 1.
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign_groups(shopper_ids: Any, weights: Sequence[float] | int, salt: str) -> np.ndarray:
    """Group index of every shopper (sticky, salted; see the module docstring).

    Parameters
    ----------
    shopper_ids : array-like of int, shape (N,)
    weights : int or sequence of float
        ``G`` (equal shares) or the traffic share of each group (positive; normalised).
    salt : str

    Returns
    -------
    ndarray(int16, shape=(N,))
        Values in ``0..G-1``.

    Raises
    ------
    ValueError
        For fewer than one group, non-positive or non-finite weights, or bad ids / salt.
    """
    w = normalised_weights(weights)
    u = hash_unit_interval(shopper_ids, salt)
    edges = np.cumsum(w)
    edges[-1] = 1.0  # guard against rounding: every u < 1 falls in some group
    return np.searchsorted(edges, u, side="right").astype(np.int16)


def normalised_weights(weights: Sequence[float] | int) -> np.ndarray:
    """``G`` equal shares for an int, else the given positive weights divided by their sum."""
    if isinstance(weights, (int, np.integer)) and not isinstance(weights, bool):
        if weights < 1:
            raise ValueError(f"need at least one group, got {weights}")
        return np.full(int(weights), 1.0 / int(weights))
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0:
        raise ValueError("weights must be a non-empty 1-D sequence")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights must be positive and finite, got {w.tolist()}")
    return w / w.sum()


def _as_ids(shopper_ids: Any) -> np.ndarray:
    ids = np.asarray(shopper_ids)
    if ids.ndim != 1:
        raise ValueError(f"shopper_ids must be 1-D, got shape {ids.shape}")
    if ids.size == 0:
        return np.zeros(0, np.int64)
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"shopper_ids must be integers, got dtype {ids.dtype}")
    if ids.min() < 0 or (ids.dtype == np.uint64 and ids.max() > np.iinfo(np.int64).max):
        raise ValueError("shopper_ids must be non-negative and fit int64")
    return ids.astype(np.int64, copy=False)


def _salt_bytes(salt: str) -> bytes:
    if not isinstance(salt, str):
        raise TypeError(f"salt must be a str, got {type(salt).__name__}")
    key = salt.encode("utf-8")
    if not 1 <= len(key) <= _SALT_MAX_BYTES:
        raise ValueError(f"salt must be 1..{_SALT_MAX_BYTES} bytes of UTF-8, got {len(key)}")
    return key
