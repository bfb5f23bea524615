"""bench/eval.py and bench/crossval.py: the benchmark's scoring convention, results merged without touching
other benchmarks, and cross-validation that fits nothing on the pages it scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.crossval import Tunable, assign_folds, configured, grid, templates_from
from bench.eval import merge_results, overlap, score, summarize, whitespace_tokens


def test_overlap_is_a_multiset_intersection_of_whitespace_tokens() -> None:
    truth = whitespace_tokens("the cat sat on the mat")
    assert overlap(truth, whitespace_tokens("the the the cat")) == (3.0, 1.0, 3.0)
    assert overlap(truth, []) == (0.0, 0.0, 6.0)


def test_precision_and_recall_are_averaged_over_pages_and_f1_comes_from_the_means() -> None:
    pages = [(1.0, 1.0, 0.0), (1.0, 0.0, 3.0)]  # P 0.5 R 1.0; P 1.0 R 0.25
    figures = summarize(pages)
    assert figures["precision"] == pytest.approx(0.75)
    assert figures["recall"] == pytest.approx(0.625)
    assert figures["f1"] == pytest.approx(2 * 0.75 * 0.625 / 1.375)


def test_a_page_with_no_prediction_costs_recall_but_has_no_precision() -> None:
    figures = summarize([(2.0, 0.0, 0.0), (0.0, 0.0, 5.0)])
    assert figures["precision"] == 1.0
    assert figures["recall"] == 0.5


def test_score_reports_each_page_and_the_shingle_f1() -> None:
    truth = {"a": "one two three four five", "b": "six seven"}
    figures = score(truth, {"a": "one two three four five", "b": ""})
    assert figures["per_page"] == {"a": 1.0, "b": 0.0}
    assert figures["f1_shingle4"] == pytest.approx(figures["f1"])


def test_results_are_merged_under_their_key(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"ingest": {"pages_per_second": 12}}))
    merge_results(results, "extraction", {"ours": {"f1": 0.98}})
    merge_results(results, "extraction", {"ours": {"f1": 0.99}})
    assert json.loads(results.read_text()) == {
        "ingest": {"pages_per_second": 12},
        "extraction": {"ours": {"f1": 0.99}},
    }


def test_cjk_characters_are_tokens_of_their_own() -> None:
    assert whitespace_tokens("稀土 prices rose，价格上涨") == ["稀", "土", "prices", "rose，", "价", "格", "上", "涨"]
    assert whitespace_tokens("plain ascii text") == ["plain", "ascii", "text"]


@dataclass
class FakePage:
    id: str
    url: str
    html: bytes = b""
    group: str = "layouts"
    kind: str = "news"


def test_folds_spread_every_page_type_and_hold_each_page_once() -> None:
    pages = [FakePage(f"{kind}-{i}", f"https://{kind}.example/{i}", kind=kind) for kind in "ab" for i in range(5)]
    folds = assign_folds(pages, k=5)
    assert sorted(folds) == sorted(p.id for p in pages)
    for fold in range(5):
        assert {p.kind for p in pages if folds[p.id] == fold} == {"a", "b"}


def test_a_configuration_is_applied_and_then_restored() -> None:
    import transforms.blocks as blocks

    before = blocks.INTERNAL_LINK_SHARE
    config = grid([Tunable("transforms.blocks", "INTERNAL_LINK_SHARE", (0.55, 0.65))])
    assert len(config) == 2
    with configured(config[0]):
        assert blocks.INTERNAL_LINK_SHARE == 0.55
    assert before == blocks.INTERNAL_LINK_SHARE


def test_a_held_out_page_learns_its_template_from_its_sites_other_pages_only() -> None:
    pages = [FakePage(f"p{i}", f"https://site.example/{i}") for i in range(3)] + [
        FakePage("other", "https://elsewhere.example/1")
    ]
    keys = {"p0": ("boiler", "a"), "p1": ("boiler", "b"), "p2": ("boiler", "c"), "other": ("boiler", "z")}
    train = [p for p in pages if p.id != "p2"]
    templates = templates_from(train, keys, [pages[2]])
    assert templates["p2"].is_boilerplate("boiler")
    assert not templates["p2"].is_boilerplate("c")  # its own blocks were never seen
    assert set(templates["p2"].weights) == {"boiler", "a", "b"}  # p0 and p1: not itself, not the other site
