"""Choosing the test groups: points spread evenly in offline-metric space, plus arms off it.

Why not evenly in π
-------------------
The front is traced on a grid in π, but equal steps in π are not equal steps in what the
groups are compared on: near the extremes of a Beta(½, ½) grid the metrics barely move,
in the middle they move fast. The alignment analysis regresses KPIs on *offline metrics*,
so the groups should cover the metric range evenly (book: method page, ``method-strategy``).

Selection rule (max-min dispersion)
-----------------------------------
Standardise the chosen metric columns over the candidate points (z-scores; constant
columns dropped) and pick the ``G`` candidates that maximise the smallest pairwise
Euclidean distance between them: start with the candidate farthest from the centroid,
add greedily the candidate farthest from those chosen (farthest-point / k-centre
initialisation), then swap a chosen point for a candidate while that lexicographically
increases the sorted pairwise distances. Deterministic: ties go to the lower grid index.
On a 1-D front this spaces the groups near-uniformly by metric arc length; on a 2-D
(three-objective) front it covers the surface.

Arms off the front
------------------
With two objectives all front points form a 1-D family, so every offline metric is
near-monotone along it and the groups' metrics are collinear: a KPI that moves with π
correlates with all of them, and the analysis cannot tell *which* metric predicts it
(book: method page, ``method-strategy``). Off-front arms break this: baselines (popularity,
co-visitation) and a *popularity-penalised* variant of the model, which ranks by
``h·e_j − α_eff · logpop_j`` and so lowers popularity without moving along the front.
:func:`collinearity_report` measures the effect (pairwise correlations of the groups'
offline metrics with and without the off-front arms) and states the reason in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

ArmKind = Literal["model", "baseline", "control"]


@dataclass(frozen=True)
class Arm:
    """One test group's recommender.

    Attributes
    ----------
    name : str
        Group name (``"g0"``, ``"control"``, ``"popularity"``, ...).
    kind : {"model", "baseline", "control"}
        ``model``: the trained model at ``pi`` (optionally popularity-penalised);
        ``baseline``: an off-front baseline; ``control``: the control arm.
    variant : str
        ``"front"`` (a point of the traced front), ``"popularity_penalised"``, or the
        baseline's name (``"popularity"``, ``"covisitation"``, ``"logging"``).
    pi : tuple of float or None
        The preference point of model arms.
    popularity_penalty : float
        Raw coefficient ``c`` of the popularity penalty (the score is
        ``h·e_j − c·ln(1 + clicks_j)``, see :mod:`paretoalign.front.policies`); 0 for none.
    point : int or None
        Index of the front point (row of ``front.parquet``) for ``variant == "front"``.
    metrics : dict
        The arm's offline metrics on the test log.
    """

    name: str
    kind: ArmKind
    variant: str
    pi: tuple[float, ...] | None = None
    popularity_penalty: float = 0.0
    point: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pi"] = None if self.pi is None else list(self.pi)
        return d

    @classmethod
    def from_front_row(
        cls, name: str, row: Any, objectives: Sequence[str], metrics: Sequence[str]
    ) -> Arm:
        """A model arm at one point of ``front.parquet``: ``row`` is that point's row
        (``point``, ``pi_<objective>`` and the metric columns ``metrics``)."""
        return cls(
            name=name,
            kind="model",
            variant="front",
            pi=tuple(float(row[f"pi_{o}"]) for o in objectives),
            point=int(row["point"]),
            metrics={m: float(row[m]) for m in metrics},
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Arm:
        d = dict(d)
        d["pi"] = None if d.get("pi") is None else tuple(float(v) for v in d["pi"])
        d["metrics"] = {k: float(v) for k, v in d.get("metrics", {}).items()}
        return cls(**d)


def standardise(values: Any) -> np.ndarray:
    """Column z-scores (``ddof = 0``); constant columns are dropped.

    Parameters
    ----------
    values : array-like of shape (P, M)

    Returns
    -------
    ndarray(float64, shape=(P, M'))
        ``M' <= M`` columns, each with mean 0 and standard deviation 1.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("metric values must be finite")
    sd = x.std(axis=0)
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(x).max(axis=0))
    return (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]


def max_min_dispersion(points: Any, n: int) -> np.ndarray:
    """Indices of ``n`` points with (locally) maximal smallest pairwise distance.

    Parameters
    ----------
    points : array-like of shape (P, M)
        Coordinates (already standardised).
    n : int
        ``1 <= n <= P``.

    Returns
    -------
    ndarray(int64, shape=(n,))
        Sorted indices.

    Notes
    -----
    Farthest-point initialisation (a 2-approximation of the max-min dispersion problem),
    then first-improvement swaps on the sorted vector of pairwise distances (compared
    lexicographically) until no swap improves it. Ties go to the lower index.
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"points must be a non-empty 2-D array, got shape {x.shape}")
    if isinstance(n, bool) or not 1 <= int(n) <= len(x):
        raise ValueError(f"n must be in 1..{len(x)}, got {n}")
    n = int(n)
    dist = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2))
    centre = x.mean(axis=0)
    chosen = [int(np.argmax(((x - centre) ** 2).sum(axis=1)))]
    while len(chosen) < n:
        gap = dist[:, chosen].min(axis=1)
        gap[chosen] = -1.0
        chosen.append(int(np.argmax(gap)))

    def key(sel: list[int]) -> tuple[float, ...]:
        sub = dist[np.ix_(sel, sel)][np.triu_indices(len(sel), 1)]
        return tuple(np.round(np.sort(sub), 12))

    best = key(chosen)
    improved = n > 1
    while improved:
        improved = False
        for slot in range(n):
            for cand in range(len(x)):
                if cand in chosen:
                    continue
                trial = chosen.copy()
                trial[slot] = cand
                k = key(trial)
                if k > best:
                    chosen, best, improved = trial, k, True
    return np.sort(np.asarray(chosen, dtype=np.int64))


def choose_front_points(
    front: pd.DataFrame,
    n_groups: int,
    metrics: Sequence[str],
    *,
    candidates: Any = None,
) -> np.ndarray:
    """Rows of ``front`` for ``n_groups`` model groups spread evenly in metric space.

    Parameters
    ----------
    front : DataFrame
        One row per preference point, with the ``metrics`` columns.
    n_groups : int
        ``G >= 1`` points to choose.
    metrics : sequence of str
        Columns that span the space the groups should cover.
    candidates : array-like of bool, optional
        Rows allowed (e.g. non-dominated points, or points above a quality floor);
        all rows by default.

    Returns
    -------
    ndarray(int64, shape=(G,))
        Positional row indices into ``front``, in increasing order.

    Raises
    ------
    ValueError
        If a metric column is missing or there are fewer candidates than groups.
    """
    missing = [m for m in metrics if m not in front.columns]
    if missing:
        raise ValueError(f"front table lacks metric columns {missing}")
    mask = np.ones(len(front), bool) if candidates is None else np.asarray(candidates, bool)
    if mask.shape != (len(front),):
        raise ValueError("candidates must be one bool per front row")
    rows = np.flatnonzero(mask)
    if len(rows) < n_groups:
        raise ValueError(f"{len(rows)} candidate points for {n_groups} groups")
    z = standardise(front.iloc[rows][list(metrics)].to_numpy(dtype=np.float64))
    if z.shape[1] == 0:  # all metrics constant: fall back to spreading by position
        z = np.arange(len(rows), dtype=np.float64)[:, None]
    return rows[max_min_dispersion(z, n_groups)]


def nearest_neighbour_gaps(values: Any) -> np.ndarray:
    """Distance of every row to its nearest other row (after :func:`standardise`)."""
    z = standardise(values)
    if len(z) < 2:
        return np.zeros(len(z))
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2))
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def collinearity_report(
    arms: Sequence[Arm], metrics: Sequence[str], *, threshold: float = 0.95
) -> dict[str, Any]:
    """How collinear the groups' offline metrics are, with and without off-front arms.

    For the model arms on the front and for all arms, the Pearson correlation between
    every pair of ``metrics`` across the arms (constant metrics excluded), the largest
    absolute pairwise correlation, the number of pairs with ``|r| >= threshold`` and the
    numerical rank of the standardised arms × metrics matrix.

    Returns
    -------
    dict
        ``front_only`` and ``all_arms`` (each with ``n_arms``, ``max_abs_corr``,
        ``median_abs_corr``, ``pairs_above_threshold``, ``n_pairs``, ``rank``,
        ``components_95`` (principal components of the standardised arms × metrics matrix
        needed for 95 % of its variance), ``first_component_share``, ``corr``),
        ``threshold`` and a ``reason`` sentence.
    """

    def summary(subset: Sequence[Arm]) -> dict[str, Any]:
        names = [m for m in metrics if all(m in a.metrics for a in subset)]
        x = np.array([[a.metrics[m] for m in names] for a in subset], dtype=np.float64)
        finite = np.all(np.isfinite(x), axis=0) if len(x) else np.zeros(len(names), bool)
        x, names = x[:, finite], [m for m, f in zip(names, finite) if f]
        if len(subset) < 3 or x.shape[1] < 2:
            return {
                "n_arms": len(subset),
                "max_abs_corr": None,
                "pairs_above_threshold": None,
                "n_pairs": 0,
                "rank": None,
                "corr": {},
            }
        sd = x.std(axis=0)
        keep = sd > 1e-12 * np.maximum(1.0, np.abs(x).max(axis=0))
        x, names = x[:, keep], [m for m, k in zip(names, keep) if k]
        if x.shape[1] < 2:
            return {
                "n_arms": len(subset),
                "max_abs_corr": None,
                "pairs_above_threshold": None,
                "n_pairs": 0,
                "rank": int(x.shape[1]),
                "corr": {},
            }
        c = np.corrcoef(x, rowvar=False)
        iu = np.triu_indices(len(names), 1)
        off = np.abs(c[iu])
        z = (x - x.mean(axis=0)) / x.std(axis=0)
        sv = np.linalg.svd(z, compute_uv=False)
        rank = int((sv > 1e-6 * sv[0]).sum())
        explained = np.cumsum(sv**2) / np.sum(sv**2)
        return {
            "n_arms": len(subset),
            "max_abs_corr": float(off.max()),
            "median_abs_corr": float(np.median(off)),
            "pairs_above_threshold": int((off >= threshold).sum()),
            "n_pairs": len(off),
            "rank": rank,
            "components_95": int(np.searchsorted(explained, 0.95) + 1),
            "first_component_share": float(explained[0]),
            "corr": {
                names[i]: {names[j]: float(c[i, j]) for j in range(len(names))}
                for i in range(len(names))
            },
        }

    front_arms = [a for a in arms if a.kind == "model" and a.variant == "front"]
    front_only = summary(front_arms)
    all_arms = summary(list(arms))
    n_off = len(arms) - len(front_arms)

    def fmt(s: dict[str, Any]) -> str:
        if s["max_abs_corr"] is None:
            return f"{s['n_arms']} arms (too few to correlate)"
        return (
            f"{s['n_arms']} arms: median |r| = {s['median_abs_corr']:.3f}, "
            f"{s['pairs_above_threshold']}/{s['n_pairs']} metric pairs with |r| >= {threshold}, "
            f"first principal component {100 * s['first_component_share']:.0f} % of the "
            f"variance, {s['components_95']} components for 95 %"
        )

    verdict = ""
    a, b = front_only["first_component_share"], all_arms["first_component_share"]
    if a is not None and b is not None:
        if b < a - 0.02:
            verdict = (
                " The off-front arms lower the share of the first principal component from "
                f"{100 * a:.0f} % to {100 * b:.0f} %: they add directions in metric space in "
                "which the metrics disagree."
            )
        else:
            verdict = (
                f" Here the off-front arms do not lower it ({100 * a:.0f} % -> {100 * b:.0f} %): "
                "they differ from the front mostly along the same direction, so the metrics "
                "stay collinear across the groups and the alignment cannot single out one."
            )
    reason = (
        f"Front points only — {fmt(front_only)}. With the {n_off} off-front/control arm(s) — "
        f"{fmt(all_arms)}. Along a front traced by one π the offline metrics move together, "
        "so KPI co-movement alone cannot single out a metric (the method page, The strategy)."
        + verdict
    )
    return {
        "threshold": threshold,
        "front_only": front_only,
        "all_arms": all_arms,
        "reason": reason,
    }


def arms_table(arms: Sequence[Arm], objectives: Sequence[str]) -> pd.DataFrame:
    """One row per arm: name, kind, variant, ``pi_<objective>``, penalty, point, metrics."""
    rows = []
    for a in arms:
        row: dict[str, Any] = {"group": a.name, "kind": a.kind, "variant": a.variant}
        for i, obj in enumerate(objectives):
            row[f"pi_{obj}"] = np.nan if a.pi is None else float(a.pi[i])
        row["popularity_penalty"] = float(a.popularity_penalty)
        row["point"] = -1 if a.point is None else int(a.point)
        row.update(a.metrics)
        rows.append(row)
    return pd.DataFrame(rows)
