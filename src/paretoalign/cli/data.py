"""``paretoalign data otto|yoochoose|diginetica ... --out DIR``: real data sets to a data-set folder.

Each command writes ``DIR/train.parquet``, ``DIR/test.parquet`` and ``DIR/stats.json``
(``{"train": {"sessions", "events", "clicks", "carts", "orders"}, "test": {...},
"n_items", ...}``), the folder a profile with ``[data] source = "folder"`` reads.

``paretoalign data otto-evaluate LABELS SUBMISSION [--otto-compat]`` scores a Kaggle
submission against OTTO's ``test_labels.jsonl`` (:func:`paretoalign.data.kaggle.kaggle_recall`;
``--otto-compat`` reproduces the official ``evaluate.py`` exactly, see that module).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(
    help="Read real session data (OTTO, Yoochoose, Diginetica) into a data-set folder; "
    "score an OTTO Kaggle submission.",
    no_args_is_help=True,
)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _summary(directory: Path, stats: dict[str, Any]) -> None:
    for split in ("train", "test"):
        s = stats[split]
        typer.echo(
            f"{split:>5}: {s['sessions']:>12,} sessions {s['events']:>14,} events "
            f"({s['clicks']:,} clicks, {s['carts']:,} carts, {s['orders']:,} orders)"
        )
    typer.echo(f"items: {stats['n_items']:,} -> {directory}")


@app.command("otto")
def otto(
    train: Path = typer.Argument(..., help="OTTO train .jsonl (or .jsonl.gz)", exists=True),
    test: Path | None = typer.Argument(None, help="OTTO test .jsonl (optional)", exists=True),
    out: Path = typer.Option(..., "--out", help="data-set folder to write"),
    split_days: float | None = typer.Option(
        None,
        "--split-days",
        help="with one file: the last N days become test (OTTO testset.py: overlapping "
        "train sessions are trimmed, test keeps train items and >= 2 events)",
    ),
    errors: str = typer.Option(
        "raise", "--errors", help="raise: stop at the first bad line; skip: drop and count"
    ),
    progress: bool = typer.Option(True, help="show a progress bar while reading"),
) -> None:
    """OTTO session files (item ids shifted by +1, as MultiTRON; carts are kept)."""
    from paretoalign.data.dataset import Dataset, save_dataset
    from paretoalign.data.kaggle import split_by_days
    from paretoalign.data.otto import OttoFormatError, read_otto_with_report
    from paretoalign.data.sessionlog import SessionLog

    if errors not in ("raise", "skip"):
        raise typer.BadParameter("--errors must be 'raise' or 'skip'")
    if test is not None and split_days is not None:
        raise typer.BadParameter("give either a TEST file or --split-days, not both")
    reports = []
    try:
        train_log, report = read_otto_with_report(train, errors=errors, progress=progress)  # type: ignore[arg-type]
        reports.append(report)
        if test is not None:
            test_log, report = read_otto_with_report(test, errors=errors, progress=progress)  # type: ignore[arg-type]
            reports.append(report)
        else:
            test_log = SessionLog.empty(train_log.n_items)
    except OttoFormatError as exc:
        _fail(str(exc))
    if split_days is not None:
        try:
            train_log, test_log = split_by_days(train_log, split_days)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    n_items = max(train_log.n_items, test_log.n_items)
    train_log = dataclasses.replace(train_log, n_items=n_items)
    test_log = dataclasses.replace(test_log, n_items=n_items)
    extra = {
        "source": "otto",
        "files": [str(train)] + ([str(test)] if test is not None else []),
        "aid": "raw OTTO aid + 1 (0 is padding)",
        "split_days": split_days,
        "read": [
            {
                "path": r.path,
                "lines": r.lines,
                "blank_lines": r.blank_lines,
                "skipped": r.skipped,
                "examples": r.examples,
            }
            for r in reports
        ],
    }
    for r in reports:
        if r.skipped:
            typer.echo(f"{r.path}: skipped {r.skipped:,} bad lines, e.g. {r.examples[0]}", err=True)
    dataset = Dataset(train=train_log, test=test_log, extra=extra)
    save_dataset(out, dataset)
    _summary(out, dataset.stats())


def _multitron(kind: str, first: Path, second: Path | None, out: Path, **kw: Any) -> None:
    from tqdm.auto import tqdm

    from paretoalign.data import multitron
    from paretoalign.data.dataset import save_dataset

    with tqdm(total=2, desc=kind, unit="step", disable=None) as bar:
        try:
            reader = multitron.read_yoochoose if kind == "yoochoose" else multitron.read_diginetica
            dataset = reader(first, second, **kw)
        except ValueError as exc:  # MultiTronFormatError or empty result
            _fail(str(exc))
        bar.update(1)
        save_dataset(out, dataset)
        bar.update(1)
    _summary(out, dataset.stats())


@app.command("yoochoose")
def yoochoose(
    clicks: Path = typer.Argument(..., help="yoochoose-clicks.dat", exists=True),
    buys: Path | None = typer.Argument(None, help="yoochoose-buys.dat (optional)", exists=True),
    out: Path = typer.Option(..., "--out", help="data-set folder to write"),
    split_days: float = typer.Option(1.0, help="test period (last event decides)"),
    min_item_support: int = typer.Option(5, help="drop items with fewer clicks"),
    min_session_length: int = typer.Option(2, help="drop sessions with fewer clicks"),
) -> None:
    """Yoochoose (RecSys Challenge 2015) with MultiTRON's preprocessing (times in UTC)."""
    _multitron(
        "yoochoose",
        clicks,
        buys,
        out,
        split_days=split_days,
        min_item_support=min_item_support,
        min_session_length=min_session_length,
    )


@app.command("diginetica")
def diginetica(
    views: Path = typer.Argument(..., help="train-item-views.csv", exists=True),
    purchases: Path | None = typer.Argument(
        None, help="train-purchases.csv (optional)", exists=True
    ),
    out: Path = typer.Option(..., "--out", help="data-set folder to write"),
    split_days: float = typer.Option(7.0, help="test period (first event decides)"),
    min_item_support: int = typer.Option(5, help="drop items with fewer clicks"),
    min_session_length: int = typer.Option(2, help="drop sessions with fewer clicks"),
) -> None:
    """Diginetica (CIKM Cup 2016) with MultiTRON's preprocessing (dates in UTC)."""
    _multitron(
        "diginetica",
        views,
        purchases,
        out,
        split_days=split_days,
        min_item_support=min_item_support,
        min_session_length=min_session_length,
    )


@app.command("otto-evaluate")
def otto_evaluate(
    labels: Path = typer.Argument(
        ..., help="test_labels.jsonl (OTTO's testset.py writes it)", exists=True, dir_okay=False
    ),
    submission: Path = typer.Argument(
        ..., help="submission CSV (session_type,labels)", exists=True, dir_okay=False
    ),
    k: int = typer.Option(20, help="cut-off: the first k predictions of each row count"),
    otto_compat: bool = typer.Option(
        False,
        "--otto-compat",
        help="reproduce evaluate.py exactly: drop a next click on item 0 from the click "
        "recall (the official script tests the label for truthiness)",
    ),
    json_path: Path | None = typer.Option(None, "--json", help="also write the scores here"),
) -> None:
    """OTTO's Kaggle score of a submission: weighted recall@k of clicks, carts and orders.

    Both files use raw OTTO ids. Sessions of the labels without a row in the submission
    count as misses; rows of sessions not in the labels are ignored.
    """
    from paretoalign.data.kaggle import kaggle_recall, read_submission, read_test_labels
    from paretoalign.io import write_json

    if k < 1:
        raise typer.BadParameter(f"--k must be a positive integer, got {k}")
    try:
        truth = read_test_labels(labels)
        clicks, carts, orders = read_submission(submission, truth.session_id, k=k)
    except ValueError as exc:
        _fail(str(exc))
    scores = kaggle_recall(truth, clicks, carts, orders, k=k, otto_compat=otto_compat)
    for name in ("clicks", "carts", "orders", "total"):
        typer.echo(f"{name:>6}: {scores[name]:.6f}")
    if json_path is not None:
        write_json(
            {"k": k, "otto_compat": otto_compat, "sessions": truth.n_sessions, **scores},
            json_path,
        )
