"""Serving the one trained model at fixed preference points: recommenders and a router.

:class:`ModelServer` holds a :class:`paretoalign.model.PreferenceRecommender` and its item
table and answers a batch of requests in which **every row may carry its own** π (and
popularity penalty): one transformer forward for the whole batch, the session state of
the **last position** only (the most recent click of a left-padded history), then the
compiled exact top-k (:func:`paretoalign.ranking.topk`). This is what makes one model
serve many test groups at the cost of one.

Scores
------
For a session state :math:`h \\in \\mathbb{R}^d` and item embeddings :math:`e_j`
(row 0 = padding, never returned)

.. math:: s_j = h^\\top e_j + r(j) - c \\cdot \\log(1 + n_j),

where :math:`r(j)` is the model's sparse session term (the repeat bonus of the items of
the session's history, :meth:`paretoalign.model.PreferenceRecommender.session_terms`; 0
for a model without one), :math:`n_j` is item ``j``'s click count in the training log
and :math:`c \\ge 0` the row's popularity coefficient (0 for the plain model). The penalised score is computed as
one inner product by appending :math:`-c` to the query and :math:`\\log(1+n_j)` to the
item vectors. Rows with ``c = 0`` use the plain item table, so a plain
:class:`ConditionedPolicy` returns exactly what the offline metrics evaluated.

Standardised penalty
--------------------
A raw coefficient has no meaning across models, so the front command sets
:math:`c = \\alpha \\cdot \\sigma_s / \\sigma_p` (:func:`popularity_penalty_scale`): with
``α = 1`` a one-standard-deviation rise in log-popularity costs as much as one standard
deviation of the model's scores over the catalogue (averaged over sample sessions).

Exclusion
---------
``exclude`` = ``"none"`` (MultiTRON's offline protocol: already-seen items may be
recommended), ``"current"`` (never the item of the current page, i.e. the last click) or
``"history"`` (no item of the visible history).

:class:`ConditionedPolicy` fixes one π: ``recommend(history, k) -> int32[B, k]``, the
interface every recommender offers. :class:`GroupRouter` is an online *policy*: it maps a
world state batch to each shopper's group arm and answers all model arms with one
:meth:`ModelServer.serve` call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from paretoalign.front.inference import last_position_states
from paretoalign.metrics import log_popularity

Exclude = Literal["none", "current", "history"]
_EXCLUDE = ("none", "current", "history")


def _check_history(history: Any, n_items: int, max_len: int | None = None) -> np.ndarray:
    if not isinstance(history, np.ndarray):
        raise TypeError(f"history must be a numpy array, got {type(history).__name__}")
    if history.ndim != 2:
        raise ValueError(f"history must be 2-D [B, L], got shape {history.shape}")
    if not np.issubdtype(history.dtype, np.integer):
        raise TypeError(f"history must hold integer item ids, got dtype {history.dtype}")
    if max_len is not None and history.shape[1] != max_len:
        raise ValueError(f"history must have L = {max_len} columns, got {history.shape[1]}")
    if history.size and (history.min() < 0 or history.max() > n_items):
        raise ValueError(f"history ids must be in 0..{n_items} (0 = padding)")
    return history


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def exclusion_csr(history: np.ndarray, exclude: Exclude) -> tuple[np.ndarray, np.ndarray] | None:
    """The items each row must not get, as CSR ``(ptr int64[B+1], ids int32[nnz])``.

    ``"current"``: the last column (the current page's item) when it is not padding;
    ``"history"``: every non-padding item of the row; ``"none"``: ``None``.
    """
    if exclude == "none":
        return None
    if exclude == "current":
        cols = history[:, -1:]
    elif exclude == "history":
        cols = history
    else:
        raise ValueError(f"exclude must be one of {_EXCLUDE}, got {exclude!r}")
    mask = cols > 0
    ptr = np.zeros(len(cols) + 1, np.int64)
    np.cumsum(mask.sum(axis=1), out=ptr[1:])
    return ptr, np.ascontiguousarray(cols[mask], dtype=np.int32)


class ModelServer:
    """One preference-conditioned model answering requests with per-row π.

    Parameters
    ----------
    model : PreferenceRecommender
        In eval mode; needs ``objectives``, ``n_items``, ``encode`` and ``item_embeddings``.
    item_log_popularity : ndarray(float32, shape=(n_items + 1,)), optional
        ``log(1 + clicks)`` per item (entry 0 ignored); needed for penalised rows.
    batch_size : int
        Rows per transformer forward (bounds memory: activations are ``[B, L, d]``).
    threads : int, optional
        Passed to :func:`paretoalign.ranking.topk`.
    """

    def __init__(
        self,
        model: Any,
        *,
        item_log_popularity: np.ndarray | None = None,
        batch_size: int = 2048,
        threads: int | None = None,
    ) -> None:
        import torch

        self.model = model
        self.objectives = tuple(model.objectives)
        self.n_items = int(model.n_items)
        self.batch_size = _check_k(batch_size)
        self.threads = threads
        self.max_len = getattr(model, "max_len", None)
        # the trimmed-width fast path needs the unvalidated entry point (see encode_last)
        self._trim = hasattr(model, "encode_unchecked")
        with torch.inference_mode():
            items = model.item_embeddings().detach().float().cpu().numpy()
        if items.shape[0] != self.n_items + 1:
            raise ValueError(
                f"item_embeddings has {items.shape[0]} rows for n_items = {self.n_items} (+1)"
            )
        self.items = np.ascontiguousarray(items, dtype=np.float32)
        self.dim = self.items.shape[1]
        #: cumulative seconds spent in the transformer and in the top-k (for benchmarks)
        self.timing = {"encode": 0.0, "topk": 0.0}
        self.log_popularity: np.ndarray | None = None
        self.items_aug: np.ndarray | None = None
        if item_log_popularity is not None:
            pop = np.asarray(item_log_popularity, dtype=np.float32)
            if pop.shape != (self.n_items + 1,) or not np.all(np.isfinite(pop)):
                raise ValueError(f"item_log_popularity must be finite float[{self.n_items + 1}]")
            pop = pop.copy()
            pop[0] = 0.0
            self.log_popularity = pop
            self.items_aug = np.ascontiguousarray(np.column_stack([self.items, pop]))

    # ------------------------------------------------------------------ encoding
    def _pi_rows(self, pi: Any, n_rows: int) -> np.ndarray:
        arr = np.asarray(pi, dtype=np.float32)
        k = len(self.objectives)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (n_rows, k))
        if arr.shape != (n_rows, k):
            raise ValueError(f"pi must have shape ({k},) or ({n_rows}, {k}), got {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError("pi must be finite and >= 0")
        if np.any(np.abs(arr.sum(axis=1) - 1.0) > 1e-4):
            raise ValueError("every pi must sum to 1")
        return np.ascontiguousarray(arr)

    def encode_last(self, history: np.ndarray, pi: Any) -> np.ndarray:
        """Session states at the last position: ``float32[B, d]``.

        Parameters
        ----------
        history : ndarray(int, shape=(B, L))
            Left-padded clicked items (0 = padding); the last column is the most recent.
        pi : array-like of shape (K,) or (B, K)
            One π for all rows, or one per row.

        Notes
        -----
        Rows are bucketed by the width their history needs (the number of columns from
        the first non-padding item to the end, rounded up to a power of two, at most
        ``L``) and each bucket is encoded with its all-padding leading columns cut off
        (:meth:`PreferenceRecommender.encode_unchecked` on ``history[:, L - w:]``). This
        is exact: the positional table is indexed from the end, and padding keys are
        masked out of every real position's attention, so a real position's state does
        not depend on leading padding; only float rounding of the smaller products can
        differ (checked against the full-width :meth:`encode` in the tests). Most
        sessions are short, so this roughly halves the transformer's work online.
        """
        return self._encode_last(history, pi)[0]

    def _encode_last(self, history: np.ndarray, pi: Any) -> tuple[np.ndarray, Any]:
        """:meth:`encode_last` and the model's session terms of the last position
        (:meth:`PreferenceRecommender.session_terms`) as dense ``[B, L]`` arrays, ids 0
        where a row has no term (``None`` when the model has no terms)."""
        import torch

        from paretoalign.model.repeat import SessionTerms

        history = _check_history(history, self.n_items, self.max_len)
        pis = self._pi_rows(pi, len(history))
        n, length = history.shape
        out = np.empty((n, self.dim), np.float32)
        terms = None
        if n == 0:
            return out, terms
        real = history != 0
        first = np.where(real.any(axis=1), real.argmax(axis=1), length - 1)
        need = length - first  # columns each row needs, 1..L
        widths = _bucket_widths(length) if self._trim else np.array([length])
        bucket = np.searchsorted(widths, need, side="left")
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(len(widths) + 1), side="left")
        with torch.inference_mode():
            for b, width in enumerate(widths):
                rows_b = order[bounds[b] : bounds[b + 1]]
                for lo in range(0, len(rows_b), self.batch_size):
                    rows = rows_b[lo : lo + self.batch_size]
                    x = torch.from_numpy(history[rows, length - width :].astype(np.int64))
                    p = torch.from_numpy(pis[rows])
                    if self._trim:
                        h = last_position_states(self.model, x, p)
                    else:
                        h = self.model.encode(x, p)[:, -1, :]
                    out[rows] = h.float().numpy()
                    row_terms = (
                        self.model.session_terms(x, h[:, None, :], p)
                        if hasattr(self.model, "session_terms")
                        else None
                    )
                    if row_terms is not None:
                        if terms is None:
                            terms = SessionTerms(
                                np.zeros((n, length), np.int32), np.zeros((n, length), np.float32)
                            )
                        terms.ids[rows, length - width :] = row_terms.ids[:, 0].numpy()
                        terms.values[rows, length - width :] = row_terms.values[:, 0].numpy()
        return out, terms

    # ------------------------------------------------------------------ serving
    def serve(
        self,
        history: np.ndarray,
        pi: Any,
        k: int,
        *,
        coef: Any = 0.0,
        exclude: Exclude = "none",
    ) -> np.ndarray:
        """Top-``k`` items for every row: ``int32[B, k]``, best first, never 0.

        Parameters
        ----------
        history : ndarray(int, shape=(B, L))
        pi : array-like of shape (K,) or (B, K)
        k : int
        coef : float or array-like of shape (B,)
            Raw popularity coefficient ``c >= 0`` per row (see the module docstring).
        exclude : {"none", "current", "history"}
        """
        from paretoalign.model.repeat import SessionTerms, terms_csr
        from paretoalign.ranking import topk

        k = _check_k(k)
        history = _check_history(history, self.n_items, self.max_len)
        n = len(history)
        coefs = np.broadcast_to(np.asarray(coef, dtype=np.float32), (n,))
        if not np.all(np.isfinite(coefs)) or np.any(coefs < 0):
            raise ValueError("popularity coefficients must be finite and >= 0")
        if np.any(coefs > 0) and self.items_aug is None:
            raise ValueError("a popularity penalty needs item_log_popularity")
        out = np.empty((n, k), np.int32)
        if n == 0:
            return out
        t0 = time.perf_counter()
        h, terms = self._encode_last(history, pi)
        t1 = time.perf_counter()
        for c in np.unique(coefs):
            rows = np.flatnonzero(coefs == c)
            sub_hist = history[rows] if len(rows) < n else history
            excl = exclusion_csr(sub_hist, exclude)
            extra = {}
            if terms is not None:
                extra["terms"] = terms_csr(SessionTerms(terms.ids[rows], terms.values[rows]))
            if c == 0:
                queries, items = np.ascontiguousarray(h[rows]), self.items
            else:
                queries = np.empty((len(rows), self.dim + 1), np.float32)
                queries[:, :-1] = h[rows]
                queries[:, -1] = -c
                items = self.items_aug
            _, ids = topk(queries, items, k, exclude=excl, threads=self.threads, **extra)
            out[rows] = ids
        self.timing["encode"] += t1 - t0
        self.timing["topk"] += time.perf_counter() - t1
        return out


def _bucket_widths(length: int) -> np.ndarray:
    """Powers of two below ``length``, then ``length`` itself: ``[1, 2, 4, ..., L]``."""
    widths = [w for w in (1 << j for j in range(length.bit_length())) if w < length]
    return np.asarray([*widths, length], dtype=np.int64)


def item_log_popularity(log: Any, n_items: int | None = None) -> np.ndarray:
    """Log click popularity ``ln(1 + clicks_i)`` of every item of a session log.

    The click counts of :class:`~paretoalign.data.SessionLog` ``log`` (items ``1..n``,
    ``n = n_items`` or ``log.n_items``; ids above ``n`` are not counted) through
    :func:`paretoalign.metrics.log_popularity` (add-one smoothing). The one definition of
    item popularity used by the front, the experiment and the validation worlds.

    Returns
    -------
    ndarray(float64, shape=(n + 1,))
        Entry 0 (padding) is 0.
    """
    from paretoalign.data import CLICK

    n = log.n_items if n_items is None else int(n_items)
    counts = np.bincount(log.aid[log.type == CLICK].astype(np.int64), minlength=n + 1)[: n + 1]
    return log_popularity(counts)


def popularity_penalty_scale(server: ModelServer, history: np.ndarray, pi: Any) -> float:
    """``σ_s / σ_p``: converts a standardised penalty ``α`` into a raw coefficient.

    ``σ_s`` is the standard deviation of the model's scores ``h·e_j`` over the catalogue
    (items ``1..N``), averaged over the sample sessions ``history``; ``σ_p`` is the
    standard deviation of ``log(1 + clicks)`` over the catalogue.

    Raises
    ------
    ValueError
        Without item popularities, without sample rows, or for a constant popularity.
    """
    if server.log_popularity is None:
        raise ValueError("the server has no item_log_popularity")
    if len(history) == 0:
        raise ValueError("need at least one sample session")
    h = server.encode_last(history, pi)
    scores = h @ server.items[1:].T
    sigma_s = float(scores.std(axis=1).mean())
    sigma_p = float(server.log_popularity[1:].std())
    if sigma_p == 0:
        raise ValueError("item popularity is constant: a popularity penalty has no effect")
    return sigma_s / sigma_p


class ConditionedPolicy:
    """The model at one fixed π as a recommender: ``recommend(history, k) -> int32[B, k]``.

    Parameters
    ----------
    model_or_server : PreferenceRecommender or ModelServer
        A server is reused (its item table is shared by every policy built on it).
    pi : array-like of shape (K,)
        The preference point, one weight per ``model.objectives``.
    popularity_coef : float
        Raw popularity coefficient ``c >= 0`` (0: the plain model).
    exclude : {"none", "current", "history"}
    item_log_popularity : ndarray, optional
        Only when a model (not a server) is given and ``popularity_coef > 0``.
    """

    def __init__(
        self,
        model_or_server: Any,
        pi: Sequence[float],
        *,
        popularity_coef: float = 0.0,
        exclude: Exclude = "none",
        item_log_popularity: np.ndarray | None = None,
    ) -> None:
        server = (
            model_or_server
            if isinstance(model_or_server, ModelServer)
            else ModelServer(model_or_server, item_log_popularity=item_log_popularity)
        )
        self.server = server
        self.pi = server._pi_rows(pi, 1)[0]
        if not (np.isfinite(popularity_coef) and popularity_coef >= 0):
            raise ValueError(f"popularity_coef must be >= 0, got {popularity_coef}")
        if popularity_coef > 0 and server.items_aug is None:
            raise ValueError("a popularity penalty needs item_log_popularity")
        if exclude not in _EXCLUDE:
            raise ValueError(f"exclude must be one of {_EXCLUDE}, got {exclude!r}")
        self.popularity_coef = float(popularity_coef)
        self.exclude = exclude
        self.n_items = server.n_items

    def recommend(self, history: np.ndarray, k: int) -> np.ndarray:
        """Top-``k`` items per left-padded history row, best first (``int32[B, k]``)."""
        return self.server.serve(
            history, self.pi, k, coef=self.popularity_coef, exclude=self.exclude
        )

    def __repr__(self) -> str:
        pi = ", ".join(f"{o}={w:.3f}" for o, w in zip(self.server.objectives, self.pi))
        return f"ConditionedPolicy({pi}, popularity_coef={self.popularity_coef:g})"


class GroupRouter:
    """An online policy: every request is answered by its shopper's group arm.

    Parameters
    ----------
    group_of : callable
        ``group_of(shopper_id int64[B]) -> int[B]`` in ``0..G-1`` (the sticky assignment).
    arms : sequence of G entries
        Each is a :class:`ConditionedPolicy` (answered together through its server) or
        any object with ``recommend(history, k)`` (a baseline), or a callable
        ``policy(state) -> int32[B, k]`` (e.g. the shop's logging policy) that receives
        the sub-state of its rows.
    slate_size : int
        ``k`` of the served slates.
    take_rows : callable
        ``take_rows(state, rows) -> state`` restricted to ``rows`` (only needed for
        callable arms); supplied by the online experiment, which knows the state type.

    Notes
    -----
    Model arms sharing one :class:`ModelServer` are served by one
    :meth:`ModelServer.serve` call with per-row π and penalty, so the transformer runs
    once per request batch whatever the number of groups. Model arms of one server must
    share the ``exclude`` rule.
    """

    def __init__(
        self,
        group_of: Callable[[np.ndarray], np.ndarray],
        arms: Sequence[Any],
        slate_size: int,
        *,
        take_rows: Callable[[Any, np.ndarray], Any] | None = None,
    ) -> None:
        if not arms:
            raise ValueError("a router needs at least one arm")
        self.group_of = group_of
        self.arms = list(arms)
        self.slate_size = _check_k(slate_size)
        self.take_rows = take_rows
        servers = {id(a.server) for a in self.arms if isinstance(a, ConditionedPolicy)}
        if len(servers) > 1:
            raise ValueError("all model arms of a router must share one ModelServer")
        model_arms = [a for a in self.arms if isinstance(a, ConditionedPolicy)]
        if len({a.exclude for a in model_arms}) > 1:
            raise ValueError("model arms of one router must share the exclude rule")
        self.server = model_arms[0].server if model_arms else None
        self.exclude = model_arms[0].exclude if model_arms else "none"
        self._pi = np.stack([a.pi for a in model_arms]) if model_arms else None
        self._model_slot = np.full(len(self.arms), -1, np.int64)
        slot = 0
        for g, a in enumerate(self.arms):
            if isinstance(a, ConditionedPolicy):
                self._model_slot[g] = slot
                slot += 1
        self._coef = np.array([a.popularity_coef for a in model_arms], np.float32)
        self.timing = {"model": 0.0, "other_arms": 0.0}

    def groups(self, shopper_id: np.ndarray) -> np.ndarray:
        """Group index of each shopper (validated to ``0..G-1``)."""
        g = np.asarray(self.group_of(np.asarray(shopper_id, dtype=np.int64)))
        if g.shape != np.shape(shopper_id):
            raise ValueError("group_of must return one group per shopper")
        if len(g) and (g.min() < 0 or g.max() >= len(self.arms)):
            raise ValueError(f"group_of returned a group outside 0..{len(self.arms) - 1}")
        return g.astype(np.int64, copy=False)

    def __call__(self, state: Any) -> np.ndarray:
        """Slates ``int32[B, slate_size]`` for the state's rows."""
        groups = self.groups(state.shopper_id)
        history = state.history
        out = np.empty((len(groups), self.slate_size), np.int32)
        slot = self._model_slot[groups]
        model_rows = np.flatnonzero(slot >= 0)
        t0 = time.perf_counter()
        if len(model_rows) and self.server is not None and self._pi is not None:
            out[model_rows] = self.server.serve(
                history[model_rows],
                self._pi[slot[model_rows]],
                self.slate_size,
                coef=self._coef[slot[model_rows]],
                exclude=self.exclude,
            )
        t1 = time.perf_counter()
        for g, arm in enumerate(self.arms):
            if isinstance(arm, ConditionedPolicy):
                continue
            rows = np.flatnonzero(groups == g)
            if len(rows) == 0:
                continue
            if hasattr(arm, "recommend"):
                out[rows] = arm.recommend(history[rows], self.slate_size)
            else:
                if self.take_rows is None:
                    raise ValueError("a callable arm needs take_rows to cut the state")
                out[rows] = arm(self.take_rows(state, rows))
        self.timing["model"] += t1 - t0
        self.timing["other_arms"] += time.perf_counter() - t1
        return out
