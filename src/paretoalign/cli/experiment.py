"""``paretoalign experiment --profile P [--aa]``: the online A/B (or A/A) test in the shop.

Reads ``results/<P>/groups.json`` (from ``paretoalign front``), the trained model and the
profile's shop; writes the event log, KPIs with delta-method intervals, uplift, omnibus
and sample-ratio tables (see :mod:`paretoalign.online.experiment`).
"""

from __future__ import annotations

import typer


def command(
    profile: str = typer.Option("smoke", "--profile", "-p", help="profile name or .toml path"),
    aa: bool = typer.Option(False, "--aa", help="A/A: every group gets the same arm (-> aa/)"),
    progress: bool = typer.Option(True, help="print progress of the serving loop"),
) -> None:
    """Assign shoppers by salted hash, serve D days of traffic from the one model (each group
    its own π), and compute the KPIs per group and group × day."""
    from paretoalign.config import load_profile
    from paretoalign.online.experiment import run_experiment

    outputs = run_experiment(load_profile(profile), aa=aa, progress=progress)
    doc = outputs.summary
    typer.echo(
        f"{doc['page_views']:,} page views in {doc['timing_s']['serving_loop']:.1f} s "
        f"({doc['page_views_per_s']:,.0f}/s); total {doc['timing_s']['total']:.1f} s"
    )
    srm = outputs.srm
    typer.echo(
        f"sample-ratio check: p = {srm['assigned']['p_value']:.3g} (assigned), "
        f"{srm['active']['p_value']:.3g} (active); flagged = {srm['flagged']}"
    )
    for key, path in outputs.paths.items():
        typer.echo(f"{key}: {path}")
