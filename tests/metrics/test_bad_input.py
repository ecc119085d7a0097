"""Bad inputs raise a clear TypeError / ValueError naming the argument and the place."""

from __future__ import annotations

import numpy as np
import pytest

from paretoalign.metrics import MetricAccumulator, evaluate, log_popularity, otto_weighted_recall
from paretoalign.metrics._otto import truth_to_csr

IDS = np.array([[1, 2, 3], [3, 2, 1], [2, 3, -1]], dtype=np.int32)
TARGETS = np.array([1, 2, 3], dtype=np.int32)
LABELS = np.array([0, 1, 0], dtype=np.int8)


def with_value(array: np.ndarray, index, value) -> np.ndarray:
    out = array.copy()
    out[index] = value
    return out


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(ids=IDS.astype(np.int64)), TypeError, "ids must have dtype int32"),
        (dict(ids=IDS.tolist()), TypeError, "ids must be a numpy array"),
        (dict(ids=IDS[0]), ValueError, "ids must be 2-D"),
        (dict(targets=TARGETS.astype(np.int64)), TypeError, "targets must have dtype int32"),
        (dict(targets=TARGETS[:2]), ValueError, "targets has 2 rows, expected 3"),
        (dict(k=4), ValueError, "ids has 3 columns but k=4"),
        (dict(k=0), ValueError, "k must be a positive int"),
        (dict(k=2.0), ValueError, "k must be a positive int"),
        (dict(ids=with_value(IDS, (1, 1), 0)), ValueError, r"ids\[1\] contains 0"),
        (dict(ids=with_value(IDS, (0, 2), 11)), ValueError, r"ids\[0\] contains 11"),
        (dict(ids=with_value(IDS, (2, 0), -5)), ValueError, r"ids\[2\] contains -5"),
        (dict(ids=with_value(IDS, (0, 0), -1)), ValueError, r"ids\[0\].*item after -1"),
        (dict(targets=with_value(TARGETS, 1, 0)), ValueError, r"targets\[1\] = 0 is outside 1..10"),
        (dict(targets=with_value(TARGETS, 2, 11)), ValueError, r"targets\[2\] = 11"),
        (dict(cart_label=with_value(LABELS, 2, 2)), ValueError, r"cart_label\[2\] = 2"),
        (dict(order_label=with_value(LABELS, 0, -1)), ValueError, r"order_label\[0\] = -1"),
        (dict(order_label=LABELS.astype(bool)), TypeError, "order_label must have dtype int8"),
        (dict(mask=np.ones(3, dtype=np.int8)), TypeError, "mask must have dtype bool"),
        (dict(mask=np.ones(4, dtype=bool)), ValueError, "mask has 4 rows"),
        (dict(metrics=["recall"]), ValueError, "unknown metric 'recall'"),
        (dict(metrics=["mrr@10"]), ValueError, "asks for @10 but k=3"),
        (dict(metrics=["diversity"]), ValueError, "needs item_vectors"),
        (dict(metrics=["cart_recall"]), ValueError, "needs cart_label"),
        (dict(n_items=0), ValueError, "n_items must be in"),
        (dict(n_items=10.0), TypeError, "n_items must be an int"),
        (dict(item_vectors=np.ones((5, 2), np.float32)), ValueError, "inconsistent catalogue"),
        (dict(item_vectors=np.ones(11, np.float32)), TypeError, "item_vectors must be 2-D"),
        (dict(item_vectors=np.full((11, 2), np.nan, np.float32)), ValueError, "finite"),
        (dict(item_log_popularity=np.ones(11, np.int64)), TypeError, "1-D float"),
        (dict(item_log_popularity=np.full(11, np.inf)), ValueError, "finite"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive int"),
        (dict(threads=0), ValueError, "threads must be an int"),
    ],
)
def test_evaluate_rejects(kwargs, error, match):
    args = dict(ids=IDS, targets=TARGETS, k=3, n_items=10, cart_label=None, order_label=None)
    if "metrics" in kwargs and kwargs["metrics"] == ["cart_recall"]:
        args.pop("cart_label")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        evaluate(**args)


def test_first_bad_row_is_reported_among_many():
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 100, (50_000, 20)).astype(np.int32)
    targets = rng.integers(1, 100, 50_000).astype(np.int32)
    ids[33_333, 7] = 0
    ids[44_444, 3] = 0
    with pytest.raises(ValueError, match=r"ids\[33333\] contains 0"):
        evaluate(ids, targets, n_items=99)


def test_non_contiguous_inputs_are_accepted():
    got = evaluate(np.asfortranarray(IDS), TARGETS[::1], k=3)
    assert got["value"].iloc[0] == 1.0


def test_accumulator_rejects_inconsistent_chunks():
    acc = MetricAccumulator(k=3, has_order=True)
    with pytest.raises(ValueError, match="order_label is required"):
        acc.add(IDS, TARGETS)
    with pytest.raises(ValueError, match="has_cart=False"):
        acc.add(IDS, TARGETS, cart_label=LABELS, order_label=LABELS)
    with pytest.raises(ValueError, match="batch_mode"):
        acc.add(IDS, TARGETS, order_label=LABELS, batches=np.array([0, 3]))
    batch = MetricAccumulator(k=3, batch_mode=True)
    with pytest.raises(ValueError, match="needs batches"):
        batch.add(IDS, TARGETS)
    with pytest.raises(ValueError, match="non-decreasing"):
        batch.add(IDS, TARGETS, batches=np.array([0, 2, 1]))


def test_log_popularity_checks():
    np.testing.assert_allclose(log_popularity([5, 0, 3]), [0.0, 0.0, np.log(4.0)])
    with pytest.raises(ValueError, match="non-negative"):
        log_popularity([0, -1, 2])
    with pytest.raises(ValueError, match="positive"):
        log_popularity([0, 0, 2], smoothing=0.0)


def test_otto_rejects():
    pred = np.array([[1, 2, -1], [3, -1, -1]], dtype=np.int32)
    truth = {kind: truth_to_csr([[1], [3]]) for kind in ("clicks", "carts", "orders")}
    with pytest.raises(ValueError, match="lacks the types"):
        otto_weighted_recall(pred, {"clicks": truth["clicks"]}, k=3)
    with pytest.raises(ValueError, match="item after -1"):
        otto_weighted_recall(np.array([[1, -1, 2], [3, 1, 2]], np.int32), truth, k=3)
    with pytest.raises(ValueError, match=">= 1 or -1"):
        otto_weighted_recall(np.array([[1, 0, 2], [3, 1, 2]], np.int32), truth, k=3)
    with pytest.raises(ValueError, match="columns but k=4"):
        otto_weighted_recall(pred, truth, k=4)
    bad = dict(truth, carts=(np.array([0, 2, 1]), np.array([1], np.int32)))
    with pytest.raises(ValueError, match="ptr must start at 0"):
        otto_weighted_recall(pred, bad, k=3)
    with pytest.raises(TypeError, match=r"\(ptr, ids\) pair"):
        otto_weighted_recall(pred, dict(truth, orders=[{1}, {3}, {4}]), k=3)
    with pytest.raises(ValueError, match=r"1\.\.2"):
        truth_to_csr([[0]])


def test_otto_hand_example():
    # session 0: clicks GT {5} predicted at rank 2; carts GT {1, 2, 3}: 2 predicted
    # session 1: clicks GT {9} missed; carts none; orders GT = 25 items, k=3: 3 hits -> 3/3
    pred = np.array([[1, 2, 5], [10, 11, 12]], dtype=np.int32)
    orders = list(range(10, 35))
    truth = {
        "clicks": truth_to_csr([[5], [9]]),
        "carts": truth_to_csr([[1, 2, 3, 3], []]),  # repeated 3 counts once
        "orders": truth_to_csr([[], orders]),
    }
    got = dict(zip(*otto_weighted_recall(pred, truth, k=3).to_dict("list").values()))
    assert got["otto_recall_clicks@3"] == 1 / 2
    assert got["otto_recall_carts@3"] == 2 / 3
    assert got["otto_recall_orders@3"] == 1.0
    assert got["otto_score@3"] == pytest.approx(0.1 / 2 + 0.3 * 2 / 3 + 0.6)
