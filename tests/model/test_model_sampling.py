"""Negative sampling: rejection, in-batch exclusion, logQ by hand, hard negatives vs brute force."""

from __future__ import annotations

import math

import pytest
import torch

from paretoalign.model.sampling import (
    BatchNegatives,
    hard_negative_logits,
    sample_negatives,
)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_uniform_negatives_reject_batch_items_and_are_seeded():
    inputs = torch.tensor([[0, 1, 2, 3], [0, 0, 5, 3], [7, 8, 9, 10]])
    a = sample_negatives(inputs, 30, 500, 0, generator=gen(1))
    b = sample_negatives(inputs, 30, 500, 0, generator=gen(1))
    assert torch.equal(a.uniform, b.uniform)
    batch_items = set(inputs[inputs > 0].tolist())
    drawn = set(a.uniform.tolist())
    assert drawn.isdisjoint(batch_items)
    assert min(drawn) >= 1 and max(drawn) <= 30
    assert drawn == set(range(1, 31)) - batch_items  # 500 draws cover the 21 allowed items
    c = sample_negatives(inputs, 30, 500, 0, generator=gen(2))
    assert not torch.equal(a.uniform, c.uniform)
    # without rejection batch items can be drawn
    d = sample_negatives(inputs, 30, 500, 0, generator=gen(1), reject_in_batch_items=False)
    assert set(d.uniform.tolist()) & batch_items


def test_uniform_negatives_nearly_covered_catalogue_and_full_coverage():
    inputs = torch.arange(1, 200).reshape(1, -1)  # items 1..199 of 200 are in the batch
    neg = sample_negatives(inputs, 200, 64, 0, generator=gen())
    assert neg.uniform.tolist() == [200] * 64
    covered = sample_negatives(torch.arange(1, 201).reshape(1, -1), 200, 4, 2, generator=gen())
    assert covered.uniform.numel() == 0 and covered.uniform_bias == 0.0


def test_in_batch_negatives_come_from_other_sessions_without_replacement():
    # every input position holds a distinct item, so items identify slots
    inputs = torch.tensor([[0, 1, 2, 3], [0, 0, 4, 5], [6, 7, 8, 9], [0, 0, 0, 0]])
    neg = sample_negatives(inputs, 50, 0, 5, generator=gen(3))
    owner = {item: row for row in range(4) for item in inputs[row].tolist() if item}
    for row in range(4):
        drawn = neg.in_batch[row].tolist()
        assert len(set(drawn)) == len(drawn)  # without replacement
        assert all(owner[item] != row for item in drawn)
    assert (neg.in_batch_bias == 0).all()  # no logQ correction
    # fewer candidates than requested: session 2 sees only items 1..5
    small = sample_negatives(inputs, 50, 0, 8, generator=gen(3))
    assert sorted(x for x in small.in_batch[2].tolist() if x) == [1, 2, 3, 4, 5]
    assert (small.in_batch_bias[2] == -math.inf).sum() == 3


def test_in_batch_negatives_keep_duplicates_of_the_list():
    # the candidate list keeps duplicates: item 9 appears twice in session 1
    inputs = torch.tensor([[0, 0, 1], [9, 9, 2]])
    neg = sample_negatives(inputs, 20, 0, 3, generator=gen(0))
    assert sorted(neg.in_batch[0].tolist()) == [2, 9, 9]


def test_in_batch_without_rejection_may_sample_own_session():
    inputs = torch.tensor([[1, 2, 3, 4], [0, 0, 0, 5]])
    neg = sample_negatives(inputs, 10, 0, 5, generator=gen(0), reject_in_batch_items=False)
    assert sorted(neg.in_batch[0].tolist()) == [1, 2, 3, 4, 5]


def test_logq_bias_by_hand():
    # pool = [1, 2, 3, 3, 4] owned by sessions [0, 0, 1, 1, 2]
    inputs = torch.tensor([[0, 1, 2], [0, 3, 3], [0, 0, 4]])
    neg = sample_negatives(inputs, 10, 3, 2, generator=gen(5), logq_correction=True)
    # uniform: 6 allowed items (5..10), 3 draws -> expected count 1/2 each -> bias log 2
    assert neg.uniform_bias == pytest.approx(math.log(2))
    expected = {
        # session 0 sees [3, 3, 4] (P = 3), draws 2: item 3 -> 2*2/3, item 4 -> 2*1/3
        0: {3: -math.log(4 / 3), 4: -math.log(2 / 3)},
        # session 1 sees [1, 2, 4]: every item 2*1/3
        1: {1: -math.log(2 / 3), 2: -math.log(2 / 3), 4: -math.log(2 / 3)},
        # session 2 sees [1, 2, 3, 3] (P = 4): item 3 -> 2*2/4 = 1, others 2*1/4
        2: {1: math.log(2), 2: math.log(2), 3: 0.0},
    }
    for row, by_item in expected.items():
        for item, bias in zip(neg.in_batch[row].tolist(), neg.in_batch_bias[row].tolist()):
            assert bias == pytest.approx(by_item[item], abs=1e-6)


def brute_force(states, table, negatives, session, k, targets):
    """Full score matrix, biases, hits removed, torch.topk: the specification."""
    cand = torch.cat(
        [negatives.uniform.expand(len(states), -1), negatives.in_batch[session]], dim=1
    )
    bias = torch.cat(
        [
            torch.full((len(states), negatives.uniform.numel()), negatives.uniform_bias),
            negatives.in_batch_bias[session],
        ],
        dim=1,
    ).to(states.dtype)
    scores = torch.einsum("md,mjd->mj", states, table[cand]) + bias
    if targets is not None:
        scores = scores.masked_fill(cand == targets[:, None], -math.inf)
    values, col = torch.topk(scores, min(k, scores.shape[1]), dim=1)
    return values, cand.gather(1, col)


@pytest.mark.parametrize("remove_hits", [False, True])
@pytest.mark.parametrize("k", [1, 7, 40])
def test_hard_negatives_equal_brute_force_values_and_gradients(remove_hits, k):
    g = gen(7)
    n_items, d, n_rows, m = 40, 6, 5, 23
    inputs = torch.randint(0, n_items + 1, (n_rows, 8), generator=g)
    negatives = sample_negatives(inputs, n_items, 25, 6, generator=g, logq_correction=True)
    negatives = BatchNegatives(
        negatives.uniform,
        negatives.uniform_bias,
        negatives.in_batch,
        negatives.in_batch_bias.double(),
    )
    session = torch.randint(0, n_rows, (m,), generator=g)
    targets = torch.randint(1, n_items + 1, (m,), generator=g)
    targets[:4] = negatives.uniform[:4]  # guaranteed accidental hits
    targets[4] = negatives.in_batch[session[4], 0]
    states = torch.randn(m, d, generator=g, dtype=torch.float64, requires_grad=True)
    table = torch.randn(n_items + 1, d, generator=g, dtype=torch.float64, requires_grad=True)
    hit_targets = targets if remove_hits else None

    values, ids = hard_negative_logits(states, table, negatives, session, k, targets=hit_targets)
    ref_values, ref_ids = brute_force(states, table, negatives, session, k, hit_targets)
    order = torch.argsort(values.detach(), dim=1, descending=True)
    torch.testing.assert_close(values.gather(1, order), ref_values)
    finite = torch.isfinite(ref_values)
    assert torch.equal(ids.gather(1, order)[finite], ref_ids[finite])
    if remove_hits:
        assert not (
            ids[torch.isfinite(values)] == targets[:, None].expand_as(ids)[torch.isfinite(values)]
        ).any()

    weights = torch.randn(m, generator=g, dtype=torch.float64)
    ours = (torch.logsumexp(values, dim=1) * weights).sum()
    ref = (torch.logsumexp(ref_values, dim=1) * weights).sum()
    grad_states, grad_table = torch.autograd.grad(ours, (states, table))
    ref_states, ref_table = torch.autograd.grad(ref, (states, table))
    torch.testing.assert_close(grad_states, ref_states)
    torch.testing.assert_close(grad_table, ref_table)


def test_hard_negatives_keep_all_and_only_uniform_or_only_in_batch():
    g = gen(9)
    inputs = torch.randint(1, 30, (3, 5), generator=g)
    states = torch.randn(4, 3, generator=g, dtype=torch.float64)
    table = torch.randn(31, 3, generator=g, dtype=torch.float64)
    session = torch.tensor([0, 1, 2, 2])
    for n_u, n_b in ((10, 0), (0, 4), (10, 4)):
        neg = sample_negatives(inputs, 30, n_u, n_b, generator=gen(1), reject_in_batch_items=False)
        neg = BatchNegatives(
            neg.uniform, neg.uniform_bias, neg.in_batch, neg.in_batch_bias.double()
        )
        values, _ = hard_negative_logits(states, table, neg, session, None)
        assert values.shape == (4, n_u + n_b)
        ref_values, _ = brute_force(states, table, neg, session, n_u + n_b, None)
        torch.testing.assert_close(values.sort(dim=1).values, ref_values.sort(dim=1).values)


def test_hard_negatives_with_no_positions():
    neg = sample_negatives(torch.tensor([[1, 2]]), 10, 4, 1, generator=gen())
    values, ids = hard_negative_logits(
        torch.zeros(0, 3), torch.zeros(11, 3), neg, torch.zeros(0, dtype=torch.long), 3
    )
    assert values.shape == (0, 3) and ids.shape == (0, 3)


def test_hard_negatives_blocked_scoring_matches_unblocked(monkeypatch):
    import paretoalign.model.sampling as sampling

    g = gen(11)
    inputs = torch.randint(1, 60, (4, 6), generator=g)
    neg = sample_negatives(inputs, 60, 50, 5, generator=g, logq_correction=True)
    states = torch.randn(37, 8, generator=g)
    table = torch.randn(61, 8, generator=g)
    session = torch.randint(0, 4, (37,), generator=g)
    whole, whole_ids = hard_negative_logits(states, table, neg, session, 9)
    monkeypatch.setattr(sampling, "_BLOCK_ELEMENTS", 120)  # blocks of 2 rows
    blocked, blocked_ids = hard_negative_logits(states, table, neg, session, 9)
    a, b = torch.argsort(whole, dim=1), torch.argsort(blocked, dim=1)
    torch.testing.assert_close(blocked.gather(1, b), whole.gather(1, a))
    assert torch.equal(blocked_ids.gather(1, b), whole_ids.gather(1, a))
