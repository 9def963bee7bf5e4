"""Acceptance: a message comes in, is stored, numbered for its addressee, and logged.

``accept_many`` is the one way a message is accepted (``accept`` is one of
it), whoever submits it: a signed submission a group commit's batch at a
time (``intake``), a reply (``service.reply``), the demo. The message is
durable and its ``accepted`` event in the log once the caller's transaction
commits (invariant 1); the sender is told only then. What can be worked out
before the transaction is (``prepare``: attachments checked against the
limits, HTML sanitized, content hashed), so that a group commit holding the
write lock spends its time only on what needs the database. Every later
step of a message is a transition of ``messages.service``.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import filetype
import nh3
import rfc8785
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached

from pouch import postgres
from pouch.directory.models import Office, OfficeKind
from pouch.errors import Conflict, FieldError, InvalidInput, PayloadTooLarge, PouchError
from pouch.events import EventKind
from pouch.ledger import sequencer
from pouch.ledger import service as ledger_service
from pouch.ledger.events import Opening, format_time
from pouch.messages.models import (
    Attachment,
    AttachmentBlob,
    Message,
    MessageEvent,
    MessageState,
    OfficeSequence,
)
from pouch.messages.rules import Precedence, Timetable
from pouch.settings import Settings

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

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_attachment_bytes, settings.max_attachments)


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
_USED_KEYS = select(_MESSAGES.c.sender_office_id, _MESSAGES.c.idempotency_key).where(
    _MESSAGES.c.idempotency_key.in_(bindparam("keys", expanding=True))
)
_OFFICE_KIND = select(_OFFICES.c.kind, _OFFICES.c.retired_at.is_not(None)).where(
    _OFFICES.c.id == bindparam("office")
)
_INSERT_MESSAGES = insert(_MESSAGES)
_IDS_OF = select(_MESSAGES.c.public_id, _MESSAGES.c.id).where(
    _MESSAGES.c.public_id.in_(bindparam("public_ids", expanding=True))
)
_PUBLIC_ID = select(_MESSAGES.c.public_id).where(_MESSAGES.c.id == bindparam("message"))


def _next_sequences(session: Session, office_ids: Sequence[int]) -> list[int]:
    """The next sequence number of each office named, in order (an office named
    twice gets two): one bump per office, offices in id order, so that
    concurrent writers take the offices' rows in the same order."""
    counts = Counter(office_ids)
    first: dict[int, int] = {}
    connection = session.connection()
    offices = sorted(counts)
    bumps = [{"office": office_id, "count": counts[office_id]} for office_id in offices]
    # On PostgreSQL, one round trip for every office: their rows are held until commit.
    rows = postgres.returning_each(connection, _BUMP_SEQUENCE, bumps)
    for office_id, row in zip(offices, rows, strict=True):
        count = counts[office_id]
        bumped = row[0] if row is not None else None
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


def _office(session: Session, office_id: int) -> tuple[OfficeKind, bool] | None:
    """An office's kind and whether it is retired, read once per transaction: offices
    are not deleted while messages name them, and a batch of acceptances asks about
    the same few."""
    offices: dict[int, tuple[OfficeKind, bool]] = session.info.setdefault("pouch.offices", {})
    if office_id not in offices:
        row = session.connection().execute(_OFFICE_KIND, {"office": office_id}).first()
        if row is None:
            return None
        offices[office_id] = (OfficeKind(row[0]), bool(row[1]))
    return offices[office_id]


def _office_kind(session: Session, office_id: int) -> OfficeKind | None:
    found = _office(session, office_id)
    return found[0] if found is not None else None


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
    for office_id, field in (
        (submission.addressee_office_id, "body.addressee_office_id"),
        (submission.sender_office_id, "body.sender_office_id"),
    ):
        found = _office(session, office_id)
        if found is not None and found[1]:
            raise InvalidInput(
                f"office {office_id} is retired: it sends and receives nothing more",
                field_errors=[FieldError(field, "a retired office")],
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
    #: What the ``accepted`` event commits to besides the message, on its channel's
    #: word (a mail's raw SHA-256 and DKIM verdict); never one of the message's own keys.
    evidence: dict[str, Any] | None = None


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
    spend: Callable[[Sequence[int]], None] | None = None,
) -> list[Accepted | PouchError]:
    """Accept messages: store each, number it for its addressee, log ``accepted``.

    Durable and logged once the caller's transaction commits (invariant 1).
    Each is checked first (its offices; its idempotency key, whose retry
    returns the same message); one refused gets its error in its place and
    writes nothing, the others go on. Those accepted are written together:
    one sequence bump per addressee, one log append, one insert per table. A
    group commit of acceptances calls this once for its whole batch; each
    acceptance may be ``prepare``-d already, outside the write lock.

    ``spend`` is told the positions of those about to be accepted or
    replayed, once all are checked and before any office's row is taken (a
    signed submission's nonce is written then, not while others wait).

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
    if spend is not None:
        replayed = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Accepted)]
        spend(sorted([*replayed, *(i for i, _, _ in fresh)]))
    for i, accepted in zip(
        (i for i, _, _ in fresh),
        _write_accepted(session, [(a, p) for _, a, p in fresh], now=now, timetable=timetable),
        strict=True,
    ):
        outcomes[i] = accepted
    if again:
        replays = accept_many(
            session,
            [acceptances[i] for i in again],
            now=now,
            timetable=timetable,
            limits=limits,
            spend=None if spend is None else lambda some: spend([again[i] for i in some]),
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


def _public_id_of(session: Session, message_id: int) -> str | None:
    """The public id of the message a reply answers."""
    return session.connection().execute(_PUBLIC_ID, {"message": message_id}).scalar()


def _write_accepted(
    session: Session,
    acceptances: Sequence[tuple[Acceptance, Prepared]],
    *,
    now: datetime,
    timetable: Timetable,
) -> list[Accepted]:
    if not acceptances:
        return []
    # The rows and events are made before the offices' sequence rows are taken
    # (on PostgreSQL they are held from the bump to the commit, and every other
    # writer to those offices waits); the numbers are filled in after.
    messages: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for acceptance, prepared in acceptances:
        submission = prepared.submission
        public_id = new_public_id()
        deliver_by = timetable.deliver_by(submission.precedence, now)
        said: dict[str, Any] = {
            "message": public_id,
            "from_office": submission.sender_office_id,
            "to_office": submission.addressee_office_id,
            "office_sequence": None,  # below
            "precedence": submission.precedence.value,
            "content": prepared.content_hash,
            "deliver_by": format_time(deliver_by),
        }
        if submission.in_reply_to_id:
            said["in_reply_to"] = _public_id_of(session, submission.in_reply_to_id)
        if acceptance.evidence:
            said = {**acceptance.evidence, **said}
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
                "office_sequence": None,  # below
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
    connection = session.connection()
    on_postgres = postgres.psycopg_of(connection) is not None
    if on_postgres:
        # Their ids first, while nothing is held: the events can then name their
        # messages in the round trip that writes both.
        for values, message_id in zip(
            messages, postgres.next_ids(connection, _MESSAGES, len(messages)), strict=True
        ):
            values["id"] = message_id
    # From here to the commit, the addressees' sequence rows are held (on
    # PostgreSQL: this round trip, the head row's, the one writing it all, COMMIT).
    sequences = _next_sequences(session, [p.submission.addressee_office_id for _, p in acceptances])
    for said, values, sequence in zip(details, messages, sequences, strict=True):
        said["office_sequence"] = values["office_sequence"] = sequence
    # Tagged for the addressee office and the sender office (invariant 5).
    recorded, openings = ledger_service.append_events(
        session,
        [(EventKind.ACCEPTED, said, (said["to_office"], said["from_office"])) for said in details],
        at=now,
    )
    for values, event in zip(messages, recorded, strict=True):
        values["accepted_index"] = event.index
    accepted_events = [
        {
            "message_id": None,  # below, on SQLite
            "kind": EventKind.ACCEPTED.value,
            "at": now,
            "actor_user_id": values["submitted_by_user_id"],
            "ledger_index": event.index,
            "details": said,
        }
        for values, event, said in zip(messages, recorded, details, strict=True)
    ]
    if on_postgres:
        for values, row in zip(messages, accepted_events, strict=True):
            row["message_id"] = values["id"]
        # Openings, messages, events and the log's entries: one round trip.
        postgres.insert_together(
            connection,
            [openings, (_MESSAGES, messages), (_EVENTS, accepted_events)],
            then=sequencer.pending_write(session),
        )
    else:
        postgres.insert_many(connection, *openings)
        # Plain executemany, then the ids by public id: RETURNING ids in row
        # order would make SQLAlchemy insert the rows one by one on SQLite.
        connection.execute(_INSERT_MESSAGES, messages)
        public_ids = [values["public_id"] for values in messages]
        ids = dict(connection.execute(_IDS_OF, {"public_ids": public_ids}).all())
        for values, row in zip(messages, accepted_events, strict=True):
            row["message_id"] = values["id"] = ids[values["public_id"]]
        connection.execute(insert(_EVENTS), accepted_events)
    for (_, prepared), values in zip(acceptances, messages, strict=True):
        _store_attachments(session, values["id"], prepared)
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
