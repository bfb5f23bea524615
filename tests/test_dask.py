"""Scale-out: with `runner = "dask"` the ingestion's extraction batches run on a real Dask cluster (a
`LocalCluster` of two worker processes, one thread each), and the articles stored are the same as on threads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import get_engine
from tests.newsweb import BAOTOU, GANZHOU, LYNAS, NewsWeb, article_html, rss
from tests.test_backfill import ILUKA, NEO

STORIES = (LYNAS, GANZHOU, BAOTOU, ILUKA, NEO)


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as local:
        yield local


@pytest.mark.usefixtures("prefect_harness")
def test_extraction_batches_run_on_a_dask_cluster(web: NewsWeb, cluster: object, tmp_path: Path, settings_for) -> None:  # type: ignore[no-untyped-def]
    from distributed import Client, get_task_stream

    from flows.ingest import ingest_flow

    for story in STORIES:
        web.document(f"/news/{story.slug}", article_html(story), "text/html; charset=utf-8")
    items = [
        (web.url(f"/news/{s.slug}"), web.url(f"/news/{s.slug}"), s.title, s.published, s.paragraphs[0]) for s in STORIES
    ]
    web.document("/feed.xml", rss(items), "application/rss+xml")
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nurl = "{web.url("/feed.xml")}"\ntopical = true\n', encoding="utf-8")
    database_url = f"sqlite:///{tmp_path / 'dask.db'}"
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    settings = settings_for(database_url, runner="dask", dask_address=address, batch_size=2)

    with Client(address) as client, get_task_stream(client) as stream:
        summary = ingest_flow(settings)(feeds_file=feeds, settings=settings)
    assert summary.articles_stored == len(STORIES)
    with get_engine(database_url).connect() as connection:
        titles = set(connection.execute(text("SELECT title FROM article WHERE origin = 'feed'")).scalars())
    assert titles == {story.title for story in STORIES}

    # Three batches (2 + 2 + 1 pages), each judged by one task on the cluster's worker processes.
    judged = [record for record in stream.data if "judge" in str(record["key"])]
    assert len(judged) == 3, [record["key"] for record in stream.data]
    workers = set(cluster.scheduler_info["workers"])  # type: ignore[attr-defined]
    assert {record["worker"] for record in judged} <= workers
