"""The web app's reads (web/): a read-only, time-limited engine, a page of search results with its facets, the
newest matches of a search (Atom), and feed health. Search itself is `models.queries.search_articles`, so a page
ranks exactly as `rare-news search` does.

Facets count among the articles a search ranks: its newest RANKING_WINDOW matches (all of them when fewer
match). That keeps a page with facets as fast as a search however large the archive grows, and a count is what
a click on it narrows to among those same articles.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, literal_column, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError

from models.cjk_search import cjk_match, has_cjk
from models.db import DatabaseError
from models.events import event_articles
from models.queries import (
    _DISTINCT_ID,
    _WORD,
    RANKING_WINDOW,
    ArticleView,
    SearchFilters,
    _attach_stories,
    _attach_tags,
    _filter_clauses,
    _newest_first,
    _ranked_window,
    _tag_ids,
    _views_by_id,
    search_articles,
)
from models.report_queries import _feeds
from models.store import ARTICLE, ARTICLE_TAG, TAG
from transforms.report import FeedHealthRow

# Every statement the web app runs stops after this many seconds: a request cannot hold the store.
QUERY_TIME_LIMIT = 5.0
# SQLite checks its deadline every this many virtual-machine steps (a few microseconds each).
SQLITE_PROGRESS_STEPS = 10_000
FACET_KINDS = ("element", "company", "place", "topic")
FACET_VALUES = 20  # values shown per facet, the most frequent first


class QueryTimeout(DatabaseError):
    """A statement ran past the web app's time limit and was stopped."""


def read_only_engine(url: str, *, time_limit: float = QUERY_TIME_LIMIT) -> Engine:
    """An engine that cannot write and stops any statement after `time_limit` seconds.

    SQLite: the file is opened read-only (`mode=ro`), and a progress handler interrupts a statement past its
    deadline. Postgres: every transaction is READ ONLY and `statement_timeout` applies, set for the session.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseError("the web app needs a SQLite file, not an in-memory database")
        engine = create_engine(
            f"sqlite:///file:{parsed.database}?mode=ro&uri=true",
            connect_args={"check_same_thread": False, "factory": _DeadlineConnection},
        )
        event.listen(engine, "connect", _sqlite_read_only)
        event.listen(engine, "before_cursor_execute", _sqlite_deadline(time_limit))
        return engine
    if backend == "postgresql":
        options = f"-c default_transaction_read_only=on -c statement_timeout={int(time_limit * 1000)}"
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10, "options": options})
    raise DatabaseError(f"unsupported database {backend!r}: use sqlite:// or postgresql+psycopg://")


class _DeadlineConnection(sqlite3.Connection):
    """A SQLite connection that interrupts the statement it runs once `deadline` (monotonic time) has passed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline: float | None = None
        self.set_progress_handler(self._past, SQLITE_PROGRESS_STEPS)

    def _past(self) -> int:
        return 1 if self.deadline is not None and time.monotonic() > self.deadline else 0


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_deadline(time_limit: float) -> Any:
    def start(connection: Any, _cursor: Any, _statement: Any, _parameters: Any, _context: Any, _many: Any) -> None:
        connection.connection.dbapi_connection.deadline = time.monotonic() + time_limit

    return start


def is_timeout(error: BaseException) -> bool:
    """The database stopped a statement at the time limit (SQLite: interrupted; Postgres: statement_timeout)."""
    if isinstance(error, QueryTimeout):
        return True
    original = getattr(error, "orig", error)
    if isinstance(original, sqlite3.OperationalError):
        return "interrupted" in str(original)
    return type(original).__name__ == "QueryCanceled"


def schema_ready(engine: Engine) -> bool:
    """The store has the article table: the web app reads, it never creates or migrates."""
    try:
        with engine.connect() as connection:
            connection.execute(select(func.count()).select_from(ARTICLE).where(ARTICLE.c.id == 0)).scalar()
        return True
    except OperationalError:
        return False
    except Exception as exc:  # Postgres: undefined table is a ProgrammingError
        if type(getattr(exc, "orig", None)).__name__ == "UndefinedTable":
            return False
        raise


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass
class SearchPage:
    """One page of a search, and what the facets count among its ranked matches."""

    results: list[ArticleView]
    matches: int  # among the ranked window: at most RANKING_WINDOW (stories when distinct)
    window_full: bool  # RANKING_WINDOW matches: there may be more, older ones
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)


def _window(connection: Connection, query: str, filters: SearchFilters) -> list[int]:
    """The ids of the articles a search ranks: its newest RANKING_WINDOW matches. Read once and then named by id:
    joined as a subquery, SQLite re-planned it into every facet's query (1.1 s for a tag filter at 100k)."""
    if _WORD.search(query or "") and not has_cjk(query):
        ranked = _ranked_window(connection, query, filters, _tag_ids(connection, filters))
        return list(connection.execute(select(ranked.c.article_id)).scalars())
    clauses = _filter_clauses(filters, _tag_ids(connection, filters))
    if _WORD.search(query or ""):
        clauses.append(cjk_match(connection.dialect.name, query)[0])
    newest = select(ARTICLE.c.id).where(*clauses).order_by(*_newest_first(connection.dialect.name))
    return list(connection.execute(newest.limit(RANKING_WINDOW)).scalars())


def _month(dialect: str) -> Any:
    if dialect == "sqlite":
        return func.strftime(literal_column("'%Y-%m'"), ARTICLE.c.published_at)
    return func.to_char(func.timezone(literal_column("'UTC'"), ARTICLE.c.published_at), literal_column("'YYYY-MM'"))


def _facets(connection: Connection, window: list[int], *, distinct: bool) -> tuple[int, dict[str, list[FacetValue]]]:
    """(matches, facets) over the window's articles: articles, or stories when `distinct` (one per event, else per
    copy story, as a distinct search shows them), per value. Two reads of at most RANKING_WINDOW articles and
    their tags, counted here: one grouped query per facet cost five times the window's lookups."""
    facets: dict[str, list[FacetValue]] = {kind: [] for kind in (*FACET_KINDS, "language", "site", "month")}
    if not window:
        return 0, facets
    unit = _DISTINCT_ID if distinct else ARTICLE.c.id
    articles = connection.execute(
        select(
            ARTICLE.c.id, unit.label("unit"), ARTICLE.c.language, ARTICLE.c.site, _month(connection.dialect.name)
        ).where(ARTICLE.c.id.in_(window))
    ).all()
    unit_of = {row[0]: row[1] for row in articles}
    counters: dict[str, dict[str, set[int]]] = {kind: {} for kind in facets}
    for _, unit_id, *values in articles:
        for kind, value in zip(("language", "site", "month"), values, strict=True):
            if value is not None:
                counters[kind].setdefault(str(value), set()).add(unit_id)
    tags = connection.execute(
        select(ARTICLE_TAG.c.article_id, TAG.c.kind, TAG.c.name)
        .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
        .where(ARTICLE_TAG.c.article_id.in_(window), TAG.c.kind.in_(FACET_KINDS))
    )
    for article_id, kind, name in tags:
        counters[kind].setdefault(name, set()).add(unit_of[article_id])
    for kind, counted in counters.items():
        if kind == "month":
            ordered = sorted(counted.items(), reverse=True)  # newest month first
        else:
            ordered = sorted(counted.items(), key=lambda item: (-len(item[1]), item[0]))
        facets[kind] = [FacetValue(value, len(units)) for value, units in ordered[:FACET_VALUES]]
    return len(set(unit_of.values())), facets


def _counted_facets(
    engine: Engine, query: str, filters: SearchFilters, distinct: bool
) -> tuple[int, bool, dict[str, list[FacetValue]]]:
    """(matches, window full, facets) of a search: matches and facets count stories when `distinct`."""
    with engine.connect() as connection:
        window = _window(connection, query, filters)
        matches, facets = _facets(connection, window, distinct=distinct)
    return matches, len(window) >= RANKING_WINDOW, facets


def search_page(
    engine: Engine,
    query: str,
    *,
    filters: SearchFilters,
    offset: int = 0,
    limit: int = 20,
    distinct: bool = True,
    with_facets: bool = True,
) -> SearchPage:
    """Results `offset` to `offset + limit` of a search ranked as `rare-news search` ranks it, and its facets."""
    ranked = search_articles(engine, query, filters=filters, limit=offset + limit, distinct=distinct)
    if not with_facets:
        return SearchPage(results=ranked[offset:], matches=len(ranked), window_full=False)
    matches, window_full, facets = _counted_facets(engine, query, filters, distinct)
    return SearchPage(results=ranked[offset:], matches=matches, window_full=window_full, facets=facets)


def newest_matches(engine: Engine, query: str, *, filters: SearchFilters, limit: int = 50) -> list[ArticleView]:
    """The newest articles among a search's matches, newest first (Atom feeds of searches and watches)."""
    with engine.connect() as connection:
        ids = (
            select(ARTICLE.c.id, literal_column("NULL").label("score"))
            .where(ARTICLE.c.id.in_(_window(connection, query, filters)))
            .order_by(*_newest_first(connection.dialect.name))
            .limit(limit)
        )
        views = _views_by_id(connection, connection.execute(ids).all())
        _attach_tags(connection, views)
        _attach_stories(connection, views)
        return views


def event_members(engine: Engine, event_id: int, *, limit: int = 100) -> list[ArticleView]:
    """An event's articles (every outlet and language covering it), first published first, at most `limit`."""
    ids = event_articles(engine, event_id)[:limit]
    with engine.connect() as connection:
        views = _views_by_id(connection, [(article_id, None) for article_id in ids])
        _attach_tags(connection, views)
        return views


def feed_health(engine: Engine) -> tuple[FeedHealthRow, ...]:
    """The report's feed-health table, read now."""
    with engine.connect() as connection:
        return _feeds(connection)
