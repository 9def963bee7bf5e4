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
from typing import Any, TypeVar, cast

import filetype
import nh3
import rfc8785
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached, selectinload

from pouch.directory import service as directory_service
from pouch.directory.models import Office, OfficeKind
from pouch.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
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

T = TypeVar("T")


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


_SEQUENCES = cast(Table, OfficeSequence.__table__)
_MESSAGES = cast(Table, Message.__table__)
_EVENTS = cast(Table, MessageEvent.__table__)
_OFFICES = cast(Table, Office.__table__)
_BUMP_SEQUENCE = (
    update(_SEQUENCES)
    .where(_SEQUENCES.c.office_id == bindparam("office"))
    .values(next_sequence=_SEQUENCES.c.next_sequence + 1)
    .returning(_SEQUENCES.c.next_sequence)
)
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_INSERT_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)
_OFFICE_KIND = select(_OFFICES.c.kind).where(_OFFICES.c.id == bindparam("office"))


def _next_sequence(session: Session, office_id: int) -> int:
    bumped = session.connection().execute(_BUMP_SEQUENCE, {"office": office_id}).scalar()
    if bumped is not None:
        return int(bumped) - 1
    session.connection().execute(insert(_SEQUENCES), {"office_id": office_id, "next_sequence": 2})
    return 1


def _office_kind(session: Session, office_id: int) -> OfficeKind | None:
    """An office's kind, read once per transaction: offices are not deleted while
    messages name them, and a batch of acceptances asks about the same few."""
    kinds: dict[int, OfficeKind] = session.info.setdefault("pouch.office_kinds", {})
    if office_id not in kinds:
        kind = session.connection().execute(_OFFICE_KIND, {"office": office_id}).scalar()
        if kind is None:
            return None
        kinds[office_id] = OfficeKind(kind)
    return kinds[office_id]


def _check_offices(session: Session, submission: Submission) -> None:
    if _office_kind(session, submission.sender_office_id) is None:
        raise InvalidInput(
            f"no office with id {submission.sender_office_id}",
            field_errors=[FieldError("body.sender_office_id", "unknown office")],
        )
    addressee_kind = _office_kind(session, submission.addressee_office_id)
    if addressee_kind is None:
        raise InvalidInput(
            f"no office with id {submission.addressee_office_id}",
            field_errors=[FieldError("body.addressee_office_id", "unknown office")],
        )
    if submission.addressee_office_id == submission.sender_office_id:
        raise InvalidInput(
            "an office cannot write to itself",
            field_errors=[FieldError("body.addressee_office_id", "same as the sender")],
        )
    if addressee_kind == OfficeKind.OPERATIONS:
        raise InvalidInput(
            "messages go to a principal's or a foreign office, not to the operations center",
            field_errors=[FieldError("body.addressee_office_id", "an operations office")],
        )


def _as_persistent(session: Session, row: T) -> T:
    """An object whose row was just inserted with a Core statement, made part of
    the session as if loaded, without reading it back."""
    make_transient_to_detached(row)
    session.add(row)
    return row


@dataclass(frozen=True)
class Accepted:
    message: Message
    event: MessageEvent
    replayed: bool
    #: The accepted event's opening, when it was written now (not on a replay).
    opening: Opening | None = None


def _replay(
    session: Session, submission: Submission, idempotency_key: str, request_hash: str | None
) -> Accepted | None:
    """The message an earlier request with this idempotency key made, if any."""
    existing = session.scalar(
        select(Message).where(
            Message.sender_office_id == submission.sender_office_id,
            Message.idempotency_key == idempotency_key,
        )
    )
    if existing is None:
        return None
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


@dataclass(frozen=True)
class Prepared:
    """A submission checked, sanitized and hashed: what ``accept`` stores, worked
    out before its transaction (which, in a group commit, holds the write lock)."""

    submission: Submission
    body_text: str
    body_html: str | None
    content_hash: str
    attachment_hashes: tuple[str, ...]
    media_types: tuple[str, ...]


def prepare(submission: Submission, limits: Limits) -> Prepared:
    """Check the attachments against ``limits``, sanitize HTML, hash the content."""
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
    return Prepared(
        submission=submission,
        body_text=body_text,
        body_html=body_html,
        content_hash=content_hash(submission, body_html, hashes),
        attachment_hashes=tuple(hashes),
        media_types=tuple(_sniff(a.content) for a in submission.attachments),
    )


def accept(
    session: Session,
    *,
    submission: Submission | Prepared,
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
    ``submission`` may come ``prepare``-d already.

    This is the hot path of intake, so its rows are written with Core
    statements (a few per message) rather than through the ORM's flush.
    """
    prepared = submission if isinstance(submission, Prepared) else None
    if prepared is not None:
        submission = prepared.submission
    assert isinstance(submission, Submission)
    if idempotency_key is not None:
        replayed = _replay(session, submission, idempotency_key, request_hash)
        if replayed is not None:
            return replayed
    _check_offices(session, submission)
    if prepared is None:
        prepared = prepare(submission, limits)
    body_text, body_html, digest = prepared.body_text, prepared.body_html, prepared.content_hash
    hashes = prepared.attachment_hashes
    if session.autoflush:
        session.flush()  # the caller's pending changes go first, as a query would send them
    sequence = _next_sequence(session, submission.addressee_office_id)
    public_id = new_public_id()
    deliver_by = timetable.deliver_by(submission.precedence, now)
    details: dict[str, Any] = {
        "message": public_id,
        "from_office": submission.sender_office_id,
        "to_office": submission.addressee_office_id,
        "office_sequence": sequence,
        "precedence": submission.precedence.value,
        "content": digest,
        "deliver_by": format_time(deliver_by),
    }
    if submission.in_reply_to_id:
        details["in_reply_to"] = public_id_of(session, submission.in_reply_to_id)
    recorded = ledger_service.record_event(session, kind="accepted", at=now, details=details)
    values: dict[str, Any] = {
        "public_id": public_id,
        "sender_office_id": submission.sender_office_id,
        "addressee_office_id": submission.addressee_office_id,
        "in_reply_to_id": submission.in_reply_to_id,
        "submitted_by_user_id": submitted_by_user_id,
        "subject": submission.subject,
        "body_text": body_text,
        "body_html": body_html,
        "declared_language": submission.language,
        "security_label": submission.security_label,
        "precedence": submission.precedence,
        "state": MessageState.ACCEPTED,
        "office_sequence": sequence,
        "content_hash": digest,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "signature": signature,
        "accepted_at": now,
        "auto_deliver_at": timetable.auto_deliver_at(submission.precedence, now),
        "deliver_by": deliver_by,
        "delivered_at": None,
        "acknowledged_at": None,
        "overdue_at": None,
        "accepted_index": recorded.index,
    }
    connection = session.connection()
    message_id = connection.execute(_INSERT_MESSAGE, values).scalar_one()
    for attachment, sha, media_type in zip(
        submission.attachments, hashes, prepared.media_types, strict=True
    ):
        if session.get(AttachmentBlob, sha) is None:
            session.add(AttachmentBlob(sha256=sha, data=attachment.content))
            session.flush()  # the blob must exist before the row that points to it
        session.add(
            Attachment(
                message_id=message_id,
                filename=attachment.filename,
                declared_type=attachment.declared_type,
                media_type=media_type,
                size=len(attachment.content),
                sha256=sha,
            )
        )
    event_values: dict[str, Any] = {
        "message_id": message_id,
        "kind": "accepted",
        "at": now,
        "actor_user_id": submitted_by_user_id,
        "ledger_index": recorded.index,
        "details": details,
    }
    event_id = connection.execute(_INSERT_EVENT, event_values).scalar_one()
    message = _as_persistent(session, Message(id=message_id, **values))
    event = _as_persistent(session, MessageEvent(id=event_id, **event_values))
    return Accepted(message=message, event=event, replayed=False, opening=recorded.opening)


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
    limits: Limits,
) -> Accepted:
    """A reply from the addressee office: it travels the same path back."""
    if original.state not in (MessageState.DELIVERED, MessageState.ACKNOWLEDGED):
        raise PermissionDenied("reply to a message once it has been delivered")
    subject = subject or (
        original.subject
        if original.subject.lower().startswith("re:")
        else f"Re: {original.subject}"
    )
    return accept(
        session,
        submission=Submission(
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
        session, message, "delivered", at=at, actor_user_id=actor_user_id, details={"how": how}
    )
    # A hold still waiting for its second officer can no longer take effect.
    for hold in message.holds:
        if hold.status == HoldStatus.REQUESTED:
            hold.status = HoldStatus.WITHDRAWN
            hold.ended_at = at
            record(
                session,
                message,
                "hold.lapsed",
                at=at,
                actor_user_id=None,
                details={"hold": hold.id},
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
