"""How much the offline metrics move together across the test groups.

Along a Pareto front most offline metrics are near-monotone in the preference weight, so
over G groups they are strongly correlated with each other. Then a KPI that moves with one
of them moves with all of them, and the experiment cannot say *which* metric predicts it.
This module measures that: the metric-by-metric correlation matrix across groups and the
variance inflation factor (VIF) of every metric.

.. math::

    \\mathrm{VIF}_j = \\frac{1}{1 - R_j^2},

where :math:`R_j^2` is the coefficient of determination of the least-squares regression
(with intercept) of metric :math:`j` on all the other metrics over the G groups. When the
other metrics (plus the intercept) span G or more directions, or metric :math:`j` lies
exactly in their span, :math:`R_j^2 = 1` and the VIF is infinite: with G groups at most
G − 1 metrics can be told apart at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: 1 - R^2 below this counts as exact collinearity (VIF = inf).
_EXACT_TOL = 1e-10


def _validate(frame: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"expected a DataFrame (groups x metrics), got {type(frame).__name__}")
    if frame.shape[0] < 2:
        raise ValueError(f"need at least 2 groups (rows), got {frame.shape[0]}")
    if frame.shape[1] < 1:
        raise ValueError("need at least one metric (column)")
    values = frame.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        bad = [c for c in frame.columns if not np.all(np.isfinite(frame[c].to_numpy(float)))]
        raise ValueError(f"metric columns with NaN/inf values: {bad}")
    return frame.astype(np.float64)


def metric_correlations(offline: pd.DataFrame, method: str = "pearson") -> pd.DataFrame:
    """Correlation matrix of the offline metrics across groups.

    Parameters
    ----------
    offline : DataFrame, shape (G, M)
        One row per group, one column per offline metric.
    method : {"pearson", "spearman"}

    Returns
    -------
    DataFrame, shape (M, M)
        Symmetric, unit diagonal; NaN rows/columns for metrics that are constant across
        groups.
    """
    frame = _validate(offline)
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    values = frame.to_numpy()
    if method == "spearman":
        values = frame.rank(method="average").to_numpy()
    centred = values - values.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    constant = norm <= 1e-12 * np.maximum(np.abs(values).max(axis=0), 1.0)
    unit = np.where(constant, np.nan, centred / np.where(constant, 1.0, norm))
    corr = np.clip(unit.T @ unit, -1.0, 1.0)
    np.fill_diagonal(corr, np.where(constant, np.nan, 1.0))
    return pd.DataFrame(corr, index=frame.columns, columns=frame.columns)


def variance_inflation(offline: pd.DataFrame) -> pd.DataFrame:
    """Variance inflation factor of each offline metric across the groups.

    Parameters
    ----------
    offline : DataFrame, shape (G, M)
        One row per group, one column per offline metric.

    Returns
    -------
    DataFrame indexed by metric with columns

    - ``r2``: :math:`R_j^2` of metric j on the other metrics (with intercept);
    - ``vif``: :math:`1/(1 - R_j^2)`; ``inf`` for exact collinearity, which is certain when
      the other M − 1 metrics plus the intercept reach G parameters (M >= G);
    - ``constant``: the metric does not vary across groups (VIF undefined, NaN).

    Notes
    -----
    Metrics are standardised first, so the VIF does not depend on units. Agrees with
    ``statsmodels.stats.outliers_influence.variance_inflation_factor`` on a design matrix
    with a constant column, wherever that is finite.
    """
    frame = _validate(offline)
    values = frame.to_numpy()
    n_groups, n_metrics = values.shape
    std = values.std(axis=0)
    constant = std <= 1e-12 * np.maximum(np.abs(values).max(axis=0), 1.0)
    z = np.where(constant, 0.0, (values - values.mean(axis=0)) / np.where(constant, 1.0, std))
    r2 = np.full(n_metrics, np.nan)
    vif = np.full(n_metrics, np.nan)
    varying = np.flatnonzero(~constant)
    for j in varying:
        others = [i for i in varying if i != j]
        if not others:
            r2[j], vif[j] = 0.0, 1.0
            continue
        design = np.column_stack([np.ones(n_groups), z[:, others]])
        coef, *_ = np.linalg.lstsq(design, z[:, j], rcond=None)
        resid = z[:, j] - design @ coef
        one_minus = float(resid @ resid) / float(z[:, j] @ z[:, j])
        if one_minus <= _EXACT_TOL:
            r2[j], vif[j] = 1.0, np.inf
        else:
            r2[j], vif[j] = 1.0 - one_minus, 1.0 / one_minus
    return pd.DataFrame({"r2": r2, "vif": vif, "constant": constant}, index=frame.columns)


def effective_dimension(offline: pd.DataFrame, share: float = 0.95) -> int:
    """Number of principal components of the standardised metrics explaining ``share`` of variance.

    A one-dimensional front (two objectives) gives 1: every metric is the same signal.
    Constant metrics are dropped; returns 0 when nothing varies.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    frame = _validate(offline)
    values = frame.to_numpy()
    std = values.std(axis=0)
    keep = std > 1e-12 * np.maximum(np.abs(values).max(axis=0), 1.0)
    if not keep.any():
        return 0
    z = (values[:, keep] - values[:, keep].mean(axis=0)) / std[keep]
    sing = np.linalg.svd(z, compute_uv=False)
    explained = np.cumsum(sing**2) / np.sum(sing**2)
    return int(np.searchsorted(explained, share - 1e-12) + 1)
