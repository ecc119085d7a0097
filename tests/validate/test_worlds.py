"""Validation worlds: derived profiles, tiled populations (common random numbers), fast-path checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paretoalign.config import Profile
from paretoalign.validate.fastsim import fast_experiment
from paretoalign.validate.worlds import (
    ID_STRIDE,
    check_fast_path,
    check_fast_path_runs,
    derived_profile,
    tiled_population,
)
from paretoalign.world import ShopperPopulation

KPIS = ["ctr", "post_click_cvr", "units_per_shopper"]


def _population(n=5):
    rng = np.random.default_rng(0)
    return ShopperPopulation(
        shopper_id=np.arange(n, dtype=np.int64) + 10**9,
        start_ms=np.sort(rng.integers(0, 10**6, n)).astype(np.int64),
        budget=rng.integers(2, 20, n).astype(np.int32),
        taste=rng.normal(size=(n, 4)),
        price_sensitivity=rng.uniform(0.5, 2, n),
        buy_propensity=rng.uniform(0.05, 0.5, n),
        favourite_categories=rng.integers(0, 3, (n, 2)).astype(np.int32),
        favourite_weights=np.full((n, 2), 0.5),
        seed=rng.integers(0, 2**63, n, dtype=np.uint64),
        day0_ms=0,
    )


def test_tiled_population_shares_streams_and_keeps_order():
    pop = _population()
    tiled, copy_of = tiled_population(pop, 3)
    assert len(tiled) == 15
    np.testing.assert_array_equal(copy_of, np.tile(np.arange(3), 5))
    # Every copy of shopper i has i's random-stream seed, start time and taste.
    np.testing.assert_array_equal(tiled.seed, np.repeat(pop.seed, 3))
    np.testing.assert_array_equal(tiled.taste, np.repeat(pop.taste, 3, axis=0))
    assert np.all(np.diff(tiled.start_ms) >= 0)
    assert len(np.unique(tiled.shopper_id)) == 15
    np.testing.assert_array_equal(tiled.shopper_id % ID_STRIDE, np.repeat(pop.shopper_id, 3))
    np.testing.assert_array_equal(tiled.shopper_id // ID_STRIDE - 1, copy_of)
    with pytest.raises(ValueError):
        tiled_population(pop, 0)


def test_derived_profile_overrides_tables_and_moves_results(tmp_path):
    base = Profile(
        name="base",
        path=tmp_path / "base.toml",
        tables={"shop": {"seed": 0, "n_items": 100}, "train": {"epochs": 2.0}},
        results_root=tmp_path,
    )
    derived = derived_profile(base, "world_7", shop={"seed": 7}, train={"epochs": 0.5})
    assert derived.tables["shop"] == {"seed": 7, "n_items": 100}
    assert derived.tables["train"] == {"epochs": 0.5}
    assert base.tables["shop"]["seed"] == 0  # the base is untouched
    assert derived.results == tmp_path / "base" / "validate" / "worlds" / "world_7"


def _kpi_table(panel, groups, y, n_g):
    rows = []
    for j, g in enumerate(groups):
        for k, name in enumerate(KPIS):
            rows.append(
                {"group": g, "day": -1, "kpi": name, "value": y[k, j], "se": 0.01, "n": n_g}
            )
            rows.append({"group": g, "day": 0, "kpi": name, "value": y[k, j], "se": 0.02, "n": n_g})
    return pd.DataFrame(rows)


def test_check_fast_path_against_runs_from_the_same_distribution(rng, synthetic_panel, tmp_path):
    panel = synthetic_panel(rng)
    groups = ["control", "p0", "p8"]
    idx = panel.index(groups)
    runs = fast_experiment(panel, idx, 1500, KPIS, n_rep=3, seed=9)
    sd = fast_experiment(panel, idx, 1500, KPIS, n_rep=300, seed=10).std(axis=0, ddof=1)
    tables = []
    for r in range(3):
        t = _kpi_table(panel, groups, runs[r], 1500)
        t.loc[t["day"] == -1, "se"] = [sd[k, j] for j in range(3) for k in range(3)]
        tables.append(t[t["day"] == -1])
    out = check_fast_path_runs(panel, tables, seed=1)
    assert out["groups"] == groups and out["real_runs"] == 3
    for row in out["kpis"]:
        assert 0.8 < row["width_ratio"] < 1.25
        assert abs(row["mean_z"]) < 3
    path = tmp_path / "kpis.parquet"
    _kpi_table(panel, groups, runs[0], 1500).to_parquet(path)
    single = check_fast_path(panel, path, seed=1)
    assert single["shoppers_per_group"] == 1500 and len(single["kpis"]) == 3
    _kpi_table(panel, ["x", "y"], runs[0][:, :2], 10).to_parquet(path)
    with pytest.raises(ValueError, match="fewer than 2"):
        check_fast_path(panel, path)
