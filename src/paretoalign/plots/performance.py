"""Figures and tables of the benchmarks (``paretoalign bench TASK --json FILE``)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: Implementation colours: ours, the physical limit, then the peers.
IMPL_COLOURS = {"paretoalign": "#0072B2", "limit": "0.25"}


def load_bench(folder: str | Path, tasks: Iterable[str] | None = None) -> dict[str, dict]:
    """Every ``<task>.json`` in ``folder`` (or the named tasks), keyed by task.

    Raises
    ------
    FileNotFoundError
        A named task has no file (the message names the expected path).
    ValueError
        A file is not in the benchmark schema (``task``, ``machine``, ``results``).
    """
    folder = Path(folder)
    paths = (
        [folder / f"{t}.json" for t in tasks]
        if tasks is not None
        else sorted(folder.glob("*.json"))
    )
    docs = {}
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no benchmark file {path} (run `paretoalign bench ...`)")
        doc = json.loads(path.read_text())
        missing = {"task", "machine", "results"} - set(doc)
        if missing:
            raise ValueError(f"{path}: not a benchmark file (missing {sorted(missing)})")
        docs[doc["task"]] = doc
    return docs


def bench_frame(doc: Mapping[str, Any]) -> pd.DataFrame:
    """One benchmark file as a table: a row per (case, impl) with the ratio to paretoalign.

    Columns ``task``, ``case``, ``impl``, ``median_s``, ``runs``, ``throughput``, ``unit``
    and ``speed vs paretoalign`` = throughput / paretoalign's throughput in the same case
    (> 1: faster than ours; for ``limit`` it is how far we are from the hardware bound).
    """
    rows = []
    for r in doc["results"]:
        rows.append(
            {
                "task": doc["task"],
                "case": r["case"],
                "impl": r["impl"],
                "median_s": float(r["median_s"]),
                "runs": len(r.get("runs_s", [])),
                "throughput": float(r["throughput"]),
                "unit": r["unit"],
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        raise ValueError(f"benchmark {doc.get('task')!r} has no results")
    ours = frame[frame["impl"] == "paretoalign"].set_index("case")["throughput"]
    frame["speed vs paretoalign"] = frame["throughput"] / frame["case"].map(ours)
    return frame


def speedups(frame: pd.DataFrame) -> pd.DataFrame:
    """Per case: paretoalign's speed-up over each peer and its share of the limit's throughput.

    Returns columns ``case``, ``impl`` (peers and ``limit``), ``ratio``: for a peer,
    ``paretoalign throughput / peer throughput`` (> 1: we are faster); for ``limit``,
    ``paretoalign throughput / limit throughput`` (1 = at the hardware bound). Variants of
    paretoalign itself (rows named ``paretoalign ...``, e.g. the top-k with session terms
    or the training step with the repeat bonus) are not peers and are left out.
    """
    others = frame[~frame["impl"].str.startswith("paretoalign")]
    ratio = 1.0 / others["speed vs paretoalign"]
    return others.assign(ratio=ratio)[["case", "impl", "ratio"]].reset_index(drop=True)


def bench_figure(frame: pd.DataFrame, title: str | None = None) -> Figure:
    """Horizontal bars per case: throughput of every implementation relative to paretoalign.

    The x axis is logarithmic; 1 (the dashed line) is paretoalign's own throughput.
    """
    import seaborn as sns

    frame = frame.assign(case=frame["case"].map(lambda c: textwrap.fill(str(c), 26)))
    cases = list(dict.fromkeys(frame["case"]))
    impls = list(dict.fromkeys(frame["impl"]))
    peers = [i for i in impls if i not in IMPL_COLOURS]
    palette = dict(IMPL_COLOURS)
    palette.update(zip(peers, sns.color_palette("Set2", len(peers)), strict=True))
    fig = Figure(figsize=(8.0, 0.36 * len(frame) + 0.5 * len(cases) + 1.4))
    ax = fig.add_subplot()
    sns.barplot(data=frame, y="case", x="speed vs paretoalign", hue="impl", order=cases,
                hue_order=impls, palette=palette, orient="h", ax=ax)  # fmt: skip
    ax.set_xscale("log")
    ax.axvline(1.0, color="0.3", ls="--", lw=0.9)
    ax.set_xlabel("throughput relative to paretoalign (log scale; > 1 is faster)")
    ax.set_ylabel("")
    unit = frame["unit"].iloc[0]
    ax.set_title(title or f"{frame['task'].iloc[0]}: throughput in {unit}, relative")
    ax.legend(title="implementation", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    lo = float(np.nanmin(frame["speed vs paretoalign"]))
    hi = float(np.nanmax(frame["speed vs paretoalign"]))
    ax.set_xlim(min(lo, 1.0) / 1.6, max(hi, 1.0) * 1.6)
    fig.tight_layout()
    return fig


def machine_line(doc: Mapping[str, Any]) -> str:
    """``"AMD EPYC ..., 2 cores, 2 threads; numpy 2.4.6, ..."`` from a benchmark file."""
    machine = doc["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items() if v)
    return (
        f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('threads', '?')} threads; {versions}"
    )


def summary_sentence(frame: pd.DataFrame) -> str:
    """One sentence on a benchmark: our speed-up over each peer and our share of the limit.

    Speed-ups are paretoalign's throughput over the peer's, given as the range over the
    cases (``"1.3–1.8×"``); the limit share is our throughput over the limit's.
    """
    ratios = speedups(frame)
    parts = []
    for impl, sub in ratios.groupby("impl", sort=False):
        lo, hi = float(sub["ratio"].min()), float(sub["ratio"].max())
        span = f"{lo:.2f}×" if np.isclose(lo, hi, rtol=0.005) else f"{lo:.2f}–{hi:.2f}×"
        if impl == "limit":
            share = f"{lo:.0%}" if np.isclose(lo, hi, rtol=0.005) else f"{lo:.0%}–{hi:.0%}"
            parts.append(f"reaches {share} of the limit's throughput")
        else:
            parts.append(f"runs at {span} the throughput of {impl}")
    n_cases = frame["case"].nunique()
    where = "In its one case" if n_cases == 1 else f"Over its {n_cases} cases"
    if not parts:
        return f"{where}, paretoalign was timed alone (no peer or limit in this file)."
    return (
        f"{where}, paretoalign "
        + ", ".join(parts[:-1])
        + (" and " if len(parts) > 1 else "")
        + parts[-1]
        + "."
    )
