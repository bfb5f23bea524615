"""The engine, from one URL, and the schema's migration to the newest revision.

SQLite is the embedded default (`sqlite:///data/rare_news.db`); Postgres is `postgresql+psycopg://...`.
No engine is built at import time: call `get_engine(url)`.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A second writer on SQLite waits this long for the lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key serialising migrations (any fixed number no other feature uses: "MIGRATE").
MIGRATION_LOCK_KEY = 0x4D49475241544500
# A statement that fails because the connection to Postgres dropped (a restart, a failover) is tried again on a
# fresh connection for this long, by default (the setting `reconnect_seconds`); then the error goes up.
DEFAULT_RECONNECT_SECONDS = 60.0
RECONNECT_FIRST_WAIT = 0.5
RECONNECT_LONGEST_WAIT = 8.0
# SQLSTATEs of a server going away or not yet back: class 08 (connection exception) and these.
_SERVER_GONE_STATES = ("57P01", "57P02", "57P03")  # admin shutdown, crash shutdown, cannot connect now

P = ParamSpec("P")
R = TypeVar("R")
_log = logging.getLogger("rare_news.db")
_reconnect_seconds = DEFAULT_RECONNECT_SECONDS


class DatabaseError(RuntimeError):
    """The store cannot be reached or used; the message is one readable line."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per URL per process. SQLite files get WAL, foreign keys and a busy timeout."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # Pre-ping: a connection the server dropped (a restart) is replaced at checkout instead of failing a load.
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    raise DatabaseError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite:// or postgresql+psycopg://")


def dialect_insert(connection: Connection, table: Any) -> Any:
    """INSERT with ON CONFLICT support: SQLAlchemy has it per dialect, and both of ours have it."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine, *, to: str = "heads") -> None:
    """Create or upgrade the schema to the newest revision (or to revision `to`). Idempotent."""
    _run_migration(engine, "upgrade", to)


def downgrade(engine: Engine, *, to: str) -> None:
    """Take the schema back to revision `to` (what an operator does before running an older release)."""
    _run_migration(engine, "downgrade", to)


def _run_migration(engine: Engine, direction: str, revision: str) -> None:
    from alembic import command

    config = _alembic_config(engine)
    try:
        with engine.begin() as connection:
            _one_migration_at_a_time(connection)
            config.attributes["connection"] = connection
            # "heads", not "head": should features ever branch from one base again, all of them apply.
            getattr(command, direction)(config, revision)
    except OperationalError as exc:
        raise DatabaseError(f"cannot migrate {engine.url.render_as_string()}: {exc.orig}") from None


def _one_migration_at_a_time(connection: Connection) -> None:
    """Hold the schema until this transaction ends: two runs starting on a new database would otherwise both
    create the tables, and one would fail (Postgres: duplicate pg_type "alembic_version"; SQLite: locked)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
    elif connection.dialect.name == "sqlite":
        dbapi_connection: Any = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:  # pysqlite would begin only at the first write, after the reads
            connection.exec_driver_sql("BEGIN IMMEDIATE")


_REVISION = re.compile(r"^revision\b[^=\n]*=\s*[\"'](\w+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=(.*)$", re.MULTILINE)


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The newest revisions of the migration files, read as text: alembic takes a tenth of a second to import."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN_REVISION.search(source)
        if down is not None:
            parents.update(re.findall(r"[\"'](\w+)[\"']", down.group(1)))
    return frozenset(revisions - parents)


def schema_is_current(engine: Engine) -> bool:
    """The store is at the newest revision: nothing to migrate (False when unsure; `migrate` then decides)."""
    try:
        with engine.connect() as connection:
            stored = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
    except (OperationalError, ProgrammingError):  # no such table yet, or no database at all
        return False
    return bool(stored) and stored == head_revisions()


def schema_exists(engine: Engine) -> bool:
    try:
        return inspect(engine).has_table("article")
    except OperationalError as exc:
        raise DatabaseError(f"cannot reach the database {engine.url.render_as_string()}: {exc.orig}") from None


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with engine.begin() as connection:
        yield connection


# --- riding through a lost connection ------------------------------------------------------------------------


def set_reconnect_window(seconds: float) -> None:
    """How long `retry_on_disconnect` keeps trying (the setting `reconnect_seconds`); 0 turns it off."""
    global _reconnect_seconds
    _reconnect_seconds = max(0.0, seconds)


def is_disconnect(exc: BaseException) -> bool:
    """The connection dropped or the server cannot be reached: worth a try on a fresh connection. A statement
    the server refused (a constraint, bad SQL, a full disk) is not."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    state = getattr(exc.orig, "sqlstate", None)  # None: psycopg could not connect at all
    return state is None or state.startswith("08") or state in _SERVER_GONE_STATES


def retry_on_disconnect(function: Callable[Concatenate[Engine, P], R]) -> Callable[Concatenate[Engine, P], R]:
    """Run `function(engine, ...)` again, with backoff, while Postgres is away, for up to the reconnect window.

    For functions that do their work in one transaction (or only read): a transaction cut by the restart was
    rolled back, and loads are upserts, so running it whole again is what one clean attempt would have done.
    SQLAlchemy invalidates the pool on a disconnect and pre-pings each checkout, so the next try gets a new
    connection. SQLite has no server to come back: its errors go up at once."""

    @functools.wraps(function)
    def with_retries(engine: Engine, *args: P.args, **kwargs: P.kwargs) -> R:
        deadline: float | None = None
        wait = RECONNECT_FIRST_WAIT
        while True:
            try:
                return function(engine, *args, **kwargs)
            except DBAPIError as exc:
                if engine.dialect.name != "postgresql" or not is_disconnect(exc):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + _reconnect_seconds
                    _log.info(  # INFO: a run that rides through says nothing; one that cannot, one line (cli)
                        "database connection lost (%s); trying again for up to %.0f s", _reason(exc), _reconnect_seconds
                    )
                if now >= deadline:
                    raise
                time.sleep(min(wait, deadline - now))
                wait = min(wait * 2, RECONNECT_LONGEST_WAIT)

    return with_retries


def _reason(exc: DBAPIError) -> str:
    lines = str(exc.orig or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
