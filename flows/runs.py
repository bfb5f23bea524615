"""A run's summary and the feeds it must poll, decided without Prefect.

`rare-news run` asks `run_if_nothing_due` first: when no feed is due (all backing off or polled at their
pace, or none configured), the run is recorded and summarised here in about a second, and Prefect (whose
ephemeral server takes 10 to 20 s to start) is never imported. Otherwise the ingest flow runs as before.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flows.settings import FeedSpec, Settings, load_feeds_file
from flows.watches import WatchReport
from models import store
from models.ops import FeedClaims
from models.store import BatchResult, FeedRow

# Articles stored in a run after which the store's planner statistics are refreshed: a run that fills a new
# database would otherwise look up stories with plans made for empty tables (models.store.refresh_statistics).
STATISTICS_AT = (50, 250, 1_000, 5_000, 25_000, 125_000)


@dataclass(kw_only=True)
class LoadCounts:
    """What the loads of a run did, load by load (shared by ingest and backfill summaries)."""

    articles_stored: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    irrelevant: int = 0
    failed: int = 0

    def add_batch(self, result: BatchResult) -> bool:
        """Count a load; True when the store should refresh its planner statistics now (the articles
        stored by this run have crossed one of STATISTICS_AT)."""
        before = self.articles_stored
        self.articles_stored += result.stored
        self.duplicates += result.duplicates
        self.near_duplicates += result.near_duplicates
        self.irrelevant += result.irrelevant
        self.failed += result.failed
        return any(before < mark <= self.articles_stored for mark in STATISTICS_AT)


@dataclass
class RunSummary(LoadCounts):
    run_id: int | None = None
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    feeds_not_due: int = 0
    entries_new: int = 0
    pages_fetched: int = 0
    feed_errors: list[tuple[str, str]] = field(default_factory=list)
    article_ids: list[int] = field(default_factory=list)  # stored by this run
    watch_matches: list[WatchReport] = field(default_factory=list)  # flows/watches.py

    def run_counts(self) -> dict[str, int]:
        keys = [
            "feeds_polled",
            "feeds_not_modified",
            "feeds_failed",
            "entries_new",
            "pages_fetched",
            "articles_stored",
            "duplicates",
            "near_duplicates",
            "irrelevant",
            "failed",
        ]
        return {key: getattr(self, key) for key in keys}

    def add_batch(self, result: BatchResult) -> bool:
        self.article_ids.extend(result.article_ids)
        return super().add_batch(result)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_feeds(engine: Any, settings: Settings, feeds_file: Path | None) -> list[FeedRow]:
    """The feeds of FEEDS_FILE only, when given; else the configured feeds plus those added with `feeds add`."""
    specs: list[FeedSpec] = load_feeds_file(feeds_file or settings.feeds_path)
    store.upsert_feeds(engine, [(spec.url, spec.name, spec.topical) for spec in specs])
    return store.feeds_to_poll(engine, [spec.url for spec in specs] if feeds_file else None)


def due_feeds(feeds: list[FeedRow], force: bool, summary: RunSummary) -> list[FeedRow]:
    """Feeds backing off after failures wait for their next_poll_at, unless forced."""
    now = datetime.now(UTC)
    due = [feed for feed in feeds if force or feed.next_poll_at is None or utc(feed.next_poll_at) <= now]
    summary.feeds_not_due = len(feeds) - len(due)
    return due


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def run_if_nothing_due(settings: Settings, feeds_file: Path | None, force: bool) -> RunSummary | None:
    """Record and return a run that had nothing to poll; None when some feed is due (the flow's work)."""
    if force:
        return None
    from flows.common import prepare_store

    engine = prepare_store(settings)
    feeds = select_feeds(engine, settings, feeds_file)
    summary = RunSummary()
    if due_feeds(feeds, force, summary):
        return None
    claims = FeedClaims(engine)
    summary.run_id = store.start_run(engine, "ingest", before_commit=claims.hold_run)
    try:
        store.finish_run(engine, summary.run_id, status="completed", counts=summary.run_counts())
    finally:
        claims.release()
    return summary
