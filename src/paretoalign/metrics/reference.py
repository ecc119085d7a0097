"""Readable NumPy references: the executable specification of every metric kernel.

Nothing here is fast or clever; each function says the formula of the book's method page
(§2.10, §4.4) in vectorised NumPy or a plain loop, so a reader can check it line by line
and the Numba kernels (:mod:`paretoalign.metrics._kernels`) can be tested against it.
The references do **not** validate their inputs (the public façade does); call them only
with inputs that :func:`paretoalign.metrics.evaluate` accepts.

Conventions shared with the kernels
-----------------------------------
* ``ids`` is ``int32[P, K]``: for each of ``P`` positions the recommended items, best
  first; ``-1`` means "no item" and may only fill trailing slots. Only the first ``k``
  columns count.
* The 0-based rank ``rho`` of the target is its first column in ``ids[:, :k]`` (``-1`` if
  absent); a hit is ``rho >= 0``.
* Only positions with ``mask`` true count (all positions when ``mask`` is None).
* Global mode: every metric is a ratio of sums over all counted positions; a zero
  denominator gives NaN. Batch mode (``batch_size``): the ratio is taken per consecutive
  block of ``batch_size`` rows (the trailing partial block is dropped) with the
  denominator clamped at :data:`BATCH_EPS`, and the per-batch values are averaged —
  MultiTRON's Lightning logging (book: method page, ``method-front-metrics``).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "BATCH_EPS",
    "otto_weighted_recall_reference",
    "reference_metrics",
    "target_ranks",
]

#: MultiTRON clamps the denominators of its per-batch ratios at this value.
BATCH_EPS = 5e-7


def target_ranks(ids: np.ndarray, targets: np.ndarray, k: int) -> np.ndarray:
    """0-based rank of each target among the first ``k`` ids (``-1`` when absent).

    Parameters
    ----------
    ids : ndarray(int32, shape=(P, K)), K >= k
    targets : ndarray(int32, shape=(P,))
    k : int

    Returns
    -------
    ndarray(int64, shape=(P,))
        ``min{j < k : ids[p, j] == targets[p]}``, or ``-1``.
    """
    equal = ids[:, :k] == targets[:, None]
    found = equal.any(axis=1)
    return np.where(found, equal.argmax(axis=1), -1).astype(np.int64)


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def _unit_rows(item_vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length in float64 (a zero row stays zero: cosine 0 with all)."""
    vectors = item_vectors.astype(np.float64)
    norms = np.sqrt((vectors * vectors).sum(axis=1))
    safe = np.where(norms > 0, norms, 1.0)
    return vectors / safe[:, None]


def _intra_list_diversity(items: np.ndarray, unit: np.ndarray) -> float:
    """Mean over unordered pairs ``i < j`` of ``1 - cos(v_i, v_j)`` (NaN if < 2 items)."""
    n = len(items)
    if n < 2:
        return math.nan
    u = unit[items]
    cos = u @ u.T
    upper = np.triu_indices(n, 1)
    return float(np.mean(1.0 - cos[upper]))


def _novelty_bits(item_log_popularity: np.ndarray) -> np.ndarray:
    """``-log2 p(i)`` with ``p(i) = c_i / sum_{j>=1} c_j`` and ``c_i = exp(l_i)``."""
    logs = item_log_popularity[1:].astype(np.float64)
    shift = logs.max()
    p = np.exp(logs - shift)
    p /= p.sum()
    bits = np.zeros(len(item_log_popularity), dtype=np.float64)
    bits[1:] = -np.log2(p)
    return bits


def _group_values(
    ranks: np.ndarray,
    ids: np.ndarray,
    k: int,
    cart: np.ndarray | None,
    order: np.ndarray | None,
    item_log_popularity: np.ndarray | None,
    unit: np.ndarray | None,
    ratio,
) -> dict[str, float]:
    """Every per-position metric over one group of counted positions."""
    n = len(ranks)
    hit = ranks >= 0
    hits = float(hit.sum())
    values = {
        "click_recall": ratio(hits, n),
        "mrr": ratio(float(np.sum(1.0 / (ranks[hit] + 1.0))), n),
        "dcg": ratio(float(np.sum(1.0 / np.log2(ranks[hit] + 2.0))), n),
    }
    # One relevant item: the ideal list puts it at rank 0, so IDCG = 1 / log2(2) = 1 and
    # NDCG equals DCG numerically (both are reported for comparison with other tools).
    ideal_dcg = 1.0 / np.log2(2.0)
    values["ndcg"] = ratio(float(np.sum(1.0 / np.log2(ranks[hit] + 2.0) / ideal_dcg)), n)
    if cart is not None:
        values["cart_recall"] = ratio(float(np.sum(hit & (cart == 1))), float(np.sum(cart)))
        values["cart_density"] = ratio(float(np.sum(hit & (cart == 1))), hits)
    if order is not None:
        order_hits = float(np.sum(hit & (order == 1)))
        values["order_recall"] = ratio(order_hits, float(np.sum(order)))
        values["order_density"] = ratio(order_hits, hits)
        values["recall_x_order_density"] = values["click_recall"] * values["order_density"]
    top = ids[:, :k]
    valid = top >= 1
    if item_log_popularity is not None:
        slots = float(valid.sum())
        logs = item_log_popularity.astype(np.float64)
        values["mean_log_popularity"] = ratio(float(logs[top[valid]].sum()), slots)
        bits = _novelty_bits(item_log_popularity)
        values["novelty"] = ratio(float(bits[top[valid]].sum()), slots)
    if unit is not None:
        per_list = [_intra_list_diversity(row[row >= 1], unit) for row in top]
        defined = [v for v in per_list if not math.isnan(v)]
        values["diversity"] = ratio(float(np.sum(defined)), float(len(defined)))
    return values


def reference_metrics(
    ids: np.ndarray,
    targets: np.ndarray,
    *,
    cart_label: np.ndarray | None = None,
    order_label: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    k: int = 20,
    n_items: int | None = None,
    item_log_popularity: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    batch_size: int | None = None,
) -> dict[str, float]:
    r"""Every metric of :func:`paretoalign.metrics.evaluate`, by its definition.

    With hit indicator :math:`h_p = [\rho_p \ge 0]`, mask :math:`m_p`, cart and order labels
    :math:`c_p, o_p` and, over a group :math:`G` of positions (all of them, or one batch):

    .. math::

        \mathrm{click\_recall} = \frac{\sum m h}{\sum m}, \quad
        \mathrm{mrr} = \frac{\sum m h/(\rho+1)}{\sum m}, \quad
        \mathrm{dcg} = \mathrm{ndcg} = \frac{\sum m h/\log_2(\rho+2)}{\sum m},

        \mathrm{cart\_recall} = \frac{\sum m c h}{\sum m c}, \quad
        \mathrm{cart\_density} = \frac{\sum m c h}{\sum m h}
        \quad (\text{orders alike}), \quad
        \mathrm{recall\_x\_order\_density} = \mathrm{click\_recall}\cdot\mathrm{order\_density}.

    List metrics over the recommended slots :math:`i` (ids ``>= 1`` among the first ``k``):
    ``mean_log_popularity`` = mean of ``item_log_popularity[i]``; ``novelty`` = mean of
    :math:`-\log_2 p(i)` with :math:`p(i) = e^{l_i}/\sum_{j \ge 1} e^{l_j}`; ``diversity`` =
    mean over lists with at least two items of the mean pairwise ``1 - cos``; ``coverage``
    = distinct recommended items / ``n_items`` (always over all counted positions).

    Returns
    -------
    dict[str, float]
        Metric base name (without ``@k``) -> value.
    """
    positions = np.arange(len(targets))
    if mask is not None:
        positions = positions[mask]
    unit = _unit_rows(item_vectors) if item_vectors is not None else None
    ranks = target_ranks(ids, targets, k)

    def group(rows: np.ndarray, ratio) -> dict[str, float]:
        return _group_values(
            ranks[rows],
            ids[rows],
            k,
            None if cart_label is None else cart_label[rows],
            None if order_label is None else order_label[rows],
            item_log_popularity,
            unit,
            ratio,
        )

    if batch_size is None:
        values = group(positions, _ratio)
    else:
        n_batches = len(targets) // batch_size
        per_batch = []
        for b in range(n_batches):
            rows = positions[(positions >= b * batch_size) & (positions < (b + 1) * batch_size)]
            per_batch.append(group(rows, lambda num, den: num / max(den, BATCH_EPS)))
        names = group(positions, _ratio).keys()
        values = {
            name: (float(np.mean([v[name] for v in per_batch])) if per_batch else math.nan)
            for name in names
        }
    if n_items is not None:
        if batch_size is not None:  # the dropped trailing batch is not evaluated
            positions = positions[positions < (len(targets) // batch_size) * batch_size]
        top = ids[positions, :k]
        distinct = np.unique(top[top >= 1])
        values["coverage"] = len(distinct) / n_items
    return values


def otto_weighted_recall_reference(
    predictions: dict[str, np.ndarray],
    ground_truth: dict[str, list[set[int]]],
    *,
    k: int = 20,
    weights: dict[str, float] | None = None,
) -> dict[str, float]:
    r"""OTTO's Kaggle score, written as its ``evaluate.py`` does, one session at a time.

    .. math::

        R_\tau = \frac{\sum_s |\mathrm{set}(\mathrm{pred}_{s,\tau}[:k]) \cap GT_{s,\tau}|}
                      {\sum_s \min(k, |GT_{s,\tau}|)}, \qquad
        \mathrm{score} = 0.10\,R_{clicks} + 0.30\,R_{carts} + 0.60\,R_{orders}.

    Parameters
    ----------
    predictions : dict type -> ndarray(int32, shape=(S, K))
        Rows best first, ``-1`` = no item.
    ground_truth : dict type -> list of S sets of item ids
        An empty set: the session has no label of that type (it adds nothing).

    Returns
    -------
    dict with ``recall_<type>`` per type and ``score``.
    """
    weights = weights or {"clicks": 0.10, "carts": 0.30, "orders": 0.60}
    out: dict[str, float] = {}
    for kind, truth_sets in ground_truth.items():
        hits = 0
        denominator = 0
        for s, truth in enumerate(truth_sets):
            if not truth:
                continue
            predicted = {int(i) for i in predictions[kind][s, :k] if i >= 1}
            hits += len(predicted & truth)
            denominator += min(k, len(truth))
        out[f"recall_{kind}"] = _ratio(hits, denominator)
    out["score"] = sum(weights[kind] * out[f"recall_{kind}"] for kind in weights)
    return out
