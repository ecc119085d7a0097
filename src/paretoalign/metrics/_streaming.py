"""Stream a whole :class:`~paretoalign.data.SessionLog` through a recommender and the metrics.

Sessions are processed in blocks: label the block (:func:`paretoalign.data.labels.
label_sequences`), score the real positions (a model's session states ranked by
:func:`paretoalign.ranking.topk`, or any object's ``recommend``), and fold the block's
sufficient statistics into one :class:`MetricAccumulator`. Memory is bounded by the
block (a few hundred MB for 2,048 sessions of 50 positions and d = 200), not by the log,
and the final metrics are exact global ratios over every position (MultiTRON's per-batch
mean is available with ``batch_sessions``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.data.sessionlog import SessionLog
from paretoalign.metrics._evaluate import MetricAccumulator, _numba_threads

__all__ = ["evaluate_model", "evaluate_recommender"]


# ================================================================ shared helpers
def _check_positive(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _blocks(
    log: SessionLog, block_sessions: int, batch_sessions: int | None
) -> Iterator[tuple[int, int]]:
    """Session ranges ``[s0, s1)``; in batch mode aligned to batches, trailing partial dropped."""
    n = log.n_sessions
    if batch_sessions is not None:
        n = (n // batch_sessions) * batch_sessions
        block_sessions = max(batch_sessions, (block_sessions // batch_sessions) * batch_sessions)
    for s0 in range(0, n, block_sessions):
        yield s0, min(n, s0 + block_sessions)


def _batch_offsets(mask: np.ndarray, batch_sessions: int) -> np.ndarray:
    """Offsets into the block's masked positions (row-major) of each batch of sessions."""
    per_session = np.concatenate([[0], np.cumsum(mask.sum(axis=1), dtype=np.int64)])
    return per_session[::batch_sessions].astype(np.int64)


def _histories(inputs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For every real position ``(s, t)`` (row-major), ``inputs[s, :t+1]`` left-padded to L.

    Because rows are left-padded already, this is the row shifted right by ``L - 1 - t``.
    """
    rows, cols = np.nonzero(mask)
    length = inputs.shape[1]
    source = np.arange(length)[None, :] - ((length - 1) - cols)[:, None]
    gathered = inputs[rows[:, None], np.clip(source, 0, None)]
    return np.where(source >= 0, gathered, 0).astype(np.int32)


def _seen_csr(histories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-padding items of each history as CSR ``(ptr int64, ids int32)``."""
    ordered = np.sort(histories, axis=1)
    keep = ordered != 0
    keep[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    ptr = np.zeros(len(histories) + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=ptr[1:])
    return ptr, np.ascontiguousarray(ordered[keep], dtype=np.int32)


def _progress(total: int, enabled: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="session", disable=not enabled, desc=desc, leave=False)


def _session_mode(per_session: bool, batch_sessions: int | None) -> int | None:
    """``batch_sessions`` for the evaluation: one session per batch when ``per_session``."""
    if not per_session:
        return batch_sessions
    if batch_sessions is not None:
        raise ValueError("per_session=True and batch_sessions exclude each other")
    return 1


@dataclass(frozen=True)
class EvalOptions:
    """How a log is streamed through a ranker and the metrics.

    Shared by :func:`evaluate_model` and :func:`evaluate_recommender`, which take these
    fields as keyword arguments (or a whole ``options=EvalOptions(...)``).

    Attributes
    ----------
    k, max_len : int
        Cut-off and padded sequence length (MultiTRON: 20, 50).
    block_sessions : int
        Sessions per block (memory grows linearly with it).
    progress : bool
        Show a tqdm bar over sessions.
    item_log_popularity, item_vectors, metrics
        As in :func:`paretoalign.metrics.evaluate` (coverage uses the catalogue size).
    batch_sessions : int, optional
        MultiTRON's per-batch mean over consecutive batches of this many sessions (its
        ``batch_size`` 256; the trailing partial batch is dropped). Default: global ratios.
    threads : int, optional
        Numba threads for the metric kernels (results do not depend on it).
    label_fn : callable, optional
        Replacement for :func:`paretoalign.data.labels.label_sequences` (same signature).
    per_session : bool
        Return the sufficient statistics of every session instead of the metrics: one
        row per session of the log (a session without positions gives a row of zeros),
        columns :data:`paretoalign.metrics.SUM_COLUMNS`. Feed them to
        :func:`paretoalign.metrics.metrics_from_sums` (the same global metrics) or
        :func:`paretoalign.metrics.paired_bootstrap` (compare two rankers on the same
        sessions). Excludes ``batch_sessions``.
    """

    k: int = 20
    max_len: int = 50
    block_sessions: int = 2048
    progress: bool = True
    item_log_popularity: np.ndarray | None = None
    item_vectors: np.ndarray | None = None
    metrics: Sequence[str] | None = None
    batch_sessions: int | None = None
    threads: int | None = None
    label_fn: Callable[..., Any] | None = None
    per_session: bool = False

    @classmethod
    def from_arguments(cls, options: EvalOptions | None, fields: dict[str, Any]) -> EvalOptions:
        """``options`` (or the defaults) with ``fields`` replaced, checked.

        Raises TypeError naming an unknown field, ValueError for a bad value.
        """
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"unknown evaluation option(s) {unknown}")
        opts = dataclasses.replace(options or cls(), **fields)
        batch_sessions = _session_mode(bool(opts.per_session), opts.batch_sessions)
        if batch_sessions is not None:
            batch_sessions = _check_positive(batch_sessions, "batch_sessions")
        return dataclasses.replace(
            opts,
            k=_check_positive(opts.k, "k"),
            max_len=_check_positive(opts.max_len, "max_len"),
            block_sessions=_check_positive(opts.block_sessions, "block_sessions"),
            batch_sessions=batch_sessions,
            per_session=bool(opts.per_session),
        )

    def accumulator(self, n_items: int) -> MetricAccumulator:
        """A fresh :class:`MetricAccumulator` for these options and ``n_items`` items."""
        return MetricAccumulator(
            k=self.k,
            has_cart=True,
            has_order=True,
            n_items=n_items,
            item_log_popularity=self.item_log_popularity,
            item_vectors=self.item_vectors,
            metrics=self.metrics,
            batch_mode=self.batch_sessions is not None,
        )


def _stream(
    log: SessionLog,
    rank_block: Callable[[Any], np.ndarray],
    opts: EvalOptions,
    n_items: int,
    desc: str,
) -> pd.DataFrame:
    """Label ``log`` block by block, rank each block's positions with ``rank_block`` (top-k
    ids ``int32[P, k]`` of the block's real positions, row-major) and accumulate."""
    label_fn = opts.label_fn
    if label_fn is None:
        from paretoalign.data.labels import label_sequences as label_fn
    accumulator = opts.accumulator(n_items)
    batch_sessions = opts.batch_sessions
    with _numba_threads(opts.threads), _progress(log.n_sessions, opts.progress, desc) as bar:
        for s0, s1 in _blocks(log, opts.block_sessions, batch_sessions):
            labelled = label_fn(log[s0:s1], opts.max_len)
            mask = np.asarray(labelled.mask, dtype=bool)
            ids = rank_block(labelled)
            batches = _batch_offsets(mask, batch_sessions) if batch_sessions else None
            accumulator.add(
                ids,
                np.ascontiguousarray(labelled.targets[mask], dtype=np.int32),
                np.ascontiguousarray(labelled.cart_label[mask], dtype=np.int8),
                np.ascontiguousarray(labelled.order_label[mask], dtype=np.int8),
                batches=batches,
            )
            bar.update(s1 - s0)
    return accumulator.batch_sums() if opts.per_session else accumulator.result()


# ================================================================ the entry points
def evaluate_model(
    model: Any,
    log: SessionLog,
    pi: Any,
    *,
    exclude_seen: bool = False,
    topk_fn: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None,
    options: EvalOptions | None = None,
    **fields: Any,
) -> pd.DataFrame:
    r"""Offline metrics of a preference-conditioned model at preference ``pi`` on a log.

    For each block of ``block_sessions`` sessions: ``label_sequences(block, max_len)``
    gives left-padded inputs, next-click targets, cart/order labels and the mask;
    ``model.encode(inputs, pi)`` (under ``torch.no_grad``, model in eval mode) gives the
    session states ``h`` of shape ``[B, L, d]``; the states at the real positions are
    ranked against ``model.item_embeddings()`` (score ``h . e_j`` plus the model's sparse
    session terms, :meth:`~paretoalign.model.PreferenceRecommender.session_terms`, where it
    has them; item 0 never returned, ties to the lower id) by
    :func:`paretoalign.ranking.topk`; the top-``k`` lists feed a
    :class:`MetricAccumulator`. This is MultiTRON's protocol (the book's method page,
    section *MultiTRON*): every position of every session, full catalogue, seen items
    not excluded (unless ``exclude_seen``).

    Parameters
    ----------
    model : object
        With ``encode(LongTensor[B, L], pi) -> Tensor[B, L, d]``,
        ``item_embeddings() -> Tensor[N + 1, d]`` and ``n_items`` (a
        :class:`paretoalign.model.PreferenceRecommender`).
    log : SessionLog
        The sessions to evaluate (e.g. the test split).
    pi : array_like or Tensor, shape (K,) or (B, K)
        The preference vector, passed to ``encode`` as a float32 tensor.
    exclude_seen : bool
        Drop the items of each position's history (inputs up to it) from its ranking.
    topk_fn : callable, optional
        Replacement for :func:`paretoalign.ranking.topk` (same signature).
    options, **fields
        The :class:`EvalOptions` (``k``, ``max_len``, ``block_sessions``, ``progress``,
        ``item_log_popularity``, ``item_vectors``, ``metrics``, ``batch_sessions``,
        ``threads``, ``label_fn``, ``per_session``); coverage uses ``model.n_items``.

    Returns
    -------
    pandas.DataFrame
        ``metric`` / ``value``, as :func:`paretoalign.metrics.evaluate` (or the
        per-session sums, see :attr:`EvalOptions.per_session`).
    """
    import torch

    opts = EvalOptions.from_arguments(options, fields)
    if not isinstance(log, SessionLog):
        raise TypeError(f"log must be a SessionLog, got {type(log).__name__}")
    n_items = int(model.n_items)
    if log.n_items > n_items:
        raise ValueError(f"the log has items up to {log.n_items} but the model only {n_items}")
    pi_t = torch.as_tensor(np.asarray(pi, dtype=np.float32) if not torch.is_tensor(pi) else pi)
    pi_t = pi_t.to(torch.float32)
    was_training = bool(getattr(model, "training", False))
    try:
        if hasattr(model, "eval"):
            model.eval()
        with torch.no_grad():
            rank_block = _model_ranker(model, pi_t, opts.k, exclude_seen, topk_fn)
            return _stream(log, rank_block, opts, n_items, "evaluate model")
    finally:
        if was_training and hasattr(model, "train"):
            model.train()


def _model_ranker(
    model: Any, pi: Any, k: int, exclude_seen: bool, topk_fn: Callable[..., Any] | None
) -> Callable[[Any], np.ndarray]:
    """The block ranker of :func:`evaluate_model`: encode, take the real positions' states,
    top-``k`` against the model's item table (read once, here)."""
    import torch

    if topk_fn is None:
        from paretoalign.ranking import topk as topk_fn
    n_items = int(model.n_items)
    items = np.ascontiguousarray(model.item_embeddings().detach().to(torch.float32).cpu().numpy())
    if items.shape[0] != n_items + 1:
        raise ValueError(
            f"item_embeddings() has {items.shape[0]} rows, expected n_items + 1 = {n_items + 1}"
        )

    def rank_block(labelled: Any) -> np.ndarray:
        mask = np.asarray(labelled.mask, dtype=bool)
        if not mask.any():
            return np.zeros((0, k), dtype=np.int32)
        inputs = torch.from_numpy(np.ascontiguousarray(labelled.inputs)).long()
        states = model.encode(inputs, pi)
        rows = torch.from_numpy(mask)
        queries = states[rows].detach().to(torch.float32).cpu().numpy()
        exclude = _seen_csr(_histories(labelled.inputs, mask)) if exclude_seen else None
        terms = _session_terms(model, inputs, states, pi, rows)
        extra = {} if terms is None else {"terms": terms}
        _, ids = topk_fn(np.ascontiguousarray(queries), items, k, exclude=exclude, **extra)
        return ids

    return rank_block


def _session_terms(model: Any, inputs: Any, states: Any, pi: Any, rows: Any) -> Any:
    """The model's sparse score terms at the positions ``rows`` (bool ``[B, L]``) as the
    CSR triple of :func:`paretoalign.ranking.topk`'s ``terms``, or None when the model
    has none (:meth:`paretoalign.model.PreferenceRecommender.session_terms`)."""
    if not hasattr(model, "session_terms"):
        return None
    pi_rows = pi if pi.ndim == 2 else pi[None, :].expand(inputs.shape[0], -1)
    terms = model.session_terms(inputs.to(states.device), states, pi_rows.to(states.device))
    if terms is None:
        return None
    from paretoalign.model.repeat import SessionTerms, terms_csr

    rows = rows.to(states.device)
    return terms_csr(SessionTerms(terms.ids[rows], terms.values[rows]))


def evaluate_recommender(
    rec: Any,
    log: SessionLog,
    *,
    batch_positions: int = 4096,
    n_items: int | None = None,
    options: EvalOptions | None = None,
    **fields: Any,
) -> pd.DataFrame:
    """Offline metrics of any recommender with ``recommend(history, k)`` on a log.

    Every real position ``(s, t)`` (as labelled by ``label_sequences(block, max_len)``)
    becomes one request: its history is ``inputs[s, :t+1]`` — the clicks up to and
    including the current one — left-padded with 0 to ``max_len``; ``rec.recommend``
    answers ``int32[B, k]`` (best first, never 0; ``-1`` may pad short lists) for
    ``batch_positions`` requests at a time. Metrics as in :func:`evaluate_model`.

    Parameters
    ----------
    rec : object
        With ``recommend(history: int32[B, L], k: int) -> int32[B, k]`` (the baselines,
        ``ConditionedPolicy``).
    batch_positions : int
        Requests per ``recommend`` call.
    n_items : int, optional
        Catalogue size for validation and coverage (default ``log.n_items``).
    options, **fields
        The :class:`EvalOptions`, as in :func:`evaluate_model`.
    """
    opts = EvalOptions.from_arguments(options, fields)
    batch_positions = _check_positive(batch_positions, "batch_positions")
    if not isinstance(log, SessionLog):
        raise TypeError(f"log must be a SessionLog, got {type(log).__name__}")
    if not callable(getattr(rec, "recommend", None)):
        raise TypeError(f"{type(rec).__name__} has no recommend(history, k) method")
    n_items = log.n_items if n_items is None else n_items
    k = opts.k

    def rank_block(labelled: Any) -> np.ndarray:
        mask = np.asarray(labelled.mask, dtype=bool)
        histories = _histories(np.asarray(labelled.inputs), mask)
        out = np.empty((len(histories), k), dtype=np.int32)
        for lo in range(0, len(histories), batch_positions):
            chunk = np.ascontiguousarray(histories[lo : lo + batch_positions])
            answer = np.asarray(rec.recommend(chunk, k))
            if answer.shape != (len(chunk), k) or answer.dtype.kind not in "iu":
                raise ValueError(
                    f"{type(rec).__name__}.recommend returned {answer.dtype} {answer.shape}, "
                    f"expected an integer array of shape {(len(chunk), k)}"
                )
            if len(answer) and (answer.max() > np.iinfo(np.int32).max or answer.min() < -1):
                raise ValueError(f"{type(rec).__name__}.recommend returned ids outside int32")
            out[lo : lo + len(chunk)] = answer
        return out

    return _stream(log, rank_block, opts, n_items, "evaluate recommender")
