from __future__ import annotations

import numpy as np
import pytest

from paretoalign.data import SessionLog, SessionLogError


def _small() -> SessionLog:
    return SessionLog.from_arrays(
        session_ptr=[0, 3, 5, 6],
        aid=[1, 2, 1, 3, 3, 4],
        ts=[10, 20, 20, 5, 9, 1],
        type=[0, 1, 2, 0, 0, 0],
        session_id=[100, 101, 102],
        n_items=4,
    )


def test_basic_properties():
    log = _small()
    assert log.n_sessions == 3 and log.n_events == 6
    assert log.lengths.tolist() == [3, 2, 1]
    assert log.stats() == {"sessions": 3, "events": 6, "clicks": 4, "carts": 1, "orders": 1}
    assert log.session(1)["events"][0] == {"aid": 3, "ts": 5, "type": "clicks"}
    assert log.session_index().tolist() == [0, 0, 0, 1, 1, 2]
    assert log.aid.dtype == np.int32 and log.type.dtype == np.int8


def test_take_and_slice_and_filter():
    log = _small()
    sub = log.take([2, 0])
    assert sub.session_id.tolist() == [102, 100]
    assert sub.aid.tolist() == [4, 1, 2, 1]
    assert log[1:] == log.take([1, 2])
    clicks = log.filter_events(log.type == 0)
    assert clicks.session_id.tolist() == [100, 101, 102]
    assert clicks.lengths.tolist() == [1, 2, 1]
    only_orders = log.filter_events(log.type == 2)
    assert only_orders.session_id.tolist() == [100]
    sub.validate()
    clicks.validate()


def test_concat_and_equality():
    log = _small()
    both = SessionLog.concat([log[:1], log[1:]])
    assert both == log
    assert both != log[:2]


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_save_load_round_trip(tmp_path, suffix):
    log = _small()
    path = log.save(tmp_path / f"log{suffix}")
    assert SessionLog.load(path) == log
    assert not list(tmp_path.glob(".*tmp"))


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    log = _small()
    import numpy

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(numpy, "savez", boom)
    with pytest.raises(RuntimeError):
        log.save(tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"aid": [1, 2, 9, 3, 3, 4]}, "aid 9 outside 1..4"),
        ({"aid": [1, 2, 0, 3, 3, 4]}, "aid 0 outside"),
        ({"type": [0, 1, 7, 0, 0, 0]}, "unknown event type 7"),
        ({"ts": [10, 20, 19, 5, 9, 1]}, "timestamp 19 is earlier"),
        ({"session_ptr": [0, 3, 3, 6]}, "has no events"),
        ({"session_ptr": [1, 3, 5, 6]}, r"session_ptr\[0\] must be 0"),
        ({"session_ptr": [0, 3, 5, 7]}, "must equal the number of events"),
        ({"session_id": [1, 1, 2]}, "not unique"),
        ({"aid": [1.5, 2, 1, 3, 3, 4]}, "must hold integers"),
        ({"ts": [2**40, 20, 20, 5, 9, 1], "type": [0, 1, 300, 0, 0, 0]}, "do not fit int8"),
    ],
)
def test_validation_errors(kwargs, match):
    base = dict(
        session_ptr=[0, 3, 5, 6],
        aid=[1, 2, 1, 3, 3, 4],
        ts=[10, 20, 20, 5, 9, 1],
        type=[0, 1, 2, 0, 0, 0],
        session_id=[100, 101, 102],
        n_items=4,
    )
    base.update(kwargs)
    with pytest.raises(SessionLogError, match=match):
        SessionLog.from_arrays(**base)


def test_kernel_rejects_wrong_dtype():
    from paretoalign import _fastmetrics

    with pytest.raises(TypeError, match="dtype"):
        _fastmetrics.check_session_log(
            np.zeros(1, np.int32),
            np.zeros(0, np.int32),
            np.zeros(0, np.int64),
            np.zeros(0, np.int8),
            0,
        )
    with pytest.raises(TypeError, match="numpy array"):
        _fastmetrics.check_session_log([0], [], [], [], 0)


def test_empty_log():
    log = SessionLog.empty(5)
    assert log.n_sessions == 0 and log.stats()["events"] == 0
    assert SessionLog.concat([log, log]) == log


def test_dataset_round_trip(tmp_path):
    import json

    from paretoalign.data import Dataset, load_dataset, save_dataset

    log = _small()
    ds = Dataset(train=log[:2], test=log[2:], extra={"source": "toy"})
    save_dataset(tmp_path, ds)
    back = load_dataset(tmp_path)
    assert back.train == ds.train and back.test == ds.test
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["train"]["sessions"] == 2 and stats["source"] == "toy"


def test_saved_files_get_default_permissions(tmp_path):
    import os

    path = _small().save(tmp_path / "log.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
