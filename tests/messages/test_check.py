"""Content hashes in an office's checks: the inbox's (on the server) and ``pouch office
check`` (on the office's side) both recompute what the office is shown of each message
and compare it with what its ``accepted`` event committed to."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.identity.models import Role
from pouch.ledger.note import Ed25519Verifier
from pouch.messages import acceptance, check
from pouch.messages import service as message_service
from pouch.messages.check import OfficeCheckFailed, check_office, shown_content_hash
from pouch.messages.models import Attachment, AttachmentBlob, Message
from tests.factories import World, make_token, make_user
from tests.messages.helpers import route, submit


def deliver(database: Database, clock: ManualClock, world: World, public_id: str) -> None:
    route(database, clock, world, public_id)


def integrated(app_client: TestClient) -> Ed25519Verifier:
    """The log integrated now, and the verifier of its key."""
    ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    ledger.integrate_now()
    return Ed25519Verifier.from_vkey(ledger.vkey)


def test_the_inbox_check_finds_a_message_changed_after_acceptance(
    database: Database, clock: ManualClock, world: World
) -> None:
    office = world.offices["president-elect"].id
    plain = submit(database, clock, world)
    html = submit(database, clock, world, body="<p>Dear <b>friend</b></p>", body_format="html")
    attached = submit(
        database,
        clock,
        world,
        attachments=(acceptance.AttachmentData("a.txt", "text/plain", b"the annex"),),
    )
    with database.transaction(write=False) as session:
        found = message_service.office_check(session, office_id=office)
    assert (found.check.verified, found.check.mismatched) == (3, [])

    with database.transaction() as session:
        session.execute(
            update(Message)
            .where(Message.public_id == plain.message.public_id)
            .values(body_text="Not what was said.")
        )
        # The annex swapped for another file.
        other = b"another annex"
        session.add(AttachmentBlob(sha256=hashlib.sha256(other).hexdigest(), data=other))
        session.flush()
        session.execute(
            update(Attachment)
            .where(Attachment.message_id == attached.message.id)
            .values(sha256=hashlib.sha256(other).hexdigest())
        )
    with database.transaction(write=False) as session:
        found = message_service.office_check(session, office_id=office)
    changed = {m.listed.message: m for m in found.check.mismatched}
    assert set(changed) == {plain.message.public_id, attached.message.public_id}
    assert all(m.what == "content" for m in changed.values())
    assert "changed after acceptance" in changed[plain.message.public_id].reason
    # Their numbers are accounted for: changed, not hidden.
    assert (found.check.verified, found.check.gaps) == (3, [])
    assert html.message.public_id not in changed
    assert [m.office_sequence for m in found.waiting] == [1, 2, 3]


def test_office_check_recomputes_the_content_it_is_shown(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    office = world.offices["president-elect"].id
    accepted = [submit(database, clock, world) for _ in range(2)]
    deliver(database, clock, world, accepted[0].message.public_id)
    verifier = integrated(app_client)
    with database.transaction() as session:
        admin = make_user(
            session, clock, "pe-admin", [(Role.ADMINISTRATOR, world.offices["president-elect"])]
        )
        admin_token = make_token(
            session, clock, admin, Role.ADMINISTRATOR, world.offices["president-elect"]
        )
    # The principal reads the inbox; the office's administrator does not, and is shown
    # each message instead. Both see the same.
    for token in (world.tokens[Role.PRINCIPAL], admin_token):
        report = check_office(
            "http://testserver", office_id=office, token=token, log_key=verifier, client=app_client
        )
        assert (report.verified, report.gaps) == (2, [])

    with database.transaction() as session:
        session.execute(
            update(Message)
            .where(Message.public_id == accepted[0].message.public_id)
            .values(subject="Withdrawn")
        )
    for token in (world.tokens[Role.PRINCIPAL], admin_token):
        with pytest.raises(OfficeCheckFailed, match="changed after acceptance") as failed:
            check_office(
                "http://testserver",
                office_id=office,
                token=token,
                log_key=verifier,
                client=app_client,
            )
        assert accepted[0].message.public_id in str(failed.value)


def test_the_content_hash_of_a_message_as_shown_is_the_accepted_one(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(
        database,
        clock,
        world,
        body="<p>Dear <b>friend</b><script>x()</script></p>",
        body_format="html",
        attachments=(acceptance.AttachmentData("a.bin", None, bytes(range(256))),),
    )
    public_id = accepted.message.public_id
    shown = app_client.get(f"/api/messages/{public_id}", headers=world.auth(Role.SENDER)).json()
    assert shown_content_hash(shown, addressee=False) == accepted.message.content_hash
    # Queued, the addressee is not shown the content: nothing to hash yet.
    queued = app_client.get(f"/api/messages/{public_id}", headers=world.auth(Role.PRINCIPAL))
    assert shown_content_hash(queued.json(), addressee=True) is None
    deliver(database, clock, world, public_id)
    delivered = app_client.get(f"/api/messages/{public_id}", headers=world.auth(Role.PRINCIPAL))
    assert shown_content_hash(delivered.json(), addressee=True) == accepted.message.content_hash


def test_office_check_of_many_messages_walks_the_whole_log_once(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An office of many messages: the log is walked and rehashed, no receipt asked.
    monkeypatch.setattr(check, "WALK_FROM", 1)
    office = world.offices["president-elect"].id
    for _ in range(3):
        submit(database, clock, world)
    verifier = integrated(app_client)
    token = world.tokens[Role.PRINCIPAL]
    asked: list[str] = []
    app_client.event_hooks["request"].append(lambda request: asked.append(request.url.path))

    report = check_office(
        "http://testserver", office_id=office, token=token, log_key=verifier, client=app_client
    )

    assert (report.verified, report.gaps) == (3, [])
    assert not any(path.startswith("/api/log/receipt") for path in asked)
    assert "/log/checkpoint" in asked
    # One more, not integrated yet: not under the signed checkpoint, so not verified.
    submit(database, clock, world)
    with pytest.raises(OfficeCheckFailed, match="not under the signed checkpoint yet"):
        check_office(
            "http://testserver", office_id=office, token=token, log_key=verifier, client=app_client
        )


def test_office_check_reads_the_ledger_and_the_inbox_page_by_page(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pages of two: an office of 100,000 messages is read a thousand at a time.
    monkeypatch.setattr(check, "PAGE", 2)
    office = world.offices["president-elect"].id
    accepted = [submit(database, clock, world) for _ in range(5)]
    for item in accepted[:4]:
        deliver(database, clock, world, item.message.public_id)
    verifier = integrated(app_client)
    asked: list[str] = []
    app_client.event_hooks["request"].append(
        lambda request: asked.append(f"{request.url.path}?{request.url.query.decode()}")
    )
    token = world.tokens[Role.PRINCIPAL]
    report = check_office(
        "http://testserver", office_id=office, token=token, log_key=verifier, client=app_client
    )
    assert (report.verified, report.gaps) == (5, [])
    ledger_pages = [q for q in asked if q.startswith(f"/api/offices/{office}/ledger")]
    inbox_pages = [q for q in asked if q.startswith(f"/api/offices/{office}/inbox?after=")]
    assert [q.split("?")[1] for q in ledger_pages] == [
        "after=0&limit=2",
        "after=2&limit=2",
        "after=4&limit=2",
    ]
    # The inbox holds the four delivered: 1-2, 3-4, then an empty page.
    assert len(inbox_pages) == 1 + 3

    # A message on the inbox's second page changed: found there too.
    with database.transaction() as session:
        session.execute(
            update(Message)
            .where(Message.public_id == accepted[3].message.public_id)
            .values(subject="Withdrawn")
        )
    with pytest.raises(OfficeCheckFailed, match="changed after acceptance") as failed:
        check_office(
            "http://testserver", office_id=office, token=token, log_key=verifier, client=app_client
        )
    assert accepted[3].message.public_id in str(failed.value)


def test_a_page_that_does_not_move_on_is_refused() -> None:
    rows = [{"office_sequence": 7}] * check.PAGE
    with pytest.raises(ValueError, match="do not follow the sequence numbers"):
        check.next_page(rows, 7)
