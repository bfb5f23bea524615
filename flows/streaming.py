"""Fetch -> extract -> load as pages arrive: the streaming stage shared by ingestion and backfill.

Pages are fetched host by host (connectors/pages.py), each goes to an extraction worker the moment it arrives,
and judged pages load in small transactions (at most `load_size` entries, or whatever `load_interval`
seconds gathered): a page that takes ten seconds holds only itself, and no stage waits for a batch to fill.

Rules kept from the batch pipeline:
- Ledger first: every item ends as an outcome that loads (stored, irrelevant, duplicate, failed), never lost.
- A group's completion update (a feed's new ETag / Last-Modified) loads in the same transaction as the
  group's last outcome: a crash before it means the feed is fetched again, never that an entry is lost.
- Flat memory: fetch workers wait when `max_unjudged` pages are fetched and not yet judged; a page's body is
  dropped once its outcome is loaded.
- Prefect stays the orchestrator: the caller's `judge` and `load` are where tasks run (on a Dask cluster,
  judging goes in chunks of `judge_chunk` pages), never one task per page.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from connectors.http import Fetcher
from connectors.pages import PageFetch, PageStream
from models.store import BatchResult, EntryOutcome, FeedUpdate
from transforms.pipeline import Decision, PageInput, attach_page, learn_site_templates
from transforms.templates import SiteTemplate, template_site

W = TypeVar("W")

# Longest an outcome waits before its transaction commits: the loads keep up with arrivals, in few commits.
DEFAULT_LOAD_INTERVAL = 0.5
# Longest a page waits for its judging chunk to fill (Dask); on the local pool every page goes at once.
JUDGE_CHUNK_WAIT = 1.0

JudgeFn = Callable[[list[PageInput]], "Future[list[Decision]]"]
LoadFn = Callable[[list[EntryOutcome], list[FeedUpdate], dict[str, str]], BatchResult]


@dataclass(frozen=True)
class StreamWork(Generic[W]):
    """How to turn a caller's work items into fetches and outcomes."""

    url: Callable[[W], str | None]  # the page to fetch; None when `decided` already knows the outcome
    decided: Callable[[W], EntryOutcome]
    page_input: Callable[[W, PageFetch], PageInput]
    failed: Callable[[W, PageFetch], EntryOutcome]
    judged: Callable[[W, Decision], EntryOutcome]
    group: Callable[[W], int | None] = lambda _: None  # items of a group complete its update together
    group_updates: Mapping[int, FeedUpdate] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamLimits:
    in_flight: int = 64  # requests out at once, all hosts
    retries: int = 2
    check_robots: bool = True
    load_size: int = 100  # outcomes per load transaction, at most
    load_interval: float = DEFAULT_LOAD_INTERVAL
    max_unjudged: int = 64  # pages fetched and not yet judged, at most
    judge_chunk: int = 1  # pages per judging call


class _Mailbox:
    """What the workers hand the stage's thread: fetched pages (bounded: a fetch worker waits while too many
    pages are unjudged) and judged chunks."""

    def __init__(self, max_unjudged: int) -> None:
        self._events: deque[tuple[str, Any]] = deque()
        self._changed = threading.Condition()
        self._max_unjudged = max_unjudged
        self.unjudged = 0
        self._closed = False

    def fetched(self, index: int, result: PageFetch) -> None:
        with self._changed:
            if result.page is not None:
                while self.unjudged >= self._max_unjudged and not self._closed:
                    self._changed.wait()
                self.unjudged += 1
            if not self._closed:
                self._events.append(("fetched", (index, result)))
                self._changed.notify_all()

    def judged(self, indexes: list[int], future: Future[list[Decision]]) -> None:
        with self._changed:
            self._events.append(("judged", (indexes, future)))
            self._changed.notify_all()

    def done_judging(self, count: int) -> None:
        with self._changed:
            self.unjudged -= count
            self._changed.notify_all()

    def take(self, timeout: float | None) -> tuple[str, Any] | None:
        with self._changed:
            if not self._events:
                self._changed.wait(timeout)
            return self._events.popleft() if self._events else None

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


@dataclass
class StreamCounts:
    pages_fetched: int = 0
    loads: int = 0


def stream_work(
    items: Sequence[W],
    work: StreamWork[W],
    *,
    fetcher: Fetcher,
    judge: JudgeFn,
    load: LoadFn,
    templates_for: Callable[[set[str]], dict[str, SiteTemplate | None]],
    limits: StreamLimits,
    on_fetched: Callable[[PageFetch], None] | None = None,
    on_loaded: Callable[[BatchResult], None] | None = None,
) -> StreamCounts:
    """Every item fetched (or decided), judged and loaded; returns when the last outcome is committed."""
    stage = _Stage(items, work, judge=judge, load=load, templates_for=templates_for, limits=limits)
    return stage.run(fetcher, on_fetched=on_fetched, on_loaded=on_loaded)


class _Stage(Generic[W]):
    def __init__(
        self,
        items: Sequence[W],
        work: StreamWork[W],
        *,
        judge: JudgeFn,
        load: LoadFn,
        templates_for: Callable[[set[str]], dict[str, SiteTemplate | None]],
        limits: StreamLimits,
    ) -> None:
        self.items = items
        self.work = work
        self.judge = judge
        self.load = load
        self.templates_for = templates_for
        self.limits = limits
        self.mailbox = _Mailbox(max(limits.max_unjudged, limits.judge_chunk))
        self.templates: dict[str, SiteTemplate | None] = {}
        self.pages: dict[int, PageInput] = {}  # fetched, waiting for their decision
        self.chunk: list[int] = []  # fetched, not yet sent to judging
        self.chunk_since = 0.0
        self.remaining = len(items)  # items without a loaded outcome
        self.unfetched = 0
        self.judging = 0  # chunks out
        self.group_left: dict[int, int] = {}
        self.buffer: list[EntryOutcome] = []
        self.buffer_updates: list[FeedUpdate] = []
        self.buffer_judged: list[tuple[PageInput, Decision]] = []
        self.buffer_since = 0.0
        self.counts = StreamCounts()

    def run(
        self,
        fetcher: Fetcher,
        *,
        on_fetched: Callable[[PageFetch], None] | None,
        on_loaded: Callable[[BatchResult], None] | None,
    ) -> StreamCounts:
        for item in self.items:
            group = self.work.group(item)
            if group is not None:
                self.group_left[group] = self.group_left.get(group, 0) + 1
        self.on_loaded = on_loaded
        stream: PageStream[int] = PageStream(
            fetcher,
            self._fetched_callback(on_fetched),
            in_flight=self.limits.in_flight,
            retries=self.limits.retries,
            check_robots=self.limits.check_robots,
        )
        failed = True
        try:
            for index, item in enumerate(self.items):
                url = self.work.url(item)
                if url is None:
                    self._add(index, self.work.decided(item), None)
                else:
                    self.unfetched += 1
                    stream.submit(index, url)
            self._flush_if_due(force=self.unfetched == 0)
            while self.remaining:
                self._step()
            failed = False
        finally:
            self.mailbox.close()
            stream.close(wait=not failed)
        return self.counts

    def _fetched_callback(self, on_fetched: Callable[[PageFetch], None] | None) -> Callable[[int, PageFetch], None]:
        def fetched(index: int, result: PageFetch) -> None:
            self.mailbox.fetched(index, result)
            if on_fetched is not None:
                on_fetched(result)

        return fetched

    def _step(self) -> None:
        event = self.mailbox.take(self._wait_time())
        if event is not None:
            kind, payload = event
            if kind == "fetched":
                self._on_fetched(*payload)
            else:
                self._on_judged(*payload)
        self._send_chunk(force=False)
        self._flush_if_due(force=False)

    def _wait_time(self) -> float:
        now = time.monotonic()
        waits = [1.0]
        if self.buffer:
            waits.append(self.buffer_since + self.limits.load_interval - now)
        if self.chunk:
            waits.append(self.chunk_since + JUDGE_CHUNK_WAIT - now)
        return max(0.0, min(waits))

    def _on_fetched(self, index: int, result: PageFetch) -> None:
        self.unfetched -= 1
        item = self.items[index]
        if result.page is None:
            self._add(index, self.work.failed(item, result), None)
            return
        self.counts.pages_fetched += 1
        page = self.work.page_input(item, result)
        site = template_site(page.final_url)
        if site not in self.templates:
            self.templates.update(self.templates_for({site}))
        self.pages[index] = replace(page, template=self.templates.get(site))
        if not self.chunk:
            self.chunk_since = time.monotonic()
        self.chunk.append(index)

    def _send_chunk(self, *, force: bool) -> None:
        while self.chunk:
            full = len(self.chunk) >= self.limits.judge_chunk
            aged = time.monotonic() - self.chunk_since >= JUDGE_CHUNK_WAIT
            if not (force or full or aged or self.unfetched == 0):
                return
            indexes, self.chunk = self.chunk[: self.limits.judge_chunk], self.chunk[self.limits.judge_chunk :]
            self.chunk_since = time.monotonic()
            future = self.judge([self.pages[index] for index in indexes])
            self.judging += 1
            future.add_done_callback(functools.partial(self.mailbox.judged, indexes))

    def _on_judged(self, indexes: list[int], future: Future[list[Decision]]) -> None:
        self.judging -= 1
        self.mailbox.done_judging(len(indexes))
        decisions = future.result()  # a failure in judging is a bug: it ends the run, as a batch's did
        for index, decision in zip(indexes, decisions, strict=True):
            page = self.pages.pop(index)
            judged = attach_page(decision, page)
            self._add(index, self.work.judged(self.items[index], judged), (page, judged))

    def _add(self, index: int, outcome: EntryOutcome, judged: tuple[PageInput, Decision] | None) -> None:
        if not self.buffer:
            self.buffer_since = time.monotonic()
        self.buffer.append(outcome)
        if judged is not None:
            self.buffer_judged.append(judged)
        group = self.work.group(self.items[index])
        if group is not None:
            self.group_left[group] -= 1
            if self.group_left[group] == 0 and group in self.work.group_updates:
                self.buffer_updates.append(self.work.group_updates[group])

    def _flush_if_due(self, *, force: bool) -> None:
        if not self.buffer:
            return
        full = len(self.buffer) >= self.limits.load_size
        aged = time.monotonic() - self.buffer_since >= self.limits.load_interval
        everything = len(self.buffer) == self.remaining
        if not (force or full or aged or everything):
            return
        learned = learn_site_templates(self.templates, self.buffer_judged)
        self.templates.update(learned)
        result = self.load(
            self.buffer, self.buffer_updates, {site: template.to_json() for site, template in learned.items()}
        )
        self.remaining -= len(self.buffer)
        self.counts.loads += 1
        self.buffer, self.buffer_updates, self.buffer_judged = [], [], []
        if self.on_loaded is not None:
            self.on_loaded(result)
