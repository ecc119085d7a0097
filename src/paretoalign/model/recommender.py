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
import torch.nn.functional as F
from torch import nn

from paretoalign.model.architecture import Architecture, ModelSpec
from paretoalign.model.backbones import GRUBackbone, PreferenceAdapter, TransformerBackbone
from paretoalign.model.repeat import RepeatHead, SessionTerms

__all__ = ["Architecture", "ModelSpec", "PreferenceRecommender", "first_real_column"]


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


class PreferenceRecommender(nn.Module):
    """A preference-conditioned session encoder with shared item embeddings.

    Parameters
    ----------
    spec : ModelSpec
        ``n_items`` (``N``; the embedding table has ``N + 1`` rows), ``objectives`` (the
        ``K`` names in the order of π's entries) and the :class:`Architecture`:

        backbone : {"transformer", "gru"}
        hidden_size, num_layers, num_heads, dropout, max_len
            ``d``, encoder depth, attention heads (transformer only), dropout, ``L``.
        share_embeddings : bool
            One table for inputs and scoring (MultiTRON's ``share_embeddings=true``) or a
            separate output table.
        ffn_size : int, optional
            Feed-forward width of the transformer layers (default ``d``, as MultiTRON).
        normalize_items : bool
            Score with unit-length item vectors times one learned length (not in MultiTRON).
        identity_init : bool
            Initialise the item path as the identity (:meth:`_identity_init`; not in
            MultiTRON, which uses PyTorch's default initialisation).
        item_codes : float
            Initial length ``c`` of a fixed random identity code added to every item vector
            (0: none, as MultiTRON). Row ``j`` of both tables becomes ``W_j + c R_j`` with
            ``R_j ~ N(0, I/d)`` drawn once (a buffer saved with the weights) and ``c``
            learned. Codes of different items are nearly orthogonal, so a state that
            attends to a session item can score that item highly even when the item is
            too rare for its learned vector ``W_j`` to be distinct: a copy path for repeat
            views, inside the plain inner product.
        copy_recent : int
            ``R``: add the output vectors of the last ``R`` input items to each state,
            weighted by π-dependent gates (:meth:`copy_term`; 0: none, as MultiTRON). The
            score stays an inner product; it gains ``g_r(π) e_{x_{t-r}} . e_j``, largest for
            ``j = x_{t-r}``: a copy path for repeat views of rare items.
        pi_item_bias : bool
            Give every item one learned bias per objective, ``b_j`` ``[K]``, weighted by π:
            the score becomes ``h . e_j + π . b_j`` (not in MultiTRON). It is kept an inner
            product by appending π to the state and ``b_j`` to the item vector, so states
            and item rows have ``d + K`` columns. The orders column learns which items are
            ordered when clicked, and π moves the ranking towards them directly.
        repeat_bonus : bool
            Add the repeat bonus ``r_t(j)`` to the score of every item of the session's own
            history (:mod:`paretoalign.model.repeat`; not in MultiTRON): the score becomes
            ``h_t . e_j + r_t(j)``, a sparse term of at most ``L`` items per position that
            :meth:`session_terms` returns and every consumer adds (the loss, and the exact
            top-k through its ``terms`` argument).

    Attributes
    ----------
    objectives : tuple of str
    n_items : int
    spec : ModelSpec
    """

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        if not isinstance(spec, ModelSpec):
            raise TypeError(f"spec must be a ModelSpec, got {type(spec).__name__}")
        self.spec = spec
        n_items, d, n_obj = spec.n_items, spec.hidden_size, len(spec.objectives)
        self.objectives = tuple(spec.objectives)
        self.n_items = int(n_items)
        self.max_len = int(spec.max_len)
        self.item_embedding = nn.Embedding(n_items + 1, d, padding_idx=0)
        nn.init.xavier_uniform_(self.item_embedding.weight)
        self.output_embedding: nn.Embedding | None = None
        if not spec.share_embeddings:
            self.output_embedding = nn.Embedding(n_items + 1, d, padding_idx=0)
            nn.init.xavier_uniform_(self.output_embedding.weight)
        self.normalize_items = bool(spec.normalize_items)
        #: log of the item-vector length when ``normalize_items`` (learned; starts at 1)
        self.log_item_scale = nn.Parameter(torch.zeros(())) if spec.normalize_items else None
        #: fixed random identity codes ``R`` (row 0, padding, = 0) and the log of their length ``c``
        codes = None
        self.log_code_scale: nn.Parameter | None = None
        if spec.item_codes > 0:
            codes = torch.randn(n_items + 1, d) / d**0.5
            codes[0] = 0.0
            self.log_code_scale = nn.Parameter(torch.tensor(float(spec.item_codes)).log())
        self.item_code_table: torch.Tensor | None
        self.register_buffer("item_code_table", codes)
        self.copy_recent = int(spec.copy_recent)
        #: gates ``g(π) = softplus(G π + c)`` of the copy path, ``[R]`` per row
        self.copy_gate = nn.Linear(n_obj, spec.copy_recent) if spec.copy_recent else None
        #: per-item, per-objective biases ``b`` ``[N + 1, K]`` (``pi_item_bias``; start at 0)
        self.item_bias = (
            nn.Parameter(torch.zeros(n_items + 1, n_obj)) if spec.pi_item_bias else None
        )
        self.adapter = PreferenceAdapter(d, n_obj, spec.max_len)
        self.input_dropout = nn.Dropout(spec.dropout)
        self.backbone: nn.Module
        if spec.backbone == "transformer":
            self.backbone = TransformerBackbone(
                d, spec.num_layers, spec.num_heads, spec.dropout, spec.ffn_size
            )
        else:
            self.backbone = GRUBackbone(d, spec.num_layers, spec.dropout)
        if spec.identity_init:
            self._identity_init()
        #: the repeat bonus ``r_t(j)`` (``repeat_bonus``); built last, so the other
        #: parameters draw the same initial values with or without it
        self.repeat_head = RepeatHead(self.state_size, n_obj) if spec.repeat_bonus else None

    @torch.no_grad()
    def _identity_init(self) -> None:
        """Start the item path as the identity: adapter ``W_e = I`` and, in every
        attention layer, value and output projections ``= I``.

        With shared embeddings a state then starts close to the (scaled) embeddings of
        the items it attends to, so ``h @ E[j]`` favours those items for *every* item,
        also the rarely clicked ones whose vectors training barely moves; a random
        start instead maps them to directions unrelated to their own vectors.
        """
        d = self.spec.hidden_size
        eye = torch.eye(d)
        self.adapter.linear.weight[:, :d].copy_(eye)
        if isinstance(self.backbone, TransformerBackbone):
            for layer in self.backbone.encoder.layers:
                layer.self_attn.in_proj_weight[2 * d :].copy_(eye)
                layer.self_attn.out_proj.weight.copy_(eye)

    @classmethod
    def from_spec(cls, spec: ModelSpec | dict[str, Any]) -> PreferenceRecommender:
        """The model of a spec or of its JSON form (``model.json``'s ``"spec"``)."""
        return cls(ModelSpec.model_validate(spec))

    @property
    def n_objectives(self) -> int:
        return len(self.objectives)

    @property
    def hidden_size(self) -> int:
        return self.spec.hidden_size

    @property
    def state_size(self) -> int:
        """Columns of a state and of an item row: ``d``, or ``d + K`` with ``pi_item_bias``."""
        return self.spec.hidden_size + (self.n_objectives if self.item_bias is not None else 0)

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
        Tensor[B, L, state_size]
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
        layout), ``pi`` ``[B, K]``; returns ``[B, l, state_size]`` (:meth:`finish_states`).
        """
        items = self.input_embeddings(inputs)
        z = self.input_dropout(self.adapter(items, pi.to(items.dtype)))
        states = self.backbone(z, inputs == 0)
        return self.finish_states(states, inputs, pi)

    def finish_states(
        self, states: torch.Tensor, inputs: torch.Tensor, pi: torch.Tensor
    ) -> torch.Tensor:
        """Backbone states ``[B, l, d]`` -> scoring states ``[B, l, state_size]``: plus the
        copy term (``copy_recent``), then π appended (``pi_item_bias``). ``inputs``
        ``[B, l]`` are the ids the states were computed from, ``pi`` ``[B, K]``."""
        if self.copy_gate is not None:
            states = states + self.copy_term(inputs, pi)
        if self.item_bias is not None:
            weights = pi.to(states.dtype)[:, None, :].expand(-1, states.shape[1], -1)
            states = torch.cat([states, weights], dim=-1)
        return states

    def session_terms(
        self, inputs: torch.Tensor, states: torch.Tensor, pi: torch.Tensor
    ) -> SessionTerms | None:
        """The sparse score terms of the last ``n`` positions (None without ``repeat_bonus``).

        The score of item ``j`` at position ``t`` is ``states[t] . item_embeddings()[j]``
        plus the term of ``j`` in row ``t`` (0 if ``j`` has none): the one definition of the
        model's score, used by the loss, the offline evaluation and serving.

        Parameters
        ----------
        inputs : LongTensor[B, l]
            The left-padded ids the states were computed from (leading all-padding
            columns may be cut).
        states : Tensor[B, n, state_size]
            Scoring states of the last ``n <= l`` positions (:meth:`encode`'s output, or
            its last column as ``[B, 1, state_size]``).
        pi : Tensor[B, K]

        Returns
        -------
        SessionTerms or None
            ``ids`` / ``values`` of shape ``[B, n, l]``.
        """
        if self.repeat_head is None:
            return None
        return self.repeat_head(inputs, states, pi.to(states.dtype))

    def finish_last(
        self, state: torch.Tensor, inputs: torch.Tensor, pi: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`finish_states` of the last position only: backbone state ``[B, d]`` of
        the last column of ``inputs`` ``[B, l]`` -> ``[B, state_size]``."""
        window = inputs[:, -max(self.copy_recent, 1) :]
        padded = state.new_zeros(state.shape[0], window.shape[1], state.shape[1])
        padded[:, -1] = state
        return self.finish_states(padded, window, pi)[:, -1]

    def copy_term(self, inputs: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """``sum_{r<R} g_r(π) E[x_{t-r}]`` at every position ``t``, ``[B, l, d]``.

        ``inputs`` ``[B, l]`` (left-padded ids), ``pi`` ``[B, K]``; ``E`` is the scoring
        table (:meth:`item_embeddings`); positions before the session starts (padding,
        id 0) add nothing. ``g(π) = softplus(G π + c) >= 0``. Zero when ``copy_recent = 0``.
        """
        if self.copy_gate is None:
            return torch.zeros(*inputs.shape, self.spec.hidden_size, dtype=pi.dtype)
        table = self._item_vectors()
        gates = F.softplus(self.copy_gate(pi.to(table.dtype)))  # [B, R]
        length = inputs.shape[1]
        out = torch.zeros(*inputs.shape, table.shape[1], dtype=table.dtype, device=table.device)
        for r in range(min(self.copy_recent, length)):
            shifted = F.pad(inputs[:, : length - r], (r, 0))  # x_{t-r}, 0 before the start
            rows = F.embedding(shifted, table) * (shifted != 0)[..., None].to(table.dtype)
            out = out + gates[:, r, None, None] * rows
        return out

    def input_embeddings(self, inputs: torch.Tensor) -> torch.Tensor:
        """Input item vectors ``[..., d]`` of the ids ``inputs`` (padding id 0 -> its row).

        ``E_in[inputs]``, with ``normalize_items`` the unit-length rows times the learned
        length (the same rows :meth:`item_embeddings` scores with when shared).
        """
        if self.normalize_items or self.item_code_table is not None:
            table = self._finish_rows(self.item_embedding.weight)
            return F.embedding(inputs, table, padding_idx=0)
        return self.item_embedding(inputs)

    def _finish_rows(self, weight: torch.Tensor) -> torch.Tensor:
        """A learned table with the identity codes added (``item_codes``) and then each
        row scaled to the learned length (``normalize_items``). Row 0 (padding) has no
        code; its score is masked wherever items are ranked."""
        if self.item_code_table is not None:
            weight = weight + self.log_code_scale.exp() * self.item_code_table
        if self.normalize_items:
            weight = F.normalize(weight, dim=1) * self.log_item_scale.exp()
        return weight

    def item_embeddings(self) -> torch.Tensor:
        """The output item table ``E``, ``[N + 1, d]`` (row 0 = padding); score = ``h @ E.T``.

        The input table too, unless the model was built with ``share_embeddings=False``.
        With ``normalize_items`` every row has the same learned length (cosine scoring
        with a learned temperature), so rarely seen items are not drowned by the long
        vectors of popular ones. With ``item_codes`` the fixed codes are added first.
        With ``pi_item_bias`` the biases ``b`` are appended: ``[N + 1, d + K]``.
        """
        table = self._item_vectors()
        if self.item_bias is not None:
            table = torch.cat([table, self.item_bias.to(table.dtype)], dim=1)
        return table

    def _item_vectors(self) -> torch.Tensor:
        """The ``d`` learned columns of the scoring table (without the π biases)."""
        table = self.item_embedding if self.output_embedding is None else self.output_embedding
        if self.normalize_items or self.item_code_table is not None:
            return self._finish_rows(table.weight)
        return table.weight

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
