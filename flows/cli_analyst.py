"""`rare-news report`, `rare-news browse` and `rare-news watch add|list|remove`: for the analyst who reads and decides.

- `report` writes one self-contained HTML file (charts as inline SVG, no network needed to open it), and with
  `--screenshot` also a PNG of it taken by headless Chromium.
- `browse` serves the SQLite store in Datasette, with full-text search on articles and canned queries.
- `watch` keeps saved searches; after every run their new matches are reported and sent as one digest each.

Each command is a few lines over functions the tests also call; heavy imports happen inside the commands.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from models.watches import WatchSpec
    from transforms.tag import Taxonomy

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: RARE_NEWS_DATABASE_URL or SQLite)."),
]

watch_app = typer.Typer(
    help="Watches: saved searches checked after every run; new matches are reported and sent as a digest.",
    no_args_is_help=True,
)


def _cli() -> Any:
    import flows.cli

    return flows.cli


class ListFormat(StrEnum):
    table = "table"
    json = "json"


# --- report --------------------------------------------------------------------------------------------------


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    since: Annotated[str | None, typer.Option(help="Articles dated on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Articles dated before this date (YYYY-MM-DD).")] = None,
    screenshot: Annotated[
        Path | None, typer.Option("--screenshot", help="Also save a full-page PNG of the report (needs chromium).")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Write a self-contained HTML report with charts; it opens without a network.

    Stories per week by element and by topic, the companies and places most mentioned, the stories carried by
    the most outlets, the newest articles with links, and feed health.
    """
    from flows.settings import parse_date
    from models.report_queries import report_data
    from transforms.report import render_report

    cli = _cli()
    data = report_data(
        cli._engine(cli._settings(database_url)),
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until"),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(data), encoding="utf-8")
    typer.echo(f"report written to {out} ({data.articles} articles, {data.stories} stories, {len(data.feeds)} feeds)")
    if screenshot is not None:
        from connectors.browser import BrowserError
        from connectors.browser import screenshot as take_screenshot

        try:
            log = take_screenshot(out, screenshot)
        except BrowserError as exc:
            raise cli.UserError(f"no screenshot: {exc}") from None
        for error in log.errors:
            typer.echo(f"warning: the page logged an error: {error}", err=True)
        typer.echo(f"screenshot saved to {screenshot}")


# --- browse --------------------------------------------------------------------------------------------------

# Canned queries for Datasette (SQLite). Each is a saved, parameterised SELECT shown on the database page.
CANNED_QUERIES: dict[str, dict[str, str]] = {
    "latest_by_element": {
        "title": "Latest stories about an element",
        "description": "Newest first; :element is the English name (neodymium, dysprosium...).",
        "sql": """select a.id, coalesce(a.published_at, a.fetched_at) as date, a.title, a.canonical_url, a.site,
  a.language, at.mentions
from article a
join article_tag at on at.article_id = a.id
join tag t on t.id = at.tag_id
where t.kind = 'element' and lower(t.name) = lower(:element) and a.near_duplicate_of is null
order by date desc
limit 200""",
    },
    "stories_by_outlets": {
        "title": "Stories carried by the most outlets",
        "description": "A story is an event story: every outlet's coverage of one event (rewrites, copies, "
        "translations), shown by its canonical article; copies counts its articles.",
        "sql": """select s.id as story_id, s.title, s.canonical_url, count(distinct a.site) as outlets,
  count(*) as copies, group_concat(distinct a.site) as sites
from article a
join article s on s.id = coalesce(
  (select e.canonical_article_id from article_event ae join event e on e.id = ae.event_id
   where ae.article_id = a.id),
  a.near_duplicate_of, a.id)
group by s.id
order by outlets desc, copies desc, s.id desc
limit 200""",
    },
    "feed_health": {
        "title": "Feed health",
        "description": "Last status, 304 share, new items per poll, failures and aggregator links, per feed.",
        "sql": """select f.url, f.name, f.last_status, f.last_polled_at, f.consecutive_failures as failures_in_a_row,
  p.polls, round(100.0 * p.not_modified / nullif(p.polls, 0)) as pct_304,
  round(1.0 * e.entries / nullif(p.polls, 0), 1) as new_items_per_poll, e.entries, e.entries_failed,
  (select count(*) from article a where a.feed_id = f.id) as articles,
  (select count(*) from entry_link l where l.feed_id = f.id and l.status = 'resolved') as links_resolved,
  (select count(*) from entry_link l where l.feed_id = f.id and l.status = 'failed') as links_not_resolved,
  f.last_error
from feed f
left join (select feed_id, count(*) as polls, sum(status = 'not modified') as not_modified
           from feed_poll group by feed_id) p on p.feed_id = f.id
left join (select feed_id, count(*) as entries, sum(status = 'failed') as entries_failed
           from seen_entry group by feed_id) e on e.feed_id = f.id
order by f.consecutive_failures desc, f.url""",
    },
    "search_any_language": {
        "title": "Search any language (Chinese too)",
        "description": "Substring search in title and body: finds 稀土 or 包头, which word search cannot split.",
        "sql": """select id, coalesce(published_at, fetched_at) as date, title, canonical_url, site, language
from article
where instr(lower(coalesce(title, '') || ' ' || body_text), lower(:text)) > 0
order by date desc
limit 200""",
    },
}


def datasette_metadata(database_name: str) -> dict[str, Any]:
    """Datasette metadata: full-text search on `article`, canned queries, bulky internals hidden."""
    return {
        "title": "rare-earth news",
        "description": "Articles, tags, feeds and runs of rare-news. Search articles with the box on the article "
        "table; for Chinese, Japanese or Korean words use the 'Search any language' query.",
        "databases": {
            database_name: {
                "tables": {
                    "article": {
                        "fts_table": "article_fts",
                        "fts_pk": "id",
                        "label_column": "title",
                        "sort_desc": "published_at",
                    },
                    "tag": {"label_column": "name"},
                    "feed": {"label_column": "url"},
                    "raw_page": {"hidden": True},
                    "article_band": {"hidden": True},
                    "alembic_version": {"hidden": True},
                },
                "queries": CANNED_QUERIES,
            }
        },
    }


def browse(
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to serve on (0: any free port).")] = 8001,
    host: Annotated[str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
    open_browser: Annotated[bool, typer.Option("--open", help="Open it in the default web browser.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Browse the SQLite store in Datasette, with full-text search and canned queries.

    Canned queries: latest stories about an element, stories by outlet count, feed health, and search in any
    language (Chinese too). Stop it with Ctrl-C. On Postgres it says what to use instead.
    """
    from sqlalchemy.engine import make_url

    cli = _cli()
    settings = cli._settings(database_url)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise cli.UserError(
            "browse opens a SQLite store in Datasette; this store is "
            f"{url.render_as_string()}. For Postgres use a Postgres client instead: psql, pgAdmin or "
            "Metabase on the same URL, or `rare-news export` for a file"
        )
    cli._engine(settings)  # migrated (and seeded when new), as every reading command does
    database = Path(url.database).resolve()
    with tempfile.TemporaryDirectory(prefix="rare-news-browse-") as folder:
        metadata = Path(folder) / "metadata.json"
        metadata.write_text(json.dumps(datasette_metadata(database.stem), ensure_ascii=False), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "datasette",
            "serve",
            str(database),
            "--metadata",
            str(metadata),
            "--host",
            host,
            "--port",
            str(port),
            "--setting",
            "sql_time_limit_ms",
            "5000",
        ] + (["--open"] if open_browser else [])
        typer.echo(f"Datasette on http://{host}:{port}/{database.stem} (Ctrl-C stops it)", err=True)
        try:
            status = subprocess.call(command)
        except KeyboardInterrupt:
            status = 0
    if status:
        raise typer.Exit(status)


# --- watch ---------------------------------------------------------------------------------------------------


def _tag_name(taxonomy: Taxonomy, kind: str, value: str | None) -> str | None:
    """The taxonomy's name for a tag the user typed: its name or any of its patterns (镝 is dysprosium)."""
    if value is None:
        return None
    wanted = value.strip().lower()
    for term in taxonomy.terms:
        if term.kind != kind:
            continue
        names = [term.name, *term.patterns, *term.case_sensitive_patterns]
        if any(name.lower() == wanted for name in names):
            return term.name
    known = sorted({term.name for term in taxonomy.terms if term.kind == kind})
    raise _cli().UserError(f"no {kind} named {value!r} in the taxonomy; known: {', '.join(known[:40])}")


@watch_app.command("add")
def watch_add(
    name: Annotated[str, typer.Argument(help="A short name for the watch.")],
    query: Annotated[str, typer.Argument(help="Words that must all appear, as for `search` (Chinese too).")] = "",
    element: Annotated[str | None, typer.Option(help="Only articles tagged with this element.")] = None,
    company: Annotated[str | None, typer.Option(help="Only articles tagged with this company.")] = None,
    place: Annotated[str | None, typer.Option(help="Only articles tagged with this place.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only articles tagged with this topic.")] = None,
    notify: Annotated[
        str | None, typer.Option("--notify", help="apprise URL for this watch's digests (default: NOTIFY_URL).")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Add a watch: after each run, new articles matching QUERY and the filters are reported and sent."""
    from connectors.notify import NotifyError, check_url
    from flows.common import load_taxonomy
    from models.watches import WatchExists, WatchSpec, add_watch

    cli = _cli()
    if not name.strip():
        raise cli.UserError("a watch needs a name")
    settings = cli._settings(database_url)
    taxonomy = load_taxonomy(settings)
    spec = WatchSpec(
        name=name.strip(),
        query=query.strip(),
        element=_tag_name(taxonomy, "element", element),
        company=_tag_name(taxonomy, "company", company),
        place=_tag_name(taxonomy, "place", place),
        topic=_tag_name(taxonomy, "topic", topic),
        notify_url=notify.strip() if notify else None,
    )
    if not spec.query and not any((spec.element, spec.company, spec.place, spec.topic)):
        raise cli.UserError("a watch needs words to look for or a filter (--element, --company, --place, --topic)")
    if spec.notify_url:
        try:
            check_url(spec.notify_url)
        except NotifyError as exc:
            raise cli.UserError(str(exc)) from None
    try:
        add_watch(cli._engine(settings), spec)
    except WatchExists as exc:
        raise cli.UserError(str(exc)) from None
    typer.echo(f"watching {spec.name!r}: {spec.describe()}")


@watch_app.command("list")
def watch_list(
    output: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = ListFormat.table,
    database_url: DatabaseOption = None,
) -> None:
    """The watches, with how many articles each has matched and what became of their digests."""
    from models.watches import list_watches, match_counts

    cli = _cli()
    engine = cli._engine(cli._settings(database_url))
    specs, counts = list_watches(engine), match_counts(engine)
    if output is ListFormat.json:
        for spec in specs:
            typer.echo(json.dumps(_watch_dict(spec, counts.get(spec.id or 0, {})), ensure_ascii=False))
        return
    if not specs:
        typer.echo("no watches: add one with `rare-news watch add NAME QUERY`")
        return
    from rich.table import Table

    table = Table()
    for column in ("name", "looks for", "notify", "matched", "sent", "failed", "unsent"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        states = counts.get(spec.id or 0, {})
        table.add_row(
            spec.name,
            spec.describe(),
            _redact(spec.notify_url) if spec.notify_url else "(NOTIFY_URL)",
            str(sum(states.values())),
            str(states.get("sent", 0)),
            str(states.get("failed", 0)),
            str(states.get("unsent", 0) + states.get("pending", 0)),
        )
    cli._console().print(table)


def _redact(url: str) -> str:
    from connectors.notify import redacted

    return redacted(url)


def _watch_dict(spec: WatchSpec, states: dict[str, int]) -> dict[str, Any]:
    return {
        "name": spec.name,
        "query": spec.query,
        "element": spec.element,
        "company": spec.company,
        "place": spec.place,
        "topic": spec.topic,
        "notify": _redact(spec.notify_url) if spec.notify_url else None,
        "matched": sum(states.values()),
        "deliveries": states,
    }


@watch_app.command("remove")
def watch_remove(
    name: Annotated[str, typer.Argument(help="The watch's name as `watch list` shows it.")],
    database_url: DatabaseOption = None,
) -> None:
    """Remove a watch and its record of matches; the articles stay."""
    from models.watches import remove_watch

    cli = _cli()
    if not remove_watch(cli._engine(cli._settings(database_url)), name):
        raise cli.UserError(f"no such watch: {name}")
    typer.echo(f"removed watch {name!r}")
