from __future__ import annotations

import moocore
import numpy as np
import pytest

from paretoalign.front.pareto import (
    hypervolume,
    hypervolume_2d_reference,
    non_dominated,
    non_dominated_reference,
    reference_point,
)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("maximise", [False, True])
def test_non_dominated_matches_reference_on_random_points(rng, m, maximise):
    for _ in range(5):
        pts = rng.normal(size=(int(rng.integers(1, 60)), m))
        np.testing.assert_array_equal(
            non_dominated(pts, maximise), non_dominated_reference(pts, maximise)
        )


def test_non_dominated_matches_reference_on_adversarial_points(rng):
    # heavy ties: small integer grid with duplicates and a mixed maximise vector
    pts = rng.integers(0, 3, size=(200, 3)).astype(float)
    flags = [True, False, True]
    np.testing.assert_array_equal(non_dominated(pts, flags), non_dominated_reference(pts, flags))
    # blocks: more rows than one block
    big = rng.normal(size=(1500, 2))
    np.testing.assert_array_equal(non_dominated(big), non_dominated_reference(big))


def test_non_dominated_agrees_with_moocore(rng):
    pts = rng.normal(size=(300, 3))
    ours = non_dominated(pts, maximise=True)
    theirs = moocore.is_nondominated(pts, maximise=True, keep_weakly=True)
    np.testing.assert_array_equal(ours, theirs)


def test_duplicates_are_kept_and_dominated_points_dropped():
    pts = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [0.5, 3.0], [1.0, 2.0]])
    np.testing.assert_array_equal(non_dominated(pts), [True, True, False, True, False])
    np.testing.assert_array_equal(
        non_dominated(pts, maximise=True), [False, False, True, True, False]
    )


def test_non_dominated_edge_cases():
    assert non_dominated(np.zeros((0, 2))).shape == (0,)
    np.testing.assert_array_equal(non_dominated([[3.0, 1.0]]), [True])
    with pytest.raises(ValueError, match="finite"):
        non_dominated([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="2-D"):
        non_dominated([1.0, 2.0])
    with pytest.raises(ValueError, match="maximise"):
        non_dominated([[1.0, 2.0]], maximise=[True, False, True])


def test_hypervolume_matches_the_2d_sweep(rng):
    for flags in (False, True, [True, False]):
        pts = rng.normal(size=(40, 2))
        ref = reference_point(pts, flags)
        assert hypervolume(pts, ref, flags) == pytest.approx(
            hypervolume_2d_reference(pts, ref, flags), rel=1e-12
        )


def test_hypervolume_known_value():
    pts = np.array([[5, 5], [4, 6], [2, 7], [7, 4]], dtype=float)
    assert hypervolume(pts, [10, 10]) == pytest.approx(38.0)
    assert hypervolume_2d_reference(pts, [10, 10]) == pytest.approx(38.0)
    # as maximisation of the negated values
    assert hypervolume(-pts, [-10, -10], maximise=True) == pytest.approx(38.0)


def test_hypervolume_ignores_points_outside_the_reference_and_dominated_points():
    pts = np.array([[1.0, 1.0], [2.0, 2.0], [5.0, 0.5]])
    assert hypervolume(pts, [3.0, 3.0]) == pytest.approx(4.0)
    assert hypervolume_2d_reference(pts, [3.0, 3.0]) == pytest.approx(4.0)
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0]) == 0.0


def test_reference_point_is_outside_by_the_margin():
    pts = np.array([[0.1, 0.5], [0.3, 0.2]])
    ref = reference_point(pts, maximise=True, margin=0.1)
    np.testing.assert_allclose(ref, [0.1 - 0.02, 0.2 - 0.03])
    ref_min = reference_point(pts, maximise=False, margin=0.5)
    np.testing.assert_allclose(ref_min, [0.3 + 0.1, 0.5 + 0.15])
    # constant objective: still strictly outside
    ref_const = reference_point(np.array([[1.0, 2.0], [3.0, 2.0]]), maximise=True)
    assert ref_const[1] < 2.0
    with pytest.raises(ValueError, match="margin"):
        reference_point(pts, margin=0.0)
    with pytest.raises(ValueError, match="at least one"):
        reference_point(np.zeros((0, 2)))
