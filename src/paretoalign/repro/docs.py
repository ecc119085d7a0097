"""The README's computed parts: the headline figure and the timing table of a real run.

``make docs`` (after ``make reproduce``) calls :func:`update_docs`: it copies
``results/<profile>/figures/headline.png`` (written by ``paretoalign align``) to
``docs/headline.png`` and rewrites the block of ``README.md`` between the markers
:data:`BEGIN` and :data:`END` from ``results/<profile>/timings.json``, naming the commit
and the machine the times come from. Nothing between the markers is written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paretoalign.io import atomic_path, write_text

__all__ = ["BEGIN", "END", "timing_markdown", "update_docs"]

BEGIN = "<!-- timings: written by `make docs` from results/<profile>/timings.json -->"
END = "<!-- end of timings -->"


def timing_markdown(log: dict[str, Any], *, profile: str, commit: str) -> str:
    """The timing log ``log`` (``{"steps": {name: {"seconds", "finished", ...}}, "machine":
    {...}}``) as a Markdown table with the total and a line saying where it comes from."""
    steps = log.get("steps") or {}
    if not steps:
        raise ValueError("the timing log has no steps (run `make reproduce` first)")
    lines = ["| step | seconds | load (1 min) |", "| --- | ---: | ---: |"]
    total = 0.0
    for name, entry in steps.items():
        total += float(entry["seconds"])
        load = entry.get("load_average_1m")
        load_text = "" if load is None else f"{load:.2f}"
        lines.append(f"| {name} | {float(entry['seconds']):.1f} | {load_text} |")
    lines.append(f"| **all steps** | **{total:.0f}** ({total / 60:.1f} min) | |")
    finished = max(entry["finished"] for entry in steps.values())
    machine = log.get("machine") or {}
    where = (
        f"{machine['cpus']} logical CPUs ({machine.get('cpu', 'unknown CPU')})"
        if "cpus" in machine
        else "an unrecorded machine"
    )
    lines += [
        "",
        f"Profile `{profile}`, last step finished {finished} on {where}; written by "
        f"`make docs` at commit `{commit}`. The load column is the 1-minute load average "
        "when each step ended.",
    ]
    return "\n".join(lines)


def update_docs(
    results: Path, readme: Path, figure: Path, *, profile: str, commit: str
) -> list[Path]:
    """Rewrite ``readme``'s timing block and copy the headline figure; return what changed.

    Raises FileNotFoundError naming a missing input and ValueError when ``readme`` lacks
    the markers (or has them out of order).
    """
    timings = results / "timings.json"
    headline = results / "figures" / "headline.png"
    for path in (timings, headline, readme):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing (run `make reproduce` first)")
    text = readme.read_text()
    begin, end = text.find(BEGIN), text.find(END)
    if begin < 0 or end < begin:
        raise ValueError(f"{readme}: no '{BEGIN}' ... '{END}' block")
    block = timing_markdown(json.loads(timings.read_text()), profile=profile, commit=commit)
    new = text[: begin + len(BEGIN)] + "\n" + block + "\n" + text[end:]
    changed = []
    if new != text:
        write_text(readme, new)
        changed.append(readme)
    image = headline.read_bytes()
    if not figure.is_file() or figure.read_bytes() != image:
        with atomic_path(figure) as tmp:
            tmp.write_bytes(image)
        changed.append(figure)
    return changed
