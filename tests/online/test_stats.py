from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paretoalign.online.assignment import assign_groups
from paretoalign.online.kpis import compute_kpis, omnibus_table, uplift_table
from paretoalign.online.stats import (
    RatioEstimate,
    compare_to_control,
    omnibus_equality_test,
    ratio_estimate,
    sample_ratio_mismatch,
)


def test_ratio_estimate_matches_the_textbook_formula(rng):
    y = rng.poisson(10, 500).astype(float) + 1
    x = rng.binomial(y.astype(int), 0.1).astype(float)
    est = ratio_estimate(x, y)
    r = x.sum() / y.sum()
    cov = np.cov(x, y)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (len(x) * y.mean() ** 2)
    assert est.value == pytest.approx(r)
    assert est.se == pytest.approx(np.sqrt(var), rel=1e-10)
    assert est.ci_low == pytest.approx(r - 1.959963984540054 * np.sqrt(var), rel=1e-10)


def test_ratio_estimate_agrees_with_the_shopper_bootstrap(rng):
    from scipy.stats import bootstrap

    y = rng.poisson(30, 2000).astype(float) + 1
    x = rng.binomial(y.astype(int), rng.beta(2, 60, 2000)).astype(float)
    est = ratio_estimate(x, y)
    boot = bootstrap(
        (x, y),
        lambda a, b: a.sum() / b.sum(),
        paired=True,
        vectorized=False,
        n_resamples=999,
        method="percentile",
        rng=np.random.default_rng(1),
    )
    boot_se = boot.standard_error
    assert est.se == pytest.approx(boot_se, rel=0.15)


def test_mean_is_the_ratio_with_unit_denominator(rng):
    x = rng.normal(3, 2, 400)
    est = ratio_estimate(x)
    assert est.value == pytest.approx(x.mean())
    assert est.se == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)))


def test_ratio_estimate_edge_cases():
    empty = ratio_estimate([], [])
    assert np.isnan(empty.value) and empty.n == 0
    zero_den = ratio_estimate([0.0, 0.0], [0.0, 0.0])
    assert np.isnan(zero_den.value)
    single = ratio_estimate([1.0], [4.0])
    assert single.value == 0.25 and np.isnan(single.se)
    with pytest.raises(ValueError, match="equal length"):
        ratio_estimate([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="finite"):
        ratio_estimate([np.nan, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="alpha"):
        ratio_estimate([1.0, 2.0], [1.0, 1.0], alpha=1.5)


def _shoppers(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Per-shopper sums of a heterogeneous population with known ratios.

    Impressions are heavy-tailed (1 + round(LogNormal(ln 20, 1.2))), the click propensity
    p ~ Beta(2, 48) and the conversion propensity c ~ Beta(1, 9) are independent of them,
    so CTR = E[p] = 0.04 and post-click CVR = E[c] = 0.1 exactly; units per shopper has
    mean E[orders] + 0.05 E[impressions] (computed from the closed form below).
    """
    imp = 1 + np.round(rng.lognormal(np.log(20), 1.2, n))
    clicks = rng.binomial(imp.astype(np.int64), rng.beta(2, 48, n)).astype(float)
    orders = rng.binomial(clicks.astype(np.int64), rng.beta(1, 9, n)).astype(float)
    units = orders + rng.poisson(0.05 * imp)
    return imp, clicks, orders, units


def test_delta_method_coverage_against_repeated_simulation(synth_truth):
    """95 % delta-method intervals of CTR, post-click CVR and units per shopper cover the
    population value 90-98 % of the time over 400 simulated experiments of 800 shoppers."""
    rng = np.random.default_rng(2024)
    mean_imp = 1 + np.exp(np.log(20) + 1.2**2 / 2)  # E[1 + LogNormal] (rounding is unbiased)
    truth = {
        "ctr": synth_truth["ctr"],
        "post_click_cvr": synth_truth["post_click_cvr"],
        "units_per_shopper": mean_imp * (0.04 * 0.1 + 0.05),
    }
    reps = 400
    covered = dict.fromkeys(truth, 0)
    for _ in range(reps):
        imp, clicks, orders, units = _shoppers(rng, 800)
        ests = {
            "ctr": ratio_estimate(clicks, imp),
            "post_click_cvr": ratio_estimate(orders, clicks),
            "units_per_shopper": ratio_estimate(units),
        }
        for kpi, est in ests.items():
            covered[kpi] += est.ci_low <= truth[kpi] <= est.ci_high
    rates = {k: v / reps for k, v in covered.items()}
    assert all(0.90 <= r <= 0.98 for r in rates.values()), rates


def test_kpi_pipeline_covers_the_truth(synth, synth_truth):
    """The same through compute_kpis on shopper-day rows (shopper = unit across days)."""
    rng = np.random.default_rng(5)
    hits = 0
    for r in range(40):
        summary = synth(600, ["a"], 3, rng, salt=f"cov-{r}")
        row = compute_kpis(summary, per_day=False, kpis=["ctr"]).iloc[0]
        hits += row.ci_low <= synth_truth["ctr"] <= row.ci_high
    assert hits >= 34  # 40 draws at 95 %: P(hits < 34) < 0.5 %


def test_aa_false_positive_rate(synth):
    """50 A/A runs of smoke size (3 groups, 3000 shoppers, 7 days): the per-KPI omnibus
    test rejects at most 10 % of the time (nominal 5 %)."""
    rng = np.random.default_rng(11)
    rejections = []
    for r in range(50):
        summary = synth(3000, ["g0", "g1", "g2"], 7, rng, salt=f"aa-{r}")
        table = omnibus_table(compute_kpis(summary, per_day=False))
        rejections.append(table.set_index("kpi")["significant"])
    frame = pd.DataFrame(rejections)
    per_kpi = frame.mean(axis=0)
    assert frame.to_numpy().mean() <= 0.10
    assert (per_kpi <= 0.10).all(), per_kpi.to_dict()


def test_planted_effect_is_detected(synth):
    summary = synth(
        20_000, ["control", "treat"], 7, np.random.default_rng(5), ctr_effect={"treat": 1.15}
    )
    kpis = compute_kpis(summary, per_day=False)
    up = uplift_table(kpis, "control").set_index("kpi")
    assert up.loc["ctr", "significant"]
    assert up.loc["ctr", "rel_ci_low"] < 0.15 < up.loc["ctr", "rel_ci_high"]


def test_planted_52_48_split_is_flagged():
    counts = np.array([10_400, 9_600])  # 52/48 of 20,000 shoppers
    check = sample_ratio_mismatch(counts, [0.5, 0.5])
    assert check.flagged and check.p_value < 1e-6
    # the hash split itself passes
    hashed = np.bincount(assign_groups(np.arange(20_000), 2, "srm"), minlength=2)
    assert not sample_ratio_mismatch(hashed).flagged
    # unequal planned shares are respected
    assert not sample_ratio_mismatch(np.array([5200, 4800]), [0.52, 0.48]).flagged


def test_srm_validation():
    with pytest.raises(ValueError, match="two groups"):
        sample_ratio_mismatch(np.array([10]))
    with pytest.raises(ValueError, match="at least one shopper"):
        sample_ratio_mismatch(np.array([0, 0]))
    with pytest.raises(ValueError, match="one positive"):
        sample_ratio_mismatch(np.array([1, 2]), [1.0])


def test_compare_to_control_formulas():
    t = RatioEstimate(0.055, 0.002, 0.0, 0.0, 1000)
    c = RatioEstimate(0.050, 0.0015, 0.0, 0.0, 1000)
    cmp = compare_to_control(t, c)
    se = np.hypot(0.002, 0.0015)
    assert cmp.diff == pytest.approx(0.005)
    assert cmp.z == pytest.approx(0.005 / se)
    assert cmp.rel_uplift == pytest.approx(0.1)
    rel_se = np.hypot(0.002, 1.1 * 0.0015) / 0.05
    assert cmp.rel_ci_high - cmp.rel_uplift == pytest.approx(1.959963984540054 * rel_se)
    zero = compare_to_control(RatioEstimate(0.0, 0.001, 0, 0, 10), c)
    assert np.isfinite(zero.rel_ci_low)


def test_omnibus_test_ignores_unusable_groups():
    ests = [RatioEstimate(1.0, 0.1, 0, 0, 10), RatioEstimate(1.0, np.nan, 0, 0, 1)]
    stat, dof, p = omnibus_equality_test(ests)
    assert dof == 0 and np.isnan(p)
    stat, dof, p = omnibus_equality_test(
        [RatioEstimate(1.0, 0.1, 0, 0, 9), RatioEstimate(1.3, 0.1, 0, 0, 9)]
    )
    assert dof == 1 and stat == pytest.approx(4.5)


def test_holm_matches_statsmodels(rng):
    from statsmodels.stats.multitest import multipletests

    from paretoalign.online.stats import holm_adjust

    for m in (1, 2, 5, 30):
        p = rng.uniform(0, 0.2, m)
        p[rng.integers(m)] = p[0]  # a tie
        np.testing.assert_allclose(holm_adjust(p), multipletests(p, method="holm")[1])
    with_nan = holm_adjust(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="0, 1"):
        holm_adjust(np.array([1.5]))
