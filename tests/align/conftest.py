"""Planted alignment tables with known answers, shared by the align tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from paretoalign.align.oracle import ArmPanel, build_panel


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
