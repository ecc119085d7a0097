"""A stand-in for the ``paretoalign`` command, for testing the Makefile's dependency chain.

Called exactly as the Makefile calls the real command (``world simulate --profile P``,
``train --profile P``, ``bench TASK --json FILE --quick``, ...), it writes the files the
Makefile expects under ``$FAKE_RESULTS`` (the profile's results folder) and appends the
step's name to ``$FAKE_LOG``, so a test can see which steps a ``make`` run executed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: step -> files it writes, relative to the profile's results folder
OUTPUTS = {
    "world simulate": ["data/train.parquet", "data/test.parquet", "data/stats.json"],
    "train": ["train/model.json", "train/summary.json"],
    "seeds": ["seeds/seeds.json"],
    "front": ["front.parquet", "groups.json"],
    "experiment": ["kpis.parquet", "experiment.json"],
    "align": ["alignment.parquet", "alignment_summary.json", "figures/headline.png"],
    "validate": ["validation.json"],
}


def main(argv: list[str]) -> int:
    results = Path(os.environ["FAKE_RESULTS"])
    if argv[:1] == ["bench"] or argv[:2] == ["world", "calibrate"]:
        step = " ".join(argv[:2])
        target = Path(argv[argv.index("--json") + 1])
        targets = [target]
    else:
        step = " ".join(argv[:2]) if argv[:1] == ["world"] else argv[0]
        targets = [results / rel for rel in OUTPUTS[step]]
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{step}\n")
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(step + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
