"""Offline metrics of ranked lists: Numba kernels behind checked, documented entry points.

Three tiers per kernel: :mod:`paretoalign.metrics.reference` is the
readable NumPy specification, ``_kernels`` the Numba implementation (one-row helpers,
``prange`` batch loops, thread-count independent float64 sums) and the functions here
the public façade that validates its inputs.

* :func:`evaluate` — click recall (hit rate), MRR, NDCG/DCG, cart and order recall and
  density, recall x order density, coverage, popularity, novelty and diversity of top-k
  lists, as a tidy DataFrame; global ratios or MultiTRON's per-batch mean.
* :class:`MetricAccumulator` — the same from chunks (sums, so chunking changes nothing).
* :func:`evaluate_model` / :func:`evaluate_recommender` — stream a whole
  :class:`~paretoalign.data.SessionLog` through a model (or any ``recommend``-er),
  :func:`paretoalign.ranking.topk` and the metrics in bounded memory.
* :func:`otto_weighted_recall` — the OTTO Kaggle score (0.10/0.30/0.60).
* :func:`metrics_from_sums` / :func:`paired_bootstrap` — metrics from per-session sums
  (``evaluate_model(..., per_session=True)``) and the difference of two rankers on the
  same sessions with a session-bootstrap interval.
"""

from paretoalign.metrics._evaluate import (
    METRIC_NAMES,
    STANDARD_METRICS,
    SUM_COLUMNS,
    MetricAccumulator,
    UndefinedMetricWarning,
    evaluate,
    log_popularity,
)
from paretoalign.metrics._otto import OTTO_WEIGHTS, otto_weighted_recall
from paretoalign.metrics._paired import RATIO_SUMS, metrics_from_sums, paired_bootstrap
from paretoalign.metrics._streaming import EvalOptions, evaluate_model, evaluate_recommender

__all__ = [
    "METRIC_NAMES",
    "OTTO_WEIGHTS",
    "RATIO_SUMS",
    "STANDARD_METRICS",
    "SUM_COLUMNS",
    "EvalOptions",
    "MetricAccumulator",
    "UndefinedMetricWarning",
    "evaluate",
    "evaluate_model",
    "evaluate_recommender",
    "log_popularity",
    "metrics_from_sums",
    "otto_weighted_recall",
    "paired_bootstrap",
]
