"""The analyst's report and browser: what the report counts (SQLite and Postgres), the page it renders (opened in
headless Chromium: no console error, no network request, charts drawn), and `browse` serving Datasette.

Chromium is Debian's `chromium` package, installed by `make dev`. Without it the browser test is skipped
locally and fails in CI (CI=true): the tests install nothing themselves.
"""

from __future__ import annotations

import html
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from connectors.browser import HeadlessPage, find_chromium
from flows.cli import UserError, app
from models import store
from models.db import get_engine, migrate
from models.report_queries import report_data
from models.store import FeedUpdate
from tests.analyst_fixtures import load, page_record, text_record
from transforms.report import (
    ArticleRow,
    FeedHealthRow,
    ReportData,
    StoryRow,
    WeeklySeries,
    render_digest,
    render_report,
    safe_href,
    weekly_series,
)

MONDAY = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)  # weeks of the data set start here
HOSTILE_TITLE = '<script>alert(1)</script><img src="http://evil.example/x.png"> Rare earth prices'


def _body(topic: str, n: int) -> str:
    """A distinct body per article (no accidental near duplicates)."""
    return " ".join(
        f"{topic} report {n} paragraph {i}: rare earth market notes number {n * 100 + i}." for i in range(25)
    )


def build_data_set(engine: Engine) -> None:
    """Two feeds with a poll history, ten stories over five weeks (one week empty), a story in three outlets,
    a Chinese article, and an article whose title and URL are hostile."""
    store.upsert_feeds(
        engine, [("https://feeds.example.com/metals.xml", "Metals Daily", True), ("https://down.example/x", None, True)]
    )
    feed_ids = {feed.url: feed.id for feed in store.feeds_to_poll(engine)}
    metals, down = feed_ids["https://feeds.example.com/metals.xml"], feed_ids["https://down.example/x"]
    for status in ("ok", "not modified", "not modified", "not modified"):
        store.record_feed_polls(engine, [FeedUpdate(feed_id=metals, status=status)])
    for _ in range(2):
        store.record_feed_polls(engine, [FeedUpdate(feed_id=down, status="failed", error="HTTP 503")])

    neo, dy = ("element", "neodymium", 3), ("element", "dysprosium", 1)
    lynas, mp = ("company", "Lynas", 2), ("company", "MP Materials", 1)
    china, australia = ("place", "China", 1), ("place", "Australia", 1)
    magnets, prices = ("topic", "magnets", 1), ("topic", "prices", 1)
    weekly = [  # week offset, tags
        (0, (neo, lynas, australia, magnets)),
        (0, (neo, dy, lynas, china)),
        (1, (neo, mp, magnets)),
        (1, (dy, lynas, china, prices)),
        (3, (neo, china, prices)),  # week 2 has nothing
        (4, (neo, dy, lynas, magnets)),
    ]
    records = [
        text_record(
            f"Story {n}",
            _body("metals", n),
            url=f"https://metals.example.com/{n}",
            site="Metals Daily",
            published=MONDAY + timedelta(weeks=week, days=n % 3),
            tags=tags,
            feed_id=metals,
        )
        for n, (week, tags) in enumerate(weekly)
    ]
    load(engine, records, feed_id=metals)
    syndicated = _body("syndicated", 99)
    for site in ("wire.example", "paper.example", "blog.example"):
        load(
            engine,
            [
                text_record(
                    "Lynas ships heavy rare earths",
                    syndicated + ("" if site == "wire.example" else f" Republished by {site}."),
                    url=f"https://{site}/lynas",
                    site=site,
                    published=MONDAY + timedelta(weeks=4, days=1),
                    tags=(dy, lynas, australia),
                )
            ],
        )
    load(engine, [page_record("zh_baotou_utf8.html", "https://xitu.example.cn/news/baotou")])  # 2026-03-02
    load(
        engine,
        [
            text_record(
                HOSTILE_TITLE,
                _body("hostile", 7),
                url="javascript:alert(document.cookie)",
                site="<b>evil</b>",
                published=MONDAY + timedelta(weeks=4, days=2),
                tags=(neo,),
            )
        ],
    )


@pytest.fixture
def report_store(database_url: str) -> str:
    migrate(get_engine(database_url))
    build_data_set(get_engine(database_url))
    return database_url


# --- what the report counts ----------------------------------------------------------------------------------


def test_report_data_counts_stories_per_week_tags_outlets_and_feed_health(report_store: str) -> None:
    data = report_data(get_engine(report_store), since=MONDAY - timedelta(days=1))

    assert (data.articles, data.stories, data.copies) == (11, 9, 2)
    assert data.languages == (("en", 10), ("zh", 1))
    weeks = data.elements_by_week.weeks
    assert weeks == tuple(date(2026, 2, 2) + timedelta(weeks=i) for i in range(5))  # the empty week is there
    elements = data.elements_by_week.series
    assert elements["neodymium"] == (2, 1, 0, 1, 3)  # week 4: story 5, the hostile and the Chinese article
    assert elements["dysprosium"] == (1, 1, 0, 0, 3)  # the syndicated story counts once
    assert data.topics_by_week.series["prices"] == (0, 1, 0, 1, 1)
    assert data.companies[:3] == (("Lynas", 5), ("China Northern Rare Earth", 1), ("MP Materials", 1))
    assert data.places[:2] == (("China", 4), ("Australia", 2))

    top = data.top_stories[0]
    assert (top.title, top.outlets, top.copies) == ("Lynas ships heavy rare earths", 3, 3)
    assert set(top.sites) == {"wire.example", "paper.example", "blog.example"}
    assert data.newest[0].title == HOSTILE_TITLE and data.newest[0].elements == ("neodymium",)

    feeds = {feed.url: feed for feed in data.feeds}
    metals = feeds["https://feeds.example.com/metals.xml"]
    assert (metals.polls, metals.not_modified, metals.last_status) == (4, 3, "not modified")
    assert metals.share_not_modified == 0.75
    assert metals.entries == 6 and metals.entries_per_poll == 1.5 and metals.articles == 6
    down = feeds["https://down.example/x"]
    assert (down.last_status, down.failed_polls, down.consecutive_failures, down.last_error) == (
        "failed",
        2,
        2,
        "HTTP 503",
    )
    assert data.feeds[0].url == "https://down.example/x"  # failing feeds first


def test_report_period_limits_every_count(report_store: str) -> None:
    data = report_data(
        get_engine(report_store), since=MONDAY + timedelta(weeks=3), until=MONDAY + timedelta(weeks=4, days=-1)
    )
    assert (data.articles, data.stories) == (1, 1)
    assert data.elements_by_week.weeks == (date(2026, 2, 23),)
    assert [story.title for story in data.top_stories] == ["Story 4"]


def test_report_of_an_empty_store_says_so(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    page = render_report(report_data(engine))
    assert "No articles in this period." in page and "No feeds yet" in page


# --- the page ------------------------------------------------------------------------------------------------


def test_weekly_series_fills_gaps_keeps_the_top_names_and_sums_the_rest() -> None:
    rows = [(date(2026, 1, 5), f"e{i}", 10 - i) for i in range(10)] + [(date(2026, 1, 21), "e0", 4)]
    series = weekly_series(rows, top=3)
    assert series.weeks == (date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19))
    assert list(series.series) == ["e0", "e1", "e2", "other"]
    assert series.series["e0"] == (10, 0, 4)
    assert series.series["other"] == (sum(range(1, 8)), 0, 0)
    long = weekly_series([(date(2024, 1, 1), "x", 1), (date(2026, 1, 5), "x", 1)], max_weeks=10)
    assert len(long.weeks) == 10 and long.truncated_from == date(2024, 1, 1)


def _tiny_report(title: str, url: str) -> ReportData:
    when = datetime(2026, 3, 2, tzinfo=UTC)
    return ReportData(
        generated_at=when,
        since=None,
        until=None,
        articles=1,
        stories=1,
        copies=0,
        languages=(("en", 1),),
        elements_by_week=weekly_series([(date(2026, 3, 2), "neodymium", 1)]),
        topics_by_week=WeeklySeries(),
        companies=((title, 1),),
        places=(),
        top_stories=(StoryRow(1, title, url, 1, 1, (title,), when),),
        newest=(ArticleRow(1, title, url, title, when, "en", ()),),
        feeds=(FeedHealthRow(url, title, "failed", when, 1, 0, 1, 0, 0, 1, 0, title),),
    )


def test_report_escapes_web_text_and_links_only_http_urls() -> None:
    page = render_report(_tiny_report(HOSTILE_TITLE, "javascript:alert(1)"))
    assert "<script>alert(1)" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert safe_href("https://a.example/x") == "https://a.example/x"
    assert safe_href(" JavaScript:alert(1)") is None and safe_href("data:text/html,x") is None


def test_report_is_self_contained() -> None:
    page = render_report(_tiny_report("Lynas", "https://a.example/x"))
    # Nothing is loaded from anywhere: no external scripts, styles, fonts or images, and the CSP forbids it.
    for needle in ("<link", "src=", "@import", "url("):
        assert needle not in page, needle
    policy = html.unescape(page.split('http-equiv="Content-Security-Policy" content="')[1].split('"')[0])
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy


def test_digest_lists_articles_as_markdown_links_and_counts_the_rest() -> None:
    articles = [
        ArticleRow(i, f"Title [{i}]", f"https://a.example/{i}", "Site", datetime(2026, 3, i + 1, tzinfo=UTC), "en")
        for i in range(3)
    ] + [ArticleRow(9, "Bad", "javascript:alert(1)", None, None, None)]
    title, body = render_digest("heavy", "'dysprosium' place=Myanmar", articles, limit=3)
    assert title == "rare-news: 4 new articles for watch 'heavy'"
    assert "1. [Title \\[0\\]](https://a.example/0) — Site · 2026-03-01 · en" in body
    assert "javascript" not in body and "… and 1 more" in body


# --- the report in a real browser ----------------------------------------------------------------------------


def _chromium() -> str:
    path = find_chromium()
    if path is None:
        message = "chromium not installed (make dev installs Debian's chromium package)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, UserError):
        return 2, f"error: {result.exception}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_report_opens_in_chromium_without_errors_or_network_and_draws_its_charts(
    report_store: str, tmp_path: Path
) -> None:
    chromium = _chromium()
    out, png = tmp_path / "report.html", tmp_path / "report.png"

    code, output = run_cli(
        "report", "--since", "2026-02-01", "--out", str(out), "--screenshot", str(png), "--database-url", report_store
    )

    assert code == 0, output
    assert "report written" in output and "screenshot saved" in output and "warning" not in output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000

    with HeadlessPage(width=1280, chromium=chromium) as browser:
        log = browser.open(out.resolve().as_uri())
        assert log.errors == []
        assert log.requests == [out.resolve().as_uri()]  # the page itself, nothing else
        charts = browser.evaluate(
            """Array.from(document.querySelectorAll("svg.chart")).map(svg => ({
                 label: svg.getAttribute("aria-label"),
                 width: svg.getBoundingClientRect().width,
                 bars: Array.from(svg.querySelectorAll("rect.bar")).filter(r => r.getBBox().height > 0
                       && r.getBBox().width > 0).length}))"""
        )
        assert [chart["label"] for chart in charts] == [
            "Stories per week by element",
            "Stories per week by topic",
            "Stories mentioning each company",
            "Stories mentioning each place",
        ]
        assert all(chart["width"] > 300 and chart["bars"] > 0 for chart in charts), charts
        assert browser.evaluate("document.documentElement.dataset.ready") == "1"  # its script ran
        legend = browser.evaluate("document.querySelector('#elements .legend').textContent")
        assert "neodymium" in legend and "dysprosium" in legend
        assert browser.evaluate("document.querySelector('#newest a[href^=javascript]')") is None
        assert "北方稀土" in browser.evaluate("document.querySelector('#newest').textContent")
        # Sorting the stories table by outlets, ascending, puts the three-outlet story last.
        browser.evaluate("document.querySelectorAll('#stories th')[1].click()")
        first_story = "document.querySelector('#stories tbody tr td a').textContent"
        assert browser.evaluate(first_story) != "Lynas ships heavy rare earths"
        browser.evaluate("document.querySelectorAll('#stories th')[1].click()")
        assert browser.evaluate(first_story) == "Lynas ships heavy rare earths"
        browser.settle()
        assert log.errors == [] and len(log.requests) == 1
        browser.screenshot(tmp_path / "report-after-sorting.png")
    assert (tmp_path / "report-after-sorting.png").stat().st_size > 20_000


# --- browse: Datasette on the SQLite store ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def datasette(report_store: str) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli import main; main()", "browse", "--port", str(port)]
        + ["--database-url", report_store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(trust_env=False, timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get(f"{base}/-/versions.json").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
                assert time.monotonic() < deadline, "datasette did not start in 60 s"
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # Datasette serves SQLite files
def test_browse_serves_the_store_with_full_text_search_and_canned_queries(datasette: str) -> None:
    with httpx.Client(base_url=f"{datasette}/rare_news", trust_env=False, timeout=10) as client:

        def rows(path: str, **params: str) -> list[dict]:  # type: ignore[type-arg]
            response = client.get(path, params={**params, "_shape": "array"})
            assert response.status_code == 200, response.text
            return response.json()  # type: ignore[no-any-return]

        assert {row["title"] for row in rows("/article.json", _search="syndicated")} == {
            "Lynas ships heavy rare earths"
        }
        latest = rows("/latest_by_element.json", element="Dysprosium")
        assert [row["title"] for row in latest][:2] == ["Story 5", "Lynas ships heavy rare earths"]
        assert len(latest) == 5  # copies of a story are left out
        stories = rows("/stories_by_outlets.json")
        assert (stories[0]["title"], stories[0]["outlets"], stories[0]["copies"]) == (
            "Lynas ships heavy rare earths",
            3,
            3,
        )
        health = {row["url"]: row for row in rows("/feed_health.json")}
        metals = health["https://feeds.example.com/metals.xml"]
        assert (metals["pct_304"], metals["new_items_per_poll"], metals["articles"]) == (75, 1.5, 6)
        assert health["https://down.example/x"]["failures_in_a_row"] == 2
        chinese = rows("/search_any_language.json", text="稀土")
        assert [row["title"] for row in chinese] == ["北方稀土上调镨钕挂牌价 包头稀土产业链加速延伸"]
        assert client.get("/raw_page").status_code == 200  # hidden from the index, still reachable


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_browse_on_postgres_says_what_to_use(database_url: str) -> None:
    code, output = run_cli("browse", "--database-url", database_url)
    assert code == 2 and "Postgres" in output and "psql" in output
