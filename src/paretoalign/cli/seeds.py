"""``paretoalign seeds --profile P``: the profile's model once more for each extra seed.

For every seed of the profile's ``[seeds] train`` (:class:`paretoalign.model.SeedsConfig`)
this trains the ``[train]`` model with that seed instead of ``[train] seed`` into
``results/<profile>/seeds/<seed>/`` and writes its ``summary.json`` there, exactly as
``paretoalign train --seed <seed> --out results/<profile>/seeds/<seed>`` would. Then it
writes ``results/<profile>/seeds/seeds.json``: the seeds, in order, and the path of each
summary (the profile's own seed first, from ``results/<profile>/train/``). The training
chapter reads that file and states its claims for every seed.
"""

from __future__ import annotations

import typer


def command(
    profile: str = typer.Option("smoke", "--profile", "-p", help="profile name or .toml path"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Train and summarise the profile's model once for each seed of its seeds table."""
    from paretoalign.cli.train import train_and_summarise
    from paretoalign.config import load_profile
    from paretoalign.io import write_json
    from paretoalign.model import SeedsConfig, TrainConfig

    prof = load_profile(profile)
    seeds = prof.section("seeds", SeedsConfig).train
    own = prof.section("train", TrainConfig).seed
    if own in seeds:
        raise typer.BadParameter(f"[seeds] train lists the profile's own [train] seed {own}")
    folder = prof.results / "seeds"
    summaries = {own: prof.results / "train" / "summary.json"}
    for seed in seeds:
        typer.echo(f"seed {seed}:")
        train_and_summarise(prof, seed=seed, out=folder / str(seed), progress=progress)
        summaries[seed] = folder / str(seed) / "summary.json"
    missing = [str(path) for path in summaries.values() if not path.is_file()]
    if missing:
        raise typer.BadParameter(f"no summary.json in {', '.join(missing)} (run paretoalign train)")
    write_json(
        {"seeds": list(summaries), "summaries": {str(s): str(p) for s, p in summaries.items()}},
        folder / "seeds.json",
    )
