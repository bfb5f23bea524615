"""bench/eval.py: the benchmark's scoring convention, and results merged without touching other benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
