"""Shared fixtures: a database on SQLite and on the local Postgres, Prefect's test harness, test settings.

Postgres: each test gets its own throwaway database on 127.0.0.1:5432, dropped afterwards. With CI=true a
missing Postgres fails the run; elsewhere its tests are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# Tests never read a developer's own settings.toml or environment by accident.
for _name in [name for name in os.environ if name.startswith("RARE_NEWS_")]:
    del os.environ[_name]
# Tests run the flow again and again at once: every feed is due every run unless a test asks for adaptive
# polling (tests/test_sources_e2e.py sets its bounds). Production default: README "Sources".
os.environ["RARE_NEWS_POLL_MAX_INTERVAL"] = "0"

PROJECT_DIR = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get("RARE_NEWS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START_HINT = "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[object]:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        engine.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} ({START_HINT}): {exc.orig}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield engine
    engine.dispose()


def _fresh_postgres(admin: object) -> Iterator[str]:
    from models.db import get_engine

    name = f"rare_news_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:  # type: ignore[attr-defined]
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as connection:  # type: ignore[attr-defined]
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, then a throwaway Postgres database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rare_news.db'}"
        yield url
        from models.db import get_engine

        get_engine(url).dispose()
        return
    yield from _fresh_postgres(request.getfixturevalue("postgres_admin"))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (it costs ~13 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a test: loopback allowed, short timeouts, the project's taxonomy and seeds."""
    from flows.settings import get_settings

    def make(database_url: str, **overrides: object):  # type: ignore[no-untyped-def]
        values: dict[str, object] = {
            "database_url": database_url,
            "config_dir": PROJECT_DIR / "config",
            "allow_private_networks": True,
            "connect_timeout": 2.0,
            "read_timeout": 2.0,
            "total_timeout": 3.0,
            "fetch_retries": 0,
            "respect_robots": True,
        }
        values.update(overrides)
        return get_settings(**values)

    return make


@pytest.fixture
def web() -> Iterator[object]:
    """A news web on a threaded loopback server (tests/newsweb.py), stopped after the test."""
    from pytest_httpserver import HTTPServer

    from tests.newsweb import NewsWeb

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield NewsWeb(server)
    server.clear()
    if server.is_running():
        server.stop()
