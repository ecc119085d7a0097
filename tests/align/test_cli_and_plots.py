"""The align command end to end on planted tables, and the figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from paretoalign.align.analysis import AlignConfig, alignment_table
from paretoalign.align.collinearity import metric_correlations, variance_inflation
from paretoalign.cli import app
from paretoalign.plots.align import (
    alignment_heatmap,
    flip_world_bars,
    metric_correlation_heatmap,
    power_curves,
    save_figure,
    scatter_grid,
)


def test_align_command_writes_tables_and_figures(rng, planted, tmp_path):
    offline, kpis = planted(rng)
    results = tmp_path / "results" / "planted"
    results.mkdir(parents=True)
    offline.rename_axis("group").reset_index().assign(arm="model").to_parquet(
        results / "groups.parquet"
    )
    kpis.to_parquet(results / "kpis.parquet")
    profile = tmp_path / "planted.toml"
    profile.write_text('[align]\nday_level = false\ncorrection = "holm"\n')
    res = CliRunner().invoke(
        app, ["align", "--profile", str(profile), "--results-root", str(tmp_path / "results")]
    )
    assert res.exit_code == 0, res.output
    assert "4 aligned" in res.output
    table = pd.read_parquet(results / "alignment.parquet")
    assert table["aligned"].sum() == 4
    for name in ("alignment_heatmap", "alignment_scatter", "metric_correlation", "headline"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 5_000


def test_align_command_reports_missing_inputs(tmp_path):
    profile = tmp_path / "empty.toml"
    profile.write_text("")
    res = CliRunner().invoke(
        app, ["align", "--profile", str(profile), "--results-root", str(tmp_path)]
    )
    assert res.exit_code == 1
    assert res.output.startswith("error: no groups table in ")
    assert "Traceback" not in res.output


def test_figures_render(rng, planted, tmp_path):
    offline, kpis = planted(rng)
    table = alignment_table(offline, kpis, AlignConfig(day_level=False))
    fig = alignment_heatmap(table)
    assert len(fig.axes) == 2  # heatmap + colour bar
    path = save_figure(fig, tmp_path / "heat.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    grid = scatter_grid(offline, kpis, table, metrics=["recall@20"], kpi_names=["ctr", "cvr"])
    assert len(grid.axes) == 2
    assert "*" in grid.axes[0].get_title()
    corr = metric_correlations(offline)
    heat = metric_correlation_heatmap(corr, variance_inflation(offline)["vif"])
    assert "VIF" in heat.axes[0].get_yticklabels()[0].get_text()
    curves = pd.DataFrame(
        {
            "groups": [4, 6, 8, 4, 6, 8],
            "recall": [0.1, 0.5, 0.8, 0.2, 0.6, 0.9],
            "traffic": [1, 1, 1, 2, 2, 2],
        }
    )
    fig = power_curves(curves, target=0.8)
    assert fig.axes[0].get_ylim() == (-0.02, 1.02)
    save_figure(fig, tmp_path / "power.svg")
    assert (tmp_path / "power.svg").read_text().startswith("<?xml")
    assert np.isfinite(table["r_primary"]).all()
    flips = {
        "base": {"rho_aq": 0.2, "found_pos[m~k]": 0.1, "found_neg[m~k]": 0.7, "true_sign[m~k]": -1},
        "aligned": {
            "rho_aq": 0.8,
            "found_pos[m~k]": 0.9,
            "found_neg[m~k]": 0.0,
            "true_sign[m~k]": 1,
        },
    }
    fig = flip_world_bars(flips)
    assert len(fig.axes) == 1 and "m~k" in fig.axes[0].get_title()
    with pytest.raises(ValueError):
        flip_world_bars({"base": {"rho_aq": 0.2}})
