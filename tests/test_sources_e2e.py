"""Real-web sources through the ingest flow, against loopback imitations (tests/aggregators.py): Google News
links stored under publisher URLs or failed with a reason, Bing links unwrapped, a GDELT query source, a JSON
Feed, adaptive polling honouring <ttl> and max-age, and `feeds add` finding a site's feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from models.db import get_engine
from tests.aggregators import GdeltImitation, GoogleNewsImitation, NewsItem, bing_feed, gdelt_artlist
from tests.newsweb import BAOTOU, GANZHOU, LYNAS, NewsWeb, Story, article_html, rss

RECENT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def _run(settings: Any, feeds_file: Path, *, force: bool = False) -> Any:
    from flows.ingest import ingest
    from flows.progress import Reporter

    return ingest(feeds_file=feeds_file, settings=settings, reporter=Reporter(), force=force)


def _feeds(path: Path, *tables: str) -> Path:
    path.write_text("\n".join(f"[[feeds]]\n{table}\ntopical = true\n" for table in tables), encoding="utf-8")
    return path


def _settings(settings_for: Any, database_url: str, web: NewsWeb, **overrides: object) -> Any:
    base = web.url("/").rstrip("/")
    return settings_for(
        database_url, google_news_url=base, google_news_delay=0.0, gdelt_url=base, respect_robots=False, **overrides
    )


def _rows(database_url: str, sql: str) -> list[Any]:
    with get_engine(database_url).connect() as connection:
        return list(connection.execute(text(sql)))


def _pages(web: NewsWeb, *stories: Story) -> None:
    for story in stories:
        web.document(f"/news/{story.slug}", article_html(story), "text/html; charset=utf-8")


def _google(web: NewsWeb, **options: Any) -> GoogleNewsImitation:
    items = [
        NewsItem(web.url(f"/news/{LYNAS.slug}"), LYNAS.title, "Reuters", "https://www.reuters.com", RECENT),
        NewsItem(web.url(f"/news/{GANZHOU.slug}"), GANZHOU.title, "Caixin", "https://www.caixinglobal.com", RECENT),
        NewsItem(web.url(f"/news/{BAOTOU.slug}"), BAOTOU.title, "Mining Weekly", "https://mw.example", RECENT, True),
    ]
    google = GoogleNewsImitation(web, items, **options)
    web.document("/rss/search", google.feed(), "application/rss+xml; charset=utf-8")
    return google


@pytest.mark.usefixtures("prefect_harness")
def test_google_news_entries_are_stored_under_publisher_urls_and_resolved_once(
    database_url: str, web: NewsWeb, tmp_path: Path, settings_for: Any
) -> None:
    from models.queries import list_feeds

    _pages(web, LYNAS, GANZHOU, BAOTOU)
    google = _google(web)
    settings = _settings(settings_for, database_url, web)
    feeds = _feeds(tmp_path / "feeds.toml", f'url = "{web.url("/rss/search")}"')

    first = _run(settings, feeds)
    assert first.articles_stored == 3
    expected = {web.url(f"/news/{story.slug}") for story in (LYNAS, GANZHOU, BAOTOU)}
    assert {row.url for row in _rows(database_url, "SELECT url FROM article WHERE origin = 'feed'")} == expected
    ledger = _rows(database_url, "SELECT url, title, status FROM seen_entry")
    assert {row.url for row in ledger} == expected and {row.status for row in ledger} == {"loaded"}
    assert {row.title for row in ledger} == {LYNAS.title, GANZHOU.title, BAOTOU.title}  # " - Outlet" dropped
    links = _rows(database_url, "SELECT via_url, url, outlet, status FROM entry_link")
    assert {(row.via_url, row.url, row.outlet, row.status) for row in links} == {
        (google.link(item), item.link_target, item.outlet, "resolved") for item in google.items
    }
    assert google.calls == [2]  # one batchexecute for the two current ids; the old id decoded offline
    (health,) = list_feeds(get_engine(database_url))
    assert (health.links_resolved, health.links_failed) == (3, 0)

    asked = len(google.paths_asked())
    second = _run(settings, feeds)
    assert second.articles_stored == 0
    assert len(google.paths_asked()) == asked  # entries already done cost Google nothing


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    ("mode", "reason"),
    [("no attributes", "no data-n-a-sg"), ("error", "batchexecute: HTTP 500"), ("malformed", "not understood")],
)
def test_a_google_link_that_cannot_be_resolved_fails_readably_and_stores_nothing(
    web: NewsWeb, tmp_path: Path, settings_for: Any, mode: str, reason: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _pages(web, LYNAS, GANZHOU, BAOTOU)
    google = _google(web, batch_mode="ok" if mode == "no attributes" else mode)
    if mode == "no attributes":
        google.without_attributes.update(item.link_target for item in google.items)
    summary = _run(
        _settings(settings_for, database_url, web), _feeds(tmp_path / "f.toml", f'url = "{web.url("/rss/search")}"')
    )
    assert summary.articles_stored == 1  # the old id needed no Google
    failed = _rows(database_url, "SELECT url, last_error FROM seen_entry WHERE status = 'failed'")
    assert len(failed) == 2
    assert all(row.last_error.startswith("link not resolved") and reason in row.last_error for row in failed)
    assert {row.url for row in failed} == {google.link(item) for item in google.items[:2]}
    assert f"/news/{LYNAS.slug}" not in web.paths_requested()  # never fetched as if it were the article
    assert not any(path.startswith("/rss/articles/") and "oc=5" in path for path in web.paths_requested())


@pytest.mark.usefixtures("prefect_harness")
def test_bing_entries_are_stored_under_the_unwrapped_urls(web: NewsWeb, tmp_path: Path, settings_for: Any) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _pages(web, LYNAS, GANZHOU)
    items = [(web.url(f"/news/{story.slug}"), story.title, RECENT) for story in (LYNAS, GANZHOU)]
    web.document("/bing.rss", bing_feed(items), "application/rss+xml")
    summary = _run(
        _settings(settings_for, database_url, web), _feeds(tmp_path / "f.toml", f'url = "{web.url("/bing.rss")}"')
    )
    assert summary.articles_stored == 2
    stored = {row.url for row in _rows(database_url, "SELECT url FROM article WHERE origin = 'feed'")}
    assert stored == {url for url, _, _ in items}
    assert {row.status for row in _rows(database_url, "SELECT status FROM entry_link")} == {"resolved"}


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_a_gdelt_source_stores_articles_and_asks_only_for_what_is_new(
    web: NewsWeb, tmp_path: Path, settings_for: Any
) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _pages(web, LYNAS, GANZHOU)
    articles = gdelt_artlist([(web.url(f"/news/{story.slug}"), story.title, RECENT) for story in (LYNAS, GANZHOU)])
    gdelt = GdeltImitation(web, [(200, articles)])
    feeds = _feeds(tmp_path / "f.toml", 'kind = "gdelt"\nquery = \'"rare earth"\'')
    settings = _settings(settings_for, database_url, web)
    assert _run(settings, feeds).articles_stored == 2
    second = _run(settings, feeds)  # waits out GDELT's 5 s between requests
    assert second.feeds_failed == 0 and second.articles_stored == 0
    assert gdelt.timespans == ["1440min", "15min"]
    (source,) = _rows(database_url, "SELECT url, last_status FROM feed")
    assert source.url == 'gdelt:"rare earth"' and source.last_status == "ok"


@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(429, "Please limit requests to one every 5 seconds", "GDELT rate limit"), (200, "{oops", "no JSON")],
)
def test_a_gdelt_failure_is_one_reason_on_the_source(
    web: NewsWeb, tmp_path: Path, settings_for: Any, status: int, body: str, reason: str
) -> None:
    from models.queries import list_feeds

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    GdeltImitation(web, [(status, body)])
    summary = _run(
        _settings(settings_for, database_url, web), _feeds(tmp_path / "f.toml", 'kind = "gdelt"\nquery = "x"')
    )
    assert summary.feeds_failed == 1
    (health,) = list_feeds(get_engine(database_url))
    assert health.last_status == "failed" and reason in (health.last_error or "")


@pytest.mark.usefixtures("prefect_harness")
def test_a_json_feed_is_ingested_like_an_rss_feed(web: NewsWeb, tmp_path: Path, settings_for: Any) -> None:
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _pages(web, LYNAS, BAOTOU)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Magnets",
        "items": [
            {"id": story.slug, "url": f"/news/{story.slug}", "title": story.title, "date_published": RECENT.isoformat()}
            for story in (LYNAS, BAOTOU)
        ],
    }
    web.document("/feed.json", json.dumps(document), "application/feed+json")
    summary = _run(
        _settings(settings_for, database_url, web), _feeds(tmp_path / "f.toml", f'url = "{web.url("/feed.json")}"')
    )
    assert summary.feeds_failed == 0 and summary.articles_stored == 2


@pytest.mark.usefixtures("prefect_harness")
def test_feeds_asking_for_ttl_or_max_age_are_not_polled_again_before_their_time(
    web: NewsWeb, tmp_path: Path, settings_for: Any
) -> None:
    from models.queries import list_feeds

    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    # 200 entries dated this week: by publishing rate alone these feeds would be due again in under an hour.
    items = [(f"g{n}", f"https://off.example/{n}", f"Derby report {n}", RECENT, "football") for n in range(200)]
    ttl_feed = rss(items).replace("<description>t</description>", "<ttl>60</ttl><description>t</description>", 1)
    web.document("/ttl.xml", ttl_feed, "application/rss+xml")
    web.document("/cached.xml", rss(items), "application/rss+xml", headers={"Cache-Control": "public, max-age=3600"})
    feeds = tmp_path / "f.toml"
    feeds.write_text(
        f'[[feeds]]\nurl = "{web.url("/ttl.xml")}"\n\n[[feeds]]\nurl = "{web.url("/cached.xml")}"\n', encoding="utf-8"
    )
    settings = _settings(settings_for, database_url, web, poll_max_interval=86400.0, poll_min_interval=600.0)
    before = datetime.now(UTC)
    assert _run(settings, feeds).feeds_polled == 2
    health = {feed.url: feed for feed in list_feeds(get_engine(database_url))}
    assert health[web.url("/ttl.xml")].poll_reason == "RSS ttl 60 min"
    assert health[web.url("/cached.xml")].poll_reason == "Cache-Control max-age=3600"
    for feed in health.values():
        assert feed.next_poll_at is not None
        assert timedelta(minutes=59) < feed.next_poll_at - before < timedelta(minutes=61)
    polled = len(web.paths_requested())
    second = _run(settings, feeds)
    assert (second.feeds_polled, second.feeds_not_due) == (0, 2)
    assert len(web.paths_requested()) == polled  # not asked again before their time


def test_feeds_add_finds_a_sites_feed_or_says_there_is_none(web: NewsWeb, tmp_path: Path, monkeypatch: Any) -> None:
    from flows.cli import app

    monkeypatch.setenv("RARE_NEWS_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.setenv("RARE_NEWS_ALLOW_PRIVATE_NETWORKS", "true")
    web.document(
        "/", '<html><head><link rel="alternate" type="application/rss+xml" href="/news.rss"></head></html>', "text/html"
    )
    web.document(
        "/news.rss", rss([("g", "https://example.com/a", "t", RECENT, "s")], title="Site news"), "application/rss+xml"
    )
    added = CliRunner().invoke(app, ["feeds", "add", web.url("/")])
    assert added.exit_code == 0, added.output
    assert "Site news" in added.output and added.output.strip().endswith(f"added {web.url('/news.rss')}")
    listed = CliRunner().invoke(app, ["feeds", "list", "--format", "json"])
    assert web.url("/news.rss") in listed.output

    web.document("/empty/", "<html><body>no feeds</body></html>", "text/html")
    none = CliRunner().invoke(app, ["feeds", "add", web.url("/empty/")])
    assert none.exit_code != 0
    assert "found no feed" in str(none.exception)  # main() prints a UserError as one line
