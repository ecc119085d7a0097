"""Ratio estimates with delta-method confidence intervals, group comparisons, SRM check.

Randomisation unit
------------------
Shoppers are randomised, so the independent observations are **shoppers**, not page
views, impressions or clicks. Every online KPI is a ratio of per-shopper sums,

.. math:: \\hat R = \\frac{\\sum_u X_u}{\\sum_u Y_u} = \\frac{\\bar X}{\\bar Y},

e.g. CTR with ``X_u`` = the shopper's rec clicks and ``Y_u`` = the shopper's slate
impressions. A per-shopper mean (units per shopper) is the special case ``Y_u = 1``.
Treating impressions as independent would understate the variance, because one shopper's
clicks are correlated.

Delta method (Deng, Knoblich & Lu, KDD 2018)
--------------------------------------------
With ``n`` shoppers, sample variances :math:`s_X^2, s_Y^2` and covariance :math:`s_{XY}`
(``ddof = 1``),

.. math:: \\widehat{\\mathrm{Var}}(\\hat R) = \\frac{s_X^2 - 2 \\hat R\\, s_{XY} + \\hat R^2 s_Y^2}
          {n\\, \\bar Y^2},

and the two-sided ``1 - alpha`` interval is :math:`\\hat R \\pm z_{1-\\alpha/2}\\,
\\widehat{\\mathrm{SE}}`. The first-order approximation needs ``n`` in the hundreds; the
tests check its coverage against repeated simulation.

Comparisons between independent groups
--------------------------------------
* difference :math:`\\hat R_g - \\hat R_c`, SE :math:`\\sqrt{SE_g^2 + SE_c^2}`, two-sided z-test;
* relative uplift :math:`\\hat R_g / \\hat R_c - 1`, SE by the delta method
  :math:`\\sqrt{SE_g^2 + (\\hat R_g/\\hat R_c)^2 SE_c^2}\\,/\\,|\\hat R_c|`;
* omnibus Wald test of "all ``G`` groups have the same KPI":
  :math:`W = \\sum_g (\\hat R_g - \\tilde R)^2 / SE_g^2` with the precision-weighted mean
  :math:`\\tilde R`, referred to :math:`\\chi^2_{G-1}`. This is the per-KPI test whose
  false-positive rate the A/A runs check.

Sample-ratio mismatch
---------------------
:func:`sample_ratio_mismatch`: Pearson's chi-square goodness of fit of the observed
shoppers per group against the configured traffic shares (``scipy.stats.chisquare``),
flagged when ``p < alpha`` (default ``alpha = 0.001``, the customary strict SRM threshold,
because a false SRM alarm halts an experiment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RatioEstimate:
    """A ratio KPI with its delta-method standard error and interval.

    ``n`` counts the shoppers, ``n_nonzero`` those with a positive denominator (the
    shoppers that carry information about the ratio, e.g. shoppers with a rec click for
    post-click conversion; ``n`` for a per-shopper mean).
    """

    value: float
    se: float
    ci_low: float
    ci_high: float
    n: int
    n_nonzero: int = -1


def _z(alpha: float) -> float:
    from scipy.stats import norm

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(norm.ppf(1.0 - alpha / 2.0))


def ratio_estimate(x: Any, y: Any | None = None, *, alpha: float = 0.05) -> RatioEstimate:
    """``sum(x) / sum(y)`` with a delta-method interval, shopper = unit.

    Parameters
    ----------
    x : array-like of float, shape (n,)
        Per-shopper numerator sums.
    y : array-like of float, shape (n,), optional
        Per-shopper denominator sums; ``None`` means ``y = 1`` (a per-shopper mean, whose
        delta variance reduces to :math:`s_X^2 / n`).
    alpha : float
        ``1 - alpha`` is the interval's coverage.

    Returns
    -------
    RatioEstimate
        NaN value and interval when ``sum(y) == 0`` (including ``n == 0``); NaN SE and
        interval when ``n < 2`` (no variance estimate).

    Raises
    ------
    ValueError
        On shape mismatch, non-1-D input or non-finite values.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.ones_like(xs) if y is None else np.asarray(y, dtype=np.float64)
    if xs.ndim != 1 or ys.shape != xs.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got {xs.shape} and {ys.shape}")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("x and y must be finite")
    n = len(xs)
    z = _z(alpha)
    ybar = ys.mean() if n else 0.0
    nz = int(np.count_nonzero(ys > 0))
    if n == 0 or ybar == 0:
        return RatioEstimate(np.nan, np.nan, np.nan, np.nan, n, nz)
    r = float(xs.sum() / ys.sum())
    if n < 2:
        return RatioEstimate(r, np.nan, np.nan, np.nan, n, nz)
    dx, dy = xs - xs.mean(), ys - ybar
    var_x = dx @ dx / (n - 1)
    var_y = dy @ dy / (n - 1)
    cov_xy = dx @ dy / (n - 1)
    var_r = max((var_x - 2.0 * r * cov_xy + r * r * var_y) / (n * ybar * ybar), 0.0)
    se = float(np.sqrt(var_r))
    return RatioEstimate(r, se, r - z * se, r + z * se, n, nz)


def ratio_estimates_by_group(
    groups: Any, x: Any, y: Any | None = None, *, alpha: float = 0.05
) -> dict[Any, RatioEstimate]:
    """:func:`ratio_estimate` for every distinct value of ``groups`` (rows = shoppers)."""
    g = np.asarray(groups)
    xs = np.asarray(x, dtype=np.float64)
    ys = None if y is None else np.asarray(y, dtype=np.float64)
    if g.shape != xs.shape:
        raise ValueError("groups and x must have the same shape")
    out = {}
    for value in np.unique(g):
        rows = g == value
        out[value.item() if hasattr(value, "item") else value] = ratio_estimate(
            xs[rows], None if ys is None else ys[rows], alpha=alpha
        )
    return out


@dataclass(frozen=True)
class Comparison:
    """A treatment group against the control for one KPI."""

    diff: float
    diff_ci_low: float
    diff_ci_high: float
    rel_uplift: float
    rel_ci_low: float
    rel_ci_high: float
    z: float
    p_value: float


def compare_to_control(
    treatment: RatioEstimate, control: RatioEstimate, *, alpha: float = 0.05
) -> Comparison:
    """Difference and relative uplift of two independent groups (formulas: module doc).

    NaN everywhere a standard error is missing; the relative uplift is NaN when the
    control's value is 0.
    """
    from scipy.stats import norm

    z_crit = _z(alpha)
    diff = treatment.value - control.value
    se = float(np.hypot(treatment.se, control.se))
    if np.isfinite(se) and se > 0:
        z = diff / se
        p = float(2.0 * norm.sf(abs(z)))
    elif np.isfinite(se) and np.isfinite(diff):  # both SEs zero: exact values
        z = 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
        p = 1.0 if diff == 0 else 0.0
    else:
        z, p = np.nan, np.nan
    if control.value != 0 and np.isfinite(control.value):
        ratio = treatment.value / control.value
        rel = ratio - 1.0
        rel_se = float(np.hypot(treatment.se, ratio * control.se) / abs(control.value))
    else:
        rel, rel_se = np.nan, np.nan
    return Comparison(
        diff=float(diff),
        diff_ci_low=float(diff - z_crit * se),
        diff_ci_high=float(diff + z_crit * se),
        rel_uplift=float(rel),
        rel_ci_low=float(rel - z_crit * rel_se),
        rel_ci_high=float(rel + z_crit * rel_se),
        z=float(z),
        p_value=float(p),
    )


def omnibus_equality_test(estimates: Sequence[RatioEstimate]) -> tuple[float, int, float]:
    """Wald chi-square test that all groups share one KPI value.

    Parameters
    ----------
    estimates : sequence of RatioEstimate
        One per group; groups with a missing or zero SE are left out.

    Returns
    -------
    (statistic, dof, p_value)
        ``dof = G' - 1`` over the ``G'`` usable groups; ``(nan, 0, nan)`` if ``G' < 2``.
    """
    from scipy.stats import chi2

    usable = [e for e in estimates if np.isfinite(e.value) and np.isfinite(e.se) and e.se > 0]
    if len(usable) < 2:
        return float("nan"), 0, float("nan")
    v = np.array([e.value for e in usable])
    w = 1.0 / np.array([e.se for e in usable]) ** 2
    pooled = (w * v).sum() / w.sum()
    stat = float((w * (v - pooled) ** 2).sum())
    dof = len(usable) - 1
    return stat, dof, float(chi2.sf(stat, dof))


def holm_adjust(p_values: Any) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (family-wise error control).

    With the ``m`` p-values sorted ascending, :math:`p_{(1)} \le \dots \le p_{(m)}`,
    :math:`\tilde p_{(i)} = \min\big(1, \max_{j \le i} (m - j + 1)\, p_{(j)}\big)`,
    returned in the input order. NaN entries are left out of the family and stay NaN.
    (Equal to ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``, which
    runs a full garbage collection per call — seconds in a process holding a model.)
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("p_values must be 1-D")
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    if np.any((p[ok] < 0) | (p[ok] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


@dataclass(frozen=True)
class SampleRatioCheck:
    """Result of the sample-ratio-mismatch test."""

    observed: tuple[int, ...]
    expected: tuple[float, ...]
    statistic: float
    p_value: float
    alpha: float
    flagged: bool


def sample_ratio_mismatch(
    counts: Any, weights: Sequence[float] | None = None, *, alpha: float = 0.001
) -> SampleRatioCheck:
    """Chi-square goodness of fit of shoppers per group against the planned shares.

    Parameters
    ----------
    counts : array-like of int, shape (G,)
        Shoppers observed in each group (G >= 2).
    weights : sequence of G positive floats, optional
        Planned traffic shares (normalised); equal shares by default.
    alpha : float
        Flag when ``p < alpha``.

    Returns
    -------
    SampleRatioCheck

    Raises
    ------
    ValueError
        For fewer than 2 groups, negative counts, no shoppers or bad weights.
    """
    from scipy.stats import chisquare

    obs = np.asarray(counts)
    if obs.ndim != 1 or len(obs) < 2:
        raise ValueError("the SRM check needs counts for at least two groups")
    if not np.issubdtype(obs.dtype, np.integer) or np.any(obs < 0):
        raise ValueError("counts must be non-negative integers")
    total = int(obs.sum())
    if total == 0:
        raise ValueError("the SRM check needs at least one shopper")
    if weights is None:
        w = np.full(len(obs), 1.0 / len(obs))
    else:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != obs.shape or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise ValueError("weights must be one positive number per group")
        w = w / w.sum()
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    expected = w * total
    stat, p = chisquare(obs.astype(np.float64), expected)
    return SampleRatioCheck(
        observed=tuple(int(c) for c in obs),
        expected=tuple(float(e) for e in expected),
        statistic=float(stat),
        p_value=float(p),
        alpha=float(alpha),
        flagged=bool(p < alpha),
    )
