"""The deployed topology, end to end, as `docker compose up` runs it but with processes instead of containers.

Postgres (the local server: a throwaway database for the store, one for Prefect's own state), `prefect server
start` on it, `rare-news serve --work-pool POOL --monitor` (registers the deployments, then serves /metrics and
/healthz), process workers on the pool (`prefect worker start`), and a news web on loopback. One Prefect server
serves every check, in order:

1. a triggered `scheduled-ingest` run executes on a worker (two are on the pool) and stores the feed's articles;
2. a triggered `backfill` with parameters (a sitemap, a date) and a `reprocess` run complete on them too;
3. two workers and two runs at once: every new article stored once;
4. the worker running a run is killed with SIGKILL mid-run (with the run's process): nothing is lost, and the
   next run completes the work and marks the killed run's row abandoned;
5. /metrics shows the runs and the fetch histograms, /healthz is 200.

Everything it starts, it stops: workers and the monitor first, the Prefect server last, then both databases go.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from werkzeug import Request, Response

from tests.conftest import POSTGRES_ADMIN_URL, PROJECT_DIR, _fresh_postgres
from tests.faults.private_postgres import free_port
from tests.faults.report import audit
from tests.faults.stories import STORIES
from tests.newsweb import NewsWeb, Story, article_html, rss

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]

POOL = "rare-news-topology"
FAR_CRON = "17 3 * * 1"  # only the runs the test triggers run
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 180
RUN_SECONDS = 180


# --- the news web ---------------------------------------------------------------------------------------------


@dataclass
class Web:
    """A feed whose items are `on_feed`, a sitemap of `in_sitemap`; the page `hang_slug` waits for `release`."""

    news: NewsWeb
    on_feed: list[Story] = field(default_factory=list)
    in_sitemap: list[Story] = field(default_factory=list)
    hang_slug: str | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.news.url(path)

    def feed_keys(self) -> list[str]:
        return [self.url(f"/news/{story.slug}") for story in self.on_feed]


def _web(server: HTTPServer) -> Web:
    web = Web(NewsWeb(server))
    news = web.news
    news.route("/robots.txt", lambda request: Response("User-agent: *\nAllow: /\n", content_type="text/plain"))

    def feed(request: Request) -> Response:
        items = [
            (web.url(f"/news/{s.slug}"), web.url(f"/news/{s.slug}"), s.title, s.published, s.paragraphs[0])
            for s in list(web.on_feed)
        ]
        return Response(rss(items, title="Wire"), content_type="application/rss+xml")

    def sitemap(request: Request) -> Response:
        urls = "".join(
            f"<url><loc>{web.url(f'/news/{s.slug}')}</loc><lastmod>{s.published.date().isoformat()}</lastmod></url>"
            for s in web.in_sitemap
        )
        body = f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return Response(body, content_type="application/xml")

    news.route("/feeds/wire.xml", feed)
    news.route("/sitemap.xml", sitemap)
    for story in STORIES:

        def page(request: Request, story: Story = story) -> Response:
            if story.slug == web.hang_slug and not web.release.is_set():
                web.reached.set()
                web.release.wait(RUN_SECONDS)
            return Response(article_html(story), content_type="text/html; charset=utf-8")

        news.route(f"/news/{story.slug}", page)
    return web


# --- processes ------------------------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self, grace: float = 60) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        with contextlib.suppress(ProcessLookupError):  # and whatever it started that is still there
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


@dataclass
class Topology:
    tmp: Path
    env: dict[str, str]
    api: str
    store_url: str
    services: list[Service] = field(default_factory=list)

    def start(self, name: str, command: list[str], **extra_env: str) -> Service:
        log = self.tmp / f"{name}.log"
        process = subprocess.Popen(
            command,
            cwd=self.tmp,
            env={**self.env, **extra_env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped (or killed) with everything it started
        )
        service = Service(name, process, log)
        self.services.append(service)
        return service

    def worker(self, name: str) -> Service:
        return self.start(
            name, [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process", "--name", name]
        )


def _wait(what: str, predicate: Callable[[], bool], seconds: float, *watch: Service) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for service in watch:
            assert service.alive(), f"{service.name} exited while waiting for {what}:\n{service.tail()}"
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {seconds} s\n" + "\n".join(f"{s.name}: {s.tail()}" for s in watch))


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _children(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                for child in (task / "children").read_text().split():
                    found.append(int(child))
                    stack.append(int(child))
    return found


@contextlib.contextmanager
def _prefect_database(admin: Any) -> Iterator[str]:
    name = f"rare_news_prefect_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def topology(postgres_admin: Any, tmp_path: Path, web: Web) -> Iterator[tuple[Topology, Service, list[Service]]]:
    """Postgres databases, the Prefect server on one, the monitor; stopped in reverse order afterwards."""
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nurl = "{web.url("/feeds/wire.xml")}"\ntopical = true\n', encoding="utf-8")
    port = free_port()
    with contextlib.ExitStack() as stack:
        store_url = stack.enter_context(contextlib.contextmanager(_fresh_postgres)(postgres_admin))
        prefect_url = stack.enter_context(_prefect_database(postgres_admin))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RARE_NEWS_", "PREFECT_"))},
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
            "RARE_NEWS_DATABASE_URL": store_url,
            "RARE_NEWS_FEEDS_FILE": str(feeds),
            "RARE_NEWS_CONFIG_DIR": str(PROJECT_DIR / "config"),
            "RARE_NEWS_ALLOW_PRIVATE_NETWORKS": "true",
            "RARE_NEWS_SCHEDULE_CRON": FAR_CRON,
            "RARE_NEWS_FETCH_RETRIES": "0",
            "RARE_NEWS_TOTAL_TIMEOUT": "10",
            "RARE_NEWS_EXTRACT_WORKERS": "1",
            "RARE_NEWS_METRICS_PORT": str(free_port()),
            "RARE_NEWS_POLL_MAX_INTERVAL": "0",  # every run polls every feed (no adaptive spacing, README "Sources")
        }
        top = Topology(tmp_path, env, env["PREFECT_API_URL"], store_url)
        try:
            server = top.start(
                "prefect-server",
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                PREFECT_API_DATABASE_CONNECTION_URL=prefect_url,
                PREFECT_UI_ENABLED="false",
            )
            _wait("the Prefect server", lambda: _get(f"{top.api}/health")[0] == 200, STARTUP_SECONDS, server)
            monitor = top.start("serve", [str(BIN / "rare-news"), "serve", "--work-pool", POOL, "--monitor"])
            workers = [top.worker("worker-1"), top.worker("worker-2")]  # they start while serve registers
            metrics = f"http://127.0.0.1:{env['RARE_NEWS_METRICS_PORT']}"
            _wait("serve --work-pool --monitor", lambda: _get(f"{metrics}/metrics")[0] == 200, STARTUP_SECONDS, monitor)
            yield top, monitor, workers
        finally:
            # Workers and the monitor before the server they talk to; the server last.
            for service in reversed(top.services):
                if service.name != "prefect-server":
                    service.stop()
            for service in top.services:
                service.stop()
            leftovers = [s.name for s in top.services if s.alive()]
            assert not leftovers, f"still running: {leftovers}"


# --- runs -------------------------------------------------------------------------------------------------------


def _trigger(api: str, name: str, **parameters: Any) -> Any:
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        return run_deployment(name, parameters=parameters, timeout=0)


def _final(api: str, flow_run_id: Any, seconds: float, *watch: Service) -> Any:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    found: dict[str, Any] = {}

    def done() -> bool:
        with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
            found["run"] = client.read_flow_run(flow_run_id)
        state = found["run"].state
        return state is not None and state.is_final()

    _wait(f"flow run {flow_run_id}", done, seconds, *watch)
    return found["run"].state


def _run(api: str, name: str, *watch: Service, **parameters: Any) -> Any:
    state = _final(api, _trigger(api, name, **parameters).id, RUN_SECONDS, *watch)
    assert state.is_completed(), f"{name}: {state}\n" + "\n".join(f"{s.name}: {s.tail()}" for s in watch)
    return state


def _rows(store_url: str, sql: str) -> list[Any]:
    from models.db import get_engine

    with get_engine(store_url).connect() as connection:
        return list(connection.execute(text(sql)))


def _scrape(metrics: str) -> dict[str, float]:
    from prometheus_client.parser import text_string_to_metric_families

    status, body = _get(f"{metrics}/metrics")
    assert status == 200, body
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_the_deployed_topology_runs_ingest_backfill_and_reprocess_on_workers_and_survives_a_killed_worker(
    postgres_admin: Any, tmp_path: Path
) -> None:
    from models.db import get_engine

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    web = _web(server)
    try:
        with topology(postgres_admin, tmp_path, web) as (top, monitor, (worker, second)):
            engine = get_engine(top.store_url)

            # 1. A triggered scheduled-ingest run, on the worker.
            web.on_feed = list(STORIES[:3])
            _run(top.api, "scheduled-ingest/rare-news", worker, second)
            found = audit(engine, stored=[s.title for s in STORIES[:3]], entries=web.feed_keys(), whole=True)
            assert found.lost == () and found.duplicated == ()

            # 2. A backfill with parameters, and a reprocess.
            web.in_sitemap = list(STORIES[3:5])
            _run(top.api, "backfill/rare-news", worker, second, since="2026-01-01", site=web.url("/sitemap.xml"))
            backfilled = {
                row.title for row in _rows(top.store_url, "SELECT title FROM article WHERE origin = 'backfill'")
            }
            assert backfilled == {s.title for s in STORIES[3:5]}
            _run(top.api, "reprocess/rare-news", worker, second, what="tag", force=True)
            flows = [row.flow for row in _rows(top.store_url, "SELECT flow FROM run WHERE status = 'completed'")]
            assert sorted(set(flows)) == ["backfill", "ingest", "reprocess"], flows

            # 3. Two workers, two runs at once: each new article stored once.
            web.on_feed = list(STORIES[:9])
            runs = [_trigger(top.api, "scheduled-ingest/rare-news") for _ in range(2)]
            states = [_final(top.api, run.id, RUN_SECONDS, worker, second) for run in runs]
            assert all(state.is_completed() for state in states), states
            found = audit(engine, stored=[s.title for s in STORIES[:9]], entries=web.feed_keys(), whole=True)
            assert found.lost == () and found.duplicated == ()

            # 4. The worker running a run is killed (SIGKILL, with the run's process) while it waits for a page.
            web.on_feed = list(STORIES[:12])
            web.hang_slug = STORIES[10].slug
            killed_run = _trigger(top.api, "scheduled-ingest/rare-news")
            assert web.reached.wait(RUN_SECONDS), "the run never reached the slow page"
            [busy] = [w for w in (worker, second) if _children(w.process.pid)]
            doomed = [busy.process.pid, *_children(busy.process.pid)]
            for pid in doomed:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            busy.process.wait(10)
            web.release.set()
            survivor = second if busy is worker else worker
            _run(top.api, "scheduled-ingest/rare-news", survivor)
            found = audit(engine, stored=[s.title for s in STORIES[:12]], entries=web.feed_keys(), whole=True)
            assert found.lost == () and found.duplicated == ()
            statuses = [row.status for row in _rows(top.store_url, "SELECT status FROM run ORDER BY id")]
            assert statuses.count("abandoned") == 1 and statuses.count("running") == 0, statuses
            assert not any(Path(f"/proc/{pid}").exists() for pid in doomed)
            del killed_run

            # 5. The monitor: runs and fetch histograms from the store, and a healthy service.
            metrics = f"http://127.0.0.1:{top.env['RARE_NEWS_METRICS_PORT']}"
            scraped = _scrape(metrics)
            assert scraped['rare_news_runs{"flow": "ingest", "status": "completed"}'] == statuses.count("completed") - 2
            assert scraped['rare_news_runs{"flow": "ingest", "status": "abandoned"}'] == 1
            # The two backfilled stories came on the feed later: exact copies there, stored once, as backfill.
            assert scraped['rare_news_articles{"origin": "feed"}'] == 10
            assert scraped['rare_news_articles{"origin": "backfill"}'] == 2
            fetched_ok = scraped['rare_news_fetch_duration_seconds_count{"outcome": "ok"}']
            assert fetched_ok >= 12 and scraped['rare_news_fetch_bytes_count{"outcome": "ok"}'] == fetched_ok
            assert _get(f"{metrics}/healthz") == (200, "ok\n")
            assert monitor.alive()
            engine.dispose()
    finally:
        server.clear()
        server.stop()
