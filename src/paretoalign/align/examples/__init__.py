"""A small synthetic A/B experiment to try ``paretoalign align --groups --kpis`` on.

``groups.csv`` and ``kpis.csv`` in this folder are the output of :func:`example_tables`
with its default seed, written by ``python -m paretoalign.align.examples DIR`` (which
writes the same two files into ``DIR``; a test checks that the bundled files are exactly
that output). They are made up, not measured: six test groups of a fictitious shop — a
control, a popularity baseline and four variants of one model — with four offline
metrics and three KPIs over 14 days.

The generating model. Group :math:`g` has offline metrics :math:`m_g` (fixed numbers
below: ``recall@20``, ``ndcg@20``, ``coverage@100``, ``novelty@20``). On day
:math:`d = 0, \\dots, 13` with the weekly factor :math:`w_d = 1 + 0.08 \\sin(2\\pi d / 7)`
and independent normal noise :math:`\\varepsilon`,

.. math::

    \\mathrm{click\\_rate}_{g,d} &= w_d \\,(0.021 + 0.09\\,(\\mathrm{recall@20}_g - 0.19))
        + \\varepsilon, \\quad \\sigma = 0.0006,\\\\
    \\mathrm{orders\\_per\\_user}_{g,d} &= w_d\\,(0.060 + 0.25\\,(\\mathrm{ndcg@20}_g - 0.15))
        + \\varepsilon, \\quad \\sigma = 0.0020,\\\\
    \\mathrm{revenue\\_per\\_user}_{g,d} &= 38\\, \\mathrm{orders\\_per\\_user}_{g,d}
        \\,(1 - 0.4\\,(\\mathrm{coverage@100}_g - 0.45)) + \\varepsilon, \\quad \\sigma = 0.25.

So ``recall@20`` drives ``click_rate`` (a strong, planted alignment), ``ndcg@20`` drives
``orders_per_user`` and, through it, part of ``revenue_per_user``; ``recall@20`` and
``ndcg@20`` are correlated across the groups (as such metrics are), and ``coverage@100``
and ``novelty@20`` drive nothing but a small price effect. The files have daily rows only,
so the whole-experiment values are the means over the 14 days
(:mod:`paretoalign.align.inputs`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from paretoalign.io import write_text

__all__ = ["FOLDER", "GROUPS_CSV", "KPIS_CSV", "example_tables", "write_example"]

#: The folder of the bundled example files.
FOLDER = Path(__file__).resolve().parent
#: The bundled groups file (one row per group: group, kind, four offline metrics).
GROUPS_CSV = FOLDER / "groups.csv"
#: The bundled KPI file (one row per group, day and KPI: group, day, kpi, value).
KPIS_CSV = FOLDER / "kpis.csv"

#: Seed of the bundled files.
SEED = 2025
N_DAYS = 14
#: The six groups: name, kind and offline metrics on the held-out log.
GROUPS = pd.DataFrame(
    {
        "group": ["control", "popular", "model_a", "model_b", "model_c", "model_d"],
        "kind": ["control", "baseline", "model", "model", "model", "model"],
        "recall@20": [0.238, 0.192, 0.262, 0.281, 0.297, 0.318],
        "ndcg@20": [0.141, 0.118, 0.150, 0.171, 0.165, 0.182],
        "coverage@100": [0.41, 0.08, 0.55, 0.47, 0.62, 0.51],
        "novelty@20": [7.9, 5.1, 8.6, 8.2, 9.0, 8.4],
    }
)


def example_tables(seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The example's groups table and its daily KPI table (the model in the module docstring).

    Returns
    -------
    groups : DataFrame
        ``group, kind, recall@20, ndcg@20, coverage@100, novelty@20`` (6 rows).
    kpis : DataFrame
        ``group, day, kpi, value``: 6 groups x 14 days x 3 KPIs = 252 rows, values rounded
        to the digits a report would show (click rate 5, orders per user 4, revenue 2).
    """
    rng = np.random.default_rng(seed)
    days = np.arange(N_DAYS)
    weekly = 1.0 + 0.08 * np.sin(2.0 * np.pi * days / 7.0)
    rows = []
    for g in GROUPS.itertuples(index=False):
        recall, ndcg, coverage = g[2], g[3], g[4]
        clicks = weekly * (0.021 + 0.09 * (recall - 0.19)) + rng.normal(0, 0.0006, N_DAYS)
        orders = weekly * (0.060 + 0.25 * (ndcg - 0.15)) + rng.normal(0, 0.0020, N_DAYS)
        revenue = 38.0 * orders * (1.0 - 0.4 * (coverage - 0.45)) + rng.normal(0, 0.25, N_DAYS)
        for name, values, digits in (
            ("click_rate", clicks, 5),
            ("orders_per_user", orders, 4),
            ("revenue_per_user", revenue, 2),
        ):
            rows += [
                (g.group, int(d), name, round(float(v), digits))
                for d, v in zip(days, values, strict=True)
            ]
    return GROUPS.copy(), pd.DataFrame(rows, columns=["group", "day", "kpi", "value"])


def write_example(folder: str | Path, seed: int = SEED) -> dict[str, Path]:
    """Write ``groups.csv`` and ``kpis.csv`` of :func:`example_tables` into ``folder`` (atomically)."""
    folder = Path(folder)
    groups, kpis = example_tables(seed)
    return {
        "groups": write_text(
            folder / "groups.csv", groups.to_csv(index=False, lineterminator="\n")
        ),
        "kpis": write_text(folder / "kpis.csv", kpis.to_csv(index=False, lineterminator="\n")),
    }


def main(argv: list[str] | None = None) -> None:
    """``python -m paretoalign.align.examples DIR``: write the example's two files into DIR."""
    parser = argparse.ArgumentParser(
        prog="python -m paretoalign.align.examples",
        description="Write the synthetic example experiment (groups.csv, kpis.csv) into DIR.",
    )
    parser.add_argument("folder", type=Path, help="output folder (created if missing)")
    args = parser.parse_args(argv)
    for path in write_example(args.folder).values():
        print(path)
