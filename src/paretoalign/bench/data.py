"""``paretoalign bench data``: reading OTTO JSON Lines, paretoalign against its peers.

A seeded OTTO-like file (>= 5M events; ``quick``: 200k) is written to a temporary folder
and read into the same arrays (``session_ptr`` int64, ``session_id`` int64, ``aid + 1``
int32, ``ts`` int64, ``type`` int8) by

* ``paretoalign`` -- :func:`paretoalign.data.otto.read_otto` (validated ``SessionLog``);
* ``json`` -- ``json.loads`` line by line into ``array.array`` (what the MultiTRON and OTTO
  reference code does), the lightest pure-Python reader;
* ``pandas`` -- ``pandas.read_json(lines=True)`` with its pyarrow engine (the faster of
  its two engines), exploded to arrays with the Series ``.list`` / ``.struct`` accessors;
* ``polars`` -- ``polars.read_ndjson`` with the schema given, exploded and unnested;
* ``limit`` -- reading the file's bytes without parsing (the I/O floor); its memory is
  the size of the output arrays, the least any reader must hold.

Every run happens in a fresh process (``multiprocessing`` "spawn"): it imports its
libraries, warms up on a small file, resets the peak-RSS counter (``/proc/self/clear_refs``),
records its resident set, reads the big file and reports the wall time and the peak
resident set above that baseline (``VmHWM - VmRSS``), plus a digest of the arrays, which
must equal paretoalign's. One untimed full run per reader comes first; times and peaks are
medians of the timed runs.
"""

from __future__ import annotations

import gc
import hashlib
import json
import multiprocessing
import statistics
import tempfile
import time
from array import array
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from paretoalign.bench.common import BenchResult, status_kib, write_bench_json
from paretoalign.data.otto import write_otto
from paretoalign.data.sessionlog import SessionLog

IMPLS: tuple[str, ...] = ("paretoalign", "json", "pandas", "polars", "limit")
FULL_EVENTS = 5_000_000
QUICK_EVENTS = 200_000
#: OTTO train (README): 12.9M sessions; events per session median 6, p90 39, max 500.
OTTO_ITEMS = 1_855_603
OTTO_START_MS = 1_659_304_800_000  # 2022-08-01 00:00 (UTC+2), the first train event
_TYPE_CODES = {"clicks": 0, "carts": 1, "orders": 2}


def synthetic_otto_log(n_events: int, seed: int = 0) -> SessionLog:
    """An OTTO-like log of exactly ``n_events`` events (seeded).

    Session lengths are log-normal with OTTO train's median 6 and 90th percentile 39
    (``mu = ln 6``, ``sigma = (ln 39 - ln 6) / 1.2816``), clipped to ``[2, 500]``; item ids
    ``floor(N u^3) + 1`` (a popularity skew) over OTTO's ``N = 1,855,603`` items; types
    with OTTO train's shares (89.85 % clicks, 7.80 % carts, 2.35 % orders); sessions start
    uniformly over four weeks and events follow at exponential gaps (mean 30 s).
    """
    if n_events < 2:
        raise ValueError("n_events must be >= 2")
    rng = np.random.default_rng(seed)
    mu, sigma = np.log(6.0), (np.log(39.0) - np.log(6.0)) / 1.2816
    expected = int(n_events / 15) + 16
    lens = np.clip(np.round(rng.lognormal(mu, sigma, expected)), 2, 500).astype(np.int64)
    while lens.sum() < n_events:
        more = np.clip(np.round(rng.lognormal(mu, sigma, expected)), 2, 500).astype(np.int64)
        lens = np.concatenate([lens, more])
    total = np.cumsum(lens)
    n_sessions = int(np.searchsorted(total, n_events)) + 1
    lens = lens[:n_sessions]
    lens[-1] -= int(total[n_sessions - 1]) - n_events
    if lens[-1] < 2 and n_sessions > 1:  # fold a too-short last session into the previous one
        lens[-2] += lens[-1]
        lens = lens[:-1]
    ptr = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    aid = (np.floor(OTTO_ITEMS * rng.random(n_events) ** 3)).astype(np.int32) + 1
    start = OTTO_START_MS + rng.integers(0, 28 * 86_400_000, len(lens))
    gaps = np.cumsum(rng.exponential(30_000.0, n_events).astype(np.int64))
    gaps -= np.repeat(gaps[ptr[:-1]], lens)
    ts = np.repeat(start, lens) + gaps
    kind = rng.choice(3, n_events, p=[0.8985, 0.0780, 0.0235]).astype(np.int8)
    return SessionLog.from_arrays(ptr, aid, ts, kind, np.arange(len(lens)), OTTO_ITEMS)


# ---------------------------------------------------------------------------- the readers
def read_paretoalign(path: str) -> tuple[np.ndarray, ...]:
    from paretoalign.data.otto import read_otto

    log = read_otto(path)
    return log.session_ptr, log.session_id, log.aid, log.ts, log.type


def read_json_lines(path: str) -> tuple[np.ndarray, ...]:
    """``json.loads`` per line into growing ``array.array`` columns."""
    ptr, sid, aid, ts, kind = array("q", [0]), array("q"), array("i"), array("q"), array("b")
    codes = _TYPE_CODES
    with open(path, "rb") as fh:
        for line in fh:
            session = json.loads(line)
            sid.append(session["session"])
            for event in session["events"]:
                aid.append(event["aid"] + 1)
                ts.append(event["ts"])
                kind.append(codes[event["type"]])
            ptr.append(len(aid))
    return (
        np.frombuffer(ptr, np.int64),
        np.frombuffer(sid, np.int64),
        np.frombuffer(aid, np.int32),
        np.frombuffer(ts, np.int64),
        np.frombuffer(kind, np.int8),
    )


def read_pandas(path: str) -> tuple[np.ndarray, ...]:
    import pandas as pd

    df = pd.read_json(path, lines=True, engine="pyarrow", dtype_backend="pyarrow")
    events = df["events"]
    lens = events.list.len().to_numpy(np.int64)
    flat = events.list.flatten()
    ptr = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    return (
        ptr,
        df["session"].to_numpy(np.int64),
        (flat.struct.field("aid").to_numpy(np.int64) + 1).astype(np.int32),
        flat.struct.field("ts").to_numpy(np.int64),
        flat.struct.field("type").map(_TYPE_CODES).to_numpy(np.int8),
    )


def read_polars(path: str) -> tuple[np.ndarray, ...]:
    import polars as pl

    schema = {
        "session": pl.Int64,
        "events": pl.List(pl.Struct({"aid": pl.Int64, "ts": pl.Int64, "type": pl.String})),
    }
    df = pl.read_ndjson(path, schema=schema)
    lens = df["events"].list.len().to_numpy().astype(np.int64)
    ev = df.select(pl.col("events").explode()).unnest("events")
    ptr = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=ptr[1:])
    return (
        ptr,
        df["session"].to_numpy().astype(np.int64),
        (ev["aid"] + 1).cast(pl.Int32).to_numpy(),
        ev["ts"].to_numpy().astype(np.int64),
        ev["type"].replace_strict(_TYPE_CODES, return_dtype=pl.Int8).to_numpy(),
    )


def read_bytes_only(path: str) -> tuple[np.ndarray, ...]:
    """The I/O floor: read the file in 4 MiB chunks into one reused buffer."""
    buf = bytearray(4 << 20)
    total = 0
    with open(path, "rb", buffering=0) as fh, memoryview(buf) as view:
        while n := fh.readinto(view):
            total += n
    return (np.asarray([total], np.int64),)


READERS = {
    "paretoalign": read_paretoalign,
    "json": read_json_lines,
    "pandas": read_pandas,
    "polars": read_polars,
    "limit": read_bytes_only,
}


# ---------------------------------------------------------------------------- one measurement
def _digest(arrays: tuple[np.ndarray, ...]) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.dtype).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def measure(impl: str, path: str, warm_path: str) -> dict[str, Any]:
    """Run one reader once in this (fresh) process: seconds, peak RSS above baseline, digest."""
    reader = READERS[impl]
    reader(warm_path)  # imports and first-call costs
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    base = status_kib("VmRSS")
    t0 = time.perf_counter()
    arrays = reader(path)
    seconds = time.perf_counter() - t0
    peak = status_kib("VmHWM")
    return {
        "seconds": seconds,
        "peak_bytes": (peak - base) * 1024,
        "hwm_reset": reset,
        "digest": _digest(arrays) if impl != "limit" else None,
    }


def _in_fresh_process(impl: str, path: str, warm_path: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(measure, impl, path, warm_path).result()


# ---------------------------------------------------------------------------- the task
def run(
    path: Path,
    quick: bool = False,
    *,
    n_events: int | None = None,
    repeats: int = 3,
    impls: tuple[str, ...] = IMPLS,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the benchmark JSON to ``path`` and return it (see the module docstring)."""
    if repeats < 3:
        raise ValueError("repeats must be >= 3 (medians of at least three runs)")
    unknown = set(impls) - set(READERS)
    if unknown or "paretoalign" not in impls:
        raise ValueError(f"impls must include 'paretoalign' and come from {list(READERS)}")
    n = n_events or (QUICK_EVENTS if quick else FULL_EVENTS)
    log = synthetic_otto_log(n, seed)
    expected = _digest((log.session_ptr, log.session_id, log.aid, log.ts, log.type))
    output_bytes = sum(
        a.nbytes for a in (log.session_ptr, log.session_id, log.aid, log.ts, log.type)
    )
    results: list[BenchResult] = []
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="paretoalign-bench-data-") as tmp:
        big = Path(tmp) / "otto.jsonl"
        warm = Path(tmp) / "warm.jsonl"
        write_otto(log, big)
        write_otto(log[: min(2000, log.n_sessions)], warm)
        file_bytes = big.stat().st_size
        case = (
            f"OTTO jsonl: {log.n_events:,} events, {log.n_sessions:,} sessions, "
            f"{file_bytes / 2**20:,.0f} MiB"
        )
        for impl in impls:
            _in_fresh_process(impl, str(big), str(warm))  # untimed warm-up run
            runs[impl] = [_in_fresh_process(impl, str(big), str(warm)) for _ in range(repeats)]
            for r in runs[impl]:
                if r["digest"] is not None and r["digest"] != expected:
                    raise RuntimeError(f"{impl} read different arrays than were written")
    # a peak below one page is noise of the baseline: floor it, so ratios stay finite
    peaks = {i: max(statistics.median(r["peak_bytes"] for r in runs[i]), 4096) for i in impls}
    medians = {i: statistics.median(r["seconds"] for r in runs[i]) for i in impls}
    peers = [i for i in impls if i != "limit"]
    fastest = min(peers, key=lambda i: medians[i])
    leanest = min(peers, key=lambda i: peaks[i])
    for impl in impls:
        peak_mib = (output_bytes if impl == "limit" else peaks[impl]) / 2**20
        results.append(
            BenchResult(
                case=case,
                impl=impl,
                runs_s=[r["seconds"] for r in runs[impl]],
                work=float(log.n_events),
                unit="events/s",
                extra={
                    "peak_rss_mib": round(peak_mib, 2),
                    "peak_rss_runs_mib": [round(r["peak_bytes"] / 2**20, 2) for r in runs[impl]],
                    "time_ratio_to_fastest": medians[impl] / medians[fastest],
                    "memory_ratio_to_leanest": (
                        peaks[impl] / peaks[leanest] if impl != "limit" else None
                    ),
                },
            )
        )
    ours_time = medians["paretoalign"] / medians[fastest]
    ours_mem = peaks["paretoalign"] / peaks[leanest]
    return write_bench_json(
        "data",
        results,
        path,
        packages=("pandas", "polars", "pyarrow"),
        threads=None,
        notes={
            "events": log.n_events,
            "sessions": log.n_sessions,
            "file_bytes": file_bytes,
            "output_bytes": output_bytes,
            "memory": "peak resident set above the baseline of a fresh spawned process "
            "(VmHWM - VmRSS after imports and a small warm-up); limit: the output arrays",
            "hwm_reset": all(r["hwm_reset"] for rs in runs.values() for r in rs),
            "fastest_peer": fastest,
            "leanest_peer": leanest,
            "paretoalign_time_ratio": ours_time,
            "paretoalign_memory_ratio": ours_mem,
            "targets": {
                "time_ratio_max": 1.25,
                "memory_ratio_max": 1.25,
                "time_met": ours_time <= 1.25,
                "memory_met": ours_mem <= 1.25,
            },
            "paretoalign_bytes_per_event": peaks["paretoalign"] / log.n_events,
            "full_otto_train_estimate_gib": peaks["paretoalign"]
            / log.n_events
            * 216_716_096
            / 2**30,
        },
    )
