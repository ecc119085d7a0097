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
) -> tuple[np.ndarray, np.ndarray]:
    r"""Top-``k`` items per query by a full sort: the reference of ``topk``.

    Scores are :math:`s_{qj} = \langle \mathrm{queries}_q, \mathrm{items}_j \rangle`
    computed in float64. Ineligible entries (item 0, excluded items) get
    :math:`-\infty`; each row is then sorted with ``np.lexsort`` on the keys
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

    Returns
    -------
    scores : ndarray(float32, shape=(Q, k))
        The float64 scores rounded to float32.
    ids : ndarray(int32, shape=(Q, k))

    Notes
    -----
    Sorting happens on the float64 scores. When every product and partial sum is exact
    in float32 (for example small-integer inputs), float32 and float64 scores coincide
    and the output equals ``topk``'s bit for bit; otherwise the two can differ where
    scores agree to within rounding.
    """
    queries = np.asarray(queries)
    items = np.asarray(items)
    n_queries, n_items = queries.shape[0], items.shape[0]
    if not 1 <= k <= n_items - 1:
        raise ValueError(f"k must be in [1, M - 1] = [1, {n_items - 1}], got {k}")
    scores = queries.astype(np.float64) @ items.astype(np.float64).T
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
