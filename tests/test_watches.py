"""Watches: saved searches matched against each run's new articles, reported in the run summary and sent as one
digest per watch to a loopback webhook (apprise `json://`), on SQLite and Postgres.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from flows.cli import UserError, app
from flows.settings import Settings
from flows.watches import after_run
from models import watches
from models.db import get_engine, migrate
from models.watches import WatchExists, WatchSpec
from tests.analyst_fixtures import PAGES, load, page_record, text_record
from tests.newsweb import BAOTOU, GANZHOU, LYNAS, NewsWeb, article_html, rss

BAOTOU_ZH = "https://xitu.example.cn/news/baotou-prices"
GANZHOU_ZH = "https://youse.example.cn/news/ganzhou-myanmar"
LYNAS_EN = "https://mining.example.com/lynas-malaysia"


class Hook:
    """A loopback webhook that records the JSON apprise posts, answering with a chosen status."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.posts: list[dict] = []  # type: ignore[type-arg]
        self.status = 200
        server.expect_request("/hook", method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        self.posts.append(json.loads(request.get_data(as_text=True)))
        return Response("ok" if self.status == 200 else "down", status=self.status)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.port}/hook"


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield Hook(server)
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = get_engine(database_url)
    migrate(engine)
    return engine


def _articles(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = load(
        engine,
        [
            page_record("zh_baotou_utf8.html", BAOTOU_ZH),
            page_record("zh_ganzhou_gbk.html", GANZHOU_ZH),
            page_record("english_news.html", LYNAS_EN),
        ],
    )
    return dict(zip((BAOTOU_ZH, GANZHOU_ZH, LYNAS_EN), ids, strict=True))


def _settings(database_url: str, notify_url: str | None = None) -> Settings:
    return Settings(database_url=database_url, notify_url=notify_url)


# --- the store -----------------------------------------------------------------------------------------------


def test_watches_are_added_listed_and_removed_by_name(engine) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="heavy", query="dysprosium", place="Myanmar"))
    watches.add_watch(engine, WatchSpec(name="baotou", query="", company="China Northern Rare Earth"))
    with pytest.raises(WatchExists):
        watches.add_watch(engine, WatchSpec(name="heavy", query="terbium"))

    listed = watches.list_watches(engine)
    assert [spec.name for spec in listed] == ["baotou", "heavy"]
    assert listed[1].describe() == "'dysprosium' place=Myanmar"

    assert watches.remove_watch(engine, "heavy")
    assert not watches.remove_watch(engine, "heavy")
    assert [spec.name for spec in watches.list_watches(engine)] == ["baotou"]


def test_new_articles_are_matched_once_by_words_chinese_words_and_tags(engine) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="separation", query="separation Malaysia"))
    watches.add_watch(engine, WatchSpec(name="zh-myanmar", query="稀土", place="Myanmar"))
    watches.add_watch(engine, WatchSpec(name="northern", query="", company="China Northern Rare Earth"))
    watches.add_watch(engine, WatchSpec(name="nothing", query="lithium brine"))
    ids = _articles(engine)
    by_name = {spec.name: spec.id for spec in watches.list_watches(engine)}

    new = watches.record_matches(engine, list(ids.values()), run_id=None)

    assert new == {
        by_name["separation"]: [ids[LYNAS_EN]],
        by_name["zh-myanmar"]: [ids[GANZHOU_ZH]],
        by_name["northern"]: [ids[BAOTOU_ZH]],
    }
    # The same articles again (a repeated run): nothing is new.
    assert watches.record_matches(engine, list(ids.values()), run_id=None) == {}


def test_a_story_is_matched_once_whichever_copy_becomes_its_canonical_article(engine) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="weld", query="Mount Weld"))
    [watch_id] = [spec.id for spec in watches.list_watches(engine)]
    body = " ".join(
        f"Lynas said output from Mount Weld rose in quarter {n}, feeding the Kalgoorlie and Kuantan plants."
        for n in range(30)
    )
    when = datetime(2026, 3, 1, tzinfo=UTC)
    first = load(engine, [text_record("Weld", body, url="https://a.example/1", site="a", published=when)])
    assert watches.record_matches(engine, first, run_id=None) == {watch_id: first}

    # A longer syndicated copy arrives in a later run and becomes the story's canonical article.
    longer = body + " The company also restated its guidance."
    copy = load(engine, [text_record("Weld", longer, url="https://b.example/1", site="b", published=when)])
    assert watches.record_matches(engine, copy, run_id=None) == {}

    # Copies that arrive in the same run as their story count once too.
    other = " ".join(
        f"Arafura's Nolans project moved to stage {n} of construction in the Northern Territory." for n in range(30)
    )
    watches.add_watch(engine, WatchSpec(name="nolans", query="Nolans"))
    [nolans_id] = [spec.id for spec in watches.list_watches(engine) if spec.name == "nolans"]
    pair = load(
        engine,
        [
            text_record("Nolans", other, url="https://a.example/2", site="a", published=when),
            text_record("Nolans", other + " More.", url="https://c.example/2", site="c", published=when),
        ],
    )
    assert {key: len(ids) for key, ids in watches.record_matches(engine, pair, run_id=None).items()} == {nolans_id: 1}
    assert list(watches.record_matches(engine, pair, run_id=None)) == []
    assert nolans_id is not None


# --- after a run: digests ------------------------------------------------------------------------------------


def test_one_digest_per_watch_is_sent_to_the_webhook(engine, database_url: str, hook: Hook) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="稀土 Myanmar", query="稀土", place="Myanmar"))
    watches.add_watch(engine, WatchSpec(name="dysprosium", query="", element="dysprosium"))
    watches.add_watch(engine, WatchSpec(name="nothing", query="lithium brine"))
    ids = _articles(engine)

    reports = after_run(engine, _settings(database_url, hook.url), list(ids.values()), run_id=None)

    assert [(r.watch, r.delivery, len(r.new_articles)) for r in reports] == [
        ("dysprosium", "sent", 3),
        ("稀土 Myanmar", "sent", 1),
    ]
    assert len(hook.posts) == 2
    by_title = {post["title"]: post["message"] for post in hook.posts}
    assert set(by_title) == {
        "rare-news: 3 new articles for watch 'dysprosium'",
        "rare-news: 1 new article for watch '稀土 Myanmar'",
    }
    digest = by_title["rare-news: 1 new article for watch '稀土 Myanmar'"]
    assert "赣州加强中重稀土资源保护 缅甸进口矿恢复通关" in digest
    assert f"({GANZHOU_ZH})" in digest and "有色金属资讯" in digest and "zh" in digest
    assert "place=Myanmar" in digest
    three = by_title["rare-news: 3 new articles for watch 'dysprosium'"]
    assert three.count("\n1. ") == 1 and "\n3. " in three
    assert reports[0].describe() == "3 new articles; digest of 3 sent"

    # Sent is sent: a repeated run over the same articles sends nothing more.
    assert after_run(engine, _settings(database_url, hook.url), list(ids.values()), run_id=None) == []
    assert len(hook.posts) == 2


def test_a_failed_digest_is_recorded_and_sent_with_the_next_run(engine, database_url: str, hook: Hook) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="lynas", query="Lynas"))
    hook.status = 500
    [first] = load(
        engine,
        [
            text_record(
                "Lynas one", "Lynas rare earth output rose. " * 20, url="https://a.example/1", site="a", published=None
            )
        ],
    )

    [report] = after_run(engine, _settings(database_url, hook.url), [first], run_id=None)

    assert report.delivery == "failed" and "500" in (report.error or "")
    assert "retried next run" in report.describe()
    assert watches.match_counts(engine) == {watches.list_watches(engine)[0].id: {"failed": 1}}

    hook.status = 200
    [second] = load(
        engine,
        [
            text_record(
                "Lynas two", "Lynas signed a supply deal. " * 20, url="https://a.example/2", site="a", published=None
            )
        ],
    )
    [report] = after_run(engine, _settings(database_url, hook.url), [second], run_id=None)

    assert report.delivery == "sent" and report.new_articles == [second] and report.digest_size == 2
    assert "Lynas one" in hook.posts[-1]["message"] and "Lynas two" in hook.posts[-1]["message"]
    assert watches.match_counts(engine) == {watches.list_watches(engine)[0].id: {"sent": 2}}


def test_without_a_notification_url_matches_are_reported_not_sent(engine, database_url: str, hook: Hook) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="baotou", query="包头"))
    ids = _articles(engine)

    [report] = after_run(engine, _settings(database_url), list(ids.values()), run_id=None)

    assert (report.delivery, report.new_articles) == ("unsent", [ids[BAOTOU_ZH]])
    assert report.titles == ["北方稀土上调镨钕挂牌价 包头稀土产业链加速延伸"]
    assert report.describe() == "1 new article; no notification URL set"
    assert hook.posts == []
    # Configuring a URL later does not send the old matches.
    assert after_run(engine, _settings(database_url, hook.url), [], run_id=None) == []
    assert hook.posts == []


def test_a_watch_notify_url_wins_over_the_setting(engine, database_url: str, hook: Hook) -> None:  # type: ignore[no-untyped-def]
    watches.add_watch(engine, WatchSpec(name="mine", query="稀土", notify_url=hook.url))
    ids = _articles(engine)

    [report] = after_run(engine, _settings(database_url, "json://127.0.0.1:9/nowhere"), list(ids.values()), run_id=None)

    assert report.delivery == "sent" and len(hook.posts) == 1


# --- the CLI -------------------------------------------------------------------------------------------------


def run_cli(*args: str) -> tuple[int, str]:
    """Exit code and output; a user error is exit code 2 and its one line, as `main()` shows it."""
    result = CliRunner().invoke(app, list(args))
    if isinstance(result.exception, UserError):
        return 2, f"error: {result.exception}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_watch_commands(database_url: str, hook: Hook) -> None:
    db = ("--database-url", database_url)
    assert run_cli("watch", "add", "heavy", "稀土", "--element", "镝", "--place", "myanmar", *db) == (
        0,
        "watching 'heavy': '稀土' element=dysprosium place=Myanmar\n",
    )
    assert run_cli("watch", "add", "weld", "Mount Weld", "--notify", hook.url, *db)[0] == 0

    code, output = run_cli("watch", "add", "heavy", "terbium", *db)
    assert code == 2 and "exists already" in output
    code, output = run_cli("watch", "add", "typo", "x", "--element", "dysprosum", *db)
    assert code == 2 and "no element named 'dysprosum'" in output
    code, output = run_cli("watch", "add", "empty", "", *db)
    assert code == 2 and "needs words" in output
    code, output = run_cli("watch", "add", "bad-url", "x", "--notify", "nosuch://host/path", *db)
    assert code == 2 and "not a notification URL" in output

    code, output = run_cli("watch", "list", "--format", "json", *db)
    listed = [json.loads(line) for line in output.splitlines()]
    assert [(w["name"], w["element"], w["place"], w["matched"]) for w in listed] == [
        ("heavy", "dysprosium", "Myanmar", 0),
        ("weld", None, None, 0),
    ]
    assert listed[1]["notify"] == f"json://127.0.0.1:{hook.server.port}/..."  # tokens in URLs are not shown
    code, output = run_cli("watch", "list", *db)
    assert code == 0 and "heavy" in output and "weld" in output

    assert run_cli("watch", "remove", "heavy", *db) == (0, "removed watch 'heavy'\n")
    code, output = run_cli("watch", "remove", "heavy", *db)
    assert code == 2 and "no such watch" in output


# --- end to end: `rare-news run` reports the matches and sends the digest --------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_run_reports_watch_matches_and_sends_digests(
    database_url: str, hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        web = NewsWeb(server)
        for story in (LYNAS, GANZHOU, BAOTOU):
            web.document(f"/news/{story.slug}", article_html(story), "text/html; charset=utf-8")
        web.document("/zh/ganzhou", (PAGES / "zh_ganzhou_gbk.html").read_bytes(), "text/html")
        items = [
            (web.url(f"/news/{story.slug}"), web.url(f"/news/{story.slug}"), story.title, story.published, "")
            for story in (LYNAS, GANZHOU, BAOTOU)
        ] + [(web.url("/zh/ganzhou"), web.url("/zh/ganzhou"), "赣州", GANZHOU.published, "")]
        web.document("/feed.xml", rss(items), "application/rss+xml")
        feeds = tmp_path / "feeds.toml"
        feeds.write_text(f'[[feeds]]\nurl = "{web.url("/feed.xml")}"\ntopical = true\n', encoding="utf-8")
        monkeypatch.setenv("RARE_NEWS_DATABASE_URL", database_url)
        monkeypatch.setenv("RARE_NEWS_ALLOW_PRIVATE_NETWORKS", "true")
        monkeypatch.setenv("RARE_NEWS_FETCH_RETRIES", "0")
        monkeypatch.setenv("RARE_NEWS_NOTIFY_URL", hook.url)
        assert run_cli("watch", "add", "heavy", "", "--element", "dysprosium")[0] == 0
        assert run_cli("watch", "add", "赣州", "赣州")[0] == 0
        assert run_cli("watch", "add", "silent", "lithium")[0] == 0

        code, output = run_cli("run", "--feeds", str(feeds))

        assert code == 0, output
        assert "watch 'heavy': " in output and "watch '赣州': 1 new article; digest of 1 sent" in output
        assert "silent" not in output
        heavy = next(post for post in hook.posts if "'heavy'" in post["title"])
        assert LYNAS.title in heavy["message"] and web.url("/zh/ganzhou") in heavy["message"]
        assert len(hook.posts) == 2

        code, output = run_cli("run", "--feeds", str(feeds))  # nothing new: nothing matched, nothing sent
        assert code == 0 and "watch '" not in output and len(hook.posts) == 2
    finally:
        server.clear()
        server.stop()
