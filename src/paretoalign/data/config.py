"""The ``[data]`` table of a profile: where the session data set of a run lives.

Two sources:

* ``source = "shop"`` (default): the simulated shop writes the data set with
  ``paretoalign world simulate --profile P`` to ``results/<profile>/data/``;
* ``source = "folder"``: a data-set folder written by ``paretoalign data otto|yoochoose|
  diginetica ... --out DIR`` (``train.parquet``, ``test.parquet``, ``stats.json``; see
  :mod:`paretoalign.data.dataset`). Relative paths are taken from the repository root.

Example (``configs/otto.toml``)::

    [data]
    source = "folder"
    folder = "results/otto-data"
    max_len = 50
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paretoalign.config import Profile
from paretoalign.paths import REPO_ROOT


class DataConfig(BaseModel):
    """Validated ``[data]`` table (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["shop", "folder"] = Field(
        "shop",
        description='"shop": the simulated shop\'s logs in results/<profile>/data/; '
        '"folder": a data-set folder written by `paretoalign data ...`.',
    )
    folder: Path | None = Field(
        None,
        description='The data-set folder when source = "folder" (relative paths are '
        "resolved against the repository root); must be unset for the shop.",
    )
    max_len: int = Field(
        50,
        ge=1,
        description="L, the number of most recent clicks a model sees (MultiTRON's "
        "max_session_length); sequences keep the last L + 1 clicks.",
    )

    @model_validator(mode="after")
    def _folder_matches_source(self) -> DataConfig:
        if self.source == "folder" and self.folder is None:
            raise ValueError('source = "folder" needs folder = "<path to the data set>"')
        if self.source == "shop" and self.folder is not None:
            raise ValueError(
                'folder is only used with source = "folder" (the shop writes to '
                "results/<profile>/data/)"
            )
        return self


def dataset_dir(profile: Profile) -> Path:
    """The data-set folder of ``profile``.

    Returns ``profile.results / "data"`` for the shop, else the configured folder
    (absolute, relative paths resolved against the repository root). The folder need not
    exist yet: the step that writes it creates it.
    """
    cfg = profile.section("data", DataConfig)
    if cfg.source == "shop":
        return profile.results / "data"
    if cfg.folder is None:  # excluded by DataConfig's validator; kept for type narrowing
        raise ValueError('source = "folder" needs folder')
    folder = cfg.folder.expanduser()
    return folder if folder.is_absolute() else REPO_ROOT / folder
