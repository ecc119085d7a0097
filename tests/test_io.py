"""paretoalign.io: outputs appear whole or not at all."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from paretoalign import io


def test_write_text_replaces_whole_files_only(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "log.json"
    io.write_text(target, "one")
    assert target.read_text() == "one"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        io.write_text(target, "two")
    assert target.read_text() == "one"
    assert sorted(p.name for p in target.parent.iterdir()) == ["log.json"]


def test_atomic_path_removes_the_temporary_file_on_error(tmp_path):
    target = tmp_path / "out.parquet"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="writer failed"):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_atomic_path_gives_plain_open_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        io.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_write_json_converts_numpy_and_paths(tmp_path):
    doc = {"a": np.int64(3), "b": np.arange(2), "c": tmp_path, "d": np.float32(0.5)}
    io.write_json(doc, tmp_path / "d.json")
    text = (tmp_path / "d.json").read_text()
    assert text.endswith("}\n")
    assert json.loads(text) == {"a": 3, "b": [0, 1], "c": str(tmp_path), "d": 0.5}


def test_write_json_refuses_other_objects_and_strict_nan(tmp_path):
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        io.write_json({"x": object()}, tmp_path / "x.json")
    with pytest.raises(ValueError):
        io.write_json({"x": float("nan")}, tmp_path / "n.json", allow_nan=False)
    assert list(tmp_path.iterdir()) == []


def test_write_parquet_round_trips_without_index(tmp_path):
    frame = pd.DataFrame({"x": [1, 2]}, index=[5, 6])
    io.write_parquet(frame, tmp_path / "f.parquet")
    back = pd.read_parquet(tmp_path / "f.parquet")
    assert list(back.columns) == ["x"]
    assert back["x"].tolist() == [1, 2]
