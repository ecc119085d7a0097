"""The OTTO Kaggle protocol: time split, truncated test sessions, labels, weighted Recall@20.

Reproduces ``otto-de/recsys-dataset`` (``src/testset.py``, ``src/labels.py``,
``src/evaluate.py``) on :class:`~paretoalign.data.SessionLog` arrays, vectorised with NumPy.

* :func:`split_by_days` -- ``testset.py`` steps 1-3: ``split_ts = max_ts - days``; sessions
  whose **first** event is after ``split_ts`` are test, the others are trimmed to
  ``ts < split_ts`` and kept with at least 2 events; test sessions keep only items seen in
  train and at least 2 events.
* :func:`truncate_sessions` -- steps 4-5: every test session of ``n >= 2`` events is cut at
  ``split_idx ~ U{1, ..., n-1}`` (seeded); the kept prefix is the input, the labels are those
  of its last event (``labels.ground_truth``): the **next click**, the set of **later carts**
  and the set of **later orders**.
* :func:`kaggle_recall` -- the official score
  ``0.10 R_clicks + 0.30 R_carts + 0.60 R_orders`` with
  ``R_t = sum_i |pred_i[:20] ∩ GT_i,t| / sum_i min(20, |GT_i,t|)`` over sessions with a
  label of type ``t``.
* :func:`write_submission` / :func:`read_submission` -- ``session_type,labels`` CSV files;
  :func:`read_test_labels` -- the official ``test_labels.jsonl``.

Item ids are this package's: the raw OTTO id + 1 (0 is padding, :mod:`paretoalign.data.otto`),
so OTTO's item 0 is item 1 here; the file readers and writers shift and unshift.

Deviations from the official scripts:

* the random cut uses NumPy's generator (``seed``), so the cut points differ from
  ``testset.py``'s ``random.seed(42)`` ones;
* a score whose denominator is zero (no session has a label of that type) is NaN where the
  official script divides by zero;
* the official scripts keep a next-click label only when it is truthy, so a next click on
  OTTO's item 0 (a real item) is silently dropped: ``labels.py`` never writes it
  (``if prev_labels[label]``) and ``evaluate.py`` skips it in a labels file that has it
  (``if 'clicks' in labels and labels['clicks']``), in the click recall's numerator and
  denominator alike. :func:`kaggle_recall` counts it like any other next click;
  ``otto_compat=True`` (``paretoalign data otto-evaluate --otto-compat``) drops it as
  ``evaluate.py`` does, which reproduces the official numbers exactly. Carts and orders
  are sets, whose truthiness only tests emptiness, so item 0 counts there in both.

The book's real-data page (section "OTTO's Kaggle score") describes the protocol.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paretoalign.data.sessionlog import CART, CLICK, ORDER, SessionLog
from paretoalign.io import atomic_path

DAY_MS = 86_400_000
#: Official weights of the score, by event type.
WEIGHTS: dict[str, float] = {"clicks": 0.10, "carts": 0.30, "orders": 0.60}
TYPES: tuple[str, ...] = ("clicks", "carts", "orders")
#: This package's id of OTTO's item 0 (raw ids are shifted by +1): the next click that
#: ``evaluate.py`` drops and ``otto_compat=True`` drops too.
OTTO_ITEM_ZERO = 1


@dataclass(frozen=True, eq=False)
class KaggleLabels:
    """Ground truth of truncated test sessions (one row per session).

    Attributes
    ----------
    session_id : int64[S]
    click : int32[S]
        The next clicked item after the cut; 0 when no click follows.
    cart_ptr, cart_aid : int64[S+1], int32[nnz]
        CSR sets of the items carted after the cut (sorted, unique per session).
    order_ptr, order_aid : int64[S+1], int32[nnz]
        CSR sets of the items ordered after the cut.
    """

    session_id: np.ndarray
    click: np.ndarray
    cart_ptr: np.ndarray
    cart_aid: np.ndarray
    order_ptr: np.ndarray
    order_aid: np.ndarray

    @property
    def n_sessions(self) -> int:
        return len(self.session_id)

    def sets(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """``(ptr, aid)`` of ``"carts"`` or ``"orders"``."""
        if kind == "carts":
            return self.cart_ptr, self.cart_aid
        if kind == "orders":
            return self.order_ptr, self.order_aid
        raise ValueError(f"kind must be 'carts' or 'orders', got {kind!r}")

    def as_dicts(self) -> dict[int, dict]:
        """``{session: {"clicks": aid, "carts": {...}, "orders": {...}}}`` (empty ones left out),
        the shape of the official ``test_labels.jsonl``."""
        out = {}
        for s, sid in enumerate(self.session_id.tolist()):
            labels: dict = {}
            if self.click[s]:
                labels["clicks"] = int(self.click[s])
            for kind in ("carts", "orders"):
                ptr, aid = self.sets(kind)
                items = set(aid[ptr[s] : ptr[s + 1]].tolist())
                if items:
                    labels[kind] = items
            out[sid] = labels
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KaggleLabels):
            return NotImplemented
        return all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("session_id", "click", "cart_ptr", "cart_aid", "order_ptr", "order_aid")
        )

    __hash__ = None  # type: ignore[assignment]


# ---------------------------------------------------------------------------- split
def split_by_days(
    log: SessionLog, days: float, *, drop_unknown_items: bool = True
) -> tuple[SessionLog, SessionLog]:
    """Cut the last ``days`` days off a log as test (OTTO ``testset.py`` steps 1-3).

    Parameters
    ----------
    log : SessionLog
        Sessions with ``ts`` in milliseconds.
    days : float
        Length of the test period; ``split_ts = max_ts - days * 86_400_000`` with ``max_ts``
        the latest event of the log.
    drop_unknown_items : bool
        As ``testset.py``: test keeps only events on items that occur in the (trimmed) train
        split, and only sessions with at least 2 events. ``False`` keeps test sessions whole.

    Returns
    -------
    train, test : SessionLog
        Sessions whose first event is at or before ``split_ts`` are train, trimmed to the
        events with ``ts < split_ts`` and kept when at least 2 remain; sessions starting
        after ``split_ts`` are test. Both keep ``log.n_items``.
    """
    if not isinstance(log, SessionLog):
        raise TypeError(f"expected a SessionLog, got {type(log).__name__}")
    if not np.isfinite(days) or days < 0:
        raise ValueError(f"days must be a non-negative number, got {days}")
    if log.n_sessions == 0:
        return log, log
    ptr = log.session_ptr
    max_ts = int(log.ts[ptr[1:] - 1].max())
    split_ts = max_ts - round(days * DAY_MS)
    to_test = log.ts[ptr[:-1]] > split_ts
    to_test_ev = np.repeat(to_test, log.lengths)

    train = log.filter_events(~to_test_ev & (log.ts < split_ts))
    train = train.take(np.flatnonzero(train.lengths >= 2))
    test = log.take(np.flatnonzero(to_test))
    if drop_unknown_items:
        known = np.zeros(log.n_items + 1, bool)
        known[train.aid] = True
        test = test.filter_events(known[test.aid])
        test = test.take(np.flatnonzero(test.lengths >= 2))
    return train, test


# ---------------------------------------------------------------------------- truncation
def truncate_sessions(
    test: SessionLog, *, seed: int | np.random.Generator = 42
) -> tuple[SessionLog, KaggleLabels]:
    """Cut every test session at a random point and label its future (steps 4-5).

    Parameters
    ----------
    test : SessionLog
        Full test sessions, each with at least 2 events (see :func:`split_by_days`).
    seed : int or numpy.random.Generator
        ``split_idx_s ~ U{1, ..., n_s - 1}`` is drawn for all sessions at once, so the same
        seed gives the same cuts.

    Returns
    -------
    truncated : SessionLog
        The first ``split_idx_s`` events of every session.
    labels : KaggleLabels
        The labels of the last kept event: next click, later carts, later orders.
    """
    if not isinstance(test, SessionLog):
        raise TypeError(f"expected a SessionLog, got {type(test).__name__}")
    lengths = test.lengths
    if test.n_sessions and lengths.min() < 2:
        s = int(np.argmin(lengths))
        raise ValueError(
            f"session {test.session_id[s]} has {lengths[s]} event(s); truncation needs >= 2"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    split_idx = (rng.integers(1, lengths) if test.n_sessions else np.zeros(0, np.int64)).astype(
        np.int64
    )
    return cut_and_label(test, split_idx)


def cut_and_label(test: SessionLog, split_idx: np.ndarray) -> tuple[SessionLog, KaggleLabels]:
    """Keep events ``[:split_idx_s]`` of each session and label the rest (vectorised).

    ``split_idx`` is int64[S] with ``1 <= split_idx_s <= n_s - 1``.
    """
    split_idx = np.asarray(split_idx)
    lengths = test.lengths
    if split_idx.shape != (test.n_sessions,) or not np.issubdtype(split_idx.dtype, np.integer):
        raise ValueError(f"split_idx must be an integer array of shape ({test.n_sessions},)")
    if test.n_sessions and ((split_idx < 1).any() or (split_idx > lengths - 1).any()):
        raise ValueError("split_idx must satisfy 1 <= split_idx < session length")
    sidx = test.session_index()
    pos = np.arange(test.n_events, dtype=np.int64) - np.repeat(test.session_ptr[:-1], lengths)
    future = pos >= np.repeat(split_idx.astype(np.int64), lengths)
    truncated = test.filter_events(~future)

    click = np.zeros(test.n_sessions, np.int32)
    idx = np.flatnonzero(future & (test.type == CLICK))
    sess, first = np.unique(sidx[idx], return_index=True)
    click[sess] = test.aid[idx[first]]
    sets = [
        _csr_sets(sidx, test.aid, future & (test.type == t), test.n_sessions) for t in (CART, ORDER)
    ]
    labels = KaggleLabels(
        session_id=test.session_id.copy(),
        click=click,
        cart_ptr=sets[0][0],
        cart_aid=sets[0][1],
        order_ptr=sets[1][0],
        order_aid=sets[1][1],
    )
    return truncated, labels


def _csr_sets(
    sidx: np.ndarray, aid: np.ndarray, mask: np.ndarray, n_sessions: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique items per session of the masked events, as sorted CSR sets."""
    s, a = sidx[mask], aid[mask]
    order = np.lexsort((a, s))
    s, a = s[order], a[order]
    new = np.r_[True, (s[1:] != s[:-1]) | (a[1:] != a[:-1])] if len(s) else np.zeros(0, bool)
    s, a = s[new], a[new]
    ptr = np.zeros(n_sessions + 1, np.int64)
    np.cumsum(np.bincount(s, minlength=n_sessions), out=ptr[1:])
    return ptr, np.ascontiguousarray(a, np.int32)


# ---------------------------------------------------------------------------- score
def kaggle_recall(
    labels: KaggleLabels,
    clicks: np.ndarray,
    carts: np.ndarray,
    orders: np.ndarray,
    *,
    k: int = 20,
    weights: dict[str, float] | None = None,
    otto_compat: bool = False,
) -> dict[str, float]:
    """The official weighted Recall@k of a submission.

    .. math::

        R_t = \\frac{\\sum_i |\\mathrm{pred}_{i,t}[{:}k] \\cap GT_{i,t}|}
                   {\\sum_i \\min(k, |GT_{i,t}|)}, \\qquad
        \\mathrm{score} = 0.10\\, R_{clicks} + 0.30\\, R_{carts} + 0.60\\, R_{orders},

    the sums over the sessions with a label of type :math:`t` (for clicks,
    :math:`GT_{i,clicks}` is the one next click).

    Parameters
    ----------
    labels : KaggleLabels
        Ground truth, one row per session.
    clicks, carts, orders : int32[S, m]
        Predicted items per session, best first, rows aligned with ``labels.session_id``;
        0 marks an empty slot (no prediction). Only the first ``k`` columns count.
    k : int
        Cut-off (20).
    weights : dict, optional
        ``{"clicks": 0.10, "carts": 0.30, "orders": 0.60}`` unless given.
    otto_compat : bool, default False
        Reproduce ``evaluate.py`` exactly: a next click on OTTO's item 0 (id
        :data:`OTTO_ITEM_ZERO` here) is dropped from the click recall, neither a hit nor
        part of its denominator (the official script tests the label for truthiness). By
        default it counts like any other next click. Carts and orders are unaffected.

    Returns
    -------
    dict
        ``{"clicks": R_clicks, "carts": R_carts, "orders": R_orders, "total": score}``;
        ``R_clicks`` = share of sessions with a (counted) next click whose click is in the
        top k; ``R_carts/orders = sum |top k ∩ GT| / sum min(k, |GT|)`` over sessions with
        labels of that type. A type without any label gives NaN (and a NaN total).
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    weights = dict(WEIGHTS if weights is None else weights)
    if set(weights) != set(TYPES):
        raise ValueError(f"weights must have the keys {TYPES}")
    preds = {}
    for name, pred in (("clicks", clicks), ("carts", carts), ("orders", orders)):
        pred = np.asarray(pred)
        if pred.ndim != 2 or pred.shape[0] != labels.n_sessions:
            raise ValueError(f"{name} must have shape ({labels.n_sessions}, m), got {pred.shape}")
        if not np.issubdtype(pred.dtype, np.integer):
            raise TypeError(f"{name} must hold integer item ids, got {pred.dtype}")
        preds[name] = pred[:, :k]

    out: dict[str, float] = {}
    has = labels.click > 0
    if otto_compat:
        has &= labels.click != OTTO_ITEM_ZERO
    hit = (preds["clicks"] == labels.click[:, None]).any(axis=1) & has
    out["clicks"] = _ratio(int(hit.sum()), int(has.sum()))
    for name in ("carts", "orders"):
        ptr, aid = labels.sets(name)
        sizes = np.diff(ptr)
        owner = np.repeat(np.arange(labels.n_sessions), sizes)
        # one comparison row per ground-truth item: is it among its session's top k?
        found = (preds[name][owner] == aid[:, None]).any(axis=1)
        out[name] = _ratio(int(found.sum()), int(np.minimum(sizes, k).sum()))
    out["total"] = float(sum(weights[t] * out[t] for t in TYPES))
    return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def kaggle_recall_reference(
    labels: dict[int, dict],
    predictions: dict[int, dict[str, list[int]]],
    k: int = 20,
    *,
    otto_compat: bool = False,
) -> dict[str, float]:
    """``evaluate.py``'s ``get_scores`` (dicts per session), for tests; NaN on empty types.

    ``labels`` is :meth:`KaggleLabels.as_dicts`' shape, in this package's ids (raw + 1).
    With ``otto_compat`` a next click is tested for truthiness on its *raw* id, as
    ``evaluate.py`` tests it (``if labels['clicks']``), so raw item 0 is dropped; without
    it every next click counts.
    """
    hits = dict.fromkeys(TYPES, 0.0)
    totals = dict.fromkeys(TYPES, 0)
    for sid, truth in labels.items():
        pred = predictions.get(sid)
        click = truth.get("clicks")
        raw_click = None if click is None else click - 1
        # evaluate.py: `if 'clicks' in labels and labels['clicks']` on the raw id
        counted = bool(raw_click) if otto_compat else raw_click is not None
        if counted:
            totals["clicks"] += 1
            if pred is not None:
                hits["clicks"] += float(truth["clicks"] in pred["clicks"][:k])
        for kind in ("carts", "orders"):
            if truth.get(kind):
                totals[kind] += min(len(truth[kind]), k)
                if pred is not None:
                    hits[kind] += len(set(pred[kind][:k]) & truth[kind])
    out = {t: (hits[t] / totals[t] if totals[t] else float("nan")) for t in TYPES}
    out["total"] = sum(WEIGHTS[t] * out[t] for t in TYPES)
    return out


def ground_truth_reference(events: list[dict]) -> list[dict]:
    """``labels.ground_truth``: every event but the last gets the labels of its future."""
    prev = {"clicks": None, "carts": set(), "orders": set()}
    out = []
    for event in reversed(events):
        labels = {}
        for kind in TYPES:
            if prev[kind]:
                labels[kind] = prev[kind] if kind == "clicks" else set(prev[kind])
        out.append({**event, "labels": labels})
        if event["type"] == "clicks":
            prev["clicks"] = event["aid"]
        elif event["type"] in ("carts", "orders"):
            prev[event["type"]].add(event["aid"])
    return list(reversed(out))[:-1]


# ---------------------------------------------------------------------------- submission files
def write_submission(
    path: str | os.PathLike,
    session_id: np.ndarray,
    clicks: np.ndarray,
    carts: np.ndarray,
    orders: np.ndarray,
    *,
    unshift_aid: bool = True,
) -> Path:
    """Write a Kaggle submission CSV (``session_type,labels``), atomically.

    Rows ``<session>_clicks``, ``<session>_carts``, ``<session>_orders`` per session, the
    labels being the non-zero items of each row (best first, space-separated), written as
    ``aid - 1`` when ``unshift_aid`` (raw OTTO ids).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    session_id = np.asarray(session_id, np.int64)
    n = len(session_id)
    mats = []
    for name, pred in (("clicks", clicks), ("carts", carts), ("orders", orders)):
        pred = np.asarray(pred)
        if pred.ndim != 2 or pred.shape[0] != n or not np.issubdtype(pred.dtype, np.integer):
            raise ValueError(f"{name} must be an integer array of shape ({n}, m)")
        if (pred < 0).any():
            raise ValueError(f"{name} holds negative item ids")
        mats.append(pred.astype(np.int64))
    width = max(m.shape[1] for m in mats)
    # rows in order session 0 clicks, carts, orders, session 1 clicks, ...
    stacked = np.zeros((n, 3, width), np.int64)
    for t, m in enumerate(mats):
        stacked[:, t, : m.shape[1]] = m
    stacked = stacked.reshape(n * 3, width)
    nonzero = stacked != 0
    counts = nonzero.sum(axis=1)
    values = stacked[nonzero] - (1 if unshift_aid else 0)
    offsets = np.zeros(n * 3 + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values).cast(pa.string()))
    labels = pc.binary_join(lists, " ")
    types = pa.array(np.tile(np.array(TYPES, dtype=object), n), pa.string())
    sids = pa.array(np.repeat(session_id, 3)).cast(pa.string())
    session_type = pc.binary_join_element_wise(sids, types, "_")
    table = pa.table({"session_type": session_type, "labels": labels})
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(b"session_type,labels\n")
        pacsv.write_csv(
            table,
            fh,
            write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"),
        )
    return path


def read_submission(
    path: str | os.PathLike, session_id: np.ndarray, *, k: int = 20, shift_aid: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read a submission CSV into ``(clicks, carts, orders)`` int32[S, k] aligned to ``session_id``.

    Rows of sessions not in ``session_id`` are ignored, missing ones stay 0; only the
    first ``k`` labels of a row are kept; ids become ``aid + 1`` when ``shift_aid``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    name = os.fspath(path)
    session_id = np.asarray(session_id, np.int64)
    try:
        table = pacsv.read_csv(
            name,
            convert_options=pacsv.ConvertOptions(
                column_types={"session_type": pa.string(), "labels": pa.string()},
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ValueError(f"{name}: not a session_type,labels CSV: {exc}") from None
    if table.column_names != ["session_type", "labels"]:
        raise ValueError(f"{name}: expected the header session_type,labels")
    parts = pc.split_pattern(table.column("session_type"), "_", max_splits=1)
    flat = pc.list_flatten(parts).to_numpy(zero_copy_only=False)
    if len(flat) != 2 * table.num_rows:
        raise ValueError(f"{name}: session_type must look like '<session>_<type>'")
    try:
        row_sid = flat[0::2].astype(np.int64)
    except ValueError:
        raise ValueError(f"{name}: session ids must be integers") from None
    row_type = flat[1::2]
    label_lists = pc.split_pattern(pc.utf8_trim_whitespace(table.column("labels")), " ")
    lens = pc.list_value_length(label_lists).to_numpy(zero_copy_only=False)
    tokens = pc.list_flatten(label_lists).to_numpy(zero_copy_only=False)
    keep_tok = tokens != ""
    try:
        items = tokens[keep_tok].astype(np.int64) + (1 if shift_aid else 0)
    except ValueError:
        raise ValueError(f"{name}: labels must be space-separated integers") from None
    if len(items) and items.min() < 1:
        raise ValueError(f"{name}: labels hold negative item ids")
    item_row = np.repeat(np.arange(table.num_rows), lens)[keep_tok]
    counts = np.bincount(item_row, minlength=table.num_rows)
    rank = np.arange(len(items)) - (np.cumsum(counts) - counts)[item_row]
    order = np.argsort(session_id)
    pos = np.searchsorted(session_id[order], row_sid)
    pos[pos == len(session_id)] = 0
    known = session_id[order][pos] == row_sid if len(session_id) else np.zeros(len(row_sid), bool)
    row = order[pos]
    out = [np.zeros((len(session_id), k), np.int32) for _ in TYPES]
    for t, kind in enumerate(TYPES):
        sel_rows = known & (row_type == kind)
        sel = sel_rows[item_row] & (rank < k)
        out[t][row[item_row[sel]], rank[sel]] = items[sel]
    return out[0], out[1], out[2]


def read_test_labels(path: str | os.PathLike, *, shift_aid: bool = True) -> KaggleLabels:
    """Read OTTO's ``test_labels.jsonl`` (written by ``testset.py``) into :class:`KaggleLabels`.

    One JSON object per line, ``{"session": int, "labels": {"clicks": int, "carts": [int],
    "orders": [int]}}``, each label optional; sessions keep the file's order, cart and
    order sets are sorted and unique, a missing next click is 0. Ids become ``aid + 1``
    when ``shift_aid`` (this package's ids; OTTO's item 0 becomes :data:`OTTO_ITEM_ZERO`).

    Raises ValueError naming the file and line (from 1) of a line that is not such an
    object, holds a negative or non-integer item id or repeats a session, and for a file
    without any session.
    """
    name = os.fspath(path)
    shift = 1 if shift_aid else 0
    sids: list[int] = []
    click: list[int] = []
    sets: dict[str, list[list[int]]] = {"carts": [], "orders": []}
    seen: set[int] = set()
    with open(name, encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{name}, line {number}"
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not JSON ({exc.msg})") from None
            labels = doc.get("labels") if isinstance(doc, dict) else None
            sid = doc.get("session") if isinstance(doc, dict) else None
            if not _is_id(sid) or not isinstance(labels, dict):
                raise ValueError(f'{where}: expected {{"session": int, "labels": {{...}}}}')
            if sid in seen:
                raise ValueError(f"{where}: session {sid} appears twice")
            seen.add(sid)
            next_click = labels.get("clicks")
            if next_click is not None and not _is_id(next_click):
                raise ValueError(f"{where}: 'clicks' must be one item id >= 0")
            sids.append(sid)
            click.append(0 if next_click is None else next_click + shift)
            for kind in ("carts", "orders"):
                items = labels.get(kind, [])
                if not isinstance(items, list) or not all(_is_id(a) for a in items):
                    raise ValueError(f"{where}: {kind!r} must be a list of item ids >= 0")
                sets[kind].append(sorted({a + shift for a in items}))
    if not sids:
        raise ValueError(f"{name}: no sessions")
    ptrs = {}
    for kind, lists in sets.items():
        ptr = np.zeros(len(lists) + 1, np.int64)
        np.cumsum([len(x) for x in lists], out=ptr[1:])
        ptrs[kind] = (ptr, np.fromiter((a for x in lists for a in x), np.int32, int(ptr[-1])))
    return KaggleLabels(
        session_id=np.asarray(sids, np.int64),
        click=np.asarray(click, np.int32),
        cart_ptr=ptrs["carts"][0],
        cart_aid=ptrs["carts"][1],
        order_ptr=ptrs["orders"][0],
        order_aid=ptrs["orders"][1],
    )


def _is_id(value: object) -> bool:
    """An int (not a bool) in ``0 .. 2**31 - 2``: a raw OTTO session or item id."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 - 1
