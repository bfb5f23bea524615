"""/metrics and /healthz read from the store, and alerts sent once per incident and once at recovery, on SQLite
and Postgres. The monitor is the real one (flows/metrics.Monitor) on a loopback port; alerts go through apprise
to a loopback webhook (`json://`), as watch digests do."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.utils import floatToGoString

from connectors.http import FetchObservation
from flows.alerts import FEED_FAILING, NO_SUCCESS, check_alerts
from flows.metrics import BYTES_BUCKETS, FetchStats, Monitor
from flows.settings import get_settings
from models import ops, store
from models.db import get_engine, migrate
from models.store import FeedUpdate
from tests import test_watches
from tests.faults.private_postgres import free_port
from tests.test_watches import Hook

PROJECT_DIR = Path(__file__).resolve().parents[1]
hook = test_watches.hook  # the loopback webhook of the watch tests (apprise json:// posts, recorded)


def _settings(database_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "database_url": database_url,
        "config_dir": PROJECT_DIR / "config",
        "metrics_port": free_port(),
        "alert_feed_failures": 3,
    }
    return get_settings(**{**values, **overrides})


def _run(engine: Any, status: str, observations: list[tuple[str, float, int]]) -> int:
    run_id = store.start_run(engine, "ingest")
    stats = FetchStats()
    for outcome, seconds, size in observations:
        stats(FetchObservation("news.example.com", outcome, seconds, size))
    store.finish_run(engine, run_id, status=status, counts={"articles_stored": 1}, fetch_stats=stats.as_json())
    return run_id


def _scrape(address: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{address}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _health(address: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{address}/healthz", timeout=10) as response:
            return response.status, response.read().decode().strip()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode().strip()


def test_metrics_and_health_come_from_the_store(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    store.upsert_feeds(engine, [("https://a.example.com/feed", None, True), ("https://b.example.com/feed", None, True)])
    feeds = {feed.url: feed.id for feed in store.feeds_to_poll(engine)}
    store.record_feed_polls(engine, [FeedUpdate(feeds["https://b.example.com/feed"], "failed", error="HTTP 503")])
    _run(engine, "completed", [("ok", 0.2, 40_000), ("ok", 0.03, 900), ("ReadTimeout", 3.0, 0)])
    _run(engine, "failed", [("not modified", 0.02, 0)])

    monitor = Monitor(engine, _settings(database_url), check_alerts=False).start(announce=lambda _: None)
    try:
        first = _scrape(monitor.address)
        second = _scrape(monitor.address)  # a scrape reads only the runs finished since: nothing counted twice
        assert first == second
        assert first[("rare_news_runs", (("flow", "ingest"), ("status", "completed")))] == 1
        assert first[("rare_news_runs", (("flow", "ingest"), ("status", "failed")))] == 1
        last_success = first[("rare_news_last_successful_run_timestamp_seconds", ())]
        assert abs(last_success - time.time()) < 60
        assert first[("rare_news_feeds", ())] == 2
        assert first[("rare_news_feeds_failing", ())] == 1
        assert first[("rare_news_fetch_duration_seconds_count", (("outcome", "ok"),))] == 2
        assert first[("rare_news_fetch_duration_seconds_sum", (("outcome", "ok"),))] == pytest.approx(0.23)
        assert first[("rare_news_fetch_duration_seconds_bucket", (("le", "0.05"), ("outcome", "ok")))] == 1
        assert first[("rare_news_fetch_duration_seconds_bucket", (("le", "+Inf"), ("outcome", "ok")))] == 2
        assert first[("rare_news_fetch_duration_seconds_count", (("outcome", "ReadTimeout"),))] == 1
        le_50k = floatToGoString(BYTES_BUCKETS[2])
        assert first[("rare_news_fetch_bytes_bucket", (("le", le_50k), ("outcome", "ok")))] == 2
        assert first[("rare_news_fetch_bytes_count", (("outcome", "not modified"),))] == 1

        _run(engine, "completed", [("ok", 1.0, 10)])
        third = _scrape(monitor.address)
        assert third[("rare_news_fetch_duration_seconds_count", (("outcome", "ok"),))] == 3
        assert third[("rare_news_runs", (("flow", "ingest"), ("status", "completed")))] == 2

        assert _health(monitor.address) == (200, "ok")
    finally:
        monitor.stop()

    stale = Monitor(engine, _settings(database_url, max_run_age=0.5), check_alerts=False).start(lambda _: None)
    try:
        time.sleep(1.0)
        status, line = _health(stale.address)
        assert status == 503 and line.startswith("no run succeeded in"), line
    finally:
        stale.stop()


def test_alerts_once_per_incident_and_once_at_recovery_across_restarts(database_url: str, hook: Hook) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    settings = _settings(database_url, notify_url=hook.url, max_run_age=3600)
    store.upsert_feeds(engine, [("https://down.example.com/feed", None, True)])
    [feed] = store.feeds_to_poll(engine)
    long_ago = datetime.now(UTC) - timedelta(hours=2)  # a service up for two hours with no run at all

    def fail() -> None:
        store.record_feed_polls(engine, [FeedUpdate(feed.id, "failed", error="HTTP 502 Bad Gateway")])

    for _ in range(2):
        fail()
    assert check_alerts(engine, settings, started_at=datetime.now(UTC)) == []  # 2 < 3 failures, service is new
    fail()
    lines = check_alerts(engine, settings, started_at=long_ago)
    assert sorted(line.split(":")[1].strip() for line in lines) == [FEED_FAILING, NO_SUCCESS], lines
    assert sorted([post["title"] for post in hook.posts]) == [
        "rare-news: feed failing: https://down.example.com/feed",
        "rare-news: no successful run",
    ]
    assert "3 failures in a row; the last: HTTP 502 Bad Gateway" in json.dumps(hook.posts)

    fail()  # the incident goes on; a restarted monitor (a new started_at) finds it recorded: nothing sent again
    assert check_alerts(engine, settings, started_at=long_ago) == []
    assert check_alerts(engine, settings, started_at=datetime.now(UTC) - timedelta(hours=3)) == []
    assert len(hook.posts) == 2

    hook.status = 500  # the recovery note cannot go out: it is tried again at the next check
    store.record_feed_polls(engine, [FeedUpdate(feed.id, "ok")])
    _run(engine, "completed", [])
    lines = check_alerts(engine, settings, started_at=long_ago)
    assert sum(line.startswith("alert resolved") for line in lines) == 2
    assert sum(line.startswith("alert not sent") for line in lines) == 2
    hook.status = 200
    assert check_alerts(engine, settings, started_at=long_ago) == []
    recoveries = [post["title"] for post in hook.posts][-2:]
    assert sorted(recoveries) == [
        "rare-news: feed recovered: https://down.example.com/feed",
        "rare-news: runs succeed again",
    ]
    check_alerts(engine, settings, started_at=long_ago)
    assert len(hook.posts) == 6  # 2 sent, 2 refused by the hook, 2 recoveries: nothing more
    assert ops.open_alerts(engine) == []


def test_a_taken_metrics_port_is_one_line_for_serve_and_an_error_for_the_monitor(tmp_path: Path) -> None:
    import socket

    from flows.deploy import start_monitor

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = _settings(f"sqlite:///{tmp_path / 'store.db'}", metrics_port=taken.getsockname()[1])
        migrate(get_engine(settings.database_url))
        lines: list[str] = []
        assert start_monitor(settings, lines.append) is None
        assert len(lines) == 1 and lines[0].startswith("metrics: cannot listen on 127.0.0.1:"), lines
        with pytest.raises(OSError, match="metrics: cannot listen on"):
            start_monitor(settings, lines.append, required=True)
    assert start_monitor(_settings(settings.database_url, metrics_port=0), lines.append) is None  # 0: off


def test_the_web_app_serves_the_same_metrics(database_url: str) -> None:
    import warnings

    from web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx in its test client
        from fastapi.testclient import TestClient

    engine = get_engine(database_url)
    migrate(engine)
    _run(engine, "completed", [("ok", 0.2, 40_000)])
    app = create_app(database_url)
    with TestClient(app) as client:
        first = client.get("/metrics")
        second = client.get("/metrics")
    app.state.engine.dispose()
    assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain; version=")
    assert first.text == second.text
    assert 'rare_news_runs{flow="ingest",status="completed"} 1.0' in first.text
    assert 'rare_news_fetch_duration_seconds_count{outcome="ok"} 1.0' in first.text
