"""The message state machine: accepted → (held) → delivered → acknowledged.

Every transition is written by ``record``, which writes the message's event
row and its ledger event in the caller's transaction: exactly one ledger
event per state change. Services never commit.

A message reached on someone's behalf (``visible``, ``addressed``, ``tracked``
and the actions built on them) is looked up under the rules of
``messages/access.py``: 404 to whoever may not see it, 403 to whoever sees it
but may not act.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import filetype
import nh3
import rfc8785
from sqlalchemy import Table, bindparam, insert, or_, select, update
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
    PouchError,
)
from pouch.events import EventKind
from pouch.identity.service import Actor
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening, format_time
from pouch.messages import access, notify
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
from pouch.messages.sequence import Listed, SequenceCheck, check_sequence

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


_SEQUENCES = cast(Table, OfficeSequence.__table__)
_MESSAGES = cast(Table, Message.__table__)
_EVENTS = cast(Table, MessageEvent.__table__)
_OFFICES = cast(Table, Office.__table__)
_BUMP_SEQUENCE = (
    update(_SEQUENCES)
    .where(_SEQUENCES.c.office_id == bindparam("office"))
    .values(next_sequence=_SEQUENCES.c.next_sequence + bindparam("count"))
    .returning(_SEQUENCES.c.next_sequence)
)
_INSERT_MESSAGES = insert(_MESSAGES)
_INSERT_EVENTS = insert(_EVENTS)
_IDS_OF = select(_MESSAGES.c.public_id, _MESSAGES.c.id).where(
    _MESSAGES.c.public_id.in_(bindparam("public_ids", expanding=True))
)
_USED_KEYS = select(_MESSAGES.c.sender_office_id, _MESSAGES.c.idempotency_key).where(
    _MESSAGES.c.idempotency_key.in_(bindparam("keys", expanding=True))
)
_OFFICE_KIND = select(_OFFICES.c.kind).where(_OFFICES.c.id == bindparam("office"))


def _next_sequences(session: Session, office_ids: Sequence[int]) -> list[int]:
    """The next sequence number of each office named, in order (an office named
    twice gets two): one bump per office, offices in id order, so that
    concurrent writers take the offices' rows in the same order."""
    counts = Counter(office_ids)
    first: dict[int, int] = {}
    connection = session.connection()
    for office_id in sorted(counts):
        count = counts[office_id]
        bumped = connection.execute(_BUMP_SEQUENCE, {"office": office_id, "count": count}).scalar()
        if bumped is None:
            connection.execute(
                insert(_SEQUENCES), {"office_id": office_id, "next_sequence": count + 1}
            )
            bumped = count + 1
        first[office_id] = int(bumped) - count
    numbers: list[int] = []
    for office_id in office_ids:
        numbers.append(first[office_id])
        first[office_id] += 1
    return numbers


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


class Accepted:
    """A message accepted, or found again by its idempotency key (``replayed``).

    ``ledger_index`` is its accepted event's place in the log; ``opening`` that
    event's opening when it was written now. ``message`` is the message with
    every column loaded: the one read, for a replay; for a message written
    now, built at first use from the row as written and not attached to any
    session, so that a group commit spends no time on it inside its write
    lock.
    """

    def __init__(
        self,
        *,
        ledger_index: int,
        replayed: bool,
        opening: Opening | None = None,
        message: Message | None = None,
        row: dict[str, Any] | None = None,
    ) -> None:
        assert (message is None) != (row is None), "a message, or the row to build it from"
        self.ledger_index = ledger_index
        self.replayed = replayed
        self.opening = opening
        self._message = message
        self._row = row

    @property
    def message(self) -> Message:
        if self._message is None:
            assert self._row is not None
            # Filled in as the ORM fills an object it loads (no attribute events,
            # which cost more than the rest of building the answer).
            message: Message = Message.__mapper__.class_manager.new_instance()
            message.__dict__.update(self._row)
            make_transient_to_detached(message)
            self._message = message
        return self._message


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
    return Accepted(message=existing, ledger_index=existing.accepted_index, replayed=True)


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


@dataclass(frozen=True)
class Acceptance:
    """One message to accept, with what its request said besides the message."""

    submission: Submission | Prepared
    submitted_by_user_id: int | None
    signature: dict[str, Any] | None = None
    idempotency_key: str | None = None
    request_hash: str | None = None


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
    """Accept one message (see ``accept_many``); a refusal is raised."""
    acceptance = Acceptance(
        submission, submitted_by_user_id, signature, idempotency_key, request_hash
    )
    (outcome,) = accept_many(session, [acceptance], now=now, timetable=timetable, limits=limits)
    if isinstance(outcome, PouchError):
        raise outcome
    return outcome


def accept_many(
    session: Session,
    acceptances: Sequence[Acceptance],
    *,
    now: datetime,
    timetable: Timetable,
    limits: Limits,
) -> list[Accepted | PouchError]:
    """Accept messages: store each, number it for its addressee, log ``accepted``.

    Durable and logged once the caller's transaction commits (invariant 1).
    Each is checked first (its offices; its idempotency key, whose retry
    returns the same message); one refused gets its error in its place and
    writes nothing, the others go on. Those accepted are written together:
    one sequence bump per addressee, one log append, one insert per table. A
    group commit of acceptances calls this once for its whole batch; each
    acceptance may be ``prepare``-d already, outside the write lock.

    This is the hot path of intake, so its rows are written with Core
    statements rather than through the ORM's flush.
    """
    outcomes: list[Accepted | PouchError | None] = [None] * len(acceptances)
    if session.autoflush:
        session.flush()  # the caller's pending changes go first, as a query would send them
    earlier = _earlier_requests(session, acceptances)
    fresh: list[tuple[int, Acceptance, Prepared]] = []
    keyed: set[tuple[int, str]] = set()
    again: list[int] = []  # a key repeated in this call: a replay of the first, once written
    for i, acceptance in enumerate(acceptances):
        prepared = acceptance.submission
        submission = prepared.submission if isinstance(prepared, Prepared) else prepared
        key = acceptance.idempotency_key
        try:
            if key is not None:
                if (submission.sender_office_id, key) in keyed:
                    again.append(i)
                    continue
                if (submission.sender_office_id, key) in earlier:
                    outcomes[i] = _replay(session, submission, key, acceptance.request_hash)
                    continue
                keyed.add((submission.sender_office_id, key))
            _check_offices(session, submission)
            if not isinstance(prepared, Prepared):
                prepared = prepare(submission, limits)
        except PouchError as refusal:
            outcomes[i] = refusal
            continue
        fresh.append((i, acceptance, prepared))
    for i, accepted in zip(
        (i for i, _, _ in fresh),
        _write_accepted(session, [(a, p) for _, a, p in fresh], now=now, timetable=timetable),
        strict=True,
    ):
        outcomes[i] = accepted
    if again:
        replays = accept_many(
            session, [acceptances[i] for i in again], now=now, timetable=timetable, limits=limits
        )
        for i, outcome in zip(again, replays, strict=True):
            outcomes[i] = outcome
    done = [outcome for outcome in outcomes if outcome is not None]
    assert len(done) == len(acceptances), "every acceptance has its outcome"
    return done


def _earlier_requests(session: Session, acceptances: Sequence[Acceptance]) -> set[tuple[int, str]]:
    """Which of these idempotency keys their sender office used before, in one query."""
    keys = {a.idempotency_key for a in acceptances if a.idempotency_key is not None}
    if not keys:
        return set()
    rows = session.connection().execute(_USED_KEYS, {"keys": sorted(keys)})
    return {(int(office), str(key)) for office, key in rows}


def _write_accepted(
    session: Session,
    acceptances: Sequence[tuple[Acceptance, Prepared]],
    *,
    now: datetime,
    timetable: Timetable,
) -> list[Accepted]:
    if not acceptances:
        return []
    sequences = _next_sequences(session, [p.submission.addressee_office_id for _, p in acceptances])
    messages: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for (acceptance, prepared), sequence in zip(acceptances, sequences, strict=True):
        submission = prepared.submission
        public_id = new_public_id()
        deliver_by = timetable.deliver_by(submission.precedence, now)
        said: dict[str, Any] = {
            "message": public_id,
            "from_office": submission.sender_office_id,
            "to_office": submission.addressee_office_id,
            "office_sequence": sequence,
            "precedence": submission.precedence.value,
            "content": prepared.content_hash,
            "deliver_by": format_time(deliver_by),
        }
        if submission.in_reply_to_id:
            said["in_reply_to"] = public_id_of(session, submission.in_reply_to_id)
        details.append(said)
        messages.append(
            {
                "public_id": public_id,
                "sender_office_id": submission.sender_office_id,
                "addressee_office_id": submission.addressee_office_id,
                "in_reply_to_id": submission.in_reply_to_id,
                "submitted_by_user_id": acceptance.submitted_by_user_id,
                "subject": submission.subject,
                "body_text": prepared.body_text,
                "body_html": prepared.body_html,
                "declared_language": submission.language,
                "security_label": submission.security_label,
                "precedence": submission.precedence,
                "state": MessageState.ACCEPTED,
                "office_sequence": sequence,
                "content_hash": prepared.content_hash,
                "idempotency_key": acceptance.idempotency_key,
                "request_hash": acceptance.request_hash,
                "signature": acceptance.signature,
                "accepted_at": now,
                "auto_deliver_at": timetable.auto_deliver_at(submission.precedence, now),
                "deliver_by": deliver_by,
                "delivered_at": None,
                "acknowledged_at": None,
                "overdue_at": None,
            }
        )
    recorded = ledger_service.record_events(
        session, [(EventKind.ACCEPTED, said) for said in details], at=now
    )
    for values, event in zip(messages, recorded, strict=True):
        values["accepted_index"] = event.index
    connection = session.connection()
    # Plain executemany, then the ids by public id: RETURNING ids in row
    # order would make SQLAlchemy insert the rows one by one on SQLite.
    connection.execute(_INSERT_MESSAGES, messages)
    public_ids = [values["public_id"] for values in messages]
    ids: dict[str, int] = dict(connection.execute(_IDS_OF, {"public_ids": public_ids}).all())
    for values in messages:
        values["id"] = ids[values["public_id"]]
    for (_, prepared), values in zip(acceptances, messages, strict=True):
        _store_attachments(session, values["id"], prepared)
    connection.execute(
        _INSERT_EVENTS,
        [
            {
                "message_id": values["id"],
                "kind": EventKind.ACCEPTED.value,
                "at": now,
                "actor_user_id": values["submitted_by_user_id"],
                "ledger_index": event.index,
                "details": said,
            }
            for values, event, said in zip(messages, recorded, details, strict=True)
        ],
    )
    return [
        Accepted(row=values, ledger_index=event.index, replayed=False, opening=event.opening)
        for values, event in zip(messages, recorded, strict=True)
    ]


def _store_attachments(session: Session, message_id: int, prepared: Prepared) -> None:
    for attachment, sha, media_type in zip(
        prepared.submission.attachments,
        prepared.attachment_hashes,
        prepared.media_types,
        strict=True,
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


def end_hold(
    session: Session,
    *,
    message: Message,
    hold: Hold,
    status: HoldStatus,
    kind: EventKind,
    at: datetime,
    officer_id: int | None,
) -> None:
    """End a hold (withdrawn, lapsed, released, expired) and record the step ``kind``."""
    hold.status = status
    hold.ended_at = at
    hold.ended_by_user_id = officer_id
    record(session, message, kind, at=at, actor_user_id=officer_id, details={"hold": hold.id})


def is_overdue(message: Message, now: datetime) -> bool:
    """Marked overdue, or still undelivered at its deadline (before the worker marks it)."""
    undelivered = message.state in (MessageState.ACCEPTED, MessageState.HELD)
    return message.overdue_at is not None or (undelivered and message.deliver_by <= now)


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
            end_hold(
                session,
                message=message,
                hold=hold,
                status=HoldStatus.WITHDRAWN,
                kind=EventKind.HOLD_LAPSED,
                at=at,
                officer_id=None,
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


@dataclass(frozen=True)
class Floor:
    """The watch floor: the queue, the hold requests waiting for a second officer, and
    how many queued messages are held and how many overdue."""

    queue: list[Message]
    pending: list[tuple[Message, Hold]]
    held: int
    overdue: int


def floor(session: Session, *, now: datetime) -> Floor:
    messages = queue(session)
    return Floor(
        queue=messages,
        pending=[(m, h) for m in messages for h in m.holds if h.status == HoldStatus.REQUESTED],
        held=sum(1 for m in messages if m.state == MessageState.HELD),
        overdue=sum(1 for m in messages if is_overdue(m, now)),
    )


def events_by_message(
    session: Session, *, message_ids: Sequence[int]
) -> dict[int, list[MessageEvent]]:
    """The events of each message named, oldest first, in one query."""
    events: dict[int, list[MessageEvent]] = {i: [] for i in message_ids}
    if message_ids:
        for event in session.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id.in_(message_ids))
            .order_by(MessageEvent.id)
        ):
            events[event.message_id].append(event)
    return events


def of_offices(session: Session, *, office_ids: set[int], limit: int) -> list[Message]:
    """The newest ``limit`` messages the offices sent or received, newest first."""
    return list(
        session.scalars(
            select(Message)
            .where(
                or_(
                    Message.sender_office_id.in_(office_ids),
                    Message.addressee_office_id.in_(office_ids),
                )
            )
            .options(selectinload(Message.holds))
            .order_by(Message.accepted_at.desc(), Message.id.desc())
            .limit(limit)
        )
    )


def office_ledger(session: Session, *, office_id: int) -> list[tuple[Message, MessageEvent]]:
    """Every message accepted for an office with its accepted event, by sequence number."""
    rows = session.execute(
        select(Message, MessageEvent)
        .join(MessageEvent, MessageEvent.message_id == Message.id)
        .where(Message.addressee_office_id == office_id, MessageEvent.kind == EventKind.ACCEPTED)
        .order_by(Message.office_sequence)
    ).all()
    return [(m, e) for m, e in rows]


def office_listing(session: Session, *, office_id: int) -> list[Listed]:
    """What an office is shown of the messages accepted for it, by sequence number: each
    with the opening of its ``accepted`` event, with which the office checks the log."""
    return _listed(session, office_ledger(session, office_id=office_id))


def _listed(session: Session, rows: list[tuple[Message, MessageEvent]]) -> list[Listed]:
    kept = ledger_service.openings(session, indexes=[event.ledger_index for _, event in rows])
    return [
        Listed(
            message=message.public_id,
            office_sequence=message.office_sequence,
            opening=kept.get(event.ledger_index),
        )
        for message, event in rows
    ]


def issued_numbers(session: Session, *, office_id: int) -> int:
    """How many sequence numbers the office's counter has issued."""
    next_number = session.scalar(
        select(OfficeSequence.next_sequence).where(OfficeSequence.office_id == office_id)
    )
    return int(next_number) - 1 if next_number is not None else 0


@dataclass(frozen=True)
class OfficeCheck:
    """The office's sequence check against the entries the log stores, and the
    messages it verified that are still with the operations center (not held)."""

    check: SequenceCheck
    waiting: list[Message]


def office_check(session: Session, *, office_id: int) -> OfficeCheck:
    """Each message accepted for the office, by the number its opening commits to, its
    entry compared with the log's; a number the counter issued that no opening
    carries is a gap."""
    rows = office_ledger(session, office_id=office_id)
    listed = _listed(session, rows)
    stored = ledger_service.entries(
        session, indexes=[item.opening.index for item in listed if item.opening is not None]
    )

    def in_log(item: Listed, entry: bytes) -> str | None:
        assert item.opening is not None
        if stored.get(item.opening.index) != entry:
            return f"log entry {item.opening.index} is not the opened one"
        return None

    check = check_sequence(
        office_id,
        listed,
        in_log=in_log,
        issued=issued_numbers(session, office_id=office_id),
    )
    unverified = {m.listed.message for m in check.mismatched}
    waiting = [
        message
        for message, _ in rows
        if message.state == MessageState.ACCEPTED and message.public_id not in unverified
    ]
    return OfficeCheck(check=check, waiting=waiting)


def held_notice(message: Message, names: OfficeNames) -> str | None:
    """'held since T, by <office>, until T'' while an approved hold is in force."""
    hold = active_hold(message)
    if hold is None or hold.approved_at is None or hold.until is None:
        return None
    return (
        f"held since {format_time(hold.approved_at)}, by {names.operations}, "
        f"until {format_time(hold.until)}"
    )


@dataclass(frozen=True)
class OfficeNames:
    """The offices' names by id, and the name of the operations center, which holds
    and routes messages (a generic name until the directory has one)."""

    offices: dict[int, str]
    operations: str = "the operations center"

    def of(self, office_id: int, default: str = "?") -> str:
        """An office's name, or ``default`` for an id the directory does not know.

        >>> OfficeNames({2: "President-elect"}).of(2), OfficeNames({}).of(9)
        ('President-elect', '?')
        """
        return self.offices.get(office_id, default)


def office_names(session: Session) -> OfficeNames:
    offices = {o.id: o.name for o in directory_service.list_offices(session)}
    operations = session.scalar(select(Office.name).where(Office.kind == OfficeKind.OPERATIONS))
    if operations is None:
        return OfficeNames(offices)
    return OfficeNames(offices, operations)


# -- a message as a caller may reach it (the rules are messages/access.py's) ---------


def visible(session: Session, *, public_id: str, actor: Actor, for_update: bool = False) -> Message:
    """The message, if the actor may know it exists; else as if there were none (404)."""
    message = get_message(session, public_id, for_update=for_update)
    if not access.may_see(actor, message):
        # Not "forbidden": whether a message exists is itself not for everyone.
        raise NotFound(f"no message {public_id!r}")
    return message


def addressed(
    session: Session, *, public_id: str, actor: Actor, for_update: bool = False
) -> Message:
    """The message, for the principal or staff of its addressee office: 404 to whoever
    may not see it, 403 to whoever sees it but does not answer for that office."""
    message = visible(session, public_id=public_id, actor=actor, for_update=for_update)
    if not access.answers_for(actor, message.addressee_office_id):
        raise PermissionDenied("only the principal and staff of the addressee office may do this")
    return message


def read_by(session: Session, *, public_id: str, actor: Actor, now: datetime) -> Message:
    """A member of the addressee office opened the message (recorded once per member)."""
    message = addressed(session, public_id=public_id, actor=actor, for_update=True)
    mark_read(session, message=message, user_id=actor.user_id, now=now)
    return message


def acknowledge_by(session: Session, *, public_id: str, actor: Actor, now: datetime) -> Message:
    """The addressee office acknowledges the message; the sender is told."""
    message = addressed(session, public_id=public_id, actor=actor, for_update=True)
    acknowledge(session, message=message, user_id=actor.user_id, now=now)
    return message


def reply_by(
    session: Session,
    *,
    public_id: str,
    actor: Actor,
    body: str,
    body_format: str,
    language: str | None,
    precedence: Precedence,
    subject: str | None,
    now: datetime,
    timetable: Timetable,
    limits: Limits,
) -> Accepted:
    """A reply from the addressee office (``reply``), by one who answers for it."""
    original = addressed(session, public_id=public_id, actor=actor)
    return reply(
        session,
        original,
        body=body,
        body_format=body_format,
        language=language,
        precedence=precedence,
        subject=subject,
        user_id=actor.user_id,
        now=now,
        timetable=timetable,
        limits=limits,
    )


@dataclass(frozen=True)
class Opened:
    """A message opened in its addressee's inbox: whether this was the member's first
    read, and the replies the office sent to it."""

    message: Message
    first_read: bool
    replies: list[Message]


def open_in_inbox(session: Session, *, public_id: str, actor: Actor, now: datetime) -> Opened:
    """Open a message as a member of its addressee office; a delivered message's first
    read by this member is recorded (a held one is shown, not read)."""
    message = addressed(session, public_id=public_id, actor=actor, for_update=True)
    first_read = False
    if message.state in (MessageState.DELIVERED, MessageState.ACKNOWLEDGED):
        first_read = mark_read(session, message=message, user_id=actor.user_id, now=now)
    return Opened(
        message=message, first_read=first_read, replies=replies_to(session, message=message)
    )


def tracked(session: Session, *, public_id: str, actor: Actor) -> Message:
    """A message the actor's office sent or received, followed as its sender (404 for
    any other)."""
    message = get_message(session, public_id)
    if not access.may_track(actor, message):
        raise NotFound(f"no message {public_id!r} of your office")
    return message


def replies_to(session: Session, *, message: Message) -> list[Message]:
    """The replies to a message, oldest first."""
    return list(
        session.scalars(
            select(Message).where(Message.in_reply_to_id == message.id).order_by(Message.id)
        )
    )


def attachment_of(session: Session, *, message: Message, attachment_id: int) -> Attachment:
    """One of the message's attachments (404 for another message's)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or attachment.message_id != message.id:
        raise NotFound(f"message {message.public_id} has no attachment {attachment_id}")
    return attachment


@dataclass(frozen=True)
class AttachmentFile:
    attachment: Attachment
    content: bytes


def attachment_file(
    session: Session, *, public_id: str, attachment_id: int, actor: Actor
) -> AttachmentFile:
    """An attachment with its bytes, to whoever sees its message; a quarantined one
    only to the watch officers."""
    message = visible(session, public_id=public_id, actor=actor)
    attachment = attachment_of(session, message=message, attachment_id=attachment_id)
    if not access.may_fetch(actor, attachment):
        raise PermissionDenied(f"the attachment is quarantined: {attachment.quarantine_reason}")
    blob = session.get(AttachmentBlob, attachment.sha256)
    assert blob is not None, "every attachment has its blob"
    return AttachmentFile(attachment=attachment, content=bytes(blob.data))
