"""``paretoalign data ...``: the commands write a loadable data-set folder and stats.json."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from paretoalign.cli import app
from paretoalign.data import load_dataset
from paretoalign.data.kaggle import split_by_days
from paretoalign.data.otto import read_otto

runner = CliRunner()


def test_otto_fixture_stats(otto_sample, tmp_path):
    out = tmp_path / "otto"
    result = runner.invoke(app, ["data", "otto", str(otto_sample), "--out", str(out)])
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["train"] == {
        "sessions": 20,
        "events": 862,
        "clicks": 800,
        "carts": 52,
        "orders": 10,
    }
    assert stats["test"]["sessions"] == 0
    log = read_otto(otto_sample)
    assert stats["n_items"] == log.n_items
    data = load_dataset(out)
    assert data.train == log
    assert data.test.n_sessions == 0


def test_otto_train_and_test_share_n_items(otto_sample, tmp_path):
    small = tmp_path / "test.jsonl"
    small.write_text(otto_sample.read_text().splitlines()[3] + "\n")
    out = tmp_path / "d"
    result = runner.invoke(
        app, ["data", "otto", str(otto_sample), str(small), "--out", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    data = load_dataset(out)
    assert data.test.n_sessions == 1
    assert data.train.n_items == data.test.n_items == read_otto(otto_sample).n_items


def test_otto_split_days(otto_sample, tmp_path):
    out = tmp_path / "d"
    args = ["data", "otto", str(otto_sample), "--out", str(out), "--split-days", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    train, test = split_by_days(read_otto(otto_sample), 1)
    data = load_dataset(out)
    assert data.train == train and data.test == test
    assert json.loads((out / "stats.json").read_text())["split_days"] == 1.0
    both = runner.invoke(app, [*args[:3], str(otto_sample), *args[3:]])
    assert both.exit_code == 2


def test_otto_bad_line_and_skip(otto_sample, tmp_path):
    lines = otto_sample.read_text().splitlines()
    lines[2] = lines[2].replace('"clicks"', '"views"', 1)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["data", "otto", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert f"{bad}, line 3: event 0: unknown event type" in result.output
    assert not (tmp_path / "x" / "stats.json").exists()
    out = tmp_path / "y"
    result = runner.invoke(app, ["data", "otto", str(bad), "--out", str(out), "--errors", "skip"])
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["train"]["sessions"] == 19
    assert stats["read"][0]["skipped"] == 1
    assert stats["read"][0]["examples"][0].startswith("line 3: ")


CLICKS = "".join(
    f"{s},2014-04-0{day}T10:0{i}:00.000Z,{item},0\n"
    for s, day, items in [(1, 1, [5, 6]), (2, 1, [6, 5]), (3, 2, [5, 6]), (4, 4, [6, 5, 7])]
    for i, item in enumerate(items)
)


def test_yoochoose_and_diginetica_commands(tmp_path):
    clicks = tmp_path / "clicks.dat"
    clicks.write_text(CLICKS)
    buys = tmp_path / "buys.dat"
    buys.write_text("2,2014-04-01T10:05:00.000Z,6,10,1\n")
    out = tmp_path / "y"
    args = ["data", "yoochoose", str(clicks), str(buys), "--out", str(out)]
    result = runner.invoke(app, [*args, "--min-item-support", "2"])
    assert result.exit_code == 0, result.output
    stats = json.loads((out / "stats.json").read_text())
    # items 5 and 6 (4 clicks each) stay, 7 (1 click) goes; session 4 ends last -> test
    assert stats["train"] == {"sessions": 3, "events": 7, "clicks": 6, "carts": 0, "orders": 1}
    assert stats["test"]["sessions"] == 1 and stats["n_items"] == 2
    failed = runner.invoke(app, args)  # default support 5: nothing is left
    assert failed.exit_code == 1 and "no session is left" in failed.output

    views = tmp_path / "views.csv"
    views.write_text("sessionId;userId;itemId;timeframe;eventdate\n1;NA;3;5;2016-05-01\n")
    result = runner.invoke(app, ["data", "diginetica", str(views), "--out", str(tmp_path / "d")])
    assert result.exit_code == 1 and "no session is left" in result.output


def test_otto_evaluate_counts_item_zero_unless_otto_compat(tmp_path):
    labels = tmp_path / "test_labels.jsonl"
    labels.write_text(
        '{"session": 1, "labels": {"clicks": 0, "orders": [0, 3]}}\n'
        '{"session": 2, "labels": {"clicks": 5, "carts": [5]}}\n'
    )
    submission = tmp_path / "submission.csv"
    submission.write_text(
        "session_type,labels\n1_clicks,0 3\n1_carts,\n1_orders,3\n"
        "2_clicks,4\n2_carts,5\n2_orders,\n"
    )
    counted = runner.invoke(app, ["data", "otto-evaluate", str(labels), str(submission)])
    assert counted.exit_code == 0, counted.output
    assert "clicks: 0.500000" in counted.output  # item 0 hit, 5 missed
    out = tmp_path / "scores.json"
    dropped = runner.invoke(
        app,
        [
            "data",
            "otto-evaluate",
            str(labels),
            str(submission),
            "--otto-compat",
            "--json",
            str(out),
        ],
    )
    assert dropped.exit_code == 0, dropped.output
    assert "clicks: 0.000000" in dropped.output  # item 0 dropped: 0 hits over 1
    scores = json.loads(out.read_text())
    assert scores["otto_compat"] is True and scores["sessions"] == 2
    assert scores["clicks"] == 0.0 and scores["carts"] == 1.0 and scores["orders"] == 0.5
    assert scores["total"] == 0.3 * 1.0 + 0.6 * 0.5


def test_otto_evaluate_reports_a_bad_labels_file_in_one_line(tmp_path):
    labels = tmp_path / "test_labels.jsonl"
    labels.write_text('{"session": 1, "labels": {}}\n{"session": 2}\n')
    submission = tmp_path / "submission.csv"
    submission.write_text("session_type,labels\n")
    res = runner.invoke(app, ["data", "otto-evaluate", str(labels), str(submission)])
    assert res.exit_code == 1
    assert res.output.strip() == (
        f'error: {labels}, line 2: expected {{"session": int, "labels": {{...}}}}'
    )
