"""Adaptive polling: when a feed that answered is next due, and why. Pure: numbers and dates in, a decision out.

The model is Miniflux's entry-frequency scheduler: a feed is polled every week / (entries it published in the
last week), bounded by a minimum and a maximum, so a feed that posts weekly is not polled every 30 minutes;
a feed with nothing in the last week waits the maximum. What the feed itself asks for (RSS `<ttl>`, HTTP
`Cache-Control: max-age`, `Expires`) lengthens the interval, never shortens it; the maximum caps everything, so a
misconfigured feed asking for a year is still polled daily.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

WEEK = timedelta(days=7)
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class PollBounds:
    """Seconds between two polls of a feed that answers. max_interval 0 turns adaptive polling off."""

    min_interval: float = 10 * 60.0
    max_interval: float = 24 * 3600.0

    @property
    def adaptive(self) -> bool:
        return self.max_interval > 0


@dataclass(frozen=True)
class PollSignals:
    """What one poll said about when to come back."""

    bounds: PollBounds
    entries_last_week: int | None = None  # None: the poll had no entries to count (304)
    ttl_minutes: int | None = None  # RSS <ttl>
    fresh_for: float | None = None  # seconds, from Cache-Control max-age or Expires
    fresh_source: str | None = None  # which of the two, as the reason shows it


@dataclass(frozen=True)
class NextPoll:
    seconds: float
    reason: str


def entries_last_week(published: Iterable[datetime | None], now: datetime) -> int:
    """Entries dated within the week before `now` (undated ones are not counted)."""
    since = now - WEEK
    return sum(1 for when in published if when is not None and since <= as_utc(when) <= now + timedelta(hours=1))


def freshness(headers: Mapping[str, str], now: datetime) -> tuple[float, str] | None:
    """How long the response says it stays fresh: Cache-Control max-age, else Expires (minus Date or now)."""
    cache_control = headers.get("cache-control", "")
    if "no-cache" in cache_control.lower() or "no-store" in cache_control.lower():
        return None
    match = _MAX_AGE.search(cache_control)
    if match:
        return float(match.group(1)), f"Cache-Control max-age={match.group(1)}"
    expires = headers.get("expires")
    if expires:
        try:
            when = parsedate_to_datetime(expires)
            date = parsedate_to_datetime(headers["date"]) if headers.get("date") else now
        except (TypeError, ValueError, IndexError):
            return None
        seconds = (as_utc(when) - as_utc(date)).total_seconds()
        if seconds > 0:
            return seconds, f"Expires {expires}"
    return None


def rss_ttl(value: object) -> int | None:
    """An RSS <ttl> in minutes, or None when absent or not a positive number."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if minutes > 0 else None


def next_poll(signals: PollSignals, *, previous_interval: float | None = None) -> NextPoll:
    """Seconds until the feed is due again, and the reason `feeds list` shows."""
    bounds = signals.bounds
    if signals.entries_last_week is None:  # nothing to count (304): keep the pace the feed last had
        interval = previous_interval if previous_interval is not None else bounds.min_interval
        reason = f"not modified; keeps its pace of {_duration(interval)}"
    elif signals.entries_last_week == 0:
        interval, reason = bounds.max_interval, "published nothing in the last week"
    else:
        interval = WEEK.total_seconds() / signals.entries_last_week
        reason = f"published {signals.entries_last_week} entries in the last week"
    if interval < bounds.min_interval:
        interval, reason = bounds.min_interval, f"{reason}; at most every {_duration(bounds.min_interval)}"
    asked: list[tuple[float, str]] = []
    if signals.ttl_minutes:
        asked.append((signals.ttl_minutes * 60.0, f"RSS ttl {signals.ttl_minutes} min"))
    if signals.fresh_for:
        asked.append((signals.fresh_for, signals.fresh_source or "fresh for a while"))
    for seconds, why in asked:
        if seconds > interval:
            interval, reason = seconds, why
    if interval > bounds.max_interval:
        interval, reason = bounds.max_interval, f"{reason}; capped at {_duration(bounds.max_interval)}"
    return NextPoll(interval, reason)


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"


def as_utc(value: datetime) -> datetime:
    """Aware UTC (a naive time is taken as UTC, as the store keeps it)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
