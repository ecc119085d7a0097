"""The one place that knows where things live on disk."""

from __future__ import annotations

from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
#: The repository root for a source checkout (editable install); configs/ and results/ live here.
REPO_ROOT = PACKAGE_ROOT.parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
RESULTS_DIR = REPO_ROOT / "results"


def results_dir(profile: str, root: Path | None = None) -> Path:
    """``results/<profile>/``: everything one profile's run writes."""
    return (root or RESULTS_DIR) / profile
