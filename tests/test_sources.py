"""Real-web sources without the flow: Google News items (outlet, clean title), JSON Feed, GDELT query sources,
feed discovery from a site, and adaptive polling's decisions (transforms/schedule.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.discovery import discover_feeds, linked_feeds
from connectors.feeds import NotAFeedError, SourceOptions, parse_feed, poll_feed
from connectors.gdelt import parse_artlist, poll_gdelt, timespan
from connectors.http import Fetcher, FetchPolicy
from flows.settings import ConfigError, parse_feeds
from tests.aggregators import GdeltImitation, GoogleNewsImitation, NewsItem, gdelt_artlist
from tests.newsweb import NewsWeb, rss
from transforms.schedule import PollBounds, PollSignals, freshness, next_poll

NOW = datetime.now(UTC).replace(microsecond=0)
FAST = FetchPolicy(allow_private_networks=True)


def test_google_news_items_name_their_outlet_and_lose_the_title_suffix(web: NewsWeb) -> None:
    item = NewsItem(web.url("/news/a"), "Lynas lifts output", "Reuters", "https://www.reuters.com", NOW)
    google = GoogleNewsImitation(web, [item])
    (entry,) = parse_feed(google.feed().encode(), url="https://news.google.com/rss/search?q=x").entries
    assert entry.title == "Lynas lifts output"
    assert entry.outlet == "Reuters"
    assert entry.url == google.link(item)


JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Magnet Weekly",
    "home_page_url": "https://magnets.example/",
    "items": [
        {
            "id": "https://magnets.example/2026/ndfeb",
            "url": "/2026/ndfeb",
            "title": "NdFeB capacity doubles",
            "summary": "Neodymium magnets",
            "date_published": "2026-12-01T08:00:00Z",
            "authors": [{"name": "Ann Lee"}],
        },
        {"id": 7, "external_url": "https://other.example/x", "content_text": "Terbium", "author": {"name": "Bo"}},
        {"id": "no-link", "title": "no link"},
    ],
}


def test_a_json_feed_is_read_like_rss() -> None:
    poll = parse_feed(json.dumps(JSON_FEED).encode(), url="https://magnets.example/feed.json")
    first, second, third = poll.entries
    assert poll.title == "Magnet Weekly"
    assert (first.entry_key, first.url, first.title) == (
        "https://magnets.example/2026/ndfeb",
        "https://magnets.example/2026/ndfeb",
        "NdFeB capacity doubles",
    )
    assert first.published_at == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert first.authors == ("Ann Lee",)
    assert (second.entry_key, second.url, second.summary, second.authors) == (
        "7",
        "https://other.example/x",
        "Terbium",
        ("Bo",),
    )
    assert third.url is None and third.problem == "entry has no link"


def test_json_that_is_no_json_feed_is_refused_with_a_reason() -> None:
    with pytest.raises(NotAFeedError, match="jsonfeed.org"):
        parse_feed(b'{"hello": "world"}', url="https://x.example/", content_type="application/json")


def test_gdelt_spans_the_time_since_the_last_answer() -> None:
    assert timespan(None, NOW) == "1440min"
    assert timespan(NOW - timedelta(hours=2), NOW) == "125min"  # two hours and five minutes of overlap
    assert timespan(NOW - timedelta(seconds=30), NOW) == "15min"  # GDELT updates every 15 minutes
    assert timespan(NOW - timedelta(days=400), NOW) == f"{90 * 24 * 60}min"


def test_gdelt_artlist_entries_and_gdelts_plain_text_errors() -> None:
    body = gdelt_artlist([("https://www.abc.net.au/news/lynas", "Lynas output", NOW)]).encode()
    (entry,) = parse_artlist(body, url="x")
    assert (entry.entry_key, entry.url, entry.outlet) == (
        "https://www.abc.net.au/news/lynas",
        "https://www.abc.net.au/news/lynas",
        "www.abc.net.au",
    )
    assert entry.published_at == NOW
    assert parse_artlist(b"{}", url="x") == ()  # no match at all
    with pytest.raises(ValueError, match="Your search contained a keyword that is too short"):
        parse_artlist(b"Your search contained a keyword that is too short.", url="x")


def test_gdelt_polls_ask_for_the_time_since_the_first_and_are_spaced(web: NewsWeb) -> None:
    articles = gdelt_artlist([(web.url("/news/a"), "Rare earth news", NOW)])
    imitation = GdeltImitation(web, [(200, articles)])
    asked = imitation.asked
    options = SourceOptions(gdelt_url=web.url("/").rstrip("/"))
    with Fetcher(FAST) as fetcher:
        first = poll_gdelt(fetcher, "gdelt:rare earth", since=None, options=options, interval=0.5)
        second = poll_gdelt(fetcher, "gdelt:rare earth", since=datetime.now(UTC), options=options, interval=0.5)
    assert first.status == second.status == "ok" and len(first.entries) == 1
    assert asked[0]["query"] == ["rare earth"] and asked[0]["mode"] == ["artlist"] and asked[0]["format"] == ["json"]
    assert asked[0]["maxrecords"] == ["250"] and asked[0]["timespan"] == ["1440min"]
    assert asked[1]["timespan"] == ["15min"]
    # One request per interval to the API, counted between the requests' arrivals (a first poll slower than the
    # interval, as on a loaded machine, rightly lets the second go at once).
    assert imitation.arrived[1] - imitation.arrived[0] >= 0.45


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (429, "Please limit requests to one every 5 seconds", "GDELT rate limit"),
        (200, '{"articles": [', "GDELT answered with no JSON"),
    ],
)
def test_a_gdelt_failure_is_one_readable_reason(web: NewsWeb, status: int, body: str, reason: str) -> None:
    GdeltImitation(web, [(status, body)])
    options = SourceOptions(gdelt_url=web.url("/").rstrip("/"))
    with Fetcher(FAST) as fetcher:
        poll = poll_feed(fetcher, "gdelt:rare earth", options=options)
    assert poll.status == "failed"
    assert poll.error and poll.error.startswith(reason)


def test_gdelt_sources_in_the_feeds_file() -> None:
    (spec,) = parse_feeds({"feeds": [{"kind": "gdelt", "query": '"rare earth"'}]}, source="f")
    assert spec.url == 'gdelt:"rare earth"' and spec.topical
    with pytest.raises(ConfigError, match="has no 'query'"):
        parse_feeds({"feeds": [{"kind": "gdelt"}]}, source="f")
    with pytest.raises(ConfigError, match="'kind' must be one of"):
        parse_feeds({"feeds": [{"kind": "twitter", "url": "https://x.example/"}]}, source="f")


FEED = rss([("g", "https://example.com/a", "t", NOW, "s")])


def test_feeds_are_found_from_a_pages_alternate_links(web: NewsWeb) -> None:
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" title="News" href="/news.rss">'
        '<link rel="alternate" type="application/atom+xml" href="/comments.atom"></head><body>hi</body></html>'
    )
    web.document("/", page, "text/html")
    web.document("/news.rss", FEED, "application/rss+xml")
    web.status("/comments.atom", 404)
    with Fetcher(FAST) as fetcher:
        found = discover_feeds(fetcher, web.url("/"))
    assert [feed.url for feed in found.feeds] == [web.url("/news.rss")]
    assert found.best is not None and found.best.found_by == '<link rel="alternate">'
    assert "/feed" not in web.paths_requested()  # the usual paths are only a fallback


def test_a_feed_is_found_at_a_usual_path_when_the_page_links_none(web: NewsWeb) -> None:
    web.document("/", "<html><body>no links</body></html>", "text/html")
    web.document("/feed", FEED, "application/rss+xml")
    with Fetcher(FAST) as fetcher:
        found = discover_feeds(fetcher, web.url("/"))
    assert found.best is not None and found.best.url == web.url("/feed") and found.best.entries == 1


def test_a_site_without_feeds_says_so_and_a_feed_url_is_itself(web: NewsWeb) -> None:
    web.document("/", "<html><body>nothing here</body></html>", "text/html")
    web.document("/only.xml", FEED, "application/rss+xml")
    with Fetcher(FAST) as fetcher:
        none = discover_feeds(fetcher, web.url("/"))
        itself = discover_feeds(fetcher, web.url("/only.xml"))
    assert none.feeds == () and len(none.looked_at) > 5
    assert itself.best is not None and itself.best.found_by == "the URL itself"


def test_linked_feeds_ignore_other_links() -> None:
    page = '<link rel="stylesheet" href="/a.css"><link rel="alternate" hreflang="fr" href="/fr/">'
    assert linked_feeds(page, "https://x.example/") == []


BOUNDS = PollBounds(min_interval=600, max_interval=86400)


def test_a_feed_is_polled_at_the_pace_it_publishes_within_the_bounds() -> None:
    assert next_poll(PollSignals(BOUNDS, entries_last_week=7)).seconds == 86400
    assert next_poll(PollSignals(BOUNDS, entries_last_week=1)).seconds == 86400  # a week, capped at a day
    busy = next_poll(PollSignals(BOUNDS, entries_last_week=10_000))
    assert busy.seconds == 600 and "at most every 10 min" in busy.reason
    quiet = next_poll(PollSignals(BOUNDS, entries_last_week=0))
    assert quiet.seconds == 86400 and "nothing in the last week" in quiet.reason


def test_ttl_max_age_and_expires_lengthen_the_interval() -> None:
    ttl = next_poll(PollSignals(BOUNDS, entries_last_week=500, ttl_minutes=60))
    assert (ttl.seconds, ttl.reason) == (3600, "RSS ttl 60 min")
    fresh = freshness({"cache-control": "public, max-age=3600"}, NOW)
    assert fresh == (3600.0, "Cache-Control max-age=3600")
    expires = freshness({"expires": "Mon, 07 Dec 2026 10:00:00 GMT", "date": "Mon, 07 Dec 2026 09:00:00 GMT"}, NOW)
    assert expires is not None and expires[0] == 3600.0
    assert freshness({"cache-control": "no-cache, max-age=600"}, NOW) is None
    after_304 = next_poll(PollSignals(BOUNDS), previous_interval=7200)
    assert after_304.seconds == 7200 and "not modified" in after_304.reason
