"""Figures of the online experiment: KPIs per group with intervals, by day, against metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

#: Axis labels (with units) of the KPIs of ``paretoalign.online.kpis``.
KPI_LABELS = {
    "ctr": "click-through rate\n(rec clicks per slate impression)",
    "post_click_cvr": "post-click conversion rate\n(ordered rec clicks per rec click)",
    "units_per_shopper": "units sold per shopper",
    "units_per_1k_impressions": "units sold per 1,000 slate impressions",
    "revenue_per_shopper": "revenue per shopper (price units)",
    "session_depth": "page views per session",
    "organic_share": "share of page views not from slates",
}
#: Colours of the arm kinds of ``groups.parquet``.
KIND_COLOURS = {"model": "#0072B2", "baseline": "#E69F00", "control": "0.35"}


def kpi_label(kpi: str) -> str:
    return KPI_LABELS.get(kpi, kpi)


def _whole(kpis: pd.DataFrame) -> pd.DataFrame:
    need = {"group", "day", "kpi", "value"}
    if not need <= set(kpis.columns):
        raise ValueError(f"KPI table needs columns {sorted(need)}")
    whole = kpis[kpis["day"] == -1].assign(group=lambda d: d["group"].astype(str))
    if whole.empty:
        raise ValueError("KPI table has no whole-experiment rows (day == -1)")
    return whole


def kpi_figure(
    kpis: pd.DataFrame,
    kinds: Mapping[str, str],
    kpi_names: Sequence[str],
    order: Sequence[str] | None = None,
) -> Figure:
    """One panel per KPI: each group's whole-experiment value with its 95 % interval.

    Parameters
    ----------
    kpis : DataFrame
        Tidy KPI table (``group, day, kpi, value, ci_low, ci_high``); ``day == -1`` rows.
    kinds : mapping
        Group name -> arm kind (``model``, ``baseline``, ``control``), for the colours.
    kpi_names : sequence of str
        The KPIs to draw, one panel each.
    order : sequence of str, optional
        Group order on the y axis (default: as in ``kinds``).
    """
    whole = _whole(kpis)
    order = [str(g) for g in (order if order is not None else kinds)]
    ncols = min(2, len(kpi_names))
    nrows = -(-len(kpi_names) // ncols)
    fig = Figure(figsize=(4.4 * ncols + 1.2, (0.3 * len(order) + 1.3) * nrows + 0.5))
    grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(kpi_names) :]:
        ax.set_visible(False)
    y = np.arange(len(order))
    for ax, kpi in zip(axes, kpi_names, strict=False):
        sub = whole[whole["kpi"] == kpi].set_index("group").reindex(order)
        if sub["value"].isna().any():
            missing = sub.index[sub["value"].isna()].tolist()
            raise ValueError(f"no whole-experiment {kpi!r} for groups {missing}")
        colours = [KIND_COLOURS.get(str(kinds.get(g, "model")), "0.5") for g in order]
        value = sub["value"].to_numpy(float)
        if {"ci_low", "ci_high"} <= set(sub.columns):
            err = np.vstack([value - sub["ci_low"].to_numpy(float),
                             sub["ci_high"].to_numpy(float) - value])  # fmt: skip
            ax.errorbar(value, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="0.6", lw=1.2)
        ax.scatter(value, y, c=colours, s=30, zorder=3)
        ax.set_xlabel(kpi_label(kpi), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(5))
    grid[0, 0].set_yticks(y, order)
    grid[0, 0].invert_yaxis()
    for row in grid:
        row[0].set_ylabel("test group")
    fig.suptitle("KPIs over the whole experiment (95 % intervals, shopper = unit)", fontsize=10)
    fig.tight_layout()
    return fig


def daily_figure(kpis: pd.DataFrame, kpi: str, kinds: Mapping[str, str]) -> Figure:
    """One KPI per experiment day and group (lines), with the daily 95 % intervals (bands)."""
    import seaborn as sns

    daily = kpis[(kpis["day"] >= 0) & (kpis["kpi"] == kpi)].assign(
        group=lambda d: d["group"].astype(str)
    )
    if daily.empty:
        raise ValueError(f"no daily rows for {kpi!r}")
    groups = list(dict.fromkeys(str(g) for g in kinds))
    palette = dict(zip(groups, sns.color_palette("colorblind", len(groups)), strict=True))
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    for group in groups:
        sub = daily[daily["group"] == group].sort_values("day")
        if sub.empty:
            continue
        style = "--" if kinds.get(group) != "model" else "-"
        ax.plot(sub["day"], sub["value"], style, color=palette[group], lw=1.4, label=group)
        if {"ci_low", "ci_high"} <= set(sub.columns):
            ax.fill_between(sub["day"], sub["ci_low"], sub["ci_high"], color=palette[group],
                            alpha=0.12, lw=0)  # fmt: skip
    ax.set_xlabel("experiment day")
    ax.set_ylabel(kpi_label(kpi), fontsize=9)
    ax.legend(title="group (dashed: not the model)", fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    return fig


#: The headline's (offline metric, KPI) pairs: the pairs the paper's metrics suggest
#: (click recall and click-through rate, order density and post-click conversion, their
#: product and units sold; the book's method page, equation ``eq-product``).
HEADLINE_PAIRS = (
    ("click_recall@20", "ctr"),
    ("order_density@20", "post_click_cvr"),
    ("recall_x_order_density@20", "units_per_1k_impressions"),
)


def headline_figure(
    offline: pd.DataFrame,
    kpis: pd.DataFrame,
    table: pd.DataFrame | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Figure:
    """The book's headline: :func:`paretoalign.plots.experiment.paired_scatter` of the
    :data:`HEADLINE_PAIRS` present in ``offline``'s columns and ``kpis``' KPIs
    (``paretoalign align`` writes it as ``figures/headline.png``).

    Tables without any of those pairs (another experiment's metrics and KPIs) get the
    three pairs of the alignment ``table`` with the largest ``|r_primary|`` instead.
    Raises ValueError when there is neither.
    """
    present = set(kpis["kpi"])
    pairs = [(m, k) for m, k in HEADLINE_PAIRS if m in offline.columns and k in present]
    if not pairs and table is not None and len(table):
        strongest = table.reindex(table["r_primary"].abs().sort_values(ascending=False).index)
        pairs = list(zip(strongest["metric"], strongest["kpi"]))[:3]
    if not pairs:
        raise ValueError(f"none of the headline pairs {HEADLINE_PAIRS} is in the tables")
    return paired_scatter(offline, kpis, pairs, table, kinds)


def paired_scatter(
    offline: pd.DataFrame,
    kpis: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    table: pd.DataFrame | None = None,
    kinds: Mapping[str, str] | None = None,
) -> Figure:
    """One panel per (offline metric, KPI) pair: each group's metric (x) against its KPI (y).

    Parameters
    ----------
    offline : DataFrame
        Index = group names, columns = offline metrics on the held-out log.
    kpis : DataFrame
        Tidy KPI table; the ``day == -1`` rows give the points and intervals.
    pairs : sequence of (metric, kpi)
    table : DataFrame, optional
        The alignment table (``metric, kpi, r_primary, p_primary_bh, aligned``) for the
        panel titles.
    kinds : mapping, optional
        Group name -> arm kind, for the colours.
    """
    whole = _whole(kpis)
    lookup = table.set_index(["metric", "kpi"]) if table is not None else None
    fig = Figure(figsize=(4.0 * len(pairs), 3.9))
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (metric, kpi) in zip(axes, pairs, strict=True):
        if metric not in offline.columns:
            raise ValueError(f"no offline metric {metric!r} in the groups table")
        sub = whole[whole["kpi"] == kpi].set_index("group").reindex(offline.index.astype(str))
        x = offline[metric].to_numpy(float)
        y = sub["value"].to_numpy(float)
        colours = [KIND_COLOURS.get(str((kinds or {}).get(g, "model")), "0.5")
                   for g in sub.index]  # fmt: skip
        if {"ci_low", "ci_high"} <= set(sub.columns):
            err = np.vstack([y - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - y])
            ax.errorbar(x, y, yerr=np.clip(err, 0, None), fmt="none", ecolor="0.6", lw=1.0)
        ax.scatter(x, y, c=colours, s=34, zorder=3)
        for gx, gy, name in zip(x, y, sub.index, strict=True):
            ax.annotate(name, (gx, gy), xytext=(4, 3), textcoords="offset points", fontsize=8)
        if lookup is not None and (metric, kpi) in lookup.index:
            row = lookup.loc[(metric, kpi)]
            verdict = "aligned" if bool(row["aligned"]) else "not significant"
            ax.set_title(f"r = {row['r_primary']:+.2f} ({verdict})", fontsize=11)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.set_xlabel(f"{metric}\n(offline, held-out log)", fontsize=10)
        ax.set_ylabel(kpi_label(kpi), fontsize=10)
        ax.tick_params(labelsize=9)
    fig.tight_layout()
    return fig
