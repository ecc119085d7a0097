"""The front plot: every preference point in metric space and in loss space."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from paretoalign.data.sessionlog import atomic_path

__all__ = ["plot_front"]


def plot_front(
    front: pd.DataFrame,
    arms: Sequence[Any],
    objectives: Sequence[str],
    k: int,
    path: str | Path,
) -> Path:
    """Write ``front.png``: metric space (left) and loss space (right).

    Left: click recall against the last objective's recall (order recall for clicks /
    carts / orders), every grid point coloured by its first weight (``cool`` colormap as
    MultiTRON's ``visualize.py``), non-dominated points ringed, the chosen groups and the
    off-front arms labelled. Right: the first two objectives' losses.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from paretoalign.front.pipeline import front_objectives

    cols, _ = front_objectives(tuple(objectives), k)
    x_col, y_col = cols[0], cols[-1]
    colour = front[f"pi_{objectives[0]}"].to_numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    ax = axes[0]
    sc = ax.scatter(front[x_col], front[y_col], c=colour, cmap="cool", s=28, zorder=2)
    on = front["on_front"].to_numpy()
    ax.scatter(
        front.loc[on, x_col],
        front.loc[on, y_col],
        facecolors="none",
        edgecolors="black",
        s=70,
        linewidths=0.8,
        label="non-dominated",
        zorder=3,
    )
    for arm in arms:
        if x_col in arm.metrics and y_col in arm.metrics:
            marker = "*" if arm.variant == "front" else "X"
            ax.scatter(
                arm.metrics[x_col],
                arm.metrics[y_col],
                marker=marker,
                s=140,
                color="black" if arm.variant == "front" else "tab:red",
                zorder=4,
            )
            ax.annotate(
                arm.name,
                (arm.metrics[x_col], arm.metrics[y_col]),
                fontsize=7,
                xytext=(4, 4),
                textcoords="offset points",
            )
    ax.set_xlabel(x_col)
    ax.set_ylabel(y_col)
    ax.set_title("offline metrics per preference point")
    ax.legend(loc="best", fontsize=8)
    fig.colorbar(sc, ax=ax, label=f"π_{objectives[0]}")
    ax = axes[1]
    lx, ly = f"loss_{objectives[0]}", f"loss_{objectives[-1]}"
    ax.scatter(front[lx], front[ly], c=colour, cmap="cool", s=28)
    on_l = front["on_front_loss"].to_numpy()
    ax.scatter(
        front.loc[on_l, lx],
        front.loc[on_l, ly],
        facecolors="none",
        edgecolors="black",
        s=70,
        linewidths=0.8,
    )
    ax.set_xlabel(lx)
    ax.set_ylabel(ly)
    ax.set_title("losses per preference point")
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
