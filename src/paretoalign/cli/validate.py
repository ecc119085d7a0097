"""``paretoalign validate --profile P``: check the strategy against the shop's ground truth."""

from __future__ import annotations

from pathlib import Path

import typer


def command(
    profile: str = typer.Option("smoke", help="profile name (configs/<name>.toml) or a .toml path"),
    results_root: Path | None = typer.Option(None, help="root of results/ (default: the repo's)"),
    figures: bool = typer.Option(True, help="also draw the power-curve figures"),
    progress: bool = typer.Option(True, help="print what is being built and served"),
) -> None:
    """Repeat the whole strategy over experiment and world seeds; score it against the truth.

    Needs the profile's data, model, front and experiment (results/<P>/). Builds the
    re-drawn and flip worlds under results/<P>/validate/worlds/, writes
    results/<P>/validation.json, results/<P>/validate/curves.parquet and, with --figures,
    figures/validation_*.png.
    """
    import pandas as pd

    from paretoalign.config import load_profile
    from paretoalign.validate.pipeline import run_validate

    prof = load_profile(profile, results_root=results_root)
    doc = run_validate(prof, progress=progress)
    if figures:
        from paretoalign.plots.align import flip_world_bars, power_curves, save_figure

        curves = pd.DataFrame([c for c in doc["curves"] if "error" not in c])
        fig_dir = prof.results / "figures"
        if not curves.empty:
            for score in ("recall", "precision"):
                fig = power_curves(
                    curves, x="groups", y=score, hue="traffic", col="days",
                    target=doc["targets"][score],
                )  # fmt: skip
                save_figure(fig, fig_dir / f"validation_{score}.png")
        save_figure(flip_world_bars(doc["flip_worlds"]), fig_dir / "validation_flip_worlds.png")
    d = doc["design"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    typer.echo(
        f"design G={d['groups']} D={d['days']} traffic={d['traffic']:g} ({doc['design_reason']})"
    )
    typer.echo(
        f"precision {fmt(doc['precision'])} recall {fmt(doc['recall'])} f1 {fmt(doc['f1'])} "
        f"sign errors {fmt(doc['sign_errors'])} | A/A FWER {fmt(doc['aa_fwer'])} "
        f"placebo FPR {fmt(doc['placebo_fpr'])} -> {prof.results / 'validation.json'}"
    )
