"""Does the strategy find the truth the shop knows? Scores, controls, power curves, flip worlds.

Input: one :class:`WorldPanel` per world — the arm panel of the world's oracle family
(:mod:`paretoalign.validate.oracle`) and its traffic (shoppers per day). Worlds are of two
roles: ``seed`` worlds (the profile's world and re-drawn worlds) score the strategy;
``flip`` worlds (a click-bait world with ``rho_aq = -0.6`` and an aligned world with
``rho_aq = +0.8``) check that the discovered alignments move the way the ground truth does.

:func:`run_validation`:

1. **Truth** per world: the signed pairs with ``|Spearman| >= threshold`` over all arms of
   the panel (grid + off-front arms), and the split-half stability of that truth.
2. **Power curves** on the first seed world (the profile's world) with *tuning* seeds:
   every design of ``groups x days x traffic``, R replicate experiments each (fast path),
   scored against the truth.
3. **The design**: the cheapest design meeting the targets on the tuning seeds
   (:func:`paretoalign.validate.strategy.choose_design`), unless the config fixes one.
4. **Reporting** at that design with fresh *reporting* seeds (disjoint from the tuning
   seeds, so the reported numbers are not the ones the design was picked on): precision,
   recall, F1, sign errors per seed world and pooled; A/A family-wise error rate and the
   placebo metric's family-wise false-positive rate.
5. **Flip worlds** at that design: each world's truth for the key pairs and the share of
   replicates discovering each sign; the predicted direction is checked.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from paretoalign.align.analysis import AlignConfig
from paretoalign.align.power import analytic_power, pool_scores
from paretoalign.online.kpis import KPIS
from paretoalign.validate.oracle import (
    ArmPanel,
    Truth,
    oracle_kpis,
    split_half_agreement,
    true_alignments,
    truth_bootstrap,
)
from paretoalign.validate.strategy import (
    Design,
    aa_control,
    choose_design,
    evaluate_design,
    noise_free_ceiling,
    placebo_control,
)

#: Seed-stream tags: tuning and reporting replicates never share a generator state.
_TUNING, _REPORTING, _AA, _PLACEBO, _FLIP = 1, 2, 3, 4, 5


class DesignConfig(BaseModel):
    """A fixed experiment design (``[validate.design]``)."""

    model_config = ConfigDict(extra="forbid")

    groups: int = Field(ge=3)
    days: int = Field(ge=1)
    traffic: float = Field(gt=0, le=1)


class ValidateConfig(BaseModel):
    """The ``[validate]`` table: the strategy check against the shop's ground truth."""

    model_config = ConfigDict(extra="forbid")

    world_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    """World seeds. The one equal to the profile's ``[shop].seed`` reuses the profile's
    trained model, front and experiment; the others are re-drawn worlds (see
    ``extra_world_shop`` / ``extra_world_train``)."""
    flip_worlds: dict[str, float] = Field(
        default_factory=lambda: {"click_bait": -0.6, "aligned": 0.8}
    )
    """Worlds with a known flip: name -> ``rho_aq`` (world seed = the profile's)."""
    key_pairs: list[tuple[str, str]] = Field(
        default_factory=lambda: [
            ("click_recall@20", "post_click_cvr"),
            ("click_recall@20", "units_per_shopper"),
        ]
    )
    """(metric, KPI) pairs whose sign the flip worlds should move."""
    experiment_seeds: int = Field(50, ge=1)
    """Reporting replicates (experiment seeds) per world at the chosen design."""
    tuning_seeds: int = Field(50, ge=1)
    """Replicates per design of the power curves (disjoint seeds)."""
    seed: int = Field(0, ge=0)
    """Root of every replicate seed stream."""
    threshold: float = Field(0.8, gt=0, le=1)
    """|Spearman| over the oracle family for a true alignment."""
    truth_bootstrap: int = Field(200, ge=20)
    """Bootstrap replicates (over base shoppers) that decide which true / not-true calls of
    the oracle are certain; scores on the decided pairs are reported next to the main ones."""
    groups: list[int] = Field(default_factory=lambda: [4, 6, 8, 12])
    days: list[int] = Field(default_factory=lambda: [7, 14, 28])
    traffic: list[float] = Field(default_factory=lambda: [0.25, 0.5, 1.0])
    """Traffic share: the share of the shop's daily shoppers in the experiment."""
    design: DesignConfig | None = None
    """Fix the design instead of choosing it from the power curves."""
    target_precision: float = Field(0.9, ge=0, le=1)
    target_recall: float = Field(0.8, ge=0, le=1)
    target_fwer: float = Field(0.05, ge=0, le=1)
    fixed_arms: list[str] | None = None
    """Arms in every design, the rest of the G groups being front points. None: every arm of
    the panel that is not a point of the front (the experiment's control and off-front arms
    whose kind ``[align] arms`` analyses)."""
    aa_arm: str | None = None
    """The arm every group gets in the A/A control (None: ``control`` if there is one, else
    the first front arm)."""
    metrics: list[str] | None = None
    """Offline metrics of the family (None: every metric column of the panel)."""
    kpis: list[str] | None = None
    """KPIs of the family (None: every KPI of the online layer)."""
    grid_points: int = Field(21, ge=3, le=200)
    """Front points of the oracle family, spread evenly in offline-metric space over the
    traced front (all points when the front has fewer); the experiment's arms are added."""
    base_shoppers: int = Field(2000, ge=50)
    """Base shoppers served by every arm of the oracle family (common random numbers)."""
    base_days: int = Field(7, ge=1)
    """Arrival window of the base population (days only spread the arrivals)."""
    base_seed: int = Field(777, ge=0)
    """Experiment seed of the base population (distinct from the experiment's)."""
    real_runs: int = Field(1, ge=0)
    """Extra real experiments (the experiment's groups, fresh seeds, ``real_run_days``
    days) that check the fast path, on top of the profile's own experiment."""
    real_run_days: int = Field(2, ge=1)
    """Days of traffic of each extra real experiment."""
    extra_world_shop: dict[str, float | int | str] = Field(default_factory=dict)
    """``[shop]`` overrides for the re-drawn and flip worlds (e.g. a smaller catalogue)."""
    extra_world_train: dict[str, float | int | str | None] = Field(default_factory=dict)
    """``[train]`` overrides for the models of the re-drawn and flip worlds."""
    extra_world_front: dict[str, float | int | str | None] = Field(default_factory=dict)
    """``[front]`` overrides for the re-drawn and flip worlds (e.g. a coarser grid)."""
    extra_world_base_shoppers: int | None = Field(None, ge=50)
    """Base shoppers of the re-drawn and flip worlds (None: ``base_shoppers``)."""


@dataclass(frozen=True, eq=False)
class WorldPanel:
    """One world's oracle family and traffic, with its role in the validation."""

    label: str
    role: Literal["seed", "flip"]
    panel: ArmPanel
    sessions_per_day: float
    world_seed: int
    rho_aq: float
    info: dict = field(default_factory=dict)


def _seed(root: int, tag: int, *parts: int) -> int:
    return int(np.random.SeedSequence([root, tag, *parts]).generate_state(1, np.uint32)[0])


def family(panel: ArmPanel, cfg: ValidateConfig) -> tuple[list[str], list[str]]:
    """The (metrics, KPIs) of the alignment table for ``panel``."""
    metrics = (
        list(cfg.metrics)
        if cfg.metrics is not None
        else [c for c in panel.offline.columns if "@" in c]
    )
    missing = [m for m in metrics if m not in panel.offline.columns]
    if missing:
        raise ValueError(f"metrics not in the panel: {missing}")
    kpis = list(cfg.kpis) if cfg.kpis is not None else list(KPIS)
    return metrics, kpis


def fixed_arms(panel: ArmPanel, cfg: ValidateConfig) -> list[str]:
    """The arms every design contains (see ``ValidateConfig.fixed_arms``)."""
    if cfg.fixed_arms is not None:
        missing = [a for a in cfg.fixed_arms if a not in panel.names]
        if missing:
            raise ValueError(f"fixed arms not in the panel: {missing}")
        return list(cfg.fixed_arms)
    return [n for n, front in zip(panel.names, panel.front, strict=True) if not front]


def aa_arm(panel: ArmPanel, cfg: ValidateConfig) -> str:
    """The A/A arm (see ``ValidateConfig.aa_arm``)."""
    if cfg.aa_arm is not None:
        return cfg.aa_arm
    if "control" in panel.names:
        return "control"
    return next(n for n, front in zip(panel.names, panel.front, strict=True) if front)


def world_truth(wp: WorldPanel, cfg: ValidateConfig) -> tuple[Truth, pd.DataFrame, dict]:
    """Truth over all arms of the world's panel, the oracle table and the split-half check."""
    metrics, kpis = family(wp.panel, cfg)
    oracle = oracle_kpis(wp.panel, kpis)
    truth = true_alignments(
        wp.panel.offline, oracle[kpis], metrics=metrics, kpis=kpis, threshold=cfg.threshold
    )
    stability = split_half_agreement(
        wp.panel, metrics=metrics, kpis=kpis, threshold=cfg.threshold, seed=cfg.seed
    )
    return truth, oracle, stability


def designs(cfg: ValidateConfig) -> list[Design]:
    """The grid of designs of the power curves."""
    return [Design(g, d, t) for g in cfg.groups for d in cfg.days for t in cfg.traffic]


def _clean(scores: dict) -> dict:
    """Drop nested blocks and make a score dict JSON-friendly."""
    out = {}
    for k, v in scores.items():
        if isinstance(v, dict | list):
            continue
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out


@dataclass
class _Truths:
    """Each world's true alignments and what the report keeps of them (by world label)."""

    truth: dict[str, Truth] = field(default_factory=dict)
    pairs: dict[str, list[dict]] = field(default_factory=dict)  # the true pairs, for the report
    stability: dict[str, dict] = field(default_factory=dict)
    oracles: dict[str, dict] = field(default_factory=dict)  # oracle KPIs per arm
    oracle_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    decided: dict[str, pd.DataFrame] = field(default_factory=dict)  # pairs the bootstrap decides


def run_validation(
    worlds: Sequence[WorldPanel],
    cfg: ValidateConfig,
    align: AlignConfig,
    *,
    flip_reference: str | None = None,
) -> dict:
    """Every score of the strategy check (module docstring); a JSON-ready dict.

    ``flip_reference`` names the seed world the flip worlds differ from only in ``rho_aq``
    (default: the first seed world). The steps, in order: the true alignments of every
    world, the power curves on the primary (first seed) world, the choice of the design,
    the reporting seeds on every seed world, the flip worlds.
    """
    started = time.perf_counter()
    timing: dict[str, float] = {}
    seed_worlds = [w for w in worlds if w.role == "seed"]
    flip_worlds = [w for w in worlds if w.role == "flip"]
    if not seed_worlds:
        raise ValueError("need at least one seed world")
    primary = seed_worlds[0]
    truths = _world_truths(worlds, cfg)
    timing["truth"] = time.perf_counter() - started

    t0 = time.perf_counter()
    curves, ceiling = _power_curves(primary, truths, cfg, align)
    timing["curves"] = time.perf_counter() - t0
    chosen, reason = _chosen_design(curves, cfg)
    design = Design(int(chosen["groups"]), int(chosen["days"]), float(chosen["traffic"]))

    t0 = time.perf_counter()
    reporting = _reporting(seed_worlds, truths, design, cfg, align)
    timing["reporting"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    labels = {w.label: w for w in seed_worlds}
    if flip_reference is not None and flip_reference not in labels:
        raise ValueError(f"flip reference {flip_reference!r} is not a seed world: {list(labels)}")
    reference = labels[flip_reference] if flip_reference is not None else primary
    flips = {}
    for f, wp in enumerate([reference, *flip_worlds]):
        flips[wp.label] = _flip_summary(
            wp, truths.truth[wp.label], design, cfg, align, _seed(cfg.seed, _FLIP, f),
            _common(wp, cfg, align),
        )  # fmt: skip
    directions = _flip_directions(flips, reference.label, flip_worlds, cfg)
    timing["flip_worlds"] = time.perf_counter() - t0

    metrics, kpis = family(primary.panel, cfg)
    result = {
        **_pooled_scores(reporting),
        "flip_worlds": flips,
        "flip_directions": directions,
        "design": {"groups": design.groups, "days": design.days, "traffic": design.traffic},
        "design_reason": reason,
        "design_meets_targets": chosen["meets_targets"],
        "seeds": {
            "experiment": cfg.experiment_seeds,
            "tuning": cfg.tuning_seeds,
            "world": [w.world_seed for w in seed_worlds],
            "root": cfg.seed,
        },
        "scope": (
            "precision/recall/f1/sign_errors/aa_fwer/placebo_fpr: pooled over the seed worlds "
            "at the chosen design with reporting seeds; default_world: the profile's world"
        ),
        "default_world": reporting["per_world"][primary.label],
        "worlds": reporting["per_world"],
        "acceptance": _acceptance(reporting["per_world"][primary.label], cfg),
        "targets": _targets(cfg),
        "curves": curves,
        "noise_free_ceiling": ceiling,
        "analytic_power": _analytic_power(len(metrics) * len(kpis), cfg, align),
        "truth": truths.pairs,
        "oracle": truths.oracles,
        "oracle_stability": truths.stability,
        "family": {"metrics": metrics, "kpis": kpis},
        "decision": align.model_dump(),
        "threshold": cfg.threshold,
        "world_info": {w.label: w.info for w in worlds},
    }
    timing["total"] = time.perf_counter() - started
    result["timing_s"] = timing
    return result


def _world_truths(worlds: Sequence[WorldPanel], cfg: ValidateConfig) -> _Truths:
    """The oracle KPIs, the true alignments, their bootstrap stability and the pairs the
    bootstrap decides, for every world."""
    out = _Truths()
    for wp in worlds:
        truth, oracle, stable = world_truth(wp, cfg)
        out.truth[wp.label] = truth
        out.oracle_tables[wp.label] = oracle
        boot = truth_bootstrap(wp.panel, truth, n_boot=cfg.truth_bootstrap, seed=cfg.seed)
        decided = boot["decided"].to_numpy()
        out.decided[wp.label] = boot["decided"]
        true = truth.sign.to_numpy() != 0
        out.stability[wp.label] = {
            **stable,
            "decided_share": float(decided.mean()),
            "undecided_true": int((true & ~decided).sum()),
            "undecided_not_true": int((~true & ~decided).sum()),
        }
        out.pairs[wp.label] = [
            {"metric": m, "kpi": k, "sign": s, "rho": float(truth.rho.loc[m, k])}
            for m, k, s in truth.pairs()
        ]
        out.oracles[wp.label] = {
            arm: {k: (None if not np.isfinite(v) else float(v)) for k, v in row.items()}
            for arm, row in oracle.iterrows()
        }
    return out


def _common(wp: WorldPanel, cfg: ValidateConfig, align: AlignConfig) -> dict:
    """The keyword arguments every design evaluation on world ``wp`` shares."""
    metrics, kpis = family(wp.panel, cfg)
    return {
        "metrics": metrics,
        "kpis": kpis,
        "fixed": fixed_arms(wp.panel, cfg),
        "align": align,
        "sessions_per_day": wp.sessions_per_day,
    }


def _power_curves(
    primary: WorldPanel, truths: _Truths, cfg: ValidateConfig, align: AlignConfig
) -> tuple[list[dict], list[dict]]:
    """Every design of ``[validate]`` scored with tuning seeds on the primary world, and
    the noise-free ceiling per group count (a design that cannot be run gives a row with
    its ``error``)."""
    truth = truths.truth[primary.label]
    common = _common(primary, cfg, align)
    curves = []
    for i, design in enumerate(designs(cfg)):
        try:
            row = evaluate_design(
                primary.panel, truth, design, n_rep=cfg.tuning_seeds,
                seed=_seed(cfg.seed, _TUNING, i), **common,
            )  # fmt: skip
        except ValueError as exc:  # too few front points for G, or too little traffic
            curves.append({**design.to_dict(), "error": str(exc)})
            continue
        curves.append({**_clean(row), "world": primary.label})
    ceiling = []
    for g in cfg.groups:
        try:
            row = noise_free_ceiling(
                primary.panel, truth, truths.oracle_tables[primary.label], g,
                **{k: v for k, v in common.items() if k != "sessions_per_day"},
            )  # fmt: skip
        except ValueError as exc:
            ceiling.append({"groups": g, "error": str(exc)})
            continue
        ceiling.append(_clean(row))
    return curves, ceiling


def _targets(cfg: ValidateConfig) -> dict[str, float]:
    return {"precision": cfg.target_precision, "recall": cfg.target_recall, "fwer": cfg.target_fwer}


def _chosen_design(curves: list[dict], cfg: ValidateConfig) -> tuple[dict, str]:
    """``[validate.design]`` when fixed, else :func:`choose_design` over the curves."""
    if cfg.design is not None:
        return {**cfg.design.model_dump(), "meets_targets": None}, "fixed by [validate.design]"
    valid = pd.DataFrame([c for c in curves if "error" not in c])
    if valid.empty:
        raise ValueError(f"no design could be evaluated: {curves}")
    return choose_design(valid, _targets(cfg))


def _reporting(
    seed_worlds: list[WorldPanel],
    truths: _Truths,
    design: Design,
    cfg: ValidateConfig,
    align: AlignConfig,
) -> dict[str, Any]:
    """The chosen design with reporting seeds on every seed world: scores, A/A and
    placebo controls per world (``per_world``) and their parts for pooling."""
    per_world: dict[str, dict] = {}
    aa_parts, placebo_parts, score_parts = [], [], []
    for w, wp in enumerate(seed_worlds):
        common = _common(wp, cfg, align)
        scores = evaluate_design(
            wp.panel, truths.truth[wp.label], design, n_rep=cfg.experiment_seeds,
            seed=_seed(cfg.seed, _REPORTING, w), decided=truths.decided[wp.label], **common,
        )  # fmt: skip
        aa = aa_control(
            wp.panel, design, aa_arm=aa_arm(wp.panel, cfg), n_rep=cfg.experiment_seeds,
            seed=_seed(cfg.seed, _AA, w), **common,
        )  # fmt: skip
        placebo = placebo_control(
            wp.panel, design, n_rep=cfg.experiment_seeds,
            seed=_seed(cfg.seed, _PLACEBO, w), **common,
        )  # fmt: skip
        score_parts.append(scores)
        aa_parts.append(aa)
        placebo_parts.append(placebo)
        per_world[wp.label] = {
            **_clean(scores),
            "world_seed": wp.world_seed,
            "rho_aq": wp.rho_aq,
            "true_pairs": len(truths.pairs[wp.label]),
            "aa_fwer": aa["fwer"],
            "placebo_fpr": placebo["fpr"],
            "arms": scores["arms"],
            "per_pair": scores["per_pair"],
            "decided": {
                k: scores["decided_scores"][k] for k in ("precision", "recall", "f1", "sign_errors")
            },
        }
    return {"per_world": per_world, "scores": score_parts, "aa": aa_parts, "placebo": placebo_parts}


def _se(p: float, n: int) -> float:
    """Monte-Carlo standard error of a rate ``p`` estimated from ``n`` replicates."""
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def _pooled_scores(reporting: dict[str, Any]) -> dict[str, Any]:
    """Scores pooled over the seed worlds, and the pooled A/A and placebo rates."""
    pooled = pool_scores(reporting["scores"])
    pooled_decided = pool_scores([p["decided_scores"] for p in reporting["scores"]])
    n_aa = sum(p["replicates"] for p in reporting["aa"])
    aa_fwer = sum(p["fwer"] * p["replicates"] for p in reporting["aa"]) / n_aa
    placebo_fpr = sum(p["fpr"] * p["replicates"] for p in reporting["placebo"]) / n_aa
    return {
        "precision": _finite(pooled["precision"]),
        "recall": _finite(pooled["recall"]),
        "f1": _finite(pooled["f1"]),
        "sign_errors": _finite(pooled["sign_errors"]),
        "decided_pairs": {
            "precision": _finite(pooled_decided["precision"]),
            "recall": _finite(pooled_decided["recall"]),
            "f1": _finite(pooled_decided["f1"]),
            "note": "scores restricted to the pairs whose truth the oracle's bootstrap decides",
        },
        "aa_fwer": float(aa_fwer),
        "aa_fwer_se": _se(aa_fwer, n_aa),
        "placebo_fpr": float(placebo_fpr),
        "placebo_fpr_se": _se(placebo_fpr, n_aa),
    }


def _acceptance(default_world: dict, cfg: ValidateConfig) -> dict[str, bool]:
    """The targets on the profile's own world (A/A within two Monte-Carlo SEs)."""
    return {
        "precision_ok": bool(_ge(default_world.get("precision"), cfg.target_precision)),
        "recall_ok": bool(_ge(default_world.get("recall"), cfg.target_recall)),
        "aa_fwer_ok": bool(
            default_world["aa_fwer"]
            <= cfg.target_fwer + 2 * _se(cfg.target_fwer, cfg.experiment_seeds)
        ),
    }


def _analytic_power(family_size: int, cfg: ValidateConfig, align: AlignConfig) -> list[dict]:
    """``pingouin.power_corr``'s power for r = 0.8, 0.9, 0.95 at each group count, for one
    test and Bonferroni over the family."""
    return [
        {
            "r": r,
            "groups": g,
            "power_single_test": float(analytic_power(r, g, align.alpha)),
            "power_bonferroni": float(analytic_power(r, g, align.alpha, family_size)),
        }
        for r in (0.8, 0.9, 0.95)
        for g in cfg.groups
    ]


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _ge(value: float | None, target: float) -> bool:
    return value is not None and value >= target


def _flip_summary(
    wp: WorldPanel, truth: Truth, design: Design, cfg: ValidateConfig, align: AlignConfig,
    seed: int, common: dict,
) -> dict:  # fmt: skip
    """Scores at the design plus, per key pair, the truth and the discovered-sign rates."""
    scores = evaluate_design(
        wp.panel, truth, design, n_rep=cfg.experiment_seeds, seed=seed, return_signs=True, **common
    )
    signs = scores.pop("signs")
    metrics, kpis = common["metrics"], common["kpis"]
    out: dict[str, float | int | None] = {
        "rho_aq": wp.rho_aq,
        "true_pairs": int((truth.sign.to_numpy() != 0).sum()),
        "precision": _finite(scores["precision"]),
        "recall": _finite(scores["recall"]),
        "f1": _finite(scores["f1"]),
    }
    for metric, kpi in cfg.key_pairs:
        if metric not in metrics or kpi not in kpis:
            continue
        i, j = metrics.index(metric), kpis.index(kpi)
        tag = f"{metric}~{kpi}"
        out[f"true_rho[{tag}]"] = _finite(float(truth.rho.loc[metric, kpi]))
        out[f"true_sign[{tag}]"] = int(truth.sign.loc[metric, kpi])
        out[f"found_pos[{tag}]"] = float((signs[:, i, j] > 0).mean())
        out[f"found_neg[{tag}]"] = float((signs[:, i, j] < 0).mean())
        out[f"mean_sign[{tag}]"] = float(signs[:, i, j].mean())
    return out


def _flip_directions(
    flips: dict[str, dict], base: str, flip_worlds: Sequence[WorldPanel], cfg: ValidateConfig
) -> dict[str, dict]:
    """Did truth and discoveries move the predicted way, per flip world and key pair?

    Prediction: relative to the profile's world, a world with *lower* ``rho_aq`` (click-bait)
    moves the key pairs' correlation down (towards negative) and a world with *higher*
    ``rho_aq`` moves it up. ``truth_moves`` checks the oracle's rho, ``strategy_moves`` the
    mean discovered sign, ``tracks_truth`` whether the strategy's most frequent decision
    equals that world's true sign.
    """
    out: dict[str, dict] = {}
    base_rho = flips[base]["rho_aq"]
    for wp in flip_worlds:
        direction = 1.0 if wp.rho_aq > base_rho else -1.0
        entry = {}
        for metric, kpi in cfg.key_pairs:
            tag = f"{metric}~{kpi}"
            if f"true_rho[{tag}]" not in flips[wp.label]:
                continue
            here, there = flips[wp.label], flips[base]
            rho_here, rho_base = here[f"true_rho[{tag}]"], there[f"true_rho[{tag}]"]
            truth_moves = (
                rho_here is not None
                and rho_base is not None
                and direction * (rho_here - rho_base) > 0
            )
            # The mean discovered sign moved the predicted way, or both worlds already sit
            # at the predicted extreme (every run discovers the predicted sign).
            step = direction * (here[f"mean_sign[{tag}]"] - there[f"mean_sign[{tag}]"])
            strategy_moves = step > 0 or (step == 0 and here[f"mean_sign[{tag}]"] == direction)
            rates = {1: here[f"found_pos[{tag}]"], -1: here[f"found_neg[{tag}]"]}
            rates[0] = 1.0 - rates[1] - rates[-1]
            modal = max(rates, key=lambda s: rates[s])
            entry[tag] = {
                "truth_moves": bool(truth_moves),
                "strategy_moves": bool(strategy_moves),
                "tracks_truth": bool(modal == here[f"true_sign[{tag}]"]),
            }
        out[wp.label] = entry
    return out
