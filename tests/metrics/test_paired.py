"""Per-session sums, metrics from them, and the paired session bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_streaming import MAX_LEN, TinyModel, numpy_topk, random_log  # tests/metrics on sys.path

from paretoalign.data.labels import label_sequences
from paretoalign.metrics import (
    RATIO_SUMS,
    SUM_COLUMNS,
    MetricAccumulator,
    evaluate_model,
    evaluate_recommender,
    metrics_from_sums,
    paired_bootstrap,
)
from paretoalign.model import PopularityRecommender


def sums_frame(rows) -> pd.DataFrame:
    """Per-session sums from ``(n_pos, hits, order_n, order_hits)`` tuples."""
    out = pd.DataFrame(0.0, index=range(len(rows)), columns=list(SUM_COLUMNS))
    for i, (n, h, on, oh) in enumerate(rows):
        out.loc[i, ["n_pos", "hits", "order_n", "order_hits"]] = [n, h, on, oh]
    return out


@pytest.mark.parametrize("block_sessions", [1, 5, 1000])
def test_per_session_sums_give_the_global_metrics(rng, block_sessions):
    log = random_log(rng, 31)
    model = TinyModel(seed=2)
    pi = np.array([0.4, 0.6], dtype=np.float32)
    kwargs = dict(k=5, max_len=MAX_LEN, progress=False, topk_fn=numpy_topk)
    sums = evaluate_model(model, log, pi, block_sessions=block_sessions, per_session=True, **kwargs)
    assert list(sums.columns) == list(SUM_COLUMNS) and len(sums) == log.n_sessions
    assert (sums["hits"] <= sums["n_pos"]).all() and (sums["order_hits"] <= sums["order_n"]).all()
    # row s describes session s: its positions are the labelled ones of that session
    lab = label_sequences(log, MAX_LEN)
    np.testing.assert_array_equal(sums["n_pos"], lab.mask.sum(axis=1))
    np.testing.assert_array_equal(sums["order_n"], (lab.order_label * lab.mask).sum(axis=1))
    direct = evaluate_model(model, log, pi, **kwargs)
    values = dict(zip(direct["metric"], direct["value"]))
    from_sums = metrics_from_sums(sums, [f"{m}@5" for m in RATIO_SUMS])
    for name, value in from_sums.items():
        assert value == pytest.approx(values[name], rel=1e-12), name


def test_per_session_sums_of_a_recommender(rng):
    log = random_log(rng)
    rec = PopularityRecommender().fit(log)
    sums = evaluate_recommender(rec, log, k=4, max_len=MAX_LEN, progress=False, per_session=True)
    direct = evaluate_recommender(rec, log, k=4, max_len=MAX_LEN, progress=False)
    values = dict(zip(direct["metric"], direct["value"]))
    assert len(sums) == log.n_sessions
    for name, value in metrics_from_sums(sums, ["click_recall@4", "order_recall@4"]).items():
        assert value == pytest.approx(values[name], rel=1e-12)
    with pytest.raises(ValueError, match="exclude each other"):
        evaluate_recommender(rec, log, progress=False, per_session=True, batch_sessions=4)


def test_batch_sums_only_in_batch_mode():
    with pytest.raises(ValueError, match="batch_mode"):
        MetricAccumulator(k=3).batch_sums()
    assert MetricAccumulator(k=3, batch_mode=True).batch_sums().shape == (0, len(SUM_COLUMNS))


def test_metrics_from_sums_by_hand():
    sums = sums_frame([(4, 2, 1, 1), (6, 3, 2, 0), (0, 0, 0, 0)])
    got = metrics_from_sums(sums, ["click_recall", "order_recall@20", "order_density"])
    assert got == {"click_recall": 0.5, "order_recall@20": 1 / 3, "order_density": 0.2}
    assert np.isnan(metrics_from_sums(sums, ["cart_recall"])["cart_recall"])
    # recall x order density is order hits per position
    assert metrics_from_sums(sums, ["recall_x_order_density"])["recall_x_order_density"] == 0.1
    with pytest.raises(ValueError, match="not a ratio"):
        metrics_from_sums(sums, ["coverage"])


def test_paired_bootstrap_values_and_determinism():
    a = sums_frame([(4, 3, 1, 1), (6, 4, 2, 1), (5, 2, 0, 0), (3, 3, 1, 1)] * 10)
    b = sums_frame([(4, 2, 1, 0), (6, 3, 2, 1), (5, 2, 0, 0), (3, 2, 1, 1)] * 10)
    r = paired_bootstrap(a, b, "click_recall@20", seed=7, n_resamples=500)
    assert r["value_a"] == pytest.approx(120 / 180) and r["value_b"] == pytest.approx(90 / 180)
    assert r["difference"] == pytest.approx(30 / 180)
    # a is never worse than b in any session: every resample is > 0, p at its floor
    assert 0 < r["ci_low"] <= r["difference"] <= r["ci_high"]
    assert r["p_value"] == pytest.approx(2 / 501) and r["n_valid"] == 500
    assert r == paired_bootstrap(a, b, "click_recall@20", seed=7, n_resamples=500)
    gen = paired_bootstrap(a, b, "click_recall", seed=np.random.default_rng(7), n_resamples=500)
    assert gen["ci_low"] == r["ci_low"] and gen["ci_high"] == r["ci_high"]
    assert paired_bootstrap(a, b, "click_recall", seed=8, n_resamples=500)["ci_low"] != r["ci_low"]


def test_paired_bootstrap_of_identical_rankers_is_zero():
    a = sums_frame([(4, 3, 1, 1), (6, 4, 2, 1), (5, 2, 1, 0)] * 5)
    r = paired_bootstrap(a, a.copy(), "order_recall", seed=0, n_resamples=200)
    assert r["difference"] == 0.0 and r["ci_low"] == 0.0 and r["ci_high"] == 0.0
    assert r["p_value"] == 1.0 and r["se"] == 0.0


def test_paired_bootstrap_interval_covers_a_known_difference():
    """Independent sessions with hit rates 0.6 and 0.5: the 95 % interval of the paired
    bootstrap contains the true 0.1 in about 95 % of 40 replications (>= 34 by binomial)."""
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(40):
        n = rng.integers(1, 6, 300)
        rows_a = [(k, rng.binomial(k, 0.6), 0, 0) for k in n]
        rows_b = [(k, rng.binomial(k, 0.5), 0, 0) for k in n]
        r = paired_bootstrap(sums_frame(rows_a), sums_frame(rows_b), "click_recall", seed=rng)
        covered += r["ci_low"] <= 0.1 <= r["ci_high"]
    assert covered >= 34


def test_paired_bootstrap_rejects_bad_input():
    a = sums_frame([(4, 3, 1, 1), (6, 4, 0, 0)])
    with pytest.raises(ValueError, match="same sessions"):
        paired_bootstrap(a, a.iloc[:1], "click_recall", seed=0)
    with pytest.raises(ValueError, match="not a ratio"):
        paired_bootstrap(a, a, "diversity", seed=0)
    with pytest.raises(ValueError, match="zero denominator"):
        paired_bootstrap(a, a, "cart_recall", seed=0)
    with pytest.raises(ValueError, match="n_resamples"):
        paired_bootstrap(a, a, "click_recall", seed=0, n_resamples=10)
    with pytest.raises(ValueError, match="level"):
        paired_bootstrap(a, a, "click_recall", seed=0, level=1.5)
    with pytest.raises(ValueError, match="no sessions"):
        paired_bootstrap(a.iloc[:0], a.iloc[:0], "click_recall", seed=0)
    with pytest.raises(ValueError, match="lacks"):
        paired_bootstrap(a.drop(columns="hits"), a, "click_recall", seed=0)
    bad = a.copy()
    bad.loc[0, "hits"] = -1
    with pytest.raises(ValueError, match="negative"):
        paired_bootstrap(bad, a, "click_recall", seed=0)
    with pytest.raises(TypeError, match="DataFrame"):
        paired_bootstrap(a.to_numpy(), a, "click_recall", seed=0)


def test_paired_bootstrap_chunking_does_not_change_the_result(monkeypatch):
    """Large session counts draw fewer resamples per chunk; the draws are the same."""
    import paretoalign.metrics._paired as paired

    a = sums_frame([(4, 3, 1, 1), (6, 4, 2, 1), (5, 2, 0, 0), (3, 1, 1, 0)] * 25)
    b = sums_frame([(4, 2, 1, 0), (6, 3, 2, 1), (5, 2, 0, 0), (3, 2, 1, 1)] * 25)
    whole = paired_bootstrap(a, b, "click_recall", seed=5, n_resamples=300)
    monkeypatch.setattr(paired, "_CHUNK_WEIGHTS", 700)  # 7 resamples per chunk
    assert paired_bootstrap(a, b, "click_recall", seed=5, n_resamples=300) == whole
