"""`make soak`: the service left running for a while, on a fast schedule, against a web that keeps publishing.

What it starts (each a process of its own, all on 127.0.0.1, all stopped at the end): a Prefect API server
(`prefect server start`, its own PREFECT_HOME), and `rare-news serve --cron "* * * * *"`, which runs the
ingestion every minute in a child process per run. The news web is a thread of this script: every minute, at
half past (between two runs), it publishes PER_MINUTE new articles (benchmark pages with a distinct
rare-earth paragraph, as `make bench` serves them) on its feeds, which list the newest WINDOW articles.

After RUNS finished runs it stops publishing, lets one more run collect the last articles, stops everything and
prints: runs by status; articles published and stored (each stored once: one article row and one `loaded`
ledger entry per published URL); the memory of each long-lived process (serve, the Prefect server) at the end of
each run and the peak of each run's own process, the first ten runs against the last ten; whether any run was
left running (in the store and in Prefect). A 60-run soak takes a little over an hour.

    .venv/bin/python bench/soak.py [--runs 60] [--per-minute 3] [--database-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/soak.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))

from bench import procs  # noqa: E402
from bench.newsweb import BasePage, article_page, load_base_pages  # noqa: E402
from bench.run import PREFECT_ENV, _free_port, _stop, log, prefect_server  # noqa: E402

FEEDS = 2
WINDOW = 40  # newest articles each feed lists: more than a missed run or two publish
PUBLISH_AT_SECOND = 30  # runs start on the minute; publishing half a minute later never races a run's poll


# --- the publishing web ----------------------------------------------------------------------------------------


@dataclass
class Publisher:
    """The articles out so far: `published[n]` is (article index, when), on feed n % FEEDS.

    Only articles the pipeline keeps are published (judged here first): a few benchmark pages lose their
    rare-earth paragraph in extraction and are judged irrelevant (so `make bench` stores 9,671 of 10,000; the
    first 60-run soak stored 174 of 180 and judged 6 irrelevant, with the reason), which is the extractor's
    business, not the service's: here every published article must be stored once."""

    pages: list[BasePage]
    published: list[tuple[int, datetime]] = field(default_factory=list)
    not_kept: list[int] = field(default_factory=list)  # indexes skipped because the pipeline would not keep them
    lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def publish(self, count: int) -> None:
        fresh: list[int] = []
        while len(fresh) < count:
            index, self._next = self._next, self._next + 1
            (fresh if kept(self.pages, index) else self.not_kept).append(index)
        with self.lock:
            now = datetime.now(UTC)
            self.published.extend((index, now) for index in fresh)

    def count(self) -> int:
        with self.lock:
            return len(self.published)

    def is_out(self, index: int) -> bool:
        with self.lock:
            return any(out == index for out, _ in self.published)

    def feed(self, base_url: str, feed: int) -> bytes:
        with self.lock:
            items_out = [item for n, item in enumerate(self.published) if n % FEEDS == feed][-WINDOW:]
        items = []
        for index, when in reversed(items_out):
            link = f"{base_url}/news/{index}.html"
            items.append(
                f"<item><guid>{link}</guid><link>{link}</link>"
                f"<title>{html.escape(self.pages[index % len(self.pages)].title)} ({index})</title>"
                f"<pubDate>{format_datetime(when)}</pubDate></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Rare earth wire {feed}</title><link>{base_url}/</link><description>soak</description>"
            + "".join(items)
            + "</channel></rss>"
        ).encode()


def _handler(publisher: Publisher) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            path = self.path.split("?", 1)[0]
            base = f"http://{self.headers.get('Host', '127.0.0.1')}"
            if path == "/robots.txt":
                self._send(b"User-agent: *\nAllow: /\n", "text/plain")
            elif path.startswith("/feeds/") and path.endswith(".xml") and path[7:-4].isdigit():
                self._send(publisher.feed(base, int(path[7:-4])), "application/rss+xml; charset=utf-8")
            elif path.startswith("/news/") and path.endswith(".html") and path[6:-5].isdigit():
                index = int(path[6:-5])
                if not publisher.is_out(index):
                    self._send(b"not yet", "text/plain", status=404)
                else:
                    self._send(article_page(publisher.pages, index), "text/html; charset=utf-8")
            else:
                self._send(b"not found", "text/plain", status=404)

        def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def kept(pages: list[BasePage], index: int) -> bool:
    """Whether the pipeline would keep article `index` (extracted and judged here, as a run would)."""
    from flows.common import load_taxonomy, relevance_threshold
    from flows.settings import get_settings
    from transforms.pipeline import PageInput, judge_page

    if "taxonomy" not in _JUDGE:
        settings = get_settings()
        _JUDGE["taxonomy"], _JUDGE["threshold"] = load_taxonomy(settings), relevance_threshold(settings)
    url = f"http://127.0.0.1/news/{index}.html"
    page = PageInput(
        url=url, final_url=url, body=article_page(pages, index), header_charset="utf-8", content_type="text/html"
    )
    return judge_page(page, taxonomy=_JUDGE["taxonomy"], threshold=_JUDGE["threshold"]).record is not None


_JUDGE: dict[str, Any] = {}


@contextlib.contextmanager
def publishing_web(publisher: Publisher) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(publisher))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# --- the store, read directly ------------------------------------------------------------------------------------


def finished_runs(database_url: str) -> list[dict[str, Any]]:
    from sqlalchemy import text

    from models.db import get_engine

    try:
        with get_engine(database_url).connect() as connection:
            rows = connection.execute(
                text("SELECT id, status, articles_stored, started_at, finished_at FROM run ORDER BY id")
            ).mappings()
            return [dict(row) for row in rows]
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return []


def store_counts(database_url: str, base_url: str) -> dict[str, int]:
    from sqlalchemy import text

    from models.db import get_engine

    pattern = base_url + "/news/%"
    with get_engine(database_url).connect() as connection:

        def one(sql: str) -> int:
            return int(connection.execute(text(sql), {"pattern": pattern} if ":pattern" in sql else {}).scalar_one())

        return {
            "articles": one("SELECT count(*) FROM article WHERE url LIKE :pattern"),
            "distinct_urls": one("SELECT count(DISTINCT url) FROM article WHERE url LIKE :pattern"),
            "entries": one("SELECT count(*) FROM seen_entry WHERE url LIKE :pattern"),
            "entries_loaded": one("SELECT count(*) FROM seen_entry WHERE url LIKE :pattern AND status = 'loaded'"),
            "runs_running": one("SELECT count(*) FROM run WHERE status = 'running'"),
        }


def prefect_running_runs(api: str) -> int:
    body = json.dumps({"flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}}}).encode()
    request = urllib.request.Request(
        f"{api}/flow_runs/count", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.loads(response.read()))


# --- memory --------------------------------------------------------------------------------------------------------


@dataclass
class Memory:
    """RSS (MB) of the long-lived processes at the end of each run, and the peak of each run's own process."""

    serve: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    # pid of a flow-run process (a child of serve) -> its peak RSS, and the peak of it with its extraction workers
    run_peaks: dict[int, float] = field(default_factory=dict)
    run_tree_peaks: dict[int, float] = field(default_factory=dict)

    def sample_children(self, serve_pid: int) -> None:
        for pid in procs.children(serve_pid):
            self.run_peaks[pid] = max(self.run_peaks.get(pid, 0.0), procs.rss_kb(pid) / 1024)
            self.run_tree_peaks[pid] = max(self.run_tree_peaks.get(pid, 0.0), _tree_mb(pid))


def _tree_mb(pid: int) -> float:
    return round(sum(procs.rss_kb(child) for child in procs.tree(pid)) / 1024, 1)


def first_last(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"first": None, "last": None}
    size = max(1, min(10, len(values) // 2))
    return {"first": round(statistics.mean(values[:size]), 1), "last": round(statistics.mean(values[-size:]), 1)}


# --- the soak ------------------------------------------------------------------------------------------------------


def wait_for_publish_second(stop: threading.Event) -> None:
    now = time.time()
    target = (now // 60) * 60 + PUBLISH_AT_SECOND
    if target <= now:
        target += 60
    stop.wait(target - now)


def soak(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    publisher = Publisher(load_base_pages())
    database_url = args.database_url or f"sqlite:///{work / 'soak.db'}"
    memory = Memory()
    stop_publishing = threading.Event()
    started = time.monotonic()
    with publishing_web(publisher) as base_url, prefect_server(work / "prefect", work) as (api, server, _):
        feeds = work / "feeds.toml"
        feeds.write_text(
            "".join(f'[[feeds]]\nurl = "{base_url}/feeds/{f}.xml"\ntopical = true\n' for f in range(FEEDS)),
            encoding="utf-8",
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RARE_NEWS_")},
            **PREFECT_ENV,
            "PREFECT_API_URL": api,
            "RARE_NEWS_DATABASE_URL": database_url,
            "RARE_NEWS_FEEDS_FILE": str(feeds),
            "RARE_NEWS_ALLOW_PRIVATE_NETWORKS": "true",
            "RARE_NEWS_PER_HOST_CONCURRENCY": "4",
            "RARE_NEWS_EXTRACT_WORKERS": "1",
            "RARE_NEWS_METRICS_PORT": str(_free_port()),
            "RARE_NEWS_POLL_MAX_INTERVAL": "0",  # every run polls every feed (no adaptive spacing, README "Sources")
        }
        publisher.publish(args.per_minute)  # the first run finds something too

        def publish_every_minute() -> None:
            while not stop_publishing.is_set():
                wait_for_publish_second(stop_publishing)
                if not stop_publishing.is_set():
                    publisher.publish(args.per_minute)

        threading.Thread(target=publish_every_minute, daemon=True).start()
        serve = subprocess.Popen(
            [str(Path(sys.executable).with_name("rare-news")), "serve", "--cron", "* * * * *"],
            cwd=work,
            env=env,
            stdout=(work / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            seen = 0
            deadline = time.monotonic() + (args.runs + 5) * 60 + 300
            while True:
                if serve.poll() is not None:
                    raise RuntimeError(f"serve exited ({serve.returncode}); see {work / 'serve.log'}")
                if time.monotonic() > deadline:
                    raise RuntimeError("the runs did not come in time")
                memory.sample_children(serve.pid)
                runs = [run for run in finished_runs(database_url) if run["status"] != "running"]
                while seen < len(runs):  # a run ended: the long-lived processes now
                    seen += 1
                    memory.serve.append(round(procs.rss_kb(serve.pid) / 1024, 1))
                    memory.server.append(_tree_mb(server.pid))
                    log(
                        f"run {seen}: {runs[seen - 1]['status']}, {runs[seen - 1]['articles_stored']} stored; "
                        f"published {publisher.count()}; serve {memory.serve[-1]} MB, server {memory.server[-1]} MB"
                    )
                    if seen == args.runs:
                        stop_publishing.set()  # the next run collects what is out; nothing comes after it
                if seen >= args.runs + 1:
                    break
                time.sleep(1.0)
            time.sleep(2.0)
            left_in_prefect = prefect_running_runs(api)
        finally:
            stop_publishing.set()
            _stop(serve, grace=90)  # before the server: serve hangs if its server goes first
        runs = finished_runs(database_url)
        counts = store_counts(database_url, base_url)
    by_status: dict[str, int] = {}
    for run in runs:
        by_status[run["status"]] = by_status.get(run["status"], 0) + 1
    # Only processes seen for more than a moment: serve also starts short helpers besides the runs.
    run_peaks = [peak for peak in memory.run_peaks.values() if peak > 50]
    run_tree_peaks = [memory.run_tree_peaks[pid] for pid, peak in memory.run_peaks.items() if peak > 50]
    published = publisher.count()
    return {
        "runs": len(runs),
        "runs_by_status": by_status,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "published": published,
        "not_published_not_kept": len(publisher.not_kept),
        "stored": counts["articles"],
        "stored_once": counts["articles"] == counts["distinct_urls"] == published == counts["entries_loaded"],
        "ledger_entries": counts["entries"],
        "runs_left_running": {"store": counts["runs_running"], "prefect": left_in_prefect},
        "memory_mb": {
            "serve": first_last(memory.serve),
            "prefect_server": first_last(memory.server),
            "each_run_process_peak": first_last(run_peaks),
            "each_run_with_workers_peak": first_last(run_tree_peaks),
            "run_processes_seen": len(run_peaks),
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=60, help="finished runs to wait for (one a minute; default 60)")
    parser.add_argument("--per-minute", type=int, default=3, help="articles published each minute (default 3)")
    parser.add_argument("--database-url", help="the store (default: a new SQLite file in the work directory)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, databases)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="rare-news-soak-"))
    log(f"soak: {args.runs} runs, {args.per_minute} articles a minute; work directory {work}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        figures = soak(args, work)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    memory = figures["memory_mb"]
    print(json.dumps(figures, indent=2, default=str))
    print(
        f"soak: {figures['runs']} runs ({', '.join(f'{v} {k}' for k, v in figures['runs_by_status'].items())}) "
        f"in {figures['minutes']} min; {figures['published']} articles published, {figures['stored']} stored"
        f"{' once each' if figures['stored_once'] else ' (NOT once each)'}; "
        f"memory first/last ten runs: serve {memory['serve']['first']}/{memory['serve']['last']} MB, "
        f"Prefect server {memory['prefect_server']['first']}/{memory['prefect_server']['last']} MB, "
        f"each run's process {memory['each_run_process_peak']['first']}/{memory['each_run_process_peak']['last']} MB "
        f"peak; left running: {figures['runs_left_running']['store']} in the store, "
        f"{figures['runs_left_running']['prefect']} in Prefect"
    )
    ok = figures["stored_once"] and not any(figures["runs_left_running"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
