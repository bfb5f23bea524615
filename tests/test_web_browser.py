"""`rare-news web` as a user meets it: the command serving a store, and its search page in headless Chromium (no
console error, no request outside the app, a facet click changes the results and the URL, 稀土 finds the Chinese
article). With WEB_SCREENSHOT_DOCS=1 the test also writes the README's screenshot, docs/web-search.png.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from tests.test_report import _chromium, _free_port
from tests.web_fixtures import CHINESE_TITLE, WIRE_TITLE, build_web_store

PROJECT_DIR = Path(__file__).resolve().parents[1]
START_TIMEOUT = 60.0


@contextmanager
def serve_web(database_url: str, *extra: str) -> Iterator[str]:
    """`rare-news web` in a process of its own on a free loopback port; yields its base URL, stops it after."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli import main; main()", "web", "--port", str(port)]
        + ["--database-url", database_url, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(trust_env=False, timeout=5) as client:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    if client.get(f"{base}/static/style.css").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, f"rare-news web did not start in {START_TIMEOUT:.0f} s"
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_search_page_in_chromium_has_no_errors_no_outside_requests_and_facets_narrow(
    database_url: str, tmp_path: Path
) -> None:
    from connectors.browser import HeadlessPage

    chromium = _chromium()
    build_web_store(database_url).dispose()
    with (
        serve_web(database_url) as base,
        HeadlessPage(width=1280, height=900, chromium=chromium, allow_loopback=True) as browser,
    ):
        log = browser.open(f"{base}/?q=rare+earth")
        titles = "Array.from(document.querySelectorAll('#results .title')).map(a => a.textContent)"
        before = browser.evaluate(titles)
        assert len(before) == 5 and WIRE_TITLE in before
        screenshot = browser.screenshot(tmp_path / "web-search.png")
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 20_000
        if os.environ.get("WEB_SCREENSHOT_DOCS") == "1":
            shutil.copyfile(screenshot, PROJECT_DIR / "docs" / "web-search.png")

        # One click on the Myanmar facet: the results narrow and the URL says so.
        browser.evaluate(
            "document.querySelector('#facet-place a[data-facet]') && "
            "Array.from(document.querySelectorAll('#facet-place a')).find("
            "a => a.textContent === 'Myanmar').click()"
        )
        browser._wait_for("Page.loadEventFired")
        browser.settle()
        location = browser.evaluate("location.href")
        assert parse_qs(urlsplit(location).query) == {"q": ["rare earth"], "place": ["Myanmar"]}
        assert browser.evaluate(titles) == [WIRE_TITLE]
        assert "Myanmar ×" in browser.evaluate("document.querySelector('#facet-place').textContent")

        # A Chinese query typed into the search box and submitted.
        browser.open(f"{base}/?q={quote('稀土')}")
        assert browser.evaluate(titles) == [CHINESE_TITLE]

        browser.settle()
        assert log.errors == []
        # data: URLs are Chromium's own (the date inputs' calendar icon); nothing goes to the network but the app.
        outside = [url for url in log.requests if not url.startswith((base + "/", "data:"))]
        assert outside == []
        assert f"{base}/static/style.css" in log.requests  # its own stylesheet, and nothing else from anywhere
