"""transforms/extract.py on small hand-written pages in tests/pages/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import transforms.extract as extract_module
from transforms.extract import (
    EXTRACTOR_VERSION,
    EntryHints,
    decode_html,
    extract_article,
    guess_language,
    split_authors,
)

PAGES = Path(__file__).parent / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def paragraphs(body_text: str) -> list[str]:
    return body_text.split("\n\n")


# ---- boilerplate ------------------------------------------------------------------------------------------


def test_news_page_body_keeps_article_paragraphs_and_drops_boilerplate() -> None:
    article = extract_article(page("english_news.html"), url="https://news.example.com/lynas")
    body = article.body_text
    assert body.startswith("Lynas Rare Earths said on Tuesday")
    assert body.endswith("declined to name the customers involved.")
    for sentence in ("1,500 tonnes a year", "inside electric vehicle motors", "export controls on seven"):
        assert sentence in body
    assert len(paragraphs(body)) == 5
    for boilerplate in (
        "Markets Desk",  # nav bar
        "Share on Twitter",  # share bar
        "Rare Earth Briefing",
        "weekly newsletter",
        "Subscribe now",  # newsletter box
        "Related posts",
        "MP Materials starts magnet output",
        "Read more",
        "Nolans mine",  # related lists
        "Comments",
        "competition for Beijing",
        "going to the moon",
        "Leave a Reply",  # comment section
        "Most popular",
        "Copyright 2024",  # sidebar, footer
    ):
        assert boilerplate not in body, boilerplate


def test_paragraphs_are_separated_by_blank_lines_with_normalised_whitespace() -> None:
    body = extract_article(page("english_news.html"), url="https://news.example.com/lynas").body_text
    assert "\n\n\n" not in body
    for paragraph in paragraphs(body):
        assert paragraph == paragraph.strip()
        assert "\n" not in paragraph and "  " not in paragraph


def test_subscribe_box_related_list_share_bar_and_reply_form_are_not_in_body() -> None:
    # "subscribe-box" is outside trafilatura's own boilerplate vocabulary: this is what the pre-clean is for
    article = extract_article(page("wordpress_post.html"), url="https://asiatechwire.example.com/li-qiang")
    body = article.body_text
    assert len(paragraphs(body)) == 4
    assert "Ganjiang Innovation Academy" in body
    for boilerplate in (
        "Stay informed",
        "Sign me up",
        "Read more",
        "gallium and germanium",
        "Spread the word",
        "Post on X",
        "Related Posts",
        "Lenovo",
        "Continue reading",
        "Leave a Reply",
        "will not be published",
        "WordPress",
    ):
        assert boilerplate not in body, boilerplate


def test_preclean_keeps_article_inside_a_wrapper_named_like_boilerplate() -> None:
    # the wrapper's class says "has-sidebar" and its id "nav-wrapper": it holds the headline and the story
    article = extract_article(page("sidebar_layout.html"), url="https://resourcestoday.example/iluka")
    assert article.body_text.startswith("Iluka Resources made a final investment decision")
    assert "commercial scale." in article.body_text
    assert "Lithium price outlook" not in article.body_text


def test_preclean_keeps_wrapper_holding_most_of_the_text_even_without_headline() -> None:
    html = page("sidebar_layout.html").replace(b"<h1>Iluka commits to Eneabba refinery</h1>", b"")
    article = extract_article(html, url="https://resourcestoday.example/iluka")
    assert "final investment decision" in article.body_text
    assert "monazite" in article.body_text


# ---- metadata ---------------------------------------------------------------------------------------------


def test_json_ld_gives_title_authors_and_exact_date_in_utc() -> None:
    article = extract_article(page("english_news.html"), url="https://news.example.com/lynas")
    assert article.title == "Lynas expands heavy rare earth separation in Malaysia"
    assert article.authors == ("Alice Tan", "Bob Okafor")
    # datePublished 09:30 +08:00, not dateModified
    assert article.published_at == datetime(2024, 5, 14, 1, 30, tzinfo=UTC)
    assert article.published_at.utcoffset() == timedelta(0)
    assert article.site == "Mining Weekly Review"
    assert article.language == "en"
    assert article.description == "The Australian miner will separate dysprosium and terbium at its Kuantan plant."


def test_opengraph_gives_title_site_date_and_split_byline() -> None:
    # <title> is a generic "Home - ..." string: og:title must win
    article = extract_article(page("opengraph_news.html"), url="https://cmd.example.org/recycling")
    assert article.title == "US grants fund magnet recycling plant in Texas"
    assert article.authors == ("Jane Doe", "John Roe")  # meta author "By Jane Doe and John Roe"
    assert article.published_at == datetime(2023, 11, 2, 16, 45, tzinfo=UTC)
    assert article.site == "Critical Minerals Daily"


def test_title_is_not_repeated_as_first_line_of_body() -> None:
    for name in ("english_news.html", "opengraph_news.html", "wordpress_post.html", "sidebar_layout.html"):
        article = extract_article(page(name), url="https://example.com/a")
        assert article.title
        first = paragraphs(article.body_text)[0]
        assert first.casefold() != article.title.casefold(), name
        assert article.title not in paragraphs(article.body_text), name


def test_site_suffix_is_stripped_from_html_title() -> None:
    html = b"""<html><head><title>Neodymium output rises | Metals Monitor</title>
    <meta property="og:site_name" content="Metals Monitor"></head><body><article>
    <p>Output of neodymium metal rose in March as new furnaces in Baotou came online, producers said.</p>
    <p>Prices held steady through the month despite the extra supply reaching the spot market.</p>
    </article></body></html>"""
    article = extract_article(html, url="https://metals.example.com/nd")
    assert article.title == "Neodymium output rises"


def test_hints_fill_a_page_without_metadata() -> None:
    beijing = timezone(timedelta(hours=8))
    hints = EntryHints(
        title="PrNd oxide prices rise for third week",
        authors=("By Li Wei and Zhang Min",),
        published_at=datetime(2024, 9, 3, 18, 5, tzinfo=beijing),
        summary="Smelter maintenance in Baotou lifts prices.",
    )
    article = extract_article(page("bare_page.html"), url="https://www.prices.example.com/prnd", hints=hints)
    assert article.title == "PrNd oxide prices rise for third week"
    assert article.authors == ("Li Wei", "Zhang Min")
    assert article.published_at == datetime(2024, 9, 3, 10, 5, tzinfo=UTC)
    assert article.description == "Smelter maintenance in Baotou lifts prices."
    assert article.site == "prices.example.com"  # no site name on the page: the host, without www.
    assert article.body_text.startswith("Prices of praseodymium-neodymium oxide rose")
    assert len(paragraphs(article.body_text)) == 3


def test_page_metadata_wins_over_hints() -> None:
    hints = EntryHints(title="Feed title", authors=("Feed Author",), published_at=datetime(2020, 1, 1, tzinfo=UTC))
    article = extract_article(page("english_news.html"), url="https://news.example.com/lynas", hints=hints)
    assert article.title == "Lynas expands heavy rare earth separation in Malaysia"
    assert article.authors == ("Alice Tan", "Bob Okafor")
    assert article.published_at == datetime(2024, 5, 14, 1, 30, tzinfo=UTC)


def test_feed_timestamp_beats_a_date_only_page_date() -> None:
    # the page says only "2024-01-15"; the feed entry knows the time
    url = "https://resourcestoday.example/iluka"
    without_hint = extract_article(page("sidebar_layout.html"), url=url)
    assert without_hint.published_at == datetime(2024, 1, 15, tzinfo=UTC)
    hints = EntryHints(published_at=datetime(2024, 1, 15, 6, 20, tzinfo=UTC))
    with_hint = extract_article(page("sidebar_layout.html"), url=url, hints=hints)
    assert with_hint.published_at == datetime(2024, 1, 15, 6, 20, tzinfo=UTC)


def test_naive_hint_date_is_taken_as_utc() -> None:
    hints = EntryHints(published_at=datetime(2024, 9, 3, 18, 5))
    article = extract_article(page("bare_page.html"), url="https://prices.example.com/prnd", hints=hints)
    assert article.published_at == datetime(2024, 9, 3, 18, 5, tzinfo=UTC)


def test_page_with_no_text_returns_empty_body_and_hints() -> None:
    hints = EntryHints(title="Only a title")
    article = extract_article(b"", url="https://example.com/empty", hints=hints)
    assert article.body_text == ""
    assert article.title == "Only a title"
    article = extract_article(b"<html><head><title>T</title></head><body></body></html>", url="https://e.com/e")
    assert article.body_text == ""
    assert article.site == "e.com"


def test_str_input_is_accepted_as_already_decoded() -> None:
    text = page("gbk_news.html").decode("gbk")
    article = extract_article(text, url="https://www.xitu.example.cn/ganzhou")
    assert "朱镕基" in article.body_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("By Wang Cong and Yang Kunyi", ("Wang Cong", "Yang Kunyi")),
        ("Jane Doe; John Roe", ("Jane Doe", "John Roe")),
        ("by Ann Lee, Bo Chen & Cy Park", ("Ann Lee", "Bo Chen", "Cy Park")),
        ("Reuters", ("Reuters",)),
        ("  ", ()),
    ],
)
def test_split_authors(raw: str, expected: tuple[str, ...]) -> None:
    assert split_authors(raw) == expected


def test_split_authors_drops_repeats_across_inputs() -> None:
    assert split_authors("Jane Doe", "By jane doe and John Roe") == ("Jane Doe", "John Roe")


# ---- language ---------------------------------------------------------------------------------------------


def test_guess_language() -> None:
    assert guess_language("赣州是全球重要的中重稀土生产基地。") == "zh"
    assert guess_language("The company said the plant would start production in the spring.") == "en"
    assert guess_language("La société a annoncé une usine de séparation des terres rares en France.") is None
    assert guess_language("12345 -- !!") is None


def test_text_overrides_a_wrong_declared_language() -> None:
    html = page("english_news.html").replace(b'<html lang="en-US">', b'<html lang="zh-CN">')
    assert extract_article(html, url="https://news.example.com/lynas").language == "en"


def test_declared_language_is_used_when_text_is_not_conclusive() -> None:
    html = """<html lang="fr-FR"><head><title>Terres rares</title></head><body><article>
    <p>Le groupe chimique a annoncé lundi un investissement dans son usine de La Rochelle, consacrée à la
    séparation des terres rares, afin de fournir les fabricants européens d'aimants permanents.</p>
    <p>Les analystes estiment que ce projet réduira la dépendance de l'Europe envers la Chine.</p>
    </article></body></html>"""
    assert extract_article(html, url="https://fr.example.com/a").language == "fr"


# ---- decoding ---------------------------------------------------------------------------------------------


def test_windows_1252_page_served_as_iso_8859_1(monkeypatch: pytest.MonkeyPatch) -> None:
    no_guessing(monkeypatch)
    article = extract_article(
        page("cp1252_news.html"), url="https://chemicalmarkets.example.eu/solvay", header_charset="iso-8859-1"
    )
    assert article.title == "Solvay’s €50m bet on rare earth separation at La Rochelle"
    body = article.body_text
    assert "invest €50 million" in body
    assert "“decisive step”" in body
    assert "Europe’s supply" in body and "‘secure, traceable’" in body
    assert "rare earths — the first" in body
    assert "Société" in body
    assert "\ufffd" not in body and "\x80" not in body and "\x93" not in body


def no_guessing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make charset_normalizer's guess unavailable, so a test proves the declared charset was used."""

    def refuse(body: bytes) -> str | None:
        raise AssertionError("charset guess used although the page declares its charset")

    monkeypatch.setattr(extract_module, "_guess_codec", refuse)


def test_gbk_page_with_gb2312_meta_and_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    # 镕 is in GBK but not in GB2312: decoding by the label's letter would fail (WHATWG: gb2312 means GBK)
    no_guessing(monkeypatch)
    article = extract_article(page("gbk_news.html"), url="https://www.xitu.example.cn/ganzhou")
    assert article.title == "江西赣州加快稀土产业转型升级"
    assert article.site == "稀土产业网"
    assert article.language == "zh"
    assert article.body_text.startswith("记者从赣州市获悉")
    assert "朱镕基" in article.body_text
    assert "首页" not in article.body_text and "版权所有" not in article.body_text
    assert len(paragraphs(article.body_text)) == 3


def test_utf8_page_with_lying_iso_8859_1_header() -> None:
    utf8 = page("cp1252_news.html").decode("cp1252").encode("utf-8")
    text = decode_html(utf8, "iso-8859-1")
    assert "invest €50 million" in text and "“decisive" in text
    assert "â€" not in text
    article = extract_article(utf8, url="https://chemicalmarkets.example.eu/solvay", header_charset="ISO-8859-1")
    assert "Société" in article.body_text


def test_header_charset_wins_over_disagreeing_meta() -> None:
    # GBK bytes; the meta tag wrongly says iso-8859-1 (which would give mojibake), the header is right
    wrong_meta = page("gbk_news.html").replace(b"charset=gb2312", b"charset=iso-8859-1")
    assert "稀土" not in decode_html(wrong_meta)
    assert "朱镕基" in decode_html(wrong_meta, "GBK")


def test_header_charset_the_bytes_do_not_fit_falls_through_to_meta() -> None:
    # header says utf-8, but the bytes are GBK (not valid UTF-8); the meta tag is right
    assert "朱镕基" in decode_html(page("gbk_news.html"), "utf-8")


def test_unknown_header_label_falls_through_to_meta() -> None:
    assert "朱镕基" in decode_html(page("gbk_news.html"), "x-no-such-charset")
    assert "朱镕基" in decode_html(page("gbk_news.html"), "base64")  # a Python codec, not a text encoding


def test_single_quoted_meta_charset_is_read() -> None:
    body = "<html><head><meta charset='windows-1252'></head><body><p>caf\u00e9 \u20ac5</p></body></html>"
    assert "café €5" in decode_html(body.encode("cp1252"))


def test_undeclared_non_utf8_page_is_guessed() -> None:
    text = decode_html(page("cp1252_news.html"))
    assert "Europe’s supply" in text


def test_byte_order_mark_wins_over_everything() -> None:
    html = "<html><head><meta charset='iso-8859-1'></head><body><p>稀土 “quotes”</p></body></html>"
    assert "稀土 “quotes”" in decode_html(b"\xff\xfe" + html.encode("utf-16-le"), "iso-8859-1")
    decoded = decode_html(b"\xef\xbb\xbf" + html.encode("utf-8"), "iso-8859-1")
    assert decoded.startswith("<html>")


def test_iso_8859_1_label_decodes_bytes_python_leaves_undefined_in_cp1252() -> None:
    assert decode_html(b"<p>a\x81b \x93q\x94</p>", "iso-8859-1") == "<p>a\x81b “q”</p>"


def test_utf16_label_without_bom_is_not_trusted() -> None:
    assert decode_html(b"<html><body>plain ascii</body></html>", "utf-16") == ("<html><body>plain ascii</body></html>")


def test_decode_never_raises_on_garbage() -> None:
    garbage = bytes(range(256)) * 4
    assert isinstance(decode_html(garbage, "utf-8"), str)
    assert isinstance(decode_html(garbage), str)


def test_extractor_version_names_trafilatura_and_our_revision() -> None:
    assert EXTRACTOR_VERSION.startswith("trafilatura-2.")
    assert "+ren" in EXTRACTOR_VERSION
