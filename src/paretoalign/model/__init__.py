"""The preference-conditioned session recommender (MultiTRON), its training and baselines.

Public API
----------
Architecture, ModelSpec
    The model's settings, declared once (``TrainConfig`` inherits ``Architecture``;
    ``ModelSpec`` = architecture + ``n_items`` + ``objectives``, saved in ``model.json``).
PreferenceRecommender(spec)
    ``encode(inputs LongTensor[B, L], pi Tensor[K] | Tensor[B, K]) -> Tensor[B, L, d]``,
    ``item_embeddings() -> Tensor[N + 1, d]`` (row 0 = padding; score = ``h @ E.T``),
    ``session_terms(inputs, states, pi)`` (the sparse repeat bonus added to that score,
    :mod:`paretoalign.model.repeat`; None without ``repeat_bonus``), ``objectives``,
    ``n_items``.
load_model(dir) / save_model(model, dir)
    The files ``paretoalign train`` writes under ``results/<profile>/train/``.
TrainConfig, SeedsConfig, from_multitron_json
    The ``[train]`` and ``[seeds]`` tables; MultiTRON's JSON configs.
train(cfg, log, out_dir, ...)
    The training loop (checkpoints, resume, DDP under torchrun, CUDA mixed precision).
PopularityRecommender, CovisitationRecommender
    Baselines with ``fit(log)`` and ``recommend(history int32[B, L], k) -> int32[B, k]``.
TransformerBackbone, GRUBackbone, PreferenceAdapter
    The building blocks.
"""

from paretoalign.model.architecture import Architecture, ModelSpec
from paretoalign.model.backbones import GRUBackbone, PreferenceAdapter, TransformerBackbone
from paretoalign.model.baselines import CovisitationRecommender, PopularityRecommender
from paretoalign.model.config import (
    MULTITRON_DEFAULTS,
    SeedsConfig,
    TrainConfig,
    from_multitron_json,
)
from paretoalign.model.io import load_checkpoint, load_model, model_metadata, save_model
from paretoalign.model.recommender import PreferenceRecommender
from paretoalign.model.training import TrainResult, train

__all__ = [
    "MULTITRON_DEFAULTS",
    "Architecture",
    "CovisitationRecommender",
    "GRUBackbone",
    "ModelSpec",
    "PopularityRecommender",
    "PreferenceAdapter",
    "PreferenceRecommender",
    "SeedsConfig",
    "TrainConfig",
    "TrainResult",
    "TransformerBackbone",
    "from_multitron_json",
    "load_checkpoint",
    "load_model",
    "model_metadata",
    "save_model",
    "train",
]
