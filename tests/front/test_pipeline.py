"""Front tracing and the whole front -> experiment chain on a tiny profile."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from paretoalign.front.trace import batch_loss_sums, evaluate_losses

TINY_PROFILE = """
[data]
source = "shop"
max_len = 50

[shop]
n_items = 300
n_categories = 8
sessions_per_day = 60.0
burn_in_days = 1
train_days = 3
test_days = 1
calibration_sessions = 300
calibration_rounds = 1
logging_history_sessions = 300

[train]
objectives = ["clicks", "orders"]
hidden_size = 16
num_layers = 1
batch_size = 32
max_steps = 6
warmup_steps = 1
num_uniform_negatives = 64
checkpoint_every = 100

[front]
points = 4
n_groups = 3
control = "logging"
off_front = ["popularity_penalised", "popularity"]
threads = 1

[experiment]
days = 2
sessions_per_day = 150.0
salt = "tiny"
open_sessions = 128
impression_log_share = 0.3
threads = 1
"""


@pytest.fixture(scope="module")
def tiny_profile(tmp_path_factory):
    from paretoalign.config import load_profile
    from paretoalign.model import TrainConfig, train
    from paretoalign.world import ShopConfig, World, write_offline

    root = tmp_path_factory.mktemp("results")
    path = root / "tiny.toml"
    path.write_text(TINY_PROFILE)
    profile = load_profile(path, results_root=root)
    world = World.build(profile.section("shop", ShopConfig))
    logs = write_offline(world, profile.results / "data")
    train(
        profile.section("train", TrainConfig),
        logs.dataset.train,
        profile.results / "train",
        n_items=world.n_items,
        progress=False,
    )
    return profile


@pytest.fixture(scope="module")
def front_outputs(tiny_profile):
    from paretoalign.front.pipeline import run_front

    return run_front(tiny_profile, progress=False)


def test_batch_loss_sums_equal_the_training_step(tiny_profile):
    from paretoalign.data import load_dataset
    from paretoalign.data.labels import label_sequences
    from paretoalign.model import TrainConfig, load_model, model_metadata
    from paretoalign.model.training import batch_negatives, compute_loss

    model = load_model(tiny_profile.results / "train")
    cfg = TrainConfig.model_validate(model_metadata(tiny_profile.results / "train")["train_config"])
    test = load_dataset(tiny_profile.results / "data").test
    seq = label_sequences(test[:40], 50)
    inputs = torch.from_numpy(seq.inputs).long()
    batch = {
        "inputs": inputs,
        "targets": torch.from_numpy(seq.targets).long(),
        "mask": torch.from_numpy(seq.mask),
        "cart_label": torch.from_numpy(seq.cart_label),
        "order_label": torch.from_numpy(seq.order_label),
        "session": torch.arange(len(seq.inputs)),
    }
    for weights in ([0.3, 0.7], [0.9, 0.1]):
        pi = torch.tensor(weights)
        neg = batch_negatives(cfg, inputs, model.n_items, torch.Generator().manual_seed(1))
        with torch.inference_mode():
            ours, count = batch_loss_sums(model, batch, pi, neg, cfg)
            # the training step's total loss: sum_k pi_k L_k + lambda L_reg, L = sum / count
            loss = compute_loss(model, batch, pi, neg, cfg)[0]
        assert count == int(seq.mask.sum())
        total = (weights[0] * ours[0] + weights[1] * ours[1]) / count
        total += cfg.regularization_penalty * ours[2] / count
        assert float(loss) == pytest.approx(total, rel=1e-5)


def test_losses_use_the_negatives_the_model_was_trained_with(tiny_profile):
    """Sampled negatives depend on the seed; catalogue negatives (every item) do not."""
    from paretoalign.data import load_dataset
    from paretoalign.model import TrainConfig, load_model, model_metadata

    model = load_model(tiny_profile.results / "train")
    cfg = TrainConfig.model_validate(model_metadata(tiny_profile.results / "train")["train_config"])
    test = load_dataset(tiny_profile.results / "data").test[:60]
    sampled = [evaluate_losses(model, test, [0.5, 0.5], cfg, seed=s) for s in (3, 4)]
    assert sampled[0]["loss_clicks"] != sampled[1]["loss_clicks"]
    catalogue = cfg.model_copy(update={"negatives": "catalogue"})
    full = [evaluate_losses(model, test, [0.5, 0.5], catalogue, seed=s) for s in (3, 4)]
    assert full[0] == full[1] and full[0]["loss_clicks"] != sampled[0]["loss_clicks"]


def test_losses_are_deterministic_and_move_with_pi(tiny_profile):
    from paretoalign.data import load_dataset
    from paretoalign.model import TrainConfig, load_model, model_metadata

    model = load_model(tiny_profile.results / "train")
    cfg = TrainConfig.model_validate(model_metadata(tiny_profile.results / "train")["train_config"])
    test = load_dataset(tiny_profile.results / "data").test
    a = evaluate_losses(model, test, [0.9, 0.1], cfg, batch_size=32, seed=3)
    assert a == evaluate_losses(model, test, [0.9, 0.1], cfg, batch_size=32, seed=3)
    b = evaluate_losses(model, test, [0.1, 0.9], cfg, batch_size=32, seed=3)
    assert set(a) == {"loss_clicks", "loss_orders", "loss_reg"}
    assert a["loss_clicks"] != b["loss_clicks"] and a["loss_orders"] != b["loss_orders"]
    assert all(np.isfinite(v) for v in a.values())


def test_front_outputs(front_outputs, tiny_profile):
    out = tiny_profile.results
    front = pd.read_parquet(out / "front.parquet")
    assert len(front) == 5  # Beta grid, n = 4 -> 5 points
    for col in (
        "point",
        "pi_clicks",
        "pi_orders",
        "click_recall@20",
        "order_density@20",
        "recall_x_order_density@20",
        "coverage@20",
        "loss_clicks",
        "loss_orders",
        "loss_reg",
        "on_front",
        "on_front_loss",
    ):
        assert col in front.columns, col
    assert front["on_front"].any()
    np.testing.assert_allclose(front[["pi_clicks", "pi_orders"]].sum(axis=1), 1.0)
    doc = json.loads((out / "front.json").read_text())
    for space in doc["spaces"].values():
        assert space["hypervolume"] >= 0 and len(space["reference_point"]) == 2
    groups = json.loads((out / "groups.json").read_text())
    names = [g["name"] for g in groups["groups"]]
    assert names == [
        "front_1",
        "front_2",
        "front_3",
        "control",
        "popularity_penalised",
        "popularity",
    ]
    kinds = {g["name"]: g["kind"] for g in groups["groups"]}
    assert kinds["control"] == "control" and kinds["popularity"] == "baseline"
    assert "reason" in groups["choice"]["collinearity"]
    table = pd.read_parquet(out / "groups.parquet")
    assert table["click_recall@20"].notna().all()
    assert (out / "front.png").stat().st_size > 1000
    pen = table.set_index("group").loc["popularity_penalised"]
    assert pen["popularity_penalty"] > 0


def test_experiment_and_aa(front_outputs, tiny_profile):
    from paretoalign.online.experiment import run_experiment

    ab = run_experiment(tiny_profile, progress=False)
    out = tiny_profile.results
    kpis = pd.read_parquet(out / "kpis.parquet")
    assert list(kpis.columns[:7]) == ["group", "day", "kpi", "value", "ci_low", "ci_high", "n"]
    assert set(kpis.group) == {
        "front_1",
        "front_2",
        "front_3",
        "control",
        "popularity_penalised",
        "popularity",
    }
    events = pd.read_parquet(out / "events.parquet")
    assert {"group", "day", "shopper_id", "event", "position", "units", "revenue"} <= set(
        events.columns
    )
    assert (events.groupby("shopper_id")["group"].nunique() == 1).all()
    for name in (
        "uplift.parquet",
        "omnibus.parquet",
        "expected_kpis.parquet",
        "srm.json",
        "experiment.json",
        "impressions.parquet",
        "summary.parquet",
    ):
        assert (out / name).is_file(), name
    assert ab.summary["page_views"] > 0 and not ab.srm["flagged"]
    # different π -> different expected KPIs (exact probabilities of the served slates)
    expected = ab.expected.query("day == -1 and kpi == 'expected_ctr'").set_index("group")
    front_ctr = expected.loc[["front_1", "front_2", "front_3"], "value"]
    assert front_ctr.nunique() == 3
    aa = run_experiment(tiny_profile, aa=True, progress=False)
    assert (out / "aa" / "kpis.parquet").is_file()
    assert set(aa.kpis.group) == {f"aa_{j}" for j in range(1, 7)}
    # the A/A arms are one arm: same π for every group
    pis = {tuple(g["pi"].values()) for g in aa.summary["groups"]}
    assert len(pis) == 1
