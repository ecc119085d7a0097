"""The browser check on small hand-written sites: what passes, and each way to fail."""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import pytest

from paretoalign.repro.bookcheck import book_pages, check_book
from paretoalign.repro.cdp import BrowserError, Chromium, find_chromium

REPO = Path(__file__).resolve().parents[2]
MATHJAX = REPO / "book" / "_static_vendor" / "mathjax"

_skip_without_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="headless Chromium not found (apt-get install -y chromium, or set $CHROMIUM)",
)


def needs_chromium(test):
    """Mark ``test`` as a browser test, skipped (saying why) where Chromium is missing."""
    return pytest.mark.browser(_skip_without_chromium(test))


def _png(width: int, height: int) -> bytes:
    """A valid RGB PNG of the given size (white)."""
    raw = b"".join(b"\x00" + b"\xff" * 3 * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _page(title: str, body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"
    )


def _site(root: Path) -> Path:
    """Two pages linking each other (with a fragment), an image, a redirect stub."""
    (root / "_images").mkdir(parents=True)
    (root / "_images" / "fig.png").write_bytes(_png(40, 30))
    (root / "sub").mkdir()
    (root / "index.html").write_text(
        '<html><head><meta http-equiv="refresh" content="0; url=a.html" /></head></html>'
    )
    (root / "a.html").write_text(
        _page(
            "A",
            '<h1 id="top">A</h1><img src="_images/fig.png"><a href="sub/b.html#part">b</a>'
            '<a href="https://example.org/">external, not followed</a>',
        )
    )
    (root / "sub" / "b.html").write_text(
        _page("B", '<h2 id="part">Part</h2><a href="../a.html#top">back</a><a href="#">self</a>')
    )
    return root


def test_book_pages_skips_asset_folders(tmp_path):
    site = _site(tmp_path / "html")
    (site / "_static").mkdir()
    (site / "_static" / "x.html").write_text("asset")
    assert book_pages(site) == ["a.html", "index.html", "sub/b.html"]
    with pytest.raises(FileNotFoundError, match="no HTML pages"):
        book_pages(tmp_path / "empty")


@needs_chromium
def test_a_good_site_passes_and_gets_screenshots(tmp_path):
    site = _site(tmp_path / "html")
    report = check_book(site, tmp_path / "shots")
    assert report.ok, report.problems
    by_page = {p.page: p for p in report.pages}
    assert by_page["index.html"].redirect == "a.html"
    assert by_page["a.html"].images == 1
    assert by_page["a.html"].title == "A"
    assert (tmp_path / "shots" / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "shots" / "sub" / "b.png").is_file()
    assert not (tmp_path / "shots" / "index.png").exists()


@needs_chromium
def test_every_kind_of_problem_is_reported(tmp_path):
    site = _site(tmp_path / "html")
    (site / "_images" / "fig.png").unlink()  # missing image
    (site / "sub" / "b.html").write_text(
        _page(
            "B",
            '<a href="../missing.html">gone</a><a href="../a.html#nowhere">bad anchor</a>'
            '<div class="cell_output"><pre>Traceback (most recent call last):\n  boom</pre></div>'
            '<span class="math notranslate">\\(x^2\\)</span>',
            head="<script>const X = 1;</script><script>const X = 2;</script>",
        )
    )
    (site / "c.html").write_text(_page("C", '<img src="data:image/png;base64,AAAA">'))
    (site / "index.html").write_text(
        '<html><head><meta http-equiv="refresh" content="0; url=nothere.html" /></head></html>'
    )
    report = check_book(site, None)
    assert not report.ok
    problems = "\n".join(report.problems)
    assert "a.html: image did not load: " in problems
    assert "no file missing.html" in problems
    assert "no id 'nowhere' in a.html" in problems
    assert "sub/b.html: the page shows a Python traceback" in problems
    assert "sub/b.html: math not typeset: 0 MathJax containers for 1 formulas" in problems
    assert "uncaught JavaScript exception: SyntaxError" in problems
    assert "c.html: image did not load: data:image/png" in problems
    assert "index.html: broken link" in problems
    assert "HTTP 404 for http://127.0.0.1" in problems  # the missing image's request


@needs_chromium
def test_requests_outside_the_local_server_are_reported(tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    (site / "a.html").write_text(
        # another loopback address: "outside" for the check, refused at once everywhere
        _page("A", "ok", head='<link rel="stylesheet" href="http://127.0.0.2:9/cdn.css">')
    )
    report = check_book(site, None, timeout=30)
    assert "request outside the local server: http://127.0.0.2:9/cdn.css" in "\n".join(
        report.problems
    )


@needs_chromium
@pytest.mark.skipif(
    not (MATHJAX / "tex-mml-chtml.js").is_file(),
    reason="MathJax not vendored yet (make book/_static_vendor/mathjax/tex-mml-chtml.js)",
)
def test_vendored_mathjax_typesets_offline(tmp_path):
    site = tmp_path / "html"
    shutil.copytree(MATHJAX, site / "_static" / "mathjax")
    (site / "m.html").write_text(
        _page(
            "M",
            '<p><span class="math notranslate nohighlight">\\(\\sum_k \\pi_k L_k\\)</span></p>'
            '<div class="math notranslate nohighlight">\\[\\frac{a}{b}\\]</div>',
            head='<script defer src="_static/mathjax/tex-mml-chtml.js"></script>',
        )
    )
    report = check_book(site, tmp_path / "shots")
    assert report.ok, report.problems
    assert (report.pages[0].math_elements, report.pages[0].math_typeset) == (2, 2)


@needs_chromium
def test_devtools_client_round_trip():
    with Chromium.launch() as browser:
        page = browser.new_page(320, 200)
        page.navigate("data:text/html,<p>hi</p>")
        assert page.evaluate("document.body.innerText") == "hi"
        assert page.evaluate("Promise.resolve(6 * 7)", await_promise=True) == 42
        with pytest.raises(BrowserError, match="JavaScript error"):
            page.evaluate("undefinedName + 1")
        with pytest.raises(BrowserError, match=r"Target\.closeTarget"):
            browser.send("Target.closeTarget", {"targetId": "no-such-target"})
        page.close()


def test_missing_browser_is_a_clear_error(tmp_path):
    with pytest.raises(BrowserError, match="not found"):
        Chromium.launch(tmp_path / "no-chromium")
