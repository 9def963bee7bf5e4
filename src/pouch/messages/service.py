"""The message state machine: accepted → (held) → delivered → acknowledged.

A message enters it through ``messages.acceptance``; from there on every
transition is written by ``record``, which writes the message's event row
and its ledger event in the caller's transaction: exactly one ledger event
per state change. A reply is a new message, accepted once the one it answers
is delivered. Services never commit.

A message reached on someone's behalf (``visible``, ``addressed``, ``tracked``
and the actions built on them) is looked up under the rules of
``messages/access.py``: 404 to whoever may not see it, 403 to whoever sees it
but may not act.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from pouch.directory.models import Office, OfficeKind
from pouch.errors import Conflict, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.identity.service import Actor
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening, format_time
from pouch.messages import acceptance, access, notify, search
from pouch.messages.models import (
    SHOWN_COLUMNS,
    Attachment,
    AttachmentBlob,
    Hold,
    HoldStatus,
    Message,
    MessageEvent,
    MessageRead,
    MessageState,
    OfficeSequence,
    Shown,
)
from pouch.messages.rules import Precedence, Timetable, find_gaps, joined_runs
from pouch.messages.sequence import Listed, SequenceCheck, check_sequence


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
    # Tagged for both offices: each finds the step in the log, whatever it is shown.
    recorded = ledger_service.record_event(
        session,
        kind=kind,
        at=at,
        details=event_details,
        parties=(message.addressee_office_id, message.sender_office_id),
    )
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


def active_hold(message: Message | Shown) -> Hold | None:
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
    assertion: str | None = None,
) -> None:
    """End a hold (withdrawn, lapsed, released, expired) and record the step ``kind``
    (with the hash of the officer's signed ``assertion``, when the decision was signed)."""
    hold.status = status
    hold.ended_at = at
    hold.ended_by_user_id = officer_id
    details: dict[str, Any] = {"hold": hold.id}
    if assertion is not None:
        details["assertion"] = assertion
    record(session, message, kind, at=at, actor_user_id=officer_id, details=details)


def is_overdue(message: Message, now: datetime) -> bool:
    """Marked overdue, or still undelivered at its deadline (before the worker marks it)."""
    undelivered = message.state in (MessageState.ACCEPTED, MessageState.HELD)
    return message.overdue_at is not None or (undelivered and message.deliver_by <= now)


def deliver(
    session: Session,
    message: Message,
    *,
    at: datetime,
    actor_user_id: int | None,
    how: str,
    assertion: str | None = None,
) -> MessageEvent:
    """Put the message in its addressee's inbox; ``how`` says why now (``assertion``: the
    hash of the officer's signed decision to route it)."""
    if message.state not in (MessageState.ACCEPTED, MessageState.HELD):
        raise Conflict(f"message {message.public_id} is already {message.state.value}")
    if at > message.deliver_by:
        # Late, whatever the reason (the worker was down, a hold ran past the
        # deadline): the lateness is recorded and reported before the delivery.
        mark_overdue(session, message, at=at)
    message.state = MessageState.DELIVERED
    message.delivered_at = at
    details: dict[str, Any] = {"how": how}
    if assertion is not None:
        details["assertion"] = assertion
    event = record(
        session, message, EventKind.DELIVERED, at=at, actor_user_id=actor_user_id, details=details
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


def route(
    session: Session,
    *,
    public_id: str,
    actor_user_id: int,
    now: datetime,
    assertion: str | None = None,
) -> Message:
    """A watch officer delivers a message from the queue now."""
    message = get_message(session, public_id, for_update=True)
    if message.state == MessageState.HELD:
        raise Conflict("the message is held: release the hold to deliver it")
    deliver(
        session, message, at=now, actor_user_id=actor_user_id, how="routed", assertion=assertion
    )
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


#: The states in which a message is in its addressee's inbox (held ones shown as held).
INBOX_STATES = (MessageState.DELIVERED, MessageState.ACKNOWLEDGED, MessageState.HELD)


def inbox(session: Session, *, office_id: int, user_id: int) -> list[tuple[Message, bool]]:
    """Messages delivered or held for an office, unread first, newest first; with read flags."""
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.addressee_office_id == office_id, Message.state.in_(INBOX_STATES))
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


def inbox_by_number(session: Session, *, office_id: int, after: int, limit: int) -> list[Shown]:
    """A page of the office's inbox by sequence number (keyset): the ``limit`` numbered
    after ``after``, for a client reading all of it beside the office's ledger. Read
    as rows (``Shown``); the holds of the held and the attachments in a query each."""
    answered = aliased(Message)
    columns = [getattr(Message, name) for name in SHOWN_COLUMNS]
    rows = session.execute(
        select(Message.id, answered.public_id.label("in_reply_to"), *columns)
        .outerjoin(answered, answered.id == Message.in_reply_to_id)
        .where(
            Message.addressee_office_id == office_id,
            Message.office_sequence > after,
            Message.state.in_(INBOX_STATES),
        )
        .order_by(Message.office_sequence)
        .limit(limit)
    ).all()
    held = [row.id for row in rows if row.state is MessageState.HELD]
    holds = _by_message(session, Hold, held)
    attachments = _by_message(session, Attachment, [row.id for row in rows])
    return [
        Shown(
            **{name: getattr(row, name) for name in SHOWN_COLUMNS},
            in_reply_to=row.in_reply_to,
            holds=holds.get(row.id, ()),
            attachments=attachments.get(row.id, ()),
        )
        for row in rows
    ]


#: What a message has rows of beside it, read for a page of messages at once.
_Part = TypeVar("_Part", Hold, Attachment)


def _by_message(
    session: Session, model: type[_Part], message_ids: list[int]
) -> dict[int, list[_Part]]:
    """The rows of ``model`` of each of the messages, in the order they were made."""
    found: dict[int, list[_Part]] = {}
    if message_ids:
        query = select(model).where(model.message_id.in_(message_ids)).order_by(model.id)
        for row in session.scalars(query):
            found.setdefault(row.message_id, []).append(row)
    return found


def queue(session: Session) -> list[Message]:
    """The watch floor's queue: not yet delivered, most urgent and nearest deadline first."""
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.state.in_([MessageState.ACCEPTED, MessageState.HELD]))
            .options(selectinload(Message.holds), selectinload(Message.attachments))
        )
    )
    return sorted(messages, key=lambda m: (m.precedence.rank, m.deliver_by))


@dataclass(frozen=True)
class Floor:
    """The watch floor: a page of the queue (most urgent first) and the cursor of the
    next, the hold requests waiting for a second officer, how many messages are queued,
    held and overdue, and what was delivered lately."""

    queue: list[Message]
    next: str | None
    #: This page's cursor (None: the first page).
    after: str | None
    total: int
    pending: list[tuple[Message, Hold]]
    held: int
    overdue: int
    recent: list[Message]


#: How far back the floor's "recently delivered" looks, and how many it lists.
RECENT = timedelta(hours=24)
RECENT_LIMIT = 20


def recently_delivered(session: Session, *, now: datetime) -> list[Message]:
    """The messages delivered in the last ``RECENT``, newest first (at most
    ``RECENT_LIMIT``): what left the queue, and when."""
    return list(
        session.scalars(
            select(Message)
            .where(Message.delivered_at >= now - RECENT)
            .order_by(Message.delivered_at.desc(), Message.id.desc())
            .limit(RECENT_LIMIT)
        )
    )


def floor(session: Session, *, now: datetime, after: str | None = None, limit: int = 50) -> Floor:
    """The floor with a page of ``limit`` queued messages after the cursor ``after``:
    however long the backlog, one page is read and drawn (the counts are the
    database's; ``POUCH_WATCH_PAGE_SIZE``)."""
    page = search.find(
        session,
        scope=search.queue(),
        criteria=search.Criteria(),
        sort=search.Sort.PRECEDENCE,
        after=after,
        limit=limit,
    )
    undelivered = Message.state.in_([MessageState.ACCEPTED, MessageState.HELD])
    late = or_(Message.overdue_at.is_not(None), Message.deliver_by <= now)
    total, held, overdue = session.execute(
        select(
            func.count(),
            func.count().filter(Message.state == MessageState.HELD),
            func.count().filter(late),
        ).where(undelivered)
    ).one()
    pending = session.execute(
        select(Message, Hold)
        .join(Hold, Hold.message_id == Message.id)
        .where(undelivered, Hold.status == HoldStatus.REQUESTED)
        .order_by(Hold.requested_at, Hold.id)
    ).all()
    return Floor(
        queue=page.rows,
        next=page.next,
        after=after,
        total=int(total),
        pending=[(m, h) for m, h in pending],
        held=int(held),
        overdue=int(overdue),
        recent=recently_delivered(session, now=now),
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


def office_ledger(
    session: Session, *, office_id: int, after: int = 0, limit: int | None = None
) -> list[tuple[Message, MessageEvent]]:
    """The messages accepted for an office with their accepted events, by sequence number:
    every one, or (keyset) the ``limit`` numbered after ``after``."""
    found = _accepted_for((Message, MessageEvent), office_id, after, limit)
    return [(m, e) for m, e in session.execute(found).all()]


def _accepted_for(
    columns: Sequence[Any], office_id: int, after: int, limit: int | None
) -> Select[*tuple[Any, ...]]:
    found = (
        select(*columns)
        .join(MessageEvent, MessageEvent.message_id == Message.id)
        .where(
            Message.addressee_office_id == office_id,
            Message.office_sequence > after,
            MessageEvent.kind == EventKind.ACCEPTED,
        )
        .order_by(Message.office_sequence)
    )
    return found.limit(limit) if limit is not None else found


def office_listing(
    session: Session, *, office_id: int, after: int = 0, limit: int | None = None
) -> list[Listed]:
    """What an office is shown of the messages accepted for it, by sequence number: each
    with the opening of its ``accepted`` event, with which the office checks the log.
    Three columns a message, not the messages: a page is a thousand of them."""
    columns = (Message.public_id, Message.office_sequence, MessageEvent.ledger_index)
    rows = session.execute(_accepted_for(columns, office_id, after, limit)).all()
    return _listed(session, [(public_id, number, index) for public_id, number, index in rows])


def _listed(session: Session, rows: Sequence[tuple[str, int, int]]) -> list[Listed]:
    """(public id, sequence number, ``accepted`` event's index) as the office is shown it."""
    kept = ledger_service.openings(session, indexes=[index for _, _, index in rows])
    return [
        Listed(message=public_id, office_sequence=number, opening=kept.get(index))
        for public_id, number, index in rows
    ]


def issued_numbers(session: Session, *, office_id: int) -> int:
    """How many sequence numbers the office's counter has issued."""
    next_number = session.scalar(
        select(OfficeSequence.next_sequence).where(OfficeSequence.office_id == office_id)
    )
    return int(next_number) - 1 if next_number is not None else 0


def _shown_contents(session: Session, messages: Sequence[Message]) -> dict[str, str]:
    """The content hash of each message as it is stored now (``acceptance.content_hash``
    of its subject, body and attachments' hashes): an operator who changed a
    message after acceptance cannot make it match its ``accepted`` event."""
    hashes: dict[int, list[str]] = {message.id: [] for message in messages}
    ids = list(hashes)
    for start in range(0, len(ids), 500):
        for message_id, sha256 in session.execute(
            select(Attachment.message_id, Attachment.sha256)
            .where(Attachment.message_id.in_(ids[start : start + 500]))
            .order_by(Attachment.id)
        ):
            hashes[message_id].append(sha256)
    return {
        message.public_id: acceptance.content_hash(
            acceptance.Submission(
                sender_office_id=message.sender_office_id,
                addressee_office_id=message.addressee_office_id,
                subject=message.subject,
                body=message.body_text,
                body_format="text" if message.body_html is None else "html",
                language=message.declared_language,
                precedence=message.precedence,
                security_label=message.security_label,
            ),
            message.body_html,
            hashes[message.id],
        )
        for message in messages
    }


#: The inbox page recomputes the latest this many numbers from the log (its first pages
#: and more); the numbers before them it counts (``pouch office check`` recomputes
#: every one, off the server).
RECENTLY_CHECKED = 250


@dataclass(frozen=True)
class OfficeCheck:
    """The office's sequence check against the entries the log stores, and the
    messages it verified that are still with the operations center (not held).
    Numbers up to ``counted_through`` were counted, not recomputed (0: none)."""

    check: SequenceCheck
    waiting: list[Message]
    counted_through: int = 0


def office_check(
    session: Session, *, office_id: int, recent: int = RECENTLY_CHECKED
) -> OfficeCheck:
    """Each message accepted for the office, by the number its opening commits to, its
    entry compared with the log's, and what it says with what its acceptance committed
    to; a number the counter issued that no opening carries is a gap.

    The page must load in the same time at any size: the latest ``recent`` numbers,
    and every message still waiting, are checked in full; the numbers before them
    are counted in SQL, a gap among them found all the same."""
    issued = issued_numbers(session, office_id=office_id)
    counted_through = max(0, issued - recent)
    rows = office_ledger(session, office_id=office_id, after=counted_through)
    rows += _waiting_before(session, office_id=office_id, upto=counted_through)
    contents = _shown_contents(session, [message for message, _ in rows])
    listed = [
        dataclasses.replace(item, content=contents[item.message])
        for item in _listed(
            session, [(m.public_id, m.office_sequence, e.ledger_index) for m, e in rows]
        )
    ]
    stored = ledger_service.entries(
        session, indexes=[item.opening.index for item in listed if item.opening is not None]
    )

    def in_log(item: Listed, entry: bytes) -> str | None:
        assert item.opening is not None
        if stored.get(item.opening.index) != entry:
            return f"log entry {item.opening.index} is not the opened one"
        return None

    recent_check = check_sequence(
        office_id, listed, in_log=in_log, issued=issued, first=counted_through + 1
    )
    counted, earlier_gaps = _counted(session, office_id=office_id, upto=counted_through)
    check = dataclasses.replace(
        recent_check,
        verified=recent_check.verified + counted,
        gaps=joined_runs(earlier_gaps + recent_check.gaps),
    )
    unverified = {m.listed.message for m in check.mismatched if m.what == "opening"}
    waiting = sorted(
        (
            message
            for message, _ in rows
            if message.state == MessageState.ACCEPTED and message.public_id not in unverified
        ),
        key=lambda message: message.office_sequence,
    )
    return OfficeCheck(check=check, waiting=waiting, counted_through=counted_through)


def _waiting_before(
    session: Session, *, office_id: int, upto: int
) -> list[tuple[Message, MessageEvent]]:
    """The office's messages numbered up to ``upto`` still with the operations center,
    with their accepted events: checked in full however old they are."""
    if upto == 0:
        return []
    found = (
        select(Message, MessageEvent)
        .join(MessageEvent, MessageEvent.message_id == Message.id)
        .where(
            Message.state == MessageState.ACCEPTED,
            # "+ 0": read from the queue's index (its few rows), not the office's, which
            # SQLite's planner takes and then walks all of the office's numbers.
            Message.addressee_office_id + 0 == office_id,
            Message.office_sequence <= upto,
            MessageEvent.kind == EventKind.ACCEPTED,
        )
        .order_by(Message.office_sequence)
    )
    return [(m, e) for m, e in session.execute(found).all()]


def _counted(session: Session, *, office_id: int, upto: int) -> tuple[int, list[tuple[int, int]]]:
    """How many of the numbers 1..``upto`` a message of the office carries, and the
    runs none carries: a count first, the numbers themselves only when one is missing."""
    if upto == 0:
        return 0, []
    numbered = (Message.addressee_office_id == office_id) & (Message.office_sequence <= upto)
    counted = session.scalar(select(func.count()).select_from(Message).where(numbered)) or 0
    if counted == upto:
        return counted, []
    numbers = session.scalars(
        select(Message.office_sequence).where(numbered).order_by(Message.office_sequence)
    ).all()
    return counted, find_gaps(list(numbers), last=upto)


def held_notice(message: Message | Shown, names: OfficeNames) -> str | None:
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
    """Read for every list and page (a few hundred offices): three columns, one query."""
    rows = session.execute(select(Office.id, Office.name, Office.kind).order_by(Office.id)).all()
    offices = {office_id: name for office_id, name, _ in rows}
    operations = next((name for _, name, kind in rows if kind == OfficeKind.OPERATIONS), None)
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
    limits: acceptance.Limits,
) -> acceptance.Accepted:
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
    """A message as its addressee's inbox shows it: whether this member has read it, and
    the replies the office sent to it."""

    message: Message
    read: bool
    replies: list[Message]


def in_inbox(session: Session, *, public_id: str, actor: Actor) -> Opened:
    """A message shown to a member of its addressee office. Nothing is recorded: showing
    is a GET, which prefetchers and link scanners make too; ``read_in_inbox`` records."""
    message = addressed(session, public_id=public_id, actor=actor)
    read = session.scalar(
        select(MessageRead.id).where(
            MessageRead.message_id == message.id, MessageRead.user_id == actor.user_id
        )
    )
    return Opened(
        message=message, read=read is not None, replies=replies_to(session, message=message)
    )


def read_in_inbox(session: Session, *, public_id: str, actor: Actor, now: datetime) -> bool:
    """A member of the addressee office read the message (a POST from its page); returns
    whether this was the member's first read, the one recorded and told to the sender."""
    message = addressed(session, public_id=public_id, actor=actor, for_update=True)
    return mark_read(session, message=message, user_id=actor.user_id, now=now)


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
