"""The message path through HTTP after its acceptance: status, holds, inbox,
replies, office check (signed submission itself: tests/intake/test_api.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.ledger.note import Ed25519Verifier
from pouch.ledger.service import Ledger
from pouch.messages import acceptance, holds, worker
from pouch.messages.models import Message
from pouch.messages.rules import DEFAULT_TIMETABLE
from tests.factories import World, make_token, make_user
from tests.intake.helpers import Sender, payload, problem_detail, register_sender
from tests.messages.helpers import route, submit


@pytest.fixture
def sender(app_client: TestClient, database: Database, clock: ManualClock, world: World) -> Sender:
    return register_sender(app_client, database, clock, world)


def test_the_whole_path_with_a_hold(
    app_client: TestClient, sender: Sender, world: World, database: Database, clock: ManualClock
) -> None:
    created = sender.submit(payload(world)).json()
    mid = created["id"]
    watch = world.auth(Role.WATCH_OFFICER)
    queue = app_client.get("/api/queue", headers=watch).json()
    assert [m["id"] for m in queue] == [mid]
    hold = app_client.post(
        f"/api/messages/{mid}/holds",
        json={"reason": "verify", "duration_minutes": 60},
        headers=watch,
    )
    assert hold.status_code == 201, hold.text
    hold_id = hold.json()["id"]
    refused = app_client.post(f"/api/messages/{mid}/holds/{hold_id}/approve", headers=watch)
    assert problem_detail(refused, 403, "permission-denied").startswith(
        "a hold must be approved by a second officer"
    )
    with database.transaction() as session:
        second = make_user(
            session, clock, "watch-two", [(Role.WATCH_OFFICER, world.offices["ops"])]
        )
        second_token = make_token(session, clock, second, Role.WATCH_OFFICER, world.offices["ops"])
    approved = app_client.post(
        f"/api/messages/{mid}/holds/{hold_id}/approve",
        headers={"Authorization": f"Bearer {second_token}"},
    )
    assert approved.json()["status"] == "active"
    status = app_client.get(f"/api/messages/{mid}/status", headers=world.auth(Role.SENDER)).json()
    assert status["message"]["held"].startswith(
        "held since 2026-11-05T14:00:00.000Z, by Office ops, until"
    )
    inbox = app_client.get(
        f"/api/offices/{world.offices['president-elect'].id}/inbox",
        headers=world.auth(Role.PRINCIPAL),
    ).json()
    assert inbox[0]["state"] == "held" and inbox[0]["held"] == status["message"]["held"]
    # Held means not delivered: the addressee sees that it exists, not what it says.
    assert inbox[0]["body_text"] == "" and status["message"]["body_text"] != ""
    # The principal cannot read it yet; expiry delivers it.
    principal = world.auth(Role.PRINCIPAL)
    assert app_client.post(f"/api/messages/{mid}/read", headers=principal).status_code == 409
    clock.advance(timedelta(hours=1))
    with database.transaction() as session:
        worker.run_due(session, now=clock.now())
    assert app_client.post(f"/api/messages/{mid}/read", headers=principal).status_code == 200
    assert (
        app_client.post(f"/api/messages/{mid}/acknowledge", headers=principal).json()["state"]
        == "acknowledged"
    )
    reply = app_client.post(
        f"/api/messages/{mid}/replies", json={"body": "Go raibh maith agat."}, headers=principal
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["receipt"]["opening"]["event"]["in_reply_to"] == mid
    kinds = [
        e["kind"]
        for e in app_client.get(
            f"/api/messages/{mid}/status", headers=world.auth(Role.SENDER)
        ).json()["events"]
    ]
    assert kinds == [
        "accepted",
        "hold.requested",
        "hold.approved",
        "hold.expired",
        "delivered",
        "read",
        "acknowledged",
    ]
    # The sender cannot see others' messages, nor read or acknowledge its own.
    assert (
        app_client.post(
            f"/api/messages/{mid}/acknowledge", headers=world.auth(Role.SENDER)
        ).status_code
        == 403
    )


def test_the_inbox_by_number_shows_each_message_as_its_own_page_does(
    app_client: TestClient, world: World, database: Database, clock: ManualClock
) -> None:
    """The keyset inbox (``?after=``, what ``pouch office check`` reads) is built from
    rows, not from the messages' objects: it shows what ``/api/messages/{id}`` shows,
    an attachment, a reply's original, a hold and withheld content included."""
    annex = acceptance.AttachmentData("annex.txt", "text/plain", b"the annex")
    delivered = submit(database, clock, world, attachments=(annex,)).message
    route(database, clock, world, delivered.public_id)
    reply = submit(database, clock, world, in_reply_to_id=delivered.id).message
    route(database, clock, world, reply.public_id)
    held = submit(database, clock, world, subject="Held").message
    queued = submit(database, clock, world, subject="Queued").message
    with database.transaction() as session:
        second = make_user(session, clock, "watch-2", [(Role.WATCH_OFFICER, world.offices["ops"])])
        hold = holds.request_hold(
            session,
            public_id=held.public_id,
            officer_id=world.users[Role.WATCH_OFFICER].id,
            reason="Confirm with the embassy",
            duration=timedelta(hours=1),
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
        )
        holds.approve_hold(
            session,
            public_id=held.public_id,
            hold_id=hold.id,
            officer_id=second.id,
            now=clock.now(),
        )
    principal = world.auth(Role.PRINCIPAL)
    office = world.offices["president-elect"].id
    page = app_client.get(f"/api/offices/{office}/inbox?after=0", headers=principal).json()
    each = [app_client.get(f"/api/messages/{m['id']}", headers=principal).json() for m in page]
    assert page == each
    assert [m["id"] for m in page] == [delivered.public_id, reply.public_id, held.public_id]
    assert queued.public_id not in {m["id"] for m in page}  # not the inbox's until delivered
    assert page[0]["attachments"][0]["filename"] == "annex.txt"
    assert page[1]["in_reply_to"] == delivered.public_id
    assert page[2]["held"] and page[2]["body_text"] == "" and page[2]["attachments"] == []
    # A page after the first, and the limit, by sequence number.
    after = page[0]["office_sequence"]
    rest = app_client.get(f"/api/offices/{office}/inbox?after={after}&limit=1", headers=principal)
    assert rest.json() == each[1:2]


def test_office_check_finds_gaps(
    app_client: TestClient, sender: Sender, world: World, database: Database
) -> None:
    from pouch.messages.check import check_office

    for _ in range(4):
        assert sender.submit(payload(world)).status_code == 201
    ledger: Ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    ledger.integrate_now()
    office = world.offices["president-elect"].id
    verifier = Ed25519Verifier.from_vkey(ledger.vkey)
    report = check_office(
        "http://testserver",
        office_id=office,
        token=world.tokens[Role.PRINCIPAL],
        log_key=verifier,
        client=app_client,
    )
    assert (report.verified, report.highest, report.gaps) == (4, 4, [])
    # Someone at the ministry hides message 2 and 3 from the office's listing.
    with database.transaction() as session:
        for message in session.scalars(select(Message).where(Message.office_sequence.in_([2, 3]))):
            message.addressee_office_id = world.offices["ops"].id
    report = check_office(
        "http://testserver",
        office_id=office,
        token=world.tokens[Role.PRINCIPAL],
        log_key=verifier,
        client=app_client,
    )
    assert report.gaps == [(2, 3)]
