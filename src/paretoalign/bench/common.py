"""Timing, machine description and the benchmark JSON schema shared by every task."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from paretoalign.io import write_text


@dataclass
class BenchResult:
    """One (case, implementation) row of a benchmark file."""

    case: str
    impl: str
    runs_s: list[float]
    work: float
    unit: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median_s(self) -> float:
        return statistics.median(self.runs_s)

    @property
    def throughput(self) -> float:
        """``work`` units per second at the median time."""
        return self.work / self.median_s if self.median_s > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("work")
        extra = row.pop("extra")
        row.update(median_s=self.median_s, throughput=self.throughput)
        row.update(extra)
        return row


def time_runs(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return runs


def status_kib(key: str) -> int:
    """A ``/proc/self/status`` field in KiB (Linux), e.g. ``VmRSS`` or ``VmHWM`` (peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def load_average() -> float:
    """The 1-minute load average (other processes on the machine), NaN if unknown."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(packages: Iterable[str] = (), threads: int | None = None) -> dict[str, Any]:
    """CPU, core and thread counts and the versions of the given packages."""
    versions = {}
    for name in ("numpy", "paretoalign", *packages):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "threads": threads if threads is not None else os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def write_bench_json(
    task: str,
    results: list[BenchResult],
    path: str | Path,
    *,
    packages: Iterable[str] = (),
    threads: int | None = None,
    notes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the benchmark file atomically and return its content."""
    doc: dict[str, Any] = {
        "task": task,
        "machine": machine_info(packages, threads),
        "results": [r.to_json() for r in results],
    }
    if notes:
        doc["notes"] = notes
    write_text(path, json.dumps(doc, indent=2))
    return doc


def ratio_table(doc: dict[str, Any], reference: str = "paretoalign") -> list[dict[str, Any]]:
    """For each case, every impl's median and its ratio to ``reference``'s throughput."""
    rows = []
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for r in doc["results"]:
        by_case.setdefault(r["case"], {})[r["impl"]] = r
    for case, impls in by_case.items():
        ref = impls.get(reference)
        for impl, r in impls.items():
            rows.append(
                {
                    "case": case,
                    "impl": impl,
                    "median_s": r["median_s"],
                    "throughput": r["throughput"],
                    "unit": r["unit"],
                    "ratio_to_" + reference: (
                        r["throughput"] / ref["throughput"] if ref else float("nan")
                    ),
                }
            )
    return rows
