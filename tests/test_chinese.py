"""Chinese coverage: Chinese pages (UTF-8 and GBK) are extracted, tagged with the taxonomy's Chinese names, stored
with language "zh", and found by `search 稀土` on SQLite (trigram FTS5 / instr) and Postgres (pg_trgm / ILIKE).

The pages in tests/pages/zh_*.html were written for these tests: a Baotou price story (UTF-8), a Ganzhou and
Myanmar story (GBK, declared only in a meta tag, with 镕 which GB2312 lacks) and an off-topic football report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from flows.cli import app
from models.db import get_engine, migrate
from models.queries import SearchFilters, search_articles
from tests.analyst_fixtures import PAGES, load, page_record, taxonomy, text_record
from tests.newsweb import LYNAS, NewsWeb, article_html, rss
from transforms.pipeline import PageInput, process_page
from transforms.tag import tag_text

BAOTOU_URL = "https://xitu.example.cn/news/baotou-prices"
GANZHOU_URL = "https://youse.example.cn/news/ganzhou-myanmar"


def _tags(record: object) -> set[tuple[str, str]]:
    return {(kind, name) for kind, name, _ in record.tags}  # type: ignore[attr-defined]


# --- extraction and tagging (no database) --------------------------------------------------------------------


def test_utf8_chinese_page_is_extracted_and_tagged_in_english_names() -> None:
    record = page_record("zh_baotou_utf8.html", BAOTOU_URL)

    assert record.language == "zh"
    assert record.title == "北方稀土上调镨钕挂牌价 包头稀土产业链加速延伸"
    assert record.site == "稀土观察网"
    assert "白云鄂博矿区" in record.body_text
    assert "版权所有" not in record.body_text and "相关阅读" not in record.body_text  # boilerplate dropped
    assert {
        ("company", "China Northern Rare Earth"),
        ("element", "neodymium"),
        ("element", "praseodymium"),
        ("element", "dysprosium"),
        ("element", "terbium"),
        ("place", "Baotou"),
        ("place", "Inner Mongolia"),
        ("place", "Bayan Obo"),
        ("place", "China"),
        ("topic", "prices"),
        ("topic", "magnets"),
        ("topic", "export controls and trade"),
        ("topic", "electric vehicles and wind"),
    } <= _tags(record)


def test_gbk_chinese_page_declared_only_in_a_meta_tag_is_decoded_and_tagged() -> None:
    record = page_record("zh_ganzhou_gbk.html", GANZHOU_URL)

    assert record.language == "zh"
    assert record.title == "赣州加强中重稀土资源保护 缅甸进口矿恢复通关"
    assert "朱镕基" in record.body_text  # 镕 is GBK, not GB2312: decoded with the right codec
    assert {
        ("company", "China Rare Earth Group"),
        ("element", "dysprosium"),
        ("element", "terbium"),
        ("element", "neodymium"),
        ("place", "Ganzhou"),
        ("place", "Jiangxi"),
        ("place", "Myanmar"),
        ("place", "Kachin"),
        ("topic", "environment"),
        ("topic", "recycling"),
    } <= _tags(record)
    mentions = {(kind, name): count for kind, name, count in record.tags}
    assert mentions[("place", "Ganzhou")] >= 4  # 赣州 and 龙南 both count


def test_chinese_off_topic_page_is_judged_irrelevant() -> None:
    page = PageInput(
        url="https://sport.example.cn/a",
        final_url="https://sport.example.cn/a",
        body=(PAGES / "zh_football_utf8.html").read_bytes(),
        content_type="text/html",
    )
    decision = process_page(page, taxonomy=taxonomy(), threshold=1.0)
    assert decision.status == "irrelevant", decision.reason


@pytest.mark.parametrize(
    ("chinese", "kind", "name"),
    [
        ("钕", "element", "neodymium"),
        ("镝", "element", "dysprosium"),
        ("铽", "element", "terbium"),
        ("镨", "element", "praseodymium"),
        ("钇", "element", "yttrium"),
        ("镧", "element", "lanthanum"),
        ("铈", "element", "cerium"),
        ("钐", "element", "samarium"),
        ("北方稀土", "company", "China Northern Rare Earth"),
        ("中国稀土集团", "company", "China Rare Earth Group"),
        ("盛和资源", "company", "Shenghe Resources"),
        ("莱纳斯", "company", "Lynas"),
        ("赣州", "place", "Ganzhou"),
        ("包头", "place", "Baotou"),
        ("白云鄂博", "place", "Bayan Obo"),
        ("内蒙古", "place", "Inner Mongolia"),
        ("江西", "place", "Jiangxi"),
        ("缅甸", "place", "Myanmar"),
        ("出口管制", "topic", "export controls and trade"),
        ("永磁", "topic", "magnets"),
        ("冶炼分离", "topic", "refining and separation"),
        # Traditional characters (Hong Kong, Taiwan).
        ("釹", "element", "neodymium"),
        ("鏑", "element", "dysprosium"),
        ("鋱", "element", "terbium"),
        ("中國稀土集團", "company", "China Rare Earth Group"),
        ("贛州", "place", "Ganzhou"),
        ("包頭", "place", "Baotou"),
        ("緬甸", "place", "Myanmar"),
        ("出口許可", "topic", "export controls and trade"),
        ("釹鐵硼", "topic", "magnets"),
        ("釹鐵硼", "element", "neodymium"),
    ],
)
def test_taxonomy_tags_chinese_names(chinese: str, kind: str, name: str) -> None:
    # Inside running Chinese text, with no spaces around the name.
    found = {(tag.kind, tag.name) for tag in tag_text(taxonomy(), f"据报道，{chinese}相关情况引起市场关注。")}
    assert (kind, name) in found


# --- search (SQLite and Postgres) ----------------------------------------------------------------------------


@pytest.fixture
def chinese_store(database_url: str) -> Iterator[str]:
    engine = get_engine(database_url)
    migrate(engine)
    load(
        engine,
        [
            page_record("zh_baotou_utf8.html", BAOTOU_URL),
            page_record("zh_ganzhou_gbk.html", GANZHOU_URL),
            page_record("english_news.html", "https://mining.example.com/lynas-malaysia"),
        ],
    )
    yield database_url


def _found(database_url: str, query: str, **filters: str) -> list[str]:
    hits = search_articles(get_engine(database_url), query, filters=SearchFilters(**filters))  # type: ignore[arg-type]
    return [hit.canonical_url for hit in hits]


def test_search_finds_chinese_articles_by_two_character_word(chinese_store: str) -> None:
    found = _found(chinese_store, "稀土")
    assert sorted(found) == sorted([BAOTOU_URL, GANZHOU_URL])  # the English article has no 稀土


def test_search_ranks_and_narrows_chinese_queries(chinese_store: str) -> None:
    assert _found(chinese_store, "镝") == [GANZHOU_URL, BAOTOU_URL]  # 镝 is in both; twice in Ganzhou's
    assert _found(chinese_store, "北方稀土") == [BAOTOU_URL]  # 4 characters: the trigram index on SQLite
    assert _found(chinese_store, "缅甸 稀土") == [GANZHOU_URL]  # every word must appear
    assert _found(chinese_store, "包头") == [BAOTOU_URL]
    assert _found(chinese_store, "稀土", place="Myanmar") == [GANZHOU_URL]  # tag filters still apply
    assert _found(chinese_store, "稀土 lynas") == []  # mixed scripts: all words required
    assert _found(chinese_store, "锂电池") == []


def test_chinese_search_takes_user_text_literally(chinese_store: str) -> None:
    # `_` (a word character, so kept) is a LIKE wildcard on Postgres and `"` is FTS5 syntax on SQLite; both are
    # searched for as text. Other punctuation separates words, as in `search` for English.
    for query in ("稀_", "土_", '稀土" OR "lynas', "稀土'; DROP TABLE article; --"):
        assert _found(chinese_store, query) == [], query
    assert len(_found(chinese_store, "稀土")) == 2  # and nothing was dropped


def test_english_search_is_unchanged_beside_chinese_articles(chinese_store: str) -> None:
    assert _found(chinese_store, "separation Malaysia") == ["https://mining.example.com/lynas-malaysia"]


def test_chinese_search_follows_edits_and_deletes(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    [article_id] = load(
        engine,
        [text_record("稀土价格上涨", "今日镝价上涨。" * 40, url="https://x.example.cn/1", site="x", published=None)],
    )
    assert _found(database_url, "镝价上涨") == ["https://x.example.cn/1"]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE article SET body_text = :body WHERE id = :id"),
            {"body": "今日铽价回落。" * 40, "id": article_id},
        )
    assert _found(database_url, "镝价上涨") == []
    assert _found(database_url, "铽价回落") == ["https://x.example.cn/1"]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM article WHERE id = :id"), {"id": article_id})
    assert _found(database_url, "铽价回落") == []


def test_postgres_has_a_trigram_index_for_chinese_search(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            tokenizer = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'article_fts_cjk'")
            ).scalar_one()
            assert "trigram" in tokenizer
            return
        indexes = (
            connection.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_article_text_trgm'"))
            .scalars()
            .all()
        )
    assert indexes and "gin_trgm_ops" in indexes[0]


# --- end to end: feeds of Chinese pages, `rare-news run`, `rare-news search 稀土` --------------------------------


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.usefixtures("prefect_harness")
def test_run_stores_chinese_articles_with_language_zh_and_search_finds_them(
    web: NewsWeb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    web.document("/zh/baotou", (PAGES / "zh_baotou_utf8.html").read_bytes(), "text/html; charset=utf-8")
    # No charset in the header: the page's own meta tag says GBK.
    web.document("/zh/ganzhou", (PAGES / "zh_ganzhou_gbk.html").read_bytes(), "text/html")
    web.document("/zh/football", (PAGES / "zh_football_utf8.html").read_bytes(), "text/html; charset=utf-8")
    web.document(f"/en/{LYNAS.slug}", article_html(LYNAS), "text/html; charset=utf-8")
    when = datetime.fromisoformat("2026-03-05T08:00:00+08:00")
    items = [
        (web.url(path), web.url(path), title, when, "")
        for path, title in (
            ("/zh/baotou", "北方稀土上调镨钕挂牌价"),
            ("/zh/ganzhou", "赣州加强中重稀土资源保护"),
            ("/zh/football", "中超联赛第三轮"),
            (f"/en/{LYNAS.slug}", LYNAS.title),
        )
    ]
    web.document("/feeds/zh.xml", rss(items, title="稀土新闻"), "application/rss+xml; charset=utf-8")
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nurl = "{web.url("/feeds/zh.xml")}"\ntopical = true\n', encoding="utf-8")
    monkeypatch.setenv("RARE_NEWS_DATABASE_URL", database_url)
    monkeypatch.setenv("RARE_NEWS_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("RARE_NEWS_FETCH_RETRIES", "0")

    invoke("run", "--feeds", str(feeds))

    hits = [json.loads(line) for line in invoke("search", "稀土", "--format", "json").splitlines()]
    assert sorted(hit["canonical_url"] for hit in hits) == sorted([web.url("/zh/baotou"), web.url("/zh/ganzhou")])
    assert {hit["language"] for hit in hits} == {"zh"}
    assert all("dysprosium" in hit["tags"]["element"] for hit in hits)
    baotou = next(hit for hit in hits if hit["canonical_url"] == web.url("/zh/baotou"))
    assert "China Northern Rare Earth" in baotou["tags"]["company"]

    ganzhou = json.loads(invoke("show", web.url("/zh/ganzhou"), "--format", "json"))
    assert ganzhou["language"] == "zh" and "朱镕基" in ganzhou["body_text"]
    english = [json.loads(line) for line in invoke("search", "Kalgoorlie", "--format", "json").splitlines()]
    assert [hit["language"] for hit in english] == ["en"]
    assert "no articles found" in invoke("search", "足球")  # the football page was judged irrelevant
