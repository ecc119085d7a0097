"""Offline x online alignment: which offline metrics predict which online KPI, how sure we are.

* :mod:`~paretoalign.align.correlation` — Pearson/Spearman over the G test groups, exact
  (G <= 8) or seeded Monte-Carlo permutation p-values, Fisher-z intervals; batched over
  replicate experiments.
* :mod:`~paretoalign.align.repeated` — day-level analyses: ``pingouin.rm_corr`` (labelled
  *within-experiment consistency*) and a crossed mixed model (statsmodels).
* :mod:`~paretoalign.align.collinearity` — the offline metrics' correlation matrix across
  groups, variance inflation factors, effective dimension.
* :mod:`~paretoalign.align.analysis` — the alignment table, Holm/BH across the whole table,
  the decision rule (:func:`discover`).
* :mod:`~paretoalign.align.pipeline` — ``paretoalign align`` (read the experiment's tables,
  write ``alignment.parquet``) and ``paretoalign validate`` (write ``validation.json``).
* :mod:`~paretoalign.align.power` — analytic (``pingouin.power_corr``) and simulated power,
  the batched decision rule, scores of signed discoveries against a truth.

The strategy check against the shop's ground truth:

* :mod:`~paretoalign.align.oracle` — arm panels (many arms served to one base population
  with common random numbers), oracle KPIs, the true alignment set (|Spearman| >= 0.8).
* :mod:`~paretoalign.align.fastsim` — replicate experiments by Poisson-bootstrapping
  shoppers from a panel, and their check against real experiments.
* :mod:`~paretoalign.align.strategy` — designs (G, days, traffic), scores, A/A and placebo
  controls, the noise-free ceiling, the choice of the design.
* :mod:`~paretoalign.align.validate` — the whole check on a set of world panels.
* :mod:`~paretoalign.align.worlds` — building, training and serving the validation worlds
  with the project's own pipeline.
"""

from paretoalign.align.analysis import (
    AlignConfig,
    Discovery,
    adjust,
    adjust_rows,
    alignment_table,
    decide,
    discover,
)
from paretoalign.align.collinearity import (
    effective_dimension,
    metric_correlations,
    variance_inflation,
)
from paretoalign.align.correlation import (
    PermutationResult,
    correlation_matrix,
    fisher_ci,
    min_exact_pvalue,
    permutation_test,
    permutation_test_batch,
)
from paretoalign.align.repeated import MixedResult, RmCorrResult, mixed_slope, rm_corr

__all__ = [
    "AlignConfig",
    "Discovery",
    "MixedResult",
    "PermutationResult",
    "RmCorrResult",
    "adjust",
    "adjust_rows",
    "alignment_table",
    "correlation_matrix",
    "decide",
    "discover",
    "effective_dimension",
    "fisher_ci",
    "metric_correlations",
    "min_exact_pvalue",
    "mixed_slope",
    "permutation_test",
    "permutation_test_batch",
    "rm_corr",
    "variance_inflation",
]
