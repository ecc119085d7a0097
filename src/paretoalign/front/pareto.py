"""Pareto dominance and the hypervolume indicator.

Conventions: ``points`` is ``float64[P, M]`` (``P`` candidates, ``M`` objectives) and
``maximise`` says, per objective, whether larger is better (offline metrics such as click
and order recall) or smaller is better (losses). Internally every objective is turned into
one to *minimise* by flipping the sign of the maximised columns.

Point ``q`` dominates ``p`` iff ``q`` is at least as good as ``p`` in every objective and
strictly better in at least one. The non-dominated set keeps every point no other point
dominates; duplicates do not dominate each other, so all copies of a non-dominated point
are kept.

The hypervolume is the Lebesgue measure of the region dominated by the set and bounded by
a reference point ``r`` that every point must strictly improve on. It is computed by
`moocore <https://multi-objective.github.io/moocore/python/>`_ (``moocore.hypervolume``);
:func:`hypervolume_2d_reference` is a readable sweep for two objectives used in tests.

The reference point is not published for MultiTRON (book: method page,
``method-front-metrics``). We use the
**nadir of the evaluated points moved outwards by a margin**: for every objective, the
worst value over all points, worsened by ``margin`` times the objective's range (default
``margin = 0.1``); see :func:`reference_point`. The front command writes the point and the
margin next to the hypervolume so the number can be recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_BLOCK = 1024


def _as_points(points: Any, name: str = "points") -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (P, M), got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one objective")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    return arr


def _signs(maximise: bool | Sequence[bool], n_objectives: int) -> np.ndarray:
    flags = np.asarray(maximise, dtype=bool)
    if flags.ndim not in (0, 1) or (flags.ndim == 1 and len(flags) != n_objectives):
        raise ValueError(f"maximise must be a bool or {n_objectives} bools, got {maximise!r}")
    return np.where(np.broadcast_to(flags, (n_objectives,)), -1.0, 1.0)


def non_dominated(points: Any, maximise: bool | Sequence[bool] = False) -> np.ndarray:
    """Mask of the points that no other point dominates.

    Parameters
    ----------
    points : array-like of shape (P, M)
        Finite objective values.
    maximise : bool or sequence of M bools
        Per objective, whether larger is better.

    Returns
    -------
    ndarray(bool, shape=(P,))
        ``True`` for non-dominated points (duplicates of a non-dominated point included).
        An empty input gives an empty mask.

    Raises
    ------
    ValueError
        On a non-2-D input, NaN/inf values or a ``maximise`` of the wrong length.

    Notes
    -----
    Vectorised in blocks of 1024 rows: memory ``O(1024 · P · M)``, time ``O(P² M)``.
    """
    arr = _as_points(points)
    if len(arr) == 0:
        return np.zeros(0, dtype=bool)
    y = arr * _signs(maximise, arr.shape[1])  # minimise everything
    keep = np.ones(len(y), dtype=bool)
    for lo in range(0, len(y), _BLOCK):
        p = y[lo : lo + _BLOCK]  # [b, M] candidates
        # q dominates p: q <= p everywhere and q < p somewhere; axes [b, P, M]
        le = np.all(y[None, :, :] <= p[:, None, :], axis=2)
        lt = np.any(y[None, :, :] < p[:, None, :], axis=2)
        keep[lo : lo + _BLOCK] = ~np.any(le & lt, axis=1)
    return keep


def non_dominated_reference(points: Any, maximise: bool | Sequence[bool] = False) -> np.ndarray:
    """Plain double loop with the same contract as :func:`non_dominated` (the spec)."""
    arr = _as_points(points)
    y = arr * _signs(maximise, arr.shape[1]) if len(arr) else arr
    keep = np.ones(len(y), dtype=bool)
    for i in range(len(y)):
        for j in range(len(y)):
            if i != j and np.all(y[j] <= y[i]) and np.any(y[j] < y[i]):
                keep[i] = False
                break
    return keep


def reference_point(
    points: Any, maximise: bool | Sequence[bool] = False, margin: float = 0.1
) -> np.ndarray:
    """The nadir of ``points`` moved outwards by ``margin`` times each objective's range.

    For a minimised objective ``r_m = max_p y_pm + margin · (max_p y_pm − min_p y_pm)``; for a
    maximised one ``r_m = min_p y_pm − margin · (max − min)``. If an objective is constant
    its range is replaced by ``max(|value|, 1)`` so that ``r`` still lies strictly outside.

    Parameters
    ----------
    points : array-like of shape (P, M), P >= 1
    maximise : bool or sequence of M bools
    margin : float
        ``> 0``.

    Returns
    -------
    ndarray(float64, shape=(M,))
    """
    arr = _as_points(points)
    if len(arr) == 0:
        raise ValueError("reference_point needs at least one point")
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a positive number, got {margin}")
    sign = _signs(maximise, arr.shape[1])
    y = arr * sign
    worst, best = y.max(axis=0), y.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.maximum(np.abs(worst), 1.0))
    return (worst + margin * span) * sign


def hypervolume(points: Any, ref: Any, maximise: bool | Sequence[bool] = False) -> float:
    """Hypervolume of ``points`` with respect to ``ref`` (``moocore.hypervolume``).

    Parameters
    ----------
    points : array-like of shape (P, M)
    ref : array-like of shape (M,)
        Every point that should count must be strictly better than ``ref`` in every
        objective; points that are not contribute nothing.
    maximise : bool or sequence of M bools

    Returns
    -------
    float
        ``>= 0``; 0 for an empty set.
    """
    import moocore

    arr = _as_points(points)
    r = np.asarray(ref, dtype=np.float64)
    if r.shape != (arr.shape[1],) or not np.all(np.isfinite(r)):
        raise ValueError(f"ref must be {arr.shape[1]} finite numbers, got {ref!r}")
    if len(arr) == 0:
        return 0.0
    flags = _signs(maximise, arr.shape[1]) < 0
    return float(moocore.hypervolume(arr, ref=r, maximise=flags.tolist()))


def hypervolume_2d_reference(
    points: Any, ref: Any, maximise: bool | Sequence[bool] = False
) -> float:
    """Readable sweep for two objectives (the spec the moocore call is tested against).

    After turning both objectives into minimisation, sort the points that strictly improve
    on ``r`` by the first objective and add the rectangles
    ``(r_1 − y_1) · (previous best y_2 − y_2)`` of every point that improves the running
    minimum of the second objective.
    """
    arr = _as_points(points)
    if arr.shape[1] != 2:
        raise ValueError("hypervolume_2d_reference needs exactly two objectives")
    sign = _signs(maximise, 2)
    y = arr * sign
    r = np.asarray(ref, dtype=np.float64) * sign
    y = y[np.all(y < r, axis=1)]
    volume = 0.0
    best_second = r[1]
    for first, second in sorted(map(tuple, y)):
        if second < best_second:
            volume += (r[0] - first) * (best_second - second)
            best_second = second
    return float(volume)
