"""The validation worlds: each one built, trained and served with the project's own pipeline.

A *world* of the validation is the profile with some ``[shop]`` knobs changed (its seed, or
``rho_aq`` for the flip worlds). For each world this module

1. **prepares** it like ``make reproduce`` would (:func:`prepare_world`): the shop's offline
   logs (:func:`paretoalign.world.write_offline`), the trained model
   (:func:`paretoalign.model.train`) and the front with its chosen groups
   (:func:`paretoalign.front.pipeline.run_front`), written under
   ``results/<profile>/validate/worlds/<label>/`` and reused while the world's tables are
   unchanged. The profile's own world is not rebuilt: its ``results/<profile>/`` outputs
   are used as they are.
2. **chooses the oracle family** (:func:`oracle_arms`): ``grid_points`` points of the traced
   front spread evenly in offline-metric space (all of them when the front has no more),
   plus the experiment's arms (its front groups, the control and the off-front arms), each
   with its offline metrics on the test log;
3. **serves the family** to one base population (:func:`serve_panel`): ``base_shoppers``
   new shoppers, copied once per arm with the *same* random streams (common random
   numbers), all copies served in one run of the shop through the experiment's own router
   (:class:`paretoalign.front.policies.GroupRouter`) with the exact click probabilities
   recorded, and summed per shopper into an :class:`~paretoalign.validate.oracle.ArmPanel`.

Cost: serving is one transformer forward per page view, ``arms x base_shoppers x ~15``
page views per world; training a model per re-drawn world is the other cost, which is why
``[validate] extra_world_shop`` / ``extra_world_train`` can shrink the re-drawn worlds
(the profile's own world always keeps the profile's model).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.config import Profile
from paretoalign.io import atomic_path
from paretoalign.online.kpis import COUNT_COLUMNS, KPIS
from paretoalign.validate.fastsim import compare_with_real, fast_experiment
from paretoalign.validate.oracle import EV_CLICKS, PANEL_COLUMNS, ArmPanel, build_panel, ratio_se

#: Shopper ids of arm ``a``'s copy of base shopper ``i``: ``base_id + (a + 1) * ID_STRIDE``.
ID_STRIDE = 10**10


def derived_profile(
    base: Profile,
    label: str,
    *,
    shop: dict[str, Any] | None = None,
    train: dict[str, Any] | None = None,
    front: dict[str, Any] | None = None,
) -> Profile:
    """``base`` with table overrides, its results under ``results/<base>/validate/worlds/<label>``."""
    tables = copy.deepcopy(base.tables)
    for name, overrides in (("shop", shop), ("train", train), ("front", front)):
        if overrides:
            tables[name] = {**tables.get(name, {}), **overrides}
    return Profile(
        name=label,
        path=base.path,
        tables=tables,
        results_root=base.results / "validate" / "worlds",
    )


def _stamp(profile: Profile) -> dict[str, Any]:
    keep = ("shop", "train", "front", "data", "experiment")
    return {k: profile.tables.get(k, {}) for k in keep}


def prepare_world(profile: Profile, *, progress: bool = False) -> dict[str, float]:
    """Offline logs, trained model and front of a derived world (skipped when up to date).

    Returns the seconds spent per step (0 for a reused step).
    """
    from paretoalign.data import load_dataset
    from paretoalign.data.config import DataConfig, dataset_dir
    from paretoalign.front.pipeline import run_front
    from paretoalign.model import TrainConfig, train
    from paretoalign.world import ShopConfig, World, write_offline

    out = profile.results
    stamp_path = out / "world.json"
    stamp = _stamp(profile)
    done = {
        "data": (dataset_dir(profile) / "train.parquet").is_file(),
        "train": (out / "train" / "model.json").is_file(),
        "front": (out / "groups.json").is_file() and (out / "front.parquet").is_file(),
    }
    if stamp_path.is_file() and json.loads(stamp_path.read_text()) == stamp and all(done.values()):
        return {"data": 0.0, "train": 0.0, "front": 0.0}
    timing = {}
    t0 = time.perf_counter()
    world = World.build(profile.section("shop", ShopConfig))
    write_offline(world, dataset_dir(profile))
    timing["data"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cfg = profile.section("train", TrainConfig)
    data_cfg = profile.section("data", DataConfig)
    if cfg.max_len is None:
        cfg = cfg.model_copy(update={"max_len": data_cfg.max_len})
    dataset = load_dataset(dataset_dir(profile))
    train(
        cfg,
        dataset.train,
        out / "train",
        n_items=dataset.n_items,
        progress=progress,
        extra_metadata={"profile": profile.name, "data": str(dataset_dir(profile))},
    )
    timing["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_front(profile, progress=progress)
    timing["front"] = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(stamp_path) as tmp:
        tmp.write_text(json.dumps(stamp, indent=2, default=str))
    return timing


def oracle_arms(
    profile: Profile,
    grid_points: int,
    spread: Sequence[str] | None = None,
    kinds: Sequence[str] = ("model", "baseline", "control"),
) -> list:
    """The oracle family of a prepared world: spread front points plus the experiment's arms.

    Parameters
    ----------
    profile : Profile
        A world whose ``front.parquet`` and ``groups.json`` exist.
    grid_points : int
        Front points of the family (all points when the front has no more); chosen by
        :func:`paretoalign.front.groups.choose_front_points` in the standardised space of
        ``spread`` (default: the ``[front] group_metrics``), so they cover the front evenly.
    kinds : sequence of str
        Arm kinds of the experiment kept in the family (``[align] arms``: the groups the
        alignment analysis uses); the experiment's front arms are always kept.

    Returns
    -------
    list of paretoalign.front.groups.Arm
        Grid arms named ``grid_<point>`` (kind model, variant front), then the experiment's
        arms; an experiment front arm at a grid point replaces that grid arm.
    """
    from paretoalign.front.config import FrontConfig
    from paretoalign.front.files import load_arms
    from paretoalign.front.groups import Arm, choose_front_points
    from paretoalign.front.trace import metric_columns

    front = pd.read_parquet(profile.results / "front.parquet")
    arms, objectives = load_arms(profile.results)
    fcfg = profile.section("front", FrontConfig)
    cols = list(spread) if spread is not None else [f"{m}@{fcfg.k}" for m in fcfg.group_metrics]
    rows = (
        np.arange(len(front))
        if len(front) <= grid_points
        else choose_front_points(front, grid_points, cols)
    )
    taken = {a.point for a in arms if a.variant == "front"}
    metrics = metric_columns(front)
    grid = []
    for row in rows:
        r = front.iloc[int(row)]
        if int(r["point"]) in taken:
            continue
        grid.append(Arm.from_front_row(f"grid_{int(r['point'])}", r, objectives, metrics))
    kept = [a for a in arms if a.variant == "front" or a.kind in kinds]
    return grid + kept


def tiled_population(population: Any, copies: int) -> tuple[Any, np.ndarray]:
    """``copies`` copies of every shopper, adjacent, sharing the random-stream seeds.

    Returns the new population (ids ``base_id + (copy + 1) * ID_STRIDE``) and the copy
    index of every row.
    """
    n = len(population)
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    if n and int(population.shopper_id.max()) >= ID_STRIDE:
        raise ValueError(f"base shopper ids must be < {ID_STRIDE}")
    rows = np.repeat(np.arange(n), copies)
    copy_of = np.tile(np.arange(copies), n)
    tiled = population.take(rows)
    ids = tiled.shopper_id + (copy_of.astype(np.int64) + 1) * ID_STRIDE
    return dataclasses.replace(tiled, shopper_id=ids), copy_of


def serve_panel(
    profile: Profile,
    arms: Sequence[Any],
    *,
    base_shoppers: int,
    days: int,
    seed: int,
    progress: bool = False,
) -> tuple[ArmPanel, dict[str, Any]]:
    """Serve every arm to the same base population and collect the panel (module docstring).

    Returns the panel and ``info`` (page views, seconds, page views per second).
    """
    from paretoalign.front.inference import compute_threads
    from paretoalign.front.policies import GroupRouter
    from paretoalign.online.events import GroupLookup, shopper_day_summary
    from paretoalign.online.experiment import ServingLoop, serving_setup, take_state_rows

    setup = serving_setup(profile, list(arms))
    world, model, policies = setup.world, setup.model, setup.policies
    names = [a.name for a in arms]
    base = world.experiment_population(days, seed, sessions_per_day=base_shoppers / days)
    tiled, copy_of = tiled_population(base, len(arms))
    lookup = GroupLookup(tiled.shopper_id, copy_of, names)
    router = GroupRouter(
        lookup.group_index, policies, world.cfg.slate_size, take_rows=take_state_rows
    )
    shop = world.open_shop(
        tiled,
        history_len=int(model.max_len),
        batch_size=setup.config.open_sessions,
        record_expected=False,
        item_impressions=False,
    )
    loop = ServingLoop(shop, router, record_expected=True)
    t0 = time.perf_counter()
    with compute_threads(setup.config.threads):  # as the experiment serves
        loop.run(progress=progress, total=int(len(tiled) * float(np.mean(tiled.budget))))
    seconds = time.perf_counter() - t0
    result = shop.result()
    probs = loop.expected_table()
    summary = shopper_day_summary(result, lookup)
    per_shopper = summary.groupby("shopper_id", sort=True)[list(COUNT_COLUMNS)].sum()
    ev = (
        pd.DataFrame({"shopper_id": result.slates["shopper_id"].to_numpy(), EV_CLICKS: probs[:, 0]})
        .groupby("shopper_id")[EV_CLICKS]
        .sum()
    )
    per_shopper[EV_CLICKS] = ev.reindex(per_shopper.index, fill_value=0.0)
    per_shopper = per_shopper.reset_index()
    arm_idx = (per_shopper["shopper_id"].to_numpy() // ID_STRIDE - 1).astype(np.int64)
    per_shopper["shopper_id"] = per_shopper["shopper_id"].to_numpy() % ID_STRIDE
    tables = {
        name: per_shopper.loc[arm_idx == a, ["shopper_id", *PANEL_COLUMNS]]
        for a, name in enumerate(names)
    }
    offline = pd.DataFrame([a.metrics for a in arms], index=names)
    panel = build_panel(
        tables,
        offline,
        {a.name: a.kind for a in arms},
        {a.name: a.kind == "model" and a.variant == "front" for a in arms},
        base.shopper_id,
    )
    info = {
        "arms": len(arms),
        "base_shoppers": len(base),
        "page_views": int(loop.page_views),
        "serving_s": seconds,
        "page_views_per_s": loop.page_views / seconds if seconds > 0 else None,
    }
    return panel, info


def check_fast_path(
    panel: ArmPanel, kpis_path: Path, *, n_rep: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Compare the fast path with a real experiment's KPI table (its groups must be arms).

    Uses the whole-experiment rows (``day = -1``) of ``kpis.parquet``: the value and the
    delta-method ``se`` per group and KPI, and the group sizes ``n``; the fast path is run
    at the same groups and mean group size. Returns the per-KPI rows of
    :func:`paretoalign.validate.fastsim.compare_with_real` and the design used.
    """
    table = pd.read_parquet(kpis_path)
    if "se" not in table.columns:
        raise ValueError(f"{kpis_path}: no 'se' column")
    whole = table[table["day"] == -1][["group", "kpi", "value", "se", "n"]]
    if sum(str(g) in panel.names for g in whole["group"].unique()) < 2:
        raise ValueError(f"{kpis_path}: fewer than 2 of its groups are arms of the panel")
    return check_fast_path_runs(panel, [whole], n_rep=n_rep, seed=seed)


def extra_real_runs(profile: Profile, *, runs: int, days: int, seed: int) -> list[pd.DataFrame]:
    """``runs`` real experiments of the profile's groups with fresh seeds and ``days`` days.

    The same serving and analysis as ``paretoalign experiment``
    (:func:`paretoalign.online.experiment.simulate` and ``analyse``), nothing written.
    Returns each run's whole-experiment KPI rows (``group, kpi, value, se, n``).
    """
    from paretoalign.front.files import load_arms
    from paretoalign.online.experiment import analyse, serving_setup, simulate

    arms, _ = load_arms(profile.results)
    setup = serving_setup(profile, arms)
    world, model, exp = setup.world, setup.model, setup.config
    names = [a.name for a in arms]
    control = "control" if "control" in names else names[0]
    out = []
    for r in range(runs):
        population = world.experiment_population(
            days, seed + r, sessions_per_day=exp.sessions_per_day
        )
        sim = simulate(
            world, population, names, setup.policies, salt=f"{exp.salt}#check{r}",
            history_len=int(model.max_len), open_sessions=exp.open_sessions,
            record_expected=False, threads=exp.threads,
        )  # fmt: skip
        kpis = analyse(sim, days=days, control=control, alpha=exp.alpha)["kpis"]
        out.append(kpis[kpis["day"] == -1][["group", "kpi", "value", "se", "n"]].copy())
    return out


def check_fast_path_runs(
    panel: ArmPanel, runs: Sequence[pd.DataFrame], *, n_rep: int = 200, seed: int = 0
) -> dict[str, Any]:
    """:func:`check_fast_path` for several real runs of the same groups (KPI tables in memory)."""
    if not runs:
        raise ValueError("no real runs")
    groups = [g for g in runs[0]["group"].astype(str).unique() if g in panel.names]
    kpi_names = [k for k in KPIS if k in set(runs[0]["kpi"])]
    values, ses, sizes = [], [], []
    for run in runs:
        pivot = run.assign(group=run["group"].astype(str)).pivot_table(
            index="kpi", columns="group", values=["value", "se", "n"], aggfunc="first"
        )
        values.append(pivot["value"].loc[kpi_names, groups].to_numpy(np.float64))
        ses.append(pivot["se"].loc[kpi_names, groups].to_numpy(np.float64))
        sizes.append(pivot["n"].loc[kpi_names[0], groups].to_numpy(np.float64).mean())
    idx = panel.index(groups)
    n_g = float(np.mean(sizes))
    fast = fast_experiment(panel, idx, n_g, kpi_names, n_rep=n_rep, seed=seed, allow_undefined=True)
    base_se = np.stack([ratio_se(panel, k)[idx] for k in kpi_names])
    rows = compare_with_real(fast, np.stack(values), np.stack(ses), base_se, kpi_names)
    return {"groups": groups, "shoppers_per_group": n_g, "real_runs": len(runs), "kpis": rows}
