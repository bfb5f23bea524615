"""Two ingestion runs started at once, as two real processes on one store (Postgres: advisory locks; SQLite:
flock), store each article once and fetch each article page once: a feed claimed by one run is skipped by
the other."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug import Request, Response

from models.db import get_engine
from tests.newsweb import BAOTOU, GANZHOU, LYNAS, NewsWeb, article_html, rss
from tests.test_backfill import ILUKA, NEO, env_for

PROJECT_DIR = Path(__file__).resolve().parents[1]
STORIES = (LYNAS, GANZHOU, BAOTOU, ILUKA, NEO)
PAGE_DELAY = 0.8  # seconds per article page: the first run holds its feed long enough for the second to meet it


def _slow(page: str):  # type: ignore[no-untyped-def]
    def handler(request: Request) -> Response:
        time.sleep(PAGE_DELAY)
        return Response(page, content_type="text/html; charset=utf-8")

    return handler


@pytest.mark.usefixtures("prefect_harness")
def test_two_runs_at_once_store_and_fetch_each_article_once(web: NewsWeb, database_url: str, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    for story in STORIES:
        web.route(f"/news/{story.slug}", _slow(article_html(story)))
    items = [
        (web.url(f"/news/{s.slug}"), web.url(f"/news/{s.slug}"), s.title, s.published, s.paragraphs[0]) for s in STORIES
    ]
    web.document("/feed.xml", rss(items), "application/rss+xml")
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nurl = "{web.url("/feed.xml")}"\ntopical = true\n', encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RARE_NEWS_")},
        **env_for(database_url),
        "RARE_NEWS_PER_HOST_CONCURRENCY": "1",
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }
    from flows.common import prepare_store
    from flows.settings import get_settings

    prepare_store(get_settings(database_url=database_url))  # both runs find the schema: they race on feeds only

    command = [sys.executable, "-m", "flows.cli", "run", "--feeds", str(feeds)]
    runs = [
        subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=240) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()

    with get_engine(database_url).connect() as connection:
        titles = list(connection.execute(text("SELECT title FROM article WHERE origin = 'feed'")).scalars())
        spans = connection.execute(text("SELECT started_at, finished_at FROM run WHERE flow = 'ingest'")).all()
        ledger = connection.execute(text("SELECT status, count(*) FROM seen_entry GROUP BY status")).all()
    assert sorted(titles) == sorted(story.title for story in STORIES)
    assert dict(ledger) == {"loaded": len(STORIES)}
    pages = [path for path in web.paths_requested() if path.startswith("/news/")]
    assert sorted(pages) == sorted(f"/news/{story.slug}" for story in STORIES)
    # The runs did meet: each started before the other finished.
    (start_a, end_a), (start_b, end_b) = spans
    assert start_a < end_b and start_b < end_a, spans
    assert sum(b"feed taken by another run now" in err for _, err in outputs) == 1, [e for _, e in outputs]
