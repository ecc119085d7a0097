"""Model files and training checkpoints, written atomically and read without unpickling code.

A trained model is a folder (``results/<profile>/train/``)::

    model.safetensors   the state dict (safetensors: plain tensors, no code)
    model.json          {"format_version": 1, "spec": ModelSpec, ...extra}

A checkpoint (``checkpoint.pt``) is a ``torch.save`` of plain containers — tensors,
numbers, strings, lists and dicts — so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from paretoalign.io import atomic_path, write_json
from paretoalign.model.architecture import ModelSpec
from paretoalign.model.recommender import PreferenceRecommender

__all__ = [
    "CHECKPOINT_NAME",
    "MODEL_JSON",
    "MODEL_WEIGHTS",
    "load_checkpoint",
    "load_model",
    "model_metadata",
    "save_checkpoint",
    "save_model",
]

MODEL_WEIGHTS = "model.safetensors"
MODEL_JSON = "model.json"
CHECKPOINT_NAME = "checkpoint.pt"
_FORMAT_VERSION = 1


def save_model(
    model: PreferenceRecommender, directory: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``model.safetensors`` and ``model.json`` into ``directory`` (each atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / MODEL_WEIGHTS) as tmp:
        save_file(state, str(tmp))
    meta = {"format_version": _FORMAT_VERSION, "spec": model.spec.model_dump(), **(extra or {})}
    write_json(meta, directory / MODEL_JSON)
    return directory


def load_model(directory: str | Path, device: str | torch.device = "cpu") -> PreferenceRecommender:
    """Rebuild a model saved by :func:`save_model`, in eval mode on ``device``.

    Raises FileNotFoundError naming the missing file, ValueError for an unknown format.
    """
    directory = Path(directory)
    meta_path, weights_path = directory / MODEL_JSON, directory / MODEL_WEIGHTS
    for path in (meta_path, weights_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (train a model with `paretoalign train`)")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != _FORMAT_VERSION:
        raise ValueError(f"{meta_path}: unsupported format_version {meta.get('format_version')}")
    model = PreferenceRecommender.from_spec(ModelSpec.model_validate(meta["spec"]))
    model.load_state_dict(load_file(str(weights_path)))
    return model.to(device).eval()


def model_metadata(directory: str | Path) -> dict[str, Any]:
    """The content of ``model.json``."""
    return json.loads((Path(directory) / MODEL_JSON).read_text())


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """``torch.save`` ``state`` (plain containers and tensors only) atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` (no code is unpickled)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint to resume from")
    return torch.load(path, map_location=device, weights_only=True)
