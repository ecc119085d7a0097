"""``paretoalign validate``'s work: worlds, panels, the strategy check, ``validation.json``.

For every world of ``[validate]`` (the profile's own world, the re-drawn world seeds, the
flip worlds) the oracle family is prepared and served once
(:mod:`paretoalign.validate.worlds`; panels are cached in
``results/<profile>/validate/panels/`` and reused while their inputs are unchanged), then
:func:`paretoalign.validate.check.run_validation` scores the strategy, and the fast path
is checked against the profile's own experiment (``kpis.parquet``) and ``real_runs``
extra real experiments. Writes ``results/<profile>/validation.json`` (strict JSON: NaN
and infinities become null) and ``results/<profile>/validate/curves.parquet``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.align.analysis import AlignConfig
from paretoalign.io import write_json, write_parquet
from paretoalign.validate.check import ValidateConfig, WorldPanel, run_validation
from paretoalign.validate.oracle import load_panel, save_panel
from paretoalign.validate.worlds import (
    check_fast_path,
    check_fast_path_runs,
    derived_profile,
    extra_real_runs,
    oracle_arms,
    prepare_world,
    serve_panel,
)

__all__ = ["run_validate"]


@dataclass
class _ValidateRun:
    """The settings of one ``validate`` run and the timings it collects."""

    profile: Any
    vcfg: ValidateConfig
    acfg: AlignConfig
    own_shop: Any  # the profile's ShopConfig
    sessions_per_day: int
    progress: bool
    timing: dict[str, Any] = field(default_factory=lambda: {"worlds": {}})

    @property
    def out(self) -> Path:
        return self.profile.results / "validate"

    def say(self, msg: str) -> None:
        if self.progress:
            print(msg, flush=True)

    def world_profile(self, label: str, shop: dict) -> Any:
        """A derived profile for an extra world, at the ``extra_world_*`` sizes."""
        return derived_profile(
            self.profile, label, shop=shop, train=dict(self.vcfg.extra_world_train),
            front=dict(self.vcfg.extra_world_front),
        )  # fmt: skip

    def panel_of(self, label: str, wprofile: Any, role: str, seed: int, rho: float) -> WorldPanel:
        """The world's oracle panel: prepared (extra worlds) and served, or read from the
        cache when its stamp (the inputs it was served from) is unchanged."""
        vcfg, acfg = self.vcfg, self.acfg
        t0 = time.perf_counter()
        prep = {"data": 0.0, "train": 0.0, "front": 0.0}
        own = wprofile is self.profile
        if not own:
            self.say(f"validate: preparing world {label} (data, model, front)")
            prep = prepare_world(wprofile, progress=False)
        base_shoppers = (
            vcfg.base_shoppers if own else vcfg.extra_world_base_shoppers or vcfg.base_shoppers
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
        path = self.out / "panels" / f"{label}.npz"
        panel = None
        if path.is_file():
            cached, info = load_panel(path)
            if info.get("stamp") == stamp:
                panel = cached
        if panel is None:
            arms = oracle_arms(wprofile, vcfg.grid_points, kinds=tuple(acfg.arms))
            self.say(f"validate: serving {len(arms)} arms x {base_shoppers} shoppers in {label}")
            panel, info = serve_panel(
                wprofile, arms, base_shoppers=base_shoppers, days=vcfg.base_days,
                seed=vcfg.base_seed,
            )  # fmt: skip
            info = {**info, "stamp": stamp}
            save_panel(panel, path, info=info)
        info = {k: v for k, v in info.items() if k != "stamp"}
        elapsed = time.perf_counter() - t0 - sum(prep.values())
        self.timing["worlds"][label] = {**prep, "panel": elapsed}
        return WorldPanel(label, role, panel, self.sessions_per_day, seed, rho, info)


def run_validate(profile: Any, *, progress: bool = True) -> dict:
    """Validate the strategy on ``profile``'s worlds (see the module docstring); write
    ``validation.json`` and ``validate/curves.parquet`` and return the JSON document."""
    from paretoalign.online.config import ExperimentConfig
    from paretoalign.world import ShopConfig

    t_start = time.perf_counter()
    own_shop = profile.section("shop", ShopConfig)
    exp = profile.section("experiment", ExperimentConfig)
    run = _ValidateRun(
        profile,
        profile.section("validate", ValidateConfig),
        profile.section("align", AlignConfig),
        own_shop,
        exp.sessions_per_day or own_shop.sessions_per_day,
        progress,
    )
    worlds, labels, ref_label = _world_panels(run)
    run.say("validate: scoring the strategy (power curves, reporting seeds, controls, flips)")
    result = run_validation(worlds, run.vcfg, run.acfg, flip_reference=ref_label)
    t0 = time.perf_counter()
    result["fast_path_check"] = _fast_path_checks(run, worlds, labels)
    timing = run.timing
    timing["fast_path_check"] = time.perf_counter() - t0
    timing["scoring"] = result["timing_s"]
    timing["total"] = time.perf_counter() - t_start
    result["timing_s"] = timing
    result["profile"] = profile.name
    result["method"] = _method_notes(run.vcfg)
    result = _strict_json(result)
    write_json(result, profile.results / "validation.json", allow_nan=False)
    write_parquet(
        pd.DataFrame([c for c in result["curves"] if "error" not in c]), run.out / "curves.parquet"
    )
    return result


def _world_panels(
    run: _ValidateRun,
) -> tuple[list[WorldPanel], dict[int, tuple[str, Any]], str]:
    """The panels of the seed worlds, then of the flip worlds (built on the reference
    world: the second world seed, or the only one); returns them, the seed -> (label,
    profile) map and the reference world's label."""
    vcfg, profile = run.vcfg, run.profile
    worlds = []
    labels = {}
    for s in vcfg.world_seeds:
        label = f"world_{s}"
        wprofile = (
            profile
            if s == run.own_shop.seed
            else run.world_profile(label, {"seed": s, **vcfg.extra_world_shop})
        )
        labels[s] = (label, wprofile)
        worlds.append(run.panel_of(label, wprofile, "seed", s, run.own_shop.rho_aq))
    ref_seed = vcfg.world_seeds[1] if len(vcfg.world_seeds) > 1 else vcfg.world_seeds[0]
    ref_label, ref_profile = labels[ref_seed]
    for name, rho in vcfg.flip_worlds.items():
        if ref_profile is profile:
            wprofile = derived_profile(profile, name, shop={"rho_aq": rho})
        else:
            wprofile = run.world_profile(
                name, {"seed": ref_seed, **vcfg.extra_world_shop, "rho_aq": rho}
            )
        worlds.append(run.panel_of(name, wprofile, "flip", ref_seed, rho))
    return worlds, labels, ref_label


def _fast_path_checks(
    run: _ValidateRun, worlds: list[WorldPanel], labels: dict[int, tuple[str, Any]]
) -> dict[str, Any]:
    """The fast path against the profile's own experiment and ``real_runs`` fresh runs."""
    vcfg, own_seed = run.vcfg, run.own_shop.seed
    own = (
        next(w for w in worlds if w.label == labels[own_seed][0])
        if own_seed in labels
        else worlds[0]
    )
    checks: dict[str, Any] = {}
    kpis_path = run.profile.results / "kpis.parquet"
    if kpis_path.is_file():
        try:
            checks["experiment"] = check_fast_path(own.panel, kpis_path, seed=vcfg.seed)
        except ValueError as exc:
            checks["experiment"] = {"error": str(exc)}
    if vcfg.real_runs > 0 and own_seed in labels:
        runs = extra_real_runs(
            run.profile, runs=vcfg.real_runs, days=vcfg.real_run_days, seed=vcfg.base_seed + 1
        )
        checks["extra_runs"] = {
            **check_fast_path_runs(own.panel, runs, seed=vcfg.seed),
            "days": vcfg.real_run_days,
        }
    return checks


def _method_notes(vcfg: ValidateConfig) -> dict[str, str]:
    """``validation.json``'s ``method``: how the oracle, the fast path, the worlds, the
    days and the seeds are defined."""
    return {
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


def _strict_json(value: Any) -> Any:
    """The same structure with every NaN / infinite float replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value
