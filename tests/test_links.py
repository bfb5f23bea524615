"""connectors/links: aggregator links resolved to publisher URLs before any page is fetched.

Google News ids decoded offline (old ones) or through a loopback imitation of news.google.com (interstitial
pages and batchexecute, tests/aggregators.py); Bing and other redirectors unwrapped without a request.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.http import Fetcher, FetchPolicy
from connectors.links import (
    LinkResolver,
    batchexecute_body,
    decode_google_news_id,
    google_news_article_id,
    parse_batchexecute,
    parse_signature,
    unwrap_redirector,
)
from tests.aggregators import GoogleNewsImitation, NewsItem, bing_link, google_news_id
from tests.newsweb import NewsWeb

WHEN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _items(web: NewsWeb) -> list[NewsItem]:
    return [
        NewsItem(web.url("/news/lynas"), "Lynas lifts output", "Reuters", "https://www.reuters.com", WHEN),
        NewsItem(web.url("/news/ganzhou"), "Ganzhou slows", "Caixin", "https://www.caixinglobal.com", WHEN),
        NewsItem(web.url("/news/old"), "An old id", "Mining Weekly", "https://www.miningweekly.com", WHEN, True),
    ]


def _resolver(fetcher: Fetcher, web: NewsWeb, **options: object) -> LinkResolver:
    return LinkResolver(fetcher, google_news_url=web.url("/").rstrip("/"), delay=0.0, **options)  # type: ignore[arg-type]


def test_an_old_google_news_id_holds_the_publisher_url() -> None:
    article_id = google_news_id("https://www.mining.com/lynas-output/", amp=True)
    decoded = decode_google_news_id(article_id)
    assert decoded.url == "https://www.mining.com/lynas-output/"
    assert decoded.problem is None


def test_a_current_google_news_id_is_opaque_and_garbage_is_a_problem() -> None:
    assert decode_google_news_id(google_news_id("AU_yqLNabc")).url is None
    assert decode_google_news_id(google_news_id("AU_yqLNabc")).problem is None
    assert decode_google_news_id("!!!").problem


def test_google_news_links_are_recognised_on_their_host_only() -> None:
    assert google_news_article_id("https://news.google.com/rss/articles/CBMiX?oc=5") == "CBMiX"
    assert google_news_article_id("https://news.google.com/read/CBMiY?hl=en") == "CBMiY"
    assert google_news_article_id("https://example.com/rss/articles/CBMiX") is None


def test_bing_and_google_alert_redirects_unwrap_without_a_request() -> None:
    assert unwrap_redirector(bing_link("https://www.reuters.com/a?b=1")) == "https://www.reuters.com/a?b=1"
    alert = "https://www.google.com/url?rct=j&sa=t&url=https://www.mining.com/x&ct=ga"
    assert unwrap_redirector(alert) == "https://www.mining.com/x"
    assert unwrap_redirector("https://www.bing.com/news/apiclick.aspx?url=javascript:alert(1)") is None
    assert unwrap_redirector("https://www.reuters.com/?url=https://elsewhere.example/") is None


def test_signature_and_timestamp_are_read_from_the_interstitial() -> None:
    page = '<c-wiz><div jscontroller="x" data-n-a-id="CBMi" data-n-a-sg="AZ5r" data-n-a-ts="1767225600"></div>'
    assert parse_signature(page) == ("AZ5r", "1767225600")
    assert parse_signature("<html>a CAPTCHA</html>") is None


def test_a_batch_body_tags_each_call_and_the_answer_is_read_by_tag() -> None:
    body = batchexecute_body([("CBMi1", "1767225600", "s1"), ("CBMi2", "1767225601", "s2")])
    envelopes = json.loads(__import__("urllib.parse").parse.parse_qs(body.decode())["f.req"][0])[0]
    assert [envelope[3] for envelope in envelopes] == ["0", "1"]
    assert json.loads(envelopes[1][1])[:2] == ["garturlreq", json.loads(envelopes[1][1])[1]]
    answer = ")]}'\n\n" + json.dumps(
        [
            ["wrb.fr", "Fbv4je", '["garturlres","https://b.example/2",1]', None, None, None, "1"],
            ["wrb.fr", "Fbv4je", None, None, None, [3], "0"],
            ["di", 20],
        ]
    )
    answers = parse_batchexecute(answer)
    assert answers["1"] == "https://b.example/2"
    assert isinstance(answers["0"], Exception)
    chunked = ")]}'\n\n97\n" + json.dumps([["wrb.fr", "Fbv4je", '["garturlres","https://c.example/",1]', None, "0"]])
    assert parse_batchexecute(chunked) == {"0": "https://c.example/"}


def test_google_news_links_resolve_through_interstitials_and_one_batchexecute(web: NewsWeb) -> None:
    items = _items(web)
    google = GoogleNewsImitation(web, items)
    links = [google.link(item) for item in items] + [bing_link(web.url("/news/bing")), web.url("/news/direct")]
    with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
        resolutions = _resolver(fetcher, web).resolve(links)
    assert [r.url for r in resolutions] == [item.link_target for item in items] + [
        web.url("/news/bing"),
        web.url("/news/direct"),
    ]
    assert [r.via for r in resolutions] == links[:4] + [None]
    assert google.calls == [2]  # both current ids in one POST; the old id and the redirect needed no request
    asked = google.paths_asked()
    assert len(asked) == 3 and asked[-1].startswith("/_/DotsSplashUi/data/batchexecute")
    assert not any(path.startswith("/news/") for path in web.paths_requested())  # no article fetched here


def test_batches_are_split_at_the_batch_size(web: NewsWeb) -> None:
    items = [NewsItem(web.url(f"/news/{n}"), f"Story {n}", "Outlet", "https://o.example", WHEN) for n in range(5)]
    google = GoogleNewsImitation(web, items)
    with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
        resolutions = _resolver(fetcher, web, batch_size=2).resolve([google.link(item) for item in items])
    assert [r.url for r in resolutions] == [item.link_target for item in items]
    assert google.calls == [2, 2, 1]


@pytest.mark.parametrize(
    ("mode", "reason", "retryable"),
    [
        ("no attributes", "no data-n-a-sg", True),
        ("error", "HTTP 500", True),
        ("malformed", "not understood", False),
        ("refuse", "refused", True),
    ],
)
def test_a_link_google_will_not_resolve_fails_with_a_reason(
    web: NewsWeb, mode: str, reason: str, retryable: bool
) -> None:
    items = _items(web)[:1]
    google = GoogleNewsImitation(web, items, batch_mode="ok" if mode == "no attributes" else mode)
    if mode == "no attributes":
        google.without_attributes.add(items[0].link_target)
    with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
        (resolution,) = _resolver(fetcher, web).resolve([google.link(items[0])])
    assert resolution.url is None and resolution.failed
    assert resolution.error and resolution.error.startswith("link not resolved") and reason in resolution.error
    assert resolution.retryable is retryable


def test_google_resolution_turned_off_fails_current_ids_without_a_request(web: NewsWeb) -> None:
    items = _items(web)
    google = GoogleNewsImitation(web, items)
    with Fetcher(FetchPolicy(allow_private_networks=True)) as fetcher:
        resolutions = _resolver(fetcher, web, google_news=False).resolve([google.link(item) for item in items])
    assert [r.url for r in resolutions] == [None, None, items[2].link_target]  # the old id needs no Google
    assert "turned off" in (resolutions[0].error or "")
    assert google.paths_asked() == []


def test_the_batchexecute_post_goes_through_the_address_guard(web: NewsWeb) -> None:
    from connectors.http import FatalFetchError

    GoogleNewsImitation(web, _items(web))
    with Fetcher(FetchPolicy()) as fetcher, pytest.raises(FatalFetchError, match="refused"):
        fetcher.post(web.url("/_/DotsSplashUi/data/batchexecute"), body=b"f.req=x", content_type="text/plain")
    assert web.paths_requested() == []
