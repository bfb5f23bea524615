"""What an ingestion run must do with a polled feed's entries, and what became of each: pure decisions.

Planning reads the ledger's answers (given, not looked up here): entries already done are dropped, failures
that may pass are tried again up to a limit, and some entries are decided without fetching anything (no usable
link; a general feed's entry whose title and summary say nothing about rare earths). Outcomes turn a fetch or a
judged page into the ledger's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from connectors.feeds import FeedEntry, FeedPoll
from connectors.pages import PageFetch
from models.store import DONE_STATUSES, EntryOutcome, FeedRow, FeedUpdate
from transforms.canonical import canonical_url
from transforms.extract import EntryHints
from transforms.pipeline import Decision, PageInput
from transforms.relevance import entry_looks_relevant
from transforms.tag import Taxonomy

NOT_ABOUT_RARE_EARTHS = "title and summary say nothing about rare earths (general feed; page not fetched)"


@dataclass(frozen=True)
class WorkItem:
    """One entry this run must deal with: fetch it, or just record a decision already made."""

    feed: FeedRow
    entry: FeedEntry
    decided: EntryOutcome | None = None

    @property
    def url(self) -> str | None:
        """The page to fetch, or None when the outcome is decided already."""
        return None if self.decided is not None else self.entry.url or ""


def plan_entries(
    feed: FeedRow,
    entries: Sequence[FeedEntry],
    *,
    states: Mapping[str, tuple[str, int]],
    retryable: Iterable[tuple[str, str, str | None]],
    taxonomy: Taxonomy,
) -> list[WorkItem]:
    """Entries of one polled feed that are not done yet, plus earlier failures still worth a retry.

    `states`: entry_key -> (status, attempts) from the ledger; `retryable`: (entry_key, url, title) of failures
    that may pass (timeouts, 5xx, 429) tried fewer times than the limit. A final failure (404, too large, a
    bomb, refused) keeps its status and reason and is not fetched again."""
    may_pass = {entry_key: (url, title) for entry_key, url, title in retryable}
    items: list[WorkItem] = []
    seen_now: set[str] = set()
    for entry in entries:
        if entry.entry_key in seen_now:
            continue
        seen_now.add(entry.entry_key)
        status, _ = states.get(entry.entry_key, ("new", 0))
        if status in DONE_STATUSES or (status == "failed" and entry.entry_key not in may_pass):
            continue
        items.append(WorkItem(feed, entry, decide_without_fetching(feed, entry, taxonomy)))
    for entry_key, (url, title) in may_pass.items():
        if entry_key not in seen_now:
            retry = FeedEntry(entry_key=entry_key, url=url, title=title, summary=None, authors=(), published_at=None)
            items.append(WorkItem(feed, retry))
    return items


def decide_without_fetching(feed: FeedRow, entry: FeedEntry, taxonomy: Taxonomy) -> EntryOutcome | None:
    if entry.problem is not None:
        return EntryOutcome(feed.id, entry.entry_key, entry.url, entry.title, "failed", entry.problem)
    if not feed.topical and not entry_looks_relevant(taxonomy, title=entry.title or "", summary=entry.summary or ""):
        return EntryOutcome(feed.id, entry.entry_key, entry.url, entry.title, "irrelevant", NOT_ABOUT_RARE_EARTHS)
    return None


def feed_update(poll: FeedPoll, feed: FeedRow) -> FeedUpdate:
    """A poll's result as the feed row keeps it (validators, status, Retry-After, when it is next due)."""
    return FeedUpdate(
        feed_id=feed.id,
        status=poll.status,
        error=poll.error,
        etag=poll.etag,
        last_modified=poll.last_modified,
        retry_after=poll.retry_after,
        schedule=poll.signals,
    )


def entry_hints(entry: FeedEntry) -> EntryHints:
    return EntryHints(title=entry.title, authors=entry.authors, published_at=entry.published_at, summary=entry.summary)


def page_input(item: WorkItem, result: PageFetch) -> PageInput:
    """A fetched page of a feed entry, ready to judge (its site's template is added where it is judged)."""
    assert result.page is not None
    url = item.entry.url or result.page.url
    return fetched_page(result, url=url, hints=entry_hints(item.entry), feed_id=item.feed.id, origin="feed")


def fetched_page(result: PageFetch, *, url: str, hints: EntryHints, feed_id: int | None, origin: str) -> PageInput:
    """A fetched page as the pipeline judges it, with what its source said about it (`hints`)."""
    page = result.page
    assert page is not None
    return PageInput(
        url=url,
        final_url=page.final_url,
        body=page.body,
        header_charset=page.charset,
        content_type=page.content_type,
        etag=page.etag,
        last_modified=page.last_modified,
        hints=hints,
        feed_id=feed_id,
        origin=origin,
    )


def decided_outcome(item: WorkItem) -> EntryOutcome:
    assert item.decided is not None
    return item.decided


def failed_outcome(item: WorkItem, result: PageFetch) -> EntryOutcome:
    entry = item.entry
    return EntryOutcome(
        item.feed.id, entry.entry_key, entry.url, entry.title, "failed", result.error, retryable=result.retryable
    )


def page_key(item: WorkItem) -> str | None:
    """What makes two entries one page: the canonical form of their URL."""
    if not item.entry.url:
        return None
    try:
        return canonical_url(item.entry.url)
    except ValueError:
        return item.entry.url


def copied_outcome(item: WorkItem, first: EntryOutcome) -> EntryOutcome:
    """An entry whose page is the page of an earlier entry of this run takes that entry's outcome (a stored
    article then makes it a duplicate of that article, as fetching it again would have)."""
    entry = item.entry
    return replace(first, feed_id=item.feed.id, entry_key=entry.entry_key, url=entry.url, title=entry.title)


def judged_outcome(item: WorkItem, decision: Decision) -> EntryOutcome:
    entry = item.entry
    status = "loaded" if decision.record is not None else decision.status
    return EntryOutcome(item.feed.id, entry.entry_key, entry.url, entry.title, status, decision.reason, decision.record)
