"""``paretoalign bench world``: the simulated shop's offline and online throughput.

Cases (the default profile's world, 20k items; ``quick``: smaller populations):

* ``offline`` -- >= 1M sessions (``quick``: 100k) of the offline logs under the logging
  policy, as events per second:

  - ``paretoalign`` -- ``World.simulate_offline()``: the jitted sessions plus building the
    train / test ``SessionLog`` s, the impressions table (10 % of sessions), the ground
    truth tables and the statistics of ``stats.json``;
  - ``paretoalign-kernel`` -- the jitted sessions alone (``offline.run_sessions``, no
    impressions);
  - ``python-reference`` -- the plain-Python reference simulator
    (:mod:`paretoalign.world.reference`) on a subset of 300 sessions (its events/s are
    comparable, its absolute time is not).

* ``online`` -- 14 days of experiment shoppers (``quick``: 1 day) served by a trivial
  popularity policy, as page views (= slates shown) per second:

  - ``paretoalign`` -- ``World.run_online`` with one impression row per position;
  - ``paretoalign-expected`` -- the same with the exact per-impression probabilities;
  - ``paretoalign-slates-only`` -- without per-position impression rows (the setting of
    large experiments).

There is no physical ``limit`` row: the simulator's floor is its own arithmetic. Times are
medians of three runs after one warm-up run. The machine is shared: ``notes`` keep the
1-minute load average before and after each part, so figures can be judged against it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numba
import numpy as np

from paretoalign.bench.common import BenchResult, load_average, time_runs, write_bench_json
from paretoalign.world import ShopConfig, World
from paretoalign.world.offline import population_windows, run_sessions
from paretoalign.world.reference import simulate_session_reference

FULL_SESSIONS = 1_000_000
QUICK_SESSIONS = 100_000
REFERENCE_SESSIONS = 300


def _offline(world: World, n_sessions: int, repeats: int) -> list[BenchResult]:
    cfg = world.cfg
    days = cfg.burn_in_days + cfg.train_days + cfg.test_days
    scaled = _with_rate(world, n_sessions / days)
    holder: dict[str, Any] = {}

    def simulate() -> None:
        holder["logs"] = scaled.simulate_offline()

    runs = time_runs(simulate, repeats=repeats)
    logs = holder.pop("logs")
    events = logs.dataset.train.n_events + logs.dataset.test.n_events
    pop = logs.population
    case = f"offline S={len(pop):,} N={world.n_items:,}"
    rows = [
        BenchResult(case, "paretoalign", runs, events, "events/s",
                    {"sessions": len(pop), "events": events,
                     "impression_rows": len(logs.impressions)}),
    ]  # fmt: skip
    del logs
    lo, hi = population_windows(scaled.cfg, pop)

    def kernel() -> None:
        holder["out"] = run_sessions(scaled, pop, scaled.logging_table, lo, hi)

    runs = time_runs(kernel, repeats=repeats)
    kernel_events = len(holder.pop("out").aid)
    rows.append(
        BenchResult(case, "paretoalign-kernel", runs, kernel_events, "events/s",
                    {"sessions": len(pop), "events": kernel_events})
    )  # fmt: skip
    sub = pop.take(np.arange(REFERENCE_SESSIONS))
    W = scaled.packed_items()
    par, ipar = scaled.packed_params()
    S = scaled.packed_shoppers(sub)
    sub_lo, sub_hi = lo[:REFERENCE_SESSIONS], hi[:REFERENCE_SESSIONS]

    def reference() -> None:
        holder["n"] = sum(
            len(simulate_session_reference(W, par, ipar, S, s, table=scaled.logging_table,
                                           window=(int(sub_lo[s]), int(sub_hi[s]))).events)
            for s in range(REFERENCE_SESSIONS)
        )  # fmt: skip

    runs = time_runs(reference, repeats=repeats)
    rows.append(
        BenchResult(case, "python-reference", runs, holder["n"], "events/s",
                    {"sessions": REFERENCE_SESSIONS, "events": holder["n"]})
    )  # fmt: skip
    return rows


def _with_rate(world: World, sessions_per_day: float) -> World:
    return replace(world, cfg=world.cfg.model_copy(update={"sessions_per_day": sessions_per_day}))


def _online(world: World, days: int, repeats: int) -> list[BenchResult]:
    pop = world.experiment_population(days=days, seed=0)
    policy = world.popularity_policy()
    rows = []
    case = f"online S={len(pop):,} days={days} popularity policy"
    holder: dict[str, Any] = {}
    for impl, expected, per_position in (
        ("paretoalign", False, True),
        ("paretoalign-expected", True, True),
        ("paretoalign-slates-only", False, False),
    ):

        def serve(expected: bool = expected, per_position: bool = per_position) -> None:
            holder["res"] = world.run_online(
                policy, pop, record_expected=expected, item_impressions=per_position
            )

        runs = time_runs(serve, repeats=repeats)
        res = holder.pop("res")
        views = len(res.slates)
        rows.append(
            BenchResult(case, impl, runs, views, "page views/s",
                        {"sessions": len(pop), "page_views": views,
                         "impression_rows": len(res.impressions)})
        )  # fmt: skip
    return rows


def run(path: Path, quick: bool = False) -> dict:
    """Time the shop (see the module docstring) and write the benchmark JSON."""
    t0 = time.perf_counter()
    cfg = ShopConfig()
    world = World.build(cfg)
    build_s = time.perf_counter() - t0
    repeats = 3
    load = {"before": load_average()}
    rows = _offline(world, QUICK_SESSIONS if quick else FULL_SESSIONS, repeats)
    load["after_offline"] = load_average()
    rows += _online(world, 1 if quick else 14, repeats)
    load["after_online"] = load_average()
    notes = {
        "load_average_1min": load,
        "world": "default ShopConfig (n_items=20000, slate_size=12, organic_candidates=16)",
        "build_seconds": round(build_s, 3),
        "quick": quick,
        "numba_threads": numba.get_num_threads(),
    }
    return write_bench_json(
        "world", rows, path, packages=("numba",), threads=numba.get_num_threads(), notes=notes
    )
