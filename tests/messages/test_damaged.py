"""Damaged evidence (an opening or a log entry gone or garbled) is a problem document
of type integrity-error, never a stack trace, and the auditors are alerted."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role, User
from pouch.ledger.sequencer import integrate
from pouch.ledger.store import LedgerOpening, TileCache
from pouch.messages.models import Notification
from tests.factories import World
from tests.messages.helpers import submit


def _alarms(database: Database) -> list[Notification]:
    with database.transaction(write=False) as session:
        return list(
            session.scalars(select(Notification).where(Notification.subject.like("%ALARM%")))
        )


def _auditor_with_mail(database: Database, world: World) -> None:
    with database.transaction() as session:
        session.execute(
            update(User)
            .where(User.id == world.users[Role.AUDITOR].id)
            .values(email="audit@mfa.example")
        )


def test_an_office_ledger_with_a_lost_opening_is_an_integrity_error_and_an_alarm(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    _auditor_with_mail(database, world)
    accepted = submit(database, clock, world)
    with database.transaction() as session:
        session.execute(
            text("DELETE FROM ledger_openings WHERE idx = :i"), {"i": accepted.ledger_index}
        )
    office = world.offices["president-elect"].id
    answer = app_client.get(f"/api/offices/{office}/ledger", headers=world.auth(Role.PRINCIPAL))
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/integrity-error"
    assert accepted.message.public_id in answer.json()["detail"]
    (alarm,) = _alarms(database)
    assert alarm.target == "audit@mfa.example"
    assert alarm.payload["path"] == f"/api/offices/{office}/ledger"


def test_a_garbled_opening_or_a_lost_entry_is_an_integrity_error(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world)
    public_id, index = accepted.message.public_id, accepted.ledger_index
    receipt = f"/api/messages/{public_id}/events/{index}/receipt"
    sender = world.auth(Role.SENDER)
    with database.transaction() as session:
        session.execute(
            update(LedgerOpening).where(LedgerOpening.idx == index).values(event=b"{not json")
        )
    garbled = app_client.get(receipt, headers=sender)
    assert garbled.status_code == 500 and garbled.json()["type"] == "/problems/integrity-error"
    assert f"opening of log entry {index} is damaged" in garbled.json()["detail"]


def test_a_checkpointed_entry_that_is_gone_is_an_integrity_error(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world)
    ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    integrate(
        database,
        signer=ledger.signer,
        origin=ledger.signer.verifier.name,
        clock=clock,
        cache=TileCache(),
    )
    with database.transaction() as session:
        session.execute(
            text("DELETE FROM ledger_entries WHERE idx = :i"), {"i": accepted.ledger_index}
        )
    receipt = app_client.get(
        f"/api/messages/{accepted.message.public_id}/events/{accepted.ledger_index}/receipt",
        headers=world.auth(Role.SENDER),
    )
    assert receipt.status_code == 500, receipt.text
    assert receipt.json()["type"] == "/problems/integrity-error"
