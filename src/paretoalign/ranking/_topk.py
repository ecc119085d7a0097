"""Exact top-k retrieval by inner product: the checked façade over the C++ kernel.

The kernel lives in ``fastmetrics/src/register_topk.cpp`` (private module
``paretoalign._fastmetrics``); :func:`paretoalign.ranking.reference.topk_numpy` is the
readable NumPy specification it is tested against.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from paretoalign import _fastmetrics

__all__ = ["topk"]

#: Largest finite float32; scores must stay well below it (no inf/NaN from overflow).
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Rows per float64 block when bounding row norms (keeps the temporary small).
_NORM_BLOCK_ROWS = 65_536

# ============================================================================ checks ==


def _as_count(name: str, value: Any) -> int:
    """``value`` as a Python int (any integer type, never bool), else TypeError."""
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an integer, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def _check_matrix(name: str, a: Any) -> np.ndarray:
    """A non-empty, 2-D, C-contiguous float32 ndarray, else TypeError/ValueError."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {a.dtype}")
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional, got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(
            f"{name} must be C-contiguous (no hidden copy is made); "
            "pass numpy.ascontiguousarray(...)"
        )
    return a


def _max_abs_finite(name: str, a: np.ndarray) -> float:
    """max |a| as a float; ValueError naming the first NaN/inf entry if there is one.

    Two reductions without temporaries: NaN propagates through min/max, and +-inf shows
    as an infinite extreme, so the (rare) element-wise search runs only on bad input.
    """
    lo, hi = float(a.min()), float(a.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        row, col = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(
            f"{name} must be finite: {name}[{row}, {col}] = {a[row, col]} "
            "(NaN and +-inf are not allowed)"
        )
    return max(-lo, hi)


def _max_row_norm(a: np.ndarray) -> float:
    """max_i ||a[i]||_2 in float64, computed in blocks of rows."""
    best = 0.0
    for start in range(0, a.shape[0], _NORM_BLOCK_ROWS):
        block = a[start : start + _NORM_BLOCK_ROWS].astype(np.float64)
        best = max(best, float(np.sqrt(np.einsum("ij,ij->i", block, block).max())))
    return best


def _check_no_overflow(
    queries: np.ndarray,
    items: np.ndarray,
    max_abs_q: float,
    max_abs_x: float,
    max_abs_term: float = 0.0,
) -> None:
    """ValueError if some score (or partial sum of one) could overflow float32.

    Every partial sum of q . x is bounded by ||q||_2 ||x||_2 (Cauchy-Schwarz), itself at
    most D max|q| max|x|; a score with a term adds at most ``max_abs_term`` to that. The
    cheap bound is tried first; the norm bound only when it fails. Half of float32's
    range is kept as margin for rounding.
    """
    limit = _FLOAT32_MAX / 2
    d = queries.shape[1]
    bound = d * max_abs_q * max_abs_x + max_abs_term
    if bound < limit:
        return
    dot_bound = _max_row_norm(queries) * _max_row_norm(items)
    if dot_bound + max_abs_term >= limit:
        what = "max ||query|| * max ||item||"
        if max_abs_term:
            what += " + max |term value|"
        raise ValueError(
            f"scores may overflow float32: {what} = {dot_bound + max_abs_term:.3g} "
            f">= {limit:.3g}; rescale the inputs"
        )


def _check_csr(
    what: str, arrays: dict[str, tuple[Any, type]], n_queries: int, n_items: int, first_id: int
) -> tuple[np.ndarray, ...]:
    """The checks both CSR arguments share; returns their arrays in ``arrays``' order.

    ``arrays`` maps a field name to ``(array, dtype)``; the first two are ``ptr`` and
    ``ids``, further ones (the terms' ``values``) must have one entry per id. Raises a
    TypeError/ValueError naming ``what`` (``"exclude"``, ``"terms"``), the field and the
    first bad position: wrong type, dtype, shape or memory layout; ``ptr`` without
    ``Q + 1`` entries, not starting at 0, decreasing or not ending at ``len(ids)``; an id
    outside ``[first_id, n_items)``.
    """
    for name, (arr, dtype) in arrays.items():
        if not isinstance(arr, np.ndarray):
            raise TypeError(f"{what} {name} must be a numpy.ndarray, got {type(arr).__name__}")
        if arr.dtype != dtype:
            raise TypeError(f"{what} {name} must have dtype {np.dtype(dtype)}, got {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{what} {name} must be 1-dimensional, got shape {arr.shape}")
        if not arr.flags.c_contiguous:
            raise ValueError(f"{what} {name} must be contiguous")
    ptr, ids, *others = (arr for arr, _ in arrays.values())
    if ptr.shape[0] != n_queries + 1:
        raise ValueError(
            f"{what} ptr must have Q + 1 = {n_queries + 1} entries, got {ptr.shape[0]}"
        )
    if ptr[0] != 0:
        raise ValueError(f"{what} ptr[0] must be 0, got {ptr[0]}")
    steps = np.diff(ptr)
    if (steps < 0).any():
        q = int(np.flatnonzero(steps < 0)[0])
        raise ValueError(f"{what} ptr decreases at query {q}: ptr[{q}] > ptr[{q + 1}]")
    if ptr[-1] != ids.shape[0]:
        raise ValueError(f"{what} ptr[-1] = {ptr[-1]} must equal len(ids) = {ids.shape[0]}")
    for name, arr in zip(list(arrays)[2:], others, strict=True):
        if arr.shape[0] != ids.shape[0]:
            raise ValueError(
                f"{what} {name} must have len(ids) = {ids.shape[0]} entries, got {arr.shape[0]}"
            )
    bad = (ids < first_id) | (ids >= n_items)
    if bad.any():
        e = int(np.flatnonzero(bad)[0])
        q = int(np.searchsorted(ptr, e, side="right") - 1)
        note = " (item 0 is padding)" if first_id == 1 else ""
        raise ValueError(
            f"{what} ids[{e}] = {ids[e]} (query {q}) is outside the item range "
            f"[{first_id}, {n_items}){note}"
        )
    return (ptr, ids, *others)


def _check_exclude(exclude: Any, n_queries: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate the CSR exclusion lists; returns (ptr, ids) with ids sorted per query.

    The caller's arrays are never modified: if some query's ids are not sorted, a
    sorted copy is returned.
    """
    if not isinstance(exclude, tuple | list) or len(exclude) != 2:
        raise TypeError("exclude must be a pair (ptr int64[Q+1], ids int32[nnz]) or None")
    ptr, ids = _check_csr(
        "exclude", {"ptr": (exclude[0], np.int64), "ids": (exclude[1], np.int32)},
        n_queries, n_items, first_id=0,
    )  # fmt: skip
    if ids.shape[0] == 0:
        return ptr, ids
    descending = np.diff(ids) < 0
    row_ends = ptr[1:-1]
    descending[row_ends[(row_ends > 0) & (row_ends < ids.shape[0])] - 1] = False
    if descending.any():
        rows = np.repeat(np.arange(n_queries), np.diff(ptr))
        ids = np.ascontiguousarray(ids[np.lexsort((ids, rows))])
    return ptr, ids


def _check_terms(terms: Any, n_queries: int, n_items: int) -> tuple[np.ndarray, ...]:
    """Validate the CSR term lists; returns (ptr, ids, values, max |value|).

    Checked here: types, dtypes, shapes, offsets, the id range (``[1, M)``) and finite
    values. The kernel checks that each query's ids are distinct before it starts (and
    sorts copies: the caller's arrays are never modified).
    """
    if not isinstance(terms, tuple | list) or len(terms) != 3:
        raise TypeError(
            "terms must be a triple (ptr int64[Q+1], ids int32[nnz], values float32[nnz]) or None"
        )
    fields = {"ptr": np.int64, "ids": np.int32, "values": np.float32}
    ptr, ids, values = _check_csr(
        "terms", {name: (arr, dtype) for (name, dtype), arr in zip(fields.items(), terms)},
        n_queries, n_items, first_id=1,
    )  # fmt: skip
    if ids.shape[0] == 0:
        return ptr, ids, values, 0.0
    lo, hi = float(values.min()), float(values.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        e = int(np.flatnonzero(~np.isfinite(values))[0])
        q = int(np.searchsorted(ptr, e, side="right") - 1)
        raise ValueError(
            f"terms values must be finite: values[{e}] = {values[e]} (query {q}) "
            "(NaN and +-inf are not allowed)"
        )
    return ptr, ids, values, max(-lo, hi)


def _check_threads(threads: Any) -> int:
    if threads is None:
        return int(_fastmetrics.topk_max_threads())
    threads = _as_count("threads", threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return threads


def checked_topk_arguments(
    queries: Any, items: Any, k: Any, exclude: Any, threads: Any, terms: Any = None
) -> dict[str, Any]:
    """All checks of :func:`topk`; returns the kernel's keyword arguments."""
    queries = _check_matrix("queries", queries)
    items = _check_matrix("items", items)
    if queries.shape[1] != items.shape[1]:
        raise ValueError(
            f"queries and items must have the same dimension D, got {queries.shape[1]} "
            f"and {items.shape[1]}"
        )
    n_items = items.shape[0]
    if n_items < 2:
        raise ValueError("items must have at least 2 rows (row 0 is padding, never returned)")
    if n_items > np.iinfo(np.int32).max:
        raise ValueError("at most 2**31 - 1 items (ids are int32)")
    k = _as_count("k", k)
    if not 1 <= k <= n_items - 1:
        raise ValueError(
            f"k must be in [1, M - 1] = [1, {n_items - 1}] (item 0 is never returned), got {k}"
        )
    max_abs_q = _max_abs_finite("queries", queries)
    max_abs_x = _max_abs_finite("items", items)
    term_ptr = term_ids = term_values = None
    max_abs_term = 0.0
    if terms is not None:
        term_ptr, term_ids, term_values, max_abs_term = _check_terms(
            terms, queries.shape[0], n_items
        )
    _check_no_overflow(queries, items, max_abs_q, max_abs_x, max_abs_term)
    ptr = ids = None
    if exclude is not None:
        ptr, ids = _check_exclude(exclude, queries.shape[0], n_items)
    args = {
        "queries": queries,
        "items": items,
        "k": k,
        "exclude_ptr": ptr,
        "exclude_ids": ids,
        "threads": _check_threads(threads),
    }
    if terms is not None:
        args.update(term_ptr=term_ptr, term_ids=term_ids, term_values=term_values)
    return args


# ======================================================================= public API ==


def topk(
    queries: np.ndarray,
    items: np.ndarray,
    k: int,
    *,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
    terms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact top-``k`` items per query by inner product, plus optional sparse terms.

    For query :math:`q` and item :math:`j \ge 1` the score is

    .. math:: s_{qj} = \langle \mathrm{queries}_q, \mathrm{items}_j \rangle + v_{qj}

    (float32 arithmetic), where :math:`v_{qj}` is the value of the pair :math:`(j, v)` in
    query :math:`q`'s ``terms`` list, and :math:`v_{qj} = 0` (no addition at all) for the
    items without a term. Row :math:`q` of the result lists the ``k`` eligible items
    first in the strict total order

    .. math:: (s, j) \prec (s', j') \iff s > s' \;\lor\; (s = s' \land j < j'),

    i.e. best score first and, among equal scores, the lower id first. Eligible means
    :math:`j \ne 0` (row 0 is the padding item) and :math:`j` not in the query's
    exclusion list; an excluded item is never returned, even with a term.

    Every inner product is the same chain of fused multiply-adds,
    :math:`a \leftarrow \mathrm{fma}(x_{jd}, q_d, a)` for :math:`d = 0, \dots, D-1` from
    :math:`a = +0`, and a term adds its value in one float32 addition,
    :math:`s_{qj} = \mathrm{fl}(a + v_{qj})`, whatever the SIMD path (AVX-512, AVX2 or
    scalar), the thread count or the other queries of the call; so the result is bitwise
    identical for any ``threads``. A term item's inner product has the same bits as it
    would have without the term.

    The kernel never forms the :math:`Q \times M` score matrix: a register-blocked
    micro-kernel holds a tile of scores (AVX-512: 6 items x 64 queries in 24 registers;
    AVX2: 4 x 24) while it runs the fma chain, then compares each query's best score in
    the tile with that query's current k-th best score; the rare survivors go to an
    exact insertion (or, for ``k > 64``, a candidate buffer). Threads take groups of
    about 256 queries dynamically. A query's term items are skipped by that pass and
    scored apart after each item block (while its rows are in cache), then offered to the
    query's list under the same order. Extra memory is :math:`O(Qk)` plus per-thread
    buffers of a few hundred KiB (with terms, also a sorted copy of one work unit's terms
    per thread); the GIL is released while it runs.

    Parameters
    ----------
    queries : ndarray(float32, shape=(Q, D)), C-contiguous
        Query vectors (for example session states), ``Q >= 1``, ``D >= 1``.
    items : ndarray(float32, shape=(M, D)), C-contiguous
        Item vectors; row 0 is padding and never returned, so ``M >= 2``.
    k : int
        Number of results per query, ``1 <= k <= M - 1``.
    exclude : (ndarray(int64, shape=(Q + 1,)), ndarray(int32, shape=(nnz,))), optional
        Items never returned for each query, as CSR: the ids of query ``q`` are
        ``ids[ptr[q]:ptr[q + 1]]`` (any order, duplicates allowed, each in ``[0, M)``;
        for example the items a session has already seen). Not modified.
    terms : (ptr, ids, values), optional
        ``ptr``: ndarray(int64, shape=(Q + 1,)); ``ids``: ndarray(int32, shape=(nnz,));
        ``values``: ndarray(float32, shape=(nnz,)), all C-contiguous.
        Additive score terms per query, as CSR ``(ptr, ids, values)``: query ``q``'s
        pairs are ``ids[ptr[q]:ptr[q + 1]]`` with ``values[ptr[q]:ptr[q + 1]]`` (ids in
        ``[1, M)``, distinct within a query, in any order; values finite), for example
        a per-session boost of a few dozen items. ``None`` or an empty triple (all of
        ``ptr`` zero, ``nnz = 0``) gives the plain inner-product result, bit for bit.
        Not modified.
    threads : int, optional
        OpenMP threads (default: OpenMP's default, i.e. ``OMP_NUM_THREADS`` or the
        number of cores). The result is bitwise identical for every thread count.

    Returns
    -------
    scores : ndarray(float32, shape=(Q, k))
        Scores of the returned items, non-increasing along each row.
    ids : ndarray(int32, shape=(Q, k))
        Item ids in result order. When a query has fewer than ``k`` eligible items
        (ids ``1 .. M - 1`` not in its exclusion list), its trailing slots hold id ``-1``
        with score ``-inf`` (real scores are always finite, so the two never mix).

    Raises
    ------
    TypeError
        An input is not a numpy array, has the wrong dtype (no silent casts: queries,
        items and term values must be float32, ptr int64, ids int32), ``exclude`` is not
        a pair or ``terms`` not a triple, or ``k``/``threads`` is not an integer.
    ValueError
        Wrong number of dimensions, empty inputs, different ``D``, non-C-contiguous
        memory (no hidden copy; use ``numpy.ascontiguousarray``), NaN or +-inf entries,
        vectors (and term values) so large that a score could overflow float32
        (:math:`\max\|q\| \max\|x\| + \max|v|` must stay below half the float32
        range), ``k`` outside ``[1, M - 1]``, ``threads < 1``, malformed exclusion lists
        (``ptr`` not starting at 0, decreasing, not ending at ``nnz``; ids outside
        ``[0, M)``), or malformed terms (the same ``ptr`` rules, ``len(values) !=
        len(ids)``, ids outside ``[1, M)`` -- item 0 included --, an id twice in one
        query, NaN or +-inf values). Each message names the argument and the first bad
        position (for a duplicate: the query, the item and both positions).

    Notes
    -----
    Another summation order (NumPy's matmul, a BLAS) may differ from these scores in the
    last bits, so near-ties can order differently; for inputs whose products and partial
    sums (and sums with the term values) are exact in float32 (e.g. small integers) every
    order agrees and the result equals
    :func:`~paretoalign.ranking.reference.topk_numpy` exactly.

    Examples
    --------
    >>> import numpy as np
    >>> items = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    >>> queries = np.array([[1, 0], [2, 2]], dtype=np.float32)
    >>> scores, ids = topk(queries, items, 2)
    >>> ids.tolist(), scores.tolist()
    ([[1, 3], [3, 1]], [[1.0, 1.0], [4.0, 2.0]])

    A term of +1.5 on item 2 for the first query, none for the second:

    >>> ptr = np.array([0, 1, 1], dtype=np.int64)
    >>> terms = (ptr, np.array([2], dtype=np.int32), np.array([1.5], dtype=np.float32))
    >>> scores, ids = topk(queries, items, 2, terms=terms)
    >>> ids.tolist(), scores.tolist()
    ([[2, 1], [3, 1]], [[1.5, 1.0], [4.0, 2.0]])
    """
    args = checked_topk_arguments(queries, items, k, exclude, threads, terms)
    return _fastmetrics.topk_inner_product(**args)
