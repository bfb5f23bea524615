"""The engine, from one URL, and the schema's migration to the newest revision.

SQLite is the embedded default (`sqlite:///data/rare_news.db`); Postgres is `postgresql+psycopg://...`.
No engine is built at import time: call `get_engine(url)`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# A second writer on SQLite waits this long for the lock instead of failing at once.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# pg_advisory_xact_lock key serialising migrations (any fixed number no other feature uses: "MIGRATE").
MIGRATION_LOCK_KEY = 0x4D49475241544500


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
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    raise DatabaseError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:// or postgresql+psycopg://"
    )


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


def schema_exists(engine: Engine) -> bool:
    try:
        return inspect(engine).has_table("article")
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot reach the database {engine.url.render_as_string()}: {exc.orig}"
        ) from None


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    with engine.begin() as connection:
        yield connection
