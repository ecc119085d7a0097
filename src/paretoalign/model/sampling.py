"""Negative sampling and the hard-negative logits, vectorised.

The book's method page states the scheme (section ``method-negatives``).

Per batch (MultiTRON's ``batchwise`` style):

* **uniform negatives** ``U``: ``n_u`` ids drawn uniformly from ``1..N``, shared by every
  position of the batch; with ``reject_in_batch_items`` draws that are among the batch's
  input clicks are redrawn (rejection sampling, i.e. uniform over the other items). When
  the batch's inputs cover the whole catalogue (tiny catalogues), ``U`` is empty.
* **in-batch negatives** ``B_s``: for each session ``s``, ``n_b`` entries drawn *without
  replacement* from the concatenated input clicks of the batch (a list that keeps
  duplicates); with ``reject_in_batch_items`` the session's own slice of that list is
  excluded (by position, not by item identity), as in the reference.
* **hard negatives**: every position scores all ``n_u + n_b`` candidates and keeps the
  ``k`` largest logits (:func:`hard_negative_logits`).

The reference does all of this in Python loops inside ``collate_fn``; here every step is
a tensor operation driven by an explicit ``torch.Generator``.

Options that are not in the reference (both off in ``multitron_faithful``):

* **logQ correction**: a sampled candidate ``j`` gets ``-log E[count_j]`` added to its
  logit, where ``E[count_j]`` is its expected number of draws: ``n_u / N'`` for a uniform
  draw (``N'`` = items that can be drawn) and ``n_b' c_{j,s} / P_s`` for an in-batch draw
  (``c_{j,s}`` = copies of ``j`` in session ``s``'s candidate list of length ``P_s``,
  ``n_b' = min(n_b, P_s)``). Then ``sum_j e^{n_j - log E[count_j]}`` estimates the
  softmax denominator over the whole catalogue without bias (before the top-k cut):
  popular items, which in-batch sampling over-represents, are no longer over-penalised.
  With rejection the two sources are disjoint and the correction is exact; without it
  each source's own count is used (an approximation).
* **accidental-hit removal**: a candidate equal to the position's target is dropped
  (logit ``-inf``) before the top-k selection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["BatchNegatives", "hard_negative_logits", "sample_negatives"]

# Rejection rounds before the remaining draws are taken from the explicit allowed set
# (the same distribution; only guards against catalogues nearly covered by the batch).
_REJECTION_ROUNDS = 8
# Elements of the largest temporary score block (float32: 32 MiB).
_BLOCK_ELEMENTS = 1 << 23


@dataclass(frozen=True)
class BatchNegatives:
    """The negatives of one batch.

    Attributes
    ----------
    uniform : LongTensor[n_u]
        Uniform draws shared by every position (ids in ``1..N``).
    uniform_bias : float
        Added to every uniform logit: ``-log(n_u / N')`` with the logQ correction, else 0.
    in_batch : LongTensor[B, n_b]
        In-batch draws per session; 0 where a session had too few candidates.
    in_batch_bias : Tensor[B, n_b]
        Added to the in-batch logits: ``-log E[count]`` (or 0), ``-inf`` at empty slots.
    """

    uniform: torch.Tensor
    uniform_bias: float
    in_batch: torch.Tensor
    in_batch_bias: torch.Tensor


def _uniform_draws(
    n_items: int,
    num: int,
    forbidden: torch.Tensor | None,
    generator: torch.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, int]:
    """``num`` uniform ids in ``1..N`` avoiding the bool table ``forbidden`` ``[N+1]``.

    Returns the ids and ``N'``, the number of items that could be drawn.
    """
    draws = torch.randint(1, n_items + 1, (num,), generator=generator, device=device)
    if forbidden is None:
        return draws, n_items
    n_allowed = n_items - int(forbidden[1:].sum())
    if n_allowed <= 0:
        # The batch's inputs cover the catalogue: nothing may be drawn.
        return draws[:0], 0
    bad = forbidden[draws]
    for _ in range(_REJECTION_ROUNDS):
        n_bad = int(bad.sum())
        if n_bad == 0:
            return draws, n_allowed
        redraw = torch.randint(1, n_items + 1, (n_bad,), generator=generator, device=device)
        draws[bad] = redraw
        bad = forbidden[draws]
    n_bad = int(bad.sum())
    if n_bad:
        allowed = torch.nonzero(~forbidden[1:]).squeeze(1) + 1
        pick = torch.randint(0, len(allowed), (n_bad,), generator=generator, device=device)
        draws[bad] = allowed[pick]
    return draws, n_allowed


def sample_negatives(
    inputs: torch.Tensor,
    n_items: int,
    num_uniform: int,
    num_batch: int,
    *,
    generator: torch.Generator,
    reject_in_batch_items: bool = True,
    logq_correction: bool = False,
) -> BatchNegatives:
    """Draw the uniform and in-batch negatives of one batch.

    Parameters
    ----------
    inputs : LongTensor[B, L]
        The batch's left-padded input clicks (0 = padding); the candidate list of the
        in-batch negatives is ``inputs[inputs != 0]`` in row-major order.
    n_items : int
        ``N``.
    num_uniform, num_batch : int
        ``n_u`` and ``n_b``.
    generator : torch.Generator
        The only source of randomness (on ``inputs``' device).
    reject_in_batch_items : bool
        Uniform draws avoid the batch's input items, and in-batch draws avoid the
        session's own slice of the candidate list (MultiTRON's single flag).
    logq_correction : bool
        Fill the biases with ``-log E[count]`` (module docstring) instead of 0.
    """
    if inputs.ndim != 2:
        raise ValueError(f"inputs must be [B, L], got {tuple(inputs.shape)}")
    if num_uniform < 0 or num_batch < 0:
        raise ValueError("numbers of negatives must be >= 0")
    device = inputs.device
    n_rows = inputs.shape[0]
    real = inputs != 0

    # ---------------------------------------------------------------- uniform
    uniform = torch.zeros(0, dtype=torch.long, device=device)
    uniform_bias = 0.0
    if num_uniform:
        forbidden = None
        if reject_in_batch_items:
            forbidden = torch.zeros(n_items + 1, dtype=torch.bool, device=device)
            forbidden[inputs[real]] = True
        uniform, n_allowed = _uniform_draws(n_items, num_uniform, forbidden, generator, device)
        if logq_correction and n_allowed:
            uniform_bias = math.log(n_allowed / num_uniform)

    # ---------------------------------------------------------------- in-batch
    pool = inputs[real]  # row-major: session by session, oldest click first
    owner = torch.nonzero(real)[:, 0]
    n_pool = pool.numel()
    width = min(num_batch, n_pool)
    in_batch = torch.zeros(n_rows, num_batch, dtype=torch.long, device=device)
    bias = torch.full((n_rows, num_batch), -math.inf, device=device)
    if width == 0:
        return BatchNegatives(uniform, uniform_bias, in_batch, bias)
    # Sampling without replacement: the `width` largest of independent uniform keys.
    keys = torch.rand(n_rows, n_pool, generator=generator, device=device)
    own = owner[None, :] == torch.arange(n_rows, device=device)[:, None]
    if reject_in_batch_items:
        keys.masked_fill_(own, -1.0)
    top_keys, slot = torch.topk(keys, width, dim=1)
    valid = top_keys >= 0
    chosen = torch.where(valid, pool[slot], torch.zeros_like(slot))
    in_batch[:, :width] = chosen
    if logq_correction:
        n_candidates = torch.full((n_rows,), n_pool, dtype=torch.long, device=device)
        if reject_in_batch_items:
            n_candidates = n_candidates - own.sum(dim=1)
        n_candidates = n_candidates.clamp_min(1)
        drawn = torch.clamp(n_candidates, max=width)
        _, inverse, counts = torch.unique(pool, return_inverse=True, return_counts=True)
        copies = counts[inverse][slot]
        if reject_in_batch_items:
            copies = copies - (inputs[:, None, :] == chosen[:, :, None]).sum(dim=2)
        expected = drawn[:, None] * copies.clamp_min(1) / n_candidates[:, None]
        bias[:, :width] = torch.where(valid, -torch.log(expected.float()), -math.inf)
    else:
        bias[:, :width] = torch.where(valid, 0.0, -math.inf)
    return BatchNegatives(uniform, uniform_bias, in_batch, bias)


# ---------------------------------------------------------------------------- hard negatives
class _HardNegativeLogits(torch.autograd.Function):
    """Top-k negative logits with a sparse backward.

    Forward (no autograd graph): score the positions against the candidates block by
    block, add the biases, drop accidental hits, keep the ``k`` largest.
    Backward: only the kept entries carry gradient, so
    ``dH_m = sum_j g_mj E[id_mj]`` and ``dE[id_mj] += g_mj H_m`` — ``O(M k d)`` instead of
    the two ``O(M (n_u + n_b) d)`` products that autograd through the full score matrix
    would cost.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx,
        states: torch.Tensor,
        table: torch.Tensor,
        uniform: torch.Tensor,
        uniform_bias: float,
        in_batch: torch.Tensor,
        in_batch_bias: torch.Tensor,
        targets: torch.Tensor | None,
        k: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        values, ids = _select(
            states, table, uniform, uniform_bias, in_batch, in_batch_bias, targets, k
        )
        ctx.save_for_backward(states, table, ids)
        ctx.mark_non_differentiable(ids)
        return values, ids

    @staticmethod
    def backward(ctx, grad_values: torch.Tensor, _grad_ids: torch.Tensor):  # type: ignore[override]
        states, table, ids = ctx.saved_tensors
        need_states, need_table = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_states = torch.empty_like(states) if need_states else None
        grad_table = torch.zeros_like(table) if need_table else None
        n_rows, k = ids.shape
        width = table.shape[1]
        block = max(1, _BLOCK_ELEMENTS // 4 // max(k * width, 1))
        # accumulate in at least fp32 (fp16/bf16 states under autocast)
        work = torch.promote_types(torch.promote_types(states.dtype, table.dtype), torch.float32)
        grad_values = grad_values.to(work)
        for lo in range(0, n_rows, block):
            hi = min(lo + block, n_rows)
            g = grad_values[lo:hi]
            block_ids = ids[lo:hi]
            if need_states:
                gathered = table[block_ids].to(work)  # [b, k, d]
                grad_states[lo:hi] = torch.bmm(g[:, None, :], gathered)[:, 0].to(states.dtype)
            if need_table:
                rows = (g[:, :, None] * states[lo:hi, None, :].to(work)).reshape(-1, width)
                grad_table.index_add_(0, block_ids.reshape(-1), rows.to(table.dtype))
        return grad_states, grad_table, None, None, None, None, None, None


@torch.no_grad()
def _select(
    states: torch.Tensor,
    table: torch.Tensor,
    uniform: torch.Tensor,
    uniform_bias: float,
    in_batch: torch.Tensor,
    in_batch_bias: torch.Tensor,
    targets: torch.Tensor | None,
    k: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    n_rows = states.shape[0]
    n_uniform, n_batch = uniform.numel(), in_batch.shape[1]
    keep = min(k, n_uniform + n_batch)
    dtype = states.dtype
    values = torch.empty(n_rows, keep, dtype=dtype, device=states.device)
    ids = torch.empty(n_rows, keep, dtype=torch.long, device=states.device)
    if n_rows == 0 or keep == 0:
        return values, ids
    uniform_table = table[uniform].to(dtype).t().contiguous() if n_uniform else None
    keep_uniform = min(keep, n_uniform)
    if targets is not None and n_uniform:
        uniform_sorted, uniform_order = torch.sort(uniform)
    block = max(1, min(n_rows, _BLOCK_ELEMENTS // max(n_uniform, 1)))
    buffer = torch.empty(block, n_uniform, dtype=dtype, device=states.device) if n_uniform else None
    for lo in range(0, n_rows, block):
        hi = min(lo + block, n_rows)
        h = states[lo:hi]
        parts_v, parts_i = [], []
        if n_uniform:
            scores = buffer[: hi - lo]
            torch.mm(h, uniform_table, out=scores)
            if targets is not None:
                _mask_uniform_hits(scores, targets[lo:hi], uniform_sorted, uniform_order)
            if keep_uniform < n_uniform:
                v, col = torch.topk(scores, keep_uniform, dim=1, sorted=False)
            else:
                v, col = (
                    scores.clone(),
                    torch.arange(n_uniform, device=h.device).expand(hi - lo, -1),
                )
            parts_v.append(v + uniform_bias)
            parts_i.append(uniform[col])
        if n_batch:
            cand = in_batch[lo:hi]
            v = torch.bmm(table[cand].to(dtype), h[:, :, None])[:, :, 0]
            v = v + in_batch_bias[lo:hi].to(dtype)
            if targets is not None:
                v = v.masked_fill(cand == targets[lo:hi, None], -math.inf)
            parts_v.append(v)
            parts_i.append(cand)
        cand_v = torch.cat(parts_v, dim=1) if len(parts_v) > 1 else parts_v[0]
        cand_i = torch.cat(parts_i, dim=1) if len(parts_i) > 1 else parts_i[0]
        if keep < cand_v.shape[1]:
            v, col = torch.topk(cand_v, keep, dim=1, sorted=False)
            values[lo:hi] = v
            ids[lo:hi] = cand_i.gather(1, col)
        else:
            values[lo:hi] = cand_v
            ids[lo:hi] = cand_i
    return values, ids


def _mask_uniform_hits(
    scores: torch.Tensor,
    targets: torch.Tensor,
    uniform_sorted: torch.Tensor,
    uniform_order: torch.Tensor,
) -> None:
    """Set ``scores[m, c] = -inf`` wherever ``uniform[c] == targets[m]`` (in place)."""
    lo = torch.searchsorted(uniform_sorted, targets)
    hi = torch.searchsorted(uniform_sorted, targets, right=True)
    count = hi - lo
    total = int(count.sum())
    if total == 0:
        return
    rows = torch.repeat_interleave(torch.arange(len(targets), device=scores.device), count)
    start = torch.repeat_interleave(lo, count)
    offset = torch.arange(total, device=scores.device) - torch.repeat_interleave(
        torch.cumsum(count, 0) - count, count
    )
    scores[rows, uniform_order[start + offset]] = -math.inf


def hard_negative_logits(
    states: torch.Tensor,
    table: torch.Tensor,
    negatives: BatchNegatives,
    session_of_position: torch.Tensor,
    k: int | None,
    *,
    targets: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest negative logits of every position, differentiable.

    Parameters
    ----------
    states : Tensor[M, d]
        Session states of the real positions.
    table : Tensor[N + 1, d]
        The shared item table (gradients flow into it and into ``states``).
    negatives : BatchNegatives
    session_of_position : LongTensor[M]
        Row of the batch each position belongs to (selects its in-batch negatives).
    k : int or None
        Number of negatives kept per position (None: all ``n_u + n_b``).
    targets : LongTensor[M], optional
        When given, candidates equal to the position's target are dropped first.

    Returns
    -------
    values : Tensor[M, k']
        ``h_m @ E[j] + bias_j`` of the kept candidates (unordered), ``-inf`` where fewer
        than ``k'`` valid candidates exist; ``k' = min(k, n_u + n_b)``.
    ids : LongTensor[M, k']
        Their item ids.

    Notes
    -----
    The values equal ``torch.topk`` of the full ``[M, n_u + n_b]`` score matrix (up to the
    order of ties), and so do their gradients; the full matrix is never stored: scores are
    computed in blocks of rows and only the kept entries enter the backward pass.
    """
    n_total = negatives.uniform.numel() + negatives.in_batch.shape[1]
    keep = n_total if k is None else int(k)
    in_batch = negatives.in_batch[session_of_position]
    in_batch_bias = negatives.in_batch_bias[session_of_position]
    return _HardNegativeLogits.apply(
        states,
        table,
        negatives.uniform,
        float(negatives.uniform_bias),
        in_batch,
        in_batch_bias,
        targets,
        keep,
    )
