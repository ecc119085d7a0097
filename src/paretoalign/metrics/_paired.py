"""Metrics from per-session sums, and a paired bootstrap of two rankers on the same sessions.

Every ratio metric of :func:`paretoalign.metrics.evaluate` except the list metrics is a
ratio of two sums over positions, ``M = sum_s num_s / sum_s den_s`` (click recall
``hits / n_pos``, order recall ``order_hits / order_n``, order density ``order_hits /
hits``, ...). With the sums of every session (``evaluate_model(..., per_session=True)``)
two rankers evaluated on the *same* sessions can be compared by resampling sessions:
the difference of their metrics is recomputed on each resample, which keeps the pairing
(a session that is easy for one ranker is easy for the other) and the clustering of
positions within a session. The rankers' difference is then judged against its own
sampling error rather than against the much larger error of either metric alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.metrics._evaluate import SUM_COLUMNS

__all__ = ["RATIO_SUMS", "metrics_from_sums", "paired_bootstrap"]

#: metric base name -> (numerator column, denominator column) of the per-session sums.
RATIO_SUMS: dict[str, tuple[str, str]] = {
    "click_recall": ("hits", "n_pos"),
    "mrr": ("recip_rank", "n_pos"),
    "ndcg": ("dcg", "n_pos"),
    "dcg": ("dcg", "n_pos"),
    "cart_recall": ("cart_hits", "cart_n"),
    "order_recall": ("order_hits", "order_n"),
    "cart_density": ("cart_hits", "hits"),
    "order_density": ("order_hits", "hits"),
    # click recall x order density = (hits / n_pos)(order_hits / hits) = order_hits / n_pos
    "recall_x_order_density": ("order_hits", "n_pos"),
}
#: resamples drawn per matrix product: at most 128, and at most this many weights at once
#: (the int64 weights and their float64 copy then take <= 128 MB, even for OTTO's 1.6M
#: test sessions)
_CHUNK = 128
_CHUNK_WEIGHTS = 8_000_000


def _base(metric: str) -> str:
    base = str(metric).partition("@")[0]
    if base not in RATIO_SUMS:
        raise ValueError(
            f"metric {metric!r} is not a ratio of per-session sums; known: {', '.join(RATIO_SUMS)}"
        )
    return base


def _check_sums(frame: Any, name: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame of per-session sums, got {type(frame)}")
    missing = [c for c in SUM_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the sum columns {missing}")
    values = frame[list(SUM_COLUMNS)].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"{name} has negative or non-finite sums")
    return frame


def metrics_from_sums(sums: pd.DataFrame, metrics: Sequence[str] | None = None) -> dict[str, float]:
    """Global metric values from per-session (or per-batch) sums.

    ``M = sum(num) / sum(den)`` over all rows (NaN where the denominator is 0), equal to
    the global ratios of :func:`paretoalign.metrics.evaluate` on the same positions.

    Parameters
    ----------
    sums : DataFrame
        Columns :data:`paretoalign.metrics.SUM_COLUMNS`, one row per session.
    metrics : sequence of str, optional
        Base or ``@k`` names from :data:`RATIO_SUMS` (default: all of them). Output keys
        are the names as given.
    """
    sums = _check_sums(sums, "sums")
    totals = sums[list(SUM_COLUMNS)].sum(axis=0)
    names = list(RATIO_SUMS) if metrics is None else [str(m) for m in metrics]
    out = {}
    for name in names:
        num, den = RATIO_SUMS[_base(name)]
        out[name] = float(totals[num] / totals[den]) if totals[den] > 0 else math.nan
    return out


def paired_bootstrap(
    a: pd.DataFrame,
    b: pd.DataFrame,
    metric: str,
    *,
    seed: int | np.random.Generator,
    n_resamples: int = 2000,
    level: float = 0.95,
) -> dict[str, Any]:
    r"""Difference ``M(a) - M(b)`` of a ratio metric of two rankers on the same sessions.

    Sessions are resampled with replacement (``n`` draws from the ``n`` sessions,
    weights ``w ~ Multinomial(n, 1/n)``); on each resample
    :math:`d^* = \frac{\sum_s w_s \mathrm{num}^a_s}{\sum_s w_s \mathrm{den}^a_s} -
    \frac{\sum_s w_s \mathrm{num}^b_s}{\sum_s w_s \mathrm{den}^b_s}`. The interval is the
    percentile interval of the :math:`d^*` at ``level``; ``se`` their standard deviation;
    ``p_value`` the two-sided bootstrap p, :math:`\min(1, 2 (c + 1) / (R + 1))` with
    :math:`c = \min(\#\{d^* \le 0\}, \#\{d^* \ge 0\})` over the :math:`R` valid
    resamples (the +1 keeps a Monte-Carlo p from being 0: the smallest it reports is
    ``2 / (R + 1)``). Resamples whose denominator is 0 are dropped (``n_valid`` counts
    the rest). Cost: ``O(n_resamples * n)`` time, at most about 128 MB of weights at a
    time.

    Parameters
    ----------
    a, b : DataFrame
        Per-session sums (columns :data:`paretoalign.metrics.SUM_COLUMNS`) of the two
        rankers, row ``s`` of both describing the same session (same length).
    metric : str
        A key of :data:`RATIO_SUMS`, optionally with ``@k``.
    seed : int or numpy.random.Generator
        The resampling's randomness (same seed, same result).
    n_resamples : int
        Bootstrap resamples (>= 100).
    level : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    dict
        ``metric``, ``value_a``, ``value_b`` (the two metric values), ``difference``, ``ci_low``,
        ``ci_high``, ``level``, ``se``, ``p_value``, ``n_sessions``, ``n_resamples``,
        ``n_valid``.

    Raises
    ------
    ValueError
        Unknown metric, unequal lengths, no sessions, a zero denominator on the full data,
        bad ``n_resamples`` or ``level``.
    """
    base = _base(metric)
    a = _check_sums(a, "a")
    b = _check_sums(b, "b")
    if len(a) != len(b):
        raise ValueError(f"a and b must describe the same sessions: {len(a)} != {len(b)} rows")
    n = len(a)
    if n == 0:
        raise ValueError("no sessions to compare")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 100:
        raise ValueError(f"n_resamples must be an int >= 100, got {n_resamples!r}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    num, den = RATIO_SUMS[base]
    # columns: num_a, den_a, num_b, den_b
    x = np.stack(
        [frame[col].to_numpy(np.float64) for frame in (a, b) for col in (num, den)],
        axis=1,
    )
    total = x.sum(axis=0)
    if total[1] <= 0 or total[3] <= 0:
        raise ValueError(f"{base}: zero denominator ({den}) on the full data")
    value_a, value_b = total[0] / total[1], total[2] / total[3]
    draws = []
    probs = np.full(n, 1.0 / n)
    chunk = max(1, min(_CHUNK, _CHUNK_WEIGHTS // n))
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        weights = rng.multinomial(n, probs, size=size).astype(np.float64)
        s = weights @ x
        with np.errstate(divide="ignore", invalid="ignore"):
            draws.append(s[:, 0] / s[:, 1] - s[:, 2] / s[:, 3])
    d = np.concatenate(draws)
    d = d[np.isfinite(d)]
    tail = (1.0 - float(level)) / 2.0
    low, high = np.quantile(d, [tail, 1.0 - tail]) if len(d) else (math.nan, math.nan)
    crossing = min(int(np.sum(d <= 0.0)), int(np.sum(d >= 0.0)))
    p = min(1.0, 2.0 * (crossing + 1) / (len(d) + 1)) if len(d) else math.nan
    return {
        "metric": str(metric),
        "value_a": float(value_a),
        "value_b": float(value_b),
        "difference": float(value_a - value_b),
        "ci_low": float(low),
        "ci_high": float(high),
        "level": float(level),
        "se": float(np.std(d, ddof=1)) if len(d) > 1 else math.nan,
        "p_value": float(p),
        "n_sessions": int(n),
        "n_resamples": int(n_resamples),
        "n_valid": len(d),
    }
