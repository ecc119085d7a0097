"""Experiment profiles: one TOML file per profile in ``configs/``.

A profile has one table per pipeline step. Each layer owns the pydantic model of its
table (``extra="forbid"``, so a misspelt key is an error, not a silent default) and
validates it with :meth:`Profile.section`. Unknown top-level tables are rejected here.

Example::

    profile = load_profile("smoke")
    shop = profile.section("shop", ShopConfig)   # a validated ShopConfig
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from paretoalign.paths import CONFIG_DIR, results_dir

#: Top-level tables a profile may have, one per pipeline step.
SECTIONS: tuple[str, ...] = (
    "data",
    "shop",
    "train",
    "seeds",
    "front",
    "experiment",
    "align",
    "validate",
    "bench",
)

M = TypeVar("M", bound=BaseModel)


class ProfileError(ValueError):
    """A profile file is missing, malformed or has invalid values."""


@dataclass(frozen=True)
class Profile:
    """A parsed profile: its name, source file and raw tables."""

    name: str
    path: Path
    tables: dict[str, Any] = field(default_factory=dict)
    results_root: Path | None = None

    @property
    def results(self) -> Path:
        """``results/<profile>/`` (created on demand by the steps that write there)."""
        return results_dir(self.name, self.results_root)

    def section(self, name: str, model: type[M]) -> M:
        """Validate table ``name`` with ``model``; a missing table gives the defaults."""
        if name not in SECTIONS:
            raise ProfileError(f"unknown section {name!r}; known: {', '.join(SECTIONS)}")
        try:
            return model.model_validate(self.tables.get(name, {}))
        except ValidationError as exc:
            raise ProfileError(f"{self.path}: [{name}] {exc}") from exc


def load_profile(name_or_path: str | Path, *, results_root: Path | None = None) -> Profile:
    """Load ``configs/<name>.toml`` (or a path to a ``.toml`` file)."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml":
        path = candidate
        name = candidate.stem
    else:
        name = str(name_or_path)
        path = CONFIG_DIR / f"{name}.toml"
    if not path.is_file():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.toml"))
        raise ProfileError(f"no profile {name!r} at {path}; known profiles: {known}")
    try:
        tables = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    unknown = set(tables) - set(SECTIONS)
    if unknown:
        raise ProfileError(f"{path}: unknown tables {sorted(unknown)}; known: {list(SECTIONS)}")
    return Profile(name=name, path=path, tables=tables, results_root=results_root)
