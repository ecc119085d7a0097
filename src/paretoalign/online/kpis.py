"""Online KPIs per group and per group × day, with delta-method intervals.

Input: a *shopper-day summary* (one row per shopper and day on which the shopper was
active; built from the shop's event tables by :func:`paretoalign.online.events.summarise`)
with the columns of :data:`SUMMARY_COLUMNS`:

=====================  ============================================================
``shopper_id``         int64, the randomisation unit
``group``              str, the shopper's test group
``day``                int, experiment day ``0..D-1``
``impressions``        slate impressions (one per product page view served a slate)
``rec_clicks``         clicks on a slate item
``rec_click_orders``   rec-clicked items that were ordered later in the same session
``units``              units ordered, every channel (rec and organic)
``revenue``            revenue of those units (price × quantity)
``page_views``         product page views, every channel
``organic_views``      page views not reached through a slate click
``sessions``           sessions started that day
=====================  ============================================================

KPIs (:data:`KPIS`), each a ratio of per-shopper sums ``sum X_u / sum Y_u`` (``Y_u = 1`` for
the per-shopper means) times a scale:

==============================  =====================  =================  ======
KPI                             numerator ``X``        denominator ``Y``  scale
==============================  =====================  =================  ======
``ctr``                         ``rec_clicks``         ``impressions``    1
``post_click_cvr``              ``rec_click_orders``   ``rec_clicks``     1
``units_per_shopper``           ``units``              1 (shoppers)       1
``units_per_1k_impressions``    ``units``              ``impressions``    1000
``revenue_per_shopper``         ``revenue``            1 (shoppers)       1
``session_depth``               ``page_views``         ``sessions``       1
``organic_share``               ``organic_views``      ``page_views``     1
==============================  =====================  =================  ======

For the whole experiment (``day = -1``) the per-shopper sums run over all days, so a
shopper who returns on several days is still one unit. For a single day the unit is the
shopper active on that day. ``n`` is the number of shoppers in the cell, ``n_nonzero``
those with a positive denominator. Intervals:
:func:`paretoalign.online.stats.ratio_estimate` (delta method, shopper = unit).

Small cells
-----------
The delta method is a large-sample approximation. A/A runs in the shop (re-randomising
one arm's shoppers into 3 or 5 groups) measured per-day false-positive rates of 0.057 -
0.077 with 90 - 360 shoppers per group and day, but 0.087 (3 groups) and 0.126 (5
groups; post-click conversion 0.22) with 40 - 65 shoppers per group and day on the smoke
profile. The tests therefore carry ``n_min`` (the smallest ``n_nonzero`` of the compared
groups) and ``reliable = n_min >= min_shoppers``; ``significant`` requires both
``p < alpha`` and ``reliable``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from paretoalign.online.stats import (
    RatioEstimate,
    compare_to_control,
    holm_adjust,
    omnibus_equality_test,
    ratio_estimate,
)

COUNT_COLUMNS: tuple[str, ...] = (
    "impressions",
    "rec_clicks",
    "rec_click_orders",
    "units",
    "revenue",
    "page_views",
    "organic_views",
    "sessions",
)
SUMMARY_COLUMNS: tuple[str, ...] = ("shopper_id", "group", "day", *COUNT_COLUMNS)
WHOLE_EXPERIMENT = -1


class KpiSpec(NamedTuple):
    """A KPI as ``scale * sum(numerator) / sum(denominator)`` over shoppers."""

    numerator: str
    denominator: str | None
    scale: float


KPIS: dict[str, KpiSpec] = {
    "ctr": KpiSpec("rec_clicks", "impressions", 1.0),
    "post_click_cvr": KpiSpec("rec_click_orders", "rec_clicks", 1.0),
    "units_per_shopper": KpiSpec("units", None, 1.0),
    "units_per_1k_impressions": KpiSpec("units", "impressions", 1000.0),
    "revenue_per_shopper": KpiSpec("revenue", None, 1.0),
    "session_depth": KpiSpec("page_views", "sessions", 1.0),
    "organic_share": KpiSpec("organic_views", "page_views", 1.0),
}


def check_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Validate a shopper-day summary: columns present, counts finite and non-negative.

    Raises
    ------
    ValueError
        Naming the first missing column, the first bad value or a duplicated
        (shopper, day) row.
    """
    missing = [c for c in SUMMARY_COLUMNS if c not in summary.columns]
    if missing:
        raise ValueError(f"shopper-day summary lacks columns {missing}")
    for col in COUNT_COLUMNS:
        values = summary[col].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"shopper-day summary: column {col!r} row {row} is {values[row]}")
    if summary.duplicated(["shopper_id", "day"]).any():
        raise ValueError("shopper-day summary has duplicated (shopper_id, day) rows")
    groups_per_shopper = summary.groupby("shopper_id")["group"].nunique()
    if (groups_per_shopper > 1).any():
        shopper = groups_per_shopper.index[int(np.argmax(groups_per_shopper.to_numpy() > 1))]
        raise ValueError(
            f"shopper {shopper} appears in more than one group (assignment not sticky)"
        )
    return summary


def per_shopper(summary: pd.DataFrame) -> pd.DataFrame:
    """Sum the counts over days: one row per shopper (``day = -1``)."""
    out = summary.groupby(["group", "shopper_id"], sort=True, observed=True)[
        list(COUNT_COLUMNS)
    ].sum()
    out = out.reset_index()
    out["day"] = WHOLE_EXPERIMENT
    return out


def _estimate(cell: pd.DataFrame, spec: KpiSpec, alpha: float) -> RatioEstimate:
    x = cell[spec.numerator].to_numpy(dtype=np.float64) * spec.scale
    y = None if spec.denominator is None else cell[spec.denominator].to_numpy(dtype=np.float64)
    return ratio_estimate(x, y, alpha=alpha)


def _cells(summary: pd.DataFrame, per_day: bool) -> list[tuple[Any, int, pd.DataFrame]]:
    cells = [(g, WHOLE_EXPERIMENT, frame) for g, frame in per_shopper(summary).groupby("group")]
    if per_day:
        cells += [(g, int(d), frame) for (g, d), frame in summary.groupby(["group", "day"])]
    return cells


def compute_kpis(
    summary: pd.DataFrame,
    *,
    alpha: float = 0.05,
    per_day: bool = True,
    kpis: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every KPI for every group, whole experiment and (optionally) per day.

    Parameters
    ----------
    summary : DataFrame
        Shopper-day summary (:data:`SUMMARY_COLUMNS`).
    alpha : float
        Intervals have coverage ``1 - alpha``.
    per_day : bool
        Also compute one row per (group, day, KPI).
    kpis : sequence of str, optional
        Subset of :data:`KPIS` (all by default).

    Returns
    -------
    DataFrame
        Tidy: ``group``, ``day`` (int; ``-1`` = whole experiment), ``kpi``, ``value``,
        ``ci_low``, ``ci_high``, ``n`` (shoppers in the cell), ``se``, ``n_nonzero``
        (shoppers with a positive denominator). Sorted by group, day, KPI order of
        :data:`KPIS`.
    """
    check_summary(summary)
    names = _kpi_names(kpis)
    rows = []
    for group, day, cell in _cells(summary, per_day):
        for name in names:
            est = _estimate(cell, KPIS[name], alpha)
            rows.append(
                {
                    "group": group,
                    "day": day,
                    "kpi": name,
                    "value": est.value,
                    "ci_low": est.ci_low,
                    "ci_high": est.ci_high,
                    "n": est.n,
                    "se": est.se,
                    "n_nonzero": est.n_nonzero,
                }
            )
    columns = ["group", "day", "kpi", "value", "ci_low", "ci_high", "n", "se", "n_nonzero"]
    out = pd.DataFrame(rows, columns=columns)
    out["day"] = out["day"].astype(np.int64)
    out["n"] = out["n"].astype(np.int64)
    out["n_nonzero"] = out["n_nonzero"].astype(np.int64)
    order = {k: i for i, k in enumerate(names)}
    out = out.sort_values(
        ["group", "day", "kpi"], key=lambda s: s.map(order) if s.name == "kpi" else s
    )
    return out.reset_index(drop=True)


def _n_nonzero(frame: Any) -> Any:
    return frame["n_nonzero"] if "n_nonzero" in frame else frame["n"]


def uplift_table(
    kpi_table: pd.DataFrame, control: str, *, alpha: float = 0.05, min_shoppers: int = 0
) -> pd.DataFrame:
    """Every non-control group against ``control``, per KPI and day, Holm-adjusted.

    Parameters
    ----------
    kpi_table : DataFrame
        Output of :func:`compute_kpis` (needs ``se``).
    control : str
        The control group's name.
    alpha : float
    min_shoppers : int
        A comparison is ``reliable`` when both groups have at least this many shoppers with
        a positive denominator (see "Small cells" in the module docstring).

    Returns
    -------
    DataFrame
        ``group``, ``day``, ``kpi``, ``value``, ``control_value``, ``diff``, ``diff_ci_low``,
        ``diff_ci_high``, ``rel_uplift``, ``rel_ci_low``, ``rel_ci_high``, ``z``, ``p_value``,
        ``p_holm`` (Holm over the treatment groups within each KPI and day), ``n_min``,
        ``reliable`` and ``significant`` (``p_holm < alpha`` and reliable).

    Raises
    ------
    ValueError
        If ``control`` is not a group of the table.
    """
    if control not in set(kpi_table["group"]):
        raise ValueError(f"control group {control!r} is not in the KPI table")
    ctrl = kpi_table[kpi_table["group"] == control].set_index(["day", "kpi"])
    rows = []
    for rec in kpi_table[kpi_table["group"] != control].itertuples(index=False):
        c = ctrl.loc[(rec.day, rec.kpi)]
        cmp = compare_to_control(
            RatioEstimate(rec.value, rec.se, rec.ci_low, rec.ci_high, rec.n),
            RatioEstimate(c["value"], c["se"], c["ci_low"], c["ci_high"], int(c["n"])),
            alpha=alpha,
        )
        n_min = int(min(getattr(rec, "n_nonzero", rec.n), _n_nonzero(c)))
        rows.append(
            {
                "group": rec.group,
                "day": rec.day,
                "kpi": rec.kpi,
                "value": rec.value,
                "control_value": float(c["value"]),
                **dataclasses.asdict(cmp),
                "n_min": n_min,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_holm"] = np.nan
    for _, idx in out.groupby(["day", "kpi"]).groups.items():
        out.loc[idx, "p_holm"] = holm_adjust(out.loc[idx, "p_value"].to_numpy())
    out["reliable"] = out["n_min"] >= min_shoppers
    out["significant"] = (out["p_holm"] < alpha) & out["reliable"]
    return out


def omnibus_table(
    kpi_table: pd.DataFrame, *, alpha: float = 0.05, min_shoppers: int = 0
) -> pd.DataFrame:
    """Per KPI and day: Wald test that all groups share one value (the A/A test).

    Parameters
    ----------
    kpi_table : DataFrame
        Output of :func:`compute_kpis`.
    alpha : float
    min_shoppers : int
        The test is ``reliable`` when every group has at least this many shoppers with a
        positive denominator.

    Returns
    -------
    DataFrame
        ``day``, ``kpi``, ``statistic``, ``dof``, ``p_value``, ``n_min``, ``reliable`` and
        ``significant`` (``p < alpha`` and reliable).
    """
    rows = []
    for (day, kpi), cell in kpi_table.groupby(["day", "kpi"], sort=True):
        ests = [
            RatioEstimate(r.value, r.se, r.ci_low, r.ci_high, r.n)
            for r in cell.itertuples(index=False)
        ]
        stat, dof, p = omnibus_equality_test(ests)
        n_min = int(_n_nonzero(cell).min())
        rows.append(
            {
                "day": int(day),
                "kpi": kpi,
                "statistic": stat,
                "dof": dof,
                "p_value": p,
                "n_min": n_min,
                "reliable": n_min >= min_shoppers,
                "significant": bool(p < alpha) and n_min >= min_shoppers,
            }
        )
    return pd.DataFrame(rows)


def _kpi_names(kpis: Sequence[str] | None) -> list[str]:
    if kpis is None:
        return list(KPIS)
    unknown = [k for k in kpis if k not in KPIS]
    if unknown:
        raise ValueError(f"unknown KPIs {unknown}; known: {list(KPIS)}")
    return list(kpis)
