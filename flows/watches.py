"""After each ingestion run: which new articles match each watch, and one digest per watch to its notification URL.

Delivery is at least once: a digest that fails is recorded with its reason and its articles go into the next
run's digest for that watch. Matches made while no notification URL is configured are reported in the run
summary only. A failed notification never fails the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from connectors import notify
from flows.settings import Settings
from models import watches
from transforms.report import render_digest


@dataclass
class WatchReport:
    """What one watch found in a run and what became of its digest."""

    watch: str
    new_articles: list[int] = field(default_factory=list)  # ids matched in this run
    titles: list[str] = field(default_factory=list)
    delivery: str = "unsent"  # "sent" | "failed" | "unsent" (no notification URL)
    digest_size: int = 0  # articles in the digest: this run's plus earlier failed ones
    error: str | None = None

    def describe(self) -> str:
        found = f"{len(self.new_articles)} new article{'s' if len(self.new_articles) != 1 else ''}"
        if self.delivery == "sent":
            return f"{found}; digest of {self.digest_size} sent"
        if self.delivery == "failed":
            return f"{found}; digest not sent ({self.error}); retried next run"
        return f"{found}; no notification URL set"


def after_run(
    engine: Engine, settings: Settings, article_ids: Sequence[int], *, run_id: int | None
) -> list[WatchReport]:
    """Match the run's new articles against every watch, then send each watch with something new its digest."""
    new = watches.record_matches(engine, article_ids, run_id=run_id)
    reports: list[WatchReport] = []
    for spec in watches.list_watches(engine):
        assert spec.id is not None
        waiting = watches.undelivered(engine, spec.id)
        if not waiting:
            continue
        fresh = set(new.get(spec.id, []))
        report = WatchReport(
            watch=spec.name,
            new_articles=sorted(fresh),
            titles=[article.title or article.url for article in waiting if article.id in fresh],
            digest_size=len(waiting),
        )
        ids = [article.id for article in waiting]
        url = spec.notify_url or settings.notify_url
        if not url:
            watches.mark_delivery(engine, spec.id, ids, delivery="unsent")
            report.digest_size = 0
        else:
            title, body = render_digest(spec.name, spec.describe(), waiting)
            try:
                notify.send(url, notify.Message(title=title, body=body))
            except notify.NotifyError as exc:
                report.delivery, report.error = "failed", str(exc)
                watches.mark_delivery(engine, spec.id, ids, delivery="failed", error=str(exc))
            else:
                report.delivery = "sent"
                watches.mark_delivery(engine, spec.id, ids, delivery="sent")
        reports.append(report)
    return reports
