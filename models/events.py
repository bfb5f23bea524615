"""Event stories: every stored article belongs to one event, the coverage of one happening by any outlet, in
any wording or language. Copy stories (models/stories.py) group near-identical texts; an event groups them
and the rewrites, translations and reports that share the event's facts.

Membership (transforms/events.py is the rule): an article's evidence is its taxonomy tags, numbers with units
and names; it joins the event whose own evidence (the keys of all its members, each weighted by the share of
members carrying it) it matches best, above the thresholds and within days of the event's coverage, or starts
a new event. A copy joins its copy story's event outright (a syndicated copy is the same report), so every
copy is in its story and its canonical article's event. Events never merge: an event id, once given, stays
as coverage arrives; only `rebuild_events` regroups, and it keeps each old id for the new event holding most
of its articles.

The canonical article of an event follows the copy-story rule (``models.stories.rank_key``): published first,
then stored first.

Tables: ``event`` (evidence as JSON, canonical article, time span, member count), ``article_event`` (each
article's event, the link's evidence: score and shared keys, and the article's own evidence) and
``event_key`` (evidence key hash, day) -> event, the indexed candidate lookup: an article's candidates are one
query over its keys and the days around its publication, at any archive size.

Concurrency: assignment runs in the load transaction under the story lock (``models.stories.lock_stories``),
so two loads place their articles one batch after the other and never start two events for one event.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, bindparam, delete, func, inspect, select, text, update
from sqlalchemy.engine import Connection

from models.stories import Progress, StoryPlan, _Silent, as_utc, lock_stories, rank_key
from models.tables import Article, ArticleEvent, ArticleTag, Event, EventKey, Tag, utcnow
from transforms.events import (
    WINDOW_DAYS,
    ArticleEvidence,
    EventEvidence,
    Match,
    article_evidence,
    best_event,
    day_number,
    key_hash,
)

if TYPE_CHECKING:  # annotations only: reading commands need not import the page pipeline
    from transforms.pipeline import ArticleRecord


ARTICLE = Article.__table__  # type: ignore[attr-defined]
EVENT = Event.__table__  # type: ignore[attr-defined]
EVENT_KEY = EventKey.__table__  # type: ignore[attr-defined]
ARTICLE_EVENT = ArticleEvent.__table__  # type: ignore[attr-defined]
ARTICLE_TAG = ArticleTag.__table__  # type: ignore[attr-defined]
TAG = Tag.__table__  # type: ignore[attr-defined]

# Events scored per article: those sharing the most lookup keys with it in the days around it.
MAX_CANDIDATES = 20
# Articles read per query by a rebuild or a backfill.
READ_CHUNK = 1_000


@dataclass(frozen=True)
class EventSubject:
    """An article to place: its evidence, when it was published (or fetched), and the article whose event it
    joins outright (its copy story's canonical article), if any."""

    article_id: int
    published_at: datetime
    evidence: ArticleEvidence
    follows: int | None = None


def subject_for(
    *,
    article_id: int,
    title: str | None,
    body: str,
    tags: Sequence[tuple[str, str, int]],
    language: str | None,
    published_at: datetime | None,
    follows: int | None = None,
) -> EventSubject:
    return EventSubject(
        article_id=article_id,
        published_at=as_utc(published_at) or utcnow(),
        evidence=article_evidence(title=title, body=body, tags=tags, language=language),
        follows=follows,
    )


@dataclass
class _StoredEvent:
    id: int
    evidence: EventEvidence
    canonical_id: int | None
    canonical_published: datetime | None


def _evidence_json(evidence: ArticleEvidence) -> str:
    return json.dumps({"language": evidence.language, "keys": sorted(evidence.keys)}, ensure_ascii=False)


def _evidence_from_json(text: str) -> ArticleEvidence:
    data = json.loads(text)
    return ArticleEvidence(keys=frozenset(data.get("keys") or ()), language=data.get("language"))


# --- placing one article -----------------------------------------------------------------------------------


# The statements of the load path, built once (bind parameters; the lists expanding), so SQLAlchemy compiles
# each once: building them per article cost more than running them.
_CANONICAL = ARTICLE.alias("canonical")
_LOAD_EVENTS = (
    select(
        EVENT.c.id,
        EVENT.c.evidence,
        EVENT.c.first_published_at,
        EVENT.c.last_published_at,
        EVENT.c.canonical_article_id,
        _CANONICAL.c.published_at.label("canonical_published"),
    )
    .select_from(EVENT.outerjoin(_CANONICAL, _CANONICAL.c.id == EVENT.c.canonical_article_id))
    .where(EVENT.c.id.in_(bindparam("ids", expanding=True)))
)
_HITS = func.count().label("hits")
_CANDIDATES = (
    select(EVENT_KEY.c.event_id, _HITS)
    .where(
        EVENT_KEY.c.key.in_(bindparam("keys", expanding=True)),
        EVENT_KEY.c.day.between(bindparam("first_day"), bindparam("last_day")),
    )
    .group_by(EVENT_KEY.c.event_id)
    .order_by(_HITS.desc(), EVENT_KEY.c.event_id)
    .limit(MAX_CANDIDATES)
)
_EVENT_OF = select(ARTICLE_EVENT.c.event_id).where(ARTICLE_EVENT.c.article_id == bindparam("article_id"))
_NEW_EVENT = (
    EVENT.insert()
    .values(evidence=bindparam("b_evidence"), articles=0, created_at=bindparam("b_created"))
    .returning(EVENT.c.id)
)
_ADD_TO_EVENT = (
    update(EVENT)
    .where(EVENT.c.id == bindparam("b_id"))
    .values(
        evidence=bindparam("b_evidence"),
        first_published_at=bindparam("b_first", type_=EVENT.c.first_published_at.type),
        last_published_at=bindparam("b_last", type_=EVENT.c.last_published_at.type),
        articles=EVENT.c.articles + 1,
        canonical_article_id=bindparam("b_canonical"),
    )
)
# Dialect inserts with ON CONFLICT are compiled afresh on every execution (models/store.py says so): written
# once as text instead, the same on SQLite and Postgres.
_UPSERT_MEMBER = text(
    "INSERT INTO article_event (article_id, event_id, score, link, evidence) "
    "VALUES (:article_id, :event_id, :score, :link, :evidence) "
    "ON CONFLICT (article_id) DO UPDATE SET event_id = excluded.event_id, score = excluded.score, "
    "link = excluded.link, evidence = excluded.evidence"
)
_INSERT_KEYS = text(
    'INSERT INTO event_key ("key", day, event_id) VALUES (:key, :day, :event_id) ON CONFLICT DO NOTHING'
)


def _load_events(connection: Connection, ids: Iterable[int]) -> dict[int, _StoredEvent]:
    ids = list(ids)
    if not ids:
        return {}
    return {
        row.id: _StoredEvent(
            id=row.id,
            evidence=EventEvidence.from_json(
                json.loads(row.evidence), as_utc(row.first_published_at), as_utc(row.last_published_at)
            ),
            canonical_id=row.canonical_article_id,
            canonical_published=as_utc(row.canonical_published),
        )
        for row in connection.execute(_LOAD_EVENTS, {"ids": ids})
    }


def has_event_tables(connection: Connection) -> bool:
    """Whether this database has events (schema revision 0010 or later), asked once per transaction: a store
    still at an older revision loads and reads as before, and migrating to 0010 places its articles."""
    transaction = connection.get_transaction()
    known = connection.info.get("rare_news_has_events")
    if known is not None and known[0] is transaction:
        return bool(known[1])
    present = inspect(connection).has_table("article_event")
    connection.info["rare_news_has_events"] = (transaction, present)
    return present


def assign_loaded_article(
    connection: Connection, record: ArticleRecord, article_id: int, story: StoryPlan
) -> int | None:
    """The load's event step (models/store.py): a copy follows its copy story's canonical article, an article
    that became the canonical article of stories follows the first of them, any other is matched. None: the
    store has no events yet (see ``has_event_tables``)."""
    if not has_event_tables(connection):
        return None
    follows = story.canonical_id if story.canonical_id is not None else (story.merge[0] if story.merge else None)
    subject = subject_for(
        article_id=article_id,
        title=record.title,
        body=record.body_text,
        tags=record.tags,
        language=record.language,
        published_at=record.published_at,
        follows=follows,
    )
    return assign_event(connection, subject)


def _candidate_ids(connection: Connection, subject: EventSubject) -> list[int]:
    """Events whose members carry the subject's lookup keys within the window's days: one indexed query."""
    keys = [key_hash(key) for key in subject.evidence.lookup_keys()]
    if not keys:
        return []
    day = day_number(subject.published_at)
    window = {"keys": keys, "first_day": day - WINDOW_DAYS, "last_day": day + WINDOW_DAYS}
    return [row.event_id for row in connection.execute(_CANDIDATES, window)]


def event_of(connection: Connection, article_id: int) -> int | None:
    return connection.execute(_EVENT_OF, {"article_id": article_id}).scalar_one_or_none()


def assign_event(connection: Connection, subject: EventSubject) -> int:
    """Place one stored article in its event (joining one or starting one) and record the link's evidence.
    Takes the story lock; call it inside the transaction that stored the article."""
    lock_stories(connection)
    event_id: int | None = None
    link: dict[str, Any] | None = None
    score: float | None = None
    if subject.follows is not None:
        event_id = event_of(connection, subject.follows)
        if event_id is not None:
            link = {"copy_of": subject.follows}
    stored: _StoredEvent | None = None
    if event_id is None:
        candidates = _load_events(connection, _candidate_ids(connection, subject))
        found = best_event(
            subject.evidence, subject.published_at, {key: value.evidence for key, value in candidates.items()}
        )
        if found is not None:
            event_id, match = found
            stored, link, score = candidates[event_id], match.as_json(), match.score
    elif event_id is not None:
        stored = _load_events(connection, [event_id]).get(event_id)
    if stored is None:
        stored = _StoredEvent(
            id=_new_event(connection), evidence=EventEvidence(), canonical_id=None, canonical_published=None
        )
        link = {"started": True}
    _add_member(connection, stored, subject, link, score)
    return stored.id


def _new_event(connection: Connection) -> int:
    return int(connection.execute(_NEW_EVENT, {"b_evidence": "{}", "b_created": utcnow()}).scalar_one())


def _add_member(
    connection: Connection,
    event: _StoredEvent,
    subject: EventSubject,
    link: dict[str, Any] | None,
    score: float | None,
) -> None:
    event.evidence.add(subject.evidence, subject.published_at)
    canonical_id, canonical_published = event.canonical_id, event.canonical_published
    if canonical_id is None or rank_key(subject.published_at, subject.article_id) < rank_key(
        canonical_published, canonical_id
    ):
        canonical_id = subject.article_id
    connection.execute(
        _ADD_TO_EVENT,
        {
            "b_id": event.id,
            "b_evidence": json.dumps(event.evidence.as_json(), ensure_ascii=False),
            "b_first": event.evidence.first_published,
            "b_last": event.evidence.last_published,
            "b_canonical": canonical_id,
        },
    )
    connection.execute(
        _UPSERT_MEMBER,
        {
            "article_id": subject.article_id,
            "event_id": event.id,
            "score": score,
            "link": json.dumps(link, ensure_ascii=False),
            "evidence": _evidence_json(subject.evidence),
        },
    )
    _insert_keys(connection, event.id, [(subject.evidence, subject.published_at)])


def _insert_keys(connection: Connection, event_id: int, members: Iterable[tuple[ArticleEvidence, datetime]]) -> None:
    rows = {
        (key_hash(key), day_number(published), event_id)
        for evidence, published in members
        for key in evidence.lookup_keys()
    }
    if rows:
        connection.execute(
            _INSERT_KEYS, [{"key": key, "day": day, "event_id": event} for key, day, event in sorted(rows)]
        )


# --- leaving events ----------------------------------------------------------------------------------------


def remove_from_events(connection: Connection, article_ids: Sequence[int]) -> list[int]:
    """Take articles out of their events (before they are deleted or placed again); each event they leave is
    recomputed from the members that stay, and one left empty is deleted. Returns the events touched."""
    if not article_ids:
        return []
    lock_stories(connection)
    ids = list(article_ids)
    events = sorted(
        set(connection.execute(select(ARTICLE_EVENT.c.event_id).where(ARTICLE_EVENT.c.article_id.in_(ids))).scalars())
    )
    connection.execute(delete(ARTICLE_EVENT).where(ARTICLE_EVENT.c.article_id.in_(ids)))
    refresh_events(connection, events)
    return events


def refresh_events(connection: Connection, event_ids: Iterable[int]) -> None:
    """Recompute events from their members as stored: evidence, time span, count, canonical article, lookup
    keys. An event without members is deleted."""
    for event_id in event_ids:
        members = connection.execute(
            select(ARTICLE_EVENT.c.article_id, ARTICLE_EVENT.c.evidence, ARTICLE.c.published_at, ARTICLE.c.fetched_at)
            .join(ARTICLE, ARTICLE.c.id == ARTICLE_EVENT.c.article_id)
            .where(ARTICLE_EVENT.c.event_id == event_id)
        ).all()
        connection.execute(delete(EVENT_KEY).where(EVENT_KEY.c.event_id == event_id))
        if not members:
            connection.execute(delete(EVENT).where(EVENT.c.id == event_id))
            continue
        evidence = EventEvidence()
        placed: list[tuple[ArticleEvidence, datetime]] = []
        for row in sorted(members, key=lambda row: rank_key(row.published_at, row.article_id)):
            published = as_utc(row.published_at) or as_utc(row.fetched_at) or utcnow()
            article = _evidence_from_json(row.evidence)
            evidence.add(article, published)
            placed.append((article, published))
        canonical = min(members, key=lambda row: rank_key(row.published_at, row.article_id)).article_id
        connection.execute(
            update(EVENT)
            .where(EVENT.c.id == event_id)
            .values(
                evidence=json.dumps(evidence.as_json(), ensure_ascii=False),
                first_published_at=evidence.first_published,
                last_published_at=evidence.last_published,
                articles=len(members),
                canonical_article_id=canonical,
            )
        )
        _insert_keys(connection, event_id, placed)


# --- articles without an event -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _StoredArticle:
    id: int
    title: str | None
    body: str
    language: str | None
    published_at: datetime | None
    fetched_at: datetime | None
    near_duplicate_of: int | None
    tags: tuple[tuple[str, str, int], ...]

    def subject(self) -> EventSubject:
        return subject_for(
            article_id=self.id,
            title=self.title,
            body=self.body,
            tags=self.tags,
            language=self.language,
            published_at=self.published_at or self.fetched_at,
            follows=self.near_duplicate_of,
        )


def _read_articles(connection: Connection, query: Any) -> list[_StoredArticle]:
    rows = connection.execute(query).all()
    ids = [row.id for row in rows]
    tags: dict[int, list[tuple[str, str, int]]] = {}
    for start in range(0, len(ids), 500):
        for tag in connection.execute(
            select(ARTICLE_TAG.c.article_id, TAG.c.kind, TAG.c.name, ARTICLE_TAG.c.mentions)
            .join(TAG, TAG.c.id == ARTICLE_TAG.c.tag_id)
            .where(ARTICLE_TAG.c.article_id.in_(ids[start : start + 500]))
        ):
            tags.setdefault(tag.article_id, []).append((tag.kind, tag.name, tag.mentions))
    return [
        _StoredArticle(
            id=row.id,
            title=row.title,
            body=row.body_text,
            language=row.language,
            published_at=as_utc(row.published_at),
            fetched_at=as_utc(row.fetched_at),
            near_duplicate_of=row.near_duplicate_of,
            tags=tuple(sorted(tags.get(row.id, ()))),
        )
        for row in rows
    ]


_ARTICLE_COLUMNS = (
    ARTICLE.c.id,
    ARTICLE.c.title,
    ARTICLE.c.body_text,
    ARTICLE.c.language,
    ARTICLE.c.published_at,
    ARTICLE.c.fetched_at,
    ARTICLE.c.near_duplicate_of,
)


def place_unassigned(connection: Connection) -> int:
    """Place every stored article that has no event (stored before events existed, or while a rebuild ran),
    in publication order, as a load would. Returns how many were placed.

    With no event stored yet (a database migrating to events), all are grouped in memory first, as a rebuild
    does, and written at once: the same rule, without a lookup per article."""
    if connection.execute(select(EVENT.c.id).limit(1)).first() is None:
        max_id = connection.execute(select(func.max(ARTICLE.c.id))).scalar_one() or 0
        grouped, events = _group(_all_articles(connection, max_id), _Silent())
        _write_groups(connection, grouped, events, {group: group for group in events})
        return len(grouped)
    placed = 0
    while True:
        unassigned = (
            select(*_ARTICLE_COLUMNS)
            .where(~select(ARTICLE_EVENT.c.article_id).where(ARTICLE_EVENT.c.article_id == ARTICLE.c.id).exists())
            .order_by(ARTICLE.c.published_at.is_(None), ARTICLE.c.published_at, ARTICLE.c.id)
            .limit(READ_CHUNK)
        )
        articles = _read_articles(connection, unassigned)
        if not articles:
            return placed
        for article in articles:
            subject = article.subject()
            if subject.follows is not None and event_of(connection, subject.follows) is None:
                subject = EventSubject(subject.article_id, subject.published_at, subject.evidence)
            assign_event(connection, subject)
            placed += 1


# --- checking and rebuilding -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventProblem:
    what: str


def check_events(connection: Connection, *, limit: int = 100) -> list[EventProblem]:
    """What breaks the event rules: articles without an event, events whose count or canonical article does
    not match their members. Empty when events are consistent."""
    problems: list[EventProblem] = []
    missing = connection.execute(
        select(func.count())
        .select_from(ARTICLE)
        .where(~select(ARTICLE_EVENT.c.article_id).where(ARTICLE_EVENT.c.article_id == ARTICLE.c.id).exists())
    ).scalar_one()
    if missing:
        problems.append(EventProblem(f"{missing} articles are in no event"))
    members = (
        select(ARTICLE_EVENT.c.event_id, func.count().label("members")).group_by(ARTICLE_EVENT.c.event_id).subquery()
    )
    rows = connection.execute(
        select(EVENT.c.id, EVENT.c.articles, EVENT.c.canonical_article_id, members.c.members)
        .select_from(EVENT.outerjoin(members, members.c.event_id == EVENT.c.id))
        .where(
            (members.c.members.is_(None))
            | (members.c.members != EVENT.c.articles)
            | EVENT.c.canonical_article_id.is_(None)
        )
        .limit(limit)
    )
    for row in rows:
        problems.append(
            EventProblem(
                f"event {row.id} counts {row.articles} articles, has {row.members or 0}"
                + ("" if row.canonical_article_id else ", and no canonical article")
            )
        )
    return problems[:limit]


@dataclass
class EventRebuildResult:
    articles: int = 0
    events: int = 0
    changed: int = 0  # articles whose event id changed
    seconds: float = 0.0


@dataclass(frozen=True)
class _Placed:
    group: int
    match: Match | None
    evidence: ArticleEvidence
    published_at: datetime  # publication, or fetch when undated: the day it is looked up by
    rank: tuple[Any, ...]  # the canonical rule's key
    copy_of: int | None


def _group(
    articles: Iterable[_StoredArticle], progress: Progress
) -> tuple[dict[int, _Placed], dict[int, EventEvidence]]:
    """The load rule over articles in publication order, in memory: each article's group and evidence, and
    each group's evidence. The same candidates a load would look up: the events sharing the most lookup keys
    in the days around it."""
    events: dict[int, EventEvidence] = {}
    index: dict[tuple[int, int], set[int]] = {}
    placed: dict[int, _Placed] = {}
    for article in articles:
        subject = article.subject()
        followed = placed.get(subject.follows) if subject.follows is not None else None
        group = followed.group if followed is not None else None
        match: Match | None = None
        day = day_number(subject.published_at)
        hashed = [key_hash(key) for key in subject.evidence.lookup_keys()]
        if group is None:
            hits: Counter[int] = Counter()
            for key in hashed:
                for offset in range(-WINDOW_DAYS, WINDOW_DAYS + 1):
                    hits.update(index.get((key, day + offset), ()))
            top = sorted(hits, key=lambda event: (-hits[event], event))[:MAX_CANDIDATES]
            found = best_event(subject.evidence, subject.published_at, {event: events[event] for event in top})
            if found is not None:
                group, match = found
        if group is None:
            group = len(events) + 1
            events[group] = EventEvidence()
        events[group].add(subject.evidence, subject.published_at)
        for key in hashed:
            index.setdefault((key, day), set()).add(group)
        placed[article.id] = _Placed(
            group=group,
            match=match,
            evidence=subject.evidence,
            published_at=subject.published_at,
            rank=rank_key(article.published_at, article.id),
            copy_of=subject.follows if followed is not None else None,
        )
        progress.advance()
    return placed, events


def _all_articles(connection: Connection, max_id: int) -> Iterator[_StoredArticle]:
    """Every article up to ``max_id`` in the canonical order, read in chunks."""
    ids = list(
        connection.execute(
            select(ARTICLE.c.id)
            .where(ARTICLE.c.id <= max_id)
            .order_by(ARTICLE.c.published_at.is_(None), ARTICLE.c.published_at, ARTICLE.c.id)
        ).scalars()
    )
    for start in range(0, len(ids), READ_CHUNK):
        chunk = ids[start : start + READ_CHUNK]
        query = select(*_ARTICLE_COLUMNS).where(ARTICLE.c.id.in_(chunk))
        by_id = {article.id: article for article in _read_articles(connection, query)}
        yield from (by_id[article_id] for article_id in chunk if article_id in by_id)


def rebuild_events(engine: Engine, *, progress: Progress | None = None) -> EventRebuildResult:
    """Regroup every article into events from its text and tags (after the rule or the taxonomy changed),
    keeping each old event id for the new event that holds most of its articles. Idempotent.

    Reads and groups without a lock, then writes every event in one transaction under the story lock;
    articles stored meanwhile are placed last, as a load places them."""
    progress = progress or _Silent()
    started = time.perf_counter()
    with engine.connect() as connection:
        max_id = connection.execute(select(func.max(ARTICLE.c.id))).scalar_one() or 0
        total = connection.execute(select(func.count()).where(ARTICLE.c.id <= max_id)).scalar_one()
    progress.start("grouping events", total)
    try:
        with engine.connect() as connection:
            placed, events = _group(_all_articles(connection, max_id), progress)
    finally:
        progress.stop()
    result = EventRebuildResult(articles=len(placed))
    with engine.begin() as connection:
        lock_stories(connection)
        old = dict(connection.execute(select(ARTICLE_EVENT.c.article_id, ARTICLE_EVENT.c.event_id)).tuples().all())
        stored = set(connection.execute(select(ARTICLE.c.id).where(ARTICLE.c.id <= max_id)).scalars())
        placed = {article_id: item for article_id, item in placed.items() if article_id in stored}
        event_ids = _keep_ids({article_id: item.group for article_id, item in placed.items()}, old)
        result.changed = sum(old.get(article_id) != event_ids[item.group] for article_id, item in placed.items())
        connection.execute(delete(ARTICLE_EVENT))
        connection.execute(delete(EVENT_KEY))
        connection.execute(delete(EVENT))
        _write_groups(connection, placed, events, event_ids)
        place_unassigned(connection)
        result.events = connection.execute(select(func.count()).select_from(EVENT)).scalar_one()
    result.seconds = time.perf_counter() - started
    return result


def _keep_ids(group_of: dict[int, int], old: dict[int, int]) -> dict[int, int]:
    """New group -> event id: an old id goes to the group holding most of its articles (largest overlaps
    first); other groups get ids above every old one."""
    overlaps: Counter[tuple[int, int]] = Counter()
    for article_id, group in group_of.items():
        if article_id in old:
            overlaps[(group, old[article_id])] += 1
    chosen: dict[int, int] = {}
    used: set[int] = set()
    for (group, event_id), _ in sorted(overlaps.items(), key=lambda item: (-item[1], item[0])):
        if group not in chosen and event_id not in used:
            chosen[group] = event_id
            used.add(event_id)
    next_id = max([*old.values(), 0]) + 1
    for group in sorted(set(group_of.values())):
        if group not in chosen:
            chosen[group] = next_id
            next_id += 1
    return chosen


def _write_groups(
    connection: Connection,
    placed: dict[int, _Placed],
    events: dict[int, EventEvidence],
    event_ids: dict[int, int],
) -> None:
    """Insert a rebuild's events, memberships and lookup keys."""
    members: dict[int, list[int]] = {}
    for article_id, item in placed.items():
        members.setdefault(item.group, []).append(article_id)
    now = utcnow()
    event_rows = []
    for group, article_ids in members.items():
        evidence = events[group]
        event_rows.append(
            {
                "id": event_ids[group],
                "evidence": json.dumps(evidence.as_json(), ensure_ascii=False),
                "first_published_at": evidence.first_published,
                "last_published_at": evidence.last_published,
                "articles": len(article_ids),
                "canonical_article_id": min(article_ids, key=lambda article_id: placed[article_id].rank),
                "created_at": now,
            }
        )
    for start in range(0, len(event_rows), READ_CHUNK):
        connection.execute(EVENT.insert(), event_rows[start : start + READ_CHUNK])
    if connection.dialect.name == "postgresql" and event_rows:
        connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('event', 'id'), (SELECT max(id) FROM event))")
    rows = []
    keys: set[tuple[int, int, int]] = set()
    for article_id, item in placed.items():
        link: dict[str, Any] = (
            item.match.as_json()
            if item.match is not None
            else {"copy_of": item.copy_of}
            if item.copy_of is not None
            else {"started": True}
        )
        event_id = event_ids[item.group]
        rows.append(
            {
                "article_id": article_id,
                "event_id": event_id,
                "score": item.match.score if item.match is not None else None,
                "link": json.dumps(link, ensure_ascii=False),
                "evidence": _evidence_json(item.evidence),
            }
        )
        day = day_number(item.published_at)
        keys.update((key_hash(key), day, event_id) for key in item.evidence.lookup_keys())
    for start in range(0, len(rows), READ_CHUNK):
        connection.execute(ARTICLE_EVENT.insert(), rows[start : start + READ_CHUNK])
    key_rows = [{"key": key, "day": day, "event_id": event_id} for key, day, event_id in sorted(keys)]
    for start in range(0, len(key_rows), 5 * READ_CHUNK):
        connection.execute(EVENT_KEY.insert(), key_rows[start : start + 5 * READ_CHUNK])


# --- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventInfo:
    """An article's event as search, show, export and the report see it."""

    id: int
    canonical_article_id: int | None
    articles: int
    outlets: tuple[str, ...]  # the sites carrying it, first published first
    languages: tuple[str, ...]
    first_published_at: datetime | None


def event_infos(connection: Connection, article_ids: Sequence[int]) -> dict[int, EventInfo]:
    """article id -> its event, with the event's outlets and languages: two queries per 500 articles."""
    if not has_event_tables(connection):
        return {}
    event_of_article: dict[int, int] = {}
    ids = list(dict.fromkeys(article_ids))
    for start in range(0, len(ids), 500):
        query = select(ARTICLE_EVENT.c.article_id, ARTICLE_EVENT.c.event_id).where(
            ARTICLE_EVENT.c.article_id.in_(ids[start : start + 500])
        )
        event_of_article.update(connection.execute(query).tuples().all())
    infos: dict[int, EventInfo] = {}
    event_ids = sorted(set(event_of_article.values()))
    for start in range(0, len(event_ids), 500):
        chunk = event_ids[start : start + 500]
        members: dict[int, list[Any]] = {}
        for row in connection.execute(
            select(ARTICLE_EVENT.c.event_id, ARTICLE.c.id, ARTICLE.c.site, ARTICLE.c.language, ARTICLE.c.published_at)
            .join(ARTICLE, ARTICLE.c.id == ARTICLE_EVENT.c.article_id)
            .where(ARTICLE_EVENT.c.event_id.in_(chunk))
        ):
            members.setdefault(row.event_id, []).append(row)
        canonical = dict(
            connection.execute(select(EVENT.c.id, EVENT.c.canonical_article_id).where(EVENT.c.id.in_(chunk)))
            .tuples()
            .all()
        )
        for event_id, rows in members.items():
            rows.sort(key=lambda row: rank_key(row.published_at, row.id))
            infos[event_id] = EventInfo(
                id=event_id,
                canonical_article_id=canonical.get(event_id),
                articles=len(rows),
                outlets=tuple(dict.fromkeys(row.site.casefold() for row in rows if row.site)),
                languages=tuple(sorted({row.language for row in rows if row.language})),
                first_published_at=as_utc(rows[0].published_at),
            )
    return {article_id: infos[event_id] for article_id, event_id in event_of_article.items() if event_id in infos}


def event_canonical_id(article_id: Any) -> Any:
    """SQL: the id of the canonical article of the event of ``article_id`` (a column), for grouping a search
    by event; NULL for an article in no event."""
    event, member = EVENT.alias("its_event"), ARTICLE_EVENT.alias("its_membership")
    return (
        select(event.c.canonical_article_id)
        .join(member, member.c.event_id == event.c.id)
        .where(member.c.article_id == article_id)
        .correlate_except(event, member)
        .scalar_subquery()
    )


def event_articles(engine: Engine, event_id: int) -> list[int]:
    """The ids of an event's articles, the canonical article first, then by publication."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(ARTICLE.c.id, ARTICLE.c.published_at)
            .join(ARTICLE_EVENT, ARTICLE_EVENT.c.article_id == ARTICLE.c.id)
            .where(ARTICLE_EVENT.c.event_id == event_id)
        ).all()
    return [row.id for row in sorted(rows, key=lambda row: rank_key(row.published_at, row.id))]


def event_id_of(article_id: Any) -> Any:
    """SQL: the event id of ``article_id`` (a column)."""
    own = ARTICLE_EVENT.alias("own_event")  # never correlated with an article_event of the enclosing query
    return select(own.c.event_id).where(own.c.article_id == article_id).correlate_except(own).scalar_subquery()


def one_per_event(connection: Connection, article_ids: Sequence[int]) -> list[int]:
    """The first of these articles (lowest id) in each event; articles in no event are all kept."""
    event_of_article: dict[int, int] = {}
    ids = sorted(set(article_ids))
    for start in range(0, len(ids), 500):
        query = select(ARTICLE_EVENT.c.article_id, ARTICLE_EVENT.c.event_id).where(
            ARTICLE_EVENT.c.article_id.in_(ids[start : start + 500])
        )
        event_of_article.update(connection.execute(query).tuples().all())
    seen: set[int] = set()
    kept = []
    for article_id in ids:
        event_id = event_of_article.get(article_id)
        if event_id is None or event_id not in seen:
            kept.append(article_id)
            if event_id is not None:
                seen.add(event_id)
    return kept
