"""Function size and signature width of the library (``src/``).

Counts every ``def`` in ``src/paretoalign`` with :mod:`ast`: its length in source lines
(decorators excluded, docstring included) and its number of parameters (positional,
keyword-only, ``*args`` and ``**kwargs`` each count one; ``self``/``cls`` do not).

Functions compiled by Numba (decorated with ``njit``/``jit``, or plain bodies compiled by a
call such as ``njit(...)(body)`` or the package's ``parallel_and_serial(body, name)``) are
reported apart: the house rule of at most 12 parameters applies outside the kernels only.

Usage::

    python tools/codestats.py                 # summary + every function over a limit
    python tools/codestats.py --max-lines 120 --max-params 12 --check   # exit 1 if over
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "paretoalign"
NUMBA_DECORATORS = {"njit", "jit", "vectorize", "guvectorize", "generated_jit"}
#: helpers that compile a plain body with Numba (one body, a parallel and a serial build)
NUMBA_COMPILERS = NUMBA_DECORATORS | {"parallel_and_serial"}


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _compiled_bodies(tree: ast.Module) -> set[str]:
    """Names of plain functions compiled later by ``njit(...)(name)`` or ``njit(name)``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        target = node.func
        if isinstance(target, ast.Call) and _decorator_name(target) in NUMBA_DECORATORS:
            names.update(a.id for a in node.args if isinstance(a, ast.Name))
        elif _decorator_name(target) in NUMBA_COMPILERS:
            names.update(a.id for a in node.args if isinstance(a, ast.Name))
    return names


def _n_params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    if names and names[0] in {"self", "cls"}:
        names = names[1:]
    return len(names) + (a.vararg is not None) + (a.kwarg is not None)


def collect(root: Path = ROOT) -> list[dict]:
    """One record per function: file, name, first line, lines, params, numba."""
    rows = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        compiled = _compiled_bodies(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            numba = node.name in compiled or any(
                _decorator_name(d) in NUMBA_DECORATORS for d in node.decorator_list
            )
            rows.append(
                {
                    "file": str(path.relative_to(root.parents[1])),
                    "name": node.name,
                    "line": node.lineno,
                    "lines": node.end_lineno - node.lineno + 1,
                    "params": _n_params(node),
                    "numba": numba,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-lines", type=int, default=120)
    parser.add_argument("--max-params", type=int, default=12)
    parser.add_argument("--check", action="store_true", help="exit 1 when a limit is broken")
    args = parser.parse_args(argv)
    rows = collect()
    long = [r for r in rows if r["lines"] > args.max_lines]
    wide = [r for r in rows if r["params"] > args.max_params and not r["numba"]]
    wide_kernels = [r for r in rows if r["params"] > args.max_params and r["numba"]]
    print(
        f"{len(rows)} functions in src/; longest {max(r['lines'] for r in rows)} lines; "
        f"{len(long)} over {args.max_lines} lines; {len(wide)} over {args.max_params} "
        f"parameters outside Numba kernels ({len(wide_kernels)} Numba kernels over)"
    )
    for title, group, key in (
        (f"over {args.max_lines} lines", long, "lines"),
        (f"over {args.max_params} parameters (not Numba)", wide, "params"),
        (f"Numba kernels over {args.max_params} parameters", wide_kernels, "params"),
    ):
        if group:
            print(f"-- {title}")
            for r in sorted(group, key=lambda r: -r[key]):
                print(f"   {r[key]:4d}  {r['file']}:{r['line']} {r['name']}")
    return 1 if args.check and (long or wide) else 0


if __name__ == "__main__":
    sys.exit(main())
