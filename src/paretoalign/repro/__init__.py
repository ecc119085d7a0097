"""Reproduction tooling: the pieces behind ``make reproduce``, ``make book`` and ``make book-check``.

* :mod:`paretoalign.repro.steps` — profile tables as per-step stamp files, timed steps;
* :mod:`paretoalign.repro.notebooks` — run the MyST notebooks headless with papermill;
* :mod:`paretoalign.repro.cdp` — a tiny Chrome DevTools client over a pipe;
* :mod:`paretoalign.repro.bookcheck` — load every page of the built book in headless
  Chromium and check images, links, math, tracebacks; save screenshots.

Run ``python -m paretoalign.repro --help`` for the command line the Makefile uses. This
package sits beside the study's layers and imports none of them.
"""
