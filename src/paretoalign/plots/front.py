"""Figures of the offline front: losses and metrics across the preference grid, chosen groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def pi_columns(front: pd.DataFrame) -> list[str]:
    """The ``pi_<objective>`` columns of a front table, in order."""
    cols = [c for c in front.columns if c.startswith("pi_")]
    if not cols:
        raise ValueError("front table has no pi_<objective> columns")
    return cols


def front_scatter(
    front: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    colour_by: str,
    groups: pd.DataFrame | None = None,
    dominance: str | None = "on_front",
) -> Figure:
    """One panel per (x, y) column pair: every grid point, coloured by one preference weight.

    Parameters
    ----------
    front : DataFrame
        ``front.parquet``: one row per preference point (``point``, ``pi_*``, metric and
        loss columns, ``on_front``).
    pairs : sequence of (x column, y column)
    colour_by : str
        The ``pi_<objective>`` column giving the colour.
    groups : DataFrame, optional
        The test groups (``group``, ``point``, metric columns); model arms on the front are
        ringed and labelled, arms off the front drawn as crosses at their own metrics.
    dominance : str, optional
        Boolean column marking the non-dominated points (``on_front`` in metric space,
        ``on_front_loss`` in loss space); the others are ringed in grey.
    """
    if colour_by not in front.columns:
        raise ValueError(f"no column {colour_by!r} in the front table")
    if dominance is not None and dominance not in front.columns:
        raise ValueError(f"no column {dominance!r} in the front table")
    fig = Figure(figsize=(4.8 * len(pairs) + 1.0, 4.2))
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    points = None
    for ax, (x, y) in zip(axes, pairs, strict=True):
        for col in (x, y):
            if col not in front.columns:
                raise ValueError(f"no column {col!r} in the front table")
        dominated = ~front[dominance].astype(bool) if dominance is not None else None
        points = ax.scatter(front[x], front[y], c=front[colour_by], cmap="cool", s=26,
                            vmin=0.0, vmax=1.0, zorder=2)  # fmt: skip
        if dominated is not None and dominated.any():
            ax.scatter(front.loc[dominated, x], front.loc[dominated, y], s=60,
                       facecolors="none", edgecolors="0.6", lw=0.8, zorder=1,
                       label="dominated point")  # fmt: skip
        if groups is not None:
            _mark_groups(ax, front, groups, x, y)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=8,
                   bbox_to_anchor=(0.45, -0.02))  # fmt: skip
        fig.subplots_adjust(bottom=0.22)
    if points is not None:
        fig.colorbar(points, ax=list(axes), label=f"{colour_by} (preference weight)")
    return fig


def _mark_groups(ax, front: pd.DataFrame, groups: pd.DataFrame, x: str, y: str) -> None:
    on = groups[groups["point"].astype(int) >= 0] if "point" in groups else groups.iloc[:0]
    rows = front.set_index("point").reindex(on["point"].astype(int))
    ax.scatter(rows[x], rows[y], s=110, facecolors="none", edgecolors="black", lw=1.3,
               zorder=3, label="test group on the front")  # fmt: skip
    for (gx, gy), name in zip(rows[[x, y]].to_numpy(), on["group"], strict=True):
        ax.annotate(str(name), (gx, gy), xytext=(5, 4), textcoords="offset points", fontsize=7)
    off = groups.drop(on.index)
    if {x, y} <= set(off.columns) and not off.empty:
        ax.scatter(off[x], off[y], marker="x", s=50, color="#D55E00", zorder=3,
                   label="arm off the front")  # fmt: skip
        for gx, gy, name in zip(off[x], off[y], off["group"], strict=True):
            if np.isfinite(gx) and np.isfinite(gy):
                ax.annotate(str(name), (gx, gy), xytext=(5, -9), textcoords="offset points",
                            fontsize=7, color="#D55E00")  # fmt: skip


def metrics_along_weight(front: pd.DataFrame, weight: str, metrics: Sequence[str]) -> Figure:
    """Each metric (panel) against one preference weight across the grid points."""
    if weight not in front.columns:
        raise ValueError(f"no column {weight!r} in the front table")
    fig = Figure(figsize=(3.0 * len(metrics), 3.0))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        if metric not in front.columns:
            raise ValueError(f"no column {metric!r} in the front table")
        ax.scatter(front[weight], front[metric], s=16, color="#0072B2")
        ax.set_xlabel(weight)
        ax.set_title(metric, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("value on the held-out log")
    fig.tight_layout()
    return fig
