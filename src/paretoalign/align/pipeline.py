"""``paretoalign align``'s work: read the experiment's outputs, write the alignment tables.

Two sources, one analysis (:func:`align_and_write`):

- :func:`run_align` reads ``results/<profile>/groups.parquet`` (or ``groups.json``) and
  ``kpis.parquet``, the tables of ``paretoalign experiment``;
- :func:`run_own_experiment` reads a practitioner's own A/B results, a groups file and a
  KPI file (CSV or parquet, checked by :mod:`paretoalign.align.inputs`; the book's
  real-data page documents their schemas), and also writes ``alignment.csv``.

Both write, into their output folder,

- ``alignment.parquet`` — :func:`paretoalign.align.analysis.alignment_table`;
- ``collinearity.parquet`` — the offline metrics' correlation matrix across the analysed
  groups (one column per metric) with ``r2``, ``vif`` and ``constant`` columns;
- ``alignment_summary.json`` — the design (groups, days, KPIs, metrics), the decision rule,
  the effective dimension of the metrics and the discovered pairs.

Every file is written atomically. Figures are drawn by :mod:`paretoalign.plots.align`
(called from the CLI, because plots is a later layer than align).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from paretoalign.align.analysis import AlignConfig, alignment_table, offline_metric_columns
from paretoalign.align.collinearity import (
    effective_dimension,
    metric_correlations,
    variance_inflation,
)
from paretoalign.align.correlation import min_exact_pvalue
from paretoalign.front.files import load_groups
from paretoalign.io import atomic_path, write_parquet, write_text

ARM_KIND_COLUMNS = ("arm", "kind", "arm_kind")


def arm_kind(groups: pd.DataFrame) -> pd.Series:
    """The arm kind of each group (model / baseline / control); "model" if no kind column."""
    col = next((c for c in ARM_KIND_COLUMNS if c in groups.columns), None)
    if col is None:
        return pd.Series("model", index=groups.index)
    return groups[col].astype(str)


@dataclass(frozen=True)
class AlignOutputs:
    """What :func:`align_and_write` produced (tables in memory, paths on disk).

    ``kinds`` is the arm kind (model / baseline / control) of each analysed group, indexed
    like ``offline`` (the figures' colours).
    """

    offline: pd.DataFrame
    kpis: pd.DataFrame
    table: pd.DataFrame
    collinearity: pd.DataFrame
    summary: dict
    paths: dict[str, Path]
    kinds: pd.Series


def select_offline(groups: pd.DataFrame, cfg: AlignConfig) -> pd.DataFrame:
    """The (G, M) offline metric table of the analysed arms (rows = groups)."""
    kinds = arm_kind(groups)
    chosen = groups[kinds.isin(cfg.arms)]
    metrics = cfg.metrics if cfg.metrics is not None else offline_metric_columns(chosen)
    if not metrics:
        raise ValueError("no offline metric columns (names with '@') in the groups table")
    missing = [m for m in metrics if m not in chosen.columns]
    if missing:
        raise ValueError(f"offline metrics not in the groups table: {missing}")
    if len(chosen) < 3:
        raise ValueError(
            f"need at least 3 analysed groups, have {len(chosen)} (arm kinds {sorted(set(kinds))}, "
            f"analysed {cfg.arms})"
        )
    return chosen[metrics].astype(np.float64)


def run_align(results: Path, cfg: AlignConfig) -> AlignOutputs:
    """Read the experiment's tables under ``results``, compute and write the alignment tables."""
    groups = load_groups(results)
    kpi_path = results / "kpis.parquet"
    if not kpi_path.is_file():
        raise FileNotFoundError(f"{kpi_path} is missing (run `paretoalign experiment` first)")
    return align_and_write(groups, pd.read_parquet(kpi_path), cfg, results)


def run_own_experiment(
    groups_path: Path, kpis_path: Path, out: Path, cfg: AlignConfig
) -> AlignOutputs:
    """The alignment tables of a practitioner's own experiment, written into ``out``.

    Reads and checks ``groups_path`` and ``kpis_path`` with
    :func:`paretoalign.align.inputs.read_experiment` (an
    :class:`~paretoalign.align.inputs.InputError` names the file, column and line of the
    first problem), analyses every offline metric column of the groups file against every
    KPI of the KPI file with ``cfg``'s statistic, correction and decision rule (its
    ``metrics`` and ``kpis`` lists, which name the shop's columns, are replaced by the
    files' own), writes the files of :func:`align_and_write` and ``alignment.csv`` (the
    alignment table as CSV), and returns what :func:`align_and_write` returns with the
    extra path under ``"alignment_csv"``.
    """
    from paretoalign.align.inputs import read_experiment

    groups, kpis = read_experiment(groups_path, kpis_path)
    metrics = [c for c in groups.columns if c not in ARM_KIND_COLUMNS]
    cfg = cfg.model_copy(update={"metrics": metrics, "kpis": None})
    out = Path(out)
    result = align_and_write(groups, kpis, cfg, out)
    csv = out / "alignment.csv"
    with atomic_path(csv) as tmp:
        result.table.to_csv(tmp, index=False)
    result.paths["alignment_csv"] = csv
    return result


def align_and_write(
    groups: pd.DataFrame, kpis: pd.DataFrame, cfg: AlignConfig, out: Path
) -> AlignOutputs:
    """The alignment analysis of one experiment, written into the folder ``out``.

    Parameters
    ----------
    groups : DataFrame
        One row per test group (index = group name), the offline metric columns and
        optionally an arm-kind column (:data:`ARM_KIND_COLUMNS`); :func:`select_offline`
        picks the analysed arms and metrics.
    kpis : DataFrame
        Tidy ``group, day, kpi, value`` (``day = -1``: whole experiment; optional
        ``ci_low, ci_high, n``), as :func:`paretoalign.align.analysis.alignment_table`
        takes it; rows of groups that are not analysed are dropped.
    cfg : AlignConfig
    out : Path
        Output folder (created if missing).

    Returns
    -------
    AlignOutputs
        The analysed offline table, the KPI rows used, the alignment table, the
        collinearity table, the summary and the written paths (``alignment``,
        ``collinearity``, ``summary``) and the analysed groups' arm kinds.
    """
    offline = select_offline(groups, cfg)
    kpis = kpis[kpis["group"].astype(str).isin(offline.index)]
    table = alignment_table(offline, kpis, cfg)
    corr = metric_correlations(offline)
    collinearity = corr.join(variance_inflation(offline))
    discovered = table[table["aligned"]]
    summary = {
        "groups": list(offline.index),
        "n_groups": len(offline),
        "n_days": int(table["n_days"].iloc[0]),
        "metrics": list(offline.columns),
        "kpis": sorted(table["kpi"].unique()),
        "decision": {
            "statistic": cfg.statistic,
            "test": "exact permutation"
            if bool(table["perm_exact"].iloc[0])
            else f"Monte-Carlo permutation (B={cfg.n_resamples}, seed={cfg.seed})",
            "correction": cfg.correction,
            "alpha": cfg.alpha,
            "min_abs_r": cfg.min_abs_r,
            "family_size": len(table),
        },
        "min_exact_p": min_exact_pvalue(len(offline))
        if bool(table["perm_exact"].iloc[0])
        else None,
        "columns": {
            "pearson_*, spearman_*": "correlation over the G group means (pingouin.corr), "
            "Fisher-z 95% interval, parametric p",
            "perm_p_*": "permutation p-value of that correlation (exact over all G! orderings "
            "for G <= max_exact_groups, else seeded Monte Carlo)",
            "rm_*": "within-experiment consistency: pingouin.rm_corr with subject = day "
            "(offline values repeat every day, so not independent evidence about models)",
            "mixed_*": "crossed mixed model z(kpi) ~ z(metric) + (1|day) + (1|group), REML; "
            "p from t with G - 2 df; mixed_notes records fit warnings",
            "*_holm, *_bh": "Holm / Benjamini-Hochberg adjusted across the whole table",
            "aligned, sign": "the decision (see decision)",
            "vif": "variance inflation factor of the metric across the groups",
        },
        "effective_dimension": effective_dimension(offline),
        "max_finite_vif": float(
            np.nanmax(np.where(np.isinf(collinearity["vif"]), np.nan, collinearity["vif"]))
        )
        if np.isfinite(collinearity["vif"]).any()
        else None,
        "n_infinite_vif": int(np.isinf(collinearity["vif"]).sum()),
        "discovered": [
            {
                "metric": r.metric,
                "kpi": r.kpi,
                "sign": int(r.sign),
                "r": float(r.r_primary),
                "p_adj": float(p),
            }
            for r, p in zip(
                discovered.itertuples(),
                discovered["p_primary_bh" if cfg.correction == "fdr_bh" else "p_primary_holm"],
                strict=True,
            )
        ],
    }
    out = Path(out)
    paths = {
        "alignment": out / "alignment.parquet",
        "collinearity": out / "collinearity.parquet",
        "summary": out / "alignment_summary.json",
    }
    write_parquet(table, paths["alignment"])
    write_parquet(collinearity.rename_axis("metric").reset_index(), paths["collinearity"])
    write_text(paths["summary"], json.dumps(summary, indent=2))
    kinds = arm_kind(groups).loc[offline.index]
    return AlignOutputs(offline, kpis, table, collinearity, summary, paths, kinds)
