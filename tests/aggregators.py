"""Loopback imitations of the aggregators, built from their public formats (connectors/links.py, gdelt.py).

- Google News: an RSS search feed whose items link to `/rss/articles/<id>?oc=5` with `<source url=...>`
  outlets and " - Outlet" title suffixes; old ids (a protobuf holding the publisher URL) and current ids (the
  protobuf holds an opaque `AU_yqL...` token); an interstitial page per current id carrying `data-n-a-sg` and
  `data-n-a-ts`; and `/_/DotsSplashUi/data/batchexecute` answering `garturlreq` calls with `garturlres`, in
  the `)]}'` framed JSON the real endpoint sends. It checks each call's signature and timestamp.
- Bing News: RSS whose links are `www.bing.com/news/apiclick.aspx?...&url=<publisher URL>`.
- GDELT DOC 2.0: `/api/v2/doc/doc` answering `mode=artlist&format=json` with an `articles` list.
"""

from __future__ import annotations

import base64
import html
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import parse_qs, quote, urlsplit

from werkzeug import Request, Response

from tests.newsweb import NewsWeb


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def google_news_id(inner: str, *, amp: bool = False) -> str:
    """An article id as Google writes it: field 1 = 19, field 4 = the URL or the opaque token (+ an AMP field)."""
    data = inner.encode()
    payload = b"\x08\x13\x22" + _varint(len(data)) + data
    if amp:
        payload += b"\xd2\x01\x00"
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


@dataclass(frozen=True)
class NewsItem:
    link_target: str  # the publisher URL the item stands for
    title: str
    outlet: str
    outlet_url: str
    published: datetime
    legacy: bool = False  # an old id, decodable offline


@dataclass
class GoogleNewsImitation:
    """Routes on a NewsWeb: the search feed, an interstitial per current id, batchexecute."""

    web: NewsWeb
    items: Sequence[NewsItem]
    without_attributes: set[str] = field(default_factory=set)  # publisher URLs whose interstitial lacks them
    batch_mode: str = "ok"  # "ok" | "error" (HTTP 500) | "malformed" | "refuse" (an error row per call)
    calls: list[int] = field(default_factory=list)  # garturlreq calls per batchexecute POST
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.ids: dict[str, str] = {}  # publisher URL -> article id
        self.tokens: dict[str, str] = {}  # article id -> publisher URL (current ids only)
        for number, item in enumerate(self.items):
            if item.legacy:
                self.ids[item.link_target] = google_news_id(item.link_target, amp=True)
                continue
            article_id = google_news_id(f"AU_yqL{number:04d}opaque-token-{'x' * 40}")
            self.ids[item.link_target] = article_id
            self.tokens[article_id] = item.link_target
            self.web.route(f"/rss/articles/{article_id}", self._interstitial(article_id, item.link_target))
        self.web.route("/_/DotsSplashUi/data/batchexecute", self._batchexecute)

    def link(self, item: NewsItem) -> str:
        return self.web.url(f"/rss/articles/{self.ids[item.link_target]}") + "?oc=5"

    def feed(self) -> str:
        entries = "".join(
            f"<item><title>{html.escape(item.title)} - {html.escape(item.outlet)}</title>"
            f"<link>{html.escape(self.link(item))}</link>"
            f'<guid isPermaLink="false">{html.escape(self.ids[item.link_target])}</guid>'
            f"<pubDate>{format_datetime(item.published)}</pubDate>"
            f"<description>{html.escape(item.title)}</description>"
            f'<source url="{html.escape(item.outlet_url)}">{html.escape(item.outlet)}</source></item>'
            for item in self.items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rss version="2.0" '
            'xmlns:media="http://search.yahoo.com/mrss/"><channel><generator>NFE/5.0</generator>'
            '<title>"rare earth" - Google News</title><link>https://news.google.com/search?q=rare</link>'
            f"<language>en-US</language><description>Google News</description>{entries}</channel></rss>"
        )

    def paths_asked(self) -> list[str]:
        prefixes = ("/rss/articles/", "/_/DotsSplashUi/")
        return [path for path in self.web.paths_requested() if path.startswith(prefixes)]

    def _interstitial(self, article_id: str, target: str):  # type: ignore[no-untyped-def]
        def handler(request: Request) -> Response:
            signed = f'data-n-a-sg="SIG-{article_id[-8:]}" data-n-a-ts="1767225600"'
            attributes = "" if target in self.without_attributes else signed
            page = (
                "<!doctype html><html><head><title>Google News</title></head><body>"
                f'<c-wiz><div jscontroller="aLI87" jsname="n7V2Bb" data-n-a-id="{article_id}" {attributes}>'
                "</div></c-wiz><script>/* the client resolves the link here */</script></body></html>"
            )
            return Response(page, content_type="text/html; charset=utf-8")

        return handler

    def _batchexecute(self, request: Request) -> Response:
        if request.method != "POST":
            return Response("method not allowed", status=405)
        form = parse_qs(request.get_data(as_text=True))
        envelopes = json.loads(form["f.req"][0])[0]
        with self.lock:
            self.calls.append(len(envelopes))
        if self.batch_mode == "error":
            return Response("Internal error", status=500)
        if self.batch_mode == "malformed":
            return Response(')]}\'\n\n[["wrb.fr","Fbv4je"', content_type="application/json; charset=utf-8")
        rows: list[list[object]] = []
        for rpc, inner_json, _, tag in envelopes:
            inner = json.loads(inner_json)
            article_id, timestamp, signature = inner[2], inner[3], inner[4]
            valid = (
                rpc == "Fbv4je"
                and inner[0] == "garturlreq"
                and article_id in self.tokens
                and signature == f"SIG-{article_id[-8:]}"
                and timestamp == 1767225600
            )
            if self.batch_mode == "refuse" or not valid:
                rows.append(["wrb.fr", "Fbv4je", None, None, None, [3], tag])
            else:
                answer = json.dumps(["garturlres", self.tokens[article_id], 1])
                rows.append(["wrb.fr", "Fbv4je", answer, None, None, None, tag])
        rows += [["di", 32], ["af.httprm", 31, "-1", 6]]
        return Response(")]}'\n\n" + json.dumps(rows), content_type="application/json; charset=utf-8")


def bing_link(target: str) -> str:
    return (
        "http://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=6757A8D0&url="
        + quote(target, safe="")
        + "&c=123456789&mkt=en-us"
    )


def bing_feed(items: Sequence[tuple[str, str, datetime]]) -> str:
    """Bing News RSS from (publisher URL, title, published)."""
    entries = "".join(
        f"<item><title>{html.escape(title)}</title><link>{html.escape(bing_link(target))}</link>"
        f"<description>{html.escape(title)}</description><pubDate>{format_datetime(published)}</pubDate></item>"
        for target, title, published in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8" ?><rss version="2.0" xmlns:News="https://www.bing.com:443/news/search'
        '?q=rare&amp;format=rss"><channel><title>rare earth - BingNews</title><link>https://www.bing.com/news</link>'
        f"<description>Search results</description>{entries}</channel></rss>"
    )


def gdelt_artlist(items: Sequence[tuple[str, str, datetime]]) -> str:
    """A DOC 2.0 artlist answer from (url, title, seen)."""
    articles = [
        {
            "url": url,
            "url_mobile": "",
            "title": title,
            "seendate": seen.strftime("%Y%m%dT%H%M%SZ"),
            "socialimage": "",
            "domain": url.split("/")[2],
            "language": "English",
            "sourcecountry": "Australia",
        }
        for url, title, seen in items
    ]
    return json.dumps({"articles": articles})


class GdeltImitation:
    """`/api/v2/doc/doc` on a NewsWeb answering (status, body) pairs in turn (the last one from then on)."""

    def __init__(self, web: NewsWeb, answers: Sequence[tuple[int, str]]) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, list[str]]] = []  # the query of every request
        self.arrived: list[float] = []  # time.monotonic() of every request, as the server saw it
        web.route("/api/v2/doc/doc", self._answer)

    @property
    def timespans(self) -> list[str]:
        return [query.get("timespan", [""])[0] for query in self.asked]

    def _answer(self, request: Request) -> Response:
        self.arrived.append(time.monotonic())
        self.asked.append(parse_qs(urlsplit(request.full_path).query))
        status, body = self.answers[min(len(self.asked), len(self.answers)) - 1]
        return Response(body, status=status, content_type="application/json")
