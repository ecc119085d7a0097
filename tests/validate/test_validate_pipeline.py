"""``paretoalign validate`` end to end on a tiny shop: logs, model, front, experiment, checks.

Slow (a world, a model and two online runs; about two minutes on two idle cores):
``RUN_SLOW=1`` / ``-m slow``. The fast tests of the pieces are in the other files here.
"""

from __future__ import annotations

import json

import pytest

from paretoalign.config import Profile

pytestmark = pytest.mark.slow

TABLES = {
    "data": {"source": "shop", "max_len": 20},
    "shop": {
        "seed": 0,
        "n_items": 400,
        "n_categories": 8,
        "sessions_per_day": 60.0,
        "train_days": 14,
        "test_days": 4,
        "logging_history_sessions": 1500,
        "calibration_sessions": 1500,
        "calibration_rounds": 1,
    },
    "train": {"max_steps": 30, "hidden_size": 16, "batch_size": 64, "num_uniform_negatives": 128},
    "front": {"points": 3, "n_groups": 3},
    "experiment": {"days": 3},
    "align": {"day_level": False},
    "validate": {
        "world_seeds": [0],
        "flip_worlds": {"click_bait": -0.6},
        "experiment_seeds": 10,
        "tuning_seeds": 5,
        "groups": [4, 5],
        "days": [7],
        "traffic": [1.0],
        "grid_points": 6,
        "base_shoppers": 120,
        "base_days": 2,
        "real_runs": 1,
        "real_run_days": 3,
    },
}


def test_validate_runs_end_to_end(tmp_path):
    from paretoalign.align.analysis import AlignConfig
    from paretoalign.align.pipeline import run_align
    from paretoalign.data import load_dataset
    from paretoalign.data.config import dataset_dir
    from paretoalign.front.pipeline import run_front
    from paretoalign.model import TrainConfig, train
    from paretoalign.online.experiment import run_experiment
    from paretoalign.validate.pipeline import run_validate
    from paretoalign.world import ShopConfig, World, write_offline

    profile = Profile(
        name="tiny", path=tmp_path / "tiny.toml", tables=TABLES, results_root=tmp_path
    )
    write_offline(World.build(profile.section("shop", ShopConfig)), dataset_dir(profile))
    dataset = load_dataset(dataset_dir(profile))
    cfg = profile.section("train", TrainConfig).model_copy(update={"max_len": 20})
    train(cfg, dataset.train, profile.results / "train", n_items=dataset.n_items, progress=False)
    run_front(profile, progress=False)
    run_experiment(profile, progress=False)
    run_align(profile.results, profile.section("align", AlignConfig))

    doc = run_validate(profile, progress=False)
    on_disk = json.loads((profile.results / "validation.json").read_text())
    assert on_disk["design"] == doc["design"]
    for key in ("precision", "recall", "f1", "sign_errors", "aa_fwer", "placebo_fpr"):
        assert key in on_disk
    assert set(on_disk["flip_worlds"]) == {"world_0", "click_bait"}
    assert on_disk["seeds"]["world"] == [0]
    check = on_disk["fast_path_check"]
    assert {"experiment", "extra_runs"} <= set(check)
    assert all(row["width_ratio"] > 0 for row in check["extra_runs"]["kpis"])
    assert (profile.results / "validate" / "panels" / "world_0.npz").is_file()
    assert (profile.results / "validate" / "worlds" / "click_bait" / "groups.json").is_file()
    # A second run reuses the cached worlds and panels.
    again = run_validate(profile, progress=False)
    assert again["timing_s"]["worlds"]["click_bait"]["train"] == 0.0
    assert again["precision"] == doc["precision"]
