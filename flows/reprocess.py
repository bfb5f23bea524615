"""The reprocess flow: re-run extraction and/or tagging over what is stored, with today's code and taxonomy.

No network at all: extraction reads each article's stored raw HTML (`raw_page`), tagging and scoring read its
stored body. Each article records the extractor and taxonomy versions it was last processed with, so a
second reprocess with nothing changed touches nothing (unless forced).

- `tag`: tags from the current taxonomy (a term added to `taxonomy.toml` or the extra file shows up on old
  articles); the relevance score is recomputed with them.
- `relevance`: only the score. Articles now under the threshold are counted, not deleted: nothing stored is
  thrown away by a reprocess.
- `extract`: body, title, authors, date, language and site from the stored page (through the same
  `judge_pages` as ingestion, on the process pool), then hashes, LSH bands, tags and score. Articles without
  a stored page (the seed corpus) keep their text. A re-extraction that gives the body of another stored
  article is not applied (it would be an exact duplicate); it is reported.
- `all`: extract, then tag and score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.common import load_taxonomy, prepare_store, relevance_threshold
from flows.executor import default_workers, judge_pages, shutdown_pool
from flows.progress import Reporter
from flows.settings import ConfigError, Settings, get_settings, parse_date
from models import ops, store
from models.events import rebuild_events
from models.ops import Extraction, Revision, StoredArticle
from models.stories import rebuild_stories
from transforms.extract import EXTRACTOR_VERSION, EntryHints
from transforms.pipeline import PageInput
from transforms.relevance import score_article
from transforms.tag import Taxonomy, tag_text


class What(StrEnum):
    extract = "extract"
    tag = "tag"
    relevance = "relevance"
    all = "all"


@dataclass
class ReprocessSummary:
    what: str
    since: datetime | None = None
    run_id: int | None = None
    taxonomy_version: str = ""
    extractor_version: str = EXTRACTOR_VERSION
    articles_seen: int = 0
    already_current: int = 0  # processed with today's extractor and taxonomy already
    revised: int = 0
    re_extracted: int = 0
    retagged: int = 0
    rescored: int = 0
    no_raw_page: int = 0  # extraction asked for, but no stored page (seed articles): text kept
    extraction_failed: int = 0  # the stored page gives no article text today: text kept
    below_threshold: int = 0  # scored under the relevance threshold now (kept, counted)
    conflicts: list[tuple[int, int]] = field(default_factory=list)  # (article, article that has its new body)
    stories_changed: int = 0  # articles whose story changed when stories were rebuilt after re-extraction

    def run_counts(self) -> dict[str, int]:
        return {"entries_new": self.articles_seen, "articles_stored": self.revised, "failed": self.extraction_failed}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_what(value: str) -> What:
    try:
        return What(value)
    except ValueError:
        raise ConfigError(f"--what {value!r} is not one of {', '.join(item.value for item in What)}") from None


def _is_current(article: StoredArticle, what: What, taxonomy: Taxonomy) -> bool:
    tagged = article.taxonomy_version == taxonomy.version
    extracted = article.extractor_version == EXTRACTOR_VERSION or article.raw is None
    if what is What.tag:
        return tagged
    if what in (What.extract, What.all):
        return tagged and extracted
    return False  # a score is cheap: always recomputed


def _page(article: StoredArticle) -> PageInput:
    raw = article.raw
    assert raw is not None
    return PageInput(
        url=article.url,
        final_url=raw.final_url or article.url,
        body=raw.html,
        header_charset=raw.charset,
        content_type=raw.content_type,
        etag=raw.etag,
        last_modified=raw.last_modified,
        # What the feed said is not stored; the stored fields stand in where the page is silent.
        hints=EntryHints(title=article.title, authors=article.authors, published_at=article.published_at),
        feed_id=article.feed_id,
        origin=article.origin,
    )


@task(name="reprocess-batch", cache_policy=NO_CACHE)
def revise_batch(
    articles: list[StoredArticle], what: What, taxonomy: Taxonomy, threshold: float, workers: int, force: bool
) -> tuple[list[Revision], dict[str, int]]:
    """Revisions for a batch of stored articles, and counts of what was found. Pure: no database, no network."""
    counts = dict.fromkeys(("already_current", "no_raw_page", "extraction_failed", "below_threshold"), 0)
    todo = [article for article in articles if force or not _is_current(article, what, taxonomy)]
    counts["already_current"] = len(articles) - len(todo)
    extractions: dict[int, Extraction] = {}
    if what in (What.extract, What.all):
        with_pages = [article for article in todo if article.raw is not None]
        counts["no_raw_page"] = len(todo) - len(with_pages)
        # Threshold 0: every page with a body comes back; relevance is judged below, and nothing is dropped.
        decisions = judge_pages([_page(a) for a in with_pages], taxonomy=taxonomy, threshold=0.0, workers=workers)
        for article, decision in zip(with_pages, decisions, strict=True):
            record = decision.record
            if record is None:
                counts["extraction_failed"] += 1
                continue
            extractions[article.id] = Extraction(
                title=record.title or article.title,
                authors=record.authors or article.authors,
                published_at=record.published_at or article.published_at,
                language=record.language,
                site=record.site,
                body_text=record.body_text,
                body_sha256=record.body_sha256,
                minhash=record.minhash,
                band_keys=record.band_keys,
                extractor_version=record.extractor_version,
            )
    revisions: list[Revision] = []
    for article in todo:
        extraction = extractions.get(article.id)
        title = (extraction.title if extraction else article.title) or ""
        body = extraction.body_text if extraction else article.body_text
        tags = tag_text(taxonomy, body, title=title)
        score = score_article(taxonomy, title=title, body=body, tags=tags).score
        counts["below_threshold"] += score < threshold
        retag = what is not What.relevance
        revisions.append(
            Revision(
                article_id=article.id,
                extraction=extraction,
                tags=tuple((tag.kind, tag.name, tag.mentions) for tag in tags) if retag else None,
                taxonomy_version=taxonomy.version if retag else None,
                relevance=score,
            )
        )
    return revisions, counts


@task(name="save-revisions", cache_policy=NO_CACHE)
def save_revisions(engine: Any, revisions: list[Revision]) -> ops.RevisionResult:
    return ops.apply_revisions(engine, revisions)


@flow(name="reprocess", log_prints=False)
def reprocess(
    since: date | datetime | str | None = None,
    what: str = "all",
    force: bool = False,
    settings: Settings | None = None,
    reporter: Reporter | None = None,
) -> ReprocessSummary:
    """Re-extract and/or re-tag stored articles (published since SINCE) without any network."""
    mode = parse_what(what)
    start = parse_date(since, "--since")
    settings = settings or get_settings()
    reporter = reporter or Reporter()
    taxonomy = load_taxonomy(settings)
    engine = prepare_store(settings, taxonomy)
    threshold = relevance_threshold(settings)
    workers = settings.extract_workers or default_workers()
    summary = ReprocessSummary(what=mode.value, since=start, taxonomy_version=taxonomy.version)
    claims = ops.FeedClaims(engine)  # holds this run's own row only: it claims no feed
    summary.run_id = store.start_run(engine, "reprocess", before_commit=claims.hold_run)
    with_raw = mode in (What.extract, What.all)
    try:
        reporter.start("Reprocessing", ops.article_count(engine, since=start))
        after_id = 0
        while True:
            articles = ops.stored_articles(
                engine, after_id=after_id, limit=settings.batch_size, since=start, with_raw=with_raw
            )
            if not articles:
                break
            after_id = articles[-1].id
            revisions, counts = revise_batch(articles, mode, taxonomy, threshold, workers, force)
            result = save_revisions(engine, revisions)
            _count(summary, mode, articles, revisions, counts, result)
            reporter.advance(len(articles))
        if summary.re_extracted:
            # New bodies mean new signatures: stories are recomputed so copies stay linked by today's text.
            summary.stories_changed = rebuild_stories(engine, settings.near_duplicate_threshold).changed
        if summary.re_extracted or summary.retagged:
            # An event is found from text and tags: new ones regroup events (their ids kept where they hold).
            rebuild_events(engine)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"
        store.finish_run(engine, summary.run_id, status="failed", counts=summary.run_counts(), error=error)
        raise
    finally:
        reporter.stop()
        shutdown_pool()
        claims.release()
    store.finish_run(engine, summary.run_id, status="completed", counts=summary.run_counts())
    return summary


def _count(
    summary: ReprocessSummary,
    mode: What,
    articles: list[StoredArticle],
    revisions: list[Revision],
    counts: dict[str, int],
    result: ops.RevisionResult,
) -> None:
    summary.articles_seen += len(articles)
    summary.already_current += counts["already_current"]
    summary.no_raw_page += counts["no_raw_page"]
    summary.extraction_failed += counts["extraction_failed"]
    summary.below_threshold += counts["below_threshold"]
    summary.conflicts.extend(result.conflicts)
    summary.revised += result.revised
    conflicted = {article for article, _ in result.conflicts}
    applied = [revision for revision in revisions if revision.article_id not in conflicted]
    summary.re_extracted += sum(1 for revision in applied if revision.extraction is not None)
    summary.retagged += sum(1 for revision in applied if revision.tags is not None)
    summary.rescored += sum(1 for revision in applied if revision.relevance is not None)
