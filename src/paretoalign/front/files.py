"""The files ``paretoalign front`` writes into ``results/<profile>/``, and their loaders.

``front.parquet``
    One row per preference point: ``point``, ``pi_<objective>``, every offline metric
    (``click_recall@20``, ...), ``loss_<objective>``, ``loss_reg``, ``on_front`` and
    ``on_front_loss``.
``front.json``
    The grid, the evaluated sessions, the objective columns with their directions, the
    hypervolume of each space with its reference point and margin.
``groups.parquet`` / ``groups.json``
    The arms (:class:`paretoalign.front.groups.Arm`) as a table, and as records with the
    objectives, ``k`` and the reason for the choice. :func:`load_arms` (the experiment)
    and :func:`load_groups` (the alignment and the book) read them back.
``front.png``
    The front in metric space and in loss space (:mod:`paretoalign.front.figures`).

Every file is written atomically (:mod:`paretoalign.io`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from paretoalign.front.groups import Arm

__all__ = [
    "FRONT_JSON",
    "FRONT_PARQUET",
    "FRONT_PNG",
    "GROUPS_JSON",
    "GROUPS_PARQUET",
    "GROUP_NAME_COLUMNS",
    "front_paths",
    "load_arms",
    "load_groups",
]

FRONT_PARQUET = "front.parquet"
FRONT_JSON = "front.json"
GROUPS_PARQUET = "groups.parquet"
GROUPS_JSON = "groups.json"
FRONT_PNG = "front.png"
#: Columns that may hold a group's name in a groups table (first found wins).
GROUP_NAME_COLUMNS = ("group", "name")


def front_paths(results: Path) -> dict[str, Path]:
    """The front step's outputs in ``results``, keyed as in :class:`FrontOutputs.paths`."""
    return {
        "front": results / FRONT_PARQUET,
        "front_json": results / FRONT_JSON,
        "groups": results / GROUPS_PARQUET,
        "groups_json": results / GROUPS_JSON,
        "plot": results / FRONT_PNG,
    }


def _group_records(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """``groups.json``'s document (None for a bare list) and its group records."""
    doc = json.loads(path.read_text())
    records = doc["groups"] if isinstance(doc, dict) and "groups" in doc else doc
    if not isinstance(records, list):
        raise ValueError(f"{path}: expected a list of group records or {{'groups': [...]}}")
    return (doc if isinstance(doc, dict) else None), records


def load_arms(results: Path) -> tuple[list[Arm], tuple[str, ...]]:
    """The arms of ``groups.json`` (written by ``paretoalign front``) and the objectives.

    Raises FileNotFoundError when the file is missing and ValueError naming the file and
    the group for a record without every objective's π weight or with unknown fields.
    """
    path = results / GROUPS_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (run `paretoalign front` first)")
    doc, records = _group_records(path)
    if doc is None or "objectives" not in doc:
        raise ValueError(f"{path}: no 'objectives' (write it with `paretoalign front`)")
    objectives = tuple(doc["objectives"])
    arms = []
    for i, rec in enumerate(records):
        rec = dict(rec)
        pi = rec.get("pi")
        if isinstance(pi, dict):
            missing = [o for o in objectives if o not in pi]
            if missing:
                raise ValueError(f"{path}: group {i} lacks pi weights for {missing}")
            rec["pi"] = [pi[o] for o in objectives]
        try:
            arms.append(Arm.from_dict(rec))
        except TypeError as exc:
            raise ValueError(f"{path}: group {i} is malformed ({exc})") from exc
    if not arms:
        raise ValueError(f"{path}: no groups")
    return arms, objectives


def load_groups(results: Path) -> pd.DataFrame:
    """The test groups table from ``groups.parquet`` (preferred) or ``groups.json``.

    ``groups.json`` may be a list of records or ``{"groups": [records]}``; nested
    ``metrics`` dicts in a record are flattened into columns (``pi`` into ``pi_<name>``).
    The group name column (``group`` or ``name``) becomes the string index.

    Raises
    ------
    FileNotFoundError
        Neither file exists.
    ValueError
        The file has no group name column or duplicate names (message names the file).
    """
    parquet = results / GROUPS_PARQUET
    js = results / GROUPS_JSON
    if parquet.is_file():
        frame = pd.read_parquet(parquet)
        source = parquet
    elif js.is_file():
        _, records = _group_records(js)
        flat = []
        for rec in records:
            row = {k: v for k, v in rec.items() if not isinstance(v, dict)}
            for key, value in rec.items():
                if isinstance(value, dict):
                    row.update({f"{key}_{k}" if key == "pi" else k: v for k, v in value.items()})
            flat.append(row)
        frame = pd.DataFrame(flat)
        source = js
    else:
        raise FileNotFoundError(
            f"no groups table in {results} (expected {GROUPS_PARQUET} or {GROUPS_JSON}; "
            "run `paretoalign front` first)"
        )
    name_col = next((c for c in GROUP_NAME_COLUMNS if c in frame.columns), None)
    if name_col is None:
        raise ValueError(f"{source}: no group name column (one of {GROUP_NAME_COLUMNS})")
    names = frame[name_col].astype(str)
    if names.duplicated().any():
        raise ValueError(f"{source}: duplicate group names {sorted(names[names.duplicated()])}")
    return frame.set_index(names.rename(None))
