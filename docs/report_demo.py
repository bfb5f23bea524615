"""Make docs/report.png: a demo store (twelve weeks of made-up articles, the test pages, feeds with a poll
history), then the project's own command on it:

    rare-news report --database-url sqlite:///<tmp>/demo.db --out <tmp>/report.html --screenshot docs/report.png

Run it with `.venv/bin/python docs/report_demo.py`. Nothing touches the network; the store is thrown away.
"""

from __future__ import annotations

import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine  # noqa: E402

from flows.cli import main  # noqa: E402
from models import store  # noqa: E402
from models.db import get_engine, migrate  # noqa: E402
from models.store import FeedUpdate  # noqa: E402
from tests.analyst_fixtures import load, page_record, text_record  # noqa: E402

ELEMENTS = ["neodymium", "praseodymium", "dysprosium", "terbium", "cerium", "lanthanum", "yttrium", "samarium"]
TOPICS = ["magnets", "prices", "export controls and trade", "mining", "refining and separation", "recycling"]
COMPANIES = ["Lynas", "MP Materials", "China Northern Rare Earth", "Iluka Resources", "Arafura Rare Earths",
             "Energy Fuels", "Neo Performance Materials", "USA Rare Earth"]  # fmt: skip
PLACES = ["China", "Australia", "United States", "Myanmar", "Ganzhou", "Baotou", "Malaysia", "Japan"]
SITES = ["Metals Daily", "Mining Weekly", "Reuters", "Nikkei Asia", "Financial Review", "Argus Media"]
FEEDS = [
    ("https://www.metalsdaily.example/rare-earths.rss", "Metals Daily", ["ok", "not modified", "not modified"] * 8),
    ("https://www.miningweekly.example/feed", "Mining Weekly", ["ok"] * 10 + ["not modified"] * 14),
    ("https://xitu.example.cn/rss.xml", "稀土观察网", ["ok", "not modified"] * 12),
    ("https://old.example.org/feed", "Old Minerals Blog", ["ok"] * 4 + ["failed"] * 3),
]


def build(engine: Engine) -> None:
    rng = random.Random(7)
    store.upsert_feeds(engine, [(url, name, True) for url, name, _ in FEEDS])
    ids = {feed.url: feed.id for feed in store.feeds_to_poll(engine)}
    for url, _, statuses in FEEDS:
        for status in statuses:
            error = "HTTP 503 Service Unavailable" if status == "failed" else None
            store.record_feed_polls(engine, [FeedUpdate(feed_id=ids[url], status=status, error=error)])
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    records = []
    for n in range(140):
        week = min(11, int(rng.triangular(0, 12, 10)))
        elements = rng.sample(ELEMENTS[:4], rng.randint(1, 2)) + rng.sample(ELEMENTS[4:], rng.randint(0, 1))
        tags = [("element", name, rng.randint(1, 4)) for name in elements]
        tags += [("topic", name, 1) for name in rng.sample(TOPICS, 2)]
        tags += [("company", rng.choices(COMPANIES, weights=[8, 6, 5, 3, 2, 2, 2, 1])[0], 2)]
        tags += [("place", name, 1) for name in rng.sample(PLACES[:4], 1) + rng.sample(PLACES[4:], 1)]
        company = next(name for kind, name, _ in tags if kind == "company")
        title = f"{company}: {elements[0]} {rng.choice(['supply', 'prices', 'output', 'deal', 'plant'])} update"
        body = " ".join(
            f"Demo paragraph {n}.{i} about {company} and {', '.join(elements)} rare earths." for i in range(20)
        )
        feed_url = rng.choice(FEEDS[:2])[0]
        records.append(
            (
                feed_url,
                text_record(
                    title,
                    body,
                    url=f"https://news.example/{n}",
                    site=rng.choice(SITES),
                    published=start + timedelta(weeks=week, days=rng.randint(0, 6), hours=rng.randint(0, 10)),
                    tags=tags,
                    feed_id=ids[feed_url],
                ),
            )
        )
    for feed_url in {url for url, _ in records}:
        load(engine, [record for url, record in records if url == feed_url], feed_id=ids[feed_url])
    wire = " ".join(f"Lynas said heavy rare earth output at Kalgoorlie rose, note {i}." for i in range(25))
    for index, site in enumerate(SITES[:5]):
        copy = wire + (f" Republished by {site}." if index else "")
        when = start + timedelta(weeks=11, days=1)
        tags = [("element", "dysprosium", 3), ("company", "Lynas", 4)]
        title = "Lynas lifts heavy rare earth output at Kalgoorlie"
        url = f"https://{index}.example/lynas"
        load(engine, [text_record(title, copy, url=url, site=site, published=when, tags=tags)])
    load(engine, [page_record("zh_baotou_utf8.html", "https://xitu.example.cn/news/baotou")])
    load(engine, [page_record("zh_ganzhou_gbk.html", "https://youse.example.cn/news/ganzhou")])


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/demo.db"
        engine = get_engine(url)
        migrate(engine)
        build(engine)
        sys.argv = ["rare-news", "report", "--database-url", url, "--out", f"{folder}/report.html",
                    "--since", "2026-01-01", "--screenshot", str(ROOT / "docs" / "report.png")]  # fmt: skip
        main()
