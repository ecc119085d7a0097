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


def test_delta_method_coverage_against_repeated_simulation(synth, synth_truth):
    """95 % delta-method intervals of CTR, post-click CVR and units/shopper cover the truth
    90-98 % of the time over 300 independent simulated experiments."""
    true_ctr, true_cvr = synth_truth["ctr"], synth_truth["post_click_cvr"]
    rng = np.random.default_rng(2024)
    reps = 300
    covered = {"ctr": 0, "post_click_cvr": 0, "units_per_shopper": 0}
    for r in range(reps):
        summary = synth(600, ["a"], 3, rng, salt=f"cov-{r}")
        kpis = compute_kpis(summary, per_day=False, kpis=list(covered))
        by = kpis.set_index("kpi")
        covered["ctr"] += by.loc["ctr", "ci_low"] <= true_ctr <= by.loc["ctr", "ci_high"]
        covered["post_click_cvr"] += (
            by.loc["post_click_cvr", "ci_low"] <= true_cvr <= by.loc["post_click_cvr", "ci_high"]
        )
    # units per shopper has no closed form here: use the mean over a huge population
    big = synth(200_000, ["a"], 3, np.random.default_rng(99), salt="truth")
    true_units = compute_kpis(big, per_day=False, kpis=["units_per_shopper"])["value"].iloc[0]
    rng = np.random.default_rng(7)
    for r in range(reps):
        summary = synth(600, ["a"], 3, rng, salt=f"cov-u-{r}")
        row = compute_kpis(summary, per_day=False, kpis=["units_per_shopper"]).iloc[0]
        covered["units_per_shopper"] += row.ci_low <= true_units <= row.ci_high
    for kpi, hits in covered.items():
        assert 0.90 <= hits / reps <= 0.98, (kpi, hits / reps)


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
