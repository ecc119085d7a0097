"""The ``paretoalign`` command: one subcommand per pipeline step.

Each step's commands live in their own module here (``cli/data.py``, ``cli/world.py``,
...), which defines either a ``typer.Typer`` named ``app`` (a command group) or a function
named ``command`` (a single command); ``STEPS`` registers them. Heavy imports (torch,
numba) happen inside the commands, so ``paretoalign --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

#: subcommand name -> module defining it, in pipeline order.
STEPS: dict[str, str] = {
    "data": "paretoalign.cli.data",
    "world": "paretoalign.cli.world",
    "align": "paretoalign.cli.align",
    "validate": "paretoalign.cli.validate",
    "bench": "paretoalign.cli.bench",
    "train": "paretoalign.cli.train",
    "seeds": "paretoalign.cli.seeds",
    "front": "paretoalign.cli.front",
    "experiment": "paretoalign.cli.experiment",
}

app = typer.Typer(
    name="paretoalign",
    help="Identify offline metrics that predict online impact (Wilm & Normann, RecSys 2025).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name, _module in STEPS.items():
    _mod = importlib.import_module(_module)
    if hasattr(_mod, "app"):
        app.add_typer(_mod.app, name=_name)
    else:
        app.command(_name)(_mod.command)


def main() -> None:
    """Entry point of the console script."""
    app()
