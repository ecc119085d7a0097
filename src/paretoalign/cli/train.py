"""``paretoalign train --profile P``: train the preference-conditioned model of a profile.

Reads the profile's data set (``[data]``: the simulated shop's logs in
``results/<profile>/data/`` or a folder written by ``paretoalign data ...``) and its
``[train]`` table (:class:`paretoalign.model.TrainConfig`), trains, and writes to
``results/<profile>/train/``:

* ``model.safetensors``, ``model.json`` — the model (``paretoalign.model.load_model``),
* ``checkpoint.pt`` — for ``--resume``,
* ``history.json`` — loss, π and learning rate per step,
* ``summary.json`` — test-split metrics of the model at each corner of the preference
  simplex and at its centre, and of the popularity and co-visitation baselines::

      {"model": {"<pi>": {"pi": [...], "click_recall@20": ..., "cart_recall@20": ...,
                          "order_recall@20": ..., "order_density@20": ...}},
       "baselines": {"popularity": {...}, "covisitation": {...}},
       "comparisons": [{"a": "model 1,0,0", "b": "covisitation",
                        "metric": "click_recall@20", "difference": ...,
                        "ci_low": ..., "ci_high": ..., "p_value": ..., ...}, ...],
       "events_per_s": ..., ...}

  The comparisons are paired session-bootstrap intervals (:func:`summary_comparisons`):
  the model at the clicks corner against each baseline, and the points of the clicks ->
  orders edge against the clicks corner.

Distributed: ``torchrun --nproc_per_node=2 -m paretoalign train --profile P``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

SUMMARY_METRICS = ("click_recall@20", "cart_recall@20", "order_recall@20", "order_density@20")


def command(
    profile: str = typer.Option("smoke", "--profile", "-p", help="profile name or .toml path"),
    resume: bool = typer.Option(False, help="continue from results/<profile>/train/checkpoint.pt"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    data: Path | None = typer.Option(None, help="data-set folder (default: the profile's)"),
    out: Path | None = typer.Option(None, help="output folder (default results/<profile>/train)"),
    stop_after: int | None = typer.Option(
        None, help="stop after this many steps (checkpoint only; resume later)"
    ),
    summary: bool = typer.Option(True, help="evaluate and write summary.json at the end"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Train one model for the whole preference simplex; write the model and summary.json."""
    import torch

    from paretoalign.config import load_profile
    from paretoalign.data import load_dataset
    from paretoalign.data.config import DataConfig, dataset_dir
    from paretoalign.model import TrainConfig, train

    prof = load_profile(profile)
    cfg = prof.section("train", TrainConfig)
    data_cfg = prof.section("data", DataConfig)
    if cfg.max_len is None:
        cfg = cfg.model_copy(update={"max_len": data_cfg.max_len})
    elif cfg.max_len != data_cfg.max_len:
        raise typer.BadParameter(
            f"[train] max_len = {cfg.max_len} differs from [data] max_len = "
            f"{data_cfg.max_len}; set it in one place"
        )
    data_dir = data if data is not None else dataset_dir(prof)
    out_dir = out if out is not None else prof.results / "train"
    if device not in ("cpu", "cuda"):
        raise typer.BadParameter(f"--device must be cpu or cuda, got {device!r}")
    dataset = load_dataset(data_dir)
    result = train(
        cfg,
        dataset.train,
        out_dir,
        n_items=dataset.n_items,
        device=device,
        resume=resume,
        stop_after=stop_after,
        progress=progress,
        extra_metadata={"profile": prof.name, "data": str(data_dir)},
    )
    rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
    if rank != 0 or result.steps < result.total_steps:
        return
    typer.echo(
        f"trained {result.steps} steps, {result.events_per_s:,.0f} events/s "
        f"(data {100 * result.data_share:.1f} % of step time) -> {out_dir}"
    )
    if not summary:
        return
    t0 = time.perf_counter()
    doc = evaluate_summary(result.model, dataset.train, dataset.test, cfg)
    doc.update(
        events_per_s=result.events_per_s,
        data_share=result.data_share,
        steps=result.total_steps,
        train_seconds=result.seconds,
        eval_seconds=time.perf_counter() - t0,
        objectives=list(cfg.objectives),
        profile=prof.name,
    )
    write_summary(out_dir / "summary.json", doc)
    for name, row in {**doc["model"], **doc["baselines"]}.items():
        values = "  ".join(f"{m} {row[m]:.4f}" for m in SUMMARY_METRICS)
        typer.echo(f"{name:>24}: {values}")


def simplex_points(objectives: tuple[str, ...]) -> dict[str, list[float]]:
    """Corners of the preference simplex, its centre and three points on the clicks ->
    orders edge (``(1-w) e_clicks + w e_orders`` for ``w`` = 0.25, 0.5, 0.75; the edge to
    the last objective when there is no ``orders``), keyed ``"1,0,0"``, ``"0.75,0,0.25"``
    etc. The edge shows how the metrics move as π walks from clicks towards orders."""
    k = len(objectives)
    points = [[1.0 if i == j else 0.0 for j in range(k)] for i in range(k)]
    points.append([1.0 / k] * k)
    first = objectives.index("clicks")
    last = objectives.index("orders") if "orders" in objectives else k - 1
    for w in EDGE_WEIGHTS:
        point = [0.0] * k
        point[first], point[last] = 1.0 - w, w
        points.append(point)
    return {",".join(f"{p:.3g}" for p in point): point for point in points}


#: Weights of the target objective on the clicks -> orders edge of the summary.
EDGE_WEIGHTS = (0.25, 0.5, 0.75)


def write_summary(path: Path, doc: dict[str, Any]) -> None:
    from paretoalign.data import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2) + "\n")


def evaluate_summary(model, train_log, test_log, cfg) -> dict[str, Any]:
    """Metrics of the model at the simplex points and of both baselines on ``test_log``,
    and the paired comparisons of :func:`summary_comparisons`.

    Every ranker is evaluated once, per session (``per_session=True``); its metrics are the
    global ratios of the summed statistics, the same values ``evaluate_model`` returns.
    """
    from paretoalign.metrics import evaluate_model, evaluate_recommender, metrics_from_sums
    from paretoalign.model import CovisitationRecommender, PopularityRecommender

    if cfg.eval_max_sessions is not None and test_log.n_sessions > cfg.eval_max_sessions:
        test_log = test_log[: cfg.eval_max_sessions]
    doc: dict[str, Any] = {"model": {}, "baselines": {}, "eval_sessions": test_log.n_sessions}
    sums: dict[str, Any] = {}
    for key, pi in simplex_points(model.objectives).items():
        sums[key] = evaluate_model(
            model,
            test_log,
            np.asarray(pi, dtype=np.float32),
            k=20,
            max_len=model.max_len,
            progress=False,
            per_session=True,
        )
        doc["model"][key] = {"pi": pi, **metrics_from_sums(sums[key], SUMMARY_METRICS)}
    for name, rec in (
        ("popularity", PopularityRecommender()),
        ("covisitation", CovisitationRecommender()),
    ):
        rec.fit(train_log)
        sums[name] = evaluate_recommender(
            rec, test_log, k=20, max_len=model.max_len, progress=False, per_session=True
        )
        doc["baselines"][name] = metrics_from_sums(sums[name], SUMMARY_METRICS)
    doc["comparisons"] = summary_comparisons(sums, model.objectives, seed=cfg.seed)
    return doc


#: Bootstrap resamples of each paired comparison in ``summary.json``.
COMPARISON_RESAMPLES = 2000


def summary_comparisons(
    sums: dict[str, Any], objectives: tuple[str, ...], *, seed: int
) -> list[dict[str, Any]]:
    """Paired session-bootstrap comparisons of the summary's rankers on the same sessions.

    ``sums`` maps the summary's point keys (``"1,0,0"``) and baseline names to per-session
    sums. Compared (:func:`paretoalign.metrics.paired_bootstrap`, 2,000 resamples, 95 %):

    * click recall@20 of the model at the clicks corner against each baseline;
    * order recall@20 and order density@20 of each other point on the clicks -> orders
      edge (the edge to the last objective without ``orders``) against the clicks corner.

    Each entry is ``{"a": ..., "b": ..., **paired_bootstrap(...)}``; ``a`` and ``b`` name
    a summary point (``"model 0.5,0,0.5"``) or a baseline. One generator seeded with
    ``seed`` draws every comparison in this order.
    """
    from paretoalign.metrics import paired_bootstrap

    rng = np.random.default_rng(seed)
    points = simplex_points(objectives)
    first = objectives.index("clicks")
    last = objectives.index("orders") if "orders" in objectives else len(objectives) - 1
    corner = next(key for key, pi in points.items() if pi[first] == 1.0)
    label = {key: f"model {key}" for key in points}
    out = []

    def compare(a: str, b: str, metric: str) -> None:
        result = paired_bootstrap(
            sums[a], sums[b], metric, seed=rng, n_resamples=COMPARISON_RESAMPLES
        )
        out.append({"a": label.get(a, a), "b": label.get(b, b), **result})

    for baseline in ("covisitation", "popularity"):
        if baseline in sums:
            compare(corner, baseline, "click_recall@20")
    edge = sorted(
        (pi[last], key)
        for key, pi in points.items()
        if key != corner and all(p == 0 for i, p in enumerate(pi) if i not in (first, last))
    )
    for metric in ("order_recall@20", "order_density@20"):
        for _, key in edge:
            compare(key, corner, metric)
    return out
