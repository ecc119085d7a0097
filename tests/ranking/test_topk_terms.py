"""Per-query sparse additive terms: ``topk(..., terms=(ptr, ids, values))``.

The score of a term item is the plain inner product (the same fma chain, the same bits)
plus its value in one float32 addition. Exactness as in ``test_topk_exact``: with
small-integer inputs and values that are multiples of 1/2, every score is exact in
float32, so the kernel must equal ``topk_numpy`` bit for bit. With random floats the
kernel is checked bitwise against its own full ranking (``k = M - 1``, no terms: every
item's float32 inner product) plus the values added in float32 and sorted by NumPy, and
within rounding against ``topk_numpy``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_topk_exact import (  # tests/ranking on sys.path
    SIMD_PATHS,
    SINK_MODES,
    assert_close_to_reference,
    assert_same,
    kernel,
    random_exclusion,
)

from paretoalign.ranking import topk, topk_numpy

# ======================================================================== helpers ==


def random_terms(
    rng: np.random.Generator,
    n_queries: int,
    n_items: int,
    max_len: int,
    values: str = "halves",
    spread: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR terms: per query up to ``max_len`` distinct ids in [1, M), in random order.

    ``values``: ``"halves"`` (multiples of 1/2 up to +-``spread``: exact float32 sums),
    ``"normal"`` (``spread`` * N(0, 1)) or ``"zero"``.
    """
    max_len = min(max_len, n_items - 1)
    counts = rng.integers(0, max_len + 1, n_queries)
    ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ids = np.concatenate([rng.permutation(np.arange(1, n_items))[:c] for c in counts])
    ids = ids.astype(np.int32)
    nnz = int(ptr[-1])
    if values == "halves":
        half_steps = max(1, int(2 * spread))
        vals = rng.integers(-half_steps, half_steps + 1, nnz) / 2
    elif values == "normal":
        vals = rng.standard_normal(nnz) * spread
    else:
        vals = np.zeros(nnz)
    return ptr, ids, vals.astype(np.float32)


def empty_terms(n_queries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(n_queries + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32)


def exclusion_with_terms(rng, terms, n_items, density):
    """Exclusion lists that also hit some of each query's term items."""
    ptr, ids = random_exclusion(rng, len(terms[0]) - 1, n_items, density)
    t_ptr, t_ids, _ = terms
    rows = []
    for q in range(len(ptr) - 1):
        own = t_ids[t_ptr[q] : t_ptr[q + 1]]
        rows.append(np.concatenate([ids[ptr[q] : ptr[q + 1]], own[rng.random(len(own)) < 0.3]]))
    counts = [len(r) for r in rows]
    return (
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(rows).astype(np.int32),
    )


def expected_from_full_ranking(queries, items, k, exclude, terms, **options):
    """The kernel's exact answer, rebuilt from its plain scores of every item.

    ``k = M - 1`` without terms and exclusions returns every item's float32 inner product
    (the same fma chain a term item gets); the values are then added in float32, the
    ineligible items dropped and each row sorted by (score desc, id asc) in NumPy.
    """
    n_queries, n_items = queries.shape[0], items.shape[0]
    all_scores, all_ids = kernel(queries, items, n_items - 1, None, **options)
    dense = np.full((n_queries, n_items), -np.inf, np.float32)
    np.put_along_axis(dense, all_ids.astype(np.int64), all_scores, axis=1)
    scores = dense.copy()
    t_ptr, t_ids, t_values = terms
    rows = np.repeat(np.arange(n_queries), np.diff(t_ptr))
    scores[rows, t_ids] = dense[rows, t_ids] + t_values  # float32 + float32 -> float32
    if exclude is not None:
        e_rows = np.repeat(np.arange(n_queries), np.diff(exclude[0]))
        scores[e_rows, exclude[1]] = -np.inf
    scores[:, 0] = -np.inf
    item_ids = np.broadcast_to(np.arange(n_items), scores.shape)
    order = np.lexsort((item_ids, -scores.astype(np.float64)), axis=-1)[:, :k]
    top_scores = np.take_along_axis(scores, order, axis=1)
    top_ids = order.astype(np.int32)
    top_ids[np.isneginf(top_scores)] = -1
    return top_scores, top_ids


# ===================================================================== strategies ==


@st.composite
def integer_term_problems(draw):
    """Small-integer problems with terms (exact in float32; ties everywhere).

    Term values are multiples of 1/2: small ones create ties between term items and
    plain items (and among term items), large ones (beyond any inner product) push an
    item to the top or out of the top-k. Exclusions may hit term items.
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
    k = draw(
        st.one_of(
            st.integers(1, n_items - 1),
            st.sampled_from([n_items - 1, max(1, n_items - 2)]),
        )
    )
    max_len = draw(st.sampled_from([1, 5, 50, n_items]))
    spread = draw(st.sampled_from([1.0, 4.0, dim * hi * hi + 10.0]))
    terms = random_terms(rng, n_queries, n_items, max_len, "halves", spread)
    exclude = None
    if draw(st.booleans()):
        density = draw(st.sampled_from([0.1, 0.5, 1]))
        exclude = exclusion_with_terms(rng, terms, n_items, density)
    return queries, items, k, exclude, terms


@st.composite
def float_term_problems(draw):
    """Random normal float32 problems with N(0, scale^2) term values."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_queries = draw(st.one_of(st.integers(1, 30), st.integers(31, 140)))
    n_items = draw(st.integers(2, 400))
    dim = draw(st.one_of(st.integers(1, 70), st.sampled_from([128, 129, 200])))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e4]))
    queries = (rng.standard_normal((n_queries, dim)) * scale).astype(np.float32)
    items = (rng.standard_normal((n_items, dim)) * scale).astype(np.float32)
    k = draw(st.integers(1, min(n_items - 1, 40)))
    max_len = draw(st.sampled_from([1, 10, 50]))
    spread = draw(st.sampled_from([0.1, 1.0, 10.0])) * scale * scale * np.sqrt(dim)
    terms = random_terms(rng, n_queries, n_items, max_len, "normal", spread)
    exclude = None
    if draw(st.booleans()):
        exclude = exclusion_with_terms(rng, terms, n_items, draw(st.sampled_from([0.05, 0.5])))
    return queries, items, k, exclude, terms


kernel_options = st.fixed_dictionaries(
    {
        "threads": st.sampled_from([1, 2]),
        "simd": st.sampled_from(SIMD_PATHS),
        "insert_max_k": st.sampled_from(SINK_MODES),
        "item_block": st.sampled_from([0, 1, 33, 64]),
        "group": st.sampled_from([0, 1, 5, 17, 70]),
    }
)

# ========================================================================== tests ==


@settings(max_examples=150, deadline=None)
@given(problem=integer_term_problems(), threads=st.sampled_from([1, 2]))
def test_topk_with_terms_equals_reference_on_integer_inputs(problem, threads):
    queries, items, k, exclude, terms = problem
    got = topk(queries, items, k, exclude=exclude, terms=terms, threads=threads)
    assert_same(got, topk_numpy(queries, items, k, exclude=exclude, terms=terms))


@settings(max_examples=200, deadline=None)
@given(problem=integer_term_problems(), options=kernel_options)
def test_kernel_paths_with_terms_equal_reference_on_integer_inputs(problem, options):
    """Every SIMD path and sink; tiny blocks/groups: terms in many blocks and item chunks."""
    queries, items, k, exclude, terms = problem
    threads = options.pop("threads")
    got = kernel(queries, items, k, exclude, threads, terms, **options)
    assert_same(got, topk_numpy(queries, items, k, exclude=exclude, terms=terms))


@settings(max_examples=100, deadline=None)
@given(problem=float_term_problems(), options=kernel_options)
def test_terms_on_random_floats_equal_the_full_ranking_plus_values(problem, options):
    """Bitwise: a term item's score is its plain float32 score + the value in float32."""
    queries, items, k, exclude, terms = problem
    threads = options.pop("threads")
    got = kernel(queries, items, k, exclude, threads, terms, **options)
    expected = expected_from_full_ranking(queries, items, k, exclude, terms, simd=0)
    assert_same(got, expected)


@settings(max_examples=80, deadline=None)
@given(problem=float_term_problems(), threads=st.sampled_from([1, 2]))
def test_terms_on_random_floats_match_reference_within_rounding(problem, threads):
    queries, items, k, exclude, terms = problem
    got = topk(queries, items, k, exclude=exclude, terms=terms, threads=threads)
    assert_close_to_reference(queries, items, k, exclude, got, terms=terms)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_queries=st.integers(1, 140),
    n_items=st.integers(2, 400),
    dim=st.sampled_from([1, 7, 64, 129]),
    with_exclusion=st.booleans(),
    options=kernel_options,
)
def test_empty_terms_equal_no_terms_bitwise(seed, n_queries, n_items, dim, with_exclusion, options):
    rng = np.random.default_rng(seed)
    queries = rng.standard_normal((n_queries, dim)).astype(np.float32)
    items = rng.standard_normal((n_items, dim)).astype(np.float32)
    k = int(rng.integers(1, n_items))
    exclude = random_exclusion(rng, n_queries, n_items, 0.1) if with_exclusion else None
    threads = options.pop("threads")
    plain = kernel(queries, items, k, exclude, threads, None, **options)
    empty = kernel(queries, items, k, exclude, threads, empty_terms(n_queries), **options)
    assert_same(plain, empty)
    assert_same(plain, topk(queries, items, k, exclude=exclude, terms=empty_terms(n_queries)))


def test_zero_values_keep_the_plain_result(rng):
    """A term of +0.0 adds nothing (a + 0 = a for every finite nonzero a; -0 + 0 = +0)."""
    queries = rng.integers(-2, 3, (40, 8)).astype(np.float32)
    items = rng.integers(-2, 3, (300, 8)).astype(np.float32)
    terms = random_terms(rng, 40, 300, 50, "zero")
    for threads in (1, 2):
        got = topk(queries, items, 25, terms=terms, threads=threads)
        assert_same(got, topk(queries, items, 25, threads=threads))


def test_hand_example_ties_exclusion_and_reordering():
    items = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]], dtype=np.float32)
    queries = np.ones((3, 1), dtype=np.float32)
    ptr = np.array([0, 3, 5, 6], dtype=np.int64)
    # query 0: item 1 jumps to the top (1 + 10), item 2 ties with item 4 (2 + 2 = 4) and
    #          precedes it by id, item 5 drops out (5 - 9 = -4);
    # query 1: item 3 ties with item 5 (3 + 2) and precedes it; item 4 is excluded;
    # query 2: a term on an excluded item changes nothing (items 4 and 5 excluded).
    ids = np.array([5, 2, 1, 4, 3, 5], dtype=np.int32)
    values = np.array([-9, 2, 10, 100, 2, 7], dtype=np.float32)
    exclude = (np.array([0, 0, 1, 3], dtype=np.int64), np.array([4, 5, 4], dtype=np.int32))
    scores, got = topk(queries, items, 4, exclude=exclude, terms=(ptr, ids, values))
    assert got.tolist() == [[1, 2, 4, 3], [3, 5, 2, 1], [3, 2, 1, -1]]
    assert scores[0].tolist() == [11, 4, 4, 3]
    assert scores[1].tolist() == [5, 5, 2, 1]
    assert scores[2][:3].tolist() == [3, 2, 1] and np.isneginf(scores[2][3])


def test_terms_are_not_modified_and_order_does_not_matter(rng):
    queries = rng.integers(-2, 3, (20, 6)).astype(np.float32)
    items = rng.integers(-2, 3, (200, 6)).astype(np.float32)
    ptr, ids, values = random_terms(rng, 20, 200, 30, "halves", 3.0)
    before = ids.copy(), values.copy()
    got = topk(queries, items, 15, terms=(ptr, ids, values), threads=2)
    np.testing.assert_array_equal(ids, before[0])
    np.testing.assert_array_equal(values, before[1])
    # the same lists sorted by id within each query: the same result
    rows = np.repeat(np.arange(20), np.diff(ptr))
    order = np.lexsort((ids, rows))
    assert_same(got, topk(queries, items, 15, terms=(ptr, ids[order], values[order])))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_terms_across_default_blocks_and_item_chunks_exact(rng, threads):
    """Many default item blocks (a term item in each), many query panels, and few
    queries (the catalogue split into chunks that are merged); exact integer data."""
    queries = rng.integers(-3, 4, (601, 64)).astype(np.float32)
    items = rng.integers(-3, 4, (5000, 64)).astype(np.float32)
    terms = random_terms(rng, 601, 5000, 50, "halves", 20.0)
    exclude = exclusion_with_terms(rng, terms, 5000, 0.01)
    expected = topk_numpy(queries, items, 70, exclude=exclude, terms=terms)
    assert_same(topk(queries, items, 70, exclude=exclude, terms=terms, threads=threads), expected)
    few_items = rng.integers(-2, 3, (20_000, 16)).astype(np.float32)
    few_queries = rng.integers(-2, 3, (3, 16)).astype(np.float32)
    few_terms = random_terms(rng, 3, 20_000, 50, "halves", 30.0)
    assert_same(
        topk(few_queries, few_items, 30, terms=few_terms, threads=threads),
        topk_numpy(few_queries, few_items, 30, terms=few_terms),
    )


def test_terms_bitwise_identical_across_threads_and_paths(rng):
    queries = rng.standard_normal((700, 32)).astype(np.float32)
    items = rng.standard_normal((9000, 32)).astype(np.float32)
    terms = random_terms(rng, 700, 9000, 50, "normal", 3.0)
    exclude = exclusion_with_terms(rng, terms, 9000, 0.002)
    base = topk(queries, items, 20, exclude=exclude, terms=terms, threads=1)
    for threads in (2, 3):
        assert_same(base, topk(queries, items, 20, exclude=exclude, terms=terms, threads=threads))
    for simd in SIMD_PATHS[1:]:
        assert_same(base, kernel(queries, items, 20, exclude, 2, terms, simd=simd))
    head_terms = (terms[0][:41].copy(), terms[1][: terms[0][40]], terms[2][: terms[0][40]])
    head_exclude = (exclude[0][:41].copy(), exclude[1][: exclude[0][40]].copy())
    scalar = kernel(queries[:40].copy(), items, 20, head_exclude, 2, head_terms, simd=0)
    assert_same((base[0][:40].copy(), base[1][:40].copy()), scalar)
    assert_close_to_reference(queries, items, 20, exclude, base, terms=terms)


def test_every_item_with_a_term_and_k_equals_m_minus_1(rng):
    """Terms on all items 1..M-1 (the dense pass skips every one of them)."""
    queries = rng.integers(-2, 3, (9, 5)).astype(np.float32)
    items = rng.integers(-2, 3, (40, 5)).astype(np.float32)
    ids = np.concatenate([rng.permutation(np.arange(1, 40)) for _ in range(9)]).astype(np.int32)
    ptr = np.arange(0, 9 * 39 + 1, 39, dtype=np.int64)
    values = (rng.integers(-6, 7, ptr[-1]) / 2).astype(np.float32)
    for k in (1, 38, 39):
        for threads in (1, 3):
            got = topk(queries, items, k, terms=(ptr, ids, values), threads=threads)
            assert_same(got, topk_numpy(queries, items, k, terms=(ptr, ids, values)))


def test_bench_terms_and_the_benchmark_rows():
    """The benchmark's terms (distinct ids per query, unsorted) and its three rows."""
    from paretoalign.bench import topk as bench

    ptr, ids, values = bench.bench_terms(300, 1000, 50)
    assert ptr.dtype == np.int64 and ids.dtype == np.int32 and values.dtype == np.float32
    assert ptr[-1] == len(ids) == len(values) == 300 * 50
    rows = ids.reshape(300, 50)
    assert ((rows >= 1) & (rows < 1000)).all()
    assert (np.diff(np.sort(rows, axis=1), axis=1) > 0).all()
    assert (np.diff(rows, axis=1) < 0).any()  # drawn order, not sorted
    assert bench.bench_terms(300, 1000, 0)[0].tolist() == [0] * 301
    impls = ("paretoalign", *bench.TERM_IMPLS, "limit")
    results = bench.bench_case(300, 1000, 16, repeats=1, impls=impls)
    by_impl = {r.impl: r for r in results}
    assert list(by_impl) == list(impls)
    assert by_impl["paretoalign (empty terms)"].extra["identical_to_paretoalign"] is True
    for name in bench.TERM_IMPLS:
        assert "overhead_vs_paretoalign" in by_impl[name].extra
        assert "throughput_vs_limit" in by_impl[name].extra
