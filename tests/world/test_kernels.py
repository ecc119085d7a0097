"""Jitted kernels against their plain references: random streams, click model, alias
tables, logging slate tables, co-visitation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from paretoalign.world import kernels as K
from paretoalign.world import rng as R
from paretoalign.world.logging_policy import (
    build_slate_table,
    build_slate_table_reference,
    category_rankings,
    covisitation,
    popularity_order,
)
from paretoalign.world.records import Items
from paretoalign.world.reference import (
    alias_probabilities,
    build_alias_reference,
    slate_probs_reference,
)


# ---------------------------------------------------------------------- random streams
@pytest.mark.parametrize("seed", [0, 1, 2**63 + 12345, 2**64 - 1])
def test_stream_matches_reference(seed):
    st_ = np.array([seed], np.uint64)
    ref = R.SplitMix64(seed)
    for _ in range(50):
        assert R.u01(st_) == ref.u01()
    assert R.normal(st_) == ref.normal()
    assert R.normal_pair(st_) == ref.normal_pair()
    assert int(st_[0]) == ref.state


def test_uniforms_are_open_interval_and_uniform():
    st_ = np.array([7], np.uint64)
    u = np.array([R.u01(st_) for _ in range(20000)])
    assert (u > 0).all() and (u < 1).all()
    assert abs(u.mean() - 0.5) < 0.01
    assert abs(u.var() - 1 / 12) < 0.003


def test_session_seeds_match_reference_and_differ():
    key = R.make_key(3, 1)
    ids = np.array([0, 1, 2, 10**9, 2**40], np.int64)
    seeds = R.seeds_for(key, ids)
    assert [int(s) for s in seeds] == [R.session_seed_ref(int(key), int(i)) for i in ids]
    assert len(set(seeds.tolist())) == len(ids)
    assert R.make_key(3, 1) != R.make_key(1, 3)


def test_make_key_rejects_negative():
    with pytest.raises(ValueError, match="non-negative"):
        R.make_key(-1)
    with pytest.raises(ValueError, match="non-negative"):
        R.seeds_for(R.make_key(1), np.array([-3]))


# ---------------------------------------------------------------------- click model
def _kernel_probs(util, u0, theta, model):
    """Run ``kernels.slate_probs`` on utilities given directly (one item per position)."""
    b, kk = util.shape
    n = b * kk
    f = np.zeros(n + 1)
    i4 = np.zeros(n + 1, np.int32)
    click_base = np.concatenate([[0.0], util.reshape(-1)])
    ptr = np.array([0, n], np.int64)
    # the kernels' item record W; only click_base matters here
    W = Items(vec=np.zeros((n + 1, 1)), cat=i4, click_base=click_base, price_idx=f,
              cart_base=f, p_order=f, organic_base=f, cat_ptr=ptr, cat_items=i4[1:],
              alias_prob=f[1:], cat_mu=np.zeros((1, 1)), order_base=f, alias_idx=i4[1:],
              vec_cat=np.zeros((n, 1)), organic_cat=f[1:])  # fmt: skip
    par = np.zeros(K.N_PAR)
    par[K.P_U0] = u0
    par[K.P_THETA] = theta
    par[K.P_LOG_THETA] = math.log(theta)
    ipar = np.zeros(K.N_IPAR, np.int64)
    ipar[K.I_MODEL] = K.MODEL_PBM if model == "pbm" else K.MODEL_CASCADE
    probs = np.zeros((b, kk))
    organic = np.zeros(b)
    z = np.zeros(1)
    for i in range(b):
        slate = np.arange(1 + i * kk, 1 + (i + 1) * kk, dtype=np.int32)
        out = np.zeros(kk)
        organic[i] = K.slate_probs(slate, z, 0.0, W, par, ipar, out)
        probs[i] = out
    return probs, organic


@pytest.mark.parametrize("model", ["pbm", "cascade"])
@pytest.mark.parametrize("theta", [1.0, 0.85, 0.3])
def test_slate_probs_match_reference_random(rng, model, theta):
    util = rng.normal(0, 3, size=(50, 7))
    u0 = float(rng.normal(2, 1))
    probs, organic = _kernel_probs(util, u0, theta, model)
    ref_p, ref_o = slate_probs_reference(util, u0, theta, model)
    np.testing.assert_allclose(probs, ref_p, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(organic, ref_o, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(probs.sum(axis=1) + organic, 1.0, atol=1e-12)


@pytest.mark.parametrize("model", ["pbm", "cascade"])
def test_slate_probs_adversarial(model):
    util = np.array(
        [
            [700.0, 700.0, -700.0],  # overflow-prone: must stay finite and normalised
            [-800.0, -800.0, -800.0],  # everything goes organic
            [0.0, 0.0, 0.0],  # ties
            [1e-300, 5.0, 5.0],
        ]
    )
    for theta in (1.0, 1e-6):
        probs, organic = _kernel_probs(util, 0.0, theta, model)
        ref_p, ref_o = slate_probs_reference(util, 0.0, theta, model)
        assert np.isfinite(probs).all() and np.isfinite(organic).all()
        np.testing.assert_allclose(probs, ref_p, atol=1e-12)
        np.testing.assert_allclose(organic, ref_o, atol=1e-12)
        assert (probs >= 0).all()
        np.testing.assert_allclose(probs.sum(axis=1) + organic, 1.0, atol=1e-12)
    probs, organic = _kernel_probs(util[1:2], 0.0, 0.85, model)
    assert organic[0] == pytest.approx(1.0)


def test_position_bias_orders_equal_items():
    util = np.zeros((1, 5))
    for model in ("pbm", "cascade"):
        probs, _ = _kernel_probs(util, 0.0, 0.7, model)
        assert (np.diff(probs[0]) < 0).all()
        np.testing.assert_allclose(probs[0, 1:] / probs[0, :-1], 0.7 if model == "pbm" else 0.35)


# ---------------------------------------------------------------------- alias tables
@given(
    st.lists(
        st.lists(st.floats(1e-6, 1e3, allow_nan=False), min_size=1, max_size=12),
        min_size=1,
        max_size=6,
    )
)
def test_alias_matches_reference_and_weights(groups):
    weights = np.array([w for g in groups for w in g])
    ptr = np.concatenate([[0], np.cumsum([len(g) for g in groups])]).astype(np.int64)
    prob, alias = K.build_alias(weights, ptr)
    ref_prob, ref_alias = build_alias_reference(weights, ptr)
    np.testing.assert_array_equal(prob, ref_prob)
    np.testing.assert_array_equal(alias, ref_alias)
    implied = alias_probabilities(prob, alias, ptr)
    for c in range(len(groups)):
        w = weights[ptr[c] : ptr[c + 1]]
        np.testing.assert_allclose(implied[ptr[c] : ptr[c + 1]], w / w.sum(), atol=1e-9)


def test_alias_adversarial_single_and_equal_and_skewed():
    weights = np.array([5.0, 1.0, 1.0, 1.0, 1e-12, 1e12, 1.0])
    ptr = np.array([0, 1, 4, 7], np.int64)
    prob, alias = K.build_alias(weights, ptr)
    ref = build_alias_reference(weights, ptr)
    np.testing.assert_array_equal(prob, ref[0])
    np.testing.assert_array_equal(alias, ref[1])
    assert prob[0] == 1.0 and (prob[1:4] == 1.0).all()
    implied = alias_probabilities(prob, alias, ptr)
    np.testing.assert_allclose(implied[4:], weights[4:] / weights[4:].sum(), atol=1e-12)


def test_alias_draws_follow_weights():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    ptr = np.array([0, 4], np.int64)
    prob, alias = K.build_alias(weights, ptr)
    st_ = np.array([11], np.uint64)
    draws = np.array([K._pick_alias(prob, alias, 0, 4, R.u01(st_)) for _ in range(40000)])
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, weights / weights.sum(), atol=0.01)


# ---------------------------------------------------------------------- slate tables
def _random_table_inputs(rng, n, c, top):
    cat = np.concatenate([[-1], rng.integers(0, c, n)]).astype(np.int32)
    cat[1 : c + 1] = np.arange(c)  # every category non-empty
    score = np.concatenate([[0.0], rng.integers(0, 5, n).astype(float)])  # ties on purpose
    order = popularity_order(score)
    cat_ptr, cat_ranked = category_rankings(cat, order, c)
    sessions = rng.integers(1, n + 1, size=400)
    ptr = np.arange(0, 401, 4, dtype=np.int64)
    nbr_ptr, nbr_ids, _counts = covisitation(ptr, sessions, n, 2, top)
    return cat, nbr_ptr, nbr_ids, cat_ptr, cat_ranked, order


@pytest.mark.parametrize("share", [0.0, 0.5, 0.67, 1.0])
@pytest.mark.parametrize("n,c,k", [(40, 3, 6), (15, 5, 12), (13, 1, 12)])
def test_slate_table_matches_reference(rng, share, n, c, k):
    args = _random_table_inputs(rng, n, c, k)
    table = build_slate_table(*args, k, share)
    ref = build_slate_table_reference(*args, k, share)
    np.testing.assert_array_equal(table, ref)
    for i in range(1, n + 1):
        row = table[i]
        assert len(set(row.tolist())) == k, "slate items must be distinct"
        assert i not in row and (row >= 1).all() and (row <= n).all()


def test_slate_table_rejects_too_small_catalogue():
    cat = np.array([-1, 0, 0], np.int32)
    with pytest.raises(ValueError, match="slate_size"):
        build_slate_table(cat, np.zeros(4, np.int64), np.zeros(0, np.int32),
                          np.array([0, 2]), np.array([1, 2], np.int32),
                          np.array([1, 2], np.int32), 2, 0.5)  # fmt: skip


def test_covisitation_hand_example():
    # sessions: [1 2 3 2], [2 3]
    ptr = np.array([0, 4, 6])
    aid = np.array([1, 2, 3, 2, 2, 3])
    nbr_ptr, ids, counts = covisitation(ptr, aid, 4, window=1, top=5)
    # pairs (lag 1, same session, distinct): 1-2, 2-3, 3-2, 2-3 -> counts 1-2:1, 2-3:3
    assert ids[nbr_ptr[1] : nbr_ptr[2]].tolist() == [2]
    assert ids[nbr_ptr[2] : nbr_ptr[3]].tolist() == [3, 1]
    assert counts[nbr_ptr[2] : nbr_ptr[3]].tolist() == [3, 1]
    assert ids[nbr_ptr[3] : nbr_ptr[4]].tolist() == [2]
    assert nbr_ptr[4] == nbr_ptr[5]
