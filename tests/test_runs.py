"""Run rows: a run claims its own row while it works; a row left running by a process that is gone is
marked abandoned by the next run, and a live one is left alone."""

from __future__ import annotations

from sqlalchemy import text

from models import store
from models.db import get_engine, migrate
from models.ops import ABANDONED_REASON, FeedClaims, close_abandoned_runs


def _status(engine, run_id: int) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        row = connection.execute(text("SELECT status, error FROM run WHERE id = :id"), {"id": run_id}).one()
    return row[0], row[1]


def test_a_run_left_running_by_a_gone_process_is_marked_abandoned_and_a_live_one_is_not(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    killed = store.start_run(engine, "ingest")  # as a process that died: its claim went with it
    alive_claims = FeedClaims(engine)  # another process, still working
    alive = store.start_run(engine, "ingest", before_commit=alive_claims.hold_run)
    mine = FeedClaims(engine)
    me = store.start_run(engine, "ingest", before_commit=mine.hold_run)
    try:
        assert close_abandoned_runs(engine, mine) == [killed]
        assert _status(engine, killed) == ("abandoned", ABANDONED_REASON)
        assert _status(engine, alive)[0] == "running"
        assert _status(engine, me)[0] == "running"
        alive_claims.release()  # that process stops without finishing its row
        assert close_abandoned_runs(engine, mine) == [alive]
        assert close_abandoned_runs(engine, mine) == []  # probing took nothing away from this run
        assert _status(engine, me)[0] == "running"
    finally:
        mine.release()
        alive_claims.release()


def test_a_finished_run_is_never_marked_abandoned(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine)
    done = store.start_run(engine, "ingest")
    store.finish_run(engine, done, status="completed", counts={})
    claims = FeedClaims(engine)
    try:
        assert close_abandoned_runs(engine, claims) == []
        assert _status(engine, done) == ("completed", None)
    finally:
        claims.release()


def test_sqlite_run_lock_files_go_with_their_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = get_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    migrate(engine)
    killed = store.start_run(engine, "ingest")
    claims = FeedClaims(engine)
    store.start_run(engine, "ingest", before_commit=claims.hold_run)
    directory = tmp_path / "runs.db-claims"
    assert [path.name for path in directory.iterdir()] == ["run-2.lock"]
    assert close_abandoned_runs(engine, claims) == [killed]
    assert [path.name for path in directory.iterdir()] == ["run-2.lock"]
    claims.release()
    assert list(directory.iterdir()) == []
