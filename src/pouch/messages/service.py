"""The message state machine: accepted → (held) → delivered → acknowledged.

Every transition is written by ``record``, which writes the message's event
row and its ledger event in the caller's transaction: exactly one ledger
event per state change. Services never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import filetype
import nh3
import rfc8785
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PayloadTooLarge
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening, format_time
from pouch.messages import notify
from pouch.messages.models import (
    Attachment,
    AttachmentBlob,
    Hold,
    HoldStatus,
    Message,
    MessageEvent,
    MessageRead,
    MessageState,
    OfficeSequence,
)
from pouch.messages.rules import Precedence, Timetable

MESSAGE_ID_PREFIX = "m-"


@dataclass(frozen=True)
class AttachmentData:
    filename: str
    declared_type: str | None
    content: bytes


@dataclass(frozen=True)
class Submission:
    """A message as submitted, already validated field by field."""

    sender_office_id: int
    addressee_office_id: int
    subject: str
    body: str
    body_format: str
    language: str | None
    precedence: Precedence
    security_label: str | None
    attachments: tuple[AttachmentData, ...] = ()
    in_reply_to_id: int | None = None


@dataclass(frozen=True)
class Limits:
    max_attachment_bytes: int
    max_attachments: int


def new_public_id() -> str:
    return MESSAGE_ID_PREFIX + secrets.token_hex(10)


def sanitize_html(html: str) -> str:
    """HTML with scripts, event handlers, styles and javascript: links removed (nh3)."""
    return nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def _sniff(content: bytes) -> str:
    kind = filetype.guess(content)
    if kind is not None:
        return str(kind.mime)
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


def content_hash(
    submission: Submission, body_html: str | None, attachment_hashes: list[str]
) -> str:
    """SHA-256 of the canonical JSON of what was said: it goes into the accepted event."""
    document: dict[str, Any] = {
        "from": submission.sender_office_id,
        "to": submission.addressee_office_id,
        "subject": submission.subject,
        "body": submission.body if body_html is None else body_html,
        "format": submission.body_format,
        "language": submission.language,
        "precedence": submission.precedence.value,
        "label": submission.security_label,
        "attachments": attachment_hashes,
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def record(
    session: Session,
    message: Message,
    kind: str,
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
    kind: str,
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


def _next_sequence(session: Session, office_id: int) -> int:
    bumped = session.execute(
        update(OfficeSequence)
        .where(OfficeSequence.office_id == office_id)
        .values(next_sequence=OfficeSequence.next_sequence + 1)
        .returning(OfficeSequence.next_sequence)
    ).scalar_one_or_none()
    if bumped is not None:
        return int(bumped) - 1
    session.add(OfficeSequence(office_id=office_id, next_sequence=2))
    session.flush()
    return 1


def _check_offices(session: Session, submission: Submission) -> tuple[Office, Office]:
    sender = session.get(Office, submission.sender_office_id)
    if sender is None:
        raise InvalidInput(
            f"no office with id {submission.sender_office_id}",
            field_errors=[FieldError("body.sender_office_id", "unknown office")],
        )
    addressee = session.get(Office, submission.addressee_office_id)
    if addressee is None:
        raise InvalidInput(
            f"no office with id {submission.addressee_office_id}",
            field_errors=[FieldError("body.addressee_office_id", "unknown office")],
        )
    if addressee.id == sender.id:
        raise InvalidInput(
            "an office cannot write to itself",
            field_errors=[FieldError("body.addressee_office_id", "same as the sender")],
        )
    if addressee.kind == OfficeKind.OPERATIONS:
        raise InvalidInput(
            "messages go to a principal's or a foreign office, not to the operations center",
            field_errors=[FieldError("body.addressee_office_id", "an operations office")],
        )
    return sender, addressee


@dataclass(frozen=True)
class Accepted:
    message: Message
    event: MessageEvent
    replayed: bool
    #: The accepted event's opening, when it was written now (not on a replay).
    opening: Opening | None = None


def accept(
    session: Session,
    *,
    submission: Submission,
    submitted_by_user_id: int | None,
    signature: dict[str, Any] | None,
    idempotency_key: str | None,
    request_hash: str | None,
    now: datetime,
    timetable: Timetable,
    limits: Limits,
) -> Accepted:
    """Accept a message: store it, number it for its addressee, and log ``accepted``.

    Durable and logged once the caller's transaction commits (invariant 1);
    a retry with the same idempotency key returns the same message.
    """
    if idempotency_key is not None:
        existing = session.scalar(
            select(Message).where(
                Message.sender_office_id == submission.sender_office_id,
                Message.idempotency_key == idempotency_key,
            )
        )
        if existing is not None:
            if existing.request_hash != request_hash:
                raise Conflict(
                    "this Idempotency-Key was used for a different request",
                    field_errors=[FieldError("header.idempotency-key", "reused with another body")],
                )
            first = session.scalars(
                select(MessageEvent).where(
                    MessageEvent.message_id == existing.id, MessageEvent.kind == "accepted"
                )
            ).one()
            return Accepted(message=existing, event=first, replayed=True)
    sender, addressee = _check_offices(session, submission)
    if len(submission.attachments) > limits.max_attachments:
        raise InvalidInput(
            f"at most {limits.max_attachments} attachments",
            field_errors=[FieldError("body.attachments", "too many")],
        )
    hashes: list[str] = []
    for i, attachment in enumerate(submission.attachments):
        if len(attachment.content) > limits.max_attachment_bytes:
            raise PayloadTooLarge(
                f"attachment {i} ({attachment.filename}) is {len(attachment.content)} bytes; "
                f"the limit is {limits.max_attachment_bytes}",
                field_errors=[FieldError(f"body.attachments.{i}", "too large")],
            )
        hashes.append(hashlib.sha256(attachment.content).hexdigest())
    body_html = sanitize_html(submission.body) if submission.body_format == "html" else None
    body_text = nh3.clean(submission.body, tags=set()) if body_html is not None else submission.body
    digest = content_hash(submission, body_html, hashes)
    sequence = _next_sequence(session, addressee.id)
    message = Message(
        public_id=new_public_id(),
        sender_office_id=sender.id,
        addressee_office_id=addressee.id,
        in_reply_to_id=submission.in_reply_to_id,
        submitted_by_user_id=submitted_by_user_id,
        subject=submission.subject,
        body_text=body_text,
        body_html=body_html,
        declared_language=submission.language,
        security_label=submission.security_label,
        precedence=submission.precedence,
        state=MessageState.ACCEPTED,
        office_sequence=sequence,
        content_hash=digest,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        signature=signature,
        accepted_at=now,
        auto_deliver_at=timetable.auto_deliver_at(submission.precedence, now),
        deliver_by=timetable.deliver_by(submission.precedence, now),
        accepted_index=-1,
    )
    session.add(message)
    session.flush()
    for attachment, sha in zip(submission.attachments, hashes, strict=True):
        if session.get(AttachmentBlob, sha) is None:
            session.add(AttachmentBlob(sha256=sha, data=attachment.content))
            session.flush()  # the blob must exist before the row that points to it
        session.add(
            Attachment(
                message_id=message.id,
                filename=attachment.filename,
                declared_type=attachment.declared_type,
                media_type=_sniff(attachment.content),
                size=len(attachment.content),
                sha256=sha,
            )
        )
    event, opening = _record(
        session,
        message,
        "accepted",
        at=now,
        actor_user_id=submitted_by_user_id,
        details={
            "from_office": sender.id,
            "to_office": addressee.id,
            "office_sequence": sequence,
            "precedence": submission.precedence.value,
            "content": digest,
            "deliver_by": format_time(message.deliver_by),
            **(
                {"in_reply_to": public_id_of(session, submission.in_reply_to_id)}
                if submission.in_reply_to_id
                else {}
            ),
        },
    )
    message.accepted_index = event.ledger_index
    return Accepted(message=message, event=event, replayed=False, opening=opening)


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
        session, message, "delivered", at=at, actor_user_id=actor_user_id, details={"how": how}
    )
    notify.message_step(session, message, "delivered", at=at)
    return event


def mark_overdue(session: Session, message: Message, *, at: datetime) -> None:
    """Record once that the message missed its deadline, and tell everyone concerned."""
    if message.overdue_at is not None:
        return
    message.overdue_at = at
    record(
        session,
        message,
        "overdue",
        at=at,
        actor_user_id=None,
        details={"deliver_by": format_time(message.deliver_by), "state": message.state.value},
    )
    notify.message_step(
        session,
        message,
        "overdue",
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
    record(session, message, "read", at=now, actor_user_id=user_id, details={"reader": user_id})
    notify.message_step(session, message, "read", at=now)
    return True


def acknowledge(session: Session, *, message: Message, user_id: int, now: datetime) -> MessageEvent:
    if message.state == MessageState.ACKNOWLEDGED:
        raise Conflict("the message is already acknowledged")
    if message.state != MessageState.DELIVERED:
        raise Conflict("the message has not been delivered yet")
    message.state = MessageState.ACKNOWLEDGED
    message.acknowledged_at = now
    event = record(
        session, message, "acknowledged", at=now, actor_user_id=user_id, details={"by": user_id}
    )
    notify.message_step(session, message, "acknowledged", at=now)
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
        .where(Message.addressee_office_id == office_id, MessageEvent.kind == "accepted")
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
