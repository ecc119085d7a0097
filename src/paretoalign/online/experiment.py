"""``paretoalign experiment``'s work: the online A/B test of the chosen groups in the shop.

Protocol (book: method page, ``method-shop``)
---------------------------------------------
1. The shop of the profile (``[shop]``, the world that wrote the offline logs) receives
   ``D`` days of *new* shoppers (``World.experiment_population``, keyed by the
   experiment seed).
2. Every shopper is assigned to a group by the salted hash of its id
   (:func:`paretoalign.online.assignment.assign_groups`): sticky, equal shares.
3. Every page view's request is answered by the shopper's group arm
   (:class:`paretoalign.front.policies.GroupRouter`): the model groups and the
   popularity-penalised arm by **one** trained model, each with its own π, in one
   batched transformer forward per serving step; baselines by their ``recommend``; the
   control by the shop's logging policy.
4. Before every step the exact click / cart / order probabilities of the served slates
   are recorded (``OnlineShop.expected``), then the shop samples the response.
5. The event tables become ``events.parquet`` and the shopper-day summary, from which the
   KPIs per group and per group × day are computed with delta-method intervals
   (shopper = randomisation unit), the uplift against the control, the per-KPI omnibus
   test and the sample-ratio check.

A/A mode (``--aa``): the same groups and assignment, but every group is served the same
arm; outputs go to ``results/<profile>/aa/``. Any significant difference there is a
false positive.

Outputs (``results/<profile>/`` or ``.../aa/``)
-----------------------------------------------
``events.parquet``         tidy event log (:func:`paretoalign.online.events.event_log`)
``impressions.parquet``    item-level slate impressions of a hash-sampled share of shoppers
``summary.parquet``        shopper-day counts (:data:`paretoalign.online.kpis.SUMMARY_COLUMNS`)
``kpis.parquet``           ``group, day, kpi, value, ci_low, ci_high, n, se`` (day -1 = all)
``uplift.parquet``         every group against the control (difference, relative uplift,
                           CIs, z, p, Holm-adjusted p)
``omnibus.parquet``        per KPI and day: Wald test that all groups are equal
``expected_kpis.parquet``  Rao-Blackwellised CTR / conversion / orders from the exact
                           probabilities (same tidy schema)
``srm.json``               sample-ratio check of shoppers per group
``experiment.json``        design, counts, timing of the serving loop and its parts
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.front.files import load_arms
from paretoalign.front.groups import Arm
from paretoalign.front.inference import compute_threads
from paretoalign.front.policies import (
    ConditionedPolicy,
    GroupRouter,
    ModelServer,
    item_log_popularity,
)
from paretoalign.io import write_json, write_parquet
from paretoalign.online.assignment import assign_groups, hash_unit_interval
from paretoalign.online.config import ExperimentConfig
from paretoalign.online.events import GroupLookup, event_log, expected_summary, shopper_day_summary
from paretoalign.online.kpis import WHOLE_EXPERIMENT, compute_kpis, omnibus_table, uplift_table
from paretoalign.online.stats import ratio_estimate, sample_ratio_mismatch

__all__ = [
    "ExperimentOutputs",
    "ServingLoop",
    "ServingSetup",
    "Simulation",
    "analyse",
    "build_policies",
    "expected_kpis",
    "experiment_arms",
    "run_experiment",
    "serving_setup",
    "simulate",
    "take_state_rows",
]

#: Salt suffix of the hash that samples shoppers for the item-level impression log.
_IMPRESSION_SAMPLE_SALT = "#impressions"


def take_state_rows(state: Any, rows: np.ndarray) -> Any:
    """The shop's ``SessionState`` restricted to ``rows`` (every field is row-aligned)."""
    fields = {f.name: getattr(state, f.name)[rows] for f in dataclasses.fields(state)}
    return type(state)(**fields)


@dataclass
class ServingLoop:
    """Serve a population through a router, timing every part of the loop.

    After :meth:`run`, ``timing`` holds the seconds spent in ``state`` (reading the open
    sessions), ``encode`` (transformer), ``topk`` (compiled top-k), ``other_arms``
    (baselines and the logging policy), ``expected`` (exact probabilities) and ``shop``
    (sampling the response), and ``page_views`` the number of slates served.
    """

    shop: Any
    router: GroupRouter
    record_expected: bool = True
    sample: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.timing = {
            k: 0.0 for k in ("state", "encode", "topk", "other_arms", "expected", "shop")
        }
        self.page_views = 0
        self.steps = 0
        self._expected: list[np.ndarray] = []
        self._sampled: list[dict[str, np.ndarray]] = []

    def run(self, progress: bool = False, total: int | None = None) -> None:
        """Step the shop until every session has checked out."""
        server = self.router.server
        base = dict(server.timing) if server is not None else {"encode": 0.0, "topk": 0.0}
        other0 = self.router.timing["other_arms"]
        next_report = 0.1
        t_start = time.perf_counter()
        while not self.shop.done:
            t0 = time.perf_counter()
            state = self.shop.state()
            t1 = time.perf_counter()
            slates = self.router(state)
            t2 = time.perf_counter()
            if self.record_expected:
                exp = self.shop.expected(slates)
                self._expected.append(
                    np.column_stack(
                        [exp.p_click.sum(axis=1), exp.p_cart.sum(axis=1), exp.p_order.sum(axis=1)]
                    )
                )
            t3 = time.perf_counter()
            if self.sample is not None:
                keep = np.isin(state.shopper_id, self.sample)
                if keep.any():
                    self._sampled.append(
                        {
                            "shopper_id": state.shopper_id[keep],
                            "day": state.day[keep],
                            "ts": state.ts[keep],
                            "page_view": state.page_view[keep],
                            "slate": slates[keep],
                        }
                    )
            self.shop.step(slates)
            t4 = time.perf_counter()
            self.timing["state"] += t1 - t0
            self.timing["expected"] += t3 - t2
            self.timing["shop"] += t4 - t3
            self.page_views += len(slates)
            self.steps += 1
            if progress and total and self.page_views / total >= next_report:
                rate = self.page_views / (time.perf_counter() - t_start)
                print(f"  {self.page_views:,} page views ({rate:,.0f}/s)", flush=True)
                next_report += 0.1
        if server is not None:
            self.timing["encode"] = server.timing["encode"] - base["encode"]
            self.timing["topk"] = server.timing["topk"] - base["topk"]
        self.timing["other_arms"] = self.router.timing["other_arms"] - other0

    def expected_table(self) -> np.ndarray:
        """``float64[page_views, 3]``: per slate, summed ``p_click, p_cart, p_order``."""
        if not self._expected:
            return np.zeros((0, 3))
        return np.concatenate(self._expected)

    def sampled_impressions(self) -> pd.DataFrame:
        """Item-level impressions of the sampled shoppers (one row per slate position)."""
        if not self._sampled:
            from paretoalign.world.online import IMPRESSION_DTYPES, empty_impressions

            return empty_impressions(tuple(c for c in IMPRESSION_DTYPES if c != "clicked"))
        cat = {k: np.concatenate([s[k] for s in self._sampled]) for k in self._sampled[0]}
        n, kk = cat["slate"].shape
        return pd.DataFrame(
            {
                "shopper_id": np.repeat(cat["shopper_id"], kk),
                "day": np.repeat(cat["day"], kk),
                "ts": np.repeat(cat["ts"], kk),
                "page_view": np.repeat(cat["page_view"], kk),
                "position": np.tile(np.arange(1, kk + 1, dtype=np.int8), n),
                "aid": cat["slate"].reshape(-1),
            }
        )


def expected_kpis(exp_summary: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Rao-Blackwellised KPIs from the shopper-day sums of exact probabilities.

    ``expected_ctr`` = Σ p_click / Σ slates; ``expected_post_click_cvr`` = Σ p_order /
    Σ p_click (p_order: clicked, carted on that page view and ordered at checkout);
    ``expected_orders_per_1k_impressions`` = 1000 Σ p_order / Σ slates. Intervals by the
    delta method over shoppers, per group for the whole experiment (``day = -1``) and per
    day. Same tidy schema as :func:`paretoalign.online.kpis.compute_kpis`.
    """
    specs = {
        "expected_ctr": ("p_click", "slates", 1.0),
        "expected_post_click_cvr": ("p_order", "p_click", 1.0),
        "expected_orders_per_1k_impressions": ("p_order", "slates", 1000.0),
    }
    whole = (
        exp_summary.groupby(["group", "shopper_id"], sort=True)[
            ["slates", "p_click", "p_cart", "p_order"]
        ]
        .sum()
        .reset_index()
    )
    whole["day"] = WHOLE_EXPERIMENT
    rows = []
    cells = [(g, WHOLE_EXPERIMENT, f) for g, f in whole.groupby("group")]
    cells += [(g, int(d), f) for (g, d), f in exp_summary.groupby(["group", "day"])]
    for group, day, cell in cells:
        for name, (num, den, scale) in specs.items():
            est = ratio_estimate(cell[num].to_numpy() * scale, cell[den].to_numpy(), alpha=alpha)
            rows.append(
                {
                    "group": group,
                    "day": day,
                    "kpi": name,
                    "value": est.value,
                    "ci_low": est.ci_low,
                    "ci_high": est.ci_high,
                    "n": est.n,
                    "se": est.se,
                    "n_nonzero": est.n_nonzero,
                }
            )
    out = pd.DataFrame(rows)
    out["day"] = out["day"].astype(np.int64)
    out["n"] = out["n"].astype(np.int64)
    out["n_nonzero"] = out["n_nonzero"].astype(np.int64)
    return out.sort_values(["group", "day", "kpi"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class ExperimentOutputs:
    """What :func:`run_experiment` produced."""

    kpis: pd.DataFrame
    uplift: pd.DataFrame
    omnibus: pd.DataFrame
    expected: pd.DataFrame
    srm: dict[str, Any]
    summary: dict[str, Any]
    paths: dict[str, Path]


def build_policies(
    arms: list[Arm],
    *,
    server: ModelServer | None,
    exclude: str,
    baselines: dict[str, Any],
    world: Any,
    seed: int,
) -> list[Any]:
    """One serving object per arm (see :class:`GroupRouter` for the kinds)."""
    policies: list[Any] = []
    for arm in arms:
        if arm.kind == "model":
            if server is None or arm.pi is None:
                raise ValueError(f"model arm {arm.name!r} needs the model and a π")
            policies.append(
                ConditionedPolicy(
                    server, arm.pi, popularity_coef=arm.popularity_penalty, exclude=exclude
                )
            )
        elif arm.variant == "logging":
            policies.append(world.logging_policy(seed))
        elif arm.variant in baselines:
            policies.append(baselines[arm.variant])
        else:
            raise ValueError(f"arm {arm.name!r}: unknown variant {arm.variant!r}")
    return policies


@dataclass
class Simulation:
    """An online run: the shop's result (slates with exact probabilities when recorded),
    the assignment and the serving loop (timing, sampled impressions)."""

    result: Any
    lookup: GroupLookup
    group_index: np.ndarray
    loop: ServingLoop
    sample: np.ndarray | None
    seconds: float


def simulate(
    world: Any,
    population: Any,
    arm_names: list[str],
    policies: list[Any],
    *,
    salt: str,
    history_len: int,
    open_sessions: int = 4096,
    record_expected: bool = True,
    impression_log_share: float = 0.0,
    progress: bool = False,
    threads: int | None = None,
) -> Simulation:
    """Assign ``population`` to the arms by salted hash and serve it to the end.

    Parameters
    ----------
    world : paretoalign.world.World
    population : paretoalign.world.ShopperPopulation
    arm_names : list of str
        Group names, one per policy.
    policies : list
        Serving objects (see :class:`GroupRouter`).
    salt : str
        Assignment salt.
    history_len : int
        ``L`` of the states (the model's ``max_len``).
    open_sessions : int
        Sessions served per step.
    record_expected : bool
        Record the exact per-slate probabilities.
    impression_log_share : float
        Share of shoppers (by a second salted hash) whose item-level impressions are kept.
    progress : bool
    threads : int, optional
        Torch and Numba threads of the serving loop (:func:`paretoalign.front.inference.compute_threads`; restored
        afterwards; None: unchanged). The top-k kernel's threads are the server's.
    """
    if len(arm_names) != len(policies) or not policies:
        raise ValueError("need one policy per arm name (at least one)")
    group_idx = assign_groups(population.shopper_id, len(policies), salt)
    lookup = GroupLookup(population.shopper_id, group_idx, arm_names)
    router = GroupRouter(
        lookup.group_index, policies, world.cfg.slate_size, take_rows=take_state_rows
    )
    sample = None
    if impression_log_share > 0:
        u = hash_unit_interval(population.shopper_id, salt[:50] + _IMPRESSION_SAMPLE_SALT)
        sample = np.sort(population.shopper_id[u < impression_log_share])
    shop = world.open_shop(
        population,
        history_len=history_len,
        batch_size=open_sessions,
        record_expected=False,
        item_impressions=False,
    )
    loop = ServingLoop(shop, router, record_expected=record_expected, sample=sample)
    total = (
        round(len(population) * float(np.mean(population.budget)) * 0.9) if len(population) else 0
    )
    t0 = time.perf_counter()
    with compute_threads(threads):
        loop.run(progress=progress, total=total)
    seconds = time.perf_counter() - t0
    result = shop.result()
    if record_expected:
        probs = loop.expected_table()
        if len(probs) != len(result.slates):
            raise RuntimeError(
                f"{len(probs)} recorded probabilities for {len(result.slates)} slates"
            )
        slates = result.slates.copy()
        slates["p_click"], slates["p_cart"], slates["p_order"] = probs.T
        result = dataclasses.replace(result, slates=slates)
    return Simulation(result, lookup, group_idx, loop, sample, seconds)


def analyse(
    sim: Simulation,
    *,
    days: int,
    control: str,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    min_shoppers: int = 0,
) -> dict[str, Any]:
    """KPIs, uplift, omnibus tests, expected KPIs and the SRM check of a simulation.

    Per-day rows are kept for days ``0..days-1`` (later days only hold the tails of
    sessions begun in the window; they count in the whole-experiment rows, ``day = -1``).
    Tests whose smallest group has fewer than ``min_shoppers`` shoppers with a positive
    denominator are marked unreliable and never significant (see
    :mod:`paretoalign.online.kpis`).

    Returns
    -------
    dict
        ``events``, ``summary``, ``kpis``, ``uplift``, ``omnibus``, ``expected`` (frames)
        and ``srm`` (dict).
    """
    result, lookup = sim.result, sim.lookup
    names = lookup.names
    events = event_log(result, lookup)
    summary = shopper_day_summary(result, lookup)
    kpis = compute_kpis(summary, alpha=alpha)
    kpis = kpis[kpis["day"] < days].reset_index(drop=True)
    uplift = uplift_table(kpis, control, alpha=alpha, min_shoppers=min_shoppers)
    omnibus = omnibus_table(kpis, alpha=alpha, min_shoppers=min_shoppers)
    if "p_click" in result.slates:
        expected = expected_kpis(expected_summary(result.slates, lookup), alpha=alpha)
        expected = expected[expected["day"] < days].reset_index(drop=True)
    else:
        expected = pd.DataFrame(columns=kpis.columns)
    planned = np.bincount(sim.group_index, minlength=len(names))
    active = summary.groupby("group")["shopper_id"].nunique().reindex(names, fill_value=0)
    srm_assigned = sample_ratio_mismatch(planned, alpha=srm_alpha)
    srm_active = sample_ratio_mismatch(active.to_numpy(np.int64), alpha=srm_alpha)
    srm = {
        "groups": names,
        "planned_shares": [1.0 / len(names)] * len(names),
        "alpha": srm_alpha,
        "assigned": dataclasses.asdict(srm_assigned),
        "active": dataclasses.asdict(srm_active),
        "flagged": bool(srm_assigned.flagged or srm_active.flagged),
        "test": "Pearson chi-square goodness of fit (scipy.stats.chisquare) of shoppers per "
        "group against equal shares",
    }
    return {
        "events": events,
        "summary": summary,
        "kpis": kpis,
        "uplift": uplift,
        "omnibus": omnibus,
        "expected": expected,
        "srm": srm,
        "planned": planned,
    }


@dataclass(frozen=True)
class ServingSetup:
    """The shop, the model and one serving object per arm, as the experiment builds them."""

    world: Any
    model: Any
    policies: list[Any]
    config: ExperimentConfig


def serving_setup(profile: Any, arms: list[Arm]) -> ServingSetup:
    """World, model and one serving object per arm for ``profile``'s ``[experiment]``.

    The model server gets the item log-popularity of the train log's clicks
    (:func:`paretoalign.front.item_log_popularity`); the popularity and co-visitation
    baselines are fitted on the train log only when an arm serves them.
    """
    from paretoalign.data import load_dataset
    from paretoalign.data.config import dataset_dir
    from paretoalign.model import CovisitationRecommender, PopularityRecommender, load_model
    from paretoalign.world import ShopConfig, World

    cfg = profile.section("experiment", ExperimentConfig)
    world = World.build(profile.section("shop", ShopConfig))
    dataset = load_dataset(dataset_dir(profile))
    model = load_model(profile.results / "train")
    server = ModelServer(
        model,
        item_log_popularity=item_log_popularity(dataset.train, model.n_items).astype(np.float32),
        batch_size=cfg.encode_batch,
        threads=cfg.threads,
    )
    baselines: dict[str, Any] = {}
    for arm in arms:
        if arm.variant == "popularity" and "popularity" not in baselines:
            baselines["popularity"] = PopularityRecommender().fit(dataset.train)
        if arm.variant == "covisitation" and "covisitation" not in baselines:
            baselines["covisitation"] = CovisitationRecommender().fit(dataset.train)
    policies = build_policies(
        list(arms), server=server, exclude=cfg.exclude, baselines=baselines, world=world,
        seed=cfg.seed,
    )  # fmt: skip
    return ServingSetup(world, model, policies, cfg)


def experiment_arms(
    results: Path, cfg: ExperimentConfig, *, aa: bool
) -> tuple[list[Arm], tuple[str, ...], str]:
    """The arms of ``groups.json``, their objectives and the control group's name.

    In an A/A run every group serves the same arm (``[experiment] aa_arm``, else the
    first model arm), renamed ``aa_1 ... aa_G``; its first group is the control.
    """
    arms, objectives = load_arms(results)
    if not aa:
        control = "control" if any(a.name == "control" for a in arms) else arms[0].name
        return arms, objectives, control
    names = [a.name for a in arms]
    pick = cfg.aa_arm or next((a.name for a in arms if a.kind == "model"), names[0])
    if pick not in names:
        raise ValueError(f"[experiment] aa_arm {pick!r} is not a group ({names})")
    base = arms[names.index(pick)]
    arms = [dataclasses.replace(base, name=f"aa_{j + 1}") for j in range(len(names))]
    return arms, objectives, arms[0].name


def run_experiment(profile: Any, *, aa: bool = False, progress: bool = True) -> ExperimentOutputs:
    """Run the online experiment of ``profile`` (see the module docstring).

    The steps: read the arms, build the shop and the serving objects, draw the
    population, serve it (:func:`simulate`), compute the tables (:func:`analyse`), write
    them (:func:`_write_tables`) and the run's description (:func:`_experiment_doc`).
    """
    from paretoalign.data.config import DataConfig

    t_total = time.perf_counter()
    cfg = profile.section("experiment", ExperimentConfig)
    if profile.section("data", DataConfig).source != "shop":
        raise ValueError("the online experiment needs the simulated shop ([data] source = 'shop')")
    out = profile.results / "aa" if aa else profile.results
    arms, objectives, control = experiment_arms(profile.results, cfg, aa=aa)
    group_names = [a.name for a in arms]

    t0 = time.perf_counter()
    setup = serving_setup(profile, arms)
    if tuple(setup.model.objectives) != objectives:
        raise ValueError(
            f"groups.json objectives {objectives} != the model's {setup.model.objectives}"
        )
    population = setup.world.experiment_population(
        cfg.days, cfg.seed, sessions_per_day=cfg.sessions_per_day
    )
    setup_s = time.perf_counter() - t0
    if progress:
        mode = "A/A" if aa else "A/B"
        print(
            f"experiment ({mode}): {len(population):,} shoppers over {cfg.days} days, "
            f"{len(arms)} groups {group_names}",
            flush=True,
        )
    sim = simulate(
        setup.world,
        population,
        group_names,
        setup.policies,
        salt=cfg.salt,
        history_len=int(setup.model.max_len),
        open_sessions=cfg.open_sessions,
        record_expected=cfg.record_expected,
        impression_log_share=cfg.impression_log_share,
        progress=progress,
        threads=cfg.threads,
    )
    t0 = time.perf_counter()
    tables = analyse(
        sim,
        days=cfg.days,
        control=control,
        alpha=cfg.alpha,
        srm_alpha=cfg.srm_alpha,
        min_shoppers=cfg.min_cell_shoppers,
    )
    tables_s = time.perf_counter() - t0
    paths = _write_tables(out, sim, tables)
    timing = {"setup": setup_s, "serving_loop": sim.seconds, "tables": tables_s}
    doc = _experiment_doc(
        profile.name, cfg, aa, arms, objectives, control, len(population), sim, tables, timing
    )
    doc["timing_s"]["total"] = time.perf_counter() - t_total
    write_json(doc, paths["experiment"])
    kpis = tables["kpis"]
    if progress:
        whole = kpis[kpis["day"] == WHOLE_EXPERIMENT]
        print(whole.pivot(index="group", columns="kpi", values="value").to_string(), flush=True)
    return ExperimentOutputs(
        kpis, tables["uplift"], tables["omnibus"], tables["expected"], tables["srm"], doc, paths
    )


def _write_tables(out: Path, sim: Any, tables: dict[str, Any]) -> dict[str, Path]:
    """Write the experiment's tables (and the sampled impressions) into ``out``; return the
    paths, ``experiment.json``'s included (written last, by the caller)."""
    paths = {
        "events": out / "events.parquet",
        "impressions": out / "impressions.parquet",
        "summary": out / "summary.parquet",
        "kpis": out / "kpis.parquet",
        "uplift": out / "uplift.parquet",
        "omnibus": out / "omnibus.parquet",
        "expected": out / "expected_kpis.parquet",
        "srm": out / "srm.json",
        "experiment": out / "experiment.json",
    }
    out.mkdir(parents=True, exist_ok=True)
    for key in ("events", "summary", "kpis", "uplift", "omnibus", "expected"):
        write_parquet(tables[key], paths[key])
    if sim.sample is not None:
        imp = sim.loop.sampled_impressions()
        clicked = sim.result.slates[["shopper_id", "page_view", "clicked_position"]]
        imp = imp.merge(clicked, on=["shopper_id", "page_view"], how="left")
        imp["clicked"] = imp["position"] == imp["clicked_position"]
        imp = imp.drop(columns="clicked_position")
        imp.insert(0, "group", sim.lookup.groups(imp["shopper_id"].to_numpy()))
        write_parquet(imp, paths["impressions"])
    else:
        paths.pop("impressions")
    write_json(tables["srm"], paths["srm"])
    return paths


def _experiment_doc(
    profile_name: str,
    cfg: ExperimentConfig,
    aa: bool,
    arms: list[Arm],
    objectives: tuple[str, ...],
    control: str,
    n_shoppers: int,
    sim: Any,
    tables: dict[str, Any],
    timing: dict[str, float],
) -> dict[str, Any]:
    """``experiment.json``: the design, the groups, the counts and where the time went."""
    loop = sim.loop
    parts = ("state", "encode", "topk", "other_arms", "expected", "shop")
    loop_s = sum(loop.timing[p] for p in parts)
    group_names = [a.name for a in arms]
    return {
        "profile": profile_name,
        "mode": "aa" if aa else "ab",
        "config": cfg.model_dump(),
        "groups": [
            {
                "name": a.name,
                "kind": a.kind,
                "variant": a.variant,
                "pi": None if a.pi is None else dict(zip(objectives, a.pi)),
                "popularity_penalty": a.popularity_penalty,
            }
            for a in arms
        ],
        "control": control,
        "shoppers": n_shoppers,
        "shoppers_per_group": dict(zip(group_names, tables["planned"].tolist())),
        "page_views": int(loop.page_views),
        "steps": int(loop.steps),
        "events": len(tables["events"]),
        "randomisation_unit": "shopper (salted BLAKE2b hash of shopper_id, sticky over days)",
        "interval_method": "delta method for ratios of per-shopper sums (shopper = unit)",
        "timing_s": {**timing, "total": None, "parts": {p: loop.timing[p] for p in parts}},
        "page_views_per_s": loop.page_views / sim.seconds if sim.seconds > 0 else None,
        "part_shares": {p: loop.timing[p] / loop_s for p in parts} if loop_s > 0 else {},
        "srm_flagged": tables["srm"]["flagged"],
    }
