"""`rare-news`: the command line. Each command is a few lines over functions the tests also call.

Heavy libraries (Prefect, trafilatura) are imported inside the commands that need them, so `search`, `show`,
`export`, `stats` and `--help` answer at once. A user's mistake is one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from flows.settings import Settings

app = typer.Typer(
    name="rare-news",
    help="Rare-earth news ingestion: poll feeds, keep rare-earth articles, search them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
feeds_app = typer.Typer(help="Feeds kept in the database, with their health.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")


class UserError(Exception):
    """Shown as one line, never a traceback."""


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class Runner(StrEnum):
    threads = "threads"
    dask = "dask"


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


def _settings(database_url: str | None = None) -> Settings:
    from flows.settings import get_settings

    return get_settings(**({"database_url": database_url} if database_url else {}))


def _engine(settings: Settings, *, create: bool = True) -> Engine:
    """The store for reading commands: migrated (and seeded when new), so a fresh clone answers too."""
    from models.db import get_engine, schema_is_current

    engine = get_engine(settings.database_url)
    if schema_is_current(engine):  # the usual case: no alembic, no seed loading, nothing of the pipeline imported
        return engine
    from flows.common import prepare_store

    return prepare_store(settings)


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: RARE_NEWS_DATABASE_URL or SQLite)."),
]


@app.command()
def init(database_url: DatabaseOption = None) -> None:
    """Create or migrate the schema and load the seed corpus. Safe to run again."""
    from flows.common import load_seeds, load_taxonomy
    from models.db import get_engine, migrate

    settings = _settings(database_url)
    engine = get_engine(settings.database_url)
    migrate(engine)
    added = load_seeds(engine, load_taxonomy(settings), settings.seed_dir)
    typer.echo(f"schema ready at {engine.url.render_as_string()}; seed articles added: {added}")


@app.command()
def run(
    feeds: Annotated[
        Path | None,
        typer.Option("--feeds", help="TOML file of [[feeds]] (url, name, topical) to poll instead."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Poll every feed now, also those backing off or not due yet.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's own logs.")] = False,
    runner: Annotated[
        Runner | None,
        typer.Option(
            help="Where extraction batches run: threads (a local process pool) or dask "
            "(RARE_NEWS_DASK_ADDRESS, or a temporary local cluster)."
        ),
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Run one ingestion now: poll the feeds, fetch new entries, store the rare-earth articles, print a summary."""
    settings = _settings(database_url)
    if runner is not None:
        settings = settings.model_copy(update={"runner": runner.value})
    if feeds is not None and not feeds.exists():
        raise UserError(f"feeds file not found: {feeds}")
    from flows.settings import load_feeds_file

    load_feeds_file(feeds or settings.feeds_path)  # a bad feeds file is one line, before anything heavy loads
    from flows.runs import run_if_nothing_due

    summary = run_if_nothing_due(settings, feeds, force)  # no feed due: recorded without starting Prefect
    if summary is None:
        from flows.common import quiet_prefect

        quiet_prefect(verbose)  # before Prefect is imported: it reads its settings at import
        from flows.ingest import ingest_flow
        from flows.progress import Reporter

        if not verbose:
            _without_failure_reports("prefect.flow_runs", "prefect.task_runs")
        reporter = Reporter.for_terminal()
        summary = ingest_flow(settings)(feeds_file=feeds, settings=settings, reporter=reporter, force=force)
    _print_summary(summary)


def _below_error(record: Any) -> bool:
    return bool(record.levelno < 40)  # logging.ERROR


def _without_failure_reports(*loggers: str) -> None:
    """Prefect reports a failed run three times over (traceback, SQL and its parameters included); `main()` says
    what failed in one line. --verbose keeps Prefect's reports."""
    import logging

    for name in loggers:
        logging.getLogger(name).addFilter(_below_error)  # added once: addFilter skips a filter it has


def _print_summary(summary: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Run {summary.run_id}", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("feeds polled", summary.feeds_polled),
        ("feeds not modified (304)", summary.feeds_not_modified),
        ("feeds failed", summary.feeds_failed),
        ("feeds not due yet (backing off, or polled at their pace)", summary.feeds_not_due),
        ("entries new", summary.entries_new),
        ("pages fetched", summary.pages_fetched),
        ("articles stored", summary.articles_stored),
        ("near duplicates (stored, linked)", summary.near_duplicates),
        ("duplicates (not stored)", summary.duplicates),
        ("irrelevant", summary.irrelevant),
        ("entries failed", summary.failed),
    ]
    for label, value in rows:
        table.add_row(label, str(value))
    _console().print(table)
    for match in getattr(summary, "watch_matches", []):
        _console().print(f"watch {match.watch!r}: {match.describe()}", markup=False)


@feeds_app.command("list")
def feeds_list(
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    database_url: DatabaseOption = None,
) -> None:
    """Feeds with their health: last status and error, failures in a row, last polled, next due."""
    from models.queries import list_feeds

    feeds = list_feeds(_engine(_settings(database_url)))
    if output is OutputFormat.json:
        for feed in feeds:
            typer.echo(json.dumps({**feed.__dict__}, default=str, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table(show_lines=False)
    columns = ("url", "status", "failures", "last polled", "next due", "why then", "articles", "links", "last error")
    for column in columns:
        table.add_column(column, overflow="fold")
    for feed in feeds:
        table.add_row(
            feed.url,
            feed.last_status or "never polled",
            str(feed.consecutive_failures),
            _when(feed.last_polled_at),
            _when(feed.next_poll_at) if feed.next_poll_at else "now",
            (feed.poll_reason or "") if feed.next_poll_at else "",
            str(feed.articles),
            _links(feed.links_resolved, feed.links_failed),
            feed.last_error or "",
        )
    _console().print(table)


def _links(resolved: int, failed: int) -> str:
    """Aggregator links of a source: how many resolved to publisher URLs, how many could not be."""
    return f"{resolved} resolved, {failed} not" if resolved or failed else ""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="A feed's http(s) URL, or a site's: its feeds are looked for.")],
    name: Annotated[str | None, typer.Option(help="A name to show for it.")] = None,
    topical: Annotated[bool, typer.Option(help="A rare-earth feed: fetch every entry.")] = False,
    discover: Annotated[
        bool, typer.Option(help="Fetch the URL and find the site's feeds; --no-discover adds the URL as given.")
    ] = True,
    database_url: DatabaseOption = None,
) -> None:
    """Add a feed to the database (found from a site's page when URL is not one); later runs poll it too."""
    from flows.settings import ConfigError, parse_feeds
    from models.store import upsert_feeds

    try:
        spec = parse_feeds({"feeds": [{"url": url, "name": name, "topical": topical}]}, source="feeds add")[0]
    except ConfigError as exc:
        raise UserError(str(exc).replace("feeds add: feed #1 ", "")) from None
    settings = _settings(database_url)
    feed_url = _discover_feed(spec.url, settings) if discover else spec.url
    upsert_feeds(_engine(settings), [(feed_url, spec.name, spec.topical)])
    typer.echo(f"added {feed_url}")


def _discover_feed(url: str, settings: Any) -> str:
    """The best feed of the site at `url` (the URL itself when it is a feed), saying what was found."""
    from connectors.discovery import discover_feeds
    from connectors.http import Fetcher, FetchError

    with Fetcher(settings.fetch_policy()) as fetcher:
        try:
            found = discover_feeds(fetcher, url)
        except FetchError as exc:
            raise UserError(f"cannot fetch {url}: {exc.reason} (add it as given with --no-discover)") from None
    if found.best is None:
        raise UserError(f"found no feed at {url} (looked at: {', '.join(found.looked_at)})")
    if found.best.found_by != "the URL itself":
        typer.echo(f"found {len(found.feeds)} feed(s) at {url}:")
        for feed in found.feeds:
            typer.echo(f"  {feed.url}  {feed.title or ''} ({feed.entries} entries; {feed.found_by})")
    return found.best.url


@feeds_app.command("remove")
def feeds_remove(
    url: Annotated[str, typer.Argument(help="The feed's URL as listed by `feeds list`.")],
    database_url: DatabaseOption = None,
) -> None:
    """Remove a feed and its ledger; its stored articles stay."""
    from models.store import remove_feed

    if not remove_feed(_engine(_settings(database_url)), url):
        raise UserError(f"no such feed: {url}")
    typer.echo(f"removed {url}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find (all must appear); empty lists the newest.")],
    element: Annotated[str | None, typer.Option(help="Only articles tagged with this element.")] = None,
    company: Annotated[str | None, typer.Option(help="Only articles tagged with this company.")] = None,
    place: Annotated[str | None, typer.Option(help="Only articles tagged with this place.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only articles tagged with this topic.")] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Published before this date (YYYY-MM-DD).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Most rows to show.")] = 20,
    distinct: Annotated[
        bool,
        typer.Option(
            "--distinct",
            help="One row per event story (rewrites, copies, translations): its canonical article, outlets, languages.",
        ),
    ] = False,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    database_url: DatabaseOption = None,
) -> None:
    """Full-text search, best match first, with tag and date filters; every copy of a story, or one row each.

    A query matching over 1,000 articles ranks its newest 1,000 matches; narrower words or --until reach older.
    """
    from flows.settings import parse_date
    from models.queries import SearchFilters, search_articles

    filters = SearchFilters(
        element=element,
        company=company,
        place=place,
        topic=topic,
        since=parse_date(since, "--since"),
        until=parse_date(until, "--until"),
    )
    hits = search_articles(_engine(_settings(database_url)), query, filters=filters, limit=limit, distinct=distinct)
    if output is OutputFormat.json:
        for hit in hits:
            typer.echo(json.dumps(hit.as_dict(with_body=False), ensure_ascii=False))
        return
    if not hits:
        typer.echo("no articles found")
        return
    from rich.table import Table

    table = Table()
    columns = ("outlets", "languages") if distinct else ("story",)
    for column in ("id", "published", "site", "title", "elements", *columns):
        table.add_column(column, overflow="fold")
    for hit in hits:
        event = hit.event
        table.add_row(
            str(hit.id),
            hit.published_at.date().isoformat() if hit.published_at else "-",
            hit.site or "",
            hit.title or hit.canonical_url,
            ", ".join(hit.tags.get("element", [])[:4]),
            *(
                (str(len(event.outlets) if event else 1), ", ".join(event.languages) if event else hit.language or "")
                if distinct
                else (str(hit.story_id),)
            ),
        )
    _console().print(table)


def _event_line(event: Any) -> str:
    """An article's event story for `show`: its id, reach and languages (models/events.py)."""
    if event is None:
        return "-"
    return (
        f"{event.id}: {event.articles} articles from {len(event.outlets)} outlets "
        f"({', '.join(event.languages) or 'language unknown'}; canonical article {event.canonical_article_id})"
    )


@app.command()
def show(
    id_or_url: Annotated[str, typer.Argument(help="An article id or URL.")],
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    database_url: DatabaseOption = None,
) -> None:
    """One article with its tags, provenance and story (canonical article, outlets, first source, copies)."""
    from models.queries import get_article, story_articles

    engine = _engine(_settings(database_url))
    article = get_article(engine, id_or_url)
    if article is None:
        raise UserError(f"no article {id_or_url!r}")
    if output is OutputFormat.json:
        typer.echo(json.dumps(article.as_dict(), ensure_ascii=False, indent=2))
        return
    story = article.story
    copies = story_articles(engine, story.id) if story and story.articles > 1 else []
    if story is None or story.id == article.id:
        story_line = f"{article.id} (this is the canonical article)"
    else:
        similarity = f", similarity {article.similarity:.2f}" if article.similarity is not None else ""
        story_line = f"{story.id}: a copy of {story.canonical_url}{similarity}"
    first_line = "-"
    if story is not None:
        when = story.first_published_at.strftime("%Y-%m-%d %H:%M UTC") if story.first_published_at else "undated"
        first_line = f"{story.first_source or '-'} ({when}) {story.first_source_url}"
    console = _console()
    console.print(f"[bold]{article.title or '(untitled)'}[/bold]")
    facts = [
        ("id", article.id),
        ("url", article.url),
        ("canonical url", article.canonical_url),
        ("published", article.published_at.isoformat() if article.published_at else "-"),
        ("authors", ", ".join(article.authors) or "-"),
        ("site", article.site or "-"),
        ("language", article.language or "-"),
        ("origin", article.origin + (f" ({article.feed_url})" if article.feed_url else "")),
        ("relevance", f"{article.relevance:.2f}"),
        ("story", story_line),
        ("carried by", f"{story.articles} articles from {story.outlets} outlets" if story else "-"),
        ("event", _event_line(article.event)),
        ("first published by", first_line),
        ("extractor", article.extractor_version or "-"),
    ]
    for label, value in facts:
        console.print(f"{label:>18}: {value}", markup=False)
    for kind, names in article.tags.items():
        counts = article.mentions.get(kind, {})
        console.print(f"{kind:>18}: " + ", ".join(f"{n} ({counts.get(n, 0)})" for n in names), markup=False)
    for copy in copies:
        mark = "*" if copy.id == article.id else " "
        similarity = "canonical" if copy.near_duplicate_of is None else f"similarity {copy.similarity or 0:.2f}"
        when = copy.published_at.date().isoformat() if copy.published_at else "undated"
        console.print(f"{'copy':>18}: {mark}{copy.id} {copy.site or '-'} {when} ({similarity})", markup=False)
    console.print()
    console.print(article.body_text, markup=False)


@app.command()
def export(
    output: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = ExportFormat.jsonl,
    include_duplicates: Annotated[
        bool, typer.Option("--include-duplicates", help="Also near-duplicate copies of a story.")
    ] = False,
    since: Annotated[str | None, typer.Option(help="Published on or after this date.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Every stored article: one JSON object a line, or CSV with tags flattened."""
    from flows.settings import parse_date
    from models.queries import export_lines, iter_articles

    engine = _engine(_settings(database_url))
    articles = iter_articles(engine, since=parse_date(since, "--since"), include_duplicates=include_duplicates)
    handle = out.open("w", encoding="utf-8", newline="") if out else sys.stdout
    try:
        for line in export_lines(articles, as_csv=output is ExportFormat.csv):
            handle.write(line)
    finally:
        if out:
            handle.close()


@app.command()
def stats(
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    database_url: DatabaseOption = None,
) -> None:
    """Counts by feed, by element and by month, and stories versus copies."""
    from models.queries import stats as compute_stats

    result = compute_stats(_engine(_settings(database_url)))
    if output is OutputFormat.json:
        typer.echo(json.dumps(result.__dict__, ensure_ascii=False))
        return
    from rich.table import Table

    console = _console()
    console.print(
        f"articles: {result.articles}  stories: {result.stories} ({result.stories_with_copies} with copies)  "
        f"copies: {result.copies}  "
        f"by origin: {result.by_origin}",
        markup=False,
    )
    for title, rows in (
        ("by feed", result.by_feed),
        ("by element", result.by_element),
        ("by month", result.by_month),
    ):
        table = Table(title=title)
        table.add_column(title.split()[-1])
        table.add_column("articles", justify="right")
        for label, count in rows:
            table.add_row(str(label), str(count))
        console.print(table)


# Commands that live in their own modules (each imports its heavy libraries lazily, inside the command).
PLUGIN_COMMANDS = {
    "flows.cli_ops": ["serve", "backfill", "reprocess"],
    "flows.cli_extract": ["extract"],
    "flows.cli_analyst": ["report", "browse", "watch_app"],
    "flows.cli_dedup": ["dedup"],
    "flows.cli_web": ["web"],
}


def _register_plugins() -> None:
    import importlib

    for module_name, names in PLUGIN_COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        for name in names:
            target = getattr(module, name)
            if isinstance(target, typer.Typer):  # a command group, e.g. `watch add|list|remove`
                app.add_typer(target, name=name.removesuffix("_app").replace("_", "-"))
            else:
                app.command(name=name.replace("_", "-"))(target)


_register_plugins()


def main() -> None:
    """Entry point: user errors are one line and exit code 2, never a traceback."""
    from flows.settings import ConfigError

    try:
        app()
    except (UserError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise SystemExit(130) from None
    except Exception as exc:  # the store or a library failed: say what, not where
        from sqlalchemy.exc import SQLAlchemyError

        from models.db import DatabaseError

        if isinstance(exc, DatabaseError | SQLAlchemyError):
            reason = getattr(exc, "orig", None) or exc
            typer.echo(f"error: database: {str(reason).splitlines()[0]}", err=True)
            raise SystemExit(1) from None
        if isinstance(exc, OSError):
            typer.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from None
        raise


if __name__ == "__main__":
    main()
