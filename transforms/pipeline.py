"""One page in, one decision out: extract, score, canonicalise, hash and tag, as a pure function.

The flow hands batches of fetched pages here (in worker processes when there are many) and the resulting
`ArticleRecord`s to models/store.py. Nothing here touches the network or the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from transforms.canonical import canonical_url
from transforms.dedup import band_keys, body_sha256, minhash_signature
from transforms.extract import EXTRACTOR_VERSION, EntryHints, ExtractedArticle, extract_article
from transforms.relevance import score_article
from transforms.tag import Taxonomy, tag_text
from transforms.templates import SiteTemplate, learn_template, template_site

# Bodies shorter than this are extraction failures (a paywall, a video page), not articles. A CJK character
# carries about a word's worth of meaning, so it counts twice.
MIN_BODY_CHARS = 200
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def body_weight(body: str) -> int:
    return len(body) + len(_CJK.findall(body))


@dataclass(frozen=True)
class ArticleRecord:
    """An article ready to load: extracted, scored, hashed and tagged."""

    canonical_url: str
    url: str
    title: str | None
    authors: tuple[str, ...]
    published_at: datetime | None
    language: str | None
    site: str | None
    body_text: str
    body_sha256: str
    minhash: bytes | None
    band_keys: tuple[int, ...]
    relevance: float
    origin: str
    tags: tuple[tuple[str, str, int], ...] = ()  # (kind, name, mentions)
    feed_id: int | None = None
    extractor_version: str | None = None
    taxonomy_version: str | None = None
    raw_html: bytes | None = None
    final_url: str | None = None
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Decision:
    """What to do with one page: store `record`, or record `status` with a readable `reason`."""

    status: str  # "relevant" | "irrelevant" | "failed"
    reason: str | None = None
    record: ArticleRecord | None = None
    block_keys: tuple[str, ...] = ()  # the page's body blocks, for learning its site's template


def judge_article(
    extracted: ExtractedArticle,
    *,
    url: str,
    origin: str,
    taxonomy: Taxonomy,
    final_url: str | None = None,
    threshold: float,
    feed_id: int | None = None,
    extractor_version: str | None = EXTRACTOR_VERSION,
) -> Decision:
    """Score, hash and tag an extracted article; irrelevant or empty ones come back without a record."""
    body = extracted.body_text.strip()
    if body_weight(body) < MIN_BODY_CHARS:
        return Decision("failed", f"no article text found ({len(body)} characters extracted)")
    title = extracted.title or ""
    mentions = (taxonomy.mentions(title), taxonomy.mentions(body))  # once, for tags and score alike
    tags = tag_text(taxonomy, body, title=title, mentions=mentions)
    relevance = score_article(taxonomy, title=title, body=body, tags=tags, mentions=mentions)
    if relevance.score < threshold:
        why = "; ".join(relevance.reasons) or "no rare-earth terms"
        return Decision("irrelevant", f"relevance {relevance.score:.2f} < {threshold:.2f} ({why})")
    signature = minhash_signature(body)
    record = ArticleRecord(
        canonical_url=canonical_url(final_url or url),
        url=url,
        title=extracted.title,
        authors=tuple(extracted.authors),
        published_at=extracted.published_at,
        language=extracted.language,
        site=extracted.site,
        body_text=body,
        body_sha256=body_sha256(body),
        minhash=signature,
        band_keys=tuple(band_keys(signature)),
        relevance=relevance.score,
        origin=origin,
        tags=tuple((tag.kind, tag.name, tag.mentions) for tag in tags),
        feed_id=feed_id,
        extractor_version=extractor_version,
        taxonomy_version=taxonomy.version,
    )
    return Decision("relevant", None, record)


@dataclass(frozen=True)
class PageInput:
    """A fetched page and what the feed said about it."""

    url: str
    final_url: str
    body: bytes
    header_charset: str | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    hints: EntryHints | None = None
    feed_id: int | None = None
    origin: str = "feed"
    template: SiteTemplate | None = None  # what earlier pages taught about this site's boilerplate


def judge_page(page: PageInput, *, taxonomy: Taxonomy, threshold: float) -> Decision:
    """Extract one fetched page and judge it. The raw HTML is not attached (see `attach_page`), so a worker
    process sends back only what it computed."""
    if page.content_type and not _looks_like_html(page.content_type):
        return Decision("failed", f"not an HTML page (Content-Type {page.content_type})")
    extracted = extract_article(
        page.body, url=page.final_url, header_charset=page.header_charset, hints=page.hints, template=page.template
    )
    decision = judge_article(
        extracted,
        url=page.url,
        final_url=page.final_url,
        origin=page.origin,
        taxonomy=taxonomy,
        threshold=threshold,
        feed_id=page.feed_id,
    )
    return replace(decision, block_keys=extracted.block_keys)


def attach_page(decision: Decision, page: PageInput) -> Decision:
    """The raw page rides along with a kept article, for storage and offline reprocessing."""
    if decision.record is None:
        return decision
    record = replace(
        decision.record,
        raw_html=page.body,
        final_url=page.final_url,
        content_type=page.content_type,
        charset=page.header_charset,
        etag=page.etag,
        last_modified=page.last_modified,
    )
    return replace(decision, record=record)


def learn_site_templates(
    templates: Mapping[str, SiteTemplate | None], judged: Sequence[tuple[PageInput, Decision]]
) -> dict[str, SiteTemplate]:
    """Templates updated with a batch's pages, site by site in URL order (the same lesson whatever the order
    the pages were fetched in)."""
    learned: dict[str, SiteTemplate] = {}
    for page, decision in sorted(judged, key=lambda pair: pair[0].final_url):
        if not decision.block_keys:
            continue
        site = template_site(page.final_url)
        current = learned.get(site) or templates.get(site)
        learned[site] = learn_template(current, decision.block_keys)
    return learned


def process_page(page: PageInput, *, taxonomy: Taxonomy, threshold: float) -> Decision:
    return attach_page(judge_page(page, taxonomy=taxonomy, threshold=threshold), page)


def _looks_like_html(content_type: str) -> bool:
    return content_type in (
        "text/html",
        "application/xhtml+xml",
        "text/plain",
        "application/octet-stream",
    ) or ("html" in content_type)


def process_pages(pages: list[PageInput], *, taxonomy: Taxonomy, threshold: float) -> list[Decision]:
    return [process_page(page, taxonomy=taxonomy, threshold=threshold) for page in pages]
