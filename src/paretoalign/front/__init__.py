"""Tracing the front of one preference-conditioned model and choosing test groups.

* :mod:`~paretoalign.front.grids` — preference grids on the simplex (MultiTRON's
  Beta-quantile grid, the uniform lattice, explicit lists).
* :mod:`~paretoalign.front.pareto` — dominance filter, hypervolume (moocore) and its
  reference point.
"""

from paretoalign.front.grids import (
    beta_quantile_grid,
    explicit_grid,
    preference_grid,
    simplex_lattice,
)
from paretoalign.front.pareto import (
    hypervolume,
    hypervolume_2d_reference,
    non_dominated,
    non_dominated_reference,
    reference_point,
)

__all__ = [
    "beta_quantile_grid",
    "explicit_grid",
    "hypervolume",
    "hypervolume_2d_reference",
    "non_dominated",
    "non_dominated_reference",
    "preference_grid",
    "reference_point",
    "simplex_lattice",
]
