"""Fixtures of the fault suite, its safety net, and the table printed at the end of the session.

Safety net: while the suite runs, an audit hook refuses (and records) every socket connection this process
tries to make to a non-loopback address and every real DNS lookup of a name, and `socket.getaddrinfo` is
replaced by a resolver that knows a few made-up names and answers "no such name" for the rest. So a guard
that failed to refuse 169.254.169.254 would fail its test here instead of reaching out, and `*.invalid` never
becomes a query to the machine's name server.

"Public" names: `news.example.com` resolves to PUBLIC_STANDIN, a global address, so the fetcher's guard vets it
and lets it through as it would a real news site. Only below the guard, when the HTTP transport opens the
socket, is PUBLIC_STANDIN resolved again, to 127.0.0.1. Nothing ever connects to PUBLIC_STANDIN itself.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_DIR, _fresh_postgres
from tests.faults.report import COLLECTOR, Audit

PUBLIC_STANDIN = "93.184.216.34"
FAULTS_DIR = Path(__file__).resolve().parent
# Run last in the whole session: it restarts the shared Postgres server.
RUN_LAST = ("test_postgres_restarted_during_a_run",)


# --- the safety net --------------------------------------------------------------------------------------------


@dataclass
class NetGuard:
    active: bool = False
    violations: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)  # every (host, port) connected to


NET = NetGuard()


def _is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not NET.active:
        return
    if event == "socket.connect":
        sock, address = args
        if getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return
        host, port = str(address[0]), int(address[1])
        NET.connects.append((host, port))
        if not _is_loopback_literal(host):
            NET.violations.append(f"connect to {host}:{port}")
            raise PermissionError(f"fault suite: connection to non-loopback {host}:{port} blocked")
    elif event == "socket.getaddrinfo":
        host = args[0]
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if name is None or name == "localhost":
            return
        try:
            ipaddress.ip_address(str(name).split("%", 1)[0])
        except ValueError:
            NET.violations.append(f"DNS lookup of {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"fault suite: DNS lookup of {name} blocked") from None


sys.addaudithook(_audit)


class FakeDNS:
    """socket.getaddrinfo for the suite: made-up names, the public stand-in, and no lookups of anything else."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self._real = real
        self.names: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = host.decode("ascii") if isinstance(host, bytes) else host
        self.asked.append(str(name))
        if name == PUBLIC_STANDIN:  # only the transport asks this: the guard reads IP literals itself
            return self._real("127.0.0.1", port, family, type, proto, flags)
        if name in self.names:
            answers = []
            for address in self.names[name]:
                ip = ipaddress.ip_address(address)
                af = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
                sockaddr: tuple[Any, ...] = (address, int(port or 0)) + ((0, 0) if ip.version == 6 else ())
                answers.append((af, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
            return answers
        if name is None or name == "localhost" or _is_literal(str(name)):
            return self._real(host, port, family, type, proto, flags)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _is_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


@pytest.fixture(scope="package", autouse=True)
def outside_world_blocked() -> Iterator[FakeDNS]:
    """For the whole suite: the fake resolver in place and the audit hook refusing non-loopback traffic."""
    dns = FakeDNS(socket.getaddrinfo)
    dns.names.update(
        {
            "news.example.com": [PUBLIC_STANDIN],
            "wire.example.org": [PUBLIC_STANDIN],
            # DNS rebinding: one public answer and one private one.
            "inward.example.net": [PUBLIC_STANDIN, "10.1.2.3"],
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", dns)
        NET.active = True
        try:
            yield dns
        finally:
            NET.active = False


@pytest.fixture(autouse=True)
def no_outside_connections() -> Iterator[None]:
    before = len(NET.violations)
    yield
    assert NET.violations[before:] == [], "the suite tried to reach outside loopback"


# --- databases, settings, runs ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(name, URL) of a fresh database shared by one module's tests: a SQLite file, then a Postgres database."""
    from models.db import get_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('faultdb') / 'rare_news.db'}"
        yield "sqlite", url
        get_engine(url).dispose()
        return
    for url in _fresh_postgres(request.getfixturevalue("postgres_admin")):
        yield "postgres", url


def backend_name(url: str) -> str:
    return "postgres" if url.startswith("postgresql") else "sqlite"


FAST_LIMITS: dict[str, Any] = {
    "config_dir": PROJECT_DIR / "config",
    "allow_private_networks": True,
    "connect_timeout": 1.0,
    "read_timeout": 1.5,
    "total_timeout": 2.5,
    "max_bytes": 2_000_000,
    "max_decompressed_bytes": 4_000_000,
    "max_redirects": 5,
    "fetch_retries": 1,
    "per_host_concurrency": 16,
    "fetch_concurrency": 16,
    "feed_concurrency": 16,
    "extract_workers": 1,
    "poll_max_interval": 0,  # every feed due every run (adaptive polling is tested in tests/test_sources_e2e.py)
}


def fault_settings(database_url: str, **overrides: Any) -> Any:
    """Settings for an in-process run: loopback allowed, tight limits, extraction in this process."""
    from flows.settings import get_settings

    return get_settings(**{"database_url": database_url, **FAST_LIMITS, **overrides})


def run_ingest(feeds_file: Path, settings: Any, *, force: bool = False) -> Any:
    """One real run of the ingest flow, in this process (Prefect's test server must be up)."""
    from flows.ingest import ingest
    from flows.progress import Reporter

    return ingest(feeds_file=feeds_file, settings=settings, reporter=Reporter(), force=force)


def feeds_toml(path: Path, feeds: list[tuple[str, bool]]) -> Path:
    path.write_text(
        "".join(f'[[feeds]]\nurl = "{url}"\ntopical = {str(topical).lower()}\n\n' for url, topical in feeds),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def prefect_api_url(prefect_harness: None) -> str:
    """The test harness's Prefect API: subprocess runs use it instead of starting their own server (~12 s)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "the Prefect test harness did not set an API URL"
    return str(url)


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("rare-news")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def cli_env(prefect_api_url: str | None, **settings: Any) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("RARE_NEWS_", "PREFECT_"))}
    env.update(
        {
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
            "RARE_NEWS_CONFIG_DIR": str(PROJECT_DIR / "config"),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }
    )
    if prefect_api_url:
        env["PREFECT_API_URL"] = prefect_api_url
    for name, value in {**{k: v for k, v in FAST_LIMITS.items() if k != "config_dir"}, **settings}.items():
        env[f"RARE_NEWS_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


# --- the table ------------------------------------------------------------------------------------------------


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Callable[..., None]:
    """record(fault, what, backend=..., found=Audit) adds this test's row to the fault table."""

    def add(fault: str, what: str, *, backend: str = "-", found: Audit | None = None) -> None:
        COLLECTOR.record(request.node.nodeid, fault, what, backend=backend, found=found)

    return add


def _in_suite(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(FAULTS_DIR)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if _in_suite(item) and getattr(item, "originalname", None) in RUN_LAST]
    for item in last:
        items.remove(item)
        items.append(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if _in_suite(item) and (report.when == "call" or report.failed):
        COLLECTOR.mark(item.nodeid, report.passed)
    return report


def pytest_unconfigure(config: pytest.Config) -> None:
    """The table comes last, after pytest's own summary, so `make faults` ends with the line of figures."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or (not COLLECTOR.rows and not COLLECTOR.failed_nodeids):
        return
    reporter.write_sep("=", "faults: what each did to the real ingestion path")
    for line in COLLECTOR.lines():
        reporter.write_line(line)
