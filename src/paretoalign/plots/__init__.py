"""Figures (seaborn on matplotlib) for the notebooks and the CLI; one module per topic.

* :mod:`~paretoalign.plots.align` — the alignment table, metric collinearity, power curves.
"""
