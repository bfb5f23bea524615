"""Every write: feeds, the seen-entry ledger, and batches of articles, each batch in one transaction.

Loads are upserts keyed by unique constraints (canonical URL, body hash, feed+entry key), so a batch loaded
twice, or by two runs at once, ends with the same rows as one clean load.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, bindparam, case, delete, func, select, text, update
from sqlalchemy.engine import Connection

from models.db import dialect_insert, retry_on_disconnect
from models.events import assign_loaded_article
from models.raw_pages import compress_page
from models.stories import StoryPlan, Subject, apply_plan, as_utc, plan_story
from models.tables import Article, ArticleBand, ArticleTag, Feed, RawPage, Run, SeenEntry, Tag, utcnow
from models.templates import save_templates
from transforms.schedule import PollSignals, next_poll

if TYPE_CHECKING:  # annotations only: reading commands need not import the page pipeline
    from transforms.pipeline import ArticleRecord

FEED = Feed.__table__  # type: ignore[attr-defined]
SEEN = SeenEntry.__table__  # type: ignore[attr-defined]
ARTICLE = Article.__table__  # type: ignore[attr-defined]
RAW = RawPage.__table__  # type: ignore[attr-defined]
TAG = Tag.__table__  # type: ignore[attr-defined]
ARTICLE_TAG = ArticleTag.__table__  # type: ignore[attr-defined]
BAND = ArticleBand.__table__  # type: ignore[attr-defined]
RUN = Run.__table__  # type: ignore[attr-defined]

# Statuses after which an entry is never fetched again.
DONE_STATUSES = ("loaded", "irrelevant", "duplicate")
# A failing feed waits 2^failures minutes (capped) before the next poll; Retry-After wins when longer.
FEED_BACKOFF_CAP = timedelta(hours=12)


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one feed entry in this run; `article` is set when it should be stored."""

    feed_id: int | None
    entry_key: str
    url: str | None
    title: str | None
    status: str  # loaded (if stored) | irrelevant | duplicate | failed
    error: str | None = None
    article: ArticleRecord | None = None
    retryable: bool = False  # a failure worth trying again on a later run


@dataclass(frozen=True)
class FeedUpdate:
    """A feed's poll result, saved in the same transaction as the articles it produced."""

    feed_id: int
    status: str  # "ok" | "not modified" | "failed"
    error: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    retry_after: float | None = None
    schedule: PollSignals | None = None  # what the answer said about the next poll (adaptive polling)


@dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    irrelevant: int = 0
    failed: int = 0
    article_ids: list[int] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.near_duplicates += other.near_duplicates
        self.irrelevant += other.irrelevant
        self.failed += other.failed
        self.article_ids.extend(other.article_ids)


@dataclass(frozen=True)
class FeedRow:
    id: int
    url: str
    name: str | None
    topical: bool
    etag: str | None
    last_modified: str | None
    next_poll_at: datetime | None
    consecutive_failures: int
    last_ok_at: datetime | None = None  # the last poll that answered (a query source asks for what is newer)

    @classmethod
    def from_row(cls, row: Any) -> FeedRow:
        return cls(
            id=row.id,
            url=row.url,
            name=row.name,
            topical=row.topical,
            etag=row.etag,
            last_modified=row.last_modified,
            next_poll_at=row.next_poll_at,
            consecutive_failures=row.consecutive_failures,
            last_ok_at=as_utc(row.last_ok_at),
        )


# --- feeds -------------------------------------------------------------------------------------------------


@retry_on_disconnect
def upsert_feeds(engine: Engine, feeds: Iterable[tuple[str, str | None, bool]]) -> None:
    """Add feeds (url, name, topical); a feed already known keeps its state and takes the new name/topical."""
    rows = [{"url": url, "name": name, "topical": topical, "created_at": utcnow()} for url, name, topical in feeds]
    if not rows:
        return
    with engine.begin() as connection:
        statement = dialect_insert(connection, FEED)
        statement = statement.on_conflict_do_update(
            index_elements=[FEED.c.url],
            set_={
                "name": func.coalesce(statement.excluded.name, FEED.c.name),
                "topical": statement.excluded.topical,
            },
        )
        connection.execute(statement, rows)


def remove_feed(engine: Engine, url: str) -> bool:
    with engine.begin() as connection:
        return bool(connection.execute(delete(FEED).where(FEED.c.url == url)).rowcount)


@retry_on_disconnect
def feeds_to_poll(engine: Engine, urls: Sequence[str] | None = None) -> list[FeedRow]:
    """Enabled feeds (all, or those with the given URLs), in URL order."""
    query = select(FEED).where(FEED.c.enabled.is_(True)).order_by(FEED.c.url)
    if urls is not None:
        query = query.where(FEED.c.url.in_(list(urls)))
    with engine.connect() as connection:
        return [FeedRow.from_row(row) for row in connection.execute(query)]


def _apply_feed_updates(connection: Connection, updates: Sequence[FeedUpdate]) -> None:
    now = utcnow()
    for item in updates:
        if item.status == "failed":
            failures = (
                connection.execute(
                    select(FEED.c.consecutive_failures).where(FEED.c.id == item.feed_id)
                ).scalar_one_or_none()
                or 0
            ) + 1
            # Jitter spreads feeds that failed together (one host down) so they are not retried in lockstep.
            backoff = min(timedelta(minutes=2 ** min(failures, 10)), FEED_BACKOFF_CAP) * random.uniform(0.8, 1.2)
            reason = f"backing off after {failures} failure{'s' if failures > 1 else ''} in a row"
            if item.retry_after and timedelta(seconds=item.retry_after) > backoff:
                backoff = timedelta(seconds=item.retry_after)
                reason = f"the source asked: Retry-After {item.retry_after:.0f} s"
            values: dict[str, Any] = {
                "last_status": "failed",
                "last_error": item.error,
                "consecutive_failures": failures,
                "next_poll_at": now + backoff,
                "poll_reason": reason,
            }
        else:
            values = {
                "last_status": item.status,
                "last_error": None,
                "consecutive_failures": 0,
                "next_poll_at": None,
                "last_ok_at": now,
            }
            if item.schedule is not None and item.schedule.bounds.adaptive:
                previous = connection.execute(
                    select(FEED.c.poll_interval).where(FEED.c.id == item.feed_id)
                ).scalar_one_or_none()
                due = next_poll(item.schedule, previous_interval=previous)
                values.update(
                    next_poll_at=now + timedelta(seconds=due.seconds), poll_interval=due.seconds, poll_reason=due.reason
                )
            if item.status == "ok":
                # Validators are stored only with the articles they produced: a crash before means a re-fetch.
                values.update(etag=item.etag, last_modified=item.last_modified)
        values["last_polled_at"] = now
        connection.execute(update(FEED).where(FEED.c.id == item.feed_id).values(**values))


@retry_on_disconnect
def record_feed_polls(engine: Engine, updates: Sequence[FeedUpdate]) -> None:
    """Feeds that produced no work (304, failure, nothing new) are recorded in one transaction."""
    if updates:
        with engine.begin() as connection:
            _apply_feed_updates(connection, updates)


# --- the ledger --------------------------------------------------------------------------------------------


@retry_on_disconnect
def entry_states(engine: Engine, feed_id: int, entry_keys: Sequence[str]) -> dict[str, tuple[str, int]]:
    """entry_key -> (status, attempts) for the keys this feed has seen before."""
    states: dict[str, tuple[str, int]] = {}
    keys = list(dict.fromkeys(entry_keys))
    with engine.connect() as connection:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            query = select(SEEN.c.entry_key, SEEN.c.status, SEEN.c.attempts).where(
                SEEN.c.feed_id == feed_id, SEEN.c.entry_key.in_(chunk)
            )
            for row in connection.execute(query):
                states[row.entry_key] = (row.status, row.attempts)
    return states


@retry_on_disconnect
def failed_entries(engine: Engine, feed_id: int, max_attempts: int) -> list[tuple[str, str, str | None]]:
    """(entry_key, url, title) of entries whose failure may pass, tried fewer than max_attempts times."""
    query = select(SEEN.c.entry_key, SEEN.c.url, SEEN.c.title).where(
        SEEN.c.feed_id == feed_id,
        SEEN.c.status == "failed",
        SEEN.c.retryable.is_(True),
        SEEN.c.attempts < max_attempts,
        SEEN.c.url.is_not(None),
    )
    with engine.connect() as connection:
        return [(row.entry_key, row.url, row.title) for row in connection.execute(query)]


def _upsert_entries(connection: Connection, outcomes: Sequence[tuple[EntryOutcome, int | None]]) -> None:
    now = utcnow()
    rows = [
        {
            "feed_id": outcome.feed_id,
            "entry_key": outcome.entry_key,
            "url": outcome.url,
            "title": outcome.title,
            "status": outcome.status,
            "attempts": 1,
            "last_error": outcome.error,
            "retryable": outcome.retryable,
            "article_id": article_id,
            "first_seen_at": now,
            "updated_at": now,
        }
        for outcome, article_id in outcomes
        if outcome.feed_id is not None
    ]
    if not rows:
        return
    # Postgres refuses two rows with one key in a single DO UPDATE: keep the last word on each entry.
    unique_rows = list({(row["feed_id"], row["entry_key"]): row for row in rows}.values())
    statement = dialect_insert(connection, SEEN)
    statement = statement.on_conflict_do_update(
        index_elements=[SEEN.c.feed_id, SEEN.c.entry_key],
        set_={
            # An entry once loaded stays loaded: meeting its own article again later is not a duplicate.
            "status": case(
                (and_(SEEN.c.status == "loaded", statement.excluded.status == "duplicate"), SEEN.c.status),
                else_=statement.excluded.status,
            ),
            "attempts": SEEN.c.attempts + 1,
            "last_error": statement.excluded.last_error,
            "retryable": statement.excluded.retryable,
            "article_id": func.coalesce(statement.excluded.article_id, SEEN.c.article_id),
            "url": statement.excluded.url,
            "updated_at": statement.excluded.updated_at,
        },
    )
    connection.execute(statement, unique_rows)


# --- articles ----------------------------------------------------------------------------------------------


def _story_for(connection: Connection, record: ArticleRecord, threshold: float) -> StoryPlan:
    """Where this article goes (models/stories.py): under the story lock, one indexed lookup of its band keys,
    candidates verified by estimated Jaccard, the canonical rule applied. Writes nothing."""
    subject = Subject(
        signature=record.minhash,
        band_keys=record.band_keys,
        published_at=record.published_at,
    )
    return plan_story(connection, subject, threshold)


def _existing_article_id(connection: Connection, record: ArticleRecord) -> int | None:
    query = select(ARTICLE.c.id).where(
        (ARTICLE.c.canonical_url == record.canonical_url) | (ARTICLE.c.body_sha256 == record.body_sha256)
    )
    return connection.execute(query.limit(1)).scalar_one_or_none()


def _tag_ids(connection: Connection, tags: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    if not tags:
        return {}
    rows = [{"kind": kind, "name": name} for kind, name in sorted(tags)]
    connection.execute(dialect_insert(connection, TAG).on_conflict_do_nothing(), rows)
    found: dict[tuple[str, str], int] = {}
    for kind in {kind for kind, _ in tags}:
        names = [name for k, name in tags if k == kind]
        query = select(TAG.c.id, TAG.c.kind, TAG.c.name).where(TAG.c.kind == kind, TAG.c.name.in_(names))
        for row in connection.execute(query):
            found[(row.kind, row.name)] = row.id
    return found


@functools.lru_cache(maxsize=8)
def _article_insert(columns: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id for these columns, written once (the same on SQLite and
    Postgres): SQLAlchemy compiles its dialect inserts with ON CONFLICT afresh on every execution, which
    cost more than the rest of storing an article's story."""
    names = ", ".join(columns)
    binds = ", ".join(f":{name}" for name in columns)
    return text(f"INSERT INTO article ({names}) VALUES ({binds}) ON CONFLICT DO NOTHING RETURNING id").bindparams(
        *(bindparam(name, type_=ARTICLE.c[name].type) for name in columns)
    )


def _insert_article(connection: Connection, record: ArticleRecord, near_threshold: float) -> tuple[int | None, bool]:
    """Insert one article unless an exact copy exists, into its story. Returns (new id or None, joined a story).

    A copy is inserted pointing at its story's canonical article; when it is itself the new canonical
    article (published first) or joins stories together, the other members move to it after the insert.
    """
    story = _story_for(connection, record, near_threshold)
    values = {
        "canonical_url": record.canonical_url,
        "url": record.url,
        "title": record.title,
        "authors": list(record.authors),
        "published_at": as_utc(record.published_at),  # SQLite keeps wall time: store UTC
        "fetched_at": utcnow(),
        "language": record.language,
        "site": record.site,
        "body_text": record.body_text,
        "body_sha256": record.body_sha256,
        "minhash": record.minhash,
        "relevance": record.relevance,
        "origin": record.origin,
        "feed_id": record.feed_id,
        "near_duplicate_of": story.canonical_id,
        "similarity": story.similarity,
        "extractor_version": record.extractor_version,
        "taxonomy_version": record.taxonomy_version,
    }
    article_id = connection.execute(_article_insert(tuple(values)), values).scalar_one_or_none()
    if article_id is None:
        return None, False
    if record.band_keys:
        # A new article's keys cannot conflict: a plain insert, whose compiled form SQLAlchemy caches.
        rows = [{"band_key": key, "article_id": article_id} for key in dict.fromkeys(record.band_keys)]
        connection.execute(BAND.insert(), rows)
    apply_plan(connection, story, article_id, record.minhash)
    assign_loaded_article(connection, record, article_id, story)  # its event (models/events.py)
    if record.raw_html is not None:
        connection.execute(
            RAW.insert(),  # a new article's: no conflict possible
            {
                "article_id": article_id,
                "html_gz": compress_page(record.raw_html),
                "final_url": record.final_url,
                "content_type": record.content_type,
                "charset": record.charset,
                "etag": record.etag,
                "last_modified": record.last_modified,
                "fetched_at": utcnow(),
            },
        )
    return article_id, story.joins_a_story


def replace_tags(
    connection: Connection,
    article_id: int,
    tags: Sequence[tuple[str, str, int]],
    *,
    tag_ids: dict[tuple[str, str], int] | None = None,
) -> None:
    """An article's tags become exactly `tags` (used by loads and by re-tagging). `tag_ids`: the ids of these
    tags when the caller has looked them up already (a batch does it once for all its articles)."""
    connection.execute(delete(ARTICLE_TAG).where(ARTICLE_TAG.c.article_id == article_id))
    ids = tag_ids if tag_ids is not None else _tag_ids(connection, {(kind, name) for kind, name, _ in tags})
    _insert_tags(connection, _tag_rows(article_id, tags, ids))


def _tag_rows(article_id: int, tags: Sequence[tuple[str, str, int]], ids: dict[tuple[str, str], int]) -> list[dict]:
    return [
        {"article_id": article_id, "tag_id": ids[(kind, name)], "mentions": mentions} for kind, name, mentions in tags
    ]


def _insert_tags(connection: Connection, rows: list[dict]) -> None:
    if rows:
        connection.execute(dialect_insert(connection, ARTICLE_TAG).on_conflict_do_nothing(), rows)


@retry_on_disconnect
def load_batch(
    engine: Engine,
    *,
    outcomes: Sequence[EntryOutcome],
    feed_updates: Sequence[FeedUpdate] = (),
    near_threshold: float = 0.8,
    site_templates: Mapping[str, str] | None = None,
) -> BatchResult:
    """Store a batch in one transaction: articles (exact copies skipped), tags, bands, ledger, feed state."""
    result = BatchResult()
    with engine.begin() as connection:
        ledger: list[tuple[EntryOutcome, int | None]] = []
        batch_tags = {(kind, name) for o in outcomes if o.article for kind, name, _ in o.article.tags}
        tag_ids = _tag_ids(connection, batch_tags)  # once per batch, not once per article
        tag_rows: list[dict] = []  # the new articles' tags, inserted together at the end
        for outcome in outcomes:
            record = outcome.article
            if record is None:
                if outcome.status == "irrelevant":
                    result.irrelevant += 1
                elif outcome.status == "failed":
                    result.failed += 1
                elif outcome.status == "duplicate":
                    result.duplicates += 1
                ledger.append((outcome, None))
                continue
            article_id, is_near = _insert_article(connection, record, near_threshold)
            if article_id is None:
                result.duplicates += 1
                existing = _existing_article_id(connection, record)
                ledger.append((_with_status(outcome, "duplicate", "exact copy of a stored article"), existing))
                continue
            tag_rows += _tag_rows(article_id, record.tags, tag_ids)
            result.stored += 1
            result.near_duplicates += int(is_near)
            result.article_ids.append(article_id)
            ledger.append((_with_status(outcome, "loaded", None), article_id))
        _insert_tags(connection, tag_rows)
        _upsert_entries(connection, ledger)
        _apply_feed_updates(connection, feed_updates)
        save_templates(connection, site_templates or {})
    return result


def _with_status(outcome: EntryOutcome, status: str, error: str | None) -> EntryOutcome:
    return EntryOutcome(
        feed_id=outcome.feed_id,
        entry_key=outcome.entry_key,
        url=outcome.url,
        title=outcome.title,
        status=status,
        error=error,
    )


# --- runs --------------------------------------------------------------------------------------------------


@retry_on_disconnect
def refresh_statistics(engine: Engine) -> None:
    """Postgres: ANALYZE the tables a load reads. Postgres plans a statement run again and again once (psycopg
    prepares it after five runs) with the statistics of that moment, and autovacuum analyzes a table only a
    minute or more after it grew: a run filling a new database kept looking up stories with plans made for an
    empty `article`, a sequential scan of it for every new article (19 per article, 10 ms of server CPU each,
    in `make bench`). ANALYZE invalidates those plans. SQLite needs nothing: without statistics its planner
    takes the indexes."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "ANALYZE article, article_band, article_tag, seen_entry, feed, event, event_key, article_event"
        )


def start_run(engine: Engine, flow: str, *, before_commit: Callable[[int], None] | None = None) -> int:
    """A new `run` row, running. `before_commit(run_id)` runs while the row is not yet visible to others (where
    a run claims its own row: models.ops.FeedClaims.hold_run)."""
    with engine.begin() as connection:
        statement = RUN.insert().values(flow=flow, started_at=utcnow(), status="running").returning(RUN.c.id)
        run_id = int(connection.execute(statement).scalar_one())
        if before_commit is not None:
            before_commit(run_id)
        return run_id


@retry_on_disconnect
def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    counts: dict[str, int],
    error: str | None = None,
    fetch_stats: dict[str, Any] | None = None,
) -> None:
    """Close the run's row with its counts and, when given, its requests' histograms (flows/metrics.FetchStats)."""
    extra = {"fetch_stats": fetch_stats} if fetch_stats is not None else {}
    with engine.begin() as connection:
        started = connection.execute(select(RUN.c.started_at).where(RUN.c.id == run_id)).scalar_one()
        finished = utcnow()
        if started.tzinfo is None:
            started = started.replace(tzinfo=finished.tzinfo)
        connection.execute(
            update(RUN)
            .where(RUN.c.id == run_id)
            .values(
                status=status,
                error=error,
                finished_at=finished,
                seconds=(finished - started).total_seconds(),
                **counts,
                **extra,
            )
        )
