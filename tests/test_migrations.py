"""The migration history: one head, and upgrading a database that is already current changes nothing."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from models.db import _alembic_config, get_engine, migrate


def test_the_history_has_one_head(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = get_engine(f"sqlite:///{tmp_path / 'heads.db'}")
    heads = ScriptDirectory.from_config(_alembic_config(engine)).get_heads()
    assert len(heads) == 1, f"migrations have several heads {heads}: add a merge revision"


def test_migrating_twice_leaves_one_current_revision(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    migrate(engine)
    head = ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()
    with engine.connect() as connection:
        versions = [row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))]
    assert versions == [head]
    assert set(inspect(engine).get_table_names()) == tables
    assert {"article", "article_band", "site_template", "watch", "feed_poll"} <= tables
