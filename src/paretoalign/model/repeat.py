"""The repeat bonus: a learned score term for the items of the session's own history.

About half of all next clicks in the shop (and in OTTO) revisit an item the session has
already clicked, and the inner product ``h · e_j`` cannot single out one item of *this*
session: a rarely clicked item has a vector that training barely moves. The repeat bonus
adds, for every item of the history, a term computed from the session state, π and how
the item occurs in the session (book: method page, ``method-repeat``). The idea is the
repeat/explore split of RepeatNet (Ren et al., AAAI 2019), written here as one additive
score so that the ranking stays an exact top-k:

.. math::

    s_t(j) = h_t \\cdot e_j + r_t(j),\\qquad
    r_t(j) = \\begin{cases}
        c_t[\\rho(t - \\sigma_t(j)),\\, \\kappa(n_t(j))] & j \\in \\{x_1..x_t\\} \\\\
        0 & \\text{otherwise,}
    \\end{cases}
    \\qquad c_t = W_2\\, \\mathrm{relu}(W_1 [h_t; \\pi] + b_1) + b_2 \\in \\mathbb{R}^{R \\times C},

where ``σ_t(j)`` is the last position ``<= t`` whose click is ``j``, ``n_t(j)`` the number of
clicks on ``j`` up to ``t``, ``ρ`` maps the distance ``t - σ`` to one of ``R = 8`` recency
buckets (0, 1, 2, 3, 4-5, 6-9, 10-19, 20+ clicks ago; 0 = the current item) and ``κ`` the
count to one of ``C = 4`` buckets (1, 2, 3, 4+): one coefficient per (recency, count)
pair, so a recent single view and an old repeated one are weighed independently. ``W_2``
and ``b_2`` start at 0, so a new model scores as the plain inner product. π enters ``c_t`` directly: each point of the front sets its
own repeat bonus (a clicks-optimal point can favour revisits more than an orders-optimal
one).

The term is sparse: at most ``L`` items per position. Training adds it to the positive and
negative logits (:func:`add_terms`), the exact top-k adds it to the scores it ranks
(:func:`terms_csr`, ``paretoalign.ranking.topk(..., terms=...)``), so training, offline
evaluation and serving rank by the same score.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

__all__ = [
    "COUNT_EDGES",
    "HIDDEN",
    "RECENCY_EDGES",
    "HistorySlots",
    "RepeatHead",
    "SessionTerms",
    "add_terms",
    "history_slots",
    "terms_csr",
]

#: Lower edges of the recency buckets ρ (distance in clicks from the query position).
RECENCY_EDGES: tuple[int, ...] = (0, 1, 2, 3, 4, 6, 10, 20)
#: Lower edges of the count buckets κ (clicks on the item up to the query position).
COUNT_EDGES: tuple[int, ...] = (1, 2, 3, 4)
#: Width of the repeat head's hidden layer.
HIDDEN = 32


class HistorySlots(NamedTuple):
    """Which history slot gives a term to which query position, ``[B, n, l]`` each.

    For query position ``t`` (one of the last ``n`` columns) and slot ``s`` (one of the
    ``l`` columns): ``ids[b, t, s]`` is the item of slot ``s`` when ``s <= t`` and ``s`` is
    the last slot ``<= t`` holding that item, else 0 (no term); ``recency`` and ``count``
    are the bucket indices ``ρ(t - s)`` and ``κ(n_t)`` (0 where ``ids`` is 0).
    """

    ids: torch.Tensor
    recency: torch.Tensor
    count: torch.Tensor


class SessionTerms(NamedTuple):
    """The sparse score terms of the query positions: ``ids`` (long, 0 = none) and
    ``values`` (float, 0 where ``ids`` is 0), both ``[..., l]``. Within one query row the
    non-zero ids are distinct."""

    ids: torch.Tensor
    values: torch.Tensor


def history_slots(inputs: torch.Tensor, n: int | None = None) -> HistorySlots:
    """The terms' slots and features for the last ``n`` positions of left-padded inputs.

    Parameters
    ----------
    inputs : LongTensor[B, l]
        Item ids, 0 = padding (left-padded; real ids in ``1..N``).
    n : int, optional
        Query positions: the last ``n`` columns (default all ``l``).

    Returns
    -------
    HistorySlots
        ``[B, n, l]`` tensors (see :class:`HistorySlots`). With ``occ[s, t]`` the number
        of slots ``<= t`` holding ``x_s``: slot ``s`` is the last occurrence up to ``t``
        iff ``occ[s, t] = occ[s, s]``, and then ``n_t = occ[s, s]``.
    """
    batch, length = inputs.shape
    n = length if n is None else int(n)
    if not 0 <= n <= length:
        raise ValueError(f"n must be in 0..{length}, got {n}")
    device = inputs.device
    same = inputs[:, :, None] == inputs[:, None, :]  # [B, s, s']
    occurrences = same.to(torch.int32).cumsum(dim=2)  # occ[b, s, t]
    upto_self = occurrences.diagonal(dim1=1, dim2=2)  # occ[b, s, s], [B, l]
    queries = torch.arange(length - n, length, device=device)  # t
    slots = torch.arange(length, device=device)  # s
    occ_ts = occurrences[:, :, length - n :].transpose(1, 2)  # [B, n(t), l(s)]
    valid = (
        (inputs[:, None, :] != 0)
        & (slots[None, :] <= queries[:, None])[None]
        & (occ_ts == upto_self[:, None, :])
    )
    distance = (queries[:, None] - slots[None, :]).clamp_min(0)  # [n, l]
    recency = torch.bucketize(distance, _edges(RECENCY_EDGES, device), right=True) - 1
    count = torch.bucketize(upto_self.contiguous(), _edges(COUNT_EDGES, device), right=True) - 1
    count = count.clamp_min(0)[:, None, :].expand(batch, n, length)
    zero = torch.zeros((), dtype=torch.long, device=device)
    return HistorySlots(
        ids=torch.where(valid, inputs[:, None, :].expand(batch, n, length), zero),
        recency=torch.where(valid, recency[None].expand(batch, n, length), zero),
        count=torch.where(valid, count, zero),
    )


def _edges(edges: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor(edges, dtype=torch.long, device=device)


class RepeatHead(nn.Module):
    """``c_t = W_2 relu(W_1 [h_t; π] + b_1) + b_2`` and the terms ``r_t(j)`` of the module
    docstring.

    Parameters
    ----------
    state_size : int
        Columns of the scoring states ``h``.
    n_objectives : int
        ``K``, the length of π.
    hidden : int
        Width of the hidden layer (default :data:`HIDDEN`).
    """

    def __init__(self, state_size: int, n_objectives: int, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.n_count = len(COUNT_EDGES)
        self.hidden = nn.Linear(state_size + n_objectives, hidden)
        self.out = nn.Linear(hidden, len(RECENCY_EDGES) * len(COUNT_EDGES))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, inputs: torch.Tensor, states: torch.Tensor, pi: torch.Tensor) -> SessionTerms:
        """Terms of the last ``n`` positions: ``inputs`` long ``[B, l]``, ``states``
        ``[B, n, state_size]`` (the scoring states of those positions), ``pi`` ``[B, K]``;
        returns :class:`SessionTerms` of shape ``[B, n, l]``."""
        slots = history_slots(inputs, states.shape[1])
        pi_rows = pi.to(states.dtype)[:, None, :].expand(-1, states.shape[1], -1)
        features = torch.relu(self.hidden(torch.cat([states, pi_rows], dim=-1)))
        coefficients = self.out(features)  # [B, n, R * C]
        values = coefficients.gather(2, slots.recency * self.n_count + slots.count)
        values = values.masked_fill(slots.ids == 0, 0.0)
        return SessionTerms(slots.ids, values)


def add_terms(logits: torch.Tensor, candidates: torch.Tensor, terms: SessionTerms) -> torch.Tensor:
    """Logits plus each candidate's session term: ``[M, c]`` + ``r_m(candidates[m, c])``.

    ``candidates`` long ``[M, c]``; ``terms`` ``[M, l]`` (ids distinct per row, so at most
    one term matches a candidate). Differentiable in ``logits`` and ``terms.values``.
    """
    match = (candidates[:, :, None] == terms.ids[:, None, :]) & (terms.ids[:, None, :] != 0)
    return logits + (match.to(terms.values.dtype) * terms.values[:, None, :]).sum(dim=2)


def terms_csr(terms: SessionTerms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query-row terms ``[Q, l]`` as the CSR triple of ``paretoalign.ranking.topk``'s
    ``terms``: ``(ptr int64[Q + 1], ids int32[nnz], values float32[nnz])``, row order
    kept, entries without a term (id 0) dropped. The fields may be tensors or arrays."""
    ids, values = (
        x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x) for x in terms
    )
    keep = ids != 0
    ptr = np.zeros(ids.shape[0] + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=ptr[1:])
    return (
        ptr,
        np.ascontiguousarray(ids[keep], dtype=np.int32),
        np.ascontiguousarray(values[keep], dtype=np.float32),
    )
