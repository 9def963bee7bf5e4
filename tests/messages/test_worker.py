"""The deadline worker never dies of one bad row, and says when it is not keeping up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from pouch.app import create_app
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.events import EventKind
from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from pouch.messages import worker
from pouch.messages.models import Message, MessageState, WorkFailure
from pouch.settings import Settings
from tests.factories import World
from tests.messages.helpers import submit


def _damage(database: Database, public_id: str) -> None:
    """A row the ORM cannot load: a precedence no version of Pouch ever wrote."""
    with database.transaction() as session:
        session.execute(
            text("UPDATE messages SET precedence = 'BOGUS' WHERE public_id = :id"),
            {"id": public_id},
        )


def _states(database: Database, *public_ids: str) -> list[str]:
    with database.transaction(write=False) as session:
        return [
            session.execute(
                text("SELECT state FROM messages WHERE public_id = :id"), {"id": public_id}
            ).scalar_one()
            for public_id in public_ids
        ]


def test_one_row_the_orm_cannot_load_stops_no_other_delivery(
    database: Database, clock: ManualClock, world: World
) -> None:
    first, bad, last = (submit(database, clock, world).message.public_id for _ in range(3))
    _damage(database, bad)
    clock.advance(timedelta(hours=3))  # past every triage window (ROUTINE: 2 h)
    with database.transaction() as session:
        done = worker.run_due(session, now=clock.now())
    assert (done.delivered, done.failed) == (2, 1)
    assert _states(database, first, bad, last) == ["delivered", "accepted", "delivered"]
    with database.transaction(write=False) as session:
        (failure,) = worker.open_failures(session)
        assert failure.job == "deliver" and failure.attempts == 1
        assert "BOGUS" in failure.error
        # The failure is in the log, for auditors to read.
        opening = ledger_service.opening(session, failure.ledger_index)
        assert opening is not None and opening.event["kind"] == EventKind.WORKER_FAILED
        assert opening.event["job"] == "deliver"
    # Skipped until its retry is due, then tried again; still failing, still recorded.
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).failed == 0
    clock.advance(timedelta(minutes=2))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).failed == 1
    with database.transaction(write=False) as session:
        (failure,) = worker.open_failures(session)
        assert failure.attempts == 2


def test_a_repaired_row_is_delivered_and_its_failure_closed(
    database: Database, clock: ManualClock, world: World
) -> None:
    public_id = submit(database, clock, world).message.public_id
    _damage(database, public_id)
    clock.advance(timedelta(hours=3))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).failed == 1
    with database.transaction() as session:
        session.execute(
            text("UPDATE messages SET precedence = 'ROUTINE' WHERE public_id = :id"),
            {"id": public_id},
        )
    clock.advance(timedelta(hours=1))
    with database.transaction() as session:
        done = worker.run_due(session, now=clock.now())
    assert done.delivered == 1 and done.failed == 0
    with database.transaction(write=False) as session:
        assert worker.open_failures(session) == []
        closed = session.scalars(select(WorkFailure)).one()
        assert closed.resolved_at == clock.now()
        message = session.scalars(select(Message).where(Message.public_id == public_id)).one()
        assert message.state == MessageState.DELIVERED


def test_readyz_says_503_when_the_worker_has_not_finished_a_round_for_three_intervals(
    settings: Settings, fresh_database: Database, clock: ManualClock
) -> None:
    # A database of its own: the background threads each take a connection.
    app = create_app(settings, database=fresh_database, clock=clock, background=True)
    with TestClient(app) as client:
        # Background work started; the clock does not move by itself, so no round is late.
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["background"]) == {"worker", "outbox", "integrity"}
        app.state.worker.stop()  # the worker dies (its thread ends)
        app.state.worker.run_once()
        app.state.outbox.run_once()
        clock.advance(settings.worker_interval * 3)
        assert client.get("/readyz").status_code == 200
        clock.advance(timedelta(seconds=1))
        late = client.get("/readyz")
        assert late.status_code == 503
        assert late.headers["content-type"] == "application/problem+json"
        assert any(p.startswith("worker: no round finished") for p in late.json()["problems"])


def test_metrics_count_what_operators_are_alerted_to(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    submit(database, clock, world)
    bad = submit(database, clock, world).message.public_id
    _damage(database, bad)
    clock.advance(timedelta(hours=3))
    with database.transaction() as session:
        worker.run_due(session, now=clock.now())
    body = app_client.get("/metrics").text
    assert "pouch_messages_accepted_total 2.0" in body
    assert "pouch_messages_delivered_total 1.0" in body
    assert "pouch_messages_overdue_total 0.0" in body
    assert "pouch_worker_failures_open 1.0" in body
    (failure,) = app_client.get("/api/worker/failures", headers=world.auth(Role.AUDITOR)).json()
    assert failure["job"] == "deliver" and "BOGUS" in failure["error"]
    assert "pouch_write_transaction_seconds_count" in body


def test_a_round_works_in_short_batches_and_leaves_nothing_due(
    database: Database, clock: ManualClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However much falls due at once, a round holds the writer for one batch at a time
    (acceptance takes its turn between them), and still does all of it."""
    public_ids = [submit(database, clock, world).message.public_id for _ in range(7)]
    bad = public_ids[3]
    _damage(database, bad)
    clock.advance(timedelta(hours=3))
    writes: list[float] = []
    database.observers.append(lambda write, held: writes.append(held) if write else None)
    # Between two batches the worker pauses as long as the last held the writer
    # (at most MAX_PAUSE), so that a writer waiting meanwhile gets in first.
    pauses: list[float] = []
    monkeypatch.setattr(worker.time, "sleep", pauses.append)
    done = worker.run_due_in_batches(database, clock=clock, batch=2)
    assert (done.delivered, done.failed) == (6, 1)
    assert len(writes) == 4  # 2 + 2 + 2 (one of them failing) + 1: four transactions
    assert len(pauses) == 3, "a pause after each batch but the last"
    for pause, held in zip(pauses, writes[:3], strict=True):
        assert min(held, worker.MAX_PAUSE) <= pause <= worker.MAX_PAUSE
    assert _states(database, *public_ids).count("delivered") == 6
    # Nothing left to do: the next round takes one transaction and finds nothing.
    writes.clear()
    assert worker.run_due_in_batches(database, clock=clock, batch=2) == worker.Done(0, 0, 0)
    assert len(writes) == 1
