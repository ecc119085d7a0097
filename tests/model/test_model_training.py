"""Training: configs, determinism, learning, checkpoints, resume equivalence, DDP."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from paretoalign.data import Dataset, save_dataset
from paretoalign.model import TrainConfig, from_multitron_json, load_model, train
from paretoalign.model.config import MULTITRON_DEFAULTS
from paretoalign.model.io import CHECKPOINT_NAME, load_checkpoint
from paretoalign.model.synthetic import synthetic_sessions
from paretoalign.model.training import BatchSource, compute_loss, draw_pi

REPO = Path(__file__).resolve().parents[2]

MULTITRON_OTTO = {
    "dataset": "otto",
    "beta": [0.5, 0.5],
    "regularization_penalty": 0.5,
    "hidden_size": 200,
    "num_layers": 3,
    "dropout": 0.05,
    "num_batch_negatives": 32,
    "num_uniform_negatives": 16384,
    "reject_uniform_session_items": False,
    "reject_in_batch_items": True,
    "sampling_style": "batchwise",
    "topk_sampling": True,
    "topk_sampling_k": 100,
    "loss": "ssm_and_be",
    "max_epochs": 10,
    "batch_size": 256,
    "max_session_length": 50,
    "lr": 0.0001,
    "limit_val_batches": 1.0,
    "accelerator": "gpu",
    "overfit_batches": 0,
    "share_embeddings": True,
    "output_bias": False,
    "shuffling_style": "no_shuffling",
    "optimizer": "adam",
}


def tiny_config(**kw) -> TrainConfig:
    base = dict(
        hidden_size=8,
        num_layers=1,
        max_len=8,
        batch_size=16,
        epochs=1.0,
        num_uniform_negatives=40,
        num_batch_negatives=6,
        topk_negatives=10,
        warmup_steps=2,
        checkpoint_every=3,
        dropout=0.1,
    )
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def tiny_log():
    return synthetic_sessions(150, 60, seed=11, n_categories=3, mean_clicks=5)


# ---------------------------------------------------------------------------- configs
def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="extra"):
        TrainConfig(learning_rate=0.1)
    with pytest.raises(ValueError, match="distinct"):
        TrainConfig(objectives=("clicks", "clicks"))
    with pytest.raises(ValueError, match="2 to"):
        TrainConfig(objectives=("clicks",))
    with pytest.raises(ValueError, match="'clicks'"):
        TrainConfig(objectives=("carts", "orders"))
    with pytest.raises(ValueError, match="beta"):
        TrainConfig(beta=(1.0, 2.0))  # three objectives
    with pytest.raises(ValueError, match="beta"):
        TrainConfig(beta=-1.0)
    with pytest.raises(ValueError, match="num_heads"):
        TrainConfig(hidden_size=10, num_heads=3)


def test_faithful_switch_fills_reference_values_but_keeps_explicit_ones():
    cfg = TrainConfig(multitron_faithful=True, epochs=1)
    for key, value in MULTITRON_DEFAULTS.items():
        if key != "epochs":
            assert getattr(cfg, key) == value, key
    assert cfg.epochs == 1
    assert TrainConfig().lr != MULTITRON_DEFAULTS["lr"]


def test_lr_schedule():
    cfg = TrainConfig(lr=1.0, warmup_steps=4, schedule="cosine", min_lr_ratio=0.1)
    assert [cfg.lr_at(s, 20) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert cfg.lr_at(4, 20) == pytest.approx(1.0)
    assert cfg.lr_at(19, 20) == pytest.approx(0.1)
    assert TrainConfig(lr=0.5, warmup_steps=0, schedule="constant").lr_at(7, 9) == 0.5


def test_multitron_json_loader(tmp_path):
    path = tmp_path / "tron.json"
    path.write_text(json.dumps(MULTITRON_OTTO))
    cfg = from_multitron_json(path)
    assert cfg.objectives == ("clicks", "orders")
    assert cfg.topk_negatives == 100 and cfg.num_uniform_negatives == 16384
    assert cfg.beta == (0.5, 0.5) and cfg.regularization_penalty == 0.5
    assert cfg.lr == 1e-4 and cfg.epochs == 10 and cfg.max_len == 50
    assert not cfg.shuffle and not cfg.logq_correction and not cfg.remove_accidental_hits
    assert cfg.schedule == "constant" and cfg.warmup_steps == 0 and cfg.grad_clip is None
    distortion = from_multitron_json({**MULTITRON_OTTO, "loss": "ssm_and_distortion"})
    assert distortion.objectives == ("clicks", "distortion")
    assert from_multitron_json({**MULTITRON_OTTO, "topk_sampling": False}).topk_negatives is None
    with pytest.raises(ValueError, match="unknown MultiTRON config key"):
        from_multitron_json({**MULTITRON_OTTO, "hiden_size": 3})
    with pytest.raises(ValueError, match="sampling_style"):
        from_multitron_json({**MULTITRON_OTTO, "sampling_style": "eventwise"})
    with pytest.raises(ValueError, match="unknown loss"):
        from_multitron_json({**MULTITRON_OTTO, "loss": "bpr"})


def test_multitron_otto_profile_equals_the_reference_json():
    from paretoalign.config import load_profile

    profile = load_profile("multitron-otto")
    assert profile.section("train", TrainConfig) == from_multitron_json(MULTITRON_OTTO)


# ---------------------------------------------------------------------------- loop pieces
def test_batches_and_pi_are_pure_functions_of_seed_and_step(tiny_log):
    cfg = tiny_config()
    a, b = BatchSource(tiny_log, cfg), BatchSource(tiny_log, cfg)
    assert a.batch(5).equals(b.batch(5)) and not a.batch(5).equals(a.batch(6))
    np.testing.assert_array_equal(draw_pi(cfg, 3), draw_pi(cfg, 3))
    assert draw_pi(cfg, 3).sum() == pytest.approx(1.0) and len(draw_pi(cfg, 3)) == 3
    # no shuffling: file order, short sessions dropped
    ordered = BatchSource(tiny_log, tiny_config(shuffle=False))
    first = ordered.batch(0).session_index
    assert first.tolist() == list(range(16))
    kept = BatchSource(tiny_log, tiny_config(drop_short_sessions=False))
    assert len(kept.sessions) == tiny_log.n_sessions > len(a.sessions)


def test_compute_loss_total_is_weighted_sum_plus_penalty(tiny_log):
    from paretoalign.model.training import build_model, to_device

    cfg = tiny_config(dropout=0.0)
    model = build_model(cfg, tiny_log.n_items)
    seq = BatchSource(tiny_log, cfg).batch(0)
    batch = to_device(seq, slice(None), torch.device("cpu"))
    pi = torch.tensor([0.5, 0.2, 0.3])
    from paretoalign.model.sampling import sample_negatives

    negatives = sample_negatives(
        batch["inputs"], tiny_log.n_items, 40, 6, generator=torch.Generator().manual_seed(0)
    )
    loss, sums, count = compute_loss(model, batch, pi, negatives, cfg)
    assert count == int(seq.mask.sum())
    means = sums / count
    expected = (pi * means[:3]).sum() + cfg.regularization_penalty * means[3]
    torch.testing.assert_close(loss.detach(), expected)  # default normaliser: the count
    assert means[3].item() >= np.log(3) - 1e-6  # the EPO term is at least log K
    halved, _, _ = compute_loss(model, batch, pi, negatives, cfg, normaliser=2 * count)
    torch.testing.assert_close(halved.detach(), expected / 2)
    # fixed loss weights scale each objective's loss before π and the regulariser
    weights = (1.0, 5.0, 2.0)
    weighted_cfg = cfg.model_copy(update={"loss_weights": weights})
    w_loss, w_sums, _ = compute_loss(model, batch, pi, negatives, weighted_cfg)
    torch.testing.assert_close(w_sums[:3], sums[:3] * torch.tensor(weights, dtype=sums.dtype))
    w_means = w_sums / count
    w_expected = (pi * w_means[:3]).sum() + cfg.regularization_penalty * w_means[3]
    torch.testing.assert_close(w_loss.detach(), w_expected)
    with pytest.raises(ValueError, match="loss_weights"):
        tiny_config(loss_weights=(1.0, 2.0))
    with pytest.raises(ValueError, match="loss_weights"):
        tiny_config(loss_weights=(1.0, 0.0, 2.0))


def test_length_bucketing_groups_similar_lengths(tiny_log):
    cfg = tiny_config(batch_size=8)
    bucketed = BatchSource(tiny_log, cfg.model_copy(update={"length_bucketing": True}))
    plain = BatchSource(tiny_log, cfg)
    spread = {
        name: np.mean([np.ptp(src.batch(i).lengths) for i in range(src.batches_per_epoch)])
        for name, src in (("bucketed", bucketed), ("plain", plain))
    }
    assert spread["bucketed"] < spread["plain"] / 2
    # every session of the epoch is used once, whatever the order
    for src in (bucketed, plain):
        used = src.order(0)[: src.batches_per_epoch * 8]
        assert len(np.unique(used)) == len(used)
    assert sorted(bucketed.order(0).tolist()) == sorted(plain.order(0).tolist())
    assert bucketed.mean_positions > 0


# ---------------------------------------------------------------------------- end to end
def test_training_learns_and_writes_loadable_files(tmp_path):
    # strong sequential structure: 90 % of clicks follow the item's fixed successor
    log = synthetic_sessions(300, 40, seed=11, n_categories=2, mean_clicks=8, p_follow=0.9)
    cfg = tiny_config(epochs=4.0, lr=1e-2, hidden_size=16)
    result = train(cfg, log, tmp_path, progress=False)
    assert result.steps == result.total_steps == 4 * BatchSource(log, cfg).batches_per_epoch
    first = np.mean([r["loss_clicks"] for r in result.history[:4]])
    last = np.mean([r["loss_clicks"] for r in result.history[-4:]])
    assert last < first - 0.3
    assert result.events > 0 and result.events_per_s > 0 and 0 <= result.data_share < 1
    model = load_model(tmp_path)
    torch.testing.assert_close(model.item_embeddings(), result.model.item_embeddings())
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert state["position"]["step"] == result.total_steps
    assert (tmp_path / "history.json").is_file()
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["config"] == cfg.model_dump_json()


def test_padding_row_stays_frozen(tiny_log, tmp_path):
    from paretoalign.model.training import build_model

    cfg = tiny_config(max_steps=4)
    before = build_model(cfg, tiny_log.n_items).item_embeddings()[0].clone()
    result = train(cfg, tiny_log, tmp_path, progress=False)
    assert torch.equal(result.model.item_embeddings()[0], before)
    assert not torch.equal(
        result.model.item_embeddings()[1:], build_model(cfg, 60).item_embeddings()[1:]
    )


RECIPE = dict(
    normalize_items=True,
    identity_init=True,
    item_codes=1.0,
    copy_recent=2,
    bce_negatives=True,
    pi_item_bias=True,
    repeat_bonus=True,
)


@pytest.mark.parametrize("backbone", ["transformer", "gru", "recipe"])
def test_resume_is_bitwise_equal_to_an_uninterrupted_run(tiny_log, tmp_path, backbone):
    extra = RECIPE if backbone == "recipe" else {"backbone": backbone}
    cfg = tiny_config(epochs=2.0, **extra)
    whole = train(cfg, tiny_log, tmp_path / "whole", progress=False)
    part = train(cfg, tiny_log, tmp_path / "part", progress=False, stop_after=4)
    assert part.steps == 4 and not (tmp_path / "part" / "model.json").exists()
    resumed = train(cfg, tiny_log, tmp_path / "part", progress=False, resume=True)
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.history == whole.history
    with pytest.raises(ValueError, match="different"):
        train(cfg.model_copy(update={"lr": 0.5}), tiny_log, tmp_path / "part", resume=True)


def test_same_seed_same_bytes_other_seed_differs(tiny_log, tmp_path):
    cfg = tiny_config(max_steps=3)
    a = train(cfg, tiny_log, tmp_path / "a", progress=False).model.state_dict()
    b = train(cfg, tiny_log, tmp_path / "b", progress=False).model.state_dict()
    c = train(cfg.model_copy(update={"seed": 1}), tiny_log, tmp_path / "c", progress=False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c.model.state_dict()[k]) for k in a)


def test_same_seed_same_bytes_on_two_threads(tmp_path):
    """Large enough that the backward of ``table[ids]`` is split across threads: without
    deterministic kernels three runs ended with three different parameter sets (measured
    at d = 128, 30 steps, 2 threads); with them all three are equal."""
    log = synthetic_sessions(400, 300, seed=11, n_categories=3, mean_clicks=8)
    cfg = TrainConfig(hidden_size=128, num_layers=1, max_len=20, batch_size=64, max_steps=30,
                      num_uniform_negatives=200, num_batch_negatives=16, topk_negatives=20,
                      checkpoint_every=1000, **RECIPE)  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        runs = [train(cfg, log, tmp_path / str(i), progress=False).model for i in range(3)]
    finally:
        torch.set_num_threads(threads)
    first = runs[0].state_dict()
    for other in runs[1:]:
        assert all(torch.equal(first[k], other.state_dict()[k]) for k in first)
    assert not torch.are_deterministic_algorithms_enabled()  # restored after training


def test_deterministic_cpu_restores_the_previous_mode():
    from paretoalign.model.training import deterministic_cpu

    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with deterministic_cpu(torch.device("cpu")):
            assert torch.are_deterministic_algorithms_enabled()
            assert not torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    with deterministic_cpu(torch.device("meta")):  # only the CPU is switched
        assert not torch.are_deterministic_algorithms_enabled()


def test_faithful_and_distortion_configs_train(tiny_log, tmp_path):
    faithful = TrainConfig(
        multitron_faithful=True,
        hidden_size=8,
        num_layers=1,
        max_len=8,
        batch_size=16,
        num_uniform_negatives=30,
        max_steps=2,
    )
    assert train(faithful, tiny_log, tmp_path / "f", progress=False).steps == 2
    distortion = tiny_config(objectives=("clicks", "distortion"), regularizer="cosine", max_steps=2)
    assert train(distortion, tiny_log, tmp_path / "d", progress=False).steps == 2


def test_catalogue_negatives_untied_embeddings_and_wide_ffn(tiny_log, tmp_path):
    cfg = tiny_config(
        negatives="catalogue", share_embeddings=False, ffn_size=24, max_steps=3, dropout=0.0
    )
    result = train(cfg, tiny_log, tmp_path, progress=False)
    model = load_model(tmp_path)
    assert model.output_embedding is not None
    assert model.backbone.encoder.layers[0].linear1.out_features == 24
    assert not torch.equal(model.item_embeddings(), model.item_embedding.weight)
    torch.testing.assert_close(model.item_embeddings(), result.model.item_embeddings())
    # catalogue negatives with all candidates kept = the exact softmax over the items
    from paretoalign.model.training import to_device

    seq = BatchSource(tiny_log, cfg).batch(0)
    batch = to_device(seq, slice(None), torch.device("cpu"))
    exact = cfg.model_copy(update={"topk_negatives": None, "regularization_penalty": 0.0})
    pi = torch.tensor([1.0, 0.0, 0.0])
    from paretoalign.model.sampling import BatchNegatives

    negatives = BatchNegatives(
        torch.arange(1, 61), 0.0, torch.zeros(16, 0, dtype=torch.long), torch.zeros(16, 0)
    )
    with torch.no_grad():
        loss, _, count = compute_loss(model, batch, pi, negatives, exact)
        states = model.encode(batch["inputs"], pi)[batch["mask"]]
        logits = states @ model.item_embeddings().T
        logits[:, 0] = -torch.inf
        expected = torch.nn.functional.cross_entropy(logits, batch["targets"][batch["mask"]])
    torch.testing.assert_close(loss, expected)
    assert count == int(seq.mask.sum())


def test_cuda_request_without_cuda_is_an_error(tiny_log, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA"):
        train(tiny_config(max_steps=1), tiny_log, tmp_path, device="cuda")


def test_too_few_sessions_for_a_batch(tmp_path):
    log = synthetic_sessions(5, 20, seed=0, n_categories=2)
    with pytest.raises(ValueError, match="cannot fill one batch"):
        train(tiny_config(), log, tmp_path)


# ---------------------------------------------------------------------------- DDP
def _run(args: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_two_process_ddp_matches_single_process(tiny_log, tmp_path):
    """torchrun, 2 CPU processes (gloo): ranks agree exactly, and match one process."""
    save_dataset(tmp_path / "data", Dataset(train=tiny_log, test=tiny_log[:10]))
    table = (
        "hidden_size = 8\nnum_layers = 1\nbatch_size = 16\nmax_steps = 4\n"
        "num_uniform_negatives = 40\nnum_batch_negatives = 6\ntopk_negatives = 10\n"
        "dropout = 0.0\nwarmup_steps = 1\n"
    )
    (tmp_path / "ddp.toml").write_text(f"[data]\nmax_len = 8\n\n[train]\n{table}")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cli = ["-m", "paretoalign", "train", "--profile", "ddp.toml", "--data", "data"]
    _run([*torchrun, *cli, "--out", "ddp", "--no-summary", "--no-progress"], tmp_path)
    # the same global batches in one process
    import tomllib

    cfg = TrainConfig(max_len=8, **tomllib.loads(table))
    single = train(cfg, tiny_log, tmp_path / "single", progress=False)

    meta = json.loads((tmp_path / "ddp" / "model.json").read_text())
    assert meta["ddp"] == {"world_size": 2, "max_parameter_difference_across_ranks": 0.0}
    ddp = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    reference = single.model.state_dict()
    # float sums in another order; Adam turns near-zero gradients into lr-sized steps,
    # so the tolerance is a fraction of one step (lr = 2e-3)
    for key in reference:
        torch.testing.assert_close(ddp[key], reference[key], rtol=1e-3, atol=2e-4)
    history = json.loads((tmp_path / "ddp" / "history.json").read_text())
    assert [r["n_positions"] for r in history] == [r["n_positions"] for r in single.history]
    np.testing.assert_allclose(
        [r["loss"] for r in history], [r["loss"] for r in single.history], rtol=1e-4
    )


def test_train_command_writes_summary(tiny_log, tmp_path):
    from typer.testing import CliRunner

    from paretoalign.cli import app

    save_dataset(tmp_path / "data", Dataset(train=tiny_log, test=tiny_log[:40]))
    (tmp_path / "p.toml").write_text(
        "[data]\nmax_len = 8\n\n[train]\nhidden_size = 8\nnum_layers = 1\n"
        "batch_size = 16\nmax_steps = 3\nnum_uniform_negatives = 20\n"
    )
    args = ["train", "--profile", str(tmp_path / "p.toml"), "--data", str(tmp_path / "data")]
    done = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out"), "--no-progress"])
    assert done.exit_code == 0, done.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["model"]) == {
        *("1,0,0", "0,1,0", "0,0,1", "0.333,0.333,0.333"),  # corners and centre
        *("0.75,0,0.25", "0.5,0,0.5", "0.25,0,0.75"),  # the clicks -> orders edge
    }
    assert set(summary["baselines"]) == {"popularity", "covisitation"}
    for row in [*summary["model"].values(), *summary["baselines"].values()]:
        assert 0.0 <= row["click_recall@20"] <= 1.0
        assert {"cart_recall@20", "order_recall@20", "order_density@20"} <= set(row)
    assert summary["events_per_s"] > 0 and summary["steps"] == 3
    assert summary["model"]["0,0,1"]["pi"] == [0.0, 0.0, 1.0]
    # paired comparisons: clicks corner vs both baselines (no logging policy: --data), the
    # orders corner vs co-visitation, then each step along the clicks -> orders edge
    pairs = [(c["a"], c["b"], c["metric"]) for c in summary["comparisons"]]
    assert pairs[:4] == [
        ("model 1,0,0", "covisitation", "click_recall@20"),
        ("model 1,0,0", "popularity", "click_recall@20"),
        ("model 0,0,1", "covisitation", "order_recall@20"),
        ("model 0,0,1", "covisitation", "order_density@20"),
    ]
    edge = ["model 1,0,0", "model 0.75,0,0.25", "model 0.5,0,0.5", "model 0.25,0,0.75",
            "model 0,0,1"]  # fmt: skip
    metrics = ("click_recall@20", "order_recall@20", "order_density@20")
    steps = [(b, a, m) for m in metrics for a, b in itertools.pairwise(edge)]
    assert pairs[4:] == steps
    rows = {f"model {key}": row for key, row in summary["model"].items()}
    rows.update(summary["baselines"])
    for c in summary["comparisons"]:
        assert c["value_a"] == rows[c["a"]][c["metric"]]
        assert c["value_b"] == rows[c["b"]][c["metric"]]
        assert c["difference"] == pytest.approx(c["value_a"] - c["value_b"], abs=1e-15)
        assert c["ci_low"] <= c["ci_high"] and 0.0 < c["p_value"] <= 1.0
    # [train] max_len that contradicts [data] max_len is refused
    (tmp_path / "bad.toml").write_text("[data]\nmax_len = 8\n\n[train]\nmax_len = 9\n")
    bad = CliRunner().invoke(app, ["train", "--profile", str(tmp_path / "bad.toml")])
    assert bad.exit_code != 0


def test_bench_train_case_rows(tiny_log):
    from paretoalign.bench.train import time_case

    rows, note = time_case(tiny_log, d=8, n_uniform=16, batch=16, length=8, repeats=1)
    assert [r.impl for r in rows] == ["paretoalign", "limit", "multitron-style"]
    assert all(r.median_s > 0 and r.unit == "events/s" for r in rows)
    assert 0 <= note["data_share"] < 1 and note["step_over_limit"] > 0
