"""The JSON API under /api/: search, articles, stories, feeds, stats and streaming exports.

The pydantic models below are the API's documentation (/api/openapi.json). An article has the fields of
`rare-news search --format json` and `rare-news export`; exports are those of `rare-news export`, row for row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from models.queries import ArticleView, export_lines, get_article, iter_articles, stats, story_articles
from models.web_queries import event_members, feed_health, search_page
from web.deps import EngineDep
from web.params import DATE, MAX_ID, SearchParams, midnight_utc, parse_day, search_params


class Problem(BaseModel):
    """Why a request was refused or failed."""

    detail: str


# Any answer may be these: no token (when tokens are set), or a query stopped at the time limit.
router = APIRouter(
    prefix="/api",
    tags=["api"],
    responses={401: {"model": Problem, "description": "A token is needed"}, 503: {"model": Problem}},
)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No such id"}}

ArticleId = Annotated[int, Path(ge=1, le=MAX_ID, description="An article's id.")]


class ArticleSummary(BaseModel):
    """An article as search lists it (no body); new fields of `rare-news export` appear here too."""

    model_config = ConfigDict(extra="allow")

    id: int
    canonical_url: str
    url: str
    title: str | None
    authors: list[str]
    published_at: str | None
    fetched_at: str | None
    language: str | None
    site: str | None
    origin: str
    feed_url: str | None
    tags: dict[str, list[str]]
    relevance: float
    near_duplicate_of: str | None
    similarity: float | None
    story_id: int | None
    story_canonical_url: str | None
    story_articles: int | None
    story_outlets: int | None
    first_source: str | None
    first_source_url: str | None
    first_published_at: str | None
    extractor_version: str | None
    taxonomy_version: str | None
    score: float | None = None
    # Its event story (rewrites, copies and translations of one event across outlets), when it has one.
    event_id: int | None = None
    event_articles: int | None = None
    event_outlets: int | None = None
    event_languages: str | None = None


class ArticleDetail(ArticleSummary):
    """One article: its body, mention counts per tag, and the other articles of its story."""

    body_text: str
    mentions: dict[str, dict[str, int]]
    story_members: list[ArticleSummary]
    event_members: list[ArticleSummary]


class Facet(BaseModel):
    value: str
    count: int


class SearchResult(BaseModel):
    query: str
    page: int
    size: int
    distinct: bool
    matches: int | None  # among the ranked matches; null when facets were not asked for
    window_full: bool | None
    results: list[ArticleSummary]
    facets: dict[str, list[Facet]] | None


class Story(BaseModel):
    """A story: its canonical article and every stored copy, first source first."""

    id: int
    canonical_url: str
    title: str | None
    articles: int
    outlets: int
    first_source: str | None
    first_source_url: str
    first_published_at: str | None
    members: list[ArticleSummary]


class FeedHealth(BaseModel):
    url: str
    name: str | None
    last_status: str | None
    last_polled_at: str | None
    polls: int
    not_modified: int
    failed_polls: int
    entries: int
    articles: int
    consecutive_failures: int
    entries_failed: int
    last_error: str | None
    share_not_modified: float | None
    entries_per_poll: float | None


class Count(BaseModel):
    label: str
    count: int


class Stats(BaseModel):
    """The counts of `rare-news stats`."""

    articles: int
    stories: int
    copies: int
    stories_with_copies: int
    by_origin: dict[str, int]
    by_feed: list[Count]
    by_element: list[Count]
    by_month: list[Count]


def summary(article: ArticleView) -> ArticleSummary:
    return ArticleSummary(**article.as_dict(with_body=False))


def story_order(members: list[ArticleView]) -> list[ArticleView]:
    """A story's articles by time, first source first (undated last, by when they were fetched)."""
    never = datetime.max.replace(tzinfo=UTC)
    return sorted(
        members,
        key=lambda member: (member.published_at is None, member.published_at or member.fetched_at or never, member.id),
    )


@router.get("/search", response_model=SearchResult, summary="Search, ranked as `rare-news search`")
def api_search(
    engine: EngineDep,
    params: Annotated[SearchParams, Depends(search_params)],
    facets: Annotated[bool, Query(description="Also count facets among the ranked matches.")] = False,
) -> SearchResult:
    page = search_page(
        engine,
        params.q,
        filters=params.filters(),
        offset=params.offset,
        limit=params.size,
        distinct=params.distinct,
        with_facets=facets,
    )
    return SearchResult(
        query=params.q,
        page=params.page,
        size=params.size,
        distinct=params.distinct,
        matches=page.matches if facets else None,
        window_full=page.window_full if facets else None,
        results=[summary(article) for article in page.results],
        facets=(
            {kind: [Facet(value=v.value, count=v.count) for v in values] for kind, values in page.facets.items()}
            if facets
            else None
        ),
    )


@router.get("/articles/{article_id}", response_model=ArticleDetail, responses=NOT_FOUND, summary="One article")
def api_article(engine: EngineDep, article_id: ArticleId) -> ArticleDetail:
    article = get_article(engine, str(article_id))
    if article is None:
        raise HTTPException(404, f"no article {article_id}")
    members = story_articles(engine, article.story.id) if article.story and article.story.articles > 1 else []
    event = event_members(engine, article.event.id) if article.event and article.event.articles > 1 else []
    return ArticleDetail(
        **article.as_dict(),
        mentions=article.mentions,
        story_members=[summary(member) for member in story_order(members) if member.id != article.id],
        event_members=[summary(member) for member in event if member.id != article.id],
    )


@router.get("/stories/{story_id}", response_model=Story, responses=NOT_FOUND, summary="One story and its copies")
def api_story(engine: EngineDep, story_id: ArticleId) -> Story:
    return story_model(engine, story_id)


def story_model(engine: Any, story_id: int) -> Story:
    members = story_articles(engine, story_id)
    canonical = next((member for member in members if member.id == story_id), None)
    if canonical is None or canonical.story is None:
        raise HTTPException(404, f"no story {story_id}")
    info = canonical.story
    return Story(
        id=info.id,
        canonical_url=info.canonical_url,
        title=info.canonical_title,
        articles=info.articles,
        outlets=info.outlets,
        first_source=info.first_source,
        first_source_url=info.first_source_url,
        first_published_at=info.first_published_at.isoformat() if info.first_published_at else None,
        members=[summary(member) for member in story_order(members)],
    )


@router.get("/feeds", response_model=list[FeedHealth], summary="Feed health, live")
def api_feeds(engine: EngineDep) -> list[FeedHealth]:
    return [
        FeedHealth(
            **{
                **feed.__dict__,
                "last_polled_at": feed.last_polled_at.isoformat() if feed.last_polled_at else None,
                "share_not_modified": feed.share_not_modified,
                "entries_per_poll": feed.entries_per_poll,
            }
        )
        for feed in feed_health(engine)
    ]


@router.get("/stats", response_model=Stats, summary="Counts, as `rare-news stats`")
def api_stats(engine: EngineDep) -> Stats:
    counts = stats(engine)
    return Stats(
        articles=counts.articles,
        stories=counts.stories,
        copies=counts.copies,
        stories_with_copies=counts.stories_with_copies,
        by_origin=counts.by_origin,
        by_feed=[Count(label=label, count=count) for label, count in counts.by_feed],
        by_element=[Count(label=label, count=count) for label, count in counts.by_element],
        by_month=[Count(label=label, count=count) for label, count in counts.by_month],
    )


ExportSince = Annotated[str | None, Query(pattern=DATE, description="Published on or after (YYYY-MM-DD).")]
IncludeDuplicates = Annotated[bool, Query(description="Also near-duplicate copies of a story.")]


def _export_articles(engine: Any, since: str | None, include_duplicates: bool) -> Iterator[ArticleView]:
    return iter_articles(engine, since=midnight_utc(parse_day("since", since)), include_duplicates=include_duplicates)


def _encoded(lines: Iterator[str]) -> Iterator[bytes]:
    for line in lines:
        yield line.encode("utf-8")


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/export.jsonl",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
    summary="Every article as JSON lines, as `rare-news export`",
)
def api_export_jsonl(
    engine: EngineDep, since: ExportSince = None, include_duplicates: IncludeDuplicates = False
) -> StreamingResponse:
    articles = _export_articles(engine, since, include_duplicates)
    stamp = date.today().isoformat()
    return StreamingResponse(
        _encoded(export_lines(articles)),
        media_type="application/x-ndjson",
        headers=_attachment(f"rare-news-{stamp}.jsonl"),
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
    summary="Every article as CSV, as `rare-news export --format csv`",
)
def api_export_csv(
    engine: EngineDep, since: ExportSince = None, include_duplicates: IncludeDuplicates = False
) -> StreamingResponse:
    articles = _export_articles(engine, since, include_duplicates)
    stamp = date.today().isoformat()
    return StreamingResponse(
        _encoded(export_lines(articles, as_csv=True)),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"rare-news-{stamp}.csv"),
    )
