"""``paretoalign align``'s work: read the experiment's outputs, write the alignment tables.

Reads ``results/<profile>/groups.parquet`` (or ``groups.json``) and ``kpis.parquet``,
writes

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
from paretoalign.data.sessionlog import atomic_path

GROUP_NAME_COLUMNS = ("group", "name")
ARM_KIND_COLUMNS = ("arm", "kind", "arm_kind")


def load_groups(results: Path) -> pd.DataFrame:
    """The test groups table from ``groups.parquet`` (preferred) or ``groups.json``.

    ``groups.json`` may be a list of records or ``{"groups": [records]}``; nested
    ``metrics`` dicts in a record are flattened into columns. The group name column
    (``group`` or ``name``) becomes the string index.

    Raises
    ------
    FileNotFoundError
        Neither file exists.
    ValueError
        The file has no group name column or duplicate names (message names the file).
    """
    parquet = results / "groups.parquet"
    js = results / "groups.json"
    if parquet.is_file():
        frame = pd.read_parquet(parquet)
        source = parquet
    elif js.is_file():
        doc = json.loads(js.read_text())
        records = doc["groups"] if isinstance(doc, dict) and "groups" in doc else doc
        if not isinstance(records, list):
            raise ValueError(f"{js}: expected a list of group records or {{'groups': [...]}}")
        flat = []
        for rec in records:
            row = {k: v for k, v in rec.items() if not isinstance(v, dict)}
            for key, value in rec.items():
                if isinstance(value, dict):
                    row.update({f"{key}_{k}" if key == "pi" else k: v for k, v in value.items()})
            flat.append(row)
        frame = pd.DataFrame(flat)
        source = js
    else:
        raise FileNotFoundError(
            f"no groups table in {results} (expected groups.parquet or groups.json; "
            "run `paretoalign experiment` first)"
        )
    name_col = next((c for c in GROUP_NAME_COLUMNS if c in frame.columns), None)
    if name_col is None:
        raise ValueError(f"{source}: no group name column (one of {GROUP_NAME_COLUMNS})")
    names = frame[name_col].astype(str)
    if names.duplicated().any():
        raise ValueError(f"{source}: duplicate group names {sorted(names[names.duplicated()])}")
    return frame.set_index(names.rename(None))


def arm_kind(groups: pd.DataFrame) -> pd.Series:
    """The arm kind of each group (model / baseline / control); "model" if no kind column."""
    col = next((c for c in ARM_KIND_COLUMNS if c in groups.columns), None)
    if col is None:
        return pd.Series("model", index=groups.index)
    return groups[col].astype(str)


@dataclass(frozen=True)
class AlignOutputs:
    """What :func:`run_align` produced (tables in memory, paths on disk)."""

    offline: pd.DataFrame
    kpis: pd.DataFrame
    table: pd.DataFrame
    collinearity: pd.DataFrame
    summary: dict
    paths: dict[str, Path]


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
    kpis = pd.read_parquet(kpi_path)
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
    paths = {
        "alignment": results / "alignment.parquet",
        "collinearity": results / "collinearity.parquet",
        "summary": results / "alignment_summary.json",
    }
    with atomic_path(paths["alignment"]) as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(paths["collinearity"]) as tmp:
        collinearity.rename_axis("metric").reset_index().to_parquet(tmp, index=False)
    with atomic_path(paths["summary"]) as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return AlignOutputs(offline, kpis, table, collinearity, summary, paths)
