"""Preference grids on the probability simplex.

A *preference point* is a vector :math:`\\pi \\in \\Delta^{K-1}` (``K`` objectives, entries
``>= 0`` summing to 1) that conditions the model. Tracing the front means evaluating the
one trained model at every point of a grid. Three grids are offered:

``beta_quantile_grid``
    MultiTRON's grid for two objectives (``src/pareto_front.py``; book: method page,
    ``method-front-metrics``):
    ``n + 1`` points at the quantiles of the Dirichlet marginal
    :math:`\\mathrm{Beta}(\\beta_1, \\beta_2)`,

    .. math:: \\pi^{(i)} = \\big[F^{-1}_{\\mathrm{Beta}(\\beta_1,\\beta_2)}(i/n),\\;
              1 - F^{-1}_{\\mathrm{Beta}(\\beta_1,\\beta_2)}(i/n)\\big], \\qquad i = 0..n .

    Point 0 is ``[0, 1]`` (second objective only), point ``n`` is ``[1, 0]``. For
    :math:`\\beta = [\\tfrac12, \\tfrac12]` the quantile function of the arcsine law is
    :math:`\\sin^2(\\pi q / 2)`, so :math:`\\pi^{(i)}_2 = \\cos^2(\\pi i / 2n)`: the points are
    denser near the two extremes, where training saw more Dirichlet draws.
``simplex_lattice``
    The uniform lattice :math:`\\{\\, m / D : m \\in \\mathbb{N}^K, \\sum_k m_k = D \\,\\}` with
    :math:`\\binom{D + K - 1}{K - 1}` points (``D`` divisions), e.g. 21 points for ``K = 3``,
    ``D = 5``. Used for three objectives (clicks / carts / orders), where a 2-D family of
    points breaks the collinearity of a 1-D front (book: method page, ``method-strategy``).
``explicit_grid``
    A user-given list of points, validated and normalised.

All grids return ``float64[P, K]`` arrays whose rows sum to exactly 1 (up to one ulp).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

_SUM_TOLERANCE = 1e-6


def beta_quantile_grid(n: int, beta: Sequence[float] = (0.5, 0.5)) -> np.ndarray:
    """MultiTRON's Beta-quantile grid for two objectives.

    Parameters
    ----------
    n : int
        Number of intervals; the grid has ``n + 1`` points. ``n >= 1``.
    beta : sequence of two floats
        The Dirichlet concentration :math:`(\\beta_1, \\beta_2)` used in training; both > 0.
        The first objective's weight is the :math:`\\mathrm{Beta}(\\beta_1, \\beta_2)`
        quantile.

    Returns
    -------
    ndarray(float64, shape=(n + 1, 2))
        Row ``i`` is :math:`[F^{-1}(i/n), 1 - F^{-1}(i/n)]`; row 0 is exactly ``[0, 1]`` and
        row ``n`` exactly ``[1, 0]``. The first column is non-decreasing.

    Raises
    ------
    ValueError
        If ``n < 1`` or a concentration is not a positive finite number.

    Examples
    --------
    >>> beta_quantile_grid(2)
    array([[0. , 1. ],
           [0.5, 0.5],
           [1. , 0. ]])
    """
    from scipy.stats import beta as beta_dist

    n = _as_positive_int(n, "n")
    b = np.asarray(beta, dtype=np.float64)
    if b.shape != (2,) or not np.all(np.isfinite(b)) or np.any(b <= 0):
        raise ValueError(f"beta must be two positive finite numbers, got {beta!r}")
    q = np.arange(n + 1, dtype=np.float64) / n
    first = beta_dist.ppf(q, b[0], b[1])
    first[0], first[-1] = 0.0, 1.0  # exact end points (ppf(0) = 0, ppf(1) = 1 analytically)
    first = np.clip(first, 0.0, 1.0)
    return np.column_stack([first, 1.0 - first])


def simplex_lattice(n_objectives: int, divisions: int) -> np.ndarray:
    """All points of the simplex whose coordinates are multiples of ``1 / divisions``.

    Parameters
    ----------
    n_objectives : int
        ``K >= 1``, the dimension of each point.
    divisions : int
        ``D >= 1``; coordinates are in ``{0, 1/D, ..., 1}``.

    Returns
    -------
    ndarray(float64, shape=(comb(D + K - 1, K - 1), K))
        Rows in lexicographically *decreasing* order of the integer compositions, so the
        first row is ``[1, 0, ..., 0]`` and the last ``[0, ..., 0, 1]``. Every row sums to 1.

    Raises
    ------
    ValueError
        If ``K < 1`` or ``D < 1``.
    """
    k = _as_positive_int(n_objectives, "n_objectives")
    d = _as_positive_int(divisions, "divisions")
    rows = [
        m
        for m in itertools.product(range(d, -1, -1), repeat=k)
        if sum(m) == d  # small grids only (K <= 4, D <= 50): the product is cheap
    ]
    counts = np.asarray(rows, dtype=np.float64).reshape(-1, k)
    return counts / d


def explicit_grid(points: Any, n_objectives: int | None = None) -> np.ndarray:
    """Validate a user-given list of preference points.

    Parameters
    ----------
    points : array-like of shape (P, K)
        Non-negative finite weights; each row must sum to 1 within ``1e-6`` and is then
        renormalised to sum to 1 exactly.
    n_objectives : int, optional
        If given, ``K`` must equal it.

    Returns
    -------
    ndarray(float64, shape=(P, K))

    Raises
    ------
    ValueError
        On an empty list, a ragged or non-2-D input, a wrong ``K``, a negative or non-finite
        weight, a row that does not sum to 1, or duplicate rows.
    """
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"preference points must be a rectangular list of numbers: {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"preference points must have shape (P, K) with P, K >= 1, got {arr.shape}"
        )
    if n_objectives is not None and arr.shape[1] != n_objectives:
        raise ValueError(
            f"preference points have {arr.shape[1]} weights, the model has {n_objectives} objectives"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError("preference weights must be finite and >= 0")
    sums = arr.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _SUM_TOLERANCE)
    if len(bad):
        raise ValueError(f"preference point {int(bad[0])} sums to {sums[bad[0]]:.6g}, not 1")
    arr = arr / sums[:, None]
    if len(np.unique(arr, axis=0)) != len(arr):
        raise ValueError("preference points must be distinct")
    return arr


def preference_grid(
    kind: str,
    n_objectives: int,
    *,
    points: int = 25,
    beta: Sequence[float] = (0.5, 0.5),
    explicit: Any = None,
) -> np.ndarray:
    """The grid named by a profile's ``[front]`` table.

    Parameters
    ----------
    kind : {"auto", "beta", "lattice", "explicit"}
        ``"auto"`` is ``"beta"`` for two objectives and ``"lattice"`` otherwise.
    n_objectives : int
        ``K``, the number of the model's objectives.
    points : int
        ``n`` for the Beta grid (``n + 1`` points), ``D`` divisions for the lattice.
    beta : sequence of two floats
        Concentrations for the Beta grid.
    explicit : array-like, optional
        The points for ``kind="explicit"``.

    Returns
    -------
    ndarray(float64, shape=(P, K))

    Raises
    ------
    ValueError
        For an unknown kind, a Beta grid with ``K != 2``, or missing explicit points.
    """
    k = _as_positive_int(n_objectives, "n_objectives")
    if kind == "auto":
        kind = "beta" if k == 2 else "lattice"
    if kind == "beta":
        if k != 2:
            raise ValueError(f"the Beta-quantile grid needs 2 objectives, the model has {k}")
        return beta_quantile_grid(points, beta)
    if kind == "lattice":
        return simplex_lattice(k, points)
    if kind == "explicit":
        if explicit is None or len(explicit) == 0:
            raise ValueError("grid = 'explicit' needs a non-empty list of points")
        return explicit_grid(explicit, k)
    raise ValueError(f"unknown grid kind {kind!r}; use auto, beta, lattice or explicit")


def _as_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return int(value)
