"""The metrics benchmark's pieces: seeded data, the peers' agreement, the JSON (no timing)."""

from __future__ import annotations

import json

import numpy as np

from paretoalign.bench import TASKS
from paretoalign.bench import metrics as bench


def test_case_is_seeded_and_has_the_promised_shape():
    a = bench.make_case(20_000)
    b = bench.make_case(20_000)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    ids = a["ids"]
    assert ids.shape == (20_000, bench.K) and ids.dtype == np.int32
    assert np.all(np.sort(ids, axis=1)[:, 1:] != np.sort(ids, axis=1)[:, :-1])  # distinct
    hit = (ids == a["targets"][:, None]).any(axis=1)
    assert abs(hit.mean() - bench.HIT_RATE) < 0.02


def test_run_writes_every_implementation_and_they_agree(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "QUICK_POSITIONS", 6_000)
    monkeypatch.setattr(bench, "RANX_ROWS", 3_000)
    monkeypatch.setattr(bench, "REPEATS", 3)
    assert TASKS["metrics"] == "paretoalign.bench.metrics"
    doc = bench.run(tmp_path / "metrics.json", quick=True)
    assert json.loads((tmp_path / "metrics.json").read_text()) == doc
    rows = {row["impl"]: row for row in doc["results"]}
    assert set(rows) == set(bench.IMPLS)
    for row in rows.values():
        assert len(row["runs_s"]) == 3 and row["case"] == "P=6000 k=20"
    assert rows["numpy"]["max_abs_diff"] <= 1e-12
    assert rows["ranx"]["max_abs_diff"] <= 1e-12
    assert rows["ranx"]["measured_positions"] == 3_000
    assert rows["limit"]["bytes"] == sum(a.nbytes for a in bench.make_case(6_000).values())
