"""End to end: a news web on loopback, `rare-news run --feeds` twice, and what `rare-news export` then shows.

The web has RSS and Atom feeds, on- and off-topic articles, an exact duplicate under a tracking-parameter URL,
and the faults a poller meets: a 500, a hanging feed, HTML where a feed should be, a malformed feed, a 404,
a page over the size cap, a gzip bomb, a redirect loop and a windows-1252 page.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from tests.newsweb import BAOTOU, FOOTBALL, GANZHOU, LITHIUM, LYNAS, NewsWeb, Story, article_html, atom, rss

pytestmark = pytest.mark.usefixtures("prefect_harness")

MP = Story(
    slug="mp-materials-magnets",
    title="MP Materials starts magnet production in Texas",
    author="Bob O’Neil",
    published=datetime.fromisoformat("2026-02-26T15:00:00+00:00"),
    paragraphs=(
        "MP Materials said its Fort Worth factory had begun making NdFeB magnets from neodymium and "
        "praseodymium separated at Mountain Pass, the only rare earth mine in the United States.",
        "“This is the first fully domestic rare earth magnet supply chain in decades,” the chief executive "
        "said, adding that the €40 million order from a European carmaker would ship next year.",
        "The company’s magnet output is small next to China’s, but defence buyers and electric vehicle "
        "makers have signed long-term contracts to secure rare earth supply outside China.",
        "Shares of MP Materials rose 8 per cent after the announcement, as investors bet on higher prices "
        "for neodymium-praseodymium oxide.",
    ),
)

MYANMAR = Story(
    slug="myanmar-kachin",
    title="Myanmar rare earth mines in Kachin resume shipments to China",
    author="Aung Min",
    published=datetime.fromisoformat("2026-02-25T09:00:00+00:00"),
    paragraphs=(
        "Rare earth mines in Myanmar's Kachin state have resumed shipments to China after border crossings "
        "reopened, traders in Ganzhou said, easing a shortage of heavy rare earth feedstock.",
        "Myanmar supplies a large share of the dysprosium and terbium processed in Jiangxi, and the closure "
        "had pushed up prices of heavy rare earth oxides across Chinese markets.",
        "Environmental groups say the mines, run with little oversight, have poisoned rivers and farmland in "
        "Kachin, and have called on Chinese buyers to stop sourcing from the region.",
        "Analysts expect the resumption to weigh on dysprosium oxide prices in the coming weeks.",
    ),
)

ON_TOPIC = {LYNAS.title, GANZHOU.title, BAOTOU.title, MP.title, MYANMAR.title}


def _item(web: NewsWeb, story: Story, path: str | None = None, guid: str | None = None):  # type: ignore[no-untyped-def]
    link = web.url(path or f"/news/{story.slug}")
    return (guid or link, link, story.title, story.published, story.paragraphs[0][:200])


def build_web(web: NewsWeb, tmp_path: Path) -> Path:
    for story in (LYNAS, GANZHOU, FOOTBALL, BAOTOU, LITHIUM, MYANMAR):
        web.document(f"/news/{story.slug}", article_html(story), "text/html; charset=utf-8")
    web.document(
        f"/news/{MP.slug}",
        article_html(MP, charset="windows-1252").encode("cp1252"),
        "text/html; charset=windows-1252",
    )
    web.status("/news/missing", 404)
    web.document(
        "/news/huge",
        "<html><body>" + "<p>rare earth filler text</p>" * 60_000 + "</body></html>",
        "text/html",
    )
    web.gzip_bomb("/news/bomb", 60_000_000)
    web.redirect("/news/loop-a", web.url("/news/loop-b"))
    web.redirect("/news/loop-b", web.url("/news/loop-a"))

    metals = [
        _item(web, LYNAS),
        _item(web, GANZHOU),
        _item(web, FOOTBALL),
        # The same Lynas article again, under a tracking-parameter URL: stored once.
        _item(web, LYNAS, path=f"/news/{LYNAS.slug}?utm_source=rss&utm_medium=feed#top", guid="lynas-again"),
        (
            web.url("/news/missing"),
            web.url("/news/missing"),
            "Rare earth story that vanished",
            LYNAS.published,
            "rare earth",
        ),
        (
            web.url("/news/huge"),
            web.url("/news/huge"),
            "Rare earth giant page",
            LYNAS.published,
            "rare earth",
        ),
        (web.url("/news/bomb"), web.url("/news/bomb"), "Rare earth bomb", LYNAS.published, "rare earth"),
        (web.url("/news/loop-a"), web.url("/news/loop-a"), "Rare earth loop", LYNAS.published, "rare earth"),
    ]
    web.document("/feeds/metals.xml", rss(metals, title="Metals Daily rare earths"), "application/rss+xml")
    world = [
        (
            f"urn:{BAOTOU.slug}",
            web.url(f"/news/{BAOTOU.slug}"),
            BAOTOU.title,
            BAOTOU.published,
            "NdFeB magnets and rare earth demand",
        ),
        (
            f"urn:{LITHIUM.slug}",
            web.url(f"/news/{LITHIUM.slug}"),
            LITHIUM.title,
            LITHIUM.published,
            "Lithium brine approval",
        ),
        (
            f"urn:{MP.slug}",
            web.url(f"/news/{MP.slug}"),
            MP.title,
            MP.published,
            "Neodymium magnets from rare earths mined at Mountain Pass",
        ),
    ]
    web.document("/feeds/world.atom", atom(world), "application/atom+xml")
    web.status("/feeds/broken.xml", 500)
    web.hang("/feeds/slow.xml", 6)
    web.document("/feeds/page.html", article_html(FOOTBALL), "text/html")
    malformed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Miners & Markets</title>'
        f"<item><title>Kachin & rare earths</title><link>{web.url('/news/' + MYANMAR.slug)}</link>"
        "<description>Rare earth mines in Myanmar <b>resume</description></item>"
    )
    web.document("/feeds/malformed.xml", malformed, "application/rss+xml")

    feeds = tmp_path / "feeds.toml"
    lines = []
    for path, topical in (
        ("/feeds/metals.xml", True),
        ("/feeds/world.atom", False),
        ("/feeds/broken.xml", True),
        ("/feeds/slow.xml", True),
        ("/feeds/page.html", True),
        ("/feeds/malformed.xml", True),
    ):
        lines.append(f'[[feeds]]\nurl = "{web.url(path)}"\ntopical = {str(topical).lower()}\n')
    feeds.write_text("\n".join(lines), encoding="utf-8")
    return feeds


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("RARE_NEWS_DATABASE_URL", database_url)
    monkeypatch.setenv("RARE_NEWS_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("RARE_NEWS_TOTAL_TIMEOUT", "2.5")
    monkeypatch.setenv("RARE_NEWS_READ_TIMEOUT", "2")
    monkeypatch.setenv("RARE_NEWS_MAX_BYTES", "1000000")
    monkeypatch.setenv("RARE_NEWS_MAX_DECOMPRESSED_BYTES", "2000000")
    monkeypatch.setenv("RARE_NEWS_FETCH_RETRIES", "0")
    return database_url


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def exported() -> list[dict]:  # type: ignore[type-arg]
    output = invoke("export", "--format", "jsonl", "--include-duplicates")
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_two_runs_store_each_on_topic_article_once_and_second_run_fetches_nothing(
    web: NewsWeb, tmp_path: Path, cli_env: str
) -> None:
    feeds = build_web(web, tmp_path)

    first = invoke("run", "--feeds", str(feeds))
    assert "articles stored" in first

    articles = exported()
    from_feeds = [a for a in articles if a["origin"] == "feed"]
    titles = sorted(a["title"] for a in from_feeds)
    assert titles == sorted(ON_TOPIC), titles
    assert len({a["canonical_url"] for a in from_feeds}) == len(from_feeds)
    assert {a["origin"] for a in articles if a["origin"] != "feed"} == {"seed"}

    lynas = next(a for a in from_feeds if a["title"] == LYNAS.title)
    assert lynas["authors"] == [LYNAS.author]
    assert lynas["published_at"].startswith("2026-03-02T08:30:00")
    assert lynas["canonical_url"].endswith(f"/news/{LYNAS.slug}")
    assert LYNAS.paragraphs[0] in lynas["body_text"]
    assert LYNAS.paragraphs[-1] in lynas["body_text"]
    for boilerplate in ("newsletter", "Leave a Reply", "Related Posts", "Copper slips", "Great article"):
        assert boilerplate not in lynas["body_text"]
    assert not lynas["body_text"].startswith(LYNAS.title)
    assert "Lynas" in lynas["tags"]["company"] or "Lynas Rare Earths" in lynas["tags"]["company"]
    assert "dysprosium" in [name.lower() for name in lynas["tags"]["element"]]
    assert lynas["feed_url"] == web.url("/feeds/metals.xml")

    mp = next(a for a in from_feeds if a["title"] == MP.title)
    assert "“This is the first fully domestic" in mp["body_text"]
    assert "€40 million" in mp["body_text"]
    assert mp["authors"] == [MP.author]

    # Every fault ends with a readable reason on its feed or entry.
    health = {row["url"]: row for row in map(json.loads, invoke("feeds", "list", "--format", "json").splitlines())}
    assert "500" in health[web.url("/feeds/broken.xml")]["last_error"]
    assert "timed out" in health[web.url("/feeds/slow.xml")]["last_error"]
    assert "not an RSS or Atom feed" in health[web.url("/feeds/page.html")]["last_error"]
    assert health[web.url("/feeds/malformed.xml")]["last_status"] == "ok"

    from models.db import get_engine
    from models.queries import entry_errors, ledger_counts

    errors = {url: reason for _, url, reason, _ in entry_errors(get_engine(cli_env))}
    assert "404" in errors[web.url("/news/missing")]
    assert "larger than" in errors[web.url("/news/huge")] or "too large" in errors[web.url("/news/huge")]
    assert errors[web.url("/news/bomb")]
    assert "redirect" in errors[web.url("/news/loop-a")]
    counts = ledger_counts(get_engine(cli_env))
    assert counts["duplicate"] == 1
    assert counts["irrelevant"] == 2  # the football page (fetched) and the lithium entry (title only)
    assert web.url(f"/news/{LITHIUM.slug}").split("//", 1)[1].split("/", 1)[1] not in [
        p.lstrip("/") for p in web.paths_requested()
    ]

    # Second run: conditional GETs only, and not a single article page.
    web.clear()
    second = invoke("run", "--feeds", str(feeds))
    assert "articles stored" in second
    requested = web.paths_requested()
    assert not [path for path in requested if path.startswith("/news/")], requested
    conditional = [r for r in web.requests if r[0].startswith("/feeds/metals.xml")]
    assert conditional and conditional[0][1] is not None  # If-None-Match was sent
    assert sorted(a["title"] for a in exported() if a["origin"] == "feed") == sorted(ON_TOPIC)


def test_guard_refuses_private_addresses_by_default(
    web: NewsWeb, tmp_path: Path, cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds = build_web(web, tmp_path)
    monkeypatch.setenv("RARE_NEWS_ALLOW_PRIVATE_NETWORKS", "false")
    invoke("run", "--feeds", str(feeds))
    health = {row["url"]: row for row in map(json.loads, invoke("feeds", "list", "--format", "json").splitlines())}
    reason = health[web.url("/feeds/metals.xml")]["last_error"]
    assert "loopback" in reason and "RARE_NEWS_ALLOW_PRIVATE_NETWORKS" in reason
    assert web.paths_requested() == []  # refused before connecting


def test_search_finds_both_seed_articles_for_jiangxi(cli_env: str) -> None:
    invoke("init")
    hits = [json.loads(line) for line in invoke("search", "jiangxi", "--format", "json").splitlines()]
    assert len(hits) == 2
    assert {hit["origin"] for hit in hits} == {"seed"}
    assert invoke("init")  # idempotent: a second init adds nothing
    assert len(exported()) == 2
