"""Fetch -> extract -> load as pages arrive: the streaming stage shared by ingestion and backfill.

Pages are fetched host by host (connectors/pages.py), each goes to an extraction worker the moment it arrives,
and judged pages load in small transactions (at most `load_size` entries, or whatever `load_interval`
seconds gathered): a page that takes ten seconds holds only itself, and no stage waits for a batch to fill.

Rules kept from the batch pipeline:
- Ledger first: every item ends as an outcome that loads (stored, irrelevant, duplicate, failed), never lost.
- A group's completion update (a feed's new ETag / Last-Modified) loads in the same transaction as the
  group's last outcome: a crash before it means the feed is fetched again, never that an entry is lost.
- Flat memory: no request starts while `max_unloaded_bytes` of pages are fetched and not yet loaded; a
  page's body is dropped once its outcome is loaded.
- Prefect stays the orchestrator: on a Dask cluster, judging goes in tasks of `judge_chunk` pages sent from
  the flow's thread; never one task per page.

Threads: one reads the work as it becomes known (a feed's entries once its poll is planned: an `Arrival`)
and hands it to the stage's thread, which asks for its pages at once; fetch workers (connectors/pages.py)
hand each page to the stage's thread, which sends pages to the extraction workers in chunks (a partial one at
once whenever a worker would idle: one message per chunk, not per page, cost the flow process a sixth less
CPU) and forms the loads; one loader thread commits them in order, so extraction never waits for a commit
and a commit never waits for extraction.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar, cast

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
# Learned site templates are saved with a load at most this often (and with the last load): every page
# changes its site's template, and writing each one out with every load cost the flow process a tenth of its
# CPU per page. A crash loses only a few seconds of learning, which the next pages of the site repeat.
TEMPLATE_SAVE_INTERVAL = 10.0

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
    group: Callable[[W], int | None] = lambda _: None  # items of a group complete its update together (Arrival)
    # Items whose pages are one page (the same canonical URL): only the first is fetched, and the others take
    # its outcome in the same transaction, right after it. Which copy is stored and which is the duplicate
    # then follows the work's order, not the order pages happen to arrive in.
    page_key: Callable[[W], str | None] = lambda _: None
    copied: Callable[[W, EntryOutcome], EntryOutcome] | None = None


@dataclass(frozen=True)
class Arrival(Generic[W]):
    """Work that becomes known while the stage runs: one feed's entries once its poll is planned."""

    items: Sequence[W] = ()
    # Completion updates of the groups in `items`: each loads with its group's last outcome.
    group_updates: Mapping[int, FeedUpdate] = field(default_factory=dict)
    # Updates saved with the next load as they are (a feed polled with nothing to do).
    updates: Sequence[FeedUpdate] = ()


@dataclass(frozen=True)
class StreamLimits:
    in_flight: int = 64  # requests out at once, all hosts
    retries: int = 2
    check_robots: bool = True
    load_size: int = 100  # outcomes per load transaction, at most
    load_interval: float = DEFAULT_LOAD_INTERVAL
    # Bytes of pages fetched and not yet loaded, at most (requests out count at the mean page size): how far
    # fetching may run ahead of extraction, so that a slow page starts early and its wait is hidden. The
    # memory target binds it: each MB here is about 1.2 MB of a 10,000-page run's peak RSS (`make bench`: 64 MB
    # gave 460 MB, 32 MB gave 422 MB); 52 MB is about 280 pages of 185 kB, 8 s of extraction at 35 pages/s.
    max_unloaded_bytes: int = 52_000_000
    # A partial chunk goes at once while fewer judging calls than this are out (workers would idle otherwise);
    # 0: only full chunks, or chunks that waited JUDGE_CHUNK_WAIT (a Dask task per chunk).
    judge_calls_ahead: int = 0
    max_loads_queued: int = 4  # loads formed and not yet committed, at most (the stage waits beyond)
    judge_chunk: int = 8  # pages per judging call, at most (one message to a worker instead of eight)


class _Mailbox:
    """What the workers hand the stage's thread: fetched pages and judged chunks, in arrival order."""

    def __init__(self) -> None:
        self._events: deque[tuple[str, Any]] = deque()
        self._arrived = threading.Condition()

    def put(self, kind: str, payload: Any) -> None:
        with self._arrived:
            self._events.append((kind, payload))
            self._arrived.notify()

    def take(self, timeout: float | None) -> tuple[str, Any] | None:
        with self._arrived:
            if not self._events:
                self._arrived.wait(timeout)
            return self._events.popleft() if self._events else None


@dataclass
class _Load:
    outcomes: list[EntryOutcome]
    updates: list[FeedUpdate]
    templates: dict[str, str]
    page_bytes: int  # bodies this load lets go of


class _Loader:
    """One thread that commits the loads in the order they were formed."""

    def __init__(
        self,
        load: LoadFn,
        on_loaded: Callable[[BatchResult], None] | None,
        done: Callable[[int], None],
        max_queued: int,
    ) -> None:
        self._load = load
        self._on_loaded = on_loaded
        self._done = done
        self._queue: queue.Queue[_Load | None] = queue.Queue(maxsize=max_queued)
        self.failure: BaseException | None = None
        self.loads = 0
        self._thread = threading.Thread(target=self._run, name="stream-loader", daemon=True)
        self._thread.start()

    def submit(self, load: _Load) -> None:
        self.check()
        self._queue.put(load)

    def finish(self) -> None:
        """Wait for every load to commit; raise what made one fail."""
        self._queue.put(None)
        self._thread.join()
        self.check()

    def abandon(self) -> None:
        with suppress(queue.Full):
            self._queue.put_nowait(None)

    def check(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _run(self) -> None:
        while (load := self._queue.get()) is not None:
            if self.failure is not None:
                continue  # drain: the stage raises the failure
            try:
                result = self._load(load.outcomes, load.updates, load.templates)
                self.loads += 1
                if self._on_loaded is not None:
                    self._on_loaded(result)
            except BaseException as exc:  # noqa: BLE001 - handed to the stage's thread, which raises it
                self.failure = exc
            finally:
                self._done(load.page_bytes)


@dataclass
class StreamCounts:
    pages_fetched: int = 0
    loads: int = 0


def stream_work(
    arrivals: Iterable[Arrival[W]],
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
    """Every item fetched (or decided), judged and loaded. Work may keep arriving: `arrivals` is read on a
    thread of its own (a feed's poll can take seconds), and each arrival's pages are asked for at once, while
    earlier ones are judged and loaded. Returns when the arrivals have ended and the last outcome is
    committed."""
    stage = _Stage(work, judge=judge, templates_for=templates_for, limits=limits)
    return stage.run(arrivals, fetcher, load=load, on_fetched=on_fetched, on_loaded=on_loaded)


class _Stage(Generic[W]):
    def __init__(
        self,
        work: StreamWork[W],
        *,
        judge: JudgeFn,
        templates_for: Callable[[set[str]], dict[str, SiteTemplate | None]],
        limits: StreamLimits,
    ) -> None:
        self.items: list[W] = []  # every item arrived so far; an item's index is its key
        self.arriving = True  # the arrivals have not ended yet
        self.stop_arrivals = threading.Event()
        self.work = work
        self.group_updates: dict[int, FeedUpdate] = {}
        self.judge = judge
        self.templates_for = templates_for
        self.limits = limits
        self.mailbox = _Mailbox()
        self.lock = threading.Lock()  # pages and templates (only this thread uses them today; cheap to keep)
        self.templates: dict[str, SiteTemplate | None] = {}
        self.unsaved_templates: set[str] = set()  # sites whose template changed since the last save
        self.templates_saved_at = time.monotonic()
        self.pages: dict[int, PageInput] = {}  # fetched, waiting for their decision
        self.chunk: list[int] = []  # fetched, not yet sent to judging (Dask)
        self.chunk_since = 0.0
        self.calls_out = 0  # judging calls sent, not yet answered
        self.remaining = 0  # items arrived without an outcome handed to the loader
        self.unfetched = 0
        self.group_left: dict[int, int] = {}
        self.buffer: list[EntryOutcome] = []
        self.buffer_updates: list[FeedUpdate] = []
        self.buffer_judged: list[tuple[PageInput, Decision]] = []
        self.buffer_bytes = 0
        self.buffer_since = 0.0
        self.counts = StreamCounts()
        self.copies: dict[int, list[int]] = {}  # first item of a page -> the later items with the same page
        self.leaders: dict[str, int] = {}  # a page's key -> its first item, until that item has its outcome
        self.leader_keys: dict[int, str] = {}  # the other way round

    def run(
        self,
        arrivals: Iterable[Arrival[W]],
        fetcher: Fetcher,
        *,
        load: LoadFn,
        on_fetched: Callable[[PageFetch], None] | None,
        on_loaded: Callable[[BatchResult], None] | None,
    ) -> StreamCounts:
        self.stream: PageStream[int] = PageStream(
            fetcher,
            self._fetched_callback(on_fetched),
            in_flight=self.limits.in_flight,
            retries=self.limits.retries,
            check_robots=self.limits.check_robots,
            max_backlog_bytes=self.limits.max_unloaded_bytes,
        )
        self.loader = _Loader(load, on_loaded, self.stream.consumed, self.limits.max_loads_queued)
        failed = True
        reader = threading.Thread(target=self._read_arrivals, args=(arrivals,), name="stream-arrivals", daemon=True)
        reader.start()
        try:
            while self.remaining or self.arriving:
                self._step()
            self.loader.finish()
            failed = False
        finally:
            self.stop_arrivals.set()
            if failed:
                self.loader.abandon()
            self.stream.close(wait=not failed)
        self.counts.loads = self.loader.loads
        return self.counts

    def _read_arrivals(self, arrivals: Iterable[Arrival[W]]) -> None:
        """The arrivals' thread: hands each arrival to the stage's thread as it comes."""
        try:
            for arrival in arrivals:
                if self.stop_arrivals.is_set():
                    return  # the stage has stopped (it failed): stop reading
                self.mailbox.put("arrived", arrival)
            self.mailbox.put("arrivals ended", None)
        except BaseException as exc:  # noqa: BLE001 - raised by the stage's thread
            self.mailbox.put("arrivals failed", exc)

    def _on_arrived(self, arrival: Arrival[W]) -> None:
        """Register an arrival's items and ask for their pages; its updates go with the next load."""
        self.group_updates.update(arrival.group_updates)
        first = len(self.items)
        self.items.extend(arrival.items)
        self.remaining += len(arrival.items)
        for item in arrival.items:  # every group counted before any of its items can complete it below
            group = self.work.group(item)
            if group is not None:
                self.group_left[group] = self.group_left.get(group, 0) + 1
        for update in arrival.updates:
            self._add_update(update)
        for index in range(first, len(self.items)):
            item = self.items[index]
            url = self.work.url(item)
            if url is None:
                self._add(index, self.work.decided(item), None, 0)
                continue
            key = self.work.page_key(item) if self.work.copied is not None else None
            if key is not None and key in self.leaders:  # the page is asked for already: take its outcome
                self.copies.setdefault(self.leaders[key], []).append(index)
                continue
            if key is not None:
                self.leaders[key], self.leader_keys[index] = index, key
            self.unfetched += 1
            self.stream.submit(index, url)

    def _fetched_callback(self, on_fetched: Callable[[PageFetch], None] | None) -> Callable[[int, PageFetch], None]:
        def fetched(index: int, result: PageFetch) -> None:
            self.mailbox.put("fetched", (index, result))
            if on_fetched is not None:
                on_fetched(result)

        return fetched

    def _hold_page(self, index: int, result: PageFetch) -> None:
        """Keep the page to judge, with what earlier pages taught about its site."""
        page = self.work.page_input(self.items[index], result)
        site = template_site(page.final_url)
        with self.lock:
            known = site in self.templates
        if not known:
            found = self.templates_for({site})
            with self.lock:
                for name, template in found.items():
                    self.templates.setdefault(name, template)
        with self.lock:
            self.pages[index] = replace(page, template=self.templates.get(site))

    def _send(self, indexes: list[int]) -> None:
        with self.lock:
            pages = [self.pages[index] for index in indexes]
        self.calls_out += 1
        future = self.judge(pages)
        future.add_done_callback(functools.partial(self._judged_callback, indexes))

    def _judged_callback(self, indexes: list[int], future: Future[list[Decision]]) -> None:
        self.mailbox.put("judged", (indexes, future))

    def _step(self) -> None:
        self.loader.check()
        self.stream.check()
        event = self.mailbox.take(self._wait_time())
        if event is not None:
            kind, payload = event
            if kind == "fetched":
                self._on_fetched(*payload)
            elif kind == "judged":
                self._on_judged(*payload)
            elif kind == "arrived":
                self._on_arrived(payload)
            elif kind == "arrivals ended":
                self.arriving = False
            else:
                raise payload  # reading the arrivals failed (a poll's planning): the run fails, as before
        self._send_chunk()
        self._flush_if_due()

    def _wait_time(self) -> float:
        now = time.monotonic()
        waits = [1.0]
        if self.buffer or self.buffer_updates:
            waits.append(self.buffer_since + self.limits.load_interval - now)
        if self.chunk:
            waits.append(self.chunk_since + JUDGE_CHUNK_WAIT - now)
        return max(0.0, min(waits))

    def _on_fetched(self, index: int, result: PageFetch) -> None:
        self.unfetched -= 1
        if result.page is None:
            self._add(index, self.work.failed(self.items[index], result), None, 0)
            return
        self.counts.pages_fetched += 1
        self._hold_page(index, result)
        if not self.chunk:
            self.chunk_since = time.monotonic()
        self.chunk.append(index)

    def _send_chunk(self) -> None:
        """Pages gathered for judging: a chunk goes when full, when the workers would idle without it, when it
        waited long enough, or when nothing more is coming."""
        while self.chunk:
            full = len(self.chunk) >= self.limits.judge_chunk
            idle = self.calls_out < self.limits.judge_calls_ahead
            aged = time.monotonic() - self.chunk_since >= JUDGE_CHUNK_WAIT
            if not (full or idle or aged or (self.unfetched == 0 and not self.arriving)):
                return
            indexes, self.chunk = self.chunk[: self.limits.judge_chunk], self.chunk[self.limits.judge_chunk :]
            self.chunk_since = time.monotonic()
            self._send(indexes)

    def _on_judged(self, indexes: list[int], future: Future[list[Decision]]) -> None:
        self.calls_out -= 1
        decisions = future.result()  # a failure in judging is a bug: it ends the run, as a batch's did
        for index, decision in zip(indexes, decisions, strict=True):
            with self.lock:
                page = self.pages.pop(index)
            judged = attach_page(decision, page)
            self._add(index, self.work.judged(self.items[index], judged), (page, judged), len(page.body))

    def _pending_from_now(self) -> None:
        """The next load's wait starts with the first outcome or update it gathers."""
        if not self.buffer and not self.buffer_updates:
            self.buffer_since = time.monotonic()

    def _add_update(self, update: FeedUpdate) -> None:
        self._pending_from_now()
        self.buffer_updates.append(update)

    def _add(
        self, index: int, outcome: EntryOutcome, judged: tuple[PageInput, Decision] | None, page_bytes: int
    ) -> None:
        self._pending_from_now()
        self.buffer.append(outcome)
        self.buffer_bytes += page_bytes
        if judged is not None:
            self.buffer_judged.append(judged)
        group = self.work.group(self.items[index])
        if group is not None:
            self.group_left[group] -= 1
            if self.group_left[group] == 0 and group in self.group_updates:
                self.buffer_updates.append(self.group_updates[group])
        if self.work.copied is not None:
            key = self.leader_keys.pop(index, None)
            if key is not None:
                del self.leaders[key]  # a copy arriving later is fetched itself (the store then finds the copy)
            for copy in self.copies.pop(index, ()):
                self._add(copy, self.work.copied(self.items[copy], outcome), None, 0)

    def _flush_if_due(self) -> None:
        """Hand the gathered outcomes to the loader when there are enough, they waited long enough, or they
        are the last ones."""
        if not self.buffer and not self.buffer_updates:
            return
        full = len(self.buffer) >= self.limits.load_size
        aged = time.monotonic() - self.buffer_since >= self.limits.load_interval
        everything = len(self.buffer) == self.remaining and not self.arriving
        if not (full or aged or everything):
            return
        with self.lock:
            learned = learn_site_templates(self.templates, self.buffer_judged)
            self.templates.update(learned)
        self.unsaved_templates.update(learned)
        templates: dict[str, str] = {}
        if everything or time.monotonic() - self.templates_saved_at >= TEMPLATE_SAVE_INTERVAL:
            with self.lock:
                templates = {
                    site: cast(SiteTemplate, self.templates[site]).to_json() for site in self.unsaved_templates
                }
            self.unsaved_templates.clear()
            self.templates_saved_at = time.monotonic()
        self.loader.submit(_Load(self.buffer, self.buffer_updates, templates, self.buffer_bytes))
        self.remaining -= len(self.buffer)
        self.buffer, self.buffer_updates, self.buffer_judged, self.buffer_bytes = [], [], [], 0
