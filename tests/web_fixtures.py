"""A store for the web app's tests, filled as the pipeline fills it: the news web's article pages (tests/newsweb.py)
run through the real pipeline, a story carried by three outlets, a Chinese article, an article with a hostile title,
a feed with a poll history and a watch. Read-only tests share one store per database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Engine

from models import store
from models.db import get_engine, migrate
from models.store import FeedUpdate
from models.watches import WatchSpec, add_watch
from tests.analyst_fixtures import load, page_record, taxonomy, text_record
from tests.newsweb import BAOTOU, GANZHOU, LYNAS, Story, article_html
from transforms.pipeline import PageInput, process_page

FEED_URL = "https://feeds.example.com/metals.xml"
CHINESE_URL = "https://xitu.example.cn/news/baotou"
CHINESE_TITLE = "北方稀土上调镨钕挂牌价 包头稀土产业链加速延伸"
HOSTILE_TITLE = '<script>alert("x")</script> Rare earth <img src=x onerror=alert(1)> prices'
WIRE_TITLE = "Myanmar rare earth exports to China fall as dysprosium supply tightens"
WIRE_SITES = ("wire.example", "paper.example", "blog.example")  # first published by the wire
WATCH = "heavy"


def _page(story: Story, url: str, feed_id: int) -> object:
    page = PageInput(
        url=url, final_url=url, body=article_html(story).encode(), content_type="text/html", feed_id=feed_id
    )
    decision = process_page(page, taxonomy=taxonomy(), threshold=1.0)
    assert decision.record is not None, decision.reason
    return decision.record


def _wire_body(site: str) -> str:
    body = " ".join(
        f"Rare earth exports from Myanmar to China fell again in the week to Friday, sentence {i}, as dysprosium "
        "and terbium concentrate shipments through the border crossings slowed."
        for i in range(20)
    )
    return body + ("" if site == "wire.example" else f" Republished by {site}.")


def build_web_store(database_url: str) -> Engine:
    """The store every web test reads; returns its (writable) engine."""
    engine = get_engine(database_url)
    migrate(engine)
    store.upsert_feeds(engine, [(FEED_URL, "Metals Daily", True)])
    feed_id = next(feed.id for feed in store.feeds_to_poll(engine) if feed.url == FEED_URL)
    for status in ("ok", "not modified", "not modified", "not modified"):
        store.record_feed_polls(engine, [FeedUpdate(feed_id=feed_id, status=status)])
    pages = [
        _page(LYNAS, "https://metals.example.com/lynas-kalgoorlie", feed_id),
        _page(replace(GANZHOU, site="Mining Weekly"), "https://mining.example.com/ganzhou-export-controls", feed_id),
        _page(replace(BAOTOU, site="Magnet News"), "https://magnets.example.com/baotou-magnet-plant", feed_id),
    ]
    load(engine, pages, feed_id=feed_id)  # type: ignore[arg-type]
    for hours, site in enumerate(WIRE_SITES):
        record = text_record(
            WIRE_TITLE,
            _wire_body(site),
            url=f"https://{site}/myanmar-exports",
            site=site,
            published=datetime(2026, 2, 20, 6 + hours, tzinfo=UTC),
            tags=(("element", "dysprosium", 2), ("element", "terbium", 1), ("place", "Myanmar", 3)),
        )
        load(engine, [record])
    load(engine, [page_record("zh_baotou_utf8.html", CHINESE_URL)])
    hostile = text_record(
        HOSTILE_TITLE,
        "Rare earth prices: " + "neodymium oxide notes. " * 30,
        url="https://evil.example/prices",
        site="<b>evil</b>",
        published=datetime(2026, 1, 15, tzinfo=UTC),
        tags=(("element", "neodymium", 1),),
    )
    load(engine, [hostile])
    add_watch(engine, WatchSpec(name=WATCH, query="", element="dysprosium", place="Myanmar"))
    return engine
