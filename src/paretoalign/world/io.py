"""Files of the shop: the data-set folder, side tables, ground truth, the calibration table.

``write_offline(world, out)`` writes into ``out``::

    train.parquet, test.parquet, stats.json   paretoalign.data.save_dataset (stats.json has
                                              the schema of `paretoalign data` plus
                                              "source": "shop" and a "shop" block)
    impressions.parquet                       logged slates of a share of sessions
    truth_items.parquet                       per-item latent parameters
    truth_shoppers.parquet                    per-shopper (= session) parameters
    otto-recsys-train.jsonl, otto-recsys-test.jsonl   with otto_jsonl=True (OTTO 0-based aids)

Every file is written atomically, and the same world seed gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from paretoalign.data import save_dataset
from paretoalign.io import write_parquet
from paretoalign.world.calibration import calibration_checks
from paretoalign.world.offline import OfflineLogs
from paretoalign.world.world import World


def write_offline(world: World, out: str | Path, *, otto_jsonl: bool = False) -> OfflineLogs:
    """Simulate the offline logs of ``world`` and write them to ``out`` (see module doc)."""
    from paretoalign.data.otto import write_otto

    out = Path(out)
    logs = world.simulate_offline()
    save_dataset(out, logs.dataset)
    write_parquet(logs.impressions, out / "impressions.parquet")
    write_parquet(logs.truth_items, out / "truth_items.parquet")
    write_parquet(logs.truth_shoppers, out / "truth_shoppers.parquet")
    if otto_jsonl:
        write_otto(logs.dataset.train, out / "otto-recsys-train.jsonl")
        write_otto(logs.dataset.test, out / "otto-recsys-test.jsonl")
    return logs


def calibrate(
    world: World, logs: OfflineLogs | None = None, *, relax: float = 1.0
) -> dict[str, Any]:
    """The calibration table of the world's train log (simulated unless ``logs`` given).

    Returns ``{"checks": [...], "all_ok": bool, "train": stats, "test": stats,
    "offsets": {...}}``; ``all_ok`` is over the rows with a tolerance.
    """
    if logs is None:
        logs = world.simulate_offline()
    shop = logs.dataset.extra["shop"]
    checks = calibration_checks(shop["train"], relax=relax)
    return {
        "checks": checks,
        "all_ok": all(row["ok"] for row in checks if row["ok"] is not None),
        "train": shop["train"],
        "test": shop["test"],
        "offsets": shop["offsets"],
        "dropped_sessions": shop["dropped_sessions"],
        "seed": world.cfg.seed,
    }
