"""The scheduled ingestion flow: poll feeds, fetch new entries, extract, keep rare-earth articles, load.

Tasks work on batches (all feeds in one poll task; pages in batches of `batch_size`), never one per article.
Network steps retry inside the connectors; loads are idempotent upserts, so at-least-once is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.utilities.annotations import quote

from connectors.feeds import FeedEntry, FeedPoll, poll_feed
from connectors.http import Fetcher
from connectors.pages import PageFetch, fetch_pages
from flows.common import (
    end_steady_memory,
    load_taxonomy,
    prepare_store,
    relevance_threshold,
    return_free_memory,
    start_steady_memory,
)
from flows.executor import default_workers, judge_pages, shutdown_pool
from flows.progress import Reporter
from flows.settings import FeedSpec, Settings, get_settings, load_feeds_file
from flows.watches import WatchReport, after_run
from models import store
from models.ops import FeedClaims, close_abandoned_runs
from models.store import BatchResult, EntryOutcome, FeedRow, FeedUpdate
from models.templates import load_templates
from transforms.extract import EntryHints
from transforms.pipeline import Decision, PageInput, attach_page, learn_site_templates
from transforms.relevance import entry_looks_relevant
from transforms.tag import Taxonomy
from transforms.templates import SiteTemplate, template_site

T = TypeVar("T")


def unwalked(value: T) -> T:
    """Hand a task a value Prefect passes through as is: it would otherwise walk every page, entry and
    taxonomy term looking for futures (about a tenth of the flow process's CPU per page in `make bench`)."""
    return cast(T, quote(value))


@dataclass(frozen=True)
class WorkItem:
    """One entry this run must deal with: fetch it, or just record a decision already made."""

    feed: FeedRow
    entry: FeedEntry
    decided: EntryOutcome | None = None


# Articles stored in a run after which the store's planner statistics are refreshed: a run that fills a new
# database would otherwise look up stories with plans made for empty tables (models.store.refresh_statistics).
STATISTICS_AT = (50, 250, 1_000, 5_000, 25_000, 125_000)


@dataclass(kw_only=True)
class LoadCounts:
    """What the loads of a run did, batch by batch (shared by ingest and backfill summaries)."""

    articles_stored: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    irrelevant: int = 0
    failed: int = 0

    def add_batch(self, result: BatchResult) -> bool:
        """Count a batch's load; True when the store should refresh its planner statistics now (the articles
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


# --- tasks -------------------------------------------------------------------------------------------------


@task(name="poll-feeds", cache_policy=NO_CACHE)
def poll_feeds(fetcher: Fetcher, feeds: Sequence[FeedRow], settings: Settings) -> list[FeedPoll]:
    from concurrent.futures import ThreadPoolExecutor

    def one(feed: FeedRow) -> FeedPoll:
        return poll_feed(
            fetcher,
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            limit=settings.max_entries_per_feed,
        )

    if not feeds:
        return []
    with ThreadPoolExecutor(max_workers=min(settings.feed_concurrency, len(feeds))) as pool:
        return list(pool.map(one, feeds))


@task(name="fetch-pages", cache_policy=NO_CACHE)
def fetch_batch(fetcher: Fetcher, urls: Sequence[str], settings: Settings, reporter: Reporter) -> list[PageFetch]:
    """Article pages, politely and with retries on passing errors (connectors/pages.py); never raises for a page."""
    return fetch_pages(
        fetcher,
        urls,
        concurrency=settings.fetch_concurrency,
        retries=settings.fetch_retries,
        check_robots=settings.respect_robots,
        on_done=lambda _: reporter.advance(),
    )


@task(name="extract-and-judge", cache_policy=NO_CACHE)
def judge_batch(pages: list[PageInput], taxonomy: Taxonomy, threshold: float, workers: int) -> list[Decision]:
    return judge_pages(pages, taxonomy=taxonomy, threshold=threshold, workers=workers)


@task(name="load-batch", cache_policy=NO_CACHE)
def load_batch(
    engine: Any,
    outcomes: list[EntryOutcome],
    updates: list[FeedUpdate],
    near_threshold: float,
    site_templates: dict[str, str] | None = None,
) -> BatchResult:
    return store.load_batch(
        engine,
        outcomes=outcomes,
        feed_updates=updates,
        near_threshold=near_threshold,
        site_templates=site_templates,
    )


# --- planning: which entries need work (pure orchestration over the ledger) --------------------------------


def _hints(entry: FeedEntry) -> EntryHints:
    return EntryHints(title=entry.title, authors=entry.authors, published_at=entry.published_at, summary=entry.summary)


def plan_work(engine: Any, feed: FeedRow, poll: FeedPoll, taxonomy: Taxonomy, settings: Settings) -> list[WorkItem]:
    """Entries of one polled feed that are not done yet, plus earlier failures still worth a retry."""
    entries = list(poll.entries)
    states = store.entry_states(engine, feed.id, [entry.entry_key for entry in entries])
    # Only failures that may pass (timeouts, 5xx, 429) are tried again, and only up to max_entry_attempts; a
    # final one (404, too large, a bomb, refused) keeps its status and reason and is not fetched again.
    retryable = store.failed_entries(engine, feed.id, settings.max_entry_attempts)
    may_pass = {entry_key for entry_key, _, _ in retryable}
    items: list[WorkItem] = []
    seen_now: set[str] = set()
    for entry in entries:
        if entry.entry_key in seen_now:
            continue
        seen_now.add(entry.entry_key)
        status, _ = states.get(entry.entry_key, ("new", 0))
        if status in store.DONE_STATUSES or (status == "failed" and entry.entry_key not in may_pass):
            continue
        items.append(WorkItem(feed, entry, _decide_without_fetching(feed, entry, taxonomy)))
    for entry_key, url, title in retryable:
        if entry_key not in seen_now:
            retry = FeedEntry(entry_key=entry_key, url=url, title=title, summary=None, authors=(), published_at=None)
            items.append(WorkItem(feed, retry))
    return items


def _decide_without_fetching(feed: FeedRow, entry: FeedEntry, taxonomy: Taxonomy) -> EntryOutcome | None:
    if entry.problem is not None:
        return EntryOutcome(feed.id, entry.entry_key, entry.url, entry.title, "failed", entry.problem)
    if not feed.topical and not entry_looks_relevant(taxonomy, title=entry.title or "", summary=entry.summary or ""):
        reason = "title and summary say nothing about rare earths (general feed; page not fetched)"
        return EntryOutcome(feed.id, entry.entry_key, entry.url, entry.title, "irrelevant", reason)
    return None


def _feed_update(poll: FeedPoll, feed: FeedRow) -> FeedUpdate:
    return FeedUpdate(
        feed_id=feed.id,
        status=poll.status,
        error=poll.error,
        etag=poll.etag,
        last_modified=poll.last_modified,
        retry_after=poll.retry_after,
    )


def _outcomes(
    items: list[WorkItem], fetched: dict[int, PageFetch], decisions: dict[int, Decision]
) -> list[EntryOutcome]:
    outcomes: list[EntryOutcome] = []
    for index, item in enumerate(items):
        entry, feed = item.entry, item.feed
        if item.decided is not None:
            outcomes.append(item.decided)
        elif fetched[index].page is None:
            result = fetched[index]
            outcomes.append(
                EntryOutcome(
                    feed.id,
                    entry.entry_key,
                    entry.url,
                    entry.title,
                    "failed",
                    result.error,
                    retryable=result.retryable,
                )
            )
        else:
            decision = decisions[index]
            status = "loaded" if decision.record is not None else decision.status
            outcomes.append(
                EntryOutcome(feed.id, entry.entry_key, entry.url, entry.title, status, decision.reason, decision.record)
            )
    return outcomes


def _select_feeds(engine: Any, settings: Settings, feeds_file: Path | None) -> list[FeedRow]:
    """The feeds of FEEDS_FILE only, when given; else the configured feeds plus those added with `feeds add`."""
    specs: list[FeedSpec] = load_feeds_file(feeds_file or settings.feeds_path)
    store.upsert_feeds(engine, [(spec.url, spec.name, spec.topical) for spec in specs])
    return store.feeds_to_poll(engine, [spec.url for spec in specs] if feeds_file else None)


# --- the flow ------------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    """A batch whose pages are being judged while the next batch is fetched."""

    items: list[WorkItem]
    fetched: dict[int, PageFetch]
    judged_indexes: list[int]
    decisions: PrefectFuture[list[Decision]]
    feed_updates: list[FeedUpdate]
    pages: list[PageInput]
    templates: dict[str, SiteTemplate | None]


def _plan_run(
    engine: Any,
    feeds: Sequence[FeedRow],
    polls: Sequence[FeedPoll],
    taxonomy: Taxonomy,
    settings: Settings,
    summary: RunSummary,
    reporter: Reporter,
) -> list[WorkItem]:
    """The entries to work on, feed by feed; feeds with nothing to do are recorded at once."""
    work: list[WorkItem] = []
    idle: list[FeedUpdate] = []
    for feed, poll in zip(feeds, polls, strict=True):
        summary.feeds_polled += 1
        if poll.status == "failed":
            summary.feeds_failed += 1
            summary.feed_errors.append((feed.url, poll.error or "failed"))
            reporter.feed_failed(feed.url, poll.error or "failed")
            idle.append(_feed_update(poll, feed))
            continue
        summary.feeds_not_modified += poll.status == "not modified"
        items = plan_work(engine, feed, poll, taxonomy, settings)
        summary.entries_new += len(items)
        if items:
            work.extend(items)
        else:
            idle.append(_feed_update(poll, feed))
    store.record_feed_polls(engine, idle)
    return work


def _validators_due(work: Sequence[WorkItem], polls: dict[int, FeedPoll], offset: int, size: int) -> list[FeedUpdate]:
    """Feeds whose last entry is in work[offset:offset+size]: their new validators load with that batch, so a
    crash before the load means the feed is fetched again, never that an entry is lost."""
    last_index = {item.feed.id: index for index, item in enumerate(work)}
    feed_of = {item.feed.id: item.feed for item in work}
    return [
        _feed_update(polls[feed_id], feed_of[feed_id])
        for feed_id, index in last_index.items()
        if offset <= index < offset + size
    ]


def _start_batch(
    engine: Any,
    fetcher: Fetcher,
    items: list[WorkItem],
    feed_updates: list[FeedUpdate],
    taxonomy: Taxonomy,
    threshold: float,
    settings: Settings,
    summary: RunSummary,
    reporter: Reporter,
) -> _Pending:
    """Fetch a batch's pages now; judging them runs on the task runner while the next batch is fetched."""
    to_fetch = [index for index, item in enumerate(items) if item.decided is None]
    fetched_list = fetch_batch(fetcher, [items[i].entry.url or "" for i in to_fetch], unwalked(settings), reporter)
    fetched = dict(zip(to_fetch, fetched_list, strict=True))
    summary.pages_fetched += sum(1 for result in fetched_list if result.page is not None)
    judged_indexes = [index for index, result in fetched.items() if result.page is not None]
    templates = _site_templates(engine, [fetched[index] for index in judged_indexes])
    pages = [_page_input(items[index], fetched[index], templates) for index in judged_indexes]
    # On Dask, the cluster parallelises across batches: one process per batch there, no pool inside it.
    workers = 1 if settings.runner == "dask" else settings.extract_workers or default_workers()
    if settings.runner == "dask":  # Dask takes quote() (a tuple) apart before Prefect sees it: send plain values
        decisions = judge_batch.submit(pages, taxonomy, threshold, workers)
    else:
        decisions = judge_batch.submit(unwalked(pages), unwalked(taxonomy), threshold, workers)
    return _Pending(items, fetched, judged_indexes, decisions, feed_updates, pages, templates)


def _site_templates(engine: Any, fetched: Sequence[PageFetch]) -> dict[str, SiteTemplate | None]:
    """The stored template of each site in the batch (None where nothing was learned yet)."""
    sites = {template_site(result.page.final_url) for result in fetched if result.page is not None}
    stored = load_templates(engine, sites)
    return {site: SiteTemplate.from_json(stored[site]) if site in stored else None for site in sites}


def _finish_batch(engine: Any, pending: _Pending, settings: Settings, summary: RunSummary) -> None:
    results = pending.decisions.result()
    judged = [attach_page(decision, page) for decision, page in zip(results, pending.pages, strict=True)]
    decisions = dict(zip(pending.judged_indexes, judged, strict=True))
    outcomes = _outcomes(pending.items, pending.fetched, decisions)
    learned = learn_site_templates(pending.templates, list(zip(pending.pages, judged, strict=True)))
    templates = {site: template.to_json() for site, template in learned.items()}
    updates = unwalked(pending.feed_updates)
    result = load_batch(engine, unwalked(outcomes), updates, settings.near_duplicate_threshold, unwalked(templates))
    if summary.add_batch(result):
        store.refresh_statistics(engine)
    return_free_memory()  # the batch's pages are gone: keep the process as small as one batch needs


@flow(name="ingest", validate_parameters=False, log_prints=False)
def ingest(
    feeds_file: Path | None = None,
    settings: Settings | None = None,
    reporter: Reporter | None = None,
    force: bool = False,
) -> RunSummary:
    """One ingestion run over the configured feeds (or FEEDS_FILE's), recorded as a `run` row."""
    start_steady_memory()  # memory stays flat however many pages the run fetches
    settings = settings or get_settings()
    reporter = reporter or Reporter()
    taxonomy = load_taxonomy(settings)
    engine = prepare_store(settings, taxonomy)
    threshold = relevance_threshold(settings)
    claims = FeedClaims(engine)  # another run working on a feed right now keeps it: never fetched twice
    summary = RunSummary(run_id=store.start_run(engine, "ingest", before_commit=claims.hold_run))
    try:
        for run_id in close_abandoned_runs(engine, claims):
            reporter.line(f"run {run_id} was left running by a process that stopped; marked abandoned")
        feeds = _due_feeds(_select_feeds(engine, settings, feeds_file), force, summary)
        feeds = claims.take(feeds, on_busy=lambda feed: reporter.line(f"feed taken by another run now: {feed.url}"))
        with Fetcher(settings.fetch_policy()) as fetcher:
            polls = poll_feeds(fetcher, unwalked(feeds), unwalked(settings))
            work = _plan_run(engine, feeds, polls, taxonomy, settings, summary, reporter)
            poll_of = {feed.id: poll for feed, poll in zip(feeds, polls, strict=True)}
            reporter.start("Fetching articles", sum(1 for item in work if item.decided is None))
            pending: _Pending | None = None
            for offset in range(0, len(work), settings.batch_size):
                items = list(work[offset : offset + settings.batch_size])
                updates = _validators_due(work, poll_of, offset, len(items))
                started = _start_batch(
                    engine, fetcher, items, updates, taxonomy, threshold, settings, summary, reporter
                )
                if pending is not None:
                    _finish_batch(engine, pending, settings, summary)
                pending = started
            if pending is not None:
                _finish_batch(engine, pending, settings, summary)
            reporter.stop()
        summary.watch_matches = after_run(engine, settings, summary.article_ids, run_id=summary.run_id)
    except BaseException as exc:
        store.finish_run(
            engine,
            summary.run_id or 0,
            status="failed",
            counts=summary.run_counts(),
            error=f"{type(exc).__name__}: {exc}",
        )
        raise
    finally:
        claims.release()
        shutdown_pool()
        end_steady_memory()
    store.finish_run(engine, summary.run_id or 0, status="completed", counts=summary.run_counts())
    return summary


def ingest_flow(settings: Settings) -> Any:
    """`ingest` on the task runner `settings.runner` names: threads here, or a Dask cluster (prefect-dask) at
    `settings.dask_address` (a temporary local cluster when unset). Extraction batches are what goes there."""
    if settings.runner != "dask":
        return ingest
    from prefect_dask import DaskTaskRunner

    runner = DaskTaskRunner(address=settings.dask_address) if settings.dask_address else DaskTaskRunner()
    return ingest.with_options(task_runner=runner)  # type: ignore[arg-type]  # its futures are PrefectFutures


def _due_feeds(feeds: list[FeedRow], force: bool, summary: RunSummary) -> list[FeedRow]:
    """Feeds backing off after failures wait for their next_poll_at, unless forced."""
    now = datetime.now(UTC)
    due = [feed for feed in feeds if force or feed.next_poll_at is None or _utc(feed.next_poll_at) <= now]
    summary.feeds_not_due = len(feeds) - len(due)
    return due


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _page_input(item: WorkItem, result: PageFetch, templates: dict[str, SiteTemplate | None]) -> PageInput:
    page = result.page
    assert page is not None
    return PageInput(
        template=templates.get(template_site(page.final_url)),
        url=item.entry.url or page.url,
        final_url=page.final_url,
        body=page.body,
        header_charset=page.charset,
        content_type=page.content_type,
        etag=page.etag,
        last_modified=page.last_modified,
        hints=_hints(item.entry),
        feed_id=item.feed.id,
        origin="feed",
    )
