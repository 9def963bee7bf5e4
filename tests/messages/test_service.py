"""The message state machine on both backends, with an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, InvalidInput, PayloadTooLarge, PermissionDenied
from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from pouch.ledger.store import LedgerEntry
from pouch.messages import holds, worker
from pouch.messages import service as message_service
from pouch.messages.models import (
    Hold,
    HoldStatus,
    MessageEvent,
    MessageState,
    Notification,
    OfficeEndpoint,
)
from pouch.messages.rules import DEFAULT_TIMETABLE, Precedence, find_gaps
from tests.factories import World
from tests.messages.helpers import kinds, load, submit


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
            message_service.AttachmentData("photo.txt", "text/plain", png),
            message_service.AttachmentData("copy.png", None, png),
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
            attachments=(message_service.AttachmentData("big", None, bytes(2 * 1024 * 1024)),),
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
    with database.transaction() as session:
        message_service.route(
            session,
            public_id=public_id,
            actor_user_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
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


def test_a_hold_needs_a_second_officer_and_expires(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world, precedence=Precedence.PRIORITY).message.public_id
    hold_id = _hold(database, clock, world, public_id)
    # A request alone holds nothing: the message is still in the queue.
    assert load(database, public_id).state == MessageState.ACCEPTED
    with database.transaction() as session, pytest.raises(PermissionDenied, match="second officer"):
        holds.approve_hold(
            session,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=world.users[Role.WATCH_OFFICER].id,
            now=clock.now(),
        )
    clock.advance(timedelta(minutes=5))
    with database.transaction() as session:
        holds.approve_hold(
            session,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=second_officer,
            now=clock.now(),
        )
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
        with database.transaction() as session:
            holds.approve_hold(
                session,
                public_id=public_id,
                hold_id=hold_id,
                officer_id=second_officer,
                now=clock.now(),
            )
        clock.advance(timedelta(hours=23))
    with pytest.raises(InvalidInput, match="total at most 3 days"):
        _hold(database, clock, world, public_id, minutes=60)


def test_release_delivers_at_once(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world).message.public_id
    hold_id = _hold(database, clock, world, public_id)
    with database.transaction() as session:
        holds.approve_hold(
            session,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=second_officer,
            now=clock.now(),
        )
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
    with database.transaction() as session:
        holds.approve_hold(
            session,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=second_officer,
            now=clock.now(),
        )
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
    with pytest.raises(Conflict, match="withdrawn"), database.transaction() as session:
        holds.approve_hold(
            session,
            public_id=public_id,
            hold_id=hold_id,
            officer_id=second_officer,
            now=clock.now(),
        )


def test_a_renewal_waiting_for_approval_lapses_when_the_hold_is_released(
    database: Database, clock: ManualClock, world: World, second_officer: int
) -> None:
    public_id = submit(database, clock, world).message.public_id
    first = _hold(database, clock, world, public_id)
    with database.transaction() as session:
        holds.approve_hold(
            session, public_id=public_id, hold_id=first, officer_id=second_officer, now=clock.now()
        )
    renewal = _hold(database, clock, world, public_id)
    with database.transaction() as session:
        holds.release_hold(
            session, public_id=public_id, hold_id=first, officer_id=second_officer, now=clock.now()
        )
    assert _hold_state(database, first)[0] == HoldStatus.RELEASED
    assert _hold_state(database, renewal)[0] == HoldStatus.WITHDRAWN
    assert kinds(database, public_id)[-3:] == ["hold.released", "delivered", "hold.lapsed"]
