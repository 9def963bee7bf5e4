"""The message state machine on both backends, with an injected clock."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.directory.models import OfficeKind
from pouch.errors import Conflict, InvalidInput, PayloadTooLarge, PermissionDenied, PouchError
from pouch.identity.models import Role
from pouch.ledger import sequencer, tagkeys
from pouch.ledger import service as ledger_service
from pouch.ledger.note import Ed25519Signer, generate_key
from pouch.ledger.store import LedgerEntry, TileCache
from pouch.ledger.tags import tag
from pouch.messages import acceptance, holds, worker
from pouch.messages import service as message_service
from pouch.messages.models import (
    Hold,
    HoldStatus,
    Message,
    MessageEvent,
    MessageState,
    Notification,
    OfficeEndpoint,
    OfficeSequence,
)
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence, find_gaps
from tests.factories import World, make_office
from tests.ledger.helpers import full_verify
from tests.messages.helpers import LIMITS, count_messages, kinds, load, route, submit


def test_acceptance_numbers_and_logs(database: Database, clock: ManualClock, world: World) -> None:
    first = submit(database, clock, world)
    second = submit(database, clock, world, precedence=Precedence.FLASH)
    assert (first.message.office_sequence, second.message.office_sequence) == (1, 2)
    assert first.message.state == MessageState.ACCEPTED
    assert second.message.deliver_by == clock.now() + timedelta(minutes=10)
    with database.transaction(write=False) as session:
        opening = ledger_service.opening(session, second.ledger_index)
    assert opening is not None
    assert opening.event["kind"] == "accepted"
    assert opening.event["office_sequence"] == 2
    assert opening.event["to_office"] == world.offices["president-elect"].id
    assert opening.event["content"] == second.message.content_hash
    assert opening.entry() == ledger_service_entry(database, second.ledger_index)


def ledger_service_entry(database: Database, index: int) -> bytes:
    with database.transaction(write=False) as session:
        entry = ledger_service.entry(session, index)
    assert entry is not None
    return entry


def test_idempotency_key(database: Database, clock: ManualClock, world: World) -> None:
    first = submit(database, clock, world, idempotency_key="k-1", request_hash="h1")
    again = submit(database, clock, world, idempotency_key="k-1", request_hash="h1")
    assert again.replayed and again.message.public_id == first.message.public_id
    with pytest.raises(Conflict, match="different request"):
        submit(database, clock, world, idempotency_key="k-1", request_hash="h2")
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(MessageEvent)) == 1


def test_html_is_sanitized(database: Database, clock: ManualClock, world: World) -> None:
    accepted = submit(
        database,
        clock,
        world,
        body_format="html",
        body='<p onclick="steal()">Hello <script>alert(1)</script>'
        '<a href="javascript:alert(2)">x</a>'
        "<img src=x onerror=alert(3)><b>bold</b></p>",
    )
    html = accepted.message.body_html or ""
    for hostile in ("script", "onclick", "onerror", "javascript:", "alert"):
        assert hostile not in html
    assert "<b>bold</b>" in html
    assert "Hello" in accepted.message.body_text and "<" not in accepted.message.body_text


def test_attachments_are_content_addressed_sniffed_and_capped(
    database: Database, clock: ManualClock, world: World
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    accepted = submit(
        database,
        clock,
        world,
        attachments=(
            acceptance.AttachmentData("photo.txt", "text/plain", png),
            acceptance.AttachmentData("copy.png", None, png),
        ),
    )
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, accepted.message.public_id)
        types = [a.media_type for a in message.attachments]
        assert types == ["image/png", "image/png"]  # sniffed, whatever was declared
        assert message.attachments[0].sha256 == message.attachments[1].sha256
    with pytest.raises(PayloadTooLarge, match="attachment 0"):
        submit(
            database,
            clock,
            world,
            attachments=(acceptance.AttachmentData("big", None, bytes(2 * 1024 * 1024)),),
        )


def test_automatic_delivery_after_triage(
    database: Database, clock: ManualClock, world: World
) -> None:
    accepted = submit(database, clock, world, precedence=Precedence.IMMEDIATE)
    clock.advance(timedelta(minutes=9, seconds=59))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).delivered == 0
    clock.advance(timedelta(seconds=1))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).delivered == 1
    message = load(database, accepted.message.public_id)
    assert message.state == MessageState.DELIVERED
    assert kinds(database, message.public_id) == ["accepted", "delivered"]


def test_route_read_acknowledge_reply(database: Database, clock: ManualClock, world: World) -> None:
    accepted = submit(database, clock, world)
    public_id = accepted.message.public_id
    route(database, clock, world, public_id)
    with database.transaction() as session:
        message = message_service.get_message(session, public_id)
        assert message_service.mark_read(
            session, message=message, user_id=world.users[Role.PRINCIPAL].id, now=clock.now()
        )
        assert not message_service.mark_read(
            session, message=message, user_id=world.users[Role.PRINCIPAL].id, now=clock.now()
        )
        message_service.acknowledge(
            session, message=message, user_id=world.users[Role.PRINCIPAL].id, now=clock.now()
        )
        with pytest.raises(Conflict, match="already acknowledged"):
            message_service.acknowledge(
                session, message=message, user_id=world.users[Role.PRINCIPAL].id, now=clock.now()
            )
    assert kinds(database, public_id) == ["accepted", "delivered", "read", "acknowledged"]


def _hold(
    database: Database, clock: ManualClock, world: World, public_id: str, minutes: int = 60
) -> int:
    with database.transaction() as session:
        hold = holds.request_hold(
            session,
            public_id=public_id,
            officer_id=world.users[Role.WATCH_OFFICER].id,
            reason="verify the signatory",
            duration=timedelta(minutes=minutes),
            now=clock.now(),
            timetable=DEFAULT_TIMETABLE,
        )
        return hold.id


def _approve(
    database: Database, clock: ManualClock, public_id: str, hold_id: int, officer_id: int
) -> None:
    with database.transaction() as session:
        holds.approve_hold(
            session, public_id=public_id, hold_id=hold_id, officer_id=officer_id, now=clock.now()
        )


def test_a_hold_needs_a_second_officer_and_expires(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world, precedence=Precedence.PRIORITY).message.public_id
    hold_id = _hold(database, clock, world, public_id)
    # A request alone holds nothing: the message is still in the queue.
    assert load(database, public_id).state == MessageState.ACCEPTED
    with pytest.raises(PermissionDenied, match="second officer"):
        _approve(database, clock, public_id, hold_id, world.users[Role.WATCH_OFFICER].id)
    clock.advance(timedelta(minutes=5))
    _approve(database, clock, public_id, hold_id, second_officer)
    with database.transaction(write=False) as session:
        message = message_service.get_message(session, public_id)
        assert message.state == MessageState.HELD
        notice = message_service.held_notice(message, message_service.office_names(session))
        assert (
            notice
            == "held since 2026-11-05T14:05:00.000Z, by Office ops, until 2026-11-05T15:05:00.000Z"
        )
    # Past the triage window, a held message stays held.
    clock.advance(timedelta(minutes=59))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).delivered == 0
    clock.advance(timedelta(minutes=1))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).expired == 1
    assert load(database, public_id).state == MessageState.DELIVERED
    assert kinds(database, public_id) == [
        "accepted",
        "hold.requested",
        "hold.approved",
        "hold.expired",
        "delivered",
    ]


@pytest.fixture
def second_officer(database: Database, clock: ManualClock, world: World) -> int:
    from tests.factories import make_user

    with database.transaction() as session:
        return make_user(
            session, clock, "watch-two", [(Role.WATCH_OFFICER, world.offices["ops"])]
        ).id


def test_hold_caps(database: Database, clock: ManualClock, world: World) -> None:
    public_id = submit(database, clock, world, precedence=Precedence.FLASH).message.public_id
    with pytest.raises(InvalidInput, match="a FLASH hold lasts at most 0:15:00"):
        _hold(database, clock, world, public_id, minutes=16)


def test_renewals_are_capped_in_total(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world).message.public_id  # ROUTINE: 24 h per hold
    for _ in range(3):
        hold_id = _hold(database, clock, world, public_id, minutes=24 * 60)
        _approve(database, clock, public_id, hold_id, second_officer)
        clock.advance(timedelta(hours=23))
    with pytest.raises(InvalidInput, match="total at most 3 days"):
        _hold(database, clock, world, public_id, minutes=60)


def test_release_delivers_at_once(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world).message.public_id
    hold_id = _hold(database, clock, world, public_id)
    _approve(database, clock, public_id, hold_id, second_officer)
    with database.transaction() as session:
        hold = holds.release_hold(
            session,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=second_officer,
            now=clock.now(),
        )
        assert hold.status == HoldStatus.RELEASED
    assert load(database, public_id).state == MessageState.DELIVERED


def test_overdue_is_recorded_once_and_notified(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    with database.transaction() as session:
        session.add(
            OfficeEndpoint(
                office_id=world.offices["ie-taoiseach"].id,
                webhook_url="http://127.0.0.1:9/hook",
                webhook_secret="s",
                email="dublin@example.ie",
            )
        )
        session.add(
            OfficeEndpoint(
                office_id=world.offices["president-elect"].id, email="transition@example.org"
            )
        )
    public_id = submit(database, clock, world, precedence=Precedence.FLASH).message.public_id
    hold_id = _hold(database, clock, world, public_id, minutes=15)
    _approve(database, clock, public_id, hold_id, second_officer)
    clock.advance(timedelta(minutes=10))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).overdue == 1
    clock.advance(timedelta(minutes=1))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).overdue == 0
    assert kinds(database, public_id).count("overdue") == 1
    with database.transaction(write=False) as session:
        overdue = [
            n for n in session.scalars(select(Notification)) if n.payload["event"] == "overdue"
        ]
    targets = sorted(n.target for n in overdue)
    assert "dublin@example.ie" in targets and "http://127.0.0.1:9/hook" in targets
    assert "transition@example.org" in targets  # the addressee office


def test_every_state_change_has_exactly_one_log_entry(
    database: Database, clock: ManualClock, world: World
) -> None:
    before = _entries(database)
    accepted = submit(database, clock, world)
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=accepted.message.public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
    with database.transaction(write=False) as session:
        events = session.scalars(select(MessageEvent)).all()
        indexes = {e.ledger_index for e in events}
    assert len(indexes) == len(events) == 2
    assert _entries(database) - before == 2


def _entries(database: Database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def test_membership_changes_are_logged_and_last_admin_needs_two(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    from pouch.errors import PermissionDenied as Denied
    from pouch.identity import service as identity_service
    from tests.factories import make_user

    ie = world.offices["ie-taoiseach"]
    with database.transaction() as session:
        admin = make_user(session, clock, "ie-admin", [(Role.ADMINISTRATOR, ie)])
        membership = identity_service.get_user(session, admin.id).memberships[0]
        pending = identity_service.revoke_role(
            session,
            user_id=admin.id,
            membership_id=membership.id,
            by=world.users[Role.ADMINISTRATOR].id,
            now=clock.now(),
        )
        assert pending is not None  # the last administrator of the office: only asked for
        with pytest.raises(Denied):
            identity_service.approve_removal(
                session,
                removal_id=pending.id,
                by=world.users[Role.ADMINISTRATOR].id,
                now=clock.now(),
            )
        identity_service.approve_removal(
            session, removal_id=pending.id, by=second_officer, now=clock.now()
        )
        from pouch.identity.models import Membership

        assert session.scalars(select(Membership).where(Membership.user_id == admin.id)).all() == []
        logged = [
            opening.event["kind"]
            for index in range(ledger_service.sequenced_size(session))
            if (opening := ledger_service.opening(session, index)) is not None
            and opening.event.get("user") == admin.id
            and opening.event["kind"].startswith("membership.")
        ]
    assert logged == ["membership.granted", "membership.removal-requested", "membership.revoked"]


def test_gap_detection() -> None:
    assert find_gaps([1, 2, 3, 6]) == [(4, 5)]


def _hold_state(database: Database, hold_id: int) -> tuple[HoldStatus, object]:
    with database.transaction(write=False) as session:
        hold = session.get_one(Hold, hold_id)
        return hold.status, hold.ended_at


def test_a_request_waiting_for_approval_lapses_when_its_message_is_delivered(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world, precedence=Precedence.FLASH).message.public_id
    hold_id = _hold(database, clock, world, public_id, minutes=10)
    clock.advance(DEFAULT_TIMETABLE.triage[Precedence.FLASH] + timedelta(seconds=1))
    with database.transaction() as session:
        assert worker.run_due(session, now=clock.now()).delivered == 1
    assert _hold_state(database, hold_id) == (HoldStatus.WITHDRAWN, clock.now())
    assert kinds(database, public_id)[-2:] == ["delivered", "hold.lapsed"]
    # Nothing is left for a second officer to approve.
    with pytest.raises(Conflict, match="withdrawn"):
        _approve(database, clock, public_id, hold_id, second_officer)


def test_a_renewal_waiting_for_approval_lapses_when_the_hold_is_released(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world).message.public_id
    first = _hold(database, clock, world, public_id)
    _approve(database, clock, public_id, first, second_officer)
    renewal = _hold(database, clock, world, public_id)
    with database.transaction() as session:
        holds.release_hold(
            session, public_id=public_id, hold_id=first, officer_id=second_officer, now=clock.now()
        )
    assert _hold_state(database, first)[0] == HoldStatus.RELEASED
    assert _hold_state(database, renewal)[0] == HoldStatus.WITHDRAWN
    assert kinds(database, public_id)[-3:] == ["hold.released", "delivered", "hold.lapsed"]


# -- accept_many: a group commit's acceptances written together ---------------------


def _acceptance(
    world: World,
    to: int,
    *,
    sender: int | None = None,
    subject: str = "Greetings",
    key: str | None = None,
    request_hash: str | None = None,
    attachments: tuple[acceptance.AttachmentData, ...] = (),
) -> acceptance.Acceptance:
    return acceptance.Acceptance(
        submission=acceptance.Submission(
            sender_office_id=world.offices["ie-taoiseach"].id if sender is None else sender,
            addressee_office_id=to,
            subject=subject,
            body="A chara, …",
            body_format="text",
            language="en",
            precedence=Precedence.ROUTINE,
            security_label=None,
            attachments=attachments,
        ),
        submitted_by_user_id=world.users[Role.SENDER].id,
        idempotency_key=key,
        request_hash=request_hash,
    )


def _accept_many(
    database: Database, clock: ManualClock, acceptances: list[acceptance.Acceptance]
) -> list[acceptance.Accepted | PouchError]:
    with database.transaction() as session:
        return acceptance.accept_many(
            session, acceptances, now=clock.now(), timetable=DEFAULT_TIMETABLE, limits=LIMITS
        )


def _accepted(outcomes: list[acceptance.Accepted | PouchError]) -> list[Any]:
    assert all(isinstance(o, acceptance.Accepted) for o in outcomes), outcomes
    return outcomes


@pytest.fixture
def elysee(database: Database, clock: ManualClock) -> int:
    """A second addressee office, which has received nothing yet."""
    with database.transaction() as session:
        return make_office(session, clock, "fr-elysee", OfficeKind.FOREIGN, "FR").id


def _sequenced(database: Database) -> int:
    with database.transaction(write=False) as session:
        return ledger_service.sequenced_size(session)


def test_accept_many_numbers_each_addressee_in_call_order_and_logs_consecutively(
    database: Database, clock: ManualClock, world: World, elysee: int
) -> None:
    president = world.offices["president-elect"].id
    earlier = submit(database, clock, world)  # the president's office has a sequence already
    size = _sequenced(database)
    addressees = [president, elysee, president, elysee, president]
    outcomes = _accepted(
        _accept_many(
            database,
            clock,
            [_acceptance(world, to, subject=f"m{i}") for i, to in enumerate(addressees)],
        )
    )
    assert earlier.message.office_sequence == 1
    assert [o.message.office_sequence for o in outcomes] == [2, 1, 3, 2, 4]
    assert [o.message.subject for o in outcomes] == ["m0", "m1", "m2", "m3", "m4"]
    assert not any(o.replayed for o in outcomes)
    assert [o.ledger_index for o in outcomes] == list(range(size, size + 5))
    assert _sequenced(database) == size + 5
    with database.transaction(write=False) as session:
        for o, to in zip(outcomes, addressees, strict=True):
            assert o.opening is not None and o.opening.index == o.ledger_index
            assert o.opening.event["kind"] == "accepted"
            assert o.opening.event["message"] == o.message.public_id
            assert o.opening.event["to_office"] == to
            assert o.opening.event["office_sequence"] == o.message.office_sequence
            assert o.opening.event["content"] == o.message.content_hash
            stored = ledger_service.opening(session, o.ledger_index)
            assert stored is not None and stored.to_json() == o.opening.to_json()
            assert o.opening.entry() == ledger_service.entry(session, o.ledger_index)
            message = message_service.get_message(session, o.message.public_id)
            assert (
                message.office_sequence,
                message.accepted_index,
                message.addressee_office_id,
            ) == (
                o.message.office_sequence,
                o.ledger_index,
                to,
            )
            assert [
                (e.kind, e.ledger_index) for e in message_service.events_of(session, message)
            ] == [("accepted", o.ledger_index)]
        next_numbers = dict(
            session.execute(select(OfficeSequence.office_id, OfficeSequence.next_sequence)).all()
        )
    assert next_numbers[president] == 5 and next_numbers[elysee] == 3
    assert submit(database, clock, world).message.office_sequence == 5


ORIGIN = "test.pouch/log"


def test_many_offices_in_one_transaction_number_and_log_without_a_hole(
    database: Database, clock: ManualClock, world: World
) -> None:
    """Two group commits' worth of acceptances in one transaction, as a busy committer
    makes them: on PostgreSQL the sequence rows and tag counters are bumped in one
    round trip each and the log's entries written at commit (``pouch.postgres``);
    every office's numbers, every party's tags and the log's indexes still run on
    without a hole, and the log verifies."""
    president = world.offices["president-elect"].id
    with database.transaction() as session:
        others = [
            make_office(session, clock, f"office-{i}", OfficeKind.FOREIGN, "FR").id
            for i in range(6)
        ]
    submit(database, clock, world)  # the president's office has number 1 already
    offices = [president, *others]
    senders = [world.offices["ie-taoiseach"].id, *others]
    # 60 letters from seven senders to seven addressees (never to themselves),
    # offices interleaved.
    letters = []
    for n in range(60):
        to = offices[(n * 3) % len(offices)]
        sender = next(s for s in senders[n % len(senders) :] + senders if s != to)
        letters.append((sender, to))
    with database.transaction(write=False) as session:
        size = ledger_service.sequenced_size(session)
    with database.transaction() as session:
        accepted = []
        for batch in (letters[:25], letters[25:]):
            outcomes = acceptance.accept_many(
                session,
                [
                    _acceptance(world, to, sender=sender, subject=f"letter {n}")
                    for n, (sender, to) in enumerate(batch, start=len(accepted))
                ],
                now=clock.now(),
                timetable=DEFAULT_TIMETABLE,
                limits=LIMITS,
            )
            assert all(isinstance(o, acceptance.Accepted) for o in outcomes), outcomes
            accepted += outcomes

    assert [a.ledger_index for a in accepted] == list(range(size, size + 60))
    numbers: dict[int, list[int]] = defaultdict(list)
    for a in accepted:
        numbers[a.message.addressee_office_id].append(a.message.office_sequence)
    for office, issued in numbers.items():
        start = 2 if office == president else 1
        assert issued == list(range(start, start + len(issued))), office
    with database.transaction() as session:
        next_numbers = dict(
            session.execute(select(OfficeSequence.office_id, OfficeSequence.next_sequence)).all()
        )
        assert next_numbers == {
            office: (2 if office == president else 1) + len(issued)
            for office, issued in numbers.items()
        }
        # Each party's tags count on without a hole, in the order of the log.
        connection = session.connection()
        keys = {office: tagkeys.current(connection, office) for office in {*offices, *senders}}
        counters: dict[int, int] = {}
        for a in accepted:
            assert a.opening is not None
            for party in (a.message.addressee_office_id, a.message.sender_office_id):
                key = keys[party]
                counter = counters.get(party)
                if counter is None:  # the party's first counter in this transaction
                    mine = (c for c in range(key.next_counter) if tag(key.key, c) in a.opening.tags)
                    counter = next(mine)
                assert tag(key.key, counter) in a.opening.tags, (a.ledger_index, party)
                counters[party] = counter + 1
        assert all(counters[party] == keys[party].next_counter for party in counters)
        assert ledger_service.sequenced_size(session) == size + 60
        for a in accepted:
            assert ledger_service.entry(session, a.ledger_index) == a.opening.entry()

    signer = Ed25519Signer.from_skey(generate_key(ORIGIN)[0])
    sequencer.integrate(database, signer=signer, origin=ORIGIN, clock=clock, cache=TileCache())
    with database.transaction(write=False) as session:
        assert full_verify(session, signer.verifier) == size + 60


def test_accept_many_returns_refusals_in_place_and_writes_nothing_for_them(
    database: Database, clock: ManualClock, world: World, elysee: int
) -> None:
    president = world.offices["president-elect"].id
    taoiseach = world.offices["ie-taoiseach"].id
    size = _sequenced(database)
    too_big = (acceptance.AttachmentData("big", None, bytes(LIMITS.max_attachment_bytes + 1)),)
    outcomes = _accept_many(
        database,
        clock,
        [
            _acceptance(world, president, subject="first"),
            _acceptance(world, 999_999, subject="nobody"),
            _acceptance(world, elysee, subject="heavy", attachments=too_big),
            _acceptance(world, taoiseach, subject="to itself"),
            _acceptance(world, world.offices["ops"].id, subject="to operations"),
            _acceptance(world, president, sender=999_999, subject="from nobody"),
            _acceptance(world, elysee, subject="second"),
        ],
    )
    first, nobody, heavy, itself, operations, from_nobody, second = outcomes
    assert isinstance(nobody, InvalidInput) and "no office with id 999999" in str(nobody)
    assert [e.field for e in nobody.field_errors] == ["body.addressee_office_id"]
    assert isinstance(heavy, PayloadTooLarge)
    assert isinstance(itself, InvalidInput) and "cannot write to itself" in str(itself)
    assert isinstance(operations, InvalidInput) and "operations" in str(operations)
    assert isinstance(from_nobody, InvalidInput)
    assert [e.field for e in from_nobody.field_errors] == ["body.sender_office_id"]
    first, second = _accepted([first, second])
    assert (first.message.subject, second.message.subject) == ("first", "second")
    # The refused took no number, no log entry, no row.
    assert (first.message.office_sequence, second.message.office_sequence) == (1, 1)
    assert [first.ledger_index, second.ledger_index] == [size, size + 1]
    assert _sequenced(database) == size + 2
    assert count_messages(database) == 2
    with database.transaction(write=False) as session:
        assert session.scalar(select(func.count()).select_from(MessageEvent)) == 2
    after = submit(database, clock, world)
    assert (after.message.office_sequence, after.ledger_index) == (2, size + 2)


def test_accept_many_refusing_every_acceptance_writes_nothing(
    database: Database, clock: ManualClock, world: World
) -> None:
    size = _sequenced(database)
    outcomes = _accept_many(database, clock, [_acceptance(world, 999_999)] * 2)
    assert all(isinstance(o, InvalidInput) for o in outcomes)
    assert (_sequenced(database), count_messages(database)) == (size, 0)


def test_accept_many_a_key_repeated_in_one_call_is_a_replay_of_the_first(
    database: Database, clock: ManualClock, world: World, elysee: int
) -> None:
    president = world.offices["president-elect"].id
    size = _sequenced(database)
    first, other, again, conflicting = _accept_many(
        database,
        clock,
        [
            _acceptance(world, president, key="k-1", request_hash="h1"),
            _acceptance(world, elysee, key="k-2", request_hash="h1"),
            _acceptance(world, president, key="k-1", request_hash="h1"),
            _acceptance(world, president, key="k-1", request_hash="h2"),
        ],
    )
    first, other, again = _accepted([first, other, again])
    assert not first.replayed and not other.replayed
    assert again.replayed and again.opening is None
    assert again.message.public_id == first.message.public_id
    assert again.ledger_index == first.ledger_index
    assert again.message.office_sequence == first.message.office_sequence == 1
    assert isinstance(conflicting, Conflict) and "different request" in str(conflicting)
    assert [e.field for e in conflicting.field_errors] == ["header.idempotency-key"]
    assert count_messages(database) == 2
    assert _sequenced(database) == size + 2
    with database.transaction(write=False) as session:
        keyed = session.scalars(select(Message).where(Message.idempotency_key == "k-1")).all()
        assert [m.public_id for m in keyed] == [first.message.public_id]
    assert submit(database, clock, world).message.office_sequence == 2  # none taken by the replay


def test_accept_many_a_key_committed_earlier_is_replayed_or_conflicts_in_place(
    database: Database, clock: ManualClock, world: World, elysee: int
) -> None:
    president = world.offices["president-elect"].id
    original = submit(database, clock, world, idempotency_key="k-1", request_hash="h1")
    size = _sequenced(database)
    replay, conflicting, fresh, other_sender = _accept_many(
        database,
        clock,
        [
            _acceptance(world, president, key="k-1", request_hash="h1"),
            _acceptance(world, president, key="k-1", request_hash="h2"),
            _acceptance(world, president, subject="fresh"),
            # The same key from another office is that office's own key.
            _acceptance(world, president, sender=elysee, key="k-1", request_hash="h1"),
        ],
    )
    replay, fresh, other_sender = _accepted([replay, fresh, other_sender])
    assert replay.replayed and replay.opening is None
    assert replay.message.public_id == original.message.public_id
    assert replay.ledger_index == original.ledger_index
    assert isinstance(conflicting, Conflict)
    assert not fresh.replayed and not other_sender.replayed
    assert other_sender.message.public_id != original.message.public_id
    assert [fresh.message.office_sequence, other_sender.message.office_sequence] == [2, 3]
    assert [fresh.ledger_index, other_sender.ledger_index] == [size, size + 1]
    assert count_messages(database) == 3


def test_accepted_message_is_complete_without_a_database_round_trip(
    database: Database, clock: ManualClock, world: World
) -> None:
    president = world.offices["president-elect"].id
    outcomes = _accepted(
        _accept_many(
            database,
            clock,
            [
                _acceptance(world, president, subject="one"),
                _acceptance(world, president, subject="two", key="k", request_hash="h"),
            ],
        )
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    columns = [attribute.key for attribute in inspect(Message).column_attrs]
    event.listen(database.engine, "before_cursor_execute", count)
    try:
        built = [{key: getattr(o.message, key) for key in columns} for o in outcomes]
        deliver_by = DEFAULT_TIMETABLE.deliver_by(Precedence.ROUTINE, clock.now())
        assert [
            (o.message.office_sequence, o.message.state, o.message.deliver_by) for o in outcomes
        ] == [(1, MessageState.ACCEPTED, deliver_by), (2, MessageState.ACCEPTED, deliver_by)]
        assert statements == []
        assert all(inspect(o.message).detached for o in outcomes)
        loaded = [load(database, o.message.public_id) for o in outcomes]
        assert statements, "the statement counter counts"
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    for row, message in zip(built, loaded, strict=True):
        assert row == {key: getattr(message, key) for key in columns}
    assert [row["public_id"] for row in built] == [m.public_id for m in loaded]
    assert (
        built[1]["idempotency_key"] == "k"
        and built[0]["accepted_index"] == outcomes[0].ledger_index
    )


def test_accept_many_writes_a_batch_in_as_many_statements_as_one_message_per_addressee(
    database: Database, clock: ManualClock, world: World, elysee: int
) -> None:
    president = world.offices["president-elect"].id
    _accept_many(database, clock, [_acceptance(world, president), _acceptance(world, elysee)])
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    def statements_for(addressees: list[int]) -> int:
        statements.clear()
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            outcomes = _accept_many(database, clock, [_acceptance(world, to) for to in addressees])
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        _accepted(outcomes)
        return len(statements)

    two = statements_for([president, elysee])
    six = statements_for([president, elysee] * 3)
    assert two > 0, "the statement counter counts"
    assert six == two, "a statement per message crept into accept_many"
    assert count_messages(database) == 2 + 2 + 6
