"""The online A/B experiment in the simulated shop and its statistics.

* :mod:`~paretoalign.online.assignment` — sticky salted-hash assignment of shoppers.
* :mod:`~paretoalign.online.stats` — delta-method ratio intervals (shopper = unit),
  comparisons with the control, the omnibus per-KPI test, the sample-ratio check.
* :mod:`~paretoalign.online.kpis` — KPIs per group and group × day from a shopper-day
  summary, uplift and omnibus tables.
* :mod:`~paretoalign.online.events` — the shop's event tables to the tidy event log and
  the shopper-day summary.
* :mod:`~paretoalign.online.experiment` — ``paretoalign experiment``: assignment, the
  batched serving loop, the analysis, the files.
"""

from paretoalign.online.assignment import assign_groups, hash_unit_interval, normalised_weights
from paretoalign.online.config import ExperimentConfig
from paretoalign.online.events import GroupLookup, event_log, shopper_day_summary
from paretoalign.online.experiment import analyse, run_experiment, simulate
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
    holm_adjust,
    omnibus_equality_test,
    ratio_estimate,
    sample_ratio_mismatch,
)

__all__ = [
    "KPIS",
    "SUMMARY_COLUMNS",
    "ExperimentConfig",
    "GroupLookup",
    "RatioEstimate",
    "SampleRatioCheck",
    "analyse",
    "assign_groups",
    "compare_to_control",
    "compute_kpis",
    "event_log",
    "hash_unit_interval",
    "holm_adjust",
    "normalised_weights",
    "omnibus_equality_test",
    "omnibus_table",
    "per_shopper",
    "ratio_estimate",
    "run_experiment",
    "sample_ratio_mismatch",
    "shopper_day_summary",
    "simulate",
    "uplift_table",
]
