"""The strategy check end to end on synthetic worlds with known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from paretoalign.align.analysis import AlignConfig
from paretoalign.validate.check import DesignConfig, ValidateConfig, WorldPanel, run_validation

METRICS = ["recall@20", "density@20", "placebo@20"]
KPIS = ["ctr", "post_click_cvr", "units_per_shopper"]
PAIR = ("recall@20", "post_click_cvr")


def _config(**kw):
    base = dict(
        metrics=METRICS,
        kpis=KPIS,
        key_pairs=[PAIR],
        groups=[4, 6],
        days=[7, 28],
        traffic=[1.0],
        experiment_seeds=30,
        tuning_seeds=20,
        fixed_arms=None,
    )
    base.update(kw)
    return ValidateConfig(**base)


@pytest.fixture
def worlds(synthetic_panel):
    def make(label, role, seed, slope, rho):
        panel = synthetic_panel(np.random.default_rng(seed), cvr_slope=slope, n_shoppers=2000)
        return WorldPanel(label, role, panel, 500.0, seed, rho)

    return [
        make("seed0", "seed", 0, -0.1, 0.2),
        make("seed1", "seed", 1, -0.1, 0.2),
        make("click_bait", "flip", 0, -0.14, -0.6),
        make("aligned", "flip", 0, 0.2, 0.8),
    ]


def test_run_validation_scores_controls_and_flips(worlds):
    cfg = _config()
    out = run_validation(worlds, cfg, AlignConfig())
    json.dumps(out)  # JSON-ready
    for key in ("precision", "recall", "f1", "sign_errors", "aa_fwer", "placebo_fpr"):
        assert key in out
    assert out["design"]["groups"] in (4, 6) and out["design"]["days"] in (7, 28)
    assert out["seeds"]["world"] == [0, 1] and out["seeds"]["experiment"] == 30
    assert len(out["curves"]) == 4
    assert out["precision"] > 0.8
    assert out["aa_fwer"] <= 0.05 + 3 * out["aa_fwer_se"] + 1e-9
    # The truth flips with the world, and the strategy follows it.
    tag = f"{PAIR[0]}~{PAIR[1]}"
    assert out["flip_worlds"]["aligned"][f"true_sign[{tag}]"] == 1
    assert out["flip_worlds"]["seed0"][f"true_sign[{tag}]"] == -1
    assert out["flip_directions"]["aligned"][tag]["truth_moves"]
    assert out["flip_directions"]["aligned"][tag]["strategy_moves"]
    assert out["flip_directions"]["aligned"][tag]["tracks_truth"]
    assert set(out["flip_worlds"]) == {"seed0", "click_bait", "aligned"}
    assert out["oracle_stability"]["seed0"]["agreement"] > 0.7
    assert out["acceptance"]["aa_fwer_ok"]


def test_fixed_design_and_errors(worlds):
    cfg = _config(design=DesignConfig(groups=5, days=28, traffic=1.0), groups=[4], days=[28])
    out = run_validation(worlds[:1], cfg, AlignConfig())
    assert out["design"] == {"groups": 5, "days": 28, "traffic": 1.0}
    assert out["design_reason"].startswith("fixed")
    assert out["flip_worlds"].keys() == {"seed0"}
    with pytest.raises(ValueError, match="seed world"):
        run_validation(worlds[2:], cfg, AlignConfig())
    with pytest.raises(ValueError, match="metrics not in"):
        run_validation(worlds[:1], _config(metrics=["nope@20"]), AlignConfig())
    # A design that cannot be built (more front groups than arms) is reported, not fatal.
    out = run_validation(worlds[:1], _config(groups=[4, 30], days=[28]), AlignConfig())
    assert any("error" in c for c in out["curves"])


def test_noise_free_ceiling_is_reported(worlds):
    out = run_validation(worlds[:1], _config(groups=[4, 6, 30], days=[28]), AlignConfig())
    ceiling = {c["groups"]: c for c in out["noise_free_ceiling"]}
    assert "error" in ceiling[30]
    # Six noise-free groups find planted pairs (the exact p can reach 2/6! = 0.0028).
    assert ceiling[6]["recall"] >= 0.5 and ceiling[6]["replicates"] == 1
    # Four groups can never reach p < 0.05 (2/4! = 0.083): nothing is discovered.
    assert ceiling[4]["recall"] == 0.0


def test_fixed_and_aa_arms_follow_the_panel(worlds):
    from paretoalign.validate.check import aa_arm, fixed_arms

    panel = worlds[0].panel
    assert fixed_arms(panel, _config()) == ["control"]
    assert fixed_arms(panel, _config(fixed_arms=[])) == []
    assert aa_arm(panel, _config()) == "control"
    assert aa_arm(panel, _config(aa_arm="p3")) == "p3"
    with pytest.raises(ValueError, match="fixed arms"):
        fixed_arms(panel, _config(fixed_arms=["nope"]))
