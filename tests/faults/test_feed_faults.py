"""Feeds broken in every way feedparser has seen, and XML that attacks the parser.

1. Every file of the feed corpus (tests/faults/data/feeds.tar.xz, ../shared/feeds) through `parse_feed`, the
   function a run uses: each yields exactly the entries feedparser itself finds (MANIFEST.csv) or is refused
   with a reason; none raises anything else.
2. XML attacks (billion laughs, external entities to a local file, parameter entities, a DTD fetch, and the same
   hidden behind UTF-16, UTF-7 or a long comment) are refused before any expansion, quickly, in little memory;
   the DTD is never requested.
3. A sample of the corpus and the attacks served on loopback and ingested by a real run: every entry of every
   readable feed gets a ledger row, every unreadable feed a reason, and no entry link leaves loopback.
"""

from __future__ import annotations

import csv
import functools
import io
import tarfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select, text

from connectors.feeds import NotAFeedError, parse_feed
from tests.faults.conftest import fault_settings, feeds_toml, run_ingest
from tests.faults.report import Audit

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore::DeprecationWarning:feedparser")]

CORPUS = Path(__file__).resolve().parent / "data" / "feeds.tar.xz"
NOT_FEEDS = ("MANIFEST.csv", "README.md", "LICENSE", "SOURCE_COMMIT")
SECRET = "TOP-SECRET-6f1d2c"


@functools.cache
def corpus() -> tuple[tuple[dict[str, str], ...], dict[str, bytes]]:
    """(manifest rows, path -> bytes) of the corpus, read from the tarball in memory."""
    files: dict[str, bytes] = {}
    with tarfile.open(CORPUS, "r:xz") as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                files[member.name.removeprefix("feeds/")] = handle.read()
    manifest = tuple(csv.DictReader(io.StringIO(files["MANIFEST.csv"].decode("utf-8"))))
    return manifest, files


def feed_files() -> dict[str, bytes]:
    return {path: body for path, body in corpus()[1].items() if not path.endswith(NOT_FEEDS)}


# --- 1. the corpus through parse_feed -------------------------------------------------------------------------


def test_every_corpus_file_yields_its_entries_or_a_clear_reason(record: Callable[..., None]) -> None:
    manifest, _ = corpus()
    files = feed_files()
    expected = {row["path"]: int(row["fp_entries"]) for row in manifest}
    assert set(expected) <= set(files), "the manifest lists files the tarball lacks"
    entries = 0
    read: list[str] = []
    refused: Counter[str] = Counter()
    crashed: list[str] = []
    silently_short: list[str] = []
    started = time.monotonic()
    for path, body in files.items():
        try:
            poll = parse_feed(body, url=f"http://127.0.0.1/{path}", limit=1_000_000)
        except NotAFeedError as exc:
            reason = str(exc)
            assert reason.strip(), path
            refused[_kind(reason)] += 1
            continue
        except Exception as exc:  # the point of the test: nothing else may escape
            crashed.append(f"{path}: {exc!r}")
            continue
        read.append(path)
        entries += len(poll.entries)
        if path in expected and len(poll.entries) != expected[path]:
            silently_short.append(f"{path}: {len(poll.entries)} entries, feedparser finds {expected[path]}")
    seconds = time.monotonic() - started
    assert crashed == []
    assert silently_short == []
    assert len(read) + sum(refused.values()) == len(files)
    assert len(read) > 3600  # the corpus is mostly readable: a parser that refused everything must not pass
    reasons = ", ".join(f"{count} {kind}" for kind, count in refused.most_common())
    record(
        f"feed corpus: all {len(files):,} files",
        f"{len(read):,} read ({entries:,} entries, as many as feedparser finds), {sum(refused.values())} refused "
        f"with a reason ({reasons}), 0 crashed; {seconds:.1f} s",
        found=Audit(lost=tuple(crashed + silently_short)),
    )


def _kind(reason: str) -> str:
    if "entities" in reason:
        return "declare XML entities"
    if "an HTML page" in reason:
        return "HTML"
    if "root element" in reason:
        return "other XML (CDF, RSS 1.1...)"
    if "empty" in reason:
        return "empty"
    return "not XML or not a feed"


# --- 2. XML attacks ------------------------------------------------------------------------------------------------

_LOL = '<!ENTITY lol "lol">' + "".join(
    f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)
)


def attacks(secret: Path, dtd_url: str) -> dict[str, bytes]:
    """Feeds that try to make the parser expand, read or fetch; each also carries one honest-looking item."""

    def feed(doctype: str, title: str, encoding: str = "utf-8", prefix: str = "") -> str:
        return (
            f'<?xml version="1.0" encoding="{encoding}"?>{prefix}{doctype}<rss version="2.0"><channel>'
            f"<title>{title}</title><item><title>{title}</title><link>http://127.0.0.1/news/x</link></item>"
            "</channel></rss>"
        )

    xxe = f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    return {
        "billion laughs": feed(f"<!DOCTYPE rss [{_LOL}]>", "&lol9;").encode(),
        "external entity to a local file": feed(xxe, "&xxe;").encode(),
        "parameter entity fetching a DTD": feed(
            f'<!DOCTYPE rss [<!ENTITY % dtd SYSTEM "{dtd_url}"> %dtd;]>', "&remote;"
        ).encode(),
        "external DTD (DOCTYPE SYSTEM url)": feed(f'<!DOCTYPE rss SYSTEM "{dtd_url}">', "&remote;").encode(),
        "billion laughs in UTF-16": feed(f"<!DOCTYPE rss [{_LOL}]>", "&lol9;", "utf-16").encode("utf-16"),
        # No "<!ENTITY" among the bytes until feedparser decodes them.
        "external entity in UTF-7": utf7(feed(xxe, "&xxe;", "utf-7")),
        "billion laughs after a 70 kB comment": feed(
            f"<!DOCTYPE rss [{_LOL}]>", "&lol9;", prefix="<!--" + "x" * 70_000 + "-->"
        ).encode(),
    }


def utf7(document: str) -> bytes:
    """The declaration in ASCII, the rest in UTF-7 with "<!" spelled in base64, as UTF-7 allows."""
    declaration, rest = document.split("?>", 1)
    return (declaration + "?>").encode("ascii") + rest.encode("utf-7").replace(b"<!", b"+ADwAIQ-")


@pytest.fixture(scope="module")
def dtd_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    server.expect_request("/evil.dtd").respond_with_data(
        f'<!ENTITY remote "{SECRET}">', content_type="application/xml-dtd"
    )
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "passwd"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "attack",
    [
        "billion laughs",
        "external entity to a local file",
        "parameter entity fetching a DTD",
        "external DTD (DOCTYPE SYSTEM url)",
        "billion laughs in UTF-16",
        "external entity in UTF-7",
        "billion laughs after a 70 kB comment",
    ],
)
def test_xml_attacks_are_refused_without_expanding_reading_or_fetching(
    record: Callable[..., None], dtd_server: HTTPServer, secret_file: Path, attack: str
) -> None:
    body = attacks(secret_file, dtd_server.url_for("/evil.dtd"))[attack]
    tracemalloc.start()
    try:
        poll = parse_feed(body, url="http://127.0.0.1/attack.xml")
        outcome = f"parsed: {[entry.title for entry in poll.entries]}"
    except NotAFeedError as exc:
        poll, outcome = None, str(exc)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(dtd_server.log) == 0, "the DTD was fetched"
    assert peak < 2_000_000, peak  # an expanded entity would take far more: nothing was expanded
    if poll is None:
        assert "declares XML entities" in outcome
    else:  # only a DOCTYPE naming an external DTD may be read, and then nothing from it is used
        assert attack == "external DTD (DOCTYPE SYSTEM url)"
        assert all(SECRET not in (entry.title or "") and "lol" not in (entry.title or "") for entry in poll.entries)
    what = outcome if poll is None else "read without fetching the DTD; &remote; left unexpanded"
    record(f"XML attack: {attack}", f"{what} (peak {peak / 1024:.0f} KiB)")


# --- 3. a sample of the corpus and the attacks, ingested by a real run --------------------------------------


def sample() -> dict[str, bytes]:
    """The real-world snapshots, every tenth ill-formed file, and every fiftieth of the rest (about 190 feeds)."""
    manifest, files = corpus()
    chosen: dict[str, bytes] = {}
    ill_formed = [row for row in manifest if row["xml_wellformed"] == "0"]
    rest = [row for row in manifest if row["xml_wellformed"] != "0" and row["kind"] != "real-world-ish"]
    for row in manifest:
        if row["kind"] == "real-world-ish":
            chosen[row["path"]] = files[row["path"]]
    for row in ill_formed[::10] + rest[::50]:
        chosen[row["path"]] = files[row["path"]]
    return chosen


@dataclass
class CorpusRun:
    backend: str
    engine: Any
    served: dict[str, bytes]  # feed URL -> body
    attack_urls: dict[str, str]
    dtd_server: HTTPServer
    seconds: float
    summary: Any


@pytest.fixture(scope="module")
def corpus_run(
    backend: tuple[str, str],
    tmp_path_factory: pytest.TempPathFactory,
    prefect_harness: None,
    dtd_server: HTTPServer,
    secret_file: Path,
) -> Iterator[CorpusRun]:
    from models.db import get_engine

    name, url = backend
    folder = tmp_path_factory.mktemp("corpus")
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        served: dict[str, bytes] = {}
        for index, (path, body) in enumerate(sample().items()):
            route = f"/corpus/{index}/{path.rsplit('/', 1)[-1]}"
            server.expect_request(route).respond_with_data(body, content_type="application/xml")
            served[server.url_for(route)] = body
        attack_urls = {}
        for index, (attack, body) in enumerate(attacks(secret_file, dtd_server.url_for("/evil.dtd")).items()):
            route = f"/attacks/{index}.xml"
            server.expect_request(route).respond_with_data(body, content_type="application/rss+xml")
            attack_urls[attack] = server.url_for(route)
        feeds = [(feed, False) for feed in served] + [(feed, True) for feed in attack_urls.values()]
        feeds_file = feeds_toml(folder / "feeds.toml", feeds)
        started = time.monotonic()
        summary = run_ingest(feeds_file, fault_settings(url, batch_size=200))
        yield CorpusRun(name, get_engine(url), served, attack_urls, dtd_server, time.monotonic() - started, summary)
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def test_corpus_sample_through_a_real_run_loses_no_entry(corpus_run: CorpusRun, record: Callable[..., None]) -> None:
    from models.queries import list_feeds
    from models.store import FEED, SEEN

    health = {feed.url: feed for feed in list_feeds(corpus_run.engine)}
    with corpus_run.engine.connect() as connection:
        ledger: dict[str, set[str]] = {}
        rows = connection.execute(
            select(FEED.c.url, SEEN.c.entry_key, SEEN.c.status, SEEN.c.last_error).join(
                FEED, FEED.c.id == SEEN.c.feed_id
            )
        )
        statuses: Counter[str] = Counter()
        unexplained = []
        for row in rows:
            ledger.setdefault(row.url, set()).add(row.entry_key)
            statuses[row.status] += 1
            if row.status == "failed" and not row.last_error:
                unexplained.append(row.entry_key)
    lost: list[str] = [f"entry {key} failed without a reason" for key in unexplained]
    readable = failed = 0
    for feed_url, body in corpus_run.served.items():
        feed = health[feed_url]
        try:
            poll = parse_feed(body, url=feed_url, content_type="application/xml")
            expected = {entry.entry_key for entry in poll.entries}
        except NotAFeedError:
            expected = set()
        if feed.last_status == "failed":
            failed += 1
            if not feed.last_error:
                lost.append(f"feed {feed_url} failed without a reason")
            continue
        readable += 1
        missing = expected - ledger.get(feed_url, set())
        lost.extend(f"{feed_url}: entry {key} has no ledger row" for key in sorted(missing))
    assert lost == []
    entries = sum(statuses.values())
    what = (
        f"{len(corpus_run.served)} feeds in {corpus_run.seconds:.1f} s: {readable} read, {failed} refused with a "
        f"reason; {entries} entries all in the ledger ({', '.join(f'{n} {s}' for s, n in statuses.most_common())})"
    )
    record("feed corpus sample: a real run", what, backend=corpus_run.backend, found=Audit(lost=tuple(lost)))


def test_xml_attacks_in_a_real_run_are_refused_and_leak_nothing(
    corpus_run: CorpusRun, record: Callable[..., None]
) -> None:
    from models.queries import list_feeds

    health = {feed.url: feed for feed in list_feeds(corpus_run.engine)}
    refused = {attack: health[url] for attack, url in corpus_run.attack_urls.items()}
    for attack, feed in refused.items():
        if attack == "external DTD (DOCTYPE SYSTEM url)":
            assert feed.last_status == "ok"
        else:
            assert feed.last_status == "failed" and "declares XML entities" in feed.last_error, attack
    assert len(corpus_run.dtd_server.log) == 0
    with corpus_run.engine.connect() as connection:
        dump = " ".join(
            str(value)
            for table in ("feed", "seen_entry", "article")
            for row in connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608 - fixed table names
            for value in row
        )
    assert SECRET not in dump and "lollollol" not in dump
    record(
        "XML attacks served to a real run",
        f"{sum(f.last_status == 'failed' for f in refused.values())} of "
        f"{len(refused)} feeds refused (the external-DTD one read, its DTD never fetched); neither the secret "
        "file's content nor any expansion anywhere in the database",
        backend=corpus_run.backend,
    )
