"""`ExperimentConfig`: the ``[experiment]`` table of a profile (the online A/B test)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExperimentConfig"]


class ExperimentConfig(BaseModel):
    """Knobs of ``paretoalign experiment`` (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(14, ge=1, le=365)
    """D: days of traffic (new shoppers arrive over D days; their sessions run to the end)."""
    sessions_per_day: float | None = Field(None, gt=0.0)
    """Arriving shoppers per day (None: the shop's ``sessions_per_day``)."""
    seed: int = Field(0, ge=0)
    """Experiment seed: the arriving shoppers and their random streams (the world's seed
    stays that of ``[shop]``), and the logging arm's exploration slates."""
    salt: str = Field("paretoalign-experiment-1", min_length=1, max_length=64)
    """Salt of the sticky shopper -> group hash (a new salt re-randomises)."""
    exclude: Literal["none", "current", "history"] = "current"
    """Items never served by model arms: none, the current page's item, or the history."""
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    """Level of the KPI intervals and tests."""
    min_cell_shoppers: int = Field(100, ge=0)
    """Tests of a (KPI, day) cell count as reliable, and can be significant, only when every
    compared group has at least this many shoppers with a positive denominator (A/A runs:
    per-day false-positive rates 0.09 - 0.13 with 40 - 65 shoppers per group and day,
    0.06 - 0.08 with 90 - 360; see :mod:`paretoalign.online.kpis`)."""
    srm_alpha: float = Field(0.001, gt=0.0, lt=1.0)
    """Sample-ratio mismatch is flagged when the chi-square p-value is below this."""
    aa_arm: str | None = None
    """In A/A mode every group is served this arm (None: the first model group)."""
    open_sessions: int = Field(4096, ge=1)
    """Sessions served per step (the request batch of the serving loop)."""
    encode_batch: int = Field(256, ge=1)
    """Rows per transformer forward (bounds activation memory)."""
    record_expected: bool = True
    """Record the exact click / cart / order probabilities of every served slate and
    write the Rao-Blackwellised ``expected_kpis.parquet``."""
    impression_log_share: float = Field(0.05, ge=0.0, le=1.0)
    """Share of shoppers (by hash) whose item-level impressions go to
    ``impressions.parquet`` (one row per slate position)."""
    threads: int | None = Field(None, ge=1)
    """Threads of the transformer (torch), the shop's Numba kernels and the top-k kernel
    during serving (None: their defaults). 1 is the robust choice on a shared machine."""
