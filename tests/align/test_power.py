"""Analytic and simulated power, and the scoring of signed decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paretoalign.align.analysis import AlignConfig, discover
from paretoalign.align.power import (
    analytic_power,
    attenuated_r,
    decide_batch,
    groups_for_power,
    pool_scores,
    power_table,
    reliability,
    score_decisions,
    simulate_power,
)


def test_analytic_power_matches_the_brief_table():
    # simulation-brief §4.9 (pingouin.power_corr, alpha 0.05, noise-free KPI).
    assert groups_for_power(0.8) == pytest.approx(9.0, abs=0.05)
    assert groups_for_power(0.9) == pytest.approx(6.2, abs=0.05)
    np.testing.assert_allclose(analytic_power(0.8, [6, 8]), [0.53, 0.73], atol=0.01)
    # Four groups: the exact permutation test cannot reach 0.05 (min p = 1/12).
    assert analytic_power(0.99, 4)[()] == 0.0
    # Bonferroni over 91 tests: six groups can never reach 0.05/91 (min p = 2/720).
    assert analytic_power(0.95, 6, n_tests=91)[()] == 0.0
    assert analytic_power(0.95, 12, n_tests=91)[()] > 0.5
    table = power_table([0.8, 0.9], [6, 8])
    assert len(table) == 4 and set(table.columns) >= {"r", "groups", "power"}


def test_attenuation_by_kpi_noise():
    # brief §4.9: SE / spread = 0.25, 0.5, 1 -> r x 0.97, 0.89, 0.71.
    np.testing.assert_allclose(
        attenuated_r(1.0, 1.0, np.array([0.25, 0.5, 1.0])), [0.970, 0.894, 0.707], atol=1e-3
    )
    assert reliability(0.0, 0.0)[()] != reliability(0.0, 0.0)[()]  # NaN
    with pytest.raises(ValueError):
        reliability(-1.0, 1.0)


def test_score_decisions_known_counts():
    truth = np.array([[1, 0], [-1, 0]])
    found = np.array(
        [
            [[1, 0], [-1, 0]],  # perfect
            [[1, 1], [0, 0]],  # one right, one false pair, one missed
            [[-1, 0], [0, 0]],  # wrong sign
            [[0, 0], [0, 0]],  # nothing
        ]
    )
    s = score_decisions(found, truth)
    # discoveries 2 + 2 + 1 = 5, correct 2 + 1 = 3, true pairs 2 per replicate x 4 = 8.
    assert s["precision"] == pytest.approx(3 / 5)
    assert s["recall"] == pytest.approx(3 / 8)
    assert s["f1"] == pytest.approx(2 * 0.6 * 0.375 / 0.975)
    assert s["sign_errors"] == pytest.approx(1 / 4)  # 1 wrong sign among 4 true-pair hits
    assert s["fwer"] == pytest.approx(2 / 4)
    assert s["mean_discoveries"] == pytest.approx(5 / 4)
    assert s["precision_mean"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    with pytest.raises(ValueError):
        score_decisions(found, truth[:1])


def test_decide_batch_matches_single_tables(rng):
    x = rng.normal(size=(3, 6))
    y = rng.normal(size=(5, 2, 6)) + 2 * x[0][None, None, :]
    cfg = AlignConfig()
    sign, r, p_adj = decide_batch(x, y, cfg)

    for i in range(5):
        single = discover(x, y[i], cfg)
        np.testing.assert_array_equal(sign[i], single.sign)
        np.testing.assert_allclose(p_adj[i], single.p_adj)
        np.testing.assert_allclose(r[i], single.r)


def test_simulated_power_rises_with_groups_and_falls_with_noise():
    rng = np.random.default_rng(1)
    results = {}
    for g in (6, 8):
        w = np.linspace(0, 1, g)
        x = np.vstack([w, rng.permutation(w)])  # one real metric, one placebo
        mu = np.vstack([2.0 * w, np.zeros(g)])  # KPI 0 follows metric 0, KPI 1 is flat
        truth = np.array([[1, 0], [0, 0]])
        for se in (0.1, 1.0):
            results[(g, se)] = simulate_power(x, mu, se, truth, n_sims=150, seed=3)
    assert results[(8, 0.1)]["recall"] > 0.95
    assert results[(8, 0.1)]["recall"] >= results[(6, 0.1)]["recall"]
    assert results[(8, 1.0)]["recall"] < results[(8, 0.1)]["recall"]
    for s in results.values():
        # Flat KPI and placebo metric: family-wise false positives stay near alpha.
        assert s["fwer"] <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 150)


def test_pooling_worlds_sums_counts():
    truth = np.array([[1, 0], [-1, 0]])
    a = np.array([[[1, 0], [-1, 0]], [[1, 1], [0, 0]]])
    b = np.array([[[-1, 0], [0, 0]], [[0, 0], [0, 0]]])
    pooled = pool_scores([score_decisions(a, truth), score_decisions(b, truth)])
    whole = score_decisions(np.concatenate([a, b]), truth)
    for key in ("precision", "recall", "f1", "sign_errors", "fwer"):
        assert pooled[key] == pytest.approx(whole[key])
    assert pooled["counts"]["replicates"] == 4
    # A world whose truth is empty adds discoveries but no true pairs.
    other = score_decisions(np.array([[[1, 0], [0, 0]]]), np.zeros((2, 2), int))
    mixed = pool_scores([score_decisions(a, truth), other])
    assert mixed["precision"] == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        pool_scores([])


def test_score_decisions_mask_drops_cells():
    truth = np.array([[1, 0], [-1, 0]])
    found = np.array([[[1, 1], [0, 0]]])
    full = score_decisions(found, truth)
    masked = score_decisions(found, truth, mask=np.array([[True, False], [False, True]]))
    assert full["precision"] == pytest.approx(0.5) and full["recall"] == pytest.approx(0.5)
    assert masked["precision"] == pytest.approx(1.0) and masked["recall"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        score_decisions(found, truth, mask=np.ones(3, bool))
