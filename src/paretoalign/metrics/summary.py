"""The training summary: the trained model at points of the simplex against the baselines.

``paretoalign train`` writes it as ``results/<profile>/train/summary.json``::

    {"model": {"<pi>": {"pi": [...], "click_recall@20": ..., "cart_recall@20": ...,
                        "order_recall@20": ..., "order_density@20": ...}},
     "baselines": {"popularity": {...}, "covisitation": {...}, "logging": {...}},
     "comparisons": [{"a": "model 1,0,0", "b": "covisitation",
                      "metric": "click_recall@20", "difference": ...,
                      "ci_low": ..., "ci_high": ..., "p_value": ..., ...}, ...],
     "eval_sessions": ...}

(the command adds its timings, the objectives and the profile). Every ranker is
evaluated once per test session (:func:`paretoalign.metrics.evaluate_model` /
:func:`~paretoalign.metrics.evaluate_recommender` with ``per_session=True``); the
comparisons are paired session-bootstrap intervals
(:func:`paretoalign.metrics.paired_bootstrap`; the book's method page explains the pairing).

The cut-off ``k`` is :data:`DEFAULT_K`, the same default as the front's ``[front] k``.
The summary does not read ``[front]``: it is written by the training step, which must
not rerun when only the front's table changes.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from paretoalign.metrics._paired import metrics_from_sums, paired_bootstrap
from paretoalign.metrics._streaming import evaluate_model, evaluate_recommender

__all__ = [
    "COMPARISON_RESAMPLES",
    "DEFAULT_K",
    "EDGE_WEIGHTS",
    "SUMMARY_METRICS",
    "evaluate_summary",
    "simplex_points",
    "summary_comparisons",
    "summary_metrics",
]

#: The cut-off of the summary's metrics (and the default of the front's ``[front] k``).
DEFAULT_K = 20


def summary_metrics(k: int = DEFAULT_K) -> tuple[str, ...]:
    """The summary's metrics at cut-off ``k``, in display order."""
    return (f"click_recall@{k}", f"cart_recall@{k}", f"order_recall@{k}", f"order_density@{k}")


#: Metrics of ``summary.json`` in display order.
SUMMARY_METRICS = summary_metrics(DEFAULT_K)

#: Weights of the target objective on the clicks -> orders edge of the summary.
EDGE_WEIGHTS = (0.25, 0.5, 0.75)


def simplex_points(objectives: tuple[str, ...]) -> dict[str, list[float]]:
    """Corners of the preference simplex, its centre and three points on the clicks ->
    orders edge (``(1-w) e_clicks + w e_orders`` for ``w`` = 0.25, 0.5, 0.75; the edge to
    the last objective when there is no ``orders``), keyed ``"1,0,0"``, ``"0.75,0,0.25"``
    etc. The edge shows how the metrics move as π walks from clicks towards orders."""
    k = len(objectives)
    points = [[1.0 if i == j else 0.0 for j in range(k)] for i in range(k)]
    points.append([1.0 / k] * k)
    first = objectives.index("clicks")
    last = objectives.index("orders") if "orders" in objectives else k - 1
    for w in EDGE_WEIGHTS:
        point = [0.0] * k
        point[first], point[last] = 1.0 - w, w
        points.append(point)
    return {",".join(f"{p:.3g}" for p in point): point for point in points}


def evaluate_summary(
    model: Any,
    train_log: Any,
    test_log: Any,
    *,
    seed: int,
    max_sessions: int | None = None,
    k: int = DEFAULT_K,
    baselines: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metrics of the model at the simplex points and of the baselines on ``test_log``,
    and the paired comparisons of :func:`summary_comparisons`.

    Every ranker is evaluated once, per session (``per_session=True``); its metrics are the
    global ratios of the summed statistics, the same values ``evaluate_model`` returns.
    ``max_sessions`` keeps the first that many test sessions (None: all); ``seed`` seeds
    the bootstrap of the comparisons. The baselines are popularity and co-visitation
    (fitted on ``train_log``) plus ``baselines``, further fitted recommenders by name (for
    example the shop's logging policy, ``"logging"``).
    """
    from paretoalign.model import CovisitationRecommender, PopularityRecommender

    metrics = summary_metrics(k)
    if max_sessions is not None and test_log.n_sessions > max_sessions:
        test_log = test_log[:max_sessions]
    doc: dict[str, Any] = {"model": {}, "baselines": {}, "eval_sessions": test_log.n_sessions}
    sums: dict[str, Any] = {}
    for key, pi in simplex_points(model.objectives).items():
        sums[key] = evaluate_model(
            model,
            test_log,
            np.asarray(pi, dtype=np.float32),
            k=k,
            max_len=model.max_len,
            progress=False,
            per_session=True,
        )
        doc["model"][key] = {"pi": pi, **metrics_from_sums(sums[key], metrics)}
    recommenders = {
        "popularity": PopularityRecommender().fit(train_log),
        "covisitation": CovisitationRecommender().fit(train_log),
        **(baselines or {}),
    }
    for name, rec in recommenders.items():
        sums[name] = evaluate_recommender(
            rec, test_log, k=k, max_len=model.max_len, progress=False, per_session=True
        )
        doc["baselines"][name] = metrics_from_sums(sums[name], metrics)
    doc["comparisons"] = summary_comparisons(sums, model.objectives, seed=seed, k=k)
    return doc


#: Bootstrap resamples of each paired comparison in ``summary.json``.
COMPARISON_RESAMPLES = 2000


def summary_comparisons(
    sums: dict[str, Any], objectives: tuple[str, ...], *, seed: int, k: int = DEFAULT_K
) -> list[dict[str, Any]]:
    """Paired session-bootstrap comparisons of the summary's rankers on the same sessions.

    ``sums`` maps the summary's point keys (``"1,0,0"``) and baseline names to per-session
    sums. Compared (:func:`paretoalign.metrics.paired_bootstrap`, 2,000 resamples, 95 %):

    * click recall@k of the model at the clicks corner against each baseline
      (co-visitation, the logging policy, popularity: those present);
    * order recall@k and order density@k of the model at the orders corner (the last
      objective without ``orders``) against co-visitation and the logging policy;
    * each step along the clicks -> orders edge, from the clicks corner through the edge
      points to the orders corner: click recall@k, order recall@k and order density@k of
      the next point against the previous one (the trade the front is made of).

    Each entry is ``{"a": ..., "b": ..., **paired_bootstrap(...)}``; ``a`` and ``b`` name
    a summary point (``"model 0.5,0,0.5"``) or a baseline. One generator seeded with
    ``seed`` draws every comparison in this order.
    """
    rng = np.random.default_rng(seed)
    points = simplex_points(objectives)
    first = objectives.index("clicks")
    last = objectives.index("orders") if "orders" in objectives else len(objectives) - 1
    corner = next(key for key, pi in points.items() if pi[first] == 1.0)
    label = {key: f"model {key}" for key in points}
    out = []

    def compare(a: str, b: str, metric: str) -> None:
        result = paired_bootstrap(
            sums[a], sums[b], metric, seed=rng, n_resamples=COMPARISON_RESAMPLES
        )
        out.append({"a": label.get(a, a), "b": label.get(b, b), **result})

    for baseline in ("covisitation", "logging", "popularity"):
        if baseline in sums:
            compare(corner, baseline, f"click_recall@{k}")
    edge = [
        key
        for _, key in sorted(
            (pi[last], key)
            for key, pi in points.items()
            if all(p == 0 for i, p in enumerate(pi) if i not in (first, last))
        )
    ]
    for baseline in ("covisitation", "logging"):
        if baseline in sums:
            for metric in (f"order_recall@{k}", f"order_density@{k}"):
                compare(edge[-1], baseline, metric)
    for metric in (f"click_recall@{k}", f"order_recall@{k}", f"order_density@{k}"):
        for previous, key in itertools.pairwise(edge):
            compare(key, previous, metric)
    return out
