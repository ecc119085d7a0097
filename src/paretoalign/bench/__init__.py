"""Benchmarks: the package side by side with its peers and the hardware limit.

Every task writes one JSON schema (``DESIGN.md``, "Benchmark files")::

    {"task": ..., "machine": {...}, "results": [{"case", "impl", "median_s", "runs_s",
                                                 "throughput", "unit"}, ...]}

``impl`` is ``"paretoalign"`` for our code, ``"limit"`` for the physical limit and the
peer's short name otherwise. Times are medians over at least three runs after a warm-up.
"""

from paretoalign.bench.common import BenchResult, machine_info, time_runs, write_bench_json

__all__ = ["BenchResult", "machine_info", "time_runs", "write_bench_json"]

#: task name -> module with ``run(path: Path, quick: bool) -> dict`` (the written JSON).
TASKS: dict[str, str] = {
    "world": "paretoalign.bench.world",
    "topk": "paretoalign.bench.topk",
    "data": "paretoalign.bench.data",
    "metrics": "paretoalign.bench.metrics",
    "train": "paretoalign.bench.train",
    "serve": "paretoalign.bench.serve",
}
