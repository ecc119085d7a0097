"""Run the book's MyST-markdown notebooks headless with papermill.

The notebooks in ``notebooks/`` are MyST markdown (reviewable diffs). Each has one code
cell tagged ``parameters`` (at least ``profile``); :func:`execute_notebook` reads the
markdown into a notebook, lets papermill inject the parameters and run every cell in a
fresh kernel, and writes the executed ``.ipynb`` atomically: a notebook that fails
leaves no output file behind (so ``make`` never mistakes a half-run notebook for an
up-to-date one) and raises with the failing cell's traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from paretoalign.io import atomic_path


class NotebookError(RuntimeError):
    """A notebook is malformed or one of its cells raised."""


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a ``.md`` (MyST markdown notebook) or ``.ipynb`` file into a notebook.

    Raises
    ------
    NotebookError
        The file has no ``kernelspec`` (not a notebook) or no cell tagged ``parameters``.
    """
    path = Path(path)
    if path.suffix == ".ipynb":
        nb = nbformat.read(path, as_version=4)
    elif path.suffix == ".md":
        from myst_nb.core.read import read_myst_markdown_notebook

        nb = read_myst_markdown_notebook(path.read_text(encoding="utf-8"), path=path)
    else:
        raise NotebookError(f"{path}: expected a .md (MyST) or .ipynb notebook")
    if "kernelspec" not in nb.metadata:
        raise NotebookError(f"{path}: no kernelspec in the front matter (not a notebook)")
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise NotebookError(f"{path}: needs exactly one cell tagged 'parameters' ({len(tagged)})")
    return nb


def parameter_names(nb: nbformat.NotebookNode) -> list[str]:
    """Names assigned at the top level of the ``parameters`` cell (``name = value`` lines)."""
    import ast

    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    tree = ast.parse(cell.source)
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        names.extend(t.id for t in targets if isinstance(t, ast.Name))
    return names


def execute_notebook(
    source: str | Path,
    output: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    cwd: str | Path | None = None,
    timeout: float = 1200.0,
) -> Path:
    """Execute ``source`` with ``parameters`` and write the executed notebook to ``output``.

    Parameters
    ----------
    source : path
        A MyST markdown (``.md``) or ``.ipynb`` notebook with one ``parameters`` cell.
    output : path
        The executed ``.ipynb`` (written only if every cell ran without error).
    parameters : dict, optional
        Values injected after the ``parameters`` cell. A name the cell does not define is
        an error (it would silently do nothing).
    cwd : path, optional
        Working directory of the kernel (default: the source's folder).
    timeout : float
        Seconds allowed per cell.

    Raises
    ------
    NotebookError
        Unknown parameter names, or a cell raised (the message carries the traceback).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = Path(source)
    nb = read_notebook(source)
    parameters = dict(parameters or {})
    unknown = sorted(set(parameters) - set(parameter_names(nb)))
    if unknown:
        raise NotebookError(f"{source}: unknown parameters {unknown}")
    output = Path(output)
    try:
        executed = papermill.execute_notebook(
            nb,
            None,  # nothing is written until every cell has run
            parameters=parameters,
            cwd=str(cwd or source.parent),
            kernel_name=nb.metadata.kernelspec.get("name", "python3"),
            language="python",
            progress_bar=False,
            request_save_on_cell_execute=False,
            execution_timeout=timeout,
            # quiet kernel: its transport and shutdown notices are not the notebook's output
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except PapermillExecutionError as exc:
        raise NotebookError(
            f"{source}: cell {exc.exec_count} raised {exc.ename}: {exc.evalue}\n"
            + "\n".join(exc.traceback)
        ) from exc
    # the parameters papermill injected stay visible in the book, folded like the cell above
    for cell in executed.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
    # papermill records its input; ours was an in-memory notebook, so name the file instead
    executed.metadata.papermill["input_path"] = str(source)
    executed.metadata.papermill["output_path"] = str(output)
    with atomic_path(output) as tmp:
        nbformat.write(executed, tmp)
        tmp.chmod(0o644)
    return output
