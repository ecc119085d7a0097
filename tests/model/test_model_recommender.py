"""The conditioned model: adapter formula, masks, causality, padding, π, validation, IO."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from paretoalign.model import ModelSpec, PreferenceRecommender, load_model, save_model
from paretoalign.model.backbones import attention_mask
from paretoalign.model.recommender import first_real_column

N_ITEMS, L, D = 30, 6, 8


def make(backbone: str = "transformer", **kw) -> PreferenceRecommender:
    torch.manual_seed(0)
    spec = ModelSpec(
        n_items=N_ITEMS,
        objectives=("clicks", "carts", "orders"),
        backbone=backbone,
        hidden_size=D,
        num_layers=2,
        max_len=L,
        **kw,
    )
    return PreferenceRecommender(spec).eval()


def batch() -> torch.Tensor:
    return torch.tensor(
        [[0, 0, 0, 3, 4, 5], [1, 2, 3, 4, 5, 6], [0, 0, 0, 0, 0, 7], [0, 0, 0, 0, 0, 0]]
    )


PI = torch.tensor([0.2, 0.3, 0.5])


def test_attention_mask_by_hand():
    padding = torch.tensor([[True, True, False, False]])
    mask = attention_mask(padding)[0].int().tolist()
    # rows = query t, cols = key s; 1 = blocked. Padding rows attend only to themselves.
    assert mask == [
        [0, 1, 1, 1],
        [1, 0, 1, 1],
        [1, 1, 0, 1],
        [1, 1, 0, 0],
    ]
    assert attention_mask(padding, num_heads=3).shape == (3, 4, 4)


def test_adapter_equals_concatenation_formula():
    model = make()
    inputs = batch()
    items = model.item_embedding(inputs)
    pi = PI[None, :].expand(len(inputs), -1)
    cat = torch.cat([items, pi[:, None, :].expand(-1, L, -1)], dim=-1)
    expected = model.adapter.linear(cat) * math.sqrt(D / 2) + model.adapter.positions.weight
    torch.testing.assert_close(model.adapter(items, pi), expected)


def test_transformer_matches_multitron_forward():
    """MultiTRON's forward transcribed (book: method page, ``method-conditioning``) with the model's own modules."""
    model = make()
    inputs = batch()
    items = model.item_embedding(inputs)
    beta = PI.repeat([L * len(inputs), 1]).reshape(len(inputs), L, 3)
    x = model.adapter.linear(torch.concat([items, beta], dim=-1)) * np.sqrt(D / 2)
    x = model.adapter.positions.weight[-L:] + x
    future = torch.triu(torch.ones(L, L) * float("-inf"), diagonal=1)
    padding_b = ~(inputs != 0).unsqueeze(1)
    merged = torch.logical_or(padding_b, torch.tile(future, (len(inputs), 1, 1)))
    diag = torch.tile(~torch.diag(torch.ones(L, dtype=torch.bool)), (len(inputs), 1, 1))
    att_mask = torch.logical_and(diag, merged)
    expected = model.backbone.encoder(model.input_dropout(x), att_mask)
    torch.testing.assert_close(model.encode(inputs, PI), expected)


@pytest.mark.parametrize("backbone", ["transformer", "gru"])
def test_causal_and_padding_blind(backbone):
    model = make(backbone)
    inputs = batch()
    with torch.no_grad():
        base = model.encode(inputs, PI)
        changed = inputs.clone()
        changed[1, 4:] = torch.tensor([9, 9])
        out = model.encode(changed, PI)
        # positions before the change are untouched, later ones move
        torch.testing.assert_close(out[1, :4], base[1, :4])
        assert not torch.allclose(out[1, 5], base[1, 5])
        # the frozen padding embedding never reaches a real position
        model.item_embedding.weight[0] += 5.0
        moved = model.encode(inputs, PI)
    real = inputs != 0
    torch.testing.assert_close(moved[real], base[real])
    assert torch.isfinite(base).all()  # all-padding rows give no NaN


def test_gru_real_positions_equal_an_unpadded_run():
    model = make("gru")
    inputs = batch()
    with torch.no_grad():
        states = model.encode(inputs, PI)
        z = model.adapter(model.item_embedding(inputs), PI[None].expand(len(inputs), -1))
        for row in range(3):
            real = inputs[row] != 0
            out, _ = model.backbone.gru(z[row : row + 1, real])
            torch.testing.assert_close(states[row, real], model.backbone.norm(out[0]))


@pytest.mark.parametrize("backbone", ["transformer", "gru"])
def test_pi_changes_the_states_and_per_row_pi(backbone):
    model = make(backbone)
    inputs = batch()
    with torch.no_grad():
        a = model.encode(inputs, torch.tensor([1.0, 0.0, 0.0]))
        b = model.encode(inputs, torch.tensor([0.0, 0.0, 1.0]))
        assert (a - b)[inputs != 0].abs().max() > 1e-3
        rows = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1, 0, 0.0]])
        mixed = model.encode(inputs, rows)
    torch.testing.assert_close(mixed[0], a[0])
    torch.testing.assert_close(mixed[1], b[1])


def test_padding_row_is_random_and_frozen():
    model = make()
    assert model.item_embedding.weight[0].abs().sum() > 0  # Xavier overwrote row 0
    model.train()
    inputs = batch()
    states = model.encode(inputs, PI)
    real = inputs != 0
    scores = states[real] @ model.item_embeddings()[1:].T  # every real item scored
    (states.sum() + scores.sum()).backward()
    assert model.item_embedding.weight.grad[0].abs().sum() == 0
    assert model.item_embedding.weight.grad[1:].abs().sum() > 0


@pytest.mark.parametrize(
    ("inputs", "pi", "exc", "match"),
    [
        (torch.zeros(2, L + 1, dtype=torch.long), PI, ValueError, "shape"),
        (torch.zeros(2, L), PI, TypeError, "integer"),
        (np.zeros((2, L), np.int64), PI, TypeError, "torch.Tensor"),
        (torch.full((2, L), N_ITEMS + 1), PI, ValueError, "outside"),
        (torch.full((2, L), -1), PI, ValueError, "outside"),
        (torch.zeros(2, L, dtype=torch.long), torch.tensor([0.5, 0.5]), ValueError, "shape"),
        (torch.zeros(2, L, dtype=torch.long), torch.tensor([0.5, 0.6, 0.1]), ValueError, "sum"),
        (torch.zeros(2, L, dtype=torch.long), torch.tensor([1.5, -0.5, 0.0]), ValueError, "non"),
        (torch.zeros(2, L, dtype=torch.long), torch.tensor([math.nan, 0, 1]), ValueError, "finite"),
    ],
)
def test_encode_validates(inputs, pi, exc, match):
    with pytest.raises(exc, match=match):
        make().encode(inputs, pi)


def test_constructor_validates():
    with pytest.raises(ValueError, match="n_items"):
        ModelSpec(n_items=0, objectives=("clicks", "orders"))
    with pytest.raises(ValueError, match="backbone"):
        ModelSpec(n_items=5, objectives=("clicks", "orders"), backbone="lstm")
    with pytest.raises(ValueError, match="copy_recent"):
        ModelSpec(n_items=5, objectives=("clicks", "orders"), max_len=4, copy_recent=5)
    with pytest.raises(ValueError, match="num_heads"):
        ModelSpec(n_items=5, objectives=("clicks",), hidden_size=10, num_heads=4)
    with pytest.raises(TypeError, match="ModelSpec"):
        PreferenceRecommender({"n_items": 5, "objectives": ("clicks",)})


def test_the_architecture_is_declared_once():
    from paretoalign.model import TrainConfig
    from paretoalign.model.architecture import Architecture

    arch = set(Architecture.model_fields)
    assert arch <= set(TrainConfig.model_fields)
    assert set(ModelSpec.model_fields) == arch | {"n_items", "objectives"}
    cfg = TrainConfig(hidden_size=16, num_heads=2, copy_recent=2, pi_item_bias=True)
    assert cfg.architecture() == Architecture(
        hidden_size=16, num_heads=2, copy_recent=2, pi_item_bias=True
    )


@pytest.mark.parametrize("backbone", ["transformer", "gru"])
def test_save_and_load_round_trip(tmp_path, backbone):
    model = make(backbone, num_heads=2) if backbone == "transformer" else make(backbone)
    save_model(model, tmp_path, {"note": "x"})
    loaded = load_model(tmp_path)
    assert not loaded.training
    assert loaded.objectives == model.objectives and loaded.n_items == N_ITEMS
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(batch(), PI), model.encode(batch(), PI))
    assert torch.equal(loaded.item_embeddings(), model.item_embeddings())


EXTENSIONS = dict(normalize_items=True, identity_init=True, item_codes=0.5, copy_recent=2)


def test_copy_term_by_hand():
    model = make(**EXTENSIONS)
    with torch.no_grad():
        model.copy_gate.weight.zero_()
        model.copy_gate.bias.copy_(torch.tensor([0.0, 1.0]))
    g = [math.log(2.0), math.log(1.0 + math.e)]  # softplus(0), softplus(1)
    inputs = torch.tensor([[0, 0, 0, 3, 4, 5]])
    E = model.item_embeddings().detach()
    with torch.no_grad():
        term = model.copy_term(inputs, PI[None])
    expected = torch.zeros(1, L, D)
    for t in range(L):
        for r, gate in enumerate(g):
            if t - r >= 0 and inputs[0, t - r] != 0:  # padding adds nothing
                expected[0, t] += gate * E[inputs[0, t - r]]
    torch.testing.assert_close(term, expected)
    assert (term[0, :3] == 0).all()  # nothing before the session starts
    # the state is the backbone's plus the copy term
    plain = make(**{**EXTENSIONS, "copy_recent": 0})
    plain.load_state_dict(
        {k: v for k, v in model.state_dict().items() if not k.startswith("copy_gate")}
    )
    with torch.no_grad():
        torch.testing.assert_close(
            model.encode(inputs, PI), plain.encode(inputs, PI) + model.copy_term(inputs, PI[None])
        )


def test_extensions_rows_codes_and_round_trip(tmp_path):
    model = make(**EXTENSIONS)
    E = model.item_embeddings().detach()
    lengths = E[1:].norm(dim=1)
    torch.testing.assert_close(lengths, torch.full_like(lengths, 1.0))  # exp(0) = 1
    codes = model.item_code_table
    assert codes.shape == (N_ITEMS + 1, D) and (codes[0] == 0).all()
    save_model(model, tmp_path, {})
    loaded = load_model(tmp_path)
    assert torch.equal(loaded.item_code_table, codes)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(batch(), PI), model.encode(batch(), PI))
    with pytest.raises(ValueError, match="copy_recent"):
        make(copy_recent=L + 1)
    with pytest.raises(ValueError, match="item_codes"):
        make(item_codes=-1.0)


def test_pi_item_bias_appends_pi_and_the_biases():
    model = make(**EXTENSIONS, pi_item_bias=True)
    assert model.state_size == D + 3
    with torch.no_grad():
        model.item_bias.copy_(torch.randn(N_ITEMS + 1, 3))
        states = model.encode(batch(), PI)
        table = model.item_embeddings()
    assert states.shape == (4, L, D + 3) and table.shape == (N_ITEMS + 1, D + 3)
    real = batch() != 0
    torch.testing.assert_close(states[real][:, D:], PI.expand(int(real.sum()), -1))
    # score = h . e_j + pi . b_j
    scores = states[real] @ table.T
    expected = states[real][:, :D] @ table[:, :D].T + PI @ model.item_bias.T
    torch.testing.assert_close(scores, expected)


def test_load_model_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"model\.json"):
        load_model(tmp_path)


@pytest.mark.parametrize("backbone", ["transformer", "gru"])
def test_trimming_common_left_padding_keeps_real_states(backbone):
    model = make(backbone)
    inputs = torch.tensor([[0, 0, 0, 3, 4, 5], [0, 0, 0, 0, 2, 6], [0, 0, 0, 0, 0, 0]])
    pi = PI[None].expand(3, -1)
    with torch.no_grad():
        trimmed = model.encode(inputs, PI)
        full = model.encode_unchecked(inputs, pi)
    real = inputs != 0
    torch.testing.assert_close(trimmed[real], full[real])
    assert (trimmed[:, :3] == 0).all()  # the cut columns come back as zeros
    assert first_real_column(inputs) == 3 and first_real_column(torch.zeros(2, 4)) == 3
