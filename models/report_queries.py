"""The report's reads: weekly counts by tag, most mentioned companies and places, stories by outlets, the newest
articles and feed health, for one period. Same results on SQLite and Postgres.

Charts and rankings count stories (an article and its near-duplicate copies count once). An article's date is
when it was published, or when it was fetched if the page gave no date. Constants inside grouped expressions
are written as literals, not bound parameters: Postgres matches a GROUP BY expression to the select list only
when both are the same text, and two bound parameters never are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    case,
    distinct,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from models.events import event_canonical_id
from models.links import link_counts_query
from models.queries import as_utc
from models.store import ARTICLE, ARTICLE_TAG, FEED, SEEN, TAG
from transforms.report import ArticleRow, FeedHealthRow, ReportData, StoryRow, weekly_series

TOP_TAGS = 12
TOP_STORIES = 10
NEWEST = 20


class FeedPoll(SQLModel, table=True):
    """One poll of a feed, logged by a trigger on `feed.last_polled_at` (migration 0004)."""

    __tablename__ = "feed_poll"

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(sa_column=Column(Integer, ForeignKey("feed.id", ondelete="CASCADE"), nullable=False))
    polled_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    status: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))


FEED_POLL = FeedPoll.__table__  # type: ignore[attr-defined]


def _day() -> Any:
    return func.coalesce(ARTICLE.c.published_at, ARTICLE.c.fetched_at)


def _week(connection: Connection) -> Any:
    """The Monday that starts the week of an article's date, as a date (SQLite: as 'YYYY-MM-DD')."""
    if connection.dialect.name == "sqlite":
        return func.date(_day(), literal_column("'weekday 0'"), literal_column("'-6 days'"))
    utc_day = func.timezone(literal_column("'UTC'"), _day())
    return func.date_trunc(literal_column("'week'"), utc_day).cast(Date)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _period(since: datetime | None, until: datetime | None) -> list[Any]:
    clauses = []
    if since:
        clauses.append(_day() >= since)
    if until:
        clauses.append(_day() < until)
    return clauses


def _stories(since: datetime | None, until: datetime | None) -> list[Any]:
    return [ARTICLE.c.near_duplicate_of.is_(None), *_period(since, until)]


def _weekly(connection: Connection, kind: str, since: datetime | None, until: datetime | None) -> Any:
    inner = (
        select(_week(connection).label("week"), TAG.c.name.label("name"))
        .select_from(ARTICLE.join(ARTICLE_TAG, ARTICLE_TAG.c.article_id == ARTICLE.c.id))
        .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
        .where(TAG.c.kind == kind, *_stories(since, until))
        .subquery()
    )
    rows = connection.execute(
        select(inner.c.week, inner.c.name, func.count()).group_by(inner.c.week, inner.c.name)
    ).all()
    return weekly_series((_as_date(week), name, count) for week, name, count in rows if week is not None)


def _top_tags(
    connection: Connection, kind: str, since: datetime | None, until: datetime | None
) -> tuple[tuple[str, int], ...]:
    count = func.count(distinct(ARTICLE.c.id))
    rows = connection.execute(
        select(TAG.c.name, count)
        .select_from(ARTICLE.join(ARTICLE_TAG, ARTICLE_TAG.c.article_id == ARTICLE.c.id))
        .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
        .where(TAG.c.kind == kind, *_stories(since, until))
        .group_by(TAG.c.name)
        .order_by(count.desc(), TAG.c.name)
        .limit(TOP_TAGS)
    ).all()
    return tuple((name, n) for name, n in rows)


def _event_or_story() -> Any:
    """What the report counts as one story: the article's event story (its canonical article's id: rewrites,
    copies and translations of one event together, models/events.py), else its copy story."""
    return func.coalesce(event_canonical_id(ARTICLE.c.id), ARTICLE.c.near_duplicate_of, ARTICLE.c.id)


def _top_stories(connection: Connection, since: datetime | None, until: datetime | None) -> tuple[StoryRow, ...]:
    members = (
        select(
            _event_or_story().label("story_id"),
            ARTICLE.c.site.label("site"),
        )
        .where(*_period(since, until))
        .subquery()
    )
    outlets = func.count(distinct(members.c.site))
    copies = func.count()
    ranked = connection.execute(
        select(members.c.story_id, outlets, copies)
        .group_by(members.c.story_id)
        .order_by(outlets.desc(), copies.desc(), members.c.story_id.desc())
        .limit(TOP_STORIES)
    ).all()
    if not ranked:
        return ()
    ids = [row[0] for row in ranked]
    heads = {
        row.id: row
        for row in connection.execute(
            select(ARTICLE.c.id, ARTICLE.c.title, ARTICLE.c.canonical_url, _day().label("day")).where(
                ARTICLE.c.id.in_(ids)
            )
        )
    }
    sites: dict[int, list[str]] = {}
    story_of = _event_or_story()
    for story_id, site in connection.execute(
        select(story_of, ARTICLE.c.site).where(story_of.in_(ids), ARTICLE.c.site.is_not(None)).order_by(ARTICLE.c.id)
    ):
        if site not in sites.setdefault(story_id, []):
            sites[story_id].append(site)
    return tuple(
        StoryRow(
            id=story_id,
            title=heads[story_id].title,
            url=heads[story_id].canonical_url,
            outlets=n_outlets,
            copies=n_copies,
            sites=tuple(sites.get(story_id, [])),
            published_at=as_utc(heads[story_id].day),
        )
        for story_id, n_outlets, n_copies in ranked
        if story_id in heads
    )


def _elements_of(connection: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    elements: dict[int, list[str]] = {}
    if not ids:
        return elements
    for article_id, name in connection.execute(
        select(ARTICLE_TAG.c.article_id, TAG.c.name)
        .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
        .where(ARTICLE_TAG.c.article_id.in_(list(ids)), TAG.c.kind == "element")
        .order_by(ARTICLE_TAG.c.article_id, ARTICLE_TAG.c.mentions.desc(), TAG.c.name)
    ):
        elements.setdefault(article_id, []).append(name)
    return elements


def _newest(connection: Connection, since: datetime | None, until: datetime | None) -> tuple[ArticleRow, ...]:
    rows = connection.execute(
        select(
            ARTICLE.c.id,
            ARTICLE.c.title,
            ARTICLE.c.canonical_url,
            ARTICLE.c.site,
            ARTICLE.c.language,
            _day().label("day"),
        )
        .where(*_stories(since, until))
        .order_by(_day().desc(), ARTICLE.c.id.desc())
        .limit(NEWEST)
    ).all()
    elements = _elements_of(connection, [row.id for row in rows])
    return tuple(
        ArticleRow(
            id=row.id,
            title=row.title,
            url=row.canonical_url,
            site=row.site,
            published_at=as_utc(row.day),
            language=row.language,
            elements=tuple(elements.get(row.id, [])),
        )
        for row in rows
    )


def _feeds(connection: Connection) -> tuple[FeedHealthRow, ...]:
    polls = (
        select(
            FEED_POLL.c.feed_id,
            func.count().label("polls"),
            func.sum(case((FEED_POLL.c.status == "not modified", 1), else_=0)).label("not_modified"),
            func.sum(case((FEED_POLL.c.status == "failed", 1), else_=0)).label("failed"),
        )
        .group_by(FEED_POLL.c.feed_id)
        .subquery()
    )
    entries = (
        select(
            SEEN.c.feed_id,
            func.count().label("entries"),
            func.sum(case((SEEN.c.status == "failed", 1), else_=0)).label("failed"),
        )
        .group_by(SEEN.c.feed_id)
        .subquery()
    )
    articles = select(ARTICLE.c.feed_id, func.count().label("articles")).group_by(ARTICLE.c.feed_id).subquery()
    links = link_counts_query()
    query = (
        select(
            FEED,
            func.coalesce(links.c.resolved, 0).label("n_links_resolved"),
            func.coalesce(links.c.failed, 0).label("n_links_failed"),
            func.coalesce(polls.c.polls, 0).label("n_polls"),
            func.coalesce(polls.c.not_modified, 0).label("n_not_modified"),
            func.coalesce(polls.c.failed, 0).label("n_failed_polls"),
            func.coalesce(entries.c.entries, 0).label("n_entries"),
            func.coalesce(entries.c.failed, 0).label("n_entries_failed"),
            func.coalesce(articles.c.articles, 0).label("n_articles"),
        )
        .select_from(
            FEED.outerjoin(polls, polls.c.feed_id == FEED.c.id)
            .outerjoin(entries, entries.c.feed_id == FEED.c.id)
            .outerjoin(articles, articles.c.feed_id == FEED.c.id)
            .outerjoin(links, links.c.feed_id == FEED.c.id)
        )
        .order_by(FEED.c.consecutive_failures.desc(), FEED.c.url)
    )
    return tuple(
        FeedHealthRow(
            url=row.url,
            name=row.name,
            last_status=row.last_status,
            last_polled_at=as_utc(row.last_polled_at),
            polls=int(row.n_polls),
            not_modified=int(row.n_not_modified),
            failed_polls=int(row.n_failed_polls),
            entries=int(row.n_entries),
            articles=int(row.n_articles),
            consecutive_failures=row.consecutive_failures,
            entries_failed=int(row.n_entries_failed),
            last_error=row.last_error,
            links_resolved=int(row.n_links_resolved),
            links_failed=int(row.n_links_failed),
        )
        for row in connection.execute(query)
    )


def report_data(
    engine: Engine, *, since: datetime | None = None, until: datetime | None = None, now: datetime | None = None
) -> ReportData:
    """Everything the report shows, for articles dated in [since, until)."""
    with engine.connect() as connection:
        period = _period(since, until)
        articles = connection.execute(select(func.count()).select_from(ARTICLE).where(*period)).scalar_one()
        copies = connection.execute(
            select(func.count()).select_from(ARTICLE).where(ARTICLE.c.near_duplicate_of.is_not(None), *period)
        ).scalar_one()
        language_rows = connection.execute(
            select(ARTICLE.c.language, func.count()).where(*period).group_by(ARTICLE.c.language)
        ).all()
        languages: dict[str, int] = {}
        for language, count in language_rows:
            languages[language or "unknown"] = languages.get(language or "unknown", 0) + count
        return ReportData(
            generated_at=now or datetime.now(UTC),
            since=since,
            until=until,
            articles=articles,
            stories=articles - copies,
            copies=copies,
            languages=tuple(sorted(languages.items(), key=lambda item: (-item[1], item[0]))),
            elements_by_week=_weekly(connection, "element", since, until),
            topics_by_week=_weekly(connection, "topic", since, until),
            companies=_top_tags(connection, "company", since, until),
            places=_top_tags(connection, "place", since, until),
            top_stories=_top_stories(connection, since, until),
            newest=_newest(connection, since, until),
            feeds=_feeds(connection),
        )
