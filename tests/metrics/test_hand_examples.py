"""Hand-checked tiny examples and named invariants of the offline metrics."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from paretoalign.metrics import MetricAccumulator, UndefinedMetricWarning, evaluate
from paretoalign.metrics.reference import reference_metrics


def as_dict(frame) -> dict[str, float]:
    return dict(zip(frame["metric"], frame["value"]))


# A 4-position example, k = 3, catalogue of 10 items:
#   row 0: [5, 2, 7]   target 2 -> rank 1: rr 1/2, dcg 1/log2(3)
#   row 1: [1, 3, 4]   target 9 -> miss
#   row 2: [9, 8, -1]  target 9 -> rank 0: rr 1,   dcg 1        (a list of 2 items)
#   row 3: [4, 5, 6]   target 6 -> rank 2: rr 1/3, dcg 1/log2(4) = 1/2
IDS = np.array([[5, 2, 7], [1, 3, 4], [9, 8, -1], [4, 5, 6]], dtype=np.int32)
TARGETS = np.array([2, 9, 9, 6], dtype=np.int32)
CART = np.array([0, 1, 1, 0], dtype=np.int8)  # carted: rows 1 (miss) and 2 (hit)
ORDER = np.array([1, 1, 0, 0], dtype=np.int8)  # ordered: rows 0 (hit) and 1 (miss)


def test_hand_example_global():
    got = as_dict(evaluate(IDS, TARGETS, cart_label=CART, order_label=ORDER, k=3, n_items=10))
    dcg = (1 / math.log2(3) + 1 + 1 / 2) / 4
    expected = {
        "click_recall@3": 3 / 4,  # rows 0, 2, 3 hit
        "mrr@3": (1 / 2 + 1 + 1 / 3) / 4,
        "ndcg@3": dcg,  # one relevant item: IDCG = 1
        "dcg@3": dcg,
        "cart_recall@3": 1 / 2,  # of the carted rows 1, 2 only row 2 hits
        "order_recall@3": 1 / 2,  # of the ordered rows 0, 1 only row 0 hits
        "cart_density@3": 1 / 3,  # of the 3 hits one (row 2) is carted
        "order_density@3": 1 / 3,  # of the 3 hits one (row 0) is ordered
        "recall_x_order_density@3": 3 / 4 * 1 / 3,
        "coverage@3": 9 / 10,  # items 1..9 appear, item 10 never
    }
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-15), name


def test_hand_example_multitron_batches():
    # batch_size 2: batch A = rows 0, 1; batch B = rows 2, 3
    got = as_dict(evaluate(IDS, TARGETS, cart_label=CART, order_label=ORDER, k=3, batch_size=2))
    # A: recall 1/2, order recall 1/2, OD 1/1, product 1/2
    # B: recall 2/2, order recall 0 / clamp(0) = 0, OD 0/2, product 0
    assert got["click_recall@3"] == pytest.approx((1 / 2 + 1) / 2)
    assert got["order_recall@3"] == pytest.approx((1 / 2 + 0) / 2)
    assert got["order_density@3"] == pytest.approx((1 + 0) / 2)
    assert got["recall_x_order_density@3"] == pytest.approx((1 / 2 + 0) / 2)


def test_batch_mode_drops_trailing_partial_batch():
    # batch_size 3: only rows 0..2 form a batch; row 3 (a hit) is dropped
    got = as_dict(evaluate(IDS, TARGETS, k=3, batch_size=3, metrics=["click_recall"]))
    assert got["click_recall@3"] == pytest.approx(2 / 3)


def test_mask_excludes_positions():
    mask = np.array([True, True, False, False])
    got = as_dict(evaluate(IDS, TARGETS, mask=mask, k=3, metrics=["click_recall", "mrr"]))
    assert got == {"click_recall@3": 1 / 2, "mrr@3": (1 / 2) / 2}


def test_masked_out_target_may_be_padding():
    targets = TARGETS.copy()
    targets[1] = 0  # a padded position: allowed because it is masked out
    mask = np.array([True, False, True, True])
    got = as_dict(evaluate(IDS, targets, mask=mask, k=3, metrics=["click_recall"]))
    assert got["click_recall@3"] == 1.0


def test_list_metrics_hand_example():
    ids = np.array([[1, 2], [2, -1]], dtype=np.int32)
    targets = np.array([1, 2], dtype=np.int32)
    # popularity weights c = (-, 1, 3): p(1) = 1/4, p(2) = 3/4
    log_pop = np.log(np.array([1.0, 1.0, 3.0]))
    # item 1 along x, item 2 at 60 degrees: 1 - cos = 1/2
    vectors = np.array([[0, 0], [2, 0], [0.5, math.sqrt(3) / 2]], dtype=np.float32)
    got = as_dict(evaluate(ids, targets, k=2, item_log_popularity=log_pop, item_vectors=vectors))
    # slots: items 1, 2, 2
    assert got["mean_log_popularity@2"] == pytest.approx((0 + 2 * math.log(3)) / 3)
    assert got["novelty@2"] == pytest.approx((2 + 2 * -math.log2(3 / 4)) / 3)
    # only row 0 has two items
    assert got["diversity@2"] == pytest.approx(0.5, abs=1e-7)
    assert got["coverage@2"] == 1.0


# ---------------------------------------------------------------- named invariants
def random_case(rng, n_positions=400, n_items=50, width=20):
    ids = np.stack([rng.permutation(n_items)[:width] + 1 for _ in range(n_positions)])
    ids = ids.astype(np.int32)
    targets = rng.integers(1, n_items + 1, n_positions).astype(np.int32)
    order = (rng.random(n_positions) < 0.3).astype(np.int8)
    return ids, targets, order


def test_recall_between_zero_and_one(rng):
    ids, targets, order = random_case(rng)
    got = evaluate(ids, targets, order_label=order, k=20)
    assert np.all((got["value"] >= 0) & (got["value"] <= 1))


def test_perfect_ranking_gives_one(rng):
    ids, targets, order = random_case(rng)
    ids[:, 0] = targets
    ids[:, 1:][ids[:, 1:] == targets[:, None]] = ids[:, 0][:1]  # harmless duplicates
    got = as_dict(evaluate(ids, targets, order_label=order, k=20))
    for name in ("click_recall@20", "mrr@20", "ndcg@20", "order_recall@20"):
        assert got[name] == 1.0, name
    # with every position a hit, order density is the share of ordered targets
    assert got["order_density@20"] == pytest.approx(order.mean())


def test_no_match_gives_zero(rng):
    ids, targets, order = random_case(rng, n_items=60)
    ids[ids == targets[:, None]] = -1
    ids = np.sort(ids, axis=1)[:, ::-1].copy()  # move the -1 holes to the end
    names = ["click_recall", "mrr", "order_recall"]  # the densities are 0/0 here
    got = as_dict(evaluate(ids, targets, order_label=order, k=20, metrics=names))
    assert got["click_recall@20"] == 0.0
    assert got["mrr@20"] == 0.0
    assert got["order_recall@20"] == 0.0


def test_recall_nondecreasing_in_k(rng):
    ids, targets, order = random_case(rng)
    previous = None
    for k in range(1, 21):
        got = as_dict(evaluate(ids, targets, order_label=order, k=k))
        now = {m.split("@")[0]: v for m, v in got.items()}
        if previous is not None:
            for name in ("click_recall", "mrr", "ndcg", "order_recall"):
                assert now[name] >= previous[name], (name, k)
        previous = now


def test_ndcg_equals_dcg_with_one_positive(rng):
    ids, targets, _ = random_case(rng)
    got = as_dict(evaluate(ids, targets, k=10))
    assert got["ndcg@10"] == got["dcg@10"]


def test_empty_input_is_nan_with_warning():
    ids = np.zeros((0, 5), dtype=np.int32)
    targets = np.zeros(0, dtype=np.int32)
    with pytest.warns(UndefinedMetricWarning, match="click_recall"):
        got = as_dict(evaluate(ids, targets, k=5))
    assert all(math.isnan(v) for v in got.values())


def test_all_masked_is_nan_with_warning():
    mask = np.zeros(len(TARGETS), dtype=bool)
    with pytest.warns(UndefinedMetricWarning):
        got = as_dict(evaluate(IDS, TARGETS, mask=mask, k=3, n_items=10))
    assert math.isnan(got["click_recall@3"])
    assert got["coverage@3"] == 0.0  # nothing recommended: defined, zero


def test_no_hits_leaves_only_densities_undefined():
    targets = np.array([10, 10, 10, 10], dtype=np.int32)
    with pytest.warns(UndefinedMetricWarning, match="order_density") as caught:
        got = as_dict(evaluate(IDS, targets, order_label=ORDER, k=3))
    assert "click_recall" not in str(caught[0].message)
    assert got["click_recall@3"] == 0.0
    assert math.isnan(got["order_density@3"])


def test_batch_mode_with_empty_batch_counts_zero():
    mask = np.array([False, False, True, True])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = as_dict(evaluate(IDS, TARGETS, mask=mask, k=3, batch_size=2))
    # batch A is empty: every ratio 0 (clamped denominator); batch B: 2 hits of 2
    assert got["click_recall@3"] == pytest.approx(0.5)


def test_batch_mode_without_complete_batch_is_nan():
    with pytest.warns(UndefinedMetricWarning):
        got = as_dict(evaluate(IDS, TARGETS, k=3, batch_size=5))
    assert math.isnan(got["click_recall@3"])


def test_metric_selection_keeps_canonical_order():
    got = evaluate(IDS, TARGETS, order_label=ORDER, k=3, metrics=["order_recall@3", "mrr"])
    assert list(got["metric"]) == ["mrr@3", "order_recall@3"]


def test_results_do_not_depend_on_thread_count(rng):
    ids, targets, order = random_case(rng, n_positions=20_000)
    one = evaluate(ids, targets, order_label=order, k=20, threads=1)
    two = evaluate(ids, targets, order_label=order, k=20, threads=2)
    assert one["value"].to_numpy().tobytes() == two["value"].to_numpy().tobytes()


def test_chunking_does_not_change_the_metrics(rng):
    ids, targets, order = random_case(rng, n_positions=5_000)
    whole = evaluate(ids, targets, order_label=order, k=20, n_items=50)
    acc = MetricAccumulator(k=20, has_order=True, n_items=50)
    for lo in range(0, len(ids), 777):
        acc.add(ids[lo : lo + 777], targets[lo : lo + 777], order_label=order[lo : lo + 777])
    chunked = acc.result()
    np.testing.assert_allclose(chunked["value"], whole["value"], rtol=1e-13)


def test_reference_agrees_on_hand_example():
    ref = reference_metrics(IDS, TARGETS, cart_label=CART, order_label=ORDER, k=3, n_items=10)
    got = as_dict(evaluate(IDS, TARGETS, cart_label=CART, order_label=ORDER, k=3, n_items=10))
    for name, value in got.items():
        assert ref[name.split("@")[0]] == pytest.approx(value, abs=1e-15)


@pytest.mark.parametrize("k", [31, 32, 33, 64, 70])
def test_lists_longer_than_one_bit_mask(rng, k):
    """Ranks are found 32 columns at a time; lists of any length agree with the reference."""
    n_items = 90
    ids = rng.integers(1, n_items + 1, (3000, 72)).astype(np.int32)  # repeats allowed
    ids[:100, 60:] = -1  # short lists
    targets = rng.integers(1, n_items + 1, 3000).astype(np.int32)
    order = (rng.random(3000) < 0.3).astype(np.int8)
    got = as_dict(evaluate(ids, targets, order_label=order, k=k, n_items=n_items))
    ref = reference_metrics(ids, targets, order_label=order, k=k, n_items=n_items)
    for name, value in got.items():
        assert value == pytest.approx(ref[name.split("@")[0]], rel=1e-12, abs=1e-15), name
