"""Per-host politeness: how many requests one host may have open, and how far apart their starts must be.

The Fetcher asks `HostSlots.acquire` before every request (feeds, pages, sitemaps, robots.txt) and releases
after; that is the hard rule. A scheduler in front of the Fetcher (connectors/pages.py) asks `ready_at` first,
so it hands a request to a worker only when its host can take it: a request waits in its host's queue, never
in a worker's hands, and one slow or busy site never idles the others (Scrapy's download slots).

A host's spacing is the policy's PER_HOST_DELAY, raised by its robots.txt Crawl-delay when it gives one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

__all__ = ["MAX_CRAWL_DELAY", "HostSlots", "HostWaitTimeout"]

# A robots.txt Crawl-delay above this is read as this: a site asking for one page a minute still gets one.
MAX_CRAWL_DELAY = 60.0


class HostWaitTimeout(Exception):
    """The deadline came before the host had a free slot or before its turn; `waiting_for` says which."""

    def __init__(self, waiting_for: str) -> None:
        super().__init__(waiting_for)
        self.waiting_for = waiting_for


@dataclass
class _Host:
    in_use: int = 0
    next_start: float = 0.0  # monotonic time before which no request to this host may start
    delay: float = 0.0


class HostSlots:
    """Slots and start times per host, shared by every thread of one Fetcher."""

    def __init__(self, *, concurrency: int, delay: float) -> None:
        self.concurrency = concurrency
        self.delay = delay
        self._hosts: dict[str, _Host] = {}
        self._changed = threading.Condition()

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(delay=self.delay)
        return state

    def acquire(self, host: str, *, deadline: float) -> None:
        """Take one of `host`'s slots and book the next start time, then sleep until it. Raises HostWaitTimeout
        when the deadline comes first (the slot is given back)."""
        with self._changed:
            state = self._host(host)
            while state.in_use >= self.concurrency:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HostWaitTimeout(f"a free slot for {host}")
                self._changed.wait(remaining)
            now = time.monotonic()
            start = max(now, state.next_start)
            if start >= deadline:
                raise HostWaitTimeout("the per-host delay")
            state.in_use += 1
            state.next_start = start + state.delay
        if start > now:
            time.sleep(start - now)

    def release(self, host: str) -> None:
        with self._changed:
            self._host(host).in_use -= 1
            self._changed.notify_all()

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        """robots.txt asked for `seconds` between requests: the host's spacing becomes the larger of the two."""
        with self._changed:
            state = self._host(host)
            state.delay = max(self.delay, min(seconds, MAX_CRAWL_DELAY))

    def ready_at(self, host: str, *, dispatched: int) -> float | None:
        """When a request to `host` could start, given `dispatched` requests already handed out to it and not
        finished (None: all its slots are taken). Asks; books nothing."""
        with self._changed:
            state = self._hosts.get(host)
            if state is None:
                return 0.0 if dispatched < self.concurrency else None
            if max(dispatched, state.in_use) >= self.concurrency:
                return None
            # Requests handed out but not started yet will each take one spacing of their own.
            pending = max(0, dispatched - state.in_use)
            return state.next_start + pending * state.delay
