"""Site templates (transforms/templates.py): learned from a site's pages alone, then used to drop boilerplate.

The pages are a small made-up site whose every article ends with the same company boilerplate inside the
article container, where trafilatura keeps it.
"""

from __future__ import annotations

from dataclasses import replace

from transforms.blocks import Block
from transforms.extract import extract_article
from transforms.templates import (
    DECAY,
    FORGET_BELOW,
    SiteTemplate,
    block_key,
    drop_template_blocks,
    learn_template,
    template_site,
)

ABOUT = (
    "About Acme Metals: Acme Metals is a rare earth separation company headquartered in Perth with plants in"
    " Malaysia and Texas. It employs around {staff} people in {countries} countries."
)
STORIES = [
    [
        "Acme Metals said on Monday it had started commissioning its heavy rare earth circuit in Texas.",
        "The plant will separate dysprosium and terbium from mixed carbonate shipped from Western Australia.",
        "First product is expected in the third quarter, the company told the exchange.",
    ],
    [
        "Acme Metals signed a supply agreement with a Japanese magnet maker for neodymium oxide.",
        "Deliveries start next year and run for five years, with prices linked to the Asian market.",
        "The deal follows a similar agreement with a German carmaker announced in March.",
    ],
    [
        "Acme Metals cut its production guidance after heavy rain flooded the access road to its mine.",
        "The company said trucks would resume within two weeks and that stockpiles cover customer orders.",
        "Shares fell 6% in early trading in Sydney before recovering some of the losses.",
    ],
    [
        "Acme Metals will build a magnet recycling line beside its Malaysian plant, the company said.",
        "The line will take swarf and end-of-life motors and return the rare earths to separation.",
        "Construction starts in January and the line should run by the end of next year.",
    ],
]


def site_page(story: list[str], *, staff: int = 1300, countries: int = 15) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in story)
    about = ABOUT.format(staff=staff, countries=countries)
    return f"""<html><head><title>{story[0][:40]}</title></head><body>
    <article><h1>{story[0][:40]}</h1>{paragraphs}<p>{about}</p></article></body></html>""".encode()


def url(i: int) -> str:
    return f"https://www.acme-news.example/story-{i}"


def learned(*pages: bytes) -> SiteTemplate:
    template = None
    for i, page in enumerate(pages):
        template = learn_template(template, extract_article(page, url=url(i), template=template).block_keys)
    assert template is not None
    return template


def test_boilerplate_seen_on_earlier_pages_of_the_site_is_dropped() -> None:
    template = learned(site_page(STORIES[0]), site_page(STORIES[1]))
    # the boilerplate's figures changed since: the key looks at the start of a block only
    article = extract_article(site_page(STORIES[2], staff=1400, countries=18), url=url(2), template=template)
    assert "About Acme Metals" not in article.body_text
    assert article.body_text.split("\n\n") == STORIES[2]


def test_without_a_template_the_boilerplate_stays() -> None:
    assert "About Acme Metals" in extract_article(site_page(STORIES[2]), url=url(2)).body_text


def test_one_earlier_page_is_not_enough() -> None:
    template = learned(site_page(STORIES[0]))
    assert "About Acme Metals" in extract_article(site_page(STORIES[1]), url=url(1), template=template).body_text


def test_block_keys_are_those_before_the_template_is_applied() -> None:
    # so the boilerplate keeps its weight while the template removes it, and does not flicker back
    template = learned(site_page(STORIES[0]), site_page(STORIES[1]))
    article = extract_article(site_page(STORIES[2]), url=url(2), template=template)
    assert block_key(ABOUT.format(staff=1300, countries=15)) in article.block_keys
    assert template.is_boilerplate(block_key(ABOUT))
    again = learn_template(template, article.block_keys)
    assert again.weights[block_key(ABOUT) or ""] > template.weights[block_key(ABOUT) or ""]


def test_fetching_the_same_story_twice_does_not_make_it_boilerplate() -> None:
    page = site_page(STORIES[0])
    template = learned(page, page, page)
    assert template.pages == 1.0  # the copies taught nothing
    assert extract_article(page, url=url(9), template=template).body_text.split("\n\n")[:3] == STORIES[0]


def test_a_copy_is_recognised_among_boilerplate_already_known() -> None:
    template = learned(*(site_page(story) for story in STORIES[:3]))
    before = template.pages
    copy = extract_article(site_page(STORIES[1]), url=url(7), template=template)
    assert learn_template(template, copy.block_keys).pages == before


def test_template_never_removes_most_of_a_page() -> None:
    blocks = [Block("p", text) for text in STORIES[0]]
    keys = [block_key(b.text) or "" for b in blocks]
    template = SiteTemplate(pages=2.0, weights=dict.fromkeys(keys, 2.0))
    assert drop_template_blocks(blocks, template) == blocks
    assert drop_template_blocks(blocks, None) == blocks


def test_weights_decay_and_forgotten_blocks_are_dropped_from_the_template() -> None:
    template = learn_template(None, ["old"])
    for i in range(200):
        template = learn_template(template, [f"page-{i}-a", f"page-{i}-b"])
    assert "old" not in template.weights  # 0.98**200 is below FORGET_BELOW
    assert DECAY**200 < FORGET_BELOW
    assert template.pages < 1 / (1 - DECAY) + 1  # the decayed page count converges: about the last 50 pages
    assert len(template.weights) <= 2 * 35  # singletons are remembered for about 34 pages


def test_share_threshold_on_a_big_site() -> None:
    # seen on two of the last fifty pages: a repeated quote, not the site's template
    template = SiteTemplate(pages=50.0, weights={"quote": 2.0, "footer": 40.0})
    assert not template.is_boilerplate("quote")
    assert template.is_boilerplate("footer")
    assert not template.is_boilerplate(None)
    assert not template.is_boilerplate("unknown")


def test_json_round_trip_and_bad_data_starts_afresh() -> None:
    template = learned(site_page(STORIES[0]), site_page(STORIES[1]))
    loaded = SiteTemplate.from_json(template.to_json())
    assert loaded == template
    assert loaded.is_boilerplate(block_key(ABOUT))
    assert SiteTemplate.from_json(template.to_json().encode()) == template
    for bad in ("", "not json", "[]", '{"format": 99, "pages": 1, "weights": {}}', '{"format": 1}'):
        assert SiteTemplate.from_json(bad) == SiteTemplate()


def test_thresholds_are_policy_not_stored_data() -> None:
    template = replace(learned(site_page(STORIES[0])), min_weight=1.0)
    assert template.is_boilerplate(block_key(ABOUT))
    assert not SiteTemplate.from_json(template.to_json()).is_boilerplate(block_key(ABOUT))
    assert learn_template(template, ["x"]).min_weight == 1.0


def test_block_key_ignores_case_spacing_and_punctuation_but_not_words() -> None:
    assert block_key("About Acme Metals:  ACME is...") == block_key("about acme metals — acme is")
    assert block_key("About Acme Metals") != block_key("About Beta Metals")
    assert block_key(" — ") is None
    assert block_key("稀土产业网版权所有") == block_key("稀土产业网 版权所有")


def test_template_site_is_the_host_without_www() -> None:
    assert template_site("https://www.Mining.com/a?b=1") == "mining.com"
    assert template_site("https://news.mining.com/a") == "news.mining.com"
