"""``paretoalign align --profile P``: the alignment table of one online experiment."""

from __future__ import annotations

from pathlib import Path

import typer


def command(
    profile: str = typer.Option("smoke", help="profile name (configs/<name>.toml) or a .toml path"),
    results_root: Path | None = typer.Option(None, help="root of results/ (default: the repo's)"),
    figures: bool = typer.Option(True, help="also draw the heatmap and scatter-grid figures"),
) -> None:
    """Which offline metrics move with which online KPI across the test groups.

    Reads results/<P>/groups.parquet (or groups.json) and kpis.parquet; writes
    alignment.parquet, collinearity.parquet, alignment_summary.json and, with --figures,
    figures/alignment_*.png.
    """
    from paretoalign.align.analysis import AlignConfig
    from paretoalign.align.pipeline import run_align
    from paretoalign.config import load_profile

    prof = load_profile(profile, results_root=results_root)
    cfg = prof.section("align", AlignConfig)
    out = run_align(prof.results, cfg)
    if figures:
        from paretoalign.plots.align import (
            alignment_heatmap,
            metric_correlation_heatmap,
            save_figure,
            scatter_grid,
        )

        fig_dir = prof.results / "figures"
        save_figure(alignment_heatmap(out.table), fig_dir / "alignment_heatmap.png")
        save_figure(
            scatter_grid(out.offline, out.kpis, out.table), fig_dir / "alignment_scatter.png"
        )
        save_figure(
            metric_correlation_heatmap(out.collinearity, out.collinearity["vif"]),
            fig_dir / "metric_correlation.png",
        )
    found = out.summary["discovered"]
    typer.echo(
        f"{out.summary['n_groups']} groups x {out.summary['n_days']} days, "
        f"{len(out.table)} (metric, KPI) pairs, {len(found)} aligned "
        f"({cfg.statistic}, {cfg.correction} at {cfg.alpha}) -> {out.paths['alignment']}"
    )
    for item in found:
        typer.echo(
            f"  {item['metric']:>28s} ~ {item['kpi']:<26s} sign {item['sign']:+d}  r={item['r']:+.3f}"
        )
