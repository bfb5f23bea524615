"""The backfill flow: history the feeds no longer show, from sitemaps, a feed's older pages or a file of URLs.

A table of contents over the same parts as ingestion: the source's connector (connectors/sitemaps.py) lists
candidate pages with their dates; the ledger drops what is done; pages stream through the same stage as
ingestion (flows/streaming.py: the same Fetcher, its limits, robots.txt and per-host politeness; extract ->
relevance -> dedup -> tag as pages arrive; small load transactions with `origin = "backfill"`).

Resumable: the source owns a ledger (a disabled `backfill:<source>:<target>` feed row, models/ops.py) whose
entries load with their articles, so a backfill killed halfway and started again skips what was done and ends
with the same rows as one clean run. Two backfills of one source at once: the second stops at once.

The window: `since` inclusive, `until` exclusive. Entries whose source date (news:publication_date, lastmod,
the feed's date) is outside it are not fetched; a fetched page whose own publication date is outside it is not
stored (ledger status `skipped`, fetched again by a later backfill whose window may want it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from connectors.http import Fetcher
from connectors.pages import PageFetch
from connectors.sitemaps import (
    Candidate,
    Discovery,
    Window,
    feed_page_candidates,
    sitemap_candidates,
    url_file_candidates,
)
from flows.common import load_taxonomy, prepare_store, relevance_threshold
from flows.executor import shutdown_pool
from flows.ingest import judging, site_templates, stream_limits
from flows.progress import Reporter
from flows.runs import LoadCounts
from flows.settings import ConfigError, Settings, get_settings, parse_date
from flows.streaming import Arrival, StreamWork, stream_work
from models import ops, store
from models.store import EntryOutcome, FeedRow
from transforms.canonical import canonical_url
from transforms.extract import EntryHints
from transforms.pipeline import Decision, PageInput
from transforms.work import fetched_page

ORIGIN = "backfill"
# Ledger status of a fetched page whose own date is outside the window (not in store.DONE_STATUSES).
SKIPPED = "skipped"


class BackfillSource(StrEnum):
    sitemap = "sitemap"
    feed_pages = "feed-pages"
    urls = "urls"


@dataclass(frozen=True)
class BackfillRequest:
    """What to backfill, checked: the source, its target (a URL, or a file's absolute path), the window."""

    source: BackfillSource
    target: str
    window: Window

    @property
    def key(self) -> str:
        """The ledger's owner: one per source and target, whatever the window."""
        return f"{ops.BACKFILL_PREFIX}{self.source.value}:{self.target}"


def make_request(
    *,
    since: date | datetime | str,
    until: date | datetime | str | None = None,
    source: str | None = None,
    site: str | None = None,
    file: str | Path | None = None,
) -> BackfillRequest:
    """A checked request; a user's mistake is a one-line ConfigError."""
    start = parse_date(since, "--since")
    if start is None:
        raise ConfigError("--since is required (YYYY-MM-DD)")
    try:
        window = Window(start, parse_date(until, "--until"))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        kind = BackfillSource(source) if source else (BackfillSource.urls if file else BackfillSource.sitemap)
    except ValueError:
        choices = ", ".join(item.value for item in BackfillSource)
        raise ConfigError(f"--source {source!r} is not one of {choices}") from None
    if kind is BackfillSource.urls:
        if not file or site:
            raise ConfigError("--source urls reads --file F (one URL a line), not --site")
        path = Path(file).expanduser().resolve()
        if not path.is_file():
            raise ConfigError(f"URL file not found: {file}")
        return BackfillRequest(kind, str(path), window)
    if not site or file:
        raise ConfigError(f"--source {kind.value} needs --site URL (and no --file)")
    scheme = site.split(":", 1)[0].lower() if ":" in site else ""
    if scheme not in ("http", "https"):
        raise ConfigError(f"--site {site!r} is not an http(s) URL")
    return BackfillRequest(kind, site.strip(), window)


@dataclass
class BackfillSummary(LoadCounts):
    source: str
    target: str
    since: datetime
    until: datetime | None
    dry_run: bool = False
    run_id: int | None = None
    documents_read: int = 0  # sitemaps or feed pages
    candidates: int = 0  # pages the source offered in the window
    outside_window: int = 0  # offered with a date outside the window: not fetched
    already_done: int = 0  # done by an earlier backfill of this source (the ledger)
    already_stored: int = 0  # stored before under the same canonical URL: not fetched
    pages_fetched: int = 0
    skipped: int = 0  # fetched, but the page's own date is outside the window
    problems: list[tuple[str, str]] = field(default_factory=list)  # sources that could not be read
    would_fetch: list[tuple[str, datetime | None]] = field(default_factory=list)  # dry run: (url, date)

    def run_counts(self) -> dict[str, int]:
        return {
            "entries_new": self.candidates - self.already_done,
            "pages_fetched": self.pages_fetched,
            "articles_stored": self.articles_stored,
            "duplicates": self.duplicates,
            "near_duplicates": self.near_duplicates,
            "irrelevant": self.irrelevant,
            "failed": self.failed,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BackfillItem:
    """One candidate this backfill deals with: fetch it, or record a decision already made."""

    candidate: Candidate
    decided: EntryOutcome | None = None


# --- tasks -------------------------------------------------------------------------------------------------


@task(name="discover-backfill-pages", cache_policy=NO_CACHE)
def discover(fetcher: Fetcher, request: BackfillRequest, settings: Settings) -> Discovery:
    if request.source is BackfillSource.sitemap:
        return sitemap_candidates(
            fetcher,
            request.target,
            request.window,
            max_documents=settings.backfill_max_sitemaps,
            max_bytes=settings.max_decompressed_bytes,
        )
    if request.source is BackfillSource.feed_pages:
        return feed_page_candidates(fetcher, request.target, request.window, max_pages=settings.backfill_max_feed_pages)
    try:
        return url_file_candidates(Path(request.target), request.window)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read URL file {request.target}: {exc}") from None


# --- planning and outcomes (orchestration over the ledger) ------------------------------------------------


def plan_backfill(
    engine: Any,
    source: FeedRow | None,
    candidates: Sequence[Candidate],
    settings: Settings,
    summary: BackfillSummary,
) -> list[BackfillItem]:
    """Candidates not done yet; those stored already (same canonical URL) are decided without a fetch."""
    states = store.entry_states(engine, source.id, [c.entry_key for c in candidates]) if source else {}
    stored = ops.stored_canonical_urls(engine, [_canonical(c.url) for c in candidates])
    items: list[BackfillItem] = []
    for candidate in candidates:
        status, attempts = states.get(candidate.entry_key, ("new", 0))
        if status in store.DONE_STATUSES or (status == "failed" and attempts >= settings.max_entry_attempts):
            summary.already_done += 1
            continue
        decided = None
        if _canonical(candidate.url) in stored:
            summary.already_stored += 1
            decided = _outcome(source, candidate, "duplicate", "already stored under the same canonical URL")
        items.append(BackfillItem(candidate, decided))
    return items


def _canonical(url: str) -> str:
    try:
        return canonical_url(url)
    except ValueError:
        return url


def _outcome(
    source: FeedRow | None, candidate: Candidate, status: str, error: str | None, **extra: Any
) -> EntryOutcome:
    return EntryOutcome(
        source.id if source else None, candidate.entry_key, candidate.url, candidate.title, status, error, **extra
    )


def _page_input(candidate: Candidate, result: PageFetch) -> PageInput:
    hints = EntryHints(
        title=candidate.title, authors=candidate.authors, published_at=candidate.published_at, summary=candidate.summary
    )
    # The article has no feed; the ledger entry belongs to the backfill source.
    return fetched_page(result, url=candidate.url, hints=hints, feed_id=None, origin=ORIGIN)


def _judged_outcome(source: FeedRow, candidate: Candidate, decision: Decision, window: Window) -> EntryOutcome:
    record = decision.record
    if record is None:
        return _outcome(source, candidate, decision.status, decision.reason)
    if record.published_at is not None and not window.contains(record.published_at):
        reason = f"published {record.published_at.date().isoformat()}, outside the backfill window"
        return _outcome(source, candidate, SKIPPED, reason)
    return _outcome(source, candidate, "loaded", None, article=record)


def _decided(item: BackfillItem) -> EntryOutcome:
    assert item.decided is not None
    return item.decided


def fetch_judge_load(
    engine: Any,
    fetcher: Fetcher,
    source: FeedRow,
    items: Sequence[BackfillItem],
    request: BackfillRequest,
    taxonomy: Any,
    settings: Settings,
    summary: BackfillSummary,
    reporter: Reporter,
) -> None:
    """Every item fetched (or decided), judged and loaded as pages arrive (flows/streaming.py), on this
    machine's extraction pool."""
    local = settings.model_copy(update={"runner": "threads"})

    def judged(item: BackfillItem, decision: Decision) -> EntryOutcome:
        outcome = _judged_outcome(source, item.candidate, decision, request.window)
        summary.skipped += outcome.status == SKIPPED
        return outcome

    def load(outcomes: list[EntryOutcome], _updates: list[Any], templates: dict[str, str]) -> Any:
        return store.load_batch(
            engine, outcomes=outcomes, near_threshold=settings.near_duplicate_threshold, site_templates=templates
        )

    def loaded(result: Any) -> None:
        if summary.add_batch(result):
            store.refresh_statistics(engine)

    counts = stream_work(
        [Arrival(items)],
        StreamWork(
            url=lambda item: None if item.decided is not None else item.candidate.url,
            decided=_decided,
            page_input=lambda item, result: _page_input(item.candidate, result),
            failed=lambda item, result: _outcome(
                source, item.candidate, "failed", result.error, retryable=result.retryable
            ),
            judged=judged,
            page_key=lambda item: _canonical(item.candidate.url),
            copied=lambda item, first: replace(
                first, entry_key=item.candidate.entry_key, url=item.candidate.url, title=item.candidate.title
            ),
        ),
        fetcher=fetcher,
        judge=judging(taxonomy, relevance_threshold(settings), local),
        load=load,
        templates_for=lambda sites: site_templates(engine, sites),
        limits=stream_limits(local),
        on_fetched=lambda _: reporter.advance(),
        on_loaded=loaded,
    )
    summary.pages_fetched += counts.pages_fetched


# --- the flow ------------------------------------------------------------------------------------------------


class BackfillBusyError(ConfigError):
    """Another backfill of the same source is running now."""


@flow(name="backfill", log_prints=False)
def backfill(
    since: date | datetime | str,
    until: date | datetime | str | None = None,
    source: str | None = None,
    site: str | None = None,
    file: str | None = None,
    dry_run: bool = False,
    settings: Settings | None = None,
    reporter: Reporter | None = None,
) -> BackfillSummary:
    """Fill the window [since, until) from a site's sitemaps, a feed's older pages, or a file of URLs."""
    request = make_request(since=since, until=until, source=source, site=site, file=file)
    settings = settings or get_settings()
    reporter = reporter or Reporter()
    taxonomy = load_taxonomy(settings)
    engine = prepare_store(settings, taxonomy)
    summary = BackfillSummary(request.source.value, request.target, request.window.since, request.window.until)
    summary.dry_run = dry_run
    with Fetcher(settings.fetch_policy()) as fetcher:
        discovery = discover(fetcher, request, settings)
        summary.documents_read = discovery.documents
        summary.candidates = len(discovery.candidates)
        summary.outside_window = discovery.outside_window
        summary.problems = list(discovery.problems)
        for url, reason in discovery.problems:
            reporter.line(f"could not read {url}: {reason}")
        if dry_run:
            known = ops.find_backfill_source(engine, request.key)
            items = plan_backfill(engine, known, discovery.candidates, settings, summary)
            summary.would_fetch = [(i.candidate.url, i.candidate.published_at) for i in items if i.decided is None]
            return summary
        name = f"backfill {request.source.value} {request.target}"
        row = ops.ensure_backfill_source(engine, request.key, name)
        claims = ops.FeedClaims(engine)
        if not claims.take([row]):
            raise BackfillBusyError(f"another backfill of {request.target} is running now; try again when it ends")
        summary.run_id = store.start_run(engine, "backfill", before_commit=claims.hold_run)
        try:
            items = plan_backfill(engine, row, discovery.candidates, settings, summary)
            reporter.start("Backfilling", sum(1 for item in items if item.decided is None))
            fetch_judge_load(engine, fetcher, row, items, request, taxonomy, settings, summary, reporter)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            store.finish_run(engine, summary.run_id, status="failed", counts=summary.run_counts(), error=error)
            ops.mark_backfill_source(engine, row.id, status="failed", error=error)
            raise
        finally:
            reporter.stop()
            claims.release()
            shutdown_pool()
    store.finish_run(engine, summary.run_id, status="completed", counts=summary.run_counts())
    ops.mark_backfill_source(engine, row.id, status="backfilled", error=_problems_text(summary.problems))
    return summary


def _problems_text(problems: Sequence[tuple[str, str]]) -> str | None:
    if not problems:
        return None
    first_url, first_reason = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first_url}: {first_reason}{more}"
