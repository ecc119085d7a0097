"""Ranking: exact top-k items per query by inner product.

``topk(queries, items, k, *, exclude=None, threads=None) -> (scores, ids)`` is the one
entry point (C++ kernel: tiled OpenBLAS sgemm + vectorised selection, OpenMP, GIL
released). Item 0 is padding and never returned; ties go to the lower id; optional CSR
exclusion lists remove already-seen items. ``topk_numpy`` is the readable reference the
kernel is tested against.

Stability: ``topk`` and ``topk_numpy`` are public and stable.
"""

from paretoalign.ranking._topk import topk
from paretoalign.ranking.reference import topk_numpy

__all__ = ["topk", "topk_numpy"]
