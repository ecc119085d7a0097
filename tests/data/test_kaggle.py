"""The OTTO Kaggle protocol: split, truncation, labels, weighted recall, submission files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paretoalign.data import CART, CLICK, EVENT_TYPES, ORDER, SessionLog
from paretoalign.data.kaggle import (
    DAY_MS,
    OTTO_ITEM_ZERO,
    KaggleLabels,
    cut_and_label,
    ground_truth_reference,
    kaggle_recall,
    kaggle_recall_reference,
    read_submission,
    read_test_labels,
    split_by_days,
    truncate_sessions,
    write_submission,
)
from paretoalign.data.otto import read_otto


def make_log(sessions: list[list[tuple[int, int, int]]], sids=None, n_items=None) -> SessionLog:
    """Sessions as lists of (aid, ts, type)."""
    lens = [len(s) for s in sessions]
    ptr = np.r_[0, np.cumsum(lens)].astype(np.int64)
    ev = [e for s in sessions for e in s]
    return SessionLog.from_arrays(
        ptr,
        [e[0] for e in ev],
        [e[1] for e in ev],
        [e[2] for e in ev],
        sids,
        n_items,
    )


def rows(log: SessionLog):
    return [
        (int(log.session_id[s]), [tuple(map(int, e)) for e in zip(*_events(log, s))])
        for s in range(log.n_sessions)
    ]


def _events(log, s):
    lo, hi = log.session_ptr[s], log.session_ptr[s + 1]
    return log.aid[lo:hi], log.ts[lo:hi], log.type[lo:hi]


# ------------------------------------------------------------------ split
def test_split_by_days_hand_checked():
    d = DAY_MS
    log = make_log(
        [
            # 0: starts before the split, one event after it -> trimmed to 2 events
            [(1, 0, CLICK), (2, 1 * d, CLICK), (3, 9 * d, CLICK)],
            # 1: starts exactly at split_ts (not after it) -> train, but no event is
            #    < split_ts -> trimmed to nothing -> dropped
            [(1, 8 * d, CLICK), (4, 8 * d + 5, CART)],
            # 2: starts after the split -> test; its click on item 5 (never in train) goes
            [(2, 8 * d + 1, CLICK), (5, 9 * d, CLICK), (1, 10 * d, ORDER)],
            # 3: test, both items occur in train -> kept whole
            [(4, 9 * d, CLICK), (1, 9 * d + 1, CLICK)],
            # 4: train, untouched
            [(4, 2 * d, CART), (4, 3 * d, ORDER)],
            # 5: test, item 5 unknown -> one event left -> dropped
            [(5, 9 * d, CLICK), (1, 9 * d + 2, CART)],
        ],
        sids=[10, 11, 12, 13, 14, 15],
        n_items=5,
    )
    # max_ts = 10 d (session 2's order); split_ts = 10 d - 2 d = 8 d
    train, test = split_by_days(log, 2)
    assert rows(train) == [
        (10, [(1, 0, CLICK), (2, d, CLICK)]),
        (14, [(4, 2 * d, CART), (4, 3 * d, ORDER)]),
    ]
    # train items {1, 2, 4}: session 12 loses its click on 5, session 15 falls below 2
    assert rows(test) == [
        (12, [(2, 8 * d + 1, CLICK), (1, 10 * d, ORDER)]),
        (13, [(4, 9 * d, CLICK), (1, 9 * d + 1, CLICK)]),
    ]
    assert train.n_items == test.n_items == 5
    _, whole = split_by_days(log, 2, drop_unknown_items=False)
    assert whole.session_id.tolist() == [12, 13, 15] and whole.n_events == 7


def _split_reference(log: SessionLog, days: float):
    """testset.py's train_test_split + filter_unknown_items, per session in Python."""
    sessions = [log.session(s) for s in range(log.n_sessions)]
    max_ts = max(s["events"][-1]["ts"] for s in sessions)
    split_ts = max_ts - round(days * DAY_MS)
    train, test, items = [], [], set()
    for s in sessions:
        if s["events"][0]["ts"] > split_ts:
            test.append(s)
        else:
            s = {**s, "events": [e for e in s["events"] if e["ts"] < split_ts]}
            if len(s["events"]) >= 2:
                items.update(e["aid"] for e in s["events"])
                train.append(s)
    kept = []
    for s in test:
        s = {**s, "events": [e for e in s["events"] if e["aid"] in items]}
        if len(s["events"]) >= 2:
            kept.append(s)
    return [s["session"] for s in train], [s["session"] for s in kept], train, kept


@st.composite
def logs(draw, max_sessions=12):
    n = draw(st.integers(1, max_sessions))
    sessions = []
    for _ in range(n):
        m = draw(st.integers(1, 6))
        start = draw(st.integers(0, 6 * DAY_MS))
        gaps = draw(st.lists(st.integers(0, DAY_MS), min_size=m, max_size=m))
        ts = np.cumsum(gaps) + start
        aids = draw(st.lists(st.integers(1, 5), min_size=m, max_size=m))
        types = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
        sessions.append(list(zip(aids, ts.tolist(), types)))
    return make_log(sessions, n_items=5)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), days=st.sampled_from([0, 0.5, 1, 2, 3]))
def test_split_by_days_equals_testset_py(log, days):
    train, test = split_by_days(log, days)
    ref_train, ref_test, train_s, test_s = _split_reference(log, days)
    assert train.session_id.tolist() == ref_train
    assert test.session_id.tolist() == ref_test
    assert [train.session(i) for i in range(train.n_sessions)] == train_s
    assert [test.session(i) for i in range(test.n_sessions)] == test_s


def test_split_checks_arguments():
    log = make_log([[(1, 0, CLICK)]])
    with pytest.raises(ValueError, match="days"):
        split_by_days(log, -1)
    with pytest.raises(TypeError):
        split_by_days("log", 1)  # type: ignore[arg-type]
    empty = SessionLog.empty(3)
    assert split_by_days(empty, 1) == (empty, empty)


# ------------------------------------------------------------------ truncation and labels
def test_labels_hand_checked():
    # clicks 10, carts 11, clicks 12, orders 11, clicks 13, carts 14; cut after 2 events
    log = make_log(
        [
            [
                (10, 1, CLICK),
                (11, 2, CART),
                (12, 3, CLICK),
                (11, 4, ORDER),
                (13, 5, CLICK),
                (14, 6, CART),
            ],
            [(1, 1, CLICK), (2, 2, ORDER)],
        ],
        sids=[42, 43],
    )
    truncated, labels = cut_and_label(log, np.array([2, 1]))
    assert rows(truncated) == [(42, [(10, 1, CLICK), (11, 2, CART)]), (43, [(1, 1, CLICK)])]
    # future of 42: click 12, order 11, click 13, cart 14 -> next click 12,
    # carts {14} (the cart of 11 is in the past), orders {11}
    # future of 43: order 2 only -> no click label
    assert labels.as_dicts() == {
        42: {"clicks": 12, "carts": {14}, "orders": {11}},
        43: {"orders": {2}},
    }
    assert labels.click.tolist() == [12, 0]
    with pytest.raises(ValueError, match="split_idx"):
        cut_and_label(log, np.array([2, 2]))  # session 43 has 2 events: the cut must be 1


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), seed=st.integers(0, 2**32))
def test_truncation_matches_ground_truth_reference(log, seed):
    log = log.take(np.flatnonzero(log.lengths >= 2))
    truncated, labels = truncate_sessions(log, seed=seed)
    again = truncate_sessions(log, seed=seed)
    assert again[0] == truncated and again[1] == labels
    assert truncated.session_id.tolist() == log.session_id.tolist()
    expected = {}
    for s in range(log.n_sessions):
        full = log.session(s)["events"]
        cut = int(truncated.lengths[s])
        assert 1 <= cut <= len(full) - 1
        assert truncated.session(s)["events"] == full[:cut]
        expected[int(log.session_id[s])] = ground_truth_reference(full)[cut - 1]["labels"]
    assert labels.as_dicts() == expected


def test_truncation_needs_two_events_and_is_seeded(otto_sample):
    log = read_otto(otto_sample)
    a = truncate_sessions(log, seed=1)
    b = truncate_sessions(log, seed=np.random.default_rng(1))
    c = truncate_sessions(log, seed=2)
    assert a[0] == b[0] and a[1] == b[1]
    assert not np.array_equal(a[0].lengths, c[0].lengths)
    with pytest.raises(ValueError, match="needs >= 2"):
        truncate_sessions(make_log([[(1, 0, CLICK)]]))


# ------------------------------------------------------------------ weighted recall
def _labels(click, carts, orders, sids=None) -> KaggleLabels:
    def csr(sets):
        ptr = np.r_[0, np.cumsum([len(s) for s in sets])].astype(np.int64)
        return ptr, np.asarray([a for s in sets for a in sorted(s)], np.int32)

    cp, ca = csr(carts)
    op, oa = csr(orders)
    n = len(click)
    return KaggleLabels(
        np.arange(n, dtype=np.int64) if sids is None else np.asarray(sids, np.int64),
        np.asarray(click, np.int32),
        cp,
        ca,
        op,
        oa,
    )


def _pad(rows_, width=20):
    out = np.zeros((len(rows_), width), np.int32)
    for i, r in enumerate(rows_):
        out[i, : len(r)] = r
    return out


def test_weighted_recall_hand_checked():
    labels = _labels(click=[5, 0, 6], carts=[{7, 8}, set(), {7}], orders=[{9}, {3, 4}, set()])
    clicks = _pad([[5, 1], [], [1, 2]])
    carts = _pad([[8, 2, 8], [], []])
    orders = _pad([[1], [4, 3], []])
    got = kaggle_recall(labels, clicks, carts, orders)
    # clicks: sessions 0 and 2 have a next click; 0 hits -> 1/2
    # carts: |{8, 2} ∩ {7, 8}| = 1 (the repeated 8 counts once); GT sizes 2 + 1 -> 1/3
    # orders: 0 + |{4, 3} ∩ {3, 4}| = 2 over 1 + 2 -> 2/3
    # total = 0.1 * 1/2 + 0.3 * 1/3 + 0.6 * 2/3 = 0.05 + 0.10 + 0.40 = 0.55
    assert got["clicks"] == pytest.approx(0.5)
    assert got["carts"] == pytest.approx(1 / 3)
    assert got["orders"] == pytest.approx(2 / 3)
    assert got["total"] == pytest.approx(0.55)
    assert got == pytest.approx(
        kaggle_recall_reference(
            labels.as_dicts(),
            {
                s: {
                    t: [int(x) for x in m[s] if x]
                    for t, m in zip(EVENT_TYPES, (clicks, carts, orders))
                }
                for s in range(3)
            },
        )
    )


def test_recall_caps_the_denominator_at_k():
    # 25 ordered items, 20 of them predicted: min(20, 25) = 20 -> recall 1
    labels = _labels(click=[1], carts=[{1}], orders=[set(range(1, 26))])
    got = kaggle_recall(labels, _pad([[1]]), _pad([[1]]), _pad([list(range(1, 21))]))
    assert got["orders"] == 1.0 and got["total"] == pytest.approx(1.0)
    # the cut-off: a hit at rank 21 does not count
    got = kaggle_recall(labels, _pad([[9] * 20 + [1]], 21), _pad([[1]]), _pad([[1]]))
    assert got["clicks"] == 0.0


def test_recall_without_labels_of_a_type_is_nan():
    labels = _labels(click=[0], carts=[set()], orders=[{2}])
    got = kaggle_recall(labels, _pad([[1]]), _pad([[1]]), _pad([[2]]))
    assert math.isnan(got["clicks"]) and math.isnan(got["total"]) and got["orders"] == 1.0


def test_recall_checks_its_input():
    labels = _labels(click=[1], carts=[{1}], orders=[{1}])
    good = _pad([[1]])
    with pytest.raises(ValueError, match="shape"):
        kaggle_recall(labels, good[:, 0], good, good)
    with pytest.raises(TypeError, match="integer"):
        kaggle_recall(labels, good.astype(float), good, good)
    with pytest.raises(ValueError, match="k must"):
        kaggle_recall(labels, good, good, good, k=0)
    with pytest.raises(ValueError, match="weights"):
        kaggle_recall(labels, good, good, good, weights={"clicks": 1.0})


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(log=logs(), seed=st.integers(0, 1000), k=st.sampled_from([1, 3, 20]))
def test_vectorised_recall_equals_evaluate_py(log, seed, k):
    log = log.take(np.flatnonzero(log.lengths >= 2))
    if log.n_sessions == 0:
        return
    _, labels = truncate_sessions(log, seed=seed)
    rng = np.random.default_rng(seed)
    preds = [
        rng.integers(0, 6, (log.n_sessions, rng.integers(1, 25)), dtype=np.int32) for _ in range(3)
    ]
    as_lists = {
        int(sid): {t: [int(x) for x in p[s] if x] for t, p in zip(EVENT_TYPES, preds)}
        for s, sid in enumerate(labels.session_id)
    }
    truth = labels.as_dicts()
    assert set(as_lists) == set(truth)
    # item ids are 1..5 here, so OTTO's item 0 (id 1) is often the next click
    for otto_compat in (False, True):
        got = kaggle_recall(labels, *preds, k=k, otto_compat=otto_compat)
        # a zero slot is "no prediction": drop it before the reference cuts at k
        expected = kaggle_recall_reference(
            truth,
            {
                sid: {t: [int(x) for x in p[s][:k] if x] for t, p in zip(EVENT_TYPES, preds)}
                for s, sid in enumerate(labels.session_id.tolist())
            },
            k=k,
            otto_compat=otto_compat,
        )
        for key in expected:
            if math.isnan(expected[key]):
                assert math.isnan(got[key])
            else:
                assert got[key] == pytest.approx(expected[key])


def test_next_click_on_item_zero_is_dropped_only_with_otto_compat():
    zero = OTTO_ITEM_ZERO  # OTTO's item 0 after the +1 shift
    # session 0: next click on item 0, predicted (a hit); session 1: next click 5, missed.
    # Item 0 in the cart and order sets counts either way (sets are truthy when non-empty).
    labels = _labels(click=[zero, 5], carts=[{zero}, set()], orders=[{zero, 3}, set()])
    pred = _pad([[zero, 3], [2]])
    counted = kaggle_recall(labels, pred, pred, pred)
    dropped = kaggle_recall(labels, pred, pred, pred, otto_compat=True)
    assert counted["clicks"] == pytest.approx(1 / 2)  # 1 hit over 2 next clicks
    assert dropped["clicks"] == 0.0  # item 0 gone from numerator and denominator: 0 / 1
    assert counted["carts"] == dropped["carts"] == 1.0
    assert counted["orders"] == dropped["orders"] == 1.0
    # the other way round: item 0 missed, the other click hit -> 1/2 counted, 1/1 dropped
    pred = _pad([[3], [5]])
    assert kaggle_recall(labels, pred, pred, pred)["clicks"] == pytest.approx(1 / 2)
    assert kaggle_recall(labels, pred, pred, pred, otto_compat=True)["clicks"] == 1.0
    # only the next click on item 0: no click label left -> NaN, as evaluate.py divides by 0
    only = _labels(click=[zero], carts=[set()], orders=[{2}])
    with_zero = kaggle_recall(only, pred[:1], pred[:1], pred[:1], otto_compat=True)
    assert math.isnan(with_zero["clicks"])
    # the reference of evaluate.py agrees in both modes
    preds = {s: {t: [int(x) for x in pred[s] if x] for t in EVENT_TYPES} for s in range(2)}
    for otto_compat in (False, True):
        assert kaggle_recall(labels, pred, pred, pred, otto_compat=otto_compat) == pytest.approx(
            kaggle_recall_reference(labels.as_dicts(), preds, otto_compat=otto_compat)
        )


def test_read_test_labels(tmp_path):
    path = tmp_path / "test_labels.jsonl"
    path.write_text(
        '{"session": 7, "labels": {"clicks": 0, "carts": [4, 0, 4], "orders": [9]}}\n'
        "\n"
        '{"session": 3, "labels": {"orders": [2, 1]}}\n'
        '{"session": 5, "labels": {}}\n'
    )
    labels = read_test_labels(path)
    assert labels.session_id.tolist() == [7, 3, 5]
    assert labels.click.tolist() == [OTTO_ITEM_ZERO, 0, 0]  # raw 0 -> 1, none -> 0
    assert labels.as_dicts() == {7: {"clicks": 1, "carts": {1, 5}, "orders": {10}},
                                 3: {"orders": {2, 3}}, 5: {}}  # fmt: skip
    raw = read_test_labels(path, shift_aid=False)
    assert raw.cart_aid.tolist() == [0, 4] and raw.order_aid.tolist() == [9, 1, 2]
    bad = {
        '{"session": 1}': "line 1: expected",
        '{"session": 1, "labels": {"clicks": [3]}}': "line 1: 'clicks' must be one item id",
        '{"session": 1, "labels": {"carts": [-1]}}': "line 1: 'carts' must be a list",
        "not json": "line 1: not JSON",
        '{"session": 1, "labels": {}}\n{"session": 1, "labels": {}}': "line 2: session 1 appears twice",
    }
    for text, message in bad.items():
        path.write_text(text + "\n")
        with pytest.raises(ValueError, match=message):
            read_test_labels(path)
    path.write_text("\n")
    with pytest.raises(ValueError, match="no sessions"):
        read_test_labels(path)


# ------------------------------------------------------------------ submission files
def test_submission_round_trip(tmp_path):
    sids = np.array([42, 7, 1000], np.int64)
    clicks = _pad([[5, 1], [], [3]], 3)
    carts = _pad([[8, 2], [1], []], 2)
    orders = _pad([[1], [4, 3, 9], []], 4)
    path = write_submission(tmp_path / "sub.csv", sids, clicks, carts, orders)
    lines = path.read_text().splitlines()
    # raw OTTO ids (aid - 1), one row per session and type, empty slots left out
    assert lines[:4] == ["session_type,labels", "42_clicks,4 0", "42_carts,7 1", "42_orders,0"]
    assert lines[5] == "7_carts,0"
    assert lines[-1] == "1000_orders,"
    back = read_submission(path, sids, k=4)
    assert np.array_equal(back[0][:, :3], clicks) and not back[0][:, 3:].any()
    assert np.array_equal(back[1][:, :2], carts)
    assert np.array_equal(back[2], orders)
    # other session order, an unknown session ignored, a missing one left empty
    back = read_submission(path, np.array([1000, 42, 5]), k=1)
    assert back[0].tolist() == [[3], [5], [0]]


def test_bad_submission_files(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("session,labels\n1_clicks,3\n")
    with pytest.raises(ValueError, match="header"):
        read_submission(path, np.array([1]))
    path.write_text("session_type,labels\n1_clicks,3 x\n")
    with pytest.raises(ValueError, match="integers"):
        read_submission(path, np.array([1]))
    path.write_text("session_type,labels\nabc_clicks,3\n")
    with pytest.raises(ValueError, match="session ids"):
        read_submission(path, np.array([1]))
    with pytest.raises(ValueError, match="shape"):
        write_submission(
            tmp_path / "x.csv", np.array([1]), _pad([[1]]), _pad([[1], [2]]), _pad([[1]])
        )
