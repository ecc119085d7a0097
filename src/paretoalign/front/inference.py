"""Serving-time encoder: the session state at the last position only.

Offline evaluation needs the state at every position (one forward gives all of them).
Serving needs only the state of the last position, the current page. For MultiTRON's
pre-LN transformer the first ``n - 1`` layers must still run on the whole (trimmed)
prefix, because the last layer attends to all of it, but the **last layer** needs

* keys and values of every position (layer norm + two thirds of the input projection),
* the query, attention, output projection, feed-forward block and final layer norm of
  the **last row only**,

which removes about half of the last layer's work (a third of a 2-layer model's).

:func:`last_position_states` evaluates exactly the layers of
:class:`paretoalign.model.backbones.TransformerBackbone` (``nn.TransformerEncoderLayer``
with ``norm_first=True``, the merged causal + padding mask of
:func:`paretoalign.model.backbones.attention_mask`, dropout off) with
``torch.nn.functional.scaled_dot_product_attention``; it returns the same states as
``model.encode(inputs, pi)[:, -1]`` up to float rounding (tested). Any other backbone
(e.g. the GRU) falls back to ``model.encode_unchecked(...)[:, -1]``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["compute_threads", "last_position_states", "supports_last_position"]


@contextlib.contextmanager
def compute_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch and Numba threads, restoring both counts afterwards.

    ``None`` leaves both alone. Used by the front tracing and the serving loop. Every
    serving step runs many small operators (a
    transformer forward on a few thousand short sessions, the shop's jitted kernels on
    the same rows); when the cores are shared with other busy processes, multi-threaded
    small operators wait on each other at every barrier (measured here: the shop's
    ``expected`` kernel on 256 sessions 0.9 ms with one Numba thread, 26 ms with two on a
    loaded 2-core machine). On an idle machine two threads are faster for large batches.
    """
    if n is None:
        yield
        return
    import numba
    import torch

    n = int(n)
    before_torch = torch.get_num_threads()
    before_numba = numba.get_num_threads()
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(before_torch)
        numba.set_num_threads(before_numba)


def supports_last_position(model: Any) -> bool:
    """Whether :func:`last_position_states` can take the fast path for ``model``."""
    from torch import nn

    from paretoalign.model.backbones import TransformerBackbone

    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, TransformerBackbone):
        return False
    layers = getattr(backbone.encoder, "layers", None)
    if not layers:
        return False
    return all(
        isinstance(layer, nn.TransformerEncoderLayer)
        and layer.norm_first
        and layer.self_attn.batch_first
        and layer.self_attn._qkv_same_embed_dim
        and layer.self_attn.in_proj_bias is not None
        for layer in layers
    )


def _split_heads(x: Any, heads: int) -> Any:
    b, length, d = x.shape
    return x.view(b, length, heads, d // heads).transpose(1, 2)


def _merge_heads(x: Any) -> Any:
    b, heads, length, dh = x.shape
    return x.transpose(1, 2).reshape(b, length, heads * dh)


def last_position_states(model: Any, inputs: Any, pi: Any) -> Any:
    """States ``h`` of the last position, ``Tensor[B, d]``, in inference mode.

    Parameters
    ----------
    model : PreferenceRecommender
        In eval mode.
    inputs : LongTensor[B, W]
        Left-padded item ids, ``W <= L`` (leading all-padding columns may be cut: the
        positional table is indexed from the end).
    pi : Tensor[B, K]
        One preference vector per row.

    Returns
    -------
    Tensor[B, d]
        ``model.encode_unchecked(inputs, pi)[:, -1]`` (to float rounding).
    """
    import torch.nn.functional as F

    from paretoalign.model.backbones import attention_mask

    if model.training:
        raise ValueError("last_position_states needs the model in eval mode")
    if not supports_last_position(model):
        return model.encode_unchecked(inputs, pi)[:, -1]
    backbone = model.backbone
    layers = list(backbone.encoder.layers)
    heads = layers[0].self_attn.num_heads
    padding = inputs == 0
    items = model.input_embeddings(inputs)
    x = model.adapter(items, pi.to(items.dtype))
    d = x.shape[-1]
    # True = may attend (SDPA's convention); the model's mask is True = blocked
    allowed = ~attention_mask(padding, 1)[:, None, :, :]
    for layer in layers[:-1]:
        attn = layer.self_attn
        h = layer.norm1(x)
        q, k, v = F.linear(h, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        o = F.scaled_dot_product_attention(
            _split_heads(q, heads), _split_heads(k, heads), _split_heads(v, heads),
            attn_mask=allowed,
        )  # fmt: skip
        x = x + attn.out_proj(_merge_heads(o))
        x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
    last = layers[-1]
    attn = last.self_attn
    h = last.norm1(x)
    w, b = attn.in_proj_weight, attn.in_proj_bias
    q = F.linear(h[:, -1:, :], w[:d], b[:d])
    kv = F.linear(h, w[d:], b[d:])
    k, v = kv[..., :d], kv[..., d:]
    row = allowed[:, :, -1:, :]  # the last query's row of the mask
    o = F.scaled_dot_product_attention(
        _split_heads(q, heads), _split_heads(k.contiguous(), heads),
        _split_heads(v.contiguous(), heads), attn_mask=row,
    )  # fmt: skip
    y = x[:, -1:, :] + attn.out_proj(_merge_heads(o))
    y = y + last.linear2(last.activation(last.linear1(last.norm2(y))))
    if backbone.encoder.norm is not None:
        y = backbone.encoder.norm(y)
    y = y[:, 0, :]
    if hasattr(model, "finish_last"):
        return model.finish_last(y, inputs, pi)
    return y


def _reference_last_states(model: Any, inputs: Any, pi: Any) -> Any:
    """``model.encode_unchecked(inputs, pi)[:, -1]`` (the specification, for tests)."""
    import torch

    with torch.inference_mode():
        return model.encode_unchecked(inputs, pi)[:, -1]
