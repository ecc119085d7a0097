"""Permutation p-values, correlations and Fisher intervals on planted inputs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pingouin
import pytest
from scipy import stats

from paretoalign.align.correlation import (
    all_orderings,
    correlation_matrix,
    fisher_ci,
    min_exact_pvalue,
    permutation_test,
)


def _scipy_exact(x, y, statistic):
    """scipy's exact pairings test of |r| (one-sided on |r|: our two-sided definition)."""

    def stat(yy):
        if statistic == "pearson":
            return abs(stats.pearsonr(x, yy).statistic)
        return abs(stats.spearmanr(x, yy).statistic)

    res = stats.permutation_test(
        (y,), stat, permutation_type="pairings", n_resamples=np.inf, alternative="greater"
    )
    return res.pvalue


@pytest.mark.parametrize("statistic", ["pearson", "spearman"])
@pytest.mark.parametrize("n_groups", [4, 5, 6])
def test_exact_pvalue_matches_scipy(rng, statistic, n_groups):
    x = rng.normal(size=n_groups)
    y = 0.7 * x + rng.normal(size=n_groups)
    res = permutation_test(x, y, statistic)
    assert res.exact and res.n_orderings == math.factorial(n_groups)
    # Two-sided = share of orderings with |r| >= |r_obs| (scipy's "two-sided" instead
    # doubles the smaller tail, which differs when the null distribution is skewed).
    assert res.p[0, 0] == pytest.approx(_scipy_exact(x, y, statistic), abs=1e-12)


@pytest.mark.parametrize("n_groups", [4, 5, 6, 8])
def test_perfect_monotone_pair_reaches_the_minimum_p(n_groups):
    x = np.linspace(0.1, 0.5, n_groups)
    y = np.exp(3 * x)  # monotone, not linear
    res = permutation_test(x, y, "spearman")
    assert res.r[0, 0] == pytest.approx(1.0)
    assert res.p[0, 0] == pytest.approx(min_exact_pvalue(n_groups))
    assert min_exact_pvalue(4) == pytest.approx(1 / 12)  # never below 0.05 with four groups


def test_sign_flip_keeps_p_and_flips_r(rng):
    x = rng.normal(size=(3, 6))
    y = rng.normal(size=(2, 6))
    a = permutation_test(x, y)
    b = permutation_test(x, -y)
    np.testing.assert_allclose(b.r, -a.r, atol=1e-12)
    np.testing.assert_allclose(b.p, a.p, atol=1e-12)


def test_table_equals_pairwise_calls(rng):
    x = rng.normal(size=(4, 6))
    y = rng.normal(size=(3, 6))
    table = permutation_test(x, y, "spearman")
    for i in range(4):
        for j in range(3):
            single = permutation_test(x[i], y[j], "spearman")
            assert table.p[i, j] == pytest.approx(single.p[0, 0])
            assert table.r[i, j] == pytest.approx(stats.spearmanr(x[i], y[j]).statistic)


def test_null_rejection_rate_is_at_most_alpha(rng):
    # 2000 independent null KPIs against one metric, G = 6: the exact test has size <= alpha.
    x = rng.normal(size=6)
    y = rng.normal(size=(2000, 6))
    p = permutation_test(x, y).p[0]
    rate = float(np.mean(p <= 0.05))
    se = math.sqrt(0.05 * 0.95 / p.size)
    assert rate <= 0.05 + 3 * se
    assert rate >= 0.05 - 3 * se  # and the test is not degenerate


def test_monte_carlo_for_many_groups_is_seeded_and_close_to_exact(rng):
    x = rng.normal(size=10)
    y = 0.5 * x + rng.normal(size=10)
    a = permutation_test(x, y, n_resamples=5000, seed=7)
    b = permutation_test(x, y, n_resamples=5000, seed=7)
    c = permutation_test(x, y, n_resamples=5000, seed=8)
    assert not a.exact and a.n_orderings == 5001
    assert a.p[0, 0] == b.p[0, 0]
    assert a.p[0, 0] >= 1 / 5001
    assert abs(a.p[0, 0] - c.p[0, 0]) < 0.03
    # The Pearson permutation p is close to the t-test p for normal data.
    assert a.p[0, 0] == pytest.approx(stats.pearsonr(x, y).pvalue, abs=0.03)


def test_ties_and_constant_rows():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 2.0, 2.0, 2.0, 2.0]])
    y = np.array([1.0, 1.0, 2.0, 2.0, 3.0])
    res = permutation_test(x, y, "spearman")
    assert res.r[0, 0] == pytest.approx(stats.spearmanr(x[0], y).statistic)
    assert math.isnan(res.r[1, 0]) and res.p[1, 0] == 1.0
    assert np.isnan(correlation_matrix(x, y)[1, 0])


def test_correlation_matrix_matches_numpy(rng):
    x = rng.normal(size=(5, 8))
    y = rng.normal(size=(3, 8))
    r = correlation_matrix(x, y)
    full = np.corrcoef(np.vstack([x, y]))[:5, 5:]
    np.testing.assert_allclose(r, full, atol=1e-12)


@pytest.mark.parametrize(
    ("x", "y", "error"),
    [
        (np.ones((2, 5)), np.ones((2, 4)), ValueError),
        (np.ones(2), np.ones(2), ValueError),
        (np.array([1.0, np.nan, 2.0]), np.ones(3), ValueError),
        (np.ones((2, 2, 2)), np.ones(2), ValueError),
        (np.array(["a", "b", "c"]), np.ones(3), TypeError),
    ],
)
def test_bad_inputs_raise(x, y, error):
    with pytest.raises(error):
        permutation_test(x, y)


def test_bad_statistic_and_orderings():
    with pytest.raises(ValueError, match="statistic"):
        permutation_test(np.arange(4.0), np.arange(4.0), "kendall")
    with pytest.raises(ValueError):
        all_orderings(9)
    orders = all_orderings(4)
    assert orders.shape == (24, 4)
    assert len({tuple(o) for o in orders}) == 24
    np.testing.assert_array_equal(orders[0], np.arange(4))


@pytest.mark.parametrize("n", [5, 6, 12, 40])
def test_fisher_ci_matches_pingouin(n):
    for r in (-0.9, -0.2, 0.0, 0.55, 0.97):
        low, high = fisher_ci(np.array(r), n)
        ref = pingouin.compute_esci(stat=r, nx=n, ny=n, eftype="r", decimals=10)
        assert float(low) == pytest.approx(ref[0], abs=1e-9)
        assert float(high) == pytest.approx(ref[1], abs=1e-9)


def test_fisher_ci_edges():
    low, high = fisher_ci(np.array([1.0, np.nan]), 6)
    assert low[0] == pytest.approx(1.0) and high[0] == pytest.approx(1.0)
    assert np.isnan(low[1]) and np.isnan(high[1])
    low, high = fisher_ci(np.array(0.5), 3)
    assert np.isnan(low) and np.isnan(high)
    with pytest.raises(ValueError):
        fisher_ci(np.array(0.5), 10, confidence=1.5)
