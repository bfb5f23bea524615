"""The one HTTP client of the pipeline: polite, bounded, and unwilling to be pointed inwards.

Every byte the project downloads (feeds, article pages, sitemaps, robots.txt) goes through `Fetcher.get`,
so the dangers of talking to the outside are handled here once and no caller has to think about them:

- Limits. Connect and read timeouts, plus a whole-request deadline enforced while streaming (httpx timeouts
  are per operation: a server trickling a byte every half second never trips them). A cap on bytes read from
  the wire and a second cap on bytes after decompression: bodies are read raw and decompressed here in small
  steps, because httpx would inflate a 50 kB gzip bomb in full before any cap saw it.
- Safety. Only http and https. Every host is resolved here, every answer is vetted, and the connection goes to
  the vetted address, so loopback, private, link-local (cloud metadata), reserved and IPv4-mapped targets are
  refused before any connection is made, on the first request and on every redirect. Proxy variables from the
  environment are ignored (`trust_env=False`) so they cannot route around the check. TLS is always verified.
- Politeness. A User-Agent, a per-host concurrency limit and delay, and robots.txt when the caller asks.
- One failure contract. Every problem is a `FetchError` whose class says whether trying again later can help.
  The Fetcher never retries by itself: callers retry on `RetryableFetchError` and on nothing else.

Error hierarchy:

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
import heapq
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Protocol

import brotli
import httpx
from protego import Protego

__all__ = [
    "FatalFetchError",
    "FetchError",
    "FetchPolicy",
    "Fetcher",
    "Page",
    "RetryableFetchError",
    "parse_ip_host",
    "vet_address",
]

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_TOTAL_TIMEOUT = 60.0
DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_MAX_DECOMPRESSED_BYTES = 20_000_000
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_PER_HOST_CONCURRENCY = 2
DEFAULT_PER_HOST_DELAY = 0.0
DEFAULT_USER_AGENT = "rare-earth-news/0.1 (+https://github.com/rare-earth-news)"

ACCEPT_ENCODING = "gzip, deflate, br"
ALLOW_PRIVATE_NETWORKS_ENV = "RARE_NEWS_ALLOW_PRIVATE_NETWORKS"
SUPPORTED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Google reads the first 500 KiB of a robots.txt; a larger one is treated like a missing one here.
ROBOTS_MAX_BYTES = 512_000
# Decompression produces output in steps of this size, so a bomb overshoots its cap by one step at most.
DECODE_STEP = 64 * 1024
# zlib window bits 32 + 15: accept a gzip or a zlib header, whichever the stream has.
ZLIB_AUTO_HEADER = 47
# A timeout this close to the deadline was the deadline (socket timeouts fire a little late, never early).
DEADLINE_SLACK = 0.05

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")
_NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


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

    def __init__(
        self, url: str, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(url, reason, status)
        self.args = (url, reason, status, retry_after)  # so the error survives pickling (Prefect, Dask)
        self.retry_after = retry_after


class FatalFetchError(FetchError):
    """Trying again will not help."""


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


# --- Address vetting ----------------------------------------------------------------------------------------


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a URL host written as an IP stands for, or None if the host is a name.

    Resolvers accept more than dotted quads: 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 all mean 127.0.0.1,
    so those forms are normalised the way `inet_aton` reads them.
    """
    host = host.strip("[]")
    with suppress(ValueError):
        return ipaddress.ip_address(host)
    # inet_aton also accepts "1.2.3.4 anything": only hand it strings made of number characters.
    if _NUMERIC_HOST.fullmatch(host):
        with suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(host))
    return None


def _address_kind(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address (", a loopback address"), or None if it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64_PREFIX else None
        for embedded in (ip.ipv4_mapped, nat64, ip.sixtofour):
            if embedded is not None:
                kind = _address_kind(embedded)
                return None if kind is None else f"{kind} ({embedded}) inside an IPv6 address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services live)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def _refusal(host: str, ip: IPAddress, kind: str, *, resolved: bool) -> str:
    how = "resolves to" if resolved else "is"
    subject = f"{ip} {how} {kind}" if str(ip) == host else f"{host} {how} {ip}, {kind}"
    return f"refused: {subject} (set {ALLOW_PRIVATE_NETWORKS_ENV}=true to allow)"


def _getaddrinfo(host: str, *, url: str, timeout: float) -> list[IPAddress]:
    """Resolve `host` within `timeout` seconds (getaddrinfo cannot be told to give up; a thread can)."""
    answers: list[IPAddress] = []
    failures: list[OSError | UnicodeError] = []

    def resolve() -> None:
        try:
            for *_, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
                address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
                if address not in answers:
                    answers.append(address)
        except (OSError, UnicodeError) as exc:
            failures.append(exc)

    worker = threading.Thread(target=resolve, name=f"resolve {host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise RetryableFetchError(url, f"timed out after {timeout:.1f} s resolving host {host}")
    if failures:
        failure = failures[0]
        if isinstance(failure, socket.gaierror) and failure.errno == socket.EAI_AGAIN:
            raise RetryableFetchError(url, f"could not resolve host {host} (temporary DNS failure)")
        raise FatalFetchError(url, f"could not resolve host {host}")
    if not answers:
        raise FatalFetchError(url, f"could not resolve host {host}")
    return answers


def _resolve(host: str, *, url: str, timeout: float, vet: bool) -> list[IPAddress]:
    """The addresses to connect to for `host`; with `vet`, refuse the host if any answer is not public."""
    literal = parse_ip_host(host)
    if literal is not None:
        kind = _address_kind(literal) if vet else None
        if kind is not None:
            raise FatalFetchError(url, _refusal(host, literal, kind, resolved=False))
        return [literal]
    addresses = _getaddrinfo(host, url=url, timeout=timeout)
    if vet:
        # Every answer, not just the first: a name that also resolves inward is refused (DNS rebinding).
        for address in addresses:
            kind = _address_kind(address)
            if kind is not None:
                raise FatalFetchError(url, _refusal(host, address, kind, resolved=True))
    return addresses


def vet_address(host: str) -> None:
    """Raise FatalFetchError if `host` (a name or an IP in any notation) is or resolves to a private address.

    The check `Fetcher.get` makes before every connection, redirects included, unless the policy allows
    private networks. Resolution failures raise as they would from `Fetcher.get`.
    """
    _resolve(host, url=host, timeout=DEFAULT_CONNECT_TIMEOUT, vet=True)


# --- Decompression in bounded steps -------------------------------------------------------------------------


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _ZlibDecoder:
    """gzip or deflate, yielding at most DECODE_STEP bytes at a time."""

    def __init__(self, *, raw_fallback: bool) -> None:
        self._inflater = zlib.decompressobj(wbits=ZLIB_AUTO_HEADER)
        # Some servers send "deflate" as a raw deflate stream without the zlib header: retry once that way.
        self._raw_fallback = raw_fallback

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = data
        # Bytes after the end of the stream are ignored, as httpx does.
        while pending and not self._inflater.eof:
            try:
                out = self._inflater.decompress(pending, DECODE_STEP)
            except zlib.error:
                if not self._raw_fallback:
                    raise
                self._inflater = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
                self._raw_fallback = False
                continue
            self._raw_fallback = False
            pending = self._inflater.unconsumed_tail
            if out:
                yield out

    def finish(self) -> Iterator[bytes]:
        # All input has been consumed by now, so what is left is at most one window (32 KiB).
        out = self._inflater.flush()
        if out:
            yield out


class _BrotliDecoder:
    """br, yielding roughly DECODE_STEP bytes at a time."""

    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._decompressor.is_finished():
            return
        out = self._decompressor.process(data, output_buffer_limit=DECODE_STEP)
        while True:
            if out:
                yield out
            # With output pending, process() must be called with empty input until it can take more.
            if not out or self._decompressor.can_accept_more_data():
                return
            out = self._decompressor.process(b"", output_buffer_limit=DECODE_STEP)

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _DecoderChain:
    """The content-codings of a response undone in reverse order of application (usually one, or none)."""

    def __init__(self, decoders: list[_Decoder]) -> None:
        self._decoders = decoders

    def feed(self, data: bytes) -> Iterator[bytes]:
        yield from self._push(0, data)

    def finish(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            for piece in decoder.finish():
                yield from self._push(index + 1, piece)

    def _push(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._decoders):
            yield data
            return
        for piece in self._decoders[index].feed(data):
            yield from self._push(index + 1, piece)


def _decoder_for(content_encoding: str, *, url: str, status: int) -> _DecoderChain:
    decoders: list[_Decoder] = []
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            decoders.append(_ZlibDecoder(raw_fallback=False))
        elif coding == "deflate":
            decoders.append(_ZlibDecoder(raw_fallback=True))
        elif coding == "br":
            decoders.append(_BrotliDecoder())
        elif coding != "identity":
            raise FatalFetchError(url, f"unsupported content-encoding {coding!r}", status)
    return _DecoderChain(decoders)


# --- Deadline watchdog --------------------------------------------------------------------------------------


class _DeadlineClock:
    """One daemon thread that fires every watchdog whose deadline has passed.

    A `threading.Timer` per request started a thread per page fetched (a tenth of the flow process's CPU per
    page in `make bench`); this keeps a heap of deadlines instead. Stopped watchdogs stay in the heap until
    their deadline and are skipped then.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Watchdog]] = []
        self._condition = threading.Condition()
        self._count = 0  # tie-breaker: watchdogs don't compare
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, watchdog: _Watchdog) -> None:
        with self._condition:
            self._count += 1
            heapq.heappush(self._due, (deadline, self._count, watchdog))
            if self._thread is None or not self._thread.is_alive():  # also after a fork
                self._thread = threading.Thread(target=self._run, name="fetch-deadlines", daemon=True)
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                now = time.monotonic()
                while self._due and (self._due[0][0] <= now or self._due[0][2].stopped):
                    _, _, watchdog = heapq.heappop(self._due)
                    if not watchdog.stopped:
                        watchdog.fire()
                self._condition.wait(timeout=(self._due[0][0] - now) if self._due else None)


_DEADLINES = _DeadlineClock()


class _Watchdog:
    """Shuts the connection of one request down when its deadline passes, whatever httpx is blocked on.

    Checking the deadline between body chunks cannot stop a server that trickles its status line and
    headers, or the TLS handshake, one byte at a time: httpx reads those in one call. httpcore's `trace`
    extension hands over the socket as soon as it is connected, so the deadline clock can shut it down and
    unblock that call.
    """

    def __init__(self, deadline: float) -> None:
        self.fired = False
        self.stopped = False
        self._deadline = deadline
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    def start(self) -> None:
        _DEADLINES.add(self._deadline, self)

    def stop(self) -> None:
        # Called before the response is closed, so the clock can never shut down a reused file descriptor.
        with self._lock:
            self.stopped = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._socket = sock  # after TLS, the SSL socket: wrapping detached the plain one
                if self.fired and not self.stopped:
                    _shutdown(sock)

    def fire(self) -> None:
        with self._lock:
            if self.stopped:
                return
            self.fired = True
            if self._socket is not None:
                _shutdown(self._socket)


def _shutdown(sock: socket.socket) -> None:
    """Shut a socket down from another thread, through a duplicate: the owner's socket object is untouched."""
    try:
        duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
    except OSError:
        return  # already closed
    with duplicate, suppress(OSError):
        duplicate.shutdown(socket.SHUT_RDWR)


# --- The Fetcher --------------------------------------------------------------------------------------------


@dataclass
class _HostState:
    slots: threading.BoundedSemaphore
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_start: float = 0.0


@dataclass
class _RobotsEntry:
    lock: threading.Lock = field(default_factory=threading.Lock)
    loaded: bool = False
    rules: Protego | None = None  # None: allow everything


class Fetcher:
    """GET with every limit of a `FetchPolicy`. Safe to share between threads; close it when done."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}
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

    def _fetch(
        self,
        url: str,
        *,
        headers: dict[str, str],
        check_robots: bool,
        max_bytes: int,
        max_decompressed_bytes: int,
    ) -> Page:
        started = time.monotonic()
        deadline = started + self.policy.total_timeout
        target = _parse_url(url, asked=url)
        seen = {str(target.copy_with(fragment=None))}
        while True:
            if check_robots:
                self._obey_robots(target, asked=url)
            with self._open(target, headers=headers, deadline=deadline, asked=url) as response:
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
                if status not in REDIRECT_STATUSES:
                    raise _status_error(url, response, conditional=bool(headers))
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
        self, target: httpx.URL, *, headers: dict[str, str], deadline: float, asked: str
    ) -> Iterator[httpx.Response]:
        """Send one GET to the vetted address of `target`; the response streams inside the block.

        Holds one of the host's slots for the whole exchange and maps httpx errors to FetchErrors.
        """
        host = target.raw_host.decode("ascii")
        # Refused addresses fail here, before any waiting and before any connection.
        addresses = _resolve(
            host,
            url=asked,
            timeout=min(self.policy.connect_timeout, self._remaining(deadline, asked)),
            vet=not self.policy.allow_private_networks,
        )
        state = self._host_state(host)
        if not state.slots.acquire(timeout=self._remaining(deadline, asked)):
            raise RetryableFetchError(asked, f"{self._deadline_reason()} waiting for a free slot for {host}")
        watchdog = _Watchdog(deadline)
        response: httpx.Response | None = None
        try:
            self._wait_turn(state, deadline=deadline, asked=asked)
            watchdog.start()
            response = self._send(
                target, addresses, headers=headers, deadline=deadline, watchdog=watchdog, asked=asked
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
            state.slots.release()

    def _send(
        self,
        target: httpx.URL,
        addresses: list[IPAddress],
        *,
        headers: dict[str, str],
        deadline: float,
        watchdog: _Watchdog,
        asked: str,
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
                "GET",
                target.copy_with(host=str(address)),
                headers=request_headers,
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
                if watchdog.fired or _tls_failure(exc) is not None:
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
        decoder = _decoder_for(encoding, url=asked, status=status)
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

    def _host_state(self, host: str) -> _HostState:
        with self._lock:
            state = self._hosts.get(host)
            if state is None:
                state = _HostState(slots=threading.BoundedSemaphore(self.policy.per_host_concurrency))
                self._hosts[host] = state
            return state

    def _wait_turn(self, state: _HostState, *, deadline: float, asked: str) -> None:
        """Keep request starts to one host `per_host_delay` apart: book a start time, then sleep until it."""
        if self.policy.per_host_delay <= 0:
            return
        with state.lock:
            now = time.monotonic()
            start = max(now, state.next_start)
            if start >= deadline:
                raise RetryableFetchError(asked, f"{self._deadline_reason()} waiting for the per-host delay")
            state.next_start = start + self.policy.per_host_delay
        time.sleep(start - now)

    def _obey_robots(self, target: httpx.URL, *, asked: str) -> None:
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        with self._lock:
            entry = self._robots.setdefault(origin, _RobotsEntry())
        with entry.lock:  # one fetch per origin; other threads wait for its answer
            if not entry.loaded:
                entry.rules = self._load_robots(origin)
                entry.loaded = True
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
        watchdog: _Watchdog,
        in_body: bool,
    ) -> FetchError:
        if watchdog.fired or (
            isinstance(exc, httpx.TimeoutException) and time.monotonic() >= deadline - DEADLINE_SLACK
        ):
            return RetryableFetchError(asked, self._deadline_reason())
        if isinstance(exc, httpx.ConnectTimeout):
            limit = self.policy.connect_timeout
            return RetryableFetchError(
                asked, f"timed out after {limit} s connecting to {host} (connect timeout)"
            )
        if isinstance(exc, httpx.TimeoutException):
            return RetryableFetchError(
                asked, f"timed out after {self.policy.read_timeout} s waiting for {host} (read timeout)"
            )
        tls = _tls_failure(exc)
        if tls is not None:
            if isinstance(tls, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
                return RetryableFetchError(asked, f"connection closed during the TLS handshake with {host}")
            return FatalFetchError(asked, f"TLS error: {_tls_text(tls)}")
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
            return FatalFetchError(asked, f"request error: {exc}")
        if in_body and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            return RetryableFetchError(asked, f"body cut short: {exc}")
        if isinstance(exc, httpx.ConnectError):
            return RetryableFetchError(asked, f"could not connect to {host}: {exc}")
        return RetryableFetchError(asked, f"connection error: {exc or type(exc).__name__}")


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


def _status_error(asked: str, response: httpx.Response, *, conditional: bool) -> FetchError:
    status = response.status_code
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = response.reason_phrase
    reason = f"HTTP {status} {phrase}".rstrip()
    if status == 429 or 500 <= status < 600:
        retry_after = _parse_retry_after(response.headers.get("retry-after"))
        return RetryableFetchError(asked, reason, status, retry_after=retry_after)
    if status == 304 and not conditional:
        reason += " (no conditional request was sent)"
    return FatalFetchError(asked, reason, status)


def _parse_retry_after(value: str | None) -> float | None:
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


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind an httpx error, if any (httpx wraps httpcore's error, which wraps the ssl one)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _tls_text(error: ssl.SSLError) -> str:
    verify_message = getattr(error, "verify_message", None)
    if verify_message:
        return f"certificate verify failed: {verify_message}"
    return getattr(error, "reason", None) or str(error)
