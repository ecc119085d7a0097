"""The alignment table: which offline metric moves with which online KPI across test groups.

Inputs are two tables from the online experiment:

- ``offline``: one row per test group, one column per offline metric (the metric values of
  the arm served to that group, measured on the offline test log);
- ``kpis``: tidy ``group, day, kpi, value, ci_low, ci_high, n``, where ``day = -1`` is the
  whole experiment and ``day >= 0`` are the daily values.

For every (metric m, KPI k) the table reports, over the G group means:

- Pearson and Spearman correlation with Fisher-z 95 % intervals and the parametric p-value
  (``pingouin.corr``);
- exact permutation p-values of both (all G! orderings for G <= 8, else Monte Carlo with a
  seeded generator; :mod:`paretoalign.align.correlation`);
- the repeated-measures correlation over days (``rm_*``, *within-experiment consistency*)
  and the crossed mixed-model slope (``mixed_*``) of :mod:`paretoalign.align.repeated`;
- Holm and Benjamini–Hochberg adjusted p-values of every p-value column across the *whole*
  table (family = all M x K pairs);
- the **decision**: ``aligned`` is True when the primary p-value (permutation test of the
  primary statistic) survives the configured correction at level ``alpha`` and
  ``|r| >= min_abs_r``; ``sign`` is the sign of the primary correlation there (0 otherwise).

:func:`discover` is the same decision, vectorised and without the slow secondary analyses;
the strategy check (:mod:`paretoalign.validate.check`) calls it thousands of times.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from paretoalign.align.collinearity import variance_inflation
from paretoalign.align.correlation import (
    DEFAULT_RESAMPLES,
    MAX_EXACT_GROUPS,
    fisher_ci,
    permutation_test,
)
from paretoalign.align.repeated import mixed_slope, rm_corr

CORRECTIONS = ("fdr_bh", "holm")

#: The p-value columns that get Holm and BH companions (``<col>_holm``, ``<col>_bh``).
P_COLUMNS = (
    "p_primary",
    "pearson_p",
    "spearman_p",
    "perm_p_pearson",
    "perm_p_spearman",
    "rm_p",
    "mixed_p",
)


class AlignConfig(BaseModel):
    """The ``[align]`` table of a profile: how the alignment table is computed and decided."""

    model_config = ConfigDict(extra="forbid")

    metrics: list[str] | None = None
    """Offline metric columns to analyse; None = every numeric column whose name has '@'."""
    kpis: list[str] | None = None
    """KPIs to analyse; None = every KPI in kpis.parquet."""
    statistic: Literal["pearson", "spearman"] = "pearson"
    """Primary statistic of the decision (its permutation p-value is ``p_primary``)."""
    correction: Literal["fdr_bh", "holm"] = "fdr_bh"
    """Multiplicity correction of the decision across the whole table."""
    alpha: float = Field(0.05, gt=0, lt=1)
    """Level of the decision (FDR level for fdr_bh, FWER level for holm)."""
    min_abs_r: float = Field(0.0, ge=0, le=1)
    """Also require |r| >= this for a discovery (0 = significance alone decides)."""
    max_exact_groups: int = Field(MAX_EXACT_GROUPS, ge=3, le=MAX_EXACT_GROUPS)
    """Enumerate all G! orderings up to this many groups, else Monte Carlo."""
    n_resamples: int = Field(DEFAULT_RESAMPLES, ge=100)
    """Monte-Carlo orderings when G > max_exact_groups."""
    seed: int = 0
    """Seed of the Monte-Carlo orderings."""
    day_level: bool = True
    """Compute rm_corr and the mixed model (needs daily KPI rows)."""
    arms: list[Literal["model", "baseline", "control"]] = ["model", "baseline", "control"]
    """Arm kinds whose groups enter the correlation."""


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Holm (``"holm"``) or Benjamini–Hochberg (``"fdr_bh"``) adjusted p-values.

    With the m finite p-values sorted, :math:`p_{(1)} \\le \\dots \\le p_{(m)}`:

    - Holm: :math:`\\tilde p_{(i)} = \\max_{j \\le i} \\min(1, (m - j + 1)\\, p_{(j)})`
      (controls the family-wise error rate);
    - BH: :math:`\\tilde p_{(i)} = \\min_{j \\ge i} \\min(1, m\\, p_{(j)} / j)`
      (controls the false discovery rate; under the complete null, e.g. an A/A test, FDR
      equals FWER, so BH also controls the A/A family-wise error rate).

    Identical to ``statsmodels.stats.multitest.multipletests(p, method=...)[1]`` (checked in
    the tests) but vectorised and without that function's ``gc.collect()`` call per Holm
    invocation, which costs ~0.2 s in a large process and dominates the strategy check.

    Parameters
    ----------
    p : ndarray(float)
        p-values in [0, 1], any shape; the family is all entries. NaN entries are not part
        of the family and stay NaN.
    method : {"holm", "fdr_bh"}
    """
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    arr = np.asarray(p, dtype=np.float64)
    out = np.full(arr.shape, np.nan)
    finite = np.isfinite(arr)
    if not finite.any():
        return out
    values = arr[finite]
    if np.any((values < 0) | (values > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    out[finite] = adjust_rows(values[None, :], method)[0]
    return out


def adjust_rows(p: np.ndarray, method: str) -> np.ndarray:
    """:func:`adjust` applied to each row of a ``(R, m)`` array of finite p-values (R families)."""
    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D (families, tests) array, got shape {arr.shape}")
    m = arr.shape[1]
    if m == 0:
        return arr.copy()
    order = np.argsort(arr, axis=1, kind="stable")
    ranked = np.take_along_axis(arr, order, axis=1)
    i = np.arange(1, m + 1, dtype=np.float64)
    if method == "holm":
        adj = np.maximum.accumulate(np.minimum(1.0, (m - i + 1.0) * ranked), axis=1)
    else:
        adj = np.minimum.accumulate(np.minimum(1.0, ranked * m / i)[:, ::-1], axis=1)[:, ::-1]
    out = np.empty_like(adj)
    np.put_along_axis(out, order, adj, axis=1)
    return out


@dataclass(frozen=True)
class Discovery:
    """The decision over a whole (M metrics x K KPIs) table.

    Attributes
    ----------
    r : ndarray(float64, shape=(M, K))
        Primary correlation over the groups (NaN where undefined).
    p : ndarray(float64, shape=(M, K))
        Permutation p-value of ``r``.
    p_adj : ndarray(float64, shape=(M, K))
        ``p`` adjusted across the whole table by the configured correction.
    sign : ndarray(int8, shape=(M, K))
        +1 / -1 for a discovered alignment (the sign of ``r``), 0 otherwise.
    """

    r: np.ndarray
    p: np.ndarray
    p_adj: np.ndarray
    sign: np.ndarray

    @property
    def aligned(self) -> np.ndarray:
        """Boolean ``(M, K)``: a discovered alignment."""
        return self.sign != 0


def decide(r: np.ndarray, p_adj: np.ndarray, alpha: float, min_abs_r: float = 0.0) -> np.ndarray:
    """Signed decisions: ``sign(r)`` where ``p_adj <= alpha`` and ``|r| >= min_abs_r``, else 0."""
    r = np.asarray(r, dtype=np.float64)
    p_adj = np.asarray(p_adj, dtype=np.float64)
    if r.shape != p_adj.shape:
        raise ValueError(f"r and p_adj shapes differ: {r.shape} vs {p_adj.shape}")
    ok = np.isfinite(r) & np.isfinite(p_adj) & (p_adj <= alpha) & (np.abs(r) >= min_abs_r)
    return np.where(ok, np.sign(r), 0).astype(np.int8)


def discover(
    x: np.ndarray,
    y: np.ndarray,
    config: AlignConfig | None = None,
    *,
    seed: int | np.random.Generator | None = None,
) -> Discovery:
    """The alignment decision for offline metrics ``x`` and KPI means ``y`` over G groups.

    Parameters
    ----------
    x : ndarray(float, shape=(M, G))
        Offline metric values of the arm served to each group.
    y : ndarray(float, shape=(K, G))
        Whole-experiment KPI value of each group.
    config : AlignConfig, optional
        Statistic, correction, alpha, min_abs_r, permutation settings (defaults if None).
    seed : int or Generator, optional
        Overrides ``config.seed`` for the Monte-Carlo orderings (G > max_exact_groups).

    Returns
    -------
    Discovery
    """
    cfg = config or AlignConfig()
    perm = permutation_test(
        x,
        y,
        cfg.statistic,
        max_exact=cfg.max_exact_groups,
        n_resamples=cfg.n_resamples,
        seed=cfg.seed if seed is None else seed,
    )
    p_adj = adjust(perm.p, cfg.correction)
    return Discovery(
        r=perm.r, p=perm.p, p_adj=p_adj, sign=decide(perm.r, p_adj, cfg.alpha, cfg.min_abs_r)
    )


def _pingouin_corr(x: np.ndarray, y: np.ndarray, method: str) -> tuple[float, float]:
    """(r, p) from ``pingouin.corr``; (NaN, 1) when either input is constant."""
    import pingouin

    if np.ptp(x) <= 1e-12 * max(float(np.abs(x).max()), 1.0):
        return math.nan, 1.0
    if np.ptp(y) <= 1e-12 * max(float(np.abs(y).max()), 1.0):
        return math.nan, 1.0
    with warnings.catch_warnings():
        # pingouin 0.7 + pandas 3.1: deprecation noise inside pingouin (not ours to fix).
        warnings.simplefilter("ignore", DeprecationWarning)
        out = pingouin.corr(x, y, method=method)
    return float(out["r"].iloc[0]), float(out["p_val"].iloc[0])


def kpi_matrix(
    kpis: pd.DataFrame, groups: list[str], names: list[str], day: int = -1
) -> np.ndarray:
    """``(K, G)`` KPI values for ``day`` (-1 = whole experiment) from the tidy KPI table.

    Raises ValueError naming the missing (group, kpi) cells.
    """
    _check_kpi_columns(kpis)
    sub = kpis[kpis["day"] == day]
    table = sub.pivot_table(index="kpi", columns="group", values="value", aggfunc="first")
    missing = [
        (g, k)
        for k in names
        for g in groups
        if k not in table.index or g not in table.columns or not np.isfinite(table.at[k, g])
    ]
    if missing:
        raise ValueError(f"kpis table lacks day={day} values for (group, kpi): {missing[:10]}")
    return table.loc[names, groups].to_numpy(dtype=np.float64)


def _check_kpi_columns(kpis: pd.DataFrame) -> None:
    need = {"group", "day", "kpi", "value"}
    if not need.issubset(kpis.columns):
        raise ValueError(f"kpis table needs columns {sorted(need)}, has {list(kpis.columns)}")


def offline_metric_columns(groups: pd.DataFrame) -> list[str]:
    """Numeric columns whose name contains '@' (the metric naming scheme ``name@k``)."""
    return [c for c in groups.columns if "@" in str(c) and groups[c].dtype.kind in "biuf"]


def alignment_table(
    offline: pd.DataFrame,
    kpis: pd.DataFrame,
    config: AlignConfig | None = None,
) -> pd.DataFrame:
    """Every (offline metric, KPI) pair over the test groups: correlations, tests, decision.

    Parameters
    ----------
    offline : DataFrame, shape (G, M)
        Index = group names (str), columns = offline metrics; G >= 3.
    kpis : DataFrame
        Tidy KPI table with columns ``group, day, kpi, value`` (``day = -1`` rows required
        for every group and KPI; ``day >= 0`` rows used by the day-level analyses).
    config : AlignConfig, optional

    Returns
    -------
    DataFrame
        One row per (metric, kpi), columns ``metric, kpi, n_groups, n_days``,
        ``pearson_{r,ci_low,ci_high,p}``, ``spearman_{r,ci_low,ci_high,p}``,
        ``perm_p_pearson, perm_p_spearman, perm_exact, perm_orderings``,
        ``rm_{r,dof,p,ci_low,ci_high}`` (within-experiment consistency),
        ``mixed_{slope,se,p,ci_low,ci_high,var_day,var_group,converged,notes}``,
        ``r_primary, p_primary``, ``<p column>_holm`` and ``<p column>_bh`` for every
        p-value column, ``aligned`` (bool), ``sign`` (int8), ``vif`` (of the metric).
    """
    cfg = config or AlignConfig()
    if not isinstance(offline, pd.DataFrame) or not isinstance(kpis, pd.DataFrame):
        raise TypeError("offline and kpis must be DataFrames")
    _check_kpi_columns(kpis)
    groups = [str(g) for g in offline.index]
    if len(set(groups)) != len(groups):
        raise ValueError(f"duplicate group names in the offline table: {groups}")
    offline = offline.copy()
    offline.index = groups
    metrics = list(cfg.metrics) if cfg.metrics is not None else list(offline.columns)
    missing = [m for m in metrics if m not in offline.columns]
    if missing:
        raise ValueError(f"offline metrics not in the groups table: {missing}")
    kpis = kpis.assign(group=kpis["group"].astype(str))
    names = list(cfg.kpis) if cfg.kpis is not None else sorted(kpis["kpi"].unique())
    x = offline[metrics].to_numpy(dtype=np.float64).T
    y = kpi_matrix(kpis, groups, names)
    n_groups = len(groups)

    perm = {
        stat: permutation_test(
            x, y, stat, max_exact=cfg.max_exact_groups, n_resamples=cfg.n_resamples, seed=cfg.seed
        )
        for stat in ("pearson", "spearman")
    }
    vif = variance_inflation(offline[metrics])["vif"]
    daily = kpis[kpis["day"] >= 0]
    n_days = int(daily["day"].nunique())

    rows = []
    for i, metric in enumerate(metrics):
        for j, kpi in enumerate(names):
            row: dict[str, object] = {
                "metric": metric,
                "kpi": kpi,
                "n_groups": n_groups,
                "n_days": n_days,
            }
            for method in ("pearson", "spearman"):
                r, p = _pingouin_corr(x[i], y[j], method)
                low, high = fisher_ci(np.array(r), n_groups)
                row |= {
                    f"{method}_r": r,
                    f"{method}_ci_low": float(low),
                    f"{method}_ci_high": float(high),
                    f"{method}_p": p,
                    f"perm_p_{method}": float(perm[method].p[i, j]),
                }
            row["perm_exact"] = perm["pearson"].exact
            row["perm_orderings"] = perm["pearson"].n_orderings
            row |= _day_level(daily, offline[metric], kpi, cfg.day_level)
            row["r_primary"] = float(perm[cfg.statistic].r[i, j])
            row["p_primary"] = float(perm[cfg.statistic].p[i, j])
            row["vif"] = float(vif[metric])
            rows.append(row)
    table = pd.DataFrame(rows)
    for col in P_COLUMNS:
        for method, suffix in (("holm", "holm"), ("fdr_bh", "bh")):
            table[f"{col}_{suffix}"] = adjust(table[col].to_numpy(), method)
    suffix = "bh" if cfg.correction == "fdr_bh" else "holm"
    sign = decide(
        table["r_primary"].to_numpy(),
        table[f"p_primary_{suffix}"].to_numpy(),
        cfg.alpha,
        cfg.min_abs_r,
    )
    table["sign"] = sign
    table["aligned"] = sign != 0
    return table


def _day_level(
    daily: pd.DataFrame, metric_values: pd.Series, kpi: str, enabled: bool
) -> dict[str, object]:
    """rm_corr and mixed-model columns for one pair (NaN when disabled or no daily rows)."""
    nan = math.nan
    empty = {
        "rm_r": nan, "rm_dof": 0, "rm_p": nan, "rm_ci_low": nan, "rm_ci_high": nan,
        "mixed_slope": nan, "mixed_se": nan, "mixed_p": nan, "mixed_ci_low": nan,
        "mixed_ci_high": nan, "mixed_var_day": nan, "mixed_var_group": nan,
        "mixed_converged": False, "mixed_notes": "not-computed",
    }  # fmt: skip
    sub = daily[daily["kpi"] == kpi]
    if not enabled or sub.empty:
        return empty
    frame = sub[["group", "day", "value"]].copy()
    frame["offline"] = frame["group"].map(metric_values)
    frame = frame.dropna(subset=["offline", "value"])
    if frame.empty:
        return empty
    rm = rm_corr(frame, "offline", "value", subject="day")
    mixed = mixed_slope(frame, "offline", "value", group="group", day="day")
    return {
        "rm_r": rm.r, "rm_dof": rm.dof, "rm_p": rm.p if np.isfinite(rm.r) else nan,
        "rm_ci_low": rm.ci_low, "rm_ci_high": rm.ci_high,
        "mixed_slope": mixed.slope, "mixed_se": mixed.se,
        "mixed_p": mixed.p if np.isfinite(mixed.slope) else nan,
        "mixed_ci_low": mixed.ci_low, "mixed_ci_high": mixed.ci_high,
        "mixed_var_day": mixed.var_day, "mixed_var_group": mixed.var_group,
        "mixed_converged": mixed.converged, "mixed_notes": mixed.notes,
    }  # fmt: skip
