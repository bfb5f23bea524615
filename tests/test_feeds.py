"""connectors/feeds: RSS and Atom from bytes, conditional GET, and feeds that are broken or hostile."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.feeds import NotAFeedError, parse_feed, poll_feed
from connectors.http import Fetcher, FetchPolicy
from tests.newsweb import NewsWeb, atom, rss

WHEN = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def test_rss_entries_carry_key_link_title_date_and_summary() -> None:
    body = rss([("guid-1", "https://example.com/a", "Lynas output", WHEN, "Dysprosium up")]).encode()
    poll = parse_feed(body, url="https://example.com/feed")
    (entry,) = poll.entries
    assert entry.entry_key == "guid-1"
    assert entry.url == "https://example.com/a"
    assert entry.title == "Lynas output"
    assert entry.published_at == WHEN
    assert entry.summary == "Dysprosium up"
    assert poll.warning is None


def test_atom_entries_have_authors_and_relative_links_resolved() -> None:
    body = atom([("urn:1", "/news/a", "Baotou magnets", WHEN, "NdFeB")]).encode()
    (entry,) = parse_feed(body, url="https://example.com/feeds/x.atom").entries
    assert entry.url == "https://example.com/news/a"
    assert entry.authors == ("Desk",)


def test_malformed_but_readable_feed_still_yields_entries_with_a_warning() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>A & B</title>'
        b"<item><title>Rare earths & more</title><link>https://example.com/x</link></item>"
    )
    poll = parse_feed(body, url="https://example.com/feed")
    assert [entry.url for entry in poll.entries] == ["https://example.com/x"]
    assert poll.warning and "malformed" in poll.warning


def test_html_page_is_not_a_feed() -> None:
    with pytest.raises(NotAFeedError, match="HTML page"):
        parse_feed(b"<html><body><p>hello</p></body></html>", url="https://example.com/")


@pytest.mark.parametrize(
    "attack",
    [
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<rss><channel><title>&lol2;</title></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><title>&xxe;</title></channel></rss>",
    ],
    ids=["billion-laughs", "external-entity"],
)
def test_entity_declarations_are_refused_unexpanded(attack: bytes) -> None:
    with pytest.raises(NotAFeedError, match="entities"):
        parse_feed(attack, url="https://example.com/feed")


def test_javascript_and_missing_links_become_entry_problems_not_urls() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>a</guid><title>x</title><link>javascript:alert(1)</link></item>"
        b'<item><guid isPermaLink="false">b</guid><title>no link</title></item></channel></rss>'
    )
    entries = parse_feed(body, url="https://example.com/feed").entries
    assert [entry.url for entry in entries] == [None, None]
    assert "javascript" in (entries[0].problem or "")
    assert entries[1].problem == "entry has no link"


def test_entry_limit_keeps_the_first_entries() -> None:
    items = [(f"g{i}", f"https://example.com/{i}", f"t{i}", WHEN, "s") for i in range(500)]
    entries = parse_feed(rss(items).encode(), url="https://example.com/feed", limit=20).entries
    assert [entry.entry_key for entry in entries] == [f"g{i}" for i in range(20)]


def test_second_poll_sends_conditional_get_and_gets_not_modified(web: NewsWeb) -> None:
    web.document("/feed.xml", rss([("g", "https://example.com/a", "t", WHEN, "s")]), "application/rss+xml")
    with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
        first = poll_feed(fetcher, web.url("/feed.xml"))
        assert first.status == "ok" and first.etag
        second = poll_feed(fetcher, web.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified)
    assert second.status == "not modified"
    assert second.entries == ()
    assert web.requests[1][1] == first.etag


def test_failing_feed_comes_back_failed_with_reason_and_retry_after(web: NewsWeb) -> None:
    web.status("/busy.xml", 503, headers={"Retry-After": "120"})
    with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
        poll = poll_feed(fetcher, web.url("/busy.xml"))
    assert poll.status == "failed"
    assert "503" in (poll.error or "")
    assert poll.retry_after == 120
