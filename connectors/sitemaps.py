"""Backfill sources: where the pages a feed no longer shows can be found, and the date each source gives them.

Three sources, each turned into `Candidate`s (a URL, the source's date, and what the source says of the page):

- XML sitemaps (sitemaps.org), sitemap indexes followed recursively, and Google News sitemaps
  (`<news:publication_date>` wins over `<lastmod>`). A site's sitemaps are found through `Sitemap:` lines in its
  robots.txt, else at `/sitemap.xml` and `/sitemap_index.xml`. A child sitemap whose `<lastmod>` is older than
  the window was not touched since, so it is not fetched. Gzipped sitemaps (`.xml.gz`) are inflated here with
  the same cap as any body.
- Paginated feeds: `?paged=N` (WordPress) or `?page=N`, found by trying both on page 2, read until a page is
  entirely older than the window, empty, missing, or the same as the one before (a site ignoring the query).
- A file of URLs, one a line (`#` starts a comment).

Every byte comes through the one `Fetcher` (its limits, address guard and per-host politeness). XML is parsed
with defusedxml: a document declaring entities or a DTD is refused, never expanded.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from protego import Protego

from connectors.feeds import FeedEntry, NotAFeedError, parse_feed
from connectors.http import Fetcher, FetchError

# A site's sitemaps when its robots.txt names none.
DEFAULT_SITEMAP_PATHS = ("/sitemap.xml", "/sitemap_index.xml")
# Limits of one walk: sitemap documents read, depth of nested indexes, feed pages read.
MAX_SITEMAP_DOCUMENTS = 500
MAX_SITEMAP_DEPTH = 4
MAX_FEED_PAGES = 100
# Query parameters that paginate feeds, in the order they are tried.
PAGE_PARAMETERS = ("paged", "page")
# Entries taken from one feed page (feedparser reads them all; this only bounds memory).
MAX_ENTRIES_PER_FEED_PAGE = 10_000
_GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_STEP = 64 * 1024


class NotASitemapError(ValueError):
    """The document is not a sitemap or sitemap index; the message says why."""


@dataclass(frozen=True)
class Window:
    """Publication dates a backfill wants: on or after `since`, before `until` (open-ended when None)."""

    since: datetime
    until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "since", _utc(self.since))  # naive means UTC
        if self.until is not None:
            object.__setattr__(self, "until", _utc(self.until))
        if self.until is not None and self.until <= self.since:
            raise ValueError(f"--until ({self.until.date()}) must be after --since ({self.since.date()})")

    def contains(self, when: datetime) -> bool:
        when = _utc(when)
        return when >= self.since and (self.until is None or when < self.until)

    def is_before(self, when: datetime) -> bool:
        return _utc(when) < self.since


@dataclass(frozen=True)
class Candidate:
    """A page a backfill may fetch. `entry_key` keys it in the ledger: the URL, or a feed entry's own key."""

    entry_key: str
    url: str
    published_at: datetime | None = None
    title: str | None = None
    summary: str | None = None
    authors: tuple[str, ...] = ()


@dataclass
class Discovery:
    """What a source offered: the candidates in the window, and an account of everything else."""

    candidates: list[Candidate] = field(default_factory=list)
    outside_window: int = 0  # entries whose source date is outside the window (not fetched)
    documents: int = 0  # sitemaps or feed pages read
    sitemaps_skipped: int = 0  # child sitemaps not modified since the window began
    problems: list[tuple[str, str]] = field(default_factory=list)  # (url, reason): documents not read
    _keys: set[str] = field(default_factory=set, repr=False)

    def offer(self, candidate: Candidate, window: Window | None) -> None:
        if candidate.entry_key in self._keys:
            return
        if window is not None and candidate.published_at is not None and not window.contains(candidate.published_at):
            self.outside_window += 1
            return
        self._keys.add(candidate.entry_key)
        self.candidates.append(candidate)


# --- sitemap documents -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SitemapLink:
    """A `<url>` of a urlset, or a `<sitemap>` of an index."""

    loc: str
    lastmod: datetime | None = None
    published_at: datetime | None = None  # news:publication_date
    title: str | None = None  # news:title

    @property
    def date(self) -> datetime | None:
        return self.published_at or self.lastmod


@dataclass(frozen=True)
class Sitemap:
    url: str
    is_index: bool
    links: tuple[SitemapLink, ...]


def parse_w3c_datetime(value: str | None) -> datetime | None:
    """A sitemap date (W3C datetime: `2026-03`, `2026-03-01`, `2026-03-01T10:00Z`...) in UTC, or None."""
    if not value:
        return None
    text = value.strip()
    if len(text) == 4 and text.isdigit():
        text += "-01-01"
    elif len(text) == 7 and text[4] == "-":
        text += "-01"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return _utc(parsed)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child_text(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name:
            text = (child.text or "").strip()
            return text or None
    return None


def _news_fields(element: Element) -> tuple[datetime | None, str | None]:
    for child in element:
        if _local(child.tag) == "news":
            return parse_w3c_datetime(_child_text(child, "publication_date")), _child_text(child, "title")
    return None, None


def inflate(body: bytes, *, max_bytes: int) -> bytes:
    """A gzip body inflated in small steps, refusing past `max_bytes`; other bodies come back as they are."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    decoder = zlib.decompressobj(wbits=31)
    out = bytearray()
    pending = body
    try:
        while pending:
            out += decoder.decompress(pending, _INFLATE_STEP)
            if len(out) > max_bytes:
                raise NotASitemapError(f"gzipped sitemap inflates past {max_bytes} bytes")
            pending = decoder.unconsumed_tail
            if decoder.eof:
                break
    except zlib.error as exc:
        raise NotASitemapError(f"broken gzip: {exc}") from None
    return bytes(out)


def parse_sitemap(body: bytes, *, url: str, max_bytes: int = 50_000_000) -> Sitemap:
    """A sitemap (`<urlset>`) or sitemap index (`<sitemapindex>`); locations resolved against `url`."""
    data = inflate(body, max_bytes=max_bytes)
    try:
        root = fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise NotASitemapError(f"refused: {type(exc).__name__} (entities and DTDs are never expanded)") from None
    except ParseError as exc:
        looked_like = "an HTML page" if b"<html" in data[:2048].lower() else "not XML"
        raise NotASitemapError(f"not a sitemap ({looked_like}: {exc})") from None
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise NotASitemapError(f"not a sitemap (root element <{kind}>)")
    child_name = "url" if kind == "urlset" else "sitemap"
    links: list[SitemapLink] = []
    for element in root:
        if _local(element.tag) != child_name:
            continue
        loc = _child_text(element, "loc")
        if not loc:
            continue
        absolute = urljoin(url, loc)
        if urlsplit(absolute).scheme.lower() not in ("http", "https"):
            continue
        published, title = _news_fields(element)
        links.append(
            SitemapLink(
                loc=absolute,
                lastmod=parse_w3c_datetime(_child_text(element, "lastmod")),
                published_at=published,
                title=title,
            )
        )
    return Sitemap(url=url, is_index=kind == "sitemapindex", links=tuple(links))


def is_site_root(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path in ("", "/") and not parts.query


def discover_sitemaps(fetcher: Fetcher, site: str) -> list[str]:
    """The sitemaps a site names in its robots.txt; else its usual sitemap paths that answer."""
    parts = urlsplit(site)
    origin = f"{parts.scheme}://{parts.netloc}"
    try:
        robots = fetcher.get(f"{origin}/robots.txt")
    except FetchError:
        robots = None
    if robots is not None:
        named = list(Protego.parse(robots.body.decode("utf-8", errors="replace")).sitemaps)
        if named:
            return [urljoin(origin + "/", url) for url in dict.fromkeys(named)]
    return [origin + path for path in DEFAULT_SITEMAP_PATHS]


def sitemap_candidates(
    fetcher: Fetcher,
    site: str,
    window: Window,
    *,
    max_documents: int = MAX_SITEMAP_DOCUMENTS,
    max_depth: int = MAX_SITEMAP_DEPTH,
    max_bytes: int = 50_000_000,
) -> Discovery:
    """Pages in the window from a site's sitemaps (`site` is its root) or from one sitemap (`site` is it)."""
    discovery = Discovery()
    found_by_guess = is_site_root(site)
    starts = discover_sitemaps(fetcher, site) if found_by_guess else [site]
    queue: list[tuple[str, int]] = [(url, 0) for url in starts]
    seen: set[str] = set()
    read_any = False
    while queue and discovery.documents < max_documents:
        url, depth = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        try:
            page = fetcher.get(url)
            sitemap = parse_sitemap(page.body, url=page.final_url, max_bytes=max_bytes)
        except FetchError as exc:
            discovery.problems.append((url, exc.reason))
            continue
        except NotASitemapError as exc:
            discovery.problems.append((url, str(exc)))
            continue
        read_any = True
        discovery.documents += 1
        if sitemap.is_index:
            for link in sitemap.links:
                if link.lastmod is not None and window.is_before(link.lastmod):
                    discovery.sitemaps_skipped += 1
                elif depth + 1 > max_depth:
                    discovery.problems.append((link.loc, f"sitemap index nested deeper than {max_depth}"))
                else:
                    queue.append((link.loc, depth + 1))
            continue
        for link in sitemap.links:
            discovery.offer(
                Candidate(entry_key=link.loc, url=link.loc, published_at=link.date, title=link.title), window
            )
    if queue:
        discovery.problems.append((queue[0][0], f"stopped after {max_documents} sitemap documents"))
    if found_by_guess and read_any:
        # The usual paths that do not exist are not problems when another one answered.
        discovery.problems = [(url, why) for url, why in discovery.problems if url not in starts]
    return discovery


# --- paginated feeds ---------------------------------------------------------------------------------------


def page_url(feed_url: str, parameter: str, number: int) -> str:
    """`feed_url` with `parameter=number` set in its query (replacing any value it had)."""
    parts = urlsplit(feed_url)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != parameter]
    query.append((parameter, str(number)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _feed_page(fetcher: Fetcher, url: str) -> tuple[FeedEntry, ...]:
    page = fetcher.get(url)
    return parse_feed(
        page.body, url=page.final_url, content_type=page.content_type, limit=MAX_ENTRIES_PER_FEED_PAGE
    ).entries


def _offer_entries(discovery: Discovery, entries: Iterable[FeedEntry], window: Window) -> None:
    for entry in entries:
        if entry.url is None:
            continue
        discovery.offer(
            Candidate(
                entry_key=entry.entry_key,
                url=entry.url,
                published_at=entry.published_at,
                title=entry.title,
                summary=entry.summary,
                authors=entry.authors,
            ),
            window,
        )


def _window_passed(entries: Iterable[FeedEntry], window: Window) -> bool:
    """Every dated entry of the page is older than the window (feeds list newest first)."""
    dates = [entry.published_at for entry in entries if entry.published_at is not None]
    return bool(dates) and all(window.is_before(date) for date in dates)


def feed_page_candidates(
    fetcher: Fetcher, feed_url: str, window: Window, *, max_pages: int = MAX_FEED_PAGES
) -> Discovery:
    """Entries in the window from a feed and its older pages (`?paged=N` or `?page=N`)."""
    discovery = Discovery()
    try:
        entries = _feed_page(fetcher, feed_url)
    except (FetchError, NotAFeedError) as exc:
        discovery.problems.append((feed_url, exc.reason if isinstance(exc, FetchError) else str(exc)))
        return discovery
    discovery.documents += 1
    _offer_entries(discovery, entries, window)
    keys_before = {entry.entry_key for entry in entries}
    parameter: str | None = None
    number = 2
    while not _window_passed(entries, window) and number <= max_pages:
        tries = [parameter] if parameter else list(PAGE_PARAMETERS)
        next_entries: tuple[FeedEntry, ...] = ()
        for name in tries:
            try:
                candidate_entries = _feed_page(fetcher, page_url(feed_url, name, number))
            except (FetchError, NotAFeedError):
                continue  # past the last page (404), or this site does not paginate with `name`
            if {entry.entry_key for entry in candidate_entries} - keys_before:
                parameter, next_entries = name, candidate_entries
                break
        if not next_entries:
            break
        discovery.documents += 1
        _offer_entries(discovery, next_entries, window)
        keys_before = {entry.entry_key for entry in next_entries}
        entries = next_entries
        number += 1
    return discovery


# --- a file of URLs ----------------------------------------------------------------------------------------


def read_url_file(path: Path) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Candidates from a file of URLs, one a line; blank lines and `#` comments are skipped.
    Lines that are not http(s) URLs come back as (line, reason)."""
    candidates: list[Candidate] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = urlsplit(line)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            problems.append((line, f"line {number}: not an http(s) URL"))
            continue
        if line not in seen:
            seen.add(line)
            candidates.append(Candidate(entry_key=line, url=line))
    return candidates, problems


def url_file_candidates(path: Path, window: Window) -> Discovery:
    discovery = Discovery()
    candidates, problems = read_url_file(path)
    discovery.documents = 1
    discovery.problems.extend(problems)
    for candidate in candidates:
        discovery.offer(candidate, window)
    return discovery
