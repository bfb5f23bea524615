"""The ingest flow's link step: aggregator links of the entries to fetch, resolved before any page is fetched.

It runs after the ledger has dropped what is done, so an entry resolved and loaded once never costs a request
to Google again. A resolved entry is fetched under its publisher URL (the ledger and the article carry that
URL); the aggregator link is kept in `entry_link` as provenance. A link that cannot be resolved becomes a
recorded `failed` outcome, retryable where the cause may pass, and is never fetched as if it were the article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from connectors.feeds import FeedEntry
from connectors.http import Fetcher
from connectors.links import LinkResolver
from models.links import LinkRecord, record_links
from models.store import EntryOutcome, FeedRow


class _Item(Protocol):
    @property
    def feed(self) -> FeedRow: ...

    @property
    def entry(self) -> FeedEntry: ...

    @property
    def decided(self) -> EntryOutcome | None: ...


Item = TypeVar("Item", bound=_Item)


def link_resolver(fetcher: Fetcher, settings: Any) -> LinkResolver:
    return LinkResolver(
        fetcher,  # type: ignore[arg-type]  # the Fetcher's post() is what LinkFetcher describes
        google_news_url=settings.google_news_url,
        google_news=settings.resolve_google_news,
        delay=settings.google_news_delay,
    )


def resolve_links(engine: Any, resolver: LinkResolver, items: Sequence[Item]) -> list[Item]:
    """`items` with aggregator links replaced by publisher URLs, or decided `failed` where that was impossible."""
    todo = [
        index
        for index, item in enumerate(items)
        if item.decided is None and resolver.is_aggregator_link(item.entry.url)
    ]
    if not todo:
        return list(items)
    resolved = list(items)
    records: list[LinkRecord] = []
    for index, resolution in zip(todo, resolver.resolve([items[index].entry.url for index in todo]), strict=True):
        item = items[index]
        feed, entry = item.feed, item.entry
        via = resolution.via or entry.url or ""
        records.append(LinkRecord(feed.id, entry.entry_key, via, resolution.url, resolution.error, entry.outlet))
        if resolution.url is None:
            failed = EntryOutcome(
                feed.id,
                entry.entry_key,
                via,  # kept as the entry's URL: a later run resolves it again if the cause may pass
                entry.title,
                "failed",
                resolution.error or "link not resolved",
                retryable=resolution.retryable,
            )
            resolved[index] = replace(item, decided=failed)  # type: ignore[type-var]
        else:
            resolved[index] = replace(item, entry=replace(entry, url=resolution.url))  # type: ignore[type-var]
    record_links(engine, records)
    return resolved
