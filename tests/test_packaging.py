"""The environment files agree, the extension is built, the CLI starts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = re.split(r"==", line)
            pins[name.strip().lower()] = version.strip()
    return pins


def _environment_pins() -> dict[str, str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for line in pip_block:
        name, version = line.split("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def test_environment_yml_matches_constraints():
    assert _environment_pins() == _constraints()


def test_torch_is_pinned_to_the_cpu_build():
    assert _constraints()["torch"] == "2.13.0"


def test_every_dependency_is_pinned():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        names += extra
    pinned = _constraints()
    for spec in names:
        name = re.split(r"[<>=!~\[ ]", spec, maxsplit=1)[0].lower()
        assert name in pinned, f"{name} is a dependency but has no pin in constraints.txt"


def test_extension_is_built():
    from paretoalign import _fastmetrics

    assert hasattr(_fastmetrics, "check_session_log")


def test_cli_help_runs():
    out = subprocess.run(
        [sys.executable, "-m", "paretoalign", "--help"], capture_output=True, text=True, check=True
    )
    assert "bench" in out.stdout
