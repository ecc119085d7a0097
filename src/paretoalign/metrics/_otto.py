"""OTTO's Kaggle score: weighted recall@20 of clicks, carts and orders.

As the OTTO data set's own ``evaluate.py`` (``otto-de/recsys-dataset``) defines it; the
book's real-data page shows how to run it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.metrics import _kernels as K
from paretoalign.metrics._evaluate import (
    SEGMENT_ROWS,
    UndefinedMetricWarning,
    _check_array,
    _check_k,
    _numba_threads,
)

__all__ = ["OTTO_WEIGHTS", "otto_weighted_recall", "truth_to_csr"]

#: The competition's weights per event type.
OTTO_WEIGHTS: dict[str, float] = {"clicks": 0.10, "carts": 0.30, "orders": 0.60}


def truth_to_csr(sets: Iterable[Iterable[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per-session ground-truth item collections -> CSR ``(ptr int64[S+1], ids int32[nnz])``.

    An empty collection means the session has no label of that type.
    """
    lists = [list(s) for s in sets]
    ptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in lists], out=ptr[1:])
    ids = np.fromiter((i for x in lists for i in x), dtype=np.int64, count=int(ptr[-1]))
    if len(ids) and (ids.min() < 1 or ids.max() > np.iinfo(np.int32).max):
        raise ValueError("ground-truth item ids must be in 1..2**31-1")
    return ptr, ids.astype(np.int32)


def _check_predictions(pred: Any, name: str, k: int, n_sessions: int | None) -> np.ndarray:
    pred = _check_array(pred, name, np.int32, 2, n_sessions)
    if pred.shape[1] < k:
        raise ValueError(f"{name} has {pred.shape[1]} columns but k={k}")
    bad = (pred != -1) & (pred < 1)
    if bad.any():
        row = int(np.argmax(bad.any(axis=1)))
        raise ValueError(f"{name}[{row}] = {pred[row].tolist()}: ids must be >= 1 or -1 (no item)")
    hole = (pred[:, :-1] == -1) & (pred[:, 1:] != -1)
    if hole.any():
        row = int(np.argmax(hole.any(axis=1)))
        raise ValueError(f"{name}[{row}] has an item after -1: -1 may only fill trailing slots")
    return pred


def _check_truth(truth: Any, kind: str, n_sessions: int) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(truth, tuple | list) and len(truth) == 2):
        raise TypeError(f"ground_truth[{kind!r}] must be a (ptr, ids) pair (see truth_to_csr)")
    ptr = _check_array(truth[0], f"ground_truth[{kind!r}] ptr", np.int64, 1, n_sessions + 1)
    ids = _check_array(truth[1], f"ground_truth[{kind!r}] ids", np.int32, 1)
    if ptr[0] != 0 or ptr[-1] != len(ids) or np.any(np.diff(ptr) < 0):
        raise ValueError(
            f"ground_truth[{kind!r}] ptr must start at 0, not decrease and end at len(ids)"
        )
    if len(ids) and ids.min() < 1:
        raise ValueError(f"ground_truth[{kind!r}] ids must be item ids >= 1")
    return ptr, ids


def otto_weighted_recall(
    predictions: np.ndarray | Mapping[str, np.ndarray],
    ground_truth: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    k: int = 20,
    weights: Mapping[str, float] | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    r"""The OTTO Kaggle score from per-session prediction lists and ground-truth sets.

    .. math::

        R_\tau = \frac{\sum_s |\,\mathrm{set}(\mathrm{pred}_{s,\tau}[{:}k]) \cap GT_{s,\tau}|}
                      {\sum_s \min(k, |GT_{s,\tau}|)}, \qquad
        \mathrm{score} = 0.10\,R_{clicks} + 0.30\,R_{carts} + 0.60\,R_{orders}.

    Sessions without a label of type :math:`\tau` add nothing to either sum; sessions
    without predictions (a row of ``-1``) count as misses. Ground truth is a set
    (repeated ids count once), so a session with more than ``k`` true items scores 1
    when ``k`` of them are predicted.

    Parameters
    ----------
    predictions : ndarray(int32, shape=(S, K)) or dict type -> such an array
        Best first, ``-1`` = no item (trailing only); one array serves every type.
    ground_truth : dict type -> (ptr int64[S + 1], ids int32[nnz])
        CSR per event type (``clicks``, ``carts``, ``orders``); see :func:`truth_to_csr`.
    k : int, default 20
    weights : dict type -> float, default :data:`OTTO_WEIGHTS`

    Returns
    -------
    pandas.DataFrame
        ``metric``: ``otto_recall_<type>@k`` per type and ``otto_score@k``; ``value``.
        A type with no labelled session has recall NaN (with an
        :class:`UndefinedMetricWarning`), and then the score is NaN too.
    """
    k = _check_k(k)
    weights = dict(OTTO_WEIGHTS if weights is None else weights)
    missing = [kind for kind in weights if kind not in ground_truth]
    if missing:
        raise ValueError(f"ground_truth lacks the types {missing}")
    first = predictions if isinstance(predictions, np.ndarray) else None
    if first is None:
        if not isinstance(predictions, Mapping):
            raise TypeError("predictions must be an int32 array or a dict type -> array")
        absent = [kind for kind in weights if kind not in predictions]
        if absent:
            raise ValueError(f"predictions lacks the types {absent}")
    n_sessions = None
    recalls: dict[str, float] = {}
    with _numba_threads(threads):
        for kind in weights:
            raw = first if first is not None else predictions[kind]
            pred = _check_predictions(raw, f"predictions[{kind!r}]", k, n_sessions)
            n_sessions = pred.shape[0]
            ptr, ids = _check_truth(ground_truth[kind], kind, n_sessions)
            seg_ptr = np.append(np.arange(0, n_sessions, SEGMENT_ROWS, dtype=np.int64), n_sessions)
            inputs = K.OttoInputs(pred=pred, truth_ptr=ptr, truth_ids=ids, k=k)
            sums = K.run_otto(inputs, seg_ptr).sum(axis=0)
            recalls[kind] = float(sums[0] / sums[1]) if sums[1] > 0 else math.nan
    undefined = [kind for kind, v in recalls.items() if math.isnan(v)]
    if undefined:
        warnings.warn(
            f"no labelled session -> NaN recall for: {', '.join(undefined)}",
            UndefinedMetricWarning,
            stacklevel=2,
        )
    score = sum(weights[kind] * recalls[kind] for kind in weights)
    names = [f"otto_recall_{kind}@{k}" for kind in weights] + [f"otto_score@{k}"]
    values = [*recalls.values(), score]
    return pd.DataFrame({"metric": names, "value": np.array(values, dtype=np.float64)})
