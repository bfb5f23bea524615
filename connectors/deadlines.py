"""The whole-request deadline: one clock thread that shuts down the connection of a request past its deadline.

httpx timeouts are per operation (a server trickling a byte every half second never trips them), and checking
the deadline between body chunks cannot stop a server that trickles its status line, headers or TLS handshake.
"""

from __future__ import annotations

import heapq
import socket
import threading
import time
from contextlib import suppress
from typing import Any

__all__ = ["DEADLINE_SLACK", "Watchdog"]

# A timeout this close to the deadline was the deadline (socket timeouts fire a little late, never early).
DEADLINE_SLACK = 0.05


class _DeadlineClock:
    """One daemon thread that fires every watchdog whose deadline has passed.

    A `threading.Timer` per request started a thread per page fetched (a tenth of the flow process's CPU per
    page in `make bench`); this keeps a heap of deadlines instead. Stopped watchdogs stay in the heap until
    their deadline and are skipped then.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Watchdog]] = []
        self._condition = threading.Condition()
        self._count = 0  # tie-breaker: watchdogs don't compare
        self._thread: threading.Thread | None = None

    def add(self, deadline: float, watchdog: Watchdog) -> None:
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


class Watchdog:
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
