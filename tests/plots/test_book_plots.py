"""The book's tables and figures from the pipeline's files: data, training, benchmarks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure

from paretoalign.plots import data as data_plots
from paretoalign.plots import performance as perf
from paretoalign.plots import training as training_plots


def _checks():
    return {
        "checks": [
            {"name": "clicks_share_pct", "sim": 90.5, "otto": 89.9, "tolerance": 1.5,
             "rule": "abs", "ok": True},
            {"name": "events_per_session_p90", "sim": 30.0, "otto": 39.0, "tolerance": 0.2,
             "rule": "rel", "ok": False},
            {"name": "repeat_view_rate", "sim": 0.21, "otto": None, "tolerance": None,
             "rule": "report", "ok": None},
        ]
    }  # fmt: skip


def test_calibration_deviation_is_in_units_of_the_tolerance():
    frame = data_plots.calibration_frame(_checks())
    assert frame["deviation"].iloc[0] == pytest.approx((90.5 - 89.9) / 1.5)
    assert frame["deviation"].iloc[1] == pytest.approx((30.0 / 39.0 - 1) / 0.2)
    assert np.isnan(frame["deviation"].iloc[2])
    assert frame["statistic"].iloc[1] == "events per session, p90"
    assert isinstance(data_plots.calibration_figure(frame), Figure)


def test_calibration_rejects_bad_documents():
    with pytest.raises(ValueError, match="no 'checks'"):
        data_plots.calibration_frame({})
    doc = _checks()
    doc["checks"][0]["rule"] = "fuzzy"
    with pytest.raises(ValueError, match="unknown calibration rule 'fuzzy'"):
        data_plots.calibration_frame(doc)


def test_split_table_and_session_lengths():
    stats = {
        "train": {"sessions": 4, "events": 20, "clicks": 16, "carts": 3, "orders": 1},
        "test": {"sessions": 1, "events": 5, "clicks": 5, "carts": 0, "orders": 0},
        "n_items": 9,
    }
    table = data_plots.split_table(stats)
    assert table.loc["train", "% clicks"] == pytest.approx(80.0)
    assert table.loc["train", "events per session"] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="neither"):
        data_plots.split_table({"n_items": 3})
    fig = data_plots.session_length_figure(np.array([2, 3, 6, 40]), {50: 6.0, 90: 39.0})
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(ValueError, match="no sessions"):
        data_plots.session_length_figure(np.array([], dtype=int), {})


def _summary():
    return {
        "objectives": ["clicks", "orders"],
        "model": {
            "1,0": {"pi": [1.0, 0.0], "click_recall@20": 0.5, "order_recall@20": 0.2},
            "0,1": {"pi": [0.0, 1.0], "click_recall@20": 0.1, "order_recall@20": 0.4},
            "0.5,0.5": {"pi": [0.5, 0.5], "click_recall@20": 0.45, "order_recall@20": 0.35},
        },
        "baselines": {"popularity": {"click_recall@20": 0.05, "order_recall@20": 0.03}},
    }


def test_summary_frame_labels_simplex_points():
    frame = training_plots.summary_frame(_summary())
    labels = list(dict.fromkeys(frame["recommender"]))
    assert labels == [
        "model, π = clicks only",
        "model, π = orders only",
        "model, centre π",
        "popularity",
    ]
    assert set(frame["kind"]) == {"model", "baseline"}
    assert isinstance(training_plots.summary_figure(frame), Figure)
    with pytest.raises(ValueError, match="no metric values"):
        training_plots.summary_frame({"model": {}, "baselines": {}})


def test_summary_highlights_pick_the_best_of_each_kind():
    frame = training_plots.summary_frame(_summary())
    got = training_plots.summary_highlights(frame)
    assert got == {
        "best_model_click_recall": 0.5,
        "best_model_point": "model, π = clicks only",
        "best_baseline_click_recall": 0.05,
        "best_baseline": "popularity",
        "order_recall_min": 0.2,
        "order_recall_max": 0.4,
    }
    recall = training_plots.metric_values(frame, "click_recall@20", "model")
    assert recall.tolist() == [0.5, 0.1, 0.45]


def test_edge_frame_sorts_the_clicks_to_orders_points():
    summary = _summary()
    summary["objectives"] = ["clicks", "carts", "orders"]
    summary["model"] = {
        "1,0,0": {"pi": [1.0, 0.0, 0.0], "order_recall@20": 0.2},
        "0,1,0": {"pi": [0.0, 1.0, 0.0], "order_recall@20": 0.9},  # off the edge
        "0,0,1": {"pi": [0.0, 0.0, 1.0], "order_recall@20": 0.4},
        "0.5,0,0.5": {"pi": [0.5, 0.0, 0.5], "order_recall@20": 0.3},
    }
    edge = training_plots.edge_frame(summary)
    assert edge["weight"].tolist() == [0.0, 0.5, 1.0]
    assert edge["order_recall@20"].tolist() == [0.2, 0.3, 0.4]
    with pytest.raises(ValueError, match="lack"):
        training_plots.edge_frame(summary, "views")
    del summary["model"]["0.5,0,0.5"], summary["model"]["0,0,1"]
    with pytest.raises(ValueError, match="1 points"):
        training_plots.edge_frame(summary)


def test_comparison_frame_gives_a_verdict_per_interval():
    def row(low, high):
        return {"a": "model 1,0", "b": "covisitation", "metric": "click_recall@20",
                "value_a": 0.5, "value_b": 0.4, "difference": (low + high) / 2,
                "ci_low": low, "ci_high": high, "p_value": 0.01, "n_sessions": 10}  # fmt: skip

    rows = [row(0.01, 0.2), row(-0.3, -0.1), row(-0.1, 0.1)]
    rows[1]["b"] = "popularity"
    summary = {**_summary(), "comparisons": rows}
    frame = training_plots.comparison_frame(summary)
    assert frame["verdict"].tolist() == ["higher", "lower", "not distinguishable"]
    assert "n_sessions" not in frame and frame.columns[-1] == "verdict"
    assert list(training_plots.comparison_highlights(frame, summary)) == ["vs_covis", "vs_pop"]
    claims = [{**row(0.01, 0.1), "a": "model 0,1", "metric": m}
              for m in ("order_recall@20", "order_density@20")]  # fmt: skip
    claims[1]["ci_low"] = -0.01
    steps = [{**row(-0.1, -0.01), "a": f"model {a}", "b": f"model {b}", "metric": m}
             for m in ("click_recall@20", "order_density@20")
             for b, a in (("1,0", "0.5,0.5"), ("0.5,0.5", "0,1"))]  # fmt: skip
    summary["comparisons"] += claims + steps
    frame = training_plots.comparison_frame(summary)
    picked = training_plots.comparison_highlights(frame, summary)
    assert list(picked) == [
        "vs_covis", "vs_pop", "orders_recall_vs_covis", "orders_density_vs_covis"
    ]  # fmt: skip
    assert picked["orders_recall_vs_covis"]["a"] == "model 0,1"  # the orders corner
    table = training_plots.edge_steps(frame, summary)
    assert table["step"].tolist() == ["1,0 → 0.5,0.5", "0.5,0.5 → 0,1"] * 2
    assert set(table["verdict"]) == {"lower"}
    claims = training_plots.seed_claims({0: summary, 1: summary})
    assert claims.groupby("seed").size().tolist() == [4, 4]
    held = claims[claims["seed"] == 1].set_index("claim")["holds"]
    assert held.to_dict() == {
        "vs_covis": False, "vs_pop": False,  # the last row of a repeated comparison counts
        "orders_recall_vs_covis": True, "orders_density_vs_covis": False,
    }  # fmt: skip
    with pytest.raises(ValueError, match="no paired comparisons"):
        training_plots.comparison_frame(_summary())


def test_history_figure_needs_each_objective():
    history = [{"step": i, "loss_clicks": 5.0 - i / 10, "loss_orders": 0.7} for i in range(30)]
    assert isinstance(training_plots.history_figure(history, ["clicks", "orders"]), Figure)
    with pytest.raises(ValueError, match="'loss_carts'"):
        training_plots.history_figure(history, ["carts"])
    with pytest.raises(ValueError, match="empty"):
        training_plots.history_figure([], ["clicks"])


def test_config_comparison_marks_differences():
    table = training_plots.config_comparison(
        {"lr": 2e-3, "objectives": ("clicks", "orders"), "epochs": 10.0},
        {"lr": 1e-4, "objectives": ("clicks", "orders"), "epochs": 10},
    )
    assert list(table["same"]) == [False, True, True]
    assert table.loc["objectives", "this profile"] == "clicks, orders"


def _bench(tmp_path):
    doc = {
        "task": "topk",
        "machine": {"cpu": "cpu", "cores": 2, "threads": 2, "versions": {"numpy": "2"}},
        "results": [
            {"case": "A", "impl": "paretoalign", "median_s": 1.0, "runs_s": [1.0, 1.1, 0.9],
             "throughput": 100.0, "unit": "q/s"},
            {"case": "A", "impl": "faiss", "median_s": 1.5, "runs_s": [1.5] * 3,
             "throughput": 66.0, "unit": "q/s"},
            {"case": "A", "impl": "limit", "median_s": 0.8, "runs_s": [0.8] * 3,
             "throughput": 125.0, "unit": "q/s"},
            {"case": "B", "impl": "paretoalign", "median_s": 2.0, "runs_s": [2.0] * 3,
             "throughput": 50.0, "unit": "q/s"},
            {"case": "B", "impl": "faiss", "median_s": 4.0, "runs_s": [4.0] * 3,
             "throughput": 25.0, "unit": "q/s"},
        ],
    }  # fmt: skip
    (tmp_path / "topk.json").write_text(json.dumps(doc))
    return doc


def test_bench_frame_ratios_and_sentence(tmp_path):
    doc = _bench(tmp_path)
    assert perf.load_bench(tmp_path, ["topk"])["topk"] == doc
    frame = perf.bench_frame(doc)
    faiss = frame[frame["impl"] == "faiss"].set_index("case")["speed vs paretoalign"]
    assert faiss["A"] == pytest.approx(0.66) and faiss["B"] == pytest.approx(0.5)
    ratios = perf.speedups(frame)
    assert ratios.loc[ratios["impl"] == "limit", "ratio"].item() == pytest.approx(0.8)
    sentence = perf.summary_sentence(frame)
    assert sentence == (
        "Over its 2 cases, paretoalign runs at 1.52–2.00× the throughput of faiss "
        "and reaches 80% of the limit's throughput."
    )
    assert isinstance(perf.bench_figure(frame), Figure)
    assert perf.machine_line(doc) == "cpu, 2 cores, 2 threads; numpy 2"


def test_load_bench_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"serve\.json"):
        perf.load_bench(tmp_path, ["serve"])
    (tmp_path / "bad.json").write_text(json.dumps({"task": "bad"}))
    with pytest.raises(ValueError, match=r"bad\.json: not a benchmark file"):
        perf.load_bench(tmp_path)
    with pytest.raises(ValueError, match="no results"):
        perf.bench_frame({"task": "x", "machine": {}, "results": []})


def _kpis():
    import pandas as pd

    rows = []
    for g, base in (("g0", 0.02), ("g1", 0.03), ("control", 0.01)):
        for day in (-1, 0, 1):
            for kpi, scale in (("ctr", 1.0), ("post_click_cvr", 2.0)):
                v = base * scale * (1 + 0.1 * day)
                rows.append((g, day, kpi, v, v * 0.9, v * 1.1, 100))
    return pd.DataFrame(rows, columns=["group", "day", "kpi", "value", "ci_low", "ci_high", "n"])


def test_experiment_figures_draw_every_group():
    import pandas as pd

    from paretoalign.plots import experiment as exp_plots

    kinds = {"g0": "model", "g1": "model", "control": "control"}
    fig = exp_plots.kpi_figure(_kpis(), kinds, ["ctr", "post_click_cvr"])
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["g0", "g1", "control"]
    assert isinstance(exp_plots.daily_figure(_kpis(), "ctr", kinds), Figure)
    offline = pd.DataFrame({"click_recall@20": [0.2, 0.3, 0.1]}, index=["g0", "g1", "control"])
    table = pd.DataFrame(
        {"metric": ["click_recall@20"], "kpi": ["ctr"], "r_primary": [0.99], "aligned": [True]}
    )
    fig = exp_plots.paired_scatter(offline, _kpis(), [("click_recall@20", "ctr")], table, kinds)
    assert fig.axes[0].get_title() == "r = +0.99 (aligned)"
    with pytest.raises(ValueError, match="no whole-experiment 'ctr' for groups"):
        exp_plots.kpi_figure(_kpis(), {**kinds, "g9": "model"}, ["ctr"])
    with pytest.raises(ValueError, match="no offline metric 'mrr@20'"):
        exp_plots.paired_scatter(offline, _kpis(), [("mrr@20", "ctr")])
    with pytest.raises(ValueError, match="no daily rows"):
        exp_plots.daily_figure(_kpis(), "units_per_shopper", kinds)


def test_headline_figure_draws_the_paper_pairs_or_the_strongest():
    import pandas as pd

    from paretoalign.plots import experiment as exp_plots

    kinds = {"g0": "model", "g1": "model", "control": "control"}
    offline = pd.DataFrame(
        {"click_recall@20": [0.2, 0.3, 0.1], "order_density@20": [0.5, 0.4, 0.6]},
        index=["g0", "g1", "control"],
    )
    table = pd.DataFrame(
        {
            "metric": ["click_recall@20", "order_density@20"],
            "kpi": ["ctr", "post_click_cvr"],
            "r_primary": [0.99, -0.5],
            "aligned": [True, False],
        }
    )
    fig = exp_plots.headline_figure(offline, _kpis(), table, kinds)
    assert [ax.get_xlabel().split("\n")[0] for ax in fig.axes] == [
        "click_recall@20",
        "order_density@20",
    ]
    renamed = offline.rename(columns={"click_recall@20": "hr@20", "order_density@20": "od@20"})
    other = table.assign(metric=["od@20", "hr@20"], r_primary=[0.2, -0.9])
    fig = exp_plots.headline_figure(renamed, _kpis(), other, kinds)
    assert [ax.get_xlabel().split("\n")[0] for ax in fig.axes] == ["hr@20", "od@20"]
    with pytest.raises(ValueError, match="headline pairs"):
        exp_plots.headline_figure(renamed, _kpis(), None, kinds)


def test_front_figures_mark_the_groups():
    import pandas as pd

    from paretoalign.plots import front as front_plots

    front = pd.DataFrame(
        {
            "point": [0, 1, 2],
            "pi_clicks": [1.0, 0.5, 0.0],
            "pi_orders": [0.0, 0.5, 1.0],
            "click_recall@20": [0.5, 0.4, 0.1],
            "order_density@20": [0.1, 0.2, 0.25],
            "on_front": [True, True, False],
        }
    )
    groups = pd.DataFrame(
        {"group": ["g0", "pop"], "point": [1, -1], "click_recall@20": [0.4, 0.2],
         "order_density@20": [0.2, 0.05]}
    )  # fmt: skip
    assert front_plots.pi_columns(front) == ["pi_clicks", "pi_orders"]
    fig = front_plots.front_scatter(
        front, [("click_recall@20", "order_density@20")], "pi_orders", groups
    )
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert labels == {"g0", "pop"}
    assert isinstance(
        front_plots.metrics_along_weight(front, "pi_orders", ["click_recall@20"]), Figure
    )
    with pytest.raises(ValueError, match="no column 'pi_carts'"):
        front_plots.front_scatter(front, [("click_recall@20", "order_density@20")], "pi_carts")
    with pytest.raises(ValueError, match="no pi_"):
        front_plots.pi_columns(front.drop(columns=["pi_clicks", "pi_orders"]))
