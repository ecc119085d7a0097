"""Day-level analyses: repeated-measures correlation and a crossed mixed model.

The KPI table has one value per (group, day). Each group's offline metric is the *same*
number on every day, so the D daily points of a group are not D independent pieces of
evidence about the metric: any misfit of that group's model counts D times
(pseudo-replication). Two day-level analyses are therefore reported next to the
correlation over the G group means, each with what it can and cannot say:

- :func:`rm_corr` — ``pingouin.rm_corr`` with *subject = day*: the common within-day slope
  after removing each day's level (weekday, traffic-mix shocks that hit every group on the
  same day). Its ``dof = D (G - 1) - 1`` counts days as replication, so it is labelled
  **within-experiment consistency** (is the ordering of groups stable from day to day?),
  not evidence that the metric predicts the KPI for other models.
- :func:`mixed_slope` — a linear mixed model with crossed random intercepts for day and
  group, ``kpi ~ offline + (1 | day) + (1 | group)``. The group intercept absorbs each
  model's misfit, so the slope's standard error is driven by the between-group residual
  variance (for a balanced table the slope equals OLS on the G group means). Its p-value
  uses a t reference with G − 2 degrees of freedom (the slope is identified by G group
  means), not the large-sample z of ``statsmodels``, which would be anti-conservative.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as t_dist

from paretoalign.align.correlation import fisher_ci

#: Optimizers tried in order for the mixed model. Powell is derivative-free and copes with
#: variance components at the boundary (0), which is common here: with few groups and
#: days one component is often estimated as zero.
MIXED_OPTIMIZERS: tuple[str, ...] = ("powell", "lbfgs")


@dataclass(frozen=True)
class RmCorrResult:
    """Repeated-measures correlation (subject = day), "within-experiment consistency".

    ``r`` in [-1, 1] (NaN if undefined), ``dof = n_obs - n_days - 1``, two-sided ``p``,
    Fisher-z ``ci_low``/``ci_high`` with ``n = dof + 2`` (as pingouin computes it).
    """

    r: float
    dof: int
    p: float
    ci_low: float
    ci_high: float


def rm_corr(daily: pd.DataFrame, x: str, y: str, subject: str = "day") -> RmCorrResult:
    """Repeated-measures correlation of ``x`` and ``y`` with ``subject`` as the repeated unit.

    Parameters
    ----------
    daily : DataFrame
        One row per (group, day) with numeric columns ``x`` (offline metric, constant within a
        group) and ``y`` (the KPI of that group on that day), and the ``subject`` column.
    x, y, subject : str
        Column names.

    Returns
    -------
    RmCorrResult
        NaN statistics (p = 1) when fewer than 3 days, or when ``x`` or ``y`` does not vary
        within days (then the within-day slope is undefined).
    """
    for col in (x, y, subject):
        if col not in daily.columns:
            raise ValueError(f"column {col!r} not in the daily table (has {list(daily.columns)})")
    data = daily[[x, y, subject]].dropna()
    n_days = data[subject].nunique()
    undefined = RmCorrResult(math.nan, 0, 1.0, math.nan, math.nan)
    if n_days < 3:
        return undefined
    within_x = data[x] - data.groupby(subject)[x].transform("mean")
    within_y = data[y] - data.groupby(subject)[y].transform("mean")
    scale_x = max(float(np.abs(data[x]).max()), 1.0)
    scale_y = max(float(np.abs(data[y]).max()), 1.0)
    if float(np.abs(within_x).max()) <= 1e-12 * scale_x:
        return undefined
    if float(np.abs(within_y).max()) <= 1e-12 * scale_y:
        return undefined
    import pingouin

    with warnings.catch_warnings():
        # pingouin 0.7 calls DataFrame.rename(inplace=True), deprecated in pandas 3.1
        # (Pandas4Warning, a DeprecationWarning): third-party noise, not a statistical issue.
        warnings.simplefilter("ignore", DeprecationWarning)
        out = pingouin.rm_corr(data=data, x=x, y=y, subject=subject)
    r = float(out["r"].iloc[0])
    dof = int(out["dof"].iloc[0])
    p = float(out["pval"].iloc[0])
    low, high = fisher_ci(np.array(r), dof + 2)
    return RmCorrResult(r=r, dof=dof, p=p, ci_low=float(low), ci_high=float(high))


@dataclass(frozen=True)
class MixedResult:
    """Standardised slope of a KPI on an offline metric from the crossed mixed model.

    Attributes
    ----------
    slope, se : float
        Fixed-effect slope of the z-scored KPI on the z-scored metric, and its standard error.
    p : float
        Two-sided p-value, t reference with G - 2 degrees of freedom.
    ci_low, ci_high : float
        95 % interval ``slope ± t_{0.975, G-2} · se``.
    var_day, var_group : float
        Estimated variance components (of the z-scored KPI).
    converged : bool
        The optimizer reported convergence.
    notes : str
        ``;``-joined warnings raised during the fit (boundary estimates, a Hessian that is
        not positive definite, optimizer retries), "" if none. A boundary note is expected
        when a variance component is zero; it is recorded, not hidden.
    """

    slope: float
    se: float
    p: float
    ci_low: float
    ci_high: float
    var_day: float
    var_group: float
    converged: bool
    notes: str


def _classify(messages: list[str]) -> str:
    tags = []
    for msg in messages:
        low = msg.lower()
        if "singular" in low:
            tag = "singular-re-cov"
        elif "boundary" in low:
            tag = "boundary"
        elif "hessian" in low:
            tag = "hessian-not-pd"
        elif low.startswith("linalg-error"):
            tag = "linalg-error"
        elif "retrying" in low or "trying a different optimizer" in low:
            tag = "optimizer-retry"
        elif "failed to converge" in low or "optimization failed" in low:
            tag = "not-converged"
        else:
            tag = msg.strip().splitlines()[0][:60]
        if tag not in tags:
            tags.append(tag)
    return ";".join(tags)


def mixed_slope(
    daily: pd.DataFrame, x: str, y: str, group: str = "group", day: str = "day"
) -> MixedResult:
    """Fit ``z(y) ~ z(x) + (1 | day) + (1 | group)`` by REML and return the slope.

    Parameters
    ----------
    daily : DataFrame
        One row per (group, day): numeric ``x`` (constant within a group), numeric ``y``,
        and the ``group`` and ``day`` labels.
    x, y, group, day : str
        Column names.

    Returns
    -------
    MixedResult
        All-NaN (p = 1, converged False, a note) when ``x`` or ``y`` is constant, or with
        fewer than 3 groups or 2 days.

    Notes
    -----
    Crossed random effects are fitted the standard ``statsmodels`` way: one all-covering
    cluster and two variance components, ``vc_formula={"day": "0 + C(day)", "group":
    "0 + C(group)"}``. Warnings raised inside the fit are captured (never escalated, never
    silently dropped) and summarised in ``notes``; the optimizers of
    :data:`MIXED_OPTIMIZERS` are tried in order until one converges.
    """
    import statsmodels.formula.api as smf

    for col in (x, y, group, day):
        if col not in daily.columns:
            raise ValueError(f"column {col!r} not in the daily table (has {list(daily.columns)})")
    data = daily[[x, y, group, day]].dropna()
    n_groups = data[group].nunique()
    n_days = data[day].nunique()

    def undefined(note: str) -> MixedResult:
        nan = math.nan
        return MixedResult(nan, nan, 1.0, nan, nan, nan, nan, False, note)

    if n_groups < 3 or n_days < 2:
        return undefined(f"too-small ({n_groups} groups, {n_days} days)")
    sx = float(data[x].std())
    sy = float(data[y].std())
    if not sx > 1e-12 * max(float(np.abs(data[x]).max()), 1.0):
        return undefined("constant-offline-metric")
    if not sy > 1e-12 * max(float(np.abs(data[y]).max()), 1.0):
        return undefined("constant-kpi")
    frame = pd.DataFrame(
        {
            "yz": (data[y].to_numpy(float) - float(data[y].mean())) / sy,
            "xz": (data[x].to_numpy(float) - float(data[x].mean())) / sx,
            "day": data[day].astype(str).to_numpy(),
            "grp": data[group].astype(str).to_numpy(),
            "all": np.zeros(len(data), dtype=np.int64),
        }
    )
    model = smf.mixedlm(
        "yz ~ xz",
        frame,
        groups="all",
        re_formula="0",
        vc_formula={"day": "0 + C(day)", "grp": "0 + C(grp)"},
    )
    fit = None
    messages: list[str] = []
    for method in MIXED_OPTIMIZERS:
        with warnings.catch_warnings(record=True) as caught:
            # Record every warning of the fit (ConvergenceWarning, SingularMatrixWarning,
            # RuntimeWarning ...) instead of letting pytest's filterwarnings=error abort
            # the table: they are summarised in ``notes``.
            warnings.simplefilter("always")
            try:
                candidate = model.fit(reml=True, method=[method])
            except np.linalg.LinAlgError as exc:
                # Both variance components at zero can make the Hessian singular.
                candidate = None
                messages.append(f"linalg-error ({method}): {exc}")
        messages.extend(str(w.message) for w in caught)
        if candidate is None:
            continue
        fit = candidate
        if candidate.converged:
            break
    if fit is None:
        return _group_means_fallback(frame, n_groups, _classify(messages))
    slope = float(fit.params["xz"])
    se = float(fit.bse["xz"])
    dof = n_groups - 2
    if dof >= 1 and np.isfinite(se) and se > 0:
        p = float(2.0 * t_dist.sf(abs(slope) / se, dof))
        half = float(t_dist.ppf(0.975, dof)) * se
    else:
        p, half = 1.0, math.nan
    vcomp = dict(zip(model.exog_vc.names, np.atleast_1d(fit.vcomp), strict=True))
    return MixedResult(
        slope=slope,
        se=se,
        p=p,
        ci_low=slope - half,
        ci_high=slope + half,
        var_day=float(vcomp.get("day", math.nan)),
        var_group=float(vcomp.get("grp", math.nan)),
        converged=bool(fit.converged),
        notes=_classify(messages),
    )


def _group_means_fallback(frame: pd.DataFrame, n_groups: int, notes: str) -> MixedResult:
    """OLS of the group-mean z(KPI) on z(metric) when every mixed-model fit failed.

    For a balanced (group x day) table the mixed model's slope equals this OLS slope, and
    its standard error is the OLS one when the group component dominates; the result is
    marked ``converged=False`` and ``notes`` ends with ``fallback-group-means-ols``.
    """
    means = frame.groupby("grp")[["xz", "yz"]].mean()
    xm = means["xz"].to_numpy() - means["xz"].mean()
    ym = means["yz"].to_numpy() - means["yz"].mean()
    sxx = float(xm @ xm)
    dof = n_groups - 2
    slope = float(xm @ ym) / sxx
    resid = ym - slope * xm
    se = math.sqrt(float(resid @ resid) / dof / sxx) if dof >= 1 else math.nan
    if dof >= 1 and se > 0:
        p = float(2.0 * t_dist.sf(abs(slope) / se, dof))
        half = float(t_dist.ppf(0.975, dof)) * se
    else:
        p, half = (0.0 if dof >= 1 else 1.0), (0.0 if dof >= 1 else math.nan)
    note = f"{notes};fallback-group-means-ols" if notes else "fallback-group-means-ols"
    nan = math.nan
    return MixedResult(slope, se, p, slope - half, slope + half, nan, nan, False, note)
