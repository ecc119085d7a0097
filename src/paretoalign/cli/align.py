"""``paretoalign align``: the alignment table of one online experiment.

Two sources: ``--profile P`` analyses the shop's experiment in ``results/<P>/``;
``--groups GROUPS --kpis KPIS --out DIR`` analyses your own A/B results (CSV or parquet,
schemas in :mod:`paretoalign.align.inputs` and on the book's real-data page). A problem
with the inputs is one line on standard error naming the file, column and line (exit
status 1); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from paretoalign.align.pipeline import AlignOutputs


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def command(
    profile: str = typer.Option(
        "smoke",
        # (rich markup would swallow a bare "[align]": escaped)
        help="profile name (configs/<name>.toml) or a .toml path; with --groups only its "
        "\\[align] table (statistic, correction, alpha, ...) is used",
    ),
    results_root: Path | None = typer.Option(None, help="root of results/ (default: the repo's)"),
    groups: Path | None = typer.Option(
        None,
        "--groups",
        help="your own experiment: one row per test group, a 'group' column, an optional "
        "'kind' column and one column per offline metric (.csv or .parquet)",
    ),
    kpis: Path | None = typer.Option(
        None,
        "--kpis",
        help="your own experiment: one row per (group, day, KPI), columns group, day "
        "(-1 = whole experiment), kpi, value; optional ci_low, ci_high, n (.csv or .parquet)",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="with --groups/--kpis: the folder to write the results into"
    ),
    figures: bool = typer.Option(True, help="also draw the heatmap and scatter-grid figures"),
    debug: bool = typer.Option(False, "--debug", help="show the traceback of an error"),
) -> None:
    """Which offline metrics move with which online KPI across the test groups.

    With --profile: reads results/<P>/groups.parquet (or groups.json) and kpis.parquet and
    writes there. With --groups, --kpis and --out: reads your two files and writes into
    OUT. Either way the outputs are alignment.parquet, collinearity.parquet,
    alignment_summary.json (and, for your own files, alignment.csv) and, with --figures,
    figures/alignment_heatmap.png, figures/alignment_scatter.png,
    figures/metric_correlation.png and figures/headline.png (the book's headline figure,
    in the book's style; `make docs` copies the default profile's into docs/ for the
    README).
    """
    from paretoalign.align.inputs import InputError
    from paretoalign.config import ProfileError

    own = (groups, kpis, out)
    if any(x is not None for x in own) and any(x is None for x in own):
        raise typer.BadParameter("your own experiment needs all three of --groups, --kpis, --out")
    try:
        _run(profile, results_root, groups, kpis, out, figures)
    except (InputError, ProfileError, FileNotFoundError, ValueError) as exc:
        if debug:
            raise
        _fail(str(exc))


def _run(
    profile: str,
    results_root: Path | None,
    groups: Path | None,
    kpis: Path | None,
    out: Path | None,
    figures: bool,
) -> None:
    from paretoalign.align.analysis import AlignConfig
    from paretoalign.align.pipeline import run_align, run_own_experiment
    from paretoalign.config import load_profile

    prof = load_profile(profile, results_root=results_root)
    cfg = prof.section("align", AlignConfig)
    if groups is not None and kpis is not None and out is not None:
        result = run_own_experiment(groups, kpis, out, cfg)
        folder = out
    else:
        result = run_align(prof.results, cfg)
        folder = prof.results
    if figures:
        _draw(result, folder / "figures")
    found = result.summary["discovered"]
    typer.echo(
        f"{result.summary['n_groups']} groups x {result.summary['n_days']} days, "
        f"{len(result.table)} (metric, KPI) pairs, {len(found)} aligned "
        f"({cfg.statistic}, {cfg.correction} at {cfg.alpha}) -> {result.paths['alignment']}"
    )
    for item in found:
        typer.echo(
            f"  {item['metric']:>28s} ~ {item['kpi']:<26s} sign {item['sign']:+d}  r={item['r']:+.3f}"
        )


def _draw(result: AlignOutputs, fig_dir: Path) -> None:
    """The alignment figures of ``result`` into ``fig_dir``, each written atomically."""
    import matplotlib as mpl

    from paretoalign.plots.align import (
        alignment_heatmap,
        metric_correlation_heatmap,
        save_figure,
        scatter_grid,
    )
    from paretoalign.plots.experiment import headline_figure
    from paretoalign.plots.style import use_book_style

    with mpl.rc_context():
        use_book_style()
        kinds = result.kinds.astype(str).to_dict()
        headline = headline_figure(result.offline, result.kpis, result.table, kinds)
        save_figure(headline, fig_dir / "headline.png")
    save_figure(alignment_heatmap(result.table), fig_dir / "alignment_heatmap.png")
    save_figure(
        scatter_grid(result.offline, result.kpis, result.table), fig_dir / "alignment_scatter.png"
    )
    save_figure(
        metric_correlation_heatmap(result.collinearity, result.collinearity["vif"]),
        fig_dir / "metric_correlation.png",
    )
