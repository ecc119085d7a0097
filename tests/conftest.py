"""Shared fixtures: seeded randomness and the real-format data files in ../shared/fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
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
