"""``paretoalign bench TASK --json FILE``: run one benchmark task (or ``all``)."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer

from paretoalign.bench import TASKS


def command(
    task: str = typer.Argument(..., help=f"one of: all, {', '.join(TASKS)}"),
    json_path: Path | None = typer.Option(None, "--json", help="benchmark JSON to write"),
    out: Path = typer.Option(Path("results/bench"), help="folder for `all` (one JSON per task)"),
    quick: bool = typer.Option(False, help="small sizes, for a quick check (not for reporting)"),
) -> None:
    """Time paretoalign against its peers and the hardware limit (medians of >= 3 runs)."""
    names = list(TASKS) if task == "all" else [task]
    for name in names:
        if name not in TASKS:
            raise typer.BadParameter(f"unknown task {name!r}; known: all, {', '.join(TASKS)}")
        target = json_path if (json_path and task != "all") else out / f"{name}.json"
        module = importlib.import_module(TASKS[name])
        doc = module.run(Path(target), quick=quick)
        typer.echo(f"{name}: {len(doc['results'])} rows -> {target}")
