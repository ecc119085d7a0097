"""From the shop's event tables to the tidy event log and the shopper-day summary.

The shop (:class:`paretoalign.world.OnlineResult`) returns one table per event kind, each
with ``shopper_id`` and ``day``. Here they are

* stacked into one tidy **event log** (:func:`event_log`, written to ``events.parquet``):
  one row per event with ``group``, ``shopper_id``, ``day``, ``ts``, ``event`` and the
  event's fields (columns that do not apply hold 0 / False / NaN);
* summed into the **shopper-day summary** (:func:`shopper_day_summary`) that
  :func:`paretoalign.online.kpis.compute_kpis` reads.

Day attribution: every count goes to the day of its own timestamp (a slate to the day it
was shown, an order to the day of the checkout, a session to the day it started), so the
per-day KPIs describe that day's traffic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paretoalign.online.kpis import COUNT_COLUMNS

__all__ = ["GroupLookup", "event_log", "expected_summary", "shopper_day_summary"]

EVENT_KINDS = ("slate", "rec_click", "organic_view", "cart", "order")


class GroupLookup:
    """Maps shopper ids to group names (from the assignment of a population).

    Parameters
    ----------
    shopper_ids : ndarray(int64, shape=(N,))
        Every assigned shopper (unique).
    group_index : ndarray(int, shape=(N,))
        Group of each shopper, ``0..G-1``.
    names : sequence of str
        ``G`` group names.
    """

    def __init__(self, shopper_ids: np.ndarray, group_index: np.ndarray, names: Any) -> None:
        ids = np.asarray(shopper_ids, dtype=np.int64)
        idx = np.asarray(group_index, dtype=np.int64)
        if ids.shape != idx.shape or ids.ndim != 1:
            raise ValueError("shopper_ids and group_index must be 1-D of equal length")
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        if len(self.ids) > 1 and np.any(self.ids[1:] == self.ids[:-1]):
            raise ValueError("shopper ids must be unique")
        self.index = idx[order]
        self.names = list(names)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(self.names)):
            raise ValueError("group_index out of range of names")
        self.dtype = pd.CategoricalDtype(self.names)

    def group_index(self, shopper_id: np.ndarray) -> np.ndarray:
        """Group index of each shopper; ValueError for an unknown shopper."""
        sid = np.asarray(shopper_id, dtype=np.int64)
        pos = np.searchsorted(self.ids, sid)
        pos = np.minimum(pos, len(self.ids) - 1)
        if len(sid) and (len(self.ids) == 0 or np.any(self.ids[pos] != sid)):
            raise ValueError("a shopper id without an assignment reached the experiment")
        return self.index[pos]

    def groups(self, shopper_id: np.ndarray) -> pd.Categorical:
        """Group names (categorical) of each shopper."""
        return pd.Categorical.from_codes(self.group_index(shopper_id), dtype=self.dtype)


def _count(frame: pd.DataFrame, column: str, values: Any = None) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "shopper_id": frame["shopper_id"].to_numpy(np.int64),
            "day": frame["day"].to_numpy(np.int64),
            column: 1 if values is None else values,
        }
    )
    return out


def shopper_day_summary(result: Any, lookup: GroupLookup) -> pd.DataFrame:
    """One row per (shopper, day) with the counts of :data:`paretoalign.online.kpis.COUNT_COLUMNS`.

    Parameters
    ----------
    result : paretoalign.world.OnlineResult
    lookup : GroupLookup

    Returns
    -------
    DataFrame
        ``shopper_id``, ``group`` (str), ``day``, ``impressions`` (slates shown),
        ``rec_clicks`` (slates with a click), ``rec_click_orders`` (widget clicks whose
        item was ordered at the session's checkout), ``units`` and ``revenue`` (every
        order line), ``page_views`` (landing + organic + widget page views),
        ``organic_views`` (landing + organic + repeat), ``sessions`` (sessions started).
    """
    slates = result.slates
    parts = [
        _count(slates, "impressions"),
        _count(slates, "rec_clicks", (slates["clicked_position"].to_numpy() > 0).astype(np.int64)),
        _count(result.clicks, "rec_click_orders", result.clicks["ordered"].to_numpy(np.int64)),
        _count(result.orders, "units", result.orders["units"].to_numpy(np.int64)),
        _count(result.orders, "revenue", result.orders["revenue"].to_numpy(np.float64)),
        _count(result.clicks, "page_views"),
        _count(result.organic_views, "page_views"),
        _count(result.organic_views, "organic_views"),
        _count(result.sessions, "sessions"),
    ]
    stacked = pd.concat(parts, ignore_index=True, sort=False)
    for col in COUNT_COLUMNS:
        if col not in stacked.columns:
            stacked[col] = 0
    stacked[list(COUNT_COLUMNS)] = stacked[list(COUNT_COLUMNS)].fillna(0)
    summary = stacked.groupby(["shopper_id", "day"], sort=True)[list(COUNT_COLUMNS)].sum()
    summary = summary.reset_index()
    for col in COUNT_COLUMNS:
        if col != "revenue":
            summary[col] = summary[col].astype(np.int64)
    summary.insert(1, "group", np.asarray(lookup.groups(summary["shopper_id"].to_numpy()), str))
    return summary


def expected_summary(slates: pd.DataFrame, lookup: GroupLookup) -> pd.DataFrame:
    """Shopper-day sums of the exact per-slate probabilities (Rao-Blackwellised counts).

    ``slates`` needs ``shopper_id``, ``day``, ``p_click``, ``p_cart``, ``p_order`` (sums
    over a slate's positions). Returns ``shopper_id``, ``group``, ``day``, ``slates``,
    ``p_click``, ``p_cart``, ``p_order``.
    """
    frame = pd.DataFrame(
        {
            "shopper_id": slates["shopper_id"].to_numpy(np.int64),
            "day": slates["day"].to_numpy(np.int64),
            "slates": 1,
            "p_click": slates["p_click"].to_numpy(np.float64),
            "p_cart": slates["p_cart"].to_numpy(np.float64),
            "p_order": slates["p_order"].to_numpy(np.float64),
        }
    )
    out = frame.groupby(["shopper_id", "day"], sort=True).sum().reset_index()
    out.insert(1, "group", np.asarray(lookup.groups(out["shopper_id"].to_numpy()), str))
    return out


def event_log(result: Any, lookup: GroupLookup) -> pd.DataFrame:
    """All events of an online run as one tidy table (see the module docstring).

    Columns: ``group`` (categorical), ``shopper_id``, ``day``, ``ts``, ``event``
    (categorical: slate, rec_click, organic_view, cart, order), ``page_view`` (-1 for
    carts and orders), ``aid`` (the page's item for a slate, else the event's item),
    ``position`` (slate: the clicked position 1..K or 0; rec_click: its position; else
    0), ``channel`` (organic views and carts: entry / organic / repeat / rec; else NaN),
    ``carted`` / ``ordered`` (rec clicks), ``units``, ``price``, ``revenue``,
    ``wishlist``, ``rec_clicked`` (orders), and ``p_click``, ``p_cart``, ``p_order``
    (slates, when recorded; else NaN). Sorted by shopper, time and event kind.
    """
    kinds = pd.CategoricalDtype(list(EVENT_KINDS))
    from paretoalign.world import CHANNEL_NAMES

    channels = pd.CategoricalDtype(list(CHANNEL_NAMES[:4]))
    frames = []

    def base(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
        n = len(frame)
        return pd.DataFrame(
            {
                "shopper_id": frame["shopper_id"].to_numpy(np.int64),
                "day": frame["day"].to_numpy(np.int32),
                "ts": frame["ts"].to_numpy(np.int64),
                "event": pd.Categorical.from_codes(
                    np.full(n, EVENT_KINDS.index(kind), np.int8), dtype=kinds
                ),
                "page_view": (
                    frame["page_view"].to_numpy(np.int32)
                    if "page_view" in frame
                    else np.full(n, -1, np.int32)
                ),
                "aid": frame["aid"].to_numpy(np.int32) if "aid" in frame else np.zeros(n, np.int32),
                "position": np.zeros(n, np.int8),
                "channel": pd.Categorical.from_codes(np.full(n, -1, np.int8), dtype=channels),
                "carted": np.zeros(n, bool),
                "ordered": np.zeros(n, bool),
                "units": np.zeros(n, np.int32),
                "price": np.full(n, np.nan),
                "revenue": np.zeros(n),
                "wishlist": np.zeros(n, bool),
                "rec_clicked": np.zeros(n, bool),
                "p_click": np.full(n, np.nan),
                "p_cart": np.full(n, np.nan),
                "p_order": np.full(n, np.nan),
            }
        )

    s = result.slates
    f = base(s, "slate")
    f["aid"] = s["page_aid"].to_numpy(np.int32)
    f["position"] = s["clicked_position"].to_numpy(np.int8)
    for col in ("p_click", "p_cart", "p_order"):
        if col in s:
            f[col] = s[col].to_numpy(np.float64)
    frames.append(f)
    c = result.clicks
    f = base(c, "rec_click")
    f["position"] = c["position"].to_numpy(np.int8)
    f["carted"] = c["carted"].to_numpy(bool)
    f["ordered"] = c["ordered"].to_numpy(bool)
    frames.append(f)
    for table, kind in ((result.organic_views, "organic_view"), (result.carts, "cart")):
        f = base(table, kind)
        f["channel"] = pd.Categorical(table["channel"].astype(str), dtype=channels)
        frames.append(f)
    o = result.orders
    f = base(o, "order")
    f["units"] = o["units"].to_numpy(np.int32)
    f["price"] = o["price"].to_numpy(np.float64)
    f["revenue"] = o["revenue"].to_numpy(np.float64)
    f["wishlist"] = o["wishlist"].to_numpy(bool)
    f["rec_clicked"] = o["rec_clicked"].to_numpy(bool)
    frames.append(f)
    events = pd.concat(frames, ignore_index=True, sort=False)
    events.insert(0, "group", lookup.groups(events["shopper_id"].to_numpy()))
    events = events.sort_values(["shopper_id", "ts", "event"], kind="stable")
    return events.reset_index(drop=True)
