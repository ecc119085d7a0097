"""A Sphinx extension for the book: drop duplicated inline ``<script>`` blocks.

With jupyter-book 1.0.4 on Sphinx 7.4, the inline configuration scripts of sphinx-thebe
(``const THEBE_JS_URL = ...``) and sphinx-togglebutton end up twice in every page, once
per priority at which they were registered. A repeated ``const`` declaration is a
JavaScript ``SyntaxError`` that the browser check (:mod:`paretoalign.repro.bookcheck`)
reports on every page. This extension keeps the first copy of each script that has the
same source file (or the same inline body) and the same attributes; nothing else changes.

Enable it in ``book/_config.yml``::

    sphinx:
      extra_extensions: [paretoalign.repro.sphinxext]
"""

from __future__ import annotations

from typing import Any


def script_key(script: Any) -> tuple:
    """Identity of a script for de-duplication: file name (or inline body) and attributes.

    ``script`` is a Sphinx ``_JavaScript`` asset (``filename``, ``priority``,
    ``attributes``) or a plain string file name; the priority is deliberately ignored, and
    an inline script's file name may be ``None`` or ``""`` (Sphinx uses both).
    """
    if isinstance(script, str):
        return (script,)
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", None) or ""
    return (str(filename), tuple(sorted(attributes.items())))


def unique_scripts(scripts: list[Any]) -> list[Any]:
    """``scripts`` without later repeats of the same :func:`script_key`, order kept."""
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = script_key(script)
        if key in seen:
            continue
        seen.add(key)
        kept.append(script)
    return kept


def _dedupe_page_scripts(
    app: Any, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        # in place: the list is the builder's own, to which later handlers (MathJax on
        # pages with math) still append
        scripts[:] = unique_scripts(scripts)


def setup(app: Any) -> dict[str, Any]:
    # early: `html-page-context` is emitted with emit_firstresult, so a handler after one
    # that returns a template name would never run
    app.connect("html-page-context", _dedupe_page_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
