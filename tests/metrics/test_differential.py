"""Hypothesis: the Numba kernels (through the façade) equal the NumPy references to 1e-12.

Ranked lists come from score matrices through a reference top-k (higher score first,
ties to the lower id, item 0 = padding never ranked), so the cases cover ties, all-equal
scores, ``-inf`` scores, catalogues smaller than k (lists padded with -1), empty inputs,
all-masked positions and lists with repeated ids.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paretoalign.metrics import UndefinedMetricWarning, evaluate, otto_weighted_recall
from paretoalign.metrics._otto import truth_to_csr
from paretoalign.metrics.reference import otto_weighted_recall_reference, reference_metrics

EXAMPLES = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCORE_KINDS = ("random", "ties", "all_equal", "neg_inf", "repeated_ids")


def reference_topk(scores: np.ndarray, width: int) -> np.ndarray:
    """Top-``width`` items 1..N per row by the tie rule, padded with -1 past N."""
    n_rows, n_cols = scores.shape
    items = np.arange(1, n_cols)
    out = np.full((n_rows, width), -1, dtype=np.int32)
    for p in range(n_rows):
        order = np.lexsort((items, -scores[p, 1:]))  # score desc, then id asc
        top = items[order][:width]
        out[p, : len(top)] = top
    return out


@st.composite
def ranking_cases(draw):
    n_items = draw(st.integers(1, 30))
    n_rows = draw(st.integers(0, 40))
    k = draw(st.integers(1, 25))  # often larger than the catalogue
    width = k + draw(st.integers(0, 3))
    kind = draw(st.sampled_from(SCORE_KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "repeated_ids":  # lists that are not rankings: ids may repeat
        ids = rng.integers(1, n_items + 1, (n_rows, width)).astype(np.int32)
    else:
        if kind == "random":
            scores = rng.normal(size=(n_rows, n_items + 1))
        elif kind == "ties":
            scores = rng.integers(0, 3, (n_rows, n_items + 1)).astype(np.float64)
        elif kind == "all_equal":
            scores = np.zeros((n_rows, n_items + 1))
        else:
            scores = rng.normal(size=(n_rows, n_items + 1))
            scores[rng.random(scores.shape) < 0.4] = -np.inf
        scores[:, 0] = -np.inf  # the padding item, as in MultiTRON
        ids = reference_topk(scores.astype(np.float32), width)
    targets = rng.integers(1, n_items + 1, n_rows).astype(np.int32)
    # make hits frequent: half the targets are taken from the row's own list
    take = rng.random(n_rows) < 0.5
    for p in np.flatnonzero(take):
        real = ids[p, :k][ids[p, :k] >= 1]
        if len(real):
            targets[p] = rng.choice(real)
    mask_kind = draw(st.sampled_from(("none", "some", "all_false")))
    mask = None
    if mask_kind == "some":
        mask = rng.random(n_rows) < 0.7
    elif mask_kind == "all_false":
        mask = np.zeros(n_rows, dtype=bool)
    if mask is not None:
        targets[~mask & (rng.random(n_rows) < 0.5)] = 0  # padded positions
    cart = (rng.random(n_rows) < 0.3).astype(np.int8)
    order = (rng.random(n_rows) < 0.3).astype(np.int8)
    log_pop = np.log(rng.integers(1, 50, n_items + 1).astype(np.float64))
    vectors = rng.normal(size=(n_items + 1, draw(st.integers(1, 6)))).astype(np.float32)
    vectors[rng.random(n_items + 1) < 0.1] = 0.0  # zero vectors: cosine 0
    return dict(
        ids=ids,
        targets=targets,
        cart_label=cart,
        order_label=order,
        mask=mask,
        k=k,
        n_items=n_items,
        item_log_popularity=log_pop,
        item_vectors=vectors,
    )


def assert_close(got: dict[str, float], expected: dict[str, float]) -> None:
    for name, value in got.items():
        ref = expected[name.split("@")[0]]
        if math.isnan(ref):
            assert math.isnan(value), (name, value, ref)
        else:
            assert abs(value - ref) <= 1e-12 * max(1.0, abs(ref)), (name, value, ref)


def run_evaluate(case: dict, **extra) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        frame = evaluate(**case, **extra)
    return dict(zip(frame["metric"], frame["value"]))


@EXAMPLES
@given(ranking_cases())
def test_standard_kernel_matches_reference(case):
    """The fused per-position pass (recall, MRR, (N)DCG, cart/order recall and density)."""
    got = run_evaluate({**case, "item_log_popularity": None, "item_vectors": None})
    assert_close(
        got, reference_metrics(**{**case, "item_log_popularity": None, "item_vectors": None})
    )


@EXAMPLES
@given(ranking_cases())
def test_list_kernel_matches_reference(case):
    """Coverage, mean log-popularity, novelty and intra-list diversity."""
    names = ["coverage", "mean_log_popularity", "novelty", "diversity"]
    got = run_evaluate(case, metrics=names)
    assert list(got) == [f"{name}@{case['k']}" for name in names]
    assert_close(got, reference_metrics(**case))


@EXAMPLES
@given(ranking_cases(), st.integers(1, 12))
def test_batch_mode_matches_reference(case, batch_size):
    """MultiTRON's per-batch mean, every metric."""
    got = run_evaluate(case, batch_size=batch_size)
    assert_close(got, reference_metrics(**case, batch_size=batch_size))


@st.composite
def otto_cases(draw):
    n_sessions = draw(st.integers(0, 30))
    n_items = draw(st.integers(1, 40))
    k = draw(st.integers(1, 25))
    width = k + draw(st.integers(0, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    predictions = {}
    truth = {}
    for kind in ("clicks", "carts", "orders"):
        pred = rng.integers(1, n_items + 1, (n_sessions, width)).astype(np.int32)
        lengths = rng.integers(0, width + 1, n_sessions)  # short lists and no predictions
        pred[np.arange(width)[None, :] >= lengths[:, None]] = -1
        predictions[kind] = pred
        max_truth = 1 if kind == "clicks" else 30  # more than k true items happens
        sets = [
            list(rng.integers(1, n_items + 1, rng.integers(0, max_truth + 1)))
            for _ in range(n_sessions)
        ]
        truth[kind] = sets  # lists with repeats: the score treats them as sets
    return predictions, truth, k


@EXAMPLES
@given(otto_cases())
def test_otto_kernel_matches_reference(case):
    predictions, truth, k = case
    csr = {kind: truth_to_csr(sets) for kind, sets in truth.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        frame = otto_weighted_recall(predictions, csr, k=k)
    got = dict(zip(frame["metric"], frame["value"]))
    ref = otto_weighted_recall_reference(
        predictions, {kind: [set(map(int, s)) for s in sets] for kind, sets in truth.items()}, k=k
    )
    expected = {f"otto_recall_{t}@{k}": ref[f"recall_{t}"] for t in ("clicks", "carts", "orders")}
    expected[f"otto_score@{k}"] = ref["score"]
    assert list(got) == list(expected)
    for name, value in got.items():
        if math.isnan(expected[name]):
            assert math.isnan(value)
        else:
            assert abs(value - expected[name]) <= 1e-12, name
