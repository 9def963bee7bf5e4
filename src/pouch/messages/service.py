"""The message state machine: accepted → (held) → delivered → acknowledged.

A message enters it through ``messages.acceptance``; from there on every
transition is written by ``record``, which writes the message's event row
and its ledger event in the caller's transaction: exactly one ledger event
per state change. A reply is a new message, accepted once the one it answers
is delivered. Services never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.errors import Conflict, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening, format_time
from pouch.messages import acceptance, notify
from pouch.messages.models import (
    Hold,
    HoldStatus,
    Message,
    MessageEvent,
    MessageRead,
    MessageState,
)
from pouch.messages.rules import Precedence, Timetable

# Acceptance moved to ``messages.acceptance``. These names of it stay reachable
# here only for the modules that still ask this one (messages/api.py and
# messages/pages.py; the tests of calls, language and the browser tests): new
# code imports them from ``acceptance``, and they go once those modules do.
AttachmentData = acceptance.AttachmentData
Limits = acceptance.Limits
Submission = acceptance.Submission
accept = acceptance.accept
sanitize_html = acceptance.sanitize_html


def record(
    session: Session,
    message: Message,
    kind: EventKind,
    *,
    at: datetime,
    actor_user_id: int | None,
    details: dict[str, Any] | None = None,
) -> MessageEvent:
    """The one way a message's step is written: its event row and its ledger event."""
    return _record(session, message, kind, at=at, actor_user_id=actor_user_id, details=details)[0]


def _record(
    session: Session,
    message: Message,
    kind: EventKind,
    *,
    at: datetime,
    actor_user_id: int | None,
    details: dict[str, Any] | None = None,
) -> tuple[MessageEvent, Opening]:
    event_details = {"message": message.public_id, **(details or {})}
    recorded = ledger_service.record_event(session, kind=kind, at=at, details=event_details)
    event = MessageEvent(
        message_id=message.id,
        kind=kind,
        at=at,
        actor_user_id=actor_user_id,
        ledger_index=recorded.index,
        details=event_details,
    )
    session.add(event)
    session.flush()
    return event, recorded.opening


def reply(
    session: Session,
    original: Message,
    *,
    body: str,
    body_format: str,
    language: str | None,
    precedence: Precedence,
    subject: str | None,
    user_id: int,
    now: datetime,
    timetable: Timetable,
    limits: acceptance.Limits,
) -> acceptance.Accepted:
    """A reply from the addressee office, once the message is delivered: a new
    message accepted as any other (``acceptance.accept``), the same path back."""
    if original.state not in (MessageState.DELIVERED, MessageState.ACKNOWLEDGED):
        raise PermissionDenied("reply to a message once it has been delivered")
    subject = subject or (
        original.subject
        if original.subject.lower().startswith("re:")
        else f"Re: {original.subject}"
    )
    return acceptance.accept(
        session,
        submission=acceptance.Submission(
            sender_office_id=original.addressee_office_id,
            addressee_office_id=original.sender_office_id,
            subject=subject[:300],
            body=body,
            body_format=body_format,
            language=language,
            precedence=precedence,
            security_label=original.security_label,
            in_reply_to_id=original.id,
        ),
        submitted_by_user_id=user_id,
        signature=None,
        idempotency_key=None,
        request_hash=None,
        now=now,
        timetable=timetable,
        limits=limits,
    )


def public_id_of(session: Session, message_id: int | None) -> str | None:
    """The public id of a message given its row id (None for None)."""
    if message_id is None:
        return None
    return session.scalar(select(Message.public_id).where(Message.id == message_id))


def get_message(session: Session, public_id: str, *, for_update: bool = False) -> Message:
    query = (
        select(Message)
        .where(Message.public_id == public_id)
        .options(selectinload(Message.attachments), selectinload(Message.holds))
    )
    if for_update:
        query = query.with_for_update()
    message = session.scalar(query)
    if message is None:
        raise NotFound(f"no message {public_id!r}")
    return message


def active_hold(message: Message) -> Hold | None:
    return next((h for h in message.holds if h.status == HoldStatus.ACTIVE), None)


def deliver(
    session: Session, message: Message, *, at: datetime, actor_user_id: int | None, how: str
) -> MessageEvent:
    """Put the message in its addressee's inbox; ``how`` says why now."""
    if message.state not in (MessageState.ACCEPTED, MessageState.HELD):
        raise Conflict(f"message {message.public_id} is already {message.state.value}")
    if at > message.deliver_by:
        # Late, whatever the reason (the worker was down, a hold ran past the
        # deadline): the lateness is recorded and reported before the delivery.
        mark_overdue(session, message, at=at)
    message.state = MessageState.DELIVERED
    message.delivered_at = at
    event = record(
        session,
        message,
        EventKind.DELIVERED,
        at=at,
        actor_user_id=actor_user_id,
        details={"how": how},
    )
    # A hold still waiting for its second officer can no longer take effect.
    for hold in message.holds:
        if hold.status == HoldStatus.REQUESTED:
            hold.status = HoldStatus.WITHDRAWN
            hold.ended_at = at
            record(
                session,
                message,
                EventKind.HOLD_LAPSED,
                at=at,
                actor_user_id=None,
                details={"hold": hold.id},
            )
    notify.message_step(session, message, EventKind.DELIVERED, at=at)
    return event


def mark_overdue(session: Session, message: Message, *, at: datetime) -> None:
    """Record once that the message missed its deadline, and tell everyone concerned."""
    if message.overdue_at is not None:
        return
    message.overdue_at = at
    record(
        session,
        message,
        EventKind.OVERDUE,
        at=at,
        actor_user_id=None,
        details={"deliver_by": format_time(message.deliver_by), "state": message.state.value},
    )
    notify.message_step(
        session,
        message,
        EventKind.OVERDUE,
        at=at,
        details={"deliver_by": format_time(message.deliver_by)},
        audience=("sender", "addressee", "auditors"),
    )


def route(session: Session, *, public_id: str, actor_user_id: int, now: datetime) -> Message:
    """A watch officer delivers a message from the queue now."""
    message = get_message(session, public_id, for_update=True)
    if message.state == MessageState.HELD:
        raise Conflict("the message is held: release the hold to deliver it")
    deliver(session, message, at=now, actor_user_id=actor_user_id, how="routed")
    return message


def mark_read(session: Session, *, message: Message, user_id: int, now: datetime) -> bool:
    """Record the first read by this member; returns whether it was the first."""
    if message.state not in (MessageState.DELIVERED, MessageState.ACKNOWLEDGED):
        raise Conflict("the message has not been delivered yet")
    seen = session.scalar(
        select(MessageRead.id).where(
            MessageRead.message_id == message.id, MessageRead.user_id == user_id
        )
    )
    if seen is not None:
        return False
    session.add(MessageRead(message_id=message.id, user_id=user_id, at=now))
    record(
        session, message, EventKind.READ, at=now, actor_user_id=user_id, details={"reader": user_id}
    )
    notify.message_step(session, message, EventKind.READ, at=now)
    return True


def acknowledge(session: Session, *, message: Message, user_id: int, now: datetime) -> MessageEvent:
    if message.state == MessageState.ACKNOWLEDGED:
        raise Conflict("the message is already acknowledged")
    if message.state != MessageState.DELIVERED:
        raise Conflict("the message has not been delivered yet")
    message.state = MessageState.ACKNOWLEDGED
    message.acknowledged_at = now
    event = record(
        session,
        message,
        EventKind.ACKNOWLEDGED,
        at=now,
        actor_user_id=user_id,
        details={"by": user_id},
    )
    notify.message_step(session, message, EventKind.ACKNOWLEDGED, at=now)
    return event


def events_of(session: Session, message: Message) -> list[MessageEvent]:
    return list(
        session.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id == message.id)
            .order_by(MessageEvent.id)
        )
    )


def inbox(session: Session, *, office_id: int, user_id: int) -> list[tuple[Message, bool]]:
    """Messages delivered or held for an office, unread first, newest first; with read flags."""
    messages = list(
        session.scalars(
            select(Message)
            .where(
                Message.addressee_office_id == office_id,
                Message.state.in_(
                    [MessageState.DELIVERED, MessageState.ACKNOWLEDGED, MessageState.HELD]
                ),
            )
            .options(selectinload(Message.holds), selectinload(Message.attachments))
            .order_by(Message.accepted_at.desc())
        )
    )
    read_ids = set(
        session.scalars(
            select(MessageRead.message_id).where(
                MessageRead.user_id == user_id,
                MessageRead.message_id.in_([m.id for m in messages]),
            )
        )
    )
    rows = [(m, m.id in read_ids) for m in messages]
    rows.sort(key=lambda row: row[1])  # stable: unread first, each group newest first
    return rows


def queue(session: Session) -> list[Message]:
    """The watch floor's queue: not yet delivered, most urgent and nearest deadline first."""
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.state.in_([MessageState.ACCEPTED, MessageState.HELD]))
            .options(selectinload(Message.holds))
        )
    )
    return sorted(messages, key=lambda m: (m.precedence.rank, m.deliver_by))


def office_ledger(session: Session, *, office_id: int) -> list[tuple[Message, MessageEvent]]:
    """Every message accepted for an office with its accepted event, by sequence number."""
    rows = session.execute(
        select(Message, MessageEvent)
        .join(MessageEvent, MessageEvent.message_id == Message.id)
        .where(Message.addressee_office_id == office_id, MessageEvent.kind == EventKind.ACCEPTED)
        .order_by(Message.office_sequence)
    ).all()
    return [(m, e) for m, e in rows]


def count_by_state(session: Session) -> dict[str, int]:
    rows = session.execute(select(Message.state, func.count()).group_by(Message.state)).all()
    return {state.value: int(count) for state, count in rows}


def held_notice(message: Message, office_names: dict[int, str]) -> str | None:
    """'held since T, by <office>, until T'' while an approved hold is in force."""
    hold = active_hold(message)
    if hold is None or hold.approved_at is None or hold.until is None:
        return None
    operations = office_names.get(-1, "the operations center")
    return (
        f"held since {format_time(hold.approved_at)}, by {operations}, "
        f"until {format_time(hold.until)}"
    )


def office_names(session: Session) -> dict[int, str]:
    names = {o.id: o.name for o in directory_service.list_offices(session)}
    operations = session.scalar(select(Office.name).where(Office.kind == OfficeKind.OPERATIONS))
    if operations is not None:
        names[-1] = operations
    return names
