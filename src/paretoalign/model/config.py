"""`TrainConfig`: the ``[train]`` table of a profile, and MultiTRON's JSON configs.

Every field has the project's default; ``multitron_faithful = true`` switches the defaults
of every field that is *not* given explicitly to the reference implementation's values
(``otto-de/MultiTRON`` ``da0664c``; book: method page, ``method-deviations``), so

.. code-block:: toml

    [train]
    multitron_faithful = true

trains exactly as the reference does (one deliberate exception: mixed precision only
where CUDA exists, see ``precision``). :func:`from_multitron_json` reads the reference's
own JSON files (``configs/otto/tron_200hs_3l_256bs_10epoch_beta05_reg05.json``, ...).

Deviations of the project defaults from the reference, and why (the book's method page,
``method-deviations``, and its training chapter show their effects):

* ``lr`` 2e-3 with linear warm-up and cosine decay (reference: constant 1e-4). With 1e-4
  the reference's click recall after an epoch is no better than most-popular
  (book: method page, ``method-deviations``).
* ``logq_correction`` (reference: none). In-batch negatives are drawn in proportion to
  popularity; without the correction popular items are over-penalised.
* ``remove_accidental_hits`` (reference: none): a negative equal to the target is dropped.
* ``num_uniform_negatives`` 2048 (reference 16384): on CPU the scoring of the uniform
  negatives dominates the step; with the logQ correction fewer suffice.
* ``shuffle`` (reference: chronological file order).
* ``drop_short_sessions`` (reference: sessions with fewer than two clicks stay in the
  batch with an all-zero mask; they contribute nothing but padding).
* ``length_bucketing`` and ``normalise_by = "mean"`` exist as options but are **off**:
  batching sessions of similar length makes a step about 1.5x faster (less padding to
  encode) but cost 0.13 click recall@20 after 3 epochs on the smoke shop (0.708 ->
  0.576), with either loss normaliser.
* ``hidden_size`` 64, ``num_layers`` 2, ``epochs`` small: CPU budgets of the profiles.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paretoalign.model.architecture import Architecture

__all__ = [
    "MULTITRON_DEFAULTS",
    "OBJECTIVES",
    "SeedsConfig",
    "TrainConfig",
    "from_multitron_json",
]

#: Objectives a model can be trained for (book: method page, ``method-losses``).
OBJECTIVES: tuple[str, ...] = ("clicks", "carts", "orders", "distortion")

#: The reference implementation's choices (``otto-de/MultiTRON`` ``da0664c``; book: method
#: page, ``method-deviations``).
MULTITRON_DEFAULTS: dict[str, Any] = {
    "objectives": ("clicks", "orders"),
    "backbone": "transformer",
    "hidden_size": 200,
    "num_layers": 3,
    "num_heads": 1,
    "dropout": 0.05,
    "max_len": 50,
    "share_embeddings": True,
    "ffn_size": None,
    "normalize_items": False,
    "identity_init": False,
    "item_codes": 0.0,
    "copy_recent": 0,
    "pi_item_bias": False,
    "repeat_bonus": False,
    "beta": 0.5,
    "regularizer": "epo",
    "regularization_penalty": 0.5,
    "bce_negatives": False,
    "loss_weights": None,
    "negatives": "sampled",
    "num_uniform_negatives": 16384,
    "num_batch_negatives": 32,
    "topk_negatives": 100,
    "reject_in_batch_items": True,
    "logq_correction": False,
    "remove_accidental_hits": False,
    "batch_size": 256,
    "epochs": 10,
    "lr": 1e-4,
    "warmup_steps": 0,
    "schedule": "constant",
    "min_lr_ratio": 1.0,
    "weight_decay": 0.0,
    "grad_clip": None,
    "shuffle": False,
    "drop_last": True,
    "drop_short_sessions": False,
    "length_bucketing": False,
    "normalise_by": "batch",
    "precision": "fp16",
}


class TrainConfig(Architecture):
    """Hyperparameters of one training run (the ``[train]`` table; unknown keys rejected).

    Attributes are documented inline; ``Field`` descriptions repeat them for ``--help``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    multitron_faithful: bool = Field(
        False, description="fill every unset field with MultiTRON's reference value"
    )
    seed: int = Field(0, description="seeds data order, π draws, negatives, init, dropout")

    # ---------------------------------------------------------------- model
    objectives: tuple[Literal["clicks", "carts", "orders", "distortion"], ...] = Field(
        ("clicks", "carts", "orders"), description="2 to 4 distinct objectives, in π order"
    )
    # the architecture (backbone ... repeat_bonus, max_len): inherited from Architecture

    # ---------------------------------------------------------------- objectives
    beta: float | tuple[float, ...] = Field(
        1.0, description="Dirichlet concentration of π (scalar: symmetric)"
    )
    regularizer: Literal["epo", "cosine", "none"] = Field(
        "epo", description="approximate-EPO non-uniformity (MultiTRON) or COSMOS cosine"
    )
    regularization_penalty: float = Field(0.2, ge=0.0, description="λ")
    loss_weights: tuple[float, ...] | None = Field(
        None,
        description="fixed scale w_k of each objective's loss, before π and the regulariser "
        "(None: all 1, as MultiTRON); evens out losses of different size",
    )
    bce_negatives: bool = Field(
        False,
        description="carts/orders BCE also scores the negatives as label 0 (paretoalign "
        "extension; MultiTRON: BCE on the positive logit only)",
    )

    # ---------------------------------------------------------------- negatives
    negatives: Literal["sampled", "catalogue"] = Field(
        "sampled",
        description="sampled: uniform + in-batch draws (MultiTRON); catalogue: every item "
        "(exact softmax when topk_negatives is None; small catalogues only)",
    )
    num_uniform_negatives: int = Field(2048, ge=0, description="shared by the whole batch")
    num_batch_negatives: int = Field(32, ge=0, description="per session, from other sessions")
    topk_negatives: int | None = Field(
        100, ge=1, description="keep the k largest negative logits (None: keep all)"
    )
    reject_in_batch_items: bool = Field(
        True, description="uniform draws exclude the batch's input items"
    )
    logq_correction: bool = Field(True, description="subtract log expected sample count")
    remove_accidental_hits: bool = Field(True, description="drop negatives equal to the target")

    # ---------------------------------------------------------------- optimisation
    batch_size: int = Field(256, ge=1, description="global batch (split over DDP ranks)")
    epochs: float = Field(1.0, gt=0.0, description="passes over the train sessions")
    max_steps: int | None = Field(None, ge=1, description="stop after this many steps")
    lr: float = Field(2e-3, gt=0.0)
    warmup_steps: int = Field(20, ge=0)
    schedule: Literal["constant", "cosine"] = "cosine"
    min_lr_ratio: float = Field(0.05, ge=0.0, le=1.0, description="final lr / lr (cosine)")
    weight_decay: float = Field(0.0, ge=0.0, description="Adam L2 penalty (0: plain Adam)")
    grad_clip: float | None = Field(1.0, gt=0.0, description="global gradient-norm clip")
    shuffle: bool = Field(True, description="seeded permutation per epoch (else file order)")
    drop_last: bool = True
    drop_short_sessions: bool = Field(True, description="skip sessions with < 2 clicks")
    length_bucketing: bool = Field(
        False, description="batch sessions of similar length (less padding to encode)"
    )
    normalise_by: Literal["batch", "mean"] = Field(
        "batch",
        description="loss divisor: the batch's real positions (MultiTRON) or their "
        "mean over the data (equal weight per position across batches)",
    )
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="autocast dtype on CUDA; CPU always trains in fp32"
    )

    # ---------------------------------------------------------------- bookkeeping
    checkpoint_every: int = Field(200, ge=1, description="steps between checkpoints")
    eval_max_sessions: int | None = Field(
        None, ge=1, description="cap on test sessions for summary.json (None: all)"
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_reference_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("multitron_faithful"):
            return {**MULTITRON_DEFAULTS, **data}
        return data

    @field_validator("objectives")
    @classmethod
    def _check_objectives(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not 2 <= len(value) <= len(OBJECTIVES):
            raise ValueError(f"need 2 to {len(OBJECTIVES)} objectives, got {len(value)}")
        if len(set(value)) != len(value):
            raise ValueError(f"objectives must be distinct, got {value}")
        if "clicks" not in value:
            raise ValueError("'clicks' must be an objective (it defines the positive logit)")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> TrainConfig:
        beta = self.beta_vector()
        if any(not math.isfinite(b) or b <= 0 for b in beta):
            raise ValueError(f"beta must be positive and finite, got {self.beta}")
        if self.loss_weights is not None and (
            len(self.loss_weights) != len(self.objectives)
            or any(not math.isfinite(w) or w <= 0 for w in self.loss_weights)
        ):
            raise ValueError(
                f"loss_weights needs {len(self.objectives)} positive values, got {self.loss_weights}"
            )
        if self.num_uniform_negatives + self.num_batch_negatives == 0 and (
            "clicks" in self.objectives
        ):
            raise ValueError("the sampled softmax needs uniform or in-batch negatives")
        return self

    # ---------------------------------------------------------------- helpers
    @property
    def n_objectives(self) -> int:
        return len(self.objectives)

    def beta_vector(self) -> tuple[float, ...]:
        """The Dirichlet concentration as one value per objective."""
        if isinstance(self.beta, (int, float)):
            return (float(self.beta),) * len(self.objectives)
        if len(self.beta) != len(self.objectives):
            raise ValueError(
                f"beta has {len(self.beta)} entries for {len(self.objectives)} objectives"
            )
        return tuple(float(b) for b in self.beta)

    def lr_at(self, step: int, total_steps: int) -> float:
        """Learning rate of optimiser step ``step`` (0-based) of ``total_steps``.

        Linear warm-up from ``lr / warmup_steps`` to ``lr`` over ``warmup_steps`` steps,
        then constant or cosine decay to ``min_lr_ratio * lr`` at the last step.
        """
        if self.warmup_steps and step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        if self.schedule == "constant":
            return self.lr
        span = max(total_steps - self.warmup_steps - 1, 1)
        progress = min(max(step - self.warmup_steps, 0) / span, 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.lr * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)


class SeedsConfig(BaseModel):
    """The ``[seeds]`` table: further training seeds of the profile's model.

    ``paretoalign seeds`` trains the ``[train]`` model once per seed of ``train`` (each
    differing from the profile's own run only in ``[train] seed``: data order, π draws,
    negatives, initial weights, dropout) into ``results/<profile>/seeds/<seed>/`` and
    writes each one's ``summary.json``; the training chapter states its claims for every
    seed. Empty (the default): the profile's own seed only.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: tuple[int, ...] = Field((), description="extra [train] seeds (the profile's excluded)")

    @field_validator("train")
    @classmethod
    def _distinct(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"seeds must be distinct, got {list(value)}")
        return value


# ---------------------------------------------------------------------------- MultiTRON JSON
_LOSS_TO_OBJECTIVES = {
    "ssm_and_be": ("clicks", "orders"),
    # pareto_front.py tests this misspelling; accept it as the same loss
    "ssm_and_bce": ("clicks", "orders"),
    "ssm_and_distortion": ("clicks", "distortion"),
}

_MULTITRON_KEYS = {
    "beta": "beta",
    "regularization_penalty": "regularization_penalty",
    "hidden_size": "hidden_size",
    "num_layers": "num_layers",
    "dropout": "dropout",
    "num_batch_negatives": "num_batch_negatives",
    "num_uniform_negatives": "num_uniform_negatives",
    "reject_in_batch_items": "reject_in_batch_items",
    "max_epochs": "epochs",
    "batch_size": "batch_size",
    "max_session_length": "max_len",
    "lr": "lr",
    "share_embeddings": "share_embeddings",
}
# Keys with no effect on training here, checked for the values the reference supports.
_MULTITRON_FIXED = {
    "sampling_style": ("batchwise",),
    "output_bias": (False,),
    "optimizer": ("adam",),
    "overfit_batches": (0,),
}
_MULTITRON_IGNORED = {
    "dataset",  # the data set comes from the profile's [data] table
    "limit_val_batches",  # validation is the summary evaluation here
    "accelerator",  # --device on the command line
    # only read in eventwise/sessionwise sampling; batchwise ignores it
    # (book: method page, ``method-negatives``)
    "reject_uniform_session_items",
}


def from_multitron_json(source: str | Path | dict[str, Any], **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` from one of MultiTRON's JSON config files (or its dict).

    ``loss`` maps to ``objectives`` (``"ssm_and_be"`` -> clicks + orders,
    ``"ssm_and_distortion"`` -> clicks + distortion); ``topk_sampling`` /
    ``topk_sampling_k`` to ``topk_negatives``; ``shuffling_style`` ``"no_shuffling"`` to
    ``shuffle = false``. Every other choice takes the reference value
    (``multitron_faithful = true``). Unknown keys and unsupported values raise ValueError.
    ``overrides`` are applied last (e.g. ``epochs=1``).
    """
    if isinstance(source, dict):
        raw, where = dict(source), "MultiTRON config"
    else:
        path = Path(source)
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        where = str(path)
    fields: dict[str, Any] = {"multitron_faithful": True}
    for key, value in raw.items():
        if key in _MULTITRON_KEYS:
            fields[_MULTITRON_KEYS[key]] = value
        elif key == "loss":
            if value not in _LOSS_TO_OBJECTIVES:
                raise ValueError(f"{where}: unknown loss {value!r}")
            fields["objectives"] = _LOSS_TO_OBJECTIVES[value]
        elif key in ("topk_sampling", "topk_sampling_k"):
            continue
        elif key == "shuffling_style":
            if value not in ("no_shuffling", "shuffle"):
                raise ValueError(f"{where}: unsupported shuffling_style {value!r}")
            fields["shuffle"] = value != "no_shuffling"
        elif key in _MULTITRON_FIXED:
            if value not in _MULTITRON_FIXED[key]:
                raise ValueError(f"{where}: {key}={value!r} is not supported")
        elif key not in _MULTITRON_IGNORED:
            raise ValueError(f"{where}: unknown MultiTRON config key {key!r}")
    if raw.get("topk_sampling", False):
        fields["topk_negatives"] = int(raw.get("topk_sampling_k", 1000))
    else:
        fields["topk_negatives"] = None
    if isinstance(fields.get("beta"), list):
        fields["beta"] = tuple(fields["beta"])
    fields.update(overrides)
    return TrainConfig.model_validate(fields)
