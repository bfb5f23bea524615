"""Feeds found from a site (`rare-news feeds add https://site/`): the page's own `<link rel="alternate">` feeds
first, then the paths where feeds usually live (`/feed`, `/rss.xml`, `/atom.xml`...). Every candidate is fetched
through the guarded Fetcher and parsed: only documents that are feeds are listed, with their entry counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from connectors.feeds import NotAFeedError, parse_feed
from connectors.http import Fetcher, FetchError, Page

FEED_TYPES = {
    "application/rss+xml": "RSS",
    "application/atom+xml": "Atom",
    "application/feed+json": "JSON Feed",
    "application/json": "JSON Feed",
    "application/rdf+xml": "RSS",
    "text/xml": "RSS",
    "application/xml": "RSS",
}
# Where feeds usually are when a page does not link them (WordPress, Ghost, Hugo, Jekyll, Blogger...).
USUAL_PATHS = (
    "/feed",
    "/rss",
    "/rss.xml",
    "/atom.xml",
    "/feed.xml",
    "/index.xml",
    "/feed.json",
    "/feeds/posts/default",
)
MAX_LINKED = 8  # candidates taken from one page's <link> tags


@dataclass(frozen=True)
class FoundFeed:
    url: str  # as it answered (after redirects)
    title: str | None
    entries: int
    found_by: str  # "the URL itself", "<link rel=alternate>", "usual path /feed"


@dataclass(frozen=True)
class Discovery:
    feeds: tuple[FoundFeed, ...]
    looked_at: tuple[str, ...]  # every URL asked, for the "found none" message

    @property
    def best(self) -> FoundFeed | None:
        """The page's first linked feed, else the first usual path that answered with a feed."""
        return self.feeds[0] if self.feeds else None


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str | None]] = []  # (href, type)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a") or len(self.links) >= MAX_LINKED:
            return
        values = {name.lower(): (value or "") for name, value in attrs}
        rel = values.get("rel", "").lower().split()
        kind = values.get("type", "").split(";")[0].strip().lower()
        if "alternate" in rel and kind in FEED_TYPES and values.get("href"):
            self.links.append((values["href"].strip(), kind))


def linked_feeds(html: str, base_url: str) -> list[str]:
    """Feed URLs a page declares with `<link rel="alternate" type="application/rss+xml" ...>` (in order)."""
    collector = _LinkCollector()
    try:
        collector.feed(html)
        collector.close()
    except Exception:  # html.parser gives up on some garbage: what it collected so far stands
        pass
    urls = [urljoin(base_url, href) for href, _ in collector.links]
    return [url for url in dict.fromkeys(urls) if urlsplit(url).scheme in ("http", "https")]


def _as_feed(page: Page, found_by: str) -> FoundFeed | None:
    try:
        poll = parse_feed(page.body, url=page.final_url, content_type=page.content_type)
    except NotAFeedError:
        return None
    return FoundFeed(url=page.final_url, title=poll.title, entries=len(poll.entries), found_by=found_by)


def discover_feeds(fetcher: Fetcher, url: str) -> Discovery:
    """The feeds of the site at `url` (the URL itself if it is a feed). Raises FetchError if `url` fails."""
    page = fetcher.get(url)
    itself = _as_feed(page, "the URL itself")
    if itself is not None:
        return Discovery((itself,), (url,))
    looked_at = [url]
    found: dict[str, FoundFeed] = {}

    def probe(candidate: str, found_by: str) -> None:
        looked_at.append(candidate)
        try:
            answer = fetcher.get(candidate)
        except FetchError:
            return
        feed = _as_feed(answer, found_by)
        if feed is not None and feed.url not in found:
            found[feed.url] = feed

    for candidate in linked_feeds(page.body.decode(page.charset or "utf-8", "replace"), page.final_url):
        probe(candidate, '<link rel="alternate">')
    if not found:
        root = f"{urlsplit(page.final_url).scheme}://{urlsplit(page.final_url).netloc}"
        for path in USUAL_PATHS:
            probe(root + path, f"usual path {path}")
    return Discovery(tuple(found.values()), tuple(looked_at))
