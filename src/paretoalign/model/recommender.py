"""`PreferenceRecommender`: one session model for every point of the preference simplex.

Item ids are ``1..N``; ``0`` is padding. The item embedding ``E`` (``[N+1, d]``) is shared
between input and output (MultiTRON: ``share_embeddings=true``, no output bias), Xavier
initialised — which also overwrites the padding row with random values that stay frozen
(``padding_idx=0`` zeroes its gradient), exactly as in the reference. The score of item
``j`` for session state ``h_t`` is ``h_t @ E[j]``; consumers set the padding item's score
to ``-inf``.

Forward pass (:meth:`PreferenceRecommender.encode`)::

    inputs [B, L] -> E[inputs] -> PreferenceAdapter(., π) -> dropout -> backbone -> h [B, L, d]
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from paretoalign.model.backbones import GRUBackbone, PreferenceAdapter, TransformerBackbone

__all__ = ["ModelSpec", "PreferenceRecommender", "first_real_column"]


def first_real_column(inputs: torch.Tensor) -> int:
    """Index of the first column holding a real item in any row (``L - 1`` if none).

    Columns before it are padding in every row of a left-padded batch and can be cut
    without changing the states of real positions (see :meth:`PreferenceRecommender.encode`).
    """
    length = inputs.shape[1]
    if length == 0:
        return 0
    used = torch.nonzero((inputs != 0).any(dim=0))
    return int(used[0, 0]) if used.numel() else length - 1


class ModelSpec(BaseModel):
    """Everything needed to rebuild a :class:`PreferenceRecommender` (saved as JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_items: int = Field(ge=1)
    objectives: tuple[str, ...]
    backbone: str = "transformer"
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 1
    dropout: float = 0.05
    max_len: int = 50


class PreferenceRecommender(nn.Module):
    """A preference-conditioned session encoder with shared item embeddings.

    Parameters
    ----------
    n_items : int
        ``N``; items are ``1..N``, the embedding table has ``N + 1`` rows.
    objectives : tuple of str
        Names of the ``K`` objectives, in the order of π's entries.
    backbone : {"transformer", "gru"}
    hidden_size, num_layers, num_heads, dropout, max_len
        ``d``, encoder depth, attention heads (transformer only), dropout, ``L``.

    Attributes
    ----------
    objectives : tuple of str
    n_items : int
    spec : ModelSpec
    """

    def __init__(
        self,
        n_items: int,
        objectives: tuple[str, ...] | list[str],
        *,
        backbone: str = "transformer",
        hidden_size: int = 64,
        num_layers: int = 2,
        num_heads: int = 1,
        dropout: float = 0.05,
        max_len: int = 50,
    ) -> None:
        super().__init__()
        objectives = tuple(objectives)
        if n_items < 1:
            raise ValueError(f"n_items must be >= 1, got {n_items}")
        if len(objectives) < 1:
            raise ValueError("need at least one objective")
        if backbone not in ("transformer", "gru"):
            raise ValueError(f"backbone must be 'transformer' or 'gru', got {backbone!r}")
        self.spec = ModelSpec(
            n_items=n_items,
            objectives=objectives,
            backbone=backbone,
            hidden_size=hidden_size,
            num_layers=num_layers,
            num_heads=num_heads,
            dropout=dropout,
            max_len=max_len,
        )
        self.objectives = objectives
        self.n_items = int(n_items)
        self.max_len = int(max_len)
        self.item_embedding = nn.Embedding(n_items + 1, hidden_size, padding_idx=0)
        nn.init.xavier_uniform_(self.item_embedding.weight)
        self.adapter = PreferenceAdapter(hidden_size, len(objectives), max_len)
        self.input_dropout = nn.Dropout(dropout)
        self.backbone: nn.Module
        if backbone == "transformer":
            self.backbone = TransformerBackbone(hidden_size, num_layers, num_heads, dropout)
        else:
            self.backbone = GRUBackbone(hidden_size, num_layers, dropout)

    @classmethod
    def from_spec(cls, spec: ModelSpec | dict[str, Any]) -> PreferenceRecommender:
        spec = ModelSpec.model_validate(spec)
        fields = spec.model_dump()
        return cls(fields.pop("n_items"), fields.pop("objectives"), **fields)

    @property
    def n_objectives(self) -> int:
        return len(self.objectives)

    @property
    def hidden_size(self) -> int:
        return self.spec.hidden_size

    # ------------------------------------------------------------------ forward
    def encode(self, inputs: torch.Tensor, pi: torch.Tensor | Any) -> torch.Tensor:
        """Session states for left-padded click sequences under preference π.

        Parameters
        ----------
        inputs : LongTensor[B, L]
            Item ids in ``0..N``, left-padded with 0, ``L == max_len``.
        pi : Tensor[K] or Tensor[B, K]
            Preference on the simplex (non-negative, summing to 1), one for the whole
            batch or one per row.

        Returns
        -------
        Tensor[B, L, d]
            ``h_t`` depends on ``inputs[:, :t+1]`` and π only. Rows of padding positions
            are meaningless (zero in the leading columns that are padding in every row).

        Notes
        -----
        Leading columns that are padding in *every* row are cut before the backbone runs
        (:func:`first_real_column`): a real position attends only to real positions, and
        positions are indexed from the end, so the states of real positions are the
        same (up to float rounding) as with all ``L`` columns — MultiTRON's
        ``DynamicPositionEmbedding`` exists for exactly this.
        """
        inputs, pi = self._check_inputs(inputs, pi)
        first = first_real_column(inputs)
        states = self.encode_unchecked(inputs[:, first:], pi)
        if first == 0:
            return states
        full = states.new_zeros(inputs.shape[0], inputs.shape[1], states.shape[2])
        full[:, first:] = states
        return full

    def forward(self, inputs: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`encode_unchecked` (the entry point of DDP and ``nn.Module``)."""
        return self.encode_unchecked(inputs, pi)

    def encode_unchecked(self, inputs: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """:meth:`encode` without validation or trimming.

        ``inputs`` long ``[B, l]`` with ``l <= L`` (the last ``l`` columns of the padded
        layout), ``pi`` ``[B, K]``; returns ``[B, l, d]``.
        """
        items = self.item_embedding(inputs)
        z = self.input_dropout(self.adapter(items, pi.to(items.dtype)))
        return self.backbone(z, inputs == 0)

    def item_embeddings(self) -> torch.Tensor:
        """The shared item table ``E``, ``[N + 1, d]`` (row 0 = padding)."""
        return self.item_embedding.weight

    # ------------------------------------------------------------------ validation
    def _check_inputs(self, inputs: Any, pi: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(inputs, torch.Tensor):
            raise TypeError(f"inputs must be a torch.Tensor, got {type(inputs).__name__}")
        if inputs.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"inputs must be an integer tensor, got {inputs.dtype}")
        if inputs.ndim != 2 or inputs.shape[1] != self.max_len:
            raise ValueError(
                f"inputs must have shape [B, {self.max_len}] (fixed left padding), "
                f"got {tuple(inputs.shape)}"
            )
        if inputs.numel() and (int(inputs.min()) < 0 or int(inputs.max()) > self.n_items):
            raise ValueError(f"inputs hold item ids outside 0..{self.n_items}")
        device = self.item_embedding.weight.device
        inputs = inputs.to(device=device, dtype=torch.long)
        pi = torch.as_tensor(pi, dtype=torch.float32, device=device)
        k = self.n_objectives
        if pi.ndim == 1 and pi.shape[0] == k:
            pi = pi[None, :].expand(inputs.shape[0], k)
        elif not (pi.ndim == 2 and pi.shape == (inputs.shape[0], k)):
            raise ValueError(f"pi must have shape [{k}] or [B, {k}], got {tuple(pi.shape)}")
        if not torch.isfinite(pi).all() or (pi < 0).any():
            raise ValueError("pi must be finite and non-negative")
        if pi.numel() and (pi.sum(dim=1) - 1).abs().max() > 1e-4:
            raise ValueError("every preference vector pi must sum to 1")
        return inputs, pi
