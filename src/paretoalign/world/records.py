"""Named records of the shop: random-stream ids, the solved offsets, and the kernels' inputs.

Every module of :mod:`paretoalign.world` may import this one at top level: it imports none
of them, so the constants and types shared by ``world``, ``offline``, ``calibration``,
``online`` and ``kernels`` live here without import cycles.

The kernel records are :class:`typing.NamedTuple` classes of arrays (and a few scalars).
Numba compiles them as tuples, so a kernel reads ``W.price_idx`` at the cost of a tuple
index. The kernels that run a ``prange`` loop take them flat: Numba's parallel loops unpack
a tuple argument one level deep only, so no record holds another record. Field order is
part of the type (``Items`` and ``Shoppers`` keep the order of the former positional
tuples, so ``W[2]`` still means ``W.click_base``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# ---------------------------------------------------------------------- random streams
#: Ids of the world's random streams. A part of the world draws from a generator keyed by
#: ``(world seed, stream id, ...)``, so adding draws to one part never shifts another's.
CATALOGUE_STREAM = 1  # the catalogue (items, categories, prices)
OFFLINE_STREAM = 2  # the offline shoppers (burn-in, train, test)
PILOT_STREAM = 3  # the calibration pilots (one per round)
HISTORY_STREAM = 4  # the past sessions the logging policy is learned from
EXPERIMENT_STREAM = 5  # the experiment shoppers (keyed by the experiment seed too)
IMPRESSION_STREAM = 6  # which offline sessions log their impressions
REPLICATE_STREAM = 7  # Monte-Carlo copies of open online sessions (OnlineShop.replicate)


@dataclass(frozen=True)
class Offsets:
    """Solved (or fixed) intercepts of the response model."""

    organic_utility: float  # u0
    cart_offset: float  # c0
    order_offset: float  # o0


# ---------------------------------------------------------------------- kernel inputs
class Items(NamedTuple):
    """The catalogue as the kernels see it (``W``; row 0 of per-item arrays = padding).

    Built by ``World.packed_items()``: ``N`` items, ``C`` categories, dimension ``d``.
    ``alias_prob`` / ``alias_idx`` are Walker/Vose alias tables, per category, of
    ``exp(organic_pop b)`` over ``cat_items`` (``alias_idx`` is category-local);
    ``vec_cat`` / ``organic_cat`` repeat ``vec`` / ``organic_base`` in ``cat_items``
    order, so an organic search reads one category's rows contiguously.
    """

    vec: np.ndarray  # f8[N+1, d]: item vectors v
    cat: np.ndarray  # i4[N+1]: category of each item
    click_base: np.ndarray  # f8[N+1]: beta_a a + beta_b b
    price_idx: np.ndarray  # f8[N+1]: log(p / price_median)
    cart_base: np.ndarray  # f8[N+1]: c_q q
    p_order: np.ndarray  # f8[N+1]: sigmoid(o0 + o_q q) = P(order | carted)
    organic_base: np.ndarray  # f8[N+1]: kappa_a a
    cat_ptr: np.ndarray  # i8[C+1]: category c holds cat_items[cat_ptr[c]:cat_ptr[c+1]]
    cat_items: np.ndarray  # i4[N]: item ids grouped by category
    alias_prob: np.ndarray  # f8[N]: alias tables, keep-probabilities
    cat_mu: np.ndarray  # f8[C, d]: category centres mu_c
    order_base: np.ndarray  # f8[N+1]: o_q q
    alias_idx: np.ndarray  # i4[N]: alias tables, category-local aliases
    vec_cat: np.ndarray  # f8[N, d]: vec[cat_items]
    organic_cat: np.ndarray  # f8[N]: organic_base[cat_items]


class Shoppers(NamedTuple):
    """A population as the kernels see it (``S``; ``S`` shoppers, ``F`` favourites).

    Built by ``World.packed_shoppers(population)``.
    """

    taste: np.ndarray  # f8[S, d]: taste vectors u_s
    gamma: np.ndarray  # f8[S]: price sensitivity
    logit_pi: np.ndarray  # f8[S]: logit of the buy propensity
    fav_cat: np.ndarray  # i4[S, F]: favourite categories
    fav_cum: np.ndarray  # f8[S, F]: cumulative favourite weights (last column 1)
    start_ms: np.ndarray  # i8[S]: first page view, Unix ms
    budget: np.ndarray  # i4[S]: clicks + carts before leaving
    seed: np.ndarray  # u8[S]: seed of the session's random stream


# ---------------------------------------------------------------------- offline batches
class OfflinePlan(NamedTuple):
    """What an offline batch simulates (``S`` sessions of a ``Shoppers`` record)."""

    table: np.ndarray  # i4[N+1, K]: the logging slate of every page item
    win_lo: np.ndarray  # i8[S]: a session's events are written inside [win_lo, win_hi)
    win_hi: np.ndarray  # i8[S]
    log_imp: np.ndarray  # bool[S]: the session writes its impressions
    record: bool  # also write the calibration diagnostics (x, first_cart, util, choice)


class EventBuffers(NamedTuple):
    """Where an offline batch writes its events: session ``s`` from ``off[s]`` on.

    ``x``: a click's cart logit without ``c0``, a cart's order logit without ``o0``;
    ``x`` and ``first_cart`` (the cart is the item's first in the session) are written
    only with ``OfflinePlan.record`` (else they may be empty). ``units`` only for orders.
    """

    off: np.ndarray  # i8[S]: first row of each session
    n: np.ndarray  # i8[S]: out: rows written per session
    aid: np.ndarray  # i4[E]
    ts: np.ndarray  # i8[E]
    type: np.ndarray  # i1[E]: T_CLICK, T_CART, T_ORDER
    channel: np.ndarray  # i1[E]: CH_* code
    units: np.ndarray  # i4[E]
    x: np.ndarray  # f8[E] (record only)
    first_cart: np.ndarray  # bool[E] (record only)


class ImpressionBuffers(NamedTuple):
    """Where an offline batch writes its logged slates: one row per (page view, position).

    ``util`` (click utility) and ``choice`` (the shopper chose on that page rather than
    leaving) are written only with ``OfflinePlan.record``.
    """

    off: np.ndarray  # i8[S]: first row of each session
    n: np.ndarray  # i8[S]: out: rows written per session
    ts: np.ndarray  # i8[I]
    page: np.ndarray  # i4[I]: the page's item
    position: np.ndarray  # i1[I]: 1..K
    aid: np.ndarray  # i4[I]
    propensity: np.ndarray  # f8[I]: logging propensity of aid at that position
    random: np.ndarray  # bool[I]: the slate was a uniformly random one
    clicked: np.ndarray  # bool[I]
    util: np.ndarray  # f8[I] (record only)
    choice: np.ndarray  # bool[I] (record only)


# ---------------------------------------------------------------------- online shop
class Slots(NamedTuple):
    """The open sessions of an online shop, one row (slot) each; ``W`` the slate width."""

    sh_idx: np.ndarray  # i8[B]: the session's row in the population
    z: np.ndarray  # f8[B, d]: intent
    cur: np.ndarray  # i4[B]: item of the current page
    cat: np.ndarray  # i4[B]: category of the current page's item
    now: np.ndarray  # i8[B]: time of the current page view (after its cart, if any)
    n_events: np.ndarray  # i4[B]: clicks + carts so far (vs the budget)
    n_seen: np.ndarray  # i4[B]: page views so far
    n_carted: np.ndarray  # i4[B]: distinct carted items
    seen: np.ndarray  # i4[B, W]: items of the page views, in order
    seen_chan: np.ndarray  # i1[B, W]: how each page view was reached (CH_*)
    carted: np.ndarray  # i4[B, W]: distinct carted items, in cart order
    st: np.ndarray  # u8[B]: the session's random-stream state
    hist: np.ndarray  # i4[B, L]: last L page items, left-padded with 0


class Landings(NamedTuple):
    """Out: the landing page view of each opened session (one row per opened slot)."""

    aid: np.ndarray  # i4[n]
    ts: np.ndarray  # i8[n]
    cart: np.ndarray  # bool[n]: the landing item was carted
    cart_ts: np.ndarray  # i8[n]: time of that cart (= ts when not carted)


class StepOutput(NamedTuple):
    """Out: what one online step did to each row (row ``i`` = slot ``rows[i]``)."""

    slate_ts: np.ndarray  # i8[n]: time the slate was shown
    page: np.ndarray  # i4[n]: 0-based page view the slate was shown on
    pos: np.ndarray  # i4[n]: -2 the shopper left, -1 organic, k >= 0 clicked position
    next: np.ndarray  # i4[n]: the next page's item (0 when leaving)
    next_ts: np.ndarray  # i8[n]
    chan: np.ndarray  # i1[n]: how the next page was reached (-1 when leaving)
    cart: np.ndarray  # bool[n]: the next page's item was carted
    cart_ts: np.ndarray  # i8[n]
    done: np.ndarray  # bool[n]: the session is over (checkout due)


class Probabilities(NamedTuple):
    """Out: exact per-impression probabilities, float64[n, K] each (or empty)."""

    p_click: np.ndarray  # click on the position
    p_cart: np.ndarray  # click, then cart on that page view
    p_order: np.ndarray  # click, cart there, and the item is ordered at checkout


class OrderLines(NamedTuple):
    """Out: the order lines of a checkout; row ``i``'s lines are written from ``off[i]``."""

    off: np.ndarray  # i8[n]
    row: np.ndarray  # i8[M]: i of the line
    aid: np.ndarray  # i4[M]
    ts: np.ndarray  # i8[M]
    units: np.ndarray  # i4[M]
    wish: np.ndarray  # bool[M]: a wishlist line (item neither clicked nor carted)
    rec: np.ndarray  # bool[M]: the item was clicked from the widget in the session
