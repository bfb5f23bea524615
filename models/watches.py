"""Watches: saved searches checked after every ingestion run, and the ledger of what each one matched.

A watch is a query (the same words `rare-news search` takes, Chinese included) plus optional tag filters. After a
run, each new article that matches a watch gets one `watch_match` row, keyed by (watch, article), so a match is
reported and delivered once however many times the run is repeated. `delivery` says what became of it:
`pending` (just matched), `sent`, `failed` (tried again with the next run's digest) or `unsent` (no
notification URL was configured when it matched; never sent later, so configuring one does not flood).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    delete,
    exists,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Field, SQLModel

from models.cjk_search import cjk_match, has_cjk
from models.db import dialect_insert
from models.events import ARTICLE_EVENT, event_id_of, one_per_event
from models.queries import SearchFilters, _filter_clauses, as_utc, fts5_query
from models.store import ARTICLE
from models.tables import utcnow

DELIVERIES = ("pending", "sent", "failed", "unsent")
_HAS_WORD = re.compile(r"\w", re.UNICODE)


class Watch(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("name", name="uq_watch_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(Text, nullable=False))
    query: str = Field(sa_column=Column(Text, nullable=False))
    element: str | None = Field(default=None, sa_column=Column(Text))
    company: str | None = Field(default=None, sa_column=Column(Text))
    place: str | None = Field(default=None, sa_column=Column(Text))
    topic: str | None = Field(default=None, sa_column=Column(Text))
    notify_url: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class WatchMatch(SQLModel, table=True):
    __tablename__ = "watch_match"

    watch_id: int = Field(sa_column=Column(Integer, ForeignKey("watch.id", ondelete="CASCADE"), primary_key=True))
    article_id: int = Field(sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True))
    run_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("run.id", ondelete="SET NULL")))
    matched_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    delivery: str = Field(sa_column=Column(Text, nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    error: str | None = Field(default=None, sa_column=Column(Text))


WATCH = Watch.__table__  # type: ignore[attr-defined]
WATCH_MATCH = WatchMatch.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class WatchSpec:
    name: str
    query: str
    element: str | None = None
    company: str | None = None
    place: str | None = None
    topic: str | None = None
    notify_url: str | None = None
    id: int | None = None

    def filters(self) -> SearchFilters:
        return SearchFilters(element=self.element, company=self.company, place=self.place, topic=self.topic)

    def describe(self) -> str:
        parts = [repr(self.query)] if self.query else []
        parts += [f"{kind}={value}" for kind, value in self._tag_filters()]
        return " ".join(parts) or "(every article)"

    def _tag_filters(self) -> list[tuple[str, str]]:
        pairs = [("element", self.element), ("company", self.company), ("place", self.place), ("topic", self.topic)]
        return [(kind, value) for kind, value in pairs if value]


@dataclass(frozen=True)
class MatchedArticle:
    id: int
    title: str | None
    url: str
    site: str | None
    published_at: datetime | None
    language: str | None
    delivery: str


class WatchExists(ValueError):
    """A watch of that name exists already."""


def _spec(row: Any) -> WatchSpec:
    return WatchSpec(
        id=row.id,
        name=row.name,
        query=row.query,
        element=row.element,
        company=row.company,
        place=row.place,
        topic=row.topic,
        notify_url=row.notify_url,
    )


def add_watch(engine: Engine, spec: WatchSpec) -> WatchSpec:
    with engine.begin() as connection:
        statement = (
            dialect_insert(connection, WATCH)
            .values(
                name=spec.name,
                query=spec.query,
                element=spec.element,
                company=spec.company,
                place=spec.place,
                topic=spec.topic,
                notify_url=spec.notify_url,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=[WATCH.c.name])
            .returning(WATCH.c.id)
        )
        new_id = connection.execute(statement).scalar_one_or_none()
    if new_id is None:
        raise WatchExists(f"a watch named {spec.name!r} exists already")
    return WatchSpec(**{**spec.__dict__, "id": new_id})


def remove_watch(engine: Engine, name: str) -> bool:
    with engine.begin() as connection:
        return bool(connection.execute(delete(WATCH).where(WATCH.c.name == name)).rowcount)


def list_watches(engine: Engine) -> list[WatchSpec]:
    with engine.connect() as connection:
        return [_spec(row) for row in connection.execute(select(WATCH).order_by(WATCH.c.name))]


def match_counts(engine: Engine) -> dict[int, dict[str, int]]:
    """Per watch id: matches by delivery state."""
    counts: dict[int, dict[str, int]] = {}
    with engine.connect() as connection:
        rows = connection.execute(
            select(WATCH_MATCH.c.watch_id, WATCH_MATCH.c.delivery, func.count()).group_by(
                WATCH_MATCH.c.watch_id, WATCH_MATCH.c.delivery
            )
        )
        for watch_id, delivery, count in rows:
            counts.setdefault(watch_id, {})[delivery] = count
    return counts


def _text_clause(connection: Connection, query: str) -> Any:
    """The same words-must-appear test as `search_articles`, as a clause on `article` (no ranking needed)."""
    if not _HAS_WORD.search(query or ""):
        return None
    if has_cjk(query):
        return cjk_match(connection.dialect.name, query)[0]
    if connection.dialect.name == "sqlite":
        fts = text("SELECT rowid FROM article_fts WHERE article_fts MATCH :watch_match").bindparams(
            watch_match=fts5_query(query)
        )
        return ARTICLE.c.id.in_(fts.columns(ARTICLE.c.id.label("rowid")))
    return literal_column("article.search_vector").op("@@")(func.websearch_to_tsquery("english", query))


def _story_matched(watch_id: int | None) -> Any:
    """The article's story has matched this watch before: a copy that became the story's canonical article (it
    was published first, or is longer) is not news to the watch."""
    member = ARTICLE.alias("member")
    return exists(
        select(WATCH_MATCH.c.article_id)
        .join(member, member.c.id == WATCH_MATCH.c.article_id)
        .where(
            WATCH_MATCH.c.watch_id == watch_id,
            (member.c.id == ARTICLE.c.id) | (member.c.near_duplicate_of == ARTICLE.c.id),
        )
    )


def _event_matched(watch_id: int | None) -> Any:
    """The article's event story has matched this watch before (another outlet's rewrite, a translation, a
    copy): an event already reported is not news again (models/events.py)."""
    return exists(
        select(WATCH_MATCH.c.article_id)
        .join(ARTICLE_EVENT, ARTICLE_EVENT.c.article_id == WATCH_MATCH.c.article_id)
        .where(WATCH_MATCH.c.watch_id == watch_id, ARTICLE_EVENT.c.event_id == event_id_of(ARTICLE.c.id))
    )


def matching_article_ids(connection: Connection, spec: WatchSpec, article_ids: Sequence[int]) -> list[int]:
    """Which of these articles the watch matches, once per story: copies (near duplicates) are left out, and so is
    an article whose story matched the watch before."""
    found: list[int] = []
    ids = sorted(set(article_ids))
    match = _text_clause(connection, spec.query)
    for start in range(0, len(ids), 500):
        clauses = [
            ARTICLE.c.id.in_(ids[start : start + 500]),
            ARTICLE.c.near_duplicate_of.is_(None),
            ~_story_matched(spec.id),
            ~_event_matched(spec.id),
            *_filter_clauses(spec.filters()),
        ]
        if match is not None:
            clauses.append(match)
        found += [row[0] for row in connection.execute(select(ARTICLE.c.id).where(*clauses).order_by(ARTICLE.c.id))]
    return one_per_event(connection, found)


def record_matches(engine: Engine, article_ids: Sequence[int], *, run_id: int | None) -> dict[int, list[int]]:
    """Match every watch against these (new) articles and record the matches; returns the new ones per watch id.

    A match recorded before (the same article in a repeated run) is not new and is not returned again."""
    new: dict[int, list[int]] = {}
    if not article_ids:
        return new
    with engine.begin() as connection:
        for spec in [_spec(row) for row in connection.execute(select(WATCH).order_by(WATCH.c.name))]:
            assert spec.id is not None
            ids = matching_article_ids(connection, spec, article_ids)
            if not ids:
                continue
            row = {"watch_id": spec.id, "run_id": run_id, "matched_at": utcnow(), "delivery": "pending"}
            rows = [{**row, "article_id": article_id} for article_id in ids]
            statement = (
                dialect_insert(connection, WATCH_MATCH)
                .values(rows)
                .on_conflict_do_nothing(index_elements=[WATCH_MATCH.c.watch_id, WATCH_MATCH.c.article_id])
                .returning(WATCH_MATCH.c.article_id)
            )
            inserted = sorted(row[0] for row in connection.execute(statement))
            if inserted:
                new[spec.id] = inserted
    return new


def undelivered(engine: Engine, watch_id: int) -> list[MatchedArticle]:
    """Matches waiting for a digest: new ones (`pending`) and those whose last delivery failed, oldest first."""
    query = (
        select(
            ARTICLE.c.id,
            ARTICLE.c.title,
            ARTICLE.c.canonical_url,
            ARTICLE.c.site,
            ARTICLE.c.published_at,
            ARTICLE.c.language,
            WATCH_MATCH.c.delivery,
        )
        .join(ARTICLE, ARTICLE.c.id == WATCH_MATCH.c.article_id)
        .where(WATCH_MATCH.c.watch_id == watch_id, WATCH_MATCH.c.delivery.in_(("pending", "failed")))
        .order_by(WATCH_MATCH.c.matched_at, ARTICLE.c.id)
    )
    with engine.connect() as connection:
        return [
            MatchedArticle(
                id=row.id,
                title=row.title,
                url=row.canonical_url,
                site=row.site,
                published_at=as_utc(row.published_at),
                language=row.language,
                delivery=row.delivery,
            )
            for row in connection.execute(query)
        ]


def mark_delivery(
    engine: Engine, watch_id: int, article_ids: Sequence[int], *, delivery: str, error: str | None = None
) -> None:
    if delivery not in DELIVERIES:
        raise ValueError(f"unknown delivery state {delivery!r}")
    values: dict[str, Any] = {"delivery": delivery, "error": error}
    if delivery == "sent":
        values["delivered_at"] = utcnow()
    with engine.begin() as connection:
        connection.execute(
            update(WATCH_MATCH)
            .where(WATCH_MATCH.c.watch_id == watch_id, WATCH_MATCH.c.article_id.in_(list(article_ids)))
            .values(**values)
        )
