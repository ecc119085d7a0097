"""Baselines: most-popular and item-to-item co-visitation, fitted from a `SessionLog`.

Both follow the recommender protocol shared by every arm of the experiment::

    rec.fit(log)                         # returns rec
    rec.recommend(history, k)            # int32[B, L] left-padded -> int32[B, k]

``recommend`` returns ``k`` distinct item ids per row, best first, never the padding id 0;
equal scores rank the lower item id first (the project's tie rule). Already seen items
are *not* excluded (re-clicks are common, and MultiTRON's protocol does not exclude them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from paretoalign.data.sessionlog import CLICK, SessionLog

__all__ = ["CovisitationRecommender", "PopularityRecommender", "check_history"]

#: Co-visitation scores are rounded to this many decimals before ranking.
_SCORE_DECIMALS = 10


def check_history(history: Any, k: Any, n_items: int) -> np.ndarray:
    """Validate a recommend() call; return ``history`` as C-contiguous int64 ``[B, L]``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if not 1 <= k <= n_items:
        raise ValueError(f"k must be in 1..{n_items} (the catalogue size), got {k}")
    history = np.asarray(history)
    if history.ndim != 2:
        raise ValueError(f"history must be 2-D [B, L], got shape {history.shape}")
    if not np.issubdtype(history.dtype, np.integer):
        raise TypeError(f"history must hold integer item ids, got dtype {history.dtype}")
    if history.size and (history.min() < 0 or history.max() > n_items):
        raise ValueError(f"history holds item ids outside 0..{n_items}")
    return np.ascontiguousarray(history, dtype=np.int64)


def _top_per_row(
    rows: np.ndarray, cols: np.ndarray, scores: np.ndarray, n_rows: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``(col, score)`` entries of every row of a sparse list of entries.

    Entries are ranked by score descending, then column ascending. Returns ``ids``
    ``int64[n_rows, k]`` and ``counts`` ``int64[n_rows]`` (entries found, ``<= k``);
    slots past ``counts`` hold -1.
    """
    order = np.lexsort((cols, -scores, rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    ids = np.full((n_rows, k), -1, np.int64)
    ids[rows[keep], rank[keep]] = cols[keep]
    counts = np.minimum(np.bincount(rows, minlength=n_rows), k)
    return ids, counts


class PopularityRecommender:
    """Recommend the ``k`` most-clicked training items to everyone.

    Attributes (after :meth:`fit`)
    ------------------------------
    n_items : int
    counts : ndarray(int64, shape=(N + 1,))
        Click counts per item (``counts[0] = 0``).
    ranking : ndarray(int64, shape=(N,))
        Items ``1..N`` by count descending, then id ascending.
    """

    def __init__(self) -> None:
        self.n_items = 0
        self.counts = np.zeros(1, np.int64)
        self.ranking = np.zeros(0, np.int64)

    def fit(self, log: SessionLog) -> PopularityRecommender:
        """Count clicks per item in ``log``."""
        if not isinstance(log, SessionLog):
            raise TypeError(f"log must be a SessionLog, got {type(log).__name__}")
        self.n_items = log.n_items
        clicked = log.aid[log.type == CLICK].astype(np.int64)
        self.counts = np.bincount(clicked, minlength=log.n_items + 1).astype(np.int64)
        self.counts[0] = 0
        items = np.arange(1, log.n_items + 1, dtype=np.int64)
        self.ranking = items[np.lexsort((items, -self.counts[1:]))]
        return self

    def recommend(self, history: Any, k: int) -> np.ndarray:
        """The same top-``k`` list for every row of ``history`` (int32 ``[B, k]``)."""
        history = check_history(history, k, self.n_items)
        top = self.ranking[:k].astype(np.int32)
        return np.ascontiguousarray(np.broadcast_to(top, (history.shape[0], k)))


class CovisitationRecommender:
    """Item-to-item co-visitation of clicks, weighted towards the latest clicks.

    Fit: for every session's click sequence ``c_1..c_n``, every ordered pair
    ``(c_i, c_j)`` with ``0 < |i - j| <= window`` adds 1 to ``C[c_i, c_j]`` (repeated
    clicks give self-pairs). With ``normalise`` each row is divided by its sum, so
    ``C[a, b]`` estimates ``P(b | a)`` within the window. Each row keeps its
    ``max_neighbours`` largest entries.

    Recommend: with the last ``n_recent`` clicks ``a_0`` (latest), ``a_1``, ... of a
    history, ``score(j) = sum_r decay^r C[a_r, j]``, rounded to 10 decimals so that
    equal sums tie regardless of summation order; the top ``k`` by score (ties: lower id). Rows with fewer than ``k`` scored items are filled with the most popular items
    not yet in the list.

    Parameters
    ----------
    window : int
        Largest distance between co-visited clicks.
    n_recent : int
        Clicks of the history that vote.
    decay : float
        Weight ratio between consecutive votes (1: equal weights).
    max_neighbours : int
        Entries kept per item.
    normalise : bool
        Row-normalise the co-visitation counts.
    """

    def __init__(
        self,
        window: int = 3,
        n_recent: int = 3,
        decay: float = 0.5,
        max_neighbours: int = 100,
        normalise: bool = True,
    ) -> None:
        if window < 1 or n_recent < 1 or max_neighbours < 1:
            raise ValueError("window, n_recent and max_neighbours must be >= 1")
        if not 0 < decay <= 1:
            raise ValueError(f"decay must be in (0, 1], got {decay}")
        self.window = int(window)
        self.n_recent = int(n_recent)
        self.decay = float(decay)
        self.max_neighbours = int(max_neighbours)
        self.normalise = bool(normalise)
        self.popularity = PopularityRecommender()
        self.n_items = 0
        self.matrix = sp.csr_matrix((1, 1), dtype=np.float64)

    def fit(self, log: SessionLog) -> CovisitationRecommender:
        """Count co-visited click pairs of ``log`` (see the class docstring)."""
        self.popularity.fit(log)
        self.n_items = n = log.n_items
        is_click = log.type == CLICK
        items = log.aid[is_click].astype(np.int64)
        session = log.session_index()[is_click]
        src, dst = [], []
        for offset in range(1, self.window + 1):
            same = session[offset:] == session[:-offset]
            a, b = items[:-offset][same], items[offset:][same]
            src += [a, b]
            dst += [b, a]
        src_all = np.concatenate(src) if src else np.zeros(0, np.int64)
        dst_all = np.concatenate(dst) if dst else np.zeros(0, np.int64)
        counts = sp.coo_matrix(
            (np.ones(len(src_all)), (src_all, dst_all)), shape=(n + 1, n + 1)
        ).tocsr()
        counts.sum_duplicates()
        if self.normalise:
            totals = np.asarray(counts.sum(axis=1)).ravel()
            counts = sp.diags(1.0 / np.where(totals > 0, totals, 1.0)) @ counts
            counts = counts.tocsr()
        self.matrix = self._prune(counts.tocoo())
        return self

    def _prune(self, coo: sp.coo_matrix) -> sp.csr_matrix:
        """Keep the ``max_neighbours`` largest entries of every row (ties: lower column)."""
        n_rows = coo.shape[0]
        rows = coo.row.astype(np.int64)
        cols = coo.col.astype(np.int64)
        order = np.lexsort((cols, -coo.data, rows))
        rows, cols, data = rows[order], cols[order], coo.data[order]
        starts = np.searchsorted(rows, np.arange(n_rows))
        keep = (np.arange(len(rows)) - starts[rows]) < self.max_neighbours
        return sp.csr_matrix((data[keep], (rows[keep], cols[keep])), shape=coo.shape)

    def recommend(self, history: Any, k: int) -> np.ndarray:
        """Top-``k`` co-visited items for each left-padded history (int32 ``[B, k]``)."""
        history = check_history(history, k, self.n_items)
        n_rows = history.shape[0]
        # The last n_recent real clicks of each row, latest first, with weights decay^r
        # (r counts real clicks only, so stray zeros inside a row are skipped).
        latest_first = history[:, ::-1]
        real = latest_first > 0
        rank = np.cumsum(real, axis=1) - 1
        vote = real & (rank < self.n_recent)
        rows = np.broadcast_to(np.arange(n_rows)[:, None], history.shape)[vote]
        votes = sp.csr_matrix(
            (self.decay ** rank[vote], (rows, latest_first[vote])),
            shape=(n_rows, self.n_items + 1),
        )
        scores = (votes @ self.matrix).tocoo()
        # Round away summation-order noise so that equal scores tie exactly (-> lower id).
        values = np.round(scores.data, _SCORE_DECIMALS)
        positive = values > 0
        ids, found = _top_per_row(
            scores.row[positive].astype(np.int64),
            scores.col[positive].astype(np.int64),
            values[positive],
            n_rows,
            k,
        )
        if (found < k).any():
            ids = self._fill_with_popular(ids, found, k)
        return ids.astype(np.int32)

    def _fill_with_popular(self, ids: np.ndarray, found: np.ndarray, k: int) -> np.ndarray:
        """Append the most popular items not already listed until every row has ``k``."""
        n_rows = ids.shape[0]
        popular = np.broadcast_to(self.popularity.ranking[:k], (n_rows, k))
        candidates = np.concatenate([ids, popular], axis=1)  # -1 = empty slot
        width = candidates.shape[1]
        # Duplicates: sort each row's values (stable by position) and flag repeats.
        order = np.argsort(candidates, axis=1, kind="stable")
        sorted_values = np.take_along_axis(candidates, order, axis=1)
        repeat = np.zeros_like(candidates, dtype=bool)
        repeat[:, 1:] = sorted_values[:, 1:] == sorted_values[:, :-1]
        duplicate = np.zeros_like(repeat)
        np.put_along_axis(duplicate, order, repeat, axis=1)
        usable = (candidates > 0) & ~duplicate
        # Keep the usable entries in their original order, first k of them.
        position = np.where(usable, np.arange(width)[None, :], width + np.arange(width)[None, :])
        first = np.argsort(position, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(candidates, first, axis=1)
