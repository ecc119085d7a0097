"""The expected-value mode: exact per-impression probabilities vs the sampled shop."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from scipy import stats

from paretoalign.world.reference import slate_probs_reference


def _advanced_shop(world, n_sessions, steps, seed, max_budget=None):
    """An online shop whose sessions have taken a few page views (diverse states)."""
    pop = world.experiment_population(days=1, seed=seed, sessions_per_day=n_sessions)
    if max_budget is not None:  # short sessions, so Monte-Carlo copies reach checkout fast
        pop = replace(pop, budget=np.minimum(pop.budget, max_budget).astype(np.int32))
    shop = world.open_shop(pop, batch_size=n_sessions, item_impressions=False)
    policy = world.logging_policy(seed=seed)
    for _ in range(steps):
        shop.step(policy(shop.state()))
    return shop


def _chi2_pvalue(counts, n, p):
    """Pearson chi-square of binomial counts against probabilities (cells with n p >= 5)."""
    mask = (n * p >= 5) & (n * (1 - p) >= 5)
    z2 = (counts[mask] - n * p[mask]) ** 2 / (n * p[mask] * (1 - p[mask]))
    return stats.chi2.sf(z2.sum(), mask.sum()), int(mask.sum())


def test_expected_matches_formula(tiny_world):
    shop = _advanced_shop(tiny_world, 30, 2, seed=11)
    state = shop.state()
    slates = np.ascontiguousarray(np.roll(tiny_world.logging_table[state.current_item], 1, axis=1))
    exp = shop.expected(slates)
    cfg, cat, off = tiny_world.cfg, tiny_world.catalogue, tiny_world.offsets
    rows = shop._rows()
    pop = shop.population
    s = shop._slots.sh_idx[rows]
    z = shop._slots.z[rows]
    gamma = pop.price_sensitivity[s]
    price_idx = np.log(cat.price[slates] / cfg.price_median)
    util = (
        cfg.beta_match * np.einsum("bd,bkd->bk", z, cat.vectors[slates])
        + cfg.beta_attract * cat.attractiveness[slates]
        + cfg.beta_pop * cat.log_popularity[slates]
        - cfg.beta_price * gamma[:, None] * price_idx
    )
    probs, _ = slate_probs_reference(util, off.organic_utility, cfg.theta, cfg.click_model)
    leaving = shop._slots.n_events[rows] >= pop.budget[s]
    probs[leaving] = 0.0
    np.testing.assert_allclose(exp.p_click, probs, rtol=1e-9, atol=1e-15)
    logit_pi = np.log(pop.buy_propensity[s] / (1 - pop.buy_propensity[s]))
    cart_logit = (
        off.cart_offset
        + cfg.cart_utility * cat.utility[slates]
        + cfg.cart_match * np.einsum("bd,bkd->bk", pop.taste[s], cat.vectors[slates])
        - cfg.cart_price * gamma[:, None] * price_idx
        + logit_pi[:, None]
    )
    p_cart = probs / (1 + np.exp(-cart_logit))
    np.testing.assert_allclose(exp.p_cart, p_cart, rtol=1e-9, atol=1e-15)
    p_order = p_cart / (1 + np.exp(-(off.order_offset + cfg.order_utility * cat.utility[slates])))
    np.testing.assert_allclose(exp.p_order, p_order, rtol=1e-9, atol=1e-15)


def test_expected_agrees_with_sampled_within_monte_carlo_error(tiny_world):
    shop = _advanced_shop(tiny_world, 12, 1, seed=21, max_budget=25)
    state = shop.state()
    kk = tiny_world.cfg.slate_size
    # logging slates, reversed: attractive items at the less examined positions
    slates = np.ascontiguousarray(tiny_world.logging_table[state.current_item][:, ::-1])
    exp = shop.expected(slates)
    assert (exp.p_click.sum(axis=1) > 0).sum() >= 8  # most sessions still choose
    reps = 1200
    twin = shop.replicate(reps, seed=5)
    twin.step(np.repeat(slates, reps, axis=0))
    policy = tiny_world.logging_policy(seed=3)
    while not twin.done:  # run the copies to checkout, so orders are known
        twin.step(policy(twin.state()))
    res = twin.result()
    # the first slate of every copy, in copy order: row r = copy r % reps of session r // reps
    n_open = len(state)
    step0 = res.slates.iloc[: n_open * reps]
    pos = step0.clicked_position.to_numpy().reshape(n_open, reps)
    clicks = np.stack([(pos == k + 1).sum(axis=1) for k in range(kk)], axis=1)
    p_val, cells = _chi2_pvalue(clicks, reps, exp.p_click)
    assert cells >= 20 and p_val > 1e-4
    # carts on the clicked page and orders of those carts, attributed per position
    clicked = res.clicks.iloc[: int((pos > 0).sum())]
    assert (clicked.page_view == step0.page_view.to_numpy()[pos.reshape(-1) > 0] + 1).all()
    copy = np.flatnonzero(pos.reshape(-1) > 0)
    session, k = copy // reps, pos.reshape(-1)[copy] - 1
    carts = np.zeros((n_open, kk))
    orders = np.zeros((n_open, kk))
    np.add.at(carts, (session, k), clicked.carted.to_numpy())
    np.add.at(orders, (session, k), (clicked.carted & clicked.ordered).to_numpy())
    for counts, p in ((carts, exp.p_cart), (orders, exp.p_order)):
        total, expected = counts.sum(), reps * p.sum()
        sd = math.sqrt(reps * (p * (1 - p)).sum())
        assert abs(total - expected) < 4.5 * sd + 1, (total, expected, sd)


def test_recorded_expectations_track_sampled_totals(tiny_world):
    pop = tiny_world.experiment_population(days=2, seed=8, sessions_per_day=150)
    res = tiny_world.run_online(tiny_world.logging_policy(seed=2), pop, record_expected=True)
    imp = res.impressions
    assert {"p_click", "p_cart", "p_order"} <= set(imp.columns)
    np.testing.assert_allclose(
        res.slates.p_click.to_numpy(),
        imp.p_click.to_numpy().reshape(-1, tiny_world.cfg.slate_size).sum(axis=1),
    )
    p = imp.p_click.to_numpy()
    sd = math.sqrt((p * (1 - p)).sum())
    assert abs(imp.clicked.sum() - p.sum()) < 4.5 * sd
    # a leaving page has no click probability
    last = res.slates.groupby("shopper_id").page_view.transform("max") == res.slates.page_view
    assert (res.slates.p_click[last] == 0).all()
    assert (res.slates.clicked_position[last] == 0).all()
