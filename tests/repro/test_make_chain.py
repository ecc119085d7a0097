"""``make results`` is a chain of real file targets: reruns do nothing, edits rerun dependents.

The pipeline commands are replaced by :mod:`fake_pipeline` (``CLI=...``), which writes the
files each step is expected to write; everything else — the profile-table stamps, the
timing wrapper, the rules and their dependencies — is the Makefile's own. Source files are
passed as ``-o`` (old) so that edits other people make to the library while the test runs
cannot trigger reruns.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_pipeline.py")
PROFILE_TEXT = """
[data]
source = "shop"

[shop]
seed = 0

[align]
alpha = 0.05
"""
ALL_STEPS = [
    "world simulate",
    "world calibrate",
    "train",
    "seeds",
    "front",
    "experiment",
    "align",
    "validate",
    "bench data",
]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make not found")


class Chain:
    """``make results`` for a throw-away profile whose results live in a temporary folder."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "results"
        self.config = tmp / "chaintest.toml"
        self.config.write_text(PROFILE_TEXT)
        self.log = tmp / "steps.log"
        sources = [*REPO.glob("src/paretoalign/**/*.py"), *REPO.glob("fastmetrics/**/*.*pp")]
        self.frozen = [a for p in sources for a in ("-o", str(p.relative_to(REPO)))]

    def run(self) -> list[str]:
        """The steps one ``make results`` executed, in order."""
        self.log.write_text("")
        env = {
            **os.environ,
            "FAKE_RESULTS": str(self.root / "chaintest"),
            "FAKE_LOG": str(self.log),
        }
        cmd = [
            "make", "--no-print-directory", "-o", ".venv/.env-stamp", "-o", ".venv/.ext-stamp",
            *self.frozen, "results", "PROFILE=chaintest", f"CONFIG={self.config}",
            f"RESULTS_ROOT={self.root}", f"CLI={sys.executable} {FAKE}", "BENCH_TASKS=data",
        ]  # fmt: skip
        result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return self.log.read_text().split("\n")[:-1]

    def edit(self, old: str, new: str) -> None:
        self.config.write_text(self.config.read_text().replace(old, new))


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return Chain(tmp_path_factory.mktemp("chain"))


def test_first_run_executes_every_step_once_in_order(chain):
    first = chain.run()
    assert sorted(first) == sorted(ALL_STEPS)
    order = ["world simulate", "train", "seeds", "front", "experiment", "align", "validate"]
    assert [step for step in first if step in order] == order
    timings = (chain.root / "chaintest" / "timings.json").read_text()
    assert '"validate"' in timings and '"bench:data"' in timings


def test_a_rerun_after_no_change_does_nothing(chain):
    assert chain.run() == []


def test_editing_one_table_reruns_only_the_steps_that_read_it(chain):
    chain.edit("alpha = 0.05", "alpha = 0.01")
    assert chain.run() == ["align", "validate"]


def test_a_change_outside_every_table_reruns_nothing(chain):
    chain.edit("[align]", "# a comment\n[align]")
    assert chain.run() == []


def test_a_shared_table_reruns_every_step_that_reads_it(chain):
    chain.edit("seed = 0", "seed = 1")  # [shop]: the logs, the experiment, the validation
    assert sorted(chain.run()) == sorted(set(ALL_STEPS) - {"bench data"})


def test_a_step_interrupted_after_its_first_file_is_rerun(chain):
    (chain.root / "chaintest" / "experiment.json").unlink()  # second file of a two-file step
    assert chain.run() == ["experiment", "align", "validate"]
