"""A small news web for tests: article pages with real-looking boilerplate, RSS and Atom feeds, and faults.

Everything is served by a threaded pytest-httpserver on 127.0.0.1; handlers record what was asked so tests can
check conditional requests and that a second run fetched no article page.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    author: str
    published: datetime
    paragraphs: tuple[str, ...]
    site: str = "Metals Daily"


def article_html(story: Story, *, charset: str = "utf-8", extra_head: str = "") -> str:
    """A page the way news sites make them: nav, the article, a newsletter box, related posts, comments."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in story.paragraphs)
    iso = story.published.isoformat()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="{charset}">
<title>{html.escape(story.title)} | {story.site}</title>
<meta property="og:title" content="{html.escape(story.title)}">
<meta property="og:site_name" content="{story.site}">
<meta name="author" content="{html.escape(story.author)}">
<meta property="article:published_time" content="{iso}">
{extra_head}
</head><body>
<nav class="site-nav"><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/mining">Mining</a></nav>
<main><article>
<h1>{html.escape(story.title)}</h1>
<p class="byline">By <span class="author">{html.escape(story.author)}</span> <time datetime="{iso}">{iso}</time></p>
{body}
</article>
<aside class="newsletter-signup"><h3>Get the Metals Daily newsletter</h3>
<p>Sign up for our free newsletter and never miss a market move.</p><form><input name="email"></form></aside>
<section class="related-posts"><h3>Related Posts</h3><ul>
<li><a href="/x">Copper slips as warehouse stocks climb</a></li>
<li><a href="/y">Iron ore buyers wait for steel demand signal</a></li></ul></section>
<section id="comments" class="comments-area"><h3>Leave a Reply</h3>
<p>Your email address will not be published. Required fields are marked *</p>
<div class="comment">Great article, thanks for sharing this insight!</div></section>
</main>
<footer class="site-footer">Copyright 2026 Metals Daily. All rights reserved.</footer>
</body></html>"""


def rss(items: list[tuple[str, str, str, datetime, str]], *, title: str = "Test feed") -> str:
    """RSS 2.0 from (guid, link, title, published, summary)."""
    entries = "".join(
        f"<item><guid>{html.escape(guid)}</guid><link>{html.escape(link)}</link>"
        f"<title>{html.escape(item_title)}</title><pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{html.escape(summary)}</description></item>"
        for guid, link, item_title, published, summary in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.test/</link><description>t</description>{entries}</channel></rss>"
    )


def atom(items: list[tuple[str, str, str, datetime, str]], *, title: str = "Test atom feed") -> str:
    entries = "".join(
        f'<entry><id>{html.escape(guid)}</id><link href="{html.escape(link)}"/>'
        f"<title>{html.escape(item_title)}</title><updated>{published.isoformat()}</updated>"
        f"<summary>{html.escape(summary)}</summary><author><name>Desk</name></author></entry>"
        for guid, link, item_title, published, summary in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{title}</title><id>urn:test</id><updated>2026-01-01T00:00:00Z</updated>{entries}</feed>"
    )


@dataclass
class NewsWeb:
    """Routes on a live server, with a log of requests (path, If-None-Match, If-Modified-Since)."""

    server: HTTPServer
    requests: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def _record(self, request: Request) -> None:
        with self.lock:
            self.requests.append(
                (
                    request.full_path.rstrip("?"),
                    request.headers.get("If-None-Match"),
                    request.headers.get("If-Modified-Since"),
                )
            )

    def route(self, path: str, handler: Callable[[Request], Response]) -> None:
        def recorded(request: Request) -> Response:
            self._record(request)
            return handler(request)

        self.server.expect_request(path).respond_with_handler(recorded)

    def document(
        self,
        path: str,
        body: str | bytes,
        content_type: str,
        *,
        validators: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A static document with an ETag and Last-Modified, answering 304 to a matching conditional GET."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        last_modified = "Mon, 02 Mar 2026 10:00:00 GMT"

        def handler(request: Request) -> Response:
            if validators and (
                request.headers.get("If-None-Match") == etag
                or request.headers.get("If-Modified-Since") == last_modified
            ):
                return Response(status=304, headers={"ETag": etag})
            extra = {"ETag": etag, "Last-Modified": last_modified} if validators else {}
            extra.update(headers or {})
            return Response(data, status=200, content_type=content_type, headers=extra)

        self.route(path, handler)

    def status(self, path: str, code: int, headers: dict[str, str] | None = None) -> None:
        self.route(path, lambda request: Response(f"error {code}", status=code, headers=headers or {}))

    def hang(self, path: str, seconds: float) -> None:
        def handler(request: Request) -> Response:
            time.sleep(seconds)
            return Response("too late", content_type="application/rss+xml")

        self.route(path, handler)

    def redirect(self, path: str, target: str) -> None:
        self.route(path, lambda request: Response(status=302, headers={"Location": target}))

    def gzip_bomb(self, path: str, unpacked_bytes: int) -> None:
        data = gzip.compress(b"\0" * unpacked_bytes, compresslevel=9)
        self.route(
            path,
            lambda request: Response(data, content_type="text/html", headers={"Content-Encoding": "gzip"}),
        )

    def paths_requested(self) -> list[str]:
        with self.lock:
            return [path for path, _, _ in self.requests]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


# --- stories used across tests -------------------------------------------------------------------------------

LYNAS = Story(
    slug="lynas-kalgoorlie",
    title="Lynas lifts heavy rare earth output at Kalgoorlie as dysprosium prices climb",
    author="Jane Smith",
    published=datetime.fromisoformat("2026-03-02T08:30:00+00:00"),
    paragraphs=(
        "Lynas Rare Earths said on Monday it had lifted production of separated heavy rare earths at its "
        "Kalgoorlie plant in Western Australia, producing its first commercial volumes of dysprosium oxide "
        "and terbium oxide outside China.",
        "The company said the new circuit would process mixed rare earth carbonate from its Mount Weld mine "
        "and feed the Kuantan refinery in Malaysia, where neodymium and praseodymium are separated for magnet "
        "makers in Japan and the United States.",
        "Dysprosium prices have climbed more than 30 per cent since China tightened export controls on "
        "medium and heavy rare earths last year, pushing carmakers and wind turbine producers to look for "
        "supply outside Jiangxi and Ganzhou.",
        "Analysts said the Lynas output was small compared with Chinese production but significant for "
        "defence contractors that must avoid Chinese rare earth magnets under new procurement rules.",
    ),
)

GANZHOU = Story(
    slug="ganzhou-export-controls",
    title="Ganzhou smelters slow as China tightens rare earth export licences",
    author="Li Wei",
    published=datetime.fromisoformat("2026-03-01T06:00:00+00:00"),
    paragraphs=(
        "Rare earth smelters in Ganzhou, in China's Jiangxi province, have slowed output after the commerce "
        "ministry tightened export licences for heavy rare earths such as dysprosium and terbium.",
        "Traders said several separation plants had paused shipments while they waited for approvals, and "
        "that prices of terbium metal had risen sharply on the domestic market.",
        "China Rare Earth Group, which controls most heavy rare earth mining quotas in the south, said it "
        "would prioritise domestic magnet makers, a move analysts read as tightening supply for exporters.",
        "The export controls are the latest in a series of measures that have given Beijing leverage in its "
        "trade disputes with the United States and Europe over technology and critical minerals.",
    ),
)

FOOTBALL = Story(
    slug="derby-report",
    title="Late winner settles the derby in front of a record crowd",
    author="Sam Jones",
    published=datetime.fromisoformat("2026-03-01T20:00:00+00:00"),
    paragraphs=(
        "A header in the final minute settled a tense derby on Saturday, sending the home supporters into "
        "raptures in front of a record crowd at the stadium.",
        "The visitors had dominated possession for most of the second half but could not find a way past a "
        "goalkeeper in inspired form, who made six saves.",
        "The manager praised his side's resilience and said the result kept their hopes of a top-four finish "
        "alive with ten matches of the season remaining.",
        "Tickets for the return fixture went on sale on Monday morning and sold out within two hours, the "
        "club said in a statement on its website.",
    ),
)

BAOTOU = Story(
    slug="baotou-magnet-plant",
    title="Baotou magnet maker expands NdFeB capacity on rare earth demand from EV makers",
    author="Chen Yu",
    published=datetime.fromisoformat("2026-02-27T03:00:00+00:00"),
    paragraphs=(
        "A magnet maker in Baotou, the Inner Mongolia city near the Bayan Obo mine, said it would double its "
        "capacity for sintered NdFeB magnets as electric vehicle makers step up orders.",
        "China Northern Rare Earth, which mines Bayan Obo, supplies most of the neodymium and praseodymium "
        "oxide used by the city's magnet plants, and raised its listed prices this quarter.",
        "The expansion comes as rare earth magnet exports face new licensing rules, which foreign carmakers "
        "say have delayed deliveries of motors and sensors.",
        "The company said the new lines would use less dysprosium by diffusing it along grain boundaries, "
        "a technique that cuts the need for heavy rare earths.",
    ),
)

LITHIUM = Story(
    slug="lithium-brine",
    title="Lithium brine project wins approval in Argentina",
    author="Ana Perez",
    published=datetime.fromisoformat("2026-02-28T12:00:00+00:00"),
    paragraphs=("Lithium brine approval in Argentina. " * 20,),
)
