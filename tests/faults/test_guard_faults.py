"""The address guard on, in a real run: a public news site that redirects inwards, and links that point inwards.

`news.example.com` resolves to a public address (see conftest: the guard vets it and lets it through, and only the
transport below the guard maps it to this test's server on 127.0.0.1). Its feed links to one good article and to
pages that redirect to 127.0.0.1, 10.0.0.0/8, 169.254.169.254 (cloud metadata), [::1], loopback written as an
integer, an IPv4-mapped IPv6 address, a name that resolves inwards, a name that resolves both ways (DNS
rebinding) and a file:// URL. Every one must be refused with a reason before any connection is made: the
server must never see a request for an internal path, and no socket may be opened to anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Response

from tests.faults.conftest import NET, PUBLIC_STANDIN, fault_settings, feeds_toml, run_ingest
from tests.faults.report import audit
from tests.faults.stories import STORIES
from tests.newsweb import NewsWeb, article_html, rss

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("prefect_harness")]

# name -> (redirect target or None for a direct link, expected words in the refusal)
INWARD: dict[str, tuple[str, str]] = {
    "redirect to 127.0.0.1": ("http://127.0.0.1:{port}/internal/loopback", "127.0.0.1 is a loopback address"),
    "redirect to 10.0.0.7 (10.0.0.0/8)": ("http://10.0.0.7/internal/admin", "10.0.0.7 is a private address"),
    "redirect to 169.254.169.254 (cloud metadata)": (
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "169.254.169.254 is a link-local address",
    ),
    "redirect to [::1]": ("http://[::1]:{port}/internal/v6", "::1 is a loopback address"),
    "redirect to 2130706433 (127.0.0.1 as an integer)": (
        "http://2130706433:{port}/internal/integer",
        "2130706433 is 127.0.0.1, a loopback address",
    ),
    "redirect to [::ffff:169.254.169.254] (IPv4-mapped)": (
        "http://[::ffff:169.254.169.254]/internal/mapped",
        "a link-local address (where cloud metadata services live) (169.254.169.254) inside an IPv6 address",
    ),
    "redirect to localhost (a name resolving inwards)": (
        "http://localhost:{port}/internal/name",
        "localhost resolves to 127.0.0.1, a loopback address",
    ),
    "link to a name resolving public and private (rebinding)": (
        "http://inward.example.net:{port}/internal/rebinding",
        "inward.example.net resolves to 10.1.2.3, a private address",
    ),
    "redirect to file:///etc/passwd": ("file:///etc/passwd", "unsupported URL scheme 'file'"),
    "link straight to 169.254.169.254": (
        "http://169.254.169.254/latest/meta-data/",
        "169.254.169.254 is a link-local address",
    ),
}
DIRECT_LINKS = {"link to a name resolving public and private (rebinding)", "link straight to 169.254.169.254"}


@dataclass
class Guarded:
    backend: str
    engine: Any
    server: HTTPServer
    entries: dict[str, str]  # name -> entry URL as listed in the feed
    feeds: dict[str, str]
    connects: list[tuple[str, int]]
    summary: Any

    def entry(self, name: str) -> tuple[str, str | None]:
        from models.store import SEEN

        with self.engine.connect() as connection:
            row = connection.execute(
                select(SEEN.c.status, SEEN.c.last_error).where(SEEN.c.entry_key == self.entries[name])
            ).one()
        return row.status, row.last_error

    def paths(self) -> list[str]:
        return [request.path for request, _ in self.server.log]


@pytest.fixture(scope="module")
def guarded(backend: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    from models.db import get_engine

    name, url = backend
    folder: Path = tmp_path_factory.mktemp("guarded")
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    web = NewsWeb(server)
    port = server.port
    public = f"http://news.example.com:{port}"
    try:
        web.route("/robots.txt", lambda request: Response("User-agent: *\nAllow: /\n", content_type="text/plain"))
        story = STORIES[0]
        web.document("/news/good", article_html(story), "text/html; charset=utf-8")
        entries = {"public article (control)": f"{public}/news/good"}
        for index, (fault, (target, _)) in enumerate(INWARD.items()):
            location = target.format(port=port)
            if fault in DIRECT_LINKS:
                entries[fault] = location
                continue
            web.redirect(f"/news/go/{index}", location)
            entries[fault] = f"{public}/news/go/{index}"
        items = [
            (link, link, f"Rare earth story {i}", story.published, "rare earth")
            for i, link in enumerate(entries.values())
        ]
        items[0] = (entries["public article (control)"],) * 2 + (story.title, story.published, "rare earth")
        web.document("/feeds/wire.xml", rss(items), "application/rss+xml")
        web.document("/feeds/direct.xml", rss(items[:1]), "application/rss+xml")
        feeds = {
            "public feed": f"{public}/feeds/wire.xml",
            "feed on 127.0.0.1": f"http://127.0.0.1:{port}/feeds/direct.xml",
            "feed on localhost": f"http://localhost:{port}/feeds/direct.xml",
        }
        feeds_file = feeds_toml(folder / "feeds.toml", [(feed, True) for feed in feeds.values()])
        settings = fault_settings(url, allow_private_networks=False)
        before = len(NET.connects)
        summary = run_ingest(feeds_file, settings)
        connects = NET.connects[before:]
        yield Guarded(name, get_engine(url), server, entries, feeds, connects, summary)
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def test_the_guard_lets_a_public_host_through(guarded: Guarded, record: Callable[..., None]) -> None:
    assert guarded.entry("public article (control)")[0] == "loaded"
    assert "/news/good" in guarded.paths()
    record(
        "guard on: public site (control)",
        f"{PUBLIC_STANDIN} vetted as public, article stored",
        backend=guarded.backend,
        found=audit(guarded.engine, stored=[STORIES[0].title], entries=[guarded.entries["public article (control)"]]),
    )


@pytest.mark.parametrize("fault", list(INWARD))
def test_inward_targets_are_refused_before_any_connection(
    guarded: Guarded, record: Callable[..., None], fault: str
) -> None:
    status, reason = guarded.entry(fault)
    expected = INWARD[fault][1]
    assert status == "failed" and expected in (reason or ""), reason
    if "file:" not in fault:
        assert "RARE_NEWS_ALLOW_PRIVATE_NETWORKS=true to allow" in (reason or "")
    assert not [path for path in guarded.paths() if path.startswith("/internal/")]
    record(
        f"guard on: {fault}",
        f"{reason}; no connection made",
        backend=guarded.backend,
        found=audit(guarded.engine, entries=[guarded.entries[fault]]),
    )


@pytest.mark.parametrize("feed", ["feed on 127.0.0.1", "feed on localhost"])
def test_feeds_on_loopback_are_refused_without_a_request(
    guarded: Guarded, record: Callable[..., None], feed: str
) -> None:
    from models.queries import list_feeds

    health = {row.url: row for row in list_feeds(guarded.engine)}[guarded.feeds[feed]]
    assert health.last_status == "failed" and "loopback address" in health.last_error
    assert "/feeds/direct.xml" not in guarded.paths()
    record(f"guard on: {feed}", f"feed failed: {health.last_error}", backend=guarded.backend)


def test_only_the_vetted_server_was_ever_connected_to(guarded: Guarded, record: Callable[..., None]) -> None:
    hosts = {host for host, _ in guarded.connects}
    assert hosts <= {"127.0.0.1"}, hosts
    web_connects = [port for host, port in guarded.connects if port == guarded.server.port]
    # one connection per request the server logged: the guard never opened one it then refused
    assert len(web_connects) == len(guarded.server.log)
    record(
        "guard on: sockets opened during the run",
        f"{len(web_connects)} connections, all to the vetted server "
        f"({len(guarded.server.log)} requests); none to 10/8, 169.254/16 or ::1",
        backend=guarded.backend,
    )
