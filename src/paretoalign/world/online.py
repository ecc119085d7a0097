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
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from paretoalign.world import kernels as K
from paretoalign.world.records import (
    REPLICATE_STREAM,
    Landings,
    OrderLines,
    Probabilities,
    Slots,
    StepOutput,
)
from paretoalign.world.rng import make_key, seeds_for
from paretoalign.world.shoppers import ShopperPopulation

if TYPE_CHECKING:
    from paretoalign.world.world import World

DAY_MS = 86_400_000


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
        self._slots = Slots(
            sh_idx=np.zeros(n_slots, np.int64),
            z=np.zeros((n_slots, d)),
            cur=np.zeros(n_slots, np.int32),
            cat=np.zeros(n_slots, np.int32),
            now=np.zeros(n_slots, np.int64),
            n_events=np.zeros(n_slots, np.int32),
            n_seen=np.zeros(n_slots, np.int32),
            n_carted=np.zeros(n_slots, np.int32),
            seen=np.zeros((n_slots, width), np.int32),
            seen_chan=np.zeros((n_slots, width), np.int8),
            carted=np.zeros((n_slots, width), np.int32),
            st=np.zeros(n_slots, np.uint64),
            hist=np.zeros((n_slots, history_len), np.int32),
        )
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
        land = Landings(
            aid=np.empty(take, np.int32),
            ts=np.empty(take, np.int64),
            cart=np.empty(take, np.bool_),
            cart_ts=np.empty(take, np.int64),
        )
        kernel = K.online_start if take >= K.ONLINE_PARALLEL_MIN_ROWS else K.online_start_serial
        kernel(rows, pop_idx, self._S, self._W, self._par, self._ipar, self._slots, land)
        self._active[rows] = True
        self._inst[rows] = pop_idx
        self._rec("entry_pop", pop_idx)
        self._rec("entry_aid", land.aid)
        self._rec("entry_ts", land.ts)
        self._rec("entry_cart", land.cart)
        self._rec("entry_cart_ts", land.cart_ts)

    def _rows(self) -> np.ndarray:
        return np.flatnonzero(self._active).astype(np.int64)

    # ------------------------------------------------------------------ policy side
    def state(self) -> SessionState:
        """The open sessions' states (a copy: a policy may not change the shop)."""
        rows = self._rows()
        pop = self.population
        slots = self._slots
        now = slots.now[rows]
        return SessionState(
            shopper_id=pop.shopper_id[slots.sh_idx[rows]],
            history=slots.hist[rows].copy(),
            day=((now - pop.day0_ms) // DAY_MS).astype(np.int32),
            current_item=slots.cur[rows].copy(),
            page_view=(slots.n_seen[rows] - 1).astype(np.int32),
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
        p = Probabilities(np.empty(shape), np.empty(shape), np.empty(shape))
        kernel = (
            K.online_expected
            if len(rows) >= K.ONLINE_PARALLEL_MIN_ROWS
            else K.online_expected_serial
        )
        kernel(rows, slates, self._S, self._W, self._par, self._ipar, self._slots, p)
        return ExpectedResponse(p.p_click, p.p_cart, p.p_order)

    def step(self, slates: np.ndarray) -> None:
        """Show ``slates`` (int[B, K], rows in the order of :meth:`state`) and advance."""
        rows = self._rows()
        if len(rows) == 0:
            raise RuntimeError("no open sessions (the run is done)")
        slates = self._check_slates(slates, len(rows))
        a = len(rows)
        kk = self.slate_size
        out = StepOutput(
            slate_ts=np.empty(a, np.int64),
            page=np.empty(a, np.int32),
            pos=np.empty(a, np.int32),
            next=np.empty(a, np.int32),
            next_ts=np.empty(a, np.int64),
            chan=np.empty(a, np.int8),
            cart=np.empty(a, np.bool_),
            cart_ts=np.empty(a, np.int64),
            done=np.empty(a, np.bool_),
        )
        shape = (a, kk) if self.record_expected else (0, kk)
        p = Probabilities(np.empty(shape), np.empty(shape), np.empty(shape))
        page_aid = self._slots.cur[rows].copy()
        pop_idx = self._slots.sh_idx[rows].copy()
        kernel = K.online_step if a >= K.ONLINE_PARALLEL_MIN_ROWS else K.online_step_serial
        kernel(
            rows, slates, self._S, self._W, self._par, self._ipar, self._slots,
            self.record_expected, out, p,
        )  # fmt: skip
        self._rec("step_pop", pop_idx)
        self._rec("step_inst", self._inst[rows].copy())
        self._rec("step_page_aid", page_aid)
        for key, arr in zip(out._fields, out):
            if key != "done":
                self._rec("step_" + key, arr)
        if self.item_impressions:
            self._rec("step_slates", slates)
        if self.record_expected:
            self._rec("step_p_click", p.p_click)
            self._rec("step_p_cart", p.p_cart)
            self._rec("step_p_order", p.p_order)
        finished = rows[out.done]
        if len(finished):
            self._checkout(finished)
            self._active[finished] = False
            self._fill(finished)

    def _checkout(self, rows: np.ndarray) -> None:
        slots = self._slots
        cap = 2 * slots.n_carted[rows].astype(np.int64) + 2
        off = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(cap, out=off[1:])
        total = int(off[-1])
        lines = OrderLines(
            off=off[:-1],
            row=np.empty(total, np.int64),
            aid=np.empty(total, np.int32),
            ts=np.empty(total, np.int64),
            units=np.empty(total, np.int32),
            wish=np.empty(total, np.bool_),
            rec=np.empty(total, np.bool_),
        )
        pop_idx = slots.sh_idx[rows].copy()
        counts = K.online_checkout(rows, self._S, self._W, self._par, slots, lines)
        keep = np.repeat(off[:-1], counts) + _ranks(counts)
        self._rec("order_pop", pop_idx[lines.row[keep]])
        self._rec("order_inst", self._inst[rows][lines.row[keep]])
        self._rec("order_aid", lines.aid[keep])
        self._rec("order_ts", lines.ts[keep])
        self._rec("order_units", lines.units[keep])
        self._rec("order_wish", lines.wish[keep])
        self._rec("order_rec", lines.rec[keep])
        self._rec("end_pop", pop_idx)
        self._rec("end_ts", slots.now[rows].copy())

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
        clone._slots = Slots(*(np.ascontiguousarray(arr[idx]) for arr in self._slots))._replace(
            st=seeds_for(make_key(REPLICATE_STREAM, seed), np.arange(len(idx)))
        )
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
    world: World, policy: Policy, population: ShopperPopulation, **shop_options: Any
) -> OnlineResult:
    """Serve every session of ``population`` with ``policy`` until all have checked out.

    ``shop_options`` are :class:`OnlineShop`'s keyword arguments (``history_len``,
    ``batch_size``, ``record_expected``, ``item_impressions``).
    """
    shop = OnlineShop(world, population, **shop_options)
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


#: The shop's one-dimensional logs (``OnlineShop._rec`` names) and their dtypes.
_LOG_COLUMNS = {
    "entry_pop": np.int64,
    "entry_aid": np.int32,
    "entry_ts": np.int64,
    "entry_cart": np.bool_,
    "entry_cart_ts": np.int64,
    "step_pop": np.int64,
    "step_inst": np.int64,
    "step_page_aid": np.int32,
    "step_slate_ts": np.int64,
    "step_page": np.int32,
    "step_pos": np.int32,
    "step_next": np.int32,
    "step_next_ts": np.int64,
    "step_chan": np.int8,
    "step_cart": np.bool_,
    "step_cart_ts": np.int64,
    "order_pop": np.int64,
    "order_inst": np.int64,
    "order_aid": np.int32,
    "order_ts": np.int64,
    "order_units": np.int32,
    "order_wish": np.bool_,
    "order_rec": np.bool_,
    "end_pop": np.int64,
    "end_ts": np.int64,
}
_CHANNELS = pd.CategoricalDtype(list(K.CHANNEL_NAMES[:4]))


def _channel(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int8), dtype=_CHANNELS)


class _Logs(SimpleNamespace):
    """The shop's logs, concatenated: one attribute per ``_LOG_COLUMNS`` name, plus
    ``sid`` (population row -> shopper id) and ``day(ts)`` (experiment day, int32)."""

    @classmethod
    def of(cls, shop: OnlineShop) -> _Logs:
        log = {name: _cat(shop._log, name, dt) for name, dt in _LOG_COLUMNS.items()}
        return cls(**log, sid=shop.population.shopper_id, day0=shop.population.day0_ms)

    def day(self, ts: np.ndarray) -> np.ndarray:
        return ((ts - self.day0) // DAY_MS).astype(np.int32)


def _slates_frame(g: _Logs, p: dict[str, np.ndarray] | None) -> pd.DataFrame:
    slates = pd.DataFrame(
        {
            "shopper_id": g.sid[g.step_pop],
            "day": g.day(g.step_slate_ts),
            "ts": g.step_slate_ts,
            "page_view": g.step_page,
            "page_aid": g.step_page_aid,
            "clicked_position": np.where(g.step_pos >= 0, g.step_pos + 1, 0).astype(np.int8),
        }
    )
    for k, v in (p or {}).items():
        slates[k] = v.sum(axis=1)
    return slates


def _impressions_frame(
    g: _Logs, slates: np.ndarray, kk: int, p: dict[str, np.ndarray] | None
) -> pd.DataFrame:
    n = len(g.step_pop)
    pos = np.tile(np.arange(1, kk + 1, dtype=np.int8), n)
    impressions = pd.DataFrame(
        {
            "shopper_id": np.repeat(g.sid[g.step_pop], kk),
            "day": np.repeat(g.day(g.step_slate_ts), kk),
            "ts": np.repeat(g.step_slate_ts, kk),
            "page_view": np.repeat(g.step_page, kk),
            "position": pos,
            "aid": slates.reshape(-1),
            "clicked": np.repeat(g.step_pos + 1, kk) == pos,
        }
    )
    for k, v in (p or {}).items():
        impressions[k] = v.reshape(-1)
    return impressions


#: Columns and dtypes of an item-level impression table (one row per slate position).
IMPRESSION_DTYPES = {
    "shopper_id": np.int64,
    "day": np.int32,
    "ts": np.int64,
    "page_view": np.int32,
    "position": np.int8,
    "aid": np.int32,
    "clicked": np.bool_,
}


def empty_impressions(columns: tuple[str, ...] = tuple(IMPRESSION_DTYPES)) -> pd.DataFrame:
    """An impression table with no rows, the ``columns`` of :data:`IMPRESSION_DTYPES`."""
    return pd.DataFrame({c: np.zeros(0, IMPRESSION_DTYPES[c]) for c in columns})


def _clicks_frame(g: _Logs, width: int) -> pd.DataFrame:
    # "ordered" joins a click with its own session's checkout (a replica is its own session)
    order_keys = g.order_inst * width + g.order_aid
    rec = g.step_pos >= 0
    return pd.DataFrame(
        {
            "shopper_id": g.sid[g.step_pop[rec]],
            "day": g.day(g.step_next_ts[rec]),
            "ts": g.step_next_ts[rec],
            "page_view": g.step_page[rec] + 1,
            "aid": g.step_next[rec],
            "position": (g.step_pos[rec] + 1).astype(np.int8),
            "carted": g.step_cart[rec],
            "ordered": np.isin(g.step_inst[rec] * width + g.step_next[rec], order_keys),
        }
    )


def _organic_views_frame(g: _Logs) -> pd.DataFrame:
    org = (g.step_pos > -2) & ~(g.step_pos >= 0)
    n_entries = len(g.entry_pop)
    return pd.DataFrame(
        {
            "shopper_id": np.concatenate([g.sid[g.entry_pop], g.sid[g.step_pop[org]]]),
            "day": np.concatenate([g.day(g.entry_ts), g.day(g.step_next_ts[org])]),
            "ts": np.concatenate([g.entry_ts, g.step_next_ts[org]]),
            "page_view": np.concatenate([np.zeros(n_entries, np.int32), g.step_page[org] + 1]),
            "aid": np.concatenate([g.entry_aid, g.step_next[org]]),
            "channel": _channel(np.concatenate([np.full(n_entries, K.CH_ENTRY), g.step_chan[org]])),
        }
    )


def _carts_frame(g: _Logs) -> pd.DataFrame:
    e_cart = g.entry_cart
    cm = (g.step_pos > -2) & g.step_cart
    return pd.DataFrame(
        {
            "shopper_id": np.concatenate([g.sid[g.entry_pop[e_cart]], g.sid[g.step_pop[cm]]]),
            "day": np.concatenate([g.day(g.entry_cart_ts[e_cart]), g.day(g.step_cart_ts[cm])]),
            "ts": np.concatenate([g.entry_cart_ts[e_cart], g.step_cart_ts[cm]]),
            "aid": np.concatenate([g.entry_aid[e_cart], g.step_next[cm]]),
            "channel": _channel(
                np.concatenate([np.full(int(e_cart.sum()), K.CH_ENTRY), g.step_chan[cm]])
            ),
        }
    )


def _orders_frame(g: _Logs, price: np.ndarray) -> pd.DataFrame:
    units = g.order_units.astype(np.int64)
    return pd.DataFrame(
        {
            "shopper_id": g.sid[g.order_pop],
            "day": g.day(g.order_ts),
            "ts": g.order_ts,
            "aid": g.order_aid,
            "units": g.order_units,
            "price": price[g.order_aid],
            "revenue": price[g.order_aid] * units,
            "wishlist": g.order_wish,
            "rec_clicked": g.order_rec,
        }
    )


def _sessions_frame(g: _Logs, pop: ShopperPopulation, price: np.ndarray) -> pd.DataFrame:
    n_pop = len(pop)
    started = np.zeros(n_pop, bool)
    started[g.entry_pop] = True
    end_ts = np.zeros(n_pop, np.int64)
    end_ts[g.end_pop] = g.end_ts
    idx = np.flatnonzero(started)
    moved = g.step_pos > -2
    rec = g.step_pos >= 0
    cm = moved & g.step_cart
    units = g.order_units.astype(np.int64)

    def count(rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(rows, weights=weights, minlength=n_pop)[idx]

    return pd.DataFrame(
        {
            "shopper_id": g.sid[idx],
            "day": g.day(pop.start_ms[idx]),
            "start_ts": pop.start_ms[idx],
            "end_ts": end_ts[idx],
            "page_views": (count(g.entry_pop) + count(g.step_pop[moved])).astype(np.int64),
            "slates": count(g.step_pop).astype(np.int64),
            "rec_clicks": count(g.step_pop[rec]).astype(np.int64),
            "carts": (count(g.entry_pop[g.entry_cart]) + count(g.step_pop[cm])).astype(np.int64),
            "order_lines": count(g.order_pop).astype(np.int64),
            "units": count(g.order_pop, units.astype(np.float64)).astype(np.int64),
            "revenue": count(g.order_pop, price[g.order_aid] * units),
        }
    )


def _assemble(shop: OnlineShop) -> OnlineResult:
    """The tables of :class:`OnlineResult` from the shop's logs (see ``OnlineShop._rec``)."""
    g = _Logs.of(shop)
    kk = shop.slate_size
    price = shop.world.catalogue.price
    p = None
    if shop.record_expected:
        p = {k: _cat(shop._log, "step_" + k, np.float64, kk) for k in Probabilities._fields}
    if shop.item_impressions:
        slates = _cat(shop._log, "step_slates", np.int32, kk)
        impressions = _impressions_frame(g, slates, kk, p)
    else:
        impressions = empty_impressions()
    return OnlineResult(
        slates=_slates_frame(g, p),
        impressions=impressions,
        clicks=_clicks_frame(g, shop.world.n_items + 1),
        organic_views=_organic_views_frame(g),
        carts=_carts_frame(g),
        orders=_orders_frame(g, price),
        sessions=_sessions_frame(g, shop.population, price),
        slate_size=kk,
        day0_ms=g.day0,
    )
