"""``paretoalign train --profile P``: train the preference-conditioned model of a profile.

Reads the profile's data set (``[data]``: the simulated shop's logs in
``results/<profile>/data/`` or a folder written by ``paretoalign data ...``) and its
``[train]`` table (:class:`paretoalign.model.TrainConfig`), trains, and writes to
``results/<profile>/train/``:

* ``model.safetensors``, ``model.json`` — the model (``paretoalign.model.load_model``),
* ``checkpoint.pt`` — for ``--resume``,
* ``history.json`` — loss, π and learning rate per step,
* ``summary.json`` — test-split metrics of the model at the corners of the preference
  simplex, its centre and the clicks -> orders edge, of the popularity and co-visitation
  baselines, and paired bootstrap comparisons (:mod:`paretoalign.metrics.summary`).

Distributed: ``torchrun --nproc_per_node=2 -m paretoalign train --profile P``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer


def command(
    profile: str = typer.Option("smoke", "--profile", "-p", help="profile name or .toml path"),
    resume: bool = typer.Option(False, help="continue from results/<profile>/train/checkpoint.pt"),
    device: str = typer.Option("cpu", help="cpu or cuda"),
    data: Path | None = typer.Option(None, help="data-set folder (default: the profile's)"),
    out: Path | None = typer.Option(None, help="output folder (default results/<profile>/train)"),
    stop_after: int | None = typer.Option(
        None, help="stop after this many steps (checkpoint only; resume later)"
    ),
    seed: int | None = typer.Option(
        None, help="training seed (default: the profile's [train] seed); pair with --out"
    ),
    summary: bool = typer.Option(True, help="evaluate and write summary.json at the end"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Train one model for the whole preference simplex; write the model and summary.json."""
    from paretoalign.config import load_profile

    if seed is not None and out is None:
        raise typer.BadParameter(
            "--seed needs --out: results/<profile>/train holds the profile's own seed"
        )
    if device not in ("cpu", "cuda"):
        raise typer.BadParameter(f"--device must be cpu or cuda, got {device!r}")
    prof = load_profile(profile)
    train_and_summarise(
        prof,
        seed=seed,
        data=data,
        out=out if out is not None else prof.results / "train",
        device=device,
        resume=resume,
        stop_after=stop_after,
        summary=summary,
        progress=progress,
    )


def train_and_summarise(
    prof: Any,
    *,
    out: Path,
    seed: int | None = None,
    data: Path | None = None,
    device: str = "cpu",
    resume: bool = False,
    stop_after: int | None = None,
    summary: bool = True,
    progress: bool = True,
) -> None:
    """Train the profile's model (with ``seed`` instead of its ``[train] seed`` if given)
    on its data set (or the folder ``data``) into ``out``; then, unless ``summary`` is
    false or the run stopped early, write ``out/summary.json``
    (:func:`paretoalign.metrics.summary.evaluate_summary`, with the shop's logging policy
    as a baseline when the data are the profile's simulated shop)."""
    import torch

    from paretoalign.data import load_dataset
    from paretoalign.data.config import DataConfig, dataset_dir
    from paretoalign.model import TrainConfig, train

    cfg = prof.section("train", TrainConfig)
    data_cfg = prof.section("data", DataConfig)
    if seed is not None:
        cfg = cfg.model_copy(update={"seed": seed})
    if cfg.max_len is None:
        cfg = cfg.model_copy(update={"max_len": data_cfg.max_len})
    elif cfg.max_len != data_cfg.max_len:
        raise typer.BadParameter(
            f"[train] max_len = {cfg.max_len} differs from [data] max_len = "
            f"{data_cfg.max_len}; set it in one place"
        )
    data_dir = data if data is not None else dataset_dir(prof)
    dataset = load_dataset(data_dir)
    result = train(
        cfg,
        dataset.train,
        out,
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
        f"(data {100 * result.data_share:.1f} % of step time) -> {out}"
    )
    if not summary:
        return
    from paretoalign.front.pipeline import logging_recommender
    from paretoalign.io import write_json
    from paretoalign.metrics.summary import SUMMARY_METRICS, evaluate_summary

    t0 = time.perf_counter()
    logging = logging_recommender(prof) if data is None else None
    doc = evaluate_summary(
        result.model,
        dataset.train,
        dataset.test,
        seed=cfg.seed,
        max_sessions=cfg.eval_max_sessions,
        baselines={"logging": logging} if logging is not None else None,
    )
    doc.update(
        events_per_s=result.events_per_s,
        data_share=result.data_share,
        steps=result.total_steps,
        train_seconds=result.seconds,
        eval_seconds=time.perf_counter() - t0,
        objectives=list(cfg.objectives),
        profile=prof.name,
        seed=cfg.seed,
    )
    write_json(doc, out / "summary.json")
    for name, row in {**doc["model"], **doc["baselines"]}.items():
        values = "  ".join(f"{m} {row[m]:.4f}" for m in SUMMARY_METRICS)
        typer.echo(f"{name:>24}: {values}")
