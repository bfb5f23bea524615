"""Story assignment at scale: insert-plus-lookup time per article at 10k and 100k stored articles, on SQLite
and Postgres, through the store's own load path (`models.store.load_batch`).

Each database starts empty and is filled with synthetic articles in batches of FILL_BATCH, the way a load
stores them (story lock, one indexed candidate lookup on the band table, the insert, its band keys), a tenth
of them copies. The databases fill at once, each in a worker process of its own; the timed samples then run
one database at a time. At each size, SAMPLE more articles (tagged, a share COPY_SHARE of them near-duplicate
copies of stored articles, so the lookup finds and verifies candidates and links copies) are loaded in batches
of SAMPLE_BATCH (the ingest batch size) and timed. The time per article is the median over the sampled
batches (robust to other work on the machine), with the mean, the CPU time of this process and of the
Postgres backends, and the database time of each kind of statement beside it. The target: at the largest
size the time per article is within 1.5x of the smallest.

What grows. The story path (lock, candidate lookup, band keys, moves: `story_ms_per_article`) stays within
about 1.3x from 10k to 100k on both databases, Postgres's whole load within about 1.1x. SQLite's whole load
grows more, 1.3x to 2x between runs here: every index with random keys (the band keys, the body hash, the
two FTS5 indexes) dirties more distinct pages per commit until it has outgrown the page cache, and the WAL
checkpoints that write them back grow with it; past that point the cost per article is flat again. The
machine's cores are shared with other work, so wall times move between runs; CPU times move less.

Articles are synthetic so 100k of them are made in seconds: bodies of random words from a fixed vocabulary,
MinHash signatures of random 64-bit values (the store never recomputes them), and copies that keep about 90%
of their original's signature values (estimated Jaccard about 0.9, above the 0.8 threshold) with a sentence
added to the body.

    .venv/bin/python bench/dedup.py [--sizes 10000 100000] [--sample 1000] [--databases sqlite postgres]

Figures are merged into bench/results.json under "dedup" (other keys are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/dedup.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))

from models.db import get_engine, migrate  # noqa: E402
from models.store import EntryOutcome, load_batch  # noqa: E402
from transforms.dedup import NUM_PERM, band_keys  # noqa: E402
from transforms.pipeline import ArticleRecord  # noqa: E402

RESULTS_PATH = HERE / "results.json"
RESULTS_KEY = "dedup"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_SIZES = (10_000, 100_000)
SAMPLE = 1_000
SAMPLE_BATCH = 50
FILL_BATCH = 500
COPY_SHARE = 0.2  # of the sampled articles; FILL_COPY_SHARE of the fill
FILL_COPY_SHARE = 0.1
BODY_WORDS = 60  # short: the text indexes' cost is bench/ingest's subject, not this one's
CHANGED_VALUES = 12  # of 128 signature values a copy does not share: estimated Jaccard ~0.9
TARGET_RATIO = 1.5
RECONNECT_TRIES = 7  # about two minutes of waiting for a restarted server
THRESHOLD = 0.8
START = datetime(2025, 1, 1, tzinfo=UTC)
TAGS = (
    ("element", "neodymium"),
    ("element", "dysprosium"),
    ("element", "terbium"),
    ("company", "Lynas"),
    ("company", "MP Materials"),
    ("place", "China"),
    ("place", "Australia"),
    ("topic", "prices"),
)


class Articles:
    """Synthetic articles, each new, or a near-duplicate copy of a recent one."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        letters = "bcdfghklmnprstvz"
        self.vocabulary = [
            "".join(self.rng.choice(letters) + self.rng.choice("aeiou") for _ in range(self.rng.randint(2, 4)))
            for _ in range(5_000)
        ]
        self.count = 0
        self.originals: list[tuple[str, bytes]] = []  # the most recent originals, to copy from

    def _record(self, body: str, signature: bytes, site: str, tagged: bool) -> ArticleRecord:
        self.count += 1
        number = self.count
        url = f"https://{site}.example/news/{number}"
        tags = tuple((kind, name, 1 + number % 3) for kind, name in self.rng.sample(TAGS, 3)) if tagged else ()
        return ArticleRecord(
            canonical_url=url,
            url=url,
            title=f"Rare earth story {number}",
            authors=(),
            published_at=START + timedelta(minutes=number),
            language="en",
            site=site,
            body_text=body,
            body_sha256=f"{number:064x}",
            minhash=signature,
            band_keys=tuple(band_keys(signature)),
            relevance=1.0,
            origin="backfill",
            tags=tags,
        )

    def original(self, tagged: bool) -> ArticleRecord:
        body = " ".join(self.rng.choices(self.vocabulary, k=BODY_WORDS))
        signature = self.np_rng.integers(0, 2**63, NUM_PERM, dtype=np.uint64).astype("<u8").tobytes()
        self.originals.append((body, signature))
        if len(self.originals) > 5_000:
            del self.originals[:1_000]
        return self._record(body, signature, f"outlet{self.rng.randrange(200)}", tagged)

    def copy(self, tagged: bool) -> ArticleRecord:
        if not self.originals:
            return self.original(tagged)
        body, signature = self.rng.choice(self.originals)
        values = np.frombuffer(signature, dtype="<u8").copy()
        changed = self.np_rng.choice(NUM_PERM, CHANGED_VALUES, replace=False)
        values[changed] = self.np_rng.integers(0, 2**63, CHANGED_VALUES, dtype=np.uint64)
        extra = " ".join(self.rng.choices(self.vocabulary, k=8))
        return self._record(f"{body} {extra}", values.tobytes(), f"outlet{self.rng.randrange(200)}", tagged)

    def batch(self, size: int, copy_share: float, *, tagged: bool) -> list[ArticleRecord]:
        return [self.copy(tagged) if self.rng.random() < copy_share else self.original(tagged) for _ in range(size)]


def load(engine: Any, records: list[ArticleRecord]) -> tuple[int, bool]:
    """Load one batch: (copies linked, whether it had to be retried). A batch whose connection is lost (the
    shared Postgres server restarted) rolled back whole, so it is loaded again, as a run would on its next
    try; its time is not counted."""
    from sqlalchemy.exc import OperationalError

    outcomes = [
        EntryOutcome(feed_id=None, entry_key=r.canonical_url, url=r.url, title=r.title, status="loaded", article=r)
        for r in records
    ]
    for attempt in range(RECONNECT_TRIES):
        try:
            return load_batch(engine, outcomes=outcomes, near_threshold=THRESHOLD).near_duplicates, attempt > 0
        except OperationalError as exc:  # lost, refused while the server restarts, or a busy SQLite file
            if attempt == RECONNECT_TRIES - 1:
                raise
            print(f"connection lost ({str(exc.orig).splitlines()[0]}); loading the batch again", file=sys.stderr)
            time.sleep(2**attempt)
    raise AssertionError("unreachable")


def postgres_missing(admin_url: str) -> str | None:
    """Why the Postgres server cannot be used, or None: a server that is not there is a result, not a crash."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    admin = create_engine(admin_url, connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        return f"PostgreSQL not reachable at {admin_url}: {str(exc.orig).splitlines()[0]}"
    finally:
        admin.dispose()
    return None


@contextmanager
def database(kind: str, postgres_admin_url: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rare-news-bench-dedup-") as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            try:
                yield url
            finally:
                get_engine(url).dispose()
        return
    from sqlalchemy import create_engine

    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"rare_news_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        for attempt in range(RECONNECT_TRIES):
            try:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except Exception as exc:  # say so, but do not hide why the benchmark stopped
                print(f"could not drop the benchmark database {name} yet: {exc}", file=sys.stderr)
                time.sleep(2**attempt)
        admin.dispose()


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of other processes on this machine (the Postgres backends), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _server_pids(engine: Any) -> list[int]:
    """The Postgres backends working on this database (none for SQLite: it runs in this process)."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as connection:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        return list(connection.exec_driver_sql(query).scalars())


# Statements by what they do for the story path (the rest: tags, ledger, transaction).
_PARTS = (
    ("story lock", ("SELECT pg_advisory_xact_lock", "BEGIN IMMEDIATE")),
    ("candidate lookup", ("SELECT article.id, article.minhash, article.near_duplicate_of, article.published_at",)),
    ("article insert (with its text indexes)", ("INSERT INTO article (",)),
    ("band keys insert", ("INSERT INTO article_band",)),
    ("story moves", ("UPDATE article SET near_duplicate_of", "SELECT article.id, article.near_duplicate_of")),
)


class _StatementClock:
    """Seconds spent executing each kind of statement (database time, as the driver sees it)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.seconds: dict[str, float] = {}
        self.active = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        connection.info["bench_started"] = time.perf_counter()

    def _after(self, connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not self.active:
            return
        elapsed = time.perf_counter() - connection.info.pop("bench_started", time.perf_counter())
        text = " ".join(statement.split())
        part = next((name for name, starts in _PARTS if text.startswith(starts)), "other (tags, ledger)")
        self.seconds[part] = self.seconds.get(part, 0.0) + elapsed


class Bench:
    """One database: fill it to a size, then time a sample of loads. Runs in a worker process of its own."""

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        migrate(self.engine)
        self.articles = Articles()
        self.stored = 0
        self.clock = _StatementClock(self.engine)

    def fill(self, size: int) -> float:
        started = time.perf_counter()
        while self.stored < size:
            batch = self.articles.batch(min(FILL_BATCH, size - self.stored), FILL_COPY_SHARE, tagged=False)
            load(self.engine, batch)
            self.stored += len(batch)
        return time.perf_counter() - started

    def measure(self, sample: int) -> dict[str, Any]:
        wall: list[float] = []
        cpu: list[float] = []
        linked = 0
        self.clock.seconds = {}
        for _ in range(0, sample, SAMPLE_BATCH):
            batch = self.articles.batch(SAMPLE_BATCH, COPY_SHARE, tagged=True)
            pids = _server_pids(self.engine)
            cpu_started, server_started = time.process_time(), _cpu_seconds(pids)
            self.clock.active = True
            started = time.perf_counter()
            copies, retried = load(self.engine, batch)
            elapsed = time.perf_counter() - started
            self.clock.active = False
            linked += copies
            if not retried:
                wall.append(elapsed / len(batch))
                cpu.append((time.process_time() - cpu_started + _cpu_seconds(pids) - server_started) / len(batch))
        self.stored += sample
        return {
            "ms_per_article": round(statistics.median(wall) * 1000, 3),
            "mean_ms_per_article": round(statistics.fmean(wall) * 1000, 3),
            "cpu_ms_per_article": round(statistics.median(cpu) * 1000, 3),
            "database_ms_per_article": {
                part: round(seconds / sample * 1000, 3) for part, seconds in sorted(self.clock.seconds.items())
            },
            "copies_linked": linked,
            "sampled": sample,
        }


def _worker(url: str, commands: Any) -> None:
    bench = Bench(url)
    while True:
        command, value = commands.recv()
        if command == "stop":
            return
        commands.send(bench.fill(value) if command == "fill" else bench.measure(value))


STORY_PARTS = ("story lock", "candidate lookup", "band keys insert", "story moves")


def _summary(points: dict[str, dict[str, Any]], sizes: list[int], fill_seconds: float) -> dict[str, Any]:
    """Ratios of the largest size to the smallest: the whole load (the target), its CPU time, and the database
    time of the statements that place an article in its story (lock, candidate lookup, band keys, moves)."""
    for point in points.values():
        parts = point["database_ms_per_article"]
        point["story_ms_per_article"] = round(sum(parts.get(part, 0.0) for part in STORY_PARTS), 3)
    first, last = points[str(sizes[0])], points[str(sizes[-1])]
    ratio = last["ms_per_article"] / first["ms_per_article"]
    story_ratio = last["story_ms_per_article"] / first["story_ms_per_article"] if first["story_ms_per_article"] else 0
    return {
        "sizes": points,
        "ratio": round(ratio, 3),
        "cpu_ratio": round(last["cpu_ms_per_article"] / first["cpu_ms_per_article"], 3),
        "story_ratio": round(story_ratio, 3),
        "within_target": ratio <= TARGET_RATIO,
        "story_within_target": story_ratio <= TARGET_RATIO,
        "fill_articles_per_second": round(sizes[-1] / fill_seconds, 1) if fill_seconds else None,
    }


def run(urls: dict[str, str], sizes: list[int], sample: int, log: Any) -> dict[str, dict[str, Any]]:
    """Fill every database at once (a worker process each), then time them one after the other."""
    context = multiprocessing.get_context("spawn")
    workers: dict[str, Any] = {}
    pipes: dict[str, Any] = {}
    for kind, url in urls.items():
        parent_end, child_end = context.Pipe()
        workers[kind] = context.Process(target=_worker, args=(url, child_end), daemon=True)
        workers[kind].start()
        child_end.close()  # so that a worker that dies is an EOFError here, not a wait forever
        pipes[kind] = parent_end

    def ask(kind: str) -> Any:
        try:
            return pipes[kind].recv()
        except EOFError:
            raise RuntimeError(f"the {kind} worker stopped (its error is above)") from None

    points: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in urls}
    fill_seconds = dict.fromkeys(urls, 0.0)
    try:
        for size in sizes:
            for kind in urls:
                pipes[kind].send(("fill", size))
            for kind in urls:
                seconds = ask(kind)
                fill_seconds[kind] += seconds
                log(f"{kind}: {size:,} stored ({seconds:.0f} s to fill, filling together)")
            for kind in urls:
                pipes[kind].send(("measure", sample))
                point = points[kind][str(size)] = ask(kind)
                log(
                    f"{kind}: at {size:,}: {point['ms_per_article']:.3f} ms per article (median), "
                    f"{point['cpu_ms_per_article']:.3f} ms CPU (client + server); database time "
                    + ", ".join(f"{part} {ms:.3f}" for part, ms in point["database_ms_per_article"].items())
                )
        for kind in urls:
            pipes[kind].send(("stop", None))
    finally:
        for worker in workers.values():
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
    return {kind: _summary(points[kind], sizes, fill_seconds[kind]) for kind in urls}


def merge_results(path: Path, key: str, figures: dict[str, Any]) -> None:
    """Read-modify-write one key of the results file other benchmarks share."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results[key] = figures
    tmp = path.with_suffix(f".json.tmp{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="stored articles")
    parser.add_argument("--sample", type=int, default=SAMPLE, help="articles timed at each size")
    parser.add_argument("--databases", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"])
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL, help="an existing database to create one next to")
    parser.add_argument("--results", type=Path, default=RESULTS_PATH)
    parser.add_argument("--no-write", action="store_true", help="print only; leave results.json alone")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.sizes))

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    figures: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "what": "insert plus candidate lookup and story assignment, ms per article (median of batches)",
        "sample": args.sample,
        "sample_batch": SAMPLE_BATCH,
        "copy_share": COPY_SHARE,
        "target_ratio": TARGET_RATIO,
        "note": "figures are noisy when other work shares the machine's cores",
    }
    kinds = list(args.databases)
    if "postgres" in kinds:
        missing = postgres_missing(args.postgres_url)
        if missing:
            figures["postgres"] = {"skipped": missing}
            log(f"postgres: skipped: {missing}")
            kinds.remove("postgres")
    with contextlib.ExitStack() as stack:
        urls = {kind: stack.enter_context(database(kind, args.postgres_url)) for kind in kinds}
        figures.update(run(urls, sizes, args.sample, log))
    for kind in kinds:
        result = figures[kind]
        log(
            f"{kind}: ratio {sizes[-1]:,} / {sizes[0]:,}: {result['ratio']:.2f} wall, {result['cpu_ratio']:.2f} CPU, "
            f"{result['story_ratio']:.2f} story statements (target <= {TARGET_RATIO})"
        )
    if not args.no_write:
        merge_results(args.results, RESULTS_KEY, figures)
    print(json.dumps(figures, indent=2))
    measured = [figures[kind] for kind in kinds]
    return 0 if all(result["within_target"] for result in measured) else 1


if __name__ == "__main__":
    sys.exit(main())
