"""Synthetic arm panels with known answers, shared by the validation-harness tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from paretoalign.validate.oracle import ArmPanel, build_panel


def _synthetic_panel(rng, n_front=9, n_shoppers=3000, cvr_slope=-0.1):
    """A shop in which ``recall`` drives CTR up and CVR by ``cvr_slope``; ``density`` opposes it.

    Arms: ``n_front`` front points with weight w in [0, 1] and one control (w = 0.5, kind
    control). The same base shoppers (slates per shopper) are served by every arm.
    """
    w = np.append(np.linspace(0.0, 1.0, n_front), 0.5)
    names = [f"p{i}" for i in range(n_front)] + ["control"]
    offline = pd.DataFrame(
        {
            "recall@20": 0.2 + 0.1 * w,
            "density@20": 0.3 - 0.1 * w + 0.02 * rng.normal(size=len(w)),
            "placebo@20": rng.normal(size=len(w)),
        },
        index=names,
    )
    ids = np.arange(n_shoppers, dtype=np.int64) + 10**9
    slates = rng.poisson(8, n_shoppers) + 1
    tables = {}
    for name, wa in zip(names, w, strict=True):
        p_click = 0.03 + 0.03 * wa
        q_order = 0.15 + cvr_slope * wa
        clicks = rng.binomial(slates, p_click)
        orders = rng.binomial(clicks, q_order)
        organic = rng.poisson(0.3, n_shoppers)
        units = orders + organic
        table = pd.DataFrame(
            {
                "shopper_id": ids,
                "impressions": slates,
                "rec_clicks": clicks,
                "rec_click_orders": orders,
                "units": units,
                "revenue": 30.0 * units,
                "page_views": slates + 1,
                "organic_views": slates + 1 - clicks,
                "sessions": 1,
                "ev_rec_clicks": slates * p_click,
            }
        )
        tables[name] = table[table["impressions"] > 0]
    kinds = {n: ("control" if n == "control" else "model") for n in names}
    front = {n: n != "control" for n in names}
    return build_panel(tables, offline, kinds, front, ids)


@pytest.fixture
def synthetic_panel() -> Callable[..., ArmPanel]:
    """``synthetic_panel(rng, n_front=9, n_shoppers=3000, cvr_slope=-0.1) -> ArmPanel``."""
    return _synthetic_panel
