"""evaluate_model / evaluate_recommender: streaming equals the direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from paretoalign.data import CART, CLICK, ORDER, SessionLog
from paretoalign.data.labels import label_sequences
from paretoalign.metrics import evaluate, evaluate_model, evaluate_recommender
from paretoalign.ranking import topk_numpy

N_ITEMS = 40
MAX_LEN = 6


def random_log(rng: np.random.Generator, n_sessions: int = 23) -> SessionLog:
    """Sessions of 1..12 events: mostly clicks, some carts and orders of clicked items."""
    aids, types, lengths = [], [], []
    for _ in range(n_sessions):
        n = int(rng.integers(1, 13))
        aid = rng.integers(1, N_ITEMS + 1, n)
        kind = rng.choice([CLICK, CART, ORDER], n, p=[0.6, 0.2, 0.2])
        kind[0] = CLICK
        for e in range(1, n):  # carts and orders are of items clicked before
            if kind[e] != CLICK:
                aid[e] = rng.choice(aid[:e][kind[:e] == CLICK])
        aids.append(aid)
        types.append(kind)
        lengths.append(n)
    ptr = np.concatenate([[0], np.cumsum(lengths)])
    n_events = int(ptr[-1])
    return SessionLog.from_arrays(
        ptr,
        np.concatenate(aids),
        np.arange(n_events) * 1000,
        np.concatenate(types),
        n_items=N_ITEMS,
    )


class TinyModel(torch.nn.Module):
    """A fake conditioned model: causal running mean of embeddings, scaled by π."""

    def __init__(self, n_items: int = N_ITEMS, dim: int = 5, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.n_items = n_items
        self.table = torch.nn.Parameter(torch.randn(n_items + 1, dim, generator=gen))
        self.dropout = torch.nn.Dropout(0.5)  # must be off while evaluating

    def encode(self, inputs: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        emb = self.dropout(self.table[inputs])
        steps = torch.arange(1, inputs.shape[1] + 1, dtype=emb.dtype)[None, :, None]
        running = emb.cumsum(dim=1) / steps
        return pi[0] * emb + pi[1] * running

    def item_embeddings(self) -> torch.Tensor:
        return self.table


def numpy_topk(queries, items, k, *, exclude=None):
    return topk_numpy(queries, items, k, exclude=exclude)


def direct_model_metrics(model, log, pi, k, **kwargs):
    """Label everything at once, score every real position, evaluate in one call."""
    model.eval()
    lab = label_sequences(log, MAX_LEN)
    with torch.no_grad():
        states = model.encode(torch.from_numpy(lab.inputs).long(), torch.tensor(pi))
    queries = states[torch.from_numpy(lab.mask)].numpy().astype(np.float32)
    items = model.item_embeddings().detach().numpy().astype(np.float32)
    _, ids = topk_numpy(queries, items, k)
    m = lab.mask
    return evaluate(
        ids,
        lab.targets[m],
        cart_label=lab.cart_label[m],
        order_label=lab.order_label[m],
        k=k,
        n_items=N_ITEMS,
        **kwargs,
    )


def histories_by_loop(log: SessionLog) -> np.ndarray:
    """The per-position histories, written the slow and obvious way."""
    lab = label_sequences(log, MAX_LEN)
    rows = []
    for s in range(lab.n_sequences):
        for t in range(MAX_LEN):
            if lab.mask[s, t]:
                prefix = lab.inputs[s, : t + 1]
                rows.append(np.concatenate([np.zeros(MAX_LEN - len(prefix)), prefix]))
    return np.array(rows, dtype=np.int32).reshape(-1, MAX_LEN)


@pytest.mark.parametrize("block_sessions", [1, 4, 1000])
def test_evaluate_model_equals_direct_evaluation(rng, block_sessions):
    log = random_log(rng)
    model = TinyModel()
    pi = np.array([0.3, 0.7], dtype=np.float32)
    got = evaluate_model(
        model,
        log,
        pi,
        k=5,
        max_len=MAX_LEN,
        block_sessions=block_sessions,
        progress=False,
        topk_fn=numpy_topk,
    )
    expected = direct_model_metrics(model, log, pi, 5)
    assert list(got["metric"]) == list(expected["metric"])
    np.testing.assert_allclose(got["value"], expected["value"], rtol=1e-12, atol=1e-15)


def test_evaluate_model_with_real_topk_equals_reference_topk(rng):
    log = random_log(rng, 40)
    model = TinyModel(seed=3)
    pi = np.array([1.0, 0.5], dtype=np.float32)
    real = evaluate_model(model, log, pi, k=7, max_len=MAX_LEN, progress=False)
    ref = evaluate_model(model, log, pi, k=7, max_len=MAX_LEN, progress=False, topk_fn=numpy_topk)
    np.testing.assert_allclose(real["value"], ref["value"], rtol=1e-12)


def test_evaluate_model_with_the_real_model(rng):
    from paretoalign.model import ModelSpec, PreferenceRecommender

    spec = ModelSpec(
        n_items=N_ITEMS,
        objectives=("clicks", "orders"),
        hidden_size=8,
        num_layers=1,
        max_len=MAX_LEN,
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = PreferenceRecommender(spec)
    log = random_log(rng)
    pi = np.array([0.5, 0.5], dtype=np.float32)
    got = evaluate_model(model, log, pi, k=5, max_len=MAX_LEN, block_sessions=5, progress=False)
    expected = direct_model_metrics(model.eval(), log, pi, 5)
    np.testing.assert_allclose(got["value"], expected["value"], rtol=1e-12, atol=1e-15)


def test_evaluate_model_restores_training_mode(rng):
    log = random_log(rng)
    model = TinyModel()
    model.train()
    pi = np.array([0.5, 0.5], dtype=np.float32)
    first = evaluate_model(model, log, pi, k=5, max_len=MAX_LEN, progress=False, topk_fn=numpy_topk)
    second = evaluate_model(
        model, log, pi, k=5, max_len=MAX_LEN, progress=False, topk_fn=numpy_topk
    )
    assert model.training
    # dropout was off: two runs agree exactly
    assert first["value"].to_numpy().tobytes() == second["value"].to_numpy().tobytes()


def test_exclude_seen_passes_each_history(rng):
    log = random_log(rng)
    model = TinyModel()
    pi = np.array([0.5, 0.5], dtype=np.float32)
    histories = histories_by_loop(log)
    received = []

    def spy(queries, items, k, *, exclude=None):
        received.append(exclude)
        scores, ids = topk_numpy(queries, items, k, exclude=exclude)
        return scores, ids

    evaluate_model(
        model,
        log,
        pi,
        k=5,
        max_len=MAX_LEN,
        block_sessions=1000,
        exclude_seen=True,
        progress=False,
        topk_fn=spy,
    )
    ((ptr, ids),) = received
    assert len(ptr) == len(histories) + 1
    for q, history in enumerate(histories):
        seen = np.unique(history[history > 0])
        np.testing.assert_array_equal(ids[ptr[q] : ptr[q + 1]], seen)


def test_batch_sessions_equals_flat_batch_mode(rng):
    log = random_log(rng, 21)
    model = TinyModel()
    pi = np.array([0.2, 0.8], dtype=np.float32)
    got = evaluate_model(
        model,
        log,
        pi,
        k=5,
        max_len=MAX_LEN,
        block_sessions=5,
        batch_sessions=4,
        progress=False,
        topk_fn=numpy_topk,
    )
    # MultiTRON: the flattened [S, L] arrays with their mask, batches of 4 sessions
    model.eval()
    lab = label_sequences(log, MAX_LEN)
    with torch.no_grad():
        states = model.encode(torch.from_numpy(lab.inputs).long(), torch.tensor(pi))
    queries = states.reshape(-1, states.shape[-1]).numpy().astype(np.float32)
    _, ids = topk_numpy(queries, model.table.detach().numpy(), 5)
    expected = evaluate(
        ids,
        lab.targets.reshape(-1),
        cart_label=lab.cart_label.reshape(-1),
        order_label=lab.order_label.reshape(-1),
        mask=lab.mask.reshape(-1),
        k=5,
        n_items=N_ITEMS,
        batch_size=4 * MAX_LEN,
    )
    names = list(expected["metric"])
    # coverage counts the kept batches' positions in both
    np.testing.assert_allclose(got["value"], expected["value"], rtol=1e-12, err_msg=str(names))


class LastItemsRecommender:
    """A fake baseline: the k items after the latest click (cyclically)."""

    def __init__(self, n_items: int) -> None:
        self.n_items = n_items
        self.calls = []

    def recommend(self, history: np.ndarray, k: int) -> np.ndarray:
        assert history.dtype == np.int32 and history.shape[1] == MAX_LEN
        self.calls.append(history.copy())
        latest = history[:, -1].astype(np.int64)
        return ((latest[:, None] + np.arange(k)) % self.n_items + 1).astype(np.int32)


@pytest.mark.parametrize("batch_positions", [1, 7, 4096])
def test_evaluate_recommender_feeds_every_prefix(rng, batch_positions):
    log = random_log(rng)
    rec = LastItemsRecommender(N_ITEMS)
    got = evaluate_recommender(
        rec,
        log,
        k=4,
        max_len=MAX_LEN,
        block_sessions=3,
        batch_positions=batch_positions,
        progress=False,
    )
    histories = histories_by_loop(log)
    np.testing.assert_array_equal(np.concatenate(rec.calls), histories)
    lab = label_sequences(log, MAX_LEN)
    m = lab.mask
    expected = evaluate(
        LastItemsRecommender(N_ITEMS).recommend(histories, 4),
        lab.targets[m],
        cart_label=lab.cart_label[m],
        order_label=lab.order_label[m],
        k=4,
        n_items=N_ITEMS,
    )
    np.testing.assert_allclose(got["value"], expected["value"], rtol=1e-12)


def test_evaluate_recommender_with_real_baseline(rng):
    from paretoalign.model import PopularityRecommender

    log = random_log(rng)
    rec = PopularityRecommender().fit(log)
    got = evaluate_recommender(rec, log, k=5, max_len=MAX_LEN, progress=True)
    assert got["value"].between(0, 1).all()


def test_streaming_rejects_bad_inputs(rng):
    log = random_log(rng)

    class NoRecommend:
        pass

    class WrongShape:
        def recommend(self, history, k):
            return np.ones((len(history), k + 1), dtype=np.int32)

    class ZeroIds:
        def recommend(self, history, k):
            return np.zeros((len(history), k), dtype=np.int32)

    with pytest.raises(TypeError, match="SessionLog"):
        evaluate_recommender(LastItemsRecommender(N_ITEMS), "not a log", progress=False)
    with pytest.raises(TypeError, match="recommend"):
        evaluate_recommender(NoRecommend(), log, progress=False)
    with pytest.raises(ValueError, match="expected an integer array of shape"):
        evaluate_recommender(WrongShape(), log, max_len=MAX_LEN, progress=False)
    with pytest.raises(ValueError, match="item 0 is padding"):
        evaluate_recommender(ZeroIds(), log, max_len=MAX_LEN, progress=False)
    with pytest.raises(ValueError, match="only 5"):
        evaluate_model(TinyModel(n_items=5), log, [0.5, 0.5], progress=False, topk_fn=numpy_topk)
    with pytest.raises(ValueError, match="block_sessions"):
        evaluate_model(TinyModel(), log, [0.5, 0.5], block_sessions=0, progress=False)
