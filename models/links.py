"""Aggregator links (connectors/links.py) in the store: what each entry's link resolved to, or why it did not.

One `entry_link` row per (feed, entry) whose link was an aggregator's; the aggregator link is kept as the
entry's provenance beside the publisher URL that the ledger and the article carry. Rows are upserts, so a link
resolved again on a retry ends as one row with the last word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, case, func, select

from models.db import dialect_insert
from models.tables import EntryLink, utcnow

ENTRY_LINK = EntryLink.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LinkRecord:
    feed_id: int
    entry_key: str
    via_url: str
    url: str | None
    error: str | None = None
    outlet: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.error is not None or self.url is None else "resolved"


def record_links(engine: Engine, records: Sequence[LinkRecord]) -> None:
    """Save what each aggregator link became (one transaction)."""
    rows = {
        (record.feed_id, record.entry_key): {
            "feed_id": record.feed_id,
            "entry_key": record.entry_key,
            "via_url": record.via_url,
            "url": record.url,
            "outlet": record.outlet,
            "status": record.status,
            "error": record.error,
            "updated_at": utcnow(),
        }
        for record in records
    }
    if not rows:
        return
    with engine.begin() as connection:
        statement = dialect_insert(connection, ENTRY_LINK)
        statement = statement.on_conflict_do_update(
            index_elements=[ENTRY_LINK.c.feed_id, ENTRY_LINK.c.entry_key],
            set_={
                "via_url": statement.excluded.via_url,
                "url": statement.excluded.url,
                "outlet": func.coalesce(statement.excluded.outlet, ENTRY_LINK.c.outlet),  # a retry lacks it
                "status": statement.excluded.status,
                "error": statement.excluded.error,
                "updated_at": statement.excluded.updated_at,
            },
        )
        connection.execute(statement, list(rows.values()))


def link_counts_query():  # type: ignore[no-untyped-def]
    """feed_id, resolved, failed: a subquery to join onto `feed` (feeds list, the report's feed health)."""
    return (
        select(
            ENTRY_LINK.c.feed_id,
            func.sum(case((ENTRY_LINK.c.status == "resolved", 1), else_=0)).label("resolved"),
            func.sum(case((ENTRY_LINK.c.status == "failed", 1), else_=0)).label("failed"),
        )
        .group_by(ENTRY_LINK.c.feed_id)
        .subquery()
    )


def links_of(engine: Engine, feed_id: int) -> dict[str, tuple[str, str | None, str, str | None]]:
    """entry_key -> (via_url, url, status, error) of one feed's aggregator links."""
    query = select(
        ENTRY_LINK.c.entry_key, ENTRY_LINK.c.via_url, ENTRY_LINK.c.url, ENTRY_LINK.c.status, ENTRY_LINK.c.error
    ).where(ENTRY_LINK.c.feed_id == feed_id)
    with engine.connect() as connection:
        return {row.entry_key: (row.via_url, row.url, row.status, row.error) for row in connection.execute(query)}
