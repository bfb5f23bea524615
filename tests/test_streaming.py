"""The streaming ingest on a loopback web with real delays: a slow site holds only itself, a stalled page holds
only itself, and politeness holds (flows/streaming.py, connectors/pages.py).

Two sites on two loopback addresses (127.0.0.1 and 127.0.0.2), so the Fetcher sees two hosts. When a page was
loaded is read from the database (`article.fetched_at` is written in the page's load transaction).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from models.db import get_engine
from models.store import ARTICLE, SEEN
from tests.newsweb import LYNAS, Story, article_html, rss

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]  # real delays: seconds each

SLOW_SECONDS = 2.0


@dataclass
class Site:
    """A news site on one loopback address: a feed of `pages` articles, each answered after `delay` s."""

    server: HTTPServer
    name: str
    delay: float = 0.0
    in_flight: int = 0
    most_in_flight: int = 0
    asked: dict[str, datetime] = field(default_factory=dict)  # path -> when the page was first asked for
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def publish(self, count: int, *, stall: dict[int, float] | None = None, feed_delay: float = 0.0) -> list[str]:
        """`count` distinct rare-earth articles and a feed listing them in order; returns their URLs."""
        items = []
        for index in range(count):
            story = _story(f"{self.name}-{index}")
            path = f"/news/{story.slug}"
            wait = (stall or {}).get(index, self.delay)
            self.server.expect_request(path).respond_with_handler(self._answer(article_html(story), wait))
            items.append((self.url(path), self.url(path), story.title, story.published, story.paragraphs[0]))
        feed = rss(items, title=f"{self.name} wire")
        self.server.expect_request("/feed.xml").respond_with_handler(self._feed(feed, feed_delay))
        return [item[0] for item in items]

    def _feed(self, feed: str, wait: float):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> Response:
            time.sleep(wait)
            with self.lock:
                self.asked.setdefault("feed answered", datetime.now(UTC))
            return Response(feed, content_type="application/rss+xml")

        return handler

    def _answer(self, body: str, wait: float):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> Response:
            with self.lock:
                self.asked.setdefault(request.path, datetime.now(UTC))
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                time.sleep(wait)
                return Response(body, content_type="text/html; charset=utf-8")
            finally:
                with self.lock:
                    self.in_flight -= 1

        return handler


def _story(slug: str) -> Story:
    unique = f"Market note {slug}: shipments of neodymium oxide from Baotou were recorded under reference {slug}."
    return replace(LYNAS, slug=slug, title=f"{LYNAS.title} ({slug})", paragraphs=(*LYNAS.paragraphs, unique))


@pytest.fixture
def two_sites() -> Iterator[tuple[Site, Site]]:
    servers = [HTTPServer(host=host, port=0, threaded=True) for host in ("127.0.0.1", "127.0.0.2")]
    for server in servers:
        server.start()
    yield Site(servers[0], "fast"), Site(servers[1], "slow", delay=SLOW_SECONDS)
    for server in servers:
        server.clear()
        if server.is_running():
            server.stop()


def _feeds(path: Path, *sites: Site) -> Path:
    path.write_text("".join(f'[[feeds]]\nurl = "{s.url("/feed.xml")}"\ntopical = true\n\n' for s in sites), "utf-8")
    return path


def _loaded_at(database_url: str) -> dict[str, datetime]:
    query = select(ARTICLE.c.url, ARTICLE.c.fetched_at).where(ARTICLE.c.origin == "feed")
    with get_engine(database_url).connect() as connection:
        return {url: at for url, at in connection.execute(query)}


def test_slow_site_does_not_hold_up_the_other_sites_pages(
    two_sites: tuple[Site, Site], tmp_path: Path, settings_for
) -> None:  # type: ignore[no-untyped-def]
    from flows.ingest import ingest

    fast, slow = two_sites
    fast_urls = fast.publish(6)
    slow_urls = slow.publish(5)
    database_url = f"sqlite:///{tmp_path / 'hol.db'}"
    settings = settings_for(database_url, read_timeout=5.0, total_timeout=10.0, per_host_concurrency=2)

    summary = ingest(feeds_file=_feeds(tmp_path / "feeds.toml", fast, slow), settings=settings)

    assert summary.articles_stored == len(fast_urls) + len(slow_urls)
    loaded = _loaded_at(database_url)
    slow_third = sorted(loaded[url] for url in slow_urls)[2]
    assert max(loaded[url] for url in fast_urls) < slow_third, "the fast site's pages waited behind the slow site"
    assert slow.most_in_flight == 2  # the slow site had its two slots busy, never more


def test_a_stalled_page_does_not_delay_the_loads_of_pages_fetched_after_it(
    two_sites: tuple[Site, Site], tmp_path: Path, settings_for
) -> None:  # type: ignore[no-untyped-def]
    from flows.ingest import ingest

    site, _ = two_sites
    deadline = 4.0
    urls = site.publish(5, stall={0: deadline + 2.0})  # the first entry's page answers after its deadline
    database_url = f"sqlite:///{tmp_path / 'stall.db'}"
    settings = settings_for(database_url, read_timeout=deadline + 5, total_timeout=deadline, fetch_retries=0)

    summary = ingest(feeds_file=_feeds(tmp_path / "feeds.toml", site), settings=settings)

    assert (summary.articles_stored, summary.failed) == (4, 1)
    loaded = _loaded_at(database_url)
    assert set(loaded) == set(urls[1:])
    with get_engine(database_url).connect() as connection:
        failed_at, error = connection.execute(
            select(SEEN.c.updated_at, SEEN.c.last_error).where(SEEN.c.status == "failed")
        ).one()
    assert "total deadline" in error
    # The other pages loaded within a second or two of the stalled page's request, not when it gave up.
    stalled_asked = site.asked["/" + urls[0].split("/", 3)[3]]
    for at in loaded.values():
        assert (_aware(at) - stalled_asked).total_seconds() < deadline - 1.5
        assert at < failed_at


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def test_site_templates_learned_in_a_run_are_saved_by_its_end(
    two_sites: tuple[Site, Site], tmp_path: Path, settings_for
) -> None:  # type: ignore[no-untyped-def]
    """Templates are saved now and then, not with every load (flows/streaming.py): the last load saves them."""
    from flows.ingest import ingest
    from models.templates import load_templates
    from transforms.templates import SiteTemplate, template_site

    site, _ = two_sites
    urls = site.publish(4)
    database_url = f"sqlite:///{tmp_path / 'templates.db'}"

    ingest(feeds_file=_feeds(tmp_path / "feeds.toml", site), settings=settings_for(database_url))

    host = template_site(urls[0])
    stored = load_templates(get_engine(database_url), {host})
    assert set(stored) == {host}
    assert SiteTemplate.from_json(stored[host]).pages >= 1.0


def test_a_feeds_pages_load_while_a_slow_feed_is_still_being_polled(
    two_sites: tuple[Site, Site], tmp_path: Path, settings_for
) -> None:  # type: ignore[no-untyped-def]
    """Pages are asked for as soon as their feed's poll is planned, not once every feed has answered."""
    from flows.ingest import ingest

    fast, slow = two_sites
    slow.delay = 0.0  # its pages answer at once; only its feed is slow
    fast_urls = fast.publish(3)
    slow_urls = slow.publish(2, feed_delay=6.0)  # time enough for the fast feed's pages on a busy machine
    database_url = f"sqlite:///{tmp_path / 'polls.db'}"
    settings = settings_for(database_url, read_timeout=10.0, total_timeout=15.0)

    summary = ingest(feeds_file=_feeds(tmp_path / "feeds.toml", fast, slow), settings=settings)

    assert summary.articles_stored == len(fast_urls) + len(slow_urls)
    loaded = _loaded_at(database_url)
    slow_feed_answered = slow.asked["feed answered"]
    assert max(_aware(loaded[url]) for url in fast_urls) < slow_feed_answered, "the fast feed waited for the slow"
