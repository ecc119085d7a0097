"""A data set on disk: the train and test splits of one source plus ``stats.json``.

Layout of a data-set folder (written by ``paretoalign data ...`` and by the simulated
shop's ``paretoalign world simulate``)::

    DIR/train.parquet   SessionLog of the train split
    DIR/test.parquet    SessionLog of the test split (absent when there is none)
    DIR/stats.json      {"train": {"sessions", "events", "clicks", "carts", "orders"},
                         "test": {...}, "n_items": N, ...extra keys of the source}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paretoalign.data.sessionlog import SessionLog
from paretoalign.io import write_json


@dataclass(frozen=True)
class Dataset:
    """The splits of one data set; ``test`` may be empty."""

    train: SessionLog
    test: SessionLog
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return max(self.train.n_items, self.test.n_items)

    def stats(self) -> dict[str, Any]:
        """The content of ``stats.json``."""
        return {
            "train": self.train.stats(),
            "test": self.test.stats(),
            "n_items": self.n_items,
            **self.extra,
        }


def save_dataset(directory: str | Path, dataset: Dataset) -> Path:
    """Write ``train.parquet``, ``test.parquet`` and ``stats.json`` (each atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dataset.train.save(directory / "train.parquet")
    dataset.test.save(directory / "test.parquet")
    write_json(dataset.stats(), directory / "stats.json")
    return directory


def load_dataset(directory: str | Path) -> Dataset:
    """Read a folder written by :func:`save_dataset`."""
    directory = Path(directory)
    stats_path = directory / "stats.json"
    if not stats_path.is_file():
        raise FileNotFoundError(f"{directory}: no stats.json (not a paretoalign data set)")
    stats = json.loads(stats_path.read_text())
    train = SessionLog.load(directory / "train.parquet")
    test_path = directory / "test.parquet"
    test = SessionLog.load(test_path) if test_path.is_file() else SessionLog.empty(train.n_items)
    extra = {k: v for k, v in stats.items() if k not in ("train", "test", "n_items")}
    return Dataset(train=train, test=test, extra=extra)
