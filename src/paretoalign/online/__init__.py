"""The online A/B experiment in the simulated shop and its statistics.

* :mod:`~paretoalign.online.assignment` — sticky salted-hash assignment of shoppers.
* :mod:`~paretoalign.online.stats` — delta-method ratio intervals (shopper = unit),
  comparisons with the control, the omnibus per-KPI test, the sample-ratio check.
* :mod:`~paretoalign.online.kpis` — KPIs per group and group × day from a shopper-day
  summary, uplift and omnibus tables.
"""

from paretoalign.online.assignment import assign_groups, hash_unit_interval, normalised_weights
from paretoalign.online.kpis import (
    KPIS,
    SUMMARY_COLUMNS,
    compute_kpis,
    omnibus_table,
    per_shopper,
    uplift_table,
)
from paretoalign.online.stats import (
    RatioEstimate,
    SampleRatioCheck,
    compare_to_control,
    omnibus_equality_test,
    ratio_estimate,
    sample_ratio_mismatch,
)

__all__ = [
    "KPIS",
    "SUMMARY_COLUMNS",
    "RatioEstimate",
    "SampleRatioCheck",
    "assign_groups",
    "compare_to_control",
    "compute_kpis",
    "hash_unit_interval",
    "normalised_weights",
    "omnibus_equality_test",
    "omnibus_table",
    "per_shopper",
    "ratio_estimate",
    "sample_ratio_mismatch",
    "uplift_table",
]
