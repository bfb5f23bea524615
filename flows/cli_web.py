"""`rare-news web`: the read-only web app and JSON API (web/) on the configured store, served by uvicorn."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

import typer

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: RARE_NEWS_DATABASE_URL or SQLite)."),
]


def _cli() -> Any:
    import flows.cli

    return flows.cli


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def web(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine, 0.0.0.0 opens it.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to serve on.")] = 8000,
    database_url: DatabaseOption = None,
) -> None:
    """Serve the read-only web app and JSON API: search with facets, articles, stories, feeds, the report, Atom.

    The store is opened read-only. With RARE_NEWS_WEB_TOKENS set, every request needs one of its tokens
    (Authorization: Bearer, X-API-Token, or the login form's cookie). Ctrl-C stops it.
    """
    cli = _cli()
    settings = cli._settings(database_url)
    cli._engine(settings)  # migrated (and seeded when new) before it is opened read-only
    from web.app import create_app
    from web.security import parse_tokens

    tokens = parse_tokens(settings.web_tokens)
    if not is_loopback(host) and not tokens:
        typer.echo(
            f"warning: listening on {host} without tokens: anyone who reaches it can read the store "
            "(set RARE_NEWS_WEB_TOKENS)",
            err=True,
        )
    import uvicorn

    app = create_app(settings.database_url, tokens=tokens)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"rare-news web on http://{shown}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False, proxy_headers=False)
