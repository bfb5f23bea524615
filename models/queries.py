"""Every read: search (FTS5 on SQLite, tsvector on Postgres, behind one function), articles, export, stats.

User text never reaches SQL as SQL: it is bound as a parameter, and on SQLite it is also turned into quoted
FTS5 terms so that FTS syntax characters (`"`, `*`, `:`, `NEAR`, `-`) are searched for, not interpreted.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, Integer, and_, bindparam, column, exists, func, literal_column, select, table
from sqlalchemy.engine import Connection

from models.cjk_search import cjk_match, has_cjk
from models.events import EventInfo, event_canonical_id, event_infos
from models.store import ARTICLE, ARTICLE_TAG, FEED, RUN, SEEN, TAG

TAG_KINDS = ("element", "company", "place", "topic", "person")
_WORD = re.compile(r"\w+", re.UNICODE)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class StoryInfo:
    """The story an article belongs to (models/stories.py): its canonical article, its reach, its first source."""

    id: int  # the canonical article's id
    canonical_url: str
    canonical_title: str | None
    articles: int  # stored copies, the canonical article included
    outlets: int  # distinct sites among them
    first_source: str | None  # the site of the copy published first (then: stored first)
    first_source_url: str
    first_published_at: datetime | None


@dataclass
class ArticleView:
    id: int
    canonical_url: str
    url: str
    title: str | None
    authors: list[str]
    published_at: datetime | None
    fetched_at: datetime | None
    language: str | None
    site: str | None
    origin: str
    feed_url: str | None
    body_text: str
    relevance: float
    near_duplicate_of: str | None  # the canonical article's canonical_url
    similarity: float | None
    extractor_version: str | None
    taxonomy_version: str | None
    tags: dict[str, list[str]] = field(default_factory=dict)
    mentions: dict[str, dict[str, int]] = field(default_factory=dict)
    score: float | None = None  # search rank, higher is better
    story_id: int | None = None  # the canonical article's id
    story: StoryInfo | None = None
    event: EventInfo | None = None  # its event story (models/events.py): coverage by every outlet and language

    def as_dict(self, *, with_body: bool = True) -> dict[str, Any]:
        data = {
            "id": self.id,
            "canonical_url": self.canonical_url,
            "url": self.url,
            "title": self.title,
            "authors": self.authors,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "fetched_at": self.fetched_at.isoformat() if self.fetched_at else None,
            "language": self.language,
            "site": self.site,
            "origin": self.origin,
            "feed_url": self.feed_url,
            "body_text": self.body_text,
            "tags": self.tags,
            "relevance": round(self.relevance, 3),
            "near_duplicate_of": self.near_duplicate_of,
            "similarity": round(self.similarity, 3) if self.similarity is not None else None,
            **self._story_fields(),
            "extractor_version": self.extractor_version,
            "taxonomy_version": self.taxonomy_version,
        }
        if self.score is not None:
            data["score"] = round(self.score, 4)
        if not with_body:
            data.pop("body_text")
        return data

    def _story_fields(self) -> dict[str, Any]:
        story = self.story
        return {
            "story_id": self.story_id,
            "story_canonical_url": story.canonical_url if story else None,
            "story_articles": story.articles if story else None,
            "story_outlets": story.outlets if story else None,
            "first_source": story.first_source if story else None,
            "first_source_url": story.first_source_url if story else None,
            "first_published_at": (
                story.first_published_at.isoformat() if story and story.first_published_at else None
            ),
            "event_id": self.event.id if self.event else None,
            "event_articles": self.event.articles if self.event else None,
            "event_outlets": len(self.event.outlets) if self.event else None,
            "event_languages": ", ".join(self.event.languages) if self.event else None,
        }


# A story's id is its canonical article's id: NULL near_duplicate_of means the article is the canonical one.
_STORY_ID = func.coalesce(ARTICLE.c.near_duplicate_of, ARTICLE.c.id)
# What a distinct search shows one row for: the event (its canonical article's id), else the copy story.
_DISTINCT_ID = func.coalesce(event_canonical_id(ARTICLE.c.id), _STORY_ID)


def _article_columns() -> list[Any]:
    canonical = ARTICLE.alias("story")
    return [
        ARTICLE.c.id,
        ARTICLE.c.canonical_url,
        ARTICLE.c.url,
        ARTICLE.c.title,
        ARTICLE.c.authors,
        ARTICLE.c.published_at,
        ARTICLE.c.fetched_at,
        ARTICLE.c.language,
        ARTICLE.c.site,
        ARTICLE.c.origin,
        FEED.c.url.label("feed_url"),
        ARTICLE.c.body_text,
        ARTICLE.c.relevance,
        select(canonical.c.canonical_url)
        .where(canonical.c.id == ARTICLE.c.near_duplicate_of)
        .scalar_subquery()
        .label("near_duplicate_of"),
        ARTICLE.c.similarity,
        ARTICLE.c.extractor_version,
        ARTICLE.c.taxonomy_version,
        _STORY_ID.label("story_id"),
    ]


def _from_articles() -> Any:
    return ARTICLE.outerjoin(FEED, FEED.c.id == ARTICLE.c.feed_id)


def _view(row: Any, score: float | None = None) -> ArticleView:
    return ArticleView(
        id=row.id,
        canonical_url=row.canonical_url,
        url=row.url,
        title=row.title,
        authors=list(row.authors or []),
        published_at=as_utc(row.published_at),
        fetched_at=as_utc(row.fetched_at),
        language=row.language,
        site=row.site,
        origin=row.origin,
        feed_url=row.feed_url,
        body_text=row.body_text,
        relevance=row.relevance,
        near_duplicate_of=row.near_duplicate_of,
        similarity=row.similarity,
        extractor_version=row.extractor_version,
        taxonomy_version=row.taxonomy_version,
        score=score,
        story_id=row.story_id,
    )


def _attach_tags(connection: Connection, views: list[ArticleView]) -> None:
    if not views:
        return
    by_id = {view.id: view for view in views}
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        query = (
            select(ARTICLE_TAG.c.article_id, TAG.c.kind, TAG.c.name, ARTICLE_TAG.c.mentions)
            .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
            .where(ARTICLE_TAG.c.article_id.in_(ids[start : start + 500]))
            .order_by(ARTICLE_TAG.c.article_id, TAG.c.kind, ARTICLE_TAG.c.mentions.desc(), TAG.c.name)
        )
        for row in connection.execute(query):
            view = by_id[row.article_id]
            view.tags.setdefault(row.kind, []).append(row.name)
            view.mentions.setdefault(row.kind, {})[row.name] = row.mentions


def _outlet(site: str | None, canonical_url: str) -> str:
    return (site or urlsplit(canonical_url).hostname or canonical_url).casefold()


def _attach_stories(connection: Connection, views: list[ArticleView]) -> None:
    """Each view's story: canonical article, copies, outlets and first source, one query per 500 stories."""
    story_ids = sorted({view.story_id for view in views if view.story_id is not None})
    members: dict[int, list[Any]] = {}
    for start in range(0, len(story_ids), 500):
        chunk = story_ids[start : start + 500]
        query = select(
            ARTICLE.c.id,
            ARTICLE.c.near_duplicate_of,
            ARTICLE.c.site,
            ARTICLE.c.canonical_url,
            ARTICLE.c.title,
            ARTICLE.c.published_at,
            ARTICLE.c.fetched_at,
        ).where(ARTICLE.c.id.in_(chunk) | ARTICLE.c.near_duplicate_of.in_(chunk))
        for row in connection.execute(query):
            members.setdefault(row.near_duplicate_of or row.id, []).append(row)
    never = datetime.max.replace(tzinfo=UTC)
    stories: dict[int, StoryInfo] = {}
    for story_id, rows in members.items():
        canonical = next((row for row in rows if row.id == story_id), None)
        if canonical is None:
            continue
        first = min(
            rows,
            key=lambda row: (
                row.published_at is None,
                as_utc(row.published_at) or never,
                as_utc(row.fetched_at) or never,
                row.id,
            ),
        )
        stories[story_id] = StoryInfo(
            id=story_id,
            canonical_url=canonical.canonical_url,
            canonical_title=canonical.title,
            articles=len(rows),
            outlets=len({_outlet(row.site, row.canonical_url) for row in rows}),
            first_source=first.site or urlsplit(first.canonical_url).hostname,
            first_source_url=first.canonical_url,
            first_published_at=as_utc(first.published_at),
        )
    events = event_infos(connection, [view.id for view in views])
    for view in views:
        view.story = stories.get(view.story_id) if view.story_id is not None else None
        view.event = events.get(view.id)


def story_articles(engine: Engine, story_id: int) -> list[ArticleView]:
    """Every stored copy of a story, the canonical article first, then by publication."""
    with engine.connect() as connection:
        statement = (
            select(*_article_columns())
            .select_from(_from_articles())
            .where((ARTICLE.c.id == story_id) | (ARTICLE.c.near_duplicate_of == story_id))
            .order_by(
                ARTICLE.c.near_duplicate_of.is_not(None),
                ARTICLE.c.published_at.is_(None),
                ARTICLE.c.published_at,
                ARTICLE.c.id,
            )
        )
        views = [_view(row) for row in connection.execute(statement)]
        _attach_stories(connection, views)
        return views


def _distinct_stories(
    connection: Connection, statement: Any, *, scored: bool, limit: int, window: int | None = None
) -> list[ArticleView]:
    """One view per story among a search's matches: the story's canonical article, ranked by the story's best
    match (with no query words, by its newest matching copy), as the rows it stands for would be. `window`: only
    the statement's first `newest` rows in its own order count (no query words: the newest matches, as a ranked
    search ranks its newest RANKING_WINDOW; grouping every article with a common tag took 0.4 s at 100k)."""
    matches = statement.with_only_columns(
        _DISTINCT_ID.label("story_id"),
        statement.selected_columns["score"].label("score") if scored else literal_column("0").label("score"),
        ARTICLE.c.published_at.label("published_at"),
    )
    matches = (
        (matches.limit(window) if window else matches.order_by(None).limit(None))
        # Materialised: SQLite would otherwise flatten it into the grouping, where bm25() may not run.
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    best_score = func.max(matches.c.score)
    newest = func.max(matches.c.published_at)
    ranking = connection.execute(
        select(matches.c.story_id, best_score.label("score"))
        .group_by(matches.c.story_id)
        .order_by(best_score.desc(), newest.desc().nulls_last(), matches.c.story_id.desc())
        .limit(limit)
    ).all()
    if not ranking:
        return []
    rows = connection.execute(
        select(*_article_columns())
        .select_from(_from_articles())
        .where(ARTICLE.c.id.in_([row.story_id for row in ranking]))
    )
    by_id = {row.id: row for row in rows}
    return [_view(by_id[row.story_id], row.score if scored else None) for row in ranking if row.story_id in by_id]


def _tag_filter(kind: str, name: str, tag_ids: list[int] | None = None, article_id: Any = ARTICLE.c.id) -> Any:
    """Articles with this tag: one primary-key probe of `article_tag` per article when the tag's ids are known
    (`_tag_ids`); by name (watches), a join to `tag` per article."""
    if tag_ids is not None:
        return exists(
            select(ARTICLE_TAG.c.article_id).where(
                ARTICLE_TAG.c.article_id == article_id, ARTICLE_TAG.c.tag_id.in_(tag_ids)
            )
        )
    return exists(
        select(ARTICLE_TAG.c.article_id)
        .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
        .where(
            ARTICLE_TAG.c.article_id == ARTICLE.c.id,
            TAG.c.kind == kind,
            func.lower(TAG.c.name) == name.strip().lower(),
        )
    )


def fts5_query(user_query: str) -> str:
    """User words as quoted FTS5 terms, all required: `rare-earth "NdFeB" OR x` searches, never parses."""
    words = _WORD.findall(user_query)
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


@dataclass(frozen=True)
class SearchFilters:
    element: str | None = None
    company: str | None = None
    place: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_duplicates: bool = True
    language: str | None = None  # as detected at extraction: en, zh...
    site: str | None = None  # the outlet's name as stored


_TAG_FILTERS = ("element", "company", "place", "topic")


def _filter_clauses(filters: SearchFilters, tag_ids: dict[str, list[int]] | None = None) -> list[Any]:
    """The filters as clauses on `article`; `tag_ids` (from `_tag_ids`) names the tags by id."""
    clauses: list[Any] = [
        _tag_filter(kind, getattr(filters, kind), None if tag_ids is None else tag_ids[kind])
        for kind in _TAG_FILTERS
        if getattr(filters, kind)
    ]
    if filters.since:
        clauses.append(ARTICLE.c.published_at >= filters.since)
    if filters.until:
        clauses.append(ARTICLE.c.published_at < filters.until)
    if not filters.include_duplicates:
        clauses.append(ARTICLE.c.near_duplicate_of.is_(None))
    if filters.language:
        clauses.append(ARTICLE.c.language == filters.language)
    if filters.site:
        clauses.append(ARTICLE.c.site == filters.site)
    return clauses


def _tag_ids(connection: Connection, filters: SearchFilters) -> dict[str, list[int]]:
    """The ids of the tags the filters name (none found: the filter matches nothing)."""
    found: dict[str, list[int]] = {}
    for kind in _TAG_FILTERS:
        value = getattr(filters, kind)
        if value:
            found[kind] = list(
                connection.execute(
                    select(TAG.c.id).where(TAG.c.kind == kind, func.lower(TAG.c.name) == value.strip().lower())
                ).scalars()
            )
    return found


# Search ranks the newest RANKING_WINDOW articles that match (words and filters), not every match. A query that
# matches few articles is ranked whole, as before; one that matches a large share of the archive ("rare earth"
# matches every article) returns the best matches among the newest RANKING_WINDOW, so a better-worded but older
# article beyond them is not found by it (`--until` or narrower words reach it). Ranking every match cost
# 0.2 s (SQLite) to 0.9 s (Postgres) at 100k articles, growing with the archive; the window keeps a search
# near 20 ms however large the archive grows (README, Performance; bench/search.py).
RANKING_WINDOW = 1000
# SQLite, a query matching more than SQLITE_MANY_MATCHES articles: its newest matches are looked for among the
# newest SQLITE_RECENT_ARTICLES articles (FTS5 reads only their rowid range; a query matching a quarter of the
# archive is served by the first size, a sixteenth by the second), and only if fewer than the window match there,
# by walking the articles newest first against the set of every match (30 ms for "rare earth" at 100k, most of it
# building that set). A query matching fewer sorts its matches by date.
SQLITE_MANY_MATCHES = 3 * RANKING_WINDOW
SQLITE_RECENT_ARTICLES = (4 * RANKING_WINDOW, 16 * RANKING_WINDOW)
# The rank: SQLite's bm25 with a title word worth five in the body; Postgres's ts_rank, where the title's
# weight A counts 1.0 and the body's B 0.4 (ts_rank_cd, cover density, cost twice as much per article).
BM25_TITLE_WEIGHT = 5.0
BM25_BODY_WEIGHT = 1.0


def _newest_first(dialect: str) -> list[Any]:
    # SQLite sorts NULLs first, so they come last descending, as its published_at index holds them; an explicit
    # NULLS LAST would stop SQLite from walking that index. Postgres needs it said (ix_article_newest, 0008).
    published = ARTICLE.c.published_at.desc() if dialect == "sqlite" else ARTICLE.c.published_at.desc().nulls_last()
    return [published, ARTICLE.c.id.desc()]


_ARTICLE_FTS = table("article_fts", column("rowid", Integer))
_FTS_MATCH = literal_column("article_fts").op("MATCH")


def _fts_matches(user_query: str) -> Any:
    return select(_ARTICLE_FTS.c.rowid).where(_FTS_MATCH(bindparam("fts_match", fts5_query(user_query))))


def _matches_many(connection: Connection, user_query: str, count: int) -> bool:
    """More than `count` articles match the words (FTS5 reads them in rowid order and stops there)."""
    probe = _fts_matches(user_query).order_by(_ARTICLE_FTS.c.rowid.desc()).limit(1).offset(count)
    return connection.execute(probe).first() is not None


def _sqlite_newest_among_recent(
    connection: Connection, user_query: str, filters: SearchFilters, tag_ids: dict[str, list[int]], recent_size: int
) -> list[int] | None:
    """The window's ids if the newest `recent_size` articles (in the date range) hold RANKING_WINDOW matches, or
    are all there is: no older match can be newer than those. None otherwise."""
    recent = (
        select(ARTICLE.c.id, ARTICLE.c.published_at)
        .where(
            *_filter_clauses(
                SearchFilters(since=filters.since, until=filters.until, language=filters.language, site=filters.site)
            )
        )
        .order_by(*_newest_first("sqlite"))
        .limit(recent_size)
        .cte("recent")
        .prefix_with("MATERIALIZED")
    )
    in_range = _fts_matches(user_query).where(
        _ARTICLE_FTS.c.rowid >= select(func.min(recent.c.id)).scalar_subquery(),
        _ARTICLE_FTS.c.rowid <= select(func.max(recent.c.id)).scalar_subquery(),
    )
    # Tags are tested on the recent ids directly: joining `article` for them read thousands of wide rows.
    tagged = [
        _tag_filter(kind, getattr(filters, kind), tag_ids[kind], article_id=recent.c.id)
        for kind in _TAG_FILTERS
        if getattr(filters, kind)
    ]
    matched = select(recent.c.id).where(recent.c.id.in_(in_range), *tagged)
    if not filters.include_duplicates:
        matched = matched.join(ARTICLE, ARTICLE.c.id == recent.c.id).where(ARTICLE.c.near_duplicate_of.is_(None))
    newest = matched.order_by(recent.c.published_at.desc(), recent.c.id.desc()).limit(RANKING_WINDOW).subquery()
    recent_count = select(func.count()).select_from(recent).scalar_subquery()
    found, window = connection.execute(
        select(recent_count, func.json_group_array(literal_column("id"))).select_from(newest)
    ).one()
    ids: list[int] = json.loads(window)
    return ids if len(ids) == RANKING_WINDOW or found < recent_size else None


def _sqlite_window(
    connection: Connection, user_query: str, filters: SearchFilters, tag_ids: dict[str, list[int]]
) -> list[int]:
    """Ids of the newest RANKING_WINDOW articles matching the words and the filters, newest first (SQLite)."""
    if _matches_many(connection, user_query, SQLITE_MANY_MATCHES):
        for recent_size in SQLITE_RECENT_ARTICLES:
            ids = _sqlite_newest_among_recent(connection, user_query, filters, tag_ids, recent_size)
            if ids is not None:
                return ids
        # `id + 0` is no longer a key SQLite can look matches up by, so it walks ix_article_published_at; without
        # statistics it would fetch and sort every match instead (0.13 s for "rare earth" at 100k).
        matched = (ARTICLE.c.id + 0).in_(_fts_matches(user_query))
    else:
        matched = ARTICLE.c.id.in_(_fts_matches(user_query))
    newest = (
        select(ARTICLE.c.id)
        .where(matched, *_filter_clauses(filters, tag_ids))
        .order_by(*_newest_first("sqlite"))
        .limit(RANKING_WINDOW)
    )
    return list(connection.execute(newest).scalars())


def _ranked_window(
    connection: Connection, user_query: str, filters: SearchFilters, tag_ids: dict[str, list[int]]
) -> Any:
    """(article_id, score) of the newest RANKING_WINDOW articles matching the words and the clauses, as a CTE;
    higher scores are better."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        ids = _sqlite_window(connection, user_query, filters, tag_ids)
        # bm25() only runs inside the FTS5 query, and FTS5 takes no list of rowids (an `IN` there runs the whole
        # match again per rowid): it reads the window's rowid range, and `rowid + 0` keeps the `IN` a plain test
        # on each row, so bm25 is computed for the window's articles only.
        bm25 = -func.bm25(literal_column("article_fts"), BM25_TITLE_WEIGHT, BM25_BODY_WEIGHT)
        window: Any = select(literal_column("value")).select_from(func.json_each(json.dumps(ids)))
        return (
            select(_ARTICLE_FTS.c.rowid.label("article_id"), bm25.label("score"))
            .where(
                _FTS_MATCH(bindparam("fts_match", fts5_query(user_query))),
                _ARTICLE_FTS.c.rowid >= min(ids, default=0),
                _ARTICLE_FTS.c.rowid <= max(ids, default=-1),
                (_ARTICLE_FTS.c.rowid + 0).in_(window),
            )
            .cte("ranked")
            .prefix_with("MATERIALIZED")
        )
    # One plan per query: a search matching 30 articles and one matching 100,000 need different plans, and a
    # generic plan cached for the statement (psycopg prepares it from the fifth run) walked 100k articles.
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    clauses = _filter_clauses(filters, tag_ids)
    search_vector: Any = literal_column("article.search_vector")
    tsquery = func.websearch_to_tsquery("english", user_query)
    # Ranked as it is read: walking ix_article_newest, Postgres computes ts_rank for the rows the LIMIT keeps.
    return (
        select(ARTICLE.c.id.label("article_id"), func.ts_rank(search_vector, tsquery).label("score"))
        .where(search_vector.op("@@")(tsquery), *clauses)
        .order_by(*_newest_first(dialect))
        .limit(RANKING_WINDOW)
        .cte("ranked")
        .prefix_with("MATERIALIZED")
    )


def _views_by_id(connection: Connection, ranking: Sequence[Any]) -> list[ArticleView]:
    """Views of the ranked (id, score) rows, in their order: article columns are read for these rows only."""
    if not ranking:
        return []
    rows = connection.execute(
        select(*_article_columns()).select_from(_from_articles()).where(ARTICLE.c.id.in_([row[0] for row in ranking]))
    )
    by_id = {row.id: row for row in rows}
    return [_view(by_id[article_id], score) for article_id, score in ranking if article_id in by_id]


def _ranked_search(
    connection: Connection, user_query: str, filters: SearchFilters, *, limit: int, distinct: bool
) -> list[ArticleView]:
    ranked = _ranked_window(connection, user_query, filters, _tag_ids(connection, filters))
    if not distinct:
        best = select(ranked.c.article_id, ranked.c.score).order_by(ranked.c.score.desc(), ranked.c.article_id.desc())
        return _views_by_id(connection, connection.execute(best.limit(limit)).all())
    best_score = func.max(ranked.c.score)
    newest = func.max(ARTICLE.c.published_at)
    stories = connection.execute(
        select(_DISTINCT_ID.label("story_id"), best_score.label("score"))
        .select_from(ranked.join(ARTICLE, ARTICLE.c.id == ranked.c.article_id))
        .group_by(_DISTINCT_ID)
        .order_by(best_score.desc(), newest.desc().nulls_last(), _DISTINCT_ID.desc())
        .limit(limit)
    ).all()
    return _views_by_id(connection, stories)


def search_articles(
    engine: Engine, query: str, *, filters: SearchFilters | None = None, limit: int = 20, distinct: bool = False
) -> list[ArticleView]:
    """Full-text search ranked by relevance, best first; an empty query lists the newest matching articles.

    Words are ranked among the newest RANKING_WINDOW matching articles (all of them when fewer match).
    ``distinct``: one row per story, its canonical article, ranked by the story's best-matching copy.
    """
    filters = filters or SearchFilters()
    with engine.connect() as connection:
        if _WORD.search(query or "") and not has_cjk(query):
            views = _ranked_search(connection, query, filters, limit=limit, distinct=distinct)
        else:
            clauses = _filter_clauses(filters, _tag_ids(connection, filters))
            views = _unranked_or_cjk_search(connection, query, clauses, limit=limit, distinct=distinct)
        _attach_tags(connection, views)
        _attach_stories(connection, views)
        return views


def _unranked_or_cjk_search(
    connection: Connection, query: str, clauses: list[Any], *, limit: int, distinct: bool
) -> list[ArticleView]:
    """No words: the newest matching articles. Chinese, Japanese, Korean: word tokenizers cannot split them, so a
    substring search ranked by word frequency (models/cjk_search.py)."""
    columns = _article_columns()
    if not _WORD.search(query or ""):
        statement = (
            select(*columns, literal_column("NULL").label("score"))
            .select_from(_from_articles())
            .where(and_(True, *clauses))
            .order_by(*_newest_first(connection.dialect.name))
            .limit(limit)
        )
    else:
        match, rank = cjk_match(connection.dialect.name, query)
        statement = (
            select(*columns, rank.label("score"))
            .select_from(_from_articles())
            .where(match, *clauses)
            .order_by(rank.desc(), ARTICLE.c.id.desc())
            .limit(limit)
        )
    if distinct:
        words = bool(_WORD.search(query or ""))
        window = None if words else max(RANKING_WINDOW, 4 * limit)
        return _distinct_stories(connection, statement, scored=words, limit=limit, window=window)
    return [_view(row, row.score) for row in connection.execute(statement)]


def get_article(engine: Engine, id_or_url: str) -> ArticleView | None:
    """One article by id, canonical URL or URL as found."""
    with engine.connect() as connection:
        statement = select(*_article_columns()).select_from(_from_articles())
        if id_or_url.strip().isdigit():
            statement = statement.where(ARTICLE.c.id == int(id_or_url))
        else:
            statement = statement.where((ARTICLE.c.canonical_url == id_or_url) | (ARTICLE.c.url == id_or_url)).limit(1)
        row = connection.execute(statement).first()
        if row is None:
            return None
        view = _view(row)
        _attach_tags(connection, [view])
        _attach_stories(connection, [view])
        return view


def iter_articles(
    engine: Engine, *, since: datetime | None = None, include_duplicates: bool = False, chunk: int = 500
) -> Iterator[ArticleView]:
    """Every stored article in id order, streamed in chunks (export never holds the whole table)."""
    filters = SearchFilters(since=since, include_duplicates=include_duplicates)
    last_id = 0
    with engine.connect() as connection:
        while True:
            statement = (
                select(*_article_columns())
                .select_from(_from_articles())
                .where(ARTICLE.c.id > last_id, *_filter_clauses(filters))
                .order_by(ARTICLE.c.id)
                .limit(chunk)
            )
            views = [_view(row) for row in connection.execute(statement)]
            if not views:
                return
            _attach_tags(connection, views)
            _attach_stories(connection, views)
            yield from views
            last_id = views[-1].id


def export_csv_row(article: ArticleView) -> dict[str, Any]:
    """An article as a CSV row of `export --format csv`: its JSON fields, authors and tags flattened to text."""
    row = article.as_dict()
    row["authors"] = "; ".join(row["authors"])
    row["tags"] = "; ".join(f"{kind}:{name}" for kind, names in row["tags"].items() for name in names)
    return row


def export_lines(articles: Iterable[ArticleView], *, as_csv: bool = False) -> Iterator[str]:
    """`rare-news export` as text, a line at a time (the CLI and the web app's streaming exports): JSON lines, or
    CSV with a header from the first row's fields."""
    if not as_csv:
        for article in articles:
            yield json.dumps(article.as_dict(), ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO(newline="")
    writer: Any = None
    for article in articles:
        row = export_csv_row(article)
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@dataclass(frozen=True)
class FeedHealth:
    url: str
    name: str | None
    topical: bool
    enabled: bool
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    articles: int
    entries_failed: int
    links_resolved: int = 0  # aggregator links resolved to publisher URLs (models/links.py)
    links_failed: int = 0  # aggregator links that could not be resolved
    poll_reason: str | None = None  # why the feed is next due when it is (adaptive polling, backoff)


def list_feeds(engine: Engine) -> list[FeedHealth]:
    from models.links import link_counts_query

    articles = select(func.count()).select_from(ARTICLE).where(ARTICLE.c.feed_id == FEED.c.id).scalar_subquery()
    failed = (
        select(func.count())
        .select_from(SEEN)
        .where(SEEN.c.feed_id == FEED.c.id, SEEN.c.status == "failed")
        .scalar_subquery()
    )
    links = link_counts_query()
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                FEED,
                articles.label("articles"),
                failed.label("entries_failed"),
                func.coalesce(links.c.resolved, 0).label("links_resolved"),
                func.coalesce(links.c.failed, 0).label("links_failed"),
            )
            .select_from(FEED.outerjoin(links, links.c.feed_id == FEED.c.id))
            .order_by(FEED.c.url)
        )
        return [
            FeedHealth(
                url=row.url,
                name=row.name,
                topical=row.topical,
                enabled=row.enabled,
                last_status=row.last_status,
                last_error=row.last_error,
                consecutive_failures=row.consecutive_failures,
                last_polled_at=as_utc(row.last_polled_at),
                next_poll_at=as_utc(row.next_poll_at),
                articles=row.articles,
                entries_failed=row.entries_failed,
                links_resolved=int(row.links_resolved),
                links_failed=int(row.links_failed),
                poll_reason=row.poll_reason,
            )
            for row in rows
        ]


def entry_errors(engine: Engine, *, limit: int = 50) -> list[tuple[str, str | None, str | None, int]]:
    """(feed url, entry url, reason, attempts) of entries that failed, newest first."""
    query = (
        select(FEED.c.url, SEEN.c.url.label("entry_url"), SEEN.c.last_error, SEEN.c.attempts)
        .join(FEED, FEED.c.id == SEEN.c.feed_id)
        .where(SEEN.c.status == "failed")
        .order_by(SEEN.c.updated_at.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        return [(row[0], row[1], row[2], row[3]) for row in connection.execute(query)]


def ledger_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(SEEN.c.status, func.count()).group_by(SEEN.c.status))
        return {status: count for status, count in rows}


@dataclass
class Stats:
    articles: int
    stories: int  # every article is in one; a story with no copies counts too
    copies: int  # articles that are near-duplicate copies of their story's canonical article
    stories_with_copies: int
    by_origin: dict[str, int]
    by_feed: list[tuple[str, int]]
    by_element: list[tuple[str, int]]
    by_month: list[tuple[str, int]]


def stats(engine: Engine) -> Stats:
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(ARTICLE)).scalar_one()
        copies, stories_with_copies = connection.execute(
            select(func.count(), func.count(ARTICLE.c.near_duplicate_of.distinct())).where(
                ARTICLE.c.near_duplicate_of.is_not(None)
            )
        ).one()
        by_origin: dict[str, int] = {
            origin: count
            for origin, count in connection.execute(select(ARTICLE.c.origin, func.count()).group_by(ARTICLE.c.origin))
        }
        feed_label = func.coalesce(FEED.c.url, "(" + ARTICLE.c.origin + ")")
        by_feed = connection.execute(
            select(feed_label, func.count())
            .select_from(_from_articles())
            .group_by(feed_label)
            .order_by(func.count().desc())
        ).all()
        by_element = connection.execute(
            select(TAG.c.name, func.count())
            .select_from(ARTICLE_TAG.join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id))
            .where(TAG.c.kind == "element")
            .group_by(TAG.c.name)
            .order_by(func.count().desc(), TAG.c.name)
        ).all()
        if connection.dialect.name == "sqlite":
            month = func.strftime(literal_column("'%Y-%m'"), ARTICLE.c.published_at)
        else:
            month = func.to_char(ARTICLE.c.published_at, literal_column("'YYYY-MM'"))
        by_month = connection.execute(
            select(func.coalesce(month, literal_column("'undated'")), func.count())
            .group_by(func.coalesce(month, literal_column("'undated'")))
            .order_by(func.coalesce(month, literal_column("'undated'")))
        ).all()
    return Stats(
        articles=total,
        stories=total - copies,
        copies=copies,
        stories_with_copies=stories_with_copies,
        by_origin=by_origin,
        by_feed=[(label, count) for label, count in by_feed],
        by_element=[(name, count) for name, count in by_element],
        by_month=[(label, count) for label, count in by_month],
    )


def latest_run(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as connection:
        row = connection.execute(select(RUN).order_by(RUN.c.id.desc()).limit(1)).mappings().first()
        return dict(row) if row else None
