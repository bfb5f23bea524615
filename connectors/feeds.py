"""Poll one source: an RSS, Atom or JSON Feed (conditional GET through the safe fetcher, the bytes parsed here),
or a query source (`gdelt:<query>`, connectors/gdelt.py); entries out, with what the answer said about when to
poll again (transforms/schedule.py).

feedparser is only ever given `io.BytesIO(body)`: handed a string or a path it would read local files.
Documents that declare XML entities (billion laughs, external entities, DTD fetches) are refused unparsed.
The check reads the whole document twice: as sent, and as feedparser hands it to the XML parser after its own
decoding (UTF-16, UTF-7 and EBCDIC hide `<!ENTITY` from a byte search, and a long comment before the DOCTYPE
hides it from a search of the first bytes only).
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.encodings import convert_to_utf8
from feedparser.util import FeedParserDict

from connectors.http import Fetcher, FetchError, RetryableFetchError
from transforms.schedule import PollBounds, PollSignals, entries_last_week, freshness, rss_ttl

# An entity declaration is how every XML expansion attack starts; feeds don't need them. The whole document is
# searched: comments may push the DOCTYPE arbitrarily far from the start.
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
# Named in the reason given for a well-formed document that is no feed (CDF, RSS 1.1, a sitemap...).
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][\w:.\-]{0,63})")


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed: what the ledger keys on and what extraction may use as hints."""

    entry_key: str
    url: str | None
    title: str | None
    summary: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    problem: str | None = None  # why this entry cannot be fetched (no link, javascript: link...)
    outlet: str | None = None  # an aggregator's item names its outlet (<source url=...>Outlet</source>)


@dataclass(frozen=True)
class FeedPoll:
    url: str
    status: str  # "ok" | "not modified" | "failed"
    entries: tuple[FeedEntry, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    retry_after: float | None = None
    warning: str | None = None  # a malformed but readable feed says what was wrong
    title: str | None = None
    ttl_minutes: int | None = None  # RSS <ttl>
    signals: PollSignals | None = None  # what the answer said about when to poll again


@dataclass(frozen=True)
class SourceOptions:
    """What polling needs from the settings: query-source endpoints and adaptive polling's bounds."""

    gdelt_url: str = "https://api.gdeltproject.org"
    gdelt_enabled: bool = True
    poll_bounds: PollBounds = PollBounds()


class NotAFeedError(ValueError):
    """The body is not a feed feedparser can read; the message says what it looked like."""


def _struct_to_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _entry_link(entry: Any, base_url: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links", []) or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
    if not link:
        return None
    return urljoin(base_url, str(link).strip())


def _authors(entry: Any) -> tuple[str, ...]:
    names: list[str] = []
    for author in entry.get("authors", []) or []:
        name = (author.get("name") or "").strip() if isinstance(author, dict) else ""
        if name and name not in names:
            names.append(name)
    if not names and entry.get("author"):
        names.append(str(entry["author"]).strip())
    return tuple(names)


def parse_feed(body: bytes, *, url: str, content_type: str | None = None, limit: int = 200) -> FeedPoll:
    """Entries of a feed document, newest `limit` first as the feed orders them. Raises NotAFeedError."""
    if _looks_like_json(body, content_type):
        return parse_json_feed(body, url=url, limit=limit)
    # No content-location: feedparser would resolve ids against it; links are resolved here, ids kept as given.
    headers = {"content-type": content_type or "application/xml"}
    if _declares_entities(body, headers):
        raise NotAFeedError("refused: the feed declares XML entities (they are never expanded)")
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, resolve_relative_uris=False)
    if not parsed.get("version") and not parsed.entries:
        looked_like = "an HTML page" if b"<html" in body[:2048].lower() else "not a feed"
        reason = parsed.get("bozo_exception")
        root = _FIRST_ELEMENT.search(body[:4096]) if b"\x00" not in body[:4096] else None
        if reason:
            detail = f": {reason}"
        elif root:
            detail = f": root element <{root.group(1).decode('ascii', 'replace')}>"
        elif body.strip():
            detail = ""
        else:
            detail = ": empty document"
        raise NotAFeedError(f"not an RSS or Atom feed ({looked_like}{detail})")
    entries: list[FeedEntry] = []
    for entry in parsed.entries[:limit]:
        link = _entry_link(entry, url)
        problem = None
        if link is None:
            problem = "entry has no link"
        elif urlsplit(link).scheme.lower() not in ("http", "https"):
            problem = f"entry link has unsupported scheme {urlsplit(link).scheme!r}"
        key = entry.get("id") or link or _fallback_key(entry)
        outlet = _outlet(entry)
        entries.append(
            FeedEntry(
                entry_key=str(key)[:2000],
                url=link if problem is None else None,
                title=_without_outlet(_clean(entry.get("title")), outlet),
                summary=_clean(entry.get("summary")),
                authors=_authors(entry),
                published_at=_struct_to_datetime(entry.get("published_parsed") or entry.get("updated_parsed")),
                problem=problem,
                outlet=outlet,
            )
        )
    warning = None
    if parsed.get("bozo"):
        warning = f"malformed feed, read anyway: {parsed.get('bozo_exception')}"
    return FeedPoll(
        url=url,
        status="ok",
        entries=tuple(entries),
        warning=warning,
        title=_clean(parsed.feed.get("title")),
        ttl_minutes=rss_ttl(parsed.feed.get("ttl")),
    )


def _outlet(entry: Any) -> str | None:
    source = entry.get("source")
    return _clean(source.get("title")) if isinstance(source, dict) else None


def _without_outlet(title: str | None, outlet: str | None) -> str | None:
    """Google News titles end in " - Outlet": the outlet is named apart, the title is the article's own."""
    suffix = f" - {outlet}" if outlet else None
    if title and suffix and title.endswith(suffix) and len(title) > len(suffix):
        return title[: -len(suffix)].rstrip()
    return title


# --- JSON Feed (https://jsonfeed.org/version/1.1, 1.0 read too) ---------------------------------------------


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip()[:1] == b"{"


def parse_json_feed(body: bytes, *, url: str, limit: int = 200) -> FeedPoll:
    """Entries of a JSON Feed. Raises NotAFeedError for JSON that is no JSON Feed."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAFeedError(f"not a JSON Feed (bad JSON: {exc})") from None
    version = document.get("version") if isinstance(document, dict) else None
    if not (isinstance(version, str) and version.startswith("https://jsonfeed.org/version/")):
        raise NotAFeedError("not a JSON Feed (no jsonfeed.org version)")
    items = document.get("items")
    if not isinstance(items, list):
        raise NotAFeedError("not a JSON Feed (no items list)")
    base = document.get("feed_url") if isinstance(document.get("feed_url"), str) else url
    entries = [_json_entry(item, base) for item in items[:limit] if isinstance(item, dict)]
    return FeedPoll(url=url, status="ok", entries=tuple(entries), title=_clean(document.get("title")))


def _json_entry(item: dict[str, Any], base_url: str) -> FeedEntry:
    raw_link = item.get("url") or item.get("external_url")
    link = urljoin(base_url, raw_link.strip()) if isinstance(raw_link, str) and raw_link.strip() else None
    problem = None
    if link is None:
        problem = "entry has no link"
    elif urlsplit(link).scheme.lower() not in ("http", "https"):
        problem = f"entry link has unsupported scheme {urlsplit(link).scheme!r}"
    listed = item.get("authors")
    authors: list[Any] = listed if isinstance(listed, list) else [item.get("author")]  # 1.0 had one "author"
    names = tuple(
        dict.fromkeys(_clean(a.get("name")) for a in authors if isinstance(a, dict) and _clean(a.get("name")))
    )
    key = item.get("id") if item.get("id") not in (None, "") else link
    material = json.dumps(item, sort_keys=True, default=str).encode()
    return FeedEntry(
        entry_key=str(key)[:2000] if key else "sha256:" + hashlib.sha256(material).hexdigest(),
        url=link if problem is None else None,
        title=_clean(item.get("title")),
        summary=_clean(item.get("summary") or item.get("content_text")),
        authors=tuple(name for name in names if name),
        published_at=_rfc3339(item.get("date_published") or item.get("date_modified")),
        problem=problem,
    )


def _rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _declares_entities(body: bytes, headers: dict[str, str]) -> bool:
    """True if the document, as sent or as feedparser's XML parser will read it, declares an entity."""
    if _ENTITY_DECLARATION.search(body):
        return True
    try:
        # The conversion feedparser.parse applies before its SAX parser sees the bytes.
        as_parsed = convert_to_utf8(dict(headers), body, FeedParserDict(bozo=False, headers={}))
    except Exception:  # feedparser's own decoding fails the same way inside parse(), which reports it
        return False
    return _ENTITY_DECLARATION.search(as_parsed) is not None


def _clean(value: Any) -> str | None:
    if not value:
        return None
    text = " ".join(str(value).split())
    return text or None


def _fallback_key(entry: Any) -> str:
    material = f"{entry.get('title', '')}|{entry.get('published', '')}|{entry.get('summary', '')}"
    return "sha256:" + hashlib.sha256(material.encode("utf-8", "replace")).hexdigest()


def poll_feed(
    fetcher: Fetcher,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limit: int = 200,
    since: datetime | None = None,
    options: SourceOptions | None = None,
) -> FeedPoll:
    """Fetch and parse one source. Never raises for the source's own faults: they come back as "failed".

    `since`: when the source last answered (a query source asks only for what is newer)."""
    options = options or SourceOptions()
    if url.startswith(GDELT_PREFIX):
        from connectors.gdelt import poll_gdelt

        return poll_gdelt(fetcher, url, since=since, options=options, limit=limit)
    try:
        page = fetcher.get(url, etag=etag, last_modified=last_modified)
    except RetryableFetchError as exc:
        return FeedPoll(url=url, status="failed", error=exc.reason, retry_after=exc.retry_after)
    except FetchError as exc:
        return FeedPoll(url=url, status="failed", error=exc.reason)
    now = datetime.now(UTC)
    fresh = freshness(page.headers, now)
    signals = PollSignals(
        bounds=options.poll_bounds,
        fresh_for=fresh[0] if fresh else None,
        fresh_source=fresh[1] if fresh else None,
    )
    if page.status == 304:
        return FeedPoll(url=url, status="not modified", etag=etag, last_modified=last_modified, signals=signals)
    try:
        poll = parse_feed(page.body, url=page.final_url, content_type=page.content_type, limit=limit)
    except NotAFeedError as exc:
        return FeedPoll(url=url, status="failed", error=str(exc))
    counted = entries_last_week((entry.published_at for entry in poll.entries), now)
    return replace(
        poll,
        url=url,
        etag=page.etag,
        last_modified=page.last_modified,
        signals=replace(signals, entries_last_week=counted, ttl_minutes=poll.ttl_minutes),
    )


# A query source's feed row: `gdelt:<query>` (connectors/gdelt.py builds the API request from it).
GDELT_PREFIX = "gdelt:"
