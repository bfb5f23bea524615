"""A Postgres cluster of a test's own, on a free loopback port, that the test may stop, start and restart.

Restarting the shared server on 127.0.0.1:5432 would cut the connections of every other test running on this
machine at that moment; a private cluster (initdb in a temporary directory, about a second) cuts only its own.
Postgres refuses to run as root: as root the cluster belongs to the `postgres` user (`runuser`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path


def _bin_dir() -> Path | None:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda path: int(path.parts[-3]))
    return versions[-1].parent if versions else None


def available() -> str | None:
    """None when a private cluster can be made here, else why not."""
    if _bin_dir() is None:
        return "no Postgres server binaries in /usr/lib/postgresql/*/bin"
    if os.geteuid() == 0 and not shutil.which("runuser"):
        return "running as root without runuser: cannot start Postgres as another user"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateCluster:
    directory: Path
    port: int

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        bin_dir = _bin_dir()
        assert bin_dir is not None
        command = [str(bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def _options(self) -> str:
        return f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        data, log = str(self.directory / "data"), str(self.directory / "log")
        self._run("pg_ctl", "-D", data, "-o", self._options(), "-l", log, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", mode, "-w", "stop")

    def restart(self) -> float:
        """Restart as an operator would (fast: sessions are cut); seconds it took."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A new cluster, started; stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="rare-news-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
    cluster = PrivateCluster(directory, free_port())
    try:
        cluster._run(
            "initdb", "-D", str(directory / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"
        )
        cluster.start()
        yield cluster
    finally:
        with suppress(subprocess.SubprocessError, OSError):
            cluster.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
