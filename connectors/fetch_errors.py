"""The Fetcher's one failure contract: every problem is a `FetchError` whose class says whether trying again
later can help. Callers retry on `RetryableFetchError` and on nothing else.

    FetchError                    .url (as asked for), .reason (short, readable), .status (int | None)
    ├── RetryableFetchError       .retry_after (seconds | None, from Retry-After); trying again later may work
    │     timeouts (connect, read, total deadline), connection failures, body cut short,
    │     temporary DNS failure, HTTP 429 and 5xx
    └── FatalFetchError           trying again will not help
          HTTP 4xx other than 429, invalid URL or unsupported scheme, refused (non-public) address,
          unknown host, body or decompressed body over its cap, undecodable content-encoding, TLS error,
          redirect loop, too many redirects, blocked by robots.txt
"""

from __future__ import annotations

import email.utils
import ssl
from datetime import UTC, datetime
from http import HTTPStatus

import httpx

__all__ = ["FatalFetchError", "FetchError", "RetryableFetchError", "parse_retry_after", "status_error"]


class FetchError(Exception):
    """A URL could not be fetched. `reason` is short and readable; `status` is the HTTP status, if any."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(url, reason, status)
        self.url = url
        self.reason = reason
        self.status = status

    def __str__(self) -> str:
        return f"{self.reason} ({self.url})"


class RetryableFetchError(FetchError):
    """Trying again later may work. `retry_after` is the server's Retry-After in seconds, if it sent one."""

    def __init__(self, url: str, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(url, reason, status)
        self.args = (url, reason, status, retry_after)  # so the error survives pickling (Prefect, Dask)
        self.retry_after = retry_after


class FatalFetchError(FetchError):
    """Trying again will not help."""


def status_error(asked: str, response: httpx.Response, *, conditional: bool) -> FetchError:
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason_phrase
    reason = f"HTTP {status} {phrase}".rstrip()
    if status == 429 or 500 <= status < 600:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return RetryableFetchError(asked, reason, status, retry_after=retry_after)
    if status == 304 and not conditional:
        reason += " (no conditional request was sent)"
    return FatalFetchError(asked, reason, status)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: either delay-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind an httpx error, if any (httpx wraps httpcore's error, which wraps the ssl one)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def tls_text(error: ssl.SSLError) -> str:
    verify_message = getattr(error, "verify_message", None)
    if verify_message:
        return f"certificate verify failed: {verify_message}"
    return getattr(error, "reason", None) or str(error)
