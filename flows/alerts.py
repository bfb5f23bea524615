"""Alerts: tell an operator, once, that a feed keeps failing or that runs stopped succeeding; and once when it ends.

Incidents live in the store (`alert`, models/ops.py): a check opens the ones it finds, resolves the ones that
ended, then sends what is not sent yet through the same apprise URL as watch digests (`RARE_NEWS_NOTIFY_URL`,
connectors/notify.py). A notification is marked sent before it goes out (so two services, or a restart, never
send it twice) and unmarked if the send fails (the next check tries again). With no URL set, incidents are
recorded and shown by /metrics only.

The same window (`max_run_age`) makes /healthz fail and opens the "no successful run" incident. Before any run
has succeeded, the window counts from the first run's start, else from when the monitor started: a new service
is not unhealthy for not having run yet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from connectors import notify
from connectors.notify import Message, NotifyError
from flows.settings import Settings
from models import ops

FEED_FAILING = "feed failing"
NO_SUCCESS = "no successful run"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def staleness(engine: Engine, settings: Settings, *, started_at: datetime, now: datetime | None = None) -> str | None:
    """None while an ingestion run succeeded within `max_run_age`; else one line saying since when none did."""
    now = now or datetime.now(UTC)
    window = timedelta(seconds=settings.max_run_age)
    last = ops.last_successful_run(engine)
    if last is not None:
        if now - last <= window:
            return None
        age = _ago((now - last).total_seconds())
        return f"no run succeeded in {_ago(window.total_seconds())}: the last one finished {age} ago"
    since = ops.first_run_started(engine) or started_at
    if now - since <= window:
        return None
    return f"no run has succeeded yet, {_ago((now - since).total_seconds())} after the first one started"


def _message(alert: ops.AlertRow, phase: str) -> Message:
    if alert.kind == FEED_FAILING:
        if phase == "opened":
            return Message(f"rare-news: feed failing: {alert.subject}", alert.detail or "")
        return Message(f"rare-news: feed recovered: {alert.subject}", "It was read again without an error.")
    if phase == "opened":
        return Message("rare-news: no successful run", alert.detail or "")
    return Message("rare-news: runs succeed again", "An ingestion run completed.")


def check_alerts(
    engine: Engine,
    settings: Settings,
    *,
    started_at: datetime,
    now: datetime | None = None,
    send: Callable[[str, Message], None] = notify.send,
) -> list[str]:
    """Open and resolve incidents from the store's state now, and send what is due; one line per thing done."""
    wanted: dict[tuple[str, str], str] = {}
    for feed in ops.failing_feeds(engine, settings.alert_feed_failures):
        wanted[(FEED_FAILING, feed.url)] = f"{feed.failures} failures in a row; the last: {feed.error or 'unknown'}"
    stale = staleness(engine, settings, started_at=started_at, now=now)
    if stale is not None:
        wanted[(NO_SUCCESS, "")] = stale
    lines: list[str] = []
    open_now = {(alert.kind, alert.subject): alert for alert in ops.open_alerts(engine)}
    for key, detail in wanted.items():
        if key not in open_now:
            ops.open_alert(engine, key[0], key[1], detail)
            lines.append(f"alert: {key[0]}{': ' + key[1] if key[1] else ''}: {detail}")
    for key, alert in open_now.items():
        if key not in wanted:
            ops.resolve_alert(engine, alert.id)
            lines.append(f"alert resolved: {key[0]}{': ' + key[1] if key[1] else ''}")
    if not settings.notify_url:
        return lines
    for alert, phase in ops.alerts_to_notify(engine):
        if not ops.claim_notification(engine, alert.id, phase):
            continue  # another service sent it
        try:
            send(settings.notify_url, _message(alert, phase))
        except NotifyError as exc:
            ops.release_notification(engine, alert.id, phase, str(exc))
            lines.append(f"alert not sent ({exc}); tried again at the next check")
    return lines
