"""Catalogue and shopper draws: sizes, correlations, favourites, budgets."""

from __future__ import annotations

import numpy as np
import pytest

from paretoalign.world.catalogue import build_catalogue, category_sizes
from paretoalign.world.shoppers import draw_budgets, draw_favourites


@pytest.mark.parametrize(
    "n,c,zipf", [(20, 20, 1.0), (1000, 7, 0.0), (20_000, 50, 1.0), (101, 3, 2.5)]
)
def test_category_sizes(n, c, zipf):
    sizes = category_sizes(n, c, zipf)
    assert sizes.sum() == n and (sizes >= 1).all()
    assert (np.diff(sizes) <= 0).all()
    if zipf == 0.0:
        assert sizes.max() - sizes.min() <= 1


def test_category_sizes_rejects_more_categories_than_items():
    with pytest.raises(ValueError):
        category_sizes(5, 6, 1.0)


def test_catalogue_qualities_follow_the_correlations(tiny_config):
    cfg = tiny_config(n_items=20_000, rho_aq=-0.5, rho_ab=0.3, rho_qb=0.1, popularity_sigma=1.7)
    cat = build_catalogue(cfg)
    a, q, b = cat.attractiveness[1:], cat.utility[1:], cat.log_popularity[1:]
    corr = np.corrcoef(np.stack([a, q, b]))
    np.testing.assert_allclose(corr[0, 1], -0.5, atol=0.03)
    np.testing.assert_allclose(corr[0, 2], 0.3, atol=0.03)
    np.testing.assert_allclose(corr[1, 2], 0.1, atol=0.03)
    assert abs(b.std() - 1.7) < 0.05
    np.testing.assert_allclose(np.linalg.norm(cat.vectors[1:], axis=1), 1.0)
    assert cat.category[0] == -1 and (cat.vectors[0] == 0).all()
    # items grouped by category are exactly the items of that category
    for c in range(cfg.n_categories):
        items = cat.category_items[cat.category_ptr[c] : cat.category_ptr[c + 1]]
        assert (cat.category[items] == c).all()
    assert (cat.price[1:] >= 0.01).all()
    # one knob changes only what depends on it
    other = build_catalogue(cfg.model_copy(update={"rho_aq": 0.5}))
    np.testing.assert_array_equal(other.attractiveness, cat.attractiveness)
    np.testing.assert_array_equal(other.price, cat.price)
    assert not np.array_equal(other.utility, cat.utility)


@pytest.mark.parametrize("f,c", [(3, 50), (2, 3), (5, 5), (1, 1)])
def test_favourites_are_distinct_and_follow_p(rng, f, c):
    p = rng.dirichlet(np.ones(c))
    fav = draw_favourites(rng, p, 20_000, f)
    assert fav.shape == (20_000, f) and fav.min() >= 0 and fav.max() < c
    assert all(len(set(row)) == f for row in fav[:2000].tolist())
    first = np.bincount(fav[:, 0], minlength=c) / len(fav)
    np.testing.assert_allclose(first, p, atol=0.015)


def test_favourites_reject_bad_count(rng):
    with pytest.raises(ValueError):
        draw_favourites(rng, np.ones(3) / 3, 10, 4)


def test_budgets_match_otto_quantiles(tiny_config, rng):
    budget = draw_budgets(tiny_config(), 200_000, rng)
    assert budget.min() >= 2 and budget.max() <= 500
    q = np.quantile(budget, [0.5, 0.75, 0.9, 0.95])
    np.testing.assert_allclose(q, [6, 16, 39, 66], rtol=0.1)
