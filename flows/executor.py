"""Where extraction runs: in this process, or on a pool of worker processes, one per core.

Extraction is the CPU-bound step (about 25 ms a page); everything else hides behind it. The pool lives for
the flow run and is handed the taxonomy once, at worker start, not with every page.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from transforms.pipeline import Decision, PageInput, judge_page
from transforms.tag import Taxonomy

_worker_state: dict[str, Any] = {}
_pool: tuple[tuple[int, str, float], ProcessPoolExecutor] | None = None
# Fetch workers submit pages from many threads at once: one pool per run, made by whichever comes first.
_pool_lock = threading.Lock()


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _init_worker(taxonomy: Taxonomy, threshold: float) -> None:
    _worker_state["taxonomy"] = taxonomy
    _worker_state["threshold"] = threshold


def _judge_in_worker(page: PageInput) -> Decision:
    return judge_page(page, taxonomy=_worker_state["taxonomy"], threshold=_worker_state["threshold"])


def _judge_chunk_in_worker(pages: list[PageInput]) -> list[Decision]:
    return [_judge_in_worker(page) for page in pages]


def _get_pool(workers: int, taxonomy: Taxonomy, threshold: float) -> ProcessPoolExecutor:
    with _pool_lock:
        return _get_pool_locked(workers, taxonomy, threshold)


def _get_pool_locked(workers: int, taxonomy: Taxonomy, threshold: float) -> ProcessPoolExecutor:
    global _pool
    key = (workers, taxonomy.version, threshold)
    if _pool is not None and _pool[0] == key:
        return _pool[1]
    _shutdown_pool_locked()
    # forkserver: workers start from a clean process that has imported the pipeline once (fork would copy
    # Prefect's threads and locks; spawn would re-import trafilatura in every worker).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["transforms.pipeline"])
    executor = ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(taxonomy, threshold)
    )
    _pool = (key, executor)
    return executor


def shutdown_pool() -> None:
    with _pool_lock:
        _shutdown_pool_locked()


def _shutdown_pool_locked() -> None:
    global _pool
    if _pool is not None:
        _pool[1].shutdown(wait=True, cancel_futures=True)
        _pool = None


def judge_pages(pages: list[PageInput], *, taxonomy: Taxonomy, threshold: float, workers: int) -> list[Decision]:
    """Decisions for `pages`, in order; across `workers` processes when there is more than one page.

    The raw pages are not attached to the records (`transforms.pipeline.attach_page` does that where they are
    loaded): a task's result lives on in Prefect's reference cycles until a full garbage collection, and a
    batch's pages would live on with it (10 MB a batch)."""
    if workers <= 1 or len(pages) < 2:
        decisions = [judge_page(page, taxonomy=taxonomy, threshold=threshold) for page in pages]
    else:
        pool = _get_pool(workers, taxonomy, threshold)
        chunksize = max(1, len(pages) // (workers * 4))
        decisions = list(pool.map(_judge_in_worker, pages, chunksize=chunksize))
    return decisions


def submit_judging(
    pages: list[PageInput], *, taxonomy: Taxonomy, threshold: float, workers: int
) -> Future[list[Decision]]:
    """Decisions for `pages` (in order) as a future: on the pool of `workers` processes, or done here at once
    with one worker. The streaming stage sends each page the moment it is fetched (flows/streaming.py)."""
    if workers <= 1:
        done: Future[list[Decision]] = Future()
        try:
            done.set_result([judge_page(page, taxonomy=taxonomy, threshold=threshold) for page in pages])
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future, as the pool does
            done.set_exception(exc)
        return done
    return _get_pool(workers, taxonomy, threshold).submit(_judge_chunk_in_worker, pages)
