"""OTTO session data in JSON Lines: a streaming reader and an exact writer.

One line is one session (the format of ``otto/recsys-dataset``)::

    {"session": 42, "events": [{"aid": 0, "ts": 1661200010000, "type": "clicks"}, ...]}

``session`` is a non-negative int64, ``aid`` a non-negative article id, ``ts`` Unix time in
milliseconds and ``type`` one of ``clicks``, ``carts``, ``orders``. The reader turns a file
into a :class:`~paretoalign.data.SessionLog`, by default with MultiTRON's item convention
``aid + 1`` (so ``0`` stays free for padding) and ``n_items = max(aid + 1)``.

Schema rules (a line breaking one raises :class:`OttoFormatError` naming file and line, or
is skipped and counted with ``errors="skip"``):

* the line is valid UTF-8 and one JSON object, nothing after it;
* the object has exactly the keys ``session`` and ``events`` (no key twice), every event
  exactly ``aid``, ``ts`` and ``type``;
* ``session``, ``aid`` and ``ts`` are JSON integers (not floats, strings or booleans),
  ``0 <= session, ts <= 2**63 - 1`` and ``0 <= aid <= 2**31 - 2`` (``1 <= aid <= 2**31 - 1``
  with ``shift_aid=False``, because ``0`` is padding);
* ``events`` is a non-empty list whose timestamps never decrease;
* session ids are unique within the file.

Lines holding only spaces, tabs or carriage returns are ignored (and counted).

Three layers, as everywhere in this package:

* :func:`parse_otto_line` and :func:`read_otto_reference` -- the specification: ``json.loads``
  per line and explicit checks, in plain Python;
* ``paretoalign._fastmetrics.OttoParser`` -- the fast path in C++: it parses whole chunks
  of the file with the GIL released, stores events in blocks that are never copied while
  growing, and declines any line outside the canonical JSON subset of the schema;
* :func:`read_otto` -- the public reader: streams the file through the fast path in
  ``chunk_bytes`` pieces (memory: the output arrays plus one chunk plus the longest line)
  and hands every declined line to :func:`parse_otto_line`, which either explains the
  error or accepts the line (escaped keys, ``-0``, ...). Its result equals the reference's
  on every input (tested with Hypothesis on random and mutated files).

:func:`write_otto` writes the compact form of the original files
(``separators=(",", ":")``); reading it back gives the identical log.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import zlib
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from paretoalign.data.sessionlog import EVENT_TYPES, TYPE_CODES, SessionLog
from paretoalign.io import atomic_path

log = logging.getLogger(__name__)

Source = str | os.PathLike | BinaryIO
Errors = Literal["raise", "skip"]

#: Default bytes read per chunk; memory use is about this plus the longest line.
DEFAULT_CHUNK_BYTES = 1 << 20
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
#: Messages kept in a report for the first skipped lines.
MAX_EXAMPLES = 10
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)
_BLANK = b" \t\r"
_SESSION_KEYS = frozenset(("session", "events"))
_EVENT_KEYS = frozenset(("aid", "ts", "type"))

#: Fast-path reason codes (``OttoParser.feed``), for diagnostics and tests.
FAST_PATH_CODES: dict[int, str] = {
    1: "syntax",
    2: "not an object",
    3: "missing key",
    4: "unknown key",
    5: "duplicate key",
    6: "not an integer",
    7: "negative",
    8: "out of range",
    9: "unknown event type",
    10: "empty events",
    11: "unsorted timestamps",
    12: "trailing characters",
    13: "outside the fast subset",
}


class OttoFormatError(ValueError):
    """A line of an OTTO file breaks the schema; ``path`` and ``line`` (1-based) say where."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}, line {line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


class OttoLineError(ValueError):
    """Why one line is not a valid OTTO session (raised by :func:`parse_otto_line`)."""


@dataclass
class OttoReadReport:
    """What a read saw: line counts and the skipped lines (``errors="skip"``)."""

    path: str
    lines: int = 0
    sessions: int = 0
    events: int = 0
    blank_lines: int = 0
    skipped: int = 0
    examples: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        self.skipped += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(message)


# ---------------------------------------------------------------------------- reference
class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OttoLineError(f"{what} must be an integer, got {_show(value)}")
    if value < 0:
        raise OttoLineError(f"{what} must be non-negative, got {value}")
    if value < lo:
        raise OttoLineError(
            f"{what} {value} is reserved for padding (read with shift_aid=True for raw OTTO ids)"
        )
    if value > hi:
        raise OttoLineError(f"{what} {value} is out of range (largest allowed: {hi})")
    return value


def _check_keys(obj: dict[str, Any], expected: frozenset[str], where: str) -> None:
    for key in sorted(expected - obj.keys()):
        raise OttoLineError(f"{where}missing key {key!r}")
    for key in obj.keys() - expected:
        raise OttoLineError(f"{where}unexpected key {key!r}")


def parse_otto_line(
    line: bytes, *, shift_aid: bool = True
) -> tuple[int, list[int], list[int], list[int]]:
    """Parse one OTTO line (without its ``\\n``) with ``json.loads``: the specification.

    Parameters
    ----------
    line : bytes
        One line of the file.
    shift_aid : bool
        Return ``aid + 1`` (MultiTRON's convention, 0 = padding).

    Returns
    -------
    session_id, aids, timestamps, type_codes
        Python ints; type codes index :data:`~paretoalign.data.EVENT_TYPES`.

    Raises
    ------
    OttoLineError
        With the reason (the caller adds file and line).
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OttoLineError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        obj = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise OttoLineError(f"duplicate key {exc.key!r}") from None
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            raise OttoLineError(
                f"unexpected characters after the JSON object (column {exc.colno})"
            ) from None
        raise OttoLineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. integers beyond int-str limits
        raise OttoLineError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise OttoLineError(f"expected a JSON object, got {_show(obj)}")
    _check_keys(obj, _SESSION_KEYS, "")
    sid = _integer(obj["session"], "session", 0, INT64_MAX)
    events = obj["events"]
    if not isinstance(events, list):
        raise OttoLineError(f"events must be a list, got {_show(events)}")
    if not events:
        raise OttoLineError("events is empty (a session needs at least one event)")
    lo, hi = (0, INT32_MAX - 1) if shift_aid else (1, INT32_MAX)
    shift = 1 if shift_aid else 0
    aids: list[int] = []
    tss: list[int] = []
    types: list[int] = []
    for i, event in enumerate(events):
        where = f"event {i}: "
        if not isinstance(event, dict):
            raise OttoLineError(f"{where}expected a JSON object, got {_show(event)}")
        _check_keys(event, _EVENT_KEYS, where)
        aid = _integer(event["aid"], f"{where}aid", lo, hi)
        ts = _integer(event["ts"], f"{where}ts", 0, INT64_MAX)
        kind = event["type"]
        if not isinstance(kind, str) or kind not in TYPE_CODES:
            raise OttoLineError(
                f"{where}unknown event type {_show(kind)} (expected clicks, carts or orders)"
            )
        if tss and ts < tss[-1]:
            raise OttoLineError(
                f"{where}timestamp {ts} is earlier than the previous event's {tss[-1]} "
                "(events must be sorted by ts)"
            )
        aids.append(aid + shift)
        tss.append(ts)
        types.append(TYPE_CODES[kind])
    return sid, aids, tss, types


def read_otto_reference(
    source: Source, *, errors: Errors = "raise", shift_aid: bool = True
) -> tuple[SessionLog, OttoReadReport]:
    """Read an OTTO file line by line with :func:`parse_otto_line` (the plain reference).

    Same contract and result as :func:`read_otto_with_report`, but slow: it exists to
    specify the reader and to test the fast path against.
    """
    _check_errors(errors)
    ptr = array("q", [0])
    sids = array("q")
    aids = array("i")
    tss = array("q")
    types = array("b")
    session_lines: list[int] = []
    with _open_binary(source) as (fh, name, _):
        report = OttoReadReport(path=name)
        lineno = 0
        for lineno, raw in enumerate(_lines(fh, name), start=1):
            line = raw[:-1] if raw.endswith(b"\n") else raw
            if not line.strip(_BLANK):
                report.blank_lines += 1
                continue
            try:
                sid, a, t, y = parse_otto_line(line, shift_aid=shift_aid)
            except OttoLineError as exc:
                if errors == "raise":
                    raise OttoFormatError(name, lineno, str(exc)) from None
                report.skip(f"line {lineno}: {exc}")
                continue
            sids.append(sid)
            aids.extend(a)
            tss.extend(t)
            types.extend(y)
            ptr.append(len(aids))
            session_lines.append(lineno)
        report.lines = lineno
    arrays = {
        "session_ptr": np.frombuffer(ptr, np.int64),
        "session_id": np.frombuffer(sids, np.int64),
        "aid": np.frombuffer(aids, np.int32),
        "ts": np.frombuffer(tss, np.int64),
        "type": np.frombuffer(types, np.int8),
    }
    lines = np.asarray(session_lines, np.int64)
    return _build_log(arrays, lambda i: lines[i], errors, report, name)


def _lines(fh: BinaryIO, name: str) -> Iterator[bytes]:
    """The lines of ``fh`` (split at ``\n`` only); corrupt gzip data raises OttoFormatError."""
    lineno = 0
    while True:
        try:
            raw = fh.readline()
        except _GZIP_ERRORS as exc:
            raise OttoFormatError(name, lineno + 1, f"corrupt gzip data ({exc})") from None
        if not raw:
            return
        lineno += 1
        yield raw


# ---------------------------------------------------------------------------- fast reader
def read_otto(
    source: Source,
    *,
    errors: Errors = "raise",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    shift_aid: bool = True,
    progress: bool = False,
) -> SessionLog:
    """Read an OTTO JSON Lines file (plain or gzip) into a :class:`SessionLog`.

    Parameters
    ----------
    source : path or binary file object
        ``.jsonl`` or gzip-compressed (detected from the content, not the name).
    errors : {"raise", "skip"}
        ``"raise"``: the first bad line raises :class:`OttoFormatError` (file and line).
        ``"skip"``: bad lines are dropped (duplicate session ids: every repeat after the
        first) and counted; see :func:`read_otto_with_report` for the counts.
    chunk_bytes : int
        Bytes read at a time. Memory use is the output arrays (13 bytes per event,
        16 per session) plus about ``chunk_bytes`` plus the longest line.
    shift_aid : bool
        Store ``aid + 1`` (MultiTRON's convention: item 0 is padding).
    progress : bool
        Show a tqdm progress bar over the bytes of the file.

    Returns
    -------
    SessionLog
        Sessions in file order; ``n_items`` is the largest stored aid (0 for no events).
    """
    result, report = read_otto_with_report(
        source, errors=errors, chunk_bytes=chunk_bytes, shift_aid=shift_aid, progress=progress
    )
    if report.skipped:
        log.warning("%s: skipped %d bad lines", report.path, report.skipped)
    return result


def read_otto_with_report(
    source: Source,
    *,
    errors: Errors = "raise",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    shift_aid: bool = True,
    progress: bool = False,
) -> tuple[SessionLog, OttoReadReport]:
    """:func:`read_otto` that also returns what it saw (line counts, skipped lines)."""
    from paretoalign import _fastmetrics

    _check_errors(errors)
    if not isinstance(chunk_bytes, int) or isinstance(chunk_bytes, bool) or chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive integer, got {chunk_bytes!r}")
    parser = _fastmetrics.OttoParser(bool(shift_aid))
    with _open_binary(source) as (fh, name, position):
        report = OttoReadReport(path=name)
        bar = _progress_bar(source, name) if progress else None
        try:
            _stream(fh, name, parser, errors, chunk_bytes, shift_aid, report, bar, position)
        finally:
            if bar is not None:
                bar.close()
    report.lines = parser.lines
    arrays = parser.finish()
    gap_start, gap_count = arrays.pop("gap_start"), arrays.pop("gap_count")
    report.blank_lines = int(gap_count.sum()) - report.skipped

    def line_of(i: np.ndarray | int) -> np.ndarray | int:
        # Session i sits on line i + 1 plus the session-free lines (runs) before it.
        before = gap_start - 1 - np.concatenate(([0], np.cumsum(gap_count)[:-1]))
        k = np.searchsorted(before, i, side="right")
        return i + 1 + np.concatenate(([0], np.cumsum(gap_count)))[k]

    return _build_log(arrays, line_of, errors, report, name)


def _stream(
    fh: BinaryIO,
    name: str,
    parser: Any,
    errors: Errors,
    chunk_bytes: int,
    shift_aid: bool,
    report: OttoReadReport,
    bar: Any,
    position: Any,
) -> None:
    """Feed ``fh`` to the fast parser chunk by chunk; route declined lines to the reference."""
    buf = bytearray(chunk_bytes)
    start = filled = 0
    eof = False
    last_pos = 0
    while True:
        pos, code, _column = parser.feed(buf, start, filled, eof)
        if code:
            nl = buf.find(b"\n", pos, filled)
            end = filled if nl < 0 else nl
            _slow_line(bytes(buf[pos:end]), parser, name, errors, shift_aid, report)
            start = end + 1 if nl >= 0 else filled
            continue
        start = pos
        if eof:
            break
        rest = filled - start
        if start:
            buf[:rest] = buf[start:filled]
            start, filled = 0, rest
        if filled == len(buf):  # a line longer than the buffer: grow it
            buf.extend(bytes(len(buf)))
        with memoryview(buf) as view, view[filled:] as free:
            try:
                n = fh.readinto(free)
            except _GZIP_ERRORS as exc:
                raise OttoFormatError(
                    name, parser.lines + 1, f"corrupt gzip data ({exc})"
                ) from None
        if not n:
            eof = True
        else:
            filled += n
        if bar is not None:
            now = position()
            bar.update(now - last_pos)
            last_pos = now


def _slow_line(
    line: bytes, parser: Any, name: str, errors: Errors, shift_aid: bool, report: OttoReadReport
) -> None:
    lineno = parser.lines + 1
    try:
        sid, aids, tss, types = parse_otto_line(line, shift_aid=shift_aid)
    except OttoLineError as exc:
        if errors == "raise":
            raise OttoFormatError(name, lineno, str(exc)) from None
        report.skip(f"line {lineno}: {exc}")
        parser.skip_line()
        return
    parser.append_session(
        sid,
        np.asarray(aids, np.int32),
        np.asarray(tss, np.int64),
        np.asarray(types, np.int8),
    )


def _build_log(
    arrays: dict[str, Any], line_of: Any, errors: Errors, report: OttoReadReport, name: str
) -> tuple[SessionLog, OttoReadReport]:
    """Check session-id uniqueness (naming lines) and assemble the validated log."""
    sid = arrays["session_id"]
    keep = None
    if len(sid) > 1 and not bool(np.all(sid[1:] > sid[:-1])):
        order = np.argsort(sid, kind="stable")
        ordered = sid[order]
        repeats = order[np.flatnonzero(ordered[1:] == ordered[:-1]) + 1]
        if len(repeats):
            if errors == "raise":
                i = int(repeats.min())
                first = int(order[np.searchsorted(ordered, sid[i])])
                raise OttoFormatError(
                    name,
                    int(line_of(i)),
                    f"duplicate session id {sid[i]} (first on line {int(line_of(first))})",
                )
            for i in np.sort(repeats)[:MAX_EXAMPLES]:
                report.skip(f"line {int(line_of(int(i)))}: duplicate session id {sid[i]}")
            report.skipped += len(repeats) - min(len(repeats), MAX_EXAMPLES)
            keep = np.ones(len(sid), bool)
            keep[repeats] = False
    aid = arrays["aid"]
    result = SessionLog.from_arrays(
        arrays["session_ptr"],
        aid,
        arrays["ts"],
        arrays["type"],
        sid,
        int(arrays["max_aid"]) if "max_aid" in arrays else (int(aid.max()) if len(aid) else 0),
        validate=keep is None,
    )
    if keep is not None:
        kept = result.take(np.flatnonzero(keep))
        result = SessionLog.from_arrays(
            kept.session_ptr,
            kept.aid,
            kept.ts,
            kept.type,
            kept.session_id,
            int(kept.aid.max()) if kept.n_events else 0,
        )
    report.sessions = result.n_sessions
    report.events = result.n_events
    return result, report


# ---------------------------------------------------------------------------- writer
def write_otto(
    session_log: SessionLog,
    path: str | os.PathLike,
    *,
    unshift_aid: bool = True,
    block_events: int = 1 << 20,
) -> Path:
    """Write a log as OTTO JSON Lines, atomically; ``.gz`` paths are gzip-compressed.

    Parameters
    ----------
    session_log : SessionLog
        The sessions to write, in order.
    path : path
        Target file; a temporary file is renamed onto it when complete.
    unshift_aid : bool
        Write ``aid - 1`` (undo the reader's ``shift_aid``), so that
        ``read_otto(write_otto(log, p)) == log`` whenever ``log.n_items == max(log.aid)``.
    block_events : int
        Events formatted per call of the compiled formatter (bounds the memory used).
    """
    from paretoalign import _fastmetrics

    if not isinstance(session_log, SessionLog):
        raise TypeError(f"expected a SessionLog, got {type(session_log).__name__}")
    if block_events < 1:
        raise ValueError("block_events must be >= 1")
    session_log.validate()
    path = Path(path)
    offset = 1 if unshift_aid else 0
    ptr = session_log.session_ptr
    with atomic_path(path) as tmp:
        raw = open(tmp, "wb")
        out: BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)
            if (path.suffix == ".gz")
            else raw
        )
        try:
            s = 0
            while s < session_log.n_sessions:
                hi = int(np.searchsorted(ptr, ptr[s] + block_events, side="right")) - 1
                hi = max(hi, s + 1)
                out.write(
                    _fastmetrics.format_otto_lines(
                        ptr,
                        session_log.session_id,
                        session_log.aid,
                        session_log.ts,
                        session_log.type,
                        s,
                        hi,
                        offset,
                    )
                )
                s = hi
        finally:
            if out is not raw:
                out.close()
            raw.close()
    return path


def format_otto_reference(session_log: SessionLog, *, unshift_aid: bool = True) -> bytes:
    """The bytes :func:`write_otto` writes, built with ``json.dumps`` (the reference)."""
    offset = 1 if unshift_aid else 0
    lines = []
    for s in range(session_log.n_sessions):
        lo, hi = session_log.session_ptr[s], session_log.session_ptr[s + 1]
        session = {
            "session": int(session_log.session_id[s]),
            "events": [
                {"aid": int(a) - offset, "ts": int(t), "type": EVENT_TYPES[int(y)]}
                for a, t, y in zip(
                    session_log.aid[lo:hi], session_log.ts[lo:hi], session_log.type[lo:hi]
                )
            ],
        }
        lines.append(json.dumps(session, separators=(",", ":")) + "\n")
    return "".join(lines).encode()


# ---------------------------------------------------------------------------- helpers
def _check_errors(errors: str) -> None:
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")


@contextmanager
def _open_binary(source: Source) -> Iterator[tuple[BinaryIO, str, Any]]:
    """Yield (binary stream, display name, position of the underlying raw stream)."""
    if isinstance(source, str | os.PathLike):
        name = os.fspath(source)
        raw = open(name, "rb", buffering=0)
        try:
            magic = raw.read(2)
            raw.seek(0)
            if magic == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    yield gz, name, raw.tell
            else:
                yield raw, name, raw.tell
        finally:
            raw.close()
        return
    if not hasattr(source, "readinto"):
        raise TypeError(f"expected a path or a binary file object, got {type(source).__name__}")
    if isinstance(source, io.TextIOBase):
        raise TypeError("open the file in binary mode ('rb')")
    name = str(getattr(source, "name", "<stream>"))
    start = source.tell() if source.seekable() else 0
    head = source.peek(2)[:2] if hasattr(source, "peek") else b""
    if not head and source.seekable():
        head = source.read(2)
        source.seek(start)
    if head == _GZIP_MAGIC:
        with gzip.GzipFile(fileobj=source, mode="rb") as gz:
            yield gz, name, source.tell
    else:
        yield source, name, (source.tell if source.seekable() else lambda: 0)


def _progress_bar(source: Source, name: str) -> Any:
    from tqdm.auto import tqdm

    total = os.path.getsize(source) if isinstance(source, str | os.PathLike) else None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=Path(name).name)
