"""Aggregator links resolved to publisher URLs before any page is fetched.

A feed entry's link may be an aggregator's, not the article's:
- Google News RSS links are `news.google.com/rss/articles/<id>`. An old id is a protobuf whose field 4 is the
  publisher URL: it is decoded here without a request. A current id carries an opaque token (`AU_yqL...`)
  instead; it is resolved the way the public decoders do it: GET the id's page on Google News for its
  `data-n-a-sg` (signature) and `data-n-a-ts` (timestamp), then POST `garturlreq` calls, several per request,
  to `/_/DotsSplashUi/data/batchexecute` and read each `garturlres` answer. Google's page for the link is a
  JavaScript interstitial, never the article: it is never fetched as one.
- Bing News and other redirectors carry the target in a query parameter (`url=`, `u=`, `q=`): unwrapped here
  without a request.

Every request goes through the guarded Fetcher (address guard, deadlines, caps), one at a time and at least
`delay` seconds apart: it is all one host. A link that cannot be resolved comes back with a readable reason and
whether trying again later may help (a CAPTCHA page, a 429, a 5xx may pass; an undecodable id will not).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from connectors.http import FetchError, Page, RetryableFetchError

DEFAULT_GOOGLE_NEWS_URL = "https://news.google.com"
# garturlreq calls sent in one batchexecute POST: the public decoders send up to a page of ids at once.
GOOGLE_BATCH_SIZE = 20
BATCHEXECUTE_PATH = "/_/DotsSplashUi/data/batchexecute"
BATCHEXECUTE_RPC = "Fbv4je"
# The client context of a garturlreq call, as the public decoders (2024-2026) send it; Google checks the id,
# timestamp and signature, not these placeholders.
_GARTURLREQ_CONTEXT: list[Any] = [
    ["X", "X", ["X", "X"], None, None, 1, 1, "US:en", None, 1, None, None, None, None, None, 0, 1],
    "X",
    "X",
    1,
    [1, 1, 1],
    1,
    1,
    None,
    0,
    0,
    None,
    0,
]
_SIGNATURE = re.compile(r"""data-n-a-sg\s*=\s*["']([^"']+)["']""")
_TIMESTAMP = re.compile(r"""data-n-a-ts\s*=\s*["']([^"']+)["']""")
_OPAQUE_PREFIX = "AU_yqL"  # the token a current id carries instead of a URL

# Redirectors that carry their target in a query parameter, by host: unwrapped without a request.
REDIRECTOR_PARAMETERS: dict[str, tuple[str, ...]] = {
    "bing.com": ("url",),  # Bing News RSS: /news/apiclick.aspx?ref=FexRss&aid=&tid=...&url=...
    "www.bing.com": ("url",),
    "google.com": ("url", "q"),  # Google Alerts feeds: /url?rct=j&sa=t&url=...
    "www.google.com": ("url", "q"),
    "l.facebook.com": ("u",),
    "lm.facebook.com": ("u",),
    "out.reddit.com": ("url",),
}
_MAX_UNWRAP = 3  # a redirector wrapping a redirector wrapping...


class LinkFetcher(Protocol):
    """What resolution needs of connectors.http.Fetcher."""

    def get(self, url: str) -> Page: ...

    def post(self, url: str, *, body: bytes, content_type: str) -> Page: ...


@dataclass(frozen=True)
class Resolution:
    """What one entry link became. `via` is the aggregator link when there was one (kept as provenance)."""

    url: str | None  # the URL to fetch: the publisher's, or the link itself when it was direct
    via: str | None = None
    error: str | None = None  # why the link could not be resolved (then url is None)
    retryable: bool = False  # the cause may pass (rate limit, 5xx, CAPTCHA page)

    @property
    def resolved(self) -> bool:
        return self.via is not None and self.url is not None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _failure(via: str, reason: str, *, retryable: bool) -> Resolution:
    return Resolution(url=None, via=via, error=f"link not resolved: {reason}", retryable=retryable)


# --- redirectors ---------------------------------------------------------------------------------------------


def unwrap_redirector(url: str) -> str | None:
    """The target a known redirector's link carries in its query (Bing's `url=`...), or None if it is none."""
    current = url
    for _ in range(_MAX_UNWRAP):
        parts = urlsplit(current)
        names = REDIRECTOR_PARAMETERS.get((parts.hostname or "").lower())
        if not names:
            break
        query = parse_qs(parts.query)
        target = next((query[name][0] for name in names if query.get(name)), None)
        if target is None or urlsplit(target).scheme.lower() not in ("http", "https"):
            break
        current = target
    return current if current != url else None


# --- Google News ids -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoogleNewsId:
    article_id: str
    url: str | None  # decoded offline (an old id)
    problem: str | None = None  # the id cannot be decoded at all


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            break
    raise ValueError("truncated varint")


def _protobuf_strings(data: bytes) -> dict[int, bytes]:
    """The length-delimited fields of a flat protobuf message, by field number (first one wins)."""
    fields: dict[int, bytes] = {}
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, at = _varint(data, at)
        elif wire == 2:
            length, at = _varint(data, at)
            if at + length > len(data):
                raise ValueError("field runs past the end")
            fields.setdefault(number, data[at : at + length])
            at += length
        elif wire == 5:
            at += 4
        elif wire == 1:
            at += 8
        else:
            raise ValueError(f"unknown wire type {wire}")
    return fields


def decode_google_news_id(article_id: str) -> GoogleNewsId:
    """An article id of a Google News link: its publisher URL when the id embeds it (old ids), else opaque."""
    try:
        payload = base64.urlsafe_b64decode(article_id + "=" * (-len(article_id) % 4))
        inner = _protobuf_strings(payload).get(4)
    except (binascii.Error, ValueError) as exc:
        return GoogleNewsId(article_id, None, f"Google News id is not decodable ({exc})")
    if inner is None:
        return GoogleNewsId(article_id, None, "Google News id holds no link")
    text = inner.decode("utf-8", "replace")
    if text.startswith(("http://", "https://")):
        return GoogleNewsId(article_id, text)
    if text.startswith(_OPAQUE_PREFIX):
        return GoogleNewsId(article_id, None)
    return GoogleNewsId(article_id, None, "Google News id holds neither a URL nor a token")


def google_news_article_id(url: str, base_url: str = DEFAULT_GOOGLE_NEWS_URL) -> str | None:
    """The id of a Google News article link (`/rss/articles/<id>`, `/articles/<id>`, `/read/<id>`), else None."""
    parts = urlsplit(url)
    hosts = {"news.google.com", urlsplit(base_url).netloc.lower()}
    if parts.netloc.lower() not in hosts:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if len(segments) >= 2 and segments[-2] in ("articles", "read"):
        return segments[-1]
    return None


def parse_signature(html: str) -> tuple[str, str] | None:
    """(signature, timestamp) from a Google News article page's `data-n-a-sg` and `data-n-a-ts`, or None."""
    signature, timestamp = _SIGNATURE.search(html), _TIMESTAMP.search(html)
    if signature is None or timestamp is None:
        return None
    return signature.group(1), timestamp.group(1)


def batchexecute_body(calls: Sequence[tuple[str, str, str]]) -> bytes:
    """The form body of one batchexecute POST: a garturlreq call per (article id, timestamp, signature), each
    tagged with its index so that answers are matched by tag, not by order."""
    envelopes = []
    for index, (article_id, timestamp, signature) in enumerate(calls):
        stamp: int | str = int(timestamp) if timestamp.isdigit() else timestamp
        inner = ["garturlreq", _GARTURLREQ_CONTEXT, article_id, stamp, signature]
        envelopes.append([BATCHEXECUTE_RPC, json.dumps(inner, separators=(",", ":")), None, str(index)])
    return urlencode({"f.req": json.dumps([envelopes], separators=(",", ":"))}).encode("ascii")


class BatchexecuteError(ValueError):
    """A batchexecute answer that cannot be read."""


def _answer_rows(text: str) -> list[Any]:
    """The rows of a batchexecute answer: `)]}'` then one JSON array, or chunks each preceded by its length."""
    body = text.lstrip()
    if body.startswith(")]}'"):
        body = body[4:]
    body = body.strip()
    try:
        rows = json.loads(body)
    except json.JSONDecodeError:
        rows = []
        decoder = json.JSONDecoder()
        at = 0
        while at < len(body):
            length = re.match(r"\s*\d+\s*", body[at:])  # the chunked form: a length line before each chunk
            if length is None:
                raise BatchexecuteError("neither JSON nor length-prefixed chunks") from None
            at += length.end()
            try:
                chunk, at = decoder.raw_decode(body, at)
            except json.JSONDecodeError as exc:
                raise BatchexecuteError(f"bad JSON chunk ({exc.msg})") from None
            rows.extend(chunk if isinstance(chunk, list) else [])
            while at < len(body) and body[at].isspace():
                at += 1
    if not isinstance(rows, list):
        raise BatchexecuteError("not a JSON array")
    return rows


def parse_batchexecute(text: str) -> dict[str, str | Exception]:
    """Each call's answer by its tag: the decoded URL, or why there is none. Raises BatchexecuteError."""
    answers: dict[str, str | Exception] = {}
    for row in _answer_rows(text):
        if not (isinstance(row, list) and len(row) >= 3 and row[0] == "wrb.fr" and row[1] == BATCHEXECUTE_RPC):
            continue
        tag = next((str(cell) for cell in reversed(row[3:]) if isinstance(cell, str)), None)
        key = tag if tag is not None else str(len(answers))
        payload = row[2]
        if payload is None:  # Google refused this call: the error code sits in row[5]
            code = row[5] if len(row) > 5 else None
            answers[key] = RuntimeError(f"Google News refused the call (error {code})")
            continue
        try:
            data = json.loads(payload) if isinstance(payload, str) else payload
        except json.JSONDecodeError:
            answers[key] = BatchexecuteError("garturlres payload is not JSON")
            continue
        if isinstance(data, list) and len(data) >= 2 and data[0] == "garturlres" and isinstance(data[1], str):
            answers[key] = data[1]
        else:
            answers[key] = BatchexecuteError("no garturlres in the answer")
    return answers


# --- resolving -----------------------------------------------------------------------------------------------


class LinkResolver:
    """Resolves entry links; share one per run. Safe to call from one thread at a time per instance."""

    def __init__(
        self,
        fetcher: LinkFetcher,
        *,
        google_news_url: str = DEFAULT_GOOGLE_NEWS_URL,
        google_news: bool = True,
        delay: float = 1.0,
        batch_size: int = GOOGLE_BATCH_SIZE,
    ) -> None:
        self.fetcher = fetcher
        self.base_url = google_news_url.rstrip("/")
        self.google_news = google_news
        self.delay = delay
        self.batch_size = max(1, batch_size)
        self._last_request = 0.0
        self._lock = threading.Lock()

    def is_aggregator_link(self, url: str | None) -> bool:
        return bool(url) and (
            google_news_article_id(url or "", self.base_url) is not None or unwrap_redirector(url or "") is not None
        )

    def resolve(self, urls: Sequence[str | None]) -> list[Resolution]:
        """One Resolution per URL, in order. Direct links come back as they are, with no request made."""
        results: list[Resolution | None] = [None] * len(urls)
        online: list[tuple[int, str, str]] = []  # (index, link, article id) needing Google
        for index, url in enumerate(urls):
            if not url:
                results[index] = Resolution(url=None)
                continue
            article_id = google_news_article_id(url, self.base_url)
            if article_id is None:
                target = unwrap_redirector(url)
                results[index] = Resolution(url=target, via=url) if target else Resolution(url=url)
                continue
            decoded = decode_google_news_id(article_id)
            if decoded.url is not None:
                results[index] = Resolution(url=unwrap_redirector(decoded.url) or decoded.url, via=url)
            elif decoded.problem is not None:
                results[index] = _failure(url, decoded.problem, retryable=False)
            elif not self.google_news:
                reason = "Google News resolution is turned off (RARE_NEWS_RESOLVE_GOOGLE_NEWS=false)"
                results[index] = _failure(url, reason, retryable=False)
            else:
                online.append((index, url, article_id))
        for start in range(0, len(online), self.batch_size):
            batch = online[start : start + self.batch_size]
            for (index, _, _), resolution in zip(batch, self._resolve_google_batch(batch), strict=True):
                results[index] = resolution
        return [result if result is not None else Resolution(url=None) for result in results]

    def _resolve_google_batch(self, batch: Sequence[tuple[int, str, str]]) -> list[Resolution]:
        outcomes: list[Resolution | None] = [None] * len(batch)
        calls: list[tuple[int, tuple[str, str, str]]] = []  # (position in batch, call)
        for position, (_, link, article_id) in enumerate(batch):
            try:
                page_url = self._article_page(link, article_id)
                page = self._request(lambda: self.fetcher.get(page_url))  # noqa: B023 (called at once)
            except FetchError as exc:
                outcomes[position] = _failure(
                    link, f"Google News page: {exc.reason}", retryable=isinstance(exc, RetryableFetchError)
                )
                continue
            signature = parse_signature(page.body.decode("utf-8", "replace"))
            if signature is None:
                reason = "Google News page has no data-n-a-sg / data-n-a-ts (a CAPTCHA or a changed page)"
                outcomes[position] = _failure(link, reason, retryable=True)
                continue
            calls.append((position, (article_id, signature[1], signature[0])))
        if calls:
            for position, resolution in self._batchexecute(batch, calls).items():
                outcomes[position] = resolution
        return [outcome or _failure(batch[i][1], "no answer", retryable=True) for i, outcome in enumerate(outcomes)]

    def _batchexecute(
        self, batch: Sequence[tuple[int, str, str]], calls: Sequence[tuple[int, tuple[str, str, str]]]
    ) -> dict[int, Resolution]:
        url = f"{self.base_url}{BATCHEXECUTE_PATH}?rpcids={BATCHEXECUTE_RPC}"
        body = batchexecute_body([call for _, call in calls])
        links = {position: batch[position][1] for position, _ in calls}
        try:
            page = self._request(
                lambda: self.fetcher.post(
                    url, body=body, content_type="application/x-www-form-urlencoded;charset=UTF-8"
                )
            )
            answers = parse_batchexecute(page.body.decode("utf-8", "replace"))
        except FetchError as exc:
            retryable = isinstance(exc, RetryableFetchError)
            return {p: _failure(link, f"batchexecute: {exc.reason}", retryable=retryable) for p, link in links.items()}
        except BatchexecuteError as exc:
            return {
                p: _failure(link, f"batchexecute answer not understood: {exc}", retryable=False)
                for p, link in links.items()
            }
        resolutions: dict[int, Resolution] = {}
        for tag, (position, _) in enumerate(calls):
            link = links[position]
            answer = answers.get(str(tag))
            if answer is None:
                resolutions[position] = _failure(link, "batchexecute answered nothing for this link", retryable=True)
            elif isinstance(answer, BatchexecuteError):
                reason = f"batchexecute answer not understood: {answer}"
                resolutions[position] = _failure(link, reason, retryable=False)
            elif isinstance(answer, Exception):
                resolutions[position] = _failure(link, f"batchexecute: {answer}", retryable=True)
            elif urlsplit(answer).scheme.lower() not in ("http", "https"):
                reason = f"batchexecute gave a non-web URL {answer[:80]!r}"
                resolutions[position] = _failure(link, reason, retryable=False)
            else:
                resolutions[position] = Resolution(url=unwrap_redirector(answer) or answer, via=link)
        return resolutions

    def _article_page(self, link: str, article_id: str) -> str:
        """The id's page on Google News that carries the signature; the link's locale is kept when it has one."""
        query = parse_qs(urlsplit(link).query)
        locale = {name: query[name][0] for name in ("hl", "gl", "ceid") if query.get(name)}
        suffix = f"?{urlencode(locale)}" if locale else ""
        return f"{self.base_url}/rss/articles/{quote(article_id, safe='-_')}{suffix}"

    def _request(self, send: Any) -> Page:
        """One request to Google at a time, `delay` seconds apart: it is one host, asked on behalf of many."""
        with self._lock:
            wait = self._last_request + self.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                return send()  # type: ignore[no-any-return]
            finally:
                self._last_request = time.monotonic()
