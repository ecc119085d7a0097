"""Shared fixtures: seeded randomness, the real-format data files (``FIXTURES``) and planted
alignment tables with known answers."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
RNG_SEED = int(os.environ.get("PARETOALIGN_TEST_SEED", "42"))

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator (override the seed with PARETOALIGN_TEST_SEED)."""
    return np.random.default_rng(RNG_SEED)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"the shared fixtures are missing: expected {FIXTURES}")
    return FIXTURES


@pytest.fixture(scope="session")
def otto_sample(fixtures_dir: Path) -> Path:
    return fixtures_dir / "otto" / "sample_sessions.jsonl"


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``slow`` unless RUN_SLOW=1 (``make test-slow`` sets it)."""
    if os.environ.get("RUN_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow test: run with RUN_SLOW=1 (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _planted(rng, groups=6, days=7, noise=0.002):
    """Offline metrics and a tidy KPI table with known alignments.

    ``recall@20`` drives ``ctr`` (+), ``density@20`` drives ``cvr`` (+), ``recall@20`` and
    ``density@20`` are anti-correlated by construction, ``placebo@20`` is random, and the
    ``noise`` KPI is unrelated to everything.
    """
    w = np.linspace(0.0, 1.0, groups)
    names = [f"g{i}" for i in range(groups)]
    offline = pd.DataFrame(
        {
            "recall@20": 0.30 + 0.10 * w,
            "density@20": 0.20 - 0.05 * w,
            "placebo@20": rng.permutation(np.linspace(0.0, 1.0, groups)),
        },
        index=names,
    )
    truth = {"ctr": 0.03 + 0.01 * w, "cvr": 0.06 - 0.02 * w, "noise": np.full(groups, 1.0)}
    rows = []
    for gi, g in enumerate(names):
        for d in range(days):
            for kpi, mu in truth.items():
                scale = 0.3 if kpi == "noise" else noise
                rows.append((g, d, kpi, mu[gi] + rng.normal(0, scale)))
    daily = pd.DataFrame(rows, columns=["group", "day", "kpi", "value"])
    whole = daily.groupby(["group", "kpi"], as_index=False)["value"].mean().assign(day=-1)
    kpis = pd.concat([daily, whole], ignore_index=True)
    kpis["ci_low"] = kpis["value"] - 0.001
    kpis["ci_high"] = kpis["value"] + 0.001
    kpis["n"] = 100
    return offline, kpis


@pytest.fixture
def planted() -> Callable[..., tuple[pd.DataFrame, pd.DataFrame]]:
    """``planted(rng, groups=6, days=7, noise=0.002) -> (offline, kpis)``."""
    return _planted
