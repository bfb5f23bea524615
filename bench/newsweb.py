"""A news web on loopback for the benchmark: the real benchmark pages, each under many URLs, and RSS feeds.

Article `i` is base page `i % len(pages)` (a real news page from `bench/extraction/html/`) with one extra
paragraph inserted after its longest `<p>`: a rare-earth market note that names companies, elements and
places and carries the number `i`, so every article has its own text (exact dedup keeps them apart, near
dedup links the copies of one base page into a story) and is about rare earths (relevance keeps it). Feed
`f` of a web with `m` entries per feed lists articles `f*m` to `f*m + m - 1`; feeds and pages carry an ETag
and Last-Modified and answer a matching conditional GET with 304.

URLs: `/feeds/{m}/{f}.xml`, `/news/{i}.html`, `/robots.txt` (allows everything).

`python bench/newsweb.py [--port 0]` serves it from a `ThreadingHTTPServer` in its own process (so serving
does not compete with the ingest for a GIL) and prints the port on the first line of stdout.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent


def default_pages_dir() -> Path:
    """The benchmark pages: the copy in this repository, else the shared one beside it."""
    for candidate in (HERE / "extraction", HERE.parent.parent / "shared" / "bench" / "extraction"):
        if (candidate / "html").is_dir():
            return candidate
    raise FileNotFoundError("no benchmark pages in bench/extraction/html or ../shared/bench/extraction/html")


LAST_MODIFIED = "Mon, 02 Mar 2026 10:00:00 GMT"
PUBLISHED_BASE = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
_P_ELEMENT = re.compile(rb"<p[\s>].*?</p\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(rb"<[^>]+>")
_SCRIPT = re.compile(rb"<script[\s>].*?</script\s*>", re.IGNORECASE | re.DOTALL)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)

# Terms from config/taxonomy.toml, so the note makes the page a rare-earth article.
_COMPANIES = (
    "Lynas",
    "MP Materials",
    "Iluka",
    "Arafura",
    "Energy Fuels",
    "Neo Performance Materials",
    "China Northern Rare Earth",
    "Shenghe",
    "USA Rare Earth",
    "China Rare Earth Group",
)
_ELEMENTS = (
    "neodymium",
    "praseodymium",
    "dysprosium",
    "terbium",
    "lanthanum",
    "cerium",
    "yttrium",
    "samarium",
    "europium",
    "gadolinium",
)
_PLACES = ("Ganzhou", "Baotou", "Jiangxi", "Inner Mongolia", "Bayan Obo", "Myanmar", "Kalgoorlie", "Mountain Pass")
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class BasePage:
    """A real page cut where the note goes in."""

    id: str
    title: str
    head: bytes  # up to and including the longest <p>...</p>
    tail: bytes


def _words(fragment: bytes) -> list[str]:
    return html.unescape(_TAG.sub(b" ", fragment).decode("utf-8", "replace")).split()


def cut_page(page_id: str, page: bytes, article_body: str = "") -> BasePage:
    """Split a page after its longest paragraph that belongs to the article (the benchmark's hand-marked
    body says which do; without one, the longest paragraph of the page)."""
    body_text = " ".join(article_body.split())
    scripts = [(m.start(), m.end()) for m in _SCRIPT.finditer(page)]
    best: re.Match[bytes] | None = None
    best_words = -1
    for match in _P_ELEMENT.finditer(page):
        if any(start <= match.start() < end for start, end in scripts):
            continue
        words = _words(match.group(0))
        in_article = not body_text or (len(words) >= 8 and " ".join(words[:8]) in body_text)
        if in_article and len(words) > best_words:
            best, best_words = match, len(words)
    if best is not None:
        cut = best.end()
    else:  # no <p>: put the note at the end of the body
        index = page.lower().rfind(b"</body")
        cut = index if index >= 0 else len(page)
    title_match = _TITLE.search(page)
    raw_title = title_match.group(1).decode("utf-8", "replace") if title_match else page_id
    title = " ".join(html.unescape(_TAG.sub(b"", raw_title.encode()).decode("utf-8", "replace")).split())
    return BasePage(id=page_id, title=title[:200] or page_id, head=page[:cut], tail=page[cut:])


def load_base_pages(pages_dir: Path | None = None) -> list[BasePage]:
    pages_dir = pages_dir or default_pages_dir()
    paths = sorted((pages_dir / "html").glob("*.html.gz"))
    if not paths:
        raise FileNotFoundError(f"no *.html.gz pages in {pages_dir / 'html'}")
    truth_path = pages_dir / "ground-truth.json"
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else {}
    pages = []
    for path in paths:
        page_id = path.name.removesuffix(".html.gz")
        body = (truth.get(page_id) or {}).get("articleBody") or ""
        pages.append(cut_page(page_id, gzip.decompress(path.read_bytes()), body))
    return pages


def _spelled(number: int) -> str:
    return "-".join(_NUMBER_WORDS[int(digit)] for digit in str(number))


def variant_note(index: int) -> str:
    """The paragraph that makes article `index` distinct and about rare earths."""
    c = _COMPANIES
    e = _ELEMENTS
    p = _PLACES
    return (
        f"Rare earth market note {index} ({_spelled(index)}): {c[index % 10]} and {c[(index // 10 + 3) % 10]} "
        f"said shipments of {e[index % 10]} and {e[(index // 7 + 4) % 10]} oxide from {p[index % 8]} reached "
        f"{100 + index % 900} tonnes in week {index % 52 + 1}, while {c[(index // 3 + 6) % 10]} reported "
        f"{e[(index // 11 + 2) % 10]} and {e[(index // 13 + 7) % 10]} output at {p[(index // 8 + 3) % 8]}. "
        f"Traders said rare earth magnet makers bought {e[(index // 17 + 5) % 10]} and "
        f"{e[(index // 19 + 1) % 10]} as China tightened export controls on rare earths."
    )


def article_page(pages: Sequence[BasePage], index: int) -> bytes:
    base = pages[index % len(pages)]
    note = f'\n<p class="market-note">{html.escape(variant_note(index))}</p>\n'.encode()
    return base.head + note + base.tail


def article_path(index: int) -> str:
    return f"/news/{index}.html"


def feed_path(feed: int, entries: int) -> str:
    return f"/feeds/{entries}/{feed}.xml"


def feed_xml(pages: Sequence[BasePage], base_url: str, feed: int, entries: int) -> bytes:
    items = []
    for index in range(feed * entries, feed * entries + entries):
        link = base_url + article_path(index)
        title = pages[index % len(pages)].title
        published = format_datetime(PUBLISHED_BASE - timedelta(minutes=index))
        items.append(
            f"<item><guid>{html.escape(link)}</guid><link>{html.escape(link)}</link>"
            f"<title>{html.escape(title)}</title><pubDate>{published}</pubDate>"
            f"<description>{html.escape(variant_note(index)[:160])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Rare earth wire {feed}</title><link>{base_url}/</link><description>bench</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:16] + '"'


_FEED_PATH = re.compile(r"/feeds/(\d+)/(\d+)\.xml")
_ARTICLE_PATH = re.compile(r"/news/(\d+)\.html")


def make_handler(pages: Sequence[BasePage]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the fetcher sends Connection: close anyway
        server_version = "newsweb/1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                self._send(b"User-agent: *\nAllow: /\n", "text/plain", None)
                return
            match = _FEED_PATH.fullmatch(path)
            if match:
                entries, feed = int(match.group(1)), int(match.group(2))
                etag = _etag("feed", entries, feed)
                if self._not_modified(etag):
                    return
                host = self.headers.get("Host", "127.0.0.1")
                body = feed_xml(pages, f"http://{host}", feed, entries)
                self._send(body, "application/rss+xml; charset=utf-8", etag)
                return
            match = _ARTICLE_PATH.fullmatch(path)
            if match:
                index = int(match.group(1))
                etag = _etag("article", index)
                if self._not_modified(etag):
                    return
                self._send(article_page(pages, index), "text/html; charset=utf-8", etag)
                return
            self._send(b"not found", "text/plain", None, status=404)

        def _not_modified(self, etag: str) -> bool:
            if self.headers.get("If-None-Match") == etag or self.headers.get("If-Modified-Since") == LAST_MODIFIED:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return True
            return False

        def _send(self, body: bytes, content_type: str, etag: str | None, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", LAST_MODIFIED)
            self.end_headers()
            self.wfile.write(body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def serve(pages_dir: Path | None, port: int) -> None:
    pages = load_base_pages(pages_dir)
    server = _Server(("127.0.0.1", port), make_handler(pages))
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages-dir", type=Path, default=None, help="benchmark pages (default: bench/extraction)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    args = parser.parse_args(argv)
    serve(args.pages_dir, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
