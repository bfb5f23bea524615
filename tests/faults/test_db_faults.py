"""The database side: a run killed between fetch and load, two runs at once, a full disk, Postgres restarted.

The killed and concurrent runs are real `rare-news run` processes (talking to the session's Prefect test server
instead of starting their own); the database must end with exactly the rows of one clean run. The full disk is a
SQLite file capped with `PRAGMA max_page_count` on every connection. The Postgres restart stops and starts a
cluster of the test's own (tests/faults/private_postgres.py), so the shared server keeps serving other tests.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import event, select, text
from werkzeug import Request, Response

from tests.conftest import _fresh_postgres
from tests.faults import private_postgres
from tests.faults.conftest import (
    backend_name,
    cli_command,
    cli_env,
    fault_settings,
    feeds_toml,
    run_ingest,
)
from tests.faults.private_postgres import PrivateCluster
from tests.faults.report import audit
from tests.faults.stories import OFF_TOPIC, STORIES
from tests.newsweb import NewsWeb, Story, article_html, rss

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("prefect_harness")]

RUN_TIMEOUT = 120


@dataclass
class SlowWeb:
    """A feed of on-topic stories, an off-topic one and a tracking-URL copy; pages can wait or hang."""

    news: NewsWeb
    stories: tuple[Story, ...]
    delay: float = 0.0
    hang_slug: str | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    asked: list[str] = field(default_factory=list)

    @property
    def titles(self) -> list[str]:
        return [story.title for story in self.stories]

    def feed_url(self) -> str:
        return self.news.url("/feeds/wire.xml")

    def entry_keys(self) -> list[str]:
        keys = [self.news.url(f"/news/{story.slug}") for story in (*self.stories, OFF_TOPIC[0])]
        return keys + ["copy-of-first"]


def build_slow_web(server: HTTPServer, stories: tuple[Story, ...], **kwargs: Any) -> SlowWeb:
    web = SlowWeb(NewsWeb(server), stories, **kwargs)
    news = web.news
    news.route("/robots.txt", lambda request: Response("User-agent: *\nAllow: /\n", content_type="text/plain"))
    for story in (*stories, OFF_TOPIC[0]):
        body = article_html(story).encode("utf-8")

        def page(request: Request, story: Story = story, body: bytes = body) -> Response:
            web.asked.append(story.slug)
            if story.slug == web.hang_slug and not web.release.is_set():
                web.reached.set()
                web.release.wait(RUN_TIMEOUT)
            elif web.delay:
                time.sleep(web.delay)
            return Response(body, content_type="text/html; charset=utf-8")

        news.route(f"/news/{story.slug}", page)
    items = [
        (news.url(f"/news/{story.slug}"), news.url(f"/news/{story.slug}"), story.title, story.published, "rare earth")
        for story in (*stories, OFF_TOPIC[0])
    ]
    first = news.url(f"/news/{stories[0].slug}")
    items.append(
        (
            "copy-of-first",
            first + "?utm_source=feed&utm_campaign=x",
            stories[0].title,
            stories[0].published,
            "rare earth",
        )
    )
    news.document("/feeds/wire.xml", rss(items, title="Wire"), "application/rss+xml")
    return web


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """A `rare-news` process in a session of its own, so it and any child can be killed together."""
    return subprocess.Popen(
        [*cli_command(), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"rare-news run did not finish in {RUN_TIMEOUT} s: {err[-2000:]}")
    return process.returncode, out, err


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    return finish(spawn(args, env, cwd))


def state(engine: Any) -> dict[str, Any]:
    """Everything a run stores, keyed by what is stable between databases (no ids, no timestamps)."""
    queries = {
        "articles": "SELECT a.canonical_url, a.url, a.title, a.body_sha256, a.site, a.origin, a.language, "
        "a.relevance, n.canonical_url FROM article a LEFT JOIN article n ON n.id = a.near_duplicate_of",
        "tags": "SELECT a.canonical_url, t.kind, t.name, at.mentions FROM article_tag at "
        "JOIN article a ON a.id = at.article_id JOIN tag t ON t.id = at.tag_id",
        "ledger": "SELECT f.url, s.entry_key, s.url, s.status, s.attempts, s.last_error, s.retryable, a.canonical_url "
        "FROM seen_entry s JOIN feed f ON f.id = s.feed_id LEFT JOIN article a ON a.id = s.article_id",
        "raw pages": "SELECT a.canonical_url, r.final_url, r.content_type FROM raw_page r "
        "JOIN article a ON a.id = r.article_id",
        "bands": "SELECT a.canonical_url, COUNT(*) FROM article_band b JOIN article a ON a.id = b.article_id "
        "GROUP BY a.canonical_url",
        "feeds": "SELECT url, etag, last_modified, last_status, last_error, consecutive_failures FROM feed",
    }
    with engine.connect() as connection:
        return {
            name: sorted(tuple(str(value) for value in row) for row in connection.execute(text(sql)))
            for name, sql in queries.items()
        }


@pytest.fixture
def reference_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh database on the same backend, for the clean run to compare with."""
    from models.db import get_engine

    if backend_name(database_url) == "sqlite":
        url = f"sqlite:///{tmp_path / 'reference.db'}"
        yield url
        get_engine(url).dispose()
        return
    yield from _fresh_postgres(request.getfixturevalue("postgres_admin"))


# --- SIGKILL between fetch and load -----------------------------------------------------------------------------


def test_run_killed_between_fetch_and_load_then_rerun_equals_one_clean_run(
    server: HTTPServer,
    database_url: str,
    reference_url: str,
    prefect_api_url: str,
    tmp_path: Path,
    record: Callable[..., None],
) -> None:
    from models.db import get_engine

    stories = STORIES[:7]
    # Pages stream into loads of at most two entries. The page of story 4 hangs and holds only itself: the kill
    # comes while it hangs, with each other entry loaded, judged, fetched or asked for, whichever it reached.
    web = build_slow_web(server, stories, hang_slug=stories[4].slug)
    feeds = feeds_toml(tmp_path / "feeds.toml", [(web.feed_url(), True)])
    env = cli_env(prefect_api_url, database_url=database_url, batch_size=2, fetch_retries=0)

    process = spawn(["run", "--feeds", str(feeds)], env, tmp_path)
    try:
        assert web.reached.wait(RUN_TIMEOUT), "the run never reached the hanging page"
        time.sleep(0.3)  # the other pages go on around it
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        returncode, _, _ = finish(process)
        web.release.set()
    assert returncode == -signal.SIGKILL

    engine = get_engine(database_url)
    with engine.connect() as connection:
        ledger = connection.execute(text("SELECT url FROM seen_entry")).scalars().all()
        stored = connection.execute(text("SELECT COUNT(*) FROM article WHERE origin = 'feed'")).scalar_one()
        runs = connection.execute(text("SELECT status FROM run")).scalars().all()
    recorded = {url.rsplit("/", 1)[-1] for url in ledger}
    fetched_not_loaded = set(web.asked) - recorded
    assert stored <= len(ledger) < len(web.entry_keys())  # the run did not finish...
    assert stories[4].slug in fetched_not_loaded  # ...and the hanging page was asked for, never loaded
    assert runs == ["running"]  # the killed run could not say so

    returncode, out, err = run_cli(["run", "--feeds", str(feeds)], env, tmp_path)
    assert returncode == 0, err
    assert "Traceback" not in err
    with engine.connect() as connection:
        runs = connection.execute(text("SELECT status FROM run ORDER BY id")).scalars().all()
    assert runs == ["abandoned", "completed"]  # the re-run saw that the killed run's process was gone

    run_ingest(feeds, fault_settings(reference_url, batch_size=2, fetch_retries=0))
    after_kill, clean = state(engine), state(get_engine(reference_url))
    assert after_kill == clean
    found = audit(engine, stored=web.titles, entries=web.entry_keys(), whole=True)
    record(
        "SIGKILL between fetch and load, then run again",
        f"killed with {len(ledger)} of {len(web.entry_keys())} entries loaded and "
        f"{len(fetched_not_loaded - {stories[4].slug})} fetched but not; the re-run left the "
        f"same {sum(len(rows) for rows in clean.values())} rows as one clean run, and marked the killed run "
        "abandoned",
        backend=backend_name(database_url),
        found=found,
    )


# --- two runs at once ---------------------------------------------------------------------------------------------


def test_two_runs_at_once_on_a_new_database_store_each_article_once(
    server: HTTPServer,
    database_url: str,
    reference_url: str,
    prefect_api_url: str,
    tmp_path: Path,
    record: Callable[..., None],
) -> None:
    """Both start on an empty database (the harder case: both migrate it and load the seeds) and overlap."""
    from models.db import get_engine

    web = build_slow_web(server, STORIES[7:14], delay=0.15)
    feeds = feeds_toml(tmp_path / "feeds.toml", [(web.feed_url(), True)])
    env = cli_env(prefect_api_url, database_url=database_url, batch_size=3, fetch_retries=0)

    first = spawn(["run", "--feeds", str(feeds)], env, tmp_path)
    second = spawn(["run", "--feeds", str(feeds)], env, tmp_path)
    results = [finish(first), finish(second)]
    for returncode, _, err in results:
        assert returncode == 0, err[-3000:]
        assert "Traceback" not in err

    run_ingest(feeds, fault_settings(reference_url, batch_size=3, fetch_retries=0))
    engine = get_engine(database_url)
    together, clean = state(engine), state(get_engine(reference_url))
    found = audit(engine, stored=web.titles, entries=web.entry_keys(), whole=True)
    assert found.lost == () and found.duplicated == ()
    # Attempts count both runs' work on an entry, and the later run may have found the feed unchanged (304);
    # everything else is what one clean run leaves.
    ledger = lambda rows: sorted(row[:4] + row[5:] for row in rows)  # noqa: E731
    feed = lambda rows: sorted(row[:3] + row[4:] for row in rows)  # noqa: E731
    assert ledger(together.pop("ledger")) == ledger(clean.pop("ledger"))
    assert feed(together.pop("feeds")) == feed(clean.pop("feeds"))
    assert together == clean
    pages = len(web.asked)
    record(
        "two runs at once on a new database",
        f"both exit 0 (both migrated it: one waited for the other); {pages} page fetches between them, each "
        "article stored once, rows as one clean run",
        backend=backend_name(database_url),
        found=found,
    )


# --- a full disk (SQLite) -------------------------------------------------------------------------------------------


def test_full_disk_on_sqlite_is_one_clear_error_and_the_database_stays_readable(
    server: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    record: Callable[..., None],
) -> None:
    from flows import cli
    from flows.common import prepare_store
    from models.db import get_engine

    url = f"sqlite:///{tmp_path / 'small.db'}"
    web = build_slow_web(server, STORIES[:6])
    feeds = feeds_toml(tmp_path / "feeds.toml", [(web.feed_url(), True)])
    engine = prepare_store(fault_settings(url))
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar_one()
        seeds = connection.execute(text("SELECT COUNT(*) FROM article")).scalar_one()

    def cap(dbapi_connection: Any, _: Any) -> None:  # the disk: a few pages more than the file has now
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 8}")

    event.listen(engine, "connect", cap)
    engine.dispose()
    for name, value in cli_env(None, database_url=url).items():
        if name.startswith("RARE_NEWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.argv", ["rare-news", "run", "--feeds", str(feeds)])
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
    err = capfd.readouterr().err
    assert exited.value.code == 1
    lines = [line for line in err.splitlines() if line.strip() and "werkzeug" not in line]  # the test's server
    assert lines == ["error: database: database or disk is full"], err
    assert "Traceback" not in err, err

    raw = sqlite3.connect(tmp_path / "small.db")
    try:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert raw.execute("SELECT COUNT(*) FROM article").fetchone() == (seeds,)
        failed_runs = raw.execute("SELECT COUNT(*) FROM run WHERE status = 'running'").fetchone()[0]
    finally:
        raw.close()

    monkeypatch.setattr("sys.argv", ["rare-news", "run", "--feeds", str(feeds)])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code in (0, None)
    found = audit(get_engine(url), stored=web.titles, entries=web.entry_keys(), whole=True)
    assert found.lost == () and found.duplicated == ()
    record(
        "full disk (SQLite capped at its size + 8 pages)",
        f"one line: {lines[-1]!r}, exit 1; integrity_check ok, {seeds} articles readable"
        f"{'' if not failed_runs else f', {failed_runs} run row left running'}; with space again the next run "
        "stored every article",
        backend="sqlite",
        found=found,
    )


# --- Postgres restarted during a run (on a cluster of the test's own: the shared one keeps serving others) -----


def _run_through_an_outage(
    cluster: PrivateCluster, server: HTTPServer, tmp_path: Path, api: str, *, down: int, **settings: Any
) -> tuple[SlowWeb, str, int, str]:
    """A run on a new database of `cluster`, which goes down while the run waits for a page and comes back
    `down` seconds later; the run goes on (and tries to load) meanwhile. (web, database URL, exit code, stderr)."""
    database_url = cluster.create_database(f"down_{down}s")
    # Slow pages and batches of two: the run spends seconds between loads, and the outage lands there.
    web = build_slow_web(server, STORIES[:8], delay=0.4, hang_slug=STORIES[3].slug)
    feeds = feeds_toml(tmp_path / f"feeds-{down}.toml", [(web.feed_url(), True)])
    env = cli_env(api, database_url=database_url, batch_size=2, fetch_retries=0, **settings)
    process = spawn(["run", "--feeds", str(feeds)], env, tmp_path)
    try:
        assert web.reached.wait(RUN_TIMEOUT), "the run never got to its second batch"
        cluster.stop()  # fast: the run's sessions are cut, as in a restart
        web.release.set()  # the run fetches on and reaches its next load while the server is away
        time.sleep(down)
        cluster.start()
    finally:
        web.release.set()
    returncode, _, err = finish(process)
    return web, database_url, returncode, err


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_restarted_during_a_run(
    server: HTTPServer, prefect_api_url: str, tmp_path: Path, record: Callable[..., None]
) -> None:
    """Down for 4 s: the loads cut off are tried again on fresh connections, the run completes and stores every
    article once. Down for longer than RARE_NEWS_RECONNECT_SECONDS: the run ends with one line, exit 1, and the
    next run stores everything."""
    from models.db import get_engine

    if (why := private_postgres.available()) is not None:
        pytest.skip(why)
    with private_postgres.private_cluster() as cluster:
        web, database_url, returncode, err = _run_through_an_outage(cluster, server, tmp_path, prefect_api_url, down=4)
        assert returncode == 0 and "Traceback" not in err, err
        engine = get_engine(database_url)
        found = audit(engine, stored=web.titles, entries=web.entry_keys(), whole=True)
        assert found.lost == () and found.duplicated == ()
        with engine.connect() as connection:
            statuses = connection.execute(select(text("status")).select_from(text("run"))).scalars().all()
        assert statuses == ["completed"]
        engine.dispose()

        server.clear()
        web, long_url, returncode, err = _run_through_an_outage(
            cluster, server, tmp_path, prefect_api_url, down=6, reconnect_seconds=2
        )
        lines = [line for line in err.splitlines() if line.strip()]
        assert returncode == 1 and len(lines) == 1 and lines[0].startswith("error: database:"), err
        feeds = tmp_path / "feeds-6.toml"
        rerun_env = cli_env(prefect_api_url, database_url=long_url)
        rerun_code, _, rerun_err = run_cli(["run", "--feeds", str(feeds)], rerun_env, tmp_path)
        assert rerun_code == 0, rerun_err
        long_found = audit(get_engine(long_url), stored=web.titles, entries=web.entry_keys(), whole=True)
        assert long_found.lost == () and long_found.duplicated == ()
        get_engine(long_url).dispose()
    record(
        "Postgres restarted during a run",
        f"down 4 s: the run tried its loads again on fresh connections and completed, every article once "
        f"(runs: {', '.join(statuses)}); down 6 s with reconnect_seconds=2: one line, exit 1 ({lines[0][:60]!r}), "
        "and the next run stored everything",
        backend="postgres",
        found=found,
    )
