"""Tracing the front: offline metrics and losses of one model at every preference point.

For every π of a grid (:mod:`paretoalign.front.grids`) the one trained model is
evaluated on the test log twice:

* **offline metrics** — :func:`paretoalign.metrics.evaluate_model` (MultiTRON's protocol:
  every position, full catalogue, top-``k``, seen items not excluded; global ratios);
* **losses** — :func:`evaluate_losses`: the training objective's per-objective losses
  :math:`L_k` and the regulariser :math:`L_{reg}` (book: method page, ``method-losses``),
  computed from
  the model package's public pieces exactly as its training step does: negatives from
  :func:`paretoalign.model.sampling.sample_negatives`, the kept hardest negative logits
  from :func:`~paretoalign.model.sampling.hard_negative_logits`, the per-position losses
  from :func:`paretoalign.model.losses.objective_losses` and the regulariser from
  :func:`~paretoalign.model.losses.epo_regulariser` (or the cosine penalty), under the
  model's training configuration (the tests check the result against the training
  step's ``compute_loss``). The negatives of batch ``b`` come from a generator seeded by
  ``(seed, b)`` only, so every π sees the same negatives (common random numbers: the
  differences between points are not sampling noise). Losses are averaged over all real
  positions (MultiTRON logs the mean of per-batch means; with equal batches the two agree
  up to the batches' different position counts).

MultiTRON's ``pareto_front.py`` records the same quantities (click/order loss,
non-uniformity, click/order recall, order density, recall × OD) per point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["batch_loss_sums", "evaluate_losses", "metric_columns", "trace_front"]


def _batch_seed(seed: int, batch: int) -> int:
    return int(np.random.SeedSequence([seed, batch]).generate_state(1, dtype=np.uint64)[0] >> 1)


def batch_loss_sums(
    model: Any,
    batch: dict[str, Any],
    pi: Any,
    negatives: Any,
    train_cfg: Any,
) -> tuple[np.ndarray, int]:
    r"""Sums over a batch's real positions of every objective's loss and the regulariser.

    Parameters
    ----------
    model : PreferenceRecommender
    batch : dict of Tensor
        ``inputs``, ``targets``, ``mask``, ``cart_label``, ``order_label`` (``[B, L]``) and
        ``session`` (``[B]``, the row of each session, selecting its in-batch negatives).
    pi : Tensor[K]
    negatives : BatchNegatives or None
    train_cfg : TrainConfig

    Returns
    -------
    sums : ndarray(float64, shape=(K + 1,))
        :math:`\sum_m \ell_{m,k}` per objective, then :math:`\sum_m \ell^{reg}_m`.
    count : int
        Number of real positions ``M``.

    Notes
    -----
    The training step's per-position losses and regulariser at ``π``
    (:func:`paretoalign.model.training.position_losses`; book: method page,
    ``method-losses``), without
    the training-only ``loss_weights``: the front's loss coordinates are the raw losses.
    """
    import torch

    from paretoalign.model.training import position_losses, regulariser_sum

    losses = position_losses(model, batch, pi, negatives, train_cfg)
    count = int(losses.shape[0])
    if count == 0:
        return np.zeros(len(model.objectives) + 1), 0
    reg = regulariser_sum(losses, pi, train_cfg)
    sums = torch.cat([losses.sum(dim=0), reg[None]]).double().numpy()
    return sums, count


def evaluate_losses(
    model: Any,
    log: Any,
    pi: Sequence[float],
    train_cfg: Any,
    *,
    batch_size: int = 256,
    seed: int = 0,
    max_len: int | None = None,
) -> dict[str, float]:
    """Per-objective losses and the regulariser of ``model`` at ``pi`` on ``log``.

    Parameters
    ----------
    model : PreferenceRecommender
        Evaluated in eval mode (no dropout), without gradients.
    log : SessionLog
    pi : sequence of K floats
    train_cfg : TrainConfig
        The model's training configuration (negatives, top-k negatives, logQ correction,
        regulariser); read from ``model.json``'s ``train_config``.
    batch_size : int
        Sessions per batch (in-batch negatives come from the batch).
    seed : int
        Seeds the negatives of each batch (same for every π).
    max_len : int, optional
        ``L``; default the model's.

    Returns
    -------
    dict
        ``loss_<objective>`` for every objective and ``loss_reg``: sums over all real
        positions divided by their count. NaN if the log has no real position.
    """
    import torch

    from paretoalign.data.labels import label_sequences
    from paretoalign.model.training import batch_negatives

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    length = int(max_len if max_len is not None else model.max_len)
    objectives = tuple(model.objectives)
    pi_t = torch.as_tensor(np.asarray(pi, dtype=np.float32))
    if pi_t.shape != (len(objectives),):
        raise ValueError(f"pi must have {len(objectives)} entries, got {tuple(pi_t.shape)}")
    generator = torch.Generator()
    sums = np.zeros(len(objectives) + 1)
    total = 0
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for b, lo in enumerate(range(0, log.n_sessions, batch_size)):
                seq = label_sequences(log[lo : lo + batch_size], length)
                if not seq.mask.any():
                    continue
                inputs = torch.from_numpy(seq.inputs).long()
                batch = {
                    "inputs": inputs,
                    "targets": torch.from_numpy(seq.targets).long(),
                    "mask": torch.from_numpy(seq.mask),
                    "cart_label": torch.from_numpy(seq.cart_label),
                    "order_label": torch.from_numpy(seq.order_label),
                    "session": torch.arange(len(seq.inputs)),
                }
                generator.manual_seed(_batch_seed(seed, b))
                negatives = batch_negatives(train_cfg, inputs, int(model.n_items), generator)
                batch_sums, count = batch_loss_sums(model, batch, pi_t, negatives, train_cfg)
                sums += batch_sums
                total += count
    finally:
        if was_training:
            model.train()
    if total == 0:
        return {**{f"loss_{o}": float("nan") for o in objectives}, "loss_reg": float("nan")}
    out = {f"loss_{o}": float(s / total) for o, s in zip(objectives, sums[:-1])}
    out["loss_reg"] = float(sums[-1] / total)
    return out


def metric_columns(front: pd.DataFrame) -> list[str]:
    """The offline metric columns of a front table (names with ``@``)."""
    return [c for c in front.columns if "@" in c]


def trace_front(
    model: Any,
    log: Any,
    grid: np.ndarray,
    *,
    train_cfg: Any,
    k: int = 20,
    item_log_popularity: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
    seed: int = 0,
    loss_batch_size: int = 256,
    progress: bool = False,
    threads: int | None = None,
) -> pd.DataFrame:
    """Offline metrics and losses at every preference point of ``grid``.

    Parameters
    ----------
    model : PreferenceRecommender
    log : SessionLog
        The (test) sessions.
    grid : ndarray(float64, shape=(P, K))
        Preference points, ``K = len(model.objectives)``.
    train_cfg : TrainConfig
    k : int
    item_log_popularity, item_vectors : ndarray, optional
        For popularity, novelty and diversity (see :func:`paretoalign.metrics.evaluate`).
    seed, loss_batch_size
        As in :func:`evaluate_losses`.
    progress : bool
        Print one line per point.
    threads : int, optional
        Threads of the metric kernels and of the top-k kernel (None: their defaults).

    Returns
    -------
    DataFrame
        One row per point: ``point`` (0..P-1), ``pi_<objective>``, every metric
        ``<name>@k``, ``loss_<objective>``, ``loss_reg``.
    """
    from paretoalign.metrics import evaluate_model
    from paretoalign.ranking import topk

    def topk_fn(queries, items, k, *, exclude=None, terms=None):
        return topk(queries, items, k, exclude=exclude, terms=terms, threads=threads)

    grid = np.asarray(grid, dtype=np.float64)
    objectives = tuple(model.objectives)
    if grid.ndim != 2 or grid.shape[1] != len(objectives):
        raise ValueError(f"grid must have shape (P, {len(objectives)}), got {grid.shape}")
    rows = []
    for i, pi in enumerate(grid):
        metrics = evaluate_model(
            model,
            log,
            pi.astype(np.float32),
            k=k,
            max_len=int(model.max_len),
            progress=False,
            item_log_popularity=item_log_popularity,
            item_vectors=item_vectors,
            threads=threads,
            topk_fn=topk_fn,
        )
        losses = evaluate_losses(model, log, pi, train_cfg, batch_size=loss_batch_size, seed=seed)
        row: dict[str, Any] = {"point": i}
        row.update({f"pi_{o}": float(w) for o, w in zip(objectives, pi)})
        row.update(dict(zip(metrics["metric"], metrics["value"].astype(float))))
        row.update(losses)
        rows.append(row)
        if progress:
            pis = ", ".join(f"{w:.3f}" for w in pi)
            print(
                f"  point {i + 1}/{len(grid)} π=({pis}) "
                f"click_recall@{k}={row.get(f'click_recall@{k}', float('nan')):.4f}",
                flush=True,
            )
    return pd.DataFrame(rows)
