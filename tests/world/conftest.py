"""A tiny world shared by the shop's tests (built once per session)."""

from __future__ import annotations

import pytest

from paretoalign.world import ShopConfig, World

TINY = {
    "n_items": 300,
    "n_categories": 8,
    "dim": 8,
    "slate_size": 6,
    "organic_candidates": 8,
    "sessions_per_day": 150.0,
    "burn_in_days": 1,
    "train_days": 5,
    "test_days": 2,
    "logging_history_sessions": 800,
    "calibration_sessions": 1500,
    "calibration_rounds": 2,
    "impression_log_share": 1.0,
    "chunk_sessions": 256,
}


def _tiny_config(**overrides) -> ShopConfig:
    return ShopConfig(**{**TINY, **overrides})


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(**overrides) -> ShopConfig``: the tiny world's config, changed."""
    return _tiny_config


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return World.build(_tiny_config())


@pytest.fixture(scope="session")
def tiny_logs(tiny_world):
    return tiny_world.simulate_offline()
