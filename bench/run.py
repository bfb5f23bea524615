"""`make bench`: how fast the pipeline is, measured against a realistic news web on loopback, in one run.

What one run measures (sizes are options; the defaults take about ten minutes on 2 cores):

1. Cold ingest: articles per second of the real ingest flow (`bench/ingest.py`: `flows.ingest` in a process
   of its own, as `rare-news run --feeds FILE` runs it) over FEEDS x ENTRIES new articles into a new SQLite
   database, and over the first PG_FEEDS feeds into a new Postgres database; beside the limit, measured in the
   same run on the same number of processes: bare `trafilatura.extract` over the same pages, and the
   pipeline's own per-page work (`judge_page`) with no HTTP, no Prefect and no database (bench/limit.py).
2. Warm poll: the SQLite run again over the same, unchanged feeds: every feed answers 304.
3. Search: p50 and p95 of `search_articles` over SEARCH_ARTICLES synthetic articles (bench/search.py); on the
   same stores, the web phase (bench/web.py): server time of the web app's search page, search API and article
   pages, and the process time of `rare-news search` and `rare-news show`.
4. Memory: peak RSS (and PSS) of the cold SQLite run's whole process tree: the flow's process, the
   forkserver and its extraction workers (bench/procs.py). The Prefect API server is a separate service
   (as in a deployment) and is reported on its own line.
5. A peer: newspaper4k downloading and parsing the first PEER_ARTICLES article URLs on the same number of
   processes, and its F1 on the benchmark pages beside ours (bench/peer.py).

The news web (bench/newsweb.py) serves the benchmark pages of bench/extraction/ (else
../shared/bench/extraction/), each under many URLs with a distinct rare-earth paragraph, from a separate
process. Every URL is on 127.0.0.1, one host: the per-host concurrency is raised to the fetch concurrency for
the runs (RARE_NEWS_PER_HOST_CONCURRENCY), and loopback is allowed (RARE_NEWS_ALLOW_PRIVATE_NETWORKS).

bench/eval.py ("extraction" key) runs too, and bench/dedup.py ("dedup" key) with `--only ...,dedup` (it takes
several minutes by itself), each after the figures here are taken. Figures are merged into bench/results.json
under "performance" (other keys are kept) and printed as a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/run.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))

from bench import limit, peer, procs, realweb  # noqa: E402
from bench import search as search_bench  # noqa: E402
from bench import web as web_bench  # noqa: E402
from bench.newsweb import article_path, default_pages_dir, feed_path  # noqa: E402

RESULTS_PATH = HERE / "results.json"
RESULTS_KEY = "performance"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

TARGETS = {
    "ingest_ratio": 0.85,  # cold ingest >= 0.85 x the bare-extraction limit
    "warm_poll_s": 5.0,  # 1,000 unchanged feeds
    "search_p95_ms": 50.0,  # at 100k articles
    "peak_rss_mb": 500.0,  # 10k-article run
}

PREFECT_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- services: the news web and a Prefect API server, each a process of its own ------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[Any], grace: float = 20.0) -> None:
    """Stop a service this script started: its process group, politely first."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@contextlib.contextmanager
def port_server(command: list[str], log: Path, what: str) -> Iterator[tuple[int, subprocess.Popen[Any]]]:
    """A server process that prints its port on its first line of stdout; stopped when the block ends."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log.open("wb"), start_new_session=True, text=True
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            raise RuntimeError(f"{what} did not start; see {log}")
        yield int(port), process
    finally:
        _stop(process)


@contextlib.contextmanager
def news_web(pages_dir: Path, logs: Path) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    command = [sys.executable, str(HERE / "newsweb.py"), "--pages-dir", str(pages_dir)]
    with port_server(command, logs / "newsweb.log", "the news web") as (port, process):
        yield f"http://127.0.0.1:{port}", process


@contextlib.contextmanager
def prefect_server(home: Path, logs: Path) -> Iterator[tuple[str, subprocess.Popen[Any], float]]:
    """`prefect server start` on a free port, with its own PREFECT_HOME; yields its API URL once healthy."""
    port = _free_port()
    env = {**os.environ, **PREFECT_ENV, "PREFECT_HOME": str(home)}
    env.pop("PREFECT_API_URL", None)
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=(logs / "prefect-server.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the Prefect server exited; see {logs / 'prefect-server.log'}")
            with contextlib.suppress(OSError), urllib.request.urlopen(f"{api}/health", timeout=2) as response:
                if response.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the Prefect server did not become healthy in 180 s")
            time.sleep(0.5)
        yield api, process, time.perf_counter() - started
    finally:
        _stop(process)


# --- one ingestion run, sampled ----------------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    workdir: Path
    web_url: str
    web_process: subprocess.Popen[Any]
    prefect_api: str | None
    prefect_process: subprocess.Popen[Any] | None
    prefect_home: Path
    workers: int

    def ingest_env(self) -> dict[str, str]:
        env = {name: value for name, value in os.environ.items() if not name.startswith("RARE_NEWS_")}
        env.update(PREFECT_ENV)
        env["PREFECT_HOME"] = str(self.prefect_home)
        if self.prefect_api:
            env["PREFECT_API_URL"] = self.prefect_api
        env.update(
            {
                "RARE_NEWS_CONFIG_DIR": str(REPO / "config"),
                "RARE_NEWS_ALLOW_PRIVATE_NETWORKS": "true",
                # One loopback host serves every page: let it take as many requests as the run makes.
                "RARE_NEWS_PER_HOST_CONCURRENCY": str(self.args.fetch_concurrency),
                "RARE_NEWS_FETCH_CONCURRENCY": str(self.args.fetch_concurrency),
                "RARE_NEWS_EXTRACT_WORKERS": str(self.workers),
                "RARE_NEWS_BATCH_SIZE": str(self.args.batch_size),
                "RARE_NEWS_MAX_ENTRIES_PER_FEED": str(max(200, self.args.entries)),
                # The warm phase polls the same feeds right after the cold one: no adaptive waiting.
                "RARE_NEWS_POLL_MAX_INTERVAL": "0",
            }
        )
        return env


def write_feeds_file(path: Path, web_url: str, feeds: int, entries: int) -> Path:
    lines = []
    for feed in range(feeds):
        lines += ["[[feeds]]", f'url = "{web_url}{feed_path(feed, entries)}"', "topical = true", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_ingest(
    ctx: Context, label: str, database_url: str, feeds_file: Path, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One `bench/ingest.py` process (environment `env`, else the Context's); its tree sampled for memory and
    CPU, the services' CPU beside."""
    log(f"{label}: ingest into {database_url.split('@')[-1]}")
    stderr_path = ctx.workdir / f"{label}.stderr"
    services_before = _services_cpu(ctx)
    started = time.perf_counter()
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "ingest.py"), "--database-url", database_url, "--feeds-file", str(feeds_file)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env or ctx.ingest_env(),
        )
        with procs.TreeSampler(process.pid, interval=0.1) as sampler:
            stdout, _ = process.communicate()
        stats = sampler.stop()
    process_s = time.perf_counter() - started
    services_after = _services_cpu(ctx)
    line = next((row for row in stdout.decode().splitlines() if row.startswith("RESULT ")), None)
    if process.returncode != 0 or line is None:
        tail = stderr_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{label}: ingest failed (exit {process.returncode}):\n{tail}")
    result = json.loads(line.removeprefix("RESULT "))
    summary = result["summary"]
    flow_s = result["flow_s"]
    main_cpu = stats.cpu_of(process.pid)
    pages = summary["pages_fetched"]
    figures = {
        "feeds": summary["feeds_polled"],
        "pages": pages,
        "articles_stored": summary["articles_stored"],
        "summary": summary,
        "flow_s": round(flow_s, 2),
        "process_s": round(process_s, 2),
        "import_s": round(result["import_s"], 2),
        "pages_per_s": round(pages / flow_s, 2) if pages else None,
        "stored_per_s": round(summary["articles_stored"] / flow_s, 2) if pages else None,
        "peak_rss_mb": round(stats.peak_rss_mb, 1),
        "peak_pss_mb": round(stats.peak_pss_mb, 1),
        "peak_processes": stats.peak_processes,
        "cpu_s": {
            "flow_process": round(main_cpu, 2),
            "workers_and_forkserver": round(stats.cpu_seconds() - main_cpu, 2),
            **{name: round(services_after[name] - services_before[name], 2) for name in services_after},
        },
        "processes": stats.by_role(process.pid),
        "settings": result["settings"],
        "feed_errors": result["feed_errors"],
    }
    figures["cpu_s"]["flow_process_during_flow"] = round(result["flow_cpu_s"], 2)
    if pages:
        figures["flow_process_cpu_ms_per_page"] = round(1000 * result["flow_cpu_s"] / pages, 2)
        figures["worker_cpu_ms_per_page"] = round(1000 * (stats.cpu_seconds() - main_cpu) / pages, 2)
    log(
        f"{label}: {pages} pages, {summary['articles_stored']} stored in {flow_s:.1f} s "
        f"({figures['pages_per_s']} pages/s); peak RSS {stats.peak_rss_mb:.0f} MB, PSS {stats.peak_pss_mb:.0f} MB; "
        f"CPU ms/page: flow process {figures.get('flow_process_cpu_ms_per_page')}, "
        f"workers {figures.get('worker_cpu_ms_per_page')}; {json.dumps(figures['processes'])}"
    )
    return figures


def _services_cpu(ctx: Context) -> dict[str, float]:
    cpu = {"news_web_server": procs.cpu_of_tree(ctx.web_process.pid)}
    if ctx.prefect_process is not None:
        cpu["prefect_server"] = procs.cpu_of_tree(ctx.prefect_process.pid)
    return cpu


# --- Postgres ----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_database(admin_url: str, purpose: str) -> Iterator[str | None]:
    """A throwaway database on the admin URL's server, dropped afterwards; None if the server is not there."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import OperationalError

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"rare_news_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        log(f"Postgres not reachable at {admin_url}: {str(exc.orig).strip()}; skipping the Postgres figures")
        admin.dispose()
        yield None
        return
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        from models.db import get_engine

        get_engine(url).dispose()
        get_engine.cache_clear()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_version(admin_url: str) -> str | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar_one())
    except Exception:  # noqa: BLE001 - only a version string for the report
        return None
    finally:
        engine.dispose()


# --- machine and versions ------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    memory_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory_gb = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024, 1)
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_model,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": memory_gb,
        "sqlite": sqlite3.sqlite_version,
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("trafilatura", "prefect", "sqlalchemy", "httpx", "lxml", "psycopg", "feedparser", "newspaper4k"):
        try:
            found[name] = package_version(name)
        except PackageNotFoundError:
            found[name] = None
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
        found["project_commit"] = commit + ("+uncommitted" if dirty else "")
    return found


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# --- the other benchmarks ------------------------------------------------------------------------------------------


def run_sibling(script: str, timeout: float) -> dict[str, Any]:
    """bench/eval.py or bench/dedup.py, when present: they write their own keys of results.json."""
    path = HERE / script
    if not path.exists():
        return {"ran": False, "reason": "not present"}
    log(f"running bench/{script}")
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, cwd=REPO
        )
    except subprocess.TimeoutExpired:
        return {"ran": True, "exit": None, "reason": f"timed out after {timeout:.0f} s"}
    output = (completed.stdout + completed.stderr).strip()
    if output:
        print(output, file=sys.stderr)
    return {"ran": True, "exit": completed.returncode, "seconds": round(time.perf_counter() - started, 1)}


def merge_results(path: Path, key: str, figures: dict[str, Any]) -> None:
    """Read-modify-write one key of the results file other benchmarks share."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results[key] = figures
    tmp = path.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- the table ------------------------------------------------------------------------------------------------


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if value < 100 else f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def table(figures: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def add(what: str, value: str, target: str = "", met: bool | None = None) -> None:
        rows.append((what, value, target, "" if met is None else ("yes" if met else "NO")))

    lim = figures.get("limit", {})
    bare = lim.get("bare", {}).get("pages_per_s")
    pipe = lim.get("pipeline", {}).get("pages_per_s")
    workers = figures.get("workers")
    if bare:
        add(f"limit: bare trafilatura.extract, {workers} processes", _fmt(bare, " pages/s"))
    if pipe:
        add(f"limit: pipeline judge_page, {workers} processes", _fmt(pipe, " pages/s"))
    for label in ("sqlite", "postgres"):
        cold = figures.get("cold", {}).get(label)
        if not cold:
            continue
        rate = cold.get("pages_per_s")
        ratio = cold.get("ratio_to_bare")
        add(
            f"cold ingest, {label}: {cold['pages']:,} pages ({cold['articles_stored']:,} stored)",
            _fmt(rate, " pages/s"),
        )
        add(
            f"  ratio to bare-extraction limit ({label})",
            _fmt(ratio),
            f">= {TARGETS['ingest_ratio']}",
            None if ratio is None else ratio >= TARGETS["ingest_ratio"],
        )
        if cold.get("ratio_to_pipeline") is not None:
            add(f"  ratio to pipeline limit ({label})", _fmt(cold["ratio_to_pipeline"]))
        if cold.get("cpu_ratio_to_bare") is not None:
            add(
                f"  same from CPU ms/page: to bare / to pipeline ({label})",
                f"{cold['cpu_ratio_to_bare']:.2f} / {cold.get('cpu_ratio_to_pipeline', 0):.2f}",
            )
    warm = figures.get("warm_poll")
    if warm:
        add(
            f"warm poll: {warm['feeds']:,} feeds answering 304 (flow)",
            _fmt(warm["flow_s"], " s"),
            f"<= {TARGETS['warm_poll_s']:.0f} s",
            warm["flow_s"] <= TARGETS["warm_poll_s"],
        )
        add("  same, whole process (imports included)", _fmt(warm["process_s"], " s"))
    for label in ("sqlite", "postgres"):
        found = figures.get("search", {}).get(label)
        if not found:
            continue
        add(f"search p50, {label}, {found['articles']:,} articles", _fmt(found["p50_ms"], " ms"))
        add(
            f"search p95, {label}",
            _fmt(found["p95_ms"], " ms"),
            f"<= {TARGETS['search_p95_ms']:.0f} ms",
            found["p95_ms"] <= TARGETS["search_p95_ms"],
        )
    memory = figures.get("memory")
    if memory:
        add(
            f"peak RSS, {memory['pages']:,}-page run, whole tree",
            _fmt(memory["peak_rss_mb"], " MB"),
            f"<= {TARGETS['peak_rss_mb']:.0f} MB",
            memory["peak_rss_mb"] <= TARGETS["peak_rss_mb"],
        )
        add("  peak PSS (shared pages counted once)", _fmt(memory["peak_pss_mb"], " MB"))
    for row in realweb.table_rows(figures.get("realweb")):
        add(*row)
    for row in web_bench.table_rows(figures.get("web")):
        add(*row)
    peer_figures = figures.get("peer", {})
    speed = peer_figures.get("speed")
    ours_rate = figures.get("cold", {}).get("sqlite", {}).get("pages_per_s")
    if speed:
        add(
            f"newspaper4k download+parse, {speed['workers']} processes",
            _fmt(speed["articles_per_s"], " articles/s"),
            "< ours",
            None if ours_rate is None else speed["articles_per_s"] < ours_rate,
        )
    quality = peer_figures.get("quality")
    if quality:
        ours_f1 = quality["ours"]["f1"]
        add(
            f"F1 on {quality['pages']} benchmark pages: newspaper4k / ours",
            f"{quality['newspaper4k']['f1']:.3f} / {ours_f1:.3f}",
            "ours higher",
            ours_f1 > quality["newspaper4k"]["f1"],
        )
    width = max(len(row[0]) for row in rows) if rows else 10
    lines = [f"{'figure':<{width}}  {'value':>20}  {'target':>10}  met"]
    lines += [f"{what:<{width}}  {value:>20}  {target:>10}  {met}" for what, value, target, met in rows]
    return "\n".join(lines)


# --- the run -------------------------------------------------------------------------------------------------------


SMALL = {
    "feeds": 20,
    "entries": 5,
    "pg_feeds": 10,
    "limit_pages": 100,
    "search_articles": 2000,
    "search_rounds": 3,
    "peer_articles": 40,
    **realweb.SMALL,
}
PHASES = ("limit", "cold", "warm", "postgres", "search", "web", "peer", "realweb", "eval", "dedup")
# bench/dedup.py takes several minutes on its own: `--only` it (or add it) when its figures are wanted.
DEFAULT_PHASES = ("limit", "cold", "warm", "postgres", "search", "web", "peer", "realweb", "eval")
# bench/events.py (event stories): time per article of the event step at 10k and 100k stored articles.
PHASES += ("events",)
DEFAULT_PHASES += ("events",)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=1000, help="feeds of the cold SQLite run (default 1000)")
    parser.add_argument("--entries", type=int, default=10, help="entries per feed (default 10)")
    parser.add_argument(
        "--pg-feeds", type=int, default=300, help="feeds of the cold Postgres run: the first N (default 300)"
    )
    parser.add_argument(
        "--limit-pages", type=int, default=1001, help="pages for each extraction limit (default 1001: 11 x 91)"
    )
    parser.add_argument("--search-articles", type=int, default=100_000, help="synthetic articles (default 100000)")
    parser.add_argument("--search-rounds", type=int, default=5, help="timed calls per search query (default 5)")
    parser.add_argument("--peer-articles", type=int, default=200, help="URLs newspaper4k fetches (default 200)")
    realweb.add_arguments(parser)
    parser.add_argument("--workers", type=int, default=0, help="extraction processes; 0: one per core")
    parser.add_argument("--batch-size", type=int, default=100, help="RARE_NEWS_BATCH_SIZE for the runs")
    parser.add_argument("--fetch-concurrency", type=int, default=8, help="pages fetched at once (and per host)")
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_PHASES),
        help=f"comma-separated phases of {', '.join(PHASES)} (default: all but dedup)",
    )
    parser.add_argument("--small", action="store_true", help="tiny sizes: checks the harness in about a minute")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="admin URL; a throwaway DB is made")
    parser.add_argument("--prefect-api-url", default=None, help="use this Prefect API instead of starting one")
    parser.add_argument("--pages-dir", type=Path, default=None, help="benchmark pages (default bench/extraction)")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases, logs)")
    args = parser.parse_args(argv)
    if args.small:
        for name, value in SMALL.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    args.phases = {phase.strip() for phase in args.only.split(",") if phase.strip()}
    unknown = args.phases - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {sorted(unknown)}; choose from {', '.join(PHASES)}")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the services and the throwaway databases are cleaned up


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    if not procs.available():
        print("bench/run.py samples memory from /proc: it runs on Linux only", file=sys.stderr)
        return 2
    pages_dir = args.pages_dir or default_pages_dir()
    workers = args.workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    workdir = Path(tempfile.mkdtemp(prefix="rare-news-bench-"))
    logs = workdir / "logs"
    logs.mkdir()
    figures: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "load_average_at_start": load_average(),
        "workers": workers,
        "parameters": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key not in ("phases", "results", "no_write", "keep", "only")
        }
        | {"phases": sorted(args.phases), "pages_dir": str(pages_dir)},
    }
    log(f"work directory {workdir}; {workers} extraction processes; load average {figures['load_average_at_start']}")
    started = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            web_url, web_process = stack.enter_context(news_web(pages_dir, logs))
            log(f"news web at {web_url}")
            prefect_api, prefect_process = args.prefect_api_url, None
            needs_prefect = args.phases & {"cold", "warm", "postgres", "realweb"}
            if needs_prefect and prefect_api is None:
                prefect_api, prefect_process, startup = stack.enter_context(
                    prefect_server(workdir / "prefect-home", logs)
                )
                figures["prefect_server_startup_s"] = round(startup, 1)
                log(f"Prefect API at {prefect_api} (ready in {startup:.1f} s)")
            ctx = Context(
                args, workdir, web_url, web_process, prefect_api, prefect_process, workdir / "prefect-home", workers
            )
            measure_all(ctx, pages_dir, figures)
    finally:
        figures["load_average_at_end"] = load_average()
        figures["total_s"] = round(time.perf_counter() - started, 1)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    figures["siblings"] = {
        name: run_sibling(f"{name}.py", timeout=1800) for name in ("eval", "dedup", "events") if name in args.phases
    }
    print(table(figures))
    print(
        f"total {figures['total_s']:.0f} s; load average at start {figures['load_average_at_start']}, "
        f"at end {figures['load_average_at_end']}"
    )
    if not args.no_write:
        merge_results(args.results, RESULTS_KEY, figures)
        print(f"figures merged into {args.results} under {RESULTS_KEY!r}")
    return 0


def measure_all(ctx: Context, pages_dir: Path, figures: dict[str, Any]) -> None:
    args = ctx.args
    if "limit" in args.phases:
        log(f"limit: bare trafilatura over {args.limit_pages} pages")
        figures["limit"] = {"bare": limit.measure("bare", args.limit_pages, ctx.workers, pages_dir)}
        log(f"limit: judge_page over {args.limit_pages} pages")
        figures["limit"]["pipeline"] = limit.measure("pipeline", args.limit_pages, ctx.workers, pages_dir)
        log(
            f"limit: bare {figures['limit']['bare']['pages_per_s']} pages/s, "
            f"pipeline {figures['limit']['pipeline']['pages_per_s']} pages/s"
        )
    cold: dict[str, Any] = {}
    figures["cold"] = cold
    if args.phases & {"cold", "warm"}:
        feeds_file = write_feeds_file(ctx.workdir / "feeds.toml", ctx.web_url, args.feeds, args.entries)
        sqlite_url = f"sqlite:///{ctx.workdir / 'cold.db'}"
        cold["sqlite"] = run_ingest(ctx, "cold-sqlite", sqlite_url, feeds_file)
        figures["memory"] = {
            key: cold["sqlite"][key] for key in ("pages", "peak_rss_mb", "peak_pss_mb", "peak_processes")
        }
        if ctx.prefect_process is not None:
            figures["memory"]["prefect_server_rss_mb"] = round(
                sum(procs.rss_kb(pid) for pid in procs.tree(ctx.prefect_process.pid)) / 1024, 1
            )
        if "warm" in args.phases:
            warm = run_ingest(ctx, "warm-sqlite", sqlite_url, feeds_file)
            figures["warm_poll"] = {
                "feeds": warm["feeds"],
                "not_modified": warm["summary"]["feeds_not_modified"],
                "pages_fetched": warm["pages"],
                "flow_s": warm["flow_s"],
                "process_s": warm["process_s"],
                "import_s": warm["import_s"],
                "cpu_s": warm["cpu_s"],
            }
    if "postgres" in args.phases:
        with postgres_database(args.postgres_url, "ingest") as url:
            if url is not None:
                pg_feeds = write_feeds_file(ctx.workdir / "pg-feeds.toml", ctx.web_url, args.pg_feeds, args.entries)
                cold["postgres"] = run_ingest(ctx, "cold-postgres", url, pg_feeds)
                figures["machine"]["postgres"] = postgres_version(args.postgres_url)
    for run in cold.values():
        bare = figures.get("limit", {}).get("bare", {})
        pipe = figures.get("limit", {}).get("pipeline", {})
        if run.get("pages_per_s") and bare.get("pages_per_s"):
            run["ratio_to_bare"] = round(run["pages_per_s"] / bare["pages_per_s"], 3)
        if run.get("pages_per_s") and pipe.get("pages_per_s"):
            run["ratio_to_pipeline"] = round(run["pages_per_s"] / pipe["pages_per_s"], 3)
        # The same ratios from CPU time per page (the ingest's: flow process and workers together), which other
        # work on the machine hardly moves: what the wall-time ratio is on a machine with nothing else running.
        ingest_cpu = (run.get("flow_process_cpu_ms_per_page") or 0) + (run.get("worker_cpu_ms_per_page") or 0)
        if ingest_cpu and bare.get("cpu_ms_per_page"):
            run["cpu_ratio_to_bare"] = round(bare["cpu_ms_per_page"] / ingest_cpu, 3)
        if ingest_cpu and pipe.get("cpu_ms_per_page"):
            run["cpu_ratio_to_pipeline"] = round(pipe["cpu_ms_per_page"] / ingest_cpu, 3)
    if "search" in args.phases:
        figures["search"] = {}
        web_args = (args.search_articles, args.search_rounds, pages_dir)
        log(f"search: {args.search_articles:,} synthetic articles on SQLite")
        figures["search"]["sqlite"] = search_bench.measure(
            f"sqlite:///{ctx.workdir / 'search.db'}", args.search_articles, args.search_rounds, pages_dir
        )
        found = figures["search"]["sqlite"]
        log(f"search sqlite: p50 {found['p50_ms']} ms, p95 {found['p95_ms']} ms")
        if "web" in args.phases:  # the web app and CLI start-up on the same store (bench/web.py)
            web_store = f"sqlite:///{ctx.workdir / 'search.db'}"
            figures.setdefault("web", {})["sqlite"] = web_bench.measure(web_store, *web_args)
        with postgres_database(args.postgres_url, "search") as url:
            if url is not None:
                log(f"search: {args.search_articles:,} synthetic articles on Postgres")
                figures["search"]["postgres"] = search_bench.measure(
                    url, args.search_articles, args.search_rounds, pages_dir
                )
                pg = figures["search"]["postgres"]
                log(f"search postgres: p50 {pg['p50_ms']} ms, p95 {pg['p95_ms']} ms")
                if "web" in args.phases:
                    figures.setdefault("web", {})["postgres"] = web_bench.measure(url, *web_args)
    if "realweb" in args.phases:
        figures["realweb"] = realweb.measure(ctx, pages_dir)
    if "peer" in args.phases:
        figures["peer"] = {"newspaper4k": peer.version()}
        if figures["peer"]["newspaper4k"] is None:
            log("newspaper4k is not installed (make dev installs it): no peer figures")
        else:
            urls = [ctx.web_url + article_path(index) for index in range(args.peer_articles)]
            log(f"peer: newspaper4k over {len(urls)} article URLs")
            figures["peer"]["speed"] = peer.measure_speed(urls, ctx.workers)
            log("peer: newspaper4k and ours on the benchmark pages")
            figures["peer"]["quality"] = peer.measure_quality(pages_dir)


if __name__ == "__main__":
    sys.exit(main())
