"""Sequence labelling: hand-checked examples, the OTTO fixture, and fast == reference."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paretoalign.data import TYPE_CODES, SessionLog
from paretoalign.data.labels import (
    LabelledSequences,
    label_sequences,
    label_sequences_reference,
)

CLK, CRT, ORD = TYPE_CODES["clicks"], TYPE_CODES["carts"], TYPE_CODES["orders"]


def make_log(sessions: list[list[tuple[int, int]]], n_items: int | None = None) -> SessionLog:
    """A log from ``[[(aid, type), ...], ...]`` with increasing timestamps."""
    lens = [len(s) for s in sessions]
    ptr = np.zeros(len(sessions) + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    aid = [a for s in sessions for a, _ in s]
    kind = [t for s in sessions for _, t in s]
    ts = np.arange(len(aid), dtype=np.int64) * 1000
    return SessionLog.from_arrays(ptr, aid, ts, kind, n_items=n_items)


def real_part(seq: LabelledSequences, row: int, field: str) -> list[int]:
    """The masked-in values of one row, oldest first."""
    return getattr(seq, field)[row][seq.mask[row]].tolist()


def random_log(rng: np.random.Generator, n_sessions: int, max_events: int, n_items: int):
    """Sessions with many repeats, non-click events anywhere, empty-click sessions."""
    sessions = []
    for _ in range(n_sessions):
        n = int(rng.integers(1, max_events + 1))
        aids = rng.integers(1, n_items + 1, n)
        kinds = rng.choice([CLK, CRT, ORD], size=n, p=[0.6, 0.25, 0.15])
        sessions.append(list(zip(aids.tolist(), kinds.tolist())))
    return make_log(sessions, n_items)


# ---------------------------------------------------------------------------- hand-checked
def test_multitron_label_session_example():
    # MultiTRON test_label_session: click 33838, cart, clicks 4759 27601 15406, order 4759.
    log = make_log(
        [[(33838, CLK), (33838, CRT), (4759, CLK), (27601, CLK), (15406, CLK), (4759, ORD)]]
    )
    seq = label_sequences(log, max_len=50)
    assert seq.inputs.shape == (1, 50) and seq.inputs.dtype == np.int32
    assert seq.targets.dtype == np.int32 and seq.mask.dtype == bool
    assert seq.cart_label.dtype == np.int8 and seq.order_label.dtype == np.int8
    assert seq.session_index.dtype == np.int64
    assert seq.inputs[0, -3:].tolist() == [33838, 4759, 27601]
    assert seq.targets[0, -3:].tolist() == [4759, 27601, 15406]
    assert seq.order_label[0, -3:].tolist() == [1, 0, 0]
    assert seq.cart_label[0, -3:].tolist() == [0, 0, 0]  # 33838 is carted but never a target
    assert seq.mask[0].tolist() == [False] * 47 + [True] * 3
    assert not seq.inputs[0, :47].any() and not seq.targets[0, :47].any()


def test_labels_require_a_strictly_later_event():
    # cart of 5 before its click, order of 6 after, cart of 7 both before and after.
    log = make_log(
        [[(5, CRT), (1, CLK), (5, CLK), (7, CRT), (6, CLK), (7, CLK), (6, ORD), (7, CRT)]]
    )
    seq = label_sequences(log, max_len=4)
    assert real_part(seq, 0, "targets") == [5, 6, 7]
    assert real_part(seq, 0, "cart_label") == [0, 0, 1]
    assert real_part(seq, 0, "order_label") == [0, 1, 0]


def test_repeated_clicks_are_separate_targets():
    # item 3 clicked twice, ordered between the two clicks: only the first is labelled.
    log = make_log([[(1, CLK), (3, CLK), (3, ORD), (3, CLK), (2, CLK)]])
    seq = label_sequences(log, max_len=10)
    assert real_part(seq, 0, "targets") == [3, 3, 2]
    assert real_part(seq, 0, "order_label") == [1, 0, 0]


def test_truncation_keeps_last_l_plus_one_clicks_and_labels_use_full_session():
    clicks = [(i, CLK) for i in range(1, 9)]  # 8 clicks
    log = make_log([[*clicks[:2], (8, CRT), *clicks[2:], (2, ORD)]])
    seq = label_sequences(log, max_len=3)
    assert seq.inputs[0].tolist() == [5, 6, 7]
    assert seq.targets[0].tolist() == [6, 7, 8]
    assert seq.mask[0].all()
    assert seq.cart_label[0].tolist() == [0, 0, 0]  # the cart of 8 was before its click
    assert seq.order_label[0].tolist() == [0, 0, 0]


def test_short_sessions_give_empty_rows():
    log = make_log([[(4, CLK)], [(4, CRT), (4, ORD)], [(1, CLK), (2, CLK)], [(3, ORD)]])
    seq = label_sequences(log, max_len=5)
    assert seq.lengths.tolist() == [0, 0, 1, 0]
    assert seq.session_index.tolist() == [0, 1, 2, 3]
    for field in ("inputs", "targets", "cart_label", "order_label"):
        assert not getattr(seq, field)[[0, 1, 3]].any()
    assert seq.inputs[2].tolist() == [0, 0, 0, 0, 1]
    assert seq.targets[2].tolist() == [0, 0, 0, 0, 2]


def test_empty_log():
    seq = label_sequences(SessionLog.empty(7), max_len=4)
    assert seq.inputs.shape == (0, 4) and seq.n_targets == 0


def test_max_len_one():
    log = make_log([[(1, CLK), (2, CLK), (3, CLK), (3, CRT)]])
    seq = label_sequences(log, max_len=1)
    assert seq.inputs.tolist() == [[2]] and seq.targets.tolist() == [[3]]
    assert seq.cart_label.tolist() == [[1]]


@pytest.mark.parametrize(
    ("bad", "exc"),
    [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError), ("50", TypeError)],
)
def test_invalid_max_len(bad, exc):
    log = make_log([[(1, CLK), (2, CLK)]])
    with pytest.raises(exc, match="max_len"):
        label_sequences(log, max_len=bad)


def test_invalid_log_type():
    with pytest.raises(TypeError, match="SessionLog"):
        label_sequences({"aid": [1, 2]})


# ---------------------------------------------------------------------------- OTTO fixture
@pytest.fixture(scope="module")
def otto_log(otto_sample) -> SessionLog:
    """The fixture's 20 real sessions, ids shifted by +1 as MultiTRON's preprocessing does."""
    sessions, ids = [], []
    with open(otto_sample) as fh:
        for line in fh:
            record = json.loads(line)
            ids.append(record["session"])
            sessions.append([(e["aid"] + 1, TYPE_CODES[e["type"]]) for e in record["events"]])
    log = make_log(sessions)
    return SessionLog.from_arrays(
        log.session_ptr, log.aid, log.ts, log.type, np.array(ids), log.n_items
    )


def otto_row(log: SessionLog, session_id: int) -> int:
    return int(np.flatnonzero(log.session_id == session_id)[0])


def test_otto_session_4(otto_log):
    # clicks 613619 298827 | order 298827 | 383828 255379 1838173 1453726 1838173 255379
    # 383828 1554752(carted) 917213(carted) 758750(carted) 678521 1081407 479396
    seq = label_sequences(otto_log, max_len=50)
    r = otto_row(otto_log, 4)
    raw_clicks = [613619, 298827, 383828, 255379, 1838173, 1453726, 1838173, 255379]
    raw_clicks += [383828, 1554752, 917213, 758750, 678521, 1081407, 479396]
    clicks = [a + 1 for a in raw_clicks]
    assert real_part(seq, r, "inputs") == clicks[:-1]
    assert real_part(seq, r, "targets") == clicks[1:]
    assert real_part(seq, r, "order_label") == [1] + [0] * 13
    assert real_part(seq, r, "cart_label") == [0] * 8 + [1, 1, 1] + [0] * 3
    short = label_sequences(otto_log, max_len=5)
    assert short.inputs[r].tolist() == clicks[9:14]
    assert short.targets[r].tolist() == clicks[10:15]
    assert short.cart_label[r].tolist() == [1, 1, 0, 0, 0]
    assert short.order_label[r].tolist() == [0] * 5


def test_otto_session_1_cart_before_click_is_not_a_label(otto_log):
    seq = label_sequences(otto_log, max_len=50)
    r = otto_row(otto_log, 1)
    raw_targets = [910862, 1491172, 424964, 1515526, 440486, 109488, 1507622, 1734061]
    raw_targets += [854637, 718983, 215311, 718983, 711125, 50049, 105393, 959544, 1734061]
    raw_targets += [1842593, 1464360, 207905, 1628317, 376932, 497868]
    assert real_part(seq, r, "targets") == [a + 1 for a in raw_targets]
    expected_cart = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1] + [0] * 8
    assert real_part(seq, r, "cart_label") == expected_cart
    assert real_part(seq, r, "order_label") == [0] * 23


def test_otto_sessions_8_and_9(otto_log):
    seq = label_sequences(otto_log, max_len=50)
    r8, r9 = otto_row(otto_log, 8), otto_row(otto_log, 9)
    assert real_part(seq, r8, "inputs") == [1814224, 324621, 1320099]
    assert real_part(seq, r8, "targets") == [324621, 1320099, 324621]
    # session 9 carts its first click, which is an input only: no target is labelled.
    assert real_part(seq, r9, "targets") == [1078114, 502914, 502914, 1369254, 641970]
    assert real_part(seq, r9, "cart_label") == [0] * 5


def test_otto_fixture_fast_equals_reference(otto_log):
    for max_len in (1, 5, 50, 300):
        fast = label_sequences(otto_log, max_len)
        assert fast.equals(label_sequences_reference(otto_log, max_len))
    seq = label_sequences(otto_log, max_len=50)
    # 800 clicks in 20 sessions; each session loses one click, long ones are truncated.
    n_clicks = [255, 24, 32, 200, 15, 14, 204, 23, 4, 6, 4, 2, 2, 3, 2, 2, 2, 2, 2, 2]
    assert seq.lengths.tolist() == [min(n - 1, 50) for n in n_clicks]


# ---------------------------------------------------------------------------- differential
@pytest.mark.parametrize("max_len", [1, 2, 7, 50])
def test_fast_equals_reference_random(rng, max_len):
    log = random_log(rng, n_sessions=300, max_events=2 * max_len + 5, n_items=12)
    fast = label_sequences(log, max_len)
    ref = label_sequences_reference(log, max_len)
    assert fast.equals(ref)
    # invariants: masked positions hold real items; labels vanish off the mask
    assert (fast.inputs[fast.mask] > 0).all() and (fast.targets[fast.mask] > 0).all()
    assert not fast.targets[~fast.mask].any() and not fast.inputs[~fast.mask].any()
    assert not fast.order_label[~fast.mask].any() and not fast.cart_label[~fast.mask].any()
    # masks are right-aligned: once true, true up to the end
    assert (np.diff(fast.mask.astype(np.int8), axis=1) >= 0).all()


@given(
    sessions=st.lists(
        st.lists(
            st.tuples(st.integers(1, 4), st.sampled_from([CLK, CRT, ORD])), min_size=1, max_size=9
        ),
        min_size=1,
        max_size=12,
    ),
    max_len=st.integers(1, 6),
)
def test_fast_equals_reference_adversarial(sessions, max_len):
    log = make_log(sessions, n_items=4)
    assert label_sequences(log, max_len).equals(label_sequences_reference(log, max_len))


def test_equal_timestamps_follow_stored_order():
    # the order of item 2 has the same timestamp as the click of 2: stored after it -> label 1
    log = SessionLog.from_arrays([0, 3], [1, 2, 2], [0, 5, 5], [CLK, CLK, ORD])
    seq = label_sequences(log, max_len=2)
    assert seq.order_label[0].tolist() == [0, 1]


def test_take_and_slices():
    log = make_log([[(1, CLK), (2, CLK)], [(3, CLK), (4, CLK), (5, CLK)]])
    seq = label_sequences(log, max_len=3)
    sub = seq.take([1])
    assert sub.inputs.tolist() == [[0, 3, 4]] and sub.session_index.tolist() == [1]
    assert seq.take(slice(0, 1)).targets.tolist() == [[0, 0, 2]]
    assert seq.n_targets == 3 and len(seq) == 2 and seq.max_len == 3
