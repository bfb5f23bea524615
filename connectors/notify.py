"""Send a message through apprise: one URL scheme per service (mailto://, slack://, ntfy://, json://, ...).

apprise (installed with Prefect) reports failure as a False return and log lines, not exceptions; this module
turns that into one `NotifyError` whose message is the reason apprise logged, so a caller can record it.
One attempt per call: the caller keeps what was not delivered and tries again later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

# A service that does not answer within these many seconds is a failed delivery, tried again next run.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0


class NotifyError(RuntimeError):
    """A message could not be delivered; the text says why in one line."""


@dataclass(frozen=True)
class Message:
    title: str
    body: str  # Markdown: services that render it do, the others get it as plain text


def _with_timeouts(url: str) -> str:
    """apprise reads connect/read timeouts from `cto` / `rto` URL parameters; ours apply unless the URL sets them."""
    separator = "&" if "?" in url else "?"
    extra = [
        f"{key}={value}" for key, value in (("cto", CONNECT_TIMEOUT), ("rto", READ_TIMEOUT)) if f"{key}=" not in url
    ]
    return url + separator + "&".join(extra) if extra else url


def check_url(url: str) -> None:
    """Raise NotifyError unless apprise knows the URL's scheme and can parse it (no network)."""
    import apprise

    if not apprise.Apprise().add(url.strip()):
        raise NotifyError(f"not a notification URL apprise understands: {redacted(url)}")


def send(url: str, message: Message) -> None:
    """Deliver one message to one apprise URL; NotifyError with the reason if it was not delivered."""
    import apprise

    notifier = apprise.Apprise()
    if not notifier.add(_with_timeouts(url.strip())):
        raise NotifyError(f"not a notification URL apprise understands: {redacted(url)}")
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        delivered = notifier.notify(title=message.title, body=message.body, body_format=apprise.NotifyFormat.MARKDOWN)
    if not delivered:
        lines = [line.strip() for line in captured.getvalue().splitlines() if line.strip()]
        reason = lines[-1] if lines else "the service did not accept the message"
        raise NotifyError(f"could not notify {redacted(url)}: {reason}")


def redacted(url: str) -> str:
    """The scheme and host only: apprise URLs often carry tokens and passwords."""
    scheme, _, rest = url.strip().partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}/..." if rest else scheme
