"""Correlations over a handful of test groups: point estimates, CIs and permutation p-values.

With G test groups every offline metric and every online KPI is a vector of G numbers (one
per group). The question "does metric m move with KPI k?" is a correlation over G points.
Because G is small (4–12), the reference distribution of the test statistic is taken from
the permutation distribution, not from a normal approximation:

.. math::

    p = \\frac{\\#\\{\\sigma \\in S : |r(x, y_\\sigma)| \\ge |r(x, y)|\\}}{|S|},

where :math:`S` is the set of all :math:`G!` orderings of the groups (exact test) when
:math:`G \\le` ``max_exact`` (default 8, i.e. at most 40 320 orderings), and otherwise
:math:`B` orderings drawn with a seeded ``numpy.random.Generator`` plus the observed one
(the Monte-Carlo p-value :math:`(1 + \\#\\{b : |r_b| \\ge |r|\\}) / (1 + B)`, which is a valid
p-value for any :math:`B`; Phipson & Smyth 2010). The exact two-sided p-value can never go
below :math:`2 / G!` (the identity and the reversed ordering of a monotone pair), e.g.
0.083 for four groups.

All functions here work on a whole *table*: ``x`` holds M offline metrics, ``y`` holds K
KPIs, both over the same G groups, and the result is an ``(M, K)`` array, so the same
permutations are shared by every (metric, KPI) pair (one pass over the permutations for
the whole table).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

#: Largest G for which all G! orderings are enumerated (8! = 40 320).
MAX_EXACT_GROUPS = 8
#: Default number of random orderings for the Monte-Carlo p-value when G > MAX_EXACT_GROUPS.
DEFAULT_RESAMPLES = 20_000
#: |r| values closer than this count as ties in the permutation comparison (guards against
#: floating-point noise making the observed ordering miss itself; float32 products).
_PERM_TOL = 2e-6
#: Permutations handled per block (bounds memory at about BLOCK * M * K * 8 bytes).
_BLOCK = 4096

STATISTICS = ("pearson", "spearman")


def _as_table(a: np.ndarray, name: str) -> np.ndarray:
    """Validate a ``(rows, G)`` float table (1-D input becomes one row)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D (G,) or 2-D (rows, G), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _check_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x2 = _as_table(x, "x")
    y2 = _as_table(y, "y")
    if x2.shape[1] != y2.shape[1]:
        raise ValueError(
            f"x and y must cover the same groups: x has {x2.shape[1]}, y has {y2.shape[1]}"
        )
    if x2.shape[1] < 3:
        raise ValueError(f"a correlation over groups needs at least 3 groups, got {x2.shape[1]}")
    return x2, y2


def _transform(a: np.ndarray, statistic: str) -> np.ndarray:
    """Rows ready for a dot-product correlation: ranked (Spearman) then centred, unit norm.

    Constant rows (zero variance) become all-NaN: their correlation is undefined.
    """
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    work = rankdata(a, axis=1, method="average") if statistic == "spearman" else a.copy()
    work = work - work.mean(axis=1, keepdims=True)
    norm = np.sqrt(np.sum(work * work, axis=1, keepdims=True))
    scale = np.maximum(np.abs(a).max(axis=1, keepdims=True), 1.0)
    constant = norm <= 1e-12 * scale * math.sqrt(a.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(constant, np.nan, work / np.where(constant, 1.0, norm))
    return out


def correlation_matrix(x: np.ndarray, y: np.ndarray, statistic: str = "pearson") -> np.ndarray:
    """Pearson or Spearman correlation of every row of ``x`` with every row of ``y``.

    Parameters
    ----------
    x : ndarray(float, shape=(M, G)) or (G,)
        Offline metrics (rows) over G groups.
    y : ndarray(float, shape=(K, G)) or (G,)
        Online KPIs (rows) over the same G groups.
    statistic : {"pearson", "spearman"}
        Spearman is Pearson on average ranks (ties share their mean rank).

    Returns
    -------
    ndarray(float64, shape=(M, K))
        :math:`r_{mk}`; NaN where either row is constant (undefined correlation).
    """
    x2, y2 = _check_pair(x, y)
    xs = _transform(x2, statistic)
    ys = _transform(y2, statistic)
    return np.clip(xs @ ys.T, -1.0, 1.0)


def all_orderings(n_groups: int) -> np.ndarray:
    """Every ordering of ``n_groups`` items, shape ``(n_groups!, n_groups)``, int16; row 0 = identity.

    Cached (8! rows take ~40 ms to build); the returned array is read-only.
    """
    if n_groups < 1 or n_groups > MAX_EXACT_GROUPS:
        raise ValueError(f"exact enumeration supports 1..{MAX_EXACT_GROUPS} groups, got {n_groups}")
    return _all_orderings(int(n_groups))


@functools.lru_cache(maxsize=MAX_EXACT_GROUPS)
def _all_orderings(n_groups: int) -> np.ndarray:
    out = np.array(list(itertools.permutations(range(n_groups))), dtype=np.int16)
    out.setflags(write=False)
    return out


def random_orderings(n_groups: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_resamples`` uniformly random orderings, shape ``(n_resamples, n_groups)``, int16."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    keys = rng.random((n_resamples, n_groups))
    return np.argsort(keys, axis=1).astype(np.int16)


@dataclass(frozen=True)
class PermutationResult:
    """Observed correlations and permutation p-values of a table.

    Attributes
    ----------
    r : ndarray(float64, shape=(M, K))
        Observed correlation (NaN where undefined).
    p : ndarray(float64, shape=(M, K))
        Two-sided permutation p-value (1.0 where the correlation is undefined).
    exact : bool
        True if all G! orderings were enumerated, False for the Monte-Carlo p-value.
    n_orderings : int
        Number of orderings compared (G! for exact; B + 1 for Monte Carlo).
    """

    r: np.ndarray
    p: np.ndarray
    exact: bool
    n_orderings: int


def permutation_test(
    x: np.ndarray,
    y: np.ndarray,
    statistic: str = "pearson",
    *,
    max_exact: int = MAX_EXACT_GROUPS,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> PermutationResult:
    """Two-sided permutation test of zero correlation for every (row of x, row of y).

    The null hypothesis is exchangeability of the KPI values across groups (no link
    between which group got which offline metric value and its KPI). Under it every
    ordering of the groups is equally likely, so the p-value is the share of orderings
    whose :math:`|r|` reaches the observed one (see the module docstring).

    Parameters
    ----------
    x : ndarray(float, shape=(M, G)) or (G,)
        Offline metrics over G >= 3 groups.
    y : ndarray(float, shape=(K, G)) or (G,)
        KPIs over the same groups.
    statistic : {"pearson", "spearman"}
    max_exact : int
        Enumerate all G! orderings when G <= max_exact (at most 8).
    n_resamples : int
        Random orderings B for G > max_exact.
    seed : int or numpy.random.Generator or None
        Seeds the Monte-Carlo orderings (unused for the exact test). The same seed gives
        the same p-values.

    Returns
    -------
    PermutationResult
        ``r`` and ``p`` of shape ``(M, K)``; undefined correlations (a constant row) get
        ``r = NaN`` and ``p = 1``.
    """
    x2, y2 = _check_pair(x, y)
    batch = permutation_test_batch(
        x2, y2[None], statistic, max_exact=max_exact, n_resamples=n_resamples, seed=seed
    )
    return PermutationResult(
        r=batch.r[0], p=batch.p[0], exact=batch.exact, n_orderings=batch.n_orderings
    )


def orderings_for(
    n_groups: int,
    *,
    max_exact: int = MAX_EXACT_GROUPS,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, bool]:
    """The orderings a permutation test over ``n_groups`` uses, and whether they are exhaustive."""
    if max_exact > MAX_EXACT_GROUPS:
        raise ValueError(f"max_exact must be <= {MAX_EXACT_GROUPS}, got {max_exact}")
    if n_groups <= max_exact:
        return all_orderings(n_groups), True
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return random_orderings(n_groups, n_resamples, rng), False


def permutation_test_batch(
    x: np.ndarray,
    y: np.ndarray,
    statistic: str = "pearson",
    *,
    max_exact: int = MAX_EXACT_GROUPS,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int | np.random.Generator | None = 0,
    orderings: np.ndarray | None = None,
) -> PermutationResult:
    """:func:`permutation_test` for R replicate KPI tables that share the offline metrics.

    The strategy check reruns the experiment many times with the same groups (same
    ``x``) and fresh noise (new ``y``); sharing ``x`` lets every replicate reuse the permuted
    metric table: with :math:`\\tilde x_\\sigma` the standardised metrics permuted by
    :math:`\\sigma`, :math:`r_\\sigma = \\tilde x_\\sigma \\cdot \\tilde y` for every
    replicate at once (one matrix product per block of orderings). Permuting ``x`` instead
    of ``y`` gives the same permutation distribution (:math:`\\sigma \\mapsto \\sigma^{-1}`
    is a bijection of the orderings).

    Parameters
    ----------
    x : ndarray(float, shape=(M, G))
    y : ndarray(float, shape=(R, K, G))
        R replicate KPI tables.
    statistic, max_exact, n_resamples, seed
        As in :func:`permutation_test` (one set of orderings for all replicates).
    orderings : ndarray(int, shape=(P, G)), optional
        Use these orderings (Monte-Carlo p-value ``(1 + count) / (1 + P)``) instead of
        drawing them; ``exact`` is then reported False.

    Returns
    -------
    PermutationResult
        ``r`` and ``p`` of shape ``(R, M, K)``.
    """
    x2 = _as_table(x, "x")
    y3 = np.asarray(y)
    if y3.ndim != 3:
        raise ValueError(f"y must be (replicates, K, G), got shape {y3.shape}")
    if y3.dtype.kind not in "biuf":
        raise TypeError(f"y must be numeric, got dtype {y3.dtype}")
    y3 = y3.astype(np.float64, copy=False)
    if not np.all(np.isfinite(y3)):
        raise ValueError("y contains NaN or infinite values")
    n_rep, n_kpis, n_groups = y3.shape
    if x2.shape[1] != n_groups:
        raise ValueError(
            f"x and y must cover the same groups: x has {x2.shape[1]}, y has {n_groups}"
        )
    if n_groups < 3:
        raise ValueError(f"a correlation over groups needs at least 3 groups, got {n_groups}")
    if orderings is None:
        orderings, exact = orderings_for(
            n_groups, max_exact=max_exact, n_resamples=n_resamples, seed=seed
        )
    else:
        orderings = np.asarray(orderings)
        if orderings.ndim != 2 or orderings.shape[1] != n_groups:
            raise ValueError(f"orderings must be (P, {n_groups}), got {orderings.shape}")
        exact = False
    xs = _transform(x2, statistic)  # (M, G)
    ys = _transform(y3.reshape(n_rep * n_kpis, n_groups), statistic)  # (R*K, G)
    n_metrics = xs.shape[0]
    observed = np.clip(xs @ ys.T, -1.0, 1.0)  # (M, R*K)
    # The permuted correlations are computed in float32 (half the memory traffic, twice
    # the matrix-product speed); |r| within _PERM_TOL of the observed one counts as reaching
    # it, which absorbs float32 rounding of exact ties (the identity ordering, tied ranks)
    # and can only make the p-value larger (conservative).
    threshold = (np.abs(observed) - _PERM_TOL).astype(np.float32)
    xs0 = np.nan_to_num(xs).astype(np.float32)
    ys0_t = np.ascontiguousarray(np.nan_to_num(ys).T.astype(np.float32))  # (G, R*K)
    n_cols = ys0_t.shape[1]
    count = np.zeros(observed.shape, dtype=np.int64)
    # About 4M correlations per block (16 MB of float32), buffers reused across blocks.
    block = max(1, min(_BLOCK, 4_000_000 // max(1, n_metrics * n_cols)))
    buf = np.empty((block * n_metrics, n_cols), dtype=np.float32)
    hits = np.empty((block, n_metrics, n_cols), dtype=bool)
    for start in range(0, orderings.shape[0], block):
        chunk = orderings[start : start + block]
        size = chunk.shape[0]
        permuted = xs0[:, chunk].transpose(1, 0, 2).reshape(size * n_metrics, n_groups)
        out = buf[: size * n_metrics]
        np.matmul(permuted, ys0_t, out=out)
        np.abs(out, out=out)
        flag = hits[:size]
        np.greater_equal(out.reshape(size, n_metrics, n_cols), threshold[None], out=flag)
        count += flag.sum(axis=0, dtype=np.int64)
    if exact:
        p = count / orderings.shape[0]
        n_orderings = orderings.shape[0]
    else:
        p = (1.0 + count) / (1.0 + orderings.shape[0])
        n_orderings = orderings.shape[0] + 1
    p = np.where(np.isfinite(observed), np.minimum(p, 1.0), 1.0)
    r_out = observed.reshape(n_metrics, n_rep, n_kpis).transpose(1, 0, 2)
    p_out = p.reshape(n_metrics, n_rep, n_kpis).transpose(1, 0, 2)
    return PermutationResult(r=r_out, p=p_out, exact=exact, n_orderings=n_orderings)


def min_exact_pvalue(n_groups: int) -> float:
    """Smallest two-sided exact permutation p-value with G groups (no ties): ``2 / G!``."""
    if n_groups < 3:
        raise ValueError(f"need at least 3 groups, got {n_groups}")
    return min(1.0, 2.0 / math.factorial(n_groups))


def fisher_ci(r: np.ndarray, n: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Fisher-z confidence interval of a correlation from ``n`` pairs.

    :math:`\\tanh(\\operatorname{atanh} r \\pm z_{1-\\alpha/2} / \\sqrt{n - 3})`, the interval
    pingouin reports (``pingouin.compute_esci(eftype="r")``), computed here without its
    two-decimal rounding. For Spearman's :math:`\\rho` it is the usual approximation
    (same standard error). NaN where ``r`` is NaN or ``n <= 3``; ``|r| = 1`` gives a
    degenerate interval at ``r``.

    Parameters
    ----------
    r : ndarray(float)
        Correlations, any shape.
    n : int
        Number of (x, y) pairs (groups).
    confidence : float
        Two-sided coverage in (0, 1).
    """
    from scipy.stats import norm

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    r = np.asarray(r, dtype=np.float64)
    if n <= 3:
        nan = np.full(r.shape, np.nan)
        return nan, nan.copy()
    z_crit = norm.ppf(0.5 + confidence / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.arctanh(np.clip(r, -1.0, 1.0))
    half = z_crit / math.sqrt(n - 3)
    low = np.tanh(z - half)
    high = np.tanh(z + half)
    return low, high
