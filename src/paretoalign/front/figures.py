"""The front plot: every preference point in metric space and in loss space."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from paretoalign.io import atomic_path

__all__ = ["plot_front"]


def plot_front(
    front: pd.DataFrame,
    arms: Sequence[Any],
    objectives: Sequence[str],
    k: int,
    path: str | Path,
) -> Path:
    """Write ``front.png``: the front in metric space, every arm, and loss space.

    Left: click recall@k against order density@k (the trade-off the 2025 paper found
    aligned with CTR and post-click conversion) of every grid point, coloured by its
    first weight (``cool`` colormap, as MultiTRON's ``visualize.py``), the points
    non-dominated in the objectives' recall space ringed, the model arms starred and
    labelled. Middle: the same axes with every arm (control and baselines), full range.
    Right: the first and last objectives' losses of every grid point, non-dominated
    points ringed.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    x_col, y_col = f"click_recall@{k}", f"order_density@{k}"
    colour = front[f"pi_{objectives[0]}"].to_numpy()
    on = front["on_front"].to_numpy()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, which in ((axes[0], "model"), (axes[1], "all")):
        sc = ax.scatter(front[x_col], front[y_col], c=colour, cmap="cool", s=28, zorder=2)
        ax.scatter(front.loc[on, x_col], front.loc[on, y_col], facecolors="none",
                   edgecolors="black", s=70, linewidths=0.8, label="non-dominated (recalls)",
                   zorder=3)  # fmt: skip
        for arm in arms:
            if which == "model" and arm.kind != "model":
                continue
            if x_col not in arm.metrics or y_col not in arm.metrics:
                continue
            front_arm = arm.variant == "front"
            ax.scatter(arm.metrics[x_col], arm.metrics[y_col], marker="*" if front_arm else "X",
                       s=130, color="black" if front_arm else "tab:red", zorder=4)  # fmt: skip
            ax.annotate(arm.name, (arm.metrics[x_col], arm.metrics[y_col]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")  # fmt: skip
        ax.set_xlabel(x_col)
        ax.set_ylabel(y_col)
        ax.grid(alpha=0.3)
    axes[0].set_title("the front and the model arms")
    axes[0].legend(loc="best", fontsize=8)
    axes[1].set_title("every arm")
    fig.colorbar(sc, ax=axes[1], label=f"π_{objectives[0]}")
    ax = axes[2]
    lx, ly = f"loss_{objectives[0]}", f"loss_{objectives[-1]}"
    ax.scatter(front[lx], front[ly], c=colour, cmap="cool", s=28)
    on_l = front["on_front_loss"].to_numpy()
    ax.scatter(front.loc[on_l, lx], front.loc[on_l, ly], facecolors="none", edgecolors="black",
               s=70, linewidths=0.8)  # fmt: skip
    ax.set_xlabel(lx)
    ax.set_ylabel(ly)
    ax.set_title("losses per preference point")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
