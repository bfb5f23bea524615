"""The scheduled ingestion flow: poll feeds, fetch new entries, extract, keep rare-earth articles, load.

A table of contents. Feeds are polled many at once; as each poll ends (in the feeds' order), the ledger says
which of its entries need work (transforms/work.py) and their aggregator links are resolved; their pages
stream at once, while other feeds are still being polled: fetched host by host, judged by the extraction
workers as they arrive, loaded in small transactions (flows/streaming.py). Network steps retry inside the
connectors; loads are idempotent upserts, so at-least-once is harmless.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from connectors.feeds import FeedPoll, poll_feed
from connectors.http import Fetcher
from flows.common import (
    end_steady_memory,
    load_taxonomy,
    prepare_store,
    relevance_threshold,
    return_free_memory,
    start_steady_memory,
)
from flows.executor import default_workers, judge_pages, shutdown_pool, submit_judging
from flows.metrics import FetchStats
from flows.progress import Reporter
from flows.runs import STATISTICS_AT, LoadCounts, RunSummary, due_feeds, select_feeds  # noqa: F401 - also named here
from flows.settings import Settings, get_settings
from flows.sources import link_resolver, resolve_links
from flows.streaming import Arrival, JudgeFn, StreamLimits, StreamWork, stream_work
from flows.watches import after_run
from models import store
from models.ops import FeedClaims, close_abandoned_runs
from models.store import BatchResult, EntryOutcome, FeedRow, FeedUpdate
from models.templates import load_templates
from transforms import work as plan
from transforms.pipeline import Decision, PageInput
from transforms.tag import Taxonomy
from transforms.templates import SiteTemplate

WorkItem = plan.WorkItem  # the unit of planning (transforms/work.py), named here for the flow's readers


# --- tasks -------------------------------------------------------------------------------------------------


@task(name="extract-and-judge", cache_policy=NO_CACHE)
def judge_batch(pages: list[PageInput], taxonomy: Taxonomy, threshold: float, workers: int) -> list[Decision]:
    return judge_pages(pages, taxonomy=taxonomy, threshold=threshold, workers=workers)


# --- the flow ------------------------------------------------------------------------------------------------


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
    claims = FeedClaims(engine)  # another run working on a feed right now keeps it: never fetched twice
    fetches = FetchStats()  # this run's requests as histograms, stored with its row for /metrics
    summary = RunSummary(run_id=store.start_run(engine, "ingest", before_commit=claims.hold_run))
    try:
        for run_id in close_abandoned_runs(engine, claims):
            reporter.line(f"run {run_id} was left running by a process that stopped; marked abandoned")
        feeds = due_feeds(select_feeds(engine, settings, feeds_file), force, summary)
        feeds = claims.take(feeds, on_busy=lambda feed: reporter.line(f"feed taken by another run now: {feed.url}"))
        with Fetcher(settings.fetch_policy(), observer=fetches) as fetcher:
            reporter.start("Fetching articles", 0, more_coming=True)
            work = polled_work(engine, fetcher, feeds, taxonomy, settings, summary, reporter)
            fetch_judge_load(engine, fetcher, work, taxonomy, settings, summary, reporter)
            reporter.stop()
        summary.watch_matches = after_run(engine, settings, summary.article_ids, run_id=summary.run_id)
    except BaseException as exc:
        store.finish_run(
            engine,
            summary.run_id or 0,
            status="failed",
            counts=summary.run_counts(),
            error=f"{type(exc).__name__}: {exc}",
            fetch_stats=fetches.as_json(),
        )
        raise
    finally:
        claims.release()
        shutdown_pool()
        end_steady_memory()
    store.finish_run(
        engine, summary.run_id or 0, status="completed", counts=summary.run_counts(), fetch_stats=fetches.as_json()
    )
    return summary


def ingest_flow(settings: Settings) -> Any:
    """`ingest` on the task runner `settings.runner` names: threads here, or a Dask cluster (prefect-dask) at
    `settings.dask_address` (a temporary local cluster when unset). Extraction chunks are what goes there."""
    if settings.runner != "dask":
        return ingest
    from prefect_dask import DaskTaskRunner

    runner = DaskTaskRunner(address=settings.dask_address) if settings.dask_address else DaskTaskRunner()
    return ingest.with_options(task_runner=runner)  # type: ignore[arg-type]  # its futures are PrefectFutures


# --- the steps -------------------------------------------------------------------------------------------------


def polled_work(
    engine: Any,
    fetcher: Fetcher,
    feeds: Sequence[FeedRow],
    taxonomy: Taxonomy,
    settings: Settings,
    summary: RunSummary,
    reporter: Reporter,
) -> Iterator[Arrival[WorkItem]]:
    """Each feed's work as soon as its poll ends, in the feeds' order (so which of two entries with one page is
    fetched still follows the feed list): the entries the ledger says need work, their aggregator links
    resolved (flows/sources.py), and the update the feed saves with its last entry. A feed with nothing to
    do brings its update alone, saved with the next load."""
    if not feeds:
        return
    resolver = link_resolver(fetcher, settings)
    with ThreadPoolExecutor(max_workers=min(settings.feed_concurrency, len(feeds)), thread_name_prefix="poll") as pool:
        polls = pool.map(lambda feed: poll_one(fetcher, feed, settings), feeds)
        for feed, poll in zip(feeds, polls, strict=True):
            items = plan_feed(engine, feed, poll, taxonomy, settings, summary, reporter)
            update = plan.feed_update(poll, feed)
            if not items:
                yield Arrival(updates=(update,))
                continue
            items = resolve_links(engine, resolver, items)
            reporter.add_total(sum(1 for item in items if item.decided is None))
            yield Arrival(items, group_updates={feed.id: update})


def poll_one(fetcher: Fetcher, feed: FeedRow, settings: Settings) -> FeedPoll:
    return poll_feed(
        fetcher,
        feed.url,
        etag=feed.etag,
        last_modified=feed.last_modified,
        limit=settings.max_entries_per_feed,
        since=feed.last_ok_at,  # a query source (GDELT) asks only for what is newer
        options=settings.source_options(),
    )


def plan_feed(
    engine: Any,
    feed: FeedRow,
    poll: FeedPoll,
    taxonomy: Taxonomy,
    settings: Settings,
    summary: RunSummary,
    reporter: Reporter,
) -> list[WorkItem]:
    """The entries of one polled feed to work on (counted in the summary; a failed poll is reported)."""
    summary.feeds_polled += 1
    if poll.status == "failed":
        summary.feeds_failed += 1
        summary.feed_errors.append((feed.url, poll.error or "failed"))
        reporter.feed_failed(feed.url, poll.error or "failed")
        return []
    summary.feeds_not_modified += poll.status == "not modified"
    entries = list(poll.entries)
    items = plan.plan_entries(
        feed,
        entries,
        states=store.entry_states(engine, feed.id, [entry.entry_key for entry in entries]),
        retryable=store.failed_entries(engine, feed.id, settings.max_entry_attempts),
        taxonomy=taxonomy,
    )
    summary.entries_new += len(items)
    return items


def fetch_judge_load(
    engine: Any,
    fetcher: Fetcher,
    work: Iterator[Arrival[WorkItem]],
    taxonomy: Taxonomy,
    settings: Settings,
    summary: RunSummary,
    reporter: Reporter,
) -> None:
    """Every work item fetched (or decided), judged and loaded, as pages arrive (flows/streaming.py); work
    keeps arriving while feeds are polled. A feed's new validators load with its last entry's outcome."""
    threshold = relevance_threshold(settings)

    def load(outcomes: list[EntryOutcome], updates: list[FeedUpdate], templates: dict[str, str]) -> BatchResult:
        return store.load_batch(
            engine,
            outcomes=outcomes,
            feed_updates=updates,
            near_threshold=settings.near_duplicate_threshold,
            site_templates=templates,
        )

    def loaded(result: BatchResult) -> None:
        if summary.add_batch(result):
            store.refresh_statistics(engine)
        return_free_memory()  # the load's pages are gone: keep the process as small as a few pages need

    counts = stream_work(
        work,
        StreamWork(
            url=lambda item: item.url,
            decided=plan.decided_outcome,
            page_input=plan.page_input,
            failed=plan.failed_outcome,
            judged=plan.judged_outcome,
            group=lambda item: item.feed.id,
            page_key=plan.page_key,
            copied=plan.copied_outcome,
        ),
        fetcher=fetcher,
        judge=judging(taxonomy, threshold, settings),
        load=load,
        templates_for=lambda sites: site_templates(engine, sites),
        limits=stream_limits(settings),
        on_fetched=lambda _: reporter.advance(),
        on_loaded=loaded,
    )
    summary.pages_fetched += counts.pages_fetched


# Pages per judging call on the local pool when the workers are busy (one message instead of eight).
LOCAL_JUDGE_CHUNK = 8


def stream_limits(settings: Settings) -> StreamLimits:
    return StreamLimits(
        in_flight=settings.fetch_concurrency,
        retries=settings.fetch_retries,
        check_robots=settings.respect_robots,
        load_size=settings.batch_size,
        # On Dask, pages go in chunks of a batch (a task each); on the local pool, one by one as they come.
        judge_chunk=settings.batch_size if settings.runner == "dask" else LOCAL_JUDGE_CHUNK,
        judge_calls_ahead=0 if settings.runner == "dask" else 2 * (settings.extract_workers or default_workers()),
    )


def judging(taxonomy: Taxonomy, threshold: float, settings: Settings) -> JudgeFn:
    """Where pages are judged: this run's pool of extraction processes, or a Dask cluster through Prefect."""
    if settings.runner != "dask":
        workers = settings.extract_workers or default_workers()
        return lambda pages: submit_judging(pages, taxonomy=taxonomy, threshold=threshold, workers=workers)

    def on_dask(pages: list[PageInput]) -> Future[list[Decision]]:
        # Dask takes quote() (a tuple) apart before Prefect sees it: send plain values. One process per chunk.
        return _as_future(judge_batch.submit(pages, taxonomy, threshold, 1))

    return on_dask


def _as_future(prefect_future: PrefectFuture[list[Decision]]) -> Future[list[Decision]]:
    """A PrefectFuture as a concurrent.futures.Future, settled by a thread that waits for it."""
    settled: Future[list[Decision]] = Future()

    def wait() -> None:
        try:
            settled.set_result(prefect_future.result())
        except BaseException as exc:  # noqa: BLE001 - handed on through the future
            settled.set_exception(exc)

    threading.Thread(target=wait, name="judge-on-dask", daemon=True).start()
    return settled


def site_templates(engine: Any, sites: set[str]) -> dict[str, SiteTemplate | None]:
    """The stored template of each site (None where nothing was learned yet)."""
    stored = load_templates(engine, sites)
    return {site: SiteTemplate.from_json(stored[site]) if site in stored else None for site in sites}
