"""Power of the alignment analysis for a given number of groups, days and traffic.

Two routes:

1. **Analytic** (:func:`analytic_power`, :func:`groups_for_power`): ``pingouin.power_corr``
   for a correlation of true size r over n = G groups at a per-test level. With a family of
   m tests, Holm's first step is Bonferroni (level alpha / m); BH's level for a pair
   depends on how many other pairs are discovered, between alpha / m (one true pair) and
   alpha (all true). KPI noise attenuates the correlation the groups can show
   (:func:`attenuated_r`): with the true spread ``s`` of the G group means of a KPI and the
   standard error ``se`` of each group's estimate, the expected observed correlation is
   :math:`r \\sqrt{\\lambda}` with reliability :math:`\\lambda = s^2 / (s^2 + se^2)`.
   Traffic enters through ``se`` (:math:`se \\propto 1 / \\sqrt{\\text{shoppers per group}}`).
2. **Simulation** (:func:`simulate_power`): draw R replicate experiments of KPI means
   :math:`\\hat y_{kg} \\sim N(\\mu_{kg}, se_{kg}^2)` around known true group means, run the
   exact decision rule of :func:`paretoalign.align.analysis.discover` on each, and count.
   This is the parametric shortcut; :mod:`paretoalign.validate.check` does the same with
   the shop's shopper-level outcomes instead of normal noise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from paretoalign.align.analysis import AlignConfig, adjust_rows, decide
from paretoalign.align.correlation import orderings_for, permutation_test_batch


def _power_corr(r: float, n: int, alpha: float) -> float:
    import pingouin

    if n <= 4 or not np.isfinite(r):
        # pingouin's Fisher-z power needs n > 4; below that, the exact permutation test
        # (min p = 2/n!) is the binding limit anyway.
        return math.nan
    if abs(r) >= 1.0:
        return 1.0
    if r == 0.0:
        return alpha
    return float(pingouin.power_corr(r=abs(r), n=n, alpha=alpha))


def analytic_power(
    r: float | np.ndarray, n_groups: int | np.ndarray, alpha: float = 0.05, n_tests: int = 1
) -> np.ndarray:
    """Power of the two-sided correlation test over ``n_groups`` points at level alpha / n_tests.

    ``pingouin.power_corr`` (Fisher z). ``n_tests > 1`` gives the Bonferroni level, i.e. the
    first step of Holm over a family of that size (a lower bound for BH). Broadcasts ``r``
    against ``n_groups``. Where the exact permutation test cannot reach the level at all
    (its smallest p-value ``2 / G!`` exceeds ``alpha / n_tests``) the power is 0, whatever
    the Fisher-z approximation says; otherwise NaN for n <= 4 (outside that
    approximation's range).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if n_tests < 1:
        raise ValueError(f"n_tests must be >= 1, got {n_tests}")
    level = alpha / n_tests
    rr, nn = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(n_groups))
    out = np.empty(rr.shape)
    for idx in np.ndindex(rr.shape):
        n = int(nn[idx])
        power = _power_corr(float(rr[idx]), n, level)
        if n >= 3 and 2.0 / math.factorial(min(n, 20)) > level:
            power = 0.0  # the exact permutation test can never reach the level
        out[idx] = power
    return out


def groups_for_power(r: float, power: float = 0.8, alpha: float = 0.05, n_tests: int = 1) -> float:
    """Groups needed to detect a true correlation ``r`` with ``power`` at level alpha / n_tests.

    ``pingouin.power_corr(r, power=power, alpha=level)`` solved for n (a real number, round
    up); NaN when no finite n is found.
    """
    import pingouin

    if not 0 < abs(r) < 1:
        raise ValueError(f"|r| must be in (0, 1), got {r}")
    level = alpha / n_tests
    n = pingouin.power_corr(r=abs(r), power=power, alpha=level)
    return float(n) if n is not None and np.isfinite(n) else math.nan


def reliability(spread: float | np.ndarray, se: float | np.ndarray) -> np.ndarray:
    """:math:`s^2 / (s^2 + se^2)`: share of the observed between-group variance that is real."""
    s = np.asarray(spread, dtype=float)
    e = np.asarray(se, dtype=float)
    if np.any(s < 0) or np.any(e < 0):
        raise ValueError("spread and se must be non-negative")
    s2, e2 = s**2, e**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s2 + e2 > 0, s2 / (s2 + e2), np.nan)


def attenuated_r(
    r: float | np.ndarray, spread: float | np.ndarray, se: float | np.ndarray
) -> np.ndarray:
    """Expected observed correlation :math:`r \\sqrt{\\lambda}` under KPI noise (see module doc)."""
    return np.asarray(r, dtype=float) * np.sqrt(reliability(spread, se))


def score_decisions(
    found: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None
) -> dict[str, float]:
    """Precision, recall, F1 and sign errors of signed decisions against signed truth.

    Parameters
    ----------
    found : ndarray(int, shape=(R, M, K)) or (M, K)
        Discovered signs (+1/-1, 0 = not discovered) per replicate.
    truth : ndarray(int, shape=(M, K))
        True signs (+1/-1 for a true alignment, 0 otherwise).
    mask : ndarray(bool, shape=(M, K)), optional
        Score only these cells (e.g. the pairs whose truth the oracle decides); the others
        count neither as discoveries nor as true pairs.

    Returns
    -------
    dict
        Pooled over replicates: ``precision`` = correct-sign discoveries / discoveries
        (NaN when nothing is discovered), ``recall`` = correct-sign discoveries / true
        alignments, ``f1``, ``sign_errors`` = discoveries of a true pair with the wrong sign
        per discovery of a true pair, ``fdr`` = 1 - precision, ``fwer`` = share of
        replicates with at least one discovery outside the truth or with a wrong sign,
        ``mean_discoveries`` per replicate, per-replicate means ``precision_mean``,
        ``recall_mean``, ``f1_mean`` (replicates without discoveries count precision 1, the
        convention for an empty claim set), ``replicates``, and the raw ``counts`` (see
        :func:`scores_from_counts`; F1 is 0 when nothing true is found).
    """
    found = np.asarray(found)
    truth = np.asarray(truth)
    if found.ndim == 2:
        found = found[None]
    if found.shape[1:] != truth.shape:
        raise ValueError(f"found {found.shape} and truth {truth.shape} do not match")
    keep = np.ones(truth.shape, bool) if mask is None else np.asarray(mask, bool)
    if keep.shape != truth.shape:
        raise ValueError(f"mask {keep.shape} and truth {truth.shape} do not match")
    disc = (found != 0) & keep[None]
    true_pair = (truth != 0) & keep
    correct = disc & (found == truth[None]) & true_pair[None]
    wrong_sign = disc & true_pair[None] & (found != truth[None])
    false_pair = disc & ~true_pair[None]
    n_disc = disc.sum()
    n_true = true_pair.sum() * found.shape[0]
    d_rep = disc.sum(axis=(1, 2))
    c_rep = correct.sum(axis=(1, 2))
    prec_rep = np.where(d_rep > 0, c_rep / np.maximum(d_rep, 1), 1.0)
    rec_rep = c_rep / true_pair.sum() if true_pair.sum() else np.full(len(d_rep), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1_rep = np.where(
            prec_rep + rec_rep > 0, 2 * prec_rep * rec_rep / (prec_rep + rec_rep), 0.0
        )
    counts = {
        "n_discoveries": int(n_disc),
        "n_correct": int(correct.sum()),
        "n_true": int(n_true),
        "n_true_hits": int((disc & true_pair[None]).sum()),
        "n_wrong_sign": int(wrong_sign.sum()),
        "n_fw_errors": int((false_pair | wrong_sign).any(axis=(1, 2)).sum()),
        "replicates": int(found.shape[0]),
    }
    return {
        **scores_from_counts(counts),
        "precision_mean": float(prec_rep.mean()),
        "recall_mean": float(np.mean(rec_rep)),
        "f1_mean": float(np.mean(f1_rep)),
        "mean_discoveries": float(d_rep.mean()),
        "counts": counts,
    }


def scores_from_counts(counts: dict[str, int]) -> dict[str, float]:
    """Pooled precision, recall, F1, sign errors, FDR and FWER from raw counts.

    ``counts`` has ``n_discoveries, n_correct, n_true, n_true_hits, n_wrong_sign,
    n_fw_errors, replicates`` (as in :func:`score_decisions`'s ``counts``); summing the
    counts of several worlds and scoring the sums pools the worlds.
    """
    n_disc, n_correct, n_true = counts["n_discoveries"], counts["n_correct"], counts["n_true"]
    precision = n_correct / n_disc if n_disc else math.nan
    recall = n_correct / n_true if n_true else math.nan
    f1 = (
        2 * precision * recall / (precision + recall)
        if n_disc and n_true and (precision + recall) > 0
        else (0.0 if n_true else math.nan)
    )
    hits = counts["n_true_hits"]
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "sign_errors": float(counts["n_wrong_sign"] / hits) if hits else 0.0,
        "fdr": float(1 - precision) if n_disc else math.nan,
        "fwer": float(counts["n_fw_errors"] / counts["replicates"]),
        "replicates": int(counts["replicates"]),
    }


def pool_scores(parts: Sequence[dict]) -> dict[str, float]:
    """Pool several :func:`score_decisions` results (e.g. worlds) by summing their counts."""
    if not parts:
        raise ValueError("nothing to pool")
    keys = parts[0]["counts"].keys()
    total = {k: sum(int(p["counts"][k]) for p in parts) for k in keys}
    return {**scores_from_counts(total), "counts": total}


def decide_batch(
    x: np.ndarray,
    y: np.ndarray,
    config: AlignConfig,
    *,
    orderings: np.ndarray | None = None,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The decision rule of :func:`~paretoalign.align.analysis.discover` for R replicate tables.

    Parameters
    ----------
    x : ndarray(float, shape=(M, G))
    y : ndarray(float, shape=(R, K, G))
    config : AlignConfig
    orderings : ndarray, optional
        Shared orderings (see :func:`permutation_test_batch`); default: exact for
        G <= max_exact_groups, else ``config.n_resamples`` random ones seeded by ``seed``
        (or ``config.seed``).

    Returns
    -------
    sign, r, p_adj : ndarray, each ``(R, M, K)``
    """
    n_groups = np.asarray(x).shape[-1]
    exact = orderings is None and n_groups <= config.max_exact_groups
    if orderings is None and not exact:
        orderings, _ = orderings_for(
            n_groups,
            max_exact=config.max_exact_groups,
            n_resamples=config.n_resamples,
            seed=config.seed if seed is None else seed,
        )
    res = permutation_test_batch(
        x, y, config.statistic, max_exact=config.max_exact_groups, orderings=orderings
    )
    n_rep = res.p.shape[0]
    p_adj = adjust_rows(res.p.reshape(n_rep, -1), config.correction).reshape(res.p.shape)
    sign = decide(res.r, p_adj, config.alpha, config.min_abs_r)
    return sign, res.r, p_adj


def simulate_power(
    x: np.ndarray,
    mu: np.ndarray,
    se: np.ndarray,
    truth: np.ndarray,
    config: AlignConfig | None = None,
    *,
    n_sims: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """Simulation-based power of the alignment decision with normal KPI noise.

    Parameters
    ----------
    x : ndarray(float, shape=(M, G))
        Offline metrics of the G groups.
    mu : ndarray(float, shape=(K, G))
        True (noise-free) KPI means of the groups.
    se : ndarray(float, shape=(K, G)) or (K, 1)
        Standard error of each group's KPI estimate at the planned traffic
        (``se = sd_per_shopper / sqrt(shoppers per group)``).
    truth : ndarray(int, shape=(M, K))
        True signed alignments (+1/-1/0).
    config : AlignConfig, optional
    n_sims : int
        Replicate experiments R.
    seed : int
        Seeds the noise (and Monte-Carlo orderings).

    Returns
    -------
    dict
        :func:`score_decisions` of the R replicates.
    """
    cfg = config or AlignConfig()
    mu = np.asarray(mu, dtype=float)
    se = np.broadcast_to(np.asarray(se, dtype=float), mu.shape)
    if np.any(se < 0) or not np.all(np.isfinite(se)):
        raise ValueError("se must be finite and non-negative")
    if n_sims < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims}")
    rng = np.random.default_rng(seed)
    y = mu[None] + se[None] * rng.standard_normal((n_sims, *mu.shape))
    sign, _, _ = decide_batch(np.asarray(x, dtype=float), y, cfg, seed=rng)
    return score_decisions(sign, truth)


def power_table(
    r_values: list[float], groups: list[int], alpha: float = 0.05, n_tests: int = 1
) -> pd.DataFrame:
    """Tidy analytic power (``r, groups, n_tests, power``) plus groups needed for power 0.8."""
    rows = []
    for r in r_values:
        need = groups_for_power(r, 0.8, alpha, n_tests)
        for g in groups:
            rows.append(
                {
                    "r": r,
                    "groups": g,
                    "n_tests": n_tests,
                    "power": float(analytic_power(r, g, alpha, n_tests)),
                    "groups_for_power_0.8": need,
                }
            )
    return pd.DataFrame(rows)
