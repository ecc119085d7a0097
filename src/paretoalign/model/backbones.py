"""Preference conditioning and the sequence backbones it feeds.

The conditioning adapter is MultiTRON's only change to TRON (book: method page,
``method-conditioning``): the
preference vector ``π`` (``K`` entries on the simplex) is concatenated to every input
item embedding, passed through one linear layer, scaled and shifted by learned positions,

.. math::

    z_t = \\sqrt{d/2}\\,\\big(W [e_{x_t}; \\pi] + b\\big) + P_t,
    \\qquad W \\in \\mathbb{R}^{d \\times (d+K)},\\ P \\in \\mathbb{R}^{L \\times d}.

π enters nowhere else. Any backbone mapping ``z`` (``[B, L, d]``) and the padding mask to
session states ``h`` (``[B, L, d]``, causal: ``h_t`` depends on ``z_{\\le t}`` only) can
sit behind it: :class:`TransformerBackbone` (MultiTRON's encoder) and
:class:`GRUBackbone` (showing that the strategy does not depend on the architecture).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GRUBackbone", "PreferenceAdapter", "TransformerBackbone", "attention_mask"]


class PreferenceAdapter(nn.Module):
    """``z_t = sqrt(d/2) (W [e_t; π] + b) + P_t`` (see the module docstring).

    Parameters
    ----------
    hidden_size : int
        ``d``.
    n_objectives : int
        ``K``, the length of π.
    max_len : int
        ``L``; the positional table has ``L`` rows, indexed from the end (MultiTRON's
        ``DynamicPositionEmbedding``), which with fixed left padding is ``0..L-1``.
    """

    def __init__(self, hidden_size: int, n_objectives: int, max_len: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.n_objectives = n_objectives
        self.max_len = max_len
        self.linear = nn.Linear(hidden_size + n_objectives, hidden_size)
        self.positions = nn.Embedding(max_len, hidden_size)
        nn.init.xavier_uniform_(self.positions.weight)
        self.scale = math.sqrt(hidden_size / 2)

    def forward(self, items: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """Fuse item embeddings ``[B, L, d]`` with π ``[B, K]`` into ``z`` ``[B, L, d]``.

        ``W [e; π] = W_e e + W_π π`` is evaluated as two products: the same parameters
        and, up to float rounding, the same value as the concatenation, without
        materialising ``[B, L, d+K]``.
        """
        d = self.hidden_size
        weight = self.linear.weight
        fused = F.linear(items, weight[:, :d])
        fused = fused + (F.linear(pi, weight[:, d:], self.linear.bias))[:, None, :]
        length = items.shape[1]
        return fused * self.scale + self.positions.weight[self.max_len - length :]


def attention_mask(padding: torch.Tensor, num_heads: int = 1) -> torch.Tensor:
    """MultiTRON's merged attention mask (True = blocked), ``bool[B * num_heads, L, L]``.

    Position ``t`` may attend to ``s`` iff (``s <= t`` and ``s`` is not padding) or
    ``s == t``; the diagonal is always allowed so all-padding rows give no NaN.
    """
    length = padding.shape[1]
    future = torch.ones(length, length, dtype=torch.bool, device=padding.device).triu_(1)
    blocked = future[None, :, :] | padding[:, None, :]
    eye = torch.eye(length, dtype=torch.bool, device=padding.device)
    blocked = blocked & ~eye[None, :, :]
    if num_heads > 1:
        blocked = blocked.repeat_interleave(num_heads, dim=0)
    return blocked


class TransformerBackbone(nn.Module):
    """MultiTRON's encoder: pre-LN transformer layers, FFN width ``d``, final LayerNorm.

    ``nn.TransformerEncoderLayer(d, nhead, dim_feedforward=d, dropout, batch_first=True,
    norm_first=True)`` x ``num_layers`` plus ``LayerNorm(d)``, with the causal + padding
    mask of :func:`attention_mask` (book: method page, ``method-conditioning``).
    """

    def __init__(
        self,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        dropout: float,
        ffn_size: int | None = None,
    ):
        super().__init__()
        self.num_heads = num_heads
        layer = nn.TransformerEncoderLayer(
            d_model=hidden_size,
            nhead=num_heads,
            dim_feedforward=ffn_size or hidden_size,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer,
            num_layers=num_layers,
            norm=nn.LayerNorm(hidden_size),
            enable_nested_tensor=False,
        )

    def forward(self, z: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """States ``[B, L, d]`` from ``z`` ``[B, L, d]`` and ``padding`` ``bool[B, L]``."""
        return self.encoder(z, mask=attention_mask(padding, self.num_heads))


class GRUBackbone(nn.Module):
    """A GRU over the adapter's output, then LayerNorm.

    The inputs are left-padded; a GRU reading the padding first would carry it into the
    real positions. Each row is therefore rotated so that its real positions come first
    (right padding), run through the GRU (causal, so the trailing padding cannot reach
    the real positions) and rotated back. Dropout between stacked layers as in
    ``nn.GRU``.
    """

    def __init__(self, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        self.gru = nn.GRU(
            hidden_size,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.norm = nn.LayerNorm(hidden_size)

    def forward(self, z: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        """States ``[B, L, d]`` from ``z`` ``[B, L, d]`` and left ``padding`` ``bool[B, L]``."""
        batch, length, width = z.shape
        n_pad = padding.sum(dim=1, dtype=torch.long)
        steps = torch.arange(length, device=z.device)
        to_right = (steps[None, :] + n_pad[:, None]) % length
        z_right = z.gather(1, to_right[:, :, None].expand(batch, length, width))
        out, _ = self.gru(z_right)
        to_left = (steps[None, :] - n_pad[:, None]) % length
        out = out.gather(1, to_left[:, :, None].expand(batch, length, width))
        return self.norm(out)
