"""``paretoalign front --profile P``: trace the model's front and choose the test groups.

Reads the profile's data set and ``results/<P>/train/``; writes ``front.parquet``,
``front.json``, ``groups.json``, ``groups.parquet`` and ``front.png`` to
``results/<P>/`` (see :mod:`paretoalign.front.pipeline`).
"""

from __future__ import annotations

import typer


def command(
    profile: str = typer.Option("smoke", "--profile", "-p", help="profile name or .toml path"),
    progress: bool = typer.Option(True, help="print one line per preference point"),
) -> None:
    """Offline metrics and losses at every preference point; non-dominated set, hypervolume,
    front plot; the test groups spread evenly in offline-metric space plus control and
    off-front arms."""
    import pandas as pd

    from paretoalign.config import load_profile
    from paretoalign.front.pipeline import run_front

    outputs = run_front(load_profile(profile), progress=progress)
    k = outputs.summary["k"]
    cols = [c for c in outputs.front.columns if c.startswith("pi_")]
    cols += [f"{m}@{k}" for m in ("click_recall", "cart_recall", "order_recall", "order_density")]
    cols += [c for c in outputs.front.columns if c.startswith("loss_")] + ["on_front"]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        typer.echo(outputs.front[[c for c in cols if c in outputs.front.columns]].to_string())
    for name, space in outputs.summary["spaces"].items():
        typer.echo(
            f"hypervolume ({name}: {space['columns']}) = {space['hypervolume']:.6g} "
            f"w.r.t. {space['reference_point']} ({space['n_non_dominated']} non-dominated)"
        )
    typer.echo("groups: " + ", ".join(a.name for a in outputs.arms))
    for key, path in outputs.paths.items():
        typer.echo(f"{key}: {path}")
