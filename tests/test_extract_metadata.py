"""Metadata reconciled from the page, its byline and the feed entry, with the source of each field kept.

trafilatura reads JSON-LD, Open Graph, <meta> and <time>; what it refuses (authors written in Chinese) or
cannot see (a byline only in the text) is filled in here, and `ExtractedArticle.sources` says which won.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from transforms.blocks import byline_authors
from transforms.extract import EntryHints, _meta_authors, extract_article, normalize_whitespace

ZH_PARAGRAPHS = [
    "本网包头3月2日电　北方稀土今日公布3月份稀土产品挂牌价格，氧化镨钕挂牌价较上月上调约百分之六，"
    "金属钕和金属镨的挂牌价格同步上调。业内人士认为，这反映出下游永磁材料企业需求回暖。",
    "包头是我国重要的轻稀土生产基地，白云鄂博矿区的稀土资源储量位居世界前列。近年来，内蒙古自治区围绕"
    "稀土新材料、稀土永磁电机和稀土储氢材料等方向，引进了一批下游应用项目。",
    "据了解，今年以来，包头市新增钕铁硼磁材产能数万吨，多家磁材企业扩产项目已陆续投产，产品主要供应"
    "新能源汽车驱动电机、风力发电机组和工业机器人等领域。",
]


def zh_page(*, head: str = "", byline: str = "来源：稀土观察网　作者：王晓明　2026-03-02 08:30") -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in ZH_PARAGRAPHS)
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
    <title>北方稀土上调镨钕挂牌价_稀土观察网</title>
    <meta property="og:title" content="北方稀土上调镨钕挂牌价">
    <meta property="og:site_name" content="稀土观察网">
    <meta property="article:published_time" content="2026-03-02T08:30:00+08:00">{head}</head>
    <body><div class="topnav"><a href="/">首页</a> | <a href="/news">要闻</a></div>
    <article><h1>北方稀土上调镨钕挂牌价</h1><p class="info">{byline}</p>{paragraphs}</article>
    <div class="footer">版权所有 © 2026 稀土观察网</div></body></html>""".encode()


def test_chinese_author_from_meta_and_the_byline_line_left_out_of_the_body() -> None:
    article = extract_article(zh_page(head='<meta name="author" content="王晓明">'), url="https://xt.example.cn/a")
    assert article.authors == ("王晓明",)
    assert article.sources["authors"] == "meta"
    assert article.body_text.split("\n\n") == [normalize_whitespace(p) for p in ZH_PARAGRAPHS]
    assert article.title == "北方稀土上调镨钕挂牌价"
    assert article.published_at == datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    assert article.sources == {"site": "page", "title": "page", "authors": "meta", "published_at": "page"}


def test_chinese_author_from_json_ld() -> None:
    json_ld = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": [{"@type": '
        '"NewsArticle", "headline": "北方稀土上调镨钕挂牌价", '
        '"author": [{"@type": "Person", "name": "王晓明"}, {"@type": "Person", "name": "李华"}]}]}</script>'
    )
    article = extract_article(zh_page(head=json_ld), url="https://xt.example.cn/a")
    assert article.authors == ("王晓明", "李华")


def test_author_only_in_the_byline_line_is_taken_from_it() -> None:
    article = extract_article(zh_page(), url="https://xt.example.cn/a")
    assert article.authors == ("王晓明",)
    assert article.sources["authors"] == "byline"
    assert "作者" not in article.body_text and "来源" not in article.body_text


def test_english_byline_gives_the_authors_when_the_page_metadata_has_none() -> None:
    story = "".join(
        f"<p>{s}</p>"
        for s in (
            "Neo Performance Materials opened its magnet plant in Narva, Estonia, on Friday, the first of its"
            " size in Europe.",
            "The plant will make 2,000 tonnes of sintered magnets a year at first, for carmakers and"
            " makers of wind turbines.",
            "The company said a second phase could double output once customers sign long-term contracts.",
        )
    )
    html = f"""<html><head><title>Neo opens Estonian magnet plant</title></head><body><article>
    <h1>Neo opens Estonian magnet plant</h1><p>By Kadri Tamm and Jaan Kask | Sept. 19, 2025</p>{story}
    </article></body></html>"""
    article = extract_article(html, url="https://magnets.example.ee/neo")
    assert article.authors == ("Kadri Tamm", "Jaan Kask")
    assert article.sources["authors"] == "byline"
    assert article.body_text.startswith("Neo Performance Materials opened")


def test_feed_fills_what_the_page_does_not_say_and_says_so() -> None:
    html = b"""<html><body><div><p>Prices of praseodymium-neodymium oxide rose for a third straight week as
    smelters in Baotou cut output for scheduled maintenance and traders rebuilt inventories.</p>
    <p>Market participants said demand from magnet makers in Ningbo remained firm this month.</p>
    </div></body></html>"""
    hints = EntryHints(title="PrNd rises", authors=("Li Wei",), published_at=datetime(2024, 9, 3, 10, tzinfo=UTC))
    article = extract_article(html, url="https://www.prices.example.com/prnd", hints=hints)
    assert article.sources == {"site": "url", "title": "feed", "authors": "feed", "published_at": "feed"}


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("By Jane Doe and John Roe | May 2, 2024", ("Jane Doe", "John Roe")),
        ("by Ann Lee, 5:45 AM PST", ("Ann Lee",)),
        ("By Kadri Tamm - Updated 3 hours ago", ("Kadri Tamm",)),
        ("来源：新华社　作者：王晓明、李华　2026-03-02", ("王晓明", "李华")),
        ("记者 张伟", ("张伟",)),
        ("The plant opened on Friday.", ()),
    ],
)
def test_byline_authors(line: str, names: tuple[str, ...]) -> None:
    assert byline_authors(line) == names


def test_meta_fallback_takes_only_non_latin_names_that_are_not_the_site() -> None:
    # Latin-script names trafilatura saw and refused ("BBC News", credentials) stay refused
    head = (
        '<meta name="author" content="稀土观察网"><meta property="article:author" content="BBC News">'
        '<meta name="author" content="Rachael Link, MS, RD"><meta name="dc.creator" content="Иван Петров">'
        '<meta property="article:author" content="https://example.com/staff/wang">'
    )
    tree = etree.HTML(zh_page(head=head))
    assert _meta_authors(tree, "稀土观察网") == ("Иван Петров",)


def test_an_empty_page_says_everything_came_from_the_feed() -> None:
    hints = EntryHints(title="Only a title", published_at=datetime(2024, 1, 2, tzinfo=UTC))
    article = extract_article(b"", url="https://www.example.com/empty", hints=hints)
    assert article.sources == {"site": "url", "title": "feed", "published_at": "feed"}
