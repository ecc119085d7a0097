"""``python -m paretoalign.repro``: the Makefile's helpers for `make reproduce` and the book.

Subcommands::

    sections   --profile P --out DIR            one JSON per profile table (rewritten on change)
    run        --log FILE --step NAME -- CMD..  run a pipeline command, record its wall time
    timings    FILE                             print the timing log
    execute    SOURCE OUTPUT [-p NAME VALUE]..  run a notebook with papermill (atomic output)
    check      HTML_DIR [--screenshots DIR]     the browser check of a built book
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_sections(args: argparse.Namespace) -> int:
    from paretoalign.repro.steps import write_sections

    changed = write_sections(args.profile, args.out)
    if changed:
        print(f"profile {args.profile}: changed tables {', '.join(changed)}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from paretoalign.repro.steps import run_step

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return run_step(args.log, args.step, command)


def _cmd_timings(args: argparse.Namespace) -> int:
    from paretoalign.repro.steps import timing_table

    print(timing_table(args.log))
    return 0


def _cmd_execute(args: argparse.Namespace) -> int:
    from paretoalign.repro.notebooks import NotebookError, execute_notebook

    try:
        execute_notebook(args.source, args.output, dict(args.parameter), timeout=args.timeout)
    except NotebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.source} -> {args.output}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from paretoalign.repro.bookcheck import check_book, write_report
    from paretoalign.repro.cdp import BrowserError

    try:
        report = check_book(args.html_dir, args.screenshots, chromium=args.chromium)
    except (BrowserError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.report:
        write_report(report, args.report)
    for page in report.pages:
        status = "ok  " if page.ok else "FAIL"
        print(
            f"{status} {page.page:<40} images {page.images:>3}  links {page.links_checked:>4}"
            f"  math {page.math_typeset}/{page.math_elements}"
        )
    for problem in report.problems:
        print(f"  - {problem}")
    where = f"; screenshots in {args.screenshots}" if args.screenshots else ""
    print(f"{len(report.pages)} pages, {len(report.problems)} problems{where}")
    return 0 if report.ok else 1


def _cmd_docs(args: argparse.Namespace) -> int:
    from paretoalign.repro.docs import update_docs

    try:
        changed = update_docs(
            args.results, args.readme, args.figure, profile=args.profile, commit=args.commit
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("updated: " + (", ".join(map(str, changed)) if changed else "nothing (up to date)"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paretoalign.repro", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("sections", help="write one JSON file per profile table")
    p.add_argument("--profile", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_cmd_sections)

    p = sub.add_parser("run", help="run a pipeline step and record its wall time")
    p.add_argument("--log", type=Path, required=True)
    p.add_argument("--step", required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("timings", help="print a timing log")
    p.add_argument("log", type=Path)
    p.set_defaults(func=_cmd_timings)

    p = sub.add_parser("docs", help="README timing table and docs/headline.png from a run")
    p.add_argument("--results", type=Path, required=True, help="results/<profile>/")
    p.add_argument("--profile", required=True)
    p.add_argument("--commit", required=True)
    p.add_argument("--readme", type=Path, default=Path("README.md"))
    p.add_argument("--figure", type=Path, default=Path("docs/headline.png"))
    p.set_defaults(func=_cmd_docs)

    p = sub.add_parser("execute", help="execute a notebook with papermill")
    p.add_argument("source", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument(
        "-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE")
    )
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds per cell")
    p.set_defaults(func=_cmd_execute)

    p = sub.add_parser("check", help="check a built book in headless Chromium")
    p.add_argument("html_dir", type=Path)
    p.add_argument("--screenshots", type=Path)
    p.add_argument("--report", type=Path, help="write the per-page report as JSON")
    p.add_argument("--chromium", help="browser executable (default: $CHROMIUM or chromium)")
    p.set_defaults(func=_cmd_check)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
