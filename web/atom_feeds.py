"""Atom out: /feeds/search.atom?... for any search URL's parameters, and /feeds/watch/{name}.atom for a watch.

Each holds the newest matches of its search, newest first, so a feed reader shows what is new.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import Response

from models.queries import SearchFilters
from models.watches import list_watches
from models.web_queries import newest_matches
from web.atom import render_atom
from web.deps import EngineDep
from web.params import SearchParams, search_params

router = APIRouter(prefix="/feeds", include_in_schema=False)
ATOM_ENTRIES = 50
ATOM_TYPE = "application/atom+xml; charset=utf-8"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _self_url(request: Request) -> str:
    """The feed's own URL, without a token a feed reader put in it (the document must not repeat it)."""
    return str(request.url.remove_query_params("token"))


def _describe(params: SearchParams) -> str:
    chosen = [f"{kind}={value}" for kind, value in params.narrowed.items()]
    if params.since:
        chosen.append(f"since {params.since}")
    if params.until:
        chosen.append(f"until {params.until}")
    words = f'"{params.q}"' if params.q else "everything"
    return " ".join([words, *chosen])


@router.get("/search.atom")
def search_feed(
    request: Request, engine: EngineDep, params: Annotated[SearchParams, Depends(search_params)]
) -> Response:
    base = _base(request)
    articles = newest_matches(engine, params.q, filters=params.filters(), limit=ATOM_ENTRIES)
    query = params.as_query(page=1, size=SearchParams().size)
    page_url = params.link(base + "/")
    document = render_atom(
        title=f"rare-news: {_describe(params)}",
        feed_id=base + "/feeds/search.atom?" + "&".join(f"{k}={v}" for k, v in sorted(query.items())),
        self_url=_self_url(request),
        page_url=page_url,
        articles=articles,
        base_url=base,
    )
    return Response(document, media_type=ATOM_TYPE)


@router.get("/watch/{name}.atom")
def watch_feed(
    request: Request, engine: EngineDep, name: Annotated[str, Path(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
) -> Response:
    watch = next((spec for spec in list_watches(engine) if spec.name == name), None)
    if watch is None:
        raise HTTPException(404, f"no watch named {name!r}")
    base = _base(request)
    filters = SearchFilters(element=watch.element, company=watch.company, place=watch.place, topic=watch.topic)
    articles = newest_matches(engine, watch.query, filters=filters, limit=ATOM_ENTRIES)
    params = SearchParams(
        q=watch.query, element=watch.element, company=watch.company, place=watch.place, topic=watch.topic
    )
    document = render_atom(
        title=f"rare-news watch {watch.name}: {watch.describe()}",
        feed_id=f"{base}/feeds/watch/{watch.id}.atom",
        self_url=_self_url(request),
        page_url=params.link(base + "/"),
        articles=articles,
        base_url=base,
    )
    return Response(document, media_type=ATOM_TYPE)
