from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from paretoalign.front.grids import beta_quantile_grid, simplex_lattice
from paretoalign.front.groups import (
    Arm,
    arms_table,
    choose_front_points,
    collinearity_report,
    max_min_dispersion,
    nearest_neighbour_gaps,
    standardise,
)


def _fake_front(grid: np.ndarray) -> pd.DataFrame:
    """Metrics that move non-linearly in pi (fast in the middle, slow at the ends)."""
    pc = grid[:, 0]
    return pd.DataFrame(
        {
            "pi_clicks": pc,
            "pi_orders": grid[:, 1],
            "click_recall@20": 0.4 / (1 + np.exp(-12 * (pc - 0.5))),
            "order_recall@20": 0.3 - 0.2 / (1 + np.exp(-12 * (pc - 0.5))),
            "coverage@20": np.full(len(pc), 0.2),
        }
    )


def test_max_min_dispersion_is_optimal_on_small_sets(rng):
    for _ in range(10):
        pts = rng.normal(size=(11, 2))
        n = int(rng.integers(2, 5))
        chosen = max_min_dispersion(pts, n)
        d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))

        def mind(sel, d=d):
            return min(d[i, j] for i, j in itertools.combinations(sel, 2))

        best = max(mind(s) for s in itertools.combinations(range(11), n))
        # local search: at least half the optimum (k-centre bound), usually equal
        assert mind(chosen) >= 0.5 * best - 1e-12


def test_max_min_dispersion_on_a_line_is_even():
    pts = np.linspace(0, 1, 26)[:, None]
    chosen = max_min_dispersion(pts, 6)
    np.testing.assert_array_equal(chosen, [0, 5, 10, 15, 20, 25])


def test_max_min_dispersion_is_deterministic_and_validates(rng):
    pts = rng.normal(size=(30, 3))
    np.testing.assert_array_equal(max_min_dispersion(pts, 5), max_min_dispersion(pts, 5))
    assert max_min_dispersion(pts, 1).shape == (1,)
    with pytest.raises(ValueError, match="n must be"):
        max_min_dispersion(pts, 31)
    with pytest.raises(ValueError, match="non-empty"):
        max_min_dispersion(np.zeros((0, 2)), 1)


def test_groups_are_even_in_metric_space_not_in_pi():
    front = _fake_front(beta_quantile_grid(40, (1.0, 1.0)))  # uniform in pi
    metrics = ["click_recall@20", "order_recall@20", "coverage@20"]
    chosen = choose_front_points(front, 6, metrics)
    even_in_pi = np.round(np.linspace(0, 40, 6)).astype(int)
    gaps_metric = nearest_neighbour_gaps(front.iloc[chosen][metrics[:2]].to_numpy())
    gaps_pi = nearest_neighbour_gaps(front.iloc[even_in_pi][metrics[:2]].to_numpy())
    # the metric-space choice has a much larger worst-case gap ratio than equal pi steps
    assert gaps_metric.min() / gaps_metric.max() > gaps_pi.min() / gaps_pi.max()
    assert gaps_metric.min() / gaps_metric.max() > 0.6
    # and its pi values bunch in the middle, where the metrics move fast
    pis = front.pi_clicks.to_numpy()[chosen]
    assert np.all(np.diff(pis) > 0)
    assert np.diff(pis)[2] < np.diff(pis)[0]


def test_candidates_restrict_the_choice():
    front = _fake_front(beta_quantile_grid(20))
    allowed = front["click_recall@20"].to_numpy() > 0.1
    chosen = choose_front_points(
        front, 4, ["click_recall@20", "order_recall@20"], candidates=allowed
    )
    assert allowed[chosen].all()
    with pytest.raises(ValueError, match="candidate points"):
        choose_front_points(front, 30, ["click_recall@20"])
    with pytest.raises(ValueError, match="lacks"):
        choose_front_points(front, 2, ["mrr@20"])


def test_three_objective_lattice_covers_the_surface():
    grid = simplex_lattice(3, 8)
    front = pd.DataFrame({"a": grid[:, 0], "b": grid[:, 1], "c": grid[:, 2]})
    chosen = choose_front_points(front, 3, ["a", "b", "c"])
    # the three vertices are the max-min triple of a triangle
    assert sorted(map(tuple, grid[chosen])) == sorted([(0, 0, 1), (0, 1, 0), (1, 0, 0)])


def test_standardise_drops_constant_columns():
    z = standardise([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 0.0]])
    assert z.shape == (3, 2)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1)


def test_collinearity_report_sees_off_front_arms_break_collinearity():
    t = np.linspace(0, 1, 5)
    front_arms = [
        Arm(
            f"g{i}",
            "model",
            "front",
            pi=(float(x), 1 - float(x)),
            point=i,
            metrics={"m1": x, "m2": 2 * x + 1, "m3": -x},
        )
        for i, x in enumerate(t)
    ]
    off = [
        Arm("popularity", "baseline", "popularity", metrics={"m1": 0.0, "m2": 3.0, "m3": 0.5}),
        Arm(
            "pen",
            "model",
            "popularity_penalised",
            pi=(0.5, 0.5),
            popularity_penalty=1.0,
            metrics={"m1": 1.0, "m2": 0.0, "m3": 0.0},
        ),
    ]
    rep = collinearity_report(front_arms + off, ["m1", "m2", "m3"])
    assert rep["front_only"]["max_abs_corr"] == pytest.approx(1.0)
    assert rep["front_only"]["rank"] == 1
    assert rep["all_arms"]["rank"] == 3
    assert rep["all_arms"]["max_abs_corr"] < 0.95
    assert "off-front" in rep["reason"]


def test_arm_round_trip_and_table():
    arm = Arm("g0", "model", "front", pi=(0.25, 0.75), point=3, metrics={"m": 0.5})
    assert Arm.from_dict(arm.to_dict()) == arm
    table = arms_table([arm, Arm("control", "control", "popularity")], ["clicks", "orders"])
    assert list(table.columns[:5]) == ["group", "kind", "variant", "pi_clicks", "pi_orders"]
    assert np.isnan(table.loc[1, "pi_clicks"]) and table.loc[0, "point"] == 3
