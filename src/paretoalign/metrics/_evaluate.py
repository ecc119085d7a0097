r"""The checked façade: :func:`evaluate` and the streaming :class:`MetricAccumulator`.

Both validate dtypes and shapes here and every value inside the one fused Numba pass
(:func:`paretoalign.metrics._kernels.standard_sums`), so a bad input raises a clear
``TypeError``/``ValueError`` and costs no extra pass over the data. They accumulate
*sufficient statistics* (sums), never per-chunk ratios, so a metric computed over many
chunks equals the metric over their concatenation.

The metrics
-----------
With the 0-based rank :math:`\rho_p` of the target among the first ``k`` ids (first
occurrence), hit :math:`h_p = [\rho_p \text{ exists}]`, mask :math:`m_p` and labels
:math:`c_p, o_p`, sums over the positions of a group (all positions, or one batch):

.. math::

    \text{click\_recall} = \frac{\sum m h}{\sum m}, \qquad
    \text{mrr} = \frac{\sum m h \,/(\rho + 1)}{\sum m}, \qquad
    \text{dcg} = \frac{\sum m h \,/\log_2(\rho + 2)}{\sum m}

    \text{cart\_recall} = \frac{\sum m c h}{\sum m c}, \qquad
    \text{cart\_density} = \frac{\sum m c h}{\sum m h}, \qquad
    \text{(orders alike)}, \qquad
    \text{recall\_x\_order\_density} = \text{click\_recall}\times\text{order\_density}.

``ndcg`` equals ``dcg``: with one relevant item the ideal DCG is
:math:`1/\log_2 2 = 1` (both names are kept to compare with tools that report
either). Over the recommended slots :math:`i` (ids ``>= 1`` among the first ``k``) of
counted positions: ``mean_log_popularity`` = mean :math:`l_i`; ``novelty`` = mean
:math:`-\log_2 p(i)` with :math:`p(i) = e^{l_i} / \sum_{j=1}^{N} e^{l_j}`;
``diversity`` = mean over lists with at least two items of the mean over item pairs
of :math:`1 - \cos(v_i, v_j)`; ``coverage`` = distinct recommended items / ``N``.

**Global mode** (default): each metric is one ratio of sums over all counted
positions (long sessions weigh more, as in MultiTRON's loss normalisation). A zero
denominator (no counted position, no hit for the densities, no labelled position
for cart/order recall) gives **NaN** and one :class:`UndefinedMetricWarning`.

**Batch mode** (``batch_size=B``), MultiTRON's Lightning logging (the book's method
page, section *MultiTRON*): rows are cut into consecutive batches of ``B`` *rows*
(masked-out rows included — pass the flattened ``[S, L]`` arrays with their mask and
``B = 256 * L`` to reproduce its batches of 256 sessions), the trailing partial
batch is dropped, each ratio is taken per batch with its denominator clamped at
``5e-7`` (so an empty batch contributes 0), the product ``recall_x_order_density``
is taken per batch, and the per-batch values are averaged with equal weights.
``coverage`` is always a single ratio over the positions of the kept batches. No
complete batch gives NaN and a warning.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numba
import numpy as np
import pandas as pd

from paretoalign.metrics import _kernels as K
from paretoalign.metrics.reference import BATCH_EPS

__all__ = [
    "METRIC_NAMES",
    "STANDARD_METRICS",
    "SUM_COLUMNS",
    "MetricAccumulator",
    "UndefinedMetricWarning",
    "evaluate",
    "log_popularity",
]

#: Every metric :func:`evaluate` knows, in the order of its output.
METRIC_NAMES: tuple[str, ...] = (
    "click_recall",
    "mrr",
    "ndcg",
    "dcg",
    "cart_recall",
    "order_recall",
    "cart_density",
    "order_density",
    "recall_x_order_density",
    "coverage",
    "mean_log_popularity",
    "novelty",
    "diversity",
)
#: The per-position metrics computed together in one fused pass.
STANDARD_METRICS: tuple[str, ...] = METRIC_NAMES[:9]
_LIST_METRICS = frozenset({"mean_log_popularity", "novelty", "diversity"})
#: metric -> the argument it needs (metrics absent here need only ids and targets).
_NEEDS: dict[str, str] = {
    "cart_recall": "cart_label",
    "cart_density": "cart_label",
    "order_recall": "order_label",
    "order_density": "order_label",
    "recall_x_order_density": "order_label",
    "coverage": "n_items",
    "mean_log_popularity": "item_log_popularity",
    "novelty": "item_log_popularity",
    "diversity": "item_vectors",
}
#: Rows per segment in global mode: each segment is summed sequentially by one thread,
#: and the segment sums are combined in a fixed order (thread-count independent).
SEGMENT_ROWS = 4096
_INT32_MAX = np.iinfo(np.int32).max
_LN2 = math.log(2.0)


class UndefinedMetricWarning(RuntimeWarning):
    """A metric's denominator is zero (no counted positions, no hits, no labelled ...)."""


# ================================================================ small helpers
@contextmanager
def _numba_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` Numba threads, restoring the previous setting afterwards."""
    if threads is None:
        yield
        return
    if (
        not isinstance(threads, int | np.integer)
        or not 1 <= threads <= numba.config.NUMBA_NUM_THREADS
    ):
        raise ValueError(
            f"threads must be an int in 1..{numba.config.NUMBA_NUM_THREADS}, got {threads!r}"
        )
    previous = numba.get_num_threads()
    numba.set_num_threads(int(threads))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _check_array(
    value: Any, name: str, dtype: type, ndim: int, length: int | None = None
) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array of dtype {np.dtype(dtype)}, got {type(value).__name__}"
        )
    if value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, got {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {value.shape}")
    if length is not None and value.shape[0] != length:
        raise ValueError(f"{name} has {value.shape[0]} rows, expected {length} (one per position)")
    return np.ascontiguousarray(value)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return int(k)


def log_popularity(counts: Any, smoothing: float = 1.0) -> np.ndarray:
    r"""Item log-popularity ``l_i = ln(counts_i + smoothing)`` for :func:`evaluate`.

    Parameters
    ----------
    counts : array_like(int or float, shape=(N + 1,))
        Non-negative popularity counts per item id (row 0, the padding id, is ignored by
        the metrics), e.g. ``np.bincount(train.aid, minlength=N + 1)``.
    smoothing : float, default 1.0
        Added to every count (add-one smoothing keeps never-seen items finite); must make
        every count positive.

    Returns
    -------
    ndarray(float64, shape=(N + 1,))
        With it, ``novelty`` uses :math:`p(i) = (c_i + s) / \sum_{j \ge 1} (c_j + s)`.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) < 2:
        raise ValueError("counts must be 1-D with one entry per item id 0..N (N >= 1)")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("counts must be finite and non-negative")
    shifted = counts + smoothing
    if np.any(shifted[1:] <= 0):
        raise ValueError("counts + smoothing must be positive for every item 1..N")
    out = np.zeros_like(shifted)
    out[1:] = np.log(shifted[1:])
    return out


def _resolve_metrics(metrics: Sequence[str] | None, k: int, available: set[str]) -> list[str]:
    """Requested metric base names, in output order; default: all whose inputs exist."""
    if metrics is None:
        return [m for m in METRIC_NAMES if _NEEDS.get(m, "ids") in available]
    if isinstance(metrics, str):
        metrics = [metrics]
    chosen = set()
    for name in metrics:
        base, _, cut = str(name).partition("@")
        if base not in METRIC_NAMES:
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
        if cut and cut != str(k):
            raise ValueError(f"metric {name!r} asks for @{cut} but k={k}")
        need = _NEEDS.get(base, "ids")
        if need not in available:
            raise ValueError(f"metric {base!r} needs {need}, which was not given")
        chosen.add(base)
    return [m for m in METRIC_NAMES if m in chosen]


# ================================================================ the accumulator
class MetricAccumulator:
    r"""Sufficient statistics of the offline metrics, added chunk by chunk.

    ``add`` validates a chunk and folds its sums in; ``result`` turns the sums into the
    metric table. Feeding the rows of one array in any chunking gives the same metrics
    as feeding it whole (up to float64 summation order, ~1e-16 relative).

    Parameters
    ----------
    k : int
        Cut-off; every chunk's ids need at least ``k`` columns (only the first ``k``
        count). Metric names carry it: ``click_recall@{k}``.
    has_cart, has_order : bool
        Whether every chunk brings cart / order labels.
    n_items : int, optional
        Catalogue size ``N``; ids and targets must lie in ``1..N``; enables coverage.
    item_log_popularity : ndarray(float, shape=(N + 1,)), optional
        ``l_i = ln c_i`` for a positive popularity weight ``c_i`` (see
        :func:`log_popularity`); enables ``mean_log_popularity`` and ``novelty``.
    item_vectors : ndarray(float32 or float64, shape=(N + 1, d)), optional
        Item vectors for ``diversity`` (cosine; a zero vector has cosine 0 with all).
    metrics : sequence of str, optional
        Base names (``"mrr"``) or full names (``"mrr@20"``); default: every metric whose
        inputs are given.
    batch_mode : bool
        MultiTRON's per-batch mean (see :func:`evaluate`); ``add`` then takes ``batches``.
    """

    def __init__(
        self,
        *,
        k: int = 20,
        has_cart: bool = False,
        has_order: bool = False,
        n_items: int | None = None,
        item_log_popularity: Any = None,
        item_vectors: Any = None,
        metrics: Sequence[str] | None = None,
        batch_mode: bool = False,
    ) -> None:
        self.k = _check_k(k)
        self.has_cart = bool(has_cart)
        self.has_order = bool(has_order)
        self.batch_mode = bool(batch_mode)
        self.n_items = self._infer_n_items(n_items, item_log_popularity, item_vectors)
        self._log_pop, self._lse = self._check_log_popularity(item_log_popularity)
        self._vectors, self._inv_norm = self._check_vectors(item_vectors)
        available = {"ids"}
        for flag, name in (
            (self.has_cart, "cart_label"),
            (self.has_order, "order_label"),
            (self.n_items is not None, "n_items"),
            (self._log_pop is not None, "item_log_popularity"),
            (self._vectors is not None, "item_vectors"),
        ):
            if flag:
                available.add(name)
        self.metrics = _resolve_metrics(metrics, self.k, available)
        self._need_pop = any(m in ("mean_log_popularity", "novelty") for m in self.metrics)
        self._need_div = "diversity" in self.metrics
        self._need_cov = "coverage" in self.metrics
        self._need_list = self._need_pop or self._need_div or self._need_cov
        self._recip = 1.0 / np.arange(1, self.k + 1, dtype=np.float64)
        self._discount = 1.0 / np.log2(np.arange(self.k, dtype=np.float64) + 2.0)
        self._standard_total = np.zeros(K.N_STANDARD)
        self._list_total = np.zeros(K.N_LIST)
        self._standard_batches: list[np.ndarray] = []
        self._list_batches: list[np.ndarray] = []
        self._seen = np.zeros((self.n_items or 0) + 1 if self._need_cov else 1, dtype=np.uint8)
        self.n_rows = 0

    # ------------------------------------------------------------------ input checks
    @staticmethod
    def _infer_n_items(n_items: Any, log_pop: Any, vectors: Any) -> int | None:
        sizes = {}
        if n_items is not None:
            if isinstance(n_items, bool) or not isinstance(n_items, int | np.integer):
                raise TypeError(f"n_items must be an int, got {type(n_items).__name__}")
            if not 1 <= n_items <= _INT32_MAX:
                raise ValueError(f"n_items must be in 1..{_INT32_MAX}, got {n_items}")
            sizes["n_items"] = int(n_items)
        for name, arr in (("item_log_popularity", log_pop), ("item_vectors", vectors)):
            if arr is not None:
                if not isinstance(arr, np.ndarray):
                    raise TypeError(f"{name} must be a numpy array")
                if arr.ndim < 1 or arr.shape[0] < 2:
                    raise ValueError(f"{name} needs one row per item id 0..N (N >= 1)")
                sizes[name] = arr.shape[0] - 1
        if len(set(sizes.values())) > 1:
            raise ValueError(f"inconsistent catalogue sizes N: {sizes} (arrays have N + 1 rows)")
        return next(iter(sizes.values())) if sizes else None

    @staticmethod
    def _check_log_popularity(log_pop: Any) -> tuple[np.ndarray | None, float]:
        if log_pop is None:
            return None, math.nan
        if log_pop.dtype.kind != "f" or log_pop.ndim != 1:
            raise TypeError(
                f"item_log_popularity must be a 1-D float array, got {log_pop.dtype} {log_pop.shape}"
            )
        values = np.ascontiguousarray(log_pop, dtype=np.float64)
        if not np.all(np.isfinite(values[1:])):
            raise ValueError("item_log_popularity must be finite for every item 1..N")
        top = values[1:].max()
        lse = float(top + np.log(np.sum(np.exp(values[1:] - top))))
        return values, lse

    @staticmethod
    def _check_vectors(vectors: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
        if vectors is None:
            return None, None
        if vectors.dtype not in (np.float32, np.float64) or vectors.ndim != 2:
            raise TypeError(
                f"item_vectors must be 2-D float32/float64, got {vectors.dtype} {vectors.shape}"
            )
        if vectors.shape[1] < 1:
            raise ValueError("item_vectors needs at least one dimension")
        vectors = np.ascontiguousarray(vectors)
        if not np.all(np.isfinite(vectors)):
            raise ValueError("item_vectors must be finite")
        norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
        inv_norm = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        return vectors, inv_norm

    # ------------------------------------------------------------------ adding chunks
    def add(
        self,
        ids: np.ndarray,
        targets: np.ndarray,
        cart_label: np.ndarray | None = None,
        order_label: np.ndarray | None = None,
        mask: np.ndarray | None = None,
        *,
        batches: np.ndarray | None = None,
    ) -> MetricAccumulator:
        """Validate one chunk of positions and fold its sufficient statistics in.

        Parameters
        ----------
        ids : ndarray(int32, shape=(P, K)), K >= k
        targets : ndarray(int32, shape=(P,))
        cart_label, order_label : ndarray(int8, shape=(P,)), required iff ``has_*``
        mask : ndarray(bool, shape=(P,)), optional
        batches : ndarray(int64, shape=(B + 1,)), batch mode only
            Row offsets of the batches to keep (non-decreasing; an empty batch counts
            with all its ratios 0, as in MultiTRON's clamped denominators); rows outside
            ``[batches[0], batches[-1])`` are validated but not counted.
        """
        ids = _check_array(ids, "ids", np.int32, 2)
        n_rows = ids.shape[0]
        if ids.shape[1] < self.k:
            raise ValueError(f"ids has {ids.shape[1]} columns but k={self.k}: need at least k")
        targets = _check_array(targets, "targets", np.int32, 1, n_rows)
        empty_i8 = np.zeros(0, np.int8)
        cart = empty_i8
        order = empty_i8
        if self.has_cart:
            if cart_label is None:
                raise ValueError("cart_label is required (this accumulator computes cart metrics)")
            cart = _check_array(cart_label, "cart_label", np.int8, 1, n_rows)
        elif cart_label is not None:
            raise ValueError("cart_label given to an accumulator created with has_cart=False")
        if self.has_order:
            if order_label is None:
                raise ValueError(
                    "order_label is required (this accumulator computes order metrics)"
                )
            order = _check_array(order_label, "order_label", np.int8, 1, n_rows)
        elif order_label is not None:
            raise ValueError("order_label given to an accumulator created with has_order=False")
        has_mask = mask is not None
        mask_a = (
            _check_array(mask, "mask", np.bool_, 1, n_rows) if has_mask else np.zeros(0, np.bool_)
        )
        seg_ptr, keep = self._segments(n_rows, batches)
        n_items = self.n_items if self.n_items is not None else _INT32_MAX
        standard_inputs = K.StandardInputs(
            ids=ids,
            targets=targets,
            cart=cart,
            order=order,
            mask=mask_a,
            has_cart=self.has_cart,
            has_order=self.has_order,
            has_mask=has_mask,
            k=self.k,
            n_items=n_items,
            recip=self._recip,
            discount=self._discount,
        )
        standard, bad = K.run_standard(standard_inputs, seg_ptr)
        if np.any(bad[:, 0] >= 0):
            rows = bad[:, 0]
            first = int(np.argmin(np.where(rows >= 0, rows, np.iinfo(np.int64).max)))
            self._raise_bad(
                int(bad[first, 0]), int(bad[first, 1]), ids, targets, cart, order, mask_a
            )
        kept_standard = standard[keep]
        kept_list = np.zeros((len(kept_standard), K.N_LIST))
        if self._need_list and len(kept_standard):
            # the kept segments are contiguous: all of seg_ptr, or exactly the batches
            kept_ptr = np.asarray(batches, dtype=np.int64) if self.batch_mode else seg_ptr
            list_inputs = K.ListInputs(
                ids=ids,
                mask=mask_a,
                has_mask=has_mask,
                k=self.k,
                log_pop=self._log_pop if self._log_pop is not None else np.zeros(1),
                has_pop=self._need_pop,
                vectors=(
                    self._vectors if self._vectors is not None else np.zeros((1, 1), np.float32)
                ),
                inv_norm=self._inv_norm if self._inv_norm is not None else np.zeros(1),
                has_vec=self._need_div,
                seen=self._seen,
                has_cov=self._need_cov,
            )
            kept_list = K.run_list(list_inputs, kept_ptr)
        if self.batch_mode:
            self._standard_batches.append(kept_standard)
            self._list_batches.append(kept_list)
        else:
            self._standard_total += kept_standard.sum(axis=0)
            self._list_total += kept_list.sum(axis=0)
        self.n_rows += n_rows
        return self

    def _segments(self, n_rows: int, batches: Any) -> tuple[np.ndarray, np.ndarray]:
        """Kernel segments (row offsets) and which of them count."""
        if not self.batch_mode:
            if batches is not None:
                raise ValueError("batches is only for batch_mode accumulators")
            seg_ptr = np.append(np.arange(0, n_rows, SEGMENT_ROWS, dtype=np.int64), n_rows)
            if n_rows == 0:
                seg_ptr = np.zeros(1, np.int64)
            return seg_ptr, np.ones(len(seg_ptr) - 1, dtype=bool)
        if batches is None:
            raise ValueError("a batch_mode accumulator needs batches (row offsets) in add()")
        b = np.asarray(batches)
        if b.ndim != 1 or b.dtype.kind not in "iu":
            raise TypeError("batches must be a 1-D integer array of row offsets")
        b = b.astype(np.int64)
        if len(b) < 1 or b[0] < 0 or b[-1] > n_rows or np.any(np.diff(b) < 0):
            raise ValueError(f"batches must be non-decreasing offsets within 0..{n_rows}")
        seg = list(b)
        keep = [True] * (len(b) - 1)
        if b[0] > 0:
            seg.insert(0, 0)
            keep.insert(0, False)
        if b[-1] < n_rows:
            seg.append(n_rows)
            keep.append(False)
        return np.asarray(seg, dtype=np.int64), np.asarray(keep, dtype=bool)

    def _raise_bad(self, row, code, ids, targets, cart, order, mask) -> None:
        n_text = f"1..{self.n_items}" if self.n_items is not None else "1..2**31-1"
        if code == K.BAD_ID:
            values = ids[row]
            bad = values[(values != -1) & ((values < 1) | (values > (self.n_items or _INT32_MAX)))]
            raise ValueError(
                f"ids[{row}] contains {int(bad[0])}: ids must be item ids in {n_text} "
                "or -1 for 'no item' (item 0 is padding and never recommended)"
            )
        if code == K.BAD_PADDING:
            raise ValueError(
                f"ids[{row}] = {ids[row].tolist()} has an item after -1: -1 may only fill "
                "trailing slots"
            )
        if code == K.BAD_TARGET:
            where = "" if len(mask) == 0 or mask[row] else " (masked-out: 0 is also allowed)"
            raise ValueError(f"targets[{row}] = {int(targets[row])} is outside {n_text}{where}")
        if code == K.BAD_CART:
            raise ValueError(f"cart_label[{row}] = {int(cart[row])}: labels must be 0 or 1")
        if code == K.BAD_ORDER:
            raise ValueError(f"order_label[{row}] = {int(order[row])}: labels must be 0 or 1")
        raise AssertionError(f"unknown validation code {code} at row {row}")

    # ------------------------------------------------------------------ the result
    def values(self) -> dict[str, float]:
        """Metric base name -> value (NaN where undefined; see :func:`evaluate`)."""
        if self.batch_mode:
            standard = (
                np.concatenate(self._standard_batches)
                if self._standard_batches
                else np.zeros((0, K.N_STANDARD))
            )
            lists = (
                np.concatenate(self._list_batches)
                if self._list_batches
                else np.zeros((0, K.N_LIST))
            )
            per_batch = _ratios(
                standard, lists, self._lse, lambda n, d: n / np.maximum(d, BATCH_EPS)
            )
            values = {
                name: (float(np.mean(v)) if len(standard) else math.nan)
                for name, v in per_batch.items()
            }
        else:
            values = {
                name: float(v[0])
                for name, v in _ratios(
                    self._standard_total[None, :],
                    self._list_total[None, :],
                    self._lse,
                    _safe_ratio,
                ).items()
            }
        if self._need_cov:
            values["coverage"] = float(np.count_nonzero(self._seen[1:])) / self.n_items
        out = {name: values[name] for name in self.metrics}
        undefined = [name for name, v in out.items() if math.isnan(v)]
        if undefined:
            warnings.warn(
                f"undefined (zero denominator) -> NaN: {', '.join(undefined)} "
                f"({self.n_rows} rows added)",
                UndefinedMetricWarning,
                stacklevel=3,
            )
        return out

    def batch_sums(self) -> pd.DataFrame:
        """The sufficient statistics of every counted batch (batch mode only).

        One row per batch, in the order added, with columns :data:`SUM_COLUMNS`: masked
        positions ``n_pos``, hits ``hits`` (target in the top ``k``), ``recip_rank`` and
        ``dcg`` (sums of ``1/(rank+1)`` and ``1/log2(rank+2)`` over the hits), cart- and
        order-labelled positions ``cart_n`` / ``order_n`` and their hits ``cart_hits`` /
        ``order_hits`` (float64; the counts are exact integers). Every ratio metric is a
        ratio of two column sums (:func:`paretoalign.metrics.metrics_from_sums`), which is
        what makes a paired bootstrap over batches possible
        (:func:`paretoalign.metrics.paired_bootstrap`).
        """
        if not self.batch_mode:
            raise ValueError("batch_sums() needs an accumulator created with batch_mode=True")
        standard = (
            np.concatenate(self._standard_batches)
            if self._standard_batches
            else np.zeros((0, K.N_STANDARD))
        )
        return pd.DataFrame(standard[:, list(_SUM_INDEX.values())], columns=list(SUM_COLUMNS))

    def result(self) -> pd.DataFrame:
        """Tidy table: columns ``metric`` (e.g. ``"mrr@20"``) and ``value`` (float64)."""
        values = self.values()
        return pd.DataFrame(
            {
                "metric": [f"{name}@{self.k}" for name in values],
                "value": np.array(list(values.values()), dtype=np.float64),
            }
        )


#: Column of :meth:`MetricAccumulator.batch_sums` -> index in the kernels' statistic layout.
_SUM_INDEX = {
    "n_pos": K.N_POS,
    "hits": K.HITS,
    "recip_rank": K.RECIP_RANK,
    "dcg": K.DCG,
    "cart_n": K.CART_N,
    "cart_hits": K.CART_HITS,
    "order_n": K.ORDER_N,
    "order_hits": K.ORDER_HITS,
}
#: Columns of :meth:`MetricAccumulator.batch_sums` (and of ``per_session`` evaluations).
SUM_COLUMNS = tuple(_SUM_INDEX)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _ratios(standard: np.ndarray, lists: np.ndarray, lse: float, ratio) -> dict[str, np.ndarray]:
    """Every metric from the sums, per row of ``standard`` / ``lists`` (one row per group)."""
    s = standard
    click_recall = ratio(s[:, K.HITS], s[:, K.N_POS])
    order_density = ratio(s[:, K.ORDER_HITS], s[:, K.HITS])
    dcg = ratio(s[:, K.DCG], s[:, K.N_POS])
    slots = lists[:, K.SLOTS]
    return {
        "click_recall": click_recall,
        "mrr": ratio(s[:, K.RECIP_RANK], s[:, K.N_POS]),
        "ndcg": dcg,  # one relevant item: IDCG = 1
        "dcg": dcg,
        "cart_recall": ratio(s[:, K.CART_HITS], s[:, K.CART_N]),
        "order_recall": ratio(s[:, K.ORDER_HITS], s[:, K.ORDER_N]),
        "cart_density": ratio(s[:, K.CART_HITS], s[:, K.HITS]),
        "order_density": order_density,
        "recall_x_order_density": click_recall * order_density,
        "mean_log_popularity": ratio(lists[:, K.LOG_POP], slots),
        "novelty": ratio((lse * slots - lists[:, K.LOG_POP]) / _LN2, slots),
        "diversity": ratio(lists[:, K.DIV_SUM], lists[:, K.DIV_LISTS]),
    }


# ================================================================ the entry point
def evaluate(
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
    metrics: Sequence[str] | None = None,
    threads: int | None = None,
) -> pd.DataFrame:
    r"""Offline next-click metrics of top-k lists, in one fused pass.

    Parameters
    ----------
    ids : ndarray(int32, shape=(P, K)), K >= k
        For each of ``P`` positions the recommended items, best first (as returned by
        :func:`paretoalign.ranking.topk`). ``-1`` = "no item" and may only fill trailing
        slots (lists shorter than ``k``, e.g. a catalogue smaller than ``k``). Only the
        first ``k`` columns are scored; every column is validated.
    targets : ndarray(int32, shape=(P,))
        The next clicked item, in ``1..N`` (0 allowed where ``mask`` is false).
    cart_label, order_label : ndarray(int8, shape=(P,)), optional
        1 iff the target item is carted / ordered later in the session, else 0.
    mask : ndarray(bool, shape=(P,)), optional
        Positions that count (default: all).
    k : int, default 20
        Cut-off; the metric names end in ``@k``.
    n_items : int, optional
        Catalogue size ``N`` (inferred from ``item_log_popularity`` / ``item_vectors``
        when those are given): ids and targets must lie in ``1..N``; enables coverage.
    item_log_popularity : ndarray(float, shape=(N + 1,)), optional
        ``l_i = ln c_i`` with a positive popularity weight ``c_i`` (:func:`log_popularity`).
    item_vectors : ndarray(float32 or float64, shape=(N + 1, d)), optional
        Item vectors for intra-list diversity (e.g. the model's item embeddings).
    batch_size : int, optional
        ``None``: global ratios. Otherwise MultiTRON's per-batch mean (below).
    metrics : sequence of str, optional
        Subset to report (base or ``@k`` names); default: every metric whose inputs are
        given. Asking for one whose input is missing raises ``ValueError``.
    threads : int, optional
        Numba threads for this call (restored afterwards); results do not depend on it.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric`` (``click_recall@20``, ``mrr@20``, ``ndcg@20``, ``dcg@20``,
        ``cart_recall@20``, ``order_recall@20``, ``cart_density@20``,
        ``order_density@20``, ``recall_x_order_density@20``, ``coverage@20``,
        ``mean_log_popularity@20``, ``novelty@20``, ``diversity@20``, with the actual
        ``k``) and ``value`` (float64), in that order.

    Notes
    -----
    The formulas, global mode and batch mode are stated in this module's docstring
    (:mod:`paretoalign.metrics._evaluate`, section *The metrics*).

    Raises
    ------
    TypeError
        A wrong dtype (ids/targets int32, labels int8, mask bool) or a non-array.
    ValueError
        Wrong shapes, ``K < k``, ids other than ``-1`` or ``1..N``, ``-1`` before an
        item, targets outside ``1..N``, labels other than 0/1, unknown metric names.
    """
    if batch_size is not None:
        if (
            isinstance(batch_size, bool)
            or not isinstance(batch_size, int | np.integer)
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    accumulator = MetricAccumulator(
        k=k,
        has_cart=cart_label is not None,
        has_order=order_label is not None,
        n_items=n_items,
        item_log_popularity=item_log_popularity,
        item_vectors=item_vectors,
        metrics=metrics,
        batch_mode=batch_size is not None,
    )
    batches = None
    if batch_size is not None:
        n_rows = ids.shape[0] if isinstance(ids, np.ndarray) and ids.ndim >= 1 else 0
        n_full = n_rows // int(batch_size)
        batches = np.arange(n_full + 1, dtype=np.int64) * int(batch_size)
    with _numba_threads(threads):
        # with no complete batch, batches == [0]: every row is validated, none counted
        accumulator.add(ids, targets, cart_label, order_label, mask, batches=batches)
    return accumulator.result()
