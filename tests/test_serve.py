"""`rare-news serve` as a real process: it registers its three deployments (the ingestion on its cron schedule)
on the session's Prefect server, a triggered run of the ingestion deployment completes and stores the feed's
articles, and the server is stopped only after serve has exited (serve hangs if its server goes first)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import get_engine
from tests.newsweb import GANZHOU, LYNAS, NewsWeb, article_html, rss
from tests.test_backfill import env_for

PROJECT_DIR = Path(__file__).resolve().parents[1]
CRON = "17 3 * * 1"  # far from now: the only run in this test is the one it triggers


def _wait_for_deployment(client: object, name: str, process: subprocess.Popen[bytes], seconds: float) -> object:
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited early"
        try:
            return client.read_deployment_by_name(name)  # type: ignore[attr-defined]
        except ObjectNotFound:
            time.sleep(0.5)
    raise AssertionError(f"{name} was not registered within {seconds} s")


@pytest.mark.usefixtures("prefect_harness")
def test_serve_registers_deployments_and_a_triggered_ingestion_completes(web: NewsWeb, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    for story in (LYNAS, GANZHOU):
        web.document(f"/news/{story.slug}", article_html(story), "text/html; charset=utf-8")
    items = [
        (web.url(f"/news/{s.slug}"), web.url(f"/news/{s.slug}"), s.title, s.published, s.paragraphs[0])
        for s in (LYNAS, GANZHOU)
    ]
    web.document("/feed.xml", rss(items), "application/rss+xml")
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nurl = "{web.url("/feed.xml")}"\ntopical = true\n', encoding="utf-8")
    database_url = f"sqlite:///{tmp_path / 'served.db'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RARE_NEWS_")},
        **env_for(database_url),
        "RARE_NEWS_FEEDS_FILE": str(feeds),
        "RARE_NEWS_SCHEDULE_CRON": CRON,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve"],
        cwd=tmp_path,  # module entrypoints: the served flows do not depend on the working directory
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        with get_client(sync_client=True) as client:
            ingest = _wait_for_deployment(client, "scheduled-ingest/rare-news", process, 120)
            for name in ("backfill/rare-news", "reprocess/rare-news"):
                _wait_for_deployment(client, name, process, 30)
        assert [schedule.schedule.cron for schedule in ingest.schedules] == [CRON]  # type: ignore[attr-defined]

        flow_run = run_deployment("scheduled-ingest/rare-news", timeout=240, poll_interval=1)
        assert flow_run.state is not None and flow_run.state.is_completed(), flow_run.state  # type: ignore[union-attr]
        with get_engine(database_url).connect() as connection:
            titles = set(connection.execute(text("SELECT title FROM article WHERE origin = 'feed'")).scalars())
        assert titles == {LYNAS.title, GANZHOU.title}
    finally:
        # Stop serve first (it takes up to ~31 s to shut down), while the server it talks to still runs.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""


@pytest.mark.usefixtures("prefect_harness")
def test_serve_with_a_work_pool_registers_the_deployments_for_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.client.orchestration import get_client
    from typer.testing import CliRunner

    from flows.cli import UserError, app

    monkeypatch.setenv("RARE_NEWS_SCHEDULE_CRON", "0 0 * * *")  # restored afterwards; --cron overrides it
    result = CliRunner().invoke(app, ["serve", "--work-pool", "rare-news-test", "--cron", "5 4 * * *"])
    assert result.exit_code == 0, result.output
    assert "prefect worker start --pool rare-news-test" in result.output
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("rare-news-test").type == "process"
        for name in ("scheduled-ingest/rare-news", "backfill/rare-news", "reprocess/rare-news"):
            deployment = client.read_deployment_by_name(name)
            assert deployment.work_pool_name == "rare-news-test"
            assert deployment.entrypoint and ":" not in deployment.entrypoint  # a module path, importable anywhere
        ingest = client.read_deployment_by_name("scheduled-ingest/rare-news")
    assert [schedule.schedule.cron for schedule in ingest.schedules] == ["5 4 * * *"]  # type: ignore[union-attr]

    bad = CliRunner().invoke(app, ["serve", "--cron", "every tuesday"])
    assert isinstance(bad.exception, UserError) and "bad schedule" in str(bad.exception)  # main(): one line, exit 2
