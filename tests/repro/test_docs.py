"""`make docs`: the README's timing block and docs/headline.png come from a run's files."""

from __future__ import annotations

import json

import pytest

from paretoalign.repro.docs import BEGIN, END, timing_markdown, update_docs


def _run(tmp_path):
    results = tmp_path / "results" / "default"
    (results / "figures").mkdir(parents=True)
    (results / "figures" / "headline.png").write_bytes(b"\x89PNG fake")
    log = {
        "machine": {"cpus": 2, "cpu": "Test CPU"},
        "steps": {
            "data": {"seconds": 20.0, "finished": "2026-01-01T00:00:20+00:00", "command": [],
                     "load_average_1m": 1.5},
            "train": {"seconds": 100.0, "finished": "2026-01-01T00:02:00+00:00", "command": []},
        },
    }  # fmt: skip
    (results / "timings.json").write_text(json.dumps(log))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{BEGIN}\nold table\n{END}\n\ntail\n")
    return results, readme


def test_update_docs_rewrites_only_the_block_and_copies_the_figure(tmp_path):
    results, readme = _run(tmp_path)
    figure = tmp_path / "docs" / "headline.png"
    changed = update_docs(results, readme, figure, profile="default", commit="abc1234")
    text = readme.read_text()
    assert changed == [readme, figure]
    assert text.startswith("# x\n\n") and text.endswith(f"{END}\n\ntail\n")
    assert "old table" not in text
    assert "| data | 20.0 | 1.50 |" in text and "| train | 100.0 |  |" in text
    assert "**120**" in text and "commit `abc1234`" in text and "2 logical CPUs (Test CPU)" in text
    assert figure.read_bytes() == b"\x89PNG fake"
    assert update_docs(results, readme, figure, profile="default", commit="abc1234") == []


def test_update_docs_names_what_is_missing(tmp_path):
    results, readme = _run(tmp_path)
    (results / "timings.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"timings\.json"):
        update_docs(results, readme, tmp_path / "f.png", profile="default", commit="x")
    results, readme = _run(tmp_path / "again")
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match=r"README\.md"):
        update_docs(results, readme, tmp_path / "f.png", profile="default", commit="x")


def test_timing_markdown_refuses_an_empty_log():
    with pytest.raises(ValueError, match="no steps"):
        timing_markdown({"steps": {}}, profile="p", commit="c")


def test_the_readme_has_the_block():
    from paretoalign.paths import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text()
    assert text.index(BEGIN) < text.index(END)
