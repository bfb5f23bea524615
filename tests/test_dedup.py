"""Exact and near-duplicate detection: normalised hashes, MinHash signatures, LSH band keys."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from transforms.dedup import (
    LSH_BANDS,
    NEAR_DUPLICATE_JACCARD,
    NUM_PERM,
    SHINGLE_SIZE,
    band_keys,
    body_sha256,
    estimated_jaccard,
    is_empty_signature,
    minhash_signature,
    normalise_text,
    shingles,
    signature_to_minhash,
)

ROOT = Path(__file__).resolve().parents[1]
TITLE, _, BODY = (ROOT / "seeds" / "000_5e03993ef8204055.txt").read_text(encoding="utf-8").partition("\n")
OTHER_SEED = (ROOT / "seeds" / "003_c639fa3e6c122bf7.txt").read_text(encoding="utf-8")

LYNAS_MAY = """
Lynas Rare Earths said on Tuesday it had produced the first separated heavy rare earths outside China at
its Malaysian plant in Kuantan, a milestone for Western efforts to reduce dependence on Chinese supply.
The company said the dysprosium oxide came from a modified circuit at the Lynas Malaysia facility, and that
terbium would follow within weeks once commissioning was complete. Chief executive Amanda Lacaze told
investors that customers in Japan and the United States had already asked for samples, and that the
volumes would initially be small. Shares rose six per cent in Sydney trading. Analysts said the move
showed the company could respond quickly to Beijing's export controls on heavy rare earths, which have
disrupted magnet makers and carmakers since April, although prices paid for material produced outside
China remained uncertain. Lynas also said work on its Seadrift project in Texas was under review.
"""

LYNAS_JUNE = """
Lynas has agreed to a new supply deal with a Korean magnet manufacturer, according to a filing to the
Australian Securities Exchange, as the miner seeks buyers willing to pay a premium for rare earth oxides
from outside China. Under the memorandum, the South Korean company will take neodymium and praseodymium
from Mount Weld ore processed in Kalgoorlie and Malaysia for a planned plant that will supply electric
vehicle motors. The agreement comes a month after the Australian producer separated its first dysprosium,
and follows talks with Japanese trading houses over long-term offtake. Lynas did not disclose the price,
but said the contract includes a floor designed to protect it from the swings in Chinese quotations that
hit its earnings last year. The company's quarterly report is due later this month, with investors
watching costs at Kalgoorlie, where a new cracking and leaching plant is ramping up.
"""

ZH_STORY = """
江西省赣州市是全国重要的离子型稀土生产基地。近年来，赣州市坚持把稀土产业作为首位产业，推动稀土资源开采、
冶炼分离、永磁材料和终端应用协同发展。中国稀土集团在赣州设立总部后，当地整合了稀土开采和分离企业，加强
环境治理，严厉打击非法开采。赣州市有关负责人表示，将加快建设稀土永磁电机产业集群，提升氧化镝、氧化铽等中
重稀土产品的附加值，同时完善废旧稀土材料回收体系，推动稀土产业高质量发展。
"""

ZH_OTHER = """
内蒙古包头市近日举办稀土产业发展大会，北方稀土发布新一代高性能钕铁硼材料。会议期间，多家企业签署合作协议，
涉及稀土功能材料、储氢合金和抛光粉等领域。包头市表示，将依托白云鄂博资源优势，吸引更多下游企业落户，
打造世界级稀土新材料基地，并推动稀土产品出口结构升级。
"""


def near(a: str, b: str) -> tuple[float, set[int]]:
    sa, sb = minhash_signature(a), minhash_signature(b)
    return estimated_jaccard(sa, sb), set(band_keys(sa)) & set(band_keys(sb))


def true_jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / len(x | y)


def test_same_text_with_other_whitespace_case_and_punctuation_has_the_same_sha() -> None:
    variant = "  " + BODY.upper().replace(" ", "  \n ").replace("\u2019", "'").replace(",", " ,") + "\n\n"
    assert body_sha256(variant) == body_sha256(BODY)
    assert body_sha256(BODY + " extra") != body_sha256(BODY)


def test_unicode_forms_normalise_to_one() -> None:
    assert normalise_text("ＲＡＲＥ—Earth\u00a0Prices!") == "rare earth prices"
    assert normalise_text("稀土，价格。") == "稀土 价格"
    assert body_sha256("Café") == body_sha256("Cafe\u0301")


def test_body_sha256_is_hex_of_normalised_text() -> None:
    assert body_sha256("Rare  Earths!") == hashlib.sha256(b"rare earths").hexdigest()


def test_word_shingles_for_latin_text() -> None:
    result = shingles("One two three four five six seven.")
    assert result == {b"one two three four five", b"two three four five six", b"three four five six seven"}


def test_character_shingles_for_chinese_text() -> None:
    result = shingles("稀土产业加快发展")
    assert len(result) == 8 - SHINGLE_SIZE + 1
    assert "稀 土 产 业 加".encode() in result


def test_short_and_empty_texts() -> None:
    assert shingles("Lynas rose.") == {b"lynas rose"}
    assert shingles("  ...  ") == set()


def test_signature_is_little_endian_uint64_per_permutation_and_stable() -> None:
    signature = minhash_signature(BODY)
    assert len(signature) == NUM_PERM * 8
    assert signature == minhash_signature(BODY)
    # Pins seed, scheme and shingling: if this changes, stored signatures are no longer comparable.
    assert hashlib.sha256(minhash_signature("rare earth prices rise in Ganzhou")).hexdigest()[:16] == (
        "8fb2f38658bc80c8"
    )


@pytest.mark.parametrize(
    "text",
    [BODY, TITLE, "Lynas rose.", "稀土产业加快发展，赣州稀土集团", BODY.upper() + " 2026 dysprosium " * 40, "  ...  "],
)
def test_signature_is_bit_for_bit_datasketchs_affine64_minhash(text: str) -> None:
    from datasketch import MinHash

    reference = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine64")
    reference.update_batch(shingles(text))
    assert minhash_signature(text) == reference.hashvalues.astype("<u8").tobytes()


def test_hashing_a_page_does_not_import_scipy_and_comparing_does_not_import_numpy() -> None:
    # datasketch's package imports SciPy (55 MB a process): the pipeline's workers must not pay for it; the
    # flow process only compares stored signatures, and must not pay for numpy (30 MB) either.
    code = "import sys, flows.ingest, transforms.dedup as d; s = d.minhash_signature; "
    code += "print(d.estimated_jaccard(d._EMPTY_SIGNATURE, d._EMPTY_SIGNATURE), 'numpy' in sys.modules); "
    code += "s('a b c d e f'); print('numpy' in sys.modules, 'scipy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.split("\n")[:2] == ["0.0 False", "True False"]


def test_estimate_matches_datasketch_when_rebuilt_from_stored_bytes() -> None:
    a, b = minhash_signature(BODY), minhash_signature(TITLE + "\n" + BODY + "\nMore paragraphs follow here.")
    assert signature_to_minhash(a).jaccard(signature_to_minhash(b)) == estimated_jaccard(a, b)


@pytest.mark.parametrize(
    "variant",
    [
        "Rare earth sector gets provincial push in Jiangxi\n" + BODY,
        "By Global Times staff reporters | Updated July 10, 2019\n\n" + BODY,
        BODY.replace(
            "Liu noted that the key",
            "Jiangxi holds much of the country's ionic clay deposits, the source of heavy rare earths such "
            "as dysprosium and terbium, which are used in the permanent magnets of electric vehicle motors "
            "and wind turbines. Mining there has long been associated with illegal operations and severe "
            "pollution of rivers and farmland, which the authorities have tried to curb.\n\nLiu noted that "
            "the key",
        ),
        BODY + "\nThis article first appeared in the Global Times. Follow us on WeChat for more news.",
    ],
    ids=["changed-headline", "added-byline", "added-paragraph", "other-boilerplate"],
)
def test_syndicated_variants_are_near_duplicates_and_share_a_band(variant: str) -> None:
    original = TITLE + "\n" + BODY + "\nCopyright Global Times. All rights reserved."
    jaccard, shared = near(original, variant)
    assert jaccard >= NEAR_DUPLICATE_JACCARD
    assert shared
    assert abs(jaccard - true_jaccard(original, variant)) < 0.1


def test_two_different_lynas_stories_are_not_near_duplicates() -> None:
    jaccard, shared = near(LYNAS_MAY, LYNAS_JUNE)
    assert jaccard < 0.5
    assert not shared
    assert true_jaccard(LYNAS_MAY, LYNAS_JUNE) < 0.05


def test_chinese_copies_are_near_duplicates_and_other_chinese_stories_are_not() -> None:
    copy = "（来源：赣南日报）\n" + ZH_STORY + "责任编辑：李明"
    jaccard, shared = near(ZH_STORY, copy)
    assert jaccard >= NEAR_DUPLICATE_JACCARD and shared
    jaccard, shared = near(ZH_STORY, ZH_OTHER)
    assert jaccard < 0.5 and not shared


def test_band_keys_are_signed_64_bit_and_mix_in_the_band_index() -> None:
    keys = band_keys(minhash_signature(BODY))
    assert len(keys) == LSH_BANDS
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert any(key < 0 for key in keys)  # signed, as a Postgres BIGINT needs
    # Identical rows in every band must still give distinct keys, one per band.
    uniform = (7).to_bytes(8, "little") * NUM_PERM
    assert len(set(band_keys(uniform))) == LSH_BANDS


def test_empty_text_has_no_band_keys_and_matches_nothing() -> None:
    empty = minhash_signature("")
    assert is_empty_signature(empty)
    assert band_keys(empty) == []
    assert estimated_jaccard(empty, empty) == 0.0
    assert estimated_jaccard(empty, minhash_signature(BODY)) == 0.0


def test_wrong_signature_length_is_an_error() -> None:
    with pytest.raises(ValueError, match="1024 bytes"):
        estimated_jaccard(b"\x00" * 8, minhash_signature(BODY))
    with pytest.raises(ValueError):
        band_keys(b"")
