"""OTTO JSON Lines: the fast reader against the json reference, the writer, bad input."""

from __future__ import annotations

import gzip
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paretoalign import _fastmetrics
from paretoalign.data import SessionLog
from paretoalign.data.otto import (
    FAST_PATH_CODES,
    OttoFormatError,
    format_otto_reference,
    parse_otto_line,
    read_otto,
    read_otto_reference,
    read_otto_with_report,
    write_otto,
)

GOOD = [
    b'{"session":7,"events":[{"aid":3,"ts":100,"type":"clicks"},{"aid":4,"ts":100,"type":"carts"}]}',
    b'{"session":8,"events":[{"aid":0,"ts":5,"type":"orders"}]}',
    b'{"session":9,"events":[{"aid":11,"ts":1,"type":"clicks"},{"aid":3,"ts":2,"type":"clicks"}]}',
]


def _file(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _both(data: bytes, **kw):
    """Outcome of the fast reader and of the reference on the same bytes."""
    out = []
    for reader in (read_otto_with_report, read_otto_reference):
        try:
            log, report = reader(io.BytesIO(data), **kw)
            out.append(("ok", log, report))
        except OttoFormatError as exc:
            out.append(("error", str(exc), exc.line))
    return out


def _assert_same(data: bytes, **kw):
    fast, ref = _both(data, **kw)
    assert fast[0] == ref[0], (fast, ref)
    if fast[0] == "ok":
        assert fast[1] == ref[1]
        assert fast[2] == ref[2]
    else:
        assert fast[1:] == ref[1:]
    return fast


# ------------------------------------------------------------------ the real fixture
def test_fixture_counts_and_reference(otto_sample):
    log = read_otto(otto_sample)
    assert log.stats() == {
        "sessions": 20,
        "events": 862,
        "clicks": 800,
        "carts": 52,
        "orders": 10,
    }
    ref, report = read_otto_reference(otto_sample)
    assert log == ref
    assert report.lines == 20 and report.skipped == 0
    # MultiTRON's shift: the first event of the file is {"aid":1517085, ...} -> 1517086.
    assert log.aid[0] == 1517085 + 1
    assert log.ts[0] == 1659304800025
    assert log.n_items == int(log.aid.max())


def test_fixture_round_trips_byte_for_byte(otto_sample, tmp_path):
    log = read_otto(otto_sample)
    out = write_otto(log, tmp_path / "again.jsonl")
    # The files use compact separators, so writing reproduces them exactly.
    assert out.read_bytes() == otto_sample.read_bytes()
    assert read_otto(out) == log
    assert format_otto_reference(log) == otto_sample.read_bytes()


def test_gzip_round_trip(otto_sample, tmp_path):
    log = read_otto(otto_sample)
    path = write_otto(log, tmp_path / "s.jsonl.gz")
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(path.read_bytes()) == otto_sample.read_bytes()
    assert read_otto(path) == log
    assert read_otto(path, chunk_bytes=333) == log
    # gzip is recognised by content, also from an open binary stream
    with open(path, "rb") as fh:
        assert read_otto(fh) == log


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000, 50_000, 1 << 22])
def test_chunk_sizes_give_identical_logs(otto_sample, chunk):
    assert read_otto(otto_sample, chunk_bytes=chunk) == read_otto(otto_sample)


def test_unshifted_round_trip(tmp_path):
    data = _file(GOOD[0], GOOD[2])
    log = read_otto(io.BytesIO(data), shift_aid=False)
    assert log.aid.tolist() == [3, 4, 11, 3]
    path = write_otto(log, tmp_path / "raw.jsonl", unshift_aid=False)
    assert path.read_bytes() == data
    assert read_otto(path, shift_aid=False) == log


def test_empty_and_blank_files():
    for data in (b"", b"\n", b" \t\r\n\n"):
        kind, log, report = _assert_same(data)
        assert kind == "ok" and log.n_sessions == 0 and log.n_items == 0
        assert report.blank_lines == data.count(b"\n")


# ------------------------------------------------------------------ accepted spellings
def test_other_valid_spellings_equal_the_canonical_one():
    canonical = read_otto(io.BytesIO(_file(GOOD[0])))
    variants = [
        # whitespace everywhere JSON allows it, and a CRLF line end
        b' { "session" : 7 , "events" : [ { "aid" : 3 , "ts" : 100 , "type" : "clicks" } ,'
        b'{"aid":4,"ts":100,"type":"carts"} ] } \r',
        # keys in another order
        b'{"events":[{"type":"clicks","ts":100,"aid":3},{"ts":100,"type":"carts","aid":4}],'
        b'"session":7}',
        # escapes in keys and values (the fast path declines, the reference accepts)
        b'{"session":7,"events":[{"\\u0061id":3,"ts":100,"type":"click\\u0073"},'
        b'{"aid":4,"ts":100,"type":"carts"}]}',
        # tab separators
        b'{"session":\t7,"events":[{"aid":3,"ts":100,"type":"clicks"},{"aid":4,"ts":100,"type":"carts"}]}',
    ]
    for line in variants:
        assert read_otto(io.BytesIO(_file(line))) == canonical, line
        assert read_otto(io.BytesIO(line)) == canonical, "no final newline"
        _assert_same(_file(line))


def test_minus_zero_is_zero():
    # JSON's -0 is the integer 0 for json.loads, so it is a valid (shifted) aid.
    line = b'{"session":-0,"events":[{"aid":-0,"ts":0,"type":"clicks"}]}'
    log = read_otto(io.BytesIO(line))
    assert log.session_id.tolist() == [0] and log.aid.tolist() == [1]
    _assert_same(line)


# ------------------------------------------------------------------ malformed input
BAD = [
    # (line, expected fragment of the message, fast-path code)
    (b'{"session":1,"events":[', "invalid JSON", 1),
    (b"[1, 2]", "expected a JSON object", 2),
    (b'{"events":[{"aid":1,"ts":1,"type":"clicks"}]}', "missing key 'session'", 3),
    (b'{"session":1,"events":[{"aid":1,"type":"clicks"}]}', "event 0: missing key 'ts'", 3),
    (
        b'{"session":1,"user":3,"events":[{"aid":1,"ts":1,"type":"clicks"}]}',
        "unexpected key 'user'",
        4,
    ),
    (
        b'{"session":1,"session":2,"events":[{"aid":1,"ts":1,"type":"clicks"}]}',
        "duplicate key 'session'",
        5,
    ),
    (
        b'{"session":1,"events":[{"aid":1.5,"ts":1,"type":"clicks"}]}',
        "aid must be an integer, got 1.5",
        6,
    ),
    (
        b'{"session":1,"events":[{"aid":"12","ts":1,"type":"clicks"}]}',
        'aid must be an integer, got "12"',
        6,
    ),
    (
        b'{"session":1,"events":[{"aid":true,"ts":1,"type":"clicks"}]}',
        "aid must be an integer, got true",
        6,
    ),
    (
        b'{"session":-4,"events":[{"aid":1,"ts":1,"type":"clicks"}]}',
        "session must be non-negative, got -4",
        7,
    ),
    (
        b'{"session":1,"events":[{"aid":-2,"ts":1,"type":"clicks"}]}',
        "aid must be non-negative, got -2",
        7,
    ),
    (
        b'{"session":1,"events":[{"aid":2147483647,"ts":1,"type":"clicks"}]}',
        "aid 2147483647 is out of range",
        8,
    ),
    (
        b'{"session":1,"events":[{"aid":1,"ts":9223372036854775808,"type":"clicks"}]}',
        "ts 9223372036854775808 is out of range",
        8,
    ),
    (b'{"session":1,"events":[{"aid":1,"ts":1,"type":"views"}]}', 'unknown event type "views"', 9),
    (b'{"session":1,"events":[{"aid":1,"ts":1,"type":2}]}', "unknown event type 2", 9),
    (b'{"session":1,"events":[]}', "events is empty", 10),
    (
        b'{"session":1,"events":[{"aid":1,"ts":9,"type":"clicks"},{"aid":2,"ts":8,"type":"clicks"}]}',
        "event 1: timestamp 8 is earlier than the previous event's 9",
        11,
    ),
    (
        b'{"session":1,"events":[{"aid":1,"ts":1,"type":"clicks"}]} x',
        "unexpected characters after the JSON object",
        12,
    ),
    (
        b'{"session":1,"events":[{"aid":1,"ts":1,"type":"clicks"}]}{}',
        "unexpected characters after the JSON object",
        12,
    ),
    (b'{"session":1,"events":[{"aid":01,"ts":1,"type":"clicks"}]}', "invalid JSON", 1),
    (b'{"session":1,"events":{"aid":1}}', "events must be a list", 1),
    (b'{"session":1,"events":[7]}', "event 0: expected a JSON object, got 7", 2),
    (b'{"session":1,"events":[{"aid":1,"ts":1,"type":"cl\xffcks"}]}', "not valid UTF-8", 9),
    (
        b'{"session":1,"events":[{"aid":NaN,"ts":1,"type":"clicks"}]}',
        "aid must be an integer, got nan",
        6,
    ),
]


@pytest.mark.parametrize(("line", "fragment", "code"), BAD, ids=[b[1][:30] for b in BAD])
def test_malformed_line_names_file_and_line(tmp_path, line, fragment, code):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_file(GOOD[0], GOOD[1], line, GOOD[2]))
    for reader in (read_otto, lambda p: read_otto_reference(p)[0]):
        with pytest.raises(OttoFormatError) as info:
            reader(path)
        assert info.value.line == 3
        assert info.value.path == str(path)
        assert str(info.value).startswith(f"{path}, line 3: ")
        assert fragment in str(info.value)
    # the fast path declines the line for the documented reason
    parser = _fastmetrics.OttoParser(True)
    pos, got, _ = parser.feed(line, 0, len(line), True)
    assert (pos, FAST_PATH_CODES.get(got)) == (0, FAST_PATH_CODES[code])
    assert parser.events == 0  # nothing of a declined line is stored


def test_duplicate_session_id_names_both_lines(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_bytes(_file(GOOD[0], b"", GOOD[1], GOOD[0].replace(b"3,", b"5,", 1)))
    for reader in (read_otto, lambda p: read_otto_reference(p)[0]):
        with pytest.raises(
            OttoFormatError, match=r"line 4: duplicate session id 7 \(first on line 1\)"
        ):
            reader(path)


def test_aid_zero_needs_the_shift():
    data = _file(GOOD[1])
    with pytest.raises(OttoFormatError, match="reserved for padding"):
        read_otto(io.BytesIO(data), shift_aid=False)
    assert read_otto(io.BytesIO(data)).aid.tolist() == [1]


def test_skip_mode_counts_and_keeps_the_good_lines():
    data = _file(
        GOOD[0],
        BAD[0][0],
        b"   ",
        GOOD[1],
        BAD[5][0],
        GOOD[0],  # duplicate session 7: skipped, the first one stays
        GOOD[2],
        BAD[16][0],
    )
    kind, log, report = _assert_same(data, errors="skip")
    assert kind == "ok"
    assert log.session_id.tolist() == [7, 8, 9]
    assert (report.lines, report.blank_lines, report.skipped) == (8, 1, 4)
    assert report.sessions == 3 and report.events == 5
    assert report.examples[0].startswith("line 2: invalid JSON")
    assert report.examples[-1] == "line 6: duplicate session id 7"
    assert read_otto(io.BytesIO(data), errors="skip") == log


def test_skip_mode_n_items_ignores_dropped_lines():
    big = b'{"session":9,"events":[{"aid":999,"ts":1,"type":"clicks"}]}'
    data = _file(GOOD[1], big.replace(b"clicks", b"views"), GOOD[1])
    log = read_otto(io.BytesIO(data), errors="skip")
    assert log.n_items == 1  # neither the bad line nor the duplicate counts


def test_argument_checks(otto_sample):
    with pytest.raises(ValueError, match="errors"):
        read_otto(otto_sample, errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_bytes"):
        read_otto(otto_sample, chunk_bytes=0)
    with open(otto_sample) as text, pytest.raises(TypeError, match="binary"):
        read_otto(text)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        read_otto(42)  # type: ignore[arg-type]
    parser = _fastmetrics.OttoParser(True)
    with pytest.raises(ValueError, match="start"):
        parser.feed(b"abc", 2, 1, True)
    with pytest.raises(ValueError, match="start"):
        parser.feed(b"abc", 0, 4, True)
    with pytest.raises(TypeError):
        write_otto("not a log", "x.jsonl")  # type: ignore[arg-type]


def test_progress_bar_reads_the_same(otto_sample, capsys):
    assert read_otto(otto_sample, progress=True) == read_otto(otto_sample)


def test_writer_is_atomic(tmp_path):
    log = read_otto(io.BytesIO(_file(*GOOD)))
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"old")
    bad = SessionLog(log.session_ptr, log.aid, log.ts, log.type, log.session_id, 0)
    with pytest.raises(ValueError):
        write_otto(bad, target)  # invalid log: nothing is written
    assert target.read_bytes() == b"old"
    write_otto(log, target, block_events=1)
    assert target.read_bytes() == format_otto_reference(log)
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]


def test_format_kernel_checks_its_input():
    log = read_otto(io.BytesIO(_file(*GOOD)))
    args = [log.session_ptr, log.session_id, log.aid, log.ts, log.type]
    with pytest.raises(ValueError):
        _fastmetrics.format_otto_lines(*args, 0, 99, 1)
    with pytest.raises(TypeError):
        _fastmetrics.format_otto_lines(log.session_ptr.astype(np.int32), *args[1:], 0, 1, 1)
    bad_type = log.type.copy()
    bad_type[0] = 7
    with pytest.raises(ValueError, match="type"):
        _fastmetrics.format_otto_lines(*args[:4], bad_type, 0, 1, 1)
    bad_ptr = log.session_ptr.copy()
    bad_ptr[1] = 99
    with pytest.raises(ValueError, match="session_ptr"):
        _fastmetrics.format_otto_lines(bad_ptr, *args[1:], 0, 2, 1)


# ------------------------------------------------------------------ property tests
@st.composite
def session_logs(draw, max_sessions=6):
    n = draw(st.integers(0, max_sessions))
    lens = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    e = int(ptr[-1])
    big = st.sampled_from([0, 1, 2, 9, 10, 99, 2**31 - 2, 2**40, 2**63 - 1])
    raw_aid = draw(
        st.lists(
            st.one_of(st.integers(0, 50), big.filter(lambda v: v <= 2**31 - 2)),
            min_size=e,
            max_size=e,
        )
    )
    ts_steps = draw(st.lists(st.one_of(st.integers(0, 1000), big), min_size=e, max_size=e))
    types = draw(st.lists(st.integers(0, 2), min_size=e, max_size=e))
    sids = draw(
        st.lists(st.one_of(st.integers(0, 10**6), big), min_size=n, max_size=n, unique=True)
    )
    ts = []
    for s in range(n):
        vals = sorted(min(v, 2**63 - 1) for v in ts_steps[ptr[s] : ptr[s + 1]])
        ts.extend(vals)
    aid = np.asarray(raw_aid, np.int64) + 1
    return SessionLog.from_arrays(ptr, aid, ts, types, sids, int(aid.max()) if e else 0)


def _spell(log: SessionLog, draw) -> bytes:
    """The log as OTTO lines in random but valid JSON spellings."""
    out = []
    for s in range(log.n_sessions):
        sess = log.session(s)
        for ev in sess["events"]:
            ev["aid"] -= 1
        events = []
        for ev in sess["events"]:
            keys = draw(st.permutations(["aid", "ts", "type"]))
            events.append({k: ev[k] for k in keys})
        obj = {"session": sess["session"], "events": events}
        if draw(st.booleans()):
            obj = {"events": events, "session": sess["session"]}
        style = draw(st.sampled_from(["compact", "spaced", "indent", "ascii"]))
        if style == "compact":
            text = json.dumps(obj, separators=(",", ":"))
        elif style == "spaced":
            text = json.dumps(obj)
        elif style == "indent":
            text = json.dumps(obj, indent="\t").replace("\n", "\r")
        else:
            text = json.dumps(obj).replace('"type"', '"\\u0074ype"')
        out.append(text.encode())
        if draw(st.integers(0, 9)) == 0:
            out.append(b" \t")
    return b"\n".join(out) + (b"\n" if draw(st.booleans()) else b"")


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), log=session_logs(), chunk=st.integers(1, 300))
def test_fast_reader_equals_reference_and_original(data, log, chunk):
    blob = _spell(log, data.draw)
    fast = read_otto(io.BytesIO(blob), chunk_bytes=chunk)
    ref, _ = read_otto_reference(io.BytesIO(blob))
    assert fast == ref
    expected = SessionLog.from_arrays(
        log.session_ptr, log.aid, log.ts, log.type, log.session_id, fast.n_items
    )
    assert fast == expected


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(log=session_logs(), unshift=st.booleans())
def test_writer_kernel_equals_json_dumps(log, unshift):
    ptr = log.session_ptr
    got = _fastmetrics.format_otto_lines(
        ptr, log.session_id, log.aid, log.ts, log.type, 0, log.n_sessions, int(unshift)
    )
    assert got == format_otto_reference(log, unshift_aid=unshift)
    again = read_otto(io.BytesIO(got), shift_aid=unshift)
    assert again == SessionLog.from_arrays(
        ptr, log.aid, log.ts, log.type, log.session_id, int(log.aid.max()) if log.n_events else 0
    )


_TOKENS = [
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b'"',
    b"\\",
    b" ",
    b"\n",
    b"\r",
    b"-",
    b"0",
    b"7",
    b".",
    b"e",
    b'"aid"',
    b'"ts"',
    b'"type"',
    b'"session"',
    b'"events"',
    b'"clicks"',
    b'"carts"',
    b'"orders"',
    b"\xff",
    b"\x00",
    b"null",
    b"true",
]


@st.composite
def mutated_files(draw):
    lines = draw(st.lists(st.sampled_from(GOOD), min_size=1, max_size=4))
    blob = bytearray(b"\n".join(lines) + b"\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        i = draw(st.integers(0, len(blob)))
        if op == "insert":
            blob[i:i] = draw(st.sampled_from(_TOKENS))
        elif op == "delete" and blob:
            j = draw(st.integers(i, min(len(blob), i + 8)))
            del blob[i:j]
        elif blob:
            blob[min(i, len(blob) - 1)] = draw(st.integers(0, 255))
    return bytes(blob)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    blob=st.one_of(mutated_files(), st.binary(max_size=200)),
    chunk=st.integers(1, 64),
    skip=st.booleans(),
)
def test_mutations_behave_like_the_reference(blob, chunk, skip):
    errors = "skip" if skip else "raise"
    ref = _both(blob, errors=errors)[1]
    try:
        fast = ("ok", *read_otto_with_report(io.BytesIO(blob), errors=errors, chunk_bytes=chunk))
    except OttoFormatError as exc:
        fast = ("error", str(exc), exc.line)
    assert fast[0] == ref[0]
    if fast[0] == "error" and "corrupt gzip data" in ref[1]:
        # both stop at the broken compressed stream; how far each read ahead differs
        assert "corrupt gzip data" in fast[1]
    else:
        assert fast[1:] == ref[1:]


def test_corrupt_gzip_is_a_format_error(otto_sample, tmp_path):
    blob = gzip.compress(otto_sample.read_bytes())
    for broken in (blob[: len(blob) // 2], blob[:10] + b"garbage" * 50):
        path = tmp_path / "broken.jsonl.gz"
        path.write_bytes(broken)
        for reader in (read_otto, lambda p: read_otto_reference(p)[0]):
            with pytest.raises(OttoFormatError, match="corrupt gzip data"):
                reader(path)


@settings(max_examples=300)
@given(blob=st.binary(max_size=300), data=st.data(), shift=st.booleans())
def test_parser_never_reads_out_of_bounds(blob, data, shift):
    # Random windows of random bytes: the kernel returns a position inside the window and
    # a known code, or raises ValueError for an invalid window; it never crashes.
    parser = _fastmetrics.OttoParser(shift)
    start = data.draw(st.integers(0, len(blob)))
    stop = data.draw(st.integers(start, len(blob)))
    pos, code, column = parser.feed(blob, start, stop, data.draw(st.booleans()))
    assert start <= pos <= stop
    assert code == 0 or code in FAST_PATH_CODES
    assert column >= 0
    arrays = parser.finish()
    assert len(arrays["session_ptr"]) == len(arrays["session_id"]) + 1
    assert arrays["session_ptr"][-1] == len(arrays["aid"]) == len(arrays["ts"])


def test_reference_line_parser_returns_python_values():
    sid, aids, ts, types = parse_otto_line(GOOD[0])
    assert (sid, aids, ts, types) == (7, [4, 5], [100, 100], [0, 1])
    sid, aids, ts, types = parse_otto_line(GOOD[0], shift_aid=False)
    assert aids == [3, 4]


def test_parser_reports_progress_counters():
    blob = _file(*GOOD) + b"\n"
    parser = _fastmetrics.OttoParser(True)
    assert parser.feed(blob, 0, len(blob), False) == (len(blob), 0, 0)
    assert (parser.lines, parser.sessions, parser.events) == (4, 3, 5)
    arrays = parser.finish()
    assert arrays["gap_start"].tolist() == [4] and arrays["gap_count"].tolist() == [1]
    assert arrays["max_aid"] == 12
    # the parser is empty (and reusable) after finish()
    assert (parser.sessions, parser.events) == (0, 0)
