"""`rare-news dedup [--rebuild]`: check the stories of near-duplicate copies, or recompute them all.

Loads place every article in its story as it is stored (models/stories.py), so a rebuild is needed only after
the threshold changes (`RARE_NEWS_NEAR_DUPLICATE_THRESHOLD` or `--threshold`): it finds the copies of every
article through the band index, applies the canonical rule, writes what differs in transactions of whole
stories and shows a progress bar. Running it twice changes nothing the second time; a rebuild that is
stopped leaves consistent stories, and running it again finishes it. The band index is tuned for 0.8
(transforms/dedup.py): far lower thresholds find only some of the pairs that qualify (a pair at 0.5 is a
candidate about one time in sixteen).

Event stories (models/events.py) are checked and rebuilt too: a rebuild regroups every article from its text
and tags (after a taxonomy or rule change), keeping each event id for the new event that holds most of its
articles.
"""

from __future__ import annotations

from typing import Annotated

import typer


def dedup(
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Recompute every copy story (after a threshold change) and every event story. Safe to repeat.",
        ),
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="Jaccard similarity at which an article is a copy (default: RARE_NEWS_NEAR_DUPLICATE_THRESHOLD).",
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Database URL (default: RARE_NEWS_DATABASE_URL or SQLite)."),
    ] = None,
) -> None:
    """Copy stories and event stories: check them, or recompute them all with --rebuild."""
    from flows.cli import UserError, _engine, _settings
    from flows.progress import Reporter
    from models.events import check_events, rebuild_events
    from models.queries import stats
    from models.stories import check_stories, rebuild_stories

    if threshold is not None and not rebuild:
        raise UserError("--threshold applies to --rebuild: stories are recomputed at the new threshold")
    settings = _settings(database_url)
    engine = _engine(settings)
    if rebuild:
        threshold = settings.near_duplicate_threshold if threshold is None else threshold
        with Reporter.for_terminal() as reporter:
            result = rebuild_stories(engine, threshold, progress=reporter)
            events = rebuild_events(engine, progress=reporter)
        typer.echo(
            f"stories rebuilt at threshold {result.threshold:.2f}: {result.articles} articles, "
            f"{result.stories} stories, {result.copies} copies; {result.changed} articles changed "
            f"({result.seconds:.1f} s)"
        )
        typer.echo(
            f"events rebuilt: {events.articles} articles in {events.events} events; "
            f"{events.changed} articles changed event ({events.seconds:.1f} s)"
        )
        if result.unsettled:
            typer.echo(
                f"{result.unsettled} articles kept moving while a load ran: run `rare-news dedup --rebuild` again",
                err=True,
            )
        return
    with engine.connect() as connection:
        problems = check_stories(connection)
        event_problems = check_events(connection)
    counts = stats(engine)
    typer.echo(
        f"{counts.articles} articles in {counts.stories} stories "
        f"({counts.stories_with_copies} with copies, {counts.copies} copies)"
    )
    if problems:
        for problem in problems:
            typer.echo(f"article {problem.article_id} {problem.reason}", err=True)
        typer.echo("stories are inconsistent: run `rare-news dedup --rebuild`", err=True)
        raise typer.Exit(1)
    if event_problems:
        for event_problem in event_problems:
            typer.echo(event_problem.what, err=True)
        typer.echo("events are inconsistent: run `rare-news dedup --rebuild`", err=True)
        raise typer.Exit(1)
    typer.echo("stories are consistent")
    typer.echo("events are consistent")
