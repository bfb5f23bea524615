"""The trigram index for Chinese, Japanese and Korean search holds only articles with CJK text (migration 0009),
and CJK search finds what it found when every article was indexed: on SQLite the `article_fts_cjk` table stays
consistent through inserts, edits between English and Chinese, deletes, and the upgrade of a store with articles;
on Postgres the index is partial and CJK queries can use it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, insert, literal_column, select, text

from models.cjk_search import POSTGRES_CJK_PATTERN, cjk_match, has_cjk
from models.db import downgrade, get_engine, migrate
from models.queries import search_articles
from models.store import ARTICLE
from tests.analyst_fixtures import load, text_record

ENGLISH_URL = "https://mining.example.com/lynas-kalgoorlie"
CHINESE_URL = "https://youse.example.cn/ganzhou"
QUOTING_URL = "https://markets.example.com/ganzhou-quote"

ENGLISH_BODY = (
    "Lynas said its Kalgoorlie cracking and leaching plant reached nameplate capacity this quarter, and that "
    "separation in Malaysia ran without interruption. Neodymium oxide prices rose on firmer magnet demand. "
) * 12
CHINESE_BODY = "赣州稀土集团加强中重稀土资源保护，缅甸进口矿恢复通关，镝铽价格企稳回升。" * 10
# A mostly English report that quotes one Chinese name of four characters (beyond the 1-2 character `instr` path).
QUOTING_BODY = (
    "Analysts in Shanghai said Ganzhou Rare Earth Group (赣州稀土) would lift its quota for heavy rare earths. "
    + ENGLISH_BODY
)


def _article(title: str, body: str, url: str) -> Any:
    return text_record(title, body, url=url, site=url.split("/")[2], published=None)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = get_engine(database_url)
    migrate(engine)
    yield engine


def _urls(engine: Engine, query: str) -> list[str]:
    return sorted(hit.canonical_url for hit in search_articles(engine, query))


def _indexed(engine: Engine) -> set[int]:
    """SQLite: the articles in `article_fts_cjk`'s index (its docsize table has one row per indexed document;
    reading the FTS5 table itself would read the content view instead)."""
    with engine.connect() as connection:
        return set(connection.execute(text("SELECT id FROM article_fts_cjk_docsize")).scalars())


def _check_integrity(engine: Engine) -> None:
    """SQLite: FTS5 checks its index, then (rank 1) that it holds exactly the rows of its content view."""
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO article_fts_cjk(article_fts_cjk) VALUES ('integrity-check')"))
        connection.execute(text("INSERT INTO article_fts_cjk(article_fts_cjk, rank) VALUES ('integrity-check', 1)"))


def _set_text(engine: Engine, article_id: int, *, title: str, body: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE article SET title = :title, body_text = :body WHERE id = :id"),
            {"title": title, "body": body, "id": article_id},
        )


def _three_articles() -> list[Any]:
    """An English article, a Chinese one, and an English one quoting a Chinese term."""
    return [
        _article("Lynas reaches nameplate at Kalgoorlie", ENGLISH_BODY, ENGLISH_URL),
        _article("赣州加强中重稀土资源保护", CHINESE_BODY, CHINESE_URL),
        _article("Ganzhou to lift heavy rare earth quota", QUOTING_BODY, QUOTING_URL),
    ]


def _is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def test_only_articles_with_cjk_text_are_indexed_and_cjk_search_still_finds_them(engine: Engine) -> None:
    english, chinese, quoting = load(engine, _three_articles())

    if _is_sqlite(engine):
        assert _indexed(engine) == {chinese, quoting}
        assert english not in _indexed(engine)
        _check_integrity(engine)
    assert _urls(engine, "赣州稀土") == sorted([CHINESE_URL, QUOTING_URL])  # 4 characters: the trigram index
    assert _urls(engine, "稀土") == sorted([CHINESE_URL, QUOTING_URL])
    assert _urls(engine, "赣州稀土 Shanghai") == [QUOTING_URL]  # the English word, looked up among CJK articles
    assert _urls(engine, "赣州稀土 Kalgoorlie") == [QUOTING_URL]
    assert _urls(engine, "稀土 Kalgoorlie") == [QUOTING_URL]
    assert _urls(engine, "Kalgoorlie") == sorted([ENGLISH_URL, QUOTING_URL])  # word search is another index


def test_a_query_whose_only_cjk_character_is_punctuation_still_finds_english_articles(engine: Engine) -> None:
    # `・` (katakana middle dot) is in the CJK class but is no word character: the query's only word is
    # "kalgoorlie", which English articles (not in the trigram index) match, as they did before 0009.
    load(engine, [_article("Lynas reaches nameplate at Kalgoorlie", ENGLISH_BODY, ENGLISH_URL)])
    assert has_cjk("Kalgoorlie ・")
    assert _urls(engine, "Kalgoorlie ・") == [ENGLISH_URL]
    assert _urls(engine, "・Kalgoorlie・ nameplate") == [ENGLISH_URL]


def test_an_article_edited_between_english_and_chinese_is_found_accordingly(engine: Engine) -> None:
    [article_id] = load(engine, [_article("Lynas reaches nameplate at Kalgoorlie", ENGLISH_BODY, ENGLISH_URL)])
    sqlite = _is_sqlite(engine)
    assert _urls(engine, "镝铽价格") == []

    steps: list[tuple[str, str, bool]] = [
        ("Lynas reaches nameplate", "English edited to other English text. " * 20, False),  # neither had CJK
        ("稀土价格企稳", CHINESE_BODY, True),  # English to Chinese
        ("稀土价格企稳", "今日钕价回落，氧化镨钕报价下调。" * 20, True),  # Chinese to other Chinese
        ("赣州稀土报价", ENGLISH_BODY, True),  # CJK in the title only
        ("Lynas reaches nameplate at Kalgoorlie", ENGLISH_BODY, False),  # back to English
    ]
    for title, body, cjk in steps:
        _set_text(engine, article_id, title=title, body=body)
        if sqlite:
            assert _indexed(engine) == ({article_id} if cjk else set()), title
            _check_integrity(engine)
        assert _urls(engine, "镝铽价格") == ([ENGLISH_URL] if "镝铽价格" in body else []), title
        assert _urls(engine, "氧化镨钕") == ([ENGLISH_URL] if "氧化镨钕" in body else []), title
        assert _urls(engine, "赣州稀土报价") == ([ENGLISH_URL] if title == "赣州稀土报价" else []), title
        assert _urls(engine, "稀土") == ([ENGLISH_URL] if "稀土" in title + body else []), title
    assert _urls(engine, "Kalgoorlie") == [ENGLISH_URL]


def test_deleting_articles_keeps_the_index_consistent(engine: Engine) -> None:
    english, chinese, quoting = load(engine, _three_articles())
    for article_id, remaining in ((english, [QUOTING_URL, CHINESE_URL]), (chinese, [QUOTING_URL]), (quoting, [])):
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM article WHERE id = :id"), {"id": article_id})
        if _is_sqlite(engine):
            _check_integrity(engine)
        assert _urls(engine, "赣州稀土") == remaining
    if _is_sqlite(engine):
        assert _indexed(engine) == set()


def _migrate_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    (downgrade if down else migrate)(engine, to=revision)


QUERIES = ("赣州稀土", "稀土", "镝铽价格", "赣州稀土 Shanghai", "稀土 lynas", "Kalgoorlie ・")


def test_upgrading_a_0008_store_indexes_only_its_cjk_articles_and_search_is_unchanged(database_url: str) -> None:
    engine = get_engine(database_url)
    _migrate_to(engine, "0008")
    english, chinese, quoting = load(engine, _three_articles())
    if _is_sqlite(engine):
        assert _indexed(engine) == {english, chinese, quoting}  # 0004: every article
    before = {query: _urls(engine, query) for query in QUERIES}
    assert before["赣州稀土"] == sorted([CHINESE_URL, QUOTING_URL])

    migrate(engine)

    if _is_sqlite(engine):
        assert _indexed(engine) == {chinese, quoting}
        _check_integrity(engine)
    assert {query: _urls(engine, query) for query in QUERIES} == before
    # The triggers of the new table keep it: a new English article stays out, a new Chinese one goes in.
    [new_english, new_chinese] = load(
        engine,
        [
            _article(
                "Iluka's Eneabba refinery", "Iluka said Eneabba construction is on schedule. " * 20, "https://e/1"
            ),
            _article("稀土永磁出口", "稀土永磁出口增长，钕铁硼订单饱满。" * 20, "https://e/2"),
        ],
    )
    if _is_sqlite(engine):
        assert _indexed(engine) == {chinese, quoting, new_chinese}
        _check_integrity(engine)
    assert _urls(engine, "钕铁硼订单") == ["https://e/2"]
    assert new_english not in {hit.id for hit in search_articles(engine, "稀土")}


def test_downgrading_to_0008_indexes_every_article_again(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    english, chinese = load(
        engine,
        [
            _article("Lynas reaches nameplate at Kalgoorlie", ENGLISH_BODY, ENGLISH_URL),
            _article("赣州加强中重稀土资源保护", CHINESE_BODY, CHINESE_URL),
        ],
    )
    _migrate_to(engine, "0008", down=True)

    if _is_sqlite(engine):
        assert _indexed(engine) == {english, chinese}
    with engine.begin() as connection:
        if _is_sqlite(engine):
            # Content is `article` again: FTS5 compares the index with every article.
            connection.execute(text("INSERT INTO article_fts_cjk(article_fts_cjk, rank) VALUES ('integrity-check', 1)"))
            views = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'view'")).scalars().all()
            assert "article_cjk" not in views
        else:
            definition = connection.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_article_text_trgm'")
            ).scalar_one()
            assert "gin_trgm_ops" in definition and "WHERE" not in definition
    assert _urls(engine, "赣州稀土") == [CHINESE_URL]
    migrate(engine)
    if _is_sqlite(engine):
        assert _indexed(engine) == {chinese}


# Code points just inside and outside each range of the CJK class, and one in every 4,096 inside (a character
# for each UTF-8 lead byte SQLite's test looks for first).
_RANGES = [
    tuple(int(bound, 16) for bound in match)
    for match in re.findall(r"\\[uU]([0-9a-f]+)-\\[uU]([0-9a-f]+)", POSTGRES_CJK_PATTERN)
]
_SAMPLES = sorted(
    {point for low, high in _RANGES for point in (low - 1, low, high, high + 1, *range(low, high, 0x1000))}
    | {0x2019, 0x3002, 0xFE0F, 0xFF0C, 0x1F642}  # ’ 。 variation selector ， 🙂: outside the class
)


def _character_rows(engine: Engine) -> dict[int, int]:
    """One article per sample character, in a short English sentence; returns code point by article id."""
    rows = []
    for point in _SAMPLES:
        body = f"A note on rare earth supply with the character {chr(point)} in it."
        url = f"https://chars.example/{point:x}"
        rows.append(
            {
                "canonical_url": url,
                "url": url,
                "title": "Character note",
                "authors": [],
                "fetched_at": datetime(2026, 3, 1, tzinfo=UTC),
                "body_text": body,
                "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
                "relevance": 1.0,
                "origin": "seed",
            }
        )
    with engine.begin() as connection:
        inserted = connection.execute(insert(ARTICLE).returning(ARTICLE.c.id, ARTICLE.c.canonical_url), rows)
        return {article_id: int(url.rsplit("/", 1)[1], 16) for article_id, url in inserted}


def test_the_index_takes_exactly_the_characters_of_the_cjk_class(engine: Engine) -> None:
    assert len(_RANGES) == 7
    points = _character_rows(engine)
    expected = {article_id for article_id, point in points.items() if has_cjk(chr(point))}
    assert 0 < len(expected) < len(points)
    if _is_sqlite(engine):
        assert _indexed(engine) == expected
        _check_integrity(engine)
        return
    # Postgres: the query's predicate (the index's, word for word: see the next test) on the same characters.
    predicate = text(
        f"SELECT id FROM article WHERE (coalesce(title, '') || ' ' || body_text) ~ '{POSTGRES_CJK_PATTERN}'"
    )
    with engine.connect() as connection:
        assert set(connection.execute(predicate).scalars()) == expected


def _plan(connection: Connection, statement: Any) -> str:
    compiled = statement.compile(connection)
    explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    params: Any = compiled.params
    if compiled.positional:  # SQLite's `?`
        params = tuple(params[name] for name in compiled.positiontup or ())
    rows = connection.exec_driver_sql(explain + str(compiled), params).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_cjk_search_uses_the_trigram_index(engine: Engine) -> None:
    load(engine, [_article("赣州加强中重稀土资源保护", CHINESE_BODY, CHINESE_URL)])
    with engine.connect() as connection:
        if _is_sqlite(engine):
            # Words of 3+ characters are looked up in the trigram table, unless no word has a CJK character.
            cases = (("赣州稀土", True), ("赣州稀土 Shanghai", True), ("稀土", False), ("Kalgoorlie ・", False))
            for query, uses in cases:
                plan = _plan(connection, select(ARTICLE.c.id).where(cjk_match("sqlite", query)[0]))
                assert ("article_fts_cjk" in plan) is uses, query
            return
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_article_text_trgm'")
        ).scalar_one()
        assert f"~ '{POSTGRES_CJK_PATTERN}'" in definition
        # With scans ruled out, the planner takes the partial index if, and only if, the query implies its
        # predicate; the same words without the predicate cannot use it (so the first check is not vacuous).
        connection.exec_driver_sql("SET enable_seqscan = off")
        document = func.coalesce(ARTICLE.c.title, literal_column("''")) + literal_column("' '") + ARTICLE.c.body_text
        for query in ("赣州稀土", "稀土", "赣州稀土 Shanghai"):
            match, _ = cjk_match("postgresql", query)
            assert "ix_article_text_trgm" in _plan(connection, select(ARTICLE.c.id).where(match)), query
            words = [document.icontains(word, autoescape=True) for word in query.split()]
            assert "ix_article_text_trgm" not in _plan(connection, select(ARTICLE.c.id).where(*words)), query
