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
* :mod:`~paretoalign.align.pipeline` — ``paretoalign align``: read the experiment's tables
  (the shop's, or your own), write ``alignment.parquet``.
* :mod:`~paretoalign.align.inputs` — your own experiment's groups and KPI files (CSV or
  parquet): their schemas and checks; :mod:`~paretoalign.align.examples` — a small
  synthetic example of them.
* :mod:`~paretoalign.align.power` — analytic (``pingouin.power_corr``) and simulated power,
  the batched decision rule, scores of signed discoveries against a truth.

Pure statistics: the check of the strategy against the shop's ground truth, which reruns
the pipeline in several worlds, is the package :mod:`paretoalign.validate`.
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
