"""Deployments: the ingestion on its cron schedule, backfill and reprocess on demand.

`rare-news serve` serves them from this process (`prefect.serve`) against whatever Prefect API is configured
(`PREFECT_API_URL`, or an ephemeral server when unset). `rare-news serve --work-pool NAME` registers them on a
work pool instead and exits, so `prefect worker start --pool NAME` processes on other machines run them;
`prefect.yaml` declares the same deployments for `prefect deploy --all`. One name everywhere: the
deployments are `scheduled-ingest/rare-news`, `backfill/rare-news` and `reprocess/rare-news`.

The scheduled flow is a thin wrapper: it reads the settings where it runs (environment, settings.toml) and
calls `ingest` as a subflow on the task runner those settings name (threads, or Dask through prefect-dask),
so a deployment's parameters stay plain JSON.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from prefect import flow

from flows.backfill import backfill
from flows.ingest import ingest_flow
from flows.metrics import Monitor
from flows.reprocess import reprocess
from flows.settings import Settings, get_settings

DEPLOYMENT_NAME = "rare-news"
WORK_POOL = "rare-news"
TAGS = ["rare-news"]


@flow(name="scheduled-ingest", log_prints=False)
def scheduled_ingest(force: bool = False) -> dict[str, Any]:
    """One ingestion run with the settings of the machine it runs on; returns the run's summary."""
    settings = get_settings()
    summary = ingest_flow(settings)(settings=settings, force=force)
    return dict(summary.as_dict())


def deployments(settings: Settings) -> list[Any]:
    """The three deployments: ingestion on `settings.schedule_cron`, backfill and reprocess on demand."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.deployments.runner import EntrypointType

    # Module entrypoints: the flows are found in the installed package, whatever directory a worker runs in.
    common: dict[str, Any] = {"entrypoint_type": EntrypointType.MODULE_PATH, "tags": TAGS}
    schedule = CronSchedule(cron=settings.schedule_cron, timezone=settings.schedule_timezone)
    return [
        scheduled_ingest.to_deployment(
            name=DEPLOYMENT_NAME,
            schedules=[schedule],
            description=f"Poll the feeds and store new rare-earth articles ({settings.schedule_cron}).",
            **common,
        ),
        backfill.to_deployment(
            name=DEPLOYMENT_NAME,
            description="Fill a date window from a site's sitemaps, a feed's older pages or a file of URLs.",
            **common,
        ),
        reprocess.to_deployment(
            name=DEPLOYMENT_NAME,
            description="Re-extract and re-tag stored articles with the current code and taxonomy (no network).",
            **common,
        ),
    ]


def start_monitor(settings: Settings, announce: Callable[[str], None], *, required: bool = False) -> Monitor | None:
    """/metrics, /healthz and the alert checks on `metrics_host:metrics_port` (flows/metrics.py); None when
    the port is 0, or (unless `required`) when it cannot be had: serving runs matters more than its metrics."""
    from models.db import get_engine

    if not settings.metrics_port:
        return None
    monitor = Monitor(get_engine(settings.database_url), settings)
    try:
        return monitor.start(announce)
    except OSError as exc:
        where = f"{settings.metrics_host}:{settings.metrics_port}"
        if required:
            raise OSError(f"metrics: cannot listen on {where}: {exc.strerror or exc}") from None
        announce(f"metrics: cannot listen on {where} ({exc.strerror or exc}); serving without /metrics")
        return None


def serve(settings: Settings, announce: Callable[[str], None] = print) -> None:
    """Serve the deployments from this process until it is stopped (Ctrl-C, SIGTERM), with the monitor beside
    them (/metrics, /healthz, alerts).

    Without `PREFECT_API_URL`, a local server is started here and named in this process's environment, so the
    runs serve starts (child processes) report to it too; left to themselves, each would start its own
    temporary server and the served one would never see them finish. Serve stops before that server does.
    """
    monitor = start_monitor(settings, announce)
    try:
        _serve(settings, announce)
    finally:
        if monitor is not None:
            monitor.stop()


def monitor_until_stopped(settings: Settings, announce: Callable[[str], None] = print) -> None:
    """Only the monitor, until SIGTERM or Ctrl-C: for `serve --work-pool ... --monitor`, where workers run the
    flows and this process watches the store they write."""
    import signal
    import threading

    monitor = start_monitor(settings, announce, required=True)
    stopped = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stopped.set()) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        stopped.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if monitor is not None:
            monitor.stop()


def _serve(settings: Settings, announce: Callable[[str], None]) -> None:
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        announce(f"Prefect API: {PREFECT_API_URL.value()}")
        prefect_serve(*deployments(settings), print_starting_message=False)
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url
    announce(f"Prefect API: {server.api_url} (a local server; it stops with serve)")
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            prefect_serve(*deployments(settings), print_starting_message=False)
    finally:
        server.stop()


def register(settings: Settings, work_pool: str) -> list[str]:
    """Register the deployments on `work_pool` (a process pool, created if missing); their full names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, suppress(ObjectAlreadyExists):
        client.create_work_pool(WorkPoolCreate(name=work_pool, type="process"))
    names: list[str] = []
    for deployment in deployments(settings):
        deployment.apply(work_pool_name=work_pool)
        names.append(f"{deployment.flow_name}/{deployment.name}")
    return names
