"""The app: routers for pages, API and Atom; the read-only engine; the guard (tokens, security headers); and
errors that say what was wrong (422 with the reason, 503 for a query stopped at the time limit), never a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

from models.web_queries import QUERY_TIME_LIMIT, QueryTimeout, is_timeout, read_only_engine
from web import api, atom_feeds, pages, security

STATIC = Path(__file__).resolve().parent / "static"
API_DESCRIPTION = """Read-only JSON over the rare-earth news store: the same search as `rare-news search` (full
text, Chinese included, tag, language, outlet and date filters, one row per story), articles, stories, feed
health, counts, and streaming exports with the fields of `rare-news export`. Bad parameters get a 422 with the
reason; a query stopped at the time limit a 503."""


def create_app(database_url: str, *, tokens: Sequence[str] = (), time_limit: float = QUERY_TIME_LIMIT) -> FastAPI:
    """The web app over the store at `database_url`, opened read-only. With `tokens`, every request needs one."""
    app = FastAPI(
        title="rare-news",
        description=API_DESCRIPTION,
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load their code from a CDN: the spec is served, not those pages
        redoc_url=None,
    )
    app.state.engine = read_only_engine(database_url, time_limit=time_limit)
    app.state.tokens = tuple(tokens)
    app.state.time_limit = time_limit
    app.middleware("http")(security.guard(app.state.tokens))
    app.include_router(api.router)
    app.include_router(atom_feeds.router)
    app.include_router(pages.router)
    app.add_api_route("/metrics", _metrics_endpoint(app.state.engine), include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(QueryTimeout, _database_error)
    return app


def _metrics_endpoint(engine: Any) -> Any:
    """GET /metrics: the Prometheus text `rare-news serve` gives, read from the same store (flows/metrics.py)."""
    from flows.metrics import StoreCollector, metrics_text

    collector = StoreCollector(engine)  # one per app: it adds up each run's fetch histograms once

    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics_text(collector), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _wants_html(request: Request) -> bool:
    return not security.is_api(request.url.path) and request.url.path != "/login"


async def _invalid(request: Request, exc: Any) -> Response:
    if not _wants_html(request):
        return await request_validation_exception_handler(request, exc)
    reasons = [f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}" for error in exc.errors()]
    return pages.render(request, "error.html", status_code=422, title="Bad parameters", reasons=reasons)


async def _http_error(request: Request, exc: Any) -> Response:
    if not _wants_html(request) or exc.status_code not in (404, 405):
        return await http_exception_handler(request, exc)
    title = "Not found" if exc.status_code == 404 else "Method not allowed: this app only reads"
    response = pages.render(request, "error.html", status_code=exc.status_code, title=title, reasons=[exc.detail])
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _database_error(request: Request, exc: Any) -> Response:
    if is_timeout(exc):
        limit = request.app.state.time_limit
        detail = f"the query ran longer than the time limit ({limit:g} s) and was stopped: narrow the search"
        if _wants_html(request):
            return pages.render(request, "error.html", status_code=503, title="Too slow", reasons=[detail])
        return JSONResponse({"detail": detail}, status_code=503)
    raise exc
