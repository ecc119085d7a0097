"""Figures (seaborn on matplotlib) for the notebooks and the CLI; one module per topic.

* :mod:`~paretoalign.plots.align` — the alignment table, metric collinearity, power curves.
* :mod:`~paretoalign.plots.data` — the shop's logs against OTTO (calibration, session lengths).
* :mod:`~paretoalign.plots.training` — loss history, simplex-corner metrics, config vs MultiTRON.
* :mod:`~paretoalign.plots.front` — losses and metrics across the preference grid, chosen groups.
* :mod:`~paretoalign.plots.experiment` — KPIs per group and day with intervals, metric vs KPI.
* :mod:`~paretoalign.plots.performance` — benchmark tables and relative-throughput bars.
* :mod:`~paretoalign.plots.style` — the book's figure style.
"""
