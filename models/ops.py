"""The store's side of operating the service: backfill sources, claims on feeds, and offline reprocessing.

- A backfill source (a site's sitemaps, a feed's older pages, a file of URLs) is a *disabled* `feed` row whose
  url is `backfill:<source>:<target>`. Ingestion never polls it (it polls enabled feeds only), and its entries go
  in the same seen-entry ledger as a feed's, loaded in the same transaction as their articles: a backfill killed
  halfway and started again skips what was done, exactly like an ingestion run.
- Claims: a run works on a feed only while it holds that feed's claim, so two runs (two workers, a scheduled
  run and a manual one) never fetch the same entry twice. On Postgres a claim is a session advisory lock (held by
  one connection for the run, released at once if the process dies); on SQLite, where one machine owns the file,
  it is an exclusive `flock` on a small file beside the database.
- Reprocessing reads stored articles with their raw HTML, page by page in id order, and writes revised
  extraction, tags and scores back in one transaction per batch. No network is involved anywhere here.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, delete, func, or_, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError

from models.db import dialect_insert, is_disconnect, retry_on_disconnect
from models.raw_pages import decompress_page
from models.store import ARTICLE, BAND, FEED, RAW, RUN, SEEN, FeedRow, replace_tags
from models.stories import as_utc
from models.tables import Alert, utcnow

BACKFILL_PREFIX = "backfill:"
# Postgres advisory locks take two int4 keys: this names the space of feed claims, the feed id is the other.
FEED_CLAIM_LOCK_SPACE = 0x52454E  # "REN"
RUN_CLAIM_LOCK_SPACE = 0x52554E  # "RUN"
ABANDONED_REASON = (
    "the process running it stopped before the run finished (killed, or its database connection lost); "
    "what it loaded is kept, and the next run did the rest"
)


# --- backfill sources --------------------------------------------------------------------------------------


def find_backfill_source(engine: Engine, key: str) -> FeedRow | None:
    with engine.connect() as connection:
        row = connection.execute(select(FEED).where(FEED.c.url == key)).first()
    return FeedRow.from_row(row) if row is not None else None


def ensure_backfill_source(engine: Engine, key: str, name: str) -> FeedRow:
    """The source's ledger owner: a disabled feed row keyed `key` (created on first use)."""
    if not key.startswith(BACKFILL_PREFIX):
        raise ValueError(f"a backfill source key starts with {BACKFILL_PREFIX!r}: {key!r}")
    with engine.begin() as connection:
        statement = dialect_insert(connection, FEED).on_conflict_do_nothing(index_elements=[FEED.c.url])
        connection.execute(
            statement,
            {"url": key, "name": name, "topical": True, "enabled": False, "created_at": utcnow()},
        )
    source = find_backfill_source(engine, key)
    assert source is not None
    return source


def mark_backfill_source(engine: Engine, feed_id: int, *, status: str, error: str | None = None) -> None:
    """What `feeds list` shows for the source: when it last ran and how it ended."""
    with engine.begin() as connection:
        connection.execute(
            update(FEED)
            .where(FEED.c.id == feed_id)
            .values(last_status=status, last_error=error, last_polled_at=utcnow())
        )


def stored_canonical_urls(engine: Engine, canonical_urls: Sequence[str]) -> set[str]:
    """Which of these canonical URLs are stored articles already (a backfill need not fetch them)."""
    found: set[str] = set()
    urls = list(dict.fromkeys(canonical_urls))
    with engine.connect() as connection:
        for start in range(0, len(urls), 500):
            chunk = urls[start : start + 500]
            query = select(ARTICLE.c.canonical_url).where(ARTICLE.c.canonical_url.in_(chunk))
            found.update(connection.execute(query).scalars())
    return found


# --- claims ------------------------------------------------------------------------------------------------


@retry_on_disconnect
def close_abandoned_runs(engine: Engine, claims: FeedClaims) -> list[int]:
    """Mark `abandoned` the runs still marked running whose process is gone (nobody holds their claim)."""
    with engine.connect() as connection:
        running = connection.execute(select(RUN.c.id).where(RUN.c.status == "running")).scalars().all()
    gone = [run_id for run_id in running if not claims.run_is_alive(run_id)]
    if gone:
        with engine.begin() as connection:
            connection.execute(
                update(RUN)
                .where(RUN.c.id.in_(gone), RUN.c.status == "running")
                .values(status="abandoned", error=ABANDONED_REASON, finished_at=utcnow())
            )
    return gone


def _sqlite_claims_dir(engine: Engine) -> Path | None:
    database = make_url(engine.url.render_as_string(hide_password=False)).database
    if not database or database == ":memory:":
        return None
    path = Path(database).resolve()
    return path.with_name(path.name + "-claims")  # beside the -wal and -shm files


class FeedClaims:
    """The feeds one run works on alone, and its own `run` row. `take` claims what feeds it can; `release`
    (always call it) lets go. Postgres: session advisory locks; SQLite: flocks on files beside the database.
    Either way the operating system or the server drops them when the process dies.

    A feed claimed by another run is skipped, not waited for: that run is doing the work right now.
    A run row marked running whose claim nobody holds belongs to a process that is gone (`close_abandoned_runs`).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._locked: list[tuple[int, int]] = []
        self._files: list[IO[bytes]] = []
        self.run_id: int | None = None

    def take(self, feeds: Sequence[FeedRow], on_busy: Callable[[FeedRow], None] | None = None) -> list[FeedRow]:
        claimed: list[FeedRow] = []
        for feed in feeds:
            if self._claim(feed.id):
                claimed.append(feed)
            elif on_busy is not None:
                on_busy(feed)
        return claimed

    def hold_run(self, run_id: int) -> None:
        """Claim this run's own row (call before the row is committed, so no other run sees it unclaimed)."""
        if not self._claim_key(RUN_CLAIM_LOCK_SPACE, run_id, f"run-{run_id}"):
            raise RuntimeError(f"run {run_id} is claimed already")  # a new row: nobody else can hold it
        self.run_id = run_id

    def run_is_alive(self, run_id: int) -> bool:
        """Whether some process holds that run's claim (probing it takes and drops it at once)."""
        if run_id == self.run_id:
            return True
        if not self._claim_key(RUN_CLAIM_LOCK_SPACE, run_id, f"run-{run_id}"):
            return True
        self._unlock_last()
        self._forget_run_file(run_id)
        return False

    def _forget_run_file(self, run_id: int) -> None:
        """SQLite: a run's lock file goes with its run (feeds' stay: there are only so many feeds)."""
        directory = _sqlite_claims_dir(self.engine) if self.engine.dialect.name == "sqlite" else None
        if directory is not None:
            (directory / f"run-{run_id}.lock").unlink(missing_ok=True)

    def _claim(self, feed_id: int) -> bool:
        return self._claim_key(FEED_CLAIM_LOCK_SPACE, feed_id, f"feed-{feed_id}")

    def _claim_key(self, space: int, key: int, name: str) -> bool:
        if self.engine.dialect.name == "postgresql":
            if self._connection is None:
                self._connection = self.engine.connect()
            got = self._connection.execute(
                text("SELECT pg_try_advisory_lock(:space, :key)"), {"space": space, "key": key}
            ).scalar_one()
            self._connection.commit()  # session locks outlive the transaction; end it so nothing is held open
            if got:
                self._locked.append((space, key))
            return bool(got)
        directory = _sqlite_claims_dir(self.engine)
        if directory is None:
            return True  # an in-memory database belongs to this process alone
        directory.mkdir(parents=True, exist_ok=True)
        handle = (directory / f"{name}.lock").open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._files.append(handle)
        return True

    def _unlock_last(self) -> None:
        if self.engine.dialect.name == "postgresql":
            assert self._connection is not None
            space, key = self._locked.pop()
            self._connection.execute(text("SELECT pg_advisory_unlock(:space, :key)"), {"space": space, "key": key})
            self._connection.commit()
        elif self._files:
            self._files.pop().close()

    def release(self) -> None:
        if self._connection is not None:
            try:
                for space, key in self._locked:
                    self._connection.execute(
                        text("SELECT pg_advisory_unlock(:space, :key)"), {"space": space, "key": key}
                    )
                self._connection.commit()
            except DBAPIError as exc:
                if not is_disconnect(exc):
                    raise
                # The server dropped the session (a restart): its advisory locks went with it.
            finally:
                self._connection.close()
                self._connection = None
        if self.run_id is not None:
            self._forget_run_file(self.run_id)
            self.run_id = None
        for handle in self._files:
            handle.close()  # closing the file drops its flock
        self._files.clear()
        self._locked.clear()

    def __enter__(self) -> FeedClaims:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


# --- reprocessing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawCopy:
    """The page as it was fetched, for re-extraction."""

    html: bytes
    final_url: str | None
    content_type: str | None
    charset: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class StoredArticle:
    id: int
    url: str
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    body_text: str
    origin: str
    feed_id: int | None
    relevance: float
    extractor_version: str | None
    taxonomy_version: str | None
    raw: RawCopy | None


def _since(since: datetime) -> Any:
    """Published on or after `since`; an undated article counts from when it was fetched."""
    return or_(
        ARTICLE.c.published_at >= since,
        ARTICLE.c.published_at.is_(None) & (ARTICLE.c.fetched_at >= since),
    )


def stored_articles(
    engine: Engine, *, after_id: int, limit: int, since: datetime | None = None, with_raw: bool = False
) -> list[StoredArticle]:
    """The next `limit` articles after `after_id` (id order), published (or, undated, fetched) since `since`,
    with their raw page when `with_raw`."""
    columns = [
        ARTICLE.c.id,
        ARTICLE.c.url,
        ARTICLE.c.title,
        ARTICLE.c.authors,
        ARTICLE.c.published_at,
        ARTICLE.c.body_text,
        ARTICLE.c.origin,
        ARTICLE.c.feed_id,
        ARTICLE.c.relevance,
        ARTICLE.c.extractor_version,
        ARTICLE.c.taxonomy_version,
    ]
    if with_raw:
        columns += [
            RAW.c.html_gz,
            RAW.c.final_url,
            RAW.c.content_type,
            RAW.c.charset,
            RAW.c.etag,
            RAW.c.last_modified,
        ]
        source = ARTICLE.outerjoin(RAW, RAW.c.article_id == ARTICLE.c.id)
    else:
        source = ARTICLE
    query = select(*columns).select_from(source).where(ARTICLE.c.id > after_id)
    if since is not None:
        query = query.where(_since(since))
    query = query.order_by(ARTICLE.c.id).limit(limit)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    articles: list[StoredArticle] = []
    for row in rows:
        raw = None
        if with_raw and row.html_gz is not None:
            raw = RawCopy(
                html=decompress_page(row.html_gz),
                final_url=row.final_url,
                content_type=row.content_type,
                charset=row.charset,
                etag=row.etag,
                last_modified=row.last_modified,
            )
        articles.append(
            StoredArticle(
                id=row.id,
                url=row.url,
                title=row.title,
                authors=tuple(row.authors or ()),
                published_at=row.published_at,
                body_text=row.body_text,
                origin=row.origin,
                feed_id=row.feed_id,
                relevance=row.relevance,
                extractor_version=row.extractor_version,
                taxonomy_version=row.taxonomy_version,
                raw=raw,
            )
        )
    return articles


@dataclass(frozen=True)
class Extraction:
    """An article's fields as the current extractor sees its stored page."""

    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str | None
    site: str | None
    body_text: str
    body_sha256: str
    minhash: bytes | None
    band_keys: tuple[int, ...]
    extractor_version: str | None


@dataclass(frozen=True)
class Revision:
    """What reprocessing changes on one article; None leaves a part as it is."""

    article_id: int
    extraction: Extraction | None = None
    tags: tuple[tuple[str, str, int], ...] | None = None
    taxonomy_version: str | None = None
    relevance: float | None = None


@dataclass
class RevisionResult:
    revised: int = 0
    # (article, other): re-extraction gave the body `other` already has; the article was left as it was.
    conflicts: list[tuple[int, int]] = field(default_factory=list)


def _apply_extraction(connection: Connection, article_id: int, extraction: Extraction) -> int | None:
    """Write a re-extraction; returns the id of another article that already has this body, if one does."""
    other = connection.execute(
        select(ARTICLE.c.id).where(ARTICLE.c.body_sha256 == extraction.body_sha256, ARTICLE.c.id != article_id)
    ).scalar_one_or_none()
    if other is not None:
        return int(other)
    connection.execute(
        update(ARTICLE)
        .where(ARTICLE.c.id == article_id)
        .values(
            title=extraction.title,
            authors=list(extraction.authors),
            published_at=extraction.published_at,
            language=extraction.language,
            site=extraction.site,
            body_text=extraction.body_text,
            body_sha256=extraction.body_sha256,
            minhash=extraction.minhash,
            extractor_version=extraction.extractor_version,
        )
    )
    connection.execute(delete(BAND).where(BAND.c.article_id == article_id))
    if extraction.band_keys:
        rows = [{"band_key": key, "article_id": article_id} for key in dict.fromkeys(extraction.band_keys)]
        connection.execute(dialect_insert(connection, BAND).on_conflict_do_nothing(), rows)
    return None


def apply_revisions(engine: Engine, revisions: Sequence[Revision]) -> RevisionResult:
    """Write a batch of revisions in one transaction."""
    result = RevisionResult()
    with engine.begin() as connection:
        for revision in revisions:
            if revision.extraction is not None:
                other = _apply_extraction(connection, revision.article_id, revision.extraction)
                if other is not None:
                    result.conflicts.append((revision.article_id, other))
                    continue
            values: dict[str, Any] = {}
            if revision.relevance is not None:
                values["relevance"] = revision.relevance
            if revision.tags is not None:
                replace_tags(connection, revision.article_id, revision.tags)
                values["taxonomy_version"] = revision.taxonomy_version
            if values:
                connection.execute(update(ARTICLE).where(ARTICLE.c.id == revision.article_id).values(**values))
            result.revised += 1
    return result


def article_count(engine: Engine, *, since: datetime | None = None) -> int:
    query = select(func.count()).select_from(ARTICLE)
    if since is not None:
        query = query.where(_since(since))
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


# --- operations: what /metrics, /healthz and alerts read (flows/metrics.py, flows/alerts.py) --------------------

ALERT = Alert.__table__  # type: ignore[attr-defined]
INGEST_FLOW = "ingest"  # the flow name the ingestion records its runs under (flows/ingest.py)


@dataclass(frozen=True)
class StoreFigures:
    """Counts over the whole store at one moment, for /metrics."""

    runs: dict[tuple[str, str], int]  # (flow, status) -> runs
    last_success_at: datetime | None  # of an ingestion run
    articles: dict[str, int]  # origin -> articles
    entries: dict[str, int]  # ledger status -> entries
    feeds: int  # enabled feeds
    feeds_failing: int  # enabled feeds whose last poll failed
    alerts_open: dict[str, int]  # kind -> open incidents


@retry_on_disconnect
def store_figures(engine: Engine) -> StoreFigures:
    with engine.connect() as connection:
        runs = connection.execute(select(RUN.c.flow, RUN.c.status, func.count()).group_by(RUN.c.flow, RUN.c.status))
        articles = connection.execute(select(ARTICLE.c.origin, func.count()).group_by(ARTICLE.c.origin))
        entries = connection.execute(select(SEEN.c.status, func.count()).group_by(SEEN.c.status))
        enabled = FEED.c.enabled.is_(True)
        feeds = connection.execute(select(func.count()).select_from(FEED).where(enabled)).scalar_one()
        failing = connection.execute(
            select(func.count()).select_from(FEED).where(enabled, FEED.c.consecutive_failures > 0)
        ).scalar_one()
        alerts = connection.execute(
            select(ALERT.c.kind, func.count()).where(ALERT.c.resolved_at.is_(None)).group_by(ALERT.c.kind)
        )
        return StoreFigures(
            runs={(flow, status): int(count) for flow, status, count in runs},
            last_success_at=_last_success(connection),
            articles={origin: int(count) for origin, count in articles},
            entries={status: int(count) for status, count in entries},
            feeds=int(feeds),
            feeds_failing=int(failing),
            alerts_open={kind: int(count) for kind, count in alerts},
        )


def _last_success(connection: Connection) -> datetime | None:
    value = connection.execute(
        select(func.max(RUN.c.finished_at)).where(RUN.c.flow == INGEST_FLOW, RUN.c.status == "completed")
    ).scalar_one_or_none()
    return as_utc(value)


@retry_on_disconnect
def last_successful_run(engine: Engine) -> datetime | None:
    """When the last ingestion run that completed finished (UTC)."""
    with engine.connect() as connection:
        return _last_success(connection)


@retry_on_disconnect
def first_run_started(engine: Engine) -> datetime | None:
    """When the first ingestion run started: before any run succeeds, health is judged from then."""
    with engine.connect() as connection:
        value = connection.execute(select(func.min(RUN.c.started_at)).where(RUN.c.flow == INGEST_FLOW)).scalar_one()
    return as_utc(value)


@retry_on_disconnect
def fetch_stats_after(engine: Engine, run_id: int) -> list[tuple[int, dict[str, Any]]]:
    """(run id, fetch histograms) of the finished runs after `run_id` that recorded some, in id order. A scrape
    reads only what is new since the one before."""
    query = (
        select(RUN.c.id, RUN.c.fetch_stats)
        .where(RUN.c.id > run_id, RUN.c.status != "running", RUN.c.fetch_stats.is_not(None))
        .order_by(RUN.c.id)
    )
    with engine.connect() as connection:
        return [(int(row.id), row.fetch_stats) for row in connection.execute(query)]


@retry_on_disconnect
def oldest_running_run(engine: Engine) -> int:
    """The smallest id of a run still running (or the next id when none is): a run that finishes later may have
    a smaller id than the newest finished one, so scrapes read again from here."""
    with engine.connect() as connection:
        running = connection.execute(select(func.min(RUN.c.id)).where(RUN.c.status == "running")).scalar_one()
        newest = connection.execute(select(func.max(RUN.c.id))).scalar_one()
    if running is not None:
        return int(running)
    return int(newest or 0) + 1


@dataclass(frozen=True)
class FailingFeed:
    url: str
    failures: int
    error: str | None


@retry_on_disconnect
def failing_feeds(engine: Engine, at_least: int) -> list[FailingFeed]:
    """Enabled feeds that failed `at_least` times in a row, by URL."""
    query = (
        select(FEED.c.url, FEED.c.consecutive_failures, FEED.c.last_error)
        .where(FEED.c.enabled.is_(True), FEED.c.consecutive_failures >= at_least)
        .order_by(FEED.c.url)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [FailingFeed(row.url, int(row.consecutive_failures), row.last_error) for row in rows]


@dataclass(frozen=True)
class AlertRow:
    id: int
    kind: str
    subject: str
    detail: str | None
    opened_at: datetime
    notified_at: datetime | None
    resolved_at: datetime | None


def _alert(row: Any) -> AlertRow:
    return AlertRow(
        id=int(row.id),
        kind=row.kind,
        subject=row.subject,
        detail=row.detail,
        opened_at=as_utc(row.opened_at) or row.opened_at,
        notified_at=row.notified_at,
        resolved_at=row.resolved_at,
    )


@retry_on_disconnect
def open_alerts(engine: Engine) -> list[AlertRow]:
    with engine.connect() as connection:
        rows = connection.execute(select(ALERT).where(ALERT.c.resolved_at.is_(None)).order_by(ALERT.c.id))
        return [_alert(row) for row in rows]


@retry_on_disconnect
def open_alert(engine: Engine, kind: str, subject: str, detail: str) -> None:
    """Record an incident unless one of that kind and subject is open already (two services may race)."""
    with engine.begin() as connection:
        connection.execute(
            dialect_insert(connection, ALERT).on_conflict_do_nothing(),
            {"kind": kind, "subject": subject, "detail": detail, "opened_at": utcnow()},
        )


@retry_on_disconnect
def resolve_alert(engine: Engine, alert_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(ALERT).where(ALERT.c.id == alert_id, ALERT.c.resolved_at.is_(None)).values(resolved_at=utcnow())
        )


@retry_on_disconnect
def alerts_to_notify(engine: Engine) -> list[tuple[AlertRow, str]]:
    """(alert, "opened" | "recovered") still to be sent: open incidents not sent yet, and resolved ones whose
    opening was sent but whose recovery was not (an incident never announced needs no recovery note)."""
    opened = ALERT.c.resolved_at.is_(None) & ALERT.c.notified_at.is_(None)
    recovered = (
        ALERT.c.resolved_at.is_not(None) & ALERT.c.notified_at.is_not(None) & ALERT.c.recovery_notified_at.is_(None)
    )
    with engine.connect() as connection:
        rows = connection.execute(select(ALERT).where(or_(opened, recovered)).order_by(ALERT.c.id)).all()
    return [(_alert(row), "opened" if row.resolved_at is None else "recovered") for row in rows]


def _sent_column(phase: str) -> Any:
    return ALERT.c.notified_at if phase == "opened" else ALERT.c.recovery_notified_at


@retry_on_disconnect
def claim_notification(engine: Engine, alert_id: int, phase: str) -> bool:
    """Mark the notification sent before sending it; False when another service did so first. Sent once at
    most by many services, and a crash between the claim and the send loses that one message, not repeats it."""
    column = _sent_column(phase)
    with engine.begin() as connection:
        claimed = connection.execute(
            update(ALERT).where(ALERT.c.id == alert_id, column.is_(None)).values({column.key: utcnow()})
        )
    return bool(claimed.rowcount)


@retry_on_disconnect
def release_notification(engine: Engine, alert_id: int, phase: str, error: str) -> None:
    """The send failed: unmark it (the next check tries again) and keep why."""
    column = _sent_column(phase)
    with engine.begin() as connection:
        connection.execute(update(ALERT).where(ALERT.c.id == alert_id).values({column.key: None, "last_error": error}))
