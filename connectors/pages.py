"""Fetch a batch of article pages at once, politely, with retries on retryable errors only.

The retry rule (documented, tested): timeouts, connection errors, 429 and 5xx are retried with exponential
backoff and jitter, honouring Retry-After up to a cap; every other error is final for this run. Per-host limits
live in the Fetcher, so many threads here never overload one site.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from connectors.http import Fetcher, FetchError, Page, RetryableFetchError

# Longest wait honoured from a Retry-After inside one run; longer waits end the attempt (a later run retries).
MAX_RETRY_AFTER_SECONDS = 10.0


@dataclass(frozen=True)
class PageFetch:
    """The page for one URL, or the reason it could not be had."""

    url: str
    page: Page | None
    error: str | None = None
    retryable: bool = False  # the error may pass (timeout, 5xx, 429): worth another try on a later run


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    backoff = wait_random_exponential(multiplier=0.5, max=8)(state)
    if isinstance(exc, RetryableFetchError) and exc.retry_after is not None:
        return max(backoff, min(exc.retry_after, MAX_RETRY_AFTER_SECONDS))
    return backoff


def fetch_with_retries(fetcher: Fetcher, url: str, *, retries: int, check_robots: bool = True) -> Page:
    """One page, retried on RetryableFetchError up to `retries` more times. Raises the last FetchError."""
    retrying = Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=_wait,
        retry=retry_if_exception_type(RetryableFetchError),
        reraise=True,
    )
    return retrying(fetcher.get, url, check_robots=check_robots)


def fetch_pages(
    fetcher: Fetcher,
    urls: Sequence[str],
    *,
    concurrency: int = 8,
    retries: int = 2,
    check_robots: bool = True,
    on_done: Callable[[PageFetch], None] | None = None,
) -> list[PageFetch]:
    """Pages for `urls`, in the same order. Never raises for a page's own faults."""

    def one(url: str) -> PageFetch:
        try:
            result = PageFetch(
                url, fetch_with_retries(fetcher, url, retries=retries, check_robots=check_robots)
            )
        except RetryableFetchError as exc:
            result = PageFetch(url, None, exc.reason, retryable=True)
        except FetchError as exc:
            result = PageFetch(url, None, exc.reason)
        if on_done is not None:
            on_done(result)
        return result

    if not urls:
        return []
    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(urls))), thread_name_prefix="fetch"
    ) as pool:
        return list(pool.map(one, urls))
