from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tests.front.conftest import MAX_LEN, N_ITEMS

from paretoalign.front.policies import (
    ConditionedPolicy,
    GroupRouter,
    ModelServer,
    exclusion_csr,
    item_log_popularity,
    popularity_penalty_scale,
)
from paretoalign.ranking import topk_numpy

PI_A = (0.8, 0.1, 0.1)
PI_B = (0.1, 0.1, 0.8)


def _full_states(model, history, pi):
    with torch.inference_mode():
        x = torch.from_numpy(history.astype(np.int64))
        return model.encode(x, torch.tensor(pi, dtype=torch.float32))[:, -1].numpy()


def test_trimmed_encoding_equals_the_full_width_encoder(small_model, histories):
    server = ModelServer(small_model, batch_size=64)
    ours = server.encode_last(histories, PI_A)
    np.testing.assert_allclose(ours, _full_states(small_model, histories, PI_A), atol=2e-5)


def test_per_row_pi_equals_separate_calls(small_model, histories):
    server = ModelServer(small_model)
    pis = np.array([PI_A, PI_B] * (len(histories) // 2), dtype=np.float32)
    mixed = server.encode_last(histories, pis)
    np.testing.assert_allclose(mixed[0::2], server.encode_last(histories[0::2], PI_A), atol=2e-5)
    np.testing.assert_allclose(mixed[1::2], server.encode_last(histories[1::2], PI_B), atol=2e-5)


def test_recommend_equals_brute_force_ranking(small_model, histories):
    policy = ConditionedPolicy(small_model, PI_A)
    ids = policy.recommend(histories, 12)
    states = _full_states(small_model, histories, PI_A)
    items = small_model.item_embeddings().detach().numpy()
    _, ref = topk_numpy(np.ascontiguousarray(states), items, 12)
    # the trimmed encoder may differ in the last float bits: compare scores, not ids
    scores = np.take_along_axis(states @ items.T, ids, axis=1)
    ref_scores = np.take_along_axis(states @ items.T, ref, axis=1)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    assert (np.mean(ids == ref)) > 0.99
    assert ids.dtype == np.int32 and ids.shape == (len(histories), 12)
    assert ids.min() >= 1


def test_different_pi_give_different_slates(small_model, histories):
    a = ConditionedPolicy(small_model, PI_A).recommend(histories, 12)
    b = ConditionedPolicy(small_model, PI_B).recommend(histories, 12)
    assert np.mean(np.any(a != b, axis=1)) > 0.5


@pytest.mark.parametrize("exclude", ["current", "history"])
def test_exclusion_is_respected(small_model, histories, exclude):
    ids = ConditionedPolicy(small_model, PI_A, exclude=exclude).recommend(histories, 12)
    for row, hist in zip(ids, histories):
        banned = {int(hist[-1])} if exclude == "current" else set(hist[hist > 0].tolist())
        banned.discard(0)
        assert not banned & set(row.tolist())


def test_exclusion_csr():
    h = np.array([[0, 0, 3], [0, 0, 0], [5, 6, 5]], np.int32)
    ptr, ids = exclusion_csr(h, "history")
    assert ptr.tolist() == [0, 1, 1, 4] and ids.tolist() == [3, 5, 6, 5]
    ptr, ids = exclusion_csr(h, "current")
    assert ptr.tolist() == [0, 1, 1, 2] and ids.tolist() == [3, 5]
    assert exclusion_csr(h, "none") is None
    with pytest.raises(ValueError, match="exclude"):
        exclusion_csr(h, "all")


def test_popularity_penalty_ranks_by_penalised_score(small_model, histories, rng):
    counts = rng.integers(0, 1000, small_model.n_items + 1)
    pop = np.log1p(counts).astype(np.float32)
    pop[0] = 0
    server = ModelServer(small_model, item_log_popularity=pop)
    coef = 0.5 * popularity_penalty_scale(server, histories, PI_A)
    ids = ConditionedPolicy(server, PI_A, popularity_coef=coef).recommend(histories, 12)
    states = server.encode_last(histories, PI_A)
    penalised = states @ server.items.T - coef * pop[None, :]
    penalised[:, 0] = -np.inf
    got = np.take_along_axis(penalised, ids, axis=1)
    best = -np.sort(-penalised, axis=1)[:, :12]
    np.testing.assert_allclose(got, best, atol=1e-4)
    plain = ConditionedPolicy(server, PI_A).recommend(histories, 12)
    assert pop[ids].mean() < pop[plain].mean()


def test_item_log_popularity_counts_clicks():
    from paretoalign.data import SessionLog

    log = SessionLog.from_arrays([0, 3, 4], [1, 2, 1, 1], [0, 1, 2, 0], [0, 0, 2, 0], n_items=3)
    np.testing.assert_allclose(item_log_popularity(log), np.log1p([0, 2, 1, 0]), rtol=1e-6)


def test_router_matches_each_arm(small_model, histories):
    server = ModelServer(small_model)
    arms = [
        ConditionedPolicy(server, PI_A),
        ConditionedPolicy(server, PI_B),
        SimpleNamespace(
            recommend=lambda h, k: np.tile(np.arange(1, k + 1, dtype=np.int32), (len(h), 1))
        ),
        lambda state: np.full((len(state.shopper_id), 12), 7, np.int32),
    ]
    shoppers = np.arange(len(histories), dtype=np.int64) + 100
    group_of = lambda sid: (sid % 4).astype(np.int64)  # noqa: E731
    state = SimpleNamespace(shopper_id=shoppers, history=histories)

    def take(s, rows):
        return SimpleNamespace(shopper_id=s.shopper_id[rows], history=s.history[rows])

    router = GroupRouter(group_of, arms, 12, take_rows=take)
    out = router(state)
    g = group_of(shoppers)
    for j in range(2):
        np.testing.assert_array_equal(out[g == j], arms[j].recommend(histories[g == j], 12))
    assert (out[g == 2] == np.arange(1, 13)).all()
    assert (out[g == 3] == 7).all()
    assert router.timing["model"] > 0


def test_router_validation(small_model):
    server = ModelServer(small_model)
    other = ModelServer(small_model)
    with pytest.raises(ValueError, match="share one ModelServer"):
        GroupRouter(
            lambda s: s, [ConditionedPolicy(server, PI_A), ConditionedPolicy(other, PI_B)], 12
        )
    with pytest.raises(ValueError, match="exclude rule"):
        GroupRouter(
            lambda s: s,
            [ConditionedPolicy(server, PI_A), ConditionedPolicy(server, PI_B, exclude="history")],
            12,
        )
    router = GroupRouter(lambda s: s * 0 + 5, [ConditionedPolicy(server, PI_A)], 12)
    with pytest.raises(ValueError, match="outside"):
        router(SimpleNamespace(shopper_id=np.array([1]), history=np.zeros((1, 50), np.int32)))
    with pytest.raises(ValueError, match="at least one arm"):
        GroupRouter(lambda s: s, [], 12)


def test_input_validation(small_model, histories):
    policy = ConditionedPolicy(small_model, PI_A)
    with pytest.raises(TypeError, match="integer"):
        policy.recommend(histories.astype(np.float32), 12)
    with pytest.raises(ValueError, match="L = 50"):
        policy.recommend(histories[:, :10], 12)
    with pytest.raises(ValueError, match=r"0\.\.300"):
        policy.recommend(histories + 1000, 12)
    with pytest.raises(ValueError, match="k must be"):
        policy.recommend(histories, 0)
    with pytest.raises(ValueError, match="sum to 1"):
        ConditionedPolicy(small_model, (0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="shape"):
        ConditionedPolicy(small_model, (0.5, 0.5))
    with pytest.raises(ValueError, match="item_log_popularity"):
        ConditionedPolicy(small_model, PI_A, popularity_coef=1.0)
    assert policy.recommend(histories[:0], 5).shape == (0, 5)


def test_last_position_fast_path_equals_the_model(small_model, histories):
    from paretoalign.front.inference import last_position_states, supports_last_position

    assert supports_last_position(small_model)
    pis = torch.tensor(
        np.random.default_rng(0).dirichlet([1, 1, 1], len(histories)), dtype=torch.float32
    )
    x = torch.from_numpy(histories.astype(np.int64))
    with torch.inference_mode():
        fast = last_position_states(small_model, x, pis)
        ref = small_model.encode(x, pis)[:, -1]
        # trimmed leading padding (all rows of this slice need at most 8 columns)
        short = x[:, -8:][(x[:, :-8] == 0).all(dim=1)]
        pis_short = pis[(x[:, :-8] == 0).all(dim=1)]
        trimmed = last_position_states(small_model, short, pis_short)
        ref_short = small_model.encode(torch.nn.functional.pad(short, (50 - 8, 0)), pis_short)[
            :, -1
        ]
    np.testing.assert_allclose(fast.numpy(), ref.numpy(), atol=2e-5)
    np.testing.assert_allclose(trimmed.numpy(), ref_short.numpy(), atol=2e-5)
    small_model.train()
    try:
        with pytest.raises(ValueError, match="eval mode"):
            last_position_states(small_model, x, pis)
    finally:
        small_model.eval()


def test_last_position_fast_path_with_the_recipe_extensions(histories):
    from paretoalign.front.inference import last_position_states
    from paretoalign.model import ModelSpec, PreferenceRecommender

    torch.manual_seed(1)
    model = PreferenceRecommender(ModelSpec(
        n_items=int(histories.max()), objectives=("clicks", "orders"), hidden_size=16,
        max_len=histories.shape[1], normalize_items=True, identity_init=True,
        share_embeddings=False, ffn_size=24, item_codes=0.5, copy_recent=3, pi_item_bias=True,
    )).eval()  # fmt: skip
    with torch.no_grad():
        model.log_item_scale.fill_(0.7)  # a length != 1 must reach the inputs too
        model.item_bias.normal_()
    x = torch.from_numpy(histories.astype(np.int64))
    pi = torch.full((len(x), 2), 0.5)
    with torch.inference_mode():
        np.testing.assert_allclose(
            last_position_states(model, x, pi).numpy(), model.encode(x, pi)[:, -1].numpy(),
            atol=2e-5,
        )  # fmt: skip


def test_gru_backbone_falls_back_to_the_model():
    from paretoalign.front.inference import last_position_states, supports_last_position
    from paretoalign.model import ModelSpec, PreferenceRecommender

    torch.manual_seed(0)
    spec = ModelSpec(n_items=50, objectives=("clicks", "orders"), backbone="gru", hidden_size=8)
    gru = PreferenceRecommender(spec).eval()
    assert not supports_last_position(gru)
    x = torch.randint(0, 51, (5, 50))
    pi = torch.full((5, 2), 0.5)
    with torch.inference_mode():
        np.testing.assert_allclose(
            last_position_states(gru, x, pi).numpy(), gru.encode(x, pi)[:, -1].numpy(), atol=1e-6
        )


@pytest.fixture(scope="module")
def repeat_model():
    """A model with the repeat bonus and a non-zero (random) repeat head."""
    from paretoalign.model import ModelSpec, PreferenceRecommender

    spec = ModelSpec(n_items=N_ITEMS, objectives=("clicks", "carts", "orders"), hidden_size=16,
                     num_layers=2, max_len=MAX_LEN, repeat_bonus=True, pi_item_bias=True)  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = PreferenceRecommender(spec)
        with torch.no_grad():
            model.repeat_head.out.weight.normal_(std=0.5)
            model.repeat_head.out.bias.normal_(std=2.0)
    return model.eval()


def _dense_scores(model, history, pi, exclude):
    """``h . e_j + r(j)`` of every item at the last position (float64), ineligible -inf."""
    with torch.inference_mode():
        x = torch.from_numpy(history.astype(np.int64))
        p = torch.tensor(pi, dtype=torch.float32).expand(len(x), -1)
        states = model.encode(x, p)
        terms = model.session_terms(x, states[:, -1:], p)
        scores = states[:, -1].double() @ model.item_embeddings().double().T
        rows = torch.arange(len(x))[:, None].expand_as(terms.ids[:, 0])
        scores.index_put_((rows, terms.ids[:, 0]), terms.values[:, 0].double(), accumulate=True)
    scores = scores.numpy()
    scores[:, 0] = -np.inf
    csr = exclusion_csr(history, exclude)
    if csr is not None:
        ptr, ids = csr
        scores[np.repeat(np.arange(len(history)), np.diff(ptr)), ids] = -np.inf
    return scores


@pytest.mark.parametrize("exclude", ["none", "current"])
def test_serving_ranks_by_the_score_with_the_repeat_bonus(repeat_model, histories, exclude):
    ids = ConditionedPolicy(repeat_model, PI_A, exclude=exclude).recommend(histories, 12)
    scores = _dense_scores(repeat_model, histories, PI_A, exclude)
    reference = -np.sort(-scores, axis=1)[:, :12]
    np.testing.assert_allclose(np.take_along_axis(scores, ids, axis=1), reference, atol=1e-4)
    # the bonus matters: a session's own items reach the slates
    seen = [set(h[h > 0].tolist()) & set(row.tolist()) for h, row in zip(histories, ids)]
    assert sum(map(len, seen)) > len(histories)


def test_offline_ranking_uses_the_score_with_the_repeat_bonus(repeat_model):
    """The offline evaluation ranks every position by ``h_t . e_j + r_t(j)`` (checked
    against the dense score of every item) — the same score serving ranks by at the last
    position (:func:`test_serving_ranks_by_the_score_with_the_repeat_bonus`)."""
    from paretoalign.data.labels import label_sequences
    from paretoalign.metrics._streaming import _model_ranker
    from paretoalign.model.synthetic import synthetic_sessions

    log = synthetic_sessions(60, N_ITEMS, seed=4, n_categories=3, mean_clicks=9.0)
    labelled = label_sequences(log, MAX_LEN)
    pi = torch.tensor(PI_B, dtype=torch.float32)
    with torch.no_grad():
        ids = _model_ranker(repeat_model, pi, 12, False, None)(labelled)
        x = torch.from_numpy(labelled.inputs).long()
        states = repeat_model.encode(x, pi)
        terms = repeat_model.session_terms(x, states, pi.expand(len(x), -1))
        scores = states.double() @ repeat_model.item_embeddings().double().T  # [B, L, N + 1]
        b, t, s = torch.nonzero(terms.ids, as_tuple=True)
        scores[b, t, terms.ids[b, t, s]] += terms.values[b, t, s].double()
    dense = scores[torch.from_numpy(labelled.mask)].numpy()
    dense[:, 0] = -np.inf
    reference = -np.sort(-dense, axis=1)[:, :12]
    np.testing.assert_allclose(np.take_along_axis(dense, ids, axis=1), reference, atol=1e-4)
