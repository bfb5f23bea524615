"""Relevance scoring and the general-feed prefilter, on realistic articles."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from transforms.relevance import DEFAULT_THRESHOLD, entry_looks_relevant, length_in_words, score_article
from transforms.tag import TagMatch, Taxonomy, tag_text

ROOT = Path(__file__).resolve().parents[1]

MEMORY_CHIPS_TITLE = "Lenovo warns of 'prolonged' memory crunch as DRAM prices soar"
MEMORY_CHIPS = """
Lenovo Group, the world's largest personal computer maker, warned on Thursday of a prolonged impact from a
global memory chip shortage after reporting a 21 per cent drop in quarterly profit.

Prices of DRAM and NAND flash have more than doubled since the summer as Samsung Electronics, SK Hynix and
Micron Technology shift production lines to high-bandwidth memory for artificial intelligence servers,
leaving less capacity for the chips used in laptops and smartphones.

"The memory crunch will last longer than the market expected," chairman Yang Yuanqing told analysts in Hong
Kong. He said Lenovo had secured supply for the coming two quarters but would pass part of the higher cost
on to customers, and expected demand for AI-capable PCs to support a rebound in the second half.

Revenue rose 12 per cent to US$18.3 billion, helped by its infrastructure solutions group, which sells
servers to cloud providers in China and the United States. Its mobile business, which includes Motorola,
grew for the sixth straight quarter.

Analysts at Counterpoint Research said contract prices for DRAM could rise another 20 per cent in the first
quarter, squeezing margins across the PC and smartphone industry. Shares in Lenovo fell 4 per cent in Hong
Kong trading.
"""

LITHIUM_TITLE = "Lithium prices slump as Chinese converters cut output"
LITHIUM = """
Lithium carbonate prices in China fell to their lowest level in four years this week as converters in
Jiangsu and Sichuan cut output and battery makers ran down inventories ahead of the Lunar New Year.

Spot lithium carbonate traded at 72,000 yuan a tonne on the Guangzhou Futures Exchange, down 80 per cent
from its 2022 peak, while spodumene concentrate from Australia changed hands below US$800 a tonne.

Albemarle, the largest lithium producer, said it would idle its Kemerton hydroxide plant in Western
Australia, and Pilbara Minerals deferred an expansion at its Pilgangoora mine. In Chile, SQM and Codelco
are still negotiating the terms of their partnership in the Salar de Atacama.

Electric vehicle sales in China rose 30 per cent last year, but the growth has not kept up with the
capacity added by miners and refiners since 2021. Analysts at Benchmark said the market would stay in
surplus until at least 2026, although some warned that mine closures in Australia and Zimbabwe could
tighten supply faster than expected.

"The industry is going through a painful but necessary adjustment," said one executive at a lithium
refining company in Yichun, Jiangxi province. Tesla and BYD have both signed long-term supply contracts
at lower prices this quarter, while battery maker CATL is pushing sodium-ion cells as a cheaper option.
"""

FOOTBALL_TITLE = "Late winner sends City top of the table"
FOOTBALL = """
A stoppage-time header from the captain sent City to the top of the table on Saturday after a tense 2-1
win over their closest rivals at a sold-out stadium.

The visitors took the lead through a deflected free kick midway through the first half and defended
deep for long spells, but City equalised from the penalty spot after the hour when the goalkeeper
brought down the substitute winger.

With the match heading for a draw, the captain rose highest at a corner in the 94th minute to send the
home crowd into raptures. "We never stopped believing," the manager said afterwards. "The players showed
real character today, and the supporters pushed us over the line."

City travel to Newcastle on Wednesday before a cup tie next weekend.
"""

OIL_TITLE = "Oil climbs as OPEC+ signals longer cuts and China demand firms"
OIL = """
Oil prices rose for a third straight session on Tuesday after delegates said OPEC+ was leaning towards
extending its output cuts into the second half of the year, while fresh data pointed to firmer demand in
China, the world's largest crude importer.

Brent crude futures for March delivery gained 1.4 per cent to US$83.10 a barrel by 0930 GMT, and US West
Texas Intermediate crude rose 1.5 per cent to US$78.20. Both benchmarks are on course for their biggest
monthly gain since September.

Three delegates from the producer group told reporters that Saudi Arabia and Russia favoured keeping about
2.2 million barrels per day of voluntary cuts in place beyond the end of March, arguing that inventories
in developed economies remained comfortable and that non-OPEC supply, led by the United States, Brazil
and Guyana, would grow strongly again this year.

"The market is looking for reassurance that the group will not flood it with barrels just as demand is
softening in Europe," said an analyst at a Singapore-based brokerage. "The signals from the delegates give
it that reassurance for now."

Chinese customs data published on Monday showed crude imports rose 6 per cent in January from a year
earlier, as refiners bought heavily ahead of the Lunar New Year holiday and new capacity at coastal
plants came on stream. Independent refiners in Shandong province, known as teapots, also took more oil
from Iran and Russia at discounts, traders said, despite tighter scrutiny of the tankers that carry it.

Beijing's wider commodity purchases were also strong. Imports of iron ore, copper concentrate and soybeans
all rose, and traders said stockpiling by state buyers of copper, lithium and rare earths had added to
the sense that the economy was steadier than feared, although property investment kept falling.

In the United States, crude inventories fell by 3.2 million barrels last week, according to figures from
the American Petroleum Institute, more than analysts had expected. Government data due on Wednesday is
forecast to show a smaller draw as refineries return from maintenance and gasoline demand picks up.

The US dollar eased against a basket of currencies, making dollar-priced commodities cheaper for holders
of other currencies. Investors are waiting for the Federal Reserve's policy decision later this week, with
futures markets pricing in the first interest rate cut by May.

Geopolitical risk also supported prices. Attacks on merchant shipping in the Red Sea have forced many
tanker operators to take the longer route around the Cape of Good Hope, adding about ten days to voyages
between the Middle East and Europe and lifting freight rates. Insurers have raised war-risk premiums for
vessels linked to the United States and Britain.

Still, some analysts cautioned that the rally could fade. "Demand growth is slowing, and spare capacity
within OPEC+ is large," a senior energy economist at a European bank said. "If the group starts to unwind
its cuts in the second half, prices could come under pressure again, especially if the US economy cools."

Refining margins in Asia weakened slightly this week as new plants in China and the Middle East added
supply of diesel and jet fuel. Gasoline cracks held up better, supported by seasonal demand.

Elsewhere, natural gas prices in Europe fell to a six-month low as mild weather and high storage levels
eased concerns about winter supply, while coal prices in Asia were little changed.

Traders will also watch the monthly reports from OPEC and the International Energy Agency next week for
any change in their demand forecasts, after the two diverged sharply last year over how quickly the
world's appetite for oil would peak.
"""

RARE_EARTH_SHORT_TITLE = "Lynas wins Pentagon contract for heavy rare earths plant in Texas"
RARE_EARTH_SHORT = """
Lynas Rare Earths has signed an updated contract with the US Department of Defense to build a heavy rare
earths separation plant in Seadrift, Texas. The plant will produce dysprosium and terbium, used in
permanent magnets for defence and electric vehicles, outside China for the first time at scale.
"""

CHINESE_TITLE = "赣州稀土产业加快转型升级"
CHINESE = """
江西省赣州市是全国重要的离子型稀土生产基地，被誉为“稀土王国”。近年来，赣州市坚持把稀土产业作为首位产业，
推动稀土资源开采、冶炼分离、永磁材料和终端应用协同发展。中国稀土集团在赣州设立总部后，当地整合了稀土开采和
分离企业，加强环境治理，严厉打击非法开采。赣州市有关负责人表示，将加快建设稀土永磁电机产业集群，提升氧化镝、
氧化铽等中重稀土产品的附加值，同时完善废旧稀土材料回收体系，推动稀土产业高质量发展。
"""


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    with (ROOT / "config" / "taxonomy.toml").open("rb") as f:
        return Taxonomy.from_dict(tomllib.load(f))


def seed(name: str) -> tuple[str, str]:
    text = (ROOT / "seeds" / name).read_text(encoding="utf-8")
    title, _, body = text.strip().partition("\n")
    return title.strip(), body


@pytest.mark.parametrize("name", ["000_5e03993ef8204055.txt", "003_c639fa3e6c122bf7.txt"])
def test_seed_articles_pass(taxonomy: Taxonomy, name: str) -> None:
    title, body = seed(name)
    result = score_article(taxonomy, title=title, body=body)
    assert result.score >= DEFAULT_THRESHOLD
    assert result.passes()
    assert any("'rare earth'" in reason for reason in result.reasons)


def test_seed_articles_pass_on_body_alone(taxonomy: Taxonomy) -> None:
    for name in ("000_5e03993ef8204055.txt", "003_c639fa3e6c122bf7.txt"):
        _, body = seed(name)
        assert score_article(taxonomy, title="", body=body).score >= DEFAULT_THRESHOLD


@pytest.mark.parametrize(
    ("title", "body"),
    [
        (MEMORY_CHIPS_TITLE, MEMORY_CHIPS),
        (LITHIUM_TITLE, LITHIUM),
        (FOOTBALL_TITLE, FOOTBALL),
    ],
    ids=["memory-chips", "lithium", "football"],
)
def test_off_topic_articles_score_zero(taxonomy: Taxonomy, title: str, body: str) -> None:
    result = score_article(taxonomy, title=title, body=body)
    # Places and topics ("China", "prices", "mining") alone add nothing.
    assert result.score == 0.0
    assert not result.passes()


def test_passing_mention_in_a_long_oil_story_stays_below(taxonomy: Taxonomy) -> None:
    assert 550 <= length_in_words(OIL) <= 700
    assert OIL.count("rare earths") == 1
    result = score_article(taxonomy, title=OIL_TITLE, body=OIL)
    assert 0 < result.score < DEFAULT_THRESHOLD
    assert "'rare earth' x1 in body" in result.reasons


def test_the_same_mention_counts_less_in_a_longer_body(taxonomy: Taxonomy) -> None:
    sentence = "State buyers stockpiled copper, lithium and rare earths. "
    short = score_article(taxonomy, title="", body=sentence)
    padded = score_article(taxonomy, title="", body=sentence + FOOTBALL * 3)  # no taxonomy terms
    assert short.score == pytest.approx(3.0)
    assert padded.score < short.score


def test_short_article_clearly_about_rare_earths_passes(taxonomy: Taxonomy) -> None:
    result = score_article(taxonomy, title=RARE_EARTH_SHORT_TITLE, body=RARE_EARTH_SHORT)
    assert result.score >= 2 * DEFAULT_THRESHOLD
    assert "'rare earth' in title" in result.reasons
    assert "company Lynas x1" in result.reasons


def test_body_alone_of_short_rare_earth_item_passes(taxonomy: Taxonomy) -> None:
    assert score_article(taxonomy, title="", body=RARE_EARTH_SHORT).passes()


def test_chinese_article_about_rare_earths_in_ganzhou_passes(taxonomy: Taxonomy) -> None:
    result = score_article(taxonomy, title=CHINESE_TITLE, body=CHINESE)
    assert result.passes()
    assert result.reasons[0].startswith("'rare earth' x")
    assert score_article(taxonomy, title="", body=CHINESE).passes()


def test_critical_minerals_alone_stays_below(taxonomy: Taxonomy) -> None:
    body = (
        "Ministers agreed a critical minerals partnership covering lithium, cobalt, nickel and graphite. "
        "The critical minerals deal includes price floors, and critical minerals stockpiles will grow. "
    ) * 3
    assert not score_article(taxonomy, title="Critical minerals pact signed", body=body).passes()


def test_weak_evidence_is_capped_by_strong_evidence(taxonomy: Taxonomy) -> None:
    body = "China mining prices tariffs magnets recycling Malaysia Australia Japan Myanmar. " * 5
    assert score_article(taxonomy, title="", body=body).score == 0.0
    with_one = score_article(taxonomy, title="", body=body + " Rare earths.")
    assert with_one.score == pytest.approx(3.0 * 1.5)
    assert any("capped" in reason for reason in with_one.reasons)


def test_tags_given_or_not_give_the_same_score(taxonomy: Taxonomy) -> None:
    title, body = seed("003_c639fa3e6c122bf7.txt")
    tags = tag_text(taxonomy, body, title=title)
    assert score_article(taxonomy, title=title, body=body, tags=tags) == score_article(taxonomy, title=title, body=body)


def test_tags_given_replace_the_tag_counts(taxonomy: Taxonomy) -> None:
    bare = score_article(taxonomy, title="", body="Rare earths.", tags=[])
    more = score_article(taxonomy, title="", body="Rare earths.", tags=[TagMatch("element", "neodymium", 4)])
    assert more.score > bare.score
    assert "element neodymium x4" in more.reasons


def test_empty_article_scores_zero(taxonomy: Taxonomy) -> None:
    result = score_article(taxonomy, title="", body="")
    assert result.score == 0.0
    assert result.reasons == ("no rare-earth term",)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        ("China tightens export rules", "Beijing adds rare-earth technologies to its export control list."),
        ("Lynas shares jump", "Quarterly sales beat forecasts."),
        ("Magnet makers scramble", "Dysprosium shortages hit Japanese factories."),
        ("中国加强出口管制", "涉及稀土开采和分离技术。"),
        ("Miners eye new rules", "A critical minerals deal is near."),
    ],
)
def test_prefilter_admits_entries_with_a_core_phrase_element_or_company(
    taxonomy: Taxonomy, title: str, summary: str
) -> None:
    assert entry_looks_relevant(taxonomy, title=title, summary=summary)


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        (MEMORY_CHIPS_TITLE, "Lenovo's profit fell 21 per cent as DRAM prices rose in China."),
        (LITHIUM_TITLE, "Mining in Australia and refining in China face export tariffs."),
        (FOOTBALL_TITLE, "A late header wins it."),
        ("Solvay results", "The chemicals group raised its dividend."),
        ("Class Y shares rise", "Er, the market rose."),
    ],
)
def test_prefilter_rejects_entries_with_only_places_topics_or_side_businesses(
    taxonomy: Taxonomy, title: str, summary: str
) -> None:
    assert not entry_looks_relevant(taxonomy, title=title, summary=summary)


def test_length_counts_chinese_characters_as_half_words() -> None:
    assert length_in_words("rare earths in Ganzhou") == 4
    assert length_in_words("稀土产业") == 2
