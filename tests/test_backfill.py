"""Backfill on a loopback news site: a sitemap index with child sitemaps (one gzipped, one too old to read), a
feed paginated with `?page=N`, the date window, `--dry-run`, and a backfill killed with SIGKILL and started
again ending with the same rows as one clean run."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner
from werkzeug import Request, Response

from connectors.sitemaps import NotASitemapError, Window, page_url, parse_sitemap, parse_w3c_datetime
from flows.cli import app
from models.db import get_engine
from tests.newsweb import BAOTOU, FOOTBALL, GANZHOU, LYNAS, NewsWeb, Story, article_html

PROJECT_DIR = Path(__file__).resolve().parents[1]
SINCE, UNTIL = "2026-02-20", "2026-03-01"


def _story(slug: str, title: str, published: str, *paragraphs: str) -> Story:
    return Story(slug, title, "Desk", datetime.fromisoformat(published), tuple(paragraphs))


ILUKA = _story(
    "iluka-eneabba",
    "Iluka commits to Eneabba rare earth refinery as costs rise",
    "2026-02-22T05:00:00+00:00",
    "Iluka Resources said it would complete its Eneabba rare earths refinery in Western Australia despite a "
    "sharp rise in construction costs, backed by a government loan for critical minerals processing.",
    "The refinery will separate neodymium, praseodymium, dysprosium and terbium from monazite stockpiled at "
    "Eneabba, giving Australia a second source of separated rare earth oxides outside China.",
    "Executives said offtake talks with magnet makers in Japan and Korea were advanced and that first "
    "production was expected before the end of the decade.",
)
NEO = _story(
    "neo-narva-magnets",
    "Neo Performance Materials opens rare earth magnet plant in Narva, Estonia",
    "2026-02-25T09:00:00+00:00",
    "Neo Performance Materials opened a sintered rare earth magnet plant in Narva, Estonia, the first of its "
    "size in Europe, to supply electric vehicle motors and wind turbines with NdFeB magnets.",
    "The plant will take separated neodymium and praseodymium from Neo's Silmet facility, reducing European "
    "carmakers' dependence on magnets shipped from China under export licences.",
    "The company said a second phase could double capacity if customers sign long-term contracts.",
)
ARAFURA = _story(
    "arafura-nolans",
    "Arafura secures funding for Nolans rare earths project",
    "2026-01-15T02:00:00+00:00",
    "Arafura Rare Earths said it had secured the final tranche of debt funding for its Nolans project in the "
    "Northern Territory, which will mine and refine neodymium and praseodymium oxide.",
    "The company signed offtake agreements with magnet producers in Germany and South Korea, and expects "
    "construction of the rare earth processing plant to start this year.",
    "Analysts said Nolans would be one of the few fully integrated rare earth projects outside China.",
)
ENERGY = _story(
    "energy-fuels-white-mesa",
    "Energy Fuels produces separated dysprosium at White Mesa mill",
    "2025-11-03T16:00:00+00:00",
    "Energy Fuels said its White Mesa mill in Utah had produced separated dysprosium oxide at pilot scale, "
    "adding heavy rare earths to the neodymium-praseodymium oxide it already makes from monazite.",
    "The company processes rare earth monazite sands from Brazil and Australia and says it can recover "
    "uranium from the same feed, lowering the cost of rare earth separation in the United States.",
    "It plans commercial terbium production next year, pending tests with magnet makers.",
)
USARE = _story(
    "usa-rare-earth-stillwater",
    "USA Rare Earth starts magnet line at Stillwater plant in Oklahoma",
    "2026-02-21T14:00:00+00:00",
    "USA Rare Earth began commissioning its first NdFeB magnet line at Stillwater, Oklahoma, aiming to supply "
    "defence contractors and electric vehicle makers with rare earth magnets made in America.",
    "The company said it would source neodymium and praseodymium oxide outside China at first and later "
    "from its Round Top deposit in Texas, which also holds heavy rare earths such as dysprosium.",
    "Customers have signed letters of intent for most of the first year's output, it said.",
)
SHENGHE = _story(
    "shenghe-tanzania",
    "Shenghe Resources buys stake in Tanzanian rare earth mine",
    "2026-02-24T07:00:00+00:00",
    "Shenghe Resources agreed to buy a controlling stake in the Ngualla rare earth project in Tanzania, "
    "extending the Chinese group's supply of neodymium and praseodymium concentrate.",
    "Shenghe already processes rare earth concentrate from Mountain Pass and from Madagascar at its plants in "
    "Sichuan and Jiangsu, and has been expanding overseas as Beijing tightens export controls.",
    "The deal needs approval from Tanzanian regulators, who have pushed for local rare earth processing.",
)

STORIES = (LYNAS, GANZHOU, BAOTOU, FOOTBALL, ILUKA, NEO, ARAFURA, ENERGY, USARE, SHENGHE)
SITEMAP_STORED = {BAOTOU.title, ILUKA.title, NEO.title}
FEED_STORED = {USARE.title, SHENGHE.title}


def _urlset(web: NewsWeb, entries: list[tuple[Story, str, bool]]) -> str:
    """A urlset of (story, date, as a news sitemap publication date rather than lastmod)."""
    rows = []
    for story, when, news in entries:
        dated = (
            f"<news:news><news:publication><news:name>Metals Daily</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{when}</news:publication_date>"
            f"<news:title>{story.title}</news:title></news:news>"
            if news
            else f"<lastmod>{when}</lastmod>"
        )
        rows.append(f"<url><loc>{web.url('/news/' + story.slug)}</loc>{dated}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(rows) + "</urlset>"
    )


def _feed_page(web: NewsWeb, entries: list[tuple[Story, str]]) -> str:
    items = "".join(
        f"<item><guid>urn:archive:{story.slug}:{when}</guid><link>{web.url('/news/' + story.slug)}</link>"
        f"<title>{story.title}</title><pubDate>{format_datetime(datetime.fromisoformat(when))}</pubDate></item>"
        for story, when in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Archive</title>'
        f"<link>{web.url('/')}</link><description>d</description>{items}</channel></rss>"
    )


class Site:
    """The loopback news site; `delay` slows every article page (seconds) so a backfill can be killed mid-way."""

    def __init__(self, web: NewsWeb) -> None:
        self.web = web
        self.delay = 0.0
        for story in STORIES:
            page = article_html(story)
            self.web.route(f"/news/{story.slug}", self._page(page))
        web.document(
            "/robots.txt", f"User-agent: *\nAllow: /\nSitemap: {web.url('/sitemap_index.xml')}\n", "text/plain"
        )
        index = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{web.url('/sitemaps/2026-02.xml')}</loc><lastmod>2026-02-28</lastmod></sitemap>"
            f"<sitemap><loc>{web.url('/sitemaps/2026-03.xml.gz')}</loc><lastmod>2026-03-02T10:00Z</lastmod></sitemap>"
            f"<sitemap><loc>{web.url('/sitemaps/2025.xml')}</loc><lastmod>2025-12-31</lastmod></sitemap>"
            "</sitemapindex>"
        )
        web.document("/sitemap_index.xml", index, "application/xml")
        february = _urlset(
            web,
            [
                (BAOTOU, "2026-02-27T03:00:00Z", True),
                (ILUKA, "2026-02-22", False),
                (ARAFURA, "2026-01-15", False),  # outside the window: never fetched
                (ENERGY, "2026-02-26", False),  # modified in the window, but the page says 2025: not stored
            ],
        )
        web.document("/sitemaps/2026-02.xml", february, "application/xml")
        march = _urlset(
            web,
            [
                (LYNAS, "2026-03-02T08:30:00+00:00", True),
                (GANZHOU, "2026-03-01T06:00:00+00:00", True),  # `until` is exclusive
                (NEO, "2026-02-25", False),
                (FOOTBALL, "2026-02-24", False),  # in the window, off topic
            ],
        )
        web.document("/sitemaps/2026-03.xml.gz", gzip.compress(march.encode()), "application/x-gzip")
        web.document("/sitemaps/2025.xml", _urlset(web, [(ARAFURA, "2025-06-01", False)]), "application/xml")
        # A feed whose older pages are ?page=N (?paged=N is ignored and gives page 1 again).
        pages = {
            1: [(LYNAS, "2026-03-02T08:30:00+00:00"), (GANZHOU, "2026-03-01T06:00:00+00:00")],
            2: [(SHENGHE, "2026-02-24T07:00:00+00:00"), (USARE, "2026-02-21T14:00:00+00:00")],
            3: [(ILUKA, "2026-02-22T05:00:00+00:00"), (ARAFURA, "2026-01-15T02:00:00+00:00")],
            4: [(ARAFURA, "2026-01-10T00:00:00+00:00"), (ENERGY, "2025-11-03T16:00:00+00:00")],
            5: [(FOOTBALL, "2025-10-01T00:00:00+00:00")],
        }

        def archive(request: Request) -> Response:
            number = int(request.args.get("page", "1"))
            if number not in pages:
                return Response("no such page", status=404)
            return Response(_feed_page(web, pages[number]), content_type="application/rss+xml")

        web.route("/feeds/archive.xml", archive)

    def _page(self, page: str):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> Response:
            if self.delay:
                time.sleep(self.delay)
            return Response(page, content_type="text/html; charset=utf-8")

        return handler


@pytest.fixture
def site() -> Iterator[Site]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield Site(NewsWeb(server))
    server.clear()
    if server.is_running():
        server.stop()


def env_for(database_url: str) -> dict[str, str]:
    return {
        "RARE_NEWS_DATABASE_URL": database_url,
        "RARE_NEWS_ALLOW_PRIVATE_NETWORKS": "true",
        "RARE_NEWS_CONFIG_DIR": str(PROJECT_DIR / "config"),
        "RARE_NEWS_FETCH_RETRIES": "0",
        "RARE_NEWS_TOTAL_TIMEOUT": "10",
        "RARE_NEWS_EXTRACT_WORKERS": "1",
    }


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def backfilled(database_url: str) -> dict[str, dict[str, object]]:
    """Articles from backfills, by title, with what makes them the same rows: URL, hash, date, tags."""
    query = text(
        "SELECT a.title, a.canonical_url, a.body_sha256, a.published_at, a.feed_id, "
        "(SELECT count(*) FROM raw_page r WHERE r.article_id = a.id) AS pages, "
        "(SELECT count(*) FROM article_tag t WHERE t.article_id = a.id) AS tags "
        "FROM article a WHERE a.origin = 'backfill'"
    )
    with get_engine(database_url).connect() as connection:
        return {row.title: dict(row._mapping) for row in connection.execute(query)}


def ledger(database_url: str) -> set[tuple[str, str, str]]:
    query = text(
        "SELECT f.url, s.entry_key, s.status FROM seen_entry s JOIN feed f ON f.id = s.feed_id "
        "WHERE f.url LIKE 'backfill:%'"
    )
    with get_engine(database_url).connect() as connection:
        return {(row.url.split(":", 2)[1], row.entry_key, row.status) for row in connection.execute(query)}


def _stored_so_far(database_url: str) -> int:
    try:
        return len(backfilled(database_url))
    except OperationalError:  # the schema is not there yet
        return 0


# --- pure parsing ------------------------------------------------------------------------------------------


def test_sitemap_parsing_reads_news_dates_gzip_and_refuses_entities() -> None:
    body = gzip.compress(
        b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url><loc>/a</loc><lastmod>2026-03</lastmod>'
        b"<news:news><news:publication_date>2026-02-01T10:00:00+01:00</news:publication_date>"
        b"<news:title>T</news:title></news:news></url><url><loc>javascript:alert(1)</loc></url></urlset>"
    )
    sitemap = parse_sitemap(body, url="https://example.org/sitemap.xml.gz")
    assert not sitemap.is_index
    [link] = sitemap.links
    assert link.loc == "https://example.org/a"
    assert link.date == datetime.fromisoformat("2026-02-01T09:00:00+00:00")
    assert link.lastmod == datetime.fromisoformat("2026-03-01T00:00:00+00:00") and link.title == "T"
    bomb = b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaa">]><urlset><url><loc>&a;</loc></url></urlset>'
    with pytest.raises(NotASitemapError, match="never expanded"):
        parse_sitemap(bomb, url="https://example.org/s.xml")
    with pytest.raises(NotASitemapError, match="inflates past"):
        parse_sitemap(gzip.compress(b" " * 200_000), url="https://example.org/s.xml.gz", max_bytes=100_000)
    assert parse_w3c_datetime("2026-02-20T10:00Z") == datetime.fromisoformat("2026-02-20T10:00:00+00:00")
    assert parse_w3c_datetime("yesterday") is None
    window = Window(datetime.fromisoformat("2026-02-20T00:00:00+00:00"), datetime.fromisoformat("2026-03-01"))
    assert window.contains(datetime.fromisoformat("2026-02-20")) and not window.contains(datetime(2026, 3, 1))
    assert page_url("https://x.org/feed/?page=1&a=b", "page", 3) == "https://x.org/feed/?a=b&page=3"


# --- flows on the loopback site ------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_sitemap_index_and_paginated_feed_backfill_exactly_the_window(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = f"sqlite:///{tmp_path / 'rare_news.db'}"
    for name, value in env_for(database_url).items():
        monkeypatch.setenv(name, value)
    web = site.web
    root = web.url("/")

    dry = invoke("backfill", "--site", root, "--since", SINCE, "--until", UNTIL, "--dry-run")
    listed = {line.split()[-1] for line in dry.splitlines() if line.strip().startswith(("2026-", "2025-"))}
    expected = {web.url(f"/news/{s.slug}") for s in (BAOTOU, ILUKA, ENERGY, NEO, FOOTBALL)}
    assert listed == expected, dry
    assert not [path for path in web.paths_requested() if path.startswith("/news/")]
    assert backfilled(database_url) == {}

    web.clear()
    invoke("backfill", "--site", root, "--since", SINCE, "--until", UNTIL)
    assert set(backfilled(database_url)) == SITEMAP_STORED
    requested = web.paths_requested()
    assert "/sitemaps/2025.xml" not in requested  # its lastmod says nothing in it is new enough
    assert sorted(p for p in requested if p.startswith("/news/")) == sorted(
        f"/news/{s}" for s in (BAOTOU.slug, ILUKA.slug, ENERGY.slug, NEO.slug, FOOTBALL.slug)
    )
    assert all(
        row["pages"] == 1 and row["tags"] and row["feed_id"] is None for row in backfilled(database_url).values()
    )

    web.clear()
    output = invoke(
        "backfill",
        "--source",
        "feed-pages",
        "--site",
        web.url("/feeds/archive.xml"),
        "--since",
        SINCE,
        "--until",
        UNTIL,
    )
    assert "articles stored" in output
    assert set(backfilled(database_url)) == SITEMAP_STORED | FEED_STORED
    requested = web.paths_requested()
    assert "/feeds/archive.xml?page=5" not in requested  # page 4 is older than the window: the walk stopped
    assert "/feeds/archive.xml?page=4" in requested
    assert sorted(p for p in requested if p.startswith("/news/")) == sorted(
        f"/news/{s}"
        for s in (
            SHENGHE.slug,
            USARE.slug,  # Iluka is stored already: not fetched again
        )
    )
    statuses = {
        (source, key.rsplit("/", 1)[-1] if key.startswith("http") else key.split(":")[2], status)
        for source, key, status in ledger(database_url)
    }
    assert ("sitemap", ENERGY.slug, "skipped") in statuses
    assert ("sitemap", FOOTBALL.slug, "irrelevant") in statuses
    assert ("feed-pages", ILUKA.slug, "duplicate") in statuses

    # Again: everything is done; nothing is fetched, nothing changes.
    web.clear()
    before = backfilled(database_url)
    invoke("backfill", "--site", root, "--since", SINCE, "--until", UNTIL)
    assert [p for p in web.paths_requested() if p.startswith("/news/")] == [f"/news/{ENERGY.slug}"]
    assert backfilled(database_url) == before
    health = [json.loads(line) for line in invoke("feeds", "list", "--format", "json").splitlines()]
    assert {row["url"].split(":")[1] for row in health if row["url"].startswith("backfill:")} == {
        "sitemap",
        "feed-pages",
    }
    assert all(row["last_status"] == "backfilled" for row in health if row["url"].startswith("backfill:"))


@pytest.mark.usefixtures("prefect_harness")
def test_backfill_killed_halfway_and_restarted_ends_like_one_clean_run(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL

    args = ["backfill", "--site", site.web.url("/"), "--since", SINCE, "--until", UNTIL]
    env = env_for(f"sqlite:///{tmp_path / 'killed.db'}")
    env.update(RARE_NEWS_BATCH_SIZE="1", RARE_NEWS_FETCH_CONCURRENCY="1", RARE_NEWS_PER_HOST_CONCURRENCY="1")

    # The clean run, in this process.
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    for name, value in {**env, "RARE_NEWS_DATABASE_URL": clean_url}.items():
        monkeypatch.setenv(name, value)
    invoke(*args)
    assert set(backfilled(clean_url)) == SITEMAP_STORED

    # The same backfill as a real process, killed (SIGKILL) after its first articles are stored.
    killed_url = env["RARE_NEWS_DATABASE_URL"]
    site.delay = 0.7
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RARE_NEWS_")},
        **env,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=PROJECT_DIR,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if _stored_so_far(killed_url) >= 1:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    partial = backfilled(killed_url)
    assert 1 <= len(partial) < len(SITEMAP_STORED), partial
    done_before = {row["canonical_url"].rsplit("/", 1)[-1] for row in partial.values()}

    # Started again: what was done is not fetched again, and the rows are those of the clean run.
    site.delay = 0.0
    site.web.clear()
    monkeypatch.setenv("RARE_NEWS_DATABASE_URL", killed_url)
    invoke(*args)
    refetched = {path.rsplit("/", 1)[-1] for path in site.web.paths_requested() if path.startswith("/news/")}
    assert not refetched & done_before
    assert backfilled(killed_url) == backfilled(clean_url)
    assert ledger(killed_url) == ledger(clean_url)
