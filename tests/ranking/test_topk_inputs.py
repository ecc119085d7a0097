"""Bad inputs raise clear exceptions (never a crash), and the GIL is released."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from paretoalign import _fastmetrics
from paretoalign.ranking import topk

F32 = np.float32


def good():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((4, 3)).astype(F32),
        rng.standard_normal((10, 3)).astype(F32),
    )


def with_value(which: str, row: int, col: int, value: float):
    queries, items = good()
    (queries if which == "queries" else items)[row, col] = value
    return queries, items


@pytest.mark.parametrize(
    ("queries", "items", "error", "match"),
    [
        (good()[0].tolist(), good()[1], TypeError, "queries must be a numpy.ndarray"),
        (good()[0].astype(np.float64), good()[1], TypeError, "dtype float32"),
        (good()[0], good()[1].astype(np.float16), TypeError, "items must have dtype float32"),
        (good()[0].astype(np.int32), good()[1], TypeError, "dtype float32"),
        (good()[0][0], good()[1], ValueError, "2-dimensional"),
        (good()[0][None], good()[1], ValueError, "2-dimensional"),
        (np.zeros((0, 3), F32), good()[1], ValueError, "non-empty"),
        (good()[0], np.zeros((0, 3), F32), ValueError, "non-empty"),
        (np.zeros((4, 0), F32), np.zeros((10, 0), F32), ValueError, "non-empty"),
        (good()[0], good()[1][:, :2].copy(), ValueError, "same dimension"),
        (np.asfortranarray(good()[0]), good()[1], ValueError, "C-contiguous"),
        (good()[0], np.ones((10, 6), F32)[:, ::2], ValueError, "C-contiguous"),
        (good()[0], good()[1][:1].copy(), ValueError, "at least 2 rows"),
        (*with_value("queries", 2, 1, np.nan), ValueError, r"queries\[2, 1\] = nan"),
        (*with_value("items", 7, 0, np.inf), ValueError, r"items\[7, 0\] = inf"),
        (*with_value("items", 3, 2, -np.inf), ValueError, r"items\[3, 2\] = -inf"),
        (*with_value("queries", 0, 0, 3e38), ValueError, "overflow"),
    ],
)
def test_bad_matrices_raise(queries, items, error, match):
    with pytest.raises(error, match=match):
        topk(queries, items, 3)


def test_large_but_safe_values_pass_the_overflow_check():
    """The cheap bound D max|q| max|x| fails here; the exact norm bound does not."""
    queries = np.zeros((2, 4), F32)
    queries[0, 0] = 1e19
    items = np.zeros((3, 4), F32)
    items[1, 1] = 1e19
    items[2, 0] = 1.0
    scores, ids = topk(queries, items, 2)
    assert ids.tolist() == [[2, 1], [1, 2]]
    assert scores[0].tolist() == [1e19 * np.float32(1.0), 0.0]


@pytest.mark.parametrize(
    ("k", "error", "match"),
    [
        (0, ValueError, r"k must be in \[1, M - 1\] = \[1, 9\]"),
        (-1, ValueError, r"k must be in"),
        (10, ValueError, r"k must be in"),
        (2.0, TypeError, "k must be an integer"),
        (True, TypeError, "k must be an integer, got bool"),
        ("3", TypeError, "k must be an integer"),
    ],
)
def test_bad_k_raises(k, error, match):
    with pytest.raises(error, match=match):
        topk(*good(), k)


@pytest.mark.parametrize(
    ("threads", "error"), [(0, ValueError), (-2, ValueError), (1.5, TypeError), (False, TypeError)]
)
def test_bad_threads_raise(threads, error):
    with pytest.raises(error, match="threads"):
        topk(*good(), 3, threads=threads)


def csr(ptr, ids):
    return np.asarray(ptr, dtype=np.int64), np.asarray(ids, dtype=np.int32)


@pytest.mark.parametrize(
    ("exclude", "error", "match"),
    [
        ([np.zeros(5, np.int64)], TypeError, "pair"),
        (np.zeros(5, np.int64), TypeError, "pair"),
        ((np.zeros(5, np.int32), np.zeros(0, np.int32)), TypeError, "ptr must have dtype int64"),
        ((np.zeros(5, np.int64), np.zeros(0, np.int64)), TypeError, "ids must have dtype int32"),
        (([0, 0, 0, 0, 0], np.zeros(0, np.int32)), TypeError, "ptr must be a numpy.ndarray"),
        ((np.zeros((5, 1), np.int64), np.zeros(0, np.int32)), ValueError, "1-dimensional"),
        ((np.zeros(10, np.int64)[::2], np.zeros(0, np.int32)), ValueError, "contiguous"),
        (csr([0, 0, 0, 0], []), ValueError, r"Q \+ 1 = 5 entries"),
        (csr([1, 1, 1, 1, 1], [3]), ValueError, r"ptr\[0\] must be 0"),
        (csr([0, 2, 1, 2, 2], [1, 2]), ValueError, "decreases at query 1"),
        (csr([0, 1, 1, 1, 1], [1, 2]), ValueError, r"ptr\[-1\] = 1 must equal len\(ids\) = 2"),
        (csr([0, 1, 2, 2, 2], [1, -1]), ValueError, r"ids\[1\] = -1 \(query 1\) is outside"),
        (csr([0, 0, 0, 1, 1], [10]), ValueError, r"ids\[0\] = 10 \(query 2\) is outside"),
    ],
)
def test_bad_exclusions_raise(exclude, error, match):
    with pytest.raises(error, match=match):
        topk(*good(), 3, exclude=exclude)


def test_private_kernel_guards_do_not_crash():
    """Direct calls to the compiled module still fail cleanly."""
    queries, items = good()
    run = _fastmetrics.topk_inner_product
    with pytest.raises(TypeError, match="dtype float32"):
        run(queries.astype(np.float64), items, 3)
    with pytest.raises(ValueError, match="C-contiguous"):
        run(np.asfortranarray(queries), items, 3)
    with pytest.raises(ValueError, match=r"k must be in \[1, M - 1\]"):
        run(queries, items, 10)
    with pytest.raises(ValueError, match="sorted within each query"):
        run(queries, items, 3, *csr([0, 2, 2, 2, 2], [5, 4]))
    with pytest.raises(ValueError, match="outside"):
        run(queries, items, 3, *csr([0, 1, 1, 1, 1], [10]))
    with pytest.raises(ValueError, match="both"):
        run(queries, items, 3, np.zeros(5, np.int64), None)
    with pytest.raises(ValueError, match="simd"):
        run(queries, items, 3, simd=3)
    with pytest.raises(ValueError, match="item_block"):
        run(queries, items, 3, item_block=-1)
    with pytest.raises(ValueError, match="work_per_thread"):
        run(queries, items, 3, work_per_thread=0)
    with pytest.raises(ValueError, match="tile"):
        _fastmetrics.sgemm_tiles(queries, items, query_tile=0)
    with pytest.raises(ValueError, match="threads"):
        run(queries, items, 3, threads=0)


def test_gil_is_released_while_ranking(rng):
    """A Python thread keeps running while another thread is inside the kernel."""
    queries = rng.standard_normal((1500, 64)).astype(F32)
    items = rng.standard_normal((60_000, 64)).astype(F32)
    topk(queries[:300], items, 20, threads=1)  # warm the per-thread buffers
    done = threading.Event()
    window: list[float] = []

    def work():
        t0 = time.perf_counter()
        topk(queries, items, 20, threads=1)
        window.extend([t0, time.perf_counter()])
        done.set()

    worker = threading.Thread(target=work)
    ticks = []
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    start, end = window
    inside = np.array([t for t in ticks if start <= t <= end])
    # With the GIL held, this thread could not tick at all during the call.
    assert inside.size >= 2
    gaps = np.diff(np.concatenate([[start], inside, [end]]))
    assert gaps.max() < 0.5 * (end - start)


def test_concurrent_calls_from_python_threads_agree(rng):
    queries = rng.standard_normal((300, 16)).astype(F32)
    items = rng.standard_normal((5000, 16)).astype(F32)
    expected = topk(queries, items, 10, threads=1)
    results: list[tuple[np.ndarray, np.ndarray]] = [None] * 4  # type: ignore[list-item]

    def work(i):
        results[i] = topk(queries, items, 10, threads=1 + i % 2)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for scores, ids in results:
        np.testing.assert_array_equal(ids, expected[1])
        np.testing.assert_array_equal(scores, expected[0])


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def test_score_matrix_is_never_materialised(rng):
    """Q x M float32 scores would need 1.6 GB; the call's peak memory stays tiny."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (Linux)
            fh.write("5")
    except OSError:
        pytest.skip("peak-RSS reset needs Linux /proc/self/clear_refs")
    queries = rng.standard_normal((2000, 8)).astype(F32)
    items = rng.standard_normal((200_000, 8)).astype(F32)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status_kib("VmRSS")
    scores, ids = topk(queries, items, 20, threads=2)
    peak_mib = (_status_kib("VmHWM") - before) / 1024
    assert scores.shape == ids.shape == (2000, 20)
    assert peak_mib < 64, f"peak grew by {peak_mib:.0f} MiB"


def terms_csr(ptr, ids, values):
    return (
        np.asarray(ptr, dtype=np.int64),
        np.asarray(ids, dtype=np.int32),
        np.asarray(values, dtype=np.float32),
    )


NO_TERMS = terms_csr([0, 0, 0, 0, 0], [], [])


@pytest.mark.parametrize(
    ("terms", "error", "match"),
    [
        (NO_TERMS[:2], TypeError, "triple"),
        (np.zeros(5, np.int64), TypeError, "triple"),
        ([[0, 0, 0, 0, 0], NO_TERMS[1], NO_TERMS[2]], TypeError, "ptr must be a numpy.ndarray"),
        ((NO_TERMS[0], [], NO_TERMS[2]), TypeError, "ids must be a numpy.ndarray"),
        ((NO_TERMS[0].astype(np.int32), *NO_TERMS[1:]), TypeError, "ptr must have dtype int64"),
        ((NO_TERMS[0], NO_TERMS[1].astype(np.int64), NO_TERMS[2]), TypeError, "ids .* int32"),
        ((*NO_TERMS[:2], NO_TERMS[2].astype(np.float64)), TypeError, "values .* float32"),
        ((*NO_TERMS[:2], NO_TERMS[2].astype(np.float16)), TypeError, "values .* float32"),
        ((NO_TERMS[0][None], *NO_TERMS[1:]), ValueError, "ptr must be 1-dimensional"),
        ((NO_TERMS[0], np.zeros((1, 0), np.int32), NO_TERMS[2]), ValueError, "1-dimensional"),
        ((np.zeros(10, np.int64)[::2], *NO_TERMS[1:]), ValueError, "ptr must be contiguous"),
        (
            (*terms_csr([0, 0, 0, 0, 2], [1, 2], [])[:2], np.zeros(4, np.float32)[::2]),
            ValueError,
            "values must be contiguous",
        ),
        (terms_csr([0, 0, 0, 0], [], []), ValueError, r"ptr must have Q \+ 1 = 5 entries"),
        (terms_csr([1, 1, 1, 1, 1], [3], [1]), ValueError, r"ptr\[0\] must be 0, got 1"),
        (terms_csr([0, 2, 1, 2, 2], [1, 2], [1, 1]), ValueError, "ptr decreases at query 1"),
        (
            terms_csr([0, 1, 1, 1, 1], [1, 2], [1, 1]),
            ValueError,
            r"ptr\[-1\] = 1 must equal len\(ids\) = 2",
        ),
        (
            terms_csr([0, 1, 1, 1, 2], [1, 2], [1]),
            ValueError,
            r"values must have len\(ids\) = 2 entries, got 1",
        ),
        (terms_csr([0, 1, 1, 1, 1], [0], [1]), ValueError, r"ids\[0\] = 0 \(query 0\) .*\[1, 10\)"),
        (
            terms_csr([0, 1, 2, 2, 2], [1, -1], [1, 1]),
            ValueError,
            r"ids\[1\] = -1 \(query 1\) is outside",
        ),
        (
            terms_csr([0, 0, 0, 1, 1], [10], [1]),
            ValueError,
            r"ids\[0\] = 10 \(query 2\) is outside",
        ),
        (
            terms_csr([0, 2, 2, 2, 2], [1, 2], [0, np.nan]),
            ValueError,
            r"values\[1\] = nan \(query 0\)",
        ),
        (terms_csr([0, 0, 0, 0, 1], [1], [np.inf]), ValueError, r"values\[0\] = inf \(query 3\)"),
        (terms_csr([0, 1, 1, 1, 1], [1], [-np.inf]), ValueError, r"values\[0\] = -inf"),
        (
            terms_csr([0, 1, 5, 5, 5], [3, 4, 2, 7, 4], [1, 1, 1, 1, 1]),
            ValueError,
            r"ids\[1\] and ids\[4\] are both item 4 \(query 1\)",
        ),
        (
            terms_csr([0, 0, 0, 4, 4], [9, 9, 9, 1], [1, 2, 3, 4]),
            ValueError,
            r"ids\[0\] and ids\[1\] are both item 9 \(query 2\)",
        ),
        (terms_csr([0, 1, 1, 1, 1], [5], [3e38]), ValueError, r"overflow .*term"),
    ],
)
def test_bad_terms_raise(terms, error, match):
    with pytest.raises(error, match=match):
        topk(*good(), 3, terms=terms)


def test_term_values_count_in_the_overflow_bound():
    """max ||q|| max ||x|| alone passes; with max |value| added it does not."""
    queries = np.zeros((2, 4), F32)
    queries[0, 0] = 1e19
    items = np.zeros((3, 4), F32)
    items[1, 0] = 1e19
    terms = terms_csr([0, 1, 1], [2], [1e37])
    topk(queries, items, 2, terms=terms)
    with pytest.raises(ValueError, match="overflow"):
        topk(queries, items, 2, terms=terms_csr([0, 1, 1], [2], [1e38]))


def test_private_kernel_term_guards_do_not_crash():
    """Direct calls to the compiled module check the terms too."""
    queries, items = good()
    run = _fastmetrics.topk_inner_product

    def call(ptr, ids, values, **kw):
        t = terms_csr(ptr, ids, values)
        return run(queries, items, 3, term_ptr=t[0], term_ids=t[1], term_values=t[2], **kw)

    with pytest.raises(ValueError, match="all of term_ptr"):
        run(queries, items, 3, term_ptr=NO_TERMS[0], term_ids=NO_TERMS[1])
    with pytest.raises(TypeError, match="term_values must have dtype float32"):
        run(queries, items, 3, term_ptr=NO_TERMS[0], term_ids=NO_TERMS[1], term_values=NO_TERMS[0])
    with pytest.raises(ValueError, match=r"term_ptr must have Q \+ 1"):
        call([0, 0], [], [])
    with pytest.raises(ValueError, match="same length"):
        call([0, 0, 0, 0, 1], [1], [])
    with pytest.raises(ValueError, match=r"ptr\[0\] must be 0"):
        call([1, 1, 1, 1, 1], [1], [1])
    with pytest.raises(ValueError, match="decreases at query 1"):
        call([0, 2, 1, 2, 2], [1, 2], [1, 1])
    with pytest.raises(ValueError, match=r"ptr\[-1\]"):
        call([0, 1, 1, 1, 1], [1, 2], [1, 1])
    with pytest.raises(ValueError, match=r"term id 0 at position 0 is outside \[1, 10\)"):
        call([0, 1, 1, 1, 1], [0], [1])
    with pytest.raises(ValueError, match="outside"):
        call([0, 1, 1, 1, 1], [10], [1])
    with pytest.raises(ValueError, match="position 1 is not finite"):
        call([0, 2, 2, 2, 2], [1, 2], [1, np.nan])
    with pytest.raises(ValueError, match=r"ids\[0\] and ids\[3\] are both item 5 \(query 3\)"):
        call([0, 0, 0, 0, 4], [5, 3, 7, 5], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="both item 2"):
        call([0, 2, 2, 2, 2], [2, 2], [1, 1])


def test_duplicate_terms_in_a_large_call_name_the_first_query(rng):
    """Enough terms for the kernel's parallel sort: the lowest bad query is reported."""
    queries = rng.standard_normal((3000, 4)).astype(F32)
    items = rng.standard_normal((500, 4)).astype(F32)
    ids = np.stack([rng.permutation(np.arange(1, 500))[:30] for _ in range(3000)])
    ids[2500, 7] = ids[2500, 3]
    ids[1200, 29] = ids[1200, 11]
    ptr = np.arange(0, 3000 * 30 + 1, 30, dtype=np.int64)
    terms = (ptr, ids.astype(np.int32).ravel(), np.ones(3000 * 30, F32))
    match = rf"ids\[{1200 * 30 + 11}\] and ids\[{1200 * 30 + 29}\] are both item .* \(query 1200\)"
    for threads in (1, 2):
        with pytest.raises(ValueError, match=match):
            topk(queries, items, 5, terms=terms, threads=threads)
