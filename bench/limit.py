"""The extraction limit: how fast the same pages go through extraction alone, on the same number of processes.

Two limits, both over articles `0..n-1` of the news web (built in the workers from the same base pages, so no
HTTP and no database is involved):

- `bare`: `trafilatura.extract` on the decoded page, trafilatura's defaults (the bench/eval.py convention):
  the cost of extraction and nothing else.
- `pipeline`: `transforms.pipeline.judge_page`, the per-page work of an ingest (decode, pre-clean, trafilatura
  with metadata, relevance, tags, canonical URL, hashes, MinHash): the most an ingest could do on these cores.

Workers start, import and extract one page before the clock starts: a limit has no fixed costs.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import procs  # noqa: E402

_state: dict[str, Any] = {}


def _init(pages_dir: Path | None, kind: str) -> None:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bench.newsweb import load_base_pages

    _state["pages"] = load_base_pages(pages_dir)
    _state["kind"] = kind
    if kind == "pipeline":
        from flows.common import load_taxonomy, relevance_threshold
        from flows.settings import get_settings

        settings = get_settings()
        _state["taxonomy"] = load_taxonomy(settings)
        _state["threshold"] = relevance_threshold(settings)
    _work(0)  # imports and first-call caches are not part of the limit


def _work(index: int) -> str:
    from bench.newsweb import article_page

    body = article_page(_state["pages"], index)
    if _state["kind"] == "bare":
        import trafilatura

        text = trafilatura.extract(body.decode("utf-8", errors="replace")) or ""
        return "extracted" if text else "empty"
    from transforms.pipeline import PageInput, judge_page

    url = f"http://127.0.0.1/news/{index}.html"
    page = PageInput(url=url, final_url=url, body=body, header_charset="utf-8", content_type="text/html")
    return judge_page(page, taxonomy=_state["taxonomy"], threshold=_state["threshold"]).status


def _ready(_: int) -> int:
    time.sleep(0.2)  # hold this worker so the others get a warm-up call of their own
    return 0


def measure(kind: str, articles: int, workers: int, pages_dir: Path | None = None) -> dict[str, Any]:
    """Pages per second of `kind` ("bare" or "pipeline") over articles 0..articles-1 on `workers` processes."""
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init, initargs=(pages_dir, kind)
    ) as pool:
        list(pool.map(_ready, range(workers)))  # every worker started and warmed up
        pids = list(pool._processes)  # noqa: SLF001 - the workers' CPU time is read from /proc
        chunksize = max(1, articles // (workers * 4))
        cpu_before = sum(procs.cpu_seconds(pid) for pid in pids)
        started = time.perf_counter()
        statuses = list(pool.map(_work, range(articles), chunksize=chunksize))
        elapsed = time.perf_counter() - started
        cpu = sum(procs.cpu_seconds(pid) for pid in pids) - cpu_before
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return {
        "pages": articles,
        "workers": workers,
        "seconds": round(elapsed, 3),
        "pages_per_s": round(articles / elapsed, 2),
        "ms_per_page_per_core": round(1000 * elapsed * workers / articles, 2),
        # CPU time per page: unlike wall time, hardly moved by other work on the machine
        "cpu_ms_per_page": round(1000 * cpu / articles, 2),
        "outcomes": counts,
    }
