"""Arm panels, the oracle truth, the fast replicate experiments and the strategy scores."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from paretoalign.align.analysis import AlignConfig
from paretoalign.validate.fastsim import compare_with_real, fast_experiment
from paretoalign.validate.oracle import (
    PANEL_COLUMNS,
    build_panel,
    oracle_kpis,
    split_half_agreement,
    true_alignments,
)
from paretoalign.validate.strategy import (
    Design,
    aa_control,
    choose_design,
    design_arms,
    evaluate_design,
    placebo_control,
)

METRICS = ["recall@20", "density@20", "placebo@20"]
KPIS = ["ctr", "post_click_cvr", "units_per_shopper"]


@pytest.fixture
def panel(rng, synthetic_panel):
    return synthetic_panel(rng)


def test_build_panel_layout_and_errors(rng, panel):
    assert panel.counts.shape == (10, 3000, len(PANEL_COLUMNS))
    assert panel.n_arms == 10 and panel.front.sum() == 9
    assert list(panel.offline.index) == list(panel.names)
    ids = panel.shopper_ids
    good = pd.DataFrame({"shopper_id": ids[:5], **{c: np.ones(5) for c in PANEL_COLUMNS}})
    offline = panel.offline.iloc[:1]
    one = build_panel({"p0": good}, offline, {"p0": "model"}, {"p0": True}, ids)
    assert one.counts[0, 5:].sum() == 0 and one.counts[0, :5].sum() == 5 * len(PANEL_COLUMNS)
    with pytest.raises(ValueError, match="lacks columns"):
        build_panel({"p0": good.drop(columns=["units"])}, offline, {"p0": "m"}, {"p0": True}, ids)
    with pytest.raises(ValueError, match="outside the base"):
        bad = good.assign(shopper_id=good["shopper_id"] + 10**6)
        build_panel({"p0": bad}, offline, {"p0": "m"}, {"p0": True}, ids)
    with pytest.raises(ValueError, match="duplicate"):
        build_panel({"p0": pd.concat([good, good])}, offline, {"p0": "m"}, {"p0": True}, ids)
    with pytest.raises(ValueError, match="offline"):
        build_panel({"zz": good}, offline, {"zz": "m"}, {"zz": True}, ids)


def test_oracle_kpis_and_truth(panel):
    oracle = oracle_kpis(panel, KPIS)
    # CTR is the expected-value one: exactly the planted click probabilities.
    np.testing.assert_allclose(oracle.loc["p0", "ctr"], 0.03)
    np.testing.assert_allclose(oracle.loc["p8", "ctr"], 0.06)
    assert (oracle["ctr_se"] >= 0).all() and (oracle["units_per_shopper_se"] > 0).all()
    truth = true_alignments(panel.offline, oracle[KPIS], metrics=METRICS, kpis=KPIS)
    assert truth.sign.loc["recall@20", "ctr"] == 1
    assert truth.sign.loc["recall@20", "post_click_cvr"] == -1
    assert truth.sign.loc["density@20", "ctr"] == -1
    assert (truth.sign.loc["placebo@20"] == 0).all()
    assert ("recall@20", "ctr", 1) in truth.pairs()
    stable = split_half_agreement(panel, metrics=METRICS, kpis=KPIS)
    assert stable["agreement"] >= 0.75
    with pytest.raises(ValueError):
        true_alignments(panel.offline, oracle[KPIS].iloc[::-1], metrics=METRICS, kpis=KPIS)


def test_fast_experiment_is_centred_on_the_base_with_the_right_spread(panel):
    arms = panel.index(["p0", "p8", "control"])
    n_g = 2000.0
    y = fast_experiment(panel, arms, n_g, KPIS, n_rep=400, seed=1)
    assert y.shape == (400, 3, 3)
    again = fast_experiment(panel, arms, n_g, KPIS, n_rep=400, seed=1)
    np.testing.assert_array_equal(y, again)
    base = pd.DataFrame(
        {k: v for k, v in oracle_kpis(panel, KPIS).items()}, index=list(panel.names)
    )
    for j, kpi in enumerate(KPIS):
        realised = panel.counts[:, :, panel.column("rec_clicks")].sum(1) / panel.counts[
            :, :, panel.column("impressions")
        ].sum(1)
        centre = realised[arms] if kpi == "ctr" else base[kpi].to_numpy()[arms]
        np.testing.assert_allclose(y[:, j, :].mean(axis=0), centre, rtol=0.03)
        # Spread ~ base delta-method SE scaled from N base shoppers to n_g.
        expected_sd = base[f"{kpi}_se"].to_numpy()[arms] * math.sqrt(panel.n_shoppers / n_g)
        if kpi != "ctr":
            np.testing.assert_allclose(y[:, j, :].std(axis=0), expected_sd, rtol=0.2)
    with pytest.raises(ValueError):
        fast_experiment(panel, [99], n_g, KPIS, n_rep=2, seed=0)
    with pytest.raises(ValueError, match="undefined KPI"):
        fast_experiment(panel, arms, 1e-6, KPIS, n_rep=2, seed=0)


def test_compare_with_real_flags_a_shift_and_measures_width(panel):
    arms = panel.index(["p0", "p4"])
    fast = fast_experiment(panel, arms, 1500, KPIS, n_rep=200, seed=2)
    real = fast_experiment(panel, arms, 1500, KPIS, n_rep=4, seed=3)
    se = np.broadcast_to(fast.std(axis=0, ddof=1), real.shape)
    base_se = np.full(fast.shape[1:], 1e-9)
    rows = compare_with_real(fast, real, se, base_se, KPIS)
    assert all(abs(r["width_ratio"] - 1.0) < 1e-9 for r in rows)
    assert all(r["max_abs_z"] < 4 for r in rows)
    shifted = compare_with_real(fast, real * 1.5, se, base_se, KPIS)
    assert max(abs(r["mean_z"]) for r in shifted) > 5


def test_design_arms_fixed_plus_spread_front_points(panel):
    arms = design_arms(panel, 4, ["recall@20"], ["control"])
    names = [panel.names[a] for a in arms]
    assert names[0] == "control" and set(names[1:]) == {"p0", "p4", "p8"}
    with pytest.raises(ValueError):
        design_arms(panel, 1, ["recall@20"], ["control"])
    with pytest.raises(ValueError):
        design_arms(panel, 20, ["recall@20"], ["control"])


def test_strategy_scores_and_controls(panel):
    oracle = oracle_kpis(panel, KPIS)
    truth = true_alignments(panel.offline, oracle[KPIS], metrics=METRICS, kpis=KPIS)
    cfg = AlignConfig(n_resamples=500)
    common = dict(metrics=METRICS, kpis=KPIS, fixed=["control"], align=cfg, sessions_per_day=1000)
    rich = evaluate_design(panel, truth, Design(7, 28, 1.0), n_rep=40, seed=0, **common)
    poor = evaluate_design(panel, truth, Design(7, 1, 0.3), n_rep=40, seed=0, **common)
    assert rich["recall"] > 0.8 and rich["precision"] > 0.9
    assert poor["recall"] < rich["recall"]
    assert rich["arms"][0] == "control" and len(rich["arms"]) == 7
    assert rich["per_pair"]["recall@20|ctr"] > 0.9
    bound = 0.05 + 3 * math.sqrt(0.05 * 0.95 / 200)
    aa = aa_control(panel, Design(6, 14, 1.0), aa_arm="control", n_rep=200, seed=1, **common)
    assert aa["fwer"] <= bound
    pl = placebo_control(panel, Design(6, 14, 1.0), n_rep=200, seed=2, **common)
    assert pl["fpr"] <= bound and pl["replicates"] == 200
    # Twelve groups: Monte-Carlo orderings shared by the replicates.
    big = evaluate_design(panel, truth, Design(9, 28, 1.0), n_rep=10, seed=0, **common)
    assert big["recall"] > 0.5


def test_choose_design_picks_the_cheapest_qualifying_one():
    curves = pd.DataFrame(
        {
            "groups": [4, 6, 8, 6],
            "days": [14, 14, 14, 7],
            "traffic": [1.0, 1.0, 1.0, 1.0],
            "precision": [1.0, 0.95, 0.97, 0.92],
            "recall": [0.0, 0.85, 0.9, 0.81],
            "f1": [0.0, 0.9, 0.93, 0.86],
        }
    )
    targets = {"precision": 0.9, "recall": 0.8, "fwer": 0.05}
    design, reason = choose_design(curves, targets)
    assert design == {"groups": 6, "days": 7, "traffic": 1.0, "meets_targets": True}
    assert "cheapest" in reason
    design, _ = choose_design(curves, targets, aa_fwer={(6, 7, 1.0): 0.2})
    assert (design["groups"], design["days"]) == (6, 14)
    design, reason = choose_design(curves.assign(recall=0.1), targets)
    assert not design["meets_targets"] and "no design" in reason and design["groups"] == 8


def test_panel_round_trip(panel, tmp_path):
    from paretoalign.validate.oracle import load_panel, save_panel

    path = save_panel(panel, tmp_path / "p.npz", info={"world_seed": 3})
    back, info = load_panel(path)
    assert info == {"world_seed": 3}
    assert back.names == panel.names and back.kinds == panel.kinds
    np.testing.assert_array_equal(back.counts, panel.counts)
    np.testing.assert_array_equal(back.front, panel.front)
    pd.testing.assert_frame_equal(back.offline, panel.offline, check_freq=False)


def test_undefined_kpis_in_tiny_groups_are_allowed_on_request(panel):
    arms = panel.index(["p0", "p8"])
    y = fast_experiment(panel, arms, 0.5, KPIS, n_rep=50, seed=3, allow_undefined=True)
    assert np.isnan(y).any()
    rows = compare_with_real(y, y[:2], np.full((2, 3, 2), 0.01), np.zeros((3, 2)), KPIS)
    for row in rows:
        assert row["groups_compared"] <= 2
        assert row["sd_fast"] != row["sd_fast"] or row["sd_fast"] >= 0  # NaN or a number


def test_choose_design_with_undefined_scores():
    curves = pd.DataFrame(
        {"groups": [4, 6], "days": [7, 7], "traffic": [1.0, 1.0], "precision": [None, None],
         "recall": [0.0, 0.0], "f1": [None, 0.0]}
    )  # fmt: skip
    design, reason = choose_design(curves, {"precision": 0.9, "recall": 0.8, "fwer": 0.05})
    assert design["groups"] == 6 and not design["meets_targets"] and "0.000" in reason


def test_truth_bootstrap_decides_strong_pairs(panel):
    from paretoalign.validate.oracle import truth_bootstrap

    oracle = oracle_kpis(panel, KPIS)
    truth = true_alignments(panel.offline, oracle[KPIS], metrics=METRICS, kpis=KPIS)
    boot = truth_bootstrap(panel, truth, n_boot=60, seed=1)
    assert bool(boot["decided"].loc["recall@20", "ctr"])  # planted, exact EV CTR
    assert boot["rho_low"].loc["recall@20", "ctr"] >= 0.8
    assert (boot["rho_low"] <= boot["rho_high"]).all().all()
    assert boot["decided"].to_numpy().dtype == bool
    with pytest.raises(ValueError):
        truth_bootstrap(panel, truth, level=1.5)
