"""A hostile web on loopback, ingested for real twice: every HTTP fault, what became of it, and nothing lost.

One web serves eleven feeds and two dozen article pages, each page or feed broken in one way: 5xx, 429 and
503 with Retry-After, a connect timeout, slow-loris trickles, bodies cut short, Content-Length lies, a 1 GiB
body with and without a Content-Length, gzip and brotli bombs, redirect loops and long chains, TLS errors,
names that do not resolve, wrong or missing Content-Type, and a charset header that contradicts the page.

Run 1 meets the faults. Between the runs the transient ones heal (the way a server that was down comes back);
run 2 is forced, so every feed is polled again. After it, every on-topic story that could be had must be in the
database exactly once, every other entry must have a status and a reason, and final failures must not have
been fetched again. The flow, the fetcher and the database are the real ones; the servers misbehave on purpose.
"""

from __future__ import annotations

import resource
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from tests.faults.conftest import fault_settings, feeds_toml, run_ingest
from tests.faults.report import audit
from tests.faults.servers import (
    GIB,
    BlackHole,
    RawWeb,
    TLSServer,
    brotli_bomb,
    content_length,
    cut_short,
    endless,
    gzip_bomb,
    head,
    ok,
    self_signed_certificate,
    trickled_body,
    trickled_head,
)
from tests.faults.stories import OFF_TOPIC, STORIES
from tests.newsweb import NewsWeb, Story, article_html, atom, rss

pytestmark = [pytest.mark.faults, pytest.mark.usefixtures("prefect_harness")]

NON_ASCII = "“We expect the premium to last,” one trader said, quoting €412 a kilogram for the oxide in Rotterdam."
CHARSET_HEADER_UTF8 = replace(STORIES[9], paragraphs=(*STORIES[9].paragraphs, NON_ASCII))
CHARSET_HEADER_LATIN1 = replace(STORIES[10], paragraphs=(*STORIES[10].paragraphs, NON_ASCII.replace("€412", "€388")))


@dataclass
class Web:
    """The hostile web: a polite server with stateful routes, a rude raw server, TLS, a black hole."""

    news: NewsWeb
    raw: RawWeb
    tls: TLSServer
    hole: BlackHole
    healed: bool = False
    feeds: dict[str, str] = field(default_factory=dict)  # name -> feed URL
    pages: dict[str, str] = field(default_factory=dict)  # name -> entry URL (also its guid)
    hits: dict[str, list[float]] = field(default_factory=dict)  # polite path -> request times
    wire: dict[str, int] = field(default_factory=dict)  # bomb name -> bytes on the wire
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hit(self, path: str) -> None:
        with self.lock:
            self.hits.setdefault(path, []).append(time.monotonic())

    def asked(self, path: str) -> int:
        with self.lock:
            return len(self.hits.get(path, []))

    def polite(self, path: str, handler: Callable[[Request], Response]) -> str:
        def counted(request: Request) -> Response:
            self.hit(path)
            return handler(request)

        self.news.route(path, counted)
        return self.news.url(path)

    def heal(self) -> None:
        self.healed = True
        self.raw.healed = True


def _html(story: Story, **kwargs: Any) -> bytes:
    return article_html(story, **kwargs).encode("utf-8")


def _page(web: Web, path: str, body: bytes, content_type: str | None = "text/html; charset=utf-8") -> str:
    def handler(request: Request) -> Response:
        response = Response(body, status=200)
        if content_type is None:
            response.headers.remove("Content-Type")
        else:
            response.headers["Content-Type"] = content_type
        return response

    return web.polite(path, handler)


def _fails_until_healed(web: Web, path: str, body: bytes, status: int) -> str:
    return web.polite(
        path, lambda request: Response(body, content_type="text/html") if web.healed else Response("down", status)
    )


def _once_then_ok(web: Web, path: str, body: bytes, status: int, retry_after: str) -> str:
    def handler(request: Request) -> Response:
        if web.asked(path) == 1:
            return Response("slow down", status=status, headers={"Retry-After": retry_after})
        return Response(body, content_type="text/html; charset=utf-8")

    return web.polite(path, handler)


def _redirects(web: Web, prefix: str, hops: int, target: str) -> str:
    for hop in range(hops):
        following = web.news.url(f"{prefix}/{hop + 1}") if hop + 1 < hops else target
        web.polite(f"{prefix}/{hop}", lambda request, to=following: Response(status=302, headers={"Location": to}))
    return web.news.url(f"{prefix}/0")


def _item(url: str, title: str, summary: str = "rare earth news") -> tuple[str, str, str, Any, str]:
    return (url, url, title, STORIES[0].published, summary)


def build(web: Web, folder: Path) -> Path:
    news, raw = web.news, web.raw
    robots = lambda request: Response("User-agent: *\nAllow: /\n", content_type="text/plain")  # noqa: E731
    news.route("/robots.txt", robots)
    pages = web.pages
    pages["control"] = _page(web, "/news/control", _html(STORIES[0]))
    pages["5xx always"] = web.polite("/news/always-500", lambda request: Response("boom", status=500))
    pages["5xx until healed"] = _fails_until_healed(web, "/news/500-then-ok", _html(STORIES[1]), 500)
    pages["429 Retry-After"] = _once_then_ok(web, "/news/429-once", _html(STORIES[2]), 429, "1")
    pages["503 Retry-After"] = _once_then_ok(web, "/news/503-once", _html(STORIES[3]), 503, "1")
    raw.route("/news/trickle", trickled_body("/news/trickle", _html(STORIES[4]), interval=0.2))
    pages["slow-loris body"] = raw.url("/news/trickle")
    raw.route("/news/cut", cut_short("/news/cut", _html(STORIES[5])))
    pages["body cut short"] = raw.url("/news/cut")
    too_long = _html(STORIES[6])
    raw.route("/news/cl-long", content_length("/news/cl-long", too_long, len(too_long) + 5000))
    pages["Content-Length too long"] = raw.url("/news/cl-long")
    short = _html(STORIES[15])
    cut_at = short.index(STORIES[15].paragraphs[2][:40].encode())
    raw.route("/news/cl-short", content_length("/news/cl-short", short, cut_at))
    pages["Content-Length too short"] = raw.url("/news/cl-short")
    raw.route("/news/gib-declared", endless("/news/gib-declared", declare=True))
    pages["1 GiB body, declared"] = raw.url("/news/gib-declared")
    raw.route("/news/gib-streamed", endless("/news/gib-streamed", declare=False))
    pages["1 GiB body, streamed"] = raw.url("/news/gib-streamed")
    gz, br = gzip_bomb(GIB), brotli_bomb(GIB)
    web.wire.update({"gzip bomb": len(gz), "brotli bomb": len(br)})
    pages["gzip bomb"] = web.polite(
        "/news/gzip-bomb",
        lambda request: Response(gz, content_type="text/html", headers={"Content-Encoding": "gzip"}),
    )
    pages["brotli bomb"] = web.polite(
        "/news/brotli-bomb",
        lambda request: Response(br, content_type="text/html", headers={"Content-Encoding": "br"}),
    )
    web.polite("/news/loop-a", lambda request: Response(status=302, headers={"Location": news.url("/news/loop-b")}))
    web.polite("/news/loop-b", lambda request: Response(status=301, headers={"Location": news.url("/news/loop-a")}))
    pages["redirect loop"] = news.url("/news/loop-a")
    pages["redirect chain of 8"] = _redirects(web, "/news/long", 8, news.url("/news/never-reached"))
    target = _page(web, "/news/after-3-hops", _html(STORIES[7]))
    pages["redirect chain of 3"] = _redirects(web, "/news/short", 3, target)
    pages["page without Content-Type"] = _page(web, "/news/no-type", _html(STORIES[8]), None)
    pages["page as image/png"] = _page(web, "/news/png", _html(STORIES[14]), "image/png")
    garbage = bytes(range(256)) * 64
    pages["binary served as text/html"] = _page(web, "/news/binary", garbage, "text/html")
    pages["charset header utf-8, page windows-1252"] = _page(
        web,
        "/news/charset-a",
        article_html(CHARSET_HEADER_UTF8, charset="windows-1252").encode("cp1252"),
        "text/html; charset=utf-8",
    )
    pages["charset header iso-8859-1, page utf-8"] = _page(
        web, "/news/charset-b", _html(CHARSET_HEADER_LATIN1), "text/html; charset=iso-8859-1"
    )
    pages["name that does not resolve (page)"] = "http://gone.invalid/news/story"
    pages["exact duplicate (tracking URL)"] = pages["control"] + "?utm_source=rss&utm_medium=feed#comments"
    pages["off-topic control"] = _page(web, "/news/off-topic", _html(OFF_TOPIC[0]))

    titles = {
        "control": STORIES[0].title,
        "5xx until healed": STORIES[1].title,
        "429 Retry-After": STORIES[2].title,
        "503 Retry-After": STORIES[3].title,
        "slow-loris body": STORIES[4].title,
        "body cut short": STORIES[5].title,
        "redirect chain of 3": STORIES[7].title,
        "page without Content-Type": STORIES[8].title,
        "charset header utf-8, page windows-1252": STORIES[9].title,
        "charset header iso-8859-1, page utf-8": STORIES[10].title,
        "exact duplicate (tracking URL)": STORIES[0].title,
        "off-topic control": OFF_TOPIC[0].title,
    }
    items = [_item(url, titles.get(name, f"Rare earth story: {name}")) for name, url in pages.items()]
    main = rss(items, title="Hostile wire")
    web.feeds["main"] = _page(web, "/feeds/main.xml", main.encode(), "application/rss+xml")

    single = lambda story: rss([_item(news.url(f"/news/{story.slug}"), story.title)])  # noqa: E731
    for story in (STORIES[11], STORIES[12], STORIES[13], STORIES[14]):
        _page(web, f"/news/{story.slug}", _html(story))
    web.feeds["503 Retry-After (feed)"] = web.polite(
        "/feeds/busy.xml",
        lambda request: (
            Response(single(STORIES[11]), content_type="application/rss+xml")
            if web.healed
            else Response("busy", status=503, headers={"Retry-After": "3600"})
        ),
    )
    web.feeds["5xx (feed)"] = web.polite("/feeds/broken.xml", lambda request: Response("boom", status=502))
    slow_feed = ok(single(STORIES[12]).encode(), content_type="application/rss+xml")
    raw.route("/feeds/trickle.xml", trickled_head("/feeds/trickle.xml", slow_feed, interval=0.3))
    web.feeds["slow-loris headers (feed)"] = raw.url("/feeds/trickle.xml")
    web.feeds["connect timeout (feed)"] = web.hole.url("/feeds/hole.xml")
    web.feeds["TLS: untrusted certificate (feed)"] = f"https://localhost:{web.tls.port}/feeds/tls.xml"
    web.feeds["TLS: plain HTTP on https (feed)"] = news.url("/feeds/plain.xml").replace("http://", "https://")
    web.feeds["feed as text/plain"] = _page(web, "/feeds/plain-type.xml", single(STORIES[12]).encode(), "text/plain")
    atom_body = atom([_item(news.url(f"/news/{STORIES[13].slug}"), STORIES[13].title)])
    web.feeds["feed without Content-Type"] = _page(web, "/feeds/untyped.atom", atom_body.encode(), None)
    _page(web, "/feeds/new-home.xml", single(STORIES[14]).encode(), "application/rss+xml")
    web.feeds["feed moved (301)"] = web.polite(
        "/feeds/moved.xml", lambda request: Response(status=301, headers={"Location": news.url("/feeds/new-home.xml")})
    )
    web.feeds["name that does not resolve (feed)"] = "http://news.invalid/feed.xml"
    web.feeds["HTML where the feed should be"] = _page(web, "/feeds/page.html", _html(OFF_TOPIC[0]), "text/html")
    return feeds_toml(folder / "feeds.toml", [(url, True) for url in web.feeds.values()])


@dataclass
class Snapshot:
    feeds: dict[str, Any]
    entries: dict[str, tuple[str, str | None, int, bool]]  # entry key -> (status, reason, attempts, retryable)
    raw_asked: Counter[str]
    polite_asked: Counter[str]
    seconds: float
    summary: Any
    sent: dict[str, int] = field(default_factory=dict)  # raw bytes sent per path, whole session so far


@dataclass
class Hostile:
    web: Web
    backend: str
    engine: Any
    first: Snapshot
    second: Snapshot
    peak_rss_mib: float

    def entry(self, name: str, *, run: int = 2) -> tuple[str, str | None, int, bool]:
        snapshot = self.first if run == 1 else self.second
        return snapshot.entries[self.web.pages[name]]

    def feed(self, name: str, *, run: int = 2) -> Any:
        snapshot = self.first if run == 1 else self.second
        return snapshot.feeds[self.web.feeds[name]]

    def stored(self, title: str) -> int:
        from models.store import ARTICLE

        with self.engine.connect() as connection:
            return len(connection.execute(select(ARTICLE.c.id).where(ARTICLE.c.title == title)).all())

    def body(self, title: str) -> str:
        from models.store import ARTICLE

        with self.engine.connect() as connection:
            return str(connection.execute(select(ARTICLE.c.body_text).where(ARTICLE.c.title == title)).scalar_one())

    def audit(self, *titles: str, pages: tuple[str, ...] = ()) -> Any:
        return audit(self.engine, stored=titles, entries=[self.web.pages[name] for name in pages])


def _snapshot(engine: Any, web: Web, seconds: float, summary: Any, before: Snapshot | None = None) -> Snapshot:
    from models.queries import list_feeds
    from models.store import SEEN

    with engine.connect() as connection:
        rows = connection.execute(
            select(SEEN.c.entry_key, SEEN.c.status, SEEN.c.last_error, SEEN.c.attempts, SEEN.c.retryable)
        )
        entries = {row.entry_key: (row.status, row.last_error, row.attempts, bool(row.retryable)) for row in rows}
    raw = Counter(request.path for request in list(web.raw.requests))
    with web.lock:
        polite = Counter({path: len(times) for path, times in web.hits.items()})
    if before is not None:  # what this run asked for, not the whole session
        raw = raw - before.raw_asked
        polite = polite - before.polite_asked
    return Snapshot(
        feeds={feed.url: feed for feed in list_feeds(engine)},
        entries=entries,
        raw_asked=raw,
        polite_asked=polite,
        seconds=seconds,
        summary=summary,
        sent=dict(web.raw.sent),
    )


@pytest.fixture(scope="module")
def hostile(backend: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    from models.db import get_engine

    name, url = backend
    folder = tmp_path_factory.mktemp("hostile")
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    cert, key = self_signed_certificate(folder)
    tls_feed = rss([_item("https://localhost/news/x", STORIES[0].title)]).encode()
    web = Web(NewsWeb(server), RawWeb(), TLSServer(cert, key, tls_feed), BlackHole())
    try:
        assert web.hole.works, "could not make a port that never completes a connection"
        feeds_file = build(web, folder)
        settings = fault_settings(url)
        engine = get_engine(url)

        started = time.monotonic()
        summary = run_ingest(feeds_file, settings)
        first = _snapshot(engine, web, time.monotonic() - started, summary)

        web.heal()
        started = time.monotonic()
        summary = run_ingest(feeds_file, settings, force=True)
        second = _snapshot(engine, web, time.monotonic() - started, summary, before=first)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        yield Hostile(web, name, engine, first, second, peak)
    finally:
        web.raw.close()
        web.tls.close()
        web.hole.close()
        server.clear()
        if server.is_running():
            server.stop()


# --- helpers for the assertions -------------------------------------------------------------------------------


def _said(entry: tuple[str, str | None, int, bool]) -> str:
    status, reason, attempts, retryable = entry
    kind = " (may pass)" if status == "failed" and retryable else ""
    tries = f", {attempts} tries" if attempts > 1 else ""
    return f"{status}{kind}: {reason}{tries}" if reason else f"{status}{tries}"


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?", 1)[0]


# --- pages ------------------------------------------------------------------------------------------------------


def test_control_page_is_stored_once(hostile: Hostile, record: Callable[..., None]) -> None:
    assert hostile.entry("control")[0] == "loaded"
    assert hostile.stored(STORIES[0].title) == 1
    assert hostile.second.polite_asked["/news/control"] == 0  # done is done: not fetched again
    record(
        "control page (no fault)",
        "stored once; not fetched again by run 2",
        backend=hostile.backend,
        found=hostile.audit(STORIES[0].title, pages=("control",)),
    )


def test_page_5xx_fails_with_a_reason_and_is_retried_on_the_next_run(
    hostile: Hostile, record: Callable[..., None]
) -> None:
    status, reason, attempts, retryable = hostile.entry("5xx always")
    assert (status, retryable, attempts) == ("failed", True, 2)
    assert "HTTP 500" in (reason or "")
    assert hostile.second.polite_asked["/news/always-500"] == 2  # one retry inside run 2, as in run 1
    record(
        "HTTP 500 on a page, always",
        _said(hostile.entry("5xx always")) + "; retried next run, bounded",
        backend=hostile.backend,
        found=hostile.audit(pages=("5xx always",)),
    )


def test_page_5xx_that_recovers_is_stored_by_the_next_run(hostile: Hostile, record: Callable[..., None]) -> None:
    assert hostile.entry("5xx until healed", run=1)[:2] == ("failed", "HTTP 500 Internal Server Error")
    assert hostile.entry("5xx until healed")[0] == "loaded"
    assert hostile.stored(STORIES[1].title) == 1
    record(
        "HTTP 500 on a page, then recovers",
        "run 1: failed (may pass): HTTP 500; run 2: stored",
        backend=hostile.backend,
        found=hostile.audit(STORIES[1].title, pages=("5xx until healed",)),
    )


@pytest.mark.parametrize(("name", "story"), [("429 Retry-After", STORIES[2]), ("503 Retry-After", STORIES[3])])
def test_429_and_503_with_retry_after_are_retried_after_the_wait(
    hostile: Hostile, record: Callable[..., None], name: str, story: Story
) -> None:
    path = _path(hostile.web.pages[name])
    times = hostile.web.hits[path]
    assert len(times) == 2
    gap = times[1] - times[0]
    assert gap >= 0.95, f"retried {gap:.2f} s after a Retry-After of 1 s"
    assert hostile.entry(name, run=1)[0] == "loaded"  # within run 1
    assert hostile.stored(story.title) == 1
    code = name.split()[0]
    record(
        f"HTTP {code} with Retry-After: 1 (page)",
        f"waited {gap:.1f} s as told, retried, stored in the same run",
        backend=hostile.backend,
        found=hostile.audit(story.title, pages=(name,)),
    )


def test_slow_loris_body_hits_the_total_deadline_then_loads_when_the_server_recovers(
    hostile: Hostile, record: Callable[..., None]
) -> None:
    status, reason, _, retryable = hostile.entry("slow-loris body", run=1)
    assert (status, retryable) == ("failed", True)
    assert "total deadline" in (reason or "")
    assert hostile.first.raw_asked["/news/trickle"] == 2  # the attempt and its one retry, each cut at 2.5 s
    page = len(_html(STORIES[4]))
    got = hostile.first.sent["/news/trickle"] - 2 * len(head(Content_Length=str(page)))
    assert 0 < got < 2 * 30, got  # ~12 bytes a try before the deadline cut it
    assert hostile.entry("slow-loris body")[0] == "loaded"
    record(
        "slow-loris page (1 byte / 0.2 s)",
        f"run 1: {reason} ({got} of {page} bytes in 2 tries); run 2, server well: stored",
        backend=hostile.backend,
        found=hostile.audit(STORIES[4].title, pages=("slow-loris body",)),
    )


def test_body_cut_short_is_retried_and_loaded_later(hostile: Hostile, record: Callable[..., None]) -> None:
    status, reason, _, retryable = hostile.entry("body cut short", run=1)
    assert (status, retryable) == ("failed", True)
    assert "cut short" in (reason or "")
    assert hostile.entry("body cut short")[0] == "loaded"
    record(
        "body cut short (half, then close)",
        f"run 1: failed (may pass): {reason}; run 2: stored",
        backend=hostile.backend,
        found=hostile.audit(STORIES[5].title, pages=("body cut short",)),
    )


def test_content_length_longer_than_the_body_is_a_cut_short_body(hostile: Hostile, record: Callable[..., None]) -> None:
    status, reason, _, retryable = hostile.entry("Content-Length too long")
    assert (status, retryable) == ("failed", True)
    assert "cut short" in (reason or "")
    assert hostile.stored(STORIES[6].title) == 0  # a partial page is never stored as the article
    record(
        "Content-Length lies: 5000 bytes too long",
        _said(hostile.entry("Content-Length too long")),
        backend=hostile.backend,
        found=hostile.audit(pages=("Content-Length too long",)),
    )


def test_content_length_shorter_than_the_body_keeps_only_the_declared_bytes(
    hostile: Hostile, record: Callable[..., None]
) -> None:
    status, reason, _, _ = hostile.entry("Content-Length too short")
    story = STORIES[15]
    stored = hostile.stored(story.title)
    if stored:
        body = hostile.body(story.title)
        assert story.paragraphs[0] in body
        assert story.paragraphs[2][:40] not in body and story.paragraphs[3][:40] not in body
    else:
        assert status in ("failed", "irrelevant") and reason
    what = (
        "stored the declared bytes only (2 of 4 paragraphs); bytes past the length ignored"
        if stored
        else _said(hostile.entry("Content-Length too short"))
    )
    record(
        "Content-Length lies: shorter than the body",
        what,
        backend=hostile.backend,
        found=hostile.audit(pages=("Content-Length too short",)),
    )


@pytest.mark.parametrize("name", ["1 GiB body, declared", "1 GiB body, streamed"])
def test_a_gigabyte_body_is_refused_at_the_cap_without_reading_it(
    hostile: Hostile, record: Callable[..., None], name: str
) -> None:
    status, reason, _, retryable = hostile.entry(name, run=1)
    assert (status, retryable) == ("failed", False)
    assert "larger than 2000000 bytes" in (reason or "")
    if "declared" in name:
        assert "Content-Length: 1073741824" in (reason or "")
    path = _path(hostile.web.pages[name])
    sent = hostile.web.raw.sent[path]
    assert sent < 64 * 2**20, f"the server got to send {sent} bytes"
    assert hostile.peak_rss_mib < 1024
    record(
        f"{name} ",
        f"{reason}; server sent {sent / 2**20:.1f} MiB of 1024, peak RSS {hostile.peak_rss_mib:.0f} MiB",
        backend=hostile.backend,
        found=hostile.audit(pages=(name,)),
    )


@pytest.mark.parametrize("name", ["gzip bomb", "brotli bomb"])
def test_decompression_bombs_stop_at_the_cap(hostile: Hostile, record: Callable[..., None], name: str) -> None:
    status, reason, _, retryable = hostile.entry(name, run=1)
    assert (status, retryable) == ("failed", False)
    assert "decompressed body larger than 4000000 bytes" in (reason or "")
    assert hostile.peak_rss_mib < 1024
    wire = hostile.web.wire[name]
    record(
        f"{name}: 1 GiB in {wire / 1000:,.1f} kB",
        f"{reason} (fatal)",
        backend=hostile.backend,
        found=hostile.audit(pages=(name,)),
    )


def test_final_failures_are_not_fetched_again(hostile: Hostile, record: Callable[..., None]) -> None:
    """README: a failure that cannot pass (too large, a bomb, a redirect loop, refused) is not retried."""
    final = ["gzip bomb", "brotli bomb", "redirect loop", "page as image/png", "1 GiB body, declared"]
    again = {
        name: hostile.second.polite_asked[_path(hostile.web.pages[name])]
        + hostile.second.raw_asked[_path(hostile.web.pages[name])]
        for name in final
    }
    assert all(count == 0 for count in again.values()), again
    record(
        "final failures on the next run",
        "not fetched again (status kept, reason kept)",
        backend=hostile.backend,
        found=hostile.audit(pages=tuple(final)),
    )


def test_redirect_loop_and_overlong_chain_are_refused(hostile: Hostile, record: Callable[..., None]) -> None:
    loop = hostile.entry("redirect loop")
    assert loop[0] == "failed" and loop[1] == "redirect loop"
    chain = hostile.entry("redirect chain of 8")
    assert chain[0] == "failed" and "too many redirects (>5)" in (chain[1] or "")
    assert hostile.first.polite_asked["/news/long/7"] == 0 and hostile.first.polite_asked["/news/never-reached"] == 0
    record(
        "redirect loop (a -> b -> a)",
        _said(loop),
        backend=hostile.backend,
        found=hostile.audit(pages=("redirect loop",)),
    )
    record(
        "redirect chain of 8 (limit 5)",
        _said(chain) + "; hops past the limit never requested",
        backend=hostile.backend,
        found=hostile.audit(pages=("redirect chain of 8",)),
    )


def test_redirect_chain_within_the_limit_is_followed(hostile: Hostile, record: Callable[..., None]) -> None:
    assert hostile.entry("redirect chain of 3")[0] == "loaded"
    assert hostile.stored(STORIES[7].title) == 1
    record(
        "redirect chain of 3 (control)",
        "followed, stored once",
        backend=hostile.backend,
        found=hostile.audit(STORIES[7].title, pages=("redirect chain of 3",)),
    )


def test_wrong_or_missing_content_type_on_pages(hostile: Hostile, record: Callable[..., None]) -> None:
    assert hostile.entry("page without Content-Type")[0] == "loaded"
    png = hostile.entry("page as image/png")
    assert png[0] == "failed" and "not an HTML page (Content-Type image/png)" in (png[1] or "")
    binary = hostile.entry("binary served as text/html")
    assert binary[0] in ("failed", "irrelevant") and binary[1]
    record(
        "page without Content-Type",
        "read as HTML, stored",
        backend=hostile.backend,
        found=hostile.audit(STORIES[8].title, pages=("page without Content-Type",)),
    )
    record(
        "page served as image/png",
        _said(png),
        backend=hostile.backend,
        found=hostile.audit(pages=("page as image/png",)),
    )
    record(
        "binary bytes served as text/html",
        _said(binary),
        backend=hostile.backend,
        found=hostile.audit(pages=("binary served as text/html",)),
    )


@pytest.mark.parametrize(
    ("name", "story", "euro"),
    [
        ("charset header utf-8, page windows-1252", CHARSET_HEADER_UTF8, "€412"),
        ("charset header iso-8859-1, page utf-8", CHARSET_HEADER_LATIN1, "€388"),
    ],
)
def test_charset_header_that_contradicts_the_page_still_decodes_right(
    hostile: Hostile, record: Callable[..., None], name: str, story: Story, euro: str
) -> None:
    assert hostile.entry(name)[0] == "loaded"
    body = hostile.body(story.title)
    assert f"“We expect the premium to last,” one trader said, quoting {euro}" in body
    assert "\ufffd" not in body and "â€" not in body
    record(
        name,
        "decoded by what the bytes are, stored with “quotes” and € intact",
        backend=hostile.backend,
        found=hostile.audit(story.title, pages=(name,)),
    )


def test_page_on_a_name_that_does_not_resolve(hostile: Hostile, record: Callable[..., None]) -> None:
    entry = hostile.entry("name that does not resolve (page)")
    assert entry[0] == "failed" and entry[1] == "could not resolve host gone.invalid"
    record(
        "page on gone.invalid (no such name)",
        _said(entry),
        backend=hostile.backend,
        found=hostile.audit(pages=("name that does not resolve (page)",)),
    )


def test_exact_duplicate_and_off_topic_controls(hostile: Hostile, record: Callable[..., None]) -> None:
    assert hostile.entry("exact duplicate (tracking URL)")[0] == "duplicate"
    assert hostile.entry("off-topic control")[0] == "irrelevant"
    assert hostile.stored(OFF_TOPIC[0].title) == 0
    record(
        "same article under a tracking URL",
        _said(hostile.entry("exact duplicate (tracking URL)")),
        backend=hostile.backend,
        found=hostile.audit(STORIES[0].title, pages=("exact duplicate (tracking URL)",)),
    )


# --- feeds -------------------------------------------------------------------------------------------------------


def test_feed_503_with_retry_after_backs_off_as_told_and_loads_when_back(
    hostile: Hostile, record: Callable[..., None]
) -> None:
    feed = hostile.feed("503 Retry-After (feed)", run=1)
    assert feed.last_status == "failed" and "HTTP 503" in feed.last_error
    wait = feed.next_poll_at - feed.last_polled_at
    assert wait >= timedelta(seconds=3599), wait
    assert hostile.feed("503 Retry-After (feed)").last_status == "ok"
    assert hostile.stored(STORIES[11].title) == 1
    record(
        "HTTP 503 with Retry-After: 3600 (feed)",
        f"feed failed, next poll in {wait.total_seconds() / 3600:.1f} h as told; back later: stored",
        backend=hostile.backend,
        found=audit(hostile.engine, stored=[STORIES[11].title]),
    )


def test_feed_5xx_is_recorded_and_backs_off(hostile: Hostile, record: Callable[..., None]) -> None:
    first, second = hostile.feed("5xx (feed)", run=1), hostile.feed("5xx (feed)")
    assert first.last_error == "HTTP 502 Bad Gateway" and first.consecutive_failures == 1
    assert second.consecutive_failures == 2 and second.next_poll_at > second.last_polled_at
    record(
        "HTTP 502 on a feed",
        f"feed failed: {second.last_error}; failures in a row: 2, backing off",
        backend=hostile.backend,
    )


def test_feed_trickling_its_headers_hits_the_total_deadline(hostile: Hostile, record: Callable[..., None]) -> None:
    feed = hostile.feed("slow-loris headers (feed)", run=1)
    assert feed.last_status == "failed"
    assert feed.last_error == "timed out after 2.5 s (total deadline)"
    assert hostile.first.seconds < 60  # the trickle cost 2.5 s of it, not minutes
    record(
        "slow-loris feed (status line 1 byte / 0.3 s)",
        f"feed failed: {feed.last_error}; run took {hostile.first.seconds:.1f} s",
        backend=hostile.backend,
    )


def test_feed_behind_a_port_that_never_answers_hits_the_connect_timeout(
    hostile: Hostile, record: Callable[..., None]
) -> None:
    feed = hostile.feed("connect timeout (feed)", run=1)
    assert feed.last_status == "failed"
    assert "connect timeout" in feed.last_error
    record("connect timeout (full accept queue)", f"feed failed: {feed.last_error}", backend=hostile.backend)


def test_tls_errors_are_final_and_nothing_is_sent(hostile: Hostile, record: Callable[..., None]) -> None:
    untrusted = hostile.feed("TLS: untrusted certificate (feed)")
    assert "TLS error: certificate verify failed" in untrusted.last_error
    assert hostile.web.tls.requests == 0  # no request ever crossed the untrusted connection
    plain = hostile.feed("TLS: plain HTTP on https (feed)")
    assert plain.last_status == "failed" and "TLS" in plain.last_error
    record(
        "TLS: self-signed certificate", f"feed failed: {untrusted.last_error}; no request sent", backend=hostile.backend
    )
    record("TLS: https to a plain-HTTP port", f"feed failed: {plain.last_error}", backend=hostile.backend)


@pytest.mark.parametrize(
    ("name", "story"),
    [
        ("feed as text/plain", STORIES[12]),
        ("feed without Content-Type", STORIES[13]),
        ("feed moved (301)", STORIES[14]),
    ],
)
def test_feeds_with_wrong_or_missing_content_type_or_moved_are_read(
    hostile: Hostile, record: Callable[..., None], name: str, story: Story
) -> None:
    assert hostile.feed(name, run=1).last_status == "ok"
    assert hostile.stored(story.title) == 1
    record(
        name,
        "read as a feed; its article stored once",
        backend=hostile.backend,
        found=audit(hostile.engine, stored=[story.title]),
    )


def test_feed_on_a_name_that_does_not_resolve(hostile: Hostile, record: Callable[..., None]) -> None:
    feed = hostile.feed("name that does not resolve (feed)")
    assert feed.last_error == "could not resolve host news.invalid"
    record("feed on news.invalid (no such name)", f"feed failed: {feed.last_error}", backend=hostile.backend)


def test_html_page_where_the_feed_should_be(hostile: Hostile, record: Callable[..., None]) -> None:
    feed = hostile.feed("HTML where the feed should be")
    assert feed.last_status == "failed" and feed.last_error.startswith("not an RSS or Atom feed (an HTML page")
    record("HTML page where a feed should be", f"feed failed: {feed.last_error}", backend=hostile.backend)


# --- the whole run ------------------------------------------------------------------------------------------------


def test_after_both_runs_nothing_is_lost_or_stored_twice(hostile: Hostile, record: Callable[..., None]) -> None:
    expected = [
        STORIES[0].title,
        STORIES[1].title,
        STORIES[2].title,
        STORIES[3].title,
        STORIES[4].title,
        STORIES[5].title,
        STORIES[7].title,
        STORIES[8].title,
        STORIES[9].title,
        STORIES[10].title,
        STORIES[11].title,
        STORIES[12].title,
        STORIES[13].title,
        STORIES[14].title,
    ]
    found = audit(hostile.engine, stored=expected, entries=list(hostile.web.pages.values()), whole=True)
    assert found.lost == () and found.duplicated == ()
    assert all(entry[0] in ("loaded", "duplicate", "irrelevant", "failed") for entry in hostile.second.entries.values())
    summary = hostile.first.summary
    record(
        "hostile web: both runs, whole database",
        f"run 1 {hostile.first.seconds:.1f} s: {summary.articles_stored} stored, {summary.failed} failed, "
        f"{summary.feeds_failed} feeds failed; run 2 {hostile.second.seconds:.1f} s: "
        f"{hostile.second.summary.articles_stored} more; every entry has a status and reason",
        backend=hostile.backend,
        found=found,
    )
