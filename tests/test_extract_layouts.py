"""Layouts the benchmark half lacks (issue 16): one test per idea kept, each on a page that shows it, and the
table-layout pages of bench/extraction/layouts/ end to end (clean body, right author, date and title)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from tests.test_extract_blocks import STORY
from transforms.blocks import Block, body_blocks, drop_page_furniture, drop_title_and_byline
from transforms.bylines import credit_authors, dateline_reporters, parse_byline
from transforms.extract import extract_article
from transforms.layout import drop_inert, is_layout_table, unwrap_layout_tables

LAYOUTS = Path(__file__).resolve().parent.parent / "bench" / "extraction" / "layouts"
TRUTH = json.loads((LAYOUTS / "ground-truth.json").read_text(encoding="utf-8"))
TABLE_PAGES = sorted(page_id for page_id, item in TRUTH.items() if item["type"].startswith("table-"))

PARAGRAPHS = "".join(f"<p>{p}</p>" for p in STORY)


def page(body: str, *, head: str = "", title: str = "Lynas makes first heavy rare earths") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


def paragraphs(text: str) -> list[str]:
    return text.split("\n\n")


# ---- the table-layout pages, end to end ---------------------------------------------------------------------


@pytest.mark.parametrize("page_id", TABLE_PAGES)
def test_table_layout_page_has_clean_body_author_date_and_title(page_id: str) -> None:
    truth = TRUTH[page_id]
    raw = gzip.decompress((LAYOUTS / "html" / f"{page_id}.html.gz").read_bytes())
    article = extract_article(raw, url=truth["url"])
    body = paragraphs(article.body_text)
    for paragraph in truth["articleBody"].split("\n\n"):
        assert paragraph in body
    for line in truth["boilerplate"]:
        assert line not in article.body_text, line
    assert list(article.authors) == truth["authors"]
    assert article.title == truth["title"]
    assert article.published_at is not None and article.published_at.date().isoformat() == truth["date"]


def test_table_pages_cover_both_legacy_table_layouts() -> None:
    assert {TRUTH[p]["type"] for p in TABLE_PAGES} == {"table-cp1252", "table-br"}
    assert len(TRUTH) >= 40


# ---- layout tables ------------------------------------------------------------------------------------------


def test_a_layout_table_is_unwrapped_and_a_data_table_stays() -> None:
    sidebar = "<br>".join(f'<a href="/s/{i}">Section {i}</a>' for i in range(6))
    html = page(
        f"<table><tr><td>{sidebar}</td><td><h1>Lynas makes first heavy rare earths</h1>{PARAGRAPHS}"
        "<table><tr><th>Oxide</th><th>Price</th></tr><tr><td>NdPr</td><td>58.2</td></tr>"
        "<tr><td>Dy</td><td>225</td></tr></table></td></tr></table>"
    )
    tree = lxml_html.fromstring(html)
    outer, inner = list(tree.iter("table"))
    assert is_layout_table(outer) and not is_layout_table(inner)
    assert unwrap_layout_tables(tree) == 1
    assert [t.find(".//th").text for t in tree.iter("table")] == ["Oxide"]


def test_article_in_a_td_beside_a_sidebar_comes_out_as_its_own_paragraphs() -> None:
    sidebar = "".join(f'<a href="/news/{i}">Other headline number {i}</a><br>' for i in range(5))
    html = page(
        f'<table width="780"><tr><td width="150">{sidebar}</td><td><font size="4"><b>Lynas makes first heavy'
        f" rare earths</b></font><br>{PARAGRAPHS}</td></tr></table>"
    )
    article = extract_article(html, url="https://old.example.com/lynas.html")
    assert paragraphs(article.body_text) == STORY


def test_paragraphs_written_between_double_line_breaks_are_split() -> None:
    html = page(f"<div><h1>Lynas makes first heavy rare earths</h1>{'<br><br>'.join(STORY)}</div>")
    assert paragraphs(extract_article(html, url="https://old.example.com/a").body_text) == STORY


# ---- widgets, ad slots, teaser cards, inert elements ----------------------------------------------------------


def test_cookie_banner_and_sign_up_box_go_but_a_paragraph_with_a_script_link_stays() -> None:
    story = [*STORY[:2], STORY[2].replace("prices", '<a href="#">prices</a>')]
    html = page(
        "<div><p>We use cookies to improve your experience. By continuing you agree.</p><button>Accept</button></div>"
        f"<div><h1>Lynas makes first heavy rare earths</h1>{''.join(f'<p>{p}</p>' for p in story)}"
        "<table><tr><td><b>Get our daily newsletter</b><br>Free news every morning."
        '<form><input name="email"><input type="submit" value="Sign up"></form></td></tr></table></div>'
    )
    body = extract_article(html, url="https://news.example.com/a").body_text
    assert paragraphs(body) == STORY
    assert "cookies" not in body and "newsletter" not in body


def test_ad_label_beside_an_ad_frame_is_removed() -> None:
    ad = '<div><font size="1">ADVERTISEMENT</font><br><iframe src="/ads/1.html"></iframe></div>'
    html = page(
        f"<article><h1>Lynas makes first heavy rare earths</h1><p>{STORY[0]}</p>{ad}<p>{STORY[1]}</p>"
        f"<p>{STORY[2]}</p></article>"
    )
    assert paragraphs(extract_article(html, url="https://news.example.com/a").body_text) == STORY


def test_teaser_cards_of_the_same_shape_go_but_a_roundup_list_stays() -> None:
    cards = "".join(
        f'<div class="t9"><a href="/markets/{i}">Other story headline number {i}</a><p>{STORY[i]}</p></div>'
        for i in range(3)
    )
    html = page(
        f'<div class="c2"><div class="c3"><h1>Lynas makes first heavy rare earths</h1>{PARAGRAPHS}</div>'
        f'<div class="c8"><div>Top news</div>{cards}</div></div>'
    )
    assert paragraphs(extract_article(html, url="https://wire.example.com/a").body_text) == STORY
    # a roundup's items start with a linked headline that runs on into the item's sentence: the article itself
    roundup = "".join(
        f'<li><a href="/news/{i}">{" ".join(s.split()[:5])}</a> {" ".join(s.split()[5:])}</li>'
        for i, s in enumerate(STORY)
    )
    html = page(
        f"<article><h1>Ten things today</h1><p>Here is what you need to know.</p><ul>{roundup}</ul></article>",
        title="Ten things today",
    )
    body = extract_article(html, url="https://wire.example.com/b").body_text
    assert all(s in body for s in STORY)


def test_scripts_and_styles_go_before_extraction_but_json_ld_stays() -> None:
    tree = lxml_html.fromstring(
        page(
            PARAGRAPHS,
            head='<script>var a = 1;</script><style>p {}</style><script type="application/ld+json">{}</script>'
            '<script>window.meta = {"datePublished": "2024-05-14"}</script>',
        )
    )
    assert drop_inert(tree) == 2
    assert [s.get("type") for s in tree.iter("script")] == ["application/ld+json", None]


def test_live_blog_entries_keep_their_headings() -> None:
    entries = "".join(
        f'<div class="block"><p class="block-time">1{i}:00</p><h3>Update number {i} of the day</h3><p>{s}</p></div>'
        for i, s in enumerate(STORY)
    )
    html = page(
        f'<div class="liveblog"><h1>Live: rare earths</h1><p>By Sam Rivera and Priya Nair</p>{entries}</div>',
        title="Live: rare earths",
    )
    article = extract_article(html, url="https://ledger.example.com/live")
    assert "Update number 1 of the day" in paragraphs(article.body_text)
    assert article.authors == ("Sam Rivera", "Priya Nair")


# ---- page furniture -----------------------------------------------------------------------------------------


def test_share_bar_copyright_self_link_and_orphan_label_are_dropped() -> None:
    blocks = [Block("p", s) for s in STORY] + [
        Block("p", "Share this: Email | Facebook | Twitter"),
        Block("p", "View original content: https://www.prwire.example/news-releases/lynas.html"),
        Block("head", "Related Posts:"),
        Block("p", "Copyright © 2025 The Mining Record Pty Ltd. All rights reserved."),
    ]
    anchors = frozenset({"Email", "Facebook", "Twitter"})
    kept = drop_page_furniture(blocks, anchors, "https://www.prwire.example/news-releases/lynas.html")
    assert [b.text for b in kept] == STORY


def test_a_link_to_another_site_and_a_tweet_attribution_stay() -> None:
    blocks = [Block("p", s) for s in STORY] + [
        Block("p", "Link to the ministry's notice – https://www.gov.example/notice/2025-4.html"),
        Block("p", "— Rep. Jane Doe (@janedoe) November 19, 2019"),
    ]
    anchors = frozenset({"@janedoe", "November 19, 2019"})
    assert drop_page_furniture(blocks, anchors, "https://news.example.com/a") == blocks


def test_blank_lines_split_paragraphs_of_trafilaturas_body() -> None:
    body = etree.fromstring("<body><p>One.<lb/><lb/>Two<lb/>still two.</p></body>")
    assert [b.text for b in body_blocks(body)] == ["One.", "Two still two."]


# ---- bylines --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "names", "day"),
    [
        ("Margaret O’Neill – March 4, 2025", ("Margaret O’Neill",), date(2025, 3, 4)),
        ("Laura Chen – 12 May 2025", ("Laura Chen",), date(2025, 5, 12)),
        ("By Lucas Almeida and Sarah Brennan, Staff Writer", ("Lucas Almeida", "Sarah Brennan"), None),
        ("By Hannah Cole and Marcus Webb, March 7, 2025", ("Hannah Cole", "Marcus Webb"), date(2025, 3, 7)),
        ("来源：中国稀土信息网　作者：刘志强　发布时间：2025-03-12 09:30", ("刘志强",), date(2025, 3, 12)),
    ],
)
def test_bylines_in_running_text(line: str, names: tuple[str, ...], day: date | None) -> None:
    byline = parse_byline(line)
    assert byline is not None and byline.authors == names and byline.published == day


@pytest.mark.parametrize(
    "line",
    [
        "Photo: Reuters/Lai Seng Sin",
        "Photograph by Jane Doe",
        "（责任编辑：陈晓燕）",
        "By clicking Confirm Account, I agree to the terms",
        "Edited by Tony Munroe",
        "Workers at a mine in Lai Chau – March 4, 2025 was a busy day for the province and its officials",
    ],
)
def test_photo_credits_editors_and_sentences_are_not_bylines(line: str) -> None:
    assert parse_byline(line) is None


def test_wire_credit_names_reporters_not_editors() -> None:
    line = (
        "(Reporting by Amy Lv and Dominique Patton in Beijing; Additional reporting by Eduardo Baptista;"
        " Editing by Tony Munroe)"
    )
    assert credit_authors(line) == ("Amy Lv", "Dominique Patton", "Eduardo Baptista")
    assert credit_authors("The ministry said the report was written by officials.") is None


def test_chinese_dateline_names_the_reporters() -> None:
    assert dateline_reporters("新华社北京4月4日电（记者王立彬）商务部新闻发言人4日表示") == ("王立彬",)
    assert dateline_reporters("本报北京2月25日讯（记者李晓娟、张毅）中国稀土集团") == ("李晓娟", "张毅")


def test_author_and_date_from_the_byline_under_the_headline_when_metadata_has_none() -> None:
    # htmldate answers January 1 of the footer's copyright year for a 2024 article; the byline knows better
    html = page(
        f"<div><font size='4'><b>Lynas makes first heavy rare earths</b></font><br>"
        f"<font size='1'>Paul Whitaker – November 12, 2024</font>{PARAGRAPHS}</div>"
        "<div>Copyright © 2025 The Mining Record. All rights reserved.</div>"
    )
    article = extract_article(html, url="https://www.miningrecord.example/news/a.html")
    assert article.authors == ("Paul Whitaker",)
    assert article.sources["authors"] == "byline"
    assert article.published_at is not None and article.published_at.date() == date(2024, 11, 12)
    assert "Copyright" not in article.body_text


def test_wire_story_authors_come_from_the_credit_and_the_credit_leaves_the_body() -> None:
    credit = "<p>(Reporting by Amy Lv and Dominique Patton; Editing by Tony Munroe)</p>"
    html = page(f"<div><h1>Lynas makes first heavy rare earths</h1>{PARAGRAPHS}{credit}</div>")
    article = extract_article(html, url="https://wire.example.com/a")
    assert article.authors == ("Amy Lv", "Dominique Patton")
    assert paragraphs(article.body_text) == STORY


# ---- titles -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title",
    [
        "Rare Metals Gazette :: Lynas makes first heavy rare earths",
        "Lynas makes first heavy rare earths｜レアメタル通信",
        "Lynas makes first heavy rare earths_中国稀土信息网",
    ],
)
def test_the_site_part_of_a_title_goes_whichever_side_it_is_on(title: str) -> None:
    html = page(f"<div><h2>Lynas makes first heavy rare earths</h2>{PARAGRAPHS}</div>", title=title)
    article = extract_article(html, url="https://www.raremetalsgazette.example/a.htm")
    assert article.title == "Lynas makes first heavy rare earths"


@pytest.mark.parametrize("credit", ["（编辑：严玉洁 王辉）", "【责任编辑：严玉洁】", "(Editing by Tony Munroe)"])
def test_an_editors_credit_leaves_the_body_and_names_no_author(credit: str) -> None:
    blocks = [Block("p", s) for s in STORY] + [Block("p", credit)]
    assert drop_title_and_byline(blocks, titles=["Lynas makes first heavy rare earths"]) == blocks[:-1]
    assert parse_byline(credit) is None
