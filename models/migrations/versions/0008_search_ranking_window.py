"""search at 100k articles: an index for "newest matches first", and the Postgres tsvector kept in the row

Search ranks the newest RANKING_WINDOW matches (models/queries.py), found by walking articles newest first:

- Postgres: `ix_article_newest` on (published_at DESC NULLS LAST, id DESC), the order search and the newest
  listing use (the plain `ix_article_published_at` walked backwards puts undated articles first). SQLite needs
  none: its `ix_article_published_at` holds the rowid, and SQLite sorts NULLs first, so walking it backwards
  is already that order.
- Postgres: `search_vector` (about 2 kB per article, which pglz cannot shrink) was moved out of line into the
  TOAST table, so every `@@` test and every rank read it from there: 6 us per article, most of a search's
  time. Storage MAIN and a toast_tuple_target of a full page keep it in the row (body_text, EXTENDED, is
  compressed or moved out first); a `@@` test then costs about 1 us. Rows already stored are rewritten once
  by CLUSTER on the new index, which also lays the table out newest first, the order search walks it in. It
  holds an exclusive lock on `article` while it runs: about a minute per 100k articles on 2 cores, mostly
  rebuilding the trigram index.

Revision ID: 0008
Revises: 0007
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

POSTGRES_UP = [
    "CREATE INDEX ix_article_newest ON article (published_at DESC NULLS LAST, id DESC)",
    "ALTER TABLE article ALTER COLUMN search_vector SET STORAGE MAIN",
    "ALTER TABLE article SET (toast_tuple_target = 8160)",
    "CLUSTER article USING ix_article_newest",
    "ANALYZE article",
]

POSTGRES_DOWN = [
    "ALTER TABLE article SET WITHOUT CLUSTER",
    "ALTER TABLE article RESET (toast_tuple_target)",
    "ALTER TABLE article ALTER COLUMN search_vector SET STORAGE EXTENDED",
    "DROP INDEX IF EXISTS ix_article_newest",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWN:
            op.execute(statement)
