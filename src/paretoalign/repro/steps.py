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
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paretoalign.io import write_text


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
        write_text(path, text)
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


def machine() -> dict[str, Any]:
    """The machine a step ran on: logical CPUs and the CPU's model name (Linux)."""
    info: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def record_timing(log_path: str | Path, step: str, seconds: float, command: Sequence[str]) -> None:
    """Add (or replace) ``step``'s entry in the timing log, atomically.

    The entry keeps the wall time, when the step finished, its command and the 1-minute
    load average at that moment (timings on a loaded machine are not comparable); the log
    also records the machine (:func:`machine`).
    """
    path = Path(log_path)
    log = _read_log(path)
    log["machine"] = machine()
    log["steps"][step] = {
        "seconds": round(float(seconds), 3),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(command),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    write_text(path, json.dumps(log, indent=2) + "\n")


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
