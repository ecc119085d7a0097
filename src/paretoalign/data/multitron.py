"""Yoochoose and Diginetica with MultiTRON's preprocessing (``src/preprocessing.py``).

The pipeline of the reference, step by step, on click events (``clicks``) and, optionally,
purchase events (``orders``):

1. Build sessions from the clicks: sessions in order of their first line in the file,
   events sorted by time (stable: equal times keep file order).
2. Drop sessions with fewer than ``min_session_length`` (2) clicks.
3. Drop clicks on items with fewer than ``min_item_support`` (5) clicks, counted after 2.
4. Drop sessions with fewer than ``min_session_length`` clicks again (one pass, no fixpoint).
5. Split by time. ``max_date`` = the latest *session start*; Diginetica floors it to its
   calendar date. ``split = max_date - split_days``; a session is in train when its
   deciding event -- the last one for Yoochoose (1 day), the first one for Diginetica
   (7 days) -- is before ``split``, else in test.
6. In test, drop clicks on items that no train click has, then sessions with fewer than
   ``min_session_length`` events.
7. Item ids become ``1..N`` in order of first appearance in the train clicks (sessions in
   step-1 order, events in time order); ``N`` = the number of distinct train click items.
8. Orders on train items are merged into the click sessions with the same session id
   (train and test); orders of other sessions are dropped. Events are sorted by time
   again, stably, with the clicks first: on equal times clicks precede orders.
9. Sessions are sorted by their first event's time (stable).

The result is a :class:`~paretoalign.data.Dataset` whose events have type ``clicks`` (0) or
``orders`` (2); session ids are the source's.

Deviation from the reference: times are parsed as **UTC** (``ts`` in Unix milliseconds).
The reference parses them with naive ``datetime.timestamp()`` in the machine's local time
zone, so its split boundary (and Diginetica's date floor) moves with the time zone of the
machine that ran it; here the result is the same everywhere. Yoochoose timestamps are read
as ISO 8601 (the reference requires exactly ``%Y-%m-%dT%H:%M:%S.%fZ``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np

from paretoalign.data.dataset import Dataset
from paretoalign.data.sessionlog import CLICK, ORDER, SessionLog

DAY_MS = 86_400_000
_INT = re.compile(r"^-?[0-9]+$")


class MultiTronFormatError(ValueError):
    """A Yoochoose or Diginetica file does not have the expected layout (file and line)."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class EventTable:
    """Events of one file in file order: ``session`` int64, ``ts`` int64 (UTC ms), ``item`` int64."""

    session: np.ndarray
    ts: np.ndarray
    item: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.session)
        if len(self.ts) != n or len(self.item) != n:
            raise ValueError("session, ts and item must have the same length")

    @classmethod
    def from_arrays(cls, session, ts, item) -> EventTable:
        return cls(
            np.asarray(session, np.int64), np.asarray(ts, np.int64), np.asarray(item, np.int64)
        )

    def __len__(self) -> int:
        return len(self.session)


# ---------------------------------------------------------------------------- file layouts
@dataclass(frozen=True)
class _Layout:
    """Columns of one file layout; ``kinds``: int | iso (ISO 8601 time) | date | skip."""

    delimiter: str
    header: bool
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    example: str


YOOCHOOSE_CLICKS = _Layout(
    ",",
    False,
    ("session", "time", "item", "category"),
    ("int", "iso", "int", "skip"),
    "session_id,timestamp,item_id,category",
)
YOOCHOOSE_BUYS = _Layout(
    ",",
    False,
    ("session", "time", "item", "price", "quantity"),
    ("int", "iso", "int", "skip", "skip"),
    "session_id,timestamp,item_id,price,quantity",
)
DIGINETICA_VIEWS = _Layout(
    ";",
    True,
    ("session", "user", "item", "timeframe", "date"),
    ("int", "skip", "int", "int", "date"),
    "sessionId;userId;itemId;timeframe;eventdate (with a header line)",
)
DIGINETICA_PURCHASES = _Layout(
    ";",
    True,
    ("session", "user", "timeframe", "date", "ordernumber", "item"),
    ("int", "skip", "int", "date", "skip", "int"),
    "sessionId;userId;timeframe;eventdate;ordernumber;itemId (with a header line)",
)


def _read_table(path: str | os.PathLike, layout: _Layout) -> dict[str, np.ndarray]:
    """Read the typed columns of a CSV layout with pyarrow; errors name file and line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    name = os.fspath(path)
    if not os.path.isfile(name):
        raise FileNotFoundError(f"{name}: no such file")
    if layout.header:
        with open(name, "rb") as fh:
            head = fh.readline().decode("utf-8", "replace").rstrip("\r\n")
        if head.count(layout.delimiter) + 1 != len(layout.names):
            raise MultiTronFormatError(
                name, 1, f"expected a header with {len(layout.names)} fields ({layout.example})"
            )
    types = {
        "int": pa.int64(),
        "iso": pa.timestamp("ms", tz="UTC"),
        "date": pa.date32(),
    }
    column_types = {n: types[k] for n, k in zip(layout.names, layout.kinds) if k != "skip"}
    try:
        table = pacsv.read_csv(
            name,
            read_options=pacsv.ReadOptions(
                column_names=list(layout.names), skip_rows=1 if layout.header else 0
            ),
            parse_options=pacsv.ParseOptions(delimiter=layout.delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types=column_types, include_columns=list(column_types)
            ),
        )
    except pa.ArrowInvalid as exc:
        _diagnose(name, layout)
        raise MultiTronFormatError(
            name, None, f"cannot be read as {layout.example}: {exc}"
        ) from None
    out = {}
    for col, kind in zip(layout.names, layout.kinds):
        if kind == "skip":
            continue
        arr = table.column(col)
        if arr.null_count:
            line = int(np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))[0])
            raise MultiTronFormatError(
                name, line + 1 + layout.header, f"empty {col} field ({layout.example})"
            )
        if kind == "iso":
            values = arr.cast(pa.int64()).to_numpy()
        elif kind == "date":
            values = arr.cast(pa.int32()).to_numpy().astype(np.int64) * DAY_MS
        else:
            values = arr.to_numpy()
        out[col] = np.ascontiguousarray(values, dtype=np.int64)
    return out


def _diagnose(name: str, layout: _Layout) -> None:
    """Find the first bad line after pyarrow refused the file (slow; error path only)."""
    with open(name, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if lineno == 1 and layout.header:
                continue
            line = raw.rstrip("\r\n")
            if not line:
                continue
            fields = line.split(layout.delimiter)
            if len(fields) != len(layout.names):
                raise MultiTronFormatError(
                    name,
                    lineno,
                    f"expected {len(layout.names)} fields ({layout.example}), got {len(fields)}",
                )
            for value, col, kind in zip(fields, layout.names, layout.kinds):
                if kind == "int" and not _INT.match(value):
                    raise MultiTronFormatError(
                        name, lineno, f"{col} must be an integer, got {value!r}"
                    )
                if kind == "iso" and not _is_iso(value):
                    raise MultiTronFormatError(
                        name, lineno, f"{col} must be an ISO 8601 time, got {value!r}"
                    )
                if kind == "date" and not _is_date(value):
                    raise MultiTronFormatError(
                        name, lineno, f"{col} must be a date YYYY-MM-DD, got {value!r}"
                    )


def _is_iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def read_yoochoose_events(path: str | os.PathLike, *, buys: bool = False) -> EventTable:
    """Events of ``yoochoose-clicks.dat`` (or ``yoochoose-buys.dat`` with ``buys=True``)."""
    cols = _read_table(path, YOOCHOOSE_BUYS if buys else YOOCHOOSE_CLICKS)
    return EventTable(cols["session"], cols["time"], cols["item"])


def read_diginetica_events(path: str | os.PathLike, *, purchases: bool = False) -> EventTable:
    """Events of ``train-item-views.csv`` (or ``train-purchases.csv``).

    ``ts = eventdate (UTC midnight) + timeframe`` milliseconds, as the reference's
    ``strptime(eventdate) + timedelta(milliseconds=timeframe)``.
    """
    cols = _read_table(path, DIGINETICA_PURCHASES if purchases else DIGINETICA_VIEWS)
    return EventTable(cols["session"], cols["date"] + cols["timeframe"], cols["item"])


# ---------------------------------------------------------------------------- the pipeline
def _session_order(session: np.ndarray) -> np.ndarray:
    """For each event, the rank of its session by first appearance: int64[E]."""
    uniq, first, inverse = np.unique(session, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq))
    return rank[inverse]


def _lengths(key: np.ndarray) -> np.ndarray:
    """Run lengths of a sorted key (events grouped by session): int64[S]."""
    if len(key) == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return np.diff(np.r_[starts, len(key)])


def _keep_long_sessions(key: np.ndarray, min_len: int) -> np.ndarray:
    """Event mask of the sessions (grouped, sorted ``key``) with at least ``min_len`` events."""
    lens = _lengths(key)
    return np.repeat(lens >= min_len, lens)


def multitron_preprocess(
    clicks: EventTable,
    orders: EventTable | None,
    *,
    split_days: float,
    split_on: Literal["first", "last"],
    floor_max_date: bool,
    min_session_length: int = 2,
    min_item_support: int = 5,
    source: str = "multitron",
) -> Dataset:
    """MultiTRON's ``run_preprocessing`` on event tables (steps 1-9 of the module docstring).

    Parameters
    ----------
    clicks, orders : EventTable
        Events in file order; ``orders`` may be ``None`` (no purchases file).
    split_days : float
        Length of the test period; ``split = max_date - split_days`` days.
    split_on : {"first", "last"}
        Which event of a session decides its split (Diginetica: first, Yoochoose: last).
    floor_max_date : bool
        Floor ``max_date`` to its UTC calendar date (Diginetica).
    min_session_length, min_item_support : int
        The filters (reference: 2 and 5).

    Returns
    -------
    Dataset
        ``train`` and ``test`` logs with items ``1..N`` and ``n_items = N``.

    Raises
    ------
    ValueError
        When no train session survives the filters.
    """
    if split_on not in ("first", "last"):
        raise ValueError(f"split_on must be 'first' or 'last', got {split_on!r}")
    if min_session_length < 1 or min_item_support < 1:
        raise ValueError("min_session_length and min_item_support must be >= 1")
    if not np.isfinite(split_days) or split_days < 0:
        raise ValueError(f"split_days must be a non-negative number, got {split_days}")

    # 1. sessions in first-appearance order, events by time (lexsort is stable)
    rank = _session_order(clicks.session)
    order = np.lexsort((clicks.ts, rank))
    key, ts, item = rank[order], clicks.ts[order], clicks.item[order]
    # 2.-4. length, support, length
    keep = _keep_long_sessions(key, min_session_length)
    key, ts, item = key[keep], ts[keep], item[keep]
    _, inverse, counts = np.unique(item, return_inverse=True, return_counts=True)
    keep = counts[inverse] >= min_item_support
    key, ts, item = key[keep], ts[keep], item[keep]
    keep = _keep_long_sessions(key, min_session_length)
    key, ts, item = key[keep], ts[keep], item[keep]
    if len(key) == 0:
        raise ValueError(
            f"{source}: no session is left after the filters (sessions >= "
            f"{min_session_length} clicks, items >= {min_item_support} clicks)"
        )

    # 5. time split on session starts
    lens = _lengths(key)
    starts = np.cumsum(lens) - lens
    first_ts = ts[starts]
    max_date = int(first_ts.max())
    if floor_max_date:
        max_date = max_date // DAY_MS * DAY_MS
    split_ts = max_date - round(split_days * DAY_MS)
    deciding = first_ts if split_on == "first" else ts[starts + lens - 1]
    in_train = np.repeat(deciding < split_ts, lens)
    if not in_train.any():
        raise ValueError(
            f"{source}: every session falls into the test period (split at {split_ts} ms "
            "UTC), so the train split would be empty"
        )

    # 7. item ids 1..N by first appearance in the train clicks
    train_items = item[in_train]
    items, first_pos = np.unique(train_items, return_index=True)
    new_id = np.empty(len(items), np.int64)
    new_id[np.argsort(first_pos, kind="stable")] = np.arange(1, len(items) + 1)
    n_items = len(items)

    # 6. test clicks on train items only, then the length filter
    test = ~in_train
    test_known = test & _isin_sorted(item, items)
    t_key, t_ts, t_item = key[test_known], ts[test_known], item[test_known]
    keep = _keep_long_sessions(t_key, min_session_length)
    t_key, t_ts, t_item = t_key[keep], t_ts[keep], t_item[keep]

    # session ids of the ranks (rank -> id)
    sid_of_rank = np.empty(int(rank.max()) + 1 if len(rank) else 0, np.int64)
    sid_of_rank[rank] = clicks.session

    splits = []
    for s_key, s_ts, s_item in (
        (key[in_train], ts[in_train], item[in_train]),
        (t_key, t_ts, t_item),
    ):
        splits.append(
            _merge_orders(s_key, s_ts, s_item, orders, items, sid_of_rank, new_id, n_items)
        )
    return Dataset(
        train=splits[0],
        test=splits[1],
        extra={
            "source": source,
            "preprocessing": {
                "reference": "otto-de/MultiTRON src/preprocessing.py",
                "min_session_length": min_session_length,
                "min_item_support": min_item_support,
                "split_days": split_days,
                "split_on": split_on,
                "floor_max_date": floor_max_date,
                "split_ts_ms": split_ts,
                "timezone": "UTC",
            },
        },
    )


def _isin_sorted(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    if len(sorted_unique) == 0:
        return np.zeros(len(values), bool)
    pos = np.searchsorted(sorted_unique, values)
    pos[pos == len(sorted_unique)] = 0
    return sorted_unique[pos] == values


def _merge_orders(
    key: np.ndarray,
    ts: np.ndarray,
    item: np.ndarray,
    orders: EventTable | None,
    items: np.ndarray,
    sid_of_rank: np.ndarray,
    new_id: np.ndarray,
    n_items: int,
) -> SessionLog:
    """Steps 8-9 for one split: merge orders, remap items, sort sessions by start."""
    kind = np.full(len(key), CLICK, np.int8)
    tie = np.arange(len(key), dtype=np.int64)  # clicks keep their time order
    if orders is not None and len(orders):
        # the split's sessions by id, to find each order's session (its rank)
        ranks = np.unique(key)
        sids = sid_of_rank[ranks]
        by_sid = np.argsort(sids)
        sorted_sids = sids[by_sid]
        o_keep = _isin_sorted(orders.item, items) & _isin_sorted(orders.session, sorted_sids)
        o_key = ranks[by_sid[np.searchsorted(sorted_sids, orders.session[o_keep])]]
        key = np.r_[key, o_key]
        ts = np.r_[ts, orders.ts[o_keep]]
        item = np.r_[item, orders.item[o_keep]]
        kind = np.r_[kind, np.full(len(o_key), ORDER, np.int8)]
        tie = np.r_[tie, np.flatnonzero(o_keep)]
    # within a session: by time, clicks before orders on ties, then click order / file order
    order = np.lexsort((tie, kind, ts, key))
    key, ts, item, kind = key[order], ts[order], item[order], kind[order]
    lens = _lengths(key)
    starts = np.cumsum(lens) - lens
    # 9. sessions by first event time; ties keep the session order of step 1
    s_order = np.lexsort((key[starts], ts[starts]))
    ptr = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens[s_order], out=ptr[1:])
    ev = np.repeat(starts[s_order] - ptr[:-1], lens[s_order]) + np.arange(ptr[-1])
    mapped = new_id[np.searchsorted(items, item[ev])]
    return SessionLog.from_arrays(
        ptr, mapped, ts[ev], kind[ev], sid_of_rank[key[starts[s_order]]], n_items
    )


def multitron_preprocess_reference(
    clicks: EventTable,
    orders: EventTable | None,
    *,
    split_days: float,
    split_on: Literal["first", "last"],
    floor_max_date: bool,
    min_session_length: int = 2,
    min_item_support: int = 5,
) -> tuple[SessionLog, SessionLog]:
    """The reference's ``run_preprocessing`` with dicts and lists (the specification).

    A line-by-line port of ``src/preprocessing.py`` (with UTC integer milliseconds) used to
    test :func:`multitron_preprocess`; returns ``(train, test)``.
    """

    def create_sessions(table: EventTable, kind: int) -> list[dict]:
        sessions: dict[int, list[dict]] = {}
        for sid, ts, aid in zip(table.session.tolist(), table.ts.tolist(), table.item.tolist()):
            sessions.setdefault(sid, []).append({"aid": aid, "ts": ts, "type": kind})
        return [
            {"session": sid, "events": sorted(events, key=lambda e: e["ts"])}
            for sid, events in sessions.items()
        ]

    sessions = create_sessions(clicks, CLICK)
    sessions = [s for s in sessions if len(s["events"]) >= min_session_length]
    support: dict[int, int] = {}
    for s in sessions:
        for e in s["events"]:
            support[e["aid"]] = support.get(e["aid"], 0) + 1
    for s in sessions:
        s["events"] = [e for e in s["events"] if support[e["aid"]] >= min_item_support]
    sessions = [s for s in sessions if len(s["events"]) >= min_session_length]
    if not sessions:
        raise ValueError("no session is left after the filters")
    max_date = max(s["events"][0]["ts"] for s in sessions)
    if floor_max_date:
        max_date = max_date // DAY_MS * DAY_MS
    split = max_date - round(split_days * DAY_MS)
    idx = 0 if split_on == "first" else -1
    train = [s for s in sessions if s["events"][idx]["ts"] < split]
    test = [s for s in sessions if s["events"][idx]["ts"] >= split]
    if not train:
        raise ValueError("the train split would be empty")
    train_aids = [e["aid"] for s in train for e in s["events"]]
    known = set(train_aids)
    for s in test:
        s["events"] = [e for e in s["events"] if e["aid"] in known]
    test = [s for s in test if len(s["events"]) >= min_session_length]
    aid_to_idx: dict[int, int] = {}
    for aid in train_aids:
        aid_to_idx.setdefault(aid, len(aid_to_idx) + 1)
    order_dict: dict[int, list[dict]] = {}
    if orders is not None:
        for s in create_sessions(orders, ORDER):
            order_dict[s["session"]] = [e for e in s["events"] if e["aid"] in known]
    logs = []
    for split_sessions in (train, test):
        for s in split_sessions:
            merged = s["events"] + order_dict.get(s["session"], [])
            s["events"] = sorted(merged, key=lambda e: e["ts"])
        split_sessions = sorted(split_sessions, key=lambda s: s["events"][0]["ts"])
        lens = [len(s["events"]) for s in split_sessions]
        logs.append(
            SessionLog.from_arrays(
                np.r_[0, np.cumsum(lens, dtype=np.int64)],
                [aid_to_idx[e["aid"]] for s in split_sessions for e in s["events"]],
                [e["ts"] for s in split_sessions for e in s["events"]],
                [e["type"] for s in split_sessions for e in s["events"]],
                [s["session"] for s in split_sessions],
                len(aid_to_idx),
            )
        )
    return logs[0], logs[1]


# ---------------------------------------------------------------------------- public readers
def read_yoochoose(
    clicks: str | os.PathLike,
    buys: str | os.PathLike | None = None,
    *,
    split_days: float = 1.0,
    min_session_length: int = 2,
    min_item_support: int = 5,
) -> Dataset:
    """Yoochoose (RecSys Challenge 2015) as MultiTRON preprocesses it.

    Parameters
    ----------
    clicks : path
        ``yoochoose-clicks.dat``: ``session_id,timestamp,item_id,category``, no header,
        timestamps like ``2014-04-07T10:51:09.277Z`` (read as UTC).
    buys : path, optional
        ``yoochoose-buys.dat``: ``session_id,timestamp,item_id,price,quantity``; each line
        is one order event (quantity ignored, as in the reference).
    split_days : float
        Test period: sessions whose **last** event is within ``split_days`` of the latest
        session start are test (reference: 1 day).
    min_session_length, min_item_support : int
        The reference's filters (2 and 5).
    """
    return multitron_preprocess(
        read_yoochoose_events(clicks),
        read_yoochoose_events(buys, buys=True) if buys is not None else None,
        split_days=split_days,
        split_on="last",
        floor_max_date=False,
        min_session_length=min_session_length,
        min_item_support=min_item_support,
        source="yoochoose",
    )


def read_diginetica(
    views: str | os.PathLike,
    purchases: str | os.PathLike | None = None,
    *,
    split_days: float = 7.0,
    min_session_length: int = 2,
    min_item_support: int = 5,
) -> Dataset:
    """Diginetica (CIKM Cup 2016) as MultiTRON preprocesses it.

    Parameters
    ----------
    views : path
        ``train-item-views.csv``: ``sessionId;userId;itemId;timeframe;eventdate`` with a
        header line; ``ts = eventdate + timeframe`` ms (UTC).
    purchases : path, optional
        ``train-purchases.csv``: ``sessionId;userId;timeframe;eventdate;ordernumber;itemId``
        with a header line.
    split_days : float
        Test period: sessions whose **first** event is at or after ``max_date - split_days``
        are test, ``max_date`` being the latest session start floored to its date
        (reference: 7 days).
    min_session_length, min_item_support : int
        The reference's filters (2 and 5).
    """
    return multitron_preprocess(
        read_diginetica_events(views),
        read_diginetica_events(purchases, purchases=True) if purchases is not None else None,
        split_days=split_days,
        split_on="first",
        floor_max_date=True,
        min_session_length=min_session_length,
        min_item_support=min_item_support,
        source="diginetica",
    )


__all__ = [
    "EventTable",
    "MultiTronFormatError",
    "multitron_preprocess",
    "multitron_preprocess_reference",
    "read_diginetica",
    "read_diginetica_events",
    "read_yoochoose",
    "read_yoochoose_events",
]
