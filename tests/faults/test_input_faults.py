"""Input from users, through the real command line: a one-line error or a correct answer, never a traceback.

Feeds files with bad TOML, unknown keys, `file://` and `ftp://` URLs; feeds whose entries link to
`javascript:`, `data:` and `file:` URLs; a feed of 10,000 entries; and search queries full of FTS5 syntax and SQL
metacharacters. `rare-news` runs as a subprocess (talking to the session's Prefect test server) and its stderr is
checked for "Traceback"; the long list of queries also goes through the same command in-process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from typer.testing import CliRunner
from werkzeug import Response

from tests.faults.conftest import cli_env, feeds_toml
from tests.faults.report import audit
from tests.faults.stories import STORIES
from tests.faults.test_db_faults import run_cli
from tests.newsweb import NewsWeb, article_html, rss

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("prefect_harness")]

BAD_FEEDS_FILES: dict[str, tuple[str | bytes | None, str]] = {
    "bad TOML": ('[[feeds]\nurl = "http://127.0.0.1/feed.xml"\n', "is not valid TOML"),
    "TOML that is not text": (b"\xff\xfe[[feeds]]\x00\x9c", "is not valid TOML"),
    "unknown key in a feed": ('[[feeds]]\nurl = "http://127.0.0.1/feed.xml"\nurll = "x"\n', "unknown key(s) ['urll']"),
    "unknown top-level key": ("[settings]\nfeeds = 1\n", "unknown top-level key(s) ['settings']"),
    "feeds is not a list": ('feeds = "http://127.0.0.1/feed.xml"\n', "'feeds' must be a list"),
    "feed without a URL": ('[[feeds]]\nname = "x"\n', "has no 'url'"),
    "file:// feed URL": ('[[feeds]]\nurl = "file:///etc/passwd"\n', "URL 'file:///etc/passwd' is not http(s)"),
    "ftp:// feed URL": ('[[feeds]]\nurl = "ftp://127.0.0.1/f.xml"\n', "URL 'ftp://127.0.0.1/f.xml' is not http(s)"),
    "feeds file that does not exist": (None, "feeds file not found"),
}


@dataclass(frozen=True)
class Answer:
    returncode: int
    out: str
    err: str
    seconds: float
    path: Path

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def bad_input_answers(prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Answer]:
    """Every bad feeds file and `feeds add` URL through its own `rare-news` process, a few at a time."""
    folder = tmp_path_factory.mktemp("bad-input")
    env = cli_env(prefect_api_url, database_url=f"sqlite:///{folder / 'db.sqlite'}")
    jobs: dict[str, tuple[list[str], Path]] = {}
    for index, (case, (content, _)) in enumerate(BAD_FEEDS_FILES.items()):
        path = folder / f"feeds-{index}.toml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content, encoding="utf-8")
        jobs[case] = (["run", "--feeds", str(path)], path)
    for url in ADD_URLS:
        jobs[url] = (["feeds", "add", url], folder)

    def one(args: list[str], path: Path) -> Answer:
        started = time.monotonic()
        returncode, out, err = run_cli(args, env, folder)
        return Answer(returncode, out, err, time.monotonic() - started, path)

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {case: pool.submit(one, *job) for case, job in jobs.items()}
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case", list(BAD_FEEDS_FILES))
def test_bad_feeds_files_are_one_line_errors(
    bad_input_answers: dict[str, Answer], record: Callable[..., None], case: str
) -> None:
    answer = bad_input_answers[case]
    expected = BAD_FEEDS_FILES[case][1]
    assert answer.returncode == 2, answer.err
    assert len(answer.lines) == 1 and answer.lines[0].startswith("error: ") and expected in answer.lines[0], answer.err
    assert "Traceback" not in answer.err + answer.out
    shown = answer.lines[0].replace(str(answer.path), "FILE")
    record(f"feeds file: {case}", f"exit 2 in {answer.seconds:.1f} s, before Prefect starts: {shown}")


ADD_URLS = ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml", "javascript:alert(1)"]


@pytest.mark.parametrize("url", ADD_URLS)
def test_feeds_add_refuses_other_schemes_in_one_line(
    bad_input_answers: dict[str, Answer], record: Callable[..., None], url: str
) -> None:
    answer = bad_input_answers[url]
    assert answer.returncode == 2 and len(answer.lines) == 1 and "is not http(s)" in answer.lines[0], answer.err
    assert "Traceback" not in answer.err
    record(f"feeds add {url.split(':')[0]}: URL", f"exit 2, one line: {answer.lines[0]}")


# --- a run over hostile entries, then searches on its database ----------------------------------------------------

SCHEMES = {
    "javascript": "javascript:alert(document.cookie)",
    "data": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "file": "file:///etc/passwd",
    "vbscript": "vbscript:msgbox(1)",
    "mailto": "mailto:desk@example.com",
}
ENORMOUS = 10_000
LYNAS = STORIES[10]  # the only stored article that mentions Lynas


@dataclass
class Searchable:
    backend: str
    url: str
    env: dict[str, str]
    folder: Path
    server: HTTPServer
    enormous_url: str
    scheme_keys: dict[str, str]
    run_seconds: float
    run_output: tuple[int, str, str]


def _enormous_feed(web: NewsWeb) -> bytes:
    """10,000 entries (about 2 MB): the first two on-topic, the rest off-topic one-liners."""
    items = []
    when = format_datetime(STORIES[0].published)
    for index in range(ENORMOUS):
        story = STORIES[2 + index] if index < 2 else None
        link = web.url(f"/news/{story.slug}") if story else f"http://127.0.0.1:9/bulk/{index}"
        title = story.title if story else f"Weekly football round-up number {index}"
        items.append(
            f"<item><guid>bulk-{index}</guid><link>{link}</link><title>{title}</title>"
            f"<pubDate>{when}</pubDate><description>Scores and fixtures</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bulk</title>{"".join(items)}</channel></rss>'
    ).encode()


@pytest.fixture(scope="module")
def searchable(
    backend: tuple[str, str], prefect_api_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Searchable]:
    name, url = backend
    folder = tmp_path_factory.mktemp("input")
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    web = NewsWeb(server)
    try:
        web.route("/robots.txt", lambda request: Response("User-agent: *\nAllow: /\n", content_type="text/plain"))
        for story in (*STORIES[:4], LYNAS):
            web.document(f"/news/{story.slug}", article_html(story), "text/html; charset=utf-8")
        items = [
            (web.url(f"/news/{s.slug}"), web.url(f"/news/{s.slug}"), s.title, s.published, "rare earth")
            for s in (STORIES[0], STORIES[1], LYNAS)
        ]
        keys = {}
        for scheme, link in SCHEMES.items():
            keys[scheme] = f"urn:hostile:{scheme}"
            items.append(
                (keys[scheme], link, f"Rare earth story behind a {scheme}: link", STORIES[0].published, "rare earth")
            )
        web.document("/feeds/links.xml", rss(items), "application/rss+xml")
        web.document("/feeds/bulk.xml", _enormous_feed(web), "application/rss+xml")
        feeds = feeds_toml(
            folder / "feeds.toml", [(web.url("/feeds/links.xml"), True), (web.url("/feeds/bulk.xml"), False)]
        )
        # The shipped caps (10 MB): the 10,000-entry feed is 2.2 MB, more than the suite's tight 2 MB.
        env = cli_env(prefect_api_url, database_url=url, max_bytes=10_000_000, max_decompressed_bytes=20_000_000)
        started = time.monotonic()
        output = run_cli(["run", "--feeds", str(feeds)], env, folder)
        yield Searchable(
            name, url, env, folder, server, web.url("/feeds/bulk.xml"), keys, time.monotonic() - started, output
        )
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def test_javascript_data_and_file_links_in_feeds_are_never_followed(
    searchable: Searchable, record: Callable[..., None]
) -> None:
    from models.db import get_engine

    returncode, _, err = searchable.run_output
    assert returncode == 0, err
    assert "Traceback" not in err
    engine = get_engine(searchable.url)
    with engine.connect() as connection:
        reasons = dict(
            connection.execute(
                text(
                    "SELECT entry_key, status || ': ' || COALESCE(last_error, '') FROM seen_entry "
                    "WHERE entry_key LIKE 'urn:hostile:%'"
                )
            ).all()
        )
    for scheme, key in searchable.scheme_keys.items():
        assert reasons[key] == f"failed: entry link has unsupported scheme '{scheme}'", reasons
    asked = {request.path for request, _ in searchable.server.log}
    pages = {f"/news/{story.slug}" for story in (*STORIES[:4], LYNAS)}
    assert asked <= {"/feeds/links.xml", "/feeds/bulk.xml", "/robots.txt"} | pages
    stored = [story.title for story in (*STORIES[:4], LYNAS)]
    found = audit(engine, stored=stored, entries=list(searchable.scheme_keys.values()))
    record(
        "javascript:, data:, file:, vbscript:, mailto: links in a feed",
        "each entry failed: entry link has unsupported scheme '…'; never fetched; the feed's other articles stored",
        backend=searchable.backend,
        found=found,
    )


def test_a_feed_with_ten_thousand_entries_is_read_within_bounds(
    searchable: Searchable, record: Callable[..., None]
) -> None:
    from models.db import get_engine

    engine = get_engine(searchable.url)
    with engine.connect() as connection:
        statuses = dict(
            connection.execute(
                text(
                    "SELECT s.status, COUNT(*) FROM seen_entry s JOIN feed f ON f.id = s.feed_id "
                    "WHERE f.url = :url GROUP BY s.status"
                ),
                {"url": searchable.enormous_url},
            ).all()
        )
    assert sum(statuses.values()) == 200  # max_entries_per_feed: the newest 200, every one with a status
    assert statuses.get("loaded") == 2 and statuses.get("irrelevant") == 198
    asked = [request.path for request, _ in searchable.server.log if request.path.startswith("/bulk/")]
    assert asked == []  # off-topic entries of a general feed: decided from the title, never fetched
    found = audit(engine, stored=[STORIES[2].title, STORIES[3].title], entries=[f"bulk-{i}" for i in range(200)])
    record(
        f"feed with {ENORMOUS:,} entries (2 MB)",
        f"run took {searchable.run_seconds:.1f} s; newest 200 taken (max_entries_per_feed): 2 stored, 198 "
        "irrelevant from their titles, none fetched",
        backend=searchable.backend,
        found=found,
    )


FTS_SYNTAX = [
    '"lynas',
    "lynas*",
    "(lynas",
    "lynas)",
    "^lynas",
    "lynas:",
    "title:lynas",
    "{lynas}",
    "lynas AND",
    "OR lynas",
    "lynas NEAR",
    "NEAR(lynas texas, 5)",
    "lynas + texas",
    '"lynas texas"',
    "lynas -",
    "*",
    '"',
    "AND",
    "NOT",
    "(((",
    "稀土 lynas",
]
SQL_METACHARACTERS = [
    "'; DROP TABLE article; --",
    "lynas' OR '1'='1",
    '" OR 1=1 --',
    "lynas'); DELETE FROM article; --",
    "%",
    "_",
    "\\",
    "lynas%",
    "1; SELECT * FROM feed",
    "lynas UNION SELECT body_text FROM article",
    "lynas\\'",
    "x" * 5000,
]
# Queries whose only word is "lynas": whatever the syntax around it, the Lynas article must be found.
LYNAS_ONLY = ['"lynas', "lynas*", "(lynas", "lynas)", "^lynas", "lynas:", "{lynas}", "lynas%"]


def _search(query: str) -> tuple[int, str]:
    from flows.cli import app

    result = CliRunner().invoke(
        app, ["search", "--format", "json", "--limit", "50", "--", query], catch_exceptions=False
    )
    return result.exit_code, result.output


def _row_counts(engine: Any) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in ("article", "feed", "seen_entry", "tag", "article_tag")
        }


@pytest.mark.parametrize("kind", ["FTS syntax", "SQL metacharacters"])
def test_search_queries_with_syntax_are_answered_or_refused_in_one_line(
    searchable: Searchable, record: Callable[..., None], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from models.db import get_engine

    engine = get_engine(searchable.url)
    before = _row_counts(engine)
    # The schema is migrated: skip the migration check each in-process command would repeat (0.3 s each).
    monkeypatch.setattr("flows.common.prepare_store", lambda settings, taxonomy=None: get_engine(settings.database_url))
    monkeypatch.setenv("RARE_NEWS_DATABASE_URL", searchable.url)
    monkeypatch.setenv("RARE_NEWS_CONFIG_DIR", searchable.env["RARE_NEWS_CONFIG_DIR"])
    queries = FTS_SYNTAX if kind == "FTS syntax" else SQL_METACHARACTERS
    answered = refused = lynas_found = 0
    for query in queries:  # in-process: an exception here would have been a traceback
        code, output = _search(query)
        assert code in (0, 2), (query, output)
        if code == 2:
            refused += 1
            assert output.count("\n") <= 1, (query, output)
            continue
        answered += 1
        titles = [json.loads(line)["title"] for line in output.splitlines() if line.startswith("{")]
        if query in LYNAS_ONLY:
            assert LYNAS.title in titles, (query, titles)
            lynas_found += 1
    assert _row_counts(engine) == before  # nothing injected, nothing deleted
    # The nastiest also through the real executable: exit code, stderr, no traceback.
    nasty = queries[:1]
    for query in nasty:
        returncode, out, err = run_cli(["search", "--format", "json", "--", query], searchable.env, searchable.folder)
        assert returncode in (0, 2) and "Traceback" not in err, (query, err)
        if returncode == 2:
            assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    code, output = _search("lynas")
    assert code == 0 and LYNAS.title in output
    found = f"; 'lynas' inside syntax found its article {lynas_found} times of {lynas_found}" if lynas_found else ""
    record(
        f"search: {len(queries)} queries with {kind}",
        f"{answered} answered, {refused} refused in one line, 0 tracebacks; rows unchanged ({before['article']} "
        f"articles){found}; {nasty[0]!r} also via the executable",
        backend=searchable.backend,
    )
