"""The quarantine: two officers reject, one accepts into the normal path, every
decision logged; a mail out of quarantine takes no second decision."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pouch.clock import ManualClock
from pouch.db import Database
from pouch.errors import Conflict, InvalidInput
from pouch.events import EventKind
from pouch.identity.models import Role
from pouch.ledger import service as ledger_service
from pouch.mail import service as mail_service
from pouch.mail.flows import MailIntake
from pouch.mail.models import InboundMail, MailDecision, MailState
from pouch.mail.service import Arrival
from pouch.messages.models import Message
from tests.factories import make_user
from tests.mail.conftest import PRINCIPAL, MailWorld
from tests.mail.helpers import crlf

UNKNOWN = crlf(
    b"From: Embassy <desk@new-embassy.example>\nTo: president-elect@pouch.example\n"
    b"Subject: Credentials\nMessage-ID: <c-1@new-embassy.example>\n\nOur new address.\n"
)


def _quarantined(intake: MailIntake) -> int:
    mail_id, _, _ = intake.receive(
        Arrival(
            raw=UNKNOWN,
            mail_from="desk@new-embassy.example",
            recipients=(PRINCIPAL,),
            peer="192.0.2.1",
        )
    )
    outcome = intake.process(mail_id)
    assert outcome.state == MailState.QUARANTINED
    assert outcome.reason is not None
    assert outcome.reason.startswith("unknown sender")
    return mail_id


def _kinds(database: Database, indexes: list[int]) -> list[str]:
    with database.transaction(write=False) as session:
        found = [ledger_service.opening(session, i) for i in indexes]
        return [str(o.event["kind"]) if o else "" for o in found]


def test_two_officers_reject_and_each_step_is_logged(
    database: Database, clock: ManualClock, intake: MailIntake, mail_world: MailWorld
) -> None:
    mail_id = _quarantined(intake)
    first = mail_world.world.users[Role.WATCH_OFFICER].id
    with database.transaction() as session:
        second = make_user(session, clock, "second-officer", []).id
        state = mail_service.reject(
            session, mail_id, officer_id=first, reason="Not a known embassy", now=clock.now()
        )
    assert state == MailState.QUARANTINED  # one officer alone rejects nothing
    with database.transaction() as session, pytest.raises(Conflict):
        mail_service.reject(session, mail_id, officer_id=first, reason="Again", now=clock.now())
    with database.transaction() as session:
        state = mail_service.reject(
            session, mail_id, officer_id=second, reason="Agreed", now=clock.now()
        )
    assert state == MailState.REJECTED

    with database.transaction(write=False) as session:
        decisions = session.scalars(select(MailDecision).order_by(MailDecision.id)).all()
        mail = session.get(InboundMail, mail_id)
        assert mail is not None
        raw = mail_service.raw_of(session, mail)
        indexes = [d.ledger_index for d in decisions]
        assert [(d.officer_id, d.action) for d in decisions] == [
            (first, "reject-request"),
            (second, "reject"),
        ]
    assert raw == UNKNOWN  # rejected, still on the record
    assert _kinds(database, indexes) == [EventKind.MAIL_REJECT_REQUESTED, EventKind.MAIL_REJECTED]
    with database.transaction() as session, pytest.raises(Conflict):
        mail_service.reject(session, mail_id, officer_id=first, reason="Late", now=clock.now())


def test_one_officer_accepts_a_quarantined_mail_into_the_normal_path(
    database: Database, intake: MailIntake, mail_world: MailWorld
) -> None:
    mail_id = _quarantined(intake)
    officer = mail_world.world.users[Role.WATCH_OFFICER].id
    with pytest.raises(InvalidInput, match="name the office that sent this mail"):
        intake.release(
            mail_id, officer_id=officer, sender_office_id=None, addressee_office_id=None, reason=""
        )

    outcome = intake.release(
        mail_id,
        officer_id=officer,
        sender_office_id=mail_world.lax.id,
        addressee_office_id=None,
        reason="Confirmed by telephone with the embassy",
    )

    assert outcome.state == MailState.ACCEPTED
    (public_id,) = outcome.messages
    with database.transaction(write=False) as session:
        message = session.scalar(select(Message).where(Message.public_id == public_id))
        assert message is not None
        assert message.sender_office_id == mail_world.lax.id
        assert message.addressee_office_id == mail_world.principal.id
        assert message.submitted_by_user_id == officer
        (decision,) = session.scalars(select(MailDecision)).all()
        accepted = ledger_service.opening(session, message.accepted_index)
        released = ledger_service.opening(session, decision.ledger_index)
    assert accepted is not None
    assert released is not None
    assert accepted.event["kind"] == EventKind.ACCEPTED
    assert accepted.event["released_by"] == officer
    assert released.event["kind"] == EventKind.MAIL_RELEASED
    assert released.event["messages"] == [public_id]
    with pytest.raises(Conflict):
        intake.release(
            mail_id,
            officer_id=officer,
            sender_office_id=mail_world.lax.id,
            addressee_office_id=None,
            reason="twice",
        )


def test_auditors_count_every_arrival_by_state(
    database: Database, intake: MailIntake, mail_world: MailWorld
) -> None:
    _quarantined(intake)
    with database.transaction(write=False) as session:
        counts = mail_service.counts(session)
    assert counts == {"received": 0, "accepted": 0, "replay": 0, "quarantined": 1, "rejected": 0}


def test_a_mail_left_unread_by_a_crash_is_read_at_the_next_start(
    database: Database, intake: MailIntake, mail_world: MailWorld
) -> None:
    # Stored and logged, then the process died before reading it.
    mail_id, _, _ = intake.receive(
        Arrival(raw=UNKNOWN, mail_from="x@new-embassy.example", recipients=(PRINCIPAL,), peer="::1")
    )

    (outcome,) = intake.process_pending()

    assert outcome.mail_id == mail_id
    assert outcome.state == MailState.QUARANTINED
    assert intake.process_pending() == []
