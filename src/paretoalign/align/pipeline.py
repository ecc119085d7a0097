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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.align.analysis import AlignConfig, alignment_table, offline_metric_columns
from paretoalign.align.collinearity import (
    effective_dimension,
    metric_correlations,
    variance_inflation,
)
from paretoalign.align.correlation import min_exact_pvalue
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


def run_validate(profile: Any, *, progress: bool = True) -> dict:
    """``paretoalign validate``'s work: worlds, panels, the strategy check, ``validation.json``.

    For every world of ``[validate]`` (the profile's own world, the re-drawn world seeds,
    the flip worlds) the oracle family is prepared and served once
    (:mod:`paretoalign.align.worlds`; panels are cached in
    ``results/<profile>/validate/panels/`` and reused while their inputs are unchanged),
    then :func:`paretoalign.align.validate.run_validation` scores the strategy, and the fast
    path is checked against the profile's own experiment (``kpis.parquet``) and
    ``real_runs`` extra real experiments. Writes ``results/<profile>/validation.json`` and
    ``results/<profile>/validate/curves.parquet``; returns the JSON document.
    """
    from paretoalign.align.oracle import load_panel, save_panel
    from paretoalign.align.validate import ValidateConfig, WorldPanel, run_validation
    from paretoalign.align.worlds import (
        check_fast_path,
        check_fast_path_runs,
        derived_profile,
        extra_real_runs,
        oracle_arms,
        prepare_world,
        serve_panel,
    )
    from paretoalign.online.config import ExperimentConfig
    from paretoalign.world import ShopConfig

    t_start = time.perf_counter()
    vcfg = profile.section("validate", ValidateConfig)
    acfg = profile.section("align", AlignConfig)
    own_shop = profile.section("shop", ShopConfig)
    exp = profile.section("experiment", ExperimentConfig)
    sessions_per_day = exp.sessions_per_day or own_shop.sessions_per_day
    out = profile.results / "validate"
    timing: dict[str, Any] = {"worlds": {}}

    def say(msg: str) -> None:
        if progress:
            print(msg, flush=True)

    def world_profile(label: str, shop: dict) -> Any:
        return derived_profile(
            profile, label, shop=shop, train=dict(vcfg.extra_world_train),
            front=dict(vcfg.extra_world_front),
        )  # fmt: skip

    def panel_of(label: str, wprofile: Any, role: str, seed: int, rho: float) -> WorldPanel:
        t0 = time.perf_counter()
        prep = {"data": 0.0, "train": 0.0, "front": 0.0}
        if wprofile is not profile:
            say(f"validate: preparing world {label} (data, model, front)")
            prep = prepare_world(wprofile, progress=False)
        base_shoppers = (
            vcfg.extra_world_base_shoppers or vcfg.base_shoppers
            if wprofile is not profile
            else vcfg.base_shoppers
        )
        stamp = {
            "tables": {
                k: wprofile.tables.get(k, {}) for k in ("shop", "train", "front", "experiment")
            },
            "grid_points": vcfg.grid_points,
            "kinds": list(acfg.arms),
            "base_shoppers": base_shoppers,
            "base_days": vcfg.base_days,
            "base_seed": vcfg.base_seed,
            "front_mtime": (wprofile.results / "front.parquet").stat().st_mtime,
        }
        stamp = json.loads(json.dumps(stamp, default=str))
        path = out / "panels" / f"{label}.npz"
        panel = None
        if path.is_file():
            cached, info = load_panel(path)
            if info.get("stamp") == stamp:
                panel = cached
        if panel is None:
            arms = oracle_arms(wprofile, vcfg.grid_points, kinds=tuple(acfg.arms))
            say(f"validate: serving {len(arms)} arms x {base_shoppers} shoppers in {label}")
            panel, info = serve_panel(
                wprofile, arms, base_shoppers=base_shoppers, days=vcfg.base_days,
                seed=vcfg.base_seed,
            )  # fmt: skip
            info = {**info, "stamp": stamp}
            save_panel(panel, path, info=info)
        info = {k: v for k, v in info.items() if k != "stamp"}
        timing["worlds"][label] = {**prep, "panel": time.perf_counter() - t0 - sum(prep.values())}
        return WorldPanel(label, role, panel, sessions_per_day, seed, rho, info)

    worlds = []
    labels = {}
    for s in vcfg.world_seeds:
        label = f"world_{s}"
        wprofile = (
            profile
            if s == own_shop.seed
            else world_profile(label, {"seed": s, **vcfg.extra_world_shop})
        )
        labels[s] = (label, wprofile)
        worlds.append(panel_of(label, wprofile, "seed", s, own_shop.rho_aq))
    ref_seed = vcfg.world_seeds[1] if len(vcfg.world_seeds) > 1 else vcfg.world_seeds[0]
    ref_label, ref_profile = labels[ref_seed]
    for name, rho in vcfg.flip_worlds.items():
        if ref_profile is profile:
            wprofile = derived_profile(profile, name, shop={"rho_aq": rho})
        else:
            wprofile = world_profile(
                name, {"seed": ref_seed, **vcfg.extra_world_shop, "rho_aq": rho}
            )
        worlds.append(panel_of(name, wprofile, "flip", ref_seed, rho))

    say("validate: scoring the strategy (power curves, reporting seeds, controls, flips)")
    result = run_validation(worlds, vcfg, acfg, flip_reference=ref_label)

    # ------------------------------------------------------------------ fast path check
    t0 = time.perf_counter()
    own = (
        next(w for w in worlds if w.label == labels[own_shop.seed][0])
        if own_shop.seed in labels
        else worlds[0]
    )
    checks: dict[str, Any] = {}
    kpis_path = profile.results / "kpis.parquet"
    if kpis_path.is_file():
        try:
            checks["experiment"] = check_fast_path(own.panel, kpis_path, seed=vcfg.seed)
        except ValueError as exc:
            checks["experiment"] = {"error": str(exc)}
    if vcfg.real_runs > 0 and own_shop.seed in labels:
        runs = extra_real_runs(
            profile, runs=vcfg.real_runs, days=vcfg.real_run_days, seed=vcfg.base_seed + 1
        )
        checks["extra_runs"] = {
            **check_fast_path_runs(own.panel, runs, seed=vcfg.seed),
            "days": vcfg.real_run_days,
        }
    result["fast_path_check"] = checks
    timing["fast_path_check"] = time.perf_counter() - t0
    timing["scoring"] = result["timing_s"]
    timing["total"] = time.perf_counter() - t_start
    result["timing_s"] = timing
    result["profile"] = profile.name
    result["method"] = {
        "oracle": (
            f"every arm of the family ({vcfg.grid_points} front points spread in offline-metric "
            "space plus the experiment's analysed arms) served to the same base population "
            f"({vcfg.base_shoppers} shoppers in the profile's world) with common random numbers; "
            "CTR from the exact click probabilities, the other KPIs as base-population means; "
            f"true alignment = |Spearman| >= {vcfg.threshold} over the family, with its sign"
        ),
        "fast_path": (
            "each replicate experiment Poisson-bootstraps every group's shoppers from the base "
            "population under the group's arm (realised outcomes), so group KPIs have the "
            "sampling distribution of a real experiment given that population; checked against "
            "the profile's experiment and fresh real runs (fast_path_check)"
        ),
        "worlds": (
            "the profile's world keeps its trained model, front and experiment; re-drawn worlds "
            "(other world seeds) and flip worlds (rho_aq changed on the reference world's seed) "
            "get their own logs, model and front from the project's pipeline, at the size set by "
            "extra_world_shop / extra_world_train / extra_world_front"
        ),
        "days": (
            "the shop is stationary (no day effects), so days only scale the traffic: a design's "
            "shoppers per group = sessions_per_day x days x traffic / groups"
        ),
        "seeds": (
            "power curves and the design choice use tuning seeds; the reported scores, A/A and "
            "placebo rates use disjoint reporting seeds"
        ),
    }

    result = _finite(result)
    with atomic_path(profile.results / "validation.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2, default=_json_default, allow_nan=False) + "\n")
    curves = pd.DataFrame([c for c in result["curves"] if "error" not in c])
    with atomic_path(out / "curves.parquet") as tmp:
        curves.to_parquet(tmp, index=False)
    return result


def _finite(value: Any) -> Any:
    """The same structure with every NaN / infinite float replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
