"""``paretoalign world simulate|calibrate``: the simulated shop's offline logs and calibration.

``simulate`` writes the data-set folder of a profile (default ``results/<profile>/data/``,
what ``paretoalign.data.config.dataset_dir`` returns for ``[data] source = "shop"``) plus
the shop's side tables; ``calibrate`` writes the simulated-vs-OTTO calibration table.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(
    help="The simulated shop: offline logs, ground truth, calibration against OTTO.",
    no_args_is_help=True,
)


def _build(profile: str):
    from paretoalign.config import load_profile
    from paretoalign.world import ShopConfig, World

    prof = load_profile(profile)
    cfg = prof.section("shop", ShopConfig)
    t0 = time.perf_counter()
    world = World.build(cfg)
    typer.echo(f"built the world of {prof.name!r} in {time.perf_counter() - t0:.1f} s "
               f"(u0={world.offsets.organic_utility:.3f}, c0={world.offsets.cart_offset:.3f}, "
               f"o0={world.offsets.order_offset:.3f})")  # fmt: skip
    return prof, world


@app.command("simulate")
def simulate(
    profile: str = typer.Option(..., "--profile", help="profile name (configs/<name>.toml)"),
    out: Path | None = typer.Option(
        None, "--out", help="folder to write (default: the profile's data folder)"
    ),
    otto_jsonl: bool = typer.Option(
        False, "--otto-jsonl", help="also write OTTO jsonl (otto-recsys-train/test.jsonl)"
    ),
) -> None:
    """Simulate the offline logs of the profile's [shop] world and write the data-set folder."""
    from paretoalign.data.config import dataset_dir
    from paretoalign.world import write_offline

    prof, world = _build(profile)
    target = out if out is not None else dataset_dir(prof)
    t0 = time.perf_counter()
    logs = write_offline(world, target, otto_jsonl=otto_jsonl)
    seconds = time.perf_counter() - t0
    for split in ("train", "test"):
        s = getattr(logs.dataset, split).stats()
        typer.echo(
            f"{split:>5}: {s['sessions']:>10,} sessions {s['events']:>12,} events "
            f"({s['clicks']:,} clicks, {s['carts']:,} carts, {s['orders']:,} orders)"
        )
    typer.echo(f"wrote {target} in {seconds:.1f} s")


@app.command("calibrate")
def calibrate(
    profile: str = typer.Option(..., "--profile", help="profile name (configs/<name>.toml)"),
    json_path: Path = typer.Option(..., "--json", help="calibration table to write (JSON)"),
    strict: bool = typer.Option(False, help="exit with status 1 when a check fails"),
) -> None:
    """Simulated vs OTTO statistics of the profile's train log, with tolerances."""
    from paretoalign.io import write_json
    from paretoalign.world import calibrate as run_calibration

    prof, world = _build(profile)
    t0 = time.perf_counter()
    doc = run_calibration(world)
    doc["profile"] = prof.name
    doc["simulate_seconds"] = round(time.perf_counter() - t0, 3)
    write_json(doc, json_path)
    typer.echo(f"{'check':<34} {'sim':>10} {'otto':>10} {'tol':>8}  ok")
    for row in doc["checks"]:
        otto = "" if row["otto"] is None else f"{row['otto']:.4g}"
        if row["tolerance"] is None:
            tol = ""
        elif row["rule"] == "rel":
            tol = f"±{100 * row['tolerance']:.0f}%"
        else:
            tol = f"±{row['tolerance']:.3g}"
        ok = {True: "yes", False: "NO", None: "-"}[row["ok"]]
        typer.echo(f"{row['name']:<34} {row['sim']:>10.4g} {otto:>10} {tol:>8}  {ok}")
    typer.echo(f"all checks pass: {doc['all_ok']} -> {json_path}")
    if strict and not doc["all_ok"]:
        raise typer.Exit(1)
