"""The alignment table, the decision rule and the align step on planted tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from paretoalign.align.analysis import (
    AlignConfig,
    adjust,
    adjust_rows,
    alignment_table,
    decide,
    discover,
    kpi_matrix,
)
from paretoalign.align.pipeline import run_align
from paretoalign.front.files import load_groups


def test_known_holm_and_bh_values():
    p = np.array([0.01, 0.02, 0.03, 0.04, 0.20])
    np.testing.assert_allclose(adjust(p, "holm"), [0.05, 0.08, 0.09, 0.09, 0.20])
    np.testing.assert_allclose(adjust(p, "fdr_bh"), [0.05, 0.05, 0.05, 0.05, 0.20])
    rng = np.random.default_rng(3)
    q = rng.uniform(size=(4, 5)) ** 3
    for method in ("holm", "fdr_bh"):
        ref = multipletests(q.ravel(), method=method)[1].reshape(q.shape)
        np.testing.assert_allclose(adjust(q, method), ref)
    # Families in rows, with ties and exact zeros/ones.
    fam = np.round(rng.uniform(size=(6, 13)) ** 2, 2)
    fam[:, 0] = 0.0
    fam[:, 1] = 1.0
    for method in ("holm", "fdr_bh"):
        got = adjust_rows(fam, method)
        for row, ref_row in zip(got, fam, strict=True):
            np.testing.assert_allclose(row, multipletests(ref_row, method=method)[1])
    with_nan = adjust(np.array([0.01, np.nan, 0.04]), "holm")
    np.testing.assert_allclose(with_nan[[0, 2]], [0.02, 0.04])
    assert np.isnan(with_nan[1])
    with pytest.raises(ValueError):
        adjust(p, "bonferroni")
    with pytest.raises(ValueError):
        adjust(np.array([1.5]), "holm")


def test_decide_applies_alpha_and_strength():
    r = np.array([0.9, -0.95, 0.4, np.nan])
    p = np.array([0.01, 0.02, 0.01, 0.0])
    np.testing.assert_array_equal(decide(r, p, 0.05), [1, -1, 1, 0])
    np.testing.assert_array_equal(decide(r, p, 0.05, min_abs_r=0.8), [1, -1, 0, 0])
    np.testing.assert_array_equal(decide(r, p, 0.015), [1, 0, 1, 0])


def test_alignment_table_recovers_the_planted_pairs(rng, planted):
    offline, kpis = planted(rng)
    table = alignment_table(offline, kpis)
    assert len(table) == 9
    found = {(r.metric, r.kpi): r.sign for r in table[table["aligned"]].itertuples()}
    assert found == {
        ("recall@20", "ctr"): 1,
        ("density@20", "ctr"): -1,
        ("recall@20", "cvr"): -1,
        ("density@20", "cvr"): 1,
    }
    row = table.set_index(["metric", "kpi"]).loc[("recall@20", "ctr")]
    assert row["pearson_r"] > 0.95 and row["spearman_r"] == pytest.approx(1.0)
    assert row["pearson_ci_low"] < row["pearson_r"] <= row["pearson_ci_high"]
    assert row["perm_p_spearman"] == pytest.approx(2 / 720)
    assert row["perm_exact"] and row["perm_orderings"] == 720
    assert row["rm_r"] > 0.5 and row["rm_dof"] == 7 * 5 - 1
    assert row["mixed_slope"] > 0.5
    # The collinear pair is reported: density is an exact linear function of recall.
    assert np.isinf(row["vif"])
    for col in ("p_primary", "mixed_p", "rm_p"):
        np.testing.assert_allclose(
            table[f"{col}_holm"], multipletests(table[col], method="holm")[1]
        )
        np.testing.assert_allclose(
            table[f"{col}_bh"], multipletests(table[col], method="fdr_bh")[1]
        )


def test_sign_flip_of_a_kpi_flips_the_discovered_signs(rng, planted):
    offline, kpis = planted(rng)
    flipped = kpis.copy()
    flipped["value"] = -flipped["value"]
    a = alignment_table(offline, kpis, AlignConfig(day_level=False))
    b = alignment_table(offline, flipped, AlignConfig(day_level=False))
    np.testing.assert_array_equal(a["sign"], -b["sign"])
    np.testing.assert_allclose(a["p_primary"], b["p_primary"])


def test_null_table_discovers_nothing(rng, planted):
    offline, kpis = planted(rng)
    null = kpis.copy()
    # Same KPI value distribution in every group: shuffle the group labels within each KPI/day.
    null["value"] = 0.05 + rng.normal(0, 0.01, len(null))
    table = alignment_table(offline, null, AlignConfig(correction="holm", day_level=False))
    assert not table["aligned"].any()


def test_strength_threshold_and_holm_option(rng, planted):
    offline, kpis = planted(rng, groups=8)
    cfg = AlignConfig(correction="holm", min_abs_r=0.99, day_level=False, statistic="spearman")
    table = alignment_table(offline, kpis, cfg)
    assert set(table.loc[table["aligned"], "kpi"]) <= {"ctr", "cvr"}
    assert (table.loc[table["aligned"], "spearman_r"].abs() >= 0.99).all()


def test_discover_matches_the_table_decision(rng, planted):
    offline, kpis = planted(rng)
    cfg = AlignConfig(day_level=False)
    table = alignment_table(offline, kpis, cfg)
    names = sorted(kpis["kpi"].unique())
    y = kpi_matrix(kpis, list(offline.index), names)
    found = discover(offline.to_numpy().T, y, cfg)
    np.testing.assert_array_equal(found.sign.ravel(), table["sign"].to_numpy())
    np.testing.assert_allclose(found.p_adj.ravel(), table["p_primary_bh"].to_numpy())
    assert found.aligned.sum() == table["aligned"].sum()


def test_monte_carlo_path_for_twelve_groups_is_seeded(rng, planted):
    offline, kpis = planted(rng, groups=12, days=3)
    cfg = AlignConfig(day_level=False, n_resamples=2000, seed=5)
    a = alignment_table(offline, kpis, cfg)
    b = alignment_table(offline, kpis, cfg)
    assert not a["perm_exact"].any()
    np.testing.assert_array_equal(a["p_primary"], b["p_primary"])
    assert a.loc[a["aligned"], "kpi"].isin(["ctr", "cvr"]).all()


def test_bad_tables_raise(rng, planted):
    offline, kpis = planted(rng)
    with pytest.raises(ValueError, match="lacks"):
        alignment_table(offline, kpis[kpis["group"] != "g2"])
    with pytest.raises(ValueError, match="not in the groups"):
        alignment_table(offline, kpis, AlignConfig(metrics=["nope@20"]))
    with pytest.raises(ValueError, match="columns"):
        alignment_table(offline, kpis.drop(columns=["kpi"]))
    with pytest.raises(TypeError):
        alignment_table(offline.to_numpy(), kpis)


def test_run_align_writes_the_tables(rng, planted, tmp_path):
    offline, kpis = planted(rng)
    groups = offline.rename_axis("group").reset_index()
    groups["arm"] = "model"
    groups.loc[0, "arm"] = "control"
    groups.to_parquet(tmp_path / "groups.parquet")
    kpis.to_parquet(tmp_path / "kpis.parquet")
    out = run_align(tmp_path, AlignConfig(day_level=False))
    table = pd.read_parquet(tmp_path / "alignment.parquet")
    assert len(table) == 9 and table["aligned"].sum() == 4
    coll = pd.read_parquet(tmp_path / "collinearity.parquet")
    assert {"metric", "vif", "r2", "recall@20"} <= set(coll.columns)
    summary = json.loads((tmp_path / "alignment_summary.json").read_text())
    assert summary["n_groups"] == 6 and summary["effective_dimension"] >= 1
    assert len(summary["discovered"]) == 4
    assert summary["decision"]["family_size"] == 9
    # Only the model arms: the control drops out.
    out = run_align(tmp_path, AlignConfig(day_level=False, arms=["model"]))
    assert out.summary["n_groups"] == 5


def test_groups_json_is_read_and_errors_name_the_file(rng, planted, tmp_path):
    offline, _ = planted(rng)
    records = [
        {"name": g, "arm": "model", "pi": {"clicks": 0.5, "orders": 0.5}, "metrics": row.to_dict()}
        for g, row in offline.iterrows()
    ]
    (tmp_path / "groups.json").write_text(json.dumps({"groups": records}))
    groups = load_groups(tmp_path)
    assert list(groups.index) == list(offline.index)
    assert {"recall@20", "pi_clicks"} <= set(groups.columns)
    (tmp_path / "groups.json").write_text(json.dumps([{"arm": "model"}]))
    with pytest.raises(ValueError, match=r"groups\.json"):
        load_groups(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_groups(tmp_path / "missing")
