"""The web app and JSON API (web/) on SQLite and Postgres: pages render the right articles, facets count and narrow,
a story lists its copies, exports are `rare-news export`'s, Atom validates, writes change nothing, tokens guard all.

One store per database serves every read-only test here (the app cannot write to it).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from flows.cli import app as cli_app
from models.db import get_engine
from models.store import ARTICLE
from tests.web_fixtures import (
    CHINESE_TITLE,
    CHINESE_URL,
    HOSTILE_TITLE,
    WATCH,
    WIRE_SITES,
    WIRE_TITLE,
    build_web_store,
)
from web.app import create_app
from web.security import CONTENT_SECURITY_POLICY

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx in its test client
    from fastapi.testclient import TestClient

LYNAS_TITLE = "Lynas lifts heavy rare earth output at Kalgoorlie as dysprosium prices climb"
GANZHOU_TITLE = "Ganzhou smelters slow as China tightens rare earth export licences"
BAOTOU_TITLE = "Baotou magnet maker expands NdFeB capacity on rare earth demand from EV makers"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'rare_news.db'}"
        build_web_store(url).dispose()
        yield url
        return
    from tests.conftest import _fresh_postgres

    for url in _fresh_postgres(request.getfixturevalue("postgres_admin")):
        build_web_store(url)
        yield url


@pytest.fixture(scope="module")
def client(store_url: str) -> Iterator[TestClient]:
    app = create_app(store_url)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.engine.dispose()


def _api(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _titles(page: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", title)
        for title in re.findall(r'<a class="title" href="/articles/\d+">(.*?)</a>', page, flags=re.S)
    ]


# --- search ----------------------------------------------------------------------------------------------------


def test_search_page_lists_the_matches_one_row_per_story(client: TestClient) -> None:
    page = client.get("/", params={"q": "dysprosium"})
    assert page.status_code == 200
    titles = _titles(page.text)
    # The three copies of the wire story are one row, with its outlet count.
    assert sorted(titles) == sorted([LYNAS_TITLE, GANZHOU_TITLE, BAOTOU_TITLE, WIRE_TITLE])
    assert "3 outlets" in page.text
    every_copy = _titles(client.get("/", params={"q": "dysprosium", "distinct": "0"}).text)
    assert every_copy.count(WIRE_TITLE) == 3 and len(every_copy) == 6


def test_search_api_ranks_as_the_cli_does(client: TestClient, store_url: str) -> None:
    result = CliRunner().invoke(
        cli_app, ["search", "rare earth", "--distinct", "--format", "json", "--database-url", store_url]
    )
    assert result.exit_code == 0, result.output
    cli_ids = [json.loads(line)["id"] for line in result.output.splitlines()]
    api = _api(client, "/api/search", q="rare earth", size=100)
    assert [hit["id"] for hit in api["results"]] == cli_ids
    first = api["results"][0]
    assert "body_text" not in first and {"story_outlets", "tags", "score", "canonical_url"} <= set(first)


def test_facets_count_the_matches_and_a_click_narrows_them(client: TestClient) -> None:
    api = _api(client, "/api/search", q="rare earth", facets="true", distinct="false")
    assert api["matches"] == 7  # every English article (the wire story's three copies too)
    facets = {kind: {f["value"]: f["count"] for f in values} for kind, values in api["facets"].items()}
    assert facets["place"]["Myanmar"] == 3 and facets["element"]["dysprosium"] == 6
    assert facets["site"]["wire.example"] == 1 and facets["language"]["en"] == 7
    assert facets["month"] == {"2026-03": 2, "2026-02": 4, "2026-01": 1}

    stories = _api(client, "/api/search", q="rare earth", facets="true")
    assert stories["matches"] == 5  # one per story
    assert {f["value"]: f["count"] for f in stories["facets"]["place"]}["Myanmar"] == 1

    # The page's facet link for Myanmar narrows the search to the wire story, and says so in its URL.
    page = client.get("/", params={"q": "rare earth"}).text
    link = re.search(r'<a href="([^"]+)" data-facet="place">Myanmar</a>', page)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert "place=Myanmar" in href and "q=rare+earth" in href
    assert _titles(client.get(href).text) == [WIRE_TITLE]
    narrowed = _api(client, "/api/search", q="rare earth", place="Myanmar", month="2026-02", facets="true")
    assert narrowed["matches"] == 1 and narrowed["facets"]["place"] == [{"value": "Myanmar", "count": 1}]
    assert _api(client, "/api/search", q="rare earth", month="2026-03")["results"][0]["title"] in (
        LYNAS_TITLE,
        GANZHOU_TITLE,
    )
    assert _api(client, "/api/search", q="rare earth", language="zh")["results"] == []
    assert len(_api(client, "/api/search", q="", site="Mining Weekly")["results"]) == 1


def test_search_finds_the_chinese_article_and_pages_through_results(client: TestClient) -> None:
    assert _titles(client.get("/", params={"q": "稀土"}).text) == [CHINESE_TITLE]
    facets = _api(client, "/api/search", q="稀土", facets="1")["facets"]
    assert facets["language"] == [{"value": "zh", "count": 1}]
    newest = _api(client, "/api/search", size=2, distinct="false")
    second = _api(client, "/api/search", size=2, page=2, distinct="false")
    all_ids = [hit["id"] for hit in _api(client, "/api/search", size=4, distinct="false")["results"]]
    assert [hit["id"] for hit in newest["results"] + second["results"]] == all_ids
    page = client.get("/", params={"size": 2, "distinct": "0"}).text
    assert 'rel="next" href="/?distinct=0&amp;page=2&amp;size=2"' in page


def test_pages_escape_text_from_the_web(client: TestClient) -> None:
    page = client.get("/", params={"q": "neodymium oxide notes"}).text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>evil</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    article_id = _api(client, "/api/search", q="neodymium oxide notes")["results"][0]["id"]
    article = client.get(f"/articles/{article_id}").text
    assert "<script>alert" not in article and "&lt;b&gt;evil&lt;/b&gt;" in article
    assert _api(client, f"/api/articles/{article_id}")["title"] == HOSTILE_TITLE


# --- article, story, feeds, report -------------------------------------------------------------------------------


def test_article_page_shows_tags_with_mentions_provenance_and_the_story(client: TestClient) -> None:
    hits = _api(client, "/api/search", q="Myanmar exports", distinct="false")["results"]
    by_site = {hit["site"]: hit for hit in hits}
    copy = by_site["paper.example"]
    page = client.get(f"/articles/{copy['id']}").text
    assert WIRE_TITLE in page and "dysprosium (2)" in page and "Myanmar (3)" in page
    assert "https://paper.example/myanmar-exports" in page and "3 articles from 3 outlets" in page
    assert "a copy (similarity" in page
    others = re.findall(r'<li><a href="/articles/(\d+)">', page.split('id="copies"')[1])
    assert [int(i) for i in others] == [by_site["wire.example"]["id"], by_site["blog.example"]["id"]]
    # Its event story (models/events.py): here the same three outlets.
    assert 'id="event"' in page and "(wire.example, paper.example, blog.example) in en" in page
    detail = _api(client, f"/api/articles/{copy['id']}")
    assert (detail["event_articles"], detail["event_outlets"]) == (3, 3)
    assert {member["site"] for member in detail["event_members"]} == {"wire.example", "blog.example"}

    lynas = _api(client, "/api/search", q="Kalgoorlie")["results"][0]
    detail = _api(client, f"/api/articles/{lynas['id']}")
    assert detail["authors"] == ["Jane Smith"] and detail["origin"] == "feed"
    assert detail["feed_url"] == "https://feeds.example.com/metals.xml"
    assert detail["mentions"]["company"]["Lynas"] >= 2 and detail["story_members"] == []
    assert "Kalgoorlie plant in Western Australia" in detail["body_text"]
    page = client.get(f"/articles/{lynas['id']}").text
    assert "Jane Smith" in page and detail["extractor_version"] in page and "Metals Daily" in page
    assert client.get("/articles/999999").status_code == 404
    assert client.get("/api/articles/999999").status_code == 404


def test_story_page_lists_the_copies_first_source_first(client: TestClient) -> None:
    hit = _api(client, "/api/search", q="Myanmar exports")["results"][0]
    story = _api(client, f"/api/stories/{hit['story_id']}")
    assert (story["articles"], story["outlets"], story["first_source"]) == (3, 3, "wire.example")
    assert [member["site"] for member in story["members"]] == list(WIRE_SITES)
    page = client.get(f"/stories/{hit['story_id']}").text
    members = page.split('id="members"')[1].split("</table>")[0]
    assert re.findall(r"<td>(wire|paper|blog)\.example</td>", members) == ["wire", "paper", "blog"]
    assert client.get("/stories/999999").status_code == 404


def test_feeds_page_and_api_show_feed_health_and_the_report_renders(client: TestClient) -> None:
    feeds = _api(client, "/api/feeds")
    assert len(feeds) == 1
    assert (feeds[0]["polls"], feeds[0]["share_not_modified"], feeds[0]["articles"]) == (4, 0.75, 3)
    page = client.get("/feeds").text
    assert "Metals Daily" in page and "75%" in page and f"/feeds/watch/{WATCH}.atom" in page
    stats = _api(client, "/api/stats")
    assert (stats["articles"], stats["stories"], stats["copies"]) == (8, 6, 2)
    report = client.get("/report/view", params={"since": "2026-01-01"})
    assert report.status_code == 200 and "Stories per week by element" in report.text
    assert "script-src 'sha256-" in report.headers["content-security-policy"]
    assert client.get("/report").status_code == 200


# --- exports and Atom --------------------------------------------------------------------------------------------


def _cli_export(store_url: str, *args: str) -> str:
    result = CliRunner().invoke(cli_app, ["export", *args, "--database-url", store_url])
    assert result.exit_code == 0, result.output
    return result.output


def test_exports_are_those_of_rare_news_export(client: TestClient, store_url: str) -> None:
    jsonl = client.get("/api/export.jsonl", params={"include_duplicates": "true"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    assert jsonl.text == _cli_export(store_url, "--include-duplicates")
    assert len(jsonl.text.splitlines()) == 8
    since = client.get("/api/export.jsonl", params={"since": "2026-02-25"}).text
    assert since == _cli_export(store_url, "--since", "2026-02-25")
    exported = client.get("/api/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    cli_rows = list(csv.DictReader(io.StringIO(_cli_export(store_url, "--format", "csv"))))
    assert rows == cli_rows and len(rows) == 6


def test_atom_feed_of_a_search_validates_and_holds_the_newest_matches(client: TestClient) -> None:
    response = client.get("/feeds/search.atom", params={"q": "rare earth", "element": "dysprosium"})
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(io.BytesIO(response.content))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and "dysprosium" in feed.feed.title
    titles = [entry.title for entry in feed.entries]
    assert titles[:2] == [LYNAS_TITLE, GANZHOU_TITLE]  # newest first
    assert len(titles) == 6 and titles.count(WIRE_TITLE) == 3
    assert feed.entries[0].link == "https://metals.example.com/lynas-kalgoorlie"
    assert "dysprosium" in [tag.term for tag in feed.entries[0].tags]

    watch = feedparser.parse(io.BytesIO(client.get(f"/feeds/watch/{WATCH}.atom").content))
    assert not watch.bozo and [entry.title for entry in watch.entries] == [WIRE_TITLE] * 3
    chinese = feedparser.parse(io.BytesIO(client.get("/feeds/search.atom", params={"q": "稀土"}).content))
    assert [entry.link for entry in chinese.entries] == [CHINESE_URL]
    assert client.get("/feeds/watch/nobody.atom").status_code == 404


# --- safe by default ---------------------------------------------------------------------------------------------


def _article_count(store_url: str) -> int:
    with get_engine(store_url).connect() as connection:
        return int(connection.execute(select(func.count()).select_from(ARTICLE)).scalar_one())


def test_writes_change_nothing_and_get_a_clear_status(client: TestClient, store_url: str) -> None:
    before = _article_count(store_url)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/search", "/api/articles/1", "/articles/1", "/api/export.csv"):
            assert client.request(method, path).status_code == 405, (method, path)
    hostile = ["'; DROP TABLE article; --", "1 OR 1=1", '" OR ""="', "*", "NEAR(a b)", "稀土' --", "%", "\\"]
    for text in hostile:
        for path in ("/", "/api/search", "/feeds/search.atom"):
            assert client.get(path, params={"q": text, "site": text, "element": text}).status_code == 200, text
    assert _article_count(store_url) == before


@pytest.mark.parametrize(
    "params",
    [
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {"since": "yesterday"},
        {"until": "2026-02-30"},
        {"month": "2026-13"},
        {"size": "1000"},
        {"page": "0"},
        {"page": "51"},
        {"distinct": "perhaps"},
        {"element": "e" * 101},
    ],
)
def test_bad_parameters_get_a_422_with_the_reason(client: TestClient, params: dict[str, str]) -> None:
    api = client.get("/api/search", params=params)
    assert api.status_code == 422 and api.json()["detail"][0]["loc"][-1] == next(iter(params))
    page = client.get("/", params=params)
    assert page.status_code == 422 and "Bad parameters" in page.text and next(iter(params)) in page.text


def test_every_answer_carries_the_content_security_policy(client: TestClient) -> None:
    for path in ("/", "/api/search", "/static/style.css", "/nope", "/api/search?size=0"):
        response = client.get(path)
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff"
    page = client.get("/").text
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing from elsewhere: no CDN
    assert "<script" not in page and " style=" not in page
    assert client.get("/api/docs").status_code == 404  # Swagger UI would load from a CDN


RUNAWAY = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"


def test_a_runaway_query_is_stopped_at_the_time_limit(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import text

    import web.api

    app = create_app(store_url, time_limit=0.2)
    engine = app.state.engine

    def forever(*_args: Any, **_kwargs: Any) -> Any:
        with engine.connect() as connection:
            return connection.execute(text(RUNAWAY)).scalar()

    monkeypatch.setattr(web.api, "search_page", forever)
    started = time.monotonic()
    with TestClient(app, raise_server_exceptions=False) as client:
        api = client.get("/api/search", params={"q": "rare earth"})
        assert api.status_code == 503 and "time limit (0.2 s)" in api.json()["detail"]
        assert client.get("/api/stats").status_code == 200  # the store is still there for the next request
    assert time.monotonic() - started < 5
    engine.dispose()


def test_the_store_is_opened_read_only(client: TestClient) -> None:
    from sqlalchemy import text

    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection, pytest.raises(Exception, match="(?i)read.?only"):
        connection.execute(text("DELETE FROM article"))
        connection.commit()


def test_with_tokens_nothing_answers_without_one(store_url: str) -> None:
    app = create_app(store_url, tokens=["s3cret", "other"])
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/", "/articles/1", "/stories/1", "/feeds", "/report", "/report/view", "/?q=稀土"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
        for path in ("/api/search", "/api/articles/1", "/api/feeds", "/api/stats", "/api/export.csv"):
            assert client.get(path).status_code == 401, path
        assert client.get("/api/openapi.json").status_code == 401
        assert client.get("/feeds/search.atom").status_code == 401
        assert client.get("/api/search", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/api/search", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/api/stats", headers={"X-API-Token": "other"}).status_code == 200
        atom = client.get("/feeds/search.atom", params={"token": "s3cret", "q": "rare earth"})
        assert atom.status_code == 200 and b"s3cret" not in atom.content  # not echoed in its self link
        assert client.get("/api/stats", params={"token": "s3cret"}).status_code == 401  # only feeds take it so

        login = client.get("/login?next=/feeds")
        assert login.status_code == 200 and 'name="token"' in login.text
        refused = client.post("/login", data={"token": "nope", "next": "/feeds"}, follow_redirects=False)
        assert refused.status_code == 401 and "rare_news_token" not in refused.headers.get("set-cookie", "")
        accepted = client.post("/login", data={"token": "s3cret", "next": "//evil.example/"}, follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"] == "/"
        tabbed = client.post("/login", data={"token": "s3cret", "next": "/\t/evil.example"}, follow_redirects=False)
        assert tabbed.headers["location"] == "/"  # a browser would drop the tab and go to //evil.example
        assert "httponly" in accepted.headers["set-cookie"].lower()
        assert client.get("/feeds").status_code == 200  # the cookie now
    app.state.engine.dispose()


def test_web_command_serves_the_seed_articles(tmp_path: Path) -> None:
    """What `make run` leaves behind (a migrated, seeded store) served by `rare-news web`."""
    from tests.test_web_browser import serve_web

    url = f"sqlite:///{tmp_path / 'rare_news.db'}"
    assert CliRunner().invoke(cli_app, ["init", "--database-url", url]).exit_code == 0
    import httpx

    with serve_web(url) as base, httpx.Client(base_url=base, trust_env=False, timeout=10) as http:
        hits = http.get("/api/search", params={"q": "jiangxi", "distinct": "false"}).json()["results"]
        assert len(hits) == 2 and {hit["origin"] for hit in hits} == {"seed"}
        page = http.get("/", params={"q": "jiangxi"}).text
        assert all(hit["title"] in page for hit in hits)
