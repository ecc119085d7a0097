"""``paretoalign bench metrics``: the standard offline metrics over millions of positions.

Case (2 threads; ``quick``: 200,000 positions): ``P = 5,000,000`` positions, ``k = 20``,
a catalogue of 100,000 items, seeded top-k id lists (distinct ids per row, 30 % of the
targets inside the list at a uniform rank), 5 % cart and 3 % order labels. Every
implementation computes the standard set — click recall (hit rate), MRR, NDCG/DCG, cart
and order recall, cart and order density, recall x order density — from those arrays:

* ``paretoalign`` -- :func:`paretoalign.metrics.evaluate` (public entry point: dtype and
  shape checks, value validation of every id, target and label, and all nine metrics in
  one fused Numba pass);
* ``numpy`` -- :func:`paretoalign.metrics.reference.reference_metrics`, the vectorised
  NumPy specification (one thread);
* ``ranx`` -- ``ranx.evaluate`` on its fastest input path, 3-D NumPy arrays
  (``qrels[P, 1, 2]`` = (target, 1), ``run[P, k, 2]`` = (id, descending score)), for
  ``hit_rate@20``, ``mrr@20`` and ``ndcg@20`` per position (``return_mean=False``), the
  label-weighted means taken from those with NumPy; building the float64 arrays from the
  int32 inputs is timed too. ranx has no masked or label-weighted metric, so this is the
  least work any ranx-based pipeline does. It runs on the first ``RANX_ROWS`` positions
  and its time is scaled linearly to ``P`` (its per-position kernels make the time
  linear; the JSON notes say so);
* ``limit`` -- a Numba ``prange`` sum over every byte of the input arrays (ids as uint64
  words, targets, labels): the memory-read time no implementation can beat.

Every implementation is warmed up once, then they take turns, one run each, for
``REPEATS`` rounds, so load drifts of the shared machine hit all alike. Each row records
``max_abs_diff``, the largest difference of its metrics from paretoalign's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba import njit, prange

from paretoalign.bench.common import BenchResult, load_average, write_bench_json
from paretoalign.metrics import STANDARD_METRICS, evaluate
from paretoalign.metrics.reference import reference_metrics

K = 20
THREADS = 2
REPEATS = 5
SEED = 0
N_ITEMS = 100_000
HIT_RATE = 0.30
CART_RATE = 0.05
ORDER_RATE = 0.03
FULL_POSITIONS = 5_000_000
QUICK_POSITIONS = 200_000
#: positions ranx runs on (its time is scaled to the full case); quick: all of them.
RANX_ROWS = 1_000_000
IMPLS: tuple[str, ...] = ("paretoalign", "limit", "numpy", "ranx")

Runner = Callable[[], dict[str, float]]


# ============================================================== data ==
def make_case(n_positions: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Seeded top-k lists with targets, cart and order labels (see the module docstring)."""
    rng = np.random.default_rng(seed)
    # distinct ids per row: k distinct offsets, shifted by a random amount per row
    base = rng.choice(N_ITEMS, K, replace=False).astype(np.int64)
    shift = rng.integers(0, N_ITEMS, n_positions, dtype=np.int64)
    ids = ((base[None, :] + shift[:, None]) % N_ITEMS + 1).astype(np.int32)
    targets = rng.integers(1, N_ITEMS + 1, n_positions, dtype=np.int64).astype(np.int32)
    hit = rng.random(n_positions) < HIT_RATE
    rank = rng.integers(0, K, n_positions)
    targets[hit] = ids[hit, rank[hit]]
    return {
        "ids": ids,
        "targets": targets,
        "cart_label": (rng.random(n_positions) < CART_RATE).astype(np.int8),
        "order_label": (rng.random(n_positions) < ORDER_RATE).astype(np.int8),
    }


# ============================================================== implementations ==
def _paretoalign(case: dict[str, np.ndarray]) -> Runner:
    def run() -> dict[str, float]:
        frame = evaluate(
            **case, k=K, n_items=N_ITEMS, metrics=list(STANDARD_METRICS), threads=THREADS
        )
        return {name.split("@")[0]: float(v) for name, v in zip(frame["metric"], frame["value"])}

    return run


def _numpy(case: dict[str, np.ndarray]) -> Runner:
    return lambda: reference_metrics(**case, k=K)


@njit(cache=True, parallel=True)
def _read_all(words, targets, cart, order, seg_ptr):
    """Sum every input byte: ids as uint64 words, then targets and labels."""
    n_seg = len(seg_ptr) - 1
    out = np.zeros(n_seg, dtype=np.uint64)
    n_rows = targets.shape[0]
    per_row = words.shape[0] // max(n_rows, 1)
    for s in prange(n_seg):
        total = np.uint64(0)
        block = words[seg_ptr[s] * per_row : seg_ptr[s + 1] * per_row]
        for e in range(block.shape[0]):
            total += block[e]
        t_block = targets[seg_ptr[s] : seg_ptr[s + 1]]
        c_block = cart[seg_ptr[s] : seg_ptr[s + 1]]
        o_block = order[seg_ptr[s] : seg_ptr[s + 1]]
        for e in range(t_block.shape[0]):
            total += np.uint64(t_block[e]) + np.uint64(c_block[e]) + np.uint64(o_block[e])
        out[s] = total
    return out


def _limit(case: dict[str, np.ndarray]) -> Runner:
    ids = case["ids"]
    if ids.shape[1] % 2:
        raise ValueError("the limit kernel reads ids as 8-byte words: k must be even")
    words = ids.reshape(-1).view(np.uint64)
    n_rows = ids.shape[0]
    seg_ptr = np.append(np.arange(0, n_rows, 4096, dtype=np.int64), n_rows)

    def run() -> dict[str, float]:
        _read_all(words, case["targets"], case["cart_label"], case["order_label"], seg_ptr)
        return {}

    return run


def _ranx(case: dict[str, np.ndarray], n_rows: int) -> Runner:
    import ranx

    ids = case["ids"][:n_rows]
    targets = case["targets"][:n_rows]
    cart = case["cart_label"][:n_rows].astype(bool)
    order = case["order_label"][:n_rows].astype(bool)
    descending = np.arange(K, 0, -1, dtype=np.float64)

    def run() -> dict[str, float]:
        run_arr = np.empty((n_rows, K, 2), dtype=np.float64)
        run_arr[:, :, 0] = ids[:, :K]
        run_arr[:, :, 1] = descending
        qrels = np.empty((n_rows, 1, 2), dtype=np.float64)
        qrels[:, 0, 0] = targets
        qrels[:, 0, 1] = 1.0
        per = ranx.evaluate(
            qrels,
            run_arr,
            [f"hit_rate@{K}", f"mrr@{K}", f"ndcg@{K}"],
            return_mean=False,
            threads=THREADS,
        )
        hit = per[f"hit_rate@{K}"]
        hits = hit.sum()
        ndcg = float(per[f"ndcg@{K}"].mean())
        click_recall = float(hit.mean())
        order_density = float(hit[order].sum() / hits)
        return {
            "click_recall": click_recall,
            "mrr": float(per[f"mrr@{K}"].mean()),
            "ndcg": ndcg,
            "dcg": ndcg,
            "cart_recall": float(hit[cart].mean()),
            "order_recall": float(hit[order].mean()),
            "cart_density": float(hit[cart].sum() / hits),
            "order_density": order_density,
            "recall_x_order_density": click_recall * order_density,
        }

    return run


def _max_abs_diff(values: dict[str, float], reference: dict[str, float]) -> float | None:
    if not values:
        return None
    return max(abs(values[name] - reference[name]) for name in STANDARD_METRICS)


# ============================================================== driver ==
def run(path: Path, quick: bool = False) -> dict[str, Any]:
    """Time the implementations, write the benchmark JSON to ``path`` and return it."""
    n_positions = QUICK_POSITIONS if quick else FULL_POSITIONS
    ranx_rows = min(n_positions, RANX_ROWS)
    case = make_case(n_positions)
    n_bytes = sum(a.nbytes for a in case.values())
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(THREADS)
    try:
        runners = {
            "paretoalign": _paretoalign(case),
            "limit": _limit(case),
            "numpy": _numpy(case),
            "ranx": _ranx(case, ranx_rows),
        }
        outputs = {name: fn() for name, fn in runners.items()}  # warm-up (and compile)
        reference = outputs["paretoalign"]
        ranx_check = reference_metrics(**{key: a[:ranx_rows] for key, a in case.items()}, k=K)
        times: dict[str, list[float]] = {name: [] for name in runners}
        cpu: dict[str, list[float]] = {name: [] for name in runners}
        load_before = load_average()
        for _ in range(REPEATS):
            for name, fn in runners.items():
                c0 = time.process_time()
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        load_after = load_average()
    finally:
        numba.set_num_threads(previous_threads)
    case_name = f"P={n_positions} k={K}"
    scale = n_positions / ranx_rows
    results = []
    for name in IMPLS:
        factor = scale if name == "ranx" else 1.0
        runs = [t * factor for t in times[name]]
        cpu_runs = [t * factor for t in cpu[name]]
        extra: dict[str, Any] = {
            "cpu_runs_s": cpu_runs,
            "cpu_median_s": float(np.median(cpu_runs)),
        }
        if name == "ranx":
            extra["measured_positions"] = ranx_rows
            extra["measured_runs_s"] = times[name]
            extra["max_abs_diff"] = _max_abs_diff(outputs[name], ranx_check)
        elif name != "limit":
            extra["max_abs_diff"] = _max_abs_diff(outputs[name], reference)
        else:
            extra["bytes"] = n_bytes
            extra["gb_per_s"] = n_bytes / float(np.median(runs)) / 1e9
        results.append(BenchResult(case_name, name, runs, n_positions, "positions/s", extra))
    notes = {
        "metrics": list(STANDARD_METRICS),
        "n_items": N_ITEMS,
        "hit_rate": HIT_RATE,
        "cart_rate": CART_RATE,
        "order_rate": ORDER_RATE,
        "input_bytes": n_bytes,
        "ranx": (
            f"ranx.evaluate on 3-D float64 arrays (its fastest input path; building them "
            f"from the int32 inputs is timed) for hit_rate/mrr/ndcg@{K} per position, "
            f"label-weighted means by NumPy; measured on the first {ranx_rows} positions, "
            f"runs_s scaled by {scale:g} to P={n_positions} (per-position kernels: linear "
            "time); its max_abs_diff is against the NumPy reference on those positions"
        ),
        "limit": "Numba prange sum over all input bytes (ids as uint64 words), 2 threads",
        "order": f"warm-up once, then {REPEATS} rounds, one run of each implementation per round",
        "cpu_time": (
            "cpu_runs_s: process CPU time of each run (all threads summed); on a shared, "
            "loaded machine it is steadier than wall time (runs_s, the reported medians)"
        ),
        "load_average_1min": [load_before, load_after],
    }
    return write_bench_json(
        "metrics", results, path, packages=["numba", "pandas", "ranx"], threads=THREADS, notes=notes
    )
