"""Taxonomy loading and tagging against config/taxonomy.toml."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from transforms.tag import TagMatch, Taxonomy, tag_text

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "000_5e03993ef8204055.txt"

ELEMENTS = [
    "scandium",
    "yttrium",
    "lanthanum",
    "cerium",
    "praseodymium",
    "neodymium",
    "promethium",
    "samarium",
    "europium",
    "gadolinium",
    "terbium",
    "dysprosium",
    "holmium",
    "erbium",
    "thulium",
    "ytterbium",
    "lutetium",
]


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    with (ROOT / "config" / "taxonomy.toml").open("rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def taxonomy(data: dict[str, Any]) -> Taxonomy:
    return Taxonomy.from_dict(data)


def tags(taxonomy: Taxonomy, text: str, title: str = "") -> dict[tuple[str, str], int]:
    return {(m.kind, m.name): m.mentions for m in tag_text(taxonomy, text, title=title)}


def core(taxonomy: Taxonomy, text: str) -> dict[str, int]:
    return {t.name: n for t, n in taxonomy.mentions(text).items() if t.kind == "core"}


def test_taxonomy_has_all_seventeen_rare_earth_elements(taxonomy: Taxonomy) -> None:
    names = sorted(t.name for t in taxonomy.terms if t.kind == "element")
    assert names == sorted(ELEMENTS)


def test_capital_y_and_er_are_not_yttrium_or_erbium(taxonomy: Taxonomy) -> None:
    text = (
        "Er, the minister said, Class Y shares rose. Plot Y against X. ER doctors and Dr. Er Wei met. "
        "Nd, Pr, Dy and Tb are symbols; so is La in La Rochelle and Ce in CE marking. Sm. Eu. Gd."
    )
    found = tags(taxonomy, text)
    assert not [key for key in found if key[0] == "element"]


def test_element_names_match_whatever_the_case(taxonomy: Taxonomy) -> None:
    found = tags(taxonomy, "Yttrium and ERBIUM prices; yttrium oxide; erbium-doped fibre.")
    assert found[("element", "yttrium")] == 2
    assert found[("element", "erbium")] == 2


@pytest.mark.parametrize("pattern", ["Y", "Er", "Nd", "Dy"])
def test_bare_element_symbols_are_rejected_at_load(data: dict[str, Any], pattern: str) -> None:
    bad = copy.deepcopy(data)
    bad["term"][0]["case_sensitive_patterns"] = [pattern]
    with pytest.raises(ValueError, match="bare element symbol"):
        Taxonomy.from_dict(bad)


def test_short_case_insensitive_pattern_is_rejected(taxonomy: Taxonomy) -> None:
    extra = {"term": [{"kind": "place", "name": "United States", "patterns": ["us"]}]}
    with pytest.raises(ValueError, match="case_sensitive_patterns"):
        taxonomy.merged(extra)


def test_ndfeb_and_nd_pr_forms(taxonomy: Taxonomy) -> None:
    text = (
        "NdFeB magnet output rose. Nd-Pr oxide and NdPr metal, Pr-Nd and PrNd alloys, Nd–Pr (en dash). "
        "Didymium is the old name. Sintered Nd-Fe-B. SmCo magnets are for heat."
    )
    found = tags(taxonomy, text)
    assert found[("element", "neodymium")] == 8  # NdFeB, 5 x NdPr forms, didymium, Nd-Fe-B
    assert found[("element", "praseodymium")] == 6  # 5 x NdPr forms, didymium
    assert found[("element", "samarium")] == 1
    assert found[("topic", "magnets")] == 2


def test_compounds_are_case_sensitive(taxonomy: Taxonomy) -> None:
    assert ("element", "neodymium") not in tags(taxonomy, "ndfeb NDPR nd-pr")


def test_case_sensitive_company_and_acronym(taxonomy: Taxonomy) -> None:
    text = "MP Materials and Energy Fuels. Also mp materials, energy fuels for plants, and Ree Drummond."
    found = tags(taxonomy, text)
    assert found[("company", "MP Materials")] == 1
    assert found[("company", "Energy Fuels")] == 1
    assert core(taxonomy, "REE and REEs in the deposit; ree is not") == {"REE": 2}


def test_us_only_in_capitals(taxonomy: Taxonomy) -> None:
    found = tags(taxonomy, "Let us see. The US and the U.S. and the United States.")
    assert found[("place", "United States")] == 3


def test_case_insensitive_names_are_word_bounded(taxonomy: Taxonomy) -> None:
    text = "LYNAS, lynas and Lynas; not Lynasx or xLynas or Lynas_x, nor Chinatown or Indochina."
    found = tags(taxonomy, text)
    assert found[("company", "Lynas")] == 3
    assert ("place", "China") not in found


def test_hyphen_and_space_variants_of_rare_earth(taxonomy: Taxonomy) -> None:
    text = "rare-earth, rare earth, Rare Earths, RARE-EARTHS, rare\u2013earth, rare  earth, rare\nearths; rareearth"
    assert core(taxonomy, text) == {"rare earth": 7}


def test_mentions_count_title_and_body(taxonomy: Taxonomy) -> None:
    text = "Lynas said its Malaysian plant... Lynas shares rose."
    found = tags(taxonomy, text, title="Lynas beats forecast")
    assert found[("company", "Lynas")] == 3
    assert found[("place", "Malaysia")] == 1


def test_results_are_sorted_by_kind_then_most_mentioned(taxonomy: Taxonomy) -> None:
    text = "Baotou, Baotou, Baotou and China. Lynas and MP Materials, MP Materials. Dysprosium and terbium."
    result = tag_text(taxonomy, text)
    assert [m.kind for m in result] == sorted(m.kind for m in result)
    places = [m for m in result if m.kind == "place"]
    assert places == [TagMatch("place", "Baotou", 3), TagMatch("place", "China", 1)]
    companies = [m.name for m in result if m.kind == "company"]
    assert companies == ["MP Materials", "Lynas"]


def test_longest_match_wins(taxonomy: Taxonomy) -> None:
    text = "China Northern Rare Earth raised prices."
    found = tags(taxonomy, text)
    assert found[("company", "China Northern Rare Earth")] == 1
    assert ("place", "China") not in found
    assert core(taxonomy, text) == {}


def test_exclusion_phrase_does_not_count(taxonomy: Taxonomy) -> None:
    found = tags(taxonomy, "Patrols in the Arafura Sea. Separately, Arafura said Nolans is funded.")
    assert found[("company", "Arafura Rare Earths")] == 1


def test_chinese_terms_match_without_word_boundaries(taxonomy: Taxonomy) -> None:
    text = "中国稀土集团在江西赣州扩大氧化镝和镨钕产能，北方稀土在内蒙古包头提高价格。出口管制影响永磁企业。"
    found = tags(taxonomy, text)
    assert found[("company", "China Rare Earth Group")] == 1
    assert found[("company", "China Northern Rare Earth")] == 1
    assert found[("place", "Jiangxi")] == 1
    assert found[("place", "Ganzhou")] == 1
    assert found[("place", "Inner Mongolia")] == 1
    assert found[("place", "Baotou")] == 1
    assert found[("element", "dysprosium")] == 1
    assert found[("element", "neodymium")] == 1
    assert found[("element", "praseodymium")] == 1
    assert found[("topic", "export controls and trade")] == 1
    assert found[("topic", "magnets")] == 1
    assert core(taxonomy, "稀土行业") == {"rare earth": 1}


def test_latin_name_inside_chinese_text(taxonomy: Taxonomy) -> None:
    found = tags(taxonomy, "澳大利亚Lynas公司与MP Materials合作")
    assert found[("company", "Lynas")] == 1
    assert found[("company", "MP Materials")] == 1
    assert found[("place", "Australia")] == 1


def test_full_width_forms_are_normalised(taxonomy: Taxonomy) -> None:
    assert tags(taxonomy, "ＮｄＦｅＢ磁体")[("element", "neodymium")] == 1


def test_user_added_term_via_merged(taxonomy: Taxonomy) -> None:
    text = "Baogang said Lynas Malaysia shipped. 莱纳斯稀土 expanded."
    extra = {
        "term": [
            {"kind": "company", "name": "Baotou Steel", "patterns": ["Baogang", "包钢"]},
            {"kind": "company", "name": "Lynas", "patterns": ["Lynas Malaysia"]},
        ]
    }
    merged = taxonomy.merged(extra)
    found = tags(merged, text)
    assert found[("company", "Baotou Steel")] == 1
    assert found[("company", "Lynas")] == 2
    assert ("place", "Malaysia") not in found  # "Lynas Malaysia" is now one company mention
    assert ("company", "Baotou Steel") not in tags(taxonomy, text)  # the original is unchanged
    assert merged.version != taxonomy.version
    lynas = [t for t in merged.terms if t.name == "Lynas"]
    assert len(lynas) == 1 and "Lynas Malaysia" in lynas[0].patterns


def test_version_is_a_content_hash(data: dict[str, Any], taxonomy: Taxonomy) -> None:
    assert Taxonomy.from_dict(copy.deepcopy(data)).version == taxonomy.version
    shuffled = copy.deepcopy(data)
    shuffled["term"][0]["patterns"] = list(reversed(shuffled["term"][0]["patterns"]))
    shuffled["term"] = list(reversed(shuffled["term"]))
    assert Taxonomy.from_dict(shuffled).version == taxonomy.version
    changed = copy.deepcopy(data)
    changed["term"][0]["patterns"].append("scandium metal")
    assert Taxonomy.from_dict(changed).version != taxonomy.version
    assert len(taxonomy.version) == 12


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"version": "1"}, "unknown key"),
        ({"term": {"kind": "place"}}, "array of tables"),
        ({"term": [{"kind": "mineral", "name": "x", "patterns": ["xyz"]}]}, "'kind' must be one of"),
        ({"term": [{"kind": "place", "patterns": ["xyz"]}]}, "'name'"),
        ({"term": [{"kind": "place", "name": "X", "pattern": ["xyz"]}]}, r"unknown key\(s\) pattern"),
        ({"term": [{"kind": "place", "name": "X"}]}, "at least one pattern"),
        ({"term": [{"kind": "place", "name": "X", "patterns": "xyz"}]}, "list of strings"),
        ({"term": [{"kind": "place", "name": "X", "patterns": ["  "]}]}, "empty pattern"),
        ({"term": [{"kind": "place", "name": "X", "patterns": ["xyz"], "weight": "high"}]}, "'weight'"),
        ({"core": [{"name": "rare earth", "patterns": ["rare earth"]}]}, "need a 'weight'"),
        ({"weights": {"mineral": 1.0}}, "unknown kind"),
        (
            {
                "term": [
                    {"kind": "place", "name": "X", "patterns": ["xyz"]},
                    {"kind": "place", "name": "x", "patterns": ["abc"]},
                ]
            },
            "defined twice",
        ),
    ],
)
def test_bad_shapes_raise_clear_errors(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Taxonomy.from_dict(bad)


def test_error_names_the_offending_entry() -> None:
    bad = {"term": [{"kind": "company", "name": "Lynas", "patterns": ["Lynas"], "prefilter": "yes"}]}
    with pytest.raises(ValueError, match=r"\[\[term\]\] #1 \('Lynas'\)"):
        Taxonomy.from_dict(bad)


def test_empty_text_has_no_tags(taxonomy: Taxonomy) -> None:
    assert tag_text(taxonomy, "") == []
    assert tag_text(taxonomy, "   \n") == []
