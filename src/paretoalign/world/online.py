"""The online shop: many concurrent sessions served in batches by any policy.

A *policy* is a callable ``policy(state: SessionState) -> int32[B, K]`` returning one
slate (item ids in 1..N, best first, ``K = cfg.slate_size``) for each of the ``B``
sessions in ``state``. :class:`OnlineShop` keeps up to ``batch_size`` sessions open; every
:meth:`OnlineShop.step` shows one slate to each open session and advances it by one page
view in a jitted kernel (no Python loop per page view). Finished sessions check out and
their slots are refilled from the population's queue.

Every open session gets a slate on each of its page views, its last one included (the
shopper then leaves without a choice), so ``slates`` counts page views and CTR's
denominator is known. The landing page view of a session is organic and comes without a
previous slate.

A session's events depend only on its own random stream (seeded by the experiment key and
the shopper id) and the slates it is shown, so results do not depend on ``batch_size`` or
on which other shoppers share a batch; two policies serving the same shopper use common
random numbers until their slates make the sessions diverge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from paretoalign.world import kernels as K
from paretoalign.world.rng import make_key, seeds_for
from paretoalign.world.shoppers import ShopperPopulation

if TYPE_CHECKING:
    from paretoalign.world.world import World

DAY_MS = 86_400_000
REPLICATE_STREAM = 7


@dataclass(frozen=True, eq=False)
class SessionState:
    """What a policy sees about ``B`` open sessions (all arrays have ``B`` rows).

    Attributes
    ----------
    shopper_id : int64[B]     the shopper (= session) id; route groups on it
    history : int32[B, L]     the last ``L`` clicked items, left-padded with 0; the last
                              column is the current page's item
    day : int32[B]            experiment day of the current page view (0-based)
    current_item : int32[B]   the item of the current page (= ``history[:, -1]``)
    page_view : int32[B]      0-based index of the current page view in the session
    ts : int64[B]             Unix ms of the current page view
    """

    shopper_id: np.ndarray
    history: np.ndarray
    day: np.ndarray
    current_item: np.ndarray
    page_view: np.ndarray
    ts: np.ndarray

    def __len__(self) -> int:
        return len(self.shopper_id)


Policy = Callable[[SessionState], np.ndarray]


@dataclass(frozen=True, eq=False)
class ExpectedResponse:
    """Exact per-impression probabilities for fixed states, float64[B, K] each.

    ``p_click[b, k]``: the shopper clicks position ``k``; ``p_cart``: clicks it and carts
    the item on that page view; ``p_order``: clicks, carts there, and the item is ordered
    at checkout. All zero on the last page of a session (the shopper leaves).
    """

    p_click: np.ndarray
    p_cart: np.ndarray
    p_order: np.ndarray


@dataclass(frozen=True, eq=False)
class OnlineResult:
    """Tidy event tables of an online run (rows in processing order).

    Every table has ``shopper_id`` (int64) and ``day`` (int32, ``(ts - day0_ms) // 86.4e6``;
    sessions started in the window run to completion, so ``day`` can exceed the window).

    ``slates``        one row per slate shown: ``ts, page_view, page_aid,
                      clicked_position`` (0 = no rec click, else 1..K) and, when recorded,
                      ``p_click, p_cart, p_order`` (sums over the slate's positions).
    ``impressions``   one row per (slate, position): ``ts, page_view, position`` (1..K),
                      ``aid, clicked`` (+ ``p_click, p_cart, p_order`` when recorded);
                      empty when ``item_impressions=False``.
    ``clicks``        widget clicks: ``ts, page_view, aid, position, carted`` (carted on
                      that page view), ``ordered`` (item ordered at this session's checkout).
    ``organic_views`` page views not from the widget: ``ts, page_view, aid, channel``
                      (``entry`` landing, ``organic`` search/lists, ``repeat`` revisit).
    ``carts``         ``ts, aid, channel`` (how the carted page was reached).
    ``orders``        ``ts, aid, units, price, revenue, wishlist, rec_clicked``.
    ``sessions``      one row per shopper: ``day, start_ts, end_ts, page_views, slates,
                      rec_clicks, carts, order_lines, units, revenue``.
    """

    slates: pd.DataFrame
    impressions: pd.DataFrame
    clicks: pd.DataFrame
    organic_views: pd.DataFrame
    carts: pd.DataFrame
    orders: pd.DataFrame
    sessions: pd.DataFrame
    slate_size: int
    day0_ms: int


class OnlineShop:
    """Batched online sessions of ``population`` in ``world`` (see the module docstring).

    Parameters
    ----------
    world : World
    population : ShopperPopulation   (``World.experiment_population``)
    history_len : int                L of ``SessionState.history`` (default 50)
    batch_size : int                 open sessions at a time (default 4096)
    record_expected : bool           add exact ``p_click/p_cart/p_order`` to slates and
                                     impressions (Rao-Blackwellised KPIs)
    item_impressions : bool          keep one row per (slate, position); set False for
                                     very large runs (the ``slates`` table always exists)
    """

    def __init__(
        self,
        world: World,
        population: ShopperPopulation,
        *,
        history_len: int = 50,
        batch_size: int = 4096,
        record_expected: bool = False,
        item_impressions: bool = True,
    ) -> None:
        if history_len < 1:
            raise ValueError(f"history_len must be >= 1, got {history_len}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(population) and population.taste.shape[1] != world.catalogue.dim:
            raise ValueError("population was drawn for a world of another dimension")
        self.world = world
        self.population = population
        self.record_expected = bool(record_expected)
        self.item_impressions = bool(item_impressions)
        self.slate_size = world.cfg.slate_size
        self._W = world.packed_items()
        self._par, self._ipar = world.packed_params()
        self._S = world.packed_shoppers(population)
        n_slots = max(1, min(batch_size, len(population)))
        width = int(population.budget.max()) + 2 if len(population) else 2
        d = world.catalogue.dim
        self._sh_idx = np.zeros(n_slots, np.int64)
        self._z = np.zeros((n_slots, d))
        self._cur = np.zeros(n_slots, np.int32)
        self._cat = np.zeros(n_slots, np.int32)
        self._now = np.zeros(n_slots, np.int64)
        self._n_events = np.zeros(n_slots, np.int32)
        self._n_seen = np.zeros(n_slots, np.int32)
        self._n_carted = np.zeros(n_slots, np.int32)
        self._seen = np.zeros((n_slots, width), np.int32)
        self._seen_chan = np.zeros((n_slots, width), np.int8)
        self._carted = np.zeros((n_slots, width), np.int32)
        self._st = np.zeros(n_slots, np.uint64)
        self._hist = np.zeros((n_slots, history_len), np.int32)
        self._active = np.zeros(n_slots, bool)
        self._inst = np.zeros(n_slots, np.int64)  # session instance per slot (see replicate)
        self._next = 0
        self._log: dict[str, list[np.ndarray]] = {}
        self._fill(np.arange(n_slots, dtype=np.int64))

    # ------------------------------------------------------------------ queue
    @property
    def done(self) -> bool:
        """True when every session of the population has checked out."""
        return not self._active.any() and self._next >= len(self.population)

    @property
    def n_open(self) -> int:
        return int(self._active.sum())

    def _rec(self, name: str, arr: np.ndarray) -> None:
        self._log.setdefault(name, []).append(arr)

    def _fill(self, free: np.ndarray) -> None:
        take = min(len(free), len(self.population) - self._next)
        if take <= 0:
            return
        rows = np.ascontiguousarray(free[:take], dtype=np.int64)
        pop_idx = np.arange(self._next, self._next + take, dtype=np.int64)
        self._next += take
        out_aid = np.empty(take, np.int32)
        out_ts = np.empty(take, np.int64)
        out_cart = np.empty(take, np.bool_)
        out_cart_ts = np.empty(take, np.int64)
        kernel = K.online_start if take >= K.ONLINE_PARALLEL_MIN_ROWS else K.online_start_serial
        kernel(
            rows, pop_idx, self._S, self._W, self._par, self._ipar, *self._slot_arrays(),
            out_aid, out_ts, out_cart, out_cart_ts,
        )  # fmt: skip
        self._active[rows] = True
        self._inst[rows] = pop_idx
        self._rec("entry_pop", pop_idx)
        self._rec("entry_aid", out_aid)
        self._rec("entry_ts", out_ts)
        self._rec("entry_cart", out_cart)
        self._rec("entry_cart_ts", out_cart_ts)

    def _slot_arrays(self) -> tuple:
        return (
            self._sh_idx, self._z, self._cur, self._cat, self._now, self._n_events,
            self._n_seen, self._n_carted, self._seen, self._seen_chan, self._carted,
            self._st, self._hist,
        )  # fmt: skip

    def _rows(self) -> np.ndarray:
        return np.flatnonzero(self._active).astype(np.int64)

    # ------------------------------------------------------------------ policy side
    def state(self) -> SessionState:
        """The open sessions' states (a copy: a policy may not change the shop)."""
        rows = self._rows()
        pop = self.population
        now = self._now[rows]
        return SessionState(
            shopper_id=pop.shopper_id[self._sh_idx[rows]],
            history=self._hist[rows].copy(),
            day=((now - pop.day0_ms) // DAY_MS).astype(np.int32),
            current_item=self._cur[rows].copy(),
            page_view=(self._n_seen[rows] - 1).astype(np.int32),
            ts=now,
        )

    def _check_slates(self, slates: object, n_rows: int) -> np.ndarray:
        if not isinstance(slates, np.ndarray):
            raise TypeError(f"a policy must return a numpy array, got {type(slates).__name__}")
        if not np.issubdtype(slates.dtype, np.integer):
            raise TypeError(f"slates must hold integer item ids, got dtype {slates.dtype}")
        if slates.shape != (n_rows, self.slate_size):
            raise ValueError(
                f"slates must have shape ({n_rows}, {self.slate_size}), got {slates.shape}"
            )
        n = self.world.n_items
        if slates.size and (slates.min() < 1 or slates.max() > n):
            raise ValueError(f"slate item ids must lie in 1..{n} (0 is padding)")
        return np.ascontiguousarray(slates, dtype=np.int32)

    def expected(self, slates: np.ndarray) -> ExpectedResponse:
        """Exact click / cart / order probabilities of ``slates`` for the current states."""
        rows = self._rows()
        slates = self._check_slates(slates, len(rows))
        shape = slates.shape
        pc, pk, po = np.empty(shape), np.empty(shape), np.empty(shape)
        kernel = (
            K.online_expected
            if len(rows) >= K.ONLINE_PARALLEL_MIN_ROWS
            else K.online_expected_serial
        )
        kernel(
            rows, slates, self._S, self._W, self._par, self._ipar, self._sh_idx, self._z,
            self._n_events, pc, pk, po,
        )  # fmt: skip
        return ExpectedResponse(pc, pk, po)

    def step(self, slates: np.ndarray) -> None:
        """Show ``slates`` (int[B, K], rows in the order of :meth:`state`) and advance."""
        rows = self._rows()
        if len(rows) == 0:
            raise RuntimeError("no open sessions (the run is done)")
        slates = self._check_slates(slates, len(rows))
        a = len(rows)
        kk = self.slate_size
        out = {
            "slate_ts": np.empty(a, np.int64),
            "page": np.empty(a, np.int32),
            "pos": np.empty(a, np.int32),
            "next": np.empty(a, np.int32),
            "next_ts": np.empty(a, np.int64),
            "chan": np.empty(a, np.int8),
            "cart": np.empty(a, np.bool_),
            "cart_ts": np.empty(a, np.int64),
            "done": np.empty(a, np.bool_),
        }
        shape = (a, kk) if self.record_expected else (0, kk)
        pc, pk, po = np.empty(shape), np.empty(shape), np.empty(shape)
        page_aid = self._cur[rows].copy()
        pop_idx = self._sh_idx[rows].copy()
        kernel = K.online_step if a >= K.ONLINE_PARALLEL_MIN_ROWS else K.online_step_serial
        kernel(
            rows, slates, self._S, self._W, self._par, self._ipar, *self._slot_arrays(),
            self.record_expected, out["slate_ts"], out["page"], out["pos"], out["next"],
            out["next_ts"], out["chan"], out["cart"], out["cart_ts"], out["done"], pc, pk, po,
        )  # fmt: skip
        self._rec("step_pop", pop_idx)
        self._rec("step_inst", self._inst[rows].copy())
        self._rec("step_page_aid", page_aid)
        for key, arr in out.items():
            if key != "done":
                self._rec("step_" + key, arr)
        if self.item_impressions:
            self._rec("step_slates", slates)
        if self.record_expected:
            self._rec("step_p_click", pc)
            self._rec("step_p_cart", pk)
            self._rec("step_p_order", po)
        finished = rows[out["done"]]
        if len(finished):
            self._checkout(finished)
            self._active[finished] = False
            self._fill(finished)

    def _checkout(self, rows: np.ndarray) -> None:
        cap = 2 * self._n_carted[rows].astype(np.int64) + 2
        off = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(cap, out=off[1:])
        total = int(off[-1])
        o_row = np.empty(total, np.int64)
        o_aid = np.empty(total, np.int32)
        o_ts = np.empty(total, np.int64)
        o_units = np.empty(total, np.int32)
        o_wish = np.empty(total, np.bool_)
        o_rec = np.empty(total, np.bool_)
        pop_idx = self._sh_idx[rows].copy()
        counts = K.online_checkout(
            rows, self._S, self._W, self._par, self._sh_idx, self._now, self._n_seen,
            self._n_carted, self._seen, self._seen_chan, self._carted, self._st, off[:-1],
            o_row, o_aid, o_ts, o_units, o_wish, o_rec,
        )  # fmt: skip
        keep = np.repeat(off[:-1], counts) + _ranks(counts)
        self._rec("order_pop", pop_idx[o_row[keep]])
        self._rec("order_inst", self._inst[rows][o_row[keep]])
        self._rec("order_aid", o_aid[keep])
        self._rec("order_ts", o_ts[keep])
        self._rec("order_units", o_units[keep])
        self._rec("order_wish", o_wish[keep])
        self._rec("order_rec", o_rec[keep])
        self._rec("end_pop", pop_idx)
        self._rec("end_ts", self._now[rows].copy())

    # ------------------------------------------------------------------ replicas
    def replicate(self, n: int, seed: int) -> OnlineShop:
        """``n`` copies of every open session with fresh random streams (no queue).

        Row ``r`` of the new shop's :meth:`state` is copy ``r % n`` of open session
        ``r // n``; the copies differ only in their random streams (keyed by ``seed``),
        for Monte-Carlo checks of :meth:`expected`. Copies keep their shopper's id (so a
        routing policy serves them alike): in :meth:`result`, ``sessions`` sums the copies
        of a shopper, while ``clicks.ordered`` is decided per copy.
        """
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        rows = self._rows()
        clone = object.__new__(OnlineShop)
        clone.world, clone.population = self.world, self.population
        clone.record_expected, clone.item_impressions = self.record_expected, self.item_impressions
        clone.slate_size = self.slate_size
        clone._W, clone._par, clone._ipar, clone._S = self._W, self._par, self._ipar, self._S
        idx = np.repeat(rows, n)
        for name in (
            "_sh_idx", "_z", "_cur", "_cat", "_now", "_n_events", "_n_seen", "_n_carted",
            "_seen", "_seen_chan", "_carted", "_hist",
        ):  # fmt: skip
            setattr(clone, name, np.ascontiguousarray(getattr(self, name)[idx]))
        clone._st = seeds_for(make_key(REPLICATE_STREAM, seed), np.arange(len(idx)))
        clone._active = np.ones(len(idx), bool)
        # every copy is its own session instance (ids past the population's rows)
        clone._inst = len(self.population) + np.arange(len(idx), dtype=np.int64)
        clone._next = len(self.population)
        clone._log = {}
        return clone

    # ------------------------------------------------------------------ results
    def result(self) -> OnlineResult:
        """The event tables of everything simulated so far."""
        return _assemble(self)


def run_online(
    world: World,
    policy: Policy,
    population: ShopperPopulation,
    *,
    history_len: int = 50,
    batch_size: int = 4096,
    record_expected: bool = False,
    item_impressions: bool = True,
) -> OnlineResult:
    """Serve every session of ``population`` with ``policy`` until all have checked out."""
    shop = OnlineShop(
        world,
        population,
        history_len=history_len,
        batch_size=batch_size,
        record_expected=record_expected,
        item_impressions=item_impressions,
    )
    while not shop.done:
        shop.step(policy(shop.state()))
    return shop.result()


# ---------------------------------------------------------------------- assembly
def _ranks(counts: np.ndarray) -> np.ndarray:
    """``[0..c0-1, 0..c1-1, ...]`` for non-negative counts."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def _cat(log: dict[str, list[np.ndarray]], name: str, dtype, width: int | None = None):
    parts = log.get(name, [])
    if parts:
        return np.concatenate(parts)
    return np.zeros((0,) if width is None else (0, width), dtype)


def _assemble(shop: OnlineShop) -> OnlineResult:
    log = shop._log
    pop = shop.population
    kk = shop.slate_size
    day0 = pop.day0_ms
    price = shop.world.catalogue.price
    width = shop.world.n_items + 1

    def day(ts: np.ndarray) -> np.ndarray:
        return ((ts - day0) // DAY_MS).astype(np.int32)

    channel_cat = pd.CategoricalDtype(list(K.CHANNEL_NAMES[:4]))

    def channel(codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes.astype(np.int8), dtype=channel_cat)

    e_pop = _cat(log, "entry_pop", np.int64)
    e_aid = _cat(log, "entry_aid", np.int32)
    e_ts = _cat(log, "entry_ts", np.int64)
    e_cart = _cat(log, "entry_cart", np.bool_)
    e_cart_ts = _cat(log, "entry_cart_ts", np.int64)
    s_pop = _cat(log, "step_pop", np.int64)
    s_page_aid = _cat(log, "step_page_aid", np.int32)
    s_ts = _cat(log, "step_slate_ts", np.int64)
    s_page = _cat(log, "step_page", np.int32)
    s_pos = _cat(log, "step_pos", np.int32)
    s_next = _cat(log, "step_next", np.int32)
    s_next_ts = _cat(log, "step_next_ts", np.int64)
    s_chan = _cat(log, "step_chan", np.int8)
    s_cart = _cat(log, "step_cart", np.bool_)
    s_cart_ts = _cat(log, "step_cart_ts", np.int64)
    o_pop = _cat(log, "order_pop", np.int64)
    o_aid = _cat(log, "order_aid", np.int32)
    o_ts = _cat(log, "order_ts", np.int64)
    o_units = _cat(log, "order_units", np.int32)
    o_wish = _cat(log, "order_wish", np.bool_)
    o_rec = _cat(log, "order_rec", np.bool_)
    sid = pop.shopper_id

    slates = pd.DataFrame(
        {
            "shopper_id": sid[s_pop],
            "day": day(s_ts),
            "ts": s_ts,
            "page_view": s_page,
            "page_aid": s_page_aid,
            "clicked_position": np.where(s_pos >= 0, s_pos + 1, 0).astype(np.int8),
        }
    )
    if shop.record_expected:
        p = {k: _cat(log, "step_" + k, np.float64, kk) for k in ("p_click", "p_cart", "p_order")}
        for k, v in p.items():
            slates[k] = v.sum(axis=1)
    if shop.item_impressions:
        sl = _cat(log, "step_slates", np.int32, kk)
        n = len(s_pop)
        pos = np.tile(np.arange(1, kk + 1, dtype=np.int8), n)
        impressions = pd.DataFrame(
            {
                "shopper_id": np.repeat(sid[s_pop], kk),
                "day": np.repeat(day(s_ts), kk),
                "ts": np.repeat(s_ts, kk),
                "page_view": np.repeat(s_page, kk),
                "position": pos,
                "aid": sl.reshape(-1),
                "clicked": np.repeat(s_pos + 1, kk) == pos,
            }
        )
        if shop.record_expected:
            for k, v in p.items():
                impressions[k] = v.reshape(-1)
    else:
        impressions = pd.DataFrame(
            {
                "shopper_id": np.zeros(0, np.int64),
                "day": np.zeros(0, np.int32),
                "ts": np.zeros(0, np.int64),
                "page_view": np.zeros(0, np.int32),
                "position": np.zeros(0, np.int8),
                "aid": np.zeros(0, np.int32),
                "clicked": np.zeros(0, bool),
            }
        )

    # "ordered" joins a click with its own session's checkout (a replica is its own session)
    s_inst = _cat(log, "step_inst", np.int64)
    order_keys = _cat(log, "order_inst", np.int64) * width + o_aid
    moved = s_pos > -2
    rec = s_pos >= 0
    clicks = pd.DataFrame(
        {
            "shopper_id": sid[s_pop[rec]],
            "day": day(s_next_ts[rec]),
            "ts": s_next_ts[rec],
            "page_view": s_page[rec] + 1,
            "aid": s_next[rec],
            "position": (s_pos[rec] + 1).astype(np.int8),
            "carted": s_cart[rec],
            "ordered": np.isin(s_inst[rec] * width + s_next[rec], order_keys),
        }
    )
    org = moved & ~rec
    organic_views = pd.DataFrame(
        {
            "shopper_id": np.concatenate([sid[e_pop], sid[s_pop[org]]]),
            "day": np.concatenate([day(e_ts), day(s_next_ts[org])]),
            "ts": np.concatenate([e_ts, s_next_ts[org]]),
            "page_view": np.concatenate([np.zeros(len(e_pop), np.int32), s_page[org] + 1]),
            "aid": np.concatenate([e_aid, s_next[org]]),
            "channel": channel(np.concatenate([np.full(len(e_pop), K.CH_ENTRY), s_chan[org]])),
        }
    )
    cm = moved & s_cart
    carts = pd.DataFrame(
        {
            "shopper_id": np.concatenate([sid[e_pop[e_cart]], sid[s_pop[cm]]]),
            "day": np.concatenate([day(e_cart_ts[e_cart]), day(s_cart_ts[cm])]),
            "ts": np.concatenate([e_cart_ts[e_cart], s_cart_ts[cm]]),
            "aid": np.concatenate([e_aid[e_cart], s_next[cm]]),
            "channel": channel(
                np.concatenate([np.full(int(e_cart.sum()), K.CH_ENTRY), s_chan[cm]])
            ),
        }
    )
    units = o_units.astype(np.int64)
    orders = pd.DataFrame(
        {
            "shopper_id": sid[o_pop],
            "day": day(o_ts),
            "ts": o_ts,
            "aid": o_aid,
            "units": o_units,
            "price": price[o_aid],
            "revenue": price[o_aid] * units,
            "wishlist": o_wish,
            "rec_clicked": o_rec,
        }
    )
    n_pop = len(pop)
    started = np.zeros(n_pop, bool)
    started[e_pop] = True
    end_ts = np.zeros(n_pop, np.int64)
    end_ts[_cat(log, "end_pop", np.int64)] = _cat(log, "end_ts", np.int64)
    idx = np.flatnonzero(started)

    def count(rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(rows, weights=weights, minlength=n_pop)[idx]

    sessions = pd.DataFrame(
        {
            "shopper_id": sid[idx],
            "day": day(pop.start_ms[idx]),
            "start_ts": pop.start_ms[idx],
            "end_ts": end_ts[idx],
            "page_views": (count(e_pop) + count(s_pop[moved])).astype(np.int64),
            "slates": count(s_pop).astype(np.int64),
            "rec_clicks": count(s_pop[rec]).astype(np.int64),
            "carts": (count(e_pop[e_cart]) + count(s_pop[cm])).astype(np.int64),
            "order_lines": count(o_pop).astype(np.int64),
            "units": count(o_pop, units.astype(np.float64)).astype(np.int64),
            "revenue": count(o_pop, price[o_aid] * units),
        }
    )
    return OnlineResult(
        slates=slates,
        impressions=impressions,
        clicks=clicks,
        organic_views=organic_views,
        carts=carts,
        orders=orders,
        sessions=sessions,
        slate_size=kk,
        day0_ms=day0,
    )
