"""Search over an archive larger than the ranking window: the best match among the newest matches comes first,
filters and the date range apply before the window is taken, and a query matching few articles is ranked whole."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from models.db import get_engine, migrate
from models.queries import (
    RANKING_WINDOW,
    SQLITE_MANY_MATCHES,
    SQLITE_RECENT_ARTICLES,
    SearchFilters,
    search_articles,
)
from models.store import ARTICLE, ARTICLE_TAG, TAG

NEWEST = datetime(2026, 3, 1, tzinfo=UTC)
# More than the window, and more than SQLite's first look at the newest articles: every path is taken.
ARCHIVE = SQLITE_RECENT_ARTICLES[0] + RANKING_WINDOW // 2
FILLER = "Rare earth market note {n}: traders watched separation capacity and shipping schedules this week."


def _row(index: int, title: str, body: str, *, published_at: datetime | None) -> dict[str, Any]:
    url = f"https://news.example/{index}"
    return {
        "canonical_url": url,
        "url": url,
        "title": title,
        "authors": [],
        "published_at": published_at,
        "fetched_at": NEWEST,
        "language": "en",
        "site": "news.example",
        "body_text": body,
        "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
        "relevance": 10.0,
        "origin": "feed",
    }


def _archive(engine: Engine, special: dict[int, tuple[str, str]], *, dysprosium_every: int = 0) -> dict[str, int]:
    """ARCHIVE articles, article `index` published `index` hours before NEWEST, inserted oldest first (so ids
    run with the dates); every one mentions rare earths once. `special` replaces some by title and body. Every
    `dysprosium_every`-th article is tagged dysprosium. Returns the ids by title."""
    rows = []
    for index in reversed(range(ARCHIVE)):
        title, body = special.get(index, (f"Market note {index}", FILLER.format(n=index)))
        rows.append(_row(index, title, body, published_at=NEWEST - timedelta(hours=index)))
    with engine.begin() as connection:
        ids = dict(
            (title, article_id)
            for article_id, title in connection.execute(insert(ARTICLE).returning(ARTICLE.c.id, ARTICLE.c.title), rows)
        )
        if dysprosium_every:
            tag_id = connection.execute(
                insert(TAG).values(kind="element", name="dysprosium").returning(TAG.c.id)
            ).scalar_one()
            tagged = [
                {"article_id": ids[row["title"]], "tag_id": tag_id, "mentions": 1}
                for index, row in zip(reversed(range(ARCHIVE)), rows, strict=True)
                if index % dysprosium_every == 0
            ]
            connection.execute(insert(ARTICLE_TAG), tagged)
    return ids


def _titles(engine: Engine, query: str, **kwargs: Any) -> list[str | None]:
    return [hit.title for hit in search_articles(engine, query, **kwargs)]


def test_a_query_matching_most_of_the_archive_ranks_the_newest_window(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    assert ARCHIVE > RANKING_WINDOW and ARCHIVE > SQLITE_MANY_MATCHES
    dense = "Rare earth rare earth prices: rare earth oxide and rare earth magnets"
    _archive(
        engine,
        {
            30: ("Rare earth exporters meet", dense),  # the best match inside the window
            RANKING_WINDOW + 200: ("Rare earth rare earth archive", dense + " rare earth"),  # better, but older
        },
    )

    hits = search_articles(engine, "rare earth", limit=5)
    assert [hit.title for hit in hits][0] == "Rare earth exporters meet"
    assert "Rare earth rare earth archive" not in _titles(engine, "rare earth", limit=50)
    assert all(hit.score is not None for hit in hits)
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)

    # Narrower words, or a date range that ends before the window, reach the older article.
    assert _titles(engine, "rare earth archive") == ["Rare earth rare earth archive"]
    until = SearchFilters(until=NEWEST - timedelta(hours=RANKING_WINDOW + 100))
    assert _titles(engine, "rare earth", filters=until, limit=1) == ["Rare earth rare earth archive"]


def test_a_query_matching_few_articles_is_ranked_whole(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    oldest = ARCHIVE - 1
    _archive(
        engine,
        {
            3: ("Monazite note", "Monazite sands were mentioned once."),
            oldest: ("Monazite monazite", "Monazite: the monazite concentrate of monazite sands, monazite tailings."),
        },
    )
    assert _titles(engine, "monazite") == ["Monazite monazite", "Monazite note"]


def test_filters_apply_before_the_window_is_taken(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    dense = "Rare earth rare earth dysprosium: rare earth separation"
    ids = _archive(
        engine,
        {
            # Tagged (index % 3 == 0), beyond the newest RANKING_WINDOW articles but within the newest tagged ones.
            1200: ("Rare earth dysprosium plant", dense),
            # Untagged and better ranked: the filter must leave it out.
            31: ("Rare earth rare earth untagged", dense + " rare earth"),
        },
        dysprosium_every=3,
    )
    hits = search_articles(engine, "rare earth", filters=SearchFilters(element="Dysprosium"), limit=RANKING_WINDOW)
    assert hits[0].title == "Rare earth dysprosium plant"
    assert all(hit.tags.get("element") == ["dysprosium"] for hit in hits)
    assert ids["Rare earth rare earth untagged"] not in {hit.id for hit in hits}
    # The window is the newest tagged matches: ARCHIVE // 3 of them are tagged, the window holds RANKING_WINDOW.
    assert len(hits) == min(RANKING_WINDOW, len(range(0, ARCHIVE, 3)))

    since = NEWEST - timedelta(hours=500)
    dated = search_articles(engine, "rare earth", filters=SearchFilters(since=since), limit=RANKING_WINDOW)
    assert len(dated) == 501 and all(hit.published_at is not None and hit.published_at >= since for hit in dated)
    assert search_articles(engine, "rare earth", filters=SearchFilters(element="no such element")) == []


def test_distinct_stories_rank_within_the_window(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    dense = "Rare earth rare earth quota: rare earth quota"
    ids = _archive(engine, {5: ("Rare earth quota", dense), 6: ("Rare earth quota, syndicated", dense + " (Reuters)")})
    with engine.begin() as connection:
        connection.execute(
            ARTICLE.update()
            .where(ARTICLE.c.id == ids["Rare earth quota, syndicated"])
            .values(near_duplicate_of=ids["Rare earth quota"], similarity=0.95)
        )
    every_copy = _titles(engine, "rare earth quota", limit=5)
    assert set(every_copy[:2]) == {"Rare earth quota", "Rare earth quota, syndicated"}
    distinct = search_articles(engine, "rare earth quota", limit=5, distinct=True)
    assert distinct[0].title == "Rare earth quota"
    assert distinct[0].story is not None and distinct[0].story.articles == 2
    assert len({hit.story_id for hit in distinct}) == len(distinct)


def test_undated_articles_come_after_dated_ones_in_the_window(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(ARTICLE),
            [
                _row(1, "Undated yttrium", "Yttrium yttrium yttrium.", published_at=None),
                _row(
                    2, "Dated note", "Yttrium, once, in a note on shipping schedules and capacity.", published_at=NEWEST
                ),
            ],
        )
    assert _titles(engine, "") == ["Dated note", "Undated yttrium"]
    assert _titles(engine, "yttrium") == ["Undated yttrium", "Dated note"]  # ranked, not dated


def test_upgrading_a_store_with_articles_keeps_them_searchable(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine, to="0007")
    with engine.begin() as connection:
        connection.execute(
            insert(ARTICLE),
            [_row(index, f"Lanthanum {index}", FILLER.format(n=index), published_at=NEWEST) for index in range(3)],
        )
    migrate(engine)
    with engine.connect() as connection:
        assert connection.execute(select(ARTICLE.c.id)).all()
    assert sorted(_titles(engine, "lanthanum")) == ["Lanthanum 0", "Lanthanum 1", "Lanthanum 2"]
    assert len(_titles(engine, "rare earth market")) == 3
