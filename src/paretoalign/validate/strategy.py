"""Scoring the strategy on an arm panel: designs, replicate experiments, controls, curves.

One *design* is (G groups, D days, traffic share). Its groups are the panel's fixed arms
(control, off-front arms) plus ``G - #fixed`` points of the traced front chosen by
:func:`paretoalign.front.groups.choose_front_points` (max-min dispersion in offline-metric
space, the same rule the experiment uses). Every group gets
``sessions_per_day * D * traffic / G`` shoppers in expectation.

For each design and R experiment seeds, :func:`evaluate_design` draws R replicate
experiments with the fast path (:mod:`paretoalign.validate.fastsim`), applies the exact
decision rule of the alignment table (:func:`paretoalign.align.power.decide_batch`) and
scores the signed discoveries against the world's true alignment set
(:func:`paretoalign.align.power.score_decisions`).

Controls:

- **A/A** (:func:`aa_control`): every group is served the *same* arm while the analysis
  uses the design's offline metric values as planned; every discovery is false, so the
  share of replicates with any discovery is the family-wise error rate.
- **Placebo metric** (:func:`placebo_control`): one extra offline "metric" whose values are
  a fresh random permutation of an iid normal vector per replicate is analysed together with
  the real metrics (it joins the multiplicity family); the share of replicates in which any
  placebo pair is discovered is its family-wise false-positive rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from paretoalign.align.analysis import AlignConfig, adjust_rows, decide
from paretoalign.align.correlation import orderings_for, permutation_test_batch
from paretoalign.align.power import decide_batch, score_decisions
from paretoalign.validate.fastsim import fast_experiment
from paretoalign.validate.oracle import ArmPanel, Truth


@dataclass(frozen=True)
class Design:
    """An experiment design: groups G, days D, traffic share (of the shop's daily shoppers)."""

    groups: int
    days: int
    traffic: float

    def shoppers_per_group(self, sessions_per_day: float) -> float:
        """Expected shoppers per group: ``sessions_per_day * days * traffic / groups``."""
        return sessions_per_day * self.days * self.traffic / self.groups

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def design_arms(
    panel: ArmPanel, n_groups: int, metrics: Sequence[str], fixed: Sequence[str]
) -> np.ndarray:
    """Panel positions of a design's G arms: the ``fixed`` arms plus chosen front points.

    Raises ValueError when G is smaller than the number of fixed arms plus one, or larger
    than the arms available.
    """
    from paretoalign.front.groups import choose_front_points

    fixed_idx = panel.index(list(fixed)) if fixed else np.zeros(0, np.int64)
    n_model = n_groups - len(fixed_idx)
    if n_model < 1:
        raise ValueError(f"{n_groups} groups leave no room for a front point next to {list(fixed)}")
    front_idx = np.flatnonzero(panel.front & ~np.isin(np.arange(panel.n_arms), fixed_idx))
    if n_model > len(front_idx):
        raise ValueError(f"{n_model} front groups requested, the panel has {len(front_idx)}")
    table = panel.offline.iloc[front_idx].reset_index(drop=True)
    chosen = front_idx[choose_front_points(table, n_model, list(metrics))]
    return np.concatenate([fixed_idx, chosen]).astype(np.int64)


def _shared_orderings(
    n_groups: int, cfg: AlignConfig, rng: np.random.Generator
) -> np.ndarray | None:
    if n_groups <= cfg.max_exact_groups:
        return None
    orderings, _ = orderings_for(
        n_groups, max_exact=cfg.max_exact_groups, n_resamples=cfg.n_resamples, seed=rng
    )
    return orderings


def evaluate_design(
    panel: ArmPanel,
    truth: Truth,
    design: Design,
    *,
    metrics: Sequence[str],
    kpis: Sequence[str],
    fixed: Sequence[str],
    align: AlignConfig,
    sessions_per_day: float,
    n_rep: int,
    seed: int,
    return_signs: bool = False,
    decided: pd.DataFrame | None = None,
) -> dict:
    """Scores of the strategy at one design over ``n_rep`` replicate experiments.

    Returns :func:`score_decisions`'s dict plus ``design`` fields, the chosen ``arms``,
    ``shoppers_per_group`` and ``per_pair`` (discovery rate of every true pair with the
    right sign, keyed ``"metric|kpi"``); with ``return_signs`` also ``signs``, the
    ``(R, M, K)`` int8 decisions; with ``decided`` (bool M x K, from
    :func:`paretoalign.validate.oracle.truth_bootstrap`) also ``decided_scores``, the scores
    restricted to the pairs whose truth the oracle decides.
    """
    rng = np.random.default_rng(seed)
    arms = design_arms(panel, design.groups, metrics, fixed)
    n_g = design.shoppers_per_group(sessions_per_day)
    x = panel.offline.iloc[arms][list(metrics)].to_numpy(np.float64).T
    y = fast_experiment(panel, arms, n_g, kpis, n_rep=n_rep, seed=rng)
    sign, _, _ = decide_batch(x, y, align, orderings=_shared_orderings(len(arms), align, rng))
    truth_sign = truth.sign.loc[list(metrics), list(kpis)].to_numpy()
    scores = score_decisions(sign, truth_sign)
    if decided is not None:
        mask = decided.loc[list(metrics), list(kpis)].to_numpy(bool)
        scores["decided_scores"] = score_decisions(sign, truth_sign, mask)
    hit = (sign == truth_sign[None]) & (truth_sign[None] != 0)
    per_pair = {
        f"{m}|{k}": float(hit[:, i, j].mean())
        for i, m in enumerate(metrics)
        for j, k in enumerate(kpis)
        if truth_sign[i, j] != 0
    }
    out = {
        **design.to_dict(),
        **scores,
        "arms": [panel.names[a] for a in arms],
        "shoppers_per_group": float(n_g),
        "per_pair": per_pair,
    }
    if return_signs:
        out["signs"] = sign
    return out


def aa_control(
    panel: ArmPanel,
    design: Design,
    *,
    aa_arm: str,
    metrics: Sequence[str],
    kpis: Sequence[str],
    fixed: Sequence[str],
    align: AlignConfig,
    sessions_per_day: float,
    n_rep: int,
    seed: int,
) -> dict[str, float]:
    """A/A: all G groups served ``aa_arm``, analysed with the design's offline metrics.

    Returns ``fwer`` (share of replicates with any discovery), its Monte-Carlo standard
    error ``fwer_se``, ``mean_discoveries`` and ``replicates``.
    """
    rng = np.random.default_rng(seed)
    arms = design_arms(panel, design.groups, metrics, fixed)
    x = panel.offline.iloc[arms][list(metrics)].to_numpy(np.float64).T
    same = np.full(len(arms), panel.index([aa_arm])[0])
    y = fast_experiment(
        panel, same, design.shoppers_per_group(sessions_per_day), kpis, n_rep=n_rep, seed=rng
    )
    sign, _, _ = decide_batch(x, y, align, orderings=_shared_orderings(len(arms), align, rng))
    any_hit = (sign != 0).any(axis=(1, 2))
    fwer = float(any_hit.mean())
    return {
        "fwer": fwer,
        "fwer_se": math.sqrt(max(fwer * (1 - fwer), 1e-12) / n_rep),
        "mean_discoveries": float((sign != 0).sum(axis=(1, 2)).mean()),
        "replicates": n_rep,
    }


def placebo_control(
    panel: ArmPanel,
    design: Design,
    *,
    metrics: Sequence[str],
    kpis: Sequence[str],
    fixed: Sequence[str],
    align: AlignConfig,
    sessions_per_day: float,
    n_rep: int,
    seed: int,
) -> dict[str, float]:
    """A placebo offline metric analysed with the real ones (module docstring).

    The placebo's values in replicate r are ``v[sigma_r]`` for one iid N(0, 1) vector ``v``
    and a fresh uniform permutation ``sigma_r``; by the relabelling identity its
    permutation p-values equal those of ``v`` against the KPI table with its groups
    permuted by ``sigma_r^{-1}``, which lets all replicates share ``v``'s permuted copies.

    Returns ``fpr`` (share of replicates with any placebo discovery), ``fpr_se``,
    ``pair_rate`` (share of placebo pairs discovered) and ``replicates``.
    """
    rng = np.random.default_rng(seed)
    arms = design_arms(panel, design.groups, metrics, fixed)
    n_groups = len(arms)
    x = panel.offline.iloc[arms][list(metrics)].to_numpy(np.float64).T
    y = fast_experiment(
        panel, arms, design.shoppers_per_group(sessions_per_day), kpis, n_rep=n_rep, seed=rng
    )
    orderings = _shared_orderings(n_groups, align, rng)
    real = permutation_test_batch(
        x, y, align.statistic, max_exact=align.max_exact_groups, orderings=orderings
    )
    placebo_values = rng.standard_normal(n_groups)
    # tau_r = sigma_r^{-1}, itself a uniform random permutation.
    tau = np.argsort(rng.random((n_rep, n_groups)), axis=1)
    y_relabelled = np.take_along_axis(y, tau[:, None, :], axis=2)
    placebo = permutation_test_batch(
        placebo_values[None, :],
        y_relabelled,
        align.statistic,
        max_exact=align.max_exact_groups,
        orderings=orderings,
    )
    p = np.concatenate([real.p, placebo.p], axis=1)  # (R, M + 1, K)
    r = np.concatenate([real.r, placebo.r], axis=1)
    p_adj = adjust_rows(p.reshape(n_rep, -1), align.correction).reshape(p.shape)
    sign = decide(r, p_adj, align.alpha, align.min_abs_r)
    hits = sign[:, -1, :] != 0
    fpr = float(hits.any(axis=1).mean())
    return {
        "fpr": fpr,
        "fpr_se": math.sqrt(max(fpr * (1 - fpr), 1e-12) / n_rep),
        "pair_rate": float(hits.mean()),
        "replicates": n_rep,
    }


def noise_free_ceiling(
    panel: ArmPanel,
    truth: Truth,
    oracle: pd.DataFrame,
    n_groups: int,
    *,
    metrics: Sequence[str],
    kpis: Sequence[str],
    fixed: Sequence[str],
    align: AlignConfig,
) -> dict:
    """The strategy with infinite traffic: the design's groups analysed at their oracle KPIs.

    What is left is identifiability: whether the G chosen arms' offline metrics and true
    KPIs correlate the way the whole family does, and whether G points can reach the
    significance level at all. Returns :func:`score_decisions` of that single decision.
    """
    arms = design_arms(panel, n_groups, metrics, fixed)
    x = panel.offline.iloc[arms][list(metrics)].to_numpy(np.float64).T
    y = oracle.iloc[arms][list(kpis)].to_numpy(np.float64).T[None]
    sign, _, _ = decide_batch(x, y, align, seed=0)
    truth_sign = truth.sign.loc[list(metrics), list(kpis)].to_numpy()
    return {"groups": n_groups, **score_decisions(sign, truth_sign)}


def choose_design(
    curves: pd.DataFrame, targets: dict[str, float], *, aa_fwer: dict[tuple, float] | None = None
) -> tuple[dict, str]:
    """The cheapest design that meets the targets, and the reason in words.

    Parameters
    ----------
    curves : DataFrame
        One row per design (``groups, days, traffic, precision, recall, f1``).
    targets : dict
        ``precision``, ``recall`` (minimum) and ``fwer`` (maximum, checked when ``aa_fwer``
        holds a value for the design).

    Cost = shopper-days (``days * traffic``), then groups, then days. When no design meets
    the targets, the design with the highest F1 is returned and the reason says so.
    """
    frame = curves.copy()
    for col in ("precision", "recall", "f1"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)  # None -> NaN
    frame["cost"] = frame["days"] * frame["traffic"]
    ok = (frame["precision"] >= targets["precision"]) & (frame["recall"] >= targets["recall"])
    if aa_fwer:
        fw = frame.apply(lambda r: aa_fwer.get((r["groups"], r["days"], r["traffic"]), 0.0), axis=1)
        ok &= fw <= targets["fwer"]
    if ok.any():
        best = frame[ok].sort_values(["cost", "groups", "days"]).iloc[0]
        reason = (
            f"cheapest design meeting precision >= {targets['precision']} and recall >= "
            f"{targets['recall']} (tuning seeds): G={int(best['groups'])}, D={int(best['days'])}, "
            f"traffic={best['traffic']:g} ({int(ok.sum())} of {len(frame)} designs qualify; cost = "
            f"days x traffic, ties -> fewer groups, fewer days)"
        )
        met = True
    else:
        best = frame.sort_values(["f1", "cost"], ascending=[False, True], na_position="last").iloc[
            0
        ]
        f1 = "n/a" if not np.isfinite(best["f1"]) else f"{best['f1']:.3f}"
        reason = (
            f"no design meets precision >= {targets['precision']} and recall >= {targets['recall']}; "
            f"best F1 {f1} at G={int(best['groups'])}, D={int(best['days'])}, "
            f"traffic={best['traffic']:g}"
        )
        met = False
    design = {
        "groups": int(best["groups"]),
        "days": int(best["days"]),
        "traffic": float(best["traffic"]),
    }
    return {**design, "meets_targets": met}, reason
