"""What every response carries and what every request must show: security headers, and, when tokens are set
(RARE_NEWS_WEB_TOKENS), one of those tokens.

A token is sent as `Authorization: Bearer TOKEN`, as `X-API-Token: TOKEN`, or as the cookie that the login form
sets; a feed reader, which cannot send headers, may put it in an Atom feed's URL (`?token=`). Without a token a
page redirects to the login form, and the API and the feeds answer 401. Only the login form and the static
assets it needs answer without one.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

COOKIE = "rare_news_token"
COOKIE_MAX_AGE = 30 * 24 * 3600
MAX_LOGIN_BODY = 4096
# Only the app's own files: no CDN, no inline script; forms post to the app only, and no one may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
OPEN_PATHS = ("/login", "/static/")

Handler = Callable[[Request], Awaitable[Response]]


def parse_tokens(value: str | None) -> tuple[str, ...]:
    """RARE_NEWS_WEB_TOKENS: tokens separated by commas or spaces."""
    return tuple(token for token in (value or "").replace(",", " ").split() if token)


def token_matches(candidate: str | None, tokens: Sequence[str]) -> bool:
    if not candidate:
        return False
    given = candidate.encode("utf-8", "replace")
    # Every token is compared, in constant time each, so the time taken says nothing about which one was close.
    return any([hmac.compare_digest(given, token.encode("utf-8")) for token in tokens])


def _presented_token(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    if "x-api-token" in request.headers:
        return request.headers["x-api-token"].strip()
    if request.url.path.endswith(".atom") and "token" in request.query_params:
        return request.query_params["token"]
    return request.cookies.get(COOKIE)


def is_open(path: str) -> bool:
    return path == "/login" or path.startswith("/static/")


def is_api(path: str) -> bool:
    return path.startswith("/api/") or path.startswith("/feeds/")


def guard(tokens: Sequence[str]) -> Callable[[Request, Handler], Awaitable[Response]]:
    """Middleware: the token check (when tokens are set), then the security headers on every answer."""

    async def middleware(request: Request, call_next: Handler) -> Response:
        path = request.url.path
        if tokens and not is_open(path) and not token_matches(_presented_token(request), tokens):
            response: Response
            if is_api(path):
                response = JSONResponse(
                    {"detail": "a token is needed: Authorization: Bearer TOKEN, or X-API-Token"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
            elif request.method in ("GET", "HEAD"):
                target = path + ("?" + request.url.query if request.url.query else "")
                response = RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)
            else:
                response = PlainTextResponse("a token is needed", status_code=401)
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)  # the report page brings its own, stricter policy
        return response

    return middleware


_LOCAL_PATH = re.compile(r"/(?![/\\])[^\s\\]*")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this app, never another site (`//evil.example`, `/\\evil`, and
    `/\t/evil.example`, which a browser reads as `//evil.example` once it drops the tab)."""
    if not target or not _LOCAL_PATH.fullmatch(target):
        return "/"
    return target


async def login_form_token(request: Request) -> tuple[str | None, str]:
    """(token, next) from the login form's urlencoded body, read up to MAX_LOGIN_BODY bytes."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            return None, "/"
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
    except ValueError:  # more fields than a login form has
        return None, "/"
    token = fields.get("token", [""])[0] or None
    return token, safe_next(fields.get("next", ["/"])[0])


def with_token_cookie(response: Response, token: str, *, secure: bool) -> Response:
    response.set_cookie(
        COOKIE, token, max_age=COOKIE_MAX_AGE, httponly=True, samesite="strict", secure=secure, path="/"
    )
    return response
