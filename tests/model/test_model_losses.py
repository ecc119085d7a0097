"""Losses and regularisers: hand-computed values on tiny inputs, reference parity."""

from __future__ import annotations

import math

import pytest
import torch

from paretoalign.model.losses import (
    binary_cross_entropy_loss,
    cosine_penalty,
    distortion_loss,
    epo_regulariser,
    labelled_negatives_bce,
    objective_losses,
    sampled_softmax_loss,
)

INF = math.inf


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_sampled_softmax_by_hand():
    # -log(e^2 / (e^2 + e^1 + e^0)) and with a removed candidate -log(e^2 / (e^2 + e^1))
    loss = sampled_softmax_loss(t([2.0, 2.0]), t([[1.0, 0.0], [1.0, -INF]]))
    expected = [
        math.log(math.e**2 + math.e + 1) - 2,
        math.log(math.e**2 + math.e) - 2,
    ]
    assert loss.tolist() == pytest.approx(expected, abs=1e-12)
    assert expected[0] == pytest.approx(0.407606, abs=1e-6)


def test_binary_cross_entropy_by_hand():
    loss = binary_cross_entropy_loss(t([0.0, 2.0, 2.0]), torch.tensor([1, 0, 1], dtype=torch.int8))
    expected = [math.log(2), math.log(1 + math.e**2), math.log(1 + math.e**-2)]
    assert loss.tolist() == pytest.approx(expected, abs=1e-12)


def test_labelled_negatives_bce_by_hand():
    # BCE(p, o) + mean over finite negatives of -log(1 - sigmoid(n)) = softplus(n)
    loss = labelled_negatives_bce(
        t([0.0, 2.0, 1.0]),
        torch.tensor([1, 0, 1], dtype=torch.int8),
        t([[0.0, 1.0], [-1.0, -INF], [-INF, -INF]]),
    )
    expected = [
        math.log(2) + (math.log(2) + math.log(1 + math.e)) / 2,
        math.log(1 + math.e**2) + math.log(1 + math.e**-1),
        math.log(1 + math.e**-1),  # no finite negative: the positive term alone
    ]
    assert loss.tolist() == pytest.approx(expected, abs=1e-12)


def test_labelled_negatives_bce_gradient_is_finite_with_removed_candidates():
    neg = t([[0.5, -INF]]).requires_grad_()
    labelled_negatives_bce(t([0.3]), torch.tensor([0]), neg).sum().backward()
    assert torch.isfinite(neg.grad).all()
    assert neg.grad[0, 1].item() == 0.0


def test_distortion_by_hand():
    # logsumexp(Z) - mean(Z); removed candidates are left out of both
    loss = distortion_loss(t([2.0, 2.0]), t([[1.0, 0.0], [1.0, -INF]]))
    expected = [math.log(math.e**2 + math.e + 1) - 1.0, math.log(math.e**2 + math.e) - 1.5]
    assert loss.tolist() == pytest.approx(expected, abs=1e-12)


def test_distortion_equals_reference_cross_entropy_with_uniform_targets():
    gen = torch.Generator().manual_seed(0)
    pos, neg = torch.randn(7, generator=gen), torch.randn(7, 5, generator=gen)
    logits = torch.cat([pos[:, None], neg], dim=1)
    reference = torch.nn.functional.cross_entropy(
        logits, torch.full_like(logits, 1 / 6), reduction="none"
    )
    torch.testing.assert_close(distortion_loss(pos, neg), reference)


def test_epo_k2_unit_value_and_closed_form():
    # π = (.5, .5), ℓ = (.6, .4) -> π̂ = (.6, .4) -> 0.6981 (MultiTRON's unit test)
    value = epo_regulariser(t([[0.6, 0.4]]), t([0.5, 0.5]))
    assert value.item() == pytest.approx(0.6981, abs=5e-5)
    assert value.item() == pytest.approx(math.log(2 * math.cosh(0.1)), abs=1e-12)
    gen = torch.Generator().manual_seed(1)
    losses = torch.rand(50, 2, generator=gen, dtype=torch.float64) * 5
    pi = torch.rand(50, 2, generator=gen, dtype=torch.float64)
    pi = pi / pi.sum(1, keepdim=True)
    delta = (pi[:, 0] * losses[:, 0] - pi[:, 1] * losses[:, 1]) / (pi * losses).sum(1)
    torch.testing.assert_close(epo_regulariser(losses, pi), torch.log(2 * torch.cosh(delta / 2)))


def test_epo_k3_by_hand():
    # weighted = (.2, .6, .2), sum 1 -> π̂ = (.2, .6, .2)
    value = epo_regulariser(t([[1.0, 2.0, 0.4]]), t([0.2, 0.3, 0.5])).item()
    expected = math.log(2 * math.exp(0.2) + math.exp(0.6)) - (0.2 + 0.6 + 0.2) / 3
    assert value == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(1.117091, abs=1e-6)
    # minimal (log K) when every π_k ℓ_k is equal
    balanced = epo_regulariser(t([[1.0, 2.0, 0.4]]), t([0.4, 0.2, 1.0]) / 1.6).item()
    assert balanced == pytest.approx(math.log(3), abs=1e-12)
    assert value > balanced


def test_epo_clamps_a_zero_total():
    # all losses zero: π̂ = 0 -> logsumexp(0, 0) - 0 = log 2, no NaN
    value = epo_regulariser(t([[0.0, 0.0]]), t([0.5, 0.5]))
    assert value.item() == pytest.approx(math.log(2))


def multitron_approx_epo(click, second, mask, beta):
    """MultiTRON's `approx_epo_loss` transcribed (book: method page, method-epo), [B, L]."""
    losses = torch.stack([click, second], dim=-1)
    weighted = losses * beta
    normalized = (weighted / torch.clip(weighted.sum(-1), 1e-6).unsqueeze(-1)) * mask.unsqueeze(-1)
    flat = normalized.reshape(-1, 2)
    ce = torch.nn.functional.cross_entropy(flat, torch.full_like(flat, 0.5), reduction="none")
    return (ce.reshape(mask.shape) * mask).sum() / mask.sum()


def test_epo_matches_the_reference_transcription():
    gen = torch.Generator().manual_seed(2)
    mask = torch.rand(4, 6, generator=gen) > 0.4
    click = torch.rand(4, 6, generator=gen) * 6 * mask
    second = torch.rand(4, 6, generator=gen) * mask
    beta = torch.tensor([0.3, 0.7])
    reference = multitron_approx_epo(click, second, mask.float(), beta)
    ours = epo_regulariser(torch.stack([click[mask], second[mask]], dim=1), beta).mean()
    torch.testing.assert_close(ours, reference)


def test_cosine_penalty_by_hand():
    value = cosine_penalty(t([[3.0, 4.0]]), t([1.0, 0.0]))
    assert value.item() == pytest.approx(-0.6)


def test_objective_losses_columns_follow_the_objectives():
    pos = t([1.0, -1.0])
    neg = t([[0.0, 0.5], [0.2, -INF]])
    carts = torch.tensor([1, 0], dtype=torch.int8)
    orders = torch.tensor([0, 1], dtype=torch.int8)
    stacked = objective_losses(("orders", "clicks", "carts"), pos, neg, carts, orders)
    torch.testing.assert_close(stacked[:, 0], binary_cross_entropy_loss(pos, orders))
    torch.testing.assert_close(stacked[:, 1], sampled_softmax_loss(pos, neg))
    torch.testing.assert_close(stacked[:, 2], binary_cross_entropy_loss(pos, carts))
    labelled = objective_losses(("orders", "clicks"), pos, neg, carts, orders, bce_negatives=True)
    torch.testing.assert_close(labelled[:, 0], labelled_negatives_bce(pos, orders, neg))
    torch.testing.assert_close(labelled[:, 1], stacked[:, 1])
    with pytest.raises(ValueError, match="negative logits"):
        objective_losses(("clicks", "orders"), pos, None, carts, orders)
    with pytest.raises(ValueError, match="negative logits"):
        objective_losses(("orders",), pos, None, carts, orders, bce_negatives=True)
    with pytest.raises(ValueError, match="unknown objective"):
        objective_losses(("clicks", "views"), pos, neg, carts, orders)
