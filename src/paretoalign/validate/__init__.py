"""Does the strategy find the shop's ground truth? The harness behind ``paretoalign validate``.

It reruns the project's own pipeline in several simulated worlds and scores the alignment
strategy of :mod:`paretoalign.align` against each world's known truth:

* :mod:`~paretoalign.validate.oracle` — arm panels (many arms served to one base population
  with common random numbers), oracle KPIs, the true alignment set (|Spearman| >= 0.8).
* :mod:`~paretoalign.validate.fastsim` — replicate experiments by Poisson-bootstrapping
  shoppers from a panel, and their check against real experiments.
* :mod:`~paretoalign.validate.strategy` — designs (G, days, traffic), scores, A/A and placebo
  controls, the noise-free ceiling, the choice of the design.
* :mod:`~paretoalign.validate.check` — the whole check on a set of world panels
  (:class:`ValidateConfig`, the ``[validate]`` table).
* :mod:`~paretoalign.validate.worlds` — building, training and serving the validation worlds
  with the project's own pipeline.
* :mod:`~paretoalign.validate.pipeline` — ``paretoalign validate``: everything above, to
  ``validation.json``.

Layering: this package sits above :mod:`paretoalign.align` (whose statistics it scores)
and the online experiment (whose serving loop it reuses).
"""

from paretoalign.validate.check import ValidateConfig, run_validation

__all__ = ["ValidateConfig", "run_validation"]
