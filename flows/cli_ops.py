"""`rare-news serve | backfill | reprocess`: operating the service (README "Operating it").

Each command is a few lines over flows the tests also call (flows/deploy.py, flows/backfill.py,
flows/reprocess.py). Prefect and the pipeline are imported inside the commands, so `rare-news --help` stays fast.
"""

from __future__ import annotations

import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: RARE_NEWS_DATABASE_URL or SQLite)."),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's own logs.")]


class SourceChoice(StrEnum):
    sitemap = "sitemap"
    feed_pages = "feed-pages"
    urls = "urls"


class WhatChoice(StrEnum):
    extract = "extract"
    tag = "tag"
    relevance = "relevance"
    all = "all"


def serve(
    work_pool: Annotated[
        str | None,
        typer.Option(
            "--work-pool",
            help="Register the deployments on this Prefect work pool for `prefect worker`s, and exit.",
        ),
    ] = None,
    cron: Annotated[
        str | None,
        typer.Option(help="Cron schedule of the ingestion (default: RARE_NEWS_SCHEDULE_CRON, every 30 min)."),
    ] = None,
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor",
            help="With --work-pool: after registering, keep serving /metrics, /healthz and alerts until stopped.",
        ),
    ] = False,
    verbose: VerboseOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Serve the ingestion on its cron schedule, with backfill and reprocess on demand, until stopped; /metrics
    and /healthz on RARE_NEWS_METRICS_PORT (9108)."""
    from flows.cli import UserError, _settings
    from flows.common import quiet_prefect

    quiet_prefect(verbose)
    if database_url:
        os.environ["RARE_NEWS_DATABASE_URL"] = database_url  # read by the served runs, in their own processes
    if cron:
        os.environ["RARE_NEWS_SCHEDULE_CRON"] = cron
    settings = _settings(database_url)
    _check_cron(settings.schedule_cron, settings.schedule_timezone, UserError)
    from flows import deploy

    if work_pool:
        names = deploy.register(settings, work_pool)
        typer.echo(f"registered on work pool {work_pool!r}: {', '.join(names)}")
        typer.echo(f"start a worker with: prefect worker start --pool {work_pool}")
        if monitor:
            from flows.common import prepare_store

            prepare_store(settings)  # the store the monitor reads is on the newest schema
            deploy.monitor_until_stopped(settings, announce=lambda line: typer.echo(line, err=True))
        return
    from flows.common import prepare_store

    engine = prepare_store(settings)  # fail now, not at the first scheduled run, if the store is unusable
    typer.echo(
        f"serving scheduled-ingest/{deploy.DEPLOYMENT_NAME} ({settings.schedule_cron} {settings.schedule_timezone}), "
        f"backfill/{deploy.DEPLOYMENT_NAME} and reprocess/{deploy.DEPLOYMENT_NAME} "
        f"into {engine.url.render_as_string()}; Ctrl-C stops",
        err=True,
    )
    deploy.serve(settings, announce=lambda line: typer.echo(line, err=True))


def _check_cron(cron: str, timezone: str, error: type[Exception]) -> None:
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except (ValidationError, ValueError) as exc:
        raise error(f"bad schedule {cron!r} ({timezone}): {str(exc).splitlines()[-1].strip()}") from None


def backfill(
    since: Annotated[str, typer.Option("--since", help="Fill articles published on or after this date (YYYY-MM-DD).")],
    until: Annotated[str | None, typer.Option(help="...and before this date (YYYY-MM-DD); default: now.")] = None,
    source: Annotated[
        SourceChoice | None,
        typer.Option(help="sitemap (default with --site), feed-pages (a feed's ?paged=N pages), urls (--file)."),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(help="A site's root (sitemaps found via robots.txt), a sitemap's URL, or a feed's URL."),
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", help="A file of URLs, one a line (--source urls).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be fetched; fetch no article.")] = False,
    verbose: VerboseOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Fill history the feeds no longer show; resumable, polite, with a summary at the end."""
    from flows.cli import UserError, _settings
    from flows.common import quiet_prefect

    quiet_prefect(verbose)
    settings = _settings(database_url)
    from flows.backfill import backfill as backfill_flow
    from flows.backfill import make_request
    from flows.progress import Reporter
    from flows.settings import ConfigError

    try:
        make_request(
            since=since, until=until, source=source.value if source else None, site=site, file=file
        )  # a mistake is one line now, before Prefect starts
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    summary = backfill_flow(
        since=since,
        until=until,
        source=source.value if source else None,
        site=site,
        file=str(file) if file else None,
        dry_run=dry_run,
        settings=settings,
        reporter=Reporter.for_terminal(),
    )
    if dry_run:
        for url, published in summary.would_fetch:
            typer.echo(f"{_day(published)}  {url}")
    _print_backfill(summary)
    if summary.documents_read == 0 and summary.problems:
        url, reason = summary.problems[0]
        raise UserError(f"nothing could be read from {summary.target} ({url}: {reason})")


def _day(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated   "


def _print_backfill(summary: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    window = f"{summary.since.date()} .. {summary.until.date() if summary.until else 'now'}"
    title = f"Backfill {summary.source} {summary.target} ({window})" + (" - dry run" if summary.dry_run else "")
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, int]] = [
        ("sitemaps or feed pages read", summary.documents_read),
        ("pages in the window", summary.candidates),
        ("outside the window (not fetched)", summary.outside_window),
        ("done by an earlier backfill", summary.already_done),
        ("stored already (not fetched)", summary.already_stored),
    ]
    if summary.dry_run:
        rows.append(("would be fetched", len(summary.would_fetch)))
    else:
        rows += [
            ("pages fetched", summary.pages_fetched),
            ("articles stored", summary.articles_stored),
            ("near duplicates (stored, linked)", summary.near_duplicates),
            ("duplicates (not stored)", summary.duplicates),
            ("irrelevant", summary.irrelevant),
            ("page dated outside the window", summary.skipped),
            ("failed", summary.failed),
        ]
    rows.append(("sources not readable", len(summary.problems)))
    for label, value in rows:
        table.add_row(label, str(value))
    Console(highlight=False, soft_wrap=False).print(table)


def reprocess(
    since: Annotated[
        str | None, typer.Option(help="Only articles published on or after this date (YYYY-MM-DD).")
    ] = None,
    what: Annotated[
        WhatChoice, typer.Option(help="extract (from the stored HTML), tag, relevance, or all.")
    ] = WhatChoice.all,
    force: Annotated[
        bool, typer.Option(help="Also articles processed with today's extractor and taxonomy already.")
    ] = False,
    verbose: VerboseOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Re-extract and/or re-tag stored articles with the current code and taxonomy, without any network."""
    from flows.cli import UserError, _settings
    from flows.common import quiet_prefect

    quiet_prefect(verbose)
    settings = _settings(database_url)
    from flows.settings import parse_date

    parse_date(since, "--since")  # a bad date is one line, before Prefect starts
    from flows.progress import Reporter
    from flows.reprocess import reprocess as reprocess_flow
    from flows.settings import ConfigError

    try:
        summary = reprocess_flow(
            since=since, what=what.value, force=force, settings=settings, reporter=Reporter.for_terminal()
        )
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    _print_reprocess(summary)


def _print_reprocess(summary: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Reprocess ({summary.what}), taxonomy {summary.taxonomy_version}", header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in (
        ("articles read", summary.articles_seen),
        ("current already (skipped)", summary.already_current),
        ("revised", summary.revised),
        ("re-extracted", summary.re_extracted),
        ("re-tagged", summary.retagged),
        ("re-scored", summary.rescored),
        ("no stored page (text kept)", summary.no_raw_page),
        ("no text from the stored page (kept)", summary.extraction_failed),
        ("now under the relevance threshold (kept)", summary.below_threshold),
        ("would duplicate another article (left)", len(summary.conflicts)),
    ):
        table.add_row(label, str(value))
    Console(highlight=False, soft_wrap=False).print(table)
