"""ShopConfig validation, the profiles' [shop] tables, and the `paretoalign world` commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from paretoalign.cli import app
from paretoalign.config import ProfileError, load_profile
from paretoalign.data import load_dataset
from paretoalign.data.otto import read_otto
from paretoalign.world import ShopConfig, World, calibrate, calibration_checks


@pytest.mark.parametrize(
    "bad",
    [
        {"n_itmes": 10},  # misspelt knob
        {"n_items": 5},
        {"theta": 0.0},
        {"theta": 1.5},
        {"rho_aq": 0.95},
        {"rho_aq": -0.9, "rho_ab": 0.9, "rho_qb": 0.9},  # not positive definite
        {"n_items": 100, "n_categories": 200},
        {"n_items": 100, "slate_size": 100},
        {"n_categories": 2, "favourite_categories": 3},
        {"click_model": "dbn"},
        {"wishlist_share": 0.7},
        {"sessions_per_day": 0},
    ],
)
def test_bad_config_raises(bad):
    with pytest.raises(ValidationError):
        ShopConfig(**bad)


def test_profiles_have_valid_shop_tables():
    smoke = load_profile("smoke").section("shop", ShopConfig)
    default = load_profile("default").section("shop", ShopConfig)
    assert smoke.n_items < default.n_items
    assert default.train_days == 28 and default.test_days == 7
    assert 180_000 <= default.sessions_per_day * (default.train_days + 1) <= 230_000


def test_typo_in_profile_is_rejected(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[shop]\nthetta = 0.5\n")
    with pytest.raises(ProfileError, match="thetta"):
        load_profile(path).section("shop", ShopConfig)


def test_bad_arguments_raise(tiny_world):
    with pytest.raises(ValueError, match="days"):
        tiny_world.experiment_population(days=0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        tiny_world.experiment_population(days=1, seed=-1)
    pop = tiny_world.experiment_population(days=1, seed=1, sessions_per_day=5)
    with pytest.raises(ValueError, match="history_len"):
        tiny_world.open_shop(pop, history_len=0)
    from paretoalign.world.offline import run_sessions

    lo = np.zeros(len(pop), np.int64)
    with pytest.raises(ValueError, match="table"):
        run_sessions(tiny_world, pop, tiny_world.logging_table[:, :2], lo, lo)


def test_calibration_table_shape_and_relax():
    stats = {
        "clicks_share_pct": 91.0, "carts_share_pct": 6.0, "orders_share_pct": 3.0,
        "orders_per_cart": 0.36, "events_per_session_p50": 6, "events_per_session_p75": 19,
        "events_per_session_p90": 39, "events_per_session_p95": 68, "events_per_item_p50": 10,
        "events_per_item_p90": 150, "rec_share_of_page_views_pct": 20.0,
        "repeat_view_rate": 0.3, "wishlist_order_share": 0.02, "units_per_order_line": 1.1,
    }  # fmt: skip
    rows = {r["name"]: r for r in calibration_checks(stats)}
    assert rows["clicks_share_pct"]["ok"] is True
    assert rows["carts_share_pct"]["ok"] is False  # 1.8 points off
    assert rows["orders_per_cart"]["ok"] is False
    assert rows["events_per_session_p75"]["ok"] is False  # +27%
    assert rows["events_per_item_p90_over_p50"]["ok"] is False  # 15 vs 9.15
    assert rows["repeat_view_rate"]["ok"] is None and rows["repeat_view_rate"]["otto"] is None
    relaxed = {r["name"]: r for r in calibration_checks(stats, relax=2.0)}
    assert relaxed["carts_share_pct"]["ok"] and relaxed["events_per_session_p75"]["ok"]
    for r in rows.values():
        assert set(r) == {"name", "sim", "otto", "tolerance", "rule", "ok"}


def test_smoke_profile_passes_calibration():
    cfg = load_profile("smoke").section("shop", ShopConfig)
    doc = calibrate(World.build(cfg), relax=1.25)
    failed = [r for r in doc["checks"] if r["ok"] is False]
    assert doc["all_ok"], failed
    assert 6_000 <= doc["train"]["sessions"] <= 12_000


def _profile(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(
        "[shop]\nn_items = 300\nn_categories = 8\ndim = 8\nslate_size = 6\n"
        "sessions_per_day = 60.0\nburn_in_days = 1\ntrain_days = 4\ntest_days = 1\n"
        "logging_history_sessions = 500\ncalibration_sessions = 500\ncalibration_rounds = 1\n"
        "impression_log_share = 0.5\n"
    )
    return path


def test_cli_simulate_writes_the_data_set(tmp_path):
    out = tmp_path / "data"
    result = CliRunner().invoke(
        app,
        [
            "world",
            "simulate",
            "--profile",
            str(_profile(tmp_path)),
            "--out",
            str(out),
            "--otto-jsonl",
        ],
    )
    assert result.exit_code == 0, result.output
    ds = load_dataset(out)
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["train"]) == {"sessions", "events", "clicks", "carts", "orders"}
    assert stats["source"] == "shop" and stats["n_items"] == 300
    assert stats["train"]["sessions"] == ds.train.n_sessions > 0
    assert stats["shop"]["train"]["rec_share_of_page_views_pct"] > 0
    imp = pd.read_parquet(out / "impressions.parquet")
    assert {"session_id", "split", "ts", "page_aid", "position", "aid", "propensity",
            "random_slate", "clicked"} <= set(imp.columns)  # fmt: skip
    assert set(imp.session_id) <= set(ds.train.session_id) | set(ds.test.session_id)
    items = pd.read_parquet(out / "truth_items.parquet")
    assert len(items) == 300 and {"attractiveness", "utility", "price", "log_popularity",
                                  "category"} <= set(items.columns)  # fmt: skip
    shoppers = pd.read_parquet(out / "truth_shoppers.parquet")
    assert set(shoppers.shopper_id) == set(ds.train.session_id) | set(ds.test.session_id)
    otto = read_otto(out / "otto-recsys-train.jsonl")
    assert (otto.aid == ds.train.aid).all() and (otto.ts == ds.train.ts).all()
    assert (otto.session_id == ds.train.session_id).all()


def test_cli_calibrate_writes_json(tmp_path):
    target = tmp_path / "calib.json"
    result = CliRunner().invoke(
        app, ["world", "calibrate", "--profile", str(_profile(tmp_path)), "--json", str(target)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(target.read_text())
    names = {r["name"] for r in doc["checks"]}
    assert {"clicks_share_pct", "orders_per_cart", "events_per_session_p95",
            "events_per_item_p90_over_p50", "rec_share_of_page_views_pct",
            "repeat_view_rate"} <= names  # fmt: skip
    assert isinstance(doc["all_ok"], bool)
