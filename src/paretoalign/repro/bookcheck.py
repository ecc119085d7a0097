"""Check a built HTML book in a real (headless) browser.

The built pages are served on ``127.0.0.1`` and loaded one by one in headless Chromium
(driven through :mod:`paretoalign.repro.cdp`). Each page must pass every check:

* **images** — every ``<img>`` finished loading with a non-zero natural size;
* **links** — every link into the book names an existing file, and its ``#fragment`` (if
  any) an existing ``id`` in that file;
* **math** — where a page has math (Sphinx's ``.math`` elements), MathJax typeset all of
  it (one ``mjx-container`` per element) without ``merror``;
* **no traceback** — no executed cell shows a Python traceback or error output;
* **offline** — the page requested nothing outside ``127.0.0.1`` and no local request
  failed (a missing font or script shows up here);
* **no script error** — no uncaught JavaScript exception.

A full-page screenshot of each page is saved as ``<screenshots>/<page path>.png``.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from paretoalign.repro.cdp import Chromium, Page

#: Collected in the page after load (and after MathJax's startup promise settled).
_INSPECT_JS = r"""
(() => {
  const imgs = [...document.images].map(i => ({
    src: i.currentSrc || i.src, complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const math = document.querySelectorAll('.math').length;
  const typeset = document.querySelectorAll('mjx-container').length;
  const merror = document.querySelectorAll('mjx-merror').length;
  const text = document.body ? document.body.innerText : '';
  const tracebackText = /Traceback \(most recent call last\)/.test(text);
  const errorOutputs = document.querySelectorAll(
    '.output.traceback, .output.error, .cell_output .traceback').length;
  return {title: document.title, images: imgs, links, math, typeset, merror,
          tracebackText, errorOutputs};
})()
"""

#: Waits for images (lazy ones are made eager) and for MathJax to finish typesetting.
_SETTLE_JS = r"""
(async () => {
  for (const img of document.images) { if (img.loading === 'lazy') img.loading = 'eager'; }
  await Promise.all([...document.images].filter(i => !i.complete).map(
    i => new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  return true;
})()
"""

_ID_RE = re.compile(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""")
_REFRESH_RE = re.compile(
    r"""<meta[^>]+http-equiv\s*=\s*["']refresh["'][^>]*content\s*=\s*["'][^"']*url=([^"'>\s]+)""",
    re.IGNORECASE,
)
#: Requests the browser makes on its own (not the page's content).
_BROWSER_OWN = ("/favicon.ico",)


@dataclass
class PageReport:
    """What the browser saw on one page, and which checks failed."""

    page: str
    title: str = ""
    images: int = 0
    links_checked: int = 0
    math_elements: int = 0
    math_typeset: int = 0
    screenshot: str = ""
    redirect: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class BookReport:
    """The result of :func:`check_book` (``ok`` only if every page passed)."""

    html_dir: str
    pages: list[PageReport]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pages)

    @property
    def problems(self) -> list[str]:
        return [f"{p.page}: {msg}" for p in self.pages for msg in p.problems]

    def to_json(self) -> dict[str, Any]:
        return {
            "html_dir": self.html_dir,
            "ok": self.ok,
            "pages": [{**asdict(p), "ok": p.ok} for p in self.pages],
        }


def book_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a built book, relative POSIX paths, sorted.

    Sphinx's own folders (``_static``, ``_sources``, ``_images``, ...; any folder starting
    with ``_``) hold assets, not pages, and are skipped.
    """
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if any(part.startswith("_") for part in rel.parts[:-1]):
            continue
        pages.append(rel.as_posix())
    if not pages:
        raise FileNotFoundError(f"{html_dir}: no HTML pages (build the book first)")
    return pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@functools.lru_cache(maxsize=256)
def _ids_of(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return frozenset(html.unescape(m) for m in _ID_RE.findall(text))


def _check_link(href: str, base: str, html_dir: Path) -> str | None:
    """``None`` if ``href`` is external or resolves inside the book; else the problem."""
    parts = urlsplit(href)
    if parts.scheme not in ("http", "https") or not href.startswith(base):
        return None
    rel = unquote(parts.path)[len(urlsplit(base).path) :]
    target = html_dir / rel
    if rel == "" or rel.endswith("/"):
        target = target / "index.html"
    if not target.is_file():
        return f"broken link {href} (no file {target.relative_to(html_dir)})"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in _ids_of(target):
        return f"broken link {href} (no id {fragment!r} in {target.relative_to(html_dir)})"
    return None


def _network_problems(events: list[dict[str, Any]], base: str) -> list[str]:
    problems = []
    urls: dict[str, str] = {}
    for event in events:
        params = event.get("params", {})
        method = event["method"]
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if urlsplit(url).path in _BROWSER_OWN:
                continue
            urls[params["requestId"]] = url
            if urlsplit(url).scheme in ("http", "https", "ws", "wss") and not url.startswith(base):
                problems.append(f"request outside the local server: {url}")
        elif method == "Network.responseReceived":
            status = params["response"].get("status", 0)
            if urlsplit(params["response"]["url"]).path in _BROWSER_OWN:
                continue
            if status >= 400:
                problems.append(f"HTTP {status} for {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            if params["requestId"] not in urls:
                continue  # a request we chose to ignore above
            url = urls[params["requestId"]]
            problems.append(f"failed to load {url}: {params.get('errorText')}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            problems.append(f"uncaught JavaScript exception: {text}")
    return problems


def check_page(
    page: Page, base: str, rel: str, html_dir: Path, screenshots: Path | None
) -> PageReport:
    """Load ``base + rel`` in ``page`` and run every check on it.

    A redirect stub (a page whose only job is a ``<meta http-equiv="refresh">``, such as
    the ``index.html`` jupyter-book writes) is not loaded: the browser would move on to
    its target while being inspected. Its target must exist; the target is checked as a
    page of its own.
    """
    report = PageReport(page=rel)
    refresh = _REFRESH_RE.search((html_dir / rel).read_text(encoding="utf-8", errors="replace"))
    if refresh:
        report.redirect = html.unescape(refresh.group(1))
        problem = _check_link(urljoin(base + rel, report.redirect), base, html_dir)
        if problem:
            report.problems.append(problem)
        report.links_checked = 1
        return report
    page.navigate(base + rel)
    page.evaluate(_SETTLE_JS, await_promise=True)
    seen = page.evaluate(_INSPECT_JS)
    report.title = seen["title"]
    report.images = len(seen["images"])
    for img in seen["images"]:
        if not img["complete"] or img["width"] == 0 or img["height"] == 0:
            report.problems.append(f"image did not load: {img['src']}")
    checked = set()
    for href in seen["links"]:
        if href in checked:
            continue
        checked.add(href)
        problem = _check_link(href, base, html_dir)
        if problem:
            report.problems.append(problem)
    report.links_checked = len(checked)
    report.math_elements, report.math_typeset = seen["math"], seen["typeset"]
    if seen["math"] and seen["typeset"] < seen["math"]:
        report.problems.append(
            f"math not typeset: {seen['typeset']} MathJax containers for {seen['math']} formulas"
        )
    if seen["merror"]:
        report.problems.append(f"{seen['merror']} formulas render as MathJax errors")
    if seen["tracebackText"] or seen["errorOutputs"]:
        report.problems.append("the page shows a Python traceback or error output")
    report.problems.extend(_network_problems(page.events(), base))
    if screenshots is not None:
        shot = screenshots / (rel[: -len(".html")] + ".png")
        page.screenshot(shot)
        report.screenshot = str(shot)
    return report


def check_book(
    html_dir: str | Path,
    screenshots: str | Path | None = None,
    *,
    chromium: str | None = None,
    timeout: float = 60.0,
    width: int = 1280,
    height: int = 900,
) -> BookReport:
    """Serve ``html_dir`` on 127.0.0.1, load every page in headless Chromium, check it.

    Parameters
    ----------
    html_dir : path
        The built HTML (``book/_build/html``).
    screenshots : path, optional
        Folder for one full-page PNG per page (mirrors the page paths).
    chromium : str, optional
        The browser executable (default: ``$CHROMIUM`` or ``chromium`` on ``PATH``).
    timeout : float
        Seconds allowed for any one browser step (load, typesetting, screenshot).

    Returns
    -------
    BookReport
        One :class:`PageReport` per page; ``report.ok`` is False if any check failed.
    """
    root = Path(html_dir).resolve()
    pages = book_pages(root)
    shots = Path(screenshots) if screenshots is not None else None
    reports = []
    with serve(root) as base, Chromium.launch(chromium, timeout=timeout) as browser:
        for rel in pages:
            # a fresh tab per page: no event of one page can be mistaken for the next's
            tab = browser.new_page(width, height)
            reports.append(check_page(tab, base, rel, root, shots))
            tab.close()
    return BookReport(html_dir=str(root), pages=reports)


def write_report(report: BookReport, path: str | Path) -> None:
    """Write the report as JSON (atomically)."""
    from paretoalign.io import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(report.to_json(), indent=2))
