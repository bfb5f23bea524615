"""A peer on the same work: newspaper4k downloading and parsing the news web's article URLs, and its F1.

- Speed: `newspaper.Article(url).download()` then `.parse()` for the same article URLs the ingest fetched,
  on the same number of processes, warmed up first (imports are not counted).
- Quality: `download(input_html=...)` and `parse()` on every benchmark page, scored exactly as bench/eval.py
  scores our extractor (whitespace tokens, multiset overlap per page, P and R averaged over pages, F1 from
  the means), beside our figure from the same scorer.

newspaper4k is a dev-only dependency. It is kept off the network: tldextract (which it uses for domains)
would fetch the public suffix list on first use; an empty `TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS` makes it use
the snapshot it ships, and its cache goes to a temporary directory.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def offline_newspaper() -> Any:
    """Import newspaper with no way to reach the network at import or parse time."""
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    os.environ.setdefault("TLDEXTRACT_CACHE", os.path.join(tempfile.gettempdir(), "bench-tldextract"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "nltk is not installed": only its NLP features need it
        import newspaper
    return newspaper


def version() -> str | None:
    try:
        from importlib.metadata import version as package_version

        return package_version("newspaper4k")
    except Exception:  # noqa: BLE001 - any failure means "not installed"
        return None


def _init() -> None:
    offline_newspaper()


def _download_and_parse(url: str) -> int:
    newspaper = offline_newspaper()
    article = newspaper.Article(url, fetch_images=False, request_timeout=20)
    article.download()
    article.parse()
    return len(article.text)


def _warm(url: str) -> int:
    _download_and_parse(url)
    time.sleep(0.2)  # hold this worker so the others get a warm-up call of their own
    return 0


def measure_speed(urls: list[str], workers: int) -> dict[str, Any]:
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init) as pool:
        list(pool.map(_warm, urls[:workers]))
        chunksize = max(1, len(urls) // (workers * 4))
        started = time.perf_counter()
        lengths = list(pool.map(_download_and_parse, urls, chunksize=chunksize))
        elapsed = time.perf_counter() - started
    return {
        "articles": len(urls),
        "workers": workers,
        "seconds": round(elapsed, 3),
        "articles_per_s": round(len(urls) / elapsed, 2),
        "empty": sum(1 for length in lengths if length == 0),
    }


def measure_quality(pages_dir: Path) -> dict[str, Any]:
    """newspaper4k's and our F1 on the benchmark pages, with bench/eval.py's loader and scorer."""
    from bench import eval as extraction_eval

    newspaper = offline_newspaper()
    pages = extraction_eval.load_pages(pages_dir)

    def peer(page: Any) -> str:
        article = newspaper.Article(page.url, fetch_images=False)
        article.download(input_html=page.html.decode("utf-8", errors="replace"))
        article.parse()
        return str(article.text or "")

    figures: dict[str, Any] = {}
    for name, extractor in (("newspaper4k", peer), ("ours", extraction_eval.ours)):
        extractor(pages[0])  # imports and first-call caches are not a page's cost
        predictions: dict[str, str] = {}
        started = time.perf_counter()
        for page in pages:
            predictions[page.id] = extractor(page)
        ms = 1000 * (time.perf_counter() - started) / len(pages)
        scored = extraction_eval.score(extraction_eval.load_truth(pages_dir), predictions)
        scored.pop("per_page", None)
        figures[name] = {key: round(value, 4) for key, value in scored.items()} | {"ms_per_page": round(ms, 1)}
    figures["pages"] = len(pages)
    return figures
