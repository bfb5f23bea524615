"""connectors/seeds.py and transforms/seed_text.py on the real seed corpus and on small made-up files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.seeds import DEFAULT_SEED_DIR, SeedFile, read_seed_files
from transforms.seed_text import parse_seed_text

BOILERPLATE = (
    "Disqus",
    "Newspaper headline",
    "Related Posts",
    "Lenovo",
    "carmakers",
    "Continue reading",
    "Leave a Reply",
    "Your email address",
    "Source:",
    "Published:",
    "•",
)


def seed(name: str) -> str:
    return (DEFAULT_SEED_DIR / name).read_text(encoding="utf-8")


def test_global_times_seed_byline_is_parsed_and_removed() -> None:
    article = parse_seed_text(seed("000_5e03993ef8204055.txt"), name="000_5e03993ef8204055.txt")
    assert article.title == "China’s Jiangxi Province to boost rare earths development and protection"
    assert article.authors == ("Wang Cong", "Yang Kunyi")
    assert article.site == "Global Times"
    # 2019/7/9 19:48:40 Beijing time
    assert article.published_at == datetime(2019, 7, 9, 11, 48, 40, tzinfo=UTC)
    assert article.language == "en"
    body = article.body_text
    assert body.startswith("More R&D needed to build up strategic power\n\nOfficials in East China's Jiangxi")
    assert body.endswith("containing China's economic and technological development.")
    assert "Wang Cong" not in body
    for boilerplate in BOILERPLATE:
        assert boilerplate not in body, boilerplate
    assert len(body.split("\n\n")) == 12


def test_seed_without_byline_has_clean_body_and_no_invented_metadata() -> None:
    article = parse_seed_text(seed("003_c639fa3e6c122bf7.txt"), name="003_c639fa3e6c122bf7.txt")
    assert article.title == "Chinese premier tours rare earths production hub amid rising US tech rivalry"
    assert article.authors == ()
    assert article.site is None
    assert article.published_at is None
    assert article.language == "en"
    body = article.body_text
    assert body.startswith("China’s premier has vowed")
    # the last two paragraphs share a line break with no blank line between them in the file
    assert body.endswith(
        "The visit comes as the US intensifies efforts to break China’s chokehold over access to rare "
        "earths, after a slew of major Western firms faced supply disruptions amid the US-China "
        "trade war last year.\n\nEarlier this month, Washington hosted a gathering of more than 50 "
        "countries to discuss forming a bloc for supplies of critical minerals including rare earths "
        "– a move widely seen as an attempt to loosen China’s control over the industry."
    )
    for boilerplate in BOILERPLATE:
        assert boilerplate not in body, boilerplate
    assert len(body.split("\n\n")) == 7


def test_seed_bodies_have_normalised_paragraphs() -> None:
    for seed_file in read_seed_files(DEFAULT_SEED_DIR):
        body = parse_seed_text(seed_file.text, name=seed_file.name).body_text
        assert "\n\n\n" not in body
        for paragraph in body.split("\n\n"):
            assert paragraph and paragraph == paragraph.strip()
            assert "\n" not in paragraph and "  " not in paragraph


def test_byline_rules_are_general() -> None:
    text = (
        "\n  Magnet plant opens in Jiangxi  \n\n"
        "By Li Hua, Chen Jie Source: China Daily Published: 2023-03-01 08:05\n\n"
        "A new magnet plant opened in Ganzhou on Wednesday,\n"
        "officials said.\n\n"
        "It will make 5,000 tonnes of magnets a year.\n\n"
        "Read more\n\n"
        "Another story about something else entirely.\n"
    )
    article = parse_seed_text(text, name="x.txt")
    assert article.title == "Magnet plant opens in Jiangxi"
    assert article.authors == ("Li Hua", "Chen Jie")
    assert article.site == "China Daily"
    assert article.published_at == datetime(2023, 3, 1, 0, 5, tzinfo=UTC)
    # a hard-wrapped paragraph is joined; the story list after "Read more" is cut
    assert article.body_text == (
        "A new magnet plant opened in Ganzhou on Wednesday, officials said.\n\n"
        "It will make 5,000 tonnes of magnets a year."
    )


def test_explicit_offset_beats_source_table_and_unknown_sources_are_utc() -> None:
    text = "Title\nBy A Writer Source: Some Paper Published: 2023/3/1 08:05:00 GMT+2\n\nBody text here."
    assert parse_seed_text(text, name="x").published_at == datetime(2023, 3, 1, 6, 5, tzinfo=UTC)
    text = "Title\nSource: Some Paper Published: 2023/3/1 08:05:00\n\nBody text here."
    assert parse_seed_text(text, name="x").published_at == datetime(2023, 3, 1, 8, 5, tzinfo=UTC)


def test_sentence_starting_with_by_later_in_the_text_is_body() -> None:
    text = "Title\n\nFirst paragraph.\n\nSecond.\n\nThird.\n\nFourth.\n\nBy Monday the price had doubled.\n"
    article = parse_seed_text(text, name="x")
    assert article.authors == ()
    assert article.body_text.endswith("By Monday the price had doubled.")


def test_end_marker_before_any_paragraph_does_not_empty_the_body() -> None:
    text = "Title\n\nComments\n\nThe only paragraph.\n"
    assert parse_seed_text(text, name="x").body_text == "The only paragraph."


def test_empty_seed_is_an_error_naming_the_file() -> None:
    with pytest.raises(ValueError, match="empty.txt"):
        parse_seed_text(" \n\n \n", name="empty.txt")


def test_chinese_seed_text_is_zh() -> None:
    text = "赣州稀土产业升级\n\n记者从赣州市获悉，当地正在加快推进稀土产业转型升级。\n"
    assert parse_seed_text(text, name="x").language == "zh"


def test_read_seed_files_sorted_txt_only(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("Second\n\nBody", encoding="utf-8")
    (tmp_path / "a.txt").write_bytes("\ufeffFirst ’\n\nBody".encode())
    (tmp_path / "notes.md").write_text("not a seed", encoding="utf-8")
    (tmp_path / "dir.txt").mkdir()
    seeds = read_seed_files(tmp_path)
    assert seeds == [
        SeedFile(name="a.txt", text="First ’\n\nBody"),
        SeedFile(name="b.txt", text="Second\n\nBody"),
    ]


def test_read_seed_files_missing_directory_says_which(tmp_path: Path) -> None:
    missing = tmp_path / "no-seeds-here"
    with pytest.raises(FileNotFoundError, match="no-seeds-here"):
        read_seed_files(missing)


def test_read_seed_files_non_utf8_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "bad.txt").write_bytes("caf\u00e9".encode("cp1252"))
    with pytest.raises(UnicodeDecodeError, match="bad.txt"):
        read_seed_files(tmp_path)


def test_default_seed_dir_holds_the_corpus() -> None:
    names = [s.name for s in read_seed_files(DEFAULT_SEED_DIR)]
    assert names == sorted(names)
    assert {"000_5e03993ef8204055.txt", "003_c639fa3e6c122bf7.txt"} <= set(names)
