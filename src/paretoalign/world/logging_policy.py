"""The shop's logging recommender: co-visitation + category popularity, with random slates.

The logging policy is learned from the shop's past: ``logging_history_sessions`` sessions
served by latent-popularity slates (:func:`popularity_table`) give click counts (item
popularity) and co-visitation counts (pairs of clicks at most ``covis_window`` clicks
apart in a session, both directions). For page item ``i`` the logging slate
(:func:`build_slate_table`) puts co-visitation neighbours of ``i`` (by count, then id) on
``round(K * covis_share)`` positions spread over the slate and the most popular other
items of ``i``'s category on the rest; whichever list runs out is continued by the other,
then by global popularity. Items are distinct and never ``i`` itself.

A share ``logging_random_share`` of page views gets a uniformly random slate instead, so
the logging propensity of item ``j`` at position ``k`` is
``(1 - eps) * 1[table[i, k] == j] + eps / N``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from paretoalign.world.online import SessionState


# ---------------------------------------------------------------------- co-visitation
def covisitation(
    session_ptr: np.ndarray, aid: np.ndarray, n_items: int, window: int, top: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top co-visited items per item from click sequences (CSR).

    Counts the pairs ``(aid[e], aid[e+lag])`` and ``(aid[e+lag], aid[e])`` of the same
    session for ``lag = 1..window`` with distinct items, and keeps for every item its
    ``top`` partners by count (ties: lower id first).

    Returns
    -------
    ptr : int64[N+2]   neighbours of item i are ``ids[ptr[i]:ptr[i+1]]``
    ids : int32[nnz]
    counts : int64[nnz]
    """
    aid = np.asarray(aid, dtype=np.int64)
    session_ptr = np.asarray(session_ptr, dtype=np.int64)
    sess = np.repeat(np.arange(len(session_ptr) - 1), np.diff(session_ptr))
    width = n_items + 1
    keys = []
    for lag in range(1, window + 1):
        if lag >= len(aid):
            break
        a, b = aid[:-lag], aid[lag:]
        ok = (sess[:-lag] == sess[lag:]) & (a != b)
        keys.append(a[ok] * width + b[ok])
        keys.append(b[ok] * width + a[ok])
    if keys:
        uniq, cnt = np.unique(np.concatenate(keys), return_counts=True)
    else:
        uniq, cnt = np.zeros(0, np.int64), np.zeros(0, np.int64)
    src, dst = uniq // width, uniq % width
    order = np.lexsort((dst, -cnt, src))
    src, dst, cnt = src[order], dst[order], cnt[order]
    starts = np.searchsorted(src, np.arange(width + 1))
    rank = np.arange(len(src)) - starts[src] if len(src) else np.zeros(0, np.int64)
    keep = rank < top
    src, dst, cnt = src[keep], dst[keep], cnt[keep]
    ptr = np.zeros(width + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=width), out=ptr[1:])
    return ptr, dst.astype(np.int32), cnt.astype(np.int64)


def popularity_order(score: np.ndarray) -> np.ndarray:
    """Item ids 1..N by descending ``score[1:]`` (ties: lower id first), int32[N]."""
    ids = np.arange(1, len(score), dtype=np.int64)
    return ids[np.lexsort((ids, -np.asarray(score, dtype=np.float64)[1:]))].astype(np.int32)


def category_rankings(category: np.ndarray, order: np.ndarray, n_categories: int):
    """Items of each category in the global order ``order``: ``(ptr int64[C+1], ids int32)``."""
    cats = category[order]
    pos = np.argsort(cats, kind="stable")
    ptr = np.zeros(n_categories + 1, np.int64)
    np.cumsum(np.bincount(cats, minlength=n_categories), out=ptr[1:])
    return ptr, order[pos].astype(np.int32)


# ---------------------------------------------------------------------- slate table
@njit(cache=True)
def _slate_table_kernel(item_cat, nbr_ptr, nbr_ids, cat_ptr, cat_ranked, global_ranked, kk, n_cv):
    n = item_cat.shape[0] - 1
    table = np.zeros((n + 1, kk), np.int32)
    for k in range(kk):
        table[0, k] = global_ranked[k]
    for i in range(1, n + 1):
        c = item_cat[i]
        a = nbr_ptr[i]
        a_end = nbr_ptr[i + 1]
        p = cat_ptr[c]
        p_end = cat_ptr[c + 1]
        gpos = 0
        for k in range(kk):
            want_cv = (k * n_cv) % kk < n_cv
            placed = False
            for attempt in range(3):
                src = attempt if want_cv else (1 - attempt if attempt < 2 else 2)
                while not placed:
                    if src == 0:
                        if a >= a_end:
                            break
                        cand = nbr_ids[a]
                        a += 1
                    elif src == 1:
                        if p >= p_end:
                            break
                        cand = cat_ranked[p]
                        p += 1
                    else:
                        if gpos >= n:
                            break
                        cand = global_ranked[gpos]
                        gpos += 1
                    if cand == i:
                        continue
                    dup = False
                    for m in range(k):
                        if table[i, m] == cand:
                            dup = True
                            break
                    if not dup:
                        table[i, k] = cand
                        placed = True
                if placed:
                    break
    return table


def build_slate_table(
    item_cat: np.ndarray,
    nbr_ptr: np.ndarray,
    nbr_ids: np.ndarray,
    cat_ptr: np.ndarray,
    cat_ranked: np.ndarray,
    global_ranked: np.ndarray,
    slate_size: int,
    covis_share: float,
) -> np.ndarray:
    """The logging slate of every page item, int32[N+1, K] (row 0: global top K).

    Position ``k`` (0-based) takes a co-visitation neighbour when ``(k * n_cv) % K <
    n_cv`` with ``n_cv = round(K * covis_share)``, otherwise the next most popular item of
    the page item's category; an exhausted source is continued by the other one, then by
    ``global_ranked``. See :func:`build_slate_table_reference`.
    """
    n = len(item_cat) - 1
    if slate_size >= n:
        raise ValueError(f"slate_size={slate_size} must be < n_items={n}")
    if len(global_ranked) != n:
        raise ValueError("global_ranked must list every item once")
    n_cv = round(slate_size * covis_share)
    return _slate_table_kernel(
        np.ascontiguousarray(item_cat, dtype=np.int32),
        np.ascontiguousarray(nbr_ptr, dtype=np.int64),
        np.ascontiguousarray(nbr_ids, dtype=np.int32),
        np.ascontiguousarray(cat_ptr, dtype=np.int64),
        np.ascontiguousarray(cat_ranked, dtype=np.int32),
        np.ascontiguousarray(global_ranked, dtype=np.int32),
        int(slate_size),
        int(n_cv),
    )


def build_slate_table_reference(
    item_cat, nbr_ptr, nbr_ids, cat_ptr, cat_ranked, global_ranked, slate_size, covis_share
) -> np.ndarray:
    """Plain-Python reference of :func:`build_slate_table`."""
    n = len(item_cat) - 1
    n_cv = round(slate_size * covis_share)
    table = np.zeros((n + 1, slate_size), np.int32)
    table[0] = global_ranked[:slate_size]
    for i in range(1, n + 1):
        c = int(item_cat[i])
        sources = [
            list(nbr_ids[nbr_ptr[i] : nbr_ptr[i + 1]]),
            list(cat_ranked[cat_ptr[c] : cat_ptr[c + 1]]),
            list(global_ranked),
        ]
        cursor = [0, 0, 0]
        row: list[int] = []
        for k in range(slate_size):
            order = [0, 1, 2] if (k * n_cv) % slate_size < n_cv else [1, 0, 2]
            for src in order:
                found = None
                while cursor[src] < len(sources[src]):
                    cand = int(sources[src][cursor[src]])
                    cursor[src] += 1
                    if cand != i and cand not in row:
                        found = cand
                        break
                if found is not None:
                    row.append(found)
                    break
        table[i] = row
    return table


def popularity_table(
    item_cat: np.ndarray, score: np.ndarray, n_categories: int, slate_size: int
) -> np.ndarray:
    """Slates of the most popular (by ``score``) other items of the page item's category."""
    order = popularity_order(score)
    cat_ptr, cat_ranked = category_rankings(item_cat, order, n_categories)
    empty_ptr = np.zeros(len(item_cat) + 1, np.int64)
    return build_slate_table(
        item_cat, empty_ptr, np.zeros(0, np.int32), cat_ptr, cat_ranked, order, slate_size, 0.0
    )


# ---------------------------------------------------------------------- policies (online)
class LoggingPolicy:
    """The logging policy as an online policy: ``policy(state) -> int32[B, K]``.

    Row ``b`` gets ``table[state.current_item[b]]``, or with probability ``random_share``
    a uniformly random slate of distinct items (from its own generator, seeded by
    ``seed``).
    """

    def __init__(self, table: np.ndarray, random_share: float, seed: int) -> None:
        self.table = table
        self.random_share = float(random_share)
        self.n_items = table.shape[0] - 1
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def __call__(self, state: SessionState) -> np.ndarray:
        cur = np.asarray(state.current_item)
        slates = self.table[cur]
        if self.random_share > 0:
            rows = np.flatnonzero(self.rng.random(len(cur)) < self.random_share)
            k = self.table.shape[1]
            for r in rows:
                slates[r] = self.rng.choice(self.n_items, size=k, replace=False) + 1
        return slates


class PopularityPolicy:
    """The same ``K`` globally most popular items for every row (a trivial baseline)."""

    def __init__(self, ranked: np.ndarray, slate_size: int) -> None:
        self.slate = np.ascontiguousarray(ranked[:slate_size], dtype=np.int32)

    def __call__(self, state: SessionState) -> np.ndarray:
        return np.broadcast_to(self.slate, (len(state.shopper_id), len(self.slate))).copy()
