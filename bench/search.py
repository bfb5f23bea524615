"""Search latency over a large store: `models.queries.search_articles` (what `rare-news search` calls) on
100k synthetic articles, on SQLite (FTS5) and Postgres (tsvector + GIN).

The articles are made of real text: windows of the benchmark's hand-marked article bodies, plus a rare-earth
market note (companies, elements, places, topics), so term frequencies look like a rare-earth news archive:
"rare earth" is in every article, a company or a place in a tenth to an eighth of them, a topic in a sixth; one
article in five is a syndicated copy linked to its story. Rows go in with bulk INSERTs (the FTS triggers and the
generated tsvector column index them as the store's own inserts would), with element, company and place tags
for the filtered queries.

Each query of `QUERIES` runs once untimed, then `rounds` times; p50 and p95 are over all timed calls, with
each query's median beside them.

Run alone (`python bench/search.py --help`) it fills a throwaway SQLite file and a throwaway Postgres database,
as `bench/run.py --only search` does, and merges its figures into bench/results.json under
performance.search (the other keys are kept). `--database-url` measures on a database you keep instead: it is
filled once, and later runs reuse its synthetic articles (quick to repeat while changing the search code).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.newsweb import _COMPANIES, _ELEMENTS, _PLACES  # noqa: E402


@dataclass(frozen=True)
class Query:
    text: str
    element: str | None = None
    company: str | None = None
    since: datetime | None = None

    def label(self) -> str:
        parts = [repr(self.text)]
        if self.element:
            parts.append(f"--element {self.element}")
        if self.company:
            parts.append(f"--company {self.company!r}")
        if self.since:
            parts.append(f"--since {self.since.date()}")
        return " ".join(parts)


QUERIES: tuple[Query, ...] = (
    Query("rare earth"),  # every article matches: the worst case for ranking
    Query("neodymium"),
    Query("dysprosium prices"),
    Query("export controls"),
    Query("Lynas"),
    Query("MP Materials magnet"),
    Query("Baotou"),
    Query("Kalgoorlie terbium"),
    Query("China Rare Earth Group"),
    Query("samarium europium"),
    Query("government"),
    Query("shipments week 12"),
    Query("magnet", element="dysprosium"),
    Query("oxide", company="Lynas"),
    Query("", element="terbium"),  # no words: the newest articles with the tag
    Query("prices", since=datetime(2026, 1, 1, tzinfo=UTC)),
)

# Every COPY_EVERY-th article (index % COPY_EVERY == 1) is a syndicated copy of the one before it: same text, its
# own note, `near_duplicate_of` pointing at the story's canonical article, as the store links near duplicates.
COPY_EVERY = 5
_TOPICS = (
    "as China tightened export controls on rare earths",
    "while prices of separated oxides rose on the Shanghai market",
    "after a recycling plant began recovering magnets from old motors",
    "as electric vehicle and wind turbine makers signed long-term offtake contracts",
    "while environmental regulators inspected tailings at the mine",
    "as defence buyers sought supply outside China",
)
_TITLE_VERBS = ("lifts", "cuts", "expands", "halts", "restarts", "weighs", "secures", "delays")
_TITLE_NOUNS = ("output", "exports", "magnet supply", "separation plant", "prices", "contracts", "quota")


def synthetic_note(index: int) -> str:
    """A rare-earth paragraph: every article names rare earths; companies, elements, places and topics vary."""
    c, e, p = _COMPANIES, _ELEMENTS, _PLACES
    return (
        f"Rare earth shipments: {c[index % 10]} said {e[index % 10]} and {e[(index // 7 + 4) % 10]} oxide output "
        f"at {p[index % 8]} reached {100 + index % 900} tonnes in week {index % 52 + 1}, "
        f"{_TOPICS[(index // 3) % len(_TOPICS)]}; {c[(index // 10 + 3) % 10]} reported {e[(index // 11 + 2) % 10]} "
        f"magnet orders."
    )


def corpus_words(pages_dir: Path) -> list[str]:
    truth = json.loads((pages_dir / "ground-truth.json").read_text(encoding="utf-8"))
    words: list[str] = []
    for item in truth.values():
        words.extend((item.get("articleBody") or "").split())
    return words


def synthetic_rows(count: int, pages_dir: Path, *, seed: int = 7, start: int = 0) -> list[dict[str, Any]]:
    import hashlib

    rng = random.Random(seed + start)
    words = corpus_words(pages_dir)
    newest = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    previous_windows: list[str] = []
    for index in range(start, start + count):
        windows = []
        for _ in range(3):
            at = rng.randrange(0, max(1, len(words) - 80))
            windows.append(" ".join(words[at : at + rng.randint(50, 90)]))
        if index % COPY_EVERY == 1 and previous_windows:  # a syndicated copy: the story's text, its own note
            windows = previous_windows
        previous_windows = windows
        body = f"{windows[0]}\n\n{synthetic_note(index)}\n\n{windows[1]}\n\n{windows[2]}"
        title = (
            f"{_COMPANIES[index % 10]} {_TITLE_VERBS[index % 8]} {_ELEMENTS[(index // 10) % 10]} "
            f"{_TITLE_NOUNS[index % 7]} in {_PLACES[(index // 3) % 8]}"
        )
        url = f"https://news{index % 50}.example/story/{index}"
        rows.append(
            {
                "canonical_url": url,
                "url": url,
                "title": title,
                "authors": [],
                "published_at": newest - timedelta(minutes=17 * index),
                "fetched_at": newest,
                "language": "en",
                "site": f"news{index % 50}.example",
                "body_text": body,
                "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
                "relevance": 10.0,
                "origin": "feed",
                "extractor_version": "bench",
                "taxonomy_version": "bench",
            }
        )
    return rows


def _tags_of(row: dict[str, Any]) -> set[tuple[str, str]]:
    text = f"{row['title']} {row['body_text']}"
    tags = {("element", name) for name in _ELEMENTS if name in text}
    tags |= {("company", name) for name in _COMPANIES if name in text}
    tags |= {("place", name) for name in _PLACES if name in text}
    return tags


def fill(engine: Any, count: int, pages_dir: Path, *, chunk: int = 5000) -> dict[str, Any]:
    """Insert `count` synthetic articles and their tags; returns how long it took."""
    from sqlalchemy import func, select
    from sqlalchemy.dialects import postgresql, sqlite

    from models.store import ARTICLE, TAG

    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    all_tags = sorted(
        {("element", n) for n in _ELEMENTS} | {("company", n) for n in _COMPANIES} | {("place", n) for n in _PLACES}
    )
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(dialect.insert(TAG).on_conflict_do_nothing(), [{"kind": k, "name": n} for k, n in all_tags])
        tag_ids = {(row.kind, row.name): row.id for row in connection.execute(select(TAG.c.id, TAG.c.kind, TAG.c.name))}
    with _full_text_indexes_built_after(engine):
        _insert_rows(engine, count, pages_dir, chunk, tag_ids)
    if engine.dialect.name == "postgresql":  # what autovacuum does soon after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE article")
            connection.exec_driver_sql("VACUUM ANALYZE article_tag")
            connection.exec_driver_sql("VACUUM ANALYZE tag")
    # SQLite: no ANALYZE, as the application never runs one (with its statistics the planner picks other plans).
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(ARTICLE)).scalar_one()
    return {"inserted": count, "articles": total, "fill_s": round(time.perf_counter() - started, 1)}


def _insert_rows(engine: Any, count: int, pages_dir: Path, chunk: int, tag_ids: dict[tuple[str, str], int]) -> None:
    from sqlalchemy import bindparam, update

    from models.store import ARTICLE, ARTICLE_TAG

    for offset in range(0, count, chunk):
        rows = synthetic_rows(min(chunk, count - offset), pages_dir, start=offset)
        with engine.begin() as connection:
            ids = connection.execute(ARTICLE.insert().returning(ARTICLE.c.id, ARTICLE.c.canonical_url), rows).all()
            id_of = {url: article_id for article_id, url in ids}
            copies = [
                {"copy_id": id_of[row["canonical_url"]], "story_id": id_of[rows[number - 1]["canonical_url"]]}
                for number, row in enumerate(rows)
                if (offset + number) % COPY_EVERY == 1 and number > 0
            ]
            if copies:
                connection.execute(
                    update(ARTICLE)
                    .where(ARTICLE.c.id == bindparam("copy_id"))
                    .values(near_duplicate_of=bindparam("story_id"), similarity=0.9),
                    copies,
                )
            links = [(id_of[row["canonical_url"]], tag_ids[tag], 1) for row in rows for tag in _tags_of(row)]
            if engine.dialect.name == "postgresql":  # COPY: several times faster than INSERTs for 800k rows
                cursor = connection.connection.cursor()
                with cursor, cursor.copy("COPY article_tag (article_id, tag_id, mentions) FROM STDIN") as copy:
                    for link in links:
                        copy.write_row(link)
            else:
                keys = ("article_id", "tag_id", "mentions")
                connection.execute(ARTICLE_TAG.insert(), [dict(zip(keys, link, strict=True)) for link in links])


@contextlib.contextmanager
def _full_text_indexes_built_after(engine: Any) -> Iterator[None]:
    """Bulk-load the usual way: full-text indexes dropped first and built once over all rows at the end (the same
    indexes the migrations make; building them row by row made the fill several times slower)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            triggers = connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'article' "
                "AND name LIKE 'article_fts%_insert'"
            ).all()
            for name, _ in triggers:
                connection.exec_driver_sql(f"DROP TRIGGER {name}")
        else:
            indexes = connection.exec_driver_sql(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'article' AND indexdef ILIKE %(pattern)s",
                {"pattern": "%USING gin%"},
            ).all()
            for name, _ in indexes:
                connection.exec_driver_sql(f"DROP INDEX {name}")
    yield
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for name, sql in triggers:
                table = name.removesuffix("_insert")
                connection.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
                connection.exec_driver_sql(sql)
        else:
            connection.exec_driver_sql("SET maintenance_work_mem = '256MB'")
            for _, definition in indexes:
                connection.exec_driver_sql(definition)


def time_queries(engine: Any, rounds: int, limit: int = 20) -> dict[str, Any]:
    from models.queries import SearchFilters, search_articles

    samples: list[float] = []
    per_query: dict[str, dict[str, float]] = {}
    for query in QUERIES:
        filters = SearchFilters(element=query.element, company=query.company, since=query.since)
        hits = len(search_articles(engine, query.text, filters=filters, limit=limit))  # warm-up
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            search_articles(engine, query.text, filters=filters, limit=limit)
            times.append(1000 * (time.perf_counter() - started))
        samples.extend(times)
        per_query[query.label()] = {"p50_ms": round(statistics.median(times), 1), "hits": hits}
    ordered = sorted(samples)
    return {
        "queries": len(QUERIES),
        "calls": len(samples),
        "limit": limit,
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
        "max_ms": round(ordered[-1], 1),
        "per_query_p50_ms": per_query,
    }


def _synthetic_articles(engine: Any) -> int:
    from sqlalchemy import func, select

    from models.store import ARTICLE

    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(ARTICLE).where(ARTICLE.c.extractor_version == "bench")
            ).scalar_one()
        )


def measure(database_url: str, articles: int, rounds: int, pages_dir: Path, *, reuse: bool = False) -> dict[str, Any]:
    """Fill the database with `articles` synthetic articles and time the queries. `reuse`: a database that holds
    them already (from an earlier `reuse` run) is timed as it is."""
    from sqlalchemy import func, select

    from flows.common import prepare_store
    from flows.settings import get_settings
    from models.db import get_engine
    from models.store import ARTICLE

    engine = prepare_store(get_settings(database_url=database_url))
    try:
        stored = _synthetic_articles(engine) if reuse else 0
        if stored and stored != articles:
            raise SystemExit(f"{database_url} holds {stored:,} synthetic articles, not {articles:,}: use a new one")
        if stored:
            with engine.connect() as connection:
                total = connection.execute(select(func.count()).select_from(ARTICLE)).scalar_one()
            figures: dict[str, Any] = {"inserted": 0, "articles": total, "fill_s": None, "reused": True}
        else:
            figures = fill(engine, articles, pages_dir)
        figures.update(time_queries(engine, rounds))
    finally:
        engine.dispose()
        get_engine.cache_clear()
    return figures


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _merge_search_results(path: Path, figures: dict[str, Any]) -> None:
    """Read-modify-write performance.search of the results file bench/run.py and the other benchmarks share."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results.setdefault("performance", {})["search"] = figures
    tmp = path.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    from bench.newsweb import default_pages_dir
    from bench.run import POSTGRES_ADMIN_URL, RESULTS_PATH, load_average, postgres_database

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000, help="synthetic articles (default 100000)")
    parser.add_argument("--rounds", type=int, default=5, help="timed calls per query (default 5)")
    parser.add_argument("--only", default="sqlite,postgres", help="sqlite, postgres or both (default both)")
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="admin URL; a throwaway DB is made")
    parser.add_argument(
        "--database-url",
        action="append",
        default=[],
        help="measure on this kept database instead (repeatable); filled on the first run, reused after",
    )
    parser.add_argument("--pages-dir", type=Path, default=None, help="benchmark pages (default bench/extraction)")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = parser.parse_args(argv)
    pages_dir = args.pages_dir or default_pages_dir()
    engines = {name.strip() for name in args.only.split(",") if name.strip()}
    figures: dict[str, Any] = {}
    started_load = load_average()
    if args.database_url:
        for url in args.database_url:
            label = "sqlite" if url.startswith("sqlite") else "postgres"
            _log(f"search: {args.articles:,} synthetic articles on {label} ({url})")
            figures[label] = measure(url, args.articles, args.rounds, pages_dir, reuse=True)
            _log(f"search {label}: p50 {figures[label]['p50_ms']} ms, p95 {figures[label]['p95_ms']} ms")
    else:
        with tempfile.TemporaryDirectory(prefix="rare-news-search-") as workdir:
            if "sqlite" in engines:
                _log(f"search: {args.articles:,} synthetic articles on SQLite")
                figures["sqlite"] = measure(f"sqlite:///{workdir}/search.db", args.articles, args.rounds, pages_dir)
                _log(f"search sqlite: p50 {figures['sqlite']['p50_ms']} ms, p95 {figures['sqlite']['p95_ms']} ms")
        if "postgres" in engines:
            with postgres_database(args.postgres_url, "search") as url:
                if url is not None:
                    _log(f"search: {args.articles:,} synthetic articles on Postgres")
                    figures["postgres"] = measure(url, args.articles, args.rounds, pages_dir)
                    pg = figures["postgres"]
                    _log(f"search postgres: p50 {pg['p50_ms']} ms, p95 {pg['p95_ms']} ms")
    for label, found in figures.items():
        print(f"{label}: {found['articles']:,} articles, p50 {found['p50_ms']} ms, p95 {found['p95_ms']} ms")
        for query, timing in found["per_query_p50_ms"].items():
            print(f"  {timing['p50_ms']:8.1f} ms  {timing['hits']:3d} hits  {query}")
    print(f"load average at start {started_load}, at end {load_average()}")
    if not args.no_write and figures:
        figures["when"] = datetime.now(UTC).isoformat(timespec="seconds")
        figures["load_average"] = [started_load, load_average()]
        _merge_search_results(args.results, figures)
        print(f"figures merged into {args.results} under performance.search")
    return 0


if __name__ == "__main__":
    sys.exit(main())
