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
       "events_per_s": ..., ...}

Distributed: ``torchrun --nproc_per_node=2 -m paretoalign train --profile P``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

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
    """Metrics of the model at the simplex points and of both baselines on ``test_log``."""
    from paretoalign.model import CovisitationRecommender, PopularityRecommender

    if cfg.eval_max_sessions is not None and test_log.n_sessions > cfg.eval_max_sessions:
        test_log = test_log[: cfg.eval_max_sessions]
    doc: dict[str, Any] = {"model": {}, "baselines": {}, "eval_sessions": test_log.n_sessions}
    for key, pi in simplex_points(model.objectives).items():
        doc["model"][key] = {"pi": pi, **_model_metrics(model, test_log, pi)}
    for name, rec in (
        ("popularity", PopularityRecommender()),
        ("covisitation", CovisitationRecommender()),
    ):
        rec.fit(train_log)
        doc["baselines"][name] = _recommender_metrics(rec, test_log, model.max_len)
    return doc


def _model_metrics(model, log, pi) -> dict[str, float]:
    import numpy as np

    from paretoalign.metrics import evaluate_model

    frame = evaluate_model(
        model,
        log,
        np.asarray(pi, dtype=np.float32),
        k=20,
        max_len=model.max_len,
        progress=False,
        metrics=SUMMARY_METRICS,
    )
    return _pick(frame)


def _recommender_metrics(rec, log, max_len: int) -> dict[str, float]:
    from paretoalign.metrics import evaluate_recommender

    frame = evaluate_recommender(
        rec, log, k=20, max_len=max_len, progress=False, metrics=SUMMARY_METRICS
    )
    return _pick(frame)


def _pick(frame) -> dict[str, float]:
    values = dict(zip(frame["metric"], frame["value"]))
    return {name: float(values[name]) for name in SUMMARY_METRICS}
