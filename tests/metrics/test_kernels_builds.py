"""The serial and parallel builds of each batch kernel: one body, two real compilations.

``paretoalign.jit.parallel_and_serial`` compiles one plain function with and without
``parallel=True``. Numba's on-disk cache is keyed by the function's qualified name and
first line, not by the ``parallel`` option, so the two builds must carry different
qualified names, or the second to compile would load the first one's machine code from the
cache (and, say, the "parallel" build would run on one thread). These tests check that each
build really is what it claims, in this process (compiled or loaded from the cache) and in
fresh processes with a cold and then a warm cache, and that both builds give the same bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from paretoalign.metrics import _kernels as K

KERNELS = ("standard_sums", "list_sums", "otto_sums")
#: The flag fields of the kernels' input records.
FLAGS = ("has_cart", "has_order", "has_mask", "has_pop", "has_vec", "has_cov")


def kernel_args(rng: np.random.Generator) -> dict[str, tuple]:
    """Valid ``(record, seg_ptr)`` of every batch kernel: 3000 rows in segments of 256, k = 20."""
    n_rows, k, n_items, dim = 3000, 20, 300, 5
    ids = rng.integers(1, n_items + 1, (n_rows, k)).astype(np.int32)
    ids[::5, 12:] = -1  # padded lists
    targets = rng.integers(1, n_items + 1, n_rows).astype(np.int32)
    hit = rng.random(n_rows) < 0.5
    targets[hit] = ids[hit, rng.integers(0, 12, n_rows)[hit]]
    cart = (rng.random(n_rows) < 0.3).astype(np.int8)
    order = (rng.random(n_rows) < 0.1).astype(np.int8)
    mask = rng.random(n_rows) < 0.8
    recip = 1.0 / np.arange(1, k + 1, dtype=np.float64)
    discount = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    seg_ptr = np.append(np.arange(0, n_rows, 256, dtype=np.int64), n_rows)
    log_pop = rng.normal(size=n_items + 1)
    vectors = rng.normal(size=(n_items + 1, dim)).astype(np.float32)
    inv_norm = 1.0 / np.linalg.norm(vectors.astype(np.float64), axis=1)
    seen = np.zeros(n_items + 1, np.uint8)
    lens = rng.integers(0, 4, n_rows)
    truth_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    truth_ids = rng.integers(1, n_items + 1, truth_ptr[-1]).astype(np.int32)
    pred = np.where(ids < 1, 1, ids).astype(np.int32)
    values = {
        "ids": ids,
        "targets": targets,
        "cart": cart,
        "order": order,
        "mask": mask,
        "k": k,
        "n_items": n_items,
        "recip": recip,
        "discount": discount,
        "log_pop": log_pop,
        "vectors": vectors,
        "inv_norm": inv_norm,
        "seen": seen,
        "pred": pred,
        "truth_ptr": truth_ptr,
        "truth_ids": truth_ids,
    }
    values.update(dict.fromkeys(FLAGS, True))  # every optional input present

    def record(cls):
        return cls(**{field: values[field] for field in cls._fields})

    return {
        "standard_sums": (record(K.StandardInputs), seg_ptr),
        "list_sums": (record(K.ListInputs), seg_ptr),
        "otto_sums": (record(K.OttoInputs), seg_ptr),
    }


def has_parfor_code(dispatcher) -> bool:
    """Whether the dispatcher's (only) compiled version holds a ``prange`` parallel loop.

    Numba records the re-initialisation of its thread pool with every compilation that
    lowered a parallel loop, and keeps that record in the on-disk cache.
    """
    (signature,) = dispatcher.signatures
    compiled = dispatcher.overloads[signature]
    return any(f.__name__ == "_reload_parfors" for f in compiled.reload_init)


@pytest.mark.parametrize("name", KERNELS)
def test_builds_have_own_names_and_options(name):
    parallel, serial = getattr(K, name), getattr(K, name + "_serial")
    assert parallel.py_func.__qualname__ == name
    assert serial.py_func.__qualname__ == name + "_serial"
    assert parallel.py_func.__code__ is serial.py_func.__code__  # one body
    assert parallel.targetoptions.get("parallel") is True
    assert not serial.targetoptions.get("parallel", False)


@pytest.mark.parametrize("name", KERNELS)
def test_serial_and_parallel_builds_agree_bytewise(name, rng):
    args = kernel_args(rng)[name]
    seen = args[0].seen if name == "list_sums" else None  # list kernels also mark `seen`
    results = []
    for build in (getattr(K, name + "_serial"), getattr(K, name)):
        if seen is not None:
            seen[:] = 0
        out = build(*args)
        out = out if isinstance(out, tuple) else (out,)
        if seen is not None:
            assert seen.sum() > 0  # written through the record
            out = (*out, seen.copy())
        results.append(out)
    serial, parallel = results
    assert len(serial) == len(parallel)
    for a, b in zip(serial, parallel, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    assert float(serial[0].sum()) > 0  # the inputs do exercise the kernel
    assert has_parfor_code(getattr(K, name))
    assert not has_parfor_code(getattr(K, name + "_serial"))


_CHILD = """
import numpy as np
from paretoalign.metrics import _kernels as K
from tests.metrics.test_kernels_builds import KERNELS, has_parfor_code, kernel_args

args = kernel_args(np.random.default_rng(0))
for name in KERNELS:  # the serial build first: the order in which a shared entry would leak
    for build_name in (name + "_serial", name):
        build = getattr(K, build_name)
        build(*args[name])
        print(build_name, sum(build.stats.cache_hits.values()), has_parfor_code(build))
"""


@pytest.mark.slow
def test_builds_stay_apart_in_cold_and_warm_cache(tmp_path):
    """Fresh processes on an empty cache directory, then on the cache the first one wrote."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    expected_parfors = {n: True for n in KERNELS} | {n + "_serial": False for n in KERNELS}
    for cache_hits in (0, 1):  # cold, then warm
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, cwd=root
        )
        assert done.returncode == 0, done.stderr
        rows = [line.split() for line in done.stdout.splitlines()]
        assert {r[0]: int(r[1]) for r in rows} == dict.fromkeys(expected_parfors, cache_hits)
        assert {r[0]: r[2] == "True" for r in rows} == expected_parfors
