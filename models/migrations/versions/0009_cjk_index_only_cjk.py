"""the trigram index holds only articles with Chinese, Japanese or Korean text

The trigram index of migration 0004 serves only queries that contain CJK characters (models/cjk_search.py), and
every word of such a query must occur in the article, so only an article whose title or body has a CJK
character can match. Indexing every article made each insert pay for the trigrams of an English body (0.54 ms
per article on SQLite, five times the word index) for nothing. Now only articles with a character of the class
`_CJK` of models/cjk_search.py (kana, bopomofo, CJK extension A, unified and compatibility ideographs, Hangul
syllables, U+20000-U+2FA1F) are indexed:

- SQLite: `article_fts_cjk` takes its content from the view `article_cjk` (the articles with CJK text) instead
  of `article`, and its triggers touch it only for such rows. FTS5 'delete' must be given exactly the values
  that were indexed, so it is issued only when the old row had CJK text; an update removes the old row when it
  had CJK text and adds the new one when that has. With the view as content, FTS5's own 'rebuild' and
  `('integrity-check', 1)`, which read the content table, see the same rows the triggers keep (with `article`
  as content, a 'rebuild' would index every article again, and later 'delete's would miss the English ones).
  SQLite has no regular expressions. `GLOB '*[<ranges>]*'` compares code points correctly but costs about
  0.45 ms on a 4.6 kB body (it re-reads the bracket at every character), so it runs only when one of the
  UTF-8 lead bytes of the class (E3-EF for U+3040-U+FAFF, F0 for U+20000-U+2FA1F) occurs in the text. Those
  14 byte scans cost about 0.06 ms and rule out English text, whose curly quotes and dashes start with E2.
- Postgres: `ix_article_text_trgm` becomes a partial index; the planner uses it for queries that repeat its
  predicate, which models/cjk_search.py adds to every CJK search.

The index is rebuilt from the stored articles (SQLite: the table is recreated and filled from the view;
Postgres: the index is recreated). Downgrade restores the index of every article of 0004.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x3100, 0x312F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xAC00, 0xD7AF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)
_GLOB = "*[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _CJK_RANGES) + "]*"
_LEAD_BYTES = (*range(0xE3, 0xF0), 0xF0)


def _has_cjk(column: str) -> str:
    """SQL: the text `column` has a character of the class (false for NULL)."""
    blob = f"CAST({column} AS BLOB)"
    lead = " OR ".join(f"instr({blob}, X'{byte:02X}') > 0" for byte in _LEAD_BYTES)
    return f"(({lead}) AND {column} GLOB '{_GLOB}')"


def _row_has_cjk(row: str) -> str:
    return f"({_has_cjk(f'{row}.title')} OR {_has_cjk(f'{row}.body_text')})"


SQLITE_TRIGGERS = ("article_fts_cjk_insert", "article_fts_cjk_delete", "article_fts_cjk_update")

SQLITE_UP = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS),
    "DROP TABLE IF EXISTS article_fts_cjk",
    f"CREATE VIEW article_cjk AS SELECT id, title, body_text FROM article WHERE {_row_has_cjk('article')}",
    """CREATE VIRTUAL TABLE article_fts_cjk USING fts5(
        title, body_text, content='article_cjk', content_rowid='id', tokenize='trigram')""",
    f"""CREATE TRIGGER article_fts_cjk_insert AFTER INSERT ON article WHEN {_row_has_cjk("new")} BEGIN
        INSERT INTO article_fts_cjk(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
    END""",
    f"""CREATE TRIGGER article_fts_cjk_delete AFTER DELETE ON article WHEN {_row_has_cjk("old")} BEGIN
        INSERT INTO article_fts_cjk(article_fts_cjk, rowid, title, body_text)
        VALUES ('delete', old.id, old.title, old.body_text);
    END""",
    # One trigger, so the old row is removed before the new one is added (the order of two triggers on the same
    # event is not defined); each step is guarded by its own row's test.
    f"""CREATE TRIGGER article_fts_cjk_update AFTER UPDATE OF title, body_text ON article BEGIN
        INSERT INTO article_fts_cjk(article_fts_cjk, rowid, title, body_text)
        SELECT 'delete', old.id, old.title, old.body_text WHERE {_row_has_cjk("old")};
        INSERT INTO article_fts_cjk(rowid, title, body_text)
        SELECT new.id, new.title, new.body_text WHERE {_row_has_cjk("new")};
    END""",
    # Reads the view: only the articles with CJK text.
    "INSERT INTO article_fts_cjk(article_fts_cjk) VALUES ('rebuild')",
]

# Migration 0004's table and triggers, every article indexed.
SQLITE_DOWN = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS),
    "DROP TABLE IF EXISTS article_fts_cjk",
    "DROP VIEW IF EXISTS article_cjk",
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
]

# The class as a Postgres regular expression. The index expression and this predicate must be written exactly
# so in queries (models/cjk_search.py) for the planner to use the index.
POSTGRES_CJK_PATTERN = (
    r"[\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)
POSTGRES_DOCUMENT = "(coalesce(title, '') || ' ' || body_text)"
POSTGRES_PARTIAL_INDEX = (
    f"CREATE INDEX ix_article_text_trgm ON article USING GIN ({POSTGRES_DOCUMENT} gin_trgm_ops) "
    f"WHERE {POSTGRES_DOCUMENT} ~ '{POSTGRES_CJK_PATTERN}'"
)
POSTGRES_FULL_INDEX = f"CREATE INDEX ix_article_text_trgm ON article USING GIN ({POSTGRES_DOCUMENT} gin_trgm_ops)"


def _create_trigram_index(statement: str) -> None:
    """As in 0004: without the right to create pg_trgm there is no index, and CJK search scans with ILIKE."""
    bind = op.get_bind()
    op.execute("DROP INDEX IF EXISTS ix_article_text_trgm")
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return
    savepoint.commit()
    op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)
    else:
        _create_trigram_index(POSTGRES_PARTIAL_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
    else:
        _create_trigram_index(POSTGRES_FULL_INDEX)
