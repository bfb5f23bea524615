"""full-text search: FTS5 on SQLite, a generated tsvector with a GIN index on Postgres

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# External-content FTS5 table kept in step with `article` by triggers; bm25() ranks the matches.
SQLITE_UP = [
    """CREATE VIRTUAL TABLE article_fts USING fts5(
        title, body_text, content='article', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER article_fts_insert AFTER INSERT ON article BEGIN
        INSERT INTO article_fts(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
    END""",
    """CREATE TRIGGER article_fts_delete AFTER DELETE ON article BEGIN
        INSERT INTO article_fts(article_fts, rowid, title, body_text)
        VALUES ('delete', old.id, old.title, old.body_text);
    END""",
    """CREATE TRIGGER article_fts_update AFTER UPDATE OF title, body_text ON article BEGIN
        INSERT INTO article_fts(article_fts, rowid, title, body_text)
        VALUES ('delete', old.id, old.title, old.body_text);
        INSERT INTO article_fts(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
    END""",
    "INSERT INTO article_fts(article_fts) VALUES ('rebuild')",
]

POSTGRES_UP = [
    """ALTER TABLE article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english', body_text), 'B')) STORED""",
    "CREATE INDEX ix_article_search_vector ON article USING GIN (search_vector)",
]


def upgrade() -> None:
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("article_fts_insert", "article_fts_delete", "article_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS article_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_article_search_vector")
        op.execute("ALTER TABLE article DROP COLUMN IF EXISTS search_vector")
