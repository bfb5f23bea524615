"""Search for Chinese, Japanese and Korean text, where words are not separated by spaces.

Word tokenizers (FTS5's unicode61, Postgres's `english` parser) make a whole run of Han characters one token,
so `稀土` would never match `中国稀土价格`. A query that contains CJK characters is therefore a substring
search instead, every word required:

- SQLite: words of 3+ characters go through the `article_fts_cjk` FTS5 table (trigram tokenizer, migration
  0004); shorter words (稀土, 钕) are beyond trigrams and are found with `instr()`.
  (SQLite 3.40's trigram table answers `LIKE '%稀土%'` with nothing, rather than scanning: hence `instr`.)
  FTS5 trigram matching ignores case, as `instr` on lower-cased text does.
- Postgres: `ILIKE '%word%'` on title and body, which the pg_trgm GIN index of migration 0004 serves when
  the extension could be installed.

Both trigram indexes hold only the articles whose title or body has a CJK character (migration 0009): an
article that contains a word with a CJK character has one. The rare query whose CJK characters are all
punctuation (`・`), so that no word has one, cannot use them and scans instead.

Either way the rank is how often the words occur, a title mention counting five times.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Float, and_, cast, func, literal, literal_column, text

from models.store import ARTICLE

_CJK = re.compile(
    "[\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)
_WORD = re.compile(r"\w+", re.UNICODE)
TRIGRAM = 3
# `_CJK` as a Postgres regular expression, written exactly as in the predicate of the partial index of migration
# 0009: the planner uses that index only for a query that repeats the predicate word for word.
POSTGRES_CJK_PATTERN = (
    r"[\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)
TITLE_WEIGHT = 5


def has_cjk(text_: str) -> bool:
    return bool(_CJK.search(text_ or ""))


def cjk_words(query: str) -> list[str]:
    """The query's words, lower-cased and deduplicated in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query):
        seen.setdefault(word.lower(), None)
    return list(seen)


def _document() -> Any:
    # Written exactly as in the pg_trgm index expression of migrations 0004 and 0009, so the index can serve it;
    # as SQL literals, not parameters, so that a statement psycopg prepares (after 5 runs) still matches it.
    return func.coalesce(ARTICLE.c.title, literal_column("''")) + literal_column("' '") + ARTICLE.c.body_text


def _occurrences(column: Any, word: str) -> Any:
    """How many times `word` occurs in `column` (case-insensitive for Latin letters)."""
    lowered = func.lower(func.coalesce(column, ""))
    return (func.length(lowered) - func.length(func.replace(lowered, word, ""))) / float(len(word))


def _frequency(words: list[str]) -> Any:
    total: Any = literal(0.0)
    for word in words:
        total = total + TITLE_WEIGHT * _occurrences(ARTICLE.c.title, word) + _occurrences(ARTICLE.c.body_text, word)
    return cast(total, Float)


def fts5_phrase(words: list[str]) -> str:
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def cjk_match(dialect: str, query: str) -> tuple[Any, Any]:
    """(where clause, rank expression) over `article` for a query containing CJK; higher rank is better."""
    words = cjk_words(query)
    # Only articles with CJK text are in the trigram indexes; a match has one when some required word has.
    indexed = any(has_cjk(word) for word in words)
    if dialect == "sqlite":
        long_words = [word for word in words if len(word) >= TRIGRAM] if indexed else []
        clauses: list[Any] = [func.instr(func.lower(_document()), word) > 0 for word in words if word not in long_words]
        if long_words:
            trigram = text("SELECT rowid FROM article_fts_cjk WHERE article_fts_cjk MATCH :cjk_match").bindparams(
                cjk_match=fts5_phrase(long_words)
            )
            clauses.append(ARTICLE.c.id.in_(trigram.columns(literal_column("rowid"))))
        return and_(True, *clauses), _frequency(words)
    document = _document()
    clauses = [document.icontains(word, autoescape=True) for word in words]
    if indexed:
        # Last, so that Postgres tests it only on rows that have every word (and so a CJK character) when it
        # scans rather than using the index.
        clauses.append(document.self_group().op("~")(literal_column(f"'{POSTGRES_CJK_PATTERN}'")))
    return and_(True, *clauses), _frequency(words)
