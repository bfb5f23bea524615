"""Memory and CPU of a process tree, sampled from /proc while it runs (Linux), for the benchmark.

Peak RSS is reported two ways: the sum of every process's resident set (counts pages that forked workers share
with their parent once per process: an upper bound) and the sum of proportional set sizes (PSS: shared pages
split between the processes that share them, so the sum is what the tree really holds).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_PROC = Path("/proc")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_KB = (os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4


def available() -> bool:
    return (_PROC / "self" / "smaps_rollup").exists()


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list((_PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now."""
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        stack.extend(children(current))
    return pids


def rss_kb(pid: int) -> int:
    try:
        return int((_PROC / str(pid) / "statm").read_text().split()[1]) * _PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def pss_kb(pid: int) -> int:
    try:
        for line in (_PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def name(pid: int) -> str:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return "?"
    parts = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
    return " ".join(parts)[:120]


@dataclass
class TreeStats:
    peak_rss_mb: float = 0.0  # sum of RSS over the tree, at its highest
    peak_pss_mb: float = 0.0  # sum of PSS over the tree, at its highest
    peak_processes: int = 0
    cpu_by_pid: dict[int, float] = field(default_factory=dict)  # last seen CPU seconds of each process
    rss_by_pid: dict[int, float] = field(default_factory=dict)  # highest RSS of each process, MB
    names: dict[int, str] = field(default_factory=dict)
    forkservers: set[int] = field(default_factory=set)  # children of the root that started from a forkserver
    samples: int = 0

    def cpu_seconds(self) -> float:
        return sum(self.cpu_by_pid.values())

    def cpu_of(self, pid: int) -> float:
        return self.cpu_by_pid.get(pid, 0.0)

    def by_role(self, root: int) -> dict[str, dict[str, float]]:
        """Peak RSS and CPU seconds per kind of process: the root, forkserver, workers, resource tracker."""
        roles: dict[str, dict[str, float]] = {}
        for pid in self.cpu_by_pid.keys() | self.rss_by_pid.keys():
            command = self.names.get(pid, "")
            if pid == root:
                role = "flow_process"
            elif "resource_tracker" in command:
                role = "resource_tracker"
            elif "forkserver" in command and pid in self.forkservers:
                role = "forkserver"
            elif "forkserver" in command:
                role = "workers"
            else:
                role = "other"
            entry = roles.setdefault(role, {"processes": 0, "peak_rss_mb_each_max": 0.0, "cpu_s": 0.0})
            entry["processes"] += 1
            entry["peak_rss_mb_each_max"] = round(max(entry["peak_rss_mb_each_max"], self.rss_by_pid.get(pid, 0.0)), 1)
            entry["cpu_s"] = round(entry["cpu_s"] + self.cpu_by_pid.get(pid, 0.0), 2)
        return roles


class TreeSampler:
    """Samples a process tree every `interval` seconds on a thread until `stop()`."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.stats = TreeStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sample {pid}", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> TreeStats:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.stats

    def sample(self) -> None:
        pids = tree(self.pid)
        rss = pss = 0
        for pid in pids:
            resident = rss_kb(pid)
            rss += resident
            pss += pss_kb(pid)
            self.stats.rss_by_pid[pid] = max(self.stats.rss_by_pid.get(pid, 0.0), resident / 1024)
            cpu = cpu_seconds(pid)
            if cpu >= self.stats.cpu_by_pid.get(pid, 0.0):
                self.stats.cpu_by_pid[pid] = cpu
            if pid not in self.stats.names:
                self.stats.names[pid] = name(pid)
        self.stats.forkservers.update(
            child for child in children(self.pid) if "forkserver" in self.stats.names.get(child, "")
        )
        stats = self.stats
        stats.samples += 1
        stats.peak_rss_mb = max(stats.peak_rss_mb, rss / 1024)
        stats.peak_pss_mb = max(stats.peak_pss_mb, pss / 1024)
        stats.peak_processes = max(stats.peak_processes, len(pids))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def cpu_of_tree(pid: int) -> float:
    return sum(cpu_seconds(child) for child in tree(pid))


def wait_for(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval)
    return False
