"""A minimal Chrome DevTools Protocol client over a pipe (standard library only).

Chromium started with ``--remote-debugging-pipe`` reads protocol messages from file
descriptor 3 and writes its answers to descriptor 4; each message is one JSON object
followed by a NUL byte. This module starts headless Chromium with those two descriptors
wired to pipes and offers a synchronous ``send`` / ``wait_event`` API, which is all the
browser check needs: no WebDriver, no websocket library, no browser download.

Example::

    with Chromium.launch() as browser:
        page = browser.new_page()
        page.navigate("http://127.0.0.1:8000/index.html")
        title = page.evaluate("document.title")
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

#: Executable names tried, in order, when none is given (Debian: ``chromium``).
CHROMIUM_NAMES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)

#: Flags for a quiet, offline-friendly headless browser (root in a container needs
#: ``--no-sandbox``; ``--disable-dev-shm-usage`` avoids the small /dev/shm of containers).
HEADLESS_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


#: Resolves after two animation frames: the layout of a resized viewport has settled.
_TWO_FRAMES_JS = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


class BrowserError(RuntimeError):
    """Chromium is missing, died, timed out or answered a command with an error."""


def find_chromium(explicit: str | os.PathLike | None = None) -> Path | None:
    """The Chromium executable: ``explicit``, ``$CHROMIUM``, or the first name on ``PATH``.

    Returns ``None`` when none is found (callers decide whether that is an error or a skip).
    """
    candidates = [explicit, os.environ.get("CHROMIUM")]
    for candidate in candidates:
        if candidate:
            found = shutil.which(str(candidate))
            if found is None:
                raise BrowserError(f"Chromium executable {candidate!s} not found")
            return Path(found)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


class Chromium:
    """A headless Chromium process driven over ``--remote-debugging-pipe``.

    Parameters
    ----------
    process : subprocess.Popen
        The running browser.
    to_browser, from_browser : int
        Our ends of the two pipes (we write commands to ``to_browser``).
    timeout : float
        Seconds to wait for any single answer or event before raising ``BrowserError``.
    """

    def __init__(
        self,
        process: subprocess.Popen,
        to_browser: int,
        from_browser: int,
        profile_dir: tempfile.TemporaryDirectory,
        timeout: float,
    ) -> None:
        self.process = process
        self._to = to_browser
        self._from = from_browser
        self._profile_dir = profile_dir
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._messages: deque[dict[str, Any]] = deque()
        self._events: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def launch(
        cls,
        executable: str | os.PathLike | None = None,
        *,
        timeout: float = 60.0,
        extra_flags: tuple[str, ...] = (),
    ) -> Chromium:
        """Start headless Chromium with its DevTools pipe on descriptors 3 and 4."""
        exe = find_chromium(executable)
        if exe is None:
            raise BrowserError(
                "no Chromium found (tried $CHROMIUM and "
                + ", ".join(CHROMIUM_NAMES)
                + "); on Debian/Ubuntu: apt-get install -y chromium"
            )
        profile_dir = tempfile.TemporaryDirectory(prefix="paretoalign-chromium-")
        browser_reads, we_write = os.pipe()
        we_read, browser_writes = os.pipe()
        # Park the browser's ends above 9 so that moving them onto 3 and 4 in the child can
        # never overwrite one with the other.
        parked_read = fcntl.fcntl(browser_reads, fcntl.F_DUPFD_CLOEXEC, 10)
        parked_write = fcntl.fcntl(browser_writes, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (browser_reads, browser_writes):
            os.close(fd)

        def wire_pipe() -> None:  # runs in the child between fork and exec
            os.dup2(parked_read, 3)  # dup2'd descriptors are inherited by exec
            os.dup2(parked_write, 4)

        args = [str(exe), *HEADLESS_FLAGS, f"--user-data-dir={profile_dir.name}", *extra_flags]
        try:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=False,  # 3 and 4 must survive; Python's own fds are close-on-exec
                preexec_fn=wire_pipe,  # only dup2 calls: safe between fork and exec
            )
        except OSError as exc:
            for fd in (parked_read, parked_write, we_write, we_read):
                os.close(fd)
            profile_dir.cleanup()
            raise BrowserError(f"cannot start {exe}: {exc}") from exc
        os.close(parked_read)
        os.close(parked_write)
        browser = cls(process, we_write, we_read, profile_dir, timeout)
        try:
            browser.send("Browser.getVersion")
        except BaseException:
            browser.close()
            raise
        return browser

    def close(self) -> None:
        """Ask the browser to exit, then make sure it has; idempotent."""
        if self.process.poll() is None:
            try:
                self._write({"id": self._new_id(), "method": "Browser.close"})
            except OSError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        self._to = self._from = -1
        self._profile_dir.cleanup()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ protocol
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _write(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\0"
        view = memoryview(data)
        while view:
            written = os.write(self._to, view)
            view = view[written:]

    def _read_one(self, deadline: float) -> dict[str, Any]:
        """The next message from the browser, waiting at most until ``deadline``."""
        while not self._messages:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer from Chromium within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._from], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                code = self.process.poll()
                raise BrowserError(f"Chromium closed its DevTools pipe (exit code {code})")
            self._buffer += chunk
            *complete, self._buffer = self._buffer.split(b"\0")
            self._messages.extend(json.loads(part) for part in complete if part)
        return self._messages.popleft()

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its ``result``; events that arrive meanwhile are kept."""
        message: dict[str, Any] = {"id": self._new_id(), "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._write(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._read_one(deadline)
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message', answer)}")
                return answer.get("result", {})
            if "method" in answer:
                self._events.append(answer)

    def wait_event(
        self, method: str, session: str | None = None, timeout: float | None = None
    ) -> dict[str, Any]:
        """Wait for (and consume) the first event ``method`` of ``session``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, event in enumerate(self._events):
                if event["method"] == method and event.get("sessionId") == session:
                    del self._events[i]
                    return event.get("params", {})
            message = self._read_one(deadline)
            if "method" in message:
                self._events.append(message)

    def drain_events(self, session: str | None = None) -> list[dict[str, Any]]:
        """Remove and return every event received so far for ``session``."""
        mine = [e for e in self._events if e.get("sessionId") == session]
        self._events = [e for e in self._events if e.get("sessionId") != session]
        return mine

    def new_page(self, width: int = 1280, height: int = 900) -> Page:
        """Open a blank tab of the given viewport size and attach to it."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, target, session, width, height)
        for domain in ("Page", "Runtime", "Network"):
            page.send(f"{domain}.enable")
        page._resize(width, height)
        return page


class Page:
    """One tab, addressed through its flattened DevTools session."""

    def __init__(
        self, browser: Chromium, target_id: str, session_id: str, width: int, height: int
    ) -> None:
        self.browser = browser
        self.target_id = target_id
        self.session_id = session_id
        self.width = width
        self.height = height

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session_id)

    def navigate(self, url: str, timeout: float | None = None) -> None:
        """Load ``url`` and wait for its ``load`` event (all images, scripts, styles)."""
        self.browser.drain_events(self.session_id)
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        self.browser.wait_event("Page.loadEventFired", self.session_id, timeout)

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """Evaluate JavaScript in the page and return its (JSON-serialisable) value."""
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return answer["result"].get("value")

    def events(self) -> list[dict[str, Any]]:
        """Every event of this tab received since the last call (or navigation)."""
        return self.browser.drain_events(self.session_id)

    def screenshot(self, path: str | os.PathLike, max_height: int = 12000) -> tuple[int, int]:
        """Save a full-page PNG (cut at ``max_height`` CSS pixels); returns (width, height).

        The viewport is grown to the page's height for the shot (as a tall window would
        show it) rather than capturing beyond the viewport, which lets sticky sidebars and
        full-height layouts drift; the viewport is restored afterwards.
        """
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        height = max(1, min(int(size["height"]), max_height))
        self._resize(self.width, height)
        try:
            self.evaluate(_TWO_FRAMES_JS, await_promise=True)
            shot = self.send("Page.captureScreenshot", {"format": "png"})
        finally:
            self._resize(self.width, self.height)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return self.width, height

    def _resize(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target_id})
        self.browser.drain_events(self.session_id)
