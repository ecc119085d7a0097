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
    figures/alignment_*.png, figures/metric_correlation.png and figures/headline.png (the
    book's headline figure, in the book's style; `make docs` copies the default profile's
    into docs/ for the README).
    """
    from paretoalign.align.analysis import AlignConfig
    from paretoalign.align.pipeline import run_align
    from paretoalign.config import load_profile

    prof = load_profile(profile, results_root=results_root)
    cfg = prof.section("align", AlignConfig)
    out = run_align(prof.results, cfg)
    if figures:
        import matplotlib as mpl

        from paretoalign.align.pipeline import arm_kind
        from paretoalign.front import load_groups
        from paretoalign.plots.align import (
            alignment_heatmap,
            metric_correlation_heatmap,
            save_figure,
            scatter_grid,
        )
        from paretoalign.plots.experiment import headline_figure
        from paretoalign.plots.style import use_book_style

        fig_dir = prof.results / "figures"
        with mpl.rc_context():
            use_book_style()
            kinds = arm_kind(load_groups(prof.results)).astype(str).to_dict()
            headline = headline_figure(out.offline, out.kpis, out.table, kinds)
            save_figure(headline, fig_dir / "headline.png")
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
