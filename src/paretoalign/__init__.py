"""paretoalign: find the offline metrics that predict online impact.

One preference-conditioned session recommender (MultiTRON) is trained once; points of
its Pareto front are served to several test groups of one online experiment (here in a
simulated shop with known ground truth); the alignment analysis then asks which offline
metrics move with which online KPIs.

Layers (each imports only the layers before it)::

    data, world  ->  model  ->  ranking + metrics  ->  front  ->  online  ->  align  ->  validate
"""

__version__ = "0.1.0"
