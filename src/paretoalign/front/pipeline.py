"""``paretoalign front``'s work: trace the front, filter it, choose the test groups.

Reads the profile's data set (``[data]``) and the trained model
(``results/<profile>/train/``) and writes ``front.parquet``, ``front.json``,
``groups.parquet``, ``groups.json`` and ``front.png`` to ``results/<profile>/``
(:mod:`paretoalign.front.files` describes them and reads them back).

The steps of :func:`run_front`, in order: read the inputs, trace the metrics and losses
over the preference grid and mark the non-dominated points, choose the model groups on
the front, add the control and the off-front arms, state the reason for the choice,
write the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from paretoalign.front.config import FrontConfig
from paretoalign.front.files import front_paths
from paretoalign.front.grids import preference_grid
from paretoalign.front.groups import (
    Arm,
    arms_table,
    choose_front_points,
    collinearity_report,
    nearest_neighbour_gaps,
    standardise,
)
from paretoalign.front.pareto import hypervolume, non_dominated, reference_point
from paretoalign.front.trace import metric_columns, trace_front
from paretoalign.io import write_json, write_parquet

__all__ = [
    "FrontOutputs",
    "LoggingTableRecommender",
    "front_objectives",
    "penalised_topk",
    "run_front",
]

#: objective -> the offline metric that measures it (maximised).
OBJECTIVE_METRIC = {"clicks": "click_recall", "carts": "cart_recall", "orders": "order_recall"}


def front_objectives(objectives: tuple[str, ...], k: int) -> tuple[list[str], list[bool]]:
    """Columns and directions of the metric space in which ``on_front`` is judged.

    Each objective is measured by its recall (``clicks`` -> ``click_recall@k``, ``carts``
    -> ``cart_recall@k``, ``orders`` -> ``order_recall@k``; maximised); an objective with
    no ranking metric (``distortion``) by its loss (minimised).
    """
    cols, maximise = [], []
    for o in objectives:
        if o in OBJECTIVE_METRIC:
            cols.append(f"{OBJECTIVE_METRIC[o]}@{k}")
            maximise.append(True)
        else:
            cols.append(f"loss_{o}")
            maximise.append(False)
    return cols, maximise


class LoggingTableRecommender:
    """The shop's logging policy as an offline recommender (deterministic part).

    ``recommend(history, k)`` returns the logging slate of the current item (the last
    column of ``history``): ``table[history[:, -1]]``, truncated to ``k`` or padded with
    ``-1`` when the slate is shorter than ``k`` (the metrics treat ``-1`` as no item). The
    policy's 5 % uniformly random exploration slates are left out: they are noise around
    the deterministic table, not its ranking.
    """

    def __init__(self, table: np.ndarray) -> None:
        table = np.asarray(table)
        if table.ndim != 2 or table.shape[0] < 2:
            raise ValueError("the logging table must be [N + 1, slate_size]")
        self.table = np.ascontiguousarray(table, dtype=np.int32)
        self.n_items = table.shape[0] - 1

    def recommend(self, history: np.ndarray, k: int) -> np.ndarray:
        history = np.asarray(history)
        if history.ndim != 2 or not np.issubdtype(history.dtype, np.integer):
            raise ValueError("history must be an integer array [B, L]")
        if history.size and (history.min() < 0 or history.max() > self.n_items):
            raise ValueError(f"history ids must be in 0..{self.n_items}")
        slates = self.table[history[:, -1]]
        out = np.full((len(history), k), -1, np.int32)
        width = min(k, slates.shape[1])
        out[:, :width] = slates[:, :width]
        return out


def logging_recommender(profile: Any) -> LoggingTableRecommender | None:
    """The shop's logging policy of ``profile`` as an offline recommender, or None when
    the profile's data are not the simulated shop's (``[data] source != "shop"``)."""
    from paretoalign.data.config import DataConfig
    from paretoalign.world import ShopConfig, World

    if profile.section("data", DataConfig).source != "shop":
        return None
    world = World.build(profile.section("shop", ShopConfig))
    return LoggingTableRecommender(world.logging_policy(0).table)


def penalised_topk(log_popularity: np.ndarray, coef: float, threads: int | None = None):
    """A ``topk_fn`` for :func:`paretoalign.metrics.evaluate_model` that ranks by
    ``h·e_j + r(j) − coef · logpop_j`` (``r``: the model's session terms; the
    popularity-penalised arm; same as
    :class:`paretoalign.front.policies.ConditionedPolicy` with ``popularity_coef``)."""
    from paretoalign.ranking import topk

    pop = np.asarray(log_popularity, dtype=np.float32).copy()
    pop[0] = 0.0

    def fn(queries, items, k, *, exclude=None, terms=None):
        q = np.empty((len(queries), queries.shape[1] + 1), np.float32)
        q[:, :-1] = queries
        q[:, -1] = -coef
        it = np.ascontiguousarray(np.column_stack([items, pop]), dtype=np.float32)
        return topk(q, it, k, exclude=exclude, terms=terms, threads=threads)

    return fn


@dataclass(frozen=True)
class FrontOutputs:
    """What :func:`run_front` computed (tables in memory, paths on disk)."""

    front: pd.DataFrame
    arms: list[Arm]
    summary: dict[str, Any]
    paths: dict[str, Path]


def _metrics_dict(frame: pd.DataFrame) -> dict[str, float]:
    return {str(m): float(v) for m, v in zip(frame["metric"], frame["value"])}


def _item_vectors(data_dir: Path, n_items: int, model: Any) -> tuple[np.ndarray, str]:
    """The shop's true item vectors when the data set has them, else the model's table."""
    truth = data_dir / "truth_items.parquet"
    if truth.is_file():
        items = pd.read_parquet(truth)
        cols = sorted(
            (c for c in items.columns if c[:1] == "v" and c[1:].isdigit()), key=lambda c: int(c[1:])
        )
        if cols and "aid" in items.columns:
            vec = np.zeros((n_items + 1, len(cols)), np.float32)
            aid = items["aid"].to_numpy()
            vec[aid] = items[cols].to_numpy(dtype=np.float32)
            return vec, "shop truth item vectors (truth_items.parquet v*)"
    import torch

    with torch.inference_mode():
        emb = model.item_embeddings().detach().float().numpy()
    return np.ascontiguousarray(emb), "the trained model's item embeddings"


def run_front(profile: Any, *, progress: bool = True) -> FrontOutputs:
    """Trace the front of the profile's model, choose the groups, write the outputs.

    Parameters
    ----------
    profile : paretoalign.config.Profile
    progress : bool
        Print one line per preference point and per arm.

    Returns
    -------
    FrontOutputs
    """
    from paretoalign.front.inference import compute_threads

    with compute_threads(profile.section("front", FrontConfig).threads):
        return _run_front(profile, progress=progress)


@dataclass(frozen=True)
class _FrontRun:
    """The inputs of one front run, read once by :func:`_read_inputs`."""

    profile: Any
    cfg: FrontConfig
    dataset: Any
    test: Any  # the evaluated test sessions (all, or a seeded sample)
    model: Any
    train_cfg: Any
    log_pop: np.ndarray
    vectors: np.ndarray
    vector_source: str
    beta: tuple[float, ...]
    grid: np.ndarray

    @property
    def objectives(self) -> tuple[str, ...]:
        return tuple(self.model.objectives)

    @property
    def k(self) -> int:
        return self.cfg.k


@dataclass(frozen=True)
class _ModelGroups:
    """The model groups chosen on the front and how they were chosen."""

    arms: list[Arm]
    spread: list[str]  # the metrics the groups are spread over
    candidates: np.ndarray  # bool [points]: rows eligible as groups
    n_groups: int


def _run_front(profile: Any, *, progress: bool = True) -> FrontOutputs:
    """:func:`run_front` under the configured thread count: the steps in order."""
    run = _read_inputs(profile)
    if progress:
        print(
            f"front: {len(run.grid)} preference points on {run.test.n_sessions:,} test sessions",
            flush=True,
        )
    front, spaces = _trace(run, progress)
    groups = _choose_model_groups(run, front)
    arms = list(groups.arms)
    extra = _add_other_arms(run, front, arms, groups.spread, progress)
    metric_cols = metric_columns(front)
    report = collinearity_report(arms, metric_cols)
    choice = _choice_reason(run.cfg, front, arms, groups, report)
    summary, paths = _write_outputs(run, front, arms, spaces, choice, extra)
    return FrontOutputs(front=front, arms=arms, summary=summary, paths=paths)


def _read_inputs(profile: Any) -> _FrontRun:
    """The data set, the model and its training config, the test sample, the grid."""
    from paretoalign.data import load_dataset
    from paretoalign.data.config import DataConfig, dataset_dir
    from paretoalign.front.policies import item_log_popularity
    from paretoalign.model import TrainConfig, load_model, model_metadata

    cfg = profile.section("front", FrontConfig)
    data_cfg = profile.section("data", DataConfig)
    data_dir = dataset_dir(profile)
    train_dir = profile.results / "train"
    dataset = load_dataset(data_dir)
    model = load_model(train_dir)
    meta = model_metadata(train_dir)
    if "train_config" not in meta:
        raise ValueError(f"{train_dir / 'model.json'}: no train_config (retrain the model)")
    train_cfg = TrainConfig.model_validate(meta["train_config"])
    objectives = tuple(model.objectives)
    if dataset.n_items > model.n_items:
        raise ValueError(f"the data set has {dataset.n_items} items, the model {model.n_items}")
    if cfg.control == "logging" and data_cfg.source != "shop":
        raise ValueError("control = 'logging' needs the simulated shop ([data] source = 'shop')")
    if cfg.control in cfg.off_front:
        raise ValueError(f"{cfg.control!r} is both the control and an off-front arm")
    test = dataset.test
    if test.n_sessions == 0:
        raise ValueError(f"{data_dir}: the data set has no test split")
    if cfg.max_test_sessions is not None and cfg.max_test_sessions < test.n_sessions:
        rng = np.random.default_rng(cfg.seed)
        keep = np.sort(rng.choice(test.n_sessions, cfg.max_test_sessions, replace=False))
        test = test.take(keep)
    log_pop = item_log_popularity(dataset.train, model.n_items)
    vectors, vector_source = _item_vectors(data_dir, model.n_items, model)
    beta = cfg.beta if cfg.beta is not None else tuple(train_cfg.beta_vector())[:2]
    grid = preference_grid(
        cfg.grid,
        len(objectives),
        points=cfg.grid_points(len(objectives)),
        beta=beta,
        explicit=cfg.explicit or None,
    )
    return _FrontRun(
        profile, cfg, dataset, test, model, train_cfg, log_pop, vectors, vector_source, beta, grid
    )


def _trace(run: _FrontRun, progress: bool) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Metrics and losses at every grid point, both non-dominated flags, both hypervolumes."""
    cfg, objectives, k = run.cfg, run.objectives, run.k
    front = trace_front(
        run.model,
        run.test,
        run.grid,
        train_cfg=run.train_cfg,
        k=k,
        item_log_popularity=run.log_pop,
        item_vectors=run.vectors,
        seed=cfg.seed,
        loss_batch_size=cfg.loss_batch_size,
        progress=progress,
        threads=cfg.threads,
    )
    obj_cols, maximise = front_objectives(objectives, k)
    loss_cols = [f"loss_{o}" for o in objectives]
    front["on_front"] = non_dominated(front[obj_cols].to_numpy(), maximise)
    front["on_front_loss"] = non_dominated(front[loss_cols].to_numpy(), False)
    spaces = {}
    for name, cols, flags, mask_col in (
        ("metrics", obj_cols, maximise, "on_front"),
        ("losses", loss_cols, [False] * len(loss_cols), "on_front_loss"),
    ):
        pts = front[cols].to_numpy()
        ref = reference_point(pts, flags, margin=cfg.hv_margin)
        spaces[name] = {
            "columns": cols,
            "maximise": flags,
            "reference_point": ref.tolist(),
            "reference_rule": (
                f"nadir of all {len(pts)} points moved outwards by {cfg.hv_margin} x each "
                "objective's range"
            ),
            "hypervolume": hypervolume(pts[front[mask_col].to_numpy()], ref, flags),
            "n_non_dominated": int(front[mask_col].sum()),
        }
    return front, spaces


def _choose_model_groups(run: _FrontRun, front: pd.DataFrame) -> _ModelGroups:
    """``n_groups`` front points spread evenly in offline-metric space, as model arms."""
    cfg, objectives, k = run.cfg, run.objectives, run.k
    spread = [f"{m}@{k}" for m in cfg.group_metrics]
    missing = [c for c in spread if c not in front.columns]
    if missing:
        raise ValueError(f"[front] group_metrics not computed: {missing}")
    candidates = np.ones(len(front), bool)
    if cfg.candidates == "front":
        candidates &= front["on_front"].to_numpy()
    click_col = f"click_recall@{k}"
    if cfg.min_click_recall_share > 0 and click_col in front.columns:
        clicks_v = front[click_col].to_numpy()
        candidates &= clicks_v >= cfg.min_click_recall_share * np.nanmax(clicks_v)
    n_groups = min(cfg.n_groups, int(candidates.sum()))
    chosen = choose_front_points(front, n_groups, spread, candidates=candidates)
    first = f"pi_{objectives[0]}"
    chosen = chosen[np.argsort(-front[first].to_numpy()[chosen], kind="stable")]
    metric_cols = metric_columns(front)
    arms = [
        Arm.from_front_row(f"front_{j + 1}", front.iloc[int(row)], objectives, metric_cols)
        for j, row in enumerate(chosen)
    ]
    return _ModelGroups(arms, spread, candidates, n_groups)


def _add_other_arms(
    run: _FrontRun, front: pd.DataFrame, arms: list[Arm], spread: list[str], progress: bool
) -> dict[str, Any]:
    """Append the control and the off-front arms to ``arms``; return notes for front.json."""
    from paretoalign.metrics import evaluate_recommender
    from paretoalign.model import CovisitationRecommender, PopularityRecommender

    cfg, model, k = run.cfg, run.model, run.k

    def evaluate_rec(rec: Any) -> dict[str, float]:
        return _metrics_dict(
            evaluate_recommender(
                rec,
                run.test,
                k=k,
                max_len=int(model.max_len),
                progress=False,
                n_items=model.n_items,
                item_log_popularity=run.log_pop,
                item_vectors=run.vectors,
                threads=cfg.threads,
            )
        )

    baselines: dict[str, Any] = {}

    def baseline(name: str) -> Any:
        if name not in baselines:
            rec = PopularityRecommender() if name == "popularity" else CovisitationRecommender()
            baselines[name] = rec.fit(run.dataset.train)
        return baselines[name]

    extra: dict[str, Any] = {}
    if cfg.control == "logging":
        logging = logging_recommender(run.profile)
        table = logging.table
        arms.append(Arm("control", "control", "logging", metrics=evaluate_rec(logging)))
        extra["control_note"] = (
            "logging policy: offline metrics of its deterministic slate table "
            f"({table.shape[1]} items, padded to k = {k}); online it also serves its "
            "random exploration slates"
        )
    elif cfg.control in ("popularity", "covisitation"):
        arms.append(
            Arm("control", "control", cfg.control, metrics=evaluate_rec(baseline(cfg.control)))
        )
    for name in cfg.off_front:
        if name in ("popularity", "covisitation"):
            arms.append(Arm(name, "baseline", name, metrics=evaluate_rec(baseline(name))))
        elif name == "popularity_penalised":
            arms.append(_penalised_arm(run, arms, spread, extra))
        if progress:
            print(
                f"  arm {arms[-1].name}: click_recall@{k}="
                f"{arms[-1].metrics.get(f'click_recall@{k}', float('nan')):.4f}",
                flush=True,
            )
    return extra


def _choice_reason(
    cfg: FrontConfig,
    front: pd.DataFrame,
    arms: list[Arm],
    groups: _ModelGroups,
    report: dict[str, Any],
) -> dict[str, Any]:
    """Why these groups: the rule, and the nearest-neighbour gaps of the chosen groups
    next to those of evenly spaced grid rows (evenly in π)."""
    spread, n_groups = groups.spread, groups.n_groups
    front_arms = [a for a in arms if a.variant == "front"]
    gaps = (
        nearest_neighbour_gaps(np.array([[a.metrics[m] for m in spread] for a in front_arms]))
        if len(front_arms) > 1
        else np.zeros(len(front_arms))
    )
    even_pi = np.unique(np.round(np.linspace(0, len(front) - 1, max(n_groups, 1))).astype(int))
    gaps_even_pi = (
        nearest_neighbour_gaps(front.iloc[even_pi][spread].to_numpy())
        if len(even_pi) > 1
        else np.zeros(len(even_pi))
    )
    return {
        "rule": (
            f"{n_groups} model groups: max-min dispersion over the "
            f"{int(groups.candidates.sum())} "
            f"candidate points in the standardised space of {spread} "
            "(farthest-point start, swap refinement); evenly in offline-metric space, not "
            "in π"
        ),
        "spread_metrics": spread,
        "candidates": cfg.candidates,
        "min_click_recall_share": cfg.min_click_recall_share,
        "nearest_neighbour_gap": {
            "chosen_min": float(gaps.min()) if len(gaps) else None,
            "chosen_max": float(gaps.max()) if len(gaps) else None,
            "evenly_spaced_grid_rows_min": (
                float(gaps_even_pi.min()) if len(gaps_even_pi) else None
            ),
            "evenly_spaced_grid_rows_max": (
                float(gaps_even_pi.max()) if len(gaps_even_pi) else None
            ),
        },
        "collinearity": report,
    }


def _write_outputs(
    run: _FrontRun,
    front: pd.DataFrame,
    arms: list[Arm],
    spaces: dict[str, Any],
    choice: dict[str, Any],
    extra: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Write the files of :mod:`paretoalign.front.files`; return front.json's content and
    the paths."""
    from paretoalign.front.figures import plot_front

    cfg, objectives, k = run.cfg, run.objectives, run.k
    choice = {**choice, **extra}
    out = run.profile.results
    paths = front_paths(out)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(front, paths["front"])
    summary = {
        "profile": run.profile.name,
        "objectives": list(objectives),
        "k": k,
        "grid": {
            "kind": cfg.grid,
            "points": cfg.grid_points(len(objectives)),
            "beta": list(run.beta),
            "n_points": len(run.grid),
        },
        "test_sessions": int(run.test.n_sessions),
        "test_sessions_total": int(run.dataset.test.n_sessions),
        "diversity_space": run.vector_source,
        "spaces": spaces,
    }
    write_json(summary, paths["front_json"])
    write_parquet(arms_table(arms, objectives), paths["groups"])
    groups_doc = {
        "objectives": list(objectives),
        "k": k,
        "groups": [
            {**a.to_dict(), "pi": None if a.pi is None else dict(zip(objectives, a.pi))}
            for a in arms
        ],
        "choice": choice,
    }
    write_json(groups_doc, paths["groups_json"])
    plot_front(front, arms, objectives, k, paths["plot"])
    return summary, paths


def _penalised_arm(
    run: _FrontRun, arms: list[Arm], spread: list[str], extra: dict[str, Any]
) -> Arm:
    """The model at one π with ranking ``h·e − c·logpop`` (standardised ``α``).

    π is ``[front] penalised_pi`` or the front group nearest the centre of the groups in
    the standardised ``spread`` space; ``α`` is ``[front] popularity_penalty`` or
    calibrated (:func:`_calibrate_alpha`). Notes go into ``extra["popularity_penalised"]``.
    """
    from paretoalign.data.labels import label_sequences
    from paretoalign.front.policies import ModelServer, popularity_penalty_scale
    from paretoalign.metrics import evaluate_model

    cfg, model, test, log_pop, vectors = run.cfg, run.model, run.test, run.log_pop, run.vectors

    objectives = tuple(model.objectives)
    front_arms = [a for a in arms if a.variant == "front"]
    if cfg.penalised_pi is not None:
        pi = np.asarray(cfg.penalised_pi, dtype=np.float64)
        if pi.shape != (len(objectives),) or abs(pi.sum() - 1) > 1e-6 or np.any(pi < 0):
            raise ValueError(
                f"[front] penalised_pi must be a point of the {len(objectives)}-simplex"
            )
    else:
        z = standardise(np.array([[a.metrics[m] for m in spread] for a in front_arms]))
        if z.shape[1] == 0:
            centre = 0
        else:
            centre = int(np.argmin(((z - z.mean(axis=0)) ** 2).sum(axis=1)))
        pi = np.asarray(front_arms[centre].pi)
    server = ModelServer(model, item_log_popularity=log_pop.astype(np.float32))
    seq = label_sequences(test[: min(test.n_sessions, 512)], int(model.max_len))
    rows = np.flatnonzero(seq.mask.any(axis=1))
    histories = np.ascontiguousarray(seq.inputs[rows], dtype=np.int32)
    scale = popularity_penalty_scale(server, histories, pi)
    pop_col = f"mean_log_popularity@{cfg.k}"

    def evaluate(log: Any, alpha: float, metrics: list[str] | None = None) -> dict[str, float]:
        return _metrics_dict(
            evaluate_model(
                model,
                log,
                pi.astype(np.float32),
                k=cfg.k,
                max_len=int(model.max_len),
                progress=False,
                item_log_popularity=log_pop,
                item_vectors=None if metrics else vectors,
                metrics=metrics,
                topk_fn=penalised_topk(log_pop, alpha * scale, cfg.threads),
                threads=cfg.threads,
            )
        )

    calibration: dict[str, Any] = {}
    sample = test[: min(test.n_sessions, cfg.calibration_sessions)]
    if cfg.popularity_penalty is not None:
        alpha = cfg.popularity_penalty
    else:
        alpha, calibration = _calibrate_alpha(
            lambda a: evaluate(sample, a, ["mean_log_popularity"])[pop_col],
            catalogue_mean=float(log_pop[1:].mean()),
            drop=cfg.popularity_drop,
        )
    coef = alpha * scale
    metrics = evaluate(test, alpha)
    extra["popularity_penalised"] = {
        "alpha": alpha,
        "score_sd_over_logpop_sd": scale,
        "coef": coef,
        "rule": "score_j = h·e_j − coef·ln(1 + clicks_j), coef = alpha · sd(h·e) / sd(logpop)",
        **calibration,
    }
    return Arm(
        name="popularity_penalised",
        kind="model",
        variant="popularity_penalised",
        pi=tuple(float(w) for w in pi),
        popularity_penalty=float(coef),
        metrics=metrics,
    )


def _calibrate_alpha(
    mean_log_pop: Any, *, catalogue_mean: float, drop: float, iterations: int = 12
) -> tuple[float, dict[str, Any]]:
    """Bisection (in log α) for the α whose arm lowers mean log-popularity by ``drop``.

    ``mean_log_pop(α)`` is the arm's mean log-popularity@k, decreasing in α. The target
    is ``base − drop · (base − catalogue_mean)`` with ``base = mean_log_pop(0)``; the
    search brackets α in [1e-3, 64] and returns the evaluated α closest to the target.
    """
    base = mean_log_pop(0.0)
    target = base - drop * (base - catalogue_mean)
    lo, hi = np.log(1e-3), np.log(64.0)
    tried: list[tuple[float, float]] = []
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        value = mean_log_pop(float(np.exp(mid)))
        tried.append((float(np.exp(mid)), value))
        if value > target:
            lo = mid
        else:
            hi = mid
    alpha, value = min(tried, key=lambda t: abs(t[1] - target))
    return alpha, {
        "calibration": {
            "target_mean_log_popularity": target,
            "base_mean_log_popularity": base,
            "catalogue_mean_log_popularity": catalogue_mean,
            "drop": drop,
            "achieved_mean_log_popularity": value,
            "tried": [{"alpha": a, "mean_log_popularity": v} for a, v in tried],
        }
    }
