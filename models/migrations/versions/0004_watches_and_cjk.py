"""watches, a per-feed poll log for the report, and substring search for Chinese, Japanese and Korean

- `watch` (a saved search) and `watch_match` (which new article matched which watch, and whether its digest
  was delivered).
- `feed_poll`: one row per poll of a feed, written by a trigger whenever `feed.last_polled_at` changes, so the
  report can show each feed's share of 304s and new items per poll without the flow logging anything.
- CJK search. The unicode61 tokenizer of `article_fts` (and Postgres's `english` parser) make a whole run of
  Han characters one token, so `稀土` never matches `中国稀土价格`. SQLite gets a second external-content FTS5
  table with the trigram tokenizer (substring matches of 3+ characters); Postgres gets pg_trgm with a GIN
  index for `ILIKE '%...%'` when the extension can be created, and plain ILIKE scans otherwise.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE VIRTUAL TABLE article_fts_cjk USING fts5(
        title, body_text, content='article', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER article_fts_cjk_insert AFTER INSERT ON article BEGIN
        INSERT INTO article_fts_cjk(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
    END""",
    """CREATE TRIGGER article_fts_cjk_delete AFTER DELETE ON article BEGIN
        INSERT INTO article_fts_cjk(article_fts_cjk, rowid, title, body_text)
        VALUES ('delete', old.id, old.title, old.body_text);
    END""",
    """CREATE TRIGGER article_fts_cjk_update AFTER UPDATE OF title, body_text ON article BEGIN
        INSERT INTO article_fts_cjk(article_fts_cjk, rowid, title, body_text)
        VALUES ('delete', old.id, old.title, old.body_text);
        INSERT INTO article_fts_cjk(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
    END""",
    "INSERT INTO article_fts_cjk(article_fts_cjk) VALUES ('rebuild')",
    """CREATE TRIGGER feed_poll_log AFTER UPDATE OF last_polled_at ON feed
        WHEN new.last_polled_at IS NOT NULL AND new.last_polled_at IS NOT old.last_polled_at
    BEGIN
        INSERT INTO feed_poll(feed_id, polled_at, status, error)
        VALUES (new.id, new.last_polled_at, new.last_status, new.last_error);
    END""",
]

# The indexed expression must be written exactly so in queries (models/cjk_search.py) for the index to serve.
POSTGRES_TRGM_INDEX = (
    "CREATE INDEX ix_article_text_trgm ON article "
    "USING GIN ((coalesce(title, '') || ' ' || body_text) gin_trgm_ops)"
)

POSTGRES_UP = [
    """CREATE FUNCTION feed_poll_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.last_polled_at IS NOT NULL AND NEW.last_polled_at IS DISTINCT FROM OLD.last_polled_at THEN
            INSERT INTO feed_poll(feed_id, polled_at, status, error)
            VALUES (NEW.id, NEW.last_polled_at, NEW.last_status, NEW.last_error);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER feed_poll_log AFTER UPDATE OF last_polled_at ON feed
        FOR EACH ROW EXECUTE FUNCTION feed_poll_log()""",
]


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("element", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("place", sa.Text(), nullable=True),
        sa.Column("topic", sa.Text(), nullable=True),
        sa.Column("notify_url", sa.Text(), nullable=True),
        _ts("created_at", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_watch_name"),
    )
    op.create_table(
        "watch_match",
        sa.Column("watch_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        _ts("matched_at", nullable=False),
        sa.Column("delivery", sa.Text(), nullable=False),
        _ts("delivered_at"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["watch_id"], ["watch.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["article_id"], ["article.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("watch_id", "article_id"),
    )
    op.create_index("ix_watch_match_delivery", "watch_match", ["watch_id", "delivery"])
    op.create_table(
        "feed_poll",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        _ts("polled_at", nullable=False),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["feed_id"], ["feed.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_feed_poll_feed_id", "feed_poll", ["feed_id", "polled_at"])

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
        return
    for statement in POSTGRES_UP:
        op.execute(statement)
    # pg_trgm ships with Postgres (Debian: postgresql-contrib) and is a trusted extension since 13, but a role
    # may still lack the right: then CJK search scans with ILIKE, which is correct, only slower.
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        bind.exec_driver_sql(POSTGRES_TRGM_INDEX)
    except sa.exc.DBAPIError:
        savepoint.rollback()
    else:
        savepoint.commit()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("article_fts_cjk_insert", "article_fts_cjk_delete", "article_fts_cjk_update", "feed_poll_log"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS article_fts_cjk")
    else:
        op.execute("DROP INDEX IF EXISTS ix_article_text_trgm")
        op.execute("DROP TRIGGER IF EXISTS feed_poll_log ON feed")
        op.execute("DROP FUNCTION IF EXISTS feed_poll_log()")
    op.drop_index("ix_feed_poll_feed_id", table_name="feed_poll")
    op.drop_table("feed_poll")
    op.drop_index("ix_watch_match_delivery", table_name="watch_match")
    op.drop_table("watch_match")
    op.drop_table("watch")
