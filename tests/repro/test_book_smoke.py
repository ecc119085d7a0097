"""The book end to end at the smoke profile: pipeline, notebooks, Sphinx build, real browser.

``make notebooks PROFILE=smoke`` brings ``results/smoke/`` up to date (a no-op when it
already is; about three minutes from nothing) and executes the seven notebooks with
papermill. The book is then built from a copy of ``book/`` in a temporary folder — the
user's own ``book/_build`` is never touched — with ``jupyter-book build -W -n --keep-going``
(any warning fails), and every page is loaded in headless Chromium.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paretoalign.repro.bookcheck import check_book
from paretoalign.repro.cdp import find_chromium

REPO = Path(__file__).resolve().parents[2]
PROFILE = "smoke"
NOTEBOOKS = (
    "01_data",
    "02_training",
    "03_front",
    "04_experiment",
    "05_alignment",
    "06_validation",
    "07_performance",
)
MATHJAX = REPO / "book" / "_static_vendor" / "mathjax" / "tex-mml-chtml.js"
#: The console script of the environment running the tests (jupyter_book has no __main__).
JUPYTER_BOOK = str(Path(sys.executable).with_name("jupyter-book"))
#: Keys the landing page pastes from other pages (book/intro.md).
LANDING_KEYS = {
    "05_alignment": ("headline_fig", "n_groups", "n_days", "n_aligned", "n_pairs"),
    "06_validation": ("precision", "recall"),
}

pytestmark = pytest.mark.notebook


#: The benchmarks timed for the smoke book: the two that take seconds at --quick sizes
#: (chapter 7 shows every benchmark file present; `make reproduce` runs all six).
SMOKE_BENCH_TASKS = "data metrics"


def _make(*targets: str) -> None:
    """Run make in the repository without re-checking the environment it runs in."""
    cmd = ["make", "--no-print-directory", "-o", ".venv/.env-stamp", "-o", ".venv/.ext-stamp"]
    result = subprocess.run(
        [*cmd, *targets, f"PROFILE={PROFILE}", f"BENCH_TASKS={SMOKE_BENCH_TASKS}"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(
            f"make {' '.join(targets)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


@pytest.fixture(scope="module")
def executed() -> Path:
    """``results/smoke/notebooks/``, up to date with the pipeline's results."""
    _make("notebooks")
    return REPO / "results" / PROFILE / "notebooks"


@pytest.fixture(scope="module")
def built_book(executed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke book built in a temporary copy of ``book/``; returns its HTML folder."""
    if not MATHJAX.is_file():
        if shutil.which("npm") is None:
            pytest.skip("MathJax is not vendored and npm is missing (apt-get install -y npm)")
        _make(str(MATHJAX.relative_to(REPO)))
    root = tmp_path_factory.mktemp("book")
    book = root / "book"
    shutil.copytree(
        REPO / "book", book, ignore=shutil.ignore_patterns("_build", "notebooks", "conf.py")
    )
    (book / "notebooks").mkdir()
    for name in NOTEBOOKS:
        shutil.copy2(executed / f"{name}.ipynb", book / "notebooks")
    result = subprocess.run(
        [JUPYTER_BOOK, "build", "-W", "-n", "--keep-going", str(book)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"the book does not build cleanly:\n{result.stdout[-6000:]}\n{result.stderr}")
    return book / "_build" / "html"


def test_every_notebook_ran_without_errors(executed: Path):
    for name in NOTEBOOKS:
        nb = json.loads((executed / f"{name}.ipynb").read_text())
        assert nb["metadata"]["papermill"]["parameters"]["profile"] == PROFILE
        for cell in nb["cells"]:
            for output in cell.get("outputs", []):
                assert output["output_type"] != "error", f"{name}: {output.get('ename')}"


def test_landing_page_keys_are_glued(executed: Path):
    for name, keys in LANDING_KEYS.items():
        nb = json.loads((executed / f"{name}.ipynb").read_text())
        glued = {
            output["metadata"]["scrapbook"]["name"]
            for cell in nb["cells"]
            for output in cell.get("outputs", [])
            if "scrapbook" in output.get("metadata", {})
        }
        assert set(keys) <= glued, f"{name} does not glue {sorted(set(keys) - glued)}"


def test_book_pages_exist(built_book: Path):
    pages = {p.relative_to(built_book).as_posix() for p in built_book.rglob("*.html")}
    expected = {f"notebooks/{name}.html" for name in NOTEBOOKS}
    expected |= {"intro.html", "method.html", "real-data.html", "references.html"}
    assert expected <= pages


@pytest.mark.browser
@pytest.mark.skipif(
    find_chromium() is None,
    reason="headless Chromium not found (apt-get install -y chromium, or set $CHROMIUM)",
)
def test_smoke_book_in_a_real_browser(built_book: Path, tmp_path: Path):
    report = check_book(built_book, tmp_path / "screenshots")
    assert report.ok, "\n".join(report.problems)
    by_page = {p.page: p for p in report.pages}
    assert by_page["intro.html"].images >= 1  # the headline figure
    for name in NOTEBOOKS:
        assert by_page[f"notebooks/{name}.html"].images >= 1, name
    assert by_page["method.html"].math_typeset == by_page["method.html"].math_elements > 0
