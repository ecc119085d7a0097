"""Small seeded session logs with planted sequential structure, for tests and benchmarks.

Not the simulated shop (:mod:`paretoalign.world`): a few lines of generative model whose
only purpose is to have something learnable with known shape, independent of the shop.

Items ``1..N`` fall into ``C`` equal categories; within a category and across categories
popularity is Zipf-distributed. Every item has one fixed *successor* in its category. A
session starts at a popular item and then, per click, follows the successor of the
current item with probability ``p_follow``, otherwise jumps to a popular item of the same
category (probability 1/2) or of any category. Each click is followed by a cart of the
same item with probability ``cart_rate``; at the end of the session each carted item is
ordered with probability ``order_rate``. Session lengths (clicks) are
``Geometric(1 / mean_clicks)`` (at least 1, mean ``mean_clicks``), capped at ``max_clicks``.
"""

from __future__ import annotations

import numpy as np

from paretoalign.data.sessionlog import CART, CLICK, ORDER, SessionLog

__all__ = ["synthetic_sessions"]


def _zipf_cdf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def synthetic_sessions(
    n_sessions: int,
    n_items: int,
    *,
    seed: int,
    n_categories: int = 20,
    mean_clicks: float = 8.0,
    max_clicks: int = 200,
    p_follow: float = 0.6,
    cart_rate: float = 0.1,
    order_rate: float = 0.4,
    zipf_exponent: float = 1.0,
) -> SessionLog:
    """Generate ``n_sessions`` sessions over ``n_items`` items (see the module docstring).

    Parameters
    ----------
    n_sessions, n_items : int
        Sizes; ``n_items`` must be a positive multiple of ``n_categories``.
    seed : int
        Same seed, same bytes.
    n_categories, mean_clicks, max_clicks, p_follow, cart_rate, order_rate, zipf_exponent
        Shape of the generative model.

    Returns
    -------
    SessionLog
        Events in time order (timestamps in ms, one second apart within a session).
    """
    if n_sessions < 0 or n_items < 1 or n_categories < 1 or n_items % n_categories:
        raise ValueError("need n_sessions >= 0 and n_items a positive multiple of n_categories")
    if not (0 <= p_follow <= 1 and 0 <= cart_rate <= 1 and 0 <= order_rate <= 1):
        raise ValueError("probabilities must lie in [0, 1]")
    if mean_clicks < 1 or max_clicks < 1:
        raise ValueError("mean_clicks and max_clicks must be >= 1")
    rng = np.random.default_rng(seed)
    per_category = n_items // n_categories
    category_cdf = _zipf_cdf(n_categories, zipf_exponent)
    local_cdf = _zipf_cdf(per_category, zipf_exponent)
    # One random cycle through the local ranks, shared by the categories.
    cycle = rng.permutation(per_category)
    next_local = np.empty(per_category, np.int64)
    next_local[cycle] = np.roll(cycle, -1)
    successor = np.zeros(n_items + 1, np.int64)
    item = np.arange(n_items, dtype=np.int64)
    successor[1:] = 1 + (item // per_category) * per_category + next_local[item % per_category]

    def popular_item(categories: np.ndarray) -> np.ndarray:
        rank = np.searchsorted(local_cdf, rng.random(len(categories)), side="right")
        return 1 + categories * per_category + np.minimum(rank, per_category - 1)

    n_clicks = np.minimum(rng.geometric(1.0 / mean_clicks, n_sessions), max_clicks)
    longest = int(n_clicks.max()) if n_sessions else 0
    clicks = np.zeros((n_sessions, longest), np.int64)
    category = np.searchsorted(category_cdf, rng.random(n_sessions), side="right")
    category = np.minimum(category, n_categories - 1)
    current = popular_item(category)
    for t in range(longest):
        if t > 0:
            u = rng.random(n_sessions)
            follow = u < p_follow
            same_category = (u >= p_follow) & (u < p_follow + (1 - p_follow) / 2)
            jump = rng.random(n_sessions)
            new_category = np.minimum(
                np.searchsorted(category_cdf, jump, side="right"), n_categories - 1
            )
            category = np.where(same_category | follow, (current - 1) // per_category, new_category)
            current = np.where(follow, successor[current], popular_item(category))
        clicks[:, t] = current

    # Events: each click, optionally followed by its cart; orders of carted items at the end.
    valid = np.arange(longest)[None, :] < n_clicks[:, None]
    carted = valid & (rng.random((n_sessions, longest)) < cart_rate)
    ordered = carted & (rng.random((n_sessions, longest)) < order_rate)
    # Per session, the order events come after every click and cart (slot index `longest`).
    sess = np.concatenate(
        [
            np.nonzero(valid)[0],
            np.nonzero(carted)[0],
            np.nonzero(ordered)[0],
        ]
    )
    slot = np.concatenate(
        [
            np.nonzero(valid)[1] * 2,
            np.nonzero(carted)[1] * 2 + 1,
            2 * longest + np.nonzero(ordered)[1],
        ]
    )
    kind = np.concatenate(
        [
            np.full(int(valid.sum()), CLICK),
            np.full(int(carted.sum()), CART),
            np.full(int(ordered.sum()), ORDER),
        ]
    )
    aid = np.concatenate([clicks[valid], clicks[carted], clicks[ordered]])
    order = np.lexsort((slot, sess))
    sess, slot, kind, aid = sess[order], slot[order], kind[order], aid[order]
    counts = np.bincount(sess, minlength=n_sessions)
    ptr = np.zeros(n_sessions + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    within = np.arange(len(sess)) - ptr[sess]
    start = np.int64(1_600_000_000_000) + np.arange(n_sessions, dtype=np.int64) * 3_600_000
    ts = start[sess] + within * 1000
    return SessionLog.from_arrays(ptr, aid, ts, kind, n_items=n_items)
