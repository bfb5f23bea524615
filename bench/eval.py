"""Score the project's article extractor on the article-extraction benchmark, beside bare trafilatura.

`python bench/eval.py` (or `make eval`) runs both extractors on every page of `bench/extraction/` (the
benchmark's 91 pages) and `bench/extraction/layouts/` (pages of kinds the benchmark lacks, written for this
repository) in one run, prints precision, recall, F1 and milliseconds per page, then the figure that counts:
k-fold cross-validation (bench/crossval.py), where every threshold chosen by score and every site template is
fit on the other folds. On the layout pages it also checks what their ground truth records beside the body:
F1 per page type, known boilerplate lines left in the body, authors, title and date. The figures are merged
into `bench/results.json` under the "extraction" key (other benchmarks own the other keys of that file).

Scoring follows the benchmark's convention: a text is a multiset of whitespace-separated tokens; per page,
true positives are the overlap of the predicted and the true multisets; precision is averaged over the pages
where something was predicted, recall over the pages that have a ground truth, and F1 is computed from those
two means. Chinese and Japanese are written without spaces, so each of their characters is a token of its own
(a whole paragraph would otherwise be one token, right or wrong). The benchmark's own script uses 4-grams of
word tokens instead; that figure is reported beside (`f1_shingle4`) to show a change is not an artefact of one
tokenisation.

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

from bench import crossval  # noqa: E402

if TYPE_CHECKING:
    from transforms.templates import SiteTemplate

BENCH_DIR = HERE / "extraction"
LAYOUTS_SUBDIR = "layouts"
RESULTS_PATH = HERE / "results.json"
RESULTS_KEY = "extraction"
SHINGLE_N = 4

TpFpFn = tuple[float, float, float]


@dataclass(frozen=True)
class BenchPage:
    id: str
    url: str
    html: bytes  # as fetched (the benchmark's pages are UTF-8; the layout pages are in their site's charset)
    group: str = "benchmark"  # or "layouts"
    kind: str = "news"  # the page type of a layout page


def _page_dirs(bench_dir: Path, layouts: bool = True) -> list[tuple[str, Path]]:
    dirs = [("benchmark", bench_dir)]
    if layouts and (bench_dir / LAYOUTS_SUBDIR / "ground-truth.json").exists():
        dirs.append(("layouts", bench_dir / LAYOUTS_SUBDIR))
    return dirs


def load_pages(bench_dir: Path = BENCH_DIR, *, layouts: bool = False) -> list[BenchPage]:
    """Pages, their URLs and page types; no other field of the ground-truth files is read here. The layout
    pages come too with `layouts` (make bench and its peer comparison keep to the benchmark's pages)."""
    pages = []
    for group, directory in _page_dirs(bench_dir, layouts):
        meta = json.loads((directory / "ground-truth.json").read_text(encoding="utf-8"))
        pages += [
            BenchPage(
                id=page_id,
                url=meta[page_id]["url"],
                html=gzip.decompress((directory / "html" / f"{page_id}.html.gz").read_bytes()),
                group=group,
                kind=meta[page_id].get("type", "news"),
            )
            for page_id in sorted(meta)
        ]
    return pages


def load_meta(bench_dir: Path = BENCH_DIR) -> dict[str, dict[str, Any]]:
    """Every page's ground-truth record: `articleBody`, and on the layout pages `title`, `authors`, `date`,
    `type` and `boilerplate` too."""
    meta: dict[str, dict[str, Any]] = {}
    for _, directory in _page_dirs(bench_dir):
        meta.update(json.loads((directory / "ground-truth.json").read_text(encoding="utf-8")))
    return meta


def load_truth(bench_dir: Path = BENCH_DIR) -> dict[str, str]:
    return {page_id: item.get("articleBody") or "" for page_id, item in load_meta(bench_dir).items()}


# ---- scoring -----------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
# Han, kana and hangul syllables: scripts where one character is about a word.
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")


def whitespace_tokens(text: str) -> list[str]:
    """Whitespace-separated tokens; each CJK character a token of its own (padding it with spaces)."""
    if text.isascii():
        return text.split()
    return _CJK_CHAR.sub(r" \g<0> ", text).split()


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

    from transforms.extract import decode_html  # decoding is not trafilatura's job: both get the same text

    return trafilatura.extract(decode_html(page.html)) or ""


def with_templates(templates: Mapping[str, SiteTemplate]) -> Extractor:
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
        f"{'extractor':<24}{'precision':>10}{'recall':>10}{'F1':>8}{'F1 (4-gram)':>13}"
        f"{'ms/page (CPU)':>15}{'(wall)':>8}"
    ]
    for name, f in rows.items():
        lines.append(
            f"{name:<24}{f['precision']:>10.3f}{f['recall']:>10.3f}{f['f1']:>8.3f}"
            f"{f['f1_shingle4']:>13.3f}{f['ms_per_page']:>15.1f}{f['wall_ms_per_page']:>8.1f}"
        )
    return "\n".join(lines)


# ---- the layout pages' other fields ------------------------------------------------------------------------


def layout_checks(
    meta: Mapping[str, Mapping[str, Any]], predictions: Mapping[str, Any], per_page_f1: Mapping[str, float]
) -> dict[str, Any]:
    """What the layout pages' ground truth records beside the body, checked on one prediction per page.

    Per page type, the mean F1; pages where a known boilerplate line of the page is left in the body; authors
    right (exactly the page's authors, in order) on the pages that name one; title and date right.
    """
    from transforms.text import comparable

    by_type: dict[str, list[float]] = {}
    left: dict[str, list[str]] = {}
    authors_right = authors_named = titles_right = dates_right = pages = 0
    wrong: dict[str, list[str]] = {"authors": [], "title": [], "date": []}
    for page_id, item in sorted(meta.items()):
        if "type" not in item or page_id not in predictions:
            continue
        got = predictions[page_id]
        pages += 1
        by_type.setdefault(item["type"], []).append(per_page_f1[page_id])
        body = comparable(got.body)
        # a short line ("广告", "Related Posts") counts when it is a paragraph of its own; a longer one anywhere
        paragraphs = {comparable(p) for p in got.body.split("\n\n")}
        found = [
            line
            for line in item.get("boilerplate", [])
            if (comparable(line) in paragraphs) or (len(comparable(line)) > 12 and comparable(line) in body)
        ]
        if found:
            left[page_id] = found
        if item["authors"]:
            authors_named += 1
            if list(got.authors) == item["authors"]:
                authors_right += 1
            else:
                wrong["authors"].append(f"{page_id}: {list(got.authors)} (truth {item['authors']})")
        if (got.title or "") == item["title"]:
            titles_right += 1
        else:
            wrong["title"].append(f"{page_id}: {got.title!r}")
        if got.date == item["date"]:
            dates_right += 1
        else:
            wrong["date"].append(f"{page_id}: {got.date} (truth {item['date']})")
    return {
        "pages": pages,
        "f1_by_type": {kind: statistics.fmean(f1s) for kind, f1s in sorted(by_type.items())},
        "pages_with_boilerplate_left": len(left),
        "boilerplate_left": left,
        "authors_right": authors_right,
        "pages_naming_authors": authors_named,
        "titles_right": titles_right,
        "dates_right": dates_right,
        "wrong": wrong,
    }


def print_layout_checks(checks: Mapping[str, Any], label: str) -> None:
    print(f"layout pages ({checks['pages']}), {label}:")
    for kind, f1 in checks["f1_by_type"].items():
        print(f"  {kind:<20} F1 {f1:.3f}")
    named = checks["pages_naming_authors"]
    print(
        f"  boilerplate left on {checks['pages_with_boilerplate_left']} pages; authors right on"
        f" {checks['authors_right']}/{named} ({checks['authors_right'] / max(1, named):.0%}) pages that name one;"
        f" titles {checks['titles_right']}/{checks['pages']}; dates {checks['dates_right']}/{checks['pages']}"
    )
    for page_id, lines in checks["boilerplate_left"].items():
        print(f"    left on {page_id}: {lines}")
    for what, items in checks["wrong"].items():
        for item in items:
            print(f"    {what} wrong: {item}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR)
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    parser.add_argument("--worst", type=int, default=0, help="also list the N pages where ours scores lowest")
    parser.add_argument(
        "--quick", action="store_true", help="whole-set scores only: no site templates, no cross-validation"
    )
    parser.add_argument("--folds", type=int, default=crossval.FOLDS, help="folds of the cross-validation")
    args = parser.parse_args(argv)

    pages = load_pages(args.bench_dir, layouts=True)
    extractors: dict[str, Extractor] = {"ours": ours, "trafilatura": bare_trafilatura}
    predictions = run(extractors, pages)
    meta = load_meta(args.bench_dir)  # read only now, after every prediction is made
    truth = {page_id: item.get("articleBody") or "" for page_id, item in meta.items()}

    groups = {"all": [p.id for p in pages]}
    for page in pages:
        groups.setdefault(page.group, []).append(page.id)
    rows: dict[str, dict[str, Any]] = {}
    per_page: dict[str, dict[str, float]] = {}
    for name, (predicted, cpu_ms, wall_ms) in predictions.items():
        for group, ids in groups.items():
            figures = score(truth, {i: predicted[i] for i in ids})
            per_page.setdefault(name, {}).update(figures.pop("per_page"))
            rows[f"{name} {group}"] = {**figures, "ms_per_page": cpu_ms, "wall_ms_per_page": wall_ms}

    print(
        f"{len(groups['benchmark'])} benchmark pages from {args.bench_dir}, {len(pages) - len(groups['benchmark'])}"
        f" layout pages from {args.bench_dir / LAYOUTS_SUBDIR}; whole set, nothing fit:"
    )
    print(table(rows))
    if args.worst:
        worst = sorted(per_page["ours"].items(), key=lambda item: item[1])[: args.worst]
        for page_id, f1 in worst:
            print(f"  {page_id[:40]:<40}  ours F1 {f1:.3f}  trafilatura F1 {per_page['trafilatura'][page_id]:.3f}")

    results: dict[str, Any] = {
        "pages": len(pages),
        "metric": "whitespace-token multiset overlap (CJK: a token per character); P and R averaged over pages;"
        " F1 of the means",
        **{name: {k: round(v, 4) for k, v in f.items()} for name, f in rows.items()},
    }
    layout_meta = {i: m for i, m in meta.items() if "type" in m}
    if args.quick:
        # whole-set predictions, nothing templated: a quick look at the layout pages
        quick = {i: crossval.extract(p) for p in pages if (i := p.id) in layout_meta}
        print_layout_checks(layout_checks(layout_meta, quick, per_page["ours"]), "ours, whole set")
    else:
        cv = crossval.cross_validate(pages, truth, score, k=args.folds)
        print(f"\n{cv.folds}-fold cross-validation (thresholds and site templates fit on the other folds):")
        print(f"{'extractor':<16}{'whole set':>10}{'held out':>10}   held-out folds")
        for name in cv.held_out:
            folds = " ".join(f"{f:.3f}" for f in cv.held_out[name])
            print(f"{name:<16}{cv.whole_set[name]:>10.3f}{cv.mean(name):>10.3f}   {folds}")
        print(f"  thresholds chosen per fold: {'; '.join(dict.fromkeys(cv.chosen))} (whole set: {cv.whole_set_config})")
        held = {}
        for name, extracted in cv.predictions.items():
            for group, ids in groups.items():
                figures = score(truth, {i: extracted[i].body for i in ids})
                held[f"{name} {group}"] = figures
                print(f"  held out, pooled, {name + ' ' + group:<26} F1 {figures['f1']:.3f}")
        checks = layout_checks(layout_meta, cv.predictions["ours"], held["ours layouts"]["per_page"])
        print_layout_checks(checks, "ours, held out (no site template)")
        checks_t = layout_checks(
            layout_meta, cv.predictions["ours+template"], held["ours+template layouts"]["per_page"]
        )
        print_layout_checks(checks_t, "ours+template, held out")
        results["cross_validated"] = {
            "folds": cv.folds,
            **{
                name: {"whole_set_f1": round(cv.whole_set[name], 4), "held_out_f1": round(cv.mean(name), 4)}
                for name in cv.held_out
            },
            "chosen": cv.chosen,
            **{f"pooled {k}": round(v["f1"], 4) for k, v in held.items()},
        }
        results["layouts"] = {
            label: {k: v for k, v in c.items() if k not in {"boilerplate_left", "wrong"}}
            for label, c in (("held_out", checks), ("held_out_template", checks_t))
        }

    if not args.no_write:
        from transforms.extract import EXTRACTOR_VERSION

        merge_results(args.results, RESULTS_KEY, {"extractor_version": EXTRACTOR_VERSION, **results})
    # Event stories have their own labelled set and scorer (bench/events.py); figures under "events".
    from bench import events as event_stories

    print("\nevent stories (bench/events/):")
    return event_stories.main(["eval", *(["--no-write"] if args.no_write else [])])


if __name__ == "__main__":
    sys.exit(main())
