"""A query source: the GDELT DOC 2.0 API (worldwide news in 65 languages, direct publisher URLs).

A `[[feeds]]` table with `kind = "gdelt"` and a `query` becomes the feed row `gdelt:<query>`. Each poll asks
`/api/v2/doc/doc?query=...&mode=artlist&format=json&maxrecords=250&sort=datedesc&timespan=<minutes>min` for the
time since the source last answered (a day on the first poll; never less than GDELT's 15-minute update cycle,
never more than its 3-month window), through the guarded Fetcher. GDELT allows one request per 5 seconds per
client: requests to one API host are spaced that far apart. Its errors arrive as plain text, often with status
200; they become the source's failure reason, like a feed's.
"""

from __future__ import annotations

import json
import math
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from connectors.feeds import GDELT_PREFIX, FeedEntry, FeedPoll, SourceOptions
from connectors.http import Fetcher, FetchError, RetryableFetchError
from transforms.schedule import PollSignals, as_utc, entries_last_week

DOC_API_PATH = "/api/v2/doc/doc"
MAX_RECORDS = 250  # the API's own maximum per request
REQUEST_INTERVAL = 5.0  # seconds between two requests: GDELT's published rate limit
FIRST_TIMESPAN = timedelta(days=1)
MIN_TIMESPAN = timedelta(minutes=15)  # GDELT updates every 15 minutes
MAX_TIMESPAN = timedelta(days=90)  # the DOC API searches a rolling 3-month window
OVERLAP = timedelta(minutes=5)  # a little of the previous window again: the ledger drops what is done


class _Pace:
    """At most one request per `interval` to each API host, across the threads that poll feeds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, host: str, interval: float) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next.get(host, 0.0))
            self._next[host] = start + interval
        if start > now:
            time.sleep(start - now)


_PACE = _Pace()


def source_url(query: str) -> str:
    """The feed row key of a GDELT query source."""
    return f"{GDELT_PREFIX}{query.strip()}"


def timespan(since: datetime | None, now: datetime) -> str:
    """The DOC API `timespan` covering the time since the last answer (a day the first time)."""
    span = FIRST_TIMESPAN if since is None else now - as_utc(since) + OVERLAP
    span = min(max(span, MIN_TIMESPAN), MAX_TIMESPAN)
    return f"{math.ceil(span.total_seconds() / 60)}min"


def request_url(base_url: str, query: str, span: str) -> str:
    params = {
        "query": query,
        "mode": "artlist",
        "format": "json",
        "maxrecords": str(MAX_RECORDS),
        "sort": "datedesc",
        "timespan": span,
    }
    return f"{base_url.rstrip('/')}{DOC_API_PATH}?{urlencode(params)}"


def parse_artlist(body: bytes, *, url: str, limit: int = MAX_RECORDS) -> tuple[FeedEntry, ...]:
    """Entries of an artlist answer. Raises ValueError with GDELT's own words when it is not one."""
    text = body.decode("utf-8", "replace").strip()
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        said = " ".join(text.split())[:200] or "an empty body"
        raise ValueError(f"GDELT answered with no JSON: {said}") from None
    if not isinstance(document, dict):
        raise ValueError("GDELT answered JSON that is not an artlist object")
    articles = document.get("articles", [])  # no match at all comes back as {}
    if not isinstance(articles, list):
        raise ValueError("GDELT artlist 'articles' is not a list")
    entries: list[FeedEntry] = []
    for article in articles[:limit]:
        entry = _entry(article)
        if entry is not None:
            entries.append(entry)
    return tuple(entries)


def _entry(article: Any) -> FeedEntry | None:
    if not isinstance(article, dict):
        return None
    link = article.get("url")
    if not isinstance(link, str) or urlsplit(link).scheme.lower() not in ("http", "https"):
        return None
    title = " ".join(str(article.get("title") or "").split()) or None
    domain = article.get("domain")
    return FeedEntry(
        entry_key=link[:2000],
        url=link,
        title=title,
        summary=None,
        authors=(),
        published_at=_seendate(article.get("seendate")),
        outlet=domain if isinstance(domain, str) and domain else None,
    )


def _seendate(value: Any) -> datetime | None:
    """GDELT's `seendate`: 20260102T103000Z."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def poll_gdelt(
    fetcher: Fetcher,
    url: str,
    *,
    since: datetime | None,
    options: SourceOptions,
    limit: int = MAX_RECORDS,
    interval: float = REQUEST_INTERVAL,
) -> FeedPoll:
    """One poll of a GDELT query source (`gdelt:<query>`). Never raises for GDELT's faults."""
    query = url[len(GDELT_PREFIX) :].strip()
    if not options.gdelt_enabled:
        return FeedPoll(url=url, status="failed", error="GDELT is turned off (RARE_NEWS_GDELT_ENABLED=false)")
    if not query:
        return FeedPoll(url=url, status="failed", error="GDELT source has an empty query")
    now = datetime.now(UTC)
    asked = request_url(options.gdelt_url, query, timespan(since, now))
    _PACE.wait(urlsplit(asked).netloc, interval)
    try:
        page = fetcher.get(asked)
    except RetryableFetchError as exc:
        reason = "GDELT rate limit: " + exc.reason if exc.status == 429 else "GDELT: " + exc.reason
        return FeedPoll(url=url, status="failed", error=reason, retry_after=exc.retry_after)
    except FetchError as exc:
        return FeedPoll(url=url, status="failed", error=f"GDELT: {exc.reason}")
    try:
        entries = parse_artlist(page.body, url=asked, limit=min(limit, MAX_RECORDS))
    except ValueError as exc:
        return FeedPoll(url=url, status="failed", error=str(exc))
    counted = entries_last_week((entry.published_at for entry in entries), now)
    signals = PollSignals(bounds=options.poll_bounds, entries_last_week=counted)
    return FeedPoll(url=url, status="ok", entries=entries, title=f"GDELT: {query}", signals=signals)
