"""The repeat bonus: slots and features against a per-session loop, the model's terms, and
the training loss against a dense computation of the same score."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from paretoalign.model import ModelSpec, PreferenceRecommender, TrainConfig
from paretoalign.model.config import MULTITRON_DEFAULTS
from paretoalign.model.repeat import (
    COUNT_EDGES,
    RECENCY_EDGES,
    SessionTerms,
    add_terms,
    history_slots,
    terms_csr,
)


def _bucket(value: int, edges: tuple[int, ...]) -> int:
    return max(i for i, edge in enumerate(edges) if value >= edge)


def slots_reference(inputs: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per row, per query position ``t`` and per slot ``s``: the readable definition."""
    batch, length = inputs.shape
    ids = np.zeros((batch, n, length), np.int64)
    recency = np.zeros_like(ids)
    count = np.zeros_like(ids)
    for b in range(batch):
        for row, t in enumerate(range(length - n, length)):
            for s in range(t + 1):
                item = inputs[b, s]
                if item == 0 or any(inputs[b, u] == item for u in range(s + 1, t + 1)):
                    continue
                ids[b, row, s] = item
                recency[b, row, s] = _bucket(t - s, RECENCY_EDGES)
                count[b, row, s] = _bucket(int((inputs[b, : s + 1] == item).sum()), COUNT_EDGES)
    return ids, recency, count


def left_padded(rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    out = rows.copy()
    for b, n in enumerate(lengths):
        out[b, : out.shape[1] - n] = 0
    return out


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(1, 25)), elements=st.integers(1, 4)),
    st.data(),
)
def test_history_slots_match_the_loop(rows, data):
    lengths = np.array(
        [data.draw(st.integers(0, rows.shape[1])) for _ in range(rows.shape[0])], dtype=np.int64
    )
    inputs = left_padded(rows, lengths)
    n = data.draw(st.integers(0, inputs.shape[1]))
    slots = history_slots(torch.from_numpy(inputs), n)
    ids, recency, count = slots_reference(inputs, n)
    np.testing.assert_array_equal(slots.ids.numpy(), ids)
    np.testing.assert_array_equal(slots.recency.numpy(), recency)
    np.testing.assert_array_equal(slots.count.numpy(), count)
    # one term per distinct item of the prefix: the ids of a query row are distinct
    for row in slots.ids.reshape(-1, inputs.shape[1]).numpy():
        nonzero = row[row != 0]
        assert len(np.unique(nonzero)) == len(nonzero)


def test_history_slots_hand_example():
    # clicks 5, 7, 5, 9, 7, 7 (left-padded to 8); query at the last position
    x = torch.tensor([[0, 0, 5, 7, 5, 9, 7, 7]])
    slots = history_slots(x, 1)
    assert slots.ids[0, 0].tolist() == [0, 0, 0, 0, 5, 9, 0, 7]
    # 5 was clicked 3 clicks ago (bucket 3) twice (bucket 1); 9 two ago once; 7 now, 3 times
    assert slots.recency[0, 0].tolist() == [0, 0, 0, 0, 3, 2, 0, 0]
    assert slots.count[0, 0].tolist() == [0, 0, 0, 0, 1, 0, 0, 2]
    with pytest.raises(ValueError, match="n must be"):
        history_slots(x, 9)


def make(repeat_bonus: bool = True, **kw) -> PreferenceRecommender:
    torch.manual_seed(0)
    spec = ModelSpec(n_items=30, objectives=("clicks", "carts", "orders"), hidden_size=8,
                     max_len=10, repeat_bonus=repeat_bonus, **kw)  # fmt: skip
    return PreferenceRecommender(spec).eval()


def test_the_bonus_starts_at_zero_and_leaves_the_other_parameters_alone():
    with_bonus, without = make(True, pi_item_bias=True), make(False, pi_item_bias=True)
    assert without.repeat_head is None
    plain = without.state_dict()
    full = with_bonus.state_dict()
    assert {k.split(".")[0] for k in set(full) - set(plain)} == {"repeat_head"}
    assert all(torch.equal(plain[k], full[k]) for k in plain)
    x = torch.randint(0, 31, (4, 10))
    pi = torch.full((4, 3), 1 / 3)
    states = with_bonus.encode(x, pi)
    assert without.session_terms(x, states, pi) is None
    terms = with_bonus.session_terms(x, states, pi)
    assert terms.ids.shape == terms.values.shape == (4, 10, 10)
    assert torch.all(terms.values == 0)


def test_pi_changes_the_terms():
    model = make()
    with torch.no_grad():
        model.repeat_head.out.weight.normal_()
    x = torch.tensor([[0, 3, 4, 3, 5, 6, 3, 7, 8, 4]])
    states = model.encode(x, torch.tensor([1.0, 0.0, 0.0]))
    clicks = model.session_terms(x, states, torch.tensor([[1.0, 0.0, 0.0]]))
    orders = model.session_terms(x, states, torch.tensor([[0.0, 0.0, 1.0]]))
    assert torch.equal(clicks.ids, orders.ids)
    assert not torch.allclose(clicks.values, orders.values)


def test_faithful_config_has_no_bonus():
    assert MULTITRON_DEFAULTS["repeat_bonus"] is False
    assert TrainConfig(multitron_faithful=True).repeat_bonus is False


def test_add_terms_and_csr():
    terms = SessionTerms(
        torch.tensor([[0, 4, 2], [7, 0, 0]]), torch.tensor([[0.0, 1.5, -2.0], [3.0, 0.0, 0.0]])
    )
    logits = torch.zeros(2, 3)
    candidates = torch.tensor([[2, 4, 0], [7, 7, 1]])
    assert add_terms(logits, candidates, terms).tolist() == [[-2.0, 1.5, 0.0], [3.0, 3.0, 0.0]]
    ptr, ids, values = terms_csr(terms)
    assert ptr.tolist() == [0, 2, 3] and ids.tolist() == [4, 2, 7]
    assert values.tolist() == [1.5, -2.0, 3.0]
    assert (ptr.dtype, ids.dtype, values.dtype) == (np.int64, np.int32, np.float32)


def test_catalogue_softmax_equals_the_dense_score(tiny_log_small):
    """With every item as a negative (``negatives = "catalogue"``, all kept), the click loss
    is the full softmax over ``h . e_j + r(j)``: the history negatives carry their term once,
    the target is never its own negative."""
    from paretoalign.data.labels import label_sequences
    from paretoalign.model.training import (
        batch_negatives,
        build_model,
        position_losses,
        to_device,
    )

    cfg = TrainConfig(hidden_size=8, num_layers=1, max_len=8, batch_size=8, repeat_bonus=True,
                      negatives="catalogue", topk_negatives=None, dropout=0.0,
                      objectives=("clicks", "orders"))  # fmt: skip
    n_items = tiny_log_small.n_items
    model = build_model(cfg, n_items).eval()
    with torch.no_grad():
        model.repeat_head.out.weight.normal_(std=2.0)
        model.repeat_head.out.bias.normal_(std=2.0)
    seq = label_sequences(tiny_log_small.take(np.arange(8)), cfg.max_len)
    batch = to_device(seq, slice(0, 8), torch.device("cpu"))
    pi = torch.tensor([0.6, 0.4])
    negatives = batch_negatives(cfg, batch["inputs"], n_items, torch.Generator())
    with torch.no_grad():
        losses = position_losses(model, batch, pi, negatives, cfg)
        states = model.encode_unchecked(batch["inputs"], pi.expand(8, 2))
        terms = model.session_terms(batch["inputs"], states, pi.expand(8, 2))
        scores = states @ model.item_embeddings().T  # [B, L, N + 1]
        for b in range(8):
            for t in range(cfg.max_len):
                for slot, item in enumerate(terms.ids[b, t].tolist()):
                    if item:
                        scores[b, t, item] += terms.values[b, t, slot]
        mask = batch["mask"]
        dense = scores[mask][:, 1:]  # drop padding
        target = batch["targets"][mask] - 1
        expected = torch.logsumexp(dense, 1) - dense.gather(1, target[:, None])[:, 0]
    torch.testing.assert_close(losses[:, 0], expected, atol=1e-4, rtol=1e-5)


@pytest.fixture
def tiny_log_small():
    from paretoalign.model.synthetic import synthetic_sessions

    return synthetic_sessions(40, 24, seed=3, n_categories=2, mean_clicks=7.0)
