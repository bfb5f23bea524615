"""models/: batch loads are idempotent upserts, search is safe and ranked, on SQLite and on Postgres."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from models import store
from models.db import get_engine, migrate
from models.queries import SearchFilters, get_article, iter_articles, search_articles, stats
from models.store import EntryOutcome, FeedUpdate
from transforms.dedup import band_keys, body_sha256, minhash_signature
from transforms.pipeline import ArticleRecord

LYNAS_BODY = (
    "Lynas Rare Earths lifted output of separated heavy rare earths at Kalgoorlie, producing dysprosium oxide "
    "and terbium oxide outside China for the first time. The plant feeds the Kuantan refinery in Malaysia. "
) * 3
GANZHOU_BODY = (
    "Smelters in Ganzhou slowed output after China tightened export licences for heavy rare earths such as "
    "dysprosium and terbium. Traders said separation plants paused shipments while waiting for approvals. "
) * 3


def record(url: str, title: str, body: str, **changes: object) -> ArticleRecord:
    signature = minhash_signature(body)
    base = ArticleRecord(
        canonical_url=url,
        url=url,
        title=title,
        authors=("Jane Smith",),
        published_at=datetime(2026, 3, 2, 8, 30, tzinfo=UTC),
        language="en",
        site="Metals Daily",
        body_text=body,
        body_sha256=body_sha256(body),
        minhash=signature,
        band_keys=tuple(band_keys(signature)),
        relevance=9.0,
        origin="feed",
        tags=(("element", "dysprosium", 2), ("company", "Lynas", 1)),
        raw_html=b"<html>" + body.encode() + b"</html>",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = get_engine(database_url)
    migrate(engine)
    return engine


def _feed(engine) -> int:  # type: ignore[no-untyped-def]
    store.upsert_feeds(engine, [("https://example.com/feed", "Example", True)])
    return store.feeds_to_poll(engine)[0].id


def test_loading_the_same_batch_twice_stores_each_article_once(engine) -> None:  # type: ignore[no-untyped-def]
    feed_id = _feed(engine)
    outcomes = [
        EntryOutcome(
            feed_id,
            "a",
            "https://example.com/a",
            "A",
            "loaded",
            article=record("https://example.com/a", "Lynas", LYNAS_BODY, feed_id=feed_id),
        ),
        EntryOutcome(
            feed_id,
            "b",
            "https://example.com/b",
            "B",
            "loaded",
            article=record("https://example.com/b", "Ganzhou", GANZHOU_BODY, feed_id=feed_id),
        ),
        EntryOutcome(feed_id, "c", "https://example.com/c", "C", "irrelevant", "football"),
    ]
    first = store.load_batch(engine, outcomes=outcomes)
    second = store.load_batch(engine, outcomes=outcomes)
    assert (first.stored, first.irrelevant) == (2, 1)
    assert (second.stored, second.duplicates) == (0, 2)
    assert [a.title for a in iter_articles(engine)] == ["Lynas", "Ganzhou"]
    states = store.entry_states(engine, feed_id, ["a", "b", "c"])
    assert states["a"] == ("loaded", 2)  # a loaded entry stays loaded when its article is met again
    assert states["c"] == ("irrelevant", 2)


def test_same_text_under_another_url_is_an_exact_duplicate(engine) -> None:  # type: ignore[no-untyped-def]
    feed_id = _feed(engine)
    original = record("https://a.example/x", "Lynas", LYNAS_BODY)
    copy = record("https://b.example/y", "Lynas copy", LYNAS_BODY)
    result = store.load_batch(
        engine,
        outcomes=[
            EntryOutcome(feed_id, "1", original.url, None, "loaded", article=original),
            EntryOutcome(feed_id, "2", copy.url, None, "loaded", article=copy),
        ],
    )
    assert (result.stored, result.duplicates) == (1, 1)


def test_near_duplicate_is_stored_and_linked_to_its_story(engine) -> None:  # type: ignore[no-untyped-def]
    variant_body = LYNAS_BODY + " Shares rose 3 per cent in Sydney."
    result = store.load_batch(
        engine,
        outcomes=[
            EntryOutcome(None, "1", None, None, "loaded", article=record("https://a.example/x", "L", LYNAS_BODY)),
            EntryOutcome(None, "2", None, None, "loaded", article=record("https://b.example/y", "L2", variant_body)),
        ],
    )
    assert (result.stored, result.near_duplicates) == (2, 1)
    copy = get_article(engine, "https://b.example/y")
    assert copy is not None and copy.near_duplicate_of == "https://a.example/x"
    assert stats(engine).copies == 1


def test_feed_validators_are_saved_with_the_batch_and_failures_back_off(engine) -> None:  # type: ignore[no-untyped-def]
    feed_id = _feed(engine)
    store.load_batch(engine, outcomes=[], feed_updates=[FeedUpdate(feed_id, "ok", etag='"v1"', last_modified="x")])
    (feed,) = store.feeds_to_poll(engine)
    assert (feed.etag, feed.last_modified, feed.next_poll_at) == ('"v1"', "x", None)
    store.record_feed_polls(engine, [FeedUpdate(feed_id, "failed", error="HTTP 503", retry_after=3600)])
    (feed,) = store.feeds_to_poll(engine)
    assert feed.consecutive_failures == 1
    assert feed.etag == '"v1"'  # a failure keeps the validators
    assert feed.next_poll_at is not None


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "rare AND OR NOT", "dysprosium*", "NEAR(a b)", "x'); DROP TABLE article; --", "body_text:x", "-"],
)
def test_search_treats_syntax_and_sql_characters_as_text(engine, query: str) -> None:  # type: ignore[no-untyped-def]
    store.load_batch(
        engine,
        outcomes=[
            EntryOutcome(None, "1", None, None, "loaded", article=record("https://a.example/x", "L", LYNAS_BODY))
        ],
    )
    search_articles(engine, query)  # must not raise
    assert len(list(iter_articles(engine))) == 1  # and nothing was dropped


def test_search_ranks_and_filters_by_tag_and_date(engine) -> None:  # type: ignore[no-untyped-def]
    store.load_batch(
        engine,
        outcomes=[
            EntryOutcome(None, "1", None, None, "loaded", article=record("https://a.example/x", "Lynas", LYNAS_BODY)),
            EntryOutcome(
                None,
                "2",
                None,
                None,
                "loaded",
                article=record(
                    "https://b.example/y",
                    "Ganzhou",
                    GANZHOU_BODY,
                    tags=(("place", "Ganzhou", 3),),
                    published_at=datetime(2025, 1, 1, tzinfo=UTC),
                ),
            ),
        ],
    )
    assert [hit.title for hit in search_articles(engine, "kalgoorlie")] == ["Lynas"]
    assert {hit.title for hit in search_articles(engine, "dysprosium")} == {"Lynas", "Ganzhou"}
    assert [hit.title for hit in search_articles(engine, "dysprosium", filters=SearchFilters(place="ganzhou"))] == [
        "Ganzhou"
    ]
    since = SearchFilters(since=datetime(2026, 1, 1, tzinfo=UTC))
    assert [hit.title for hit in search_articles(engine, "dysprosium", filters=since)] == ["Lynas"]
    hit = search_articles(engine, "kalgoorlie")[0]
    assert hit.tags == {"company": ["Lynas"], "element": ["dysprosium"]}
