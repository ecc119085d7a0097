"""Figures and tables of the data step: the shop's logs against OTTO's published statistics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: Readable labels of the calibration statistics (``paretoalign.world.calibration``).
CHECK_LABELS = {
    "clicks_share_pct": "clicks, % of events",
    "carts_share_pct": "carts, % of events",
    "orders_share_pct": "orders, % of events",
    "orders_per_cart": "orders ÷ carts",
    "events_per_session_p50": "events per session, median",
    "events_per_session_p75": "events per session, p75",
    "events_per_session_p90": "events per session, p90",
    "events_per_session_p95": "events per session, p95",
    "events_per_item_p90_over_p50": "events per item, p90 ÷ median",
    "events_per_item_p50": "events per item, median",
    "events_per_item_p90": "events per item, p90",
    "rec_share_of_page_views_pct": "recommendation share of page views, %",
    "repeat_view_rate": "repeat-view rate",
    "wishlist_order_share": "orders without a prior click or cart",
    "units_per_order_line": "units per order line",
}


def calibration_frame(doc: Mapping[str, Any]) -> pd.DataFrame:
    """The calibration checks as a table, one row per statistic.

    Parameters
    ----------
    doc : mapping
        The JSON of ``paretoalign world calibrate``: ``{"checks": [{"name", "sim", "otto",
        "tolerance", "rule", "ok"}, ...]}``; ``rule`` is ``"abs"`` (pass if
        ``|sim - otto| <= tolerance``), ``"rel"`` (``|sim / otto - 1| <= tolerance``) or
        ``"report"`` (no target).

    Returns
    -------
    DataFrame
        Columns ``statistic`` (readable), ``name``, ``shop``, ``OTTO``, ``tolerance``,
        ``rule``, ``deviation`` (signed, in units of the tolerance; NaN for ``report``)
        and ``passes`` (True/False, None for ``report``).
    """
    checks = doc.get("checks")
    if not isinstance(checks, list) or not checks:
        raise ValueError("calibration document has no 'checks' list")
    rows = []
    for check in checks:
        sim, otto, tol, rule = check["sim"], check["otto"], check["tolerance"], check["rule"]
        if rule == "abs":
            deviation = (sim - otto) / tol
        elif rule == "rel":
            deviation = (sim / otto - 1.0) / tol
        elif rule == "report":
            deviation = float("nan")
        else:
            raise ValueError(f"unknown calibration rule {rule!r} for {check['name']!r}")
        rows.append(
            {
                "statistic": CHECK_LABELS.get(check["name"], check["name"]),
                "name": check["name"],
                "shop": sim,
                "OTTO": otto,
                "tolerance": tol,
                "rule": rule,
                "deviation": deviation,
                "passes": check["ok"],
            }
        )
    return pd.DataFrame(rows)


def calibration_figure(frame: pd.DataFrame) -> Figure:
    """Signed deviation of each checked statistic from OTTO, in units of its tolerance.

    The grey band ``[-1, 1]`` is the pass region; statistics without a target (rule
    ``report``) are left out.
    """
    checked = frame[frame["rule"] != "report"]
    fig = Figure(figsize=(7.0, 0.38 * len(checked) + 1.4))
    ax = fig.add_subplot()
    y = np.arange(len(checked))
    ax.axvspan(-1, 1, color="0.9", zorder=0)
    ax.axvline(0, color="0.5", lw=0.8)
    colours = ["#009E73" if ok else "#D55E00" for ok in checked["passes"]]
    ax.scatter(checked["deviation"], y, c=colours, s=36, zorder=3)
    ax.set_yticks(y, checked["statistic"])
    ax.invert_yaxis()
    limit = max(1.5, float(np.nanmax(np.abs(checked["deviation"]))) * 1.15)
    ax.set_xlim(-limit, limit)
    ax.set_xlabel("shop − OTTO, in units of the tolerance (|x| ≤ 1 passes)")
    ax.set_title("calibration of the shop's training log against OTTO")
    fig.tight_layout()
    return fig


def session_length_figure(lengths: np.ndarray, reference: Mapping[int, float]) -> Figure:
    """Empirical CDF of events per session (log axis) with reference quantiles marked.

    Parameters
    ----------
    lengths : ndarray(int, shape=(S,))
        Events per session of the log (``SessionLog.lengths``).
    reference : mapping int -> float
        Percentile -> value of the reference data set (OTTO's published quantiles).
    """
    if len(lengths) == 0:
        raise ValueError("no sessions")
    values = np.sort(np.asarray(lengths, dtype=np.float64))
    cdf = np.arange(1, len(values) + 1) / len(values)
    fig = Figure(figsize=(7.0, 3.6))
    ax = fig.add_subplot()
    ax.step(values, cdf, where="post", lw=1.6, label="this data set")
    for pct, value in sorted(reference.items()):
        ax.plot([value], [pct / 100.0], marker="D", color="#D55E00", ms=6, ls="none")
        ax.annotate(f"OTTO p{pct}", (value, pct / 100.0), xytext=(6, -10),
                    textcoords="offset points", fontsize=8, color="#D55E00")  # fmt: skip
    ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("events per session (log scale)")
    ax.set_ylabel("share of sessions ≤ x")
    ax.set_title("session length: training log vs OTTO's published quantiles")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def split_table(stats: Mapping[str, Any]) -> pd.DataFrame:
    """``stats.json`` of a data-set folder as a table: one row per split, event counts and shares.

    ``stats`` is ``{"train": {"sessions", "events", "clicks", "carts", "orders"}, "test":
    {...}, "n_items": N}``.
    """
    rows = []
    for split in ("train", "test"):
        if split not in stats:
            continue
        part = stats[split]
        events = max(int(part["events"]), 1)
        rows.append(
            {
                "split": split,
                "sessions": int(part["sessions"]),
                "events": int(part["events"]),
                "clicks": int(part["clicks"]),
                "carts": int(part["carts"]),
                "orders": int(part["orders"]),
                "events per session": part["events"] / max(int(part["sessions"]), 1),
                "% clicks": 100.0 * part["clicks"] / events,
                "% carts": 100.0 * part["carts"] / events,
                "% orders": 100.0 * part["orders"] / events,
            }
        )
    if not rows:
        raise ValueError("stats has neither a 'train' nor a 'test' split")
    return pd.DataFrame(rows).set_index("split")
