"""A synthetic shopper-day population with known KPI values (for the statistics tests).

Each shopper has a click propensity ``p_u ~ Beta(2, 48)`` (mean 0.04), a conversion
propensity ``c_u ~ Beta(1, 9)`` (mean 0.1) and heavy-tailed activity, all independent, so
the population values are known in closed form: CTR = E[p] = 0.04, post-click CVR =
E[c] = 0.1. Per-group multiplicative effects on ``p_u`` plant true differences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

from paretoalign.online.assignment import assign_groups

TRUE_CTR = 2 / 50
TRUE_CVR = 1 / 10


def simulate_summary(
    n_shoppers: int,
    groups: Sequence[str],
    days: int,
    rng: np.random.Generator,
    *,
    salt: str = "synthetic",
    ctr_effect: dict[str, float] | None = None,
) -> pd.DataFrame:
    ids = np.arange(1, n_shoppers + 1, dtype=np.int64) * 7919
    group_idx = assign_groups(ids, len(groups), salt)
    names = np.asarray(groups, dtype=object)[group_idx]
    p = rng.beta(2, 48, n_shoppers)
    if ctr_effect:
        for g, factor in ctr_effect.items():
            p[names == g] = np.minimum(p[names == g] * factor, 1.0)
    c = rng.beta(1, 9, n_shoppers)
    visit = rng.beta(1, 3, n_shoppers)
    rows = []
    for day in range(days):
        active = rng.random(n_shoppers) < visit
        active[rng.integers(n_shoppers)] = True
        idx = np.flatnonzero(active)
        sessions = 1 + rng.poisson(0.3, len(idx))
        views = np.maximum(1, np.round(rng.lognormal(np.log(6), 1.0, len(idx)))).astype(np.int64)
        views = views * sessions
        clicks = rng.binomial(views, p[idx])
        orders = rng.binomial(clicks, c[idx])
        units = orders + rng.poisson(0.05 * views)
        revenue = units * rng.lognormal(np.log(30), 0.6, len(idx))
        rows.append(
            pd.DataFrame(
                {
                    "shopper_id": ids[idx],
                    "group": names[idx],
                    "day": day,
                    "impressions": views,
                    "rec_clicks": clicks,
                    "rec_click_orders": orders,
                    "units": units,
                    "revenue": revenue,
                    "page_views": views,
                    "organic_views": views - clicks,
                    "sessions": sessions,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def synth() -> Callable[..., pd.DataFrame]:
    return simulate_summary


@pytest.fixture
def synth_truth() -> dict[str, float]:
    """Closed-form population values of the synthetic shoppers."""
    return {"ctr": TRUE_CTR, "post_click_cvr": TRUE_CVR}


# ---------------------------------------------------------------------------- a tiny shop
TINY_SHOP = {
    "n_items": 300,
    "n_categories": 8,
    "sessions_per_day": 100.0,
    "burn_in_days": 1,
    "train_days": 2,
    "test_days": 1,
    "calibration_sessions": 300,
    "calibration_rounds": 1,
    "logging_history_sessions": 300,
}


@pytest.fixture(scope="module")
def tiny_world():
    from paretoalign.world import ShopConfig, World

    return World.build(ShopConfig(**TINY_SHOP))


@pytest.fixture(scope="module")
def tiny_model(tiny_world):
    import torch

    from paretoalign.model import ModelSpec, PreferenceRecommender

    spec = ModelSpec(
        n_items=tiny_world.n_items,
        objectives=("clicks", "orders"),
        hidden_size=16,
        num_layers=1,
        max_len=50,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = PreferenceRecommender(spec)
    return model.eval()
