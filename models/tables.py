"""The tables: feeds, the seen-entry ledger, articles with their raw pages, tags, LSH bands and runs.

Every table that loads has a unique key that is never NULL; loads are upserts on it (models/store.py).
Times are stored in UTC. Alembic migrations in models/migrations create and evolve these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

# "skipped": a backfill page dated outside the window asked for; a later backfill may want it.
ENTRY_STATUSES = ("new", "fetched", "loaded", "irrelevant", "duplicate", "failed", "skipped")
ORIGINS = ("feed", "backfill", "seed")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class Feed(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str | None = Field(default=None, sa_column=Column(Text))
    topical: bool = False
    enabled: bool = True
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    last_polled_at: datetime | None = Field(default=None, sa_column=_ts())
    last_status: str | None = Field(default=None, sa_column=Column(Text))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    consecutive_failures: int = 0
    next_poll_at: datetime | None = Field(default=None, sa_column=_ts())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    # Adaptive polling (transforms/schedule.py): the interval chosen at the last poll, and why.
    poll_interval: float | None = None
    poll_reason: str | None = Field(default=None, sa_column=Column(Text))
    last_ok_at: datetime | None = Field(default=None, sa_column=_ts())  # a query source asks for what is newer


class SeenEntry(SQLModel, table=True):
    """The ledger: one row per feed entry ever seen. It makes runs resumable and idempotent."""

    __tablename__ = "seen_entry"
    __table_args__ = (UniqueConstraint("feed_id", "entry_key", name="uq_seen_entry_feed_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(sa_column=Column(Integer, ForeignKey("feed.id", ondelete="CASCADE"), nullable=False))
    entry_key: str = Field(sa_column=Column(Text, nullable=False))
    url: str | None = Field(default=None, sa_column=Column(Text))
    title: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(sa_column=Column(Text, nullable=False, index=True))
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    # Only failures that may pass (timeouts, 5xx, 429) are tried again on later runs; a 404 is final.
    retryable: bool = False
    article_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("article.id", ondelete="SET NULL"))
    )
    first_seen_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class EntryLink(SQLModel, table=True):
    """An entry whose link was an aggregator's (connectors/links.py): where it came from and what it became."""

    __tablename__ = "entry_link"
    __table_args__ = (UniqueConstraint("feed_id", "entry_key", name="uq_entry_link_feed_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(sa_column=Column(Integer, ForeignKey("feed.id", ondelete="CASCADE"), nullable=False))
    entry_key: str = Field(sa_column=Column(Text, nullable=False))
    via_url: str = Field(sa_column=Column(Text, nullable=False))  # the aggregator's link, kept as provenance
    url: str | None = Field(default=None, sa_column=Column(Text))  # the publisher's URL, once resolved
    outlet: str | None = Field(default=None, sa_column=Column(Text))  # as the item named it (<source>)
    status: str = Field(sa_column=Column(Text, nullable=False))  # "resolved" | "failed"
    error: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Article(SQLModel, table=True):
    __table_args__ = (Index("ix_article_published_at", "published_at"),)

    id: int | None = Field(default=None, primary_key=True)
    canonical_url: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    url: str = Field(sa_column=Column(Text, nullable=False))
    title: str | None = Field(default=None, sa_column=Column(Text))
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    published_at: datetime | None = Field(default=None, sa_column=_ts())
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    language: str | None = Field(default=None, sa_column=Column(Text))
    site: str | None = Field(default=None, sa_column=Column(Text))
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    # Unique: the same text under another URL is an exact duplicate and is not stored twice.
    body_sha256: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    minhash: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    relevance: float = 0.0
    origin: str = Field(sa_column=Column(Text, nullable=False))
    feed_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("feed.id", ondelete="SET NULL"), index=True)
    )
    near_duplicate_of: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("article.id", ondelete="SET NULL"), index=True)
    )
    similarity: float | None = None
    extractor_version: str | None = Field(default=None, sa_column=Column(Text))
    taxonomy_version: str | None = Field(default=None, sa_column=Column(Text))


class RawPage(SQLModel, table=True):
    """The fetched HTML, compressed (models/raw_pages.py), so `reprocess` can re-extract without the network."""

    __tablename__ = "raw_page"

    article_id: int = Field(sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True))
    html_gz: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    final_url: str | None = Field(default=None, sa_column=Column(Text))
    content_type: str | None = Field(default=None, sa_column=Column(Text))
    charset: str | None = Field(default=None, sa_column=Column(Text))
    etag: str | None = Field(default=None, sa_column=Column(Text))
    last_modified: str | None = Field(default=None, sa_column=Column(Text))
    fetched_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Tag(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_tag_kind_name"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(Text, nullable=False))
    name: str = Field(sa_column=Column(Text, nullable=False))


class ArticleTag(SQLModel, table=True):
    __tablename__ = "article_tag"

    article_id: int = Field(sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True))
    tag_id: int = Field(
        sa_column=Column(Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True)
    )
    mentions: int = 1


class ArticleBand(SQLModel, table=True):
    """LSH band keys of each article's MinHash: near-duplicate candidates are one indexed lookup away."""

    __tablename__ = "article_band"

    band_key: int = Field(sa_column=Column(BigInteger, primary_key=True))
    article_id: int = Field(
        sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class Run(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    flow: str = Field(sa_column=Column(Text, nullable=False))
    started_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=_ts())
    status: str = Field(default="running", sa_column=Column(Text, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
    feeds_polled: int = 0
    feeds_not_modified: int = 0
    feeds_failed: int = 0
    entries_new: int = 0
    pages_fetched: int = 0
    articles_stored: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    irrelevant: int = 0
    failed: int = 0
    seconds: float | None = None
    # The run's requests as latency and byte histograms per outcome (flows/metrics.FetchStats), for /metrics.
    fetch_stats: dict | None = Field(default=None, sa_column=Column(JSON))  # type: ignore[type-arg]


class SiteTemplateRow(SQLModel, table=True):
    """What extraction learned about one site's boilerplate blocks (transforms/templates.py), as JSON."""

    __tablename__ = "site_template"

    site: str = Field(sa_column=Column(Text, primary_key=True))
    template: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class Event(SQLModel, table=True):
    """An event story (models/events.py): the coverage of one event, whatever its wording or language.

    ``evidence`` is the event's own evidence as JSON (transforms/events.EventEvidence: how many members carry
    each key); articles are scored against it, not against one member."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    canonical_article_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("article.id", ondelete="SET NULL"), index=True)
    )
    first_published_at: datetime | None = Field(default=None, sa_column=_ts())
    last_published_at: datetime | None = Field(default=None, sa_column=_ts())
    articles: int = 0
    evidence: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))


class EventKey(SQLModel, table=True):
    """The candidate lookup: (evidence key hash, day) -> events whose members carry that key on that day."""

    __tablename__ = "event_key"

    key: int = Field(sa_column=Column(BigInteger, primary_key=True))
    day: int = Field(sa_column=Column(Integer, primary_key=True))
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class ArticleEvent(SQLModel, table=True):
    """Each article's event: ``link`` is the evidence of the link (the score and the keys shared, as JSON),
    ``evidence`` the article's own (its language and keys), so an event's evidence can be recomputed when a
    member leaves without re-reading any text."""

    __tablename__ = "article_event"

    article_id: int = Field(sa_column=Column(Integer, ForeignKey("article.id", ondelete="CASCADE"), primary_key=True))
    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("event.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    score: float | None = None
    link: str | None = Field(default=None, sa_column=Column(Text))
    evidence: str = Field(sa_column=Column(Text, nullable=False))


class Alert(SQLModel, table=True):
    """One incident an operator is told about (flows/alerts.py): a feed failing again and again, or no run
    succeeding. Open while `resolved_at` is NULL (one open row per kind and subject); the two notification times
    say what was sent, so a restart does not send it again."""

    __table_args__ = (
        Index(
            "uq_alert_open",
            "kind",
            "subject",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=Column(Text, nullable=False))  # "feed failing" | "no successful run"
    subject: str = Field(sa_column=Column(Text, nullable=False))  # the feed's URL; "" for the service
    detail: str | None = Field(default=None, sa_column=Column(Text))
    opened_at: datetime = Field(default_factory=utcnow, sa_column=_ts(nullable=False))
    notified_at: datetime | None = Field(default=None, sa_column=_ts())
    resolved_at: datetime | None = Field(default=None, sa_column=_ts())
    recovery_notified_at: datetime | None = Field(default=None, sa_column=_ts())
    last_error: str | None = Field(default=None, sa_column=Column(Text))
