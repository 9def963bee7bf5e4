"""Office tags on the message path: every event of a message carries its addressee's
and its sender's tag; an office's key is its administrators' alone; an office's
monitor walks the public log with its keys and asks for the openings of what it
finds. And the attacks of the operator (database and log key) that the office's
sequence check alone does not see, each caught by the tags.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update

from pouch import postgres
from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.events import EventKind
from pouch.identity.models import Role
from pouch.ledger import events, sequencer, tags
from pouch.ledger import service as ledger_service
from pouch.ledger.layout import bundles_for_size, parse_bundle
from pouch.ledger.store import LedgerOpening, LedgerTagKey
from pouch.messages import acceptance, worker
from pouch.messages import service as message_service
from pouch.messages.models import Message, MessageEvent, OfficeSequence
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence
from tests.factories import World, make_office, make_token, make_user
from tests.messages.helpers import LIMITS, submit

# -- an office's side: its keys, its walk of the public log ---------------------------


@dataclass
class OfficeDesk:
    """An office as its monitor sees Pouch: its id, its administrator's and a member's
    credentials, and the tag keys it was handed (key, first counter)."""

    office_id: int
    admin: dict[str, str]
    member: dict[str, str]
    keys: list[tuple[bytes, int]]

    def rotate(self, client: TestClient) -> dict[str, Any]:
        answer = client.post(f"/api/offices/{self.office_id}/tag-key", headers=self.admin)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        if body["previous"] is not None:
            self.keys.append((base64.b64decode(body["previous"]["key"]), 0))
        self.keys.append((base64.b64decode(body["key"]), body["from_counter"]))
        return body


def desk(
    database: Database, clock: ManualClock, world: World, slug: str, member_role: Role
) -> OfficeDesk:
    """An administrator and a member of the office ``slug``, each with a token."""
    office = world.offices[slug]
    with database.transaction() as session:
        admin = make_user(session, clock, f"{slug}-admin", [(Role.ADMINISTRATOR, office)])
        member = make_user(session, clock, f"{slug}-member", [(member_role, office)])
        admin_token = make_token(session, clock, admin, Role.ADMINISTRATOR, office)
        member_token = make_token(session, clock, member, member_role, office)
    return OfficeDesk(
        office.id,
        {"Authorization": f"Bearer {admin_token}"},
        {"Authorization": f"Bearer {member_token}"},
        [],
    )


def public_log(client: TestClient) -> list[tuple[int, bytes]]:
    """Every entry of the log as anyone reads it: the entry bundles under the
    latest checkpoint (integrated first)."""
    client.app.state.ledger.integrate_now()  # type: ignore[attr-defined]
    size = client.get("/api/log").json()["size"]
    found: list[tuple[int, bytes]] = []
    for bundle in bundles_for_size(size):
        answer = client.get(f"/log/{bundle.path}")
        assert answer.status_code == 200, bundle.path
        found += zip(bundle.entries, parse_bundle(answer.content, bundle), strict=True)
    return found


@dataclass(frozen=True)
class Finding:
    counter: int
    index: int
    status: int  # what the server answered when asked for the opening
    opening: events.Opening | None


def walk(client: TestClient, office: OfficeDesk) -> tuple[tags.Found, list[Finding]]:
    """The office's monitor: its tags in the public log, and each one's opening asked
    for; an opening served must rebuild the entry found."""
    log = public_log(client)
    entries = dict(log)
    found = tags.find(office.keys, log)
    findings = []
    for counter, index in found.found:
        answer = client.get(f"/api/log/openings/{index}", headers=office.member)
        opening = None
        if answer.status_code == 200:
            opening = events.Opening.from_json(answer.json())
            assert opening.entry() == entries[index], f"the opening of {index} does not match"
        findings.append(Finding(counter, index, answer.status_code, opening))
    return found, findings


def server_key(database: Database, office_id: int) -> LedgerTagKey:
    with database.transaction(write=False) as session:
        row = session.get(LedgerTagKey, office_id)
        assert row is not None
        session.expunge(row)
        return row


@pytest.fixture
def addressee(database: Database, clock: ManualClock, world: World) -> OfficeDesk:
    return desk(database, clock, world, "president-elect", Role.PRINCIPAL)


@pytest.fixture
def sender(database: Database, clock: ManualClock, world: World) -> OfficeDesk:
    return desk(database, clock, world, "ie-taoiseach", Role.SENDER)


# -- every event of a message carries both offices' tags -----------------------------


def test_a_message_s_events_carry_its_addressee_s_and_sender_s_tags(
    database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world)
    principal = world.users[Role.PRINCIPAL]
    with database.transaction() as session:
        message = message_service.route(
            session,
            public_id=accepted.message.public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
        message_service.mark_read(session, message=message, user_id=principal.id, now=clock.now())
        message_service.acknowledge(session, message=message, user_id=principal.id, now=clock.now())
    to_office = server_key(database, world.offices["president-elect"].id)
    from_office = server_key(database, world.offices["ie-taoiseach"].id)
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, accepted.message.public_id)
        steps = message_service.events_of(session, message)
        openings = ledger_service.openings(session, indexes=[s.ledger_index for s in steps])
    assert [s.kind for s in steps] == ["accepted", "delivered", "read", "acknowledged"]
    # Each office's last four counters are this message's four steps, in order.
    first_to, first_from = to_office.next_counter - 4, from_office.next_counter - 4
    for n, step in enumerate(steps):
        opening = openings[step.ledger_index]
        assert opening.tags is not None
        assert set(opening.tags) == {
            tags.tag(to_office.tag_key, first_to + n),
            tags.tag(from_office.tag_key, first_from + n),
        }
        assert events.parse_entry(opening.entry()).tags == opening.tags


def test_counters_stay_gapless_across_a_batch_of_50_acceptances_to_3_offices(
    database: Database, clock: ManualClock, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with database.transaction() as session:
        extra = [
            make_office(session, clock, slug, OfficeKind.FOREIGN, country)
            for slug, country in (("fr-elysee", "FR"), ("de-kanzleramt", "DE"))
        ]
    addressees = [world.offices["president-elect"].id, *(o.id for o in extra)]
    senders = [world.offices["ie-taoiseach"].id, extra[0].id]
    batch = []
    for n in range(50):
        to_office = addressees[n % 3]
        from_office = senders[n % 2] if senders[n % 2] != to_office else senders[(n + 1) % 2]
        batch.append(
            acceptance.Acceptance(
                acceptance.Submission(
                    sender_office_id=from_office,
                    addressee_office_id=to_office,
                    subject=f"Letter {n}",
                    body="…",
                    body_format="text",
                    language="en",
                    precedence=Precedence.ROUTINE,
                    security_label=None,
                ),
                submitted_by_user_id=None,
            )
        )
    bumps: list[int] = []
    bump_each = postgres.returning_each_of

    # Every bump of a counter goes through returning_each_of (on PostgreSQL all of
    # a batch's in one round trip, which SQLAlchemy's statement events do not see).
    def count_bumps(connection: Any, statements: Any) -> Any:
        for statement, params in statements:
            if statement.table.name == "ledger_tag_keys":
                bumps.extend(bump["at_party"] for bump in params)
        return bump_each(connection, statements)

    monkeypatch.setattr(postgres, "returning_each_of", count_bumps)
    with database.transaction() as session:
        before = ledger_service.sequenced_size(session)
        outcomes = acceptance.accept_many(
            session, batch, now=clock.now(), timetable=DEFAULT_TIMETABLE, limits=LIMITS
        )
    assert all(isinstance(o, acceptance.Accepted) for o in outcomes)
    # One bump per office of the batch (three addressees, of which one also sends, and
    # the Irish office), as the head row is bumped once per batch.
    assert sorted(bumps) == sorted({*addressees, *senders})
    with database.transaction(write=False) as session:
        log = sorted(ledger_service.entries(session, indexes=range(0, before + 50)).items())
    for office_id in {*addressees, *senders}:
        kept = server_key(database, office_id)
        found = tags.find([(kept.tag_key, 0)], log)
        assert [c for c, _ in found.found] == list(range(kept.next_counter)), office_id
        assert found.missing == [] and found.repeated == []
        in_batch = [i for _, i in found.found if i >= before]
        expected = [
            o.ledger_index
            for o in outcomes
            if isinstance(o, acceptance.Accepted)
            and office_id in (o.message.addressee_office_id, o.message.sender_office_id)
        ]
        assert in_batch == sorted(expected)


# -- the key: its office's administrators only, shown once ---------------------------


def test_an_office_administrator_rotates_the_key_and_the_office_finds_every_entry(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
) -> None:
    submit(database, clock, world)
    first = addressee.rotate(app_client)
    # The first rotation hands over the key Pouch made at the office's first event.
    assert first["previous"]["from_counter"] == 0
    assert base64.b64decode(first["key"]) != base64.b64decode(first["previous"]["key"])
    submit(database, clock, world)
    second = addressee.rotate(app_client)
    assert second["previous"] is None and second["from_counter"] > first["from_counter"]
    accepted = submit(database, clock, world)

    found, findings = walk(app_client, addressee)
    assert found.missing == [] and found.repeated == []
    assert [f.counter for f in findings] == list(range(second["from_counter"] + 1))
    assert all(f.status == 200 for f in findings)
    kinds = [f.opening.event["kind"] for f in findings if f.opening is not None]
    # Its roles granted, three messages, and both rotations, each tagged with the old key.
    assert kinds.count(EventKind.MEMBERSHIP_GRANTED) >= 2
    assert kinds.count(EventKind.ACCEPTED) == 3
    rotations = [f for f in findings if f.opening and f.opening.event["kind"] == "tag-key.rotated"]
    assert [(f.counter + 1, f.opening.event["from_counter"]) for f in rotations if f.opening] == [
        (first["from_counter"], first["from_counter"]),
        (second["from_counter"], second["from_counter"]),
    ]
    assert findings[-1].opening is not None
    assert findings[-1].opening.event["message"] == accepted.message.public_id
    # The key is never served again: the server keeps only the latest, and answers
    # nothing that carries it.
    kept = server_key(database, addressee.office_id)
    assert (kept.tag_key, kept.key_from) == (
        base64.b64decode(second["key"]),
        second["from_counter"],
    )
    for path in (
        f"/api/offices/{addressee.office_id}",
        f"/api/offices/{addressee.office_id}/ledger",
    ):
        assert second["key"] not in app_client.get(path, headers=addressee.admin).text


def test_only_an_administrator_of_the_office_gets_its_key(
    app_client: TestClient, world: World, addressee: OfficeDesk, sender: OfficeDesk
) -> None:
    path = f"/api/offices/{addressee.office_id}/tag-key"
    # Not Pouch's own administrator (the operations center), nor another office's,
    # nor the office's principal.
    for headers in (world.auth(Role.ADMINISTRATOR), sender.admin, addressee.member):
        answer = app_client.post(path, headers=headers)
        assert answer.status_code == 403, answer.text
        assert answer.json()["type"] == "/problems/permission-denied"
    assert (
        app_client.post("/api/offices/999999/tag-key", headers=addressee.admin).status_code == 404
    )
    assert app_client.post(path).status_code == 401
    assert app_client.post(path, headers=addressee.admin).status_code == 200


# -- openings for a monitor ------------------------------------------------------------


def test_an_opening_goes_to_the_offices_its_event_concerns_and_the_operations_readers(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
    sender: OfficeDesk,
) -> None:
    accepted = submit(database, clock, world)
    with database.transaction() as session:
        world.offices["fr-elysee"] = make_office(
            session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR"
        )
    stranger = desk(database, clock, world, "fr-elysee", Role.SENDER)
    path = f"/api/log/openings/{accepted.ledger_index}"
    for headers in (
        addressee.member,
        sender.member,
        world.auth(Role.AUDITOR),
        world.auth(Role.WATCH_OFFICER),
    ):
        answer = app_client.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == accepted.opening.to_json()  # type: ignore[union-attr]
        assert len(answer.json()["tags"]) == 2
    refused = app_client.get(path, headers=stranger.member)
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/permission-denied"
    assert app_client.get(path).status_code == 401
    with database.transaction(write=False) as session:
        beyond = ledger_service.sequenced_size(session)
    missing = app_client.get(f"/api/log/openings/{beyond}", headers=addressee.member)
    assert missing.status_code == 404 and missing.json()["type"] == "/problems/not-found"


def test_a_receipt_s_opening_carries_the_tags_and_rebuilds_the_entry(
    app_client: TestClient, database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world)
    public_log(app_client)
    receipt = app_client.get(
        f"/api/messages/{accepted.message.public_id}/events/{accepted.ledger_index}/receipt",
        headers=world.auth(Role.SENDER),
    ).json()
    opening = events.Opening.from_json(receipt["opening"])
    assert opening.tags is not None and len(opening.tags) == 2
    from pouch.ledger.note import Ed25519Verifier
    from pouch.ledger.receipt import verify_receipt

    ledger = app_client.app.state.ledger  # type: ignore[attr-defined]
    verify_receipt(
        receipt["receipt"].encode(), opening.entry(), log=Ed25519Verifier.from_vkey(ledger.vkey)
    )


# -- the operator's attacks, and the evidence the office holds ------------------------


def _newest_to(database: Database, office_id: int) -> Message:
    with database.transaction(write=False) as session:
        message = session.scalars(
            select(Message)
            .where(Message.addressee_office_id == office_id)
            .order_by(Message.office_sequence.desc())
        ).first()
        assert message is not None
        session.expunge(message)
        return message


def test_attack_a_the_newest_message_deleted_and_its_sequence_stepped_back(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
) -> None:
    addressee.rotate(app_client)
    for _ in range(3):
        submit(database, clock, world)
    victim = _newest_to(database, addressee.office_id)
    _, before = walk(app_client, addressee)
    hidden = next(f for f in before if f.index == victim.accepted_index)

    # The operator: every row of the message gone, its opening too, the counter back.
    with database.transaction() as session:
        session.execute(delete(MessageEvent).where(MessageEvent.message_id == victim.id))
        session.execute(delete(Message).where(Message.id == victim.id))
        session.execute(delete(LedgerOpening).where(LedgerOpening.idx == victim.accepted_index))
        session.execute(
            update(OfficeSequence)
            .where(OfficeSequence.office_id == addressee.office_id)
            .values(next_sequence=OfficeSequence.next_sequence - 1)
        )
    # The office's sequence check alone sees nothing wrong: 1, 2 and no gap.
    with database.transaction(write=False) as session:
        check = message_service.office_check(session, office_id=addressee.office_id).check
    assert (check.verified, check.gaps, check.mismatched) == (2, [], [])
    listing = app_client.get(
        f"/api/offices/{addressee.office_id}/ledger", headers=addressee.member
    ).json()
    assert victim.accepted_index not in [row["opening"]["index"] for row in listing]

    # The office's tags: the entry is still in the log, and the server no longer opens it.
    found, after = walk(app_client, addressee)
    evidence = next(f for f in after if f.index == victim.accepted_index)
    assert (evidence.counter, evidence.index) == (hidden.counter, hidden.index)
    assert evidence.status == 500 and evidence.opening is None  # integrity error, auditors told
    assert found.missing == []
    gone = app_client.get(f"/api/messages/{victim.public_id}", headers=addressee.member)
    assert gone.status_code == 404
    print(f"evidence: log entry {evidence.index} carries the office's tag {evidence.counter}")


def test_attack_b_the_newest_message_re_addressed_to_another_office(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
) -> None:
    addressee.rotate(app_client)
    submit(database, clock, world)
    victim = _newest_to(database, addressee.office_id)
    with database.transaction() as session:
        other = make_office(session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR")
        # The operator sends it elsewhere, as if it had always been addressed there.
        session.execute(
            update(Message).where(Message.id == victim.id).values(addressee_office_id=other.id)
        )
    gone = app_client.get(f"/api/messages/{victim.public_id}", headers=addressee.member)
    assert gone.status_code == 404

    _, findings = walk(app_client, addressee)
    evidence = next(f for f in findings if f.index == victim.accepted_index)
    assert evidence.status == 200 and evidence.opening is not None
    # The tag opens to the acceptance that names the original addressee, and the
    # opening rebuilds the logged entry: the commitment cannot be re-addressed.
    assert evidence.opening.event["kind"] == EventKind.ACCEPTED
    assert evidence.opening.event["message"] == victim.public_id
    assert evidence.opening.event["to_office"] == addressee.office_id

    # Rewriting the kept opening too does not help: it no longer rebuilds the entry.
    with database.transaction() as session:
        row = session.get(LedgerOpening, victim.accepted_index)
        assert row is not None
        event_json = events.canonical({**evidence.opening.event, "to_office": other.id})
        row.event = event_json
    answer = app_client.get(f"/api/log/openings/{victim.accepted_index}", headers=addressee.member)
    assert (
        events.Opening.from_json(answer.json()).entry()
        != dict(public_log(app_client))[victim.accepted_index]
    )


def test_attack_c_an_overdue_event_row_deleted(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
    sender: OfficeDesk,
) -> None:
    addressee.rotate(app_client)
    sender.rotate(app_client)
    accepted = submit(database, clock, world, precedence=Precedence.FLASH)
    public_id = accepted.message.public_id
    clock.advance(timedelta(hours=1))
    with database.transaction() as session:
        worker.run_due(session, now=clock.now())
    with database.transaction(write=False) as session:
        overdue = session.scalars(
            select(MessageEvent).where(
                MessageEvent.message_id == accepted.message.id,
                MessageEvent.kind == EventKind.OVERDUE,
            )
        ).one()
        overdue_index = overdue.ledger_index
    # The operator deletes the overdue row, and with it the notices' evidence.
    with database.transaction() as session:
        session.execute(delete(MessageEvent).where(MessageEvent.id == overdue.id))
    status = app_client.get(f"/api/messages/{public_id}/status", headers=addressee.member)
    assert EventKind.OVERDUE not in [e["kind"] for e in status.json()["events"]]

    # Both offices still find its tag in the log, and the opening names the step.
    for office in (addressee, sender):
        _, findings = walk(app_client, office)
        evidence = next(f for f in findings if f.index == overdue_index)
        assert evidence.opening is not None
        assert evidence.opening.event["kind"] == EventKind.OVERDUE
        assert evidence.opening.event["message"] == public_id


def test_an_entry_written_before_tags_is_still_opened_and_found_by_nobody(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
) -> None:
    accepted = submit(database, clock, world)
    addressee.rotate(app_client)
    # A v1 entry and its opening as migration 0007 left them: no tags, no parties.
    event = {
        "kind": "delivered",
        "time": events.format_time(clock.now()),
        "message": accepted.message.public_id,
    }
    salt = events.new_salt()
    with database.transaction() as session:
        (index,) = sequencer.append(session, [events.entry_for(event, salt)], now=clock.now())
        session.add(
            LedgerOpening(idx=index, kind="delivered", salt=salt, event=events.canonical(event))
        )
    answer = app_client.get(f"/api/log/openings/{index}", headers=addressee.member)
    assert answer.status_code == 200, answer.text
    assert "tags" not in answer.json()
    opening = events.Opening.from_json(answer.json())
    assert opening.tags is None and opening.entry().startswith(b"pouch-event/v1\n")
    found, findings = walk(app_client, addressee)  # the walk reads the v1 entry too
    assert index not in [f.index for f in findings] and found.missing == []


def test_openings_in_bulk_answer_each_entry_as_the_one_by_one_endpoint(
    app_client: TestClient,
    database: Database,
    clock: ManualClock,
    world: World,
    addressee: OfficeDesk,
) -> None:
    """POST /api/log/openings: what a monitor asks for the entries where it found its tags,
    500 at a time; each entry's answer is what GET /api/log/openings/{index} says."""
    first = submit(database, clock, world)
    victim = submit(database, clock, world)
    with database.transaction() as session:
        session.execute(delete(LedgerOpening).where(LedgerOpening.idx == victim.ledger_index))
        world.offices["fr-elysee"] = make_office(
            session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR"
        )
        beyond = ledger_service.sequenced_size(session)  # past office.created too
    asked = [first.ledger_index, victim.ledger_index, beyond]
    answer = app_client.post("/api/log/openings", json={"indexes": asked}, headers=addressee.member)
    assert answer.status_code == 200, answer.text
    rows = answer.json()["answers"]
    statuses = [(r["index"], r["status"]) for r in rows]
    assert statuses == list(zip(asked, [200, 500, 404], strict=True))
    assert rows[0]["opening"] == first.opening.to_json()  # type: ignore[union-attr]
    assert "not kept" in rows[1]["problem"] and rows[1]["opening"] is None
    assert rows[1]["type"] == "/problems/integrity-error"
    for index, row in zip(asked, rows, strict=True):
        alone = app_client.get(f"/api/log/openings/{index}", headers=addressee.member)
        assert alone.status_code == row["status"]
    stranger = desk(database, clock, world, "fr-elysee", Role.SENDER)
    refused = app_client.post(
        "/api/log/openings", json={"indexes": [first.ledger_index]}, headers=stranger.member
    ).json()["answers"]
    assert refused[0]["status"] == 403 and refused[0]["opening"] is None
    assert app_client.post("/api/log/openings", json={"indexes": [0]}).status_code == 401
    for bad in (
        {"indexes": []},
        {"indexes": list(range(501))},
        {"indexes": [-1]},
        {"indexes": [False]},
        {"indexes": ["1"]},
        {},
    ):
        too = app_client.post("/api/log/openings", json=bad, headers=addressee.member)
        assert too.status_code == 400 and too.json()["type"] == "/problems/invalid-request"
