"""Planner statistics during a run that fills a new database (models.store.refresh_statistics)."""

from __future__ import annotations

import time

from sqlalchemy import text

from flows.ingest import STATISTICS_AT, LoadCounts
from models import store
from models.db import get_engine, migrate
from models.store import BatchResult


def test_a_run_asks_for_statistics_when_its_stored_articles_cross_a_mark() -> None:
    counts = LoadCounts()
    asked_at = [counts.articles_stored for _ in range(400) if counts.add_batch(BatchResult(stored=7))]
    assert asked_at == [mark + (-mark) % 7 for mark in STATISTICS_AT if mark <= 400 * 7]
    assert not LoadCounts().add_batch(BatchResult(stored=0, duplicates=50))


def test_refreshing_statistics_analyzes_the_article_tables_on_postgres(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    store.refresh_statistics(engine)  # on SQLite: nothing to do, and no error
    if engine.dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 10  # the statistics views are updated when the server flushes them
    while True:
        with engine.connect() as connection:
            analyzed = {
                row[0]
                for row in connection.execute(
                    text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
                )
            }
        if {"article", "article_band"} <= analyzed or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert {"article", "article_band", "article_tag", "seen_entry"} <= analyzed
