"""``paretoalign bench serve``: page views per second of the online serving loop.

One serving step answers every open session of the shop: the transformer encodes the
sessions' click prefixes under each shopper's group π, the top-k picks the slate, the shop
records the exact click / cart / order probabilities of the slate and samples the
shopper's response. The benchmark serves a fixed population of new shoppers in the shop
with 6 model groups (one model, 6 preference points of the 3-objective lattice) and the
logging-policy control, as ``paretoalign experiment`` does, and reports page views per
second of the whole loop and the share of each part.

Shop and model: the ``default`` profile's shapes (20,000 items, slate 12, ``L = 50``,
``d = 64``, 2 layers; a seeded untrained model: speed does not depend on the weights);
``quick``: 2,000 items and fewer shoppers.

Implementations (one thread each; in full runs the project's loop also with two threads):

* ``paretoalign`` — :class:`paretoalign.front.policies.GroupRouter` over one
  :class:`~paretoalign.front.policies.ModelServer`: all model groups in one batched forward
  with per-row π, leading padding trimmed by length bucket, last position only in the last
  layer (:mod:`paretoalign.front.inference`), compiled exact top-k
  (:func:`paretoalign.ranking.topk`), the current item excluded;
* ``naive-torch`` — the straightforward loop: one ``model.encode`` per group on the full
  ``[B, 50]`` histories, states of the last position, ``torch.matmul`` with the item table
  and ``torch.topk`` (current item masked), the same shop;
* ``limit`` — the shop alone, serving every session the logging policy's slate: the
  ceiling of the loop for any recommender (model time zero).

Each implementation is warmed up once, then the implementations take turns for three
rounds; each run serves the same population from the start (identical work).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from paretoalign.bench.common import BenchResult, write_bench_json

REPEATS = 3
SEED = 0
#: (threads, implementations): every implementation on one thread (the experiment's
#: setting); the project's loop also on two threads (full runs only: on a 2-core machine
#: shared with other busy processes two OpenMP threads collapse, see
#: :func:`paretoalign.front.inference.compute_threads`, and a quick check must stay quick).
THREAD_CASES: tuple[tuple[int, tuple[str, ...]], ...] = (
    (1, ("paretoalign", "naive-torch", "limit")),
    (2, ("paretoalign",)),
)
QUICK_THREAD_CASES: tuple[tuple[int, tuple[str, ...]], ...] = THREAD_CASES[:1]
PARTS = ("state", "encode", "topk", "other_arms", "expected", "shop")
FULL = {"n_items": 20_000, "n_categories": 50, "shoppers": 6_000}
QUICK = {"n_items": 2_000, "n_categories": 20, "shoppers": 600}


class NaiveTorchArm:
    """One group's model arm served the straightforward way (see the module docstring)."""

    def __init__(self, model: Any, pi: Any) -> None:
        import torch

        self.model = model
        self.pi = torch.as_tensor(np.asarray(pi, dtype=np.float32))
        with torch.inference_mode():
            self.items = model.item_embeddings().detach().clone()
        self.timing = {"encode": 0.0, "topk": 0.0}

    def recommend(self, history: np.ndarray, k: int) -> np.ndarray:
        import torch

        with torch.inference_mode():
            t0 = time.perf_counter()
            x = torch.from_numpy(history.astype(np.int64))
            h = self.model.encode(x, self.pi)[:, -1]
            terms = self.model.session_terms(x, h[:, None], self.pi.expand(len(x), -1))
            t1 = time.perf_counter()
            scores = h @ self.items.T
            if terms is not None:  # the model's sparse session terms (the repeat bonus)
                rows = torch.arange(len(x))[:, None].expand_as(terms.ids[:, 0])
                scores.index_put_((rows, terms.ids[:, 0]), terms.values[:, 0], accumulate=True)
            scores[:, 0] = -torch.inf
            cur = x[:, -1]
            rows = torch.nonzero(cur > 0).squeeze(1)
            scores[rows, cur[rows]] = -torch.inf
            ids = torch.topk(scores, k, dim=1).indices.to(torch.int32).numpy()
            t2 = time.perf_counter()
        self.timing["encode"] += t1 - t0
        self.timing["topk"] += t2 - t1
        return ids


def _setup(quick: bool) -> dict[str, Any]:
    import torch

    from paretoalign.front.grids import simplex_lattice
    from paretoalign.model import ModelSpec, PreferenceRecommender
    from paretoalign.world import ShopConfig, World

    size = QUICK if quick else FULL
    cfg = ShopConfig(
        n_items=size["n_items"],
        n_categories=size["n_categories"],
        calibration_sessions=2_000 if quick else 5_000,
        calibration_rounds=2,
        logging_history_sessions=2_000 if quick else 10_000,
    )
    world = World.build(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        spec = ModelSpec(
            n_items=world.n_items,
            objectives=("clicks", "carts", "orders"),
            hidden_size=64,
            num_layers=2,
        )
        model = PreferenceRecommender(spec).eval()
    lattice = simplex_lattice(3, 3)
    pis = lattice[np.linspace(0, len(lattice) - 1, 6).round().astype(int)]
    population = world.experiment_population(1, SEED, sessions_per_day=size["shoppers"])
    return {"world": world, "model": model, "pis": pis, "population": population, "cfg": cfg}


def _serve(env: dict[str, Any], impl: str, threads: int) -> dict[str, Any]:
    from paretoalign.front.inference import compute_threads
    from paretoalign.front.policies import ConditionedPolicy, GroupRouter, ModelServer
    from paretoalign.online.assignment import assign_groups
    from paretoalign.online.events import GroupLookup
    from paretoalign.online.experiment import ServingLoop, take_state_rows

    world, model, population = env["world"], env["model"], env["population"]
    logging = world.logging_policy(SEED)
    naive: list[NaiveTorchArm] = []
    if impl == "paretoalign":
        server = ModelServer(model, batch_size=256, threads=threads)
        arms: list[Any] = [ConditionedPolicy(server, pi, exclude="current") for pi in env["pis"]]
        arms.append(logging)
    elif impl == "naive-torch":
        naive = [NaiveTorchArm(model, pi) for pi in env["pis"]]
        arms = [*naive, logging]
    elif impl == "limit":
        arms = [logging]
    else:
        raise ValueError(f"unknown implementation {impl!r}")
    ids = population.shopper_id
    lookup = GroupLookup(ids, assign_groups(ids, len(arms), "bench-serve"), range(len(arms)))
    router = GroupRouter(lookup.group_index, arms, world.cfg.slate_size, take_rows=take_state_rows)
    shop = world.open_shop(population, batch_size=4096, item_impressions=False)
    loop = ServingLoop(shop, router, record_expected=True)
    with compute_threads(threads):
        t0 = time.perf_counter()
        loop.run()
        seconds = time.perf_counter() - t0
    timing = dict(loop.timing)
    if naive:
        timing["encode"] = sum(a.timing["encode"] for a in naive)
        timing["topk"] = sum(a.timing["topk"] for a in naive)
        timing["other_arms"] -= timing["encode"] + timing["topk"]
    return {"seconds": seconds, "page_views": loop.page_views, "timing": timing}


def run(path: Path, quick: bool = False) -> dict[str, Any]:
    """Time the serving loop (see the module docstring) and write the benchmark JSON."""
    env = _setup(quick)
    results = []
    n_shoppers = len(env["population"])
    for threads, impls_t in QUICK_THREAD_CASES if quick else THREAD_CASES:
        runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls_t}
        for impl in impls_t:  # warm-up (JIT, allocator, caches)
            _serve(env, impl, threads)
        for _ in range(REPEATS):
            for impl in impls_t:
                runs[impl].append(_serve(env, impl, threads))
        for impl in impls_t:
            rs = runs[impl]
            page_views = rs[0]["page_views"]
            if any(r["page_views"] != page_views for r in rs):
                raise RuntimeError(f"{impl}: runs served different page views")
            median = sorted(rs, key=lambda r: r["seconds"])[len(rs) // 2]
            total = sum(median["timing"][p] for p in PARTS)
            extra = {
                "page_views": page_views,
                "shoppers": n_shoppers,
                "threads": threads,
                "part_seconds": {p: median["timing"][p] for p in PARTS},
                "part_shares": {p: median["timing"][p] / total for p in PARTS} if total else {},
            }
            groups = 1 if impl == "limit" else 7
            results.append(
                BenchResult(
                    case=(
                        f"N={env['world'].n_items} shoppers={n_shoppers} groups={groups} "
                        f"d=64 layers=2 L=50 slate=12 threads={threads}"
                    ),
                    impl=impl,
                    runs_s=[r["seconds"] for r in rs],
                    work=float(page_views),
                    unit="page views/s",
                    extra=extra,
                )
            )
    notes = {
        "what": "whole serving loop: state, model forward, top-k, exact probabilities, shop step",
        "groups": "6 model groups (one model, 6 lattice pi) + logging-policy control",
        "limit": "the shop alone serving the logging policy (no model)",
    }
    return write_bench_json(
        "serve", results, path, packages=("torch", "numba"), threads=2, notes=notes
    )
