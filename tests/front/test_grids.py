from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import beta as beta_dist

from paretoalign.front.grids import (
    beta_quantile_grid,
    explicit_grid,
    preference_grid,
    simplex_lattice,
)


def test_beta_grid_has_n_plus_one_points_on_the_simplex():
    grid = beta_quantile_grid(25, (1.2, 1.2))
    assert grid.shape == (26, 2)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0, atol=1e-15)
    assert np.all(grid >= 0)
    assert np.all(np.diff(grid[:, 0]) > 0)


def test_beta_grid_end_points_are_exact():
    grid = beta_quantile_grid(10, (2.0, 0.7))
    np.testing.assert_array_equal(grid[0], [0.0, 1.0])
    np.testing.assert_array_equal(grid[-1], [1.0, 0.0])


@pytest.mark.parametrize("n", [1, 2, 7, 25, 50])
def test_beta_half_half_is_the_cos_squared_identity(n):
    # book: method page, method-front-metrics: for beta = [1/2, 1/2], pi_o^(i) = cos^2(pi i / 2n)
    grid = beta_quantile_grid(n, (0.5, 0.5))
    i = np.arange(n + 1)
    np.testing.assert_allclose(grid[:, 1], np.cos(np.pi * i / (2 * n)) ** 2, atol=1e-12)
    np.testing.assert_allclose(grid[:, 0], np.sin(np.pi * i / (2 * n)) ** 2, atol=1e-12)


def test_beta_grid_first_weight_is_the_beta_quantile():
    grid = beta_quantile_grid(8, (2.0, 3.0))
    q = np.arange(9) / 8
    np.testing.assert_allclose(grid[1:-1, 0], beta_dist.ppf(q[1:-1], 2.0, 3.0), rtol=1e-12)


def test_beta_half_half_is_denser_near_the_extremes():
    steps = np.diff(beta_quantile_grid(25)[:, 0])
    assert steps[0] < steps[12] and steps[-1] < steps[12]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_beta_grid_rejects_bad_n(bad):
    with pytest.raises(ValueError, match="n must be"):
        beta_quantile_grid(bad)


@pytest.mark.parametrize("bad", [(0.0, 1.0), (1.0, -1.0), (1.0,), (np.nan, 1.0)])
def test_beta_grid_rejects_bad_concentration(bad):
    with pytest.raises(ValueError, match="beta"):
        beta_quantile_grid(4, bad)


@pytest.mark.parametrize(("k", "d"), [(1, 3), (2, 4), (3, 5), (3, 10), (4, 3)])
def test_lattice_size_and_membership(k, d):
    grid = simplex_lattice(k, d)
    assert grid.shape == (math.comb(d + k - 1, k - 1), k)
    np.testing.assert_allclose(grid.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(grid * d, np.round(grid * d), atol=1e-12)
    assert len(np.unique(grid, axis=0)) == len(grid)


def test_lattice_contains_vertices_and_centre():
    grid = simplex_lattice(3, 3)
    for row in ([1, 0, 0], [0, 1, 0], [0, 0, 1], [1 / 3, 1 / 3, 1 / 3]):
        assert np.any(np.all(np.isclose(grid, row), axis=1)), row
    np.testing.assert_array_equal(grid[0], [1, 0, 0])
    np.testing.assert_array_equal(grid[-1], [0, 0, 1])


def test_explicit_grid_normalises_and_validates():
    grid = explicit_grid([[0.2, 0.8], [0.5, 0.5000000001]])
    np.testing.assert_allclose(grid.sum(axis=1), 1.0, atol=1e-15)
    with pytest.raises(ValueError, match="sums to"):
        explicit_grid([[0.2, 0.7]])
    with pytest.raises(ValueError, match=">= 0"):
        explicit_grid([[1.2, -0.2]])
    with pytest.raises(ValueError, match="distinct"):
        explicit_grid([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="objectives"):
        explicit_grid([[0.5, 0.5]], n_objectives=3)
    with pytest.raises(ValueError, match="shape"):
        explicit_grid([])
    with pytest.raises(ValueError, match="rectangular"):
        explicit_grid([[0.5, 0.5], [1.0]])


def test_preference_grid_dispatch():
    np.testing.assert_array_equal(preference_grid("auto", 2, points=4), beta_quantile_grid(4))
    np.testing.assert_array_equal(preference_grid("auto", 3, points=4), simplex_lattice(3, 4))
    np.testing.assert_array_equal(
        preference_grid("explicit", 2, explicit=[[1, 0], [0, 1]]), [[1.0, 0.0], [0.0, 1.0]]
    )
    with pytest.raises(ValueError, match="2 objectives"):
        preference_grid("beta", 3)
    with pytest.raises(ValueError, match="unknown grid"):
        preference_grid("spiral", 2)
    with pytest.raises(ValueError, match="explicit"):
        preference_grid("explicit", 2)
