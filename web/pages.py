"""The HTML pages: search (with facets), article, story, feeds, report, and the login form. Every page is
server-rendered from templates/ with autoescape on; the state of a search lives in its URL."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from models.queries import RANKING_WINDOW, get_article, story_articles
from models.report_queries import report_data
from models.watches import list_watches
from models.web_queries import FACET_KINDS, event_members, feed_health, search_page
from transforms.report import render_report, safe_href
from web import security
from web.api import story_order
from web.deps import EngineDep
from web.params import DATE, MAX_ID, SearchParams, midnight_utc, parse_day, search_params

TEMPLATES = Path(__file__).resolve().parent / "templates"
FACET_TITLES = {
    "element": "Element",
    "company": "Company",
    "place": "Place",
    "topic": "Topic",
    "language": "Language",
    "site": "Outlet",
    "month": "Month",
}

router = APIRouter(include_in_schema=False)
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True
)
_environment.filters["href"] = safe_href
_environment.filters["day"] = lambda value: value.strftime("%Y-%m-%d") if value else "undated"
_environment.filters["when"] = lambda value: value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"
_environment.filters["percent"] = lambda value: f"{value:.0%}" if value is not None else "-"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = _environment.get_template(template).render(request=request, path=request.url.path, **context)
    return HTMLResponse(body, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def search(request: Request, engine: EngineDep, params: Annotated[SearchParams, Depends(search_params)]) -> Response:
    page = search_page(
        engine, params.q, filters=params.filters(), offset=params.offset, limit=params.size, distinct=params.distinct
    )
    facets = [
        (kind, FACET_TITLES[kind], page.facets.get(kind, [])) for kind in (*FACET_KINDS, "language", "site", "month")
    ]
    return render(
        request,
        "search.html",
        params=params,
        page=page,
        facets=facets,
        titles=FACET_TITLES,
        has_next=len(page.results) == params.size and params.offset + params.size < page.matches,
        window=RANKING_WINDOW,
    )


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article(request: Request, engine: EngineDep, article_id: int) -> Response:
    view = get_article(engine, str(article_id)) if 0 < article_id <= MAX_ID else None
    if view is None:
        raise HTTPException(404, f"no article {article_id}")
    members = story_articles(engine, view.story.id) if view.story and view.story.articles > 1 else []
    event = event_members(engine, view.event.id) if view.event and view.event.articles > 1 else []
    paragraphs = [block.strip() for block in view.body_text.split("\n") if block.strip()]
    return render(
        request, "article.html", article=view, members=story_order(members), event=event, paragraphs=paragraphs
    )


@router.get("/stories/{story_id}", response_class=HTMLResponse)
def story(request: Request, engine: EngineDep, story_id: int) -> Response:
    members = story_articles(engine, story_id) if 0 < story_id <= MAX_ID else []
    canonical = next((member for member in members if member.id == story_id), None)
    if canonical is None or canonical.story is None:
        raise HTTPException(404, f"no story {story_id}")
    event = event_members(engine, canonical.event.id) if canonical.event and canonical.event.articles > 1 else []
    return render(
        request, "story.html", story=canonical.story, canonical=canonical, members=story_order(members), event=event
    )


@router.get("/feeds", response_class=HTMLResponse)
def feeds(request: Request, engine: EngineDep) -> Response:
    return render(request, "feeds.html", feeds=feed_health(engine), watches=list_watches(engine), now=datetime.now(UTC))


ReportDay = Annotated[str | None, Query(pattern=DATE)]


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request, since: ReportDay = None, until: ReportDay = None) -> Response:
    return render(request, "report.html", since=since or "", until=until or "")


@router.get("/report/view", response_class=HTMLResponse)
def report_view(engine: EngineDep, since: ReportDay = None, until: ReportDay = None) -> Response:
    """The report of `rare-news report`, for the period chosen; it carries its own (stricter) policy."""
    data = report_data(
        engine, since=midnight_utc(parse_day("since", since)), until=midnight_utc(parse_day("until", until))
    )
    document = render_report(data)
    policy = document.split('http-equiv="Content-Security-Policy" content="', 1)[1].split('"', 1)[0]
    return HTMLResponse(document, headers={"Content-Security-Policy": html.unescape(policy)})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str, Query(max_length=2000)] = "/") -> Response:
    return render(request, "login.html", next=security.safe_next(next), failed=False)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    tokens = request.app.state.tokens
    token, target = await security.login_form_token(request)
    if not tokens:
        return RedirectResponse(target, status_code=303)
    if not security.token_matches(token, tokens):
        return render(request, "login.html", status_code=401, next=target, failed=True)
    response = RedirectResponse(target, status_code=303)
    return security.with_token_cookie(response, token or "", secure=request.url.scheme == "https")
