"""/metrics (Prometheus text format) and /healthz, read from the store, and the monitor that serves them.

Runs execute in other processes (serve's children, workers on other machines), so nothing here counts in
memory: every figure is read from the database at scrape time (models/ops.py). A run keeps its requests'
latency and bytes as histograms per outcome (`FetchStats`, the Fetcher's observer) and stores them with its
`run` row; a scrape adds up the runs finished since the scrape before. Miniflux's metrics are the model.

`Monitor` is what `rare-news serve` runs beside the deployments: an HTTP server on `metrics_host:metrics_port`
answering /metrics and /healthz, and a thread checking alerts once a minute (flows/alerts.py).
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from connectors.http import FetchObservation
from flows.settings import Settings
from models import ops

PREFIX = "rare_news"
# Bucket upper bounds: seconds of one request (body included), and bytes of its body after decoding.
SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BYTES_BUCKETS = (1_000, 10_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 5_000_000, 10_000_000)
ALERT_CHECK_SECONDS = 60.0


# --- a run's requests, as histograms ---------------------------------------------------------------------------


@dataclass
class Histogram:
    """Counts per bucket (the last one is +Inf), not cumulative, and the sum of the values."""

    counts: list[int]
    total: float = 0.0

    def observe(self, bounds: tuple[float, ...], value: float) -> None:
        self.counts[bisect.bisect_left(bounds, value)] += 1
        self.total += value

    def add(self, other: dict[str, Any]) -> None:
        for index, count in enumerate(other.get("counts", [])[: len(self.counts)]):
            self.counts[index] += int(count)
        self.total += float(other.get("sum", 0.0))

    def as_json(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "sum": round(self.total, 6)}

    def cumulative(self, bounds: tuple[float, ...]) -> list[tuple[str, float]]:
        from prometheus_client.utils import floatToGoString  # the client's own spelling of `le` labels

        running, buckets = 0, []
        for bound, count in zip((*map(floatToGoString, bounds), "+Inf"), self.counts, strict=True):
            running += count
            buckets.append((bound, float(running)))
        return buckets


def _empty(bounds: tuple[float, ...]) -> Histogram:
    return Histogram([0] * (len(bounds) + 1))


@dataclass
class FetchStats:
    """The Fetcher's observer for one run: latency and bytes per outcome ("ok", "not modified", an error's name).

    Called from the fetch threads; `as_json()` is what the run stores with its row (models.store.finish_run)."""

    seconds: dict[str, Histogram] = field(default_factory=dict)
    sizes: dict[str, Histogram] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, observation: FetchObservation) -> None:
        with self.lock:
            outcome = observation.outcome
            self.seconds.setdefault(outcome, _empty(SECONDS_BUCKETS)).observe(SECONDS_BUCKETS, observation.seconds)
            self.sizes.setdefault(outcome, _empty(BYTES_BUCKETS)).observe(BYTES_BUCKETS, observation.bytes)

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "seconds": {outcome: h.as_json() for outcome, h in self.seconds.items()},
                "bytes": {outcome: h.as_json() for outcome, h in self.sizes.items()},
            }

    def add(self, stored: dict[str, Any]) -> None:
        """Add a stored run's histograms (a scrape's running total over all runs)."""
        with self.lock:
            for outcome, histogram in (stored.get("seconds") or {}).items():
                self.seconds.setdefault(outcome, _empty(SECONDS_BUCKETS)).add(histogram)
            for outcome, histogram in (stored.get("bytes") or {}).items():
                self.sizes.setdefault(outcome, _empty(BYTES_BUCKETS)).add(histogram)


# --- /metrics ----------------------------------------------------------------------------------------------------


class StoreCollector:
    """A prometheus-client collector whose every figure comes from the store at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fetches = FetchStats()
        self._floor = 0  # runs below this id are counted in _fetches; at and above it, those in _counted are
        self._counted: set[int] = set()
        self._lock = threading.Lock()

    def _fetch_totals(self) -> FetchStats:
        with self._lock:
            # Where the next scrape starts: a run still running may finish after runs with larger ids. Taken
            # before the read, so a run finishing meanwhile is either read now or read next time, never lost.
            floor = ops.oldest_running_run(self.engine)
            for run_id, stats in ops.fetch_stats_after(self.engine, self._floor - 1):
                if run_id not in self._counted:
                    self._fetches.add(stats)
                    self._counted.add(run_id)
            self._floor = max(self._floor, floor)
            self._counted = {run_id for run_id in self._counted if run_id >= self._floor}
            return self._fetches

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        figures = ops.store_figures(self.engine)
        runs = GaugeMetricFamily(f"{PREFIX}_runs", "Runs in the store, by flow and status.", labels=["flow", "status"])
        for (flow, status), count in sorted(figures.runs.items()):
            runs.add_metric([flow, status], count)
        yield runs
        last = GaugeMetricFamily(
            f"{PREFIX}_last_successful_run_timestamp_seconds",
            "When the last ingestion run that completed finished (Unix time; 0: never).",
        )
        last.add_metric([], figures.last_success_at.timestamp() if figures.last_success_at else 0.0)
        yield last
        articles = GaugeMetricFamily(f"{PREFIX}_articles", "Articles stored, by origin.", labels=["origin"])
        for origin, count in sorted(figures.articles.items()):
            articles.add_metric([origin], count)
        yield articles
        entries = GaugeMetricFamily(f"{PREFIX}_entries", "Feed entries in the ledger, by status.", labels=["status"])
        for status, count in sorted(figures.entries.items()):
            entries.add_metric([status], count)
        yield entries
        yield GaugeMetricFamily(f"{PREFIX}_feeds", "Enabled feeds.", value=figures.feeds)
        yield GaugeMetricFamily(
            f"{PREFIX}_feeds_failing", "Enabled feeds whose last poll failed.", value=figures.feeds_failing
        )
        alerts = GaugeMetricFamily(f"{PREFIX}_alerts_open", "Open incidents, by kind.", labels=["kind"])
        for kind, count in sorted(figures.alerts_open.items()):
            alerts.add_metric([kind], count)
        yield alerts
        fetches = self._fetch_totals()
        with fetches.lock:
            yield _histogram(
                HistogramMetricFamily(
                    f"{PREFIX}_fetch_duration_seconds",
                    "Time of one HTTP request, body included, by outcome.",
                    labels=["outcome"],
                ),
                fetches.seconds,
                SECONDS_BUCKETS,
            )
            yield _histogram(
                HistogramMetricFamily(
                    f"{PREFIX}_fetch_bytes",
                    "Body bytes of one HTTP request after decoding, by outcome.",
                    labels=["outcome"],
                ),
                fetches.sizes,
                BYTES_BUCKETS,
            )


def _histogram(family: Any, histograms: dict[str, Histogram], bounds: tuple[float, ...]) -> Any:
    for outcome, histogram in sorted(histograms.items()):
        family.add_metric([outcome], histogram.cumulative(bounds), sum_value=histogram.total)
    return family


def metrics_text(collector: StoreCollector) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)  # type: ignore[arg-type]  # a collector by protocol
    return generate_latest(registry)


# --- the monitor: /metrics, /healthz and the alert checks ---------------------------------------------------------


@dataclass
class Monitor:
    """The HTTP server and the alert thread; `stop()` ends both."""

    engine: Engine
    settings: Settings
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    check_alerts: bool = True
    _server: ThreadingHTTPServer | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def address(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        return f"http://{self.settings.metrics_host}:{port}"

    def start(self, announce: Callable[[str], None] = print) -> Monitor:
        from flows.alerts import check_alerts

        collector = StoreCollector(self.engine)
        self._server = ThreadingHTTPServer(
            (self.settings.metrics_host, self.settings.metrics_port), _handler(self, collector)
        )
        self._server.daemon_threads = True
        serving = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._threads.append(serving)
        if self.check_alerts:

            def alert_loop() -> None:
                while not self._stop.is_set():
                    try:
                        for line in check_alerts(self.engine, self.settings, started_at=self.started_at):
                            announce(line)
                    except Exception as exc:  # noqa: BLE001 - a check that fails is tried again next minute
                        announce(f"alerts: check failed: {one_line(exc)}")
                    self._stop.wait(ALERT_CHECK_SECONDS)

            self._threads.append(threading.Thread(target=alert_loop, name="alerts", daemon=True))
        for thread in self._threads:
            thread.start()
        announce(f"metrics: {self.address}/metrics, health: {self.address}/healthz")
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)

    def health(self) -> tuple[bool, str]:
        from flows.alerts import staleness

        try:
            problem = staleness(self.engine, self.settings, started_at=self.started_at)
        except Exception as exc:  # noqa: BLE001 - an unreachable store is an unhealthy service, said in one line
            return False, f"database: {one_line(exc)}"
        return (False, problem) if problem else (True, "ok")


def _handler(monitor: Monitor, collector: StoreCollector) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "rare-news"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                from prometheus_client import CONTENT_TYPE_LATEST

                try:
                    body, status, kind = metrics_text(collector), 200, CONTENT_TYPE_LATEST
                except Exception as exc:  # noqa: BLE001 - a scrape that cannot read the store says why
                    body, status, kind = f"database: {one_line(exc)}\n".encode(), 503, "text/plain; charset=utf-8"
            elif path == "/healthz":
                healthy, line = monitor.health()
                body, status, kind = (line + "\n").encode(), 200 if healthy else 503, "text/plain; charset=utf-8"
            else:
                body, status, kind = b"not found: try /metrics or /healthz\n", 404, "text/plain; charset=utf-8"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def one_line(exc: BaseException) -> str:
    reason = getattr(exc, "orig", None) or exc
    lines = str(reason).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
