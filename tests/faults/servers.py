"""Servers that misbehave on purpose, all on 127.0.0.1: the raw-socket web, a TLS server, a black hole, bombs.

pytest-httpserver (tests/newsweb.py) answers politely; these answer the way hostile or broken servers do: a
trickle, a body cut short, a Content-Length that lies, a gigabyte streamed without end, a certificate nobody
trusts, a port that never completes a connection. Each records what it was asked and how much it sent, so a
test can prove a limit stopped the transfer early rather than trusting an error message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import brotli

from tests.http_fixtures import LoopbackServer, read_request

GIB = 1 << 30


@dataclass
class RawRequest:
    path: str
    at: float


Handler = Callable[[socket.socket, "RawWeb"], None]


@dataclass
class RawWeb(LoopbackServer):
    """A TCP server on 127.0.0.1 that routes request paths to handlers writing raw bytes."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[RawRequest] = field(default_factory=list)
    sent: dict[str, int] = field(default_factory=dict)  # bytes written per path
    healed: bool = False  # transient faults behave once set
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        LoopbackServer.__init__(self, "raw-web")
        self.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def asked(self, path: str) -> int:
        with self.lock:
            return sum(1 for request in self.requests if request.path == path)

    def serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                head = read_request(conn)
                path = head.split(b" ", 2)[1].decode("latin-1") if head.count(b" ") >= 2 else "/"
                with self.lock:
                    self.requests.append(RawRequest(path, time.monotonic()))
                handler = self.routes.get(path, not_found)
                handler(conn, self)
            except OSError:
                pass  # the client hung up first: what most of these handlers are about

    def send(self, conn: socket.socket, path: str, data: bytes) -> None:
        conn.sendall(data)
        with self.lock:
            self.sent[path] = self.sent.get(path, 0) + len(data)


def head(status: str = "200 OK", *, content_type: str | None = "text/html; charset=utf-8", **extra: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.extend(f"{name.replace('_', '-')}: {value}" for name, value in extra.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def not_found(conn: socket.socket, web: RawWeb) -> None:
    conn.sendall(head("404 Not Found", Content_Length="0"))


def ok(body: bytes, *, content_type: str = "text/html; charset=utf-8") -> bytes:
    return head(content_type=content_type, Content_Length=str(len(body))) + body


# --- handlers ------------------------------------------------------------------------------------------------


def trickled_body(path: str, body: bytes, *, interval: float) -> Handler:
    """Headers at once, then one byte every `interval` seconds (slow-loris); the whole page once healed."""

    def handler(conn: socket.socket, web: RawWeb) -> None:
        if web.healed:
            web.send(conn, path, ok(body))
            return
        web.send(conn, path, head(Content_Length=str(len(body))))
        for byte in body:
            if web.stopping.wait(interval):
                return
            web.send(conn, path, bytes([byte]))

    return handler


def trickled_head(path: str, response: bytes, *, interval: float) -> Handler:
    """Even the status line arrives one byte at a time: no per-read timeout ever fires."""

    def handler(conn: socket.socket, web: RawWeb) -> None:
        for byte in response:
            if web.stopping.wait(interval):
                return
            web.send(conn, path, bytes([byte]))

    return handler


def cut_short(path: str, body: bytes) -> Handler:
    """Content-Length of the whole page, half of it sent, then the connection closes; whole once healed."""

    def handler(conn: socket.socket, web: RawWeb) -> None:
        if web.healed:
            web.send(conn, path, ok(body))
            return
        web.send(conn, path, head(Content_Length=str(len(body))) + body[: len(body) // 2])

    return handler


def content_length(path: str, body: bytes, declared: int) -> Handler:
    """A Content-Length that lies: longer than the body (then close), or shorter (then the rest anyway)."""

    def handler(conn: socket.socket, web: RawWeb) -> None:
        web.send(conn, path, head(Content_Length=str(declared)) + body)

    return handler


def endless(path: str, *, declare: bool, total: int = GIB) -> Handler:
    """`total` bytes of page, streamed in 64 KiB writes until done or the client hangs up; never in memory."""
    chunk = (b"<p>rare earth filler paragraph " + b"x" * 96 + b"</p>\n") * 512

    def handler(conn: socket.socket, web: RawWeb) -> None:
        extra = {"Content_Length": str(total)} if declare else {}
        web.send(conn, path, head(**extra) + b"<html><body>")
        remaining = total
        while remaining > 0 and not web.stopping.is_set():
            piece = chunk[: min(len(chunk), remaining)]
            web.send(conn, path, piece)
            remaining -= len(piece)

    return handler


# --- bombs ---------------------------------------------------------------------------------------------------


def gzip_bomb(unpacked: int = GIB) -> bytes:
    """A gzip body of `unpacked` zero bytes (about 1 MB on the wire per GiB), built without inflating it.

    After a full flush deflate starts afresh, so each 1 MiB block of zeros compresses to the same bytes: one
    block is compressed and repeated. The CRC is computed over the zeros, so the stream is valid to the end.
    """
    block = bytes(1 << 20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressed = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush(zlib.Z_FINISH)
    blocks = unpacked >> 20
    crc = 0
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + compressed * blocks + end + struct.pack("<II", crc, (blocks << 20) & 0xFFFFFFFF)


def brotli_bomb(unpacked: int = GIB) -> bytes:
    """A brotli body of `unpacked` zero bytes: about 1.6 kB on the wire for a GiB."""
    compressor = brotli.Compressor(quality=5)
    block = bytes(1 << 20)
    parts = [compressor.process(block) for _ in range(unpacked >> 20)]
    return b"".join(parts) + compressor.finish()


# --- TLS and connect timeouts --------------------------------------------------------------------------------


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost that nobody trusts (made with `cryptography`, which Prefect depends on)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class TLSServer(LoopbackServer):
    """HTTPS on 127.0.0.1 with a self-signed certificate; counts handshakes that got as far as a request."""

    def __init__(self, cert: Path, key: Path, body: bytes) -> None:
        super().__init__("tls-server")
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert, key)
        self._body = body
        self.requests = 0
        self.start()

    def serve(self, conn: socket.socket) -> None:
        try:
            with self._context.wrap_socket(conn, server_side=True) as tls:
                read_request(tls)
                self.requests += 1
                tls.sendall(ok(self._body, content_type="application/rss+xml"))
        except (OSError, ssl.SSLError):
            conn.close()  # the client refused the certificate: the point


class BlackHole:
    """A port whose accept queue is full: a connection attempt gets no answer, so only the connect timeout ends it.

    The listener never accepts; with a backlog of 0 the kernel queues one connection and drops the SYNs of the
    rest. The queue is filled here until an attempt hangs, which proves the hole works before a test relies on it.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []
        for _ in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.settimeout(0.3)
            self._fillers.append(filler)
            try:
                filler.connect(("127.0.0.1", self.port))
            except (TimeoutError, OSError):
                self.works = True
                return
        self.works = False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()
