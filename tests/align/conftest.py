"""Planted alignment tables with known answers, shared by the align tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest


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
