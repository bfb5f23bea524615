"""connectors/http.py against real servers on 127.0.0.1: limits, address guard, redirects, robots, politeness.

No mocks of httpx. Polite cases use pytest-httpserver; misbehaving peers (trickles, lies, cut-short bodies)
use the raw-socket server in tests/http_fixtures.py. Nothing here connects anywhere but loopback.
"""

from __future__ import annotations

import contextlib
import email.utils
import gzip
import pickle
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import brotli
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.http import (
    FatalFetchError,
    Fetcher,
    FetchError,
    FetchPolicy,
    RetryableFetchError,
    parse_ip_host,
    vet_address,
)
from tests.http_fixtures import RawServer, record_connections, trickle

LOCAL = FetchPolicy(allow_private_networks=True, total_timeout=10.0)
BOMB_SIZE = 50_000_000
BOMB_CAP = 1_000_000


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(LOCAL) as fetcher:
        yield fetcher


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1_000_000)
    parts = [compressor.compress(zeros) for _ in range(BOMB_SIZE // len(zeros))]
    return b"".join(parts) + compressor.flush()


# --- bodies, encodings, validators --------------------------------------------------------------------------


def test_gzip_body_is_decoded_and_described(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    html = b"<html><body>Lynas ships NdPr</body></html>"
    httpserver.expect_request("/a").respond_with_data(
        gzip.compress(html),
        headers={"Content-Encoding": "gzip", "ETag": '"v1"', "X-Twice": "first"},
        content_type="text/html; charset=UTF-8",
    )

    page = fetcher.get(httpserver.url_for("/a"))

    assert page.status == 200
    assert page.body == html
    assert (page.content_type, page.charset) == ("text/html", "utf-8")
    assert page.etag == '"v1"'
    assert page.url == page.final_url == httpserver.url_for("/a")
    request, _ = httpserver.log[-1]
    assert request.headers["User-Agent"] == LOCAL.user_agent
    assert request.headers["Accept-Encoding"] == "gzip, deflate, br"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress),
    ],
    ids=["zlib-deflate", "raw-deflate", "brotli"],
)
def test_other_content_encodings_are_decoded(httpserver: HTTPServer, fetcher: Fetcher, encoding, encode) -> None:
    httpserver.expect_request("/a").respond_with_data(encode(b"hello " * 100), headers={"Content-Encoding": encoding})
    assert fetcher.get(httpserver.url_for("/a")).body == b"hello " * 100


def test_conditional_get_sends_validators_and_returns_304(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    stamp = "Wed, 01 Jan 2025 00:00:00 GMT"
    httpserver.expect_request("/feed").respond_with_data("", status=304, headers={"ETag": '"v2"'})

    page = fetcher.get(httpserver.url_for("/feed"), etag='"v2"', last_modified=stamp)

    assert (page.status, page.body, page.etag) == (304, b"", '"v2"')
    request, _ = httpserver.log[-1]
    assert request.headers["If-None-Match"] == '"v2"'
    assert request.headers["If-Modified-Since"] == stamp


# --- status mapping -----------------------------------------------------------------------------------------


def test_server_error_is_retryable(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a").respond_with_data("oops", status=500)
    with pytest.raises(RetryableFetchError) as caught:
        fetcher.get(httpserver.url_for("/a"))
    assert (caught.value.status, caught.value.reason, caught.value.retry_after) == (
        500,
        "HTTP 500 Internal Server Error",
        None,
    )


def test_429_is_retryable_with_retry_after_in_seconds_or_as_a_date(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    httpserver.expect_request("/seconds").respond_with_data("", status=429, headers={"Retry-After": "30"})
    httpserver.expect_request("/date").respond_with_data("", status=503, headers={"Retry-After": later})

    with pytest.raises(RetryableFetchError, match="HTTP 429 Too Many Requests") as caught:
        fetcher.get(httpserver.url_for("/seconds"))
    assert caught.value.retry_after == 30.0
    with pytest.raises(RetryableFetchError) as caught:
        fetcher.get(httpserver.url_for("/date"))
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120


def test_404_is_fatal(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/missing").respond_with_data("no such page", status=404)
    with pytest.raises(FatalFetchError) as caught:
        fetcher.get(httpserver.url_for("/missing"))
    assert (caught.value.status, caught.value.reason) == (404, "HTTP 404 Not Found")


def test_errors_survive_pickling() -> None:
    error = pickle.loads(pickle.dumps(RetryableFetchError("http://a.example/", "HTTP 503", 503, retry_after=7.0)))
    assert (error.url, error.reason, error.status, error.retry_after) == (
        "http://a.example/",
        "HTTP 503",
        503,
        7.0,
    )


# --- deadlines and caps -------------------------------------------------------------------------------------


def test_slow_loris_body_hits_the_total_deadline() -> None:
    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        trickle(conn, stopping, b"x" * 1000, 0.25)

    with (
        RawServer(handler) as server,
        Fetcher(FetchPolicy(allow_private_networks=True, total_timeout=1.5)) as f,
    ):
        started = time.monotonic()
        with pytest.raises(RetryableFetchError, match=r"timed out after 1\.5 s \(total deadline\)"):
            f.get(server.url + "/")
        assert time.monotonic() - started < 3.0


def test_trickled_headers_hit_the_total_deadline() -> None:
    """httpx reads the whole head in one call: only the watchdog can stop a head sent a byte at a time."""

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        trickle(conn, stopping, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000, 0.25)

    with (
        RawServer(handler) as server,
        Fetcher(FetchPolicy(allow_private_networks=True, total_timeout=1.5)) as f,
    ):
        started = time.monotonic()
        with pytest.raises(RetryableFetchError, match="timed out"):
            f.get(server.url + "/")
        assert time.monotonic() - started < 3.0


def test_body_cut_short_is_retryable() -> None:
    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)

    with (
        RawServer(handler) as server,
        Fetcher(LOCAL) as f,
        pytest.raises(RetryableFetchError, match="cut short"),
    ):
        f.get(server.url + "/")


def test_content_length_over_the_cap_is_fatal(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 2000)
    with (
        Fetcher(FetchPolicy(allow_private_networks=True, max_bytes=1000)) as f,
        pytest.raises(FatalFetchError, match=r"body larger than 1000 bytes \(Content-Length: 2000\)"),
    ):
        f.get(httpserver.url_for("/big"))


def test_chunked_body_over_the_cap_is_fatal() -> None:
    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):  # 100 x 1000 bytes, far past the cap, unless the client hangs up first
            conn.sendall(b"3e8\r\n" + b"x" * 1000 + b"\r\n")
        conn.sendall(b"0\r\n\r\n")

    with (
        RawServer(handler) as server,
        Fetcher(FetchPolicy(allow_private_networks=True, max_bytes=5000)) as f,
        pytest.raises(FatalFetchError, match="body larger than 5000 bytes"),
    ):
        f.get(server.url + "/")


@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_decompression_bomb_is_fatal_and_memory_stays_small(gzip_bomb: bytes, encoding: str) -> None:
    bomb = gzip_bomb if encoding == "gzip" else brotli.compress(bytes(BOMB_SIZE), quality=5)
    assert len(bomb) < 100_000
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(bomb)}\r\n\r\n"

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        conn.sendall(head.encode() + bomb)

    # The raw server, not werkzeug: tracemalloc sees every thread, and werkzeug allocates 10 MB per request.
    policy = FetchPolicy(allow_private_networks=True, max_decompressed_bytes=BOMB_CAP)
    with RawServer(handler) as server, Fetcher(policy) as f:  # made first: httpx imports lazily
        tracemalloc.start()
        try:
            with pytest.raises(FatalFetchError, match="decompressed body larger than"):
                f.get(server.url + "/")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 3 * BOMB_CAP


# --- redirects ----------------------------------------------------------------------------------------------


def test_redirect_is_followed(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/new"})
    httpserver.expect_request("/new").respond_with_data("here")
    page = fetcher.get(httpserver.url_for("/old"))
    assert (page.body, page.url, page.final_url) == (
        b"here",
        httpserver.url_for("/old"),
        httpserver.url_for("/new"),
    )


def test_redirect_loop_is_fatal(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(FatalFetchError, match="redirect loop"):
        fetcher.get(httpserver.url_for("/a"))


def test_too_many_redirects_is_fatal(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    for hop in range(10):
        httpserver.expect_request(f"/r{hop}").respond_with_data("", status=307, headers={"Location": f"/r{hop + 1}"})
    with pytest.raises(FatalFetchError, match=r"too many redirects \(>5\)"):
        fetcher.get(httpserver.url_for("/r0"))
    assert len(httpserver.log) == 6


def test_redirect_to_another_scheme_is_fatal(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(FatalFetchError, match="unsupported URL scheme 'file'"):
        fetcher.get(httpserver.url_for("/a"))


# --- the address guard --------------------------------------------------------------------------------------


def test_guard_refuses_the_loopback_server_without_connecting(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/").respond_with_data("should never be served")
    with (
        Fetcher(FetchPolicy()) as guarded,
        record_connections() as attempts,
        pytest.raises(FatalFetchError, match="127.0.0.1 is a loopback address") as caught,
    ):
        guarded.get(f"http://127.0.0.1:{httpserver.port}/")
    assert "RARE_NEWS_ALLOW_PRIVATE_NETWORKS=true" in caught.value.reason
    assert attempts == []
    assert httpserver.log == []


def test_connection_recorder_sees_real_connections(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    """The control for the guard tests: an allowed fetch does show up as a connection attempt."""
    httpserver.expect_request("/").respond_with_data("ok")
    with record_connections() as attempts:
        fetcher.get(f"http://127.0.0.1:{httpserver.port}/")
    assert ("127.0.0.1", httpserver.port) in attempts


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://[::1]:{port}/", "loopback"),
        ("http://2130706433:{port}/", "loopback"),
        ("http://0x7f000001:{port}/", "loopback"),
        ("http://127.1:{port}/", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/", "loopback"),
        ("http://localhost:{port}/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://0.0.0.0:{port}/", "unspecified"),
    ],
)
def test_guard_refuses_non_public_addresses_before_any_connection(httpserver: HTTPServer, url: str, kind: str) -> None:
    with (
        Fetcher(FetchPolicy()) as guarded,
        record_connections() as attempts,
        pytest.raises(FatalFetchError, match=f"refused: .*{kind}"),
    ):
        guarded.get(url.format(port=httpserver.port))
    assert attempts == []
    assert httpserver.log == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "::1",
        "::ffff:127.0.0.1",
        "169.254.169.254",
        "10.0.0.1",
        "2130706433",
        "fc00::1",
    ],
)
def test_vet_address_refuses_what_a_redirect_could_point_at(host: str) -> None:
    with pytest.raises(FatalFetchError, match="refused"):
        vet_address(host)


def test_vet_address_accepts_public_addresses() -> None:
    vet_address("93.184.215.14")
    vet_address("2606:4700::1111")
    vet_address("::ffff:8.8.8.8")


def test_integer_and_octal_hosts_are_read_as_resolvers_read_them() -> None:
    assert str(parse_ip_host("2130706433")) == "127.0.0.1"
    assert str(parse_ip_host("0177.0.0.01")) == "127.0.0.1"
    assert str(parse_ip_host("[::1]")) == "::1"
    assert parse_ip_host("1.2.3.4 evil.example") is None
    assert parse_ip_host("news.example") is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/"])
def test_other_schemes_are_fatal(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FatalFetchError, match="unsupported URL scheme"):
        fetcher.get(url)


def test_unresolvable_host_is_reported(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="could not resolve host nonexistent.invalid"):
        fetcher.get("http://nonexistent.invalid/")


def test_refused_connection_is_retryable(fetcher: Fetcher) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    with pytest.raises(RetryableFetchError, match="could not connect to 127.0.0.1"):
        fetcher.get(f"http://127.0.0.1:{port}/")


# --- TLS ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ]
            + ["-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl unavailable: {exc}")
    return cert, key


def test_tls_uses_the_host_name_and_an_untrusted_certificate_is_fatal(self_signed: tuple[Path, Path]) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            with conn, contextlib.suppress(OSError):  # the client rejects the certificate mid-handshake
                context.wrap_socket(conn, server_side=True).close()

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        with (
            Fetcher(LOCAL) as f,
            pytest.raises(FatalFetchError, match="TLS error: certificate verify failed"),
        ):
            f.get(f"https://localhost:{port}/")
        server.join(2)
    assert names == ["localhost"]  # connected to the vetted IP, yet TLS was told the name


# --- robots.txt ---------------------------------------------------------------------------------------------


def test_robots_disallow_is_fatal_and_the_page_is_never_requested(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private\n")
    httpserver.expect_request("/public").respond_with_data("ok")

    with pytest.raises(FatalFetchError, match="blocked by robots.txt"):
        fetcher.get(httpserver.url_for("/private/story"), check_robots=True)
    assert fetcher.get(httpserver.url_for("/public"), check_robots=True).body == b"ok"

    paths = [request.path for request, _ in httpserver.log]
    assert paths == ["/robots.txt", "/public"]  # fetched once per host; /private never asked for


def test_missing_robots_allows_all_and_feeds_skip_it(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    httpserver.expect_request("/story").respond_with_data("ok")
    assert fetcher.get(httpserver.url_for("/story"), check_robots=True).body == b"ok"
    assert fetcher.get(httpserver.url_for("/story")).body == b"ok"
    assert [request.path for request, _ in httpserver.log] == ["/robots.txt", "/story", "/story"]


# --- politeness ---------------------------------------------------------------------------------------------


def test_per_host_concurrency_is_never_exceeded() -> None:
    lock = threading.Lock()
    active = [0]
    most = [0]

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.15)
        with lock:
            active[0] -= 1
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    policy = FetchPolicy(allow_private_networks=True, per_host_concurrency=1)
    with RawServer(handler) as server, Fetcher(policy) as f:
        bodies: list[bytes] = []
        threads = [threading.Thread(target=lambda: bodies.append(f.get(server.url + "/").body)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert bodies == [b"ok"] * 4
    assert most[0] == 1


def test_per_host_delay_spaces_request_starts() -> None:
    starts: list[float] = []

    def handler(conn: socket.socket, stopping: threading.Event) -> None:
        starts.append(time.monotonic())
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    policy = FetchPolicy(allow_private_networks=True, per_host_delay=0.2, per_host_concurrency=3)
    with RawServer(handler) as server, Fetcher(policy) as f:
        threads = [threading.Thread(target=f.get, args=(server.url + "/",)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    starts.sort()
    assert len(starts) == 3
    assert all(later - earlier >= 0.15 for earlier, later in zip(starts, starts[1:], strict=False))


def test_many_requests_share_one_deadline_thread(httpserver: HTTPServer, fetcher: Fetcher) -> None:
    # A thread per request (a Timer each) cost a tenth of the flow's CPU per page; one clock serves them all.
    httpserver.expect_request("/a").respond_with_data("hello")
    for _ in range(3):
        fetcher.get(httpserver.url_for("/a"))
    threads_before = threading.active_count()
    for _ in range(40):
        assert fetcher.get(httpserver.url_for("/a")).body == b"hello"
    assert threading.active_count() <= threads_before
    assert [t.name for t in threading.enumerate()].count("fetch-deadlines") == 1


def test_robots_crawl_delay_spaces_request_starts_to_that_host(httpserver: HTTPServer) -> None:
    starts: list[float] = []

    def page(request: Request) -> Response:
        starts.append(time.monotonic())
        return Response("ok")

    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nCrawl-delay: 0.3\n")
    httpserver.expect_request("/page").respond_with_handler(page)
    policy = FetchPolicy(allow_private_networks=True, per_host_concurrency=3)
    with Fetcher(policy) as f:
        threads = [
            threading.Thread(target=f.get, args=(httpserver.url_for("/page"),), kwargs={"check_robots": True})
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    starts.sort()
    assert len(starts) == 3
    assert all(later - earlier >= 0.25 for earlier, later in zip(starts, starts[1:], strict=False))


def test_every_request_is_observed_once_with_its_outcome_and_size(httpserver: HTTPServer) -> None:
    from connectors.http import FetchObservation

    httpserver.expect_request("/ok").respond_with_data("hello")
    httpserver.expect_request("/gone").respond_with_data("", status=404)
    seen: list[FetchObservation] = []
    with Fetcher(LOCAL, observer=seen.append) as f:
        f.get(httpserver.url_for("/ok"))
        with pytest.raises(FatalFetchError):
            f.get(httpserver.url_for("/gone"))
    assert [(o.host, o.outcome, o.bytes) for o in seen] == [
        ("localhost", "ok", 5),
        ("localhost", "FatalFetchError", 0),
    ]
    assert all(o.seconds >= 0 for o in seen)


def test_page_stream_retries_without_holding_a_worker_and_returns_every_url(httpserver: HTTPServer) -> None:
    from connectors.pages import PageFetch, PageStream

    calls = {"flaky": 0}

    def flaky(request: Request) -> Response:
        calls["flaky"] += 1
        return Response("busy", status=503) if calls["flaky"] == 1 else Response("fine")

    httpserver.expect_request("/flaky").respond_with_handler(flaky)
    httpserver.expect_request("/ok").respond_with_data("ok")
    httpserver.expect_request("/gone").respond_with_data("", status=404)
    results: dict[str, PageFetch] = {}
    with Fetcher(LOCAL) as f, PageStream(f, results.__setitem__, in_flight=1, retries=1, check_robots=False) as stream:
        for path in ("/flaky", "/ok", "/gone"):
            stream.submit(path, httpserver.url_for(path))
        assert stream.wait(20)
    assert results["/flaky"].page is not None and results["/flaky"].page.body == b"fine"
    assert results["/ok"].page is not None
    assert (results["/gone"].page, results["/gone"].retryable) == (None, False)
    assert calls["flaky"] == 2
