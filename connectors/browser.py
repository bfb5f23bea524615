"""Headless Chromium (Debian's `chromium` package) driven over the DevTools protocol, for looking at a local page:
open it, collect console errors and every network request it makes, evaluate script, take a full-page screenshot.

Used by `rare-news report --screenshot` and by the report's test. The browser runs with a throwaway profile, no
sandbox (root in containers), no GPU, and no background traffic of its own; DNS resolution is switched off, so a
page that tries to load anything from the network fails loudly instead of reaching out. The DevTools endpoint
listens on 127.0.0.1 only and the websocket client ignores proxy variables.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 30.0
CALL_TIMEOUT = 30.0


class BrowserError(RuntimeError):
    """Chromium is missing, did not start, or did not answer in time."""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageLog:
    """What a page did while loaded: errors it logged or threw, and the URLs it requested."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class HeadlessPage:
    """One headless Chromium with one tab. Use as a context manager; it is stopped and its profile removed on exit."""

    def __init__(
        self, *, width: int = 1280, height: int = 900, chromium: str | None = None, allow_loopback: bool = False
    ) -> None:
        """`allow_loopback`: 127.0.0.1 can be reached (a local app under test); no other address is resolved."""
        self.width, self.height = width, height
        self.allow_loopback = allow_loopback
        self.chromium = chromium or find_chromium()
        self.log = PageLog()
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: Path | None = None  # a fresh Chromium profile, removed on exit
        self._socket: Any = None

    # -- lifecycle --

    def __enter__(self) -> HeadlessPage:
        if not self.chromium:
            raise BrowserError("chromium not found: install Debian's chromium package (make dev does)")
        self._profile = profile = Path(tempfile.mkdtemp(prefix="rare-news-chromium-"))
        stderr = (profile / "chromium.log").open("wb")
        try:
            self._process = subprocess.Popen(
                [
                    self.chromium,
                    *HEADLESS_FLAGS,
                    *(["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"] if self.allow_loopback else []),
                    f"--user-data-dir={profile}",
                    f"--window-size={self.width},{self.height}",
                    "about:blank",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,  # its helper processes (renderer, GPU, crashpad) stop with it
            )
        finally:
            stderr.close()
        try:
            self._connect(profile)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _connect(self, profile: Path) -> None:
        from websockets.sync.client import connect

        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            assert self._process is not None
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (profile / "chromium.log").read_text(errors="replace")[-2000:]
                raise BrowserError(f"chromium did not start: {log.strip() or 'no output'}")
            time.sleep(0.05)
        port, browser_path = port_file.read_text().split()[:2]
        with connect(f"ws://127.0.0.1:{port}{browser_path}", proxy=None, max_size=None) as browser:
            target = self._call_on(browser, "Target.createTarget", url="about:blank")["targetId"]
        self._socket = connect(f"ws://127.0.0.1:{port}/devtools/page/{target}", proxy=None, max_size=None)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            # helpers outliving the browser kept writing into the profile while it was being removed
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process = None
        if self._profile is not None:
            self._remove_profile(self._profile)
            self._profile = None

    @staticmethod
    def _remove_profile(profile: Path) -> None:
        for _ in range(20):  # a helper killed a moment ago may still have a file open for writing
            shutil.rmtree(profile, ignore_errors=True)
            if not profile.exists():
                return
            time.sleep(0.1)

    # -- the protocol --

    def _call_on(self, socket: Any, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        call_id = self._next_id
        socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"chromium did not answer {method} in {CALL_TIMEOUT:.0f} s")
            try:
                message = json.loads(socket.recv(timeout=remaining))
            except TimeoutError:
                continue
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._event(message)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self._call_on(self._socket, method, **params)

    def _event(self, message: dict[str, Any]) -> None:
        self._events.append(message)
        method, params = message["method"], message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = [str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])]
            self.log.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "exception")
            self.log.errors.append(f"exception: {text}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.log.errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            self.log.requests.append(params.get("request", {}).get("url", ""))

    def _wait_for(self, method: str, timeout: float = CALL_TIMEOUT) -> None:
        if any(event["method"] == method for event in self._events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = json.loads(self._socket.recv(timeout=max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                break
            if "method" in message:
                self._event(message)
                if message["method"] == method:
                    return
        raise BrowserError(f"the page did not reach {method} in {timeout:.0f} s")

    def settle(self, seconds: float = 0.3) -> None:
        """Take in events for a short while (errors logged just after load)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = json.loads(self._socket.recv(timeout=remaining))
            except TimeoutError:
                return
            if "method" in message:
                self._event(message)

    # -- what callers use --

    def open(self, url: str) -> PageLog:
        """Load a page and wait for its load event; returns the log, which keeps filling while the page is open."""
        self._events.clear()
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self._wait_for("Page.loadEventFired")
        self.settle()
        return self.log

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page: the whole page by default, not only the window."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": self.width, "height": size["height"], "scale": 1},
            )
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def screenshot(page: Path, out: Path, *, width: int = 1280) -> PageLog:
    """Open a local HTML file in headless Chromium and save a full-page PNG; returns what the page logged."""
    with HeadlessPage(width=width) as browser:
        log = browser.open(page.resolve().as_uri())
        browser.screenshot(out)
        return log
