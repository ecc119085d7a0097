"""Collinearity report, rm_corr and the mixed model on planted tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pingouin
import pytest
from statsmodels.stats.outliers_influence import variance_inflation_factor

from paretoalign.align.collinearity import (
    effective_dimension,
    metric_correlations,
    variance_inflation,
)
from paretoalign.align.repeated import mixed_slope, rm_corr


def test_vif_of_near_collinear_pair_is_huge_and_matches_statsmodels(rng):
    g = 12
    a = rng.normal(size=g)
    frame = pd.DataFrame({"a": a, "a_copy": a + 1e-3 * rng.normal(size=g), "b": rng.normal(size=g)})
    vif = variance_inflation(frame)
    assert vif.loc["a", "vif"] > 1e4 and vif.loc["a_copy", "vif"] > 1e4
    assert vif.loc["b", "vif"] < 5
    design = np.column_stack([np.ones(g), frame.to_numpy()])
    for i, name in enumerate(frame.columns, start=1):
        ref = variance_inflation_factor(design, i)
        assert vif.loc[name, "vif"] == pytest.approx(ref, rel=1e-6)


def test_vif_exact_duplicate_and_too_few_groups_are_infinite(rng):
    a = rng.normal(size=8)
    frame = pd.DataFrame({"a": a, "twice": 2 * a + 1, "b": rng.normal(size=8)})
    vif = variance_inflation(frame)
    assert np.isinf(vif.loc["a", "vif"]) and np.isinf(vif.loc["twice", "vif"])
    assert vif.loc["b", "vif"] == pytest.approx(1 / (1 - np.corrcoef(a, frame["b"])[0, 1] ** 2))
    # 5 metrics over 4 groups: every metric lies in the span of the others.
    wide = pd.DataFrame(rng.normal(size=(4, 5)), columns=list("vwxyz"))
    assert np.isinf(variance_inflation(wide)["vif"]).all()


def test_vif_orthogonal_metrics_is_one_and_constant_is_flagged():
    frame = pd.DataFrame(
        {"u": [1.0, -1.0, 1.0, -1.0], "v": [1.0, 1.0, -1.0, -1.0], "c": [3.0, 3.0, 3.0, 3.0]}
    )
    vif = variance_inflation(frame)
    assert vif.loc["u", "vif"] == pytest.approx(1.0)
    assert vif.loc["v", "vif"] == pytest.approx(1.0)
    assert bool(vif.loc["c", "constant"]) and math.isnan(vif.loc["c", "vif"])


def test_metric_correlations_and_effective_dimension(rng):
    w = np.linspace(0, 1, 7)
    one_d = pd.DataFrame({"recall": 0.3 + 0.1 * w, "od": 0.2 - 0.05 * w**2, "mrr": np.sqrt(w)})
    corr = metric_correlations(one_d, "spearman")
    assert corr.loc["recall", "od"] == pytest.approx(-1.0)
    assert corr.loc["recall", "mrr"] == pytest.approx(1.0)
    # A linear one-parameter family (plus tiny noise) has effective dimension 1.
    linear = pd.DataFrame({"a": w, "b": 2 - 0.5 * w + 1e-4 * rng.normal(size=7), "c": 3 * w})
    assert effective_dimension(linear, 0.99) == 1
    two_d = pd.DataFrame(rng.normal(size=(9, 2)), columns=["p", "q"])
    assert effective_dimension(two_d, 0.999) == 2
    np.testing.assert_allclose(metric_correlations(two_d).to_numpy(), two_d.corr().to_numpy())
    with pytest.raises(ValueError):
        metric_correlations(pd.DataFrame({"x": [1.0, np.nan, 2.0]}))
    with pytest.raises(TypeError):
        variance_inflation(np.ones((3, 3)))


def _daily(rng, slope, groups=6, days=10, day_sd=0.5, group_sd=0.1, noise_sd=0.2):
    x = np.linspace(0, 1, groups)
    shocks = rng.normal(0, day_sd, days)
    misfit = rng.normal(0, group_sd, groups)
    rows = [
        (f"g{g}", d, x[g], slope * x[g] + shocks[d] + misfit[g] + rng.normal(0, noise_sd))
        for g in range(groups)
        for d in range(days)
    ]
    return pd.DataFrame(rows, columns=["group", "day", "x", "y"])


def test_rm_corr_matches_pingouin_and_removes_day_shocks(rng):
    frame = _daily(rng, slope=1.0, day_sd=2.0)
    res = rm_corr(frame, "x", "y")
    ref = pingouin.rm_corr(frame, "x", "y", "day")
    assert res.r == pytest.approx(float(ref["r"].iloc[0]))
    assert res.dof == 10 * (6 - 1) - 1
    assert res.p < 1e-6
    # Day shocks dominate the pooled correlation but not the within-day one.
    assert abs(np.corrcoef(frame["x"], frame["y"])[0, 1]) < res.r
    assert res.ci_low < res.r < res.ci_high


def test_rm_corr_undefined_cases(rng):
    frame = _daily(rng, slope=1.0, days=2)
    assert math.isnan(rm_corr(frame, "x", "y").r)
    frame = _daily(rng, slope=1.0)
    frame["y"] = 1.0
    res = rm_corr(frame, "x", "y")
    assert math.isnan(res.r) and res.p == 1.0
    with pytest.raises(ValueError, match="column"):
        rm_corr(frame, "x", "nope")


def test_mixed_slope_equals_group_mean_ols_on_a_balanced_table(rng):
    frame = _daily(rng, slope=3.0, group_sd=0.3)
    res = mixed_slope(frame, "x", "y")
    xz = (frame["x"] - frame["x"].mean()) / frame["x"].std()
    yz = (frame["y"] - frame["y"].mean()) / frame["y"].std()
    means = pd.DataFrame({"g": frame["group"], "x": xz, "y": yz}).groupby("g").mean()
    ols = np.polyfit(means["x"], means["y"], 1)[0]
    assert res.slope == pytest.approx(ols, rel=1e-4)
    assert res.converged
    assert res.ci_low < res.slope < res.ci_high
    assert res.p < 0.01


def test_mixed_slope_null_fits_without_leaking_warnings():
    # pytest runs with filterwarnings=error: boundary fits must be recorded, not raised.
    slopes, notes = [], []
    for seed in range(6):
        frame = _daily(np.random.default_rng(seed), slope=0.0, group_sd=0.0, day_sd=0.0)
        res = mixed_slope(frame, "x", "y")
        slopes.append(res.slope)
        notes.append(res.notes)
        assert 0.0 <= res.p <= 1.0
    assert all(np.isfinite(slopes))
    assert any("boundary" in n for n in notes)


def test_mixed_slope_undefined_inputs(rng):
    frame = _daily(rng, slope=1.0)
    frame["x"] = 2.0
    res = mixed_slope(frame, "x", "y")
    assert math.isnan(res.slope) and res.p == 1.0 and "constant" in res.notes
    small = _daily(rng, slope=1.0, groups=2)
    assert "too-small" in mixed_slope(small, "x", "y").notes
