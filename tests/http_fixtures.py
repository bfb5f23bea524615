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


class RawServer:
    """A TCP server on 127.0.0.1: every connection runs `handler(conn, stopping)` on a thread of its own."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.stopping = threading.Event()
        self.connections = 0
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="raw-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._acceptor.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._acceptor.join(2)
        for thread in self._threads:
            thread.join(2)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                read_request(conn)
                self._handler(conn, self.stopping)
            except OSError:
                pass  # the client gave up first: that is what most of these tests are about


def read_request(conn: socket.socket) -> bytes:
    """Read one request head (a GET has no body)."""
    data = b""
    while b"\r\n\r\n" not in data:
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
