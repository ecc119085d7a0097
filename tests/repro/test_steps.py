"""Profile tables as stamp files, the timed-step wrapper and its log."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from paretoalign.config import SECTIONS, ProfileError
from paretoalign.repro.steps import record_timing, run_step, timing_table, write_sections


def _profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trial.toml"
    path.write_text(text)
    return path


def test_sections_writes_one_file_per_table_with_defaults_as_empty(tmp_path):
    prof = _profile(tmp_path, "[train]\nepochs = 2\n[front]\npoints = 5\n")
    changed = write_sections(str(prof), tmp_path / "config")
    assert changed == list(SECTIONS)
    assert json.loads((tmp_path / "config" / "train.json").read_text()) == {"epochs": 2}
    assert json.loads((tmp_path / "config" / "front.json").read_text()) == {"points": 5}
    assert json.loads((tmp_path / "config" / "align.json").read_text()) == {}


def test_sections_rewrites_only_the_changed_table(tmp_path):
    prof = _profile(tmp_path, "[train]\nepochs = 2\n[front]\npoints = 5\n")
    out = tmp_path / "config"
    write_sections(str(prof), out)
    old = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    for path in out.glob("*.json"):  # make any rewrite visible in the mtime
        os.utime(path, ns=(1, 1))
    prof.write_text("[train]\nepochs = 3\n[front]\npoints = 5\n")
    assert write_sections(str(prof), out) == ["train"]
    now = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    assert now["train.json"] != 1
    assert all(now[name] == 1 for name in old if name != "train.json")
    # key order is irrelevant: the same table in another order changes nothing
    prof.write_text("[front]\npoints = 5\n[train]\nepochs = 3\n")
    assert write_sections(str(prof), out) == []


def test_sections_rejects_unknown_tables(tmp_path):
    prof = _profile(tmp_path, "[trian]\nepochs = 2\n")
    with pytest.raises(ProfileError, match="unknown tables"):
        write_sections(str(prof), tmp_path / "config")


def test_run_step_records_success_only(tmp_path, capsys):
    log = tmp_path / "timings.json"
    assert run_step(log, "ok", [sys.executable, "-c", "pass"]) == 0
    assert run_step(log, "bad", [sys.executable, "-c", "raise SystemExit(3)"]) == 3
    steps = json.loads(log.read_text())["steps"]
    assert list(steps) == ["ok"]
    assert steps["ok"]["seconds"] >= 0
    assert steps["ok"]["command"][0] == sys.executable
    assert "FAILED (exit status 3)" in capsys.readouterr().err


def test_record_timing_replaces_a_step_and_keeps_order(tmp_path):
    log = tmp_path / "timings.json"
    record_timing(log, "data", 1.5, ["a"])
    record_timing(log, "train", 60.0, ["b"])
    record_timing(log, "data", 2.25, ["a"])
    steps = json.loads(log.read_text())["steps"]
    assert list(steps) == ["data", "train"]
    assert steps["data"]["seconds"] == 2.25
    table = timing_table(log).splitlines()
    assert table[0].split()[:3] == ["step", "seconds", "minutes"]
    assert table[-1].split()[:2] == ["total", "62.2"]


def test_timing_log_errors_name_the_file(tmp_path):
    log = tmp_path / "timings.json"
    log.write_text("{not json")
    with pytest.raises(ValueError, match=r"timings\.json"):
        timing_table(log)
    log.write_text("[1, 2]")
    with pytest.raises(ValueError, match="'steps'"):
        record_timing(log, "x", 1.0, ["x"])
    assert "no steps" in timing_table(tmp_path / "missing.json")


def test_run_step_needs_a_command(tmp_path):
    with pytest.raises(ValueError, match="no command"):
        run_step(tmp_path / "t.json", "x", [])
