"""The one HTTP client of the pipeline: polite, bounded, and unwilling to be pointed inwards.

Every byte the project downloads (feeds, article pages, sitemaps, robots.txt) goes through `Fetcher.get`,
so the dangers of talking to the outside are handled once, each in a module of its own:

- Safety (connectors/guard.py). Only http and https. Every host is resolved, every answer is vetted, and the
  connection goes to the vetted address, on the first request and on every redirect. Proxy variables from the
  environment are ignored (`trust_env=False`) so they cannot route around the check. TLS is always verified.
- Limits. Connect and read timeouts, plus a whole-request deadline (connectors/deadlines.py: httpx timeouts
  are per operation). A cap on bytes read from the wire and a second cap on bytes after decompression,
  done here in small steps (connectors/decoding.py: httpx would inflate a gzip bomb before any cap saw it).
- Politeness (connectors/hosts.py). A User-Agent, per-host slots and spacing (PER_HOST_CONCURRENCY,
  PER_HOST_DELAY, robots.txt Crawl-delay), and robots.txt rules when the caller asks.
- One failure contract (connectors/fetch_errors.py). Every problem is a `FetchError` whose class says
  whether trying again later can help. The Fetcher never retries by itself.

Each request, whatever its outcome, is reported once to the policy's optional observer (`FetchObservation`:
host, outcome, seconds, bytes), for metrics.
"""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import brotli
import httpx
from protego import Protego

from connectors.deadlines import DEADLINE_SLACK, Watchdog
from connectors.decoding import decoder_for
from connectors.fetch_defaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_PER_HOST_CONCURRENCY,
    DEFAULT_PER_HOST_DELAY,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    DEFAULT_USER_AGENT,
)
from connectors.fetch_errors import (
    FatalFetchError,
    FetchError,
    RetryableFetchError,
    status_error,
    tls_failure,
    tls_text,
)
from connectors.guard import ALLOW_PRIVATE_NETWORKS_ENV, IPAddress, parse_ip_host, resolve, vet_address
from connectors.hosts import HostSlots, HostWaitTimeout

__all__ = [
    "ALLOW_PRIVATE_NETWORKS_ENV",
    "FatalFetchError",
    "FetchError",
    "FetchObservation",
    "FetchPolicy",
    "Fetcher",
    "Page",
    "RetryableFetchError",
    "parse_ip_host",
    "vet_address",
]

logger = logging.getLogger(__name__)


ACCEPT_ENCODING = "gzip, deflate, br"
SUPPORTED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Google reads the first 500 KiB of a robots.txt; a larger one is treated like a missing one here.
ROBOTS_MAX_BYTES = 512_000


@dataclass(frozen=True)
class FetchObservation:
    """One request as metrics see it: its host, how it ended ("ok", "not modified", or the error's class name),
    how long it took and how many body bytes it brought (after decoding)."""

    host: str
    outcome: str
    seconds: float
    bytes: int


@dataclass(frozen=True)
class FetchPolicy:
    """Every limit of the Fetcher in one place. Settings build one of these; tests build tight ones."""

    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    # Whole-request deadline (queueing for a slot, DNS, connect, redirects and the body), enforced while
    # streaming: httpx timeouts are per operation, so a server trickling 1 byte every 0.5 s never times out.
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES  # raw bytes read from the wire
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES  # bytes after content-encoding is undone
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    per_host_concurrency: int = DEFAULT_PER_HOST_CONCURRENCY
    per_host_delay: float = DEFAULT_PER_HOST_DELAY  # minimum seconds between request starts to one host
    allow_private_networks: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    # Off switch for robots.txt; on, it is still only consulted when `get(..., check_robots=True)`.
    respect_robots: bool = True

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FetchPolicy.{name} must be positive, got {getattr(self, name)!r}")
        for name in ("max_bytes", "max_decompressed_bytes", "per_host_concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"FetchPolicy.{name} must be at least 1, got {getattr(self, name)!r}")
        if self.max_redirects < 0 or self.per_host_delay < 0:
            raise ValueError("FetchPolicy.max_redirects and per_host_delay must not be negative")


@dataclass(frozen=True)
class Page:
    """One fetched response: a 2xx with its body, or a 304 (body b"") answering a conditional GET."""

    url: str  # as asked for
    final_url: str  # after redirects
    status: int
    headers: dict[str, str]  # lower-cased names, last value wins
    body: bytes = field(repr=False)  # content-encoding undone, within the caps
    content_type: str | None  # media type only, lower-case: "text/html"
    charset: str | None  # from the Content-Type header, lower-case
    elapsed: float  # seconds, the whole call including redirects

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


# --- The Fetcher --------------------------------------------------------------------------------------------


@dataclass
class _RobotsEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded: bool = False
    rules: Protego | None = None  # None: allow everything


class Fetcher:
    """GET with every limit of a `FetchPolicy`. Safe to share between threads; close it when done."""

    def __init__(self, policy: FetchPolicy, *, observer: Callable[[FetchObservation], None] | None = None) -> None:
        self.policy = policy
        self.observer = observer
        self.hosts = HostSlots(concurrency=policy.per_host_concurrency, delay=policy.per_host_delay)
        self._lock = threading.Lock()
        self._robots: dict[str, _RobotsEntry] = {}
        self._client = httpx.Client(
            trust_env=False,  # proxy variables must not route around the address check
            follow_redirects=False,  # each hop is vetted here
            headers={
                "User-Agent": policy.user_agent,
                "Accept-Encoding": ACCEPT_ENCODING,
                # Connections are never reused: the pool is keyed by the vetted IP, so reuse could carry a
                # request over a TLS session verified for another name sharing that IP; and the deadline
                # watchdog needs the socket of every request, which it only sees at connect time.
                "Connection": "close",
            },
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
        )
        # Stateless fetching: no cookie set by one site is ever sent back (paywall meters, tracking).
        self._client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check_robots: bool = False,
    ) -> Page:
        """Fetch `url`, following redirects. Raises RetryableFetchError or FatalFetchError, never retries.

        With `etag` / `last_modified` the GET is conditional (If-None-Match / If-Modified-Since) and a 304
        comes back as `Page(status=304, body=b"")`. With `check_robots` (pages, not feeds) robots.txt rules.
        """
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._fetch(
            url,
            headers=headers,
            check_robots=check_robots and self.policy.respect_robots,
            max_bytes=self.policy.max_bytes,
            max_decompressed_bytes=self.policy.max_decompressed_bytes,
        )

    def post(self, url: str, *, body: bytes, content_type: str) -> Page:
        """POST `body` to an API (Google News' batchexecute, connectors/links.py) under every limit of a GET: the
        address guard, the deadline, the caps. A redirect answering a POST is refused, never followed."""
        headers = {"Content-Type": content_type}
        return self._fetch(
            url,
            headers=headers,
            check_robots=False,
            max_bytes=self.policy.max_bytes,
            max_decompressed_bytes=self.policy.max_decompressed_bytes,
            content=body,
        )

    def _fetch(
        self,
        url: str,
        *,
        headers: dict[str, str],
        check_robots: bool,
        max_bytes: int,
        max_decompressed_bytes: int,
        content: bytes | None = None,
    ) -> Page:
        follow = functools.partial(self._follow, url, headers, check_robots, max_bytes, max_decompressed_bytes, content)
        if self.observer is None:
            return follow()
        started = time.monotonic()
        outcome, size = "ok", 0
        try:
            page = follow()
            outcome, size = ("not modified" if page.status == 304 else "ok"), len(page.body)
            return page
        except FetchError as exc:
            outcome = type(exc).__name__
            raise
        finally:
            self.observer(FetchObservation(_host_of(url), outcome, time.monotonic() - started, size))

    def _follow(
        self,
        url: str,
        headers: dict[str, str],
        check_robots: bool,
        max_bytes: int,
        max_decompressed_bytes: int,
        content: bytes | None = None,
    ) -> Page:
        """One GET (a POST when there is `content`) and its redirects, each hop vetted, under one deadline."""
        started = time.monotonic()
        deadline = started + self.policy.total_timeout
        target = _parse_url(url, asked=url)
        seen = {str(target.copy_with(fragment=None))}
        while True:
            if check_robots:
                self._obey_robots(target, asked=url)
            with self._open(target, headers=headers, deadline=deadline, asked=url, content=content) as response:
                status = response.status_code
                if 200 <= status < 300 or (status == 304 and headers):
                    body = b""
                    if status != 304:
                        body = self._read_body(
                            response,
                            asked=url,
                            deadline=deadline,
                            max_bytes=max_bytes,
                            max_decompressed_bytes=max_decompressed_bytes,
                        )
                    return _page(url, target, response, body, elapsed=time.monotonic() - started)
                if status not in REDIRECT_STATUSES or content is not None:
                    raise status_error(url, response, conditional=bool(headers))
                location = response.headers.get("location")
            target = self._next_hop(target, location, status=status, seen=seen, asked=url)

    def _next_hop(
        self, target: httpx.URL, location: str | None, *, status: int, seen: set[str], asked: str
    ) -> httpx.URL:
        if not location:
            raise FatalFetchError(asked, f"HTTP {status} redirect without a Location header", status)
        try:
            following = target.join(location)
        except httpx.InvalidURL as exc:
            raise FatalFetchError(asked, f"invalid redirect Location {location!r}: {exc}", status) from exc
        following = _parse_url(str(following), asked=asked, redirect=True)
        key = str(following.copy_with(fragment=None))
        if key in seen:
            raise FatalFetchError(asked, "redirect loop", status)
        if len(seen) > self.policy.max_redirects:
            raise FatalFetchError(asked, f"too many redirects (>{self.policy.max_redirects})", status)
        seen.add(key)
        return following

    @contextmanager
    def _open(
        self, target: httpx.URL, *, headers: dict[str, str], deadline: float, asked: str, content: bytes | None = None
    ) -> Iterator[httpx.Response]:
        """Send one GET to the vetted address of `target`; the response streams inside the block.

        Holds one of the host's slots for the whole exchange and maps httpx errors to FetchErrors.
        """
        host = target.raw_host.decode("ascii")
        # Refused addresses fail here, before any waiting and before any connection.
        addresses = resolve(
            host,
            url=asked,
            timeout=min(self.policy.connect_timeout, self._remaining(deadline, asked)),
            vet=not self.policy.allow_private_networks,
        )
        try:
            self.hosts.acquire(host, deadline=deadline)
        except HostWaitTimeout as exc:
            raise RetryableFetchError(asked, f"{self._deadline_reason()} waiting for {exc.waiting_for}") from None
        watchdog = Watchdog(deadline)
        response: httpx.Response | None = None
        try:
            watchdog.start()
            response = self._send(
                target, addresses, headers=headers, deadline=deadline, watchdog=watchdog, asked=asked, content=content
            )
            yield response
        except httpx.HTTPError as exc:
            in_body = response is not None
            raise self._transport_error(
                exc, asked=asked, host=host, deadline=deadline, watchdog=watchdog, in_body=in_body
            ) from exc
        finally:
            watchdog.stop()
            if response is not None:
                response.close()
            self.hosts.release(host)

    def _send(
        self,
        target: httpx.URL,
        addresses: list[IPAddress],
        *,
        headers: dict[str, str],
        deadline: float,
        watchdog: Watchdog,
        asked: str,
        content: bytes | None = None,
    ) -> httpx.Response:
        host = target.raw_host.decode("ascii")
        extensions: dict[str, Any] = {"trace": watchdog.trace}
        if target.scheme == "https":
            extensions["sni_hostname"] = host  # TLS verifies the name, though the URL now holds the address
        request_headers = {**headers, "Host": target.netloc.decode("ascii")}
        failure: httpx.ConnectError | None = None
        for address in addresses:  # on "connection refused" or "unreachable", the host's next address
            remaining = self._remaining(deadline, asked)
            read_timeout = min(self.policy.read_timeout, remaining)
            request = self._client.build_request(
                "GET" if content is None else "POST",
                target.copy_with(host=str(address)),
                headers=request_headers,
                content=content,
                timeout=httpx.Timeout(
                    connect=min(self.policy.connect_timeout, remaining),
                    read=read_timeout,
                    write=read_timeout,
                    pool=remaining,
                ),
                extensions=extensions,
            )
            try:
                return self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                if watchdog.fired or tls_failure(exc) is not None:
                    raise
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    def _read_body(
        self,
        response: httpx.Response,
        *,
        asked: str,
        deadline: float,
        max_bytes: int,
        max_decompressed_bytes: int,
    ) -> bytes:
        status = response.status_code
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > max_bytes:
            reason = f"body larger than {max_bytes} bytes (Content-Length: {declared})"
            raise FatalFetchError(asked, reason, status)
        encoding = response.headers.get("content-encoding", "")
        decoder = decoder_for(encoding, url=asked, status=status)
        body = bytearray()
        wire_bytes = 0

        def take(pieces: Iterator[bytes]) -> None:
            for piece in pieces:
                body.extend(piece)
                if len(body) > max_decompressed_bytes:
                    raise FatalFetchError(
                        asked, f"decompressed body larger than {max_decompressed_bytes} bytes", status
                    )

        try:
            for chunk in response.iter_raw():
                wire_bytes += len(chunk)
                if wire_bytes > max_bytes:
                    raise FatalFetchError(asked, f"body larger than {max_bytes} bytes", status)
                take(decoder.feed(chunk))
                if time.monotonic() > deadline:
                    raise RetryableFetchError(asked, self._deadline_reason(), status)
            take(decoder.finish())
        except (zlib.error, brotli.error) as exc:
            raise FatalFetchError(asked, f"could not decode {encoding!r} body: {exc}", status) from exc
        return bytes(body)

    # --- politeness ---

    def _obey_robots(self, target: httpx.URL, *, asked: str) -> None:
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        with self._lock:
            entry = self._robots.setdefault(origin, _RobotsEntry())
        with entry.lock:  # one fetch per origin; other threads wait for its answer
            if not entry.loaded:
                entry.rules = self._load_robots(origin)
                entry.loaded = True
                delay = entry.rules.crawl_delay(self.policy.user_agent) if entry.rules is not None else None
                if delay:
                    self.hosts.set_crawl_delay(target.raw_host.decode("ascii"), float(delay))
        if entry.rules is not None and not entry.rules.can_fetch(str(target), self.policy.user_agent):
            raise FatalFetchError(asked, "blocked by robots.txt")

    def _load_robots(self, origin: str) -> Protego | None:
        """The origin's robots.txt rules, or None (allow all) when it is missing or cannot be fetched.

        It gets a deadline of its own, so the first page of a host can take up to two total timeouts.
        """
        robots_url = f"{origin}/robots.txt"
        try:
            page = self._fetch(
                robots_url,
                headers={},
                check_robots=False,
                max_bytes=ROBOTS_MAX_BYTES,
                max_decompressed_bytes=ROBOTS_MAX_BYTES,
            )
        except FetchError as exc:
            logger.info("no usable robots.txt at %s (%s): allowing all", robots_url, exc.reason)
            return None
        # RFC 9309: robots.txt is UTF-8.
        return Protego.parse(page.body.decode("utf-8", errors="replace"))

    # --- deadlines and errors ---

    def _deadline_reason(self) -> str:
        return f"timed out after {self.policy.total_timeout} s (total deadline)"

    def _remaining(self, deadline: float, asked: str) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RetryableFetchError(asked, self._deadline_reason())
        return remaining

    def _transport_error(
        self,
        exc: httpx.HTTPError,
        *,
        asked: str,
        host: str,
        deadline: float,
        watchdog: Watchdog,
        in_body: bool,
    ) -> FetchError:
        if watchdog.fired or (
            isinstance(exc, httpx.TimeoutException) and time.monotonic() >= deadline - DEADLINE_SLACK
        ):
            return RetryableFetchError(asked, self._deadline_reason())
        if isinstance(exc, httpx.ConnectTimeout):
            limit = self.policy.connect_timeout
            return RetryableFetchError(asked, f"timed out after {limit} s connecting to {host} (connect timeout)")
        if isinstance(exc, httpx.TimeoutException):
            return RetryableFetchError(
                asked, f"timed out after {self.policy.read_timeout} s waiting for {host} (read timeout)"
            )
        tls = tls_failure(exc)
        if tls is not None:
            if isinstance(tls, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
                return RetryableFetchError(asked, f"connection closed during the TLS handshake with {host}")
            return FatalFetchError(asked, f"TLS error: {tls_text(tls)}")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            return FatalFetchError(asked, f"request error: {exc}")
        if in_body and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return RetryableFetchError(asked, f"body cut short: {exc}")
        if isinstance(exc, httpx.ConnectError):
            return RetryableFetchError(asked, f"could not connect to {host}: {exc}")
        return RetryableFetchError(asked, f"connection error: {exc or type(exc).__name__}")


def _host_of(url: str) -> str:
    """The host of a URL for an observation ("" when the URL has none or is not one)."""
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return ""


def _parse_url(url: str, *, asked: str, redirect: bool = False) -> httpx.URL:
    where = f" (redirect to {url})" if redirect else ""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FatalFetchError(asked, f"invalid URL{where}: {exc}") from exc
    if target.scheme not in SUPPORTED_SCHEMES:
        if not target.scheme:
            raise FatalFetchError(asked, f"invalid URL{where}: not absolute")
        raise FatalFetchError(asked, f"unsupported URL scheme {target.scheme!r}{where}")
    if not target.raw_host:
        raise FatalFetchError(asked, f"invalid URL{where}: no host")
    return target


def _page(asked: str, target: httpx.URL, response: httpx.Response, body: bytes, *, elapsed: float) -> Page:
    headers = {name.lower(): value for name, value in response.headers.multi_items()}
    content_type, charset = _parse_content_type(headers.get("content-type"))
    return Page(
        url=asked,
        final_url=str(target),
        status=response.status_code,
        headers=headers,
        body=body,
        content_type=content_type,
        charset=charset,
        elapsed=elapsed,
    )


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    media_type, _, parameters = value.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, parameter_value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = parameter_value.strip().strip("\"'").lower() or None
    return media_type.strip().lower() or None, charset
