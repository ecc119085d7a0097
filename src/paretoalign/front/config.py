"""`FrontConfig`: the ``[front]`` table of a profile (tracing the front, choosing groups)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from paretoalign.metrics.summary import DEFAULT_K

__all__ = ["FrontConfig"]

OffFrontArm = Literal["popularity", "covisitation", "popularity_penalised"]


class FrontConfig(BaseModel):
    """Knobs of ``paretoalign front`` (unknown keys are rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---------------------------------------------------------------- the grid
    grid: Literal["auto", "beta", "lattice", "explicit"] = Field(
        "auto", description="auto: Beta quantiles for 2 objectives, the lattice for 3+"
    )
    """Preference grid (:func:`paretoalign.front.grids.preference_grid`)."""
    points: int | None = Field(None, ge=1, le=200)
    """``n`` of the Beta grid (``n + 1`` points) or the lattice's divisions ``D``
    (``(D + 1)(D + 2) / 2`` points for three objectives). None: MultiTRON's 25 for the Beta
    grid, 5 (21 points) for the lattice."""
    beta: tuple[float, float] | None = None
    """Beta concentrations of the grid; None: the model's training ``beta`` (MultiTRON)."""
    explicit: list[list[float]] = Field(default_factory=list)
    """The points of ``grid = "explicit"``, one weight per objective each."""

    # ---------------------------------------------------------------- evaluation
    k: int = Field(DEFAULT_K, ge=1, le=1000)
    """Cut-off of the offline metrics (MultiTRON: 20)."""
    max_test_sessions: int | None = Field(None, ge=1)
    """Evaluate on a seeded random subset of this many test sessions (None: all)."""
    seed: int = Field(0, ge=0)
    """Seeds the test subset and the negatives of the loss evaluation."""
    loss_batch_size: int = Field(256, ge=1)
    """Sessions per batch of the loss evaluation (MultiTRON's batch size)."""
    threads: int | None = Field(None, ge=1)
    """Torch and Numba threads while tracing (None: their defaults; 1 is the robust choice
    on a shared machine, see :func:`paretoalign.front.inference.compute_threads`)."""

    # ---------------------------------------------------------------- the front
    hv_margin: float = Field(0.1, gt=0.0, le=10.0)
    """Reference point of the hypervolume: the nadir worsened by this share of each
    objective's range (:func:`paretoalign.front.pareto.reference_point`)."""

    # ---------------------------------------------------------------- the groups
    n_groups: int = Field(6, ge=1, le=64)
    """Model groups chosen on the front (the control and off-front arms come on top)."""
    group_metrics: list[str] = Field(
        default_factory=lambda: ["click_recall", "cart_recall", "order_recall", "order_density"]
    )
    """Metrics (without ``@k``) whose standardised space the groups are spread over."""
    candidates: Literal["all", "front"] = "all"
    """Candidate points: every grid point, or only the non-dominated ones."""
    min_click_recall_share: float = Field(0.0, ge=0.0, le=1.0)
    """Candidates keep at least this share of the best click recall of the grid (a shop
    would not deploy a point that has lost the clicks entirely)."""
    control: Literal["logging", "popularity", "covisitation", "none"] = "logging"
    """Control arm: the shop's logging policy (status quo) or a baseline."""
    off_front: list[OffFrontArm] = Field(default_factory=lambda: ["popularity_penalised"])
    """Arms off the front that break the collinearity of the front's metrics."""
    popularity_penalty: float | None = Field(None, gt=0.0, le=100.0)
    """A fixed ``α`` for the popularity-penalised arm, in standardised units (one SD of
    log-popularity costs ``α`` SDs of model score). None: calibrate ``α`` to
    ``popularity_drop`` (the effect of a fixed ``α`` is very non-linear and differs
    between models)."""
    popularity_drop: float = Field(0.3, gt=0.0, lt=1.0)
    """Calibration target of the penalised arm: its mean log-popularity@k falls by this
    share of the gap between the unpenalised point's value and the catalogue's mean."""
    calibration_sessions: int = Field(1000, ge=10)
    """Test sessions used to calibrate ``α`` (bisection)."""
    penalised_pi: list[float] | None = None
    """π of the popularity-penalised arm (None: the chosen group nearest the centre of
    the groups in metric space)."""

    def grid_points(self, n_objectives: int) -> int:
        """``points``, or its default for the grid the model's objectives get."""
        if self.points is not None:
            return self.points
        beta = self.grid == "beta" or (self.grid == "auto" and n_objectives == 2)
        return 25 if beta else 5

    @field_validator("group_metrics")
    @classmethod
    def _no_cutoff(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("group_metrics must name at least one metric")
        bad = [m for m in value if "@" in m]
        if bad:
            raise ValueError(f"give group_metrics without '@k' (it follows k): {bad}")
        return value

    @field_validator("off_front")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"off_front arms must be distinct, got {value}")
        return value
