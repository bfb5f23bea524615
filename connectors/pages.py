"""Article pages fetched host by host as they become fetchable, handed on one by one as they arrive.

Scheduling (Scrapy's download slots, StormCrawler's host partitions): every URL waits in its host's queue. A
dispatcher hands a request to a worker only when its host has a free slot and its turn has come (the Fetcher's
`HostSlots`: PER_HOST_CONCURRENCY, PER_HOST_DELAY, robots.txt Crawl-delay), and keeps at most `in_flight`
requests out across all hosts. So a site at its limit holds only its own queue; every other site with work
keeps being fetched, and a page that takes ten seconds holds one worker, nothing else.

The retry rule (documented, tested): timeouts, connection errors, 429 and 5xx are retried with exponential
backoff and jitter, honouring Retry-After up to a cap; every other error is final for this run. A request
waiting to be retried goes back to its host's queue with a not-before time: it holds no worker while it waits.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx

from connectors.http import Fetcher, FetchError, Page, RetryableFetchError

# Longest wait honoured from a Retry-After inside one run; longer waits end the attempt (a later run retries).
MAX_RETRY_AFTER_SECONDS = 10.0
# Backoff between attempts: random in [0, min(BACKOFF_MAX, BACKOFF_BASE * 2^attempt)] ("full jitter").
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
DEFAULT_IN_FLIGHT = 64

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class PageFetch:
    """The page for one URL, or the reason it could not be had."""

    url: str
    page: Page | None
    error: str | None = None
    retryable: bool = False  # the error may pass (timeout, 5xx, 429): worth another try on a later run


def retry_wait(attempt: int, error: FetchError) -> float:
    """Seconds before attempt number `attempt + 1` after `error` (attempts count from 1)."""
    backoff = random.uniform(0, min(BACKOFF_MAX, BACKOFF_BASE * 2**attempt))
    if isinstance(error, RetryableFetchError) and error.retry_after is not None:
        return max(backoff, min(error.retry_after, MAX_RETRY_AFTER_SECONDS))
    return backoff


def _host_of(url: str) -> str:
    """The scheduling key of a URL: its host as the Fetcher's slots key it (a bad URL gets a key of its own
    and fails in the Fetcher with its own reason)."""
    try:
        return httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, TypeError, UnicodeDecodeError):
        return ""


@dataclass
class _Job(Generic[K]):
    key: K
    url: str
    host: str
    attempt: int = 0
    not_before: float = 0.0


@dataclass
class _HostQueue(Generic[K]):
    jobs: deque[_Job[K]] = field(default_factory=deque)
    dispatched: int = 0  # handed to a worker, not finished


class PageStream(Generic[K]):
    """Fetch many URLs politely and concurrently; `on_result(key, PageFetch)` is called (on a worker thread)
    for each as soon as it is done, in whatever order they finish. Never raises for a page's own faults.

    Flat memory: with `max_backlog_bytes`, no request starts while the bodies handed out and not yet
    `consumed` (plus one page per request out) would pass that many bytes; the consumer calls `consumed(n)`
    when it lets go of n bytes of bodies. Workers never wait on the consumer: a worker holds no page long.

    Use as a context manager: `submit` URLs (more may come while others are fetched), then `wait` for all of
    them; leaving the block stops the workers (pages not yet fetched are dropped)."""

    def __init__(
        self,
        fetcher: Fetcher,
        on_result: Callable[[K, PageFetch], None],
        *,
        in_flight: int = DEFAULT_IN_FLIGHT,
        retries: int = 2,
        check_robots: bool = True,
        max_backlog_bytes: int | None = None,
    ) -> None:
        self._fetcher = fetcher
        self._max_backlog = max_backlog_bytes
        self._backlog = 0  # bytes of bodies handed out, not consumed yet
        self._on_result = on_result
        self._in_flight = max(1, in_flight)
        self._retries = retries
        self._check_robots = check_robots
        self._changed = threading.Condition()
        self._hosts: dict[str, _HostQueue[K]] = {}
        self._rotation: deque[str] = deque()  # hosts with queued jobs, in turn
        self._retrying: list[tuple[float, int, _Job[K]]] = []  # (not_before, order, job)
        self._order = itertools.count()
        self._running = 0  # requests handed to workers, across hosts
        self._unfinished = 0  # submitted, no result given yet
        self._backlog_mean = 64 * 1024.0  # mean body size so far, a running estimate
        self._bodies = 0
        self._closed = False
        self._failure: BaseException | None = None
        self._pool = ThreadPoolExecutor(max_workers=self._in_flight, thread_name_prefix="fetch")
        self._dispatcher = threading.Thread(target=self._dispatch, name="fetch-dispatch", daemon=True)
        self._dispatcher.start()

    def __enter__(self) -> PageStream[K]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def submit(self, key: K, url: str) -> None:
        job = _Job(key, url, _host_of(url))
        with self._changed:
            self._unfinished += 1
            self._enqueue(job)
            self._changed.notify_all()

    def submit_all(self, items: Iterable[tuple[K, str]]) -> None:
        for key, url in items:
            self.submit(key, url)

    def check(self) -> None:
        """Raise what broke a worker (a bug in `on_result`), if anything did."""
        with self._changed:
            if self._failure is not None:
                raise self._failure

    def consumed(self, size: int) -> None:
        """The consumer has let go of `size` bytes of bodies it was handed: room for more requests."""
        with self._changed:
            self._backlog -= size
            self._changed.notify_all()

    @property
    def unfinished(self) -> int:
        with self._changed:
            return self._unfinished

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted URL has its result (True), or `timeout` passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._unfinished and self._failure is None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(remaining)
            if self._failure is not None:
                raise self._failure
        return True

    def close(self, *, wait: bool = True) -> None:
        """Stop dispatching; with `wait`, also wait for the requests out now (each ends by its deadline)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._dispatcher.join()
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # --- the dispatcher: one thread, hands a job to a worker when its host can take it ---

    def _enqueue(self, job: _Job[K]) -> None:
        queue = self._hosts.get(job.host)
        if queue is None:
            queue = self._hosts[job.host] = _HostQueue()
        if not queue.jobs:
            self._rotation.append(job.host)
        queue.jobs.append(job)

    def _dispatch(self) -> None:
        with self._changed:
            while not self._closed:
                now = time.monotonic()
                while self._retrying and self._retrying[0][0] <= now:
                    self._enqueue(heapq.heappop(self._retrying)[2])
                wake = self._retrying[0][0] if self._retrying else None
                while self._running < self._in_flight and self._has_room():
                    job, ready = self._next_job(now)
                    if ready is not None:
                        wake = ready if wake is None else min(wake, ready)
                    if job is None:
                        break
                    self._running += 1
                    self._hosts[job.host].dispatched += 1
                    self._pool.submit(self._work, job)
                self._changed.wait(None if wake is None else max(0.0, wake - time.monotonic()))

    def _has_room(self) -> bool:
        if self._max_backlog is None:
            return True
        # A request out may bring a page of the mean size handed out so far (64 kB before any came).
        expected = self._backlog_mean * self._running
        return self._backlog + expected < self._max_backlog

    def _next_job(self, now: float) -> tuple[_Job[K] | None, float | None]:
        """The first job, in host rotation, whose host can start a request now; else None and the earliest
        time one of the waiting hosts will be ready (None when all are at their limit)."""
        earliest: float | None = None
        for _ in range(len(self._rotation)):
            host = self._rotation[0]
            self._rotation.rotate(-1)
            queue = self._hosts[host]
            ready_at = self._fetcher.hosts.ready_at(host, dispatched=queue.dispatched)
            if ready_at is None:
                continue
            if ready_at > now:
                earliest = ready_at if earliest is None else min(earliest, ready_at)
                continue
            job = queue.jobs.popleft()
            if not queue.jobs:
                self._rotation.pop()  # the rotation just moved this host to its end
            return job, earliest
        return None, earliest

    # --- the workers ---

    def _work(self, job: _Job[K]) -> None:
        result: PageFetch | None = None
        try:
            try:
                result = PageFetch(job.url, self._fetcher.get(job.url, check_robots=self._check_robots))
            except RetryableFetchError as exc:
                if job.attempt < self._retries:
                    job.attempt += 1
                    job.not_before = time.monotonic() + retry_wait(job.attempt, exc)
                else:
                    result = PageFetch(job.url, None, exc.reason, retryable=True)
            except FetchError as exc:
                result = PageFetch(job.url, None, exc.reason)
            if result is not None:
                size = len(result.page.body) if result.page is not None else 0
                with self._changed:
                    self._backlog += size
                    if size:
                        self._bodies += 1
                        self._backlog_mean += (size - self._backlog_mean) / min(self._bodies, 100)
                self._on_result(job.key, result)
        except BaseException as exc:  # a bug in on_result: stop the stream and say so in wait()
            with self._changed:
                self._failure = exc
            raise
        finally:
            with self._changed:
                self._running -= 1
                self._hosts[job.host].dispatched -= 1
                if result is None and self._failure is None:
                    heapq.heappush(self._retrying, (job.not_before, next(self._order), job))
                elif result is not None:
                    self._unfinished -= 1
                self._changed.notify_all()


def fetch_pages(
    fetcher: Fetcher,
    urls: Sequence[str],
    *,
    concurrency: int = DEFAULT_IN_FLIGHT,
    retries: int = 2,
    check_robots: bool = True,
    on_done: Callable[[PageFetch], None] | None = None,
) -> list[PageFetch]:
    """Pages for `urls`, in the same order, fetched through a PageStream. Never raises for a page's own faults."""
    results: list[PageFetch | None] = [None] * len(urls)

    def keep(index: int, result: PageFetch) -> None:
        results[index] = result
        if on_done is not None:
            on_done(result)

    if not urls:
        return []
    with PageStream(
        fetcher, keep, in_flight=min(concurrency, len(urls)), retries=retries, check_robots=check_robots
    ) as stream:
        stream.submit_all(enumerate(urls))
        stream.wait()
    return [result for result in results if result is not None]
