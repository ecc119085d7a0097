"""The model's settings, declared once: :class:`Architecture` and :class:`ModelSpec`.

``Architecture`` holds the fields that shape the network (backbone, width, depth, heads,
dropout, sequence length) and the recipe's extensions. ``TrainConfig`` (the ``[train]``
table) inherits them, so a profile sets them in ``[train]`` next to the training knobs;
``ModelSpec`` adds the item count and the objectives and is saved as ``model.json``'s
``"spec"``; :class:`~paretoalign.model.PreferenceRecommender` is built from one
``ModelSpec``. This module imports no torch, so reading a profile stays fast.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Architecture", "ModelSpec"]


class Architecture(BaseModel):
    """The shape of the network and the recipe's extensions: declared once.

    :class:`~paretoalign.model.TrainConfig` (the ``[train]`` table) inherits these fields,
    :class:`ModelSpec` (saved in ``model.json``) inherits them too, and
    :class:`PreferenceRecommender` takes a :class:`ModelSpec` whole. ``max_len`` may be
    None here (the profile's ``[data] max_len`` fills it in); a spec needs a number.
    The extensions (``normalize_items`` ... ``repeat_bonus``) are off by default, as in
    MultiTRON; :class:`PreferenceRecommender` documents what each does.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    backbone: Literal["transformer", "gru"] = "transformer"
    hidden_size: int = Field(64, ge=2, description="d: embedding and state width")
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(1, ge=1, description="attention heads (MultiTRON: 1)")
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    max_len: int | None = Field(
        None, ge=1, description="L (None: the profile's [data] max_len); fixed left padding"
    )
    share_embeddings: bool = Field(True, description="one item table for inputs and scores")
    ffn_size: int | None = Field(
        None, ge=1, description="transformer feed-forward width (None: d, as MultiTRON)"
    )
    normalize_items: bool = Field(
        False, description="unit-length item vectors times a learned length (cosine scores)"
    )
    identity_init: bool = Field(
        False, description="start the adapter's item weights and attention V/O as identity"
    )
    item_codes: float = Field(
        0.0, ge=0.0, description="initial length of fixed random item identity codes (0: none)"
    )
    copy_recent: int = Field(
        0, ge=0, description="R: add π-gated vectors of the last R input items to the state"
    )
    pi_item_bias: bool = Field(
        False, description="per-item, per-objective biases weighted by π (score + π·b_j)"
    )
    repeat_bonus: bool = Field(
        False,
        description="add a learned bonus b(h, π, recency, count) to the score of each item "
        "of the session's own history (a sparse term the exact top-k adds)",
    )

    @model_validator(mode="after")
    def _check_shape(self) -> Architecture:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be a multiple of num_heads")
        if self.max_len is not None and self.copy_recent > self.max_len:
            raise ValueError(f"copy_recent must be in 0..max_len, got {self.copy_recent}")
        return self

    def architecture(self) -> Architecture:
        """Only the architecture's fields (of a subclass such as ``TrainConfig``)."""
        return Architecture(**{name: getattr(self, name) for name in Architecture.model_fields})


class _ModelIdentity(BaseModel):
    """What a spec adds to the architecture: the item count and the objectives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_items: int = Field(ge=1, description="N: items are 1..N, 0 is padding")
    objectives: tuple[str, ...] = Field(min_length=1, description="the K objectives, in π order")


class ModelSpec(Architecture, _ModelIdentity):
    """Everything needed to rebuild a :class:`PreferenceRecommender` (saved as JSON):
    ``n_items``, ``objectives`` and the :class:`Architecture` with ``max_len`` set."""

    max_len: int = Field(50, ge=1, description="L: positions of the fixed left padding")
