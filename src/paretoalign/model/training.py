"""Training: one preference-conditioned model for the whole front.

The book's method page states π's sampling, the negatives and the losses (sections
``method-sampling``, ``method-negatives``, ``method-losses``).

Each optimiser step

1. takes the next global batch of sessions (a seeded permutation per epoch, or file
   order) and labels it with :func:`paretoalign.data.labels.label_sequences`,
2. draws **one** ``π ~ Dir(β)`` for the batch,
3. draws the batch's negatives (:func:`~paretoalign.model.sampling.sample_negatives`),
4. encodes the sessions, scores the positive and the hard negatives of every real
   position, and minimises

   .. math:: \\mathcal L = \\sum_k \\pi_k L_k + \\lambda L_{reg},\\qquad
             L_k = \\frac{1}{n}\\sum_{m} \\ell_{m,k},

   with ``n`` the batch's number of real positions.

Determinism. Every random draw of step ``s`` comes from streams seeded by
``(seed, s)``: π from a ``numpy.random.Generator``, negatives from a ``torch.Generator``,
dropout from the global torch generator reseeded per step (inside ``fork_rng``, so the
caller's global state is untouched). The data order is a function of ``(seed, epoch)``.
So a run resumed from a checkpoint after step ``s`` replays exactly the steps an
uninterrupted run would (bitwise on CPU with the same thread count).

Distributed data parallel (``torchrun --nproc_per_node=R``). Every rank builds the same
*global* batch, π and negatives (cheap: they depend only on ``(seed, s)``), then encodes
and backpropagates its own ``B / R`` sessions with the loss normalised by the *global*
real-position count times ``R``; DDP's gradient average then equals the single-process
gradient of the same global batch.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from paretoalign.data.labels import LabelledSequences, label_sequences
from paretoalign.data.sessionlog import CLICK, SessionLog
from paretoalign.model.architecture import ModelSpec
from paretoalign.model.config import TrainConfig
from paretoalign.model.io import (
    CHECKPOINT_NAME,
    load_checkpoint,
    save_checkpoint,
    save_model,
)
from paretoalign.model.losses import cosine_penalty, epo_regulariser, objective_losses
from paretoalign.model.recommender import PreferenceRecommender, first_real_column
from paretoalign.model.repeat import SessionTerms, add_terms
from paretoalign.model.sampling import BatchNegatives, hard_negative_logits, sample_negatives

__all__ = [
    "BatchSource",
    "StepLosses",
    "TrainResult",
    "build_model",
    "compute_loss",
    "to_device",
    "train",
]

# Stream tags for the per-step seeds (any distinct constants).
_PI_STREAM, _NEG_STREAM, _DROPOUT_STREAM, _ORDER_STREAM, _INIT_STREAM = 1, 2, 3, 4, 5


def _seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (``numpy.random.SeedSequence``)."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> 1)


# ---------------------------------------------------------------------------- data
class BatchSource:
    """Global batches of a :class:`SessionLog`, a pure function of ``(seed, step)``.

    Parameters
    ----------
    log : SessionLog
        Training sessions.
    cfg : TrainConfig
        Uses ``batch_size``, ``max_len``, ``shuffle``, ``drop_last``,
        ``drop_short_sessions``, ``length_bucketing`` and ``seed``.

    Notes
    -----
    With ``length_bucketing`` the shuffled sessions are cut into chunks of
    ``BUCKET_BATCHES`` batches, each chunk is sorted by click count (stable), cut into
    batches, and the batches of the epoch are shuffled. A batch then holds sessions of
    similar length, so the columns that are padding in every row (cut before the
    backbone runs) are most of the padding: the backbone's work follows the real
    positions instead of ``B x L``.
    """

    #: Batches per sorting chunk of the length bucketing.
    BUCKET_BATCHES = 32

    def __init__(self, log: SessionLog, cfg: TrainConfig) -> None:
        self.log = log
        self.cfg = cfg
        self.max_len = resolved_max_len(cfg)
        n_clicks = np.bincount(log.session_index()[log.type == CLICK], minlength=log.n_sessions)
        sessions = np.arange(log.n_sessions, dtype=np.int64)
        if cfg.drop_short_sessions:
            sessions = sessions[n_clicks >= 2]
        self.sessions = sessions
        self.n_clicks = n_clicks
        n = len(sessions)
        size = cfg.batch_size
        self.batches_per_epoch = n // size if cfg.drop_last else -(-n // size)
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"{n} training sessions cannot fill one batch of {size} (drop_last); "
                "lower batch_size or use more data"
            )
        positions = np.clip(n_clicks[sessions] - 1, 0, self.max_len)
        #: Mean real positions per batch: the loss normaliser of ``normalise_by="mean"``.
        self.mean_positions = float(positions.mean() * size) if n else 1.0
        self._order_epoch = -1
        self._order = sessions

    def total_steps(self) -> int:
        """Optimiser steps of the run: ``ceil(epochs * batches_per_epoch)``, capped."""
        steps = math.ceil(self.cfg.epochs * self.batches_per_epoch)
        if self.cfg.max_steps is not None:
            steps = min(steps, self.cfg.max_steps)
        return max(steps, 1)

    def order(self, epoch: int) -> np.ndarray:
        """Session indices in the order of ``epoch`` (batch ``i`` = rows ``i*B..(i+1)*B``)."""
        if epoch != self._order_epoch:
            order = self.sessions
            rng = np.random.default_rng(_seed(self.cfg.seed, _ORDER_STREAM, epoch))
            if self.cfg.shuffle:
                order = order[rng.permutation(len(order))]
            if self.cfg.length_bucketing:
                order = self._bucket(order, rng)
            self._order = order
            self._order_epoch = epoch
        return self._order

    def _bucket(self, order: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        size = self.cfg.batch_size
        chunk = size * self.BUCKET_BATCHES
        lengths = np.minimum(self.n_clicks[order], self.max_len + 1)
        starts = np.arange(0, len(order), chunk)
        # sort within each chunk: primary key chunk index, then length (stable)
        chunk_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(order)]))
        order = order[np.lexsort((lengths, chunk_of))]
        full = (len(order) // size) * size
        batches = order[:full].reshape(-1, size)
        batches = batches[rng.permutation(len(batches))]
        return np.concatenate([batches.reshape(-1), order[full:]])

    def position(self, step: int) -> tuple[int, int]:
        """``(epoch, batch index within the epoch)`` of ``step``."""
        return divmod(step, self.batches_per_epoch)

    def batch(self, step: int) -> LabelledSequences:
        """The labelled global batch of ``step``."""
        epoch, index = self.position(step)
        size = self.cfg.batch_size
        rows = self.order(epoch)[index * size : (index + 1) * size]
        return label_sequences(self.log.take(rows), self.max_len)


def resolved_max_len(cfg: TrainConfig) -> int:
    """``cfg.max_len``, or MultiTRON's 50 when unset (the CLI fills in ``[data] max_len``)."""
    return cfg.max_len if cfg.max_len is not None else 50


def draw_pi(cfg: TrainConfig, step: int) -> np.ndarray:
    """``π ~ Dir(β)`` of ``step`` (one per batch, as in the reference), float64[K]."""
    rng = np.random.default_rng(_seed(cfg.seed, _PI_STREAM, step))
    return rng.dirichlet(cfg.beta_vector())


# ---------------------------------------------------------------------------- loss
@dataclass
class StepLosses:
    """Per-objective batch losses ``L_k``, the regulariser and the total (floats)."""

    total: float
    objectives: dict[str, float]
    regulariser: float
    n_positions: int


def position_losses(
    model: PreferenceRecommender,
    batch: dict[str, torch.Tensor],
    pi: torch.Tensor,
    negatives: BatchNegatives | None,
    cfg: TrainConfig,
    *,
    encoder: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Per-position losses ``l_{m,k}`` of the objectives, ``[M, K]`` (no loss weights).

    States of the batch's ``M`` real positions under ``π``, positive logit
    ``p_m = h_m · E[y_m]``, the ``cfg.topk_negatives`` hardest negative logits (the
    target removed when ``remove_accidental_hits`` or with catalogue negatives), then
    :func:`paretoalign.model.losses.objective_losses`. Shared by the training step
    (:func:`compute_loss`) and the front's loss coordinates
    (:func:`paretoalign.front.trace.batch_loss_sums`). ``batch`` and ``encoder`` as in
    :func:`compute_loss`.
    """
    # Cut the columns that are padding in every row (states of real positions unchanged).
    first = first_real_column(batch["inputs"])
    inputs, mask = batch["inputs"][:, first:], batch["mask"][:, first:]
    n_rows, length = inputs.shape
    pi_rows = pi[None, :].expand(n_rows, -1)
    states = (encoder or model.encode_unchecked)(inputs, pi_rows)
    positions = torch.nonzero(mask.reshape(-1)).squeeze(1)
    hidden = states.reshape(-1, states.shape[-1])[positions]
    targets = batch["targets"][:, first:].reshape(-1)[positions]
    table = model.item_embeddings()
    positive = (hidden * table[targets].to(hidden.dtype)).sum(dim=1)
    terms = model.session_terms(inputs, states, pi_rows)
    history = None
    if terms is not None:
        # every position's full score of every slot's item, [B, l(t), l(s)]: one batched
        # product with the B x l input rows (not a gather of M x l rows per position)
        rows = table[inputs].to(states.dtype).transpose(1, 2)
        history = (torch.bmm(states, rows) + terms.values).reshape(-1, length)[positions]
        terms = SessionTerms(
            terms.ids.reshape(-1, length)[positions], terms.values.reshape(-1, length)[positions]
        )
        positive = add_terms(positive[:, None], targets[:, None], terms)[:, 0]
    negative_values = None
    if negatives is not None:
        session = batch["session"][positions // length]
        negative_values, negative_ids = hard_negative_logits(
            hidden,
            table,
            negatives,
            session,
            cfg.topk_negatives,
            targets=targets if cfg.remove_accidental_hits or cfg.negatives == "catalogue" else None,
        )
        if terms is not None:
            negative_values = _with_history_negatives(
                negative_values, negative_ids, history, targets, terms.ids
            )
        negative_values = negative_values.float()
    positive = positive.float()
    return objective_losses(
        model.objectives,
        positive,
        negative_values,
        batch["cart_label"][:, first:].reshape(-1)[positions],
        batch["order_label"][:, first:].reshape(-1)[positions],
        bce_negatives=cfg.bce_negatives,
    )


def _with_history_negatives(
    values: torch.Tensor,
    ids: torch.Tensor,
    history: torch.Tensor,
    targets: torch.Tensor,
    history_ids: torch.Tensor,
) -> torch.Tensor:
    """The sampled hard negatives ``[M, k]`` plus every history item of the position as a
    negative with its full score ``h . e_j + r(j)`` (``history`` ``[M, l]``, the items
    ``history_ids`` ``[M, l]``, 0 = no item), ``[M, k + l]``.

    With the repeat bonus the items of a position's own history are the competitors that
    matter most (book: method page, ``method-repeat``), so each is scored exactly, once:
    sampled candidates that are history items are dropped (``-inf``; they come back in the
    history block with their term), and so are empty slots and the target itself (it is
    the positive).
    """
    known = history_ids[:, None, :] != 0
    in_history = ((ids[:, :, None] == history_ids[:, None, :]) & known).any(2)
    values = values.masked_fill(in_history, -math.inf)
    drop = (history_ids == 0) | (history_ids == targets[:, None])
    return torch.cat([values, history.to(values.dtype).masked_fill(drop, -math.inf)], dim=1)


def batch_negatives(
    cfg: TrainConfig, inputs: torch.Tensor, n_items: int, generator: torch.Generator
) -> BatchNegatives:
    """The negatives of one batch as ``cfg`` trains with them, ``inputs`` ``[B, L]``.

    ``cfg.negatives == "catalogue"``: every item ``1..N`` as a shared negative of every
    position (no in-batch draws; the target is removed by :func:`position_losses`).
    Otherwise :func:`paretoalign.model.sampling.sample_negatives` with the config's counts,
    rejection and logQ settings, drawn from ``generator`` (seed it first). Used by the
    training step and by the front's loss coordinates, so both see the same negatives.
    """
    if cfg.negatives == "catalogue":
        rows = inputs.shape[0]
        return BatchNegatives(
            torch.arange(1, n_items + 1, device=inputs.device),
            0.0,
            torch.zeros(rows, 0, dtype=torch.long, device=inputs.device),
            torch.zeros(rows, 0, device=inputs.device),
        )
    return sample_negatives(
        inputs,
        n_items,
        cfg.num_uniform_negatives,
        cfg.num_batch_negatives,
        generator=generator,
        reject_in_batch_items=cfg.reject_in_batch_items,
        logq_correction=cfg.logq_correction,
    )


def regulariser_sum(losses: torch.Tensor, pi: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """``sum_m l^reg_m`` of ``cfg.regularizer`` over per-position losses ``[M, K]`` at ``π``."""
    pi_f = pi.to(losses.dtype)
    if cfg.regularizer == "epo":
        return epo_regulariser(losses, pi_f).sum()
    if cfg.regularizer == "cosine":
        return cosine_penalty(losses, pi_f).sum()
    return losses.new_zeros(())


def compute_loss(
    model: PreferenceRecommender,
    batch: dict[str, torch.Tensor],
    pi: torch.Tensor,
    negatives: BatchNegatives | None,
    cfg: TrainConfig,
    *,
    normaliser: float | None = None,
    encoder: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training loss of one (local) batch.

    Parameters
    ----------
    model : PreferenceRecommender
    batch : dict
        ``inputs``, ``targets`` (long ``[B, L]``), ``mask`` (bool), ``cart_label``,
        ``order_label`` (``[B, L]``), ``session`` (long ``[B]``: row of each session in
        the global batch, selecting its in-batch negatives).
    pi : Tensor[K]
    negatives : BatchNegatives or None
        None when no objective needs negatives.
    cfg : TrainConfig
    normaliser : float, optional
        ``n`` in ``L_k = sum / n``; default the batch's own number of real positions.
    encoder : callable, optional
        Replaces ``model.encode_unchecked`` (the DDP wrapper's forward).

    Returns
    -------
    loss : Tensor[]
        ``sum_k π_k L_k + λ L_reg`` with ``L = sum / normaliser``.
    sums : Tensor[K + 1]
        Detached sums over the batch's real positions of ``l_k`` and of ``l_reg``.
    count : int
        The batch's number of real positions (``sums / count`` are the batch means).
    """
    losses = position_losses(model, batch, pi, negatives, cfg, encoder=encoder)
    count = losses.shape[0]
    n = float(normaliser) if normaliser is not None else float(max(count, 1))
    if cfg.loss_weights is not None:
        losses = losses * losses.new_tensor(cfg.loss_weights)
    objective_sums = losses.sum(dim=0)
    regulariser = regulariser_sum(losses, pi, cfg)
    loss = (
        (pi.to(losses.dtype) * objective_sums).sum() + cfg.regularization_penalty * regulariser
    ) / n
    sums = torch.cat([objective_sums.detach(), regulariser.detach()[None]])
    return loss, sums, count


def build_model(cfg: TrainConfig, n_items: int) -> PreferenceRecommender:
    """The model of ``cfg`` for ``n_items`` items, initialised from ``cfg.seed``.

    ``cfg`` is an :class:`~paretoalign.model.architecture.Architecture`; the spec is that
    architecture with ``n_items``, ``cfg.objectives`` and ``max_len`` resolved.
    """
    spec = ModelSpec(
        **{
            **cfg.architecture().model_dump(),
            "n_items": n_items,
            "objectives": cfg.objectives,
            "max_len": resolved_max_len(cfg),
        }
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_seed(cfg.seed, _INIT_STREAM))
        return PreferenceRecommender.from_spec(spec)


# ---------------------------------------------------------------------------- loop
@dataclass
class TrainResult:
    """What a run did: steps, throughput, and the per-step loss history."""

    model: PreferenceRecommender
    steps: int
    total_steps: int
    seconds: float
    events: int
    data_seconds: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Real (click-target) positions trained per second of step time."""
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def data_share(self) -> float:
        """Share of the step time spent building batches (labelling, negatives excluded)."""
        return self.data_seconds / self.seconds if self.seconds > 0 else float("nan")


def to_device(seq: LabelledSequences, rows: slice, device: torch.device) -> dict[str, Any]:
    """Rows ``rows`` of labelled sequences as tensors on ``device``: ``inputs`` and
    ``targets`` (int64), ``mask``, ``cart_label``, ``order_label`` and the row's
    ``session`` index (the batch a training step reads)."""
    return {
        "inputs": torch.from_numpy(seq.inputs[rows]).long().to(device),
        "targets": torch.from_numpy(seq.targets[rows]).long().to(device),
        "mask": torch.from_numpy(seq.mask[rows]).to(device),
        "cart_label": torch.from_numpy(seq.cart_label[rows]).to(device),
        "order_label": torch.from_numpy(seq.order_label[rows]).to(device),
        "session": torch.arange(seq.n_sequences, device=device)[rows],
    }


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)``; initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("LOCAL_RANK") else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


@contextlib.contextmanager
def deterministic_cpu(device: torch.device) -> Iterator[None]:
    """Run torch's deterministic algorithms inside the block when ``device`` is the CPU.

    On CPU, the backward pass of advanced indexing (``table[ids]``: an
    ``index_put_(accumulate=True)``) sums the rows of repeated ids in an order that
    depends on thread scheduling once a tensor is large enough to be split across
    threads, so two runs with the same seed would end with different bits (measured on
    the smoke profile at 2 threads). ``torch.use_deterministic_algorithms(True)`` selects
    the sorted, deterministic kernel instead (no measurable cost on the smoke run). The
    previous setting is restored on exit. On CUDA the setting is left alone (it would
    need ``CUBLAS_WORKSPACE_CONFIG`` and slower kernels; GPU runs are not bitwise).
    """
    if device.type != "cpu":
        yield
        return
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def train(
    cfg: TrainConfig,
    log: SessionLog,
    out_dir: str | Path,
    *,
    n_items: int | None = None,
    device: str | torch.device = "cpu",
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
    extra_metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Train a :class:`PreferenceRecommender` on ``log`` and save it to ``out_dir``.

    On CPU the run is bitwise reproducible: the same config, seed, data and thread count
    give the same parameters (:func:`deterministic_cpu`), and a resumed run ends equal
    to an uninterrupted one.

    Parameters
    ----------
    cfg : TrainConfig
    log : SessionLog
        Training sessions.
    out_dir : path
        Receives ``checkpoint.pt`` (every ``cfg.checkpoint_every`` steps and at the end),
        ``model.safetensors`` + ``model.json`` (at the end) and ``history.json``.
    n_items : int, optional
        Catalogue size (default ``log.n_items``; pass the data set's to cover test items).
    device : str or torch.device
        ``"cpu"`` (fp32) or ``"cuda"`` (autocast in ``cfg.precision``).
    resume : bool
        Continue from ``out_dir/checkpoint.pt`` (its config must equal ``cfg``).
    stop_after : int, optional
        Stop once this many steps are done (without changing the schedule, which is
        fixed by ``cfg``): a checkpoint is written, the final model is not.
    progress : bool
        Show a progress bar (rank 0) with the loss and events/s.
    extra_metadata : dict, optional
        Added to ``model.json``.
    """
    device = torch.device(device)
    with deterministic_cpu(device):
        return _train(
            cfg,
            log,
            Path(out_dir),
            n_items=n_items,
            device=device,
            resume=resume,
            stop_after=stop_after,
            progress=progress,
            extra_metadata=extra_metadata,
        )


@dataclass
class _Run:
    """Everything one training run's steps share (built by :func:`_start_run`)."""

    cfg: TrainConfig
    source: BatchSource
    model: PreferenceRecommender
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    device: torch.device
    autocast_dtype: torch.dtype | None
    rank: int
    world: int
    n_items: int
    encoder: nn.Module | None  # the DDP wrapper when world > 1
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator(device=self.device)

    @property
    def total(self) -> int:
        return self.source.total_steps()


def _train(
    cfg: TrainConfig,
    log: SessionLog,
    out_dir: Path,
    *,
    n_items: int | None,
    device: torch.device,
    resume: bool,
    stop_after: int | None,
    progress: bool,
    extra_metadata: dict[str, Any] | None,
) -> TrainResult:
    """The body of :func:`train` (arguments already normalised): start (or resume) the
    run, take the steps with checkpoints, then save the model and the history."""
    run = _start_run(cfg, log, n_items, device)
    start, history = _resume(run, out_dir) if resume else (0, [])
    total = run.total
    end = total if stop_after is None else min(total, max(stop_after, start))
    bar = None
    if progress and run.rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=start, desc="train", unit="step", dynamic_ncols=True)
    seconds = data_seconds = 0.0
    events = 0
    run.model.train()
    fork_devices = [run.device.index or 0] if run.device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        for step in range(start, end):
            record, step_s, data_s, n_global = _step(run, step)
            seconds += step_s
            data_seconds += data_s
            events += n_global
            history.append(record)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.4f}", ev_s=f"{events / seconds:,.0f}")
            done = step + 1
            if run.rank == 0 and (done % cfg.checkpoint_every == 0 or done == end):
                _write_checkpoint(
                    out_dir, run.model, run.optimizer, run.scaler, cfg, run.source, done, history
                )
    if bar is not None:
        bar.close()
    _finish(run, out_dir, history, finished=end >= total, extra_metadata=extra_metadata)
    return TrainResult(run.model, end, total, seconds, events, data_seconds, history)


def _start_run(
    cfg: TrainConfig, log: SessionLog, n_items: int | None, device: torch.device
) -> _Run:
    """Check the arguments, join the process group (torchrun), build model and optimiser."""
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda requested but CUDA is not available")
    rank, world = _distributed()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {world} ranks")
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    n_items = int(n_items if n_items is not None else log.n_items)
    if n_items < log.n_items:
        raise ValueError(f"n_items {n_items} < the log's n_items {log.n_items}")
    source = BatchSource(log, cfg)
    model = build_model(cfg, n_items).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.precision]
    if device.type != "cuda":
        autocast_dtype = None  # CPU bf16 autocast is ~10x slower here (book: method page)
    scaler = torch.amp.GradScaler("cuda", enabled=autocast_dtype is torch.float16)
    encoder: nn.Module | None = None
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        encoder = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    return _Run(
        cfg, source, model, optimizer, scaler, device, autocast_dtype, rank, world, n_items, encoder
    )


def _resume(run: _Run, out_dir: Path) -> tuple[int, list[dict[str, Any]]]:
    """Load ``checkpoint.pt`` into the run; return its step and history."""
    state = load_checkpoint(out_dir / CHECKPOINT_NAME, run.device)
    if state["config"] != run.cfg.model_dump_json():
        raise ValueError(
            f"{out_dir / CHECKPOINT_NAME}: written with a different [train] config; "
            "resume needs the same one"
        )
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scaler.load_state_dict(state["scaler"])
    return int(state["position"]["step"]), list(state["history"])


def _step(run: _Run, step: int) -> tuple[dict[str, Any], float, float, int]:
    """One optimiser step: this rank's rows of batch ``step``, π and negatives seeded by
    ``(seed, step)``, the loss, backward, clipping, Adam. Returns the history record, the
    step's seconds, its data seconds and the batch's real positions (all ranks)."""
    cfg, device = run.cfg, run.device
    t0 = time.perf_counter()
    seq = run.source.batch(step)
    local = cfg.batch_size // run.world
    batch = to_device(seq, slice(run.rank * local, (run.rank + 1) * local), device)
    global_inputs = torch.from_numpy(seq.inputs).long().to(device)
    n_global = int(seq.mask.sum())
    t1 = time.perf_counter()
    pi = torch.as_tensor(draw_pi(cfg, step), dtype=torch.float32, device=device)
    # clicks is always an objective (TrainConfig), so every step needs negatives
    run.generator.manual_seed(_seed(cfg.seed, _NEG_STREAM, step))
    negatives = batch_negatives(cfg, global_inputs, run.n_items, run.generator)
    torch.manual_seed(_seed(cfg.seed, _DROPOUT_STREAM, step, run.rank))
    lr = cfg.lr_at(step, run.total)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    run.optimizer.zero_grad(set_to_none=True)
    context = (
        torch.autocast(device.type, dtype=run.autocast_dtype)
        if run.autocast_dtype is not None
        else contextlib.nullcontext()
    )
    normaliser = run.source.mean_positions if cfg.normalise_by == "mean" else n_global
    with context:
        loss, sums, _ = compute_loss(
            run.model,
            batch,
            pi,
            negatives,
            cfg,
            normaliser=max(normaliser, 1) / run.world,
            encoder=run.encoder,
        )
    run.scaler.scale(loss).backward()
    if cfg.grad_clip is not None:
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), cfg.grad_clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    t2 = time.perf_counter()
    record = _record(step, lr, pi, sums, cfg, run.world, n_global)
    return record, t2 - t0, t1 - t0, n_global


def _finish(
    run: _Run,
    out_dir: Path,
    history: list[dict[str, Any]],
    *,
    finished: bool,
    extra_metadata: dict[str, Any] | None,
) -> None:
    """Save the model and the history (rank 0, once every step is done); sync the ranks."""
    meta: dict[str, Any] = {
        "train_config": run.cfg.model_dump(mode="json"),
        "steps": run.total,
        **(extra_metadata or {}),
    }
    if run.world > 1:
        meta["ddp"] = {
            "world_size": run.world,
            "max_parameter_difference_across_ranks": _rank_disagreement(run.model),
        }
    if run.rank == 0 and finished:
        save_model(run.model, out_dir, meta)
        _write_history(out_dir / "history.json", history)
    if run.world > 1:
        import torch.distributed as dist

        dist.barrier()
    run.model.eval()


def _rank_disagreement(model: nn.Module) -> float:
    """Largest absolute difference between any rank's parameters and rank 0's."""
    import torch.distributed as dist

    worst = torch.zeros((), dtype=torch.float64, device=next(model.parameters()).device)
    for param in model.parameters():
        reference = param.detach().clone()
        dist.broadcast(reference, src=0)
        worst = torch.maximum(worst, (param.detach() - reference).abs().max().double())
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(worst)


def _record(
    step: int,
    lr: float,
    pi: torch.Tensor,
    sums: torch.Tensor,
    cfg: TrainConfig,
    world: int,
    n_positions: int,
) -> dict[str, Any]:
    """One history row: π, lr and the batch means of the losses (summed over DDP ranks).

    ``loss`` is ``sum_k π_k mean_k + λ mean_reg``, the per-position objective whatever
    the normaliser of the optimised loss.
    """
    sums = sums.double()
    if world > 1:
        import torch.distributed as dist

        dist.all_reduce(sums)
    means = (sums / max(n_positions, 1)).tolist()
    pi_values = pi.double().tolist()
    row: dict[str, Any] = {"step": step, "lr": lr, "n_positions": n_positions}
    row.update({f"pi_{name}": p for name, p in zip(cfg.objectives, pi_values)})
    row["loss"] = sum(p * m for p, m in zip(pi_values, means[:-1])) + (
        cfg.regularization_penalty * means[-1]
    )
    row.update({f"loss_{name}": v for name, v in zip(cfg.objectives, means[:-1])})
    row["loss_reg"] = means[-1]
    return row


def _write_checkpoint(
    out_dir: Path,
    model: PreferenceRecommender,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    cfg: TrainConfig,
    source: BatchSource,
    step: int,
    history: list[dict[str, Any]],
) -> None:
    epoch, index = source.position(step)
    save_checkpoint(
        out_dir / CHECKPOINT_NAME,
        {
            "format_version": 1,
            "config": cfg.model_dump_json(),
            "spec": model.spec.model_dump_json(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            # Every random stream of step s is seeded by (seed, s); the data order by
            # (seed, epoch). The position below is therefore the whole RNG state needed.
            "rng": {"seed": cfg.seed, "torch_global": torch.get_rng_state()},
            "position": {"step": step, "epoch": epoch, "batch_in_epoch": index},
            "history": history,
        },
    )


def _write_history(path: Path, history: list[dict[str, Any]]) -> None:
    import json

    from paretoalign.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(history) + "\n")
