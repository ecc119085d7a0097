"""Differential tests of the C++ top-k kernel against the NumPy full-sort reference.

Exactness: with small-integer inputs every product and partial sum is exact in float32,
so any summation order (OpenBLAS tiles, NumPy's float64 matmul) gives the same scores,
ties are everywhere, and the kernel must equal ``topk_numpy`` bit for bit, tie rule
included. With random floats the summation orders differ in the last bits, so ids must
agree except within rounding of the k-th score and scores must match to ~1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paretoalign import _fastmetrics
from paretoalign.ranking import topk, topk_numpy
from paretoalign.ranking._topk import checked_topk_arguments

SIMD_PATHS = list(range(len(_fastmetrics.topk_simd_paths())))
#: insert_max_k overrides: kernel default, always the candidate buffer, always insertion.
SINK_MODES = [-1, 0, 1_000_000]

# ======================================================================== helpers ==


def random_exclusion(
    rng: np.random.Generator, n_queries: int, n_items: int, density: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unsorted CSR lists with duplicates; ``density`` ~ expected fraction excluded."""
    counts = rng.binomial(max(1, int(n_items * density * 1.2)), min(1.0, density), n_queries)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ids = rng.integers(0, n_items, ptr[-1]).astype(np.int32)
    return ptr, ids


def kernel(queries, items, k, exclude=None, threads=1, terms=None, **options):
    """The compiled kernel behind the façade's checks, with private tuning options.

    ``work_per_thread=1`` makes even tiny calls use every thread requested (by default
    small calls run on fewer threads), so the team code paths are exercised.
    """
    args = checked_topk_arguments(queries, items, k, exclude, threads, terms)
    return _fastmetrics.topk_inner_product(**args, **{"work_per_thread": 1, **options})


def assert_same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    """Bitwise equality of (scores, ids)."""
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0].view(np.int32), b[0].view(np.int32))


def eligible_count(n_queries: int, n_items: int, exclude) -> np.ndarray:
    """Per query: ids 1..M-1 minus the distinct excluded ones."""
    counts = np.full(n_queries, n_items - 1)
    if exclude is not None:
        ptr, ids = exclude
        for q in range(n_queries):
            excluded = np.unique(ids[ptr[q] : ptr[q + 1]])
            counts[q] -= np.count_nonzero(excluded != 0)
    return counts


def assert_close_to_reference(queries, items, k, exclude, got, rtol=1e-5, terms=None) -> None:
    """Random-float comparison: exact structure, ids up to rounding at the k-th score."""
    scores, ids = got
    n_queries, n_items = queries.shape[0], items.shape[0]
    q64, x64 = queries.astype(np.float64), items.astype(np.float64)
    exact = q64 @ x64.T
    # Rounding of any summation order stays below D * 2**-24 * sum_i |q_i x_i|; a term's
    # addition adds at most 2**-24 (sum_i |q_i x_i| + |v|).
    scale = np.abs(q64) @ np.abs(x64).T
    if terms is not None:
        rows = np.repeat(np.arange(n_queries), np.diff(terms[0]))
        exact[rows, terms[1]] += terms[2]
        scale[rows, terms[1]] += np.abs(terms[2])
    rtol = max(rtol, 2 * queries.shape[1] * 2.0**-24)
    ref_scores, ref_ids = topk_numpy(queries, items, k, exclude=exclude, terms=terms)
    n_eligible = eligible_count(n_queries, n_items, exclude)
    for q in range(n_queries):
        n_real = min(k, n_eligible[q])
        row_ids, row_scores = ids[q], scores[q]
        assert (row_ids[n_real:] == -1).all() and np.isneginf(row_scores[n_real:]).all()
        real = row_ids[:n_real]
        assert (real >= 1).all() and len(np.unique(real)) == n_real
        if exclude is not None:
            assert not np.isin(real, exclude[1][exclude[0][q] : exclude[0][q + 1]]).any()
        tol = rtol * scale[q].max() + 1e-30
        np.testing.assert_allclose(row_scores[:n_real], exact[q, real], rtol=0, atol=tol)
        # Result order: non-increasing scores, ties to the lower id.
        d = np.diff(row_scores[:n_real])
        assert (d <= 0).all()
        assert (np.diff(real)[d == 0] > 0).all()
        if n_real == 0:
            continue
        kth = exact[q, ref_ids[q, n_real - 1]]
        assert (exact[q, real] >= kth - 2 * tol).all()
        must = ref_ids[q, :n_real][exact[q, ref_ids[q, :n_real]] > kth + 2 * tol]
        assert np.isin(must, real).all()
    assert ref_scores.shape == scores.shape


# ===================================================================== strategies ==


@st.composite
def integer_problems(draw):
    """Small-integer float32 problems (exact arithmetic, ties everywhere).

    Hypothesis draws the shapes, value range, k and exclusion density; the entries come
    from a generator seeded by Hypothesis (element-wise drawing is too slow here).
    """
    n_queries = draw(st.integers(1, 30))
    n_items = draw(st.integers(2, 150))
    dim = draw(st.integers(1, 40))
    hi = draw(st.sampled_from([0, 1, 2, 6]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    queries = rng.integers(-hi, hi + 1, (n_queries, dim)).astype(np.float32)
    items = rng.integers(-hi, hi + 1, (n_items, dim)).astype(np.float32)
    if draw(st.booleans()):  # duplicated item rows: more exact ties
        items = items[rng.integers(0, n_items, n_items) % max(1, n_items // 3)]
    k = draw(st.integers(1, n_items - 1))
    exclude = None
    if draw(st.booleans()):
        exclude = random_exclusion(rng, n_queries, n_items, draw(st.sampled_from([0.1, 0.5, 1])))
    return queries, items, k, exclude


@st.composite
def float_problems(draw):
    """Random normal float32 problems at a random scale."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_queries = draw(st.one_of(st.integers(1, 30), st.integers(31, 140)))
    n_items = draw(st.integers(2, 400))
    dim = draw(st.one_of(st.integers(1, 70), st.sampled_from([128, 129, 200])))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e4]))
    queries = (rng.standard_normal((n_queries, dim)) * scale).astype(np.float32)
    items = (rng.standard_normal((n_items, dim)) * scale).astype(np.float32)
    k = draw(st.integers(1, min(n_items - 1, 40)))
    exclude = None
    if draw(st.booleans()):
        exclude = random_exclusion(rng, n_queries, n_items, draw(st.sampled_from([0.05, 0.5])))
    return queries, items, k, exclude


kernel_options = st.fixed_dictionaries(
    {
        "threads": st.sampled_from([1, 2, 3]),
        "simd": st.sampled_from(SIMD_PATHS),
        "insert_max_k": st.sampled_from(SINK_MODES),
        "item_block": st.sampled_from([0, 1, 33, 64]),
        "group": st.sampled_from([0, 1, 5, 17, 70]),
    }
)

# ========================================================================== tests ==


@settings(max_examples=150, deadline=None)
@given(problem=integer_problems(), threads=st.sampled_from([1, 2, 3]))
def test_topk_equals_reference_on_integer_inputs(problem, threads):
    queries, items, k, exclude = problem
    got = topk(queries, items, k, exclude=exclude, threads=threads)
    assert_same(got, topk_numpy(queries, items, k, exclude=exclude))


@settings(max_examples=150, deadline=None)
@given(problem=integer_problems(), options=kernel_options)
def test_kernel_paths_equal_reference_on_integer_inputs(problem, options):
    """Tiny blocks/groups force many blocks, units, item chunks + merging; every path, sink."""
    queries, items, k, exclude = problem
    threads = options.pop("threads")
    got = kernel(queries, items, k, exclude, threads, **options)
    assert_same(got, topk_numpy(queries, items, k, exclude=exclude))


@settings(max_examples=120, deadline=None)
@given(problem=float_problems(), threads=st.sampled_from([1, 2, 3]))
def test_topk_matches_reference_on_random_floats(problem, threads):
    queries, items, k, exclude = problem
    got = topk(queries, items, k, exclude=exclude, threads=threads)
    assert_close_to_reference(queries, items, k, exclude, got)


@settings(max_examples=100, deadline=None)
@given(problem=float_problems(), options=kernel_options)
def test_results_do_not_depend_on_threads_simd_sink_or_blocking(problem, options):
    """Every score is the same fma chain -> bitwise identical output, whatever varies."""
    queries, items, k, exclude = problem
    base = kernel(queries, items, k, exclude, 1, simd=0)
    other = kernel(queries, items, k, exclude, **options)
    assert_same(base, other)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_default_blocks_across_boundaries_exact(rng, threads):
    """M spans three default item blocks (2048 items at D = 64), Q = 600 many query
    panels including the narrow remainder ones; exact integer data."""
    queries = rng.integers(-3, 4, (601, 64)).astype(np.float32)
    items = rng.integers(-3, 4, (5000, 64)).astype(np.float32)
    exclude = random_exclusion(rng, 601, 5000, 0.01)
    ref_scores, ref_ids = topk_numpy(queries, items, 70, exclude=exclude)
    for k in (1, 20, 70):  # a top-k list is a prefix of any longer one
        got = topk(queries, items, k, exclude=exclude, threads=threads)
        assert_same(got, (ref_scores[:, :k].copy(), ref_ids[:, :k].copy()))


def test_thread_counts_bitwise_identical_on_random_floats(rng):
    queries = rng.standard_normal((700, 32)).astype(np.float32)
    items = rng.standard_normal((9000, 32)).astype(np.float32)
    exclude = random_exclusion(rng, 700, 9000, 0.002)
    base = topk(queries, items, 20, exclude=exclude, threads=1)
    for threads in (2, 3, 4):
        assert_same(base, topk(queries, items, 20, exclude=exclude, threads=threads))
    for simd in SIMD_PATHS[1:]:
        assert_same(base, kernel(queries, items, 20, exclude, 2, simd=simd))
    head = (queries[:40].copy(), (exclude[0][:41].copy(), exclude[1][: exclude[0][40]].copy()))
    scalar = kernel(head[0], items, 20, head[1], 2, simd=0)  # std::fma: slow, fewer queries
    assert_same((base[0][:40].copy(), base[1][:40].copy()), scalar)
    assert_close_to_reference(queries, items, 20, exclude, base)


@pytest.mark.parametrize("n_queries", [1, 3])
def test_few_queries_split_the_catalogue_exactly(rng, n_queries):
    """Fewer query tiles than threads: item chunks run in parallel and are merged."""
    queries = rng.integers(-2, 3, (n_queries, 16)).astype(np.float32)
    items = rng.integers(-2, 3, (20_000, 16)).astype(np.float32)
    ref = topk_numpy(queries, items, 30)
    for threads in (1, 2, 3):
        assert_same(topk(queries, items, 30, threads=threads), ref)


def test_all_equal_items_return_lowest_ids(rng):
    queries = rng.standard_normal((5, 8)).astype(np.float32)
    items = np.tile(rng.standard_normal(8).astype(np.float32), (50, 1))
    scores, ids = topk(queries, items, 10)
    np.testing.assert_array_equal(ids, np.tile(np.arange(1, 11, dtype=np.int32), (5, 1)))
    assert (scores == scores[:, :1]).all()


def test_all_zero_scores_tie_to_lowest_ids():
    queries = np.zeros((3, 4), dtype=np.float32)
    items = np.ones((30, 4), dtype=np.float32)
    scores, ids = topk(queries, items, 29, threads=2)
    np.testing.assert_array_equal(ids, np.tile(np.arange(1, 30, dtype=np.int32), (3, 1)))
    assert (scores == 0).all()


def test_padding_item_never_returned_even_when_best():
    items = np.array([[100.0], [1.0], [2.0], [3.0]], dtype=np.float32)
    queries = np.ones((2, 1), dtype=np.float32)
    scores, ids = topk(queries, items, 3)
    np.testing.assert_array_equal(ids, [[3, 2, 1], [3, 2, 1]])
    np.testing.assert_array_equal(scores, [[3, 2, 1], [3, 2, 1]])


def test_k_equals_m_minus_1_is_a_full_ranking(rng):
    queries = rng.integers(-2, 3, (7, 5)).astype(np.float32)
    items = rng.integers(-2, 3, (40, 5)).astype(np.float32)
    got = topk(queries, items, 39, threads=3)
    assert_same(got, topk_numpy(queries, items, 39))
    assert (np.sort(got[1], axis=1) == np.arange(1, 40)).all()


def test_two_items_single_query():
    queries = np.array([[-1.0, 2.0]], dtype=np.float32)
    items = np.array([[5.0, 5.0], [1.0, 1.0]], dtype=np.float32)
    scores, ids = topk(queries, items, 1)
    assert ids.tolist() == [[1]] and scores.tolist() == [[1.0]]
    assert ids.dtype == np.int32 and scores.dtype == np.float32


def test_exclude_all_but_a_few_fills_with_minus_one(rng):
    n_items = 60
    queries = rng.integers(-2, 3, (4, 6)).astype(np.float32)
    items = rng.integers(-2, 3, (n_items, 6)).astype(np.float32)
    keep = [[5, 9], [1], [], [2, 3, 59]]
    lists = [np.setdiff1d(np.arange(n_items), kept).astype(np.int32) for kept in keep]
    ptr = np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64)
    exclude = (ptr, np.concatenate(lists))
    scores, ids = topk(queries, items, 5, exclude=exclude, threads=2)
    assert_same((scores, ids), topk_numpy(queries, items, 5, exclude=exclude))
    for q, kept in enumerate(keep):
        assert sorted(ids[q, : len(kept)].tolist()) == kept
        assert (ids[q, len(kept) :] == -1).all() and np.isneginf(scores[q, len(kept) :]).all()


def test_exclude_everything_returns_only_fillers(rng):
    queries = rng.standard_normal((3, 4)).astype(np.float32)
    items = rng.standard_normal((10, 4)).astype(np.float32)
    ptr = np.array([0, 10, 20, 30], dtype=np.int64)
    ids = np.tile(np.arange(10, dtype=np.int32), 3)
    scores, ids_out = topk(queries, items, 4, exclude=(ptr, ids))
    assert (ids_out == -1).all() and np.isneginf(scores).all()


def test_unsorted_duplicate_exclusions_are_not_modified(rng):
    queries = rng.integers(-2, 3, (3, 4)).astype(np.float32)
    items = rng.integers(-2, 3, (30, 4)).astype(np.float32)
    ptr = np.array([0, 4, 4, 9], dtype=np.int64)
    ids = np.array([7, 3, 7, 0, 29, 1, 29, 5, 2], dtype=np.int32)
    before = ids.copy()
    got = topk(queries, items, 6, exclude=(ptr, ids))
    np.testing.assert_array_equal(ids, before)
    assert_same(got, topk_numpy(queries, items, 6, exclude=(ptr, ids)))


@pytest.mark.parametrize("dim", [128, 129, 200])
def test_wide_query_panels_exact(rng, dim):
    """Enough queries for wide panels (64 lanes up to D = 128, 48 above) plus a rest."""
    queries = rng.integers(-3, 4, (161, dim)).astype(np.float32)
    items = rng.integers(-3, 4, (700, dim)).astype(np.float32)
    exclude = random_exclusion(rng, 161, 700, 0.05)
    ref = topk_numpy(queries, items, 20, exclude=exclude)
    for threads in (1, 2):
        assert_same(topk(queries, items, 20, exclude=exclude, threads=threads), ref)
    for simd in SIMD_PATHS:
        assert_same(kernel(queries, items, 20, exclude, 2, simd=simd), ref)


def test_large_dimension_exact(rng):
    """D beyond OpenBLAS's inner blocking; sums stay exact (|s| < 2**24)."""
    queries = rng.integers(-2, 3, (9, 3000)).astype(np.float32)
    items = rng.integers(-2, 3, (300, 3000)).astype(np.float32)
    assert_same(topk(queries, items, 25, threads=2), topk_numpy(queries, items, 25))


def test_huge_k_uses_the_buffer_sink_with_smaller_query_tiles(rng):
    """k > 8192: the candidate buffers would exceed their cap, so query tiles shrink."""
    queries = rng.integers(-2, 3, (5, 4)).astype(np.float32)
    items = rng.integers(-2, 3, (9000, 4)).astype(np.float32)
    for threads in (1, 2):
        assert_same(topk(queries, items, 8999, threads=threads), topk_numpy(queries, items, 8999))


def test_read_only_and_float_subclass_inputs_accepted(rng):
    queries = rng.standard_normal((4, 3)).astype(np.float32)
    items = rng.standard_normal((20, 3)).astype(np.float32)
    queries.setflags(write=False)
    items.setflags(write=False)
    assert_close_to_reference(queries, items, 5, None, topk(queries, items, np.int64(5)))
