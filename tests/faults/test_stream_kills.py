"""A streaming run killed (SIGKILL) at a random point, then run again: exactly one clean run's rows.

Pages stream (fetched, judged and loaded in small transactions as they arrive), so a kill can land anywhere:
before the first load, between loads, in the middle of one, while pages are in flight or being judged. The
point is drawn at random each time (the seed is in the failure message): after the web has been asked for a
random number of pages, plus a random fraction of a page's delay.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import text

from tests.faults.conftest import backend_name, cli_env, fault_settings, feeds_toml, run_ingest
from tests.faults.report import audit
from tests.faults.stories import STORIES
from tests.faults.test_db_faults import (
    RUN_TIMEOUT,
    build_slow_web,
    finish,
    reference_url,
    run_cli,
    server,
    spawn,
    state,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
__all__ = ["reference_url", "server"]  # fixtures, shared with test_db_faults

PAGE_DELAY = 0.15


def test_streaming_run_killed_at_a_random_point_then_rerun_equals_one_clean_run(
    server: HTTPServer,
    database_url: str,
    reference_url: str,
    prefect_api_url: str,
    tmp_path: Path,
    record: Callable[..., None],
) -> None:
    from models.db import get_engine

    seed = int(os.environ.get("STREAM_KILL_SEED") or int.from_bytes(os.urandom(4), "big"))  # to replay a failure
    draw = random.Random(seed)
    stories = STORIES[:8]
    web = build_slow_web(server, stories, delay=PAGE_DELAY)
    feeds = feeds_toml(tmp_path / "feeds.toml", [(web.feed_url(), True)])
    env = cli_env(prefect_api_url, database_url=database_url, batch_size=2, fetch_retries=0)
    asked_before_kill = draw.randint(1, len(stories))
    extra = draw.uniform(0, 2 * PAGE_DELAY)

    process = spawn(["run", "--feeds", str(feeds)], env, tmp_path)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while len(web.asked) < asked_before_kill and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(extra)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    finally:
        returncode, _, err = finish(process)
    where = f"seed {seed}: killed after {len(web.asked)} pages asked (+{extra:.2f} s)"
    assert returncode in (0, -signal.SIGKILL), f"{where}: {err[-2000:]}"

    engine = get_engine(database_url)
    with engine.connect() as connection:
        loaded_before = connection.execute(text("SELECT COUNT(*) FROM seen_entry")).scalar_one()

    returncode, _, err = run_cli(["run", "--feeds", str(feeds)], env, tmp_path)
    assert returncode == 0, f"{where}: {err[-2000:]}"
    run_ingest(feeds, fault_settings(reference_url, batch_size=2, fetch_retries=0))
    after_kill, clean = state(engine), state(get_engine(reference_url))
    # A kill after the feed's last entry loaded (its validators with it) leaves a re-run that finds the feed
    # unchanged (304): its last status is 'not modified' where a clean run's is 'ok'; every other column matches.
    statuses = {row[3] for row in after_kill["feeds"]}
    assert statuses <= {"ok", "not modified"}, where
    feed = lambda rows: sorted(row[:3] + row[4:] for row in rows)  # noqa: E731
    assert feed(after_kill.pop("feeds")) == feed(clean.pop("feeds")), where
    assert after_kill == clean, where
    found = audit(engine, stored=web.titles, entries=web.entry_keys(), whole=True)
    assert found.lost == () and found.duplicated == (), where
    record(
        "SIGKILL at a random point of a streaming run, then run again",
        f"{where}, {loaded_before} of {len(web.entry_keys())} entries in the ledger; the re-run left the same "
        f"{sum(len(rows) for rows in clean.values())} rows as one clean run",
        backend=backend_name(database_url),
        found=found,
    )
