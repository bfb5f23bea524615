"""Helpers for tests/test_http.py: a raw-socket server for misbehaving peers, and a recorder of connections.

pytest-httpserver answers politely; the cases that matter most for the Fetcher are servers that do not (a
trickle, a body cut short, a Content-Length that lies), so those get a tiny TCP server on 127.0.0.1 whose
handler writes whatever bytes the test wants.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Handler = Callable[[socket.socket, threading.Event], None]


class LoopbackServer:
    """A TCP listener on 127.0.0.1 whose accept loop hands every connection to `serve(conn)` on a thread of its
    own (tests/faults/servers.py's RawWeb is one too). `start()`, then `close()` when done."""

    def __init__(self, name: str) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.stopping = threading.Event()
        self.connections = 0
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=name, daemon=True)

    def start(self) -> None:
        self._acceptor.start()

    def close(self) -> None:
        self.stopping.set()
        self._acceptor.join(2)
        for thread in self._threads:
            thread.join(2)
        self._listener.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()


class RawServer(LoopbackServer):
    """Every connection runs `handler(conn, stopping)` after its request head is read."""

    def __init__(self, handler: Handler) -> None:
        super().__init__("raw-server")
        self._handler = handler

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                read_request(conn)
                self._handler(conn, self.stopping)
            except OSError:
                pass  # the client gave up first: that is what most of these tests are about


def read_request(conn: socket.socket) -> bytes:
    """Read one request head (a GET has no body), up to 64 KiB."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def trickle(conn: socket.socket, stopping: threading.Event, data: bytes, interval: float) -> None:
    """Send `data` one byte every `interval` seconds, until done, stopped, or the client hangs up."""
    for byte in data:
        if stopping.wait(interval):
            return
        conn.sendall(bytes([byte]))


_recording: list[list[Any]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect" and _recording:
        _recording[-1].append(args[1])


sys.addaudithook(_audit)


@contextmanager
def record_connections() -> Iterator[list[Any]]:
    """Every address a socket in this process tries to connect to while the block runs (via audit events)."""
    attempts: list[Any] = []
    _recording.append(attempts)
    try:
        yield attempts
    finally:
        _recording.remove(attempts)
