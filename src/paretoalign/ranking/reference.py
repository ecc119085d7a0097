"""Readable NumPy reference of :func:`paretoalign.ranking.topk` (the specification).

It forms the full Q x M score matrix and sorts every row, so it is meant for tests and
small inputs only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["topk_numpy"]


def topk_numpy(
    queries: np.ndarray,
    items: np.ndarray,
    k: int,
    *,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
    terms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Top-``k`` items per query by a full sort: the reference of ``topk``.

    Scores are :math:`s_{qj} = \langle \mathrm{queries}_q, \mathrm{items}_j \rangle
    + v_{qj}` computed in float64: the dense :math:`Q \times M` matrix of inner
    products, plus the value :math:`v_{qj}` (as float64) at each entry ``(q, j)`` of the
    ``terms`` lists (zero elsewhere). Ineligible entries (item 0, excluded items, with
    or without a term) then get :math:`-\infty`; each row is sorted with ``np.lexsort`` on the keys
    ``(id, -score)`` (the last key is primary): best score first, ties to the lower id.
    The first ``k`` entries are returned; entries that are :math:`-\infty` (fewer than
    ``k`` eligible items) become id ``-1`` with score ``-inf``.

    Parameters
    ----------
    queries : ndarray(float32, shape=(Q, D))
    items : ndarray(float32, shape=(M, D))
        Row 0 is padding and never returned.
    k : int
        ``1 <= k <= M - 1``.
    exclude : (ndarray(int64, shape=(Q + 1,)), ndarray(int32, shape=(nnz,))), optional
        CSR lists of item ids never returned for each query.
    terms : (ptr, ids, values), optional
        ``ptr``: ndarray(int64, shape=(Q + 1,)); ``ids``: ndarray(int32, shape=(nnz,));
        ``values``: ndarray(float32, shape=(nnz,)).
        CSR lists of (item id, value) pairs added to each query's scores; the ids of one
        query must be distinct (not checked here: a repeated id would count once).

    Returns
    -------
    scores : ndarray(float32, shape=(Q, k))
        The float64 scores rounded to float32.
    ids : ndarray(int32, shape=(Q, k))

    Notes
    -----
    Sorting happens on the float64 scores. When every product and partial sum, and every
    sum with a term value, is exact in float32 (for example small-integer inputs and
    values that are small multiples of a power of two), float32 and float64 scores
    coincide and the output equals ``topk``'s bit for bit; otherwise the two can differ
    where scores agree to within rounding.
    """
    queries = np.asarray(queries)
    items = np.asarray(items)
    n_queries, n_items = queries.shape[0], items.shape[0]
    if not 1 <= k <= n_items - 1:
        raise ValueError(f"k must be in [1, M - 1] = [1, {n_items - 1}], got {k}")
    scores = queries.astype(np.float64) @ items.astype(np.float64).T
    if terms is not None:
        term_ptr, term_ids, term_values = terms
        rows = np.repeat(np.arange(n_queries), np.diff(term_ptr))
        scores[rows, term_ids] += np.asarray(term_values, dtype=np.float64)
    scores[:, 0] = -np.inf
    if exclude is not None:
        ptr, ids = exclude
        rows = np.repeat(np.arange(n_queries), np.diff(ptr))
        scores[rows, ids] = -np.inf
    item_ids = np.broadcast_to(np.arange(n_items), scores.shape)
    order = np.lexsort((item_ids, -scores), axis=-1)[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1)
    top_ids = order.astype(np.int32)
    missing = np.isneginf(top_scores)
    top_ids[missing] = -1
    return top_scores.astype(np.float32), top_ids
