"""A small untrained preference-conditioned model for the serving tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

N_ITEMS = 300
MAX_LEN = 50


@pytest.fixture(scope="module")
def small_model():
    from paretoalign.model import ModelSpec, PreferenceRecommender

    spec = ModelSpec(
        n_items=N_ITEMS,
        objectives=("clicks", "carts", "orders"),
        hidden_size=16,
        num_layers=2,
        max_len=MAX_LEN,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        model = PreferenceRecommender(spec)
    return model.eval()


def make_histories(rng: np.random.Generator, n: int, n_items: int = N_ITEMS) -> np.ndarray:
    """Left-padded histories with lengths from 0 to MAX_LEN (log-normal, like sessions)."""
    lengths = np.minimum(MAX_LEN, np.round(rng.lognormal(np.log(6), 1.2, n))).astype(int)
    lengths[:3] = [0, 1, MAX_LEN]
    out = np.zeros((n, MAX_LEN), np.int32)
    for i, length in enumerate(lengths):
        if length:
            out[i, MAX_LEN - length :] = rng.integers(1, n_items + 1, length)
    return out


@pytest.fixture
def histories(rng):
    return make_histories(rng, 200)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Small tensors: one thread avoids OpenMP barrier waits on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
