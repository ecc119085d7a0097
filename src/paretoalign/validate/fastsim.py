"""Fast replicate experiments: resample shoppers from an arm panel instead of rerunning the shop.

A real experiment with G groups serves ``n_g`` fresh shoppers per group with the group's
arm and reports ratio-of-sums KPIs. Its sampling distribution, given the world, is that of
shopper-level sums: per group, ``n_g`` independent shoppers from the world's shopper
distribution, each with the outcome the arm gives them.

The fast path replaces "the world's shopper distribution" with the empirical distribution
of the panel's N base shoppers under that arm, and draws each group's shoppers by the
**Poisson bootstrap**: shopper ``i`` enters group ``g`` ``W_gi ~ Poisson(n_g / N)`` times,
independently over groups and replicates. Then the group sums are ``W_g @ counts[arm(g)]``
(one matrix product per group for all replicates), the group sizes ``sum_i W_gi`` vary like
the traffic of a real experiment, and the KPI of a group is its ratio of sums, exactly as
:func:`paretoalign.online.kpis.compute_kpis` computes it. Realised outcomes are resampled
(not the expected ones), so the per-shopper outcome noise is in the draws.

Given the base population, group draws are independent, so the variance of a group's KPI
is the bootstrap variance :math:`\\hat\\sigma^2 / n_g` and the mean is the base
population's KPI — the oracle's value. What the fast path leaves out: day-to-day structure
(the shop is stationary, so ``days`` only scales traffic) and interference between groups
(there is none in the shop). It is checked against real ``run_online`` experiments by
:func:`compare_with_real` (means and CI widths).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from paretoalign.validate.oracle import ArmPanel, kpis_from_sums


def sample_group_sums(
    panel: ArmPanel,
    group_arms: Sequence[int],
    shoppers_per_group: float,
    n_rep: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson-bootstrap column sums of R replicate experiments.

    Parameters
    ----------
    panel : ArmPanel
    group_arms : sequence of int, length G
        Arm (panel position) served to each group; repeats allowed (A/A: all equal).
    shoppers_per_group : float
        Expected shoppers per group ``n_g`` (> 0).
    n_rep : int
        Replicates R.
    rng : numpy.random.Generator

    Returns
    -------
    sums : ndarray(float64, shape=(R, G, C))
    shoppers : ndarray(float64, shape=(R, G))
    """
    arms = np.asarray(group_arms, dtype=np.int64)
    if arms.ndim != 1 or len(arms) < 1:
        raise ValueError("group_arms must be a non-empty 1-D sequence")
    if np.any(arms < 0) or np.any(arms >= panel.n_arms):
        raise ValueError(f"group arm indices must be in 0..{panel.n_arms - 1}")
    if not shoppers_per_group > 0:
        raise ValueError(f"shoppers_per_group must be > 0, got {shoppers_per_group}")
    if n_rep < 1:
        raise ValueError(f"n_rep must be >= 1, got {n_rep}")
    lam = shoppers_per_group / panel.n_shoppers
    n_cols = panel.counts.shape[2]
    sums = np.empty((n_rep, len(arms), n_cols))
    shoppers = np.empty((n_rep, len(arms)))
    for g, arm in enumerate(arms):
        weights = rng.poisson(lam, size=(n_rep, panel.n_shoppers)).astype(np.float64)
        sums[:, g, :] = weights @ panel.counts[arm]
        shoppers[:, g] = weights.sum(axis=1)
    return sums, shoppers


def fast_experiment(
    panel: ArmPanel,
    group_arms: Sequence[int],
    shoppers_per_group: float,
    kpi_names: Sequence[str],
    *,
    n_rep: int,
    seed: int | np.random.Generator,
    allow_undefined: bool = False,
) -> np.ndarray:
    """KPI tables of R replicate experiments, shape ``(R, K, G)`` (see the module docstring).

    A group with no shoppers or a zero denominator (e.g. no clicks for the conversion rate)
    has an undefined KPI. With the traffic of any real design (hundreds of shoppers per
    group and more) this does not happen, so by default a NaN raises a ValueError naming the
    group size; ``allow_undefined=True`` returns the NaN instead (for checks against tiny
    real runs, which have the same problem).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    sums, shoppers = sample_group_sums(panel, group_arms, shoppers_per_group, n_rep, rng)
    kpis = kpis_from_sums(sums, shoppers, kpi_names)  # (R, G, K)
    if not allow_undefined and not np.all(np.isfinite(kpis)):
        raise ValueError(
            f"undefined KPI in a replicate ({shoppers_per_group:.0f} shoppers per group): "
            "a group had no shoppers or no impressions; raise the traffic"
        )
    return kpis.transpose(0, 2, 1)


def compare_with_real(
    fast: np.ndarray,
    real_values: np.ndarray,
    real_se: np.ndarray,
    base_se: np.ndarray,
    kpi_names: Sequence[str],
) -> list[dict[str, float | str]]:
    """Check the fast path against real experiment runs, per KPI.

    Parameters
    ----------
    fast : ndarray(float64, shape=(R, K, G))
        Fast-path replicates of the design the real runs used.
    real_values, real_se : ndarray(float64, shape=(S, K, G))
        KPI estimates and their delta-method standard errors from S real runs
        (``run_online`` with fresh experiment seeds and fresh shoppers).
    base_se : ndarray(float64, shape=(K, G))
        Standard error of the base population's KPI of each group's arm (the fast path is
        centred on the base population, the real runs on the world's population).

    Returns
    -------
    list of dict
        Per KPI: ``mean_fast`` and ``mean_real`` (averaged over groups and replicates),
        ``mean_z`` = mean over groups of the standardised difference of the two means,
        (real mean - fast mean) / sqrt(se_real^2 / S + base_se^2 + sd_fast^2 / R),
        ``max_abs_z`` its largest absolute value, ``sd_fast`` (spread of the fast
        replicates, averaged over groups), ``se_real`` (delta-method SE of a real run,
        averaged), ``width_ratio = sd_fast / se_real`` (1 = the fast path's interval
        width matches a real run's) and ``groups_compared`` (groups where the KPI is
        defined in both; NaN replicates are left out of the means).
    """
    fast = np.asarray(fast, dtype=np.float64)
    real_values = np.asarray(real_values, dtype=np.float64)
    real_se = np.asarray(real_se, dtype=np.float64)
    base_se = np.asarray(base_se, dtype=np.float64)
    if (
        fast.shape[1:] != real_values.shape[1:]
        or real_values.shape != real_se.shape
        or base_se.shape != fast.shape[1:]
    ):
        raise ValueError(
            f"shapes disagree: fast {fast.shape}, real {real_values.shape}, se {real_se.shape}"
        )
    n_real = real_values.shape[0]
    n_fast = fast.shape[0]
    rows = []
    for k, name in enumerate(kpi_names):
        with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
            # All-NaN cells (a KPI undefined in every run) stay NaN; numpy warns about them.
            warnings.simplefilter("ignore", RuntimeWarning)
            f_mean = np.nanmean(fast[:, k, :], axis=0)
            f_sd = (
                np.nanstd(fast[:, k, :], axis=0, ddof=1)
                if fast.shape[0] > 1
                else np.zeros_like(f_mean)
            )
            r_mean = np.nanmean(real_values[:, k, :], axis=0)
            r_se = np.nanmean(real_se[:, k, :], axis=0)
            z = (r_mean - f_mean) / np.sqrt(r_se**2 / n_real + base_se[k] ** 2 + f_sd**2 / n_fast)
        ok = np.isfinite(z)
        sd_fast = float(f_sd[ok].mean()) if ok.any() else float("nan")
        se_real = float(r_se[ok].mean()) if ok.any() else float("nan")
        rows.append(
            {
                "kpi": name,
                "mean_fast": float(f_mean[ok].mean()) if ok.any() else float("nan"),
                "mean_real": float(r_mean[ok].mean()) if ok.any() else float("nan"),
                "mean_z": float(z[ok].mean()) if ok.any() else float("nan"),
                "max_abs_z": float(np.abs(z[ok]).max()) if ok.any() else float("nan"),
                "sd_fast": sd_fast,
                "se_real": se_real,
                "width_ratio": sd_fast / se_real if se_real > 0 else float("nan"),
                "groups_compared": int(ok.sum()),
            }
        )
    return rows
