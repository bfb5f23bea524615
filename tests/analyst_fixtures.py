"""Stored articles for the analyst tests (report, watches, Chinese search), built the way the pipeline builds them.

`page_record` runs a saved page through the real pipeline (extract, score, tag); `text_record` makes a record
from plain text with chosen tags and date, for data shapes a page cannot easily give (many weeks, copies).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from flows.common import load_taxonomy
from flows.settings import get_settings
from models import store
from models.store import EntryOutcome
from transforms.dedup import band_keys, body_sha256, minhash_signature
from transforms.pipeline import ArticleRecord, PageInput, process_page
from transforms.tag import Taxonomy

PAGES = Path(__file__).parent / "pages"
PROJECT_DIR = Path(__file__).resolve().parents[1]


def taxonomy() -> Taxonomy:
    return load_taxonomy(get_settings(config_dir=PROJECT_DIR / "config"))


def page_record(name: str, url: str, *, content_type: str = "text/html", threshold: float = 1.0) -> ArticleRecord:
    page = PageInput(url=url, final_url=url, body=(PAGES / name).read_bytes(), content_type=content_type)
    decision = process_page(page, taxonomy=taxonomy(), threshold=threshold)
    assert decision.record is not None, f"{name}: {decision.status} {decision.reason}"
    return decision.record


def text_record(
    title: str,
    body: str,
    *,
    url: str,
    site: str,
    published: datetime | None,
    tags: Sequence[tuple[str, str, int]] = (),
    language: str = "en",
    feed_id: int | None = None,
) -> ArticleRecord:
    signature = minhash_signature(body)
    return ArticleRecord(
        canonical_url=url,
        url=url,
        title=title,
        authors=(),
        published_at=published,
        language=language,
        site=site,
        body_text=body,
        body_sha256=body_sha256(body),
        minhash=signature,
        band_keys=tuple(band_keys(signature)),
        relevance=5.0,
        origin="feed" if feed_id else "seed",
        tags=tuple(tags),
        feed_id=feed_id,
    )


def load(engine: Engine, records: Sequence[ArticleRecord], *, feed_id: int | None = None) -> list[int]:
    """Store records in one batch (as feed entries when feed_id is given); returns the new article ids."""
    outcomes = [
        EntryOutcome(
            feed_id=feed_id,
            entry_key=record.canonical_url,
            url=record.url,
            title=record.title,
            status="loaded",
            article=record,
        )
        for record in records
    ]
    return store.load_batch(engine, outcomes=outcomes).article_ids
