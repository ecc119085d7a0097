"""Sequence labelling: sessions -> fixed-length next-click training/evaluation tensors.

This is MultiTRON's ``label_session`` + ``dynamic_collate`` (book: method page,
``method-sequences``), extended from orders to carts and orders, and vectorised over a whole
:class:`~paretoalign.data.SessionLog` (no Python loop per session).

For one session let ``C = [c_1, ..., c_n]`` be its **clicks** in event order (carts and
orders are never inputs). Keep the last ``L + 1`` clicks (``L = max_len``); then

* inputs  ``x = C[-(L+1):-1]`` (the kept clicks but the last),
* targets ``y = C[-L:]`` if ``n > L`` else ``C[1:]`` (the next click at each position),
* ``cart_label[t] = 1`` iff the *target* item ``y_t`` is carted at a strictly later event
  of the same session than the target click, and ``order_label[t]`` likewise for orders.
  The labels are computed on the **full** session, before truncation ("strictly later"
  = a larger position in the session's event list, which is sorted by time; events with
  equal timestamps keep their stored order, as in MultiTRON's reverse pass).
* Rows are **left-padded with item 0 to exactly L**: the most recent input sits in column
  ``L - 1``; ``mask`` is true on the ``min(n - 1, L)`` real positions. Sessions with fewer
  than two clicks keep a row with an all-false mask (MultiTRON batches them too).

Example (MultiTRON's ``test_label_session``): clicks 33838, cart, clicks 4759, 27601,
15406, order 4759 gives inputs ``[33838, 4759, 27601]``, targets ``[4759, 27601, 15406]``
and order labels ``[1, 0, 0]`` in the last three columns.

:func:`label_sequences` is the vectorised implementation; :func:`label_sequences_reference`
is the readable per-session loop that specifies it (tests compare the two).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from paretoalign.data.sessionlog import CART, CLICK, ORDER, SessionLog

__all__ = ["LabelledSequences", "label_sequences", "label_sequences_reference"]


@dataclass(frozen=True, eq=False)
class LabelledSequences:
    """Fixed-length, left-padded next-click sequences, one row per session.

    Attributes
    ----------
    inputs : ndarray(int32, shape=(S, L))
        Clicked items, left-padded with 0; column ``L - 1`` holds the latest input.
    targets : ndarray(int32, shape=(S, L))
        The next clicked item at each position (0 where ``mask`` is false).
    mask : ndarray(bool, shape=(S, L))
        True at real positions (``inputs != 0`` there; a row has ``min(n - 1, L)`` of them).
    cart_label : ndarray(int8, shape=(S, L))
        1 iff the target item is carted later in the same session (0 on padding).
    order_label : ndarray(int8, shape=(S, L))
        1 iff the target item is ordered later in the same session (0 on padding).
    session_index : ndarray(int64, shape=(S,))
        Row -> index of its session in the labelled :class:`SessionLog`.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    cart_label: np.ndarray
    order_label: np.ndarray
    session_index: np.ndarray

    @property
    def max_len(self) -> int:
        """The padded length ``L``."""
        return int(self.inputs.shape[1])

    @property
    def n_sequences(self) -> int:
        """Number of rows ``S``."""
        return int(self.inputs.shape[0])

    def __len__(self) -> int:
        return self.n_sequences

    @property
    def lengths(self) -> np.ndarray:
        """Real positions per row, int64[S] (0 for sessions with fewer than two clicks)."""
        return self.mask.sum(axis=1, dtype=np.int64)

    @property
    def n_targets(self) -> int:
        """Total number of real (masked-in) positions."""
        return int(self.mask.sum())

    def take(self, rows: Any) -> LabelledSequences:
        """The rows at the given indices (int array or slice), in that order."""
        if isinstance(rows, slice):
            rows = np.arange(self.n_sequences)[rows]
        rows = np.asarray(rows, dtype=np.int64)
        return LabelledSequences(
            self.inputs[rows],
            self.targets[rows],
            self.mask[rows],
            self.cart_label[rows],
            self.order_label[rows],
            self.session_index[rows],
        )

    def equals(self, other: LabelledSequences) -> bool:
        """Exact equality of every array, including dtypes."""
        pairs = zip(self._arrays(), other._arrays())
        return all(a.dtype == b.dtype and np.array_equal(a, b) for a, b in pairs)

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (
            self.inputs,
            self.targets,
            self.mask,
            self.cart_label,
            self.order_label,
            self.session_index,
        )


# ---------------------------------------------------------------------------- checks
def _check(log: Any, max_len: Any) -> int:
    if not isinstance(log, SessionLog):
        raise TypeError(f"log must be a SessionLog, got {type(log).__name__}")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)):
        raise TypeError(f"max_len must be an int, got {type(max_len).__name__}")
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    return int(max_len)


def _empty(n_sessions: int, max_len: int) -> LabelledSequences:
    shape = (n_sessions, max_len)
    return LabelledSequences(
        inputs=np.zeros(shape, np.int32),
        targets=np.zeros(shape, np.int32),
        mask=np.zeros(shape, bool),
        cart_label=np.zeros(shape, np.int8),
        order_label=np.zeros(shape, np.int8),
        session_index=np.arange(n_sessions, dtype=np.int64),
    )


# ---------------------------------------------------------------------------- fast path
def _later_event_of_same_item(
    key: np.ndarray, event_type: np.ndarray, code: int, query: np.ndarray
) -> np.ndarray:
    """For each event index in ``query``: is there an event of type ``code`` with the same
    ``key`` (session, item) at a strictly larger event index?  bool[len(query)].

    The events of type ``code`` are grouped by key (stable sort keeps their indices
    ascending), the last index of each group is kept, and each query looks its key up
    with a binary search.
    """
    of_type = np.flatnonzero(event_type == code)
    if len(of_type) == 0 or len(query) == 0:
        return np.zeros(len(query), bool)
    keys_of_type = key[of_type]
    order = np.argsort(keys_of_type, kind="stable")
    sorted_keys = keys_of_type[order]
    sorted_index = of_type[order]
    is_last = np.empty(len(sorted_keys), bool)
    is_last[:-1] = sorted_keys[1:] != sorted_keys[:-1]
    is_last[-1] = True
    group_key = sorted_keys[is_last]
    group_last_index = sorted_index[is_last]
    query_key = key[query]
    pos = np.searchsorted(group_key, query_key)
    pos = np.minimum(pos, len(group_key) - 1)
    return (group_key[pos] == query_key) & (group_last_index[pos] > query)


def label_sequences(log: SessionLog, max_len: int = 50) -> LabelledSequences:
    """Label every session of ``log`` as a left-padded next-click sequence of length ``L``.

    Parameters
    ----------
    log : SessionLog
        Sessions with clicks (type 0), carts (1) and orders (2), events in time order.
    max_len : int, default 50
        ``L``, MultiTRON's ``max_session_length``; the last ``L + 1`` clicks are kept.

    Returns
    -------
    LabelledSequences
        One row per session of ``log`` (``session_index = arange(S)``); see the module
        docstring for the exact semantics. Memory: ``11 * S * L`` bytes.

    Notes
    -----
    Vectorised over all events: ``O(E log E)`` for the later-cart/order lookups (a sort of
    the cart and order events by ``(session, item)``), ``O(E + S L)`` otherwise.
    """
    max_len = _check(log, max_len)
    n_sessions = log.n_sessions
    out = _empty(n_sessions, max_len)
    if log.n_events == 0:
        return out

    session_of_event = log.session_index()
    # (session, item) key; refuse an overflow instead of wrapping silently.
    if n_sessions * (log.n_items + 1) >= np.iinfo(np.int64).max:
        raise ValueError("n_sessions * (n_items + 1) overflows int64; label the log in blocks")
    key = session_of_event * np.int64(log.n_items + 1) + log.aid.astype(np.int64)

    click_event = np.flatnonzero(log.type == CLICK)
    if len(click_event) == 0:
        return out
    click_session = session_of_event[click_event]
    n_clicks = np.bincount(click_session, minlength=n_sessions)
    click_ptr = np.zeros(n_sessions + 1, np.int64)
    np.cumsum(n_clicks, out=click_ptr[1:])
    rank = np.arange(len(click_event), dtype=np.int64) - click_ptr[click_session]
    from_end = n_clicks[click_session] - 1 - rank  # 0 = the session's last click

    # Inputs: every kept click but the last -> column L - from_end.
    as_input = (from_end >= 1) & (from_end <= max_len)
    rows = click_session[as_input]
    cols = max_len - from_end[as_input]
    out.inputs[rows, cols] = log.aid[click_event[as_input]]

    # Targets: every kept click but the first of the session -> column L - 1 - from_end.
    as_target = (rank >= 1) & (from_end <= max_len - 1)
    target_event = click_event[as_target]
    rows = click_session[as_target]
    cols = max_len - 1 - from_end[as_target]
    out.targets[rows, cols] = log.aid[target_event]
    out.mask[rows, cols] = True
    out.cart_label[rows, cols] = _later_event_of_same_item(key, log.type, CART, target_event)
    out.order_label[rows, cols] = _later_event_of_same_item(key, log.type, ORDER, target_event)
    return out


# ---------------------------------------------------------------------------- reference
def label_sequences_reference(log: SessionLog, max_len: int = 50) -> LabelledSequences:
    """The readable specification of :func:`label_sequences`: one Python loop per session.

    Follows MultiTRON's ``label_session``: a reverse pass over the events keeps the sets
    of items carted / ordered later; each click is labelled with membership in those sets;
    then the last ``L + 1`` clicks are kept and shifted into inputs and targets. Slow
    (seconds per 10^5 events); used by the tests only.
    """
    max_len = _check(log, max_len)
    out = _empty(log.n_sessions, max_len)
    for s in range(log.n_sessions):
        lo, hi = int(log.session_ptr[s]), int(log.session_ptr[s + 1])
        carted_later: set[int] = set()
        ordered_later: set[int] = set()
        clicks: list[tuple[int, int, int]] = []  # (aid, carted later, ordered later)
        for e in range(hi - 1, lo - 1, -1):
            aid, kind = int(log.aid[e]), int(log.type[e])
            if kind == CART:
                carted_later.add(aid)
            elif kind == ORDER:
                ordered_later.add(aid)
            else:
                clicks.append((aid, int(aid in carted_later), int(aid in ordered_later)))
        clicks.reverse()
        kept = clicks[-(max_len + 1) :]
        if len(kept) < 2:
            continue
        inputs, targets = kept[:-1], kept[1:]
        start = max_len - len(targets)
        for j, ((x, _, _), (y, cart, order)) in enumerate(zip(inputs, targets)):
            out.inputs[s, start + j] = x
            out.targets[s, start + j] = y
            out.mask[s, start + j] = True
            out.cart_label[s, start + j] = cart
            out.order_label[s, start + j] = order
    return out
