"""Yoochoose / Diginetica with MultiTRON's preprocessing: hand-checked files and a reference."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paretoalign.data import CLICK, ORDER
from paretoalign.data.multitron import (
    EventTable,
    MultiTronFormatError,
    multitron_preprocess,
    multitron_preprocess_reference,
    read_diginetica,
    read_diginetica_events,
    read_yoochoose,
    read_yoochoose_events,
)

DAY = 86_400_000


def ms(text: str) -> int:
    """Unix milliseconds of an ISO time read as UTC."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def sessions(log):
    """[(session id, [(item, type), ...]), ...] of a log."""
    out = []
    for s in range(log.n_sessions):
        lo, hi = log.session_ptr[s], log.session_ptr[s + 1]
        out.append(
            (int(log.session_id[s]), list(zip(log.aid[lo:hi].tolist(), log.type[lo:hi].tolist())))
        )
    return out


# ------------------------------------------------------------------ the shared fixtures
def test_yoochoose_fixture_events(fixtures_dir):
    events = read_yoochoose_events(fixtures_dir / "multitron-formats" / "yoochoose-clicks.dat")
    assert len(events) == 19
    # line 1: "1,2023-06-19T10:51:09.323Z,1,0", read as UTC with its milliseconds
    assert (events.session[0], events.item[0]) == (1, 1)
    assert events.ts[0] == ms("2023-06-19T10:51:09.323")


def test_yoochoose_fixture_preprocesses_to_hand_checked_sessions(fixtures_dir):
    path = fixtures_dir / "multitron-formats" / "yoochoose-clicks.dat"
    # Every item of the fixture has fewer than 5 clicks, so the reference's filters drop
    # everything.
    with pytest.raises(ValueError, match="no session is left"):
        read_yoochoose(path)
    data = read_yoochoose(path, min_item_support=1)
    # Sessions (first-appearance order) and their spans:
    #   1: 06-19 10:51-10:57   2: 06-19 13:56-14:02   3: 06-14 13:17-13:30
    #   4: 06-19 12:09-12:26   6: 06-18 16:58-17:02   7: 06-14 06:38-06:39
    # All have >= 2 clicks. max session start = 06-19 13:56:38.567 (session 2), so the split
    # is 06-18 13:56:38.567 and the LAST event decides: 1, 2, 4 and 6 (17:02 on 06-18 is
    # after the split) are test, 3 and 7 are train.
    # Train items by first appearance (session 3, then 7): 10->1, 11->2, 12->3, 17->4, 18->5.
    # Sessions sorted by start: 7 (06-14 06:38) before 3 (06-14 13:17).
    assert sessions(data.train) == [
        (7, [(4, CLICK), (5, CLICK)]),
        (3, [(1, CLICK), (2, CLICK), (3, CLICK)]),
    ]
    assert data.train.ts[0] == ms("2023-06-14T06:38:53.244")
    # No test session clicks a train item, so the test split is empty.
    assert data.test.n_sessions == 0
    assert data.n_items == 5
    assert data.extra["preprocessing"]["split_ts_ms"] == ms("2023-06-18T13:56:38.567")


def test_diginetica_fixture_events_and_split(fixtures_dir):
    path = fixtures_dir / "multitron-formats" / "diginetica-train-item-views.csv"
    events = read_diginetica_events(path)
    midnight = ms("2023-06-12T00:00:00")
    # line 2 (after the header): "1;NA;1;594633;2023-06-12" -> midnight + 594633 ms
    assert events.ts[0] == midnight + 594_633
    assert events.session.tolist() == [1] * 10 + [2] * 10
    # Session 1 by time: timeframes 164229 (item 4), 358364 (7), 594633 (1), 1076889 (2),
    # 1127104 (6), 1194078 (5), 2109380 (3), 3116072 (8), 4136193 (9), 9157201 (10).
    s1 = events.session == 1
    order = np.argsort(events.ts[s1], kind="stable")
    assert events.item[s1][order].tolist() == [4, 7, 1, 2, 6, 5, 3, 8, 9, 10]
    # Both sessions start on 2023-06-12, the floored max date; the split is 7 days earlier,
    # so both are test and the train split would be empty.
    with pytest.raises(ValueError, match="every session falls into the test period"):
        read_diginetica(path, min_item_support=1)


# ------------------------------------------------------------------ hand-made full files
YOOCHOOSE_CLICKS = """\
11,2014-04-01T09:05:00.000Z,100,0
10,2014-04-01T10:00:00.000Z,100,0
11,2014-04-01T09:00:00.000Z,200,0
10,2014-04-01T10:01:00.000Z,200,0
12,2014-04-01T12:00:00.000Z,700,0
10,2014-04-01T10:02:00.000Z,400,0
11,2014-04-01T09:06:00.000Z,300,0
10,2014-04-01T10:03:00.000Z,700,S
18,2014-04-03T07:00:00.000Z,100,0
13,2014-04-02T08:00:00.000Z,300,0
13,2014-04-02T08:01:00.000Z,200,0
13,2014-04-02T08:02:00.000Z,700,0
14,2014-04-03T20:00:00.000Z,100,0
14,2014-04-03T20:10:00.000Z,400,0
15,2014-04-04T07:00:00.000Z,100,0
15,2014-04-04T07:05:00.000Z,600,0
15,2014-04-04T07:06:00.000Z,300,0
16,2014-04-04T08:00:00.000Z,600,0
16,2014-04-04T08:01:00.000Z,100,0
16,2014-04-04T08:02:00.000Z,600,0
18,2014-04-03T09:00:00.000Z,200,0
"""
YOOCHOOSE_BUYS = """\
11,2014-04-01T09:06:00.000Z,300,1200,1
11,2014-04-01T08:59:00.000Z,100,900,2
10,2014-04-01T10:05:00.000Z,400,100,1
16,2014-04-04T08:03:00.000Z,100,100,1
18,2014-04-03T09:30:00.000Z,200,300,1
99,2014-04-01T09:00:00.000Z,100,300,1
"""


def test_yoochoose_hand_checked(tmp_path):
    clicks = tmp_path / "yoochoose-clicks.dat"
    buys = tmp_path / "yoochoose-buys.dat"
    clicks.write_text(YOOCHOOSE_CLICKS)
    buys.write_text(YOOCHOOSE_BUYS)
    data = read_yoochoose(clicks, buys, min_item_support=3)
    # Step 1, sessions by first appearance: 11, 10, 12, 18, 13, 14, 15, 16; by time:
    #   11: 200 100 300        10: 100 200 400 700     12: 700
    #   18: 100 200 (04-03 07:00 and 09:00)            13: 300 200 700
    #   14: 100 400            15: 100 600 300         16: 600 100 600
    # Step 2 drops 12 (one click), so its click on 700 does not count as support.
    # Step 3 (support >= 3): 100 x6, 200 x4, 300 x3, 600 x3 stay; 400 x2, 700 x2 go.
    # Step 4 drops 14 (only 100 is left).
    # Step 5: max start = 16's 04-04 08:00, split = 04-03 08:00; the LAST event decides:
    #   train 11, 10, 13; test 18 (starts 07:00 but ends 09:00), 15, 16.
    # Step 7: train items by first appearance (11: 200 100 300, ...): 200->1, 100->2, 300->3.
    # Step 6: test keeps train items: 18 [100 200], 15 [100 300], 16 [100] -> dropped.
    # Step 8: orders on train items of kept sessions: 11 gets 300 at 09:06 (after the click
    #   at the same time) and 100 at 08:59 (its new first event); 10's order on 400 (not a
    #   train item), 16's (dropped session) and 99's (no clicks) are dropped; 18 gets 200.
    # Step 9: train by start: 11 (08:59), 10 (10:00), 13 (04-02); test: 18, 15.
    assert sessions(data.train) == [
        (11, [(2, ORDER), (1, CLICK), (2, CLICK), (3, CLICK), (3, ORDER)]),
        (10, [(2, CLICK), (1, CLICK)]),
        (13, [(3, CLICK), (1, CLICK)]),
    ]
    assert sessions(data.test) == [
        (18, [(2, CLICK), (1, CLICK), (1, ORDER)]),
        (15, [(2, CLICK), (3, CLICK)]),
    ]
    assert data.train.ts[:2].tolist() == [ms("2014-04-01T08:59:00"), ms("2014-04-01T09:00:00")]
    assert data.n_items == data.train.n_items == data.test.n_items == 3
    assert data.extra["preprocessing"]["split_ts_ms"] == ms("2014-04-03T08:00:00")
    # without the buys file the sessions are the same, clicks only
    no_buys = read_yoochoose(clicks, min_item_support=3)
    assert sessions(no_buys.train)[1:] == sessions(data.train)[1:]
    assert no_buys.train.stats()["orders"] == 0


DIGINETICA_VIEWS = """\
sessionId;userId;itemId;timeframe;eventdate
1;NA;5;2000;2016-05-01
1;NA;7;1000;2016-05-01
4;NA;3;1000;2016-05-01
2;NA;5;500;2016-05-02
2;7;7;900;2016-05-02
3;NA;7;50000000;2016-05-09
3;NA;5;50001000;2016-05-09
"""
DIGINETICA_PURCHASES = """\
sessionId;userId;timeframe;eventdate;ordernumber;itemId
3;NA;50002000;2016-05-09;77;5
1;NA;3000;2016-05-01;78;9
"""


def test_diginetica_hand_checked(tmp_path):
    views = tmp_path / "train-item-views.csv"
    purchases = tmp_path / "train-purchases.csv"
    views.write_text(DIGINETICA_VIEWS)
    purchases.write_text(DIGINETICA_PURCHASES)
    data = read_diginetica(views, purchases, min_item_support=2)
    # Session 4 has one click -> dropped; items 5 and 7 have 3 clicks each.
    # Starts: 1 on 05-01 00:00:01, 2 on 05-02 00:00:00.5, 3 on 05-09 13:53:20.
    # max start floored to its date: 05-09 00:00; split = 05-02 00:00; the FIRST event
    # decides: 1 is train; 2 (00:00:00.5 on the split day) and 3 are test. Without the
    # date floor the split would be 05-02 13:53:20 and session 2 would be train.
    # Train items by first appearance (session 1 by time: 7 at 1 s, 5 at 2 s): 7->1, 5->2.
    # Purchases: session 3 orders item 5 after its clicks; session 1's order is item 9,
    # not a train item -> dropped.
    assert sessions(data.train) == [(1, [(1, CLICK), (2, CLICK)])]
    assert sessions(data.test) == [
        (2, [(2, CLICK), (1, CLICK)]),
        (3, [(1, CLICK), (2, CLICK), (2, ORDER)]),
    ]
    assert data.test.ts[0] == ms("2016-05-02T00:00:00") + 500
    assert data.extra["preprocessing"]["split_ts_ms"] == ms("2016-05-02T00:00:00")
    assert data.n_items == 2


def test_default_support_threshold_is_five(tmp_path):
    # item 1 has exactly 5 clicks (kept), item 2 has 4 (dropped)
    lines = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(5):
        lines.append(f"{s};NA;1;{1000 * s};2016-05-01")
        if s < 4:
            lines.append(f"{s};NA;2;{1000 * s + 1};2016-05-01")
        lines.append(f"{s};NA;1;{1000 * s + 2};2016-05-01")
    lines.append("9;NA;1;5;2016-05-20")
    lines.append("9;NA;1;6;2016-05-20")
    views = tmp_path / "v.csv"
    views.write_text("\n".join(lines) + "\n")
    data = read_diginetica(views)
    assert data.n_items == 1
    assert data.train.n_sessions == 5 and set(data.train.aid.tolist()) == {1}
    assert sessions(data.test) == [(9, [(1, CLICK), (1, CLICK)])]


# ------------------------------------------------------------------ bad files
@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("1,2014-04-01T09:00:00.000Z,5,0\n1,2014-04-01T09:01:00.000Z,6\n", 2, "expected 4 fields"),
        (
            "1,2014-04-01T09:00:00.000Z,5,0\n2,2014-04-01T09:01:00.000Z,x7,0\n",
            2,
            "item must be an integer",
        ),
        (
            "1,2014-04-01T09:00:00.000Z,5,0\n1,2014-13-01T09:01:00.000Z,6,0\n",
            2,
            "time must be an ISO 8601",
        ),
        ("1,2014-04-01T09:00:00.000Z,5,0\n1,2014-04-01T09:01:00.000Z,,0\n", 2, "empty item field"),
        ("a,2014-04-01T09:00:00.000Z,5,0\n", 1, "session must be an integer"),
    ],
)
def test_bad_yoochoose_lines(tmp_path, text, line, fragment):
    path = tmp_path / "clicks.dat"
    path.write_text(text)
    with pytest.raises(MultiTronFormatError, match=fragment) as info:
        read_yoochoose(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}, line {line}: ")


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("sessionId,userId,itemId\n1;NA;1;5;2016-05-01\n", 1, "header"),
        ("h;h;h;h;h\n1;NA;1;5;2016-05-01\n1;NA;1;5;2016-05-32\n", 3, "date must be a date"),
        ("h;h;h;h;h\n1;NA;1;5.5;2016-05-01\n", 2, "timeframe must be an integer"),
    ],
)
def test_bad_diginetica_lines(tmp_path, text, line, fragment):
    path = tmp_path / "views.csv"
    path.write_text(text)
    with pytest.raises(MultiTronFormatError, match=fragment) as info:
        read_diginetica(path)
    assert info.value.line == line


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_yoochoose(tmp_path / "nope.dat")
    table = EventTable.from_arrays([1, 1], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="split_on"):
        multitron_preprocess(table, None, split_days=1, split_on="middle", floor_max_date=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="split_days"):
        multitron_preprocess(table, None, split_days=-1, split_on="last", floor_max_date=False)
    with pytest.raises(ValueError, match="same length"):
        EventTable.from_arrays([1], [0, 1], [1])


# ------------------------------------------------------------------ against the reference
@st.composite
def event_tables(draw, max_events=40):
    """Events of up to 8 sessions, each within a few hours of its own start day."""
    n = draw(st.integers(1, max_events))
    session = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))
    day = {s: draw(st.integers(0, 9)) * DAY for s in set(session)}
    hour = DAY // 24
    offset = draw(st.lists(st.integers(0, 4 * hour), min_size=n, max_size=n))
    # coarse offsets make equal times (ties) frequent
    offset = [o // hour * hour if draw(st.booleans()) else o for o in offset]
    ts = [day[s] + o for s, o in zip(session, offset)]
    item = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    return EventTable.from_arrays(session, ts, item)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    clicks=event_tables(),
    orders=st.one_of(st.none(), event_tables(max_events=10)),
    split_days=st.sampled_from([0, 0.5, 1, 2, 3]),
    split_on=st.sampled_from(["first", "last"]),
    floor=st.booleans(),
    min_len=st.integers(1, 3),
    support=st.integers(1, 4),
)
def test_vectorised_pipeline_equals_the_reference(
    clicks, orders, split_days, split_on, floor, min_len, support
):
    kw = dict(
        split_days=split_days,
        split_on=split_on,
        floor_max_date=floor,
        min_session_length=min_len,
        min_item_support=support,
    )
    try:
        expected = multitron_preprocess_reference(clicks, orders, **kw)
    except ValueError as exc:
        with pytest.raises(ValueError, match=r"no session|empty"):
            multitron_preprocess(clicks, orders, **kw)
        assert "no session" in str(exc) or "empty" in str(exc)
        return
    got = multitron_preprocess(clicks, orders, **kw)
    assert got.train == expected[0]
    assert got.test == expected[1]
