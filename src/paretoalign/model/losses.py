"""Per-position losses of the objectives and the preference regularisers.

The book's method page states them (sections ``method-losses`` and ``method-epo``).

All functions work on the ``M`` real (masked-in) positions of a batch and return one
value per position; the batch loss of objective ``k`` is ``L_k = sum_m l_{m,k} / n``
with ``n`` the batch's mask count (MultiTRON normalises by the total mask count, so long
sessions weigh more). Negative logits may hold ``-inf`` for removed candidates.

``positive``: ``p_m = h_m @ E[y_m]``; ``negatives``: the kept negative logits ``[M, k]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "binary_cross_entropy_loss",
    "cosine_penalty",
    "distortion_loss",
    "epo_regulariser",
    "labelled_negatives_bce",
    "objective_losses",
    "sampled_softmax_loss",
]


def sampled_softmax_loss(positive: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with the positive at index 0 of ``[p, n_1..n_k]``, ``[M]``.

    .. math:: \\ell^c = -\\log \\frac{e^{p}}{e^{p} + \\sum_j e^{n_j}}
    """
    logits = torch.cat([positive[:, None], negatives], dim=1)
    return torch.logsumexp(logits, dim=1) - positive


def binary_cross_entropy_loss(positive: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE on the *same* positive logit (no second head), ``[M]``.

    .. math:: \\ell^o = -[o \\log\\sigma(p) + (1-o)\\log(1-\\sigma(p))]
    """
    return F.binary_cross_entropy_with_logits(positive, labels.to(positive.dtype), reduction="none")


def labelled_negatives_bce(
    positive: torch.Tensor, labels: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """BCE on the positive logit plus the mean BCE of the negatives as label 0, ``[M]``.

    .. math:: \\ell^o = -[o \\log\\sigma(p) + (1-o)\\log(1-\\sigma(p))]
              + \\frac{1}{|J|}\\sum_{j \\in J} -\\log(1-\\sigma(n_j))

    ``J`` holds the finite negatives (removed ``-inf`` candidates contribute nothing; a
    row without any adds 0). A negative is an item that was *not* clicked next, so it is
    certainly not "clicked next and later ordered": the objective then ranks the whole
    catalogue by that event, not only the clicked item against a global threshold.
    This is an extension of paretoalign (``bce_negatives = true``), not MultiTRON's loss.
    """
    valid = torch.isfinite(negatives)
    per_negative = F.softplus(torch.where(valid, negatives, torch.full_like(negatives, -30.0)))
    count = valid.sum(dim=1).clamp_min(1)
    negative_part = torch.where(valid, per_negative, torch.zeros_like(per_negative)).sum(1) / count
    return binary_cross_entropy_loss(positive, labels) + negative_part


def distortion_loss(positive: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the ``(k+1)``-way softmax against the uniform target, ``[M]``.

    .. math:: \\ell^d = -\\frac{1}{k+1}\\sum_{z} \\log\\operatorname{softmax}(Z)_z
              = \\operatorname{logsumexp}(Z) - \\operatorname{mean}(Z)

    Removed (``-inf``) candidates are left out of both the softmax and the mean.
    """
    logits = torch.cat([positive[:, None], negatives], dim=1)
    valid = torch.isfinite(logits)
    count = valid.sum(dim=1).clamp_min(1)
    mean = torch.where(valid, logits, torch.zeros_like(logits)).sum(dim=1) / count
    return torch.logsumexp(logits, dim=1) - mean


def epo_regulariser(losses: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
    """Approximate-EPO non-uniformity per position, generalised to ``K`` objectives, ``[M]``.

    .. math::

        \\hat\\pi_{k} = \\frac{\\pi_k \\ell_k}{\\max(\\sum_j \\pi_j \\ell_j, 10^{-6})},\\qquad
        \\ell^{reg} = -\\frac1K \\sum_k \\log\\operatorname{softmax}(\\hat\\pi)_k
                   = \\operatorname{logsumexp}(\\hat\\pi) - \\operatorname{mean}(\\hat\\pi).

    For ``K = 2`` this is MultiTRON's ``approx_epo_loss`` and equals the closed form
    ``log(2 cosh(δ/2))`` with ``δ = π̂_1 - π̂_2``; ``π̂ = [0.6, 0.4]`` gives 0.6981. It is
    minimal (``log K``) exactly when ``π_k ℓ_k`` is the same for every ``k``.

    Parameters
    ----------
    losses : Tensor[M, K]
        Per-position losses of the objectives (gradients flow through them, as in the
        reference).
    pi : Tensor[K] or Tensor[M, K]
    """
    weighted = losses * pi
    pi_hat = weighted / weighted.sum(dim=-1, keepdim=True).clamp_min(1e-6)
    return torch.logsumexp(pi_hat, dim=-1) - pi_hat.mean(dim=-1)


def cosine_penalty(losses: torch.Tensor, pi: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """COSMOS' penalty per position, ``-cos(π, ℓ)``, ``[M]`` (MultiTRON's ``cosine_loss``).

    ``eps`` bounds the norms from below as ``torch.nn.CosineSimilarity(eps=1e-5)`` does.
    """
    return -F.cosine_similarity(pi.expand_as(losses), losses, dim=-1, eps=eps)


def objective_losses(
    objectives: tuple[str, ...],
    positive: torch.Tensor,
    negatives: torch.Tensor | None,
    cart_label: torch.Tensor,
    order_label: torch.Tensor,
    bce_negatives: bool = False,
) -> torch.Tensor:
    """Stack the per-position losses of ``objectives`` into ``[M, K]`` (π's order).

    ``clicks``: sampled softmax; ``carts`` / ``orders``: BCE of the positive logit with the
    cart / order label (MultiTRON), or with ``bce_negatives`` that plus the negatives as
    label 0 (:func:`labelled_negatives_bce`); ``distortion``: uniform-target cross-entropy.
    """
    columns = []
    for name in objectives:
        if name == "clicks":
            columns.append(sampled_softmax_loss(positive, _need(negatives, name)))
        elif name in ("carts", "orders"):
            labels = cart_label if name == "carts" else order_label
            if bce_negatives:
                columns.append(labelled_negatives_bce(positive, labels, _need(negatives, name)))
            else:
                columns.append(binary_cross_entropy_loss(positive, labels))
        elif name == "distortion":
            columns.append(distortion_loss(positive, _need(negatives, name)))
        else:
            raise ValueError(f"unknown objective {name!r}")
    return torch.stack(columns, dim=1)


def _need(negatives: torch.Tensor | None, name: str) -> torch.Tensor:
    if negatives is None:
        raise ValueError(f"objective {name!r} needs negative logits")
    return negatives
