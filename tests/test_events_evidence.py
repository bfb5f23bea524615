"""Event evidence (transforms/events.py): what coverage of one event shares, read from English and Chinese."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from transforms.events import (
    EventEvidence,
    article_evidence,
    best_event,
    name_keys,
    number_keys,
    score,
)


def test_amounts_read_the_same_from_english_and_chinese() -> None:
    english = number_keys(
        "The A$180 million circuit made 1.5 tonnes at 99.5 per cent purity and can take 1,500 tonnes a year; "
        "prices rose to 600,000 yuan/mt, and the Pentagon pays $110/kg."
    )
    chinese = number_keys("投资1.8亿澳元，首批1.5吨，纯度99.5%，年处理1500吨；价格报60万元/吨，每公斤110美元。")
    expected = {"num:aud:1.8e+08", "num:t:1.5", "num:pct:99.5", "num:t:1500", "num:cny:600000", "num:usd:110"}
    assert expected <= english and expected <= chinese


def test_rounded_and_abbreviated_amounts_are_one_key() -> None:
    assert number_keys("A$1.7 billion") == number_keys("A$1.7-billion") == number_keys("17亿澳元")
    assert number_keys("US$400m") == number_keys("$400 million") == {"num:usd:4e+08"}
    assert number_keys("10,000-ton-a-year plant") == number_keys("10kt plant") == {"num:t:10000"}


def test_numbers_without_units_and_years_are_not_evidence() -> None:
    assert number_keys("In 2025 the 47 projects in 13 member states were listed on April 4.") == set()


def test_names_are_capitalised_runs_outside_the_taxonomy_and_not_sentence_openers() -> None:
    text = (
        "Chief executive Amanda Lacaze said the Department of Defense deal was under review. Shares rose. "
        "Lynas Rare Earths said Seadrift in Texas was paused."
    )
    assert name_keys(text, ["Lynas", "Texas"]) == {
        "name:amanda lacaze",
        "name:department of defense",
        "name:seadrift",
    }


def _evidence(text: str, tags: list[tuple[str, str, int]], language: str = "en") -> object:
    return article_evidence(title=None, body=text, tags=tags, language=language)


def test_an_article_is_scored_against_the_events_own_evidence_with_its_shared_keys() -> None:
    lynas = [("company", "Lynas", 2), ("element", "dysprosium", 1), ("place", "Malaysia", 1)]
    event = EventEvidence()
    first = article_evidence(
        title=None, body="Amanda Lacaze said 1.5 tonnes of 99.5% dysprosium were made.", tags=lynas, language="en"
    )
    event.add(first, datetime(2025, 6, 3, tzinfo=UTC))
    rewrite = article_evidence(
        title=None, body="Lacaze's Lynas made a 1.5-tonne batch at 99.5 per cent.", tags=lynas, language="en"
    )
    match = score(rewrite, event)
    assert {"num:t:1.5", "num:pct:99.5", "company:Lynas"} <= set(match.shared)
    assert best_event(rewrite, datetime(2025, 6, 4, tzinfo=UTC), {7: event}) == (7, match)
    # The same evidence two weeks later is another event.
    assert best_event(rewrite, datetime(2025, 6, 3, tzinfo=UTC) + timedelta(days=14), {7: event}) is None


def test_elements_places_and_topics_alone_never_link_two_articles() -> None:
    market = [
        ("element", "dysprosium", 2),
        ("element", "terbium", 1),
        ("place", "China", 3),
        ("place", "Ganzhou", 1),
        ("place", "Jiangxi", 1),
        ("place", "United States", 1),
        ("topic", "prices", 1),
    ]
    event = EventEvidence()
    event.add(article_evidence(title=None, body="Smelters slowed.", tags=market, language="en"), None)
    other = article_evidence(
        title=None, body="Output was lifted.", tags=[*market, ("company", "Lynas", 1)], language="en"
    )
    assert best_event(other, None, {1: event}) is None


def test_across_languages_only_language_independent_keys_count() -> None:
    tags = [("company", "Lynas", 1), ("element", "dysprosium", 1), ("place", "Malaysia", 1)]
    event = EventEvidence()
    event.add(
        article_evidence(
            title=None,
            body="Chief executive Amanda Lacaze said the A$180 million circuit made 1.5 tonnes at Kuantan.",
            tags=tags,
            language="en",
        ),
        None,
    )
    chinese = article_evidence(title=None, body="莱纳斯投资1.8亿澳元，首批1.5吨。", tags=tags, language="zh")
    match = score(chinese, event)
    assert match.cross_language and not any(key.startswith("name:") for key in match.shared)
    assert best_event(chinese, None, {1: event}) is not None
