"""`SessionLog`: every session of one split as flat CSR arrays.

Layout (``S`` sessions, ``E`` events)::

    session_ptr : int64[S + 1]   events of session s are [session_ptr[s], session_ptr[s+1])
    aid         : int32[E]       item id in 1..n_items (0 is reserved for padding)
    ts          : int64[E]       Unix time in milliseconds, non-decreasing within a session
    type        : int8[E]        0 clicks, 1 carts, 2 orders (see ``EVENT_TYPES``)
    session_id  : int64[S]       the source's session id (unique within a split)
    n_items     : int            catalogue size N; the item embedding table has N + 1 rows

Invariants (checked by :meth:`SessionLog.validate`): ``session_ptr[0] == 0``,
``session_ptr[-1] == E``, every session has at least one event, ids in range, types
known, timestamps sorted within each session, session ids unique.

Item ids follow MultiTRON's convention: real items are ``1..N`` and ``0`` is padding.
For OTTO this means raw ``aid + 1`` (done by the reader).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paretoalign.io import atomic_path

EVENT_TYPES: tuple[str, ...] = ("clicks", "carts", "orders")
"""Event type names by code: ``EVENT_TYPES[code]``."""
CLICK, CART, ORDER = 0, 1, 2
TYPE_CODES: dict[str, int] = {name: code for code, name in enumerate(EVENT_TYPES)}

_FORMAT_VERSION = 1


class SessionLogError(ValueError):
    """A session log violates one of its invariants."""


@dataclass(frozen=True, eq=False)
class SessionLog:
    """All sessions of one split as flat CSR arrays (see the module docstring)."""

    session_ptr: np.ndarray
    aid: np.ndarray
    ts: np.ndarray
    type: np.ndarray
    session_id: np.ndarray
    n_items: int

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        session_ptr: Any,
        aid: Any,
        ts: Any,
        type: Any,
        session_id: Any | None = None,
        n_items: int | None = None,
        *,
        validate: bool = True,
    ) -> SessionLog:
        """Build a log from array-likes, converting to the canonical dtypes.

        ``session_id`` defaults to ``0..S-1``; ``n_items`` defaults to ``max(aid)``
        (0 for an empty log). Values that do not fit the target dtype raise
        :class:`SessionLogError` instead of wrapping silently.
        """
        ptr = _as_int(session_ptr, np.int64, "session_ptr")
        aid_a = _as_int(aid, np.int32, "aid")
        ts_a = _as_int(ts, np.int64, "ts")
        type_a = _as_int(type, np.int8, "type")
        n_sessions = max(len(ptr) - 1, 0)
        sid = (
            np.arange(n_sessions, dtype=np.int64)
            if session_id is None
            else _as_int(session_id, np.int64, "session_id")
        )
        if n_items is None:
            n_items = int(aid_a.max()) if len(aid_a) else 0
        log = cls(ptr, aid_a, ts_a, type_a, sid, int(n_items))
        if validate:
            log.validate()
        return log

    @classmethod
    def empty(cls, n_items: int = 0) -> SessionLog:
        """A log with no sessions."""
        return cls.from_arrays(np.zeros(1, np.int64), [], [], [], [], n_items)

    @classmethod
    def concat(cls, logs: list[SessionLog], n_items: int | None = None) -> SessionLog:
        """Sessions of several logs, in order (``n_items``: the largest unless given)."""
        if not logs:
            return cls.empty(n_items or 0)
        lens = np.concatenate([np.diff(log.session_ptr) for log in logs])
        ptr = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=ptr[1:])
        return cls.from_arrays(
            ptr,
            np.concatenate([log.aid for log in logs]),
            np.concatenate([log.ts for log in logs]),
            np.concatenate([log.type for log in logs]),
            np.concatenate([log.session_id for log in logs]),
            max(log.n_items for log in logs) if n_items is None else n_items,
        )

    # ------------------------------------------------------------------ validation
    def validate(self) -> SessionLog:
        """Check every invariant; raise :class:`SessionLogError` naming the first violation.

        The scan over events runs in the compiled kernel
        ``_fastmetrics.check_session_log`` (one pass, GIL released).
        """
        from paretoalign import _fastmetrics

        if self.session_ptr.ndim != 1 or len(self.session_ptr) < 1:
            raise SessionLogError("session_ptr must be 1-D with at least one entry")
        n_sessions = len(self.session_ptr) - 1
        if len(self.session_id) != n_sessions:
            raise SessionLogError(
                f"session_id has {len(self.session_id)} entries for {n_sessions} sessions"
            )
        if not (len(self.aid) == len(self.ts) == len(self.type)):
            raise SessionLogError("aid, ts and type must have the same length")
        if self.n_items < 0:
            raise SessionLogError(f"n_items must be >= 0, got {self.n_items}")
        code, where = _fastmetrics.check_session_log(
            self.session_ptr, self.aid, self.ts, self.type, self.n_items
        )
        if code:
            raise SessionLogError(self._describe(code, where))
        if n_sessions > 1 and not _all_unique(self.session_id):
            raise SessionLogError("session ids are not unique")
        return self

    def _describe(self, code: int, where: int) -> str:
        if code == 1:
            return f"session_ptr[0] must be 0, got {self.session_ptr[0]}"
        if code == 2:
            return f"session_ptr[-1] must equal the number of events {len(self.aid)}"
        if code == 3:
            return f"session {self.session_id[where]} (index {where}) has no events"
        s = int(np.searchsorted(self.session_ptr, where, side="right") - 1)
        sid = self.session_id[s]
        if code == 4:
            return (
                f"event {where} of session {sid}: aid {self.aid[where]} outside 1..{self.n_items}"
            )
        if code == 5:
            return f"event {where} of session {sid}: unknown event type {self.type[where]}"
        if code == 6:
            return (
                f"event {where} of session {sid}: timestamp {self.ts[where]} is earlier "
                f"than the previous event's {self.ts[where - 1]}"
            )
        return f"invalid session log (code {code} at {where})"

    # ------------------------------------------------------------------ views
    @property
    def n_sessions(self) -> int:
        return len(self.session_ptr) - 1

    @property
    def n_events(self) -> int:
        return len(self.aid)

    @property
    def lengths(self) -> np.ndarray:
        """Events per session, int64[S]."""
        return np.diff(self.session_ptr)

    def __len__(self) -> int:
        return self.n_sessions

    def session_index(self) -> np.ndarray:
        """For every event, the index (0..S-1) of its session: int64[E]."""
        return np.repeat(np.arange(self.n_sessions, dtype=np.int64), self.lengths)

    def session(self, s: int) -> dict[str, Any]:
        """One session as a dict in OTTO's shape (item ids as stored, types by name)."""
        lo, hi = self.session_ptr[s], self.session_ptr[s + 1]
        return {
            "session": int(self.session_id[s]),
            "events": [
                {"aid": int(a), "ts": int(t), "type": EVENT_TYPES[int(y)]}
                for a, t, y in zip(self.aid[lo:hi], self.ts[lo:hi], self.type[lo:hi])
            ],
        }

    def take(self, sessions: Any) -> SessionLog:
        """The sessions at the given indices (int array) or boolean mask, in that order."""
        idx = np.asarray(sessions)
        if idx.dtype == bool:
            if len(idx) != self.n_sessions:
                raise ValueError("boolean mask must have one entry per session")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.n_sessions):
            raise IndexError("session index out of range")
        lens = self.lengths[idx]
        ptr = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lens, out=ptr[1:])
        starts = self.session_ptr[idx]
        ev = np.repeat(starts - ptr[:-1], lens) + np.arange(ptr[-1], dtype=np.int64)
        return SessionLog(
            ptr, self.aid[ev], self.ts[ev], self.type[ev], self.session_id[idx], self.n_items
        )

    def __getitem__(self, key: slice) -> SessionLog:
        if not isinstance(key, slice):
            raise TypeError("index a SessionLog with a slice, or use .take() / .session()")
        return self.take(np.arange(self.n_sessions)[key])

    def filter_events(self, keep: np.ndarray) -> SessionLog:
        """Keep the events where ``keep`` (bool[E]) is true; sessions left empty are dropped."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_events,):
            raise ValueError(f"keep must have shape ({self.n_events},)")
        # Sessions are non-empty by invariant, so reduceat over session starts is exact.
        counts = (
            np.add.reduceat(keep.astype(np.int64), self.session_ptr[:-1])
            if self.n_events
            else np.zeros(self.n_sessions, np.int64)
        )
        nonempty = counts > 0
        ptr = np.zeros(int(nonempty.sum()) + 1, np.int64)
        np.cumsum(counts[nonempty], out=ptr[1:])
        return SessionLog(
            ptr,
            self.aid[keep],
            self.ts[keep],
            self.type[keep],
            self.session_id[nonempty],
            self.n_items,
        )

    # ------------------------------------------------------------------ statistics
    def stats(self) -> dict[str, int]:
        """Counts in the schema of ``stats.json``: sessions, events, clicks, carts, orders."""
        counts = np.bincount(self.type.astype(np.int64), minlength=3)
        return {
            "sessions": int(self.n_sessions),
            "events": int(self.n_events),
            "clicks": int(counts[CLICK]),
            "carts": int(counts[CART]),
            "orders": int(counts[ORDER]),
        }

    # ------------------------------------------------------------------ equality
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SessionLog):
            return NotImplemented
        return self.n_items == other.n_items and all(
            a.dtype == b.dtype and np.array_equal(a, b)
            for a, b in zip(self._arrays(), other._arrays())
        )

    __hash__ = None  # type: ignore[assignment]

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.session_ptr, self.aid, self.ts, self.type, self.session_id)

    def __repr__(self) -> str:
        return (
            f"SessionLog(sessions={self.n_sessions:,}, events={self.n_events:,}, "
            f"n_items={self.n_items:,})"
        )

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``.npz`` or ``.parquet`` (by suffix), atomically (temp file + rename).

        Both formats round-trip exactly: ``SessionLog.load(log.save(p)) == log``.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".npz", ".parquet"):
            raise ValueError(f"{path}: unsupported suffix {suffix!r} (use .npz or .parquet)")
        with atomic_path(path) as tmp:
            if suffix == ".npz":
                with open(tmp, "wb") as fh:
                    np.savez(
                        fh,
                        session_ptr=self.session_ptr,
                        aid=self.aid,
                        ts=self.ts,
                        type=self.type,
                        session_id=self.session_id,
                        n_items=np.int64(self.n_items),
                        format_version=np.int64(_FORMAT_VERSION),
                    )
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.table(
                    {
                        "session_id": np.repeat(self.session_id, self.lengths),
                        "aid": self.aid,
                        "ts": self.ts,
                        "type": self.type,
                    }
                )
                meta = {
                    b"paretoalign": json.dumps(
                        {
                            "format_version": _FORMAT_VERSION,
                            "n_items": self.n_items,
                            "n_sessions": self.n_sessions,
                        }
                    ).encode()
                }
                table = table.replace_schema_metadata(meta)
                pq.write_table(table, tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, validate: bool = True) -> SessionLog:
        """Read a log written by :meth:`save`."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return cls.from_arrays(
                    z["session_ptr"],
                    z["aid"],
                    z["ts"],
                    z["type"],
                    z["session_id"],
                    int(z["n_items"]),
                    validate=validate,
                )
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {}).get(b"paretoalign", b"{}"))
            if "n_items" not in meta:
                raise SessionLogError(f"{path}: not a paretoalign session log (no metadata)")
            sid_events = table.column("session_id").to_numpy()
            if len(sid_events):
                starts = np.flatnonzero(np.r_[True, sid_events[1:] != sid_events[:-1]])
            else:
                starts = np.zeros(0, np.int64)
            ptr = np.r_[starts, len(sid_events)].astype(np.int64)
            return cls.from_arrays(
                ptr,
                table.column("aid").to_numpy(),
                table.column("ts").to_numpy(),
                table.column("type").to_numpy(),
                sid_events[starts],
                int(meta["n_items"]),
                validate=validate,
            )
        raise ValueError(f"{path}: unsupported suffix {suffix!r} (use .npz or .parquet)")


def _all_unique(ids: np.ndarray) -> bool:
    """True when no value repeats: one O(S) pass for increasing ids, else a sort."""
    if bool(np.all(ids[1:] > ids[:-1])):
        return True
    ordered = np.sort(ids)
    return not bool(np.any(ordered[1:] == ordered[:-1]))


def _as_int(values: Any, dtype: type, name: str) -> np.ndarray:
    """Convert to a C-contiguous 1-D array of ``dtype``; refuse lossy conversions."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SessionLogError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype)
    if arr.dtype == dtype:
        return np.ascontiguousarray(arr)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        raise SessionLogError(f"{name} must hold integers, got dtype {arr.dtype}")
    info = np.iinfo(dtype)
    lo, hi = int(arr.min()), int(arr.max())
    if lo < info.min or hi > info.max:
        raise SessionLogError(f"{name} values [{lo}, {hi}] do not fit {np.dtype(dtype).name}")
    return np.ascontiguousarray(arr.astype(dtype))
