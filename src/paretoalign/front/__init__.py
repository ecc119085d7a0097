"""Tracing the front of one preference-conditioned model and choosing test groups.

* :mod:`~paretoalign.front.grids` — preference grids on the simplex (MultiTRON's
  Beta-quantile grid, the uniform lattice, explicit lists).
* :mod:`~paretoalign.front.pareto` — dominance filter, hypervolume (moocore) and its
  reference point.
* :mod:`~paretoalign.front.trace` — offline metrics and losses at every preference point.
* :mod:`~paretoalign.front.groups` — test groups spread evenly in offline-metric space,
  arms off the front, the collinearity report.
* :mod:`~paretoalign.front.policies` — the model at a fixed π as a recommender
  (:class:`ConditionedPolicy`), one batched server for many π (:class:`ModelServer`)
  and the online router (:class:`GroupRouter`).
* :mod:`~paretoalign.front.inference` — the last-position encoder used for serving.
* :mod:`~paretoalign.front.pipeline` — ``paretoalign front``: everything above, to files.
* :mod:`~paretoalign.front.files` — the names of those files and their loaders.
"""

from paretoalign.front.config import FrontConfig
from paretoalign.front.files import load_arms, load_groups
from paretoalign.front.grids import (
    beta_quantile_grid,
    explicit_grid,
    preference_grid,
    simplex_lattice,
)
from paretoalign.front.groups import (
    Arm,
    arms_table,
    choose_front_points,
    collinearity_report,
    max_min_dispersion,
)
from paretoalign.front.inference import compute_threads, last_position_states
from paretoalign.front.pareto import (
    hypervolume,
    hypervolume_2d_reference,
    non_dominated,
    non_dominated_reference,
    reference_point,
)
from paretoalign.front.policies import (
    ConditionedPolicy,
    GroupRouter,
    ModelServer,
    item_log_popularity,
    popularity_penalty_scale,
)
from paretoalign.front.trace import evaluate_losses, trace_front

__all__ = [
    "Arm",
    "ConditionedPolicy",
    "FrontConfig",
    "GroupRouter",
    "ModelServer",
    "arms_table",
    "beta_quantile_grid",
    "choose_front_points",
    "collinearity_report",
    "compute_threads",
    "evaluate_losses",
    "explicit_grid",
    "hypervolume",
    "hypervolume_2d_reference",
    "item_log_popularity",
    "last_position_states",
    "load_arms",
    "load_groups",
    "max_min_dispersion",
    "non_dominated",
    "non_dominated_reference",
    "popularity_penalty_scale",
    "preference_grid",
    "reference_point",
    "simplex_lattice",
    "trace_front",
]
