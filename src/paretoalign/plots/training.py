"""Figures and tables of the training step: the loss history and the summary metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from paretoalign.metrics.summary import SUMMARY_METRICS
from paretoalign.plots.style import OBJECTIVE_COLOURS


def pi_label(pi: Sequence[float], objectives: Sequence[str]) -> str:
    """``"π = (1, 0, 0)"``-style label, with ``"centre"`` for the equal-weight point."""
    values = [float(p) for p in pi]
    if len(set(np.round(values, 6))) == 1:
        return "model, centre π"
    if max(values) == 1.0:
        return f"model, π = {objectives[int(np.argmax(values))]} only"
    return "model, π = (" + ", ".join(f"{v:.2g}" for v in values) + ")"


def summary_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """``summary.json`` as a tidy table: ``recommender``, ``kind``, ``metric``, ``value``.

    ``summary`` is ``{"model": {"<pi>": {"pi": [...], metric: value}}, "baselines":
    {name: {metric: value}}, "objectives": [...], ...}``; ``kind`` is ``"model"`` or
    ``"baseline"``.
    """
    objectives = list(summary.get("objectives") or [])
    rows = []
    for key, entry in summary["model"].items():
        label = pi_label(entry["pi"], objectives) if objectives else f"model, π = {key}"
        for metric in SUMMARY_METRICS:
            if metric in entry:
                rows.append((label, "model", metric, float(entry[metric])))
    for name, entry in summary.get("baselines", {}).items():
        for metric in SUMMARY_METRICS:
            if metric in entry:
                rows.append((name, "baseline", metric, float(entry[metric])))
    if not rows:
        raise ValueError("summary has no metric values")
    return pd.DataFrame(rows, columns=["recommender", "kind", "metric", "value"])


def edge_frame(summary: Mapping[str, Any], target: str = "orders") -> pd.DataFrame:
    """The model's summary points on the clicks -> ``target`` edge of the simplex.

    Rows are the points whose π is zero outside ``clicks`` and ``target``, sorted by the
    weight on ``target`` (column ``weight``), with one column per summary metric. Raises
    ``ValueError`` when the summary has no ``objectives`` or fewer than two edge points.
    """
    objectives = list(summary.get("objectives") or [])
    if "clicks" not in objectives or target not in objectives:
        raise ValueError(f"summary objectives {objectives} lack 'clicks' or {target!r}")
    c, t = objectives.index("clicks"), objectives.index(target)
    rows = []
    for entry in summary["model"].values():
        pi = np.asarray(entry["pi"], dtype=float)
        others = np.delete(pi, [c, t])
        if np.all(others == 0):
            row = {"weight": float(pi[t])}
            row.update({m: float(entry[m]) for m in SUMMARY_METRICS if m in entry})
            rows.append(row)
    if len(rows) < 2:
        raise ValueError(f"summary has {len(rows)} points on the clicks -> {target} edge")
    return pd.DataFrame(rows).sort_values("weight", kind="stable").reset_index(drop=True)


def comparison_frame(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The paired comparisons of ``summary.json`` as a table, one row per comparison.

    Columns ``a``, ``b``, ``metric``, ``value_a``, ``value_b``, ``difference`` (a - b),
    ``ci_low``, ``ci_high`` (95 % paired session-bootstrap interval), ``p_value`` and
    ``verdict``: ``"higher"`` / ``"lower"`` where the interval excludes 0, else
    ``"not distinguishable"``. Raises ``ValueError`` when the summary has none (written
    before paired comparisons existed: rerun ``paretoalign train``).
    """
    rows = list(summary.get("comparisons") or [])
    if not rows:
        raise ValueError("summary has no paired comparisons (rerun `paretoalign train`)")
    columns = ["a", "b", "metric", "value_a", "value_b", "difference", "ci_low", "ci_high"]
    frame = pd.DataFrame(rows)[[*columns, "p_value"]]
    frame["verdict"] = np.where(
        frame["ci_low"] > 0,
        "higher",
        np.where(frame["ci_high"] < 0, "lower", "not distinguishable"),
    )
    return frame


#: The comparisons the training chapter states, per seed: name -> (a, b, metric) where
#: ``a``/``b`` are "clicks" / "orders" (the corners) or a baseline name.
CLAIMS: dict[str, tuple[str, str, str]] = {
    "vs_covis": ("clicks", "covisitation", "click_recall@20"),
    "vs_logging": ("clicks", "logging", "click_recall@20"),
    "vs_pop": ("clicks", "popularity", "click_recall@20"),
    "orders_recall_vs_covis": ("orders", "covisitation", "order_recall@20"),
    "orders_density_vs_covis": ("orders", "covisitation", "order_density@20"),
}


def _corners(summary: Mapping[str, Any]) -> dict[str, str]:
    """Row labels of the clicks and orders corners (``"model 1,0,0"`` ...) of a summary."""
    objectives = list(summary["objectives"])
    target = "orders" if "orders" in objectives else objectives[-1]
    out = {}
    for key, entry in summary["model"].items():
        pi = list(entry["pi"])
        for name, objective in (("clicks", "clicks"), ("orders", target)):
            if pi[objectives.index(objective)] == 1.0:
                out[name] = f"model {key}"
    return out


def comparison_highlights(frame: pd.DataFrame, summary: Mapping[str, Any]) -> dict[str, pd.Series]:
    """The comparisons of :data:`CLAIMS` found in a :func:`comparison_frame` of ``summary``
    (a claim whose baseline the summary lacks, e.g. the logging policy of a real data set,
    is left out)."""
    corners = _corners(summary)
    out = {}
    for name, (a, b, metric) in CLAIMS.items():
        rows = (
            (frame["a"] == corners.get(a, a))
            & (frame["b"] == corners.get(b, b))
            & (frame["metric"] == metric)
        )
        if rows.any():
            out[name] = frame[rows].iloc[-1]
    return out


def edge_steps(frame: pd.DataFrame, summary: Mapping[str, Any]) -> pd.DataFrame:
    """The clicks -> orders edge step by step: one row per (step, metric) of the
    :func:`comparison_frame` rows comparing two model points (next minus previous),
    columns ``step`` ("1,0,0 → 0.75,0,0.25"), ``metric``, ``difference``, ``ci_low``,
    ``ci_high``, ``verdict``."""
    rows = frame[frame["a"].str.startswith("model ") & frame["b"].str.startswith("model ")]
    out = rows.assign(step=rows["b"].str[6:] + " → " + rows["a"].str[6:])
    return out[["step", "metric", "difference", "ci_low", "ci_high", "verdict"]].reset_index(
        drop=True
    )


def seed_claims(summaries: Mapping[int, Mapping[str, Any]]) -> pd.DataFrame:
    """The chapter's claims for every training seed: one row per (seed, claim).

    ``summaries`` maps a training seed to its ``summary.json``. Columns ``seed``,
    ``claim`` (a name of :data:`CLAIMS`), ``a``, ``b``, ``metric``, ``difference``,
    ``ci_low``, ``ci_high`` and ``holds`` (the 95 % interval lies above 0).
    """
    rows = []
    for seed, summary in summaries.items():
        frame = comparison_frame(summary)
        for claim, row in comparison_highlights(frame, summary).items():
            rows.append(
                {
                    "seed": int(seed),
                    "claim": claim,
                    **{c: row[c] for c in ("a", "b", "metric", "difference", "ci_low")},
                    "ci_high": row["ci_high"],
                    "holds": bool(row["ci_low"] > 0),
                }
            )
    return pd.DataFrame(rows)


def trade_holds(summary: Mapping[str, Any]) -> bool:
    """Whether the orders corner has lower click recall@20 and higher order density@20
    than the clicks corner: the trade the front is made of (:func:`edge_steps` gives each
    step's difference with its interval)."""
    objectives = list(summary["objectives"])
    edge = edge_frame(summary, "orders" if "orders" in objectives else objectives[-1])
    first, last = edge.iloc[0], edge.iloc[-1]
    return bool(
        last["click_recall@20"] < first["click_recall@20"]
        and last["order_density@20"] > first["order_density@20"]
    )


def metric_values(frame: pd.DataFrame, metric: str, kind: str) -> pd.Series:
    """``metric``'s value per recommender of one ``kind`` ("model" or "baseline") of a
    :func:`summary_frame`, indexed by the recommender's label, in the frame's order."""
    rows = frame[(frame["kind"] == kind) & (frame["metric"] == metric)]
    return rows.set_index("recommender")["value"]


def summary_highlights(frame: pd.DataFrame) -> dict[str, Any]:
    """The numbers the training chapter quotes from a :func:`summary_frame`.

    ``best_model_click_recall`` / ``best_model_point``: the model's highest click
    recall@20 over the summary's points and that point's label; ``best_baseline_*``: the
    same over the baselines; ``order_recall_min`` / ``order_recall_max``: the model's
    order recall@20 range over its points.
    """
    recall = metric_values(frame, "click_recall@20", "model")
    baseline = metric_values(frame, "click_recall@20", "baseline")
    orders = metric_values(frame, "order_recall@20", "model")
    return {
        "best_model_click_recall": float(recall.max()),
        "best_model_point": str(recall.idxmax()),
        "best_baseline_click_recall": float(baseline.max()),
        "best_baseline": str(baseline.idxmax()),
        "order_recall_min": float(orders.min()),
        "order_recall_max": float(orders.max()),
    }


def summary_figure(frame: pd.DataFrame) -> Figure:
    """Grouped bars: each summary metric (panel) for the model's simplex points and the baselines."""
    import seaborn as sns

    metrics = list(dict.fromkeys(frame["metric"]))
    order = list(dict.fromkeys(frame["recommender"]))
    baselines = set(frame.loc[frame["kind"] == "baseline", "recommender"])
    palette = dict(zip(order, sns.color_palette("colorblind", len(order)), strict=True))
    for name in baselines:
        palette[name] = "0.55" if name == "popularity" else "0.3"
    fig = Figure(figsize=(3.0 * len(metrics), 3.8))
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        sub = frame[frame["metric"] == metric]
        sns.barplot(data=sub, x="recommender", y="value", hue="recommender", order=order,
                    hue_order=order, palette=palette, ax=ax, legend=False)  # fmt: skip
        ax.set_title(metric)
        ax.set_xlabel("")
        ax.set_ylabel("value on the test split" if ax is axes[0] else "")
        ax.tick_params(axis="x", rotation=60, labelsize=8)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


def history_figure(history: Sequence[Mapping[str, Any]], objectives: Sequence[str]) -> Figure:
    """Per-objective training loss against the step (smoothed over 1 % of the run).

    ``history`` is ``history.json``: one row per step with ``step`` and ``loss_<objective>``.
    The raw values jump with the π drawn for each batch, so a centred rolling median is
    drawn over them.
    """
    frame = pd.DataFrame(list(history))
    if frame.empty:
        raise ValueError("empty training history")
    window = max(1, len(frame) // 100) * 2 + 1
    fig = Figure(figsize=(3.2 * len(objectives), 3.2))
    axes = fig.subplots(1, len(objectives), squeeze=False)[0]
    for ax, name in zip(axes, objectives, strict=True):
        column = f"loss_{name}"
        if column not in frame:
            raise ValueError(f"history has no {column!r}")
        colour = OBJECTIVE_COLOURS.get(name, "0.2")
        ax.plot(frame["step"], frame[column], color=colour, alpha=0.25, lw=0.6)
        smooth = frame[column].rolling(window, center=True, min_periods=1).median()
        ax.plot(frame["step"], smooth, color=colour, lw=1.8)
        ax.set_title(f"{name} loss")
        ax.set_xlabel("training step (batches)")
        ax.set_ylabel("loss per labelled position (nats)" if ax is axes[0] else "")
    fig.tight_layout()
    return fig


def config_comparison(config: Mapping[str, Any], reference: Mapping[str, Any]) -> pd.DataFrame:
    """Side by side: the profile's training settings and MultiTRON's, for every reference key.

    Returns a table indexed by setting with columns ``this profile``, ``MultiTRON`` and
    ``same`` (True where the values agree).
    """
    rows = []
    for key, ref in reference.items():
        mine = config.get(key)
        same = _normalise(mine) == _normalise(ref)
        rows.append({"setting": key, "this profile": _show(mine), "MultiTRON": _show(ref),
                     "same": same})  # fmt: skip
    return pd.DataFrame(rows).set_index("setting")


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_normalise(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
