"""Figures of the alignment analysis and of the strategy check (seaborn on matplotlib).

Every function returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no
global figure state, no GUI backend needed); :func:`save_figure` writes it atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from paretoalign.io import atomic_path


def save_figure(fig: Figure, path: Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fig.savefig(fh, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")
    return path


def _pivot(table: pd.DataFrame, value: str) -> pd.DataFrame:
    need = {"metric", "kpi", value}
    if not need.issubset(table.columns):
        raise ValueError(f"alignment table needs columns {sorted(need)}")
    return table.pivot(index="metric", columns="kpi", values=value)


def alignment_heatmap(
    table: pd.DataFrame, *, value: str = "r_primary", title: str | None = None
) -> Figure:
    """Heatmap metric x KPI of the primary correlation; cells of discovered alignments are starred.

    Parameters
    ----------
    table : DataFrame
        The alignment table (columns ``metric, kpi, <value>, aligned``).
    value : str
        Column to colour by (a correlation in [-1, 1]).
    """
    import seaborn as sns

    values = _pivot(table, value)
    aligned = _pivot(table, "aligned").reindex_like(values).fillna(False).astype(bool)
    annot = values.map(lambda v: "" if not np.isfinite(v) else f"{v:.2f}")
    annot = annot.where(~aligned, annot + "*")
    fig = Figure(figsize=(1.1 * values.shape[1] + 3.0, 0.45 * values.shape[0] + 1.8))
    ax = fig.add_subplot()
    sns.heatmap(
        values.astype(float), ax=ax, vmin=-1, vmax=1, cmap="vlag",
        annot=annot.to_numpy(), fmt="", cbar_kws={"label": value}, linewidths=0.5,
    )  # fmt: skip
    ax.set_xlabel("online KPI")
    ax.set_ylabel("offline metric")
    ax.set_title(title or f"{value} over test groups (* = discovered alignment)")
    return fig


def scatter_grid(
    offline: pd.DataFrame,
    kpis: pd.DataFrame,
    table: pd.DataFrame | None = None,
    *,
    metrics: Sequence[str] | None = None,
    kpi_names: Sequence[str] | None = None,
) -> Figure:
    """Grid of scatter plots: offline metric (x) vs whole-experiment KPI (y) per group, with CIs.

    Parameters
    ----------
    offline : DataFrame, shape (G, M)
        Index = group names, columns = metrics.
    kpis : DataFrame
        Tidy KPI table; rows with ``day == -1`` give the points, ``ci_low``/``ci_high``
        (if present) the vertical error bars.
    table : DataFrame, optional
        Alignment table; its ``r_primary`` and ``aligned`` label each panel.
    metrics, kpi_names : sequence of str, optional
        Rows and columns of the grid (default: all).
    """
    import seaborn as sns

    metrics = list(metrics) if metrics is not None else list(offline.columns)
    whole = kpis[kpis["day"] == -1].assign(group=lambda d: d["group"].astype(str))
    kpi_names = list(kpi_names) if kpi_names is not None else sorted(whole["kpi"].unique())
    palette = dict(zip(offline.index, sns.color_palette("colorblind", len(offline)), strict=False))
    fig = Figure(figsize=(2.4 * len(kpi_names) + 0.5, 2.1 * len(metrics) + 0.5))
    axes = fig.subplots(len(metrics), len(kpi_names), squeeze=False)
    lookup = table.set_index(["metric", "kpi"]) if table is not None else None
    for i, metric in enumerate(metrics):
        for j, kpi in enumerate(kpi_names):
            ax = axes[i, j]
            sub = whole[whole["kpi"] == kpi].set_index("group").reindex(offline.index)
            xs = offline[metric].to_numpy(float)
            ys = sub["value"].to_numpy(float)
            if {"ci_low", "ci_high"}.issubset(sub.columns):
                lo = np.clip(ys - sub["ci_low"].to_numpy(float), 0, None)
                hi = np.clip(sub["ci_high"].to_numpy(float) - ys, 0, None)
                ax.errorbar(xs, ys, yerr=np.vstack([lo, hi]), fmt="none", ecolor="0.5", lw=0.8)
            sns.scatterplot(
                x=xs, y=ys, hue=list(offline.index), palette=palette, ax=ax, legend=False, s=28
            )
            title = kpi if i == 0 else ""
            if lookup is not None and (metric, kpi) in lookup.index:
                row = lookup.loc[(metric, kpi)]
                mark = "*" if bool(row["aligned"]) else ""
                title = (
                    f"{title}\nr={row['r_primary']:.2f}{mark}"
                    if title
                    else f"r={row['r_primary']:.2f}{mark}"
                )
            ax.set_title(title, fontsize=8)
            ax.tick_params(labelsize=6)
            ax.set_xlabel("")
            ax.set_ylabel(metric if j == 0 else "", fontsize=7)
    fig.suptitle(
        "x: offline metric (row), y: KPI (column) with 95 % CI; one point per group", fontsize=9
    )
    fig.tight_layout()
    return fig


def metric_correlation_heatmap(corr: pd.DataFrame, vif: pd.Series | None = None) -> Figure:
    """Heatmap of the offline metrics' correlation across groups; VIF in the row labels."""
    import seaborn as sns

    metrics = [c for c in corr.columns if c in corr.index]
    mat = corr.loc[metrics, metrics].astype(float)
    labels = metrics
    if vif is not None:
        labels = [f"{m} (VIF {vif[m]:.3g})" for m in metrics]
    fig = Figure(figsize=(0.55 * len(metrics) + 4.0, 0.45 * len(metrics) + 1.5))
    ax = fig.add_subplot()
    sns.heatmap(mat, ax=ax, vmin=-1, vmax=1, cmap="vlag", annot=len(metrics) <= 16, fmt=".2f",
                annot_kws={"size": 6}, yticklabels=labels, cbar_kws={"label": "Pearson r across groups"})  # fmt: skip
    ax.set_title("offline metrics across the test groups")
    return fig


def power_curves(curves: pd.DataFrame, *, x: str = "groups", y: str = "recall", hue: str | None = "traffic",
                 col: str | None = None, target: float | None = None) -> Figure:  # fmt: skip
    """Line plot of a strategy score (recall, precision, F1, FWER ...) against a design knob.

    Parameters
    ----------
    curves : DataFrame
        One row per design (and optionally per replicate), with columns ``x``, ``y`` and
        the optional ``hue`` / ``col`` columns. Replicates are averaged with a 95 % band.
    target : float, optional
        Horizontal reference line (e.g. the acceptance target).
    """
    import seaborn as sns

    for c in (x, y, hue, col):
        if c is not None and c not in curves.columns:
            raise ValueError(f"column {c!r} not in the curves table ({list(curves.columns)})")
    panels = sorted(curves[col].unique()) if col else [None]
    fig = Figure(figsize=(4.2 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        sub = curves if panel is None else curves[curves[col] == panel]
        sns.lineplot(
            data=sub, x=x, y=y, hue=hue, marker="o", ax=ax, palette="viridis" if hue else None
        )
        if target is not None:
            ax.axhline(target, color="0.4", ls="--", lw=0.8)
        ax.set_ylim(-0.02, 1.02)
        if panel is not None:
            ax.set_title(f"{col} = {panel}")
    fig.tight_layout()
    return fig


def flip_world_bars(
    flip_worlds: dict, key_pairs: Sequence[tuple[str, str]] | None = None
) -> Figure:
    """Discovered-sign shares per world for the key pairs, with each world's true sign.

    Parameters
    ----------
    flip_worlds : dict
        ``validation.json``'s ``flip_worlds``: world -> {``rho_aq``, ``found_pos[m~k]``,
        ``found_neg[m~k]``, ``true_sign[m~k]``, ...}.
    key_pairs : sequence of (metric, kpi), optional
        Default: every pair that has ``found_pos`` entries.
    """
    import seaborn as sns

    if key_pairs is None:
        tags = sorted(
            {
                k[len("found_pos[") : -1]
                for w in flip_worlds.values()
                for k in w
                if k.startswith("found_pos[")
            }
        )
    else:
        tags = [f"{m}~{k}" for m, k in key_pairs]
    rows = []
    for world, entry in flip_worlds.items():
        for tag in tags:
            if f"found_pos[{tag}]" not in entry:
                continue
            label = f"{world}\n(rho_aq={entry.get('rho_aq', float('nan')):+.1f})"
            rows.append(
                {"world": label, "pair": tag, "share": entry[f"found_pos[{tag}]"], "sign": "+"}
            )
            rows.append(
                {"world": label, "pair": tag, "share": -entry[f"found_neg[{tag}]"], "sign": "-"}
            )
            rows.append({"world": label, "pair": tag, "share": float("nan"), "sign": "true",
                         "true": entry.get(f"true_sign[{tag}]", 0)})  # fmt: skip
    if not rows:
        raise ValueError("no key-pair entries in flip_worlds")
    frame = pd.DataFrame(rows)
    fig = Figure(figsize=(4.5 * len(tags), 3.6))
    axes = fig.subplots(1, len(tags), squeeze=False)[0]
    for ax, tag in zip(axes, tags, strict=True):
        sub = frame[(frame["pair"] == tag) & (frame["sign"] != "true")]
        sns.barplot(
            data=sub,
            x="world",
            y="share",
            hue="sign",
            ax=ax,
            palette={"+": "#c44e52", "-": "#4c72b0"},
        )
        truth = frame[(frame["pair"] == tag) & (frame["sign"] == "true")]
        for i, t in enumerate(truth["true"].to_numpy()):
            ax.plot(i, 0.9 * float(t), marker="*", color="k", markersize=12, ls="none")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_ylim(-1.05, 1.05)
        ax.set_ylabel("share of runs discovering + (up) / - (down)", fontsize=8)
        ax.set_xlabel("")
        ax.set_title(f"{tag}  (* = true sign)", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig
