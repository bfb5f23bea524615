"""The web app's latency and the CLI's start-up, on the search phase's store of 100k synthetic articles.

- Server time of the search page (with its facets), of the search API (no facets) and of article pages: each
  request is handled by the app in this process (`web.app.create_app` on the store opened read-only, as
  `rare-news web` serves it), timed from the request to the last byte of the answer, with no network in between.
  The search requests are bench/search.py's QUERIES; every one runs once untimed, then `rounds` times.
- Process time (user + system CPU) of `rare-news search` and `rare-news show`, each a fresh process on the same
  store: what a user waits for at the terminal, imports included.

`bench/run.py` runs it after the search phase, on the same stores (`--only search,web`); alone
(`python bench/web.py --help`) it fills a throwaway SQLite file and Postgres database first and merges its
figures into bench/results.json under performance.web.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import search as search_bench  # noqa: E402

TARGETS = {"search_page_p95_ms": 100.0, "search_api_p95_ms": 50.0, "cli_process_s": 0.3}
ARTICLE_PAGES = 20  # distinct articles whose page is timed
CLI_RUNS = 5  # processes per command; the median is reported
PACKAGES = ("flows", "connectors", "models", "transforms", "web")


def _query_params(query: search_bench.Query) -> dict[str, str]:
    params = {"q": query.text}
    if query.element:
        params["element"] = query.element
    if query.company:
        params["company"] = query.company
    if query.since:
        params["since"] = query.since.date().isoformat()
    return params


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "calls": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def _timed(client: Any, path: str, params: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    response = client.get(path, params=params)
    elapsed = 1000 * (time.perf_counter() - started)
    if response.status_code != 200:
        raise RuntimeError(f"{path} {params}: HTTP {response.status_code}: {response.text[:200]}")
    return elapsed


def time_requests(database_url: str, rounds: int) -> dict[str, Any]:
    """p50/p95 server time of the search page, the search API and article pages."""
    from sqlalchemy import select

    from models.store import ARTICLE
    from web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    app = create_app(database_url)
    figures: dict[str, Any] = {}
    try:
        with TestClient(app) as client:
            for name, path in (("search_page", "/"), ("search_api", "/api/search")):
                samples: list[float] = []
                per_query: dict[str, float] = {}
                for query in search_bench.QUERIES:
                    params = _query_params(query)
                    _timed(client, path, params)
                    times = [_timed(client, path, params) for _ in range(rounds)]
                    samples.extend(times)
                    per_query[query.label()] = round(statistics.median(times), 1)
                figures[name] = {**_percentiles(samples), "per_query_p50_ms": per_query}
            with app.state.engine.connect() as connection:
                ids = list(connection.execute(select(ARTICLE.c.id).order_by(ARTICLE.c.id.desc()).limit(5000)).scalars())
            chosen = random.Random(7).sample(ids, min(ARTICLE_PAGES, len(ids)))
            for article_id in chosen:
                _timed(client, f"/articles/{article_id}")
            pages = [_timed(client, f"/articles/{article_id}") for _ in range(rounds) for article_id in chosen]
            figures["article_page"] = _percentiles(pages)
    finally:
        app.state.engine.dispose()
    return figures


def _cli_command() -> list[str]:
    script = Path(sys.executable).parent / "rare-news"
    return [str(script)] if script.exists() else [sys.executable, "-c", "from flows.cli import main; main()"]


def _process_seconds(arguments: list[str]) -> float:
    """User + system CPU seconds of one `rare-news` process."""
    process = subprocess.Popen(
        _cli_command() + arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy()
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"rare-news {' '.join(arguments)} exited {process.returncode}: {error[-500:]}")
    if process.stderr:
        process.stderr.close()
    return usage.ru_utime + usage.ru_stime


def time_cli(database_url: str, article_id: int) -> dict[str, Any]:
    """Median process time of `rare-news search` and `rare-news show` (fresh processes, imports included), with
    the project's modules compiled as `make install` leaves them."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", *PACKAGES], cwd=REPO, check=True, capture_output=True)
    figures: dict[str, Any] = {}
    for name, arguments in (
        ("search", ["search", "dysprosium prices", "--database-url", database_url]),
        ("show", ["show", str(article_id), "--database-url", database_url]),
    ):
        _process_seconds(arguments)  # the first run reads the files into the page cache
        runs = [_process_seconds(arguments) for _ in range(CLI_RUNS)]
        figures[name] = {"process_s": round(statistics.median(runs), 3), "runs": [round(run, 3) for run in runs]}
    return figures


def measure(database_url: str, articles: int, rounds: int, pages_dir: Path) -> dict[str, Any]:
    """The web and CLI figures on a store of `articles` synthetic articles (filled first when it has none)."""
    from sqlalchemy import func, select

    from flows.common import prepare_store
    from flows.settings import get_settings
    from models.db import get_engine
    from models.store import ARTICLE

    engine = prepare_store(get_settings(database_url=database_url))
    try:
        if search_bench._synthetic_articles(engine) == 0:
            search_bench.fill(engine, articles, pages_dir)
        with engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(ARTICLE)).scalar_one()
            newest = connection.execute(select(func.max(ARTICLE.c.id))).scalar_one()
    finally:
        engine.dispose()
        get_engine.cache_clear()
    figures: dict[str, Any] = {"articles": total, "rounds": rounds}
    figures.update(time_requests(database_url, rounds))
    figures["cli"] = time_cli(database_url, newest)
    return figures


def table_rows(figures: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """Rows for bench/run.py's table: (what, value, target, met)."""
    rows: list[tuple[Any, ...]] = []
    for label, found in (figures or {}).items():
        if not isinstance(found, dict) or "search_page" not in found:
            continue
        for name, title, target in (
            ("search_page", "web search page (facets)", TARGETS["search_page_p95_ms"]),
            ("search_api", "web search API (no facets)", TARGETS["search_api_p95_ms"]),
            ("article_page", "web article page", None),
        ):
            timing = found[name]
            rows.append((f"{title} p50, {label}", f"{timing['p50_ms']} ms", "", None))
            met = None if target is None else timing["p95_ms"] <= target
            rows.append(
                (f"{title} p95, {label}", f"{timing['p95_ms']} ms", f"<= {target:.0f} ms" if target else "", met)
            )
        for command in ("search", "show"):
            seconds = found["cli"][command]["process_s"]
            limit = TARGETS["cli_process_s"]
            rows.append(
                (f"`rare-news {command}` process time, {label}", f"{seconds} s", f"<= {limit} s", seconds <= limit)
            )
    return rows


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    import tempfile
    from datetime import UTC, datetime

    from bench.newsweb import default_pages_dir
    from bench.run import POSTGRES_ADMIN_URL, RESULTS_PATH, load_average, postgres_database

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000, help="synthetic articles (default 100000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed requests per query or page (default 5)")
    parser.add_argument("--only", default="sqlite,postgres", help="sqlite, postgres or both (default both)")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="admin URL; a throwaway DB is made")
    parser.add_argument("--database-url", action="append", default=[], help="measure on this kept store instead")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = parser.parse_args(argv)
    pages_dir = default_pages_dir()
    engines = {name.strip() for name in args.only.split(",") if name.strip()}
    figures: dict[str, Any] = {}
    started_load = load_average()
    if args.database_url:
        for url in args.database_url:
            label = "sqlite" if url.startswith("sqlite") else "postgres"
            _log(f"web: {label} ({url})")
            figures[label] = measure(url, args.articles, args.rounds, pages_dir)
    else:
        if "sqlite" in engines:
            with tempfile.TemporaryDirectory(prefix="rare-news-web-") as workdir:
                _log(f"web: {args.articles:,} synthetic articles on SQLite")
                figures["sqlite"] = measure(f"sqlite:///{workdir}/web.db", args.articles, args.rounds, pages_dir)
        if "postgres" in engines:
            with postgres_database(args.postgres_url, "web") as url:
                if url is not None:
                    _log(f"web: {args.articles:,} synthetic articles on Postgres")
                    figures["postgres"] = measure(url, args.articles, args.rounds, pages_dir)
    for what, value, target, met in table_rows(figures):
        print(f"{what:<52} {value:>10} {target:>10} {'' if met is None else ('yes' if met else 'NO')}")
    print(f"load average at start {started_load}, at end {load_average()}")
    if not args.no_write and figures:
        figures["when"] = datetime.now(UTC).isoformat(timespec="seconds")
        figures["load_average"] = [started_load, load_average()]
        results = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {}
        results.setdefault("performance", {})["web"] = figures
        tmp = args.results.with_suffix(f".json.tmp{os.getpid()}")
        tmp.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(args.results)
        print(f"figures merged into {args.results} under performance.web")
    return 0


if __name__ == "__main__":
    sys.exit(main())
