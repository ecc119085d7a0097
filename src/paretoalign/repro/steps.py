"""Helpers that make ``make reproduce`` an incremental chain of file targets.

* :func:`write_sections` splits a profile into one JSON file per table and rewrites a
  file only when its table changed, so a Makefile rule that depends on
  ``results/<profile>/config/train.json`` reruns only when ``[train]`` changed, not when
  any other table of the same TOML file did.
* :func:`run_step` runs one pipeline command and records its wall-clock time in
  ``results/<profile>/timings.json``; :func:`timing_table` renders that log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    The technique of :class:`paretoalign.data.atomic_path`, without importing the data
    layer (pandas, pyarrow): this module runs once per pipeline step, and its start-up
    time is paid by every ``make`` step.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_sections(profile: str, out_dir: str | Path) -> list[str]:
    """Write ``<out_dir>/<section>.json`` for every profile section; return the changed ones.

    Each file holds the section's table as canonical JSON (sorted keys; ``{}`` for a
    table the profile leaves out, which means "all defaults"). A file whose content would
    not change is left untouched, so its modification time says when that table last
    changed.

    Raises
    ------
    paretoalign.config.ProfileError
        The profile does not exist or has unknown tables.
    """
    from paretoalign.config import SECTIONS, load_profile

    prof = load_profile(profile)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in SECTIONS:
        text = json.dumps(prof.tables.get(name, {}), sort_keys=True, indent=2) + "\n"
        path = out / f"{name}.json"
        if path.is_file() and path.read_text() == text:
            continue
        write_text_atomic(path, text)
        changed.append(name)
    return changed


def _read_log(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {"steps": {}}
    try:
        log = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); delete it to start a new log") from exc
    if not isinstance(log, dict) or not isinstance(log.get("steps"), dict):
        raise ValueError(f"{path}: expected an object with a 'steps' object")
    return log


def record_timing(log_path: str | Path, step: str, seconds: float, command: Sequence[str]) -> None:
    """Add (or replace) ``step``'s entry in the timing log, atomically."""
    path = Path(log_path)
    log = _read_log(path)
    log["steps"][step] = {
        "seconds": round(float(seconds), 3),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(command),
    }
    write_text_atomic(path, json.dumps(log, indent=2) + "\n")


def run_step(log_path: str | Path, step: str, command: Sequence[str]) -> int:
    """Run ``command`` (inheriting stdout/stderr); on success record its wall time.

    Returns the command's exit status; a failed step is not recorded, so the log only
    ever describes outputs that exist.
    """
    if not command:
        raise ValueError("no command given")
    print(f"[{step}] {' '.join(command)}", flush=True)
    start = time.perf_counter()
    status = subprocess.call(list(command))
    seconds = time.perf_counter() - start
    if status == 0:
        record_timing(log_path, step, seconds, command)
        print(f"[{step}] done in {seconds:.1f} s", flush=True)
    else:
        print(f"[{step}] FAILED (exit status {status}) after {seconds:.1f} s", file=sys.stderr)
    return status


def timing_table(log_path: str | Path) -> str:
    """The timing log as a fixed-width table: step, seconds, minutes, finished (UTC)."""
    log = _read_log(Path(log_path))
    rows = list(log["steps"].items())
    if not rows:
        return f"{log_path}: no steps recorded yet"
    width = max(len("step"), *(len(name) for name, _ in rows))
    lines = [f"{'step':<{width}}  {'seconds':>9}  {'minutes':>7}  finished (UTC)"]
    total = 0.0
    for name, entry in rows:
        total += entry["seconds"]
        lines.append(
            f"{name:<{width}}  {entry['seconds']:>9.1f}  {entry['seconds'] / 60:>7.2f}"
            f"  {entry['finished']}"
        )
    lines.append(f"{'total':<{width}}  {total:>9.1f}  {total / 60:>7.2f}")
    return "\n".join(lines)
