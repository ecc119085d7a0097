"""The data benchmark's pieces: the synthetic file and the peers' agreement (no timing)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from paretoalign.bench import TASKS
from paretoalign.bench.data import READERS, measure, run, synthetic_otto_log
from paretoalign.data.otto import read_otto, write_otto


def test_synthetic_log_is_seeded_and_exact():
    a = synthetic_otto_log(20_000, seed=3)
    assert a.n_events == 20_000
    assert a == synthetic_otto_log(20_000, seed=3)
    assert a != synthetic_otto_log(20_000, seed=4)
    lens = a.lengths
    assert lens.min() >= 2 and lens.max() <= 500 + 2
    # OTTO-like shape: median about 6 events, mostly clicks
    assert 4 <= np.median(lens) <= 9
    assert 0.85 < (a.type == 0).mean() < 0.95
    with pytest.raises(ValueError):
        synthetic_otto_log(1)


def test_every_reader_gives_the_same_arrays(tmp_path):
    log = synthetic_otto_log(3_000, seed=1)
    path = write_otto(log, tmp_path / "s.jsonl")
    back = read_otto(path)
    assert back.n_items == int(log.aid.max())  # a jsonl file does not store the catalogue size
    expected = (log.session_ptr, log.session_id, log.aid, log.ts, log.type)
    for impl in ("paretoalign", "json", "pandas", "polars"):
        got = READERS[impl](str(path))
        assert len(got) == 5, impl
        for a, b in zip(got, expected):
            assert a.dtype == b.dtype and np.array_equal(a, b), impl
    assert READERS["limit"](str(path))[0][0] == path.stat().st_size


def test_measure_reports_digest_time_and_memory(tmp_path):
    log = synthetic_otto_log(2_000, seed=2)
    path = write_otto(log, tmp_path / "s.jsonl")
    a = measure("paretoalign", str(path), str(path))
    b = measure("json", str(path), str(path))
    assert a["digest"] == b["digest"]
    assert a["seconds"] > 0 and a["peak_bytes"] >= 0


def test_task_is_registered():
    assert TASKS["data"] == "paretoalign.bench.data"


@pytest.mark.slow
def test_run_writes_the_schema(tmp_path):
    out = tmp_path / "bench.json"
    doc = run(out, n_events=20_000, impls=("paretoalign", "json", "limit"))  # 12 processes
    assert json.loads(out.read_text()) == doc
    impls = [r["impl"] for r in doc["results"]]
    assert impls == ["paretoalign", "json", "limit"]
    for r in doc["results"]:
        assert len(r["runs_s"]) == 3 and r["unit"] == "events/s" and r["peak_rss_mib"] >= 0
    assert doc["notes"]["events"] == 20_000
