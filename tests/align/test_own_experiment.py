"""``paretoalign align --groups --kpis --out``: a practitioner's own files, the bundled example.

The example (``paretoalign.align.examples``) plants ``recall@20`` -> ``click_rate``; the
broken files check that every message names the file, the column and the line (CSV: the
header is line 1) or row (parquet: data rows from 1).
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from paretoalign.align.examples import GROUPS_CSV, KPIS_CSV, example_tables, write_example
from paretoalign.align.inputs import InputError, read_experiment, read_groups, read_kpis
from paretoalign.cli import app

METRICS = ["recall@20", "ndcg@20", "coverage@100", "novelty@20"]
KPIS = ["click_rate", "orders_per_user", "revenue_per_user"]


def _align(*args: str):
    return CliRunner().invoke(app, ["align", *map(str, args)])


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("example") / "results"
    res = _align("--groups", GROUPS_CSV, "--kpis", KPIS_CSV, "--out", out)
    assert res.exit_code == 0, res.output
    return out, res.output


def test_bundled_files_are_the_documented_generators_output(tmp_path):
    paths = write_example(tmp_path)
    assert paths["groups"].read_bytes() == GROUPS_CSV.read_bytes()
    assert paths["kpis"].read_bytes() == KPIS_CSV.read_bytes()
    groups, kpis = example_tables()
    assert len(groups) == 6 and set(METRICS) <= set(groups.columns)
    assert len(kpis) == 6 * 14 * 3 and set(kpis["kpi"]) == set(KPIS)


def test_example_alignment_table(example_run):
    out, output = example_run
    table = pd.read_parquet(out / "alignment.parquet")
    for column in ("metric", "kpi", "n_groups", "n_days", "pearson_r", "spearman_r",
                   "perm_p_spearman", "rm_r", "mixed_slope", "r_primary", "p_primary",
                   "p_primary_bh", "aligned", "sign", "vif"):  # fmt: skip
        assert column in table.columns, column
    assert sorted(zip(table["metric"], table["kpi"], strict=True)) == sorted(
        itertools.product(METRICS, KPIS)
    )
    assert (table["n_groups"] == 6).all() and (table["n_days"] == 14).all()
    planted = table.set_index(["metric", "kpi"]).loc[("recall@20", "click_rate")]
    assert bool(planted["aligned"]) and planted["sign"] == 1
    assert planted["r_primary"] > 0.95 and planted["pearson_r"] > 0.95
    # the spread of coverage/novelty drives no KPI strongly enough to be discovered
    unplanted = table[table["metric"].isin(["coverage@100", "novelty@20"])]
    assert not unplanted["aligned"].any()
    csv = pd.read_csv(out / "alignment.csv")
    assert list(csv.columns) == list(table.columns) and len(csv) == len(table)
    summary = json.loads((out / "alignment_summary.json").read_text())
    assert summary["n_groups"] == 6 and summary["metrics"] == METRICS
    assert {"metric": "recall@20", "kpi": "click_rate"}.items() <= summary["discovered"][0].items()
    for name in ("headline", "alignment_heatmap", "alignment_scatter", "metric_correlation"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:4] == b"\x89PNG", name
    assert "6 groups x 14 days, 12 (metric, KPI) pairs" in output
    assert "recall@20 ~ click_rate" in output


def test_whole_experiment_value_is_the_mean_of_the_days():
    groups, kpis = read_experiment(GROUPS_CSV, KPIS_CSV)
    assert list(groups.columns) == [*METRICS, "kind"]
    assert groups.loc["popular", "kind"] == "baseline"
    daily = pd.read_csv(KPIS_CSV)
    whole = kpis[kpis["day"] == -1].set_index(["group", "kpi"])
    assert len(whole) == 6 * 3
    means = daily.groupby(["group", "kpi"])["value"].agg(["mean", "std", "count"])
    assert np.allclose(whole["value"], means.loc[whole.index, "mean"])
    half = whole["ci_high"] - whole["value"]
    assert np.allclose(half, whole["value"] - whole["ci_low"])
    # t_{0.975, 13} = 2.1604
    expected = 2.1604 * means.loc[whole.index, "std"] / np.sqrt(14)
    assert np.allclose(half, expected, rtol=1e-4)


def test_parquet_inputs_give_the_same_table(tmp_path, example_run):
    groups, kpis = example_tables()
    groups.to_parquet(tmp_path / "groups.parquet", index=False)
    kpis.to_parquet(tmp_path / "kpis.parquet", index=False)
    out = tmp_path / "out"
    res = _align("--groups", tmp_path / "groups.parquet", "--kpis", tmp_path / "kpis.parquet",
                 "--out", out, "--no-figures")  # fmt: skip
    assert res.exit_code == 0, res.output
    got = pd.read_parquet(out / "alignment.parquet")
    want = pd.read_parquet(example_run[0] / "alignment.parquet")
    pd.testing.assert_frame_equal(
        got[["metric", "kpi", "r_primary", "p_primary"]],
        want[["metric", "kpi", "r_primary", "p_primary"]],
        rtol=1e-9,
    )


# ------------------------------------------------------------------ broken files
def _files(tmp_path, groups: str | None = None, kpis: str | None = None):
    g = tmp_path / "groups.csv"
    k = tmp_path / "kpis.csv"
    g.write_text(groups if groups is not None else GROUPS_CSV.read_text())
    k.write_text(kpis if kpis is not None else KPIS_CSV.read_text())
    return g, k


def _error(tmp_path, g, k) -> str:
    """Run the command, check it fails with one line and no traceback, return that line."""
    res = _align("--groups", g, "--kpis", k, "--out", tmp_path / "out", "--no-figures")
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()
    return lines[0]


def test_missing_column_names_file_and_column(tmp_path):
    text = KPIS_CSV.read_text().replace("group,day,kpi,value", "group,day,kpi,val", 1)
    g, k = _files(tmp_path, kpis=text)
    line = _error(tmp_path, g, k)
    assert str(k) in line and "missing column 'value'" in line and "val" in line


def test_non_numeric_value_names_file_column_and_line(tmp_path):
    lines = KPIS_CSV.read_text().splitlines()
    # data row 5 of the file is line 6 (the header is line 1)
    fields = lines[5].split(",")
    fields[3] = "n/a"
    lines[5] = ",".join(fields)
    g, k = _files(tmp_path, kpis="\n".join(lines) + "\n")
    line = _error(tmp_path, g, k)
    assert f"{k}, line 6, column 'value': 'n/a' is not a number" in line


def test_non_numeric_metric_in_the_groups_file(tmp_path):
    text = GROUPS_CSV.read_text().replace("model_b,model,0.281", "model_b,model,0.28.1", 1)
    g, k = _files(tmp_path, groups=text)
    line = _error(tmp_path, g, k)
    assert f"{g}, line 5, column 'recall@20': '0.28.1' is not a number" in line


def test_group_missing_from_the_kpi_file(tmp_path):
    kept = [row for row in KPIS_CSV.read_text().splitlines() if not row.startswith("model_c,")]
    g, k = _files(tmp_path, kpis="\n".join(kept) + "\n")
    line = _error(tmp_path, g, k)
    # model_c is the fifth group, line 6 of groups.csv
    assert f"{g}, line 6, column 'group': group 'model_c' has no rows in {k}" in line


def test_group_missing_from_the_groups_file(tmp_path):
    kept = [row for row in GROUPS_CSV.read_text().splitlines() if not row.startswith("popular,")]
    g, k = _files(tmp_path, groups="\n".join(kept) + "\n")
    line = _error(tmp_path, g, k)
    first = next(i for i, row in enumerate(KPIS_CSV.read_text().splitlines()) if "popular" in row)
    assert f"{k}, line {first + 1}, column 'group': group 'popular' is not in {g}" in line


def test_empty_files(tmp_path):
    g, k = _files(tmp_path, kpis="")
    assert f"{k}: the file is empty" in _error(tmp_path, g, k)
    g, k = _files(tmp_path, kpis="group,day,kpi,value\n")
    assert f"{k}: no data rows" in _error(tmp_path, g, k)


def test_more_malformed_inputs(tmp_path):
    g, k = _files(tmp_path)
    header = "group,day,kpi,value\n"
    cases = {
        "repeat": (header + "control,0,click_rate,1\ncontrol,0,click_rate,2\n",
                   "line 3: repeats (group 'control', day 0, kpi 'click_rate') of line 2"),
        "day": (header + "control,1.5,click_rate,1\n", "line 2, column 'day': '1.5' is not a day"),
        "empty": (header + "control,0,click_rate,\n",
                  "line 2, column 'value': the cell is empty"),
        "fields": (header + "control,0,click_rate\n", "line 2: 3 fields, the header (line 1) has 4"),
    }  # fmt: skip
    groups = read_groups(g)
    for name, (text, message) in cases.items():
        k.write_text(text)
        with pytest.raises(InputError) as info:
            read_kpis(k, groups, g)
        assert str(info.value).startswith(str(k)), name
        assert message in str(info.value), (name, str(info.value))
    # every group needs every KPI, and day -1 rows come for every pair or none
    daily = pd.read_csv(KPIS_CSV)
    daily[~((daily["group"] == "model_a") & (daily["kpi"] == "click_rate"))].to_csv(k, index=False)
    with pytest.raises(InputError, match="column 'kpi': group 'model_a' has no rows for KPI"):
        read_kpis(k, groups, g)
    extra = pd.DataFrame({"group": ["control"], "day": [-1], "kpi": ["click_rate"], "value": [0.1]})
    pd.concat([daily, extra]).to_csv(k, index=False)
    with pytest.raises(InputError, match="column 'day': whole-experiment rows"):
        read_kpis(k, groups, g)
    g.write_text(GROUPS_CSV.read_text().replace(",control,", ",placebo,", 1))
    with pytest.raises(InputError, match=r"line 2, column 'kind': 'placebo' is not one of"):
        read_groups(g)
    g.write_text("group,recall@20\na,0.1\nb,0.2\n")
    with pytest.raises(InputError, match="2 group"):
        read_groups(g)
    (tmp_path / "groups.txt").write_text("group\n")
    with pytest.raises(InputError, match=r"unknown format '\.txt'"):
        read_groups(tmp_path / "groups.txt")


def test_parquet_errors_name_the_row(tmp_path):
    groups, kpis = example_tables()
    kpis = kpis.astype({"value": object})
    kpis.loc[3, "value"] = "x"
    groups.to_parquet(tmp_path / "groups.parquet", index=False)
    kpis.astype({"value": str}).to_parquet(tmp_path / "kpis.parquet", index=False)
    with pytest.raises(InputError) as info:
        read_experiment(tmp_path / "groups.parquet", tmp_path / "kpis.parquet")
    assert (
        str(info.value)
        == f"{tmp_path / 'kpis.parquet'}, row 4, column 'value': 'x' is not a number"
    )


def test_debug_shows_the_traceback(tmp_path):
    g, k = _files(tmp_path, kpis="")
    res = _align("--groups", g, "--kpis", k, "--out", tmp_path / "out", "--debug")
    assert res.exit_code == 1
    assert isinstance(res.exception, InputError)


def test_own_experiment_needs_all_three_options(tmp_path):
    res = _align("--groups", GROUPS_CSV, "--out", tmp_path)
    assert res.exit_code == 2
    assert "needs all three of --groups, --kpis" in res.output
