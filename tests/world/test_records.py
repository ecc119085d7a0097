"""The shop's records, its serial / parallel kernel twins and its import layering."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from paretoalign.world import kernels as K
from paretoalign.world.records import Items, Shoppers

WORLD_DIR = Path(K.__file__).parent
TWINS = ("simulate_batch", "online_start", "online_step", "online_expected")


@pytest.mark.parametrize("name", TWINS)
def test_twins_are_distinct_compilations(name):
    """One body, two dispatchers: parallel and serial, each with its own cache entry."""
    parallel, serial = getattr(K, name), getattr(K, name + "_serial")
    assert parallel.targetoptions.get("parallel") is True
    assert not serial.targetoptions.get("parallel", False)
    # Numba names its cache files after the qualname: distinct names, distinct entries
    assert parallel.py_func.__qualname__ == name
    assert serial.py_func.__qualname__ == name + "_serial"
    assert parallel.py_func.__code__ is serial.py_func.__code__


def test_records_keep_the_positional_order(tiny_world):
    W = tiny_world.packed_items()
    S = tiny_world.packed_shoppers(tiny_world.offline_population())
    assert isinstance(W, Items) and isinstance(S, Shoppers)
    assert W[2] is W.click_base and W[5] is W.p_order and W[14] is W.organic_cat
    assert S[6] is S.budget and S[7] is S.seed


def _runtime_imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, at top level)`` of every import outside ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skip = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and getattr(block.test, "id", "") == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    top = {id(node) for node in tree.body}
    return [
        (node.module, id(node) in top)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and id(node) not in skip
    ]


@pytest.mark.parametrize("module", ["calibration", "offline", "records", "kernels", "online"])
def test_no_runtime_import_of_the_world_module(module):
    """``world.world`` imports these modules, so they must not import it back."""
    imports = _runtime_imports(WORLD_DIR / f"{module}.py")
    assert ("paretoalign.world.world", True) not in imports
    assert ("paretoalign.world.world", False) not in imports


def test_records_is_a_leaf():
    assert not [m for m, _ in _runtime_imports(WORLD_DIR / "records.py") if "paretoalign" in m]
