"""Reading MyST notebooks and running them with papermill (atomic, parameterised)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from paretoalign.repro.notebooks import (
    NotebookError,
    execute_notebook,
    parameter_names,
    read_notebook,
)
from paretoalign.repro.sphinxext import script_key, unique_scripts

HEADER = """---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
# A tiny notebook
"""


def _cell(source: str, tags: str = "") -> str:
    opts = f":tags: [{tags}]\n" if tags else ""
    return f"\n```{{code-cell}} ipython3\n{opts}{source}\n```\n"


def _write(tmp_path: Path, body: str, name: str = "nb.md") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_read_notebook_finds_the_parameters_cell(tmp_path):
    path = _write(tmp_path, _cell('profile = "default"\nlimit: int = 3\nx, y = 1, 2', "parameters"))
    nb = read_notebook(path)
    assert parameter_names(nb) == ["profile", "limit"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_cell("a = 1"), r"exactly one cell tagged 'parameters' \(0\)"),
        (_cell("a = 1", "parameters") + _cell("b = 1", "parameters"), r"\(2\)"),
    ],
)
def test_read_notebook_needs_exactly_one_parameters_cell(tmp_path, body, message):
    with pytest.raises(NotebookError, match=message):
        read_notebook(_write(tmp_path, body))


def test_read_notebook_rejects_non_notebooks(tmp_path):
    plain = tmp_path / "page.md"
    plain.write_text("# just a page\n")
    with pytest.raises(NotebookError, match="no kernelspec"):
        read_notebook(plain)
    with pytest.raises(NotebookError, match=r"\.md \(MyST\) or \.ipynb"):
        read_notebook(tmp_path / "script.py")


def test_unknown_parameters_are_an_error(tmp_path):
    path = _write(tmp_path, _cell('profile = "default"', "parameters"))
    with pytest.raises(NotebookError, match=r"unknown parameters \['profle'\]"):
        execute_notebook(path, tmp_path / "out.ipynb", {"profle": "smoke"})


@pytest.mark.notebook
def test_execute_injects_parameters_and_writes_atomically(tmp_path):
    body = (
        _cell('profile = "default"', "parameters")
        + _cell("from pathlib import Path\nPath('cwd.txt').write_text(profile)\nprint(profile * 2)")
        + _cell("1 / (profile != 'broken')")
    )
    path = _write(tmp_path, body)
    out = execute_notebook(path, tmp_path / "out" / "nb.ipynb", {"profile": "smoke"})
    nb = nbformat.read(out, as_version=4)
    streams = [
        o["text"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    ]
    assert streams == ["smokesmoke\n"]
    assert (tmp_path / "cwd.txt").read_text() == "smoke"  # the kernel runs in the source folder
    assert nb.metadata.papermill["input_path"] == str(path)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "hide-cell" in injected[0].metadata.tags
    assert json.loads(out.read_text())["metadata"]["papermill"]["parameters"] == {
        "profile": "smoke"
    }

    with pytest.raises(NotebookError, match="ZeroDivisionError"):
        execute_notebook(path, tmp_path / "out" / "broken.ipynb", {"profile": "broken"})
    assert not (tmp_path / "out" / "broken.ipynb").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["nb.ipynb"]


class _Script:
    def __init__(self, filename, priority=500, **attributes):
        self.filename, self.priority, self.attributes = filename, priority, attributes


def test_unique_scripts_drops_repeated_inline_and_file_scripts():
    scripts = [
        _Script("a.js"),
        _Script(None, body="const X = 1"),
        _Script("", 200, body="const X = 1"),  # same inline body, other priority
        _Script("a.js", defer="defer"),  # same file, other attributes: kept
        _Script("a.js"),
        "b.js",
        "b.js",
    ]
    kept = unique_scripts(scripts)
    assert kept == [scripts[0], scripts[1], scripts[3], scripts[5]]
    assert script_key(scripts[1]) == script_key(scripts[2])
