"""Score the project's article extractor on the article-extraction benchmark, beside bare trafilatura.

`python bench/eval.py` (or `make eval`) runs both extractors on every page of `bench/extraction/` in one run,
prints precision, recall, F1 and milliseconds per page, and merges the figures into `bench/results.json`
under the "extraction" key (other benchmarks own the other keys of that file).

Scoring follows the benchmark's convention: a text is a multiset of whitespace-separated tokens; per page,
true positives are the overlap of the predicted and the true multisets; precision is averaged over the pages
where something was predicted, recall over the pages that have a ground truth, and F1 is computed from those
two means. The benchmark's own script uses 4-grams of word tokens instead; that figure is reported beside
(`f1_shingle4`) to show a change is not an artefact of one tokenisation.

Ground truth is read by `score` only, after every prediction is made: nothing here tunes the extractor.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/eval.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))

if TYPE_CHECKING:
    from transforms.templates import SiteTemplate

BENCH_DIR = HERE / "extraction"
RESULTS_PATH = HERE / "results.json"
RESULTS_KEY = "extraction"
SHINGLE_N = 4

TpFpFn = tuple[float, float, float]


@dataclass(frozen=True)
class BenchPage:
    id: str
    url: str
    html: bytes  # as fetched (the benchmark's pages are UTF-8)


def load_pages(bench_dir: Path = BENCH_DIR) -> list[BenchPage]:
    """Pages and their URLs; the URL is the only field of the ground-truth file read here."""
    meta = json.loads((bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    return [
        BenchPage(id=page_id, url=meta[page_id]["url"], html=gzip.decompress(path.read_bytes()))
        for page_id in sorted(meta)
        for path in [bench_dir / "html" / f"{page_id}.html.gz"]
    ]


def load_truth(bench_dir: Path = BENCH_DIR) -> dict[str, str]:
    meta = json.loads((bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    return {page_id: item.get("articleBody") or "" for page_id, item in meta.items()}


# ---- scoring -----------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def whitespace_tokens(text: str) -> list[str]:
    return text.split()


def word_shingles(text: str, n: int = SHINGLE_N) -> list[tuple[str, ...]]:
    words = _WORD.findall(text)
    return [tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1)) if words[i : i + n]]


def overlap(true: Iterable[Any], pred: Iterable[Any]) -> TpFpFn:
    """True positives, false positives and false negatives of two multisets."""
    true_counts, pred_counts = Counter(true), Counter(pred)
    tp = sum((true_counts & pred_counts).values())
    return float(tp), float(pred_counts.total() - tp), float(true_counts.total() - tp)


def _precision(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    return 1.0 if fp == fn == 0 else tp / (tp + fn)


def summarize(counts: Sequence[TpFpFn]) -> dict[str, float]:
    """Precision over pages with a prediction, recall over pages with a truth, F1 from the two means."""
    precisions = [_precision(*c) for c in counts if c[0] + c[1] > 0]
    recalls = [_recall(*c) for c in counts if c[0] + c[2] > 0]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def score(truth: dict[str, str], predictions: dict[str, str]) -> dict[str, Any]:
    ids = sorted(predictions)
    tokens = [overlap(whitespace_tokens(truth[i]), whitespace_tokens(predictions[i])) for i in ids]
    shingles = [overlap(word_shingles(truth[i]), word_shingles(predictions[i])) for i in ids]
    figures: dict[str, Any] = summarize(tokens)
    figures["f1_shingle4"] = summarize(shingles)["f1"]
    figures["per_page"] = {i: summarize([c])["f1"] for i, c in zip(ids, tokens, strict=True)}
    return figures


# ---- extractors --------------------------------------------------------------------------------------------

Extractor = Callable[[BenchPage], str]


def ours(page: BenchPage) -> str:
    from transforms.extract import extract_article

    return extract_article(page.html, url=page.url).body_text


def bare_trafilatura(page: BenchPage) -> str:
    import trafilatura

    return trafilatura.extract(page.html.decode("utf-8", errors="replace")) or ""


def leave_one_out_templates(pages: Sequence[BenchPage]) -> dict[str, SiteTemplate]:
    """For each page, the site template learned from the benchmark's other pages of the same site.

    Learned from pages alone (their block keys), never from the ground truth. The benchmark has at most two
    pages per site, so a block counts as the site's boilerplate when the one other page has it
    (min_weight=1); in the pipeline, where a site brings many pages, it takes two (MIN_TEMPLATE_WEIGHT).
    """
    from transforms.extract import extract_article
    from transforms.templates import SiteTemplate, learn_template, template_site

    keys = {page.id: extract_article(page.html, url=page.url).block_keys for page in pages}
    by_site: dict[str, list[str]] = {}
    for page in pages:
        by_site.setdefault(template_site(page.url), []).append(page.id)
    templates: dict[str, SiteTemplate] = {}
    for page in pages:
        template = SiteTemplate(min_weight=1.0)
        for other in by_site[template_site(page.url)]:
            if other != page.id:
                template = learn_template(template, keys[other])
        templates[page.id] = template
    return templates


def with_template(templates: Mapping[str, SiteTemplate]) -> Extractor:
    from transforms.extract import extract_article

    def extract(page: BenchPage) -> str:
        return extract_article(page.html, url=page.url, template=templates[page.id]).body_text

    return extract


def run(
    extractors: Mapping[str, Extractor], pages: Sequence[BenchPage]
) -> dict[str, tuple[dict[str, str], float, float]]:
    """Predictions by page id, and mean CPU and wall-clock milliseconds per page, for each extractor.

    The extractors take turns page by page, so a busy machine slows them alike. CPU time is the figure to
    compare (the extraction is single-threaded; other processes on the machine do not inflate it); wall time
    is shown beside it. One untimed warm-up page each first: imports and caches are not a per-page cost.
    """
    for extractor in extractors.values():
        extractor(pages[0])
    predictions: dict[str, dict[str, str]] = {name: {} for name in extractors}
    cpu = dict.fromkeys(extractors, 0.0)
    wall = dict.fromkeys(extractors, 0.0)
    for page in pages:
        for name, extractor in extractors.items():
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            predictions[name][page.id] = extractor(page)
            cpu[name] += time.process_time() - start_cpu
            wall[name] += time.perf_counter() - start_wall
    n = len(pages)
    return {name: (predictions[name], 1000 * cpu[name] / n, 1000 * wall[name] / n) for name in extractors}


# ---- report ------------------------------------------------------------------------------------------------


def merge_results(path: Path, key: str, figures: dict[str, Any]) -> None:
    """Read-modify-write one key of a results file shared with other benchmarks."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results[key] = figures
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def table(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"{'extractor':<14}{'precision':>10}{'recall':>10}{'F1':>8}{'F1 (4-gram)':>13}"
        f"{'ms/page (CPU)':>15}{'(wall)':>8}"
    ]
    for name, f in rows.items():
        lines.append(
            f"{name:<14}{f['precision']:>10.3f}{f['recall']:>10.3f}{f['f1']:>8.3f}"
            f"{f['f1_shingle4']:>13.3f}{f['ms_per_page']:>15.1f}{f['wall_ms_per_page']:>8.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR)
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    parser.add_argument("--worst", type=int, default=0, help="also list the N pages where ours scores lowest")
    parser.add_argument(
        "--quick", action="store_true", help="skip the site-template row (about a third faster)"
    )
    args = parser.parse_args(argv)

    pages = load_pages(args.bench_dir)
    extractors: dict[str, Extractor] = {
        "ours": ours,
        "trafilatura": bare_trafilatura,
    }
    if not args.quick:
        extractors = {
            "ours": ours,
            "ours+template": with_template(leave_one_out_templates(pages)),
            **extractors,
        }
    predictions = run(extractors, pages)
    truth = load_truth(args.bench_dir)  # read only now, after every prediction is made

    rows: dict[str, dict[str, Any]] = {}
    per_page: dict[str, dict[str, float]] = {}
    for name, (predicted, cpu_ms, wall_ms) in predictions.items():
        figures = score(truth, predicted)
        per_page[name] = figures.pop("per_page")
        rows[name] = {**figures, "ms_per_page": cpu_ms, "wall_ms_per_page": wall_ms}

    print(f"{len(pages)} pages from {args.bench_dir}")
    print(table(rows))
    if args.worst:
        worst = sorted(per_page["ours"].items(), key=lambda item: item[1])[: args.worst]
        for page_id, f1 in worst:
            print(
                f"  {page_id[:12]}  ours F1 {f1:.3f}  trafilatura F1 {per_page['trafilatura'][page_id]:.3f}"
            )

    if not args.no_write:
        from transforms.extract import EXTRACTOR_VERSION

        merge_results(
            args.results,
            RESULTS_KEY,
            {
                "pages": len(pages),
                "metric": "whitespace-token multiset overlap; P and R averaged over pages; F1 of the means",
                "extractor_version": EXTRACTOR_VERSION,
                **{name: {k: round(v, 4) for k, v in f.items()} for name, f in rows.items()},
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
