"""Offline logs: every session of the burn-in, train and test periods under the logging policy.

Shoppers arrive uniformly over ``[start, end)`` (burn-in, train, test). A session that
starts before the split belongs to train and keeps its events inside
``[train_start, split)``; one that starts at or after the split belongs to test and keeps
its events inside ``[split, end)``. So burn-in sessions contribute only their part inside
the train period and sessions crossing the split are trimmed there, as in OTTO; a trimmed
session never reaches checkout. Sessions left with fewer than 2 events are dropped (OTTO's
minimum), and counted in ``stats.json``.

The kernels simulate sessions in chunks of ``chunk_sessions`` into buffers sized by each
session's upper bound (``3 (L + 1)`` events, ``K L`` impressions), then compact; a
session's events depend only on its own seed, so the chunk size never changes the logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from paretoalign.data import Dataset, SessionLog
from paretoalign.world import kernels as K
from paretoalign.world.calibration import log_statistics
from paretoalign.world.config import ShopConfig
from paretoalign.world.records import (
    IMPRESSION_STREAM,
    EventBuffers,
    ImpressionBuffers,
    OfflinePlan,
)
from paretoalign.world.shoppers import ShopperPopulation

if TYPE_CHECKING:
    from paretoalign.world.world import World


@dataclass(frozen=True, eq=False)
class SimOutput:
    """Compacted kernel output for ``S`` sessions (events grouped by session, in order).

    ``n_events`` / ``n_impressions`` int64[S]; ``checked_out`` bool[S] (the session's
    checkout fell inside its window); event arrays ``aid, ts, type, channel,
    units`` (units: order lines only, else 0), and when recorded ``x`` (click: cart logit
    without c0; cart: order logit without o0) and ``first_cart``; impression arrays
    ``imp_*`` (``imp_util``, ``imp_choice`` when recorded).
    """

    n_events: np.ndarray
    checked_out: np.ndarray
    aid: np.ndarray
    ts: np.ndarray
    type: np.ndarray
    channel: np.ndarray
    units: np.ndarray
    x: np.ndarray
    first_cart: np.ndarray
    n_impressions: np.ndarray
    imp_ts: np.ndarray
    imp_page: np.ndarray
    imp_position: np.ndarray
    imp_aid: np.ndarray
    imp_propensity: np.ndarray
    imp_random: np.ndarray
    imp_clicked: np.ndarray
    imp_util: np.ndarray
    imp_choice: np.ndarray

    @property
    def session_index(self) -> np.ndarray:
        """Session index (0..S-1) of every event, int64[E]."""
        return np.repeat(np.arange(len(self.n_events)), self.n_events)

    @property
    def impression_session_index(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.n_impressions)), self.n_impressions)


#: Event columns of every session (``EventBuffers`` fields = ``SimOutput`` fields).
_EVENT_FIELDS = (
    ("aid", np.int32),
    ("ts", np.int64),
    ("type", np.int8),
    ("channel", np.int8),
    ("units", np.int32),
)
#: Impression columns (``ImpressionBuffers`` field ``f`` = ``SimOutput.imp_f``).
_IMP_FIELDS = (
    ("ts", np.int64),
    ("page", np.int32),
    ("position", np.int8),
    ("aid", np.int32),
    ("propensity", np.float64),
    ("random", np.bool_),
    ("clicked", np.bool_),
)
#: Columns written only with ``record`` (calibration diagnostics), same naming.
_EVENT_RECORDED = (("x", np.float64), ("first_cart", np.bool_))
_IMP_RECORDED = (("util", np.float64), ("choice", np.bool_))


def population_windows(cfg: ShopConfig, pop: ShopperPopulation) -> tuple[np.ndarray, np.ndarray]:
    """Logging windows ``[lo, hi)`` per shopper: train window before the split, else test."""
    train = pop.start_ms < cfg.split_ms
    lo = np.where(train, cfg.train_start_ms, cfg.split_ms).astype(np.int64)
    hi = np.where(train, cfg.split_ms, cfg.end_ms).astype(np.int64)
    return lo, hi


def _compact_index(offsets: np.ndarray, counts: np.ndarray) -> np.ndarray:
    total = int(counts.sum())
    starts = np.repeat(offsets - (np.cumsum(counts) - counts), counts)
    return starts + np.arange(total, dtype=np.int64)


def _buffers(cls, fields, recorded, capacity: np.ndarray, record: bool):
    """Zeroed buffers (``EventBuffers`` / ``ImpressionBuffers``) of ``capacity`` rows per
    session, each session's first row at ``off[s]``; the ``recorded`` columns are empty
    unless ``record``."""
    off = np.zeros(len(capacity) + 1, np.int64)
    np.cumsum(capacity, out=off[1:])
    size = int(off[-1])
    return cls(
        off=off[:-1],
        n=np.zeros(len(capacity), np.int64),
        **{name: np.zeros(size, dt) for name, dt in fields},
        **{name: np.zeros(size if record else 0, dt) for name, dt in recorded},
    )


def run_sessions(
    world: World,
    pop: ShopperPopulation,
    table: np.ndarray,
    win_lo: np.ndarray,
    win_hi: np.ndarray,
    *,
    log_impressions: np.ndarray | None = None,
    record: bool = False,
) -> SimOutput:
    """Simulate every shopper of ``pop`` under slate ``table`` (+ the random share).

    ``log_impressions`` (bool[S], default none) selects the sessions whose impressions
    are written; ``record`` also returns the calibration diagnostics.
    """
    n = len(pop)
    if table.shape != (world.n_items + 1, world.cfg.slate_size) or table.dtype != np.int32:
        raise ValueError("table must be int32[N+1, slate_size]")
    log_imp = (
        np.zeros(n, np.bool_)
        if log_impressions is None
        else np.ascontiguousarray(log_impressions, dtype=np.bool_)
    )
    if len(log_imp) != n or len(win_lo) != n or len(win_hi) != n:
        raise ValueError("log_impressions, win_lo and win_hi need one entry per shopper")
    W = world.packed_items()
    par, ipar = world.packed_params()
    kk = world.cfg.slate_size
    chunk = world.cfg.chunk_sessions
    parts: dict[str, list[np.ndarray]] = {}
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        sub = pop.take(np.arange(lo, hi))
        S = world.packed_shoppers(sub)
        plan = OfflinePlan(
            table=table,
            win_lo=np.ascontiguousarray(win_lo[lo:hi], dtype=np.int64),
            win_hi=np.ascontiguousarray(win_hi[lo:hi], dtype=np.int64),
            log_imp=log_imp[lo:hi],
            record=record,
        )
        budget = sub.budget.astype(np.int64)
        ev = _buffers(EventBuffers, _EVENT_FIELDS, _EVENT_RECORDED, 3 * (budget + 1) + 2, record)
        im_cap = np.where(log_imp[lo:hi], kk * budget, 0)
        im = _buffers(ImpressionBuffers, _IMP_FIELDS, _IMP_RECORDED, im_cap, record)
        done = np.zeros(hi - lo, np.bool_)
        kernel = K.simulate_batch if hi - lo >= K.PARALLEL_MIN_ROWS else K.simulate_batch_serial
        kernel(S, W, par, ipar, plan, ev, im, done)
        e_idx = _compact_index(ev.off, ev.n)
        i_idx = _compact_index(im.off, im.n)
        parts.setdefault("n_events", []).append(ev.n)
        parts.setdefault("n_impressions", []).append(im.n)
        parts.setdefault("checked_out", []).append(done)
        written = _EVENT_FIELDS + _EVENT_RECORDED if record else _EVENT_FIELDS
        for name, _ in written:
            parts.setdefault(name, []).append(getattr(ev, name)[e_idx])
        written = _IMP_FIELDS + _IMP_RECORDED if record else _IMP_FIELDS
        for name, _ in written:
            parts.setdefault("imp_" + name, []).append(getattr(im, name)[i_idx])

    def cat(name: str, dtype) -> np.ndarray:
        return np.concatenate(parts[name]) if parts.get(name) else np.zeros(0, dtype)

    return SimOutput(
        n_events=cat("n_events", np.int64),
        checked_out=cat("checked_out", np.bool_),
        **{name: cat(name, dt) for name, dt in _EVENT_FIELDS + _EVENT_RECORDED},
        n_impressions=cat("n_impressions", np.int64),
        **{"imp_" + name: cat("imp_" + name, dt) for name, dt in _IMP_FIELDS + _IMP_RECORDED},
    )


@dataclass(frozen=True, eq=False)
class OfflineLogs:
    """What ``paretoalign world simulate`` writes, in memory.

    ``dataset``: train / test :class:`SessionLog` + stats; ``channel``: per split, the
    channel code of every event (``kernels.CHANNEL_NAMES``) aligned with the log;
    ``units``: per split, units of every order line (0 for clicks and carts);
    ``impressions``: the logged slates (see :func:`impressions_frame`);
    ``truth_items`` / ``truth_shoppers``: the ground truth.
    """

    dataset: Dataset
    channel: dict[str, np.ndarray]
    units: dict[str, np.ndarray]
    impressions: pd.DataFrame
    truth_items: pd.DataFrame
    truth_shoppers: pd.DataFrame
    population: ShopperPopulation
    dropped_sessions: dict[str, int]


def simulate_offline(world: World) -> OfflineLogs:
    """Simulate the offline population of ``world`` under its logging policy."""
    cfg = world.cfg
    pop = world.offline_population()
    lo, hi = population_windows(cfg, pop)
    rng = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([cfg.seed, IMPRESSION_STREAM]))
    )
    log_imp = rng.random(len(pop)) < cfg.impression_log_share
    out = run_sessions(world, pop, world.logging_table, lo, hi, log_impressions=log_imp)
    is_train = pop.start_ms < cfg.split_ms
    ev_sess = out.session_index
    logs, channel, units, dropped = {}, {}, {}, {}
    kept = out.n_events >= 2  # OTTO's minimum
    for split, mask in (("train", is_train), ("test", ~is_train)):
        keep = mask & kept
        dropped[split] = int((mask & (out.n_events > 0) & ~kept).sum())
        dropped[split + "_empty"] = int((mask & (out.n_events == 0)).sum())
        ev = keep[ev_sess]
        counts = out.n_events[keep]
        ptr = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=ptr[1:])
        logs[split] = SessionLog.from_arrays(
            ptr, out.aid[ev], out.ts[ev], out.type[ev], pop.shopper_id[keep], world.n_items
        )
        channel[split] = out.channel[ev]
        units[split] = out.units[ev]
    im_sess = out.impression_session_index
    im = kept[im_sess]
    im_sess = im_sess[im]
    impressions = pd.DataFrame(
        {
            "session_id": pop.shopper_id[im_sess],
            "split": pd.Categorical.from_codes(
                (~is_train[im_sess]).astype(np.int8), categories=["train", "test"]
            ),
            "ts": out.imp_ts[im],
            "page_aid": out.imp_page[im],
            "position": out.imp_position[im],
            "aid": out.imp_aid[im],
            "propensity": out.imp_propensity[im].astype(np.float32),
            "random_slate": out.imp_random[im],
            "clicked": out.imp_clicked[im],
        }
    )
    kept = np.flatnonzero(kept)
    extra = {
        "source": "shop",
        "shop": {
            "seed": cfg.seed,
            "offsets": {
                "organic_utility": world.offsets.organic_utility,
                "cart_offset": world.offsets.cart_offset,
                "order_offset": world.offsets.order_offset,
            },
            "population": len(pop),
            "dropped_sessions": dropped,
            "impression_rows": len(impressions),
            "train": log_statistics(logs["train"], channel["train"], units["train"]),
            "test": log_statistics(logs["test"], channel["test"], units["test"]),
            "config": cfg.model_dump(),
        },
    }
    return OfflineLogs(
        dataset=Dataset(train=logs["train"], test=logs["test"], extra=extra),
        channel=channel,
        units=units,
        impressions=impressions,
        truth_items=truth_items(world),
        truth_shoppers=truth_shoppers(pop.take(kept), pop.start_ms[kept] < cfg.split_ms),
        population=pop,
        dropped_sessions=dropped,
    )


def truth_items(world: World) -> pd.DataFrame:
    """Per item: category, attractiveness, utility, log-popularity, price, response terms."""
    cat = world.catalogue
    W = world.packed_items()
    frame = pd.DataFrame(
        {
            "aid": np.arange(1, cat.n_items + 1, dtype=np.int32),
            "category": cat.category[1:],
            "attractiveness": cat.attractiveness[1:],
            "utility": cat.utility[1:],
            "log_popularity": cat.log_popularity[1:],
            "price": cat.price[1:],
            "click_base": W.click_base[1:],
            "p_order_given_cart": W.p_order[1:],
            "logging_clicks_past": world.item_clicks[1:],
        }
    )
    vec = pd.DataFrame(cat.vectors[1:], columns=[f"v{k}" for k in range(cat.dim)])
    return pd.concat([frame, vec], axis=1)


def truth_shoppers(pop: ShopperPopulation, is_train: np.ndarray) -> pd.DataFrame:
    """Per shopper (= session id): split, start, budget, price sensitivity, ... taste.

    The taste vector ``u0..u{d-1}`` is stored as float32 (the table is large).
    """
    frame = pd.DataFrame(
        {
            "shopper_id": pop.shopper_id,
            "split": pd.Categorical(
                np.where(is_train, "train", "test"), categories=["train", "test"]
            ),
            "start_ms": pop.start_ms,
            "budget": pop.budget,
            "price_sensitivity": pop.price_sensitivity,
            "buy_propensity": pop.buy_propensity,
        }
    )
    for f in range(pop.favourite_categories.shape[1]):
        frame[f"fav_category_{f}"] = pop.favourite_categories[:, f]
        frame[f"fav_weight_{f}"] = pop.favourite_weights[:, f]
    taste = pd.DataFrame(
        pop.taste.astype(np.float32), columns=[f"u{k}" for k in range(pop.taste.shape[1])]
    )
    return pd.concat([frame, taste], axis=1)
