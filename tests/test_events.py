"""Event stories on SQLite and Postgres: rewrites, copies and translations of one event are one event; the same
company the same week is another; events stay consistent through deletes, rebuilds, migrations and two loads
at once; search, export, the report and the watches show events.

Articles come from the labelled set of bench/events/ (written for it: Lynas' first dysprosium in Malaysia, its
Texas plant paused two days later, MP Materials' Pentagon deal and its results four days later...).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select, update

from bench.events import load_set
from models import watches
from models.db import downgrade, get_engine, migrate
from models.events import (
    ARTICLE_EVENT,
    EVENT,
    check_events,
    rebuild_events,
    refresh_events,
    remove_from_events,
)
from models.queries import iter_articles, search_articles
from models.report_queries import report_data
from models.store import ARTICLE, EntryOutcome, load_batch
from transforms.events import JOIN_SCORE
from transforms.pipeline import ArticleRecord


@pytest.fixture(scope="module")
def labelled() -> dict[str, ArticleRecord]:
    return {article.id: article.record for article in load_set()}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = get_engine(database_url)
    migrate(engine)
    yield engine


def load(engine: Engine, *records: ArticleRecord) -> list[int]:
    outcomes = [
        EntryOutcome(feed_id=None, entry_key=r.canonical_url, url=r.url, title=r.title, status="loaded", article=r)
        for r in records
    ]
    return load_batch(engine, outcomes=outcomes).article_ids


def events_of(engine: Engine) -> dict[int, tuple[int, dict]]:  # type: ignore[type-arg]
    """article id -> (event id, the link's evidence)."""
    with engine.connect() as connection:
        rows = connection.execute(select(ARTICLE_EVENT.c.article_id, ARTICLE_EVENT.c.event_id, ARTICLE_EVENT.c.link))
        return {row.article_id: (row.event_id, json.loads(row.link)) for row in rows}


def canonical_of(engine: Engine, event_id: int) -> int:
    with engine.connect() as connection:
        return connection.execute(select(EVENT.c.canonical_article_id).where(EVENT.c.id == event_id)).scalar_one()  # type: ignore[no-any-return]


def assert_consistent(engine: Engine) -> None:
    with engine.connect() as connection:
        assert check_events(connection) == []


def test_outlets_rewrites_of_an_event_join_it_with_the_evidence_they_shared(
    engine: Engine, labelled: dict[str, ArticleRecord]
) -> None:
    reuters, afr, mining = load(
        engine, labelled["lynas-dy-reuters"], labelled["lynas-dy-afr"], labelled["lynas-dy-miningcom"]
    )
    events = events_of(engine)
    assert events[reuters][0] == events[afr][0] == events[mining][0]
    link = events[afr][1]
    assert link["score"] >= JOIN_SCORE and {"num:t:1.5", "name:amanda lacaze", "company:Lynas"} <= set(link["shared"])
    assert canonical_of(engine, events[reuters][0]) == reuters  # published first
    assert_consistent(engine)


def test_the_same_company_the_same_week_is_another_event(engine: Engine, labelled: dict[str, ArticleRecord]) -> None:
    ids = load(
        engine,
        *(labelled[name] for name in ("lynas-dy-reuters", "lynas-dy-afr", "lynas-texas-reuters", "lynas-texas-afr")),
        *(labelled[name] for name in ("mp-dod-reuters", "mp-dod-bloomberg", "mp-q2-reuters", "mp-q2-fastmarkets")),
    )
    event = [events_of(engine)[article_id][0] for article_id in ids]
    assert event[0] == event[1] != event[2] == event[3]
    assert event[4] == event[5] != event[6] == event[7]
    assert len(set(event)) == 4


def test_english_and_chinese_coverage_of_one_event_join(engine: Engine, labelled: dict[str, ArticleRecord]) -> None:
    english, chinese, controls, controls_zh = load(
        engine,
        labelled["lynas-dy-reuters"],
        labelled["lynas-dy-zh"],
        labelled["china-controls-reuters"],
        labelled["china-controls-zh"],
    )
    events = events_of(engine)
    assert events[english][0] == events[chinese][0] != events[controls][0] == events[controls_zh][0]
    assert events[chinese][1]["cross_language"] is True


def test_a_copy_joins_both_its_copy_story_and_its_event(engine: Engine, labelled: dict[str, ArticleRecord]) -> None:
    afr, reuters, copy = load(
        engine, labelled["lynas-dy-afr"], labelled["lynas-dy-reuters"], labelled["lynas-dy-reuters-copy"]
    )
    with engine.connect() as connection:
        story = connection.execute(select(ARTICLE.c.near_duplicate_of).where(ARTICLE.c.id == copy)).scalar_one()
    assert story == reuters
    events = events_of(engine)
    assert events[copy][0] == events[reuters][0] == events[afr][0]
    assert events[copy][1] == {"copy_of": reuters}
    # The event id is the one the first article started; the wire, published earlier, is its canonical article.
    assert events[afr][1] == {"started": True} and canonical_of(engine, events[afr][0]) == reuters


def test_deleting_an_article_keeps_events_consistent(engine: Engine, labelled: dict[str, ArticleRecord]) -> None:
    reuters, afr, mining = load(
        engine, labelled["lynas-dy-reuters"], labelled["lynas-dy-afr"], labelled["lynas-dy-miningcom"]
    )
    event_id = events_of(engine)[reuters][0]
    with engine.begin() as connection:
        assert remove_from_events(connection, [reuters]) == [event_id]
        connection.execute(delete(ARTICLE).where(ARTICLE.c.id == reuters))
    assert canonical_of(engine, event_id) == afr
    assert_consistent(engine)
    # Deleted behind the events' back (plain SQL): the check says so, a refresh repairs it.
    with engine.begin() as connection:
        connection.execute(delete(ARTICLE).where(ARTICLE.c.id == afr))
    with engine.connect() as connection:
        assert check_events(connection) != []
    with engine.begin() as connection:
        refresh_events(connection, [event_id])
    assert_consistent(engine)
    assert canonical_of(engine, event_id) == mining
    with engine.begin() as connection:
        remove_from_events(connection, [mining])
        connection.execute(delete(ARTICLE).where(ARTICLE.c.id == mining))
    with engine.connect() as connection:
        assert connection.execute(select(EVENT.c.id)).all() == []  # an event without articles is gone


def test_a_rebuild_keeps_event_ids_repairs_and_is_idempotent(
    engine: Engine, labelled: dict[str, ArticleRecord]
) -> None:
    load(engine, *labelled.values())
    before = {article_id: event for article_id, (event, _) in events_of(engine).items()}
    first = rebuild_events(engine)
    assert first.changed == 0 and first.events == len(set(before.values())) == 26
    assert {article_id: event for article_id, (event, _) in events_of(engine).items()} == before
    # An article moved by hand (or by an older rule) goes back; a retagged article is regrouped the same way.
    moved, elsewhere = min(before), max(before.values())
    with engine.begin() as connection:
        connection.execute(update(ARTICLE_EVENT).where(ARTICLE_EVENT.c.article_id == moved).values(event_id=elsewhere))
    assert rebuild_events(engine).changed == 1
    assert {article_id: event for article_id, (event, _) in events_of(engine).items()} == before
    assert rebuild_events(engine).changed == 0
    assert_consistent(engine)


def test_a_migration_places_the_articles_stored_before_events(
    database_url: str, engine: Engine, labelled: dict[str, ArticleRecord]
) -> None:
    ids = load(engine, *(labelled[name] for name in ("mp-dod-reuters", "mp-dod-zh", "mp-q2-reuters")))
    downgrade(engine, to="0009")
    migrate(engine)
    events = events_of(engine)
    assert events[ids[0]][0] == events[ids[1]][0] != events[ids[2]][0]
    assert_consistent(engine)


def test_two_loads_at_once_never_split_one_event(engine: Engine, labelled: dict[str, ArticleRecord]) -> None:
    others = [record for name, record in labelled.items() if not name.startswith("lynas")]
    batches = [
        [labelled["lynas-dy-reuters"], *others[:20]],
        [labelled["lynas-dy-afr"], labelled["lynas-dy-zh"], *others[20:40]],
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(batch: list[ArticleRecord]) -> None:
        try:
            barrier.wait()
            load(engine, *batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    with engine.connect() as connection:
        lynas = connection.execute(
            select(ARTICLE_EVENT.c.event_id)
            .join(ARTICLE, ARTICLE.c.id == ARTICLE_EVENT.c.article_id)
            .where(ARTICLE.c.canonical_url.like("%lynas-dy%"))
        ).all()
    assert len(lynas) == 3 and len(set(lynas)) == 1
    assert_consistent(engine)


def test_search_export_report_and_watches_show_events(engine: Engine, labelled: dict[str, ArticleRecord]) -> None:
    watches.add_watch(engine, watches.WatchSpec(name="lynas", query="Lynas"))
    dy = ["lynas-dy-reuters", "lynas-dy-afr", "lynas-dy-miningcom", "lynas-dy-zh", "lynas-dy-reuters-copy"]
    first, *rest = load(engine, *(labelled[name] for name in dy))
    texas = load(engine, labelled["lynas-texas-reuters"], labelled["lynas-texas-mj"])

    rows = search_articles(engine, "", distinct=True, limit=10)
    assert [row.id for row in rows] == [texas[0], first]  # newest first, one row per event
    event = rows[1].event
    assert event is not None and event.articles == 5 and event.languages == ("en", "zh")
    assert set(event.outlets) == {"reuters.com", "afr.com", "mining.com", "cls.cn", "marketscreener.com"}

    exported = {row.id: row.as_dict() for row in iter_articles(engine, include_duplicates=True)}
    assert exported[rest[0]]["event_id"] == exported[first]["event_id"] == event.id
    assert (exported[first]["event_articles"], exported[first]["event_outlets"]) == (5, 5)

    top = report_data(engine, since=labelled["lynas-dy-reuters"].published_at - timedelta(days=1)).top_stories[0]
    assert (top.id, top.outlets, top.copies) == (first, 5, 5)

    with engine.begin() as connection:
        assert watches.matching_article_ids(connection, watches.list_watches(engine)[0], [first, *rest, *texas]) == [
            first,
            texas[0],
        ]
    watch_id = watches.list_watches(engine)[0].id
    assert watches.record_matches(engine, [first], run_id=None) == {watch_id: [first]}
    # Other outlets' reports of an event already reported are not news again; another event is, once.
    later = load(engine, labelled["lynas-texas-afr"])
    assert watches.record_matches(engine, [*rest, *later], run_id=None) == {watch_id: later}
    assert watches.record_matches(engine, texas, run_id=None) == {}
