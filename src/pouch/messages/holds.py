"""Holds (invariant 3): never silent, never single-handed, never endless.

A watch officer asks for a hold with a reason and a duration. It does nothing
until a second, different officer approves it; then delivery waits until the
hold is released or expires, when the message is delivered at once. Each
hold is capped by precedence, a renewal needs a new approval, and the total
is capped (72 h by default). While a hold lasts, the sender's status and the
addressee's inbox show it. Quarantining an attachment holds back only that
file: the text goes through, with a notice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.ledger.events import format_time
from pouch.messages import claims, notify
from pouch.messages import service as message_service
from pouch.messages.models import Attachment, Hold, HoldStatus, Message, MessageState
from pouch.messages.rules import Timetable


def _signed(details: dict[str, Any], assertion: str | None) -> dict[str, Any]:
    """An officer's decision logs the hash of the assertion that confirmed it, if any."""
    return details if assertion is None else {**details, "assertion": assertion}


def _time_held(message: Message) -> timedelta:
    total = timedelta(0)
    for hold in message.holds:
        if hold.approved_at is not None:
            total += timedelta(seconds=hold.duration_seconds)
    return total


def _hold_of(
    session: Session, *, public_id: str, hold_id: int, status: HoldStatus, refusal: str
) -> tuple[Message, Hold]:
    """The message (locked) and its hold, which must be ``status``; else ``refusal``."""
    message = message_service.get_message(session, public_id, for_update=True)
    hold = session.get(Hold, hold_id)
    if hold is None or hold.message_id != message.id:
        raise NotFound(f"message {message.public_id} has no hold {hold_id}")
    if hold.status != status:
        raise Conflict(f"hold {hold_id} is {hold.status.value}{refusal}")
    return message, hold


def request_hold(
    session: Session,
    *,
    public_id: str,
    officer_id: int,
    reason: str,
    duration: timedelta,
    now: datetime,
    timetable: Timetable,
    assertion: str | None = None,
) -> Hold:
    """Ask for a hold (or, on a held message, for its renewal). ``assertion`` is the hash
    of the officer's signed decision (``identity.passkeys.confirm``), logged with it."""
    message = message_service.get_message(session, public_id, for_update=True)
    if message.state not in (MessageState.ACCEPTED, MessageState.HELD):
        raise Conflict(f"message {public_id} is already {message.state.value}: nothing to hold")
    if any(h.status == HoldStatus.REQUESTED for h in message.holds):
        raise Conflict("a hold request on this message is already waiting for approval")
    problem = timetable.check_hold(
        message.precedence, duration=duration, already_held=_time_held(message)
    )
    if problem is not None:
        raise InvalidInput(problem, field_errors=[FieldError("body.duration_minutes", problem)])
    renews = message_service.active_hold(message)
    hold = Hold(
        message_id=message.id,
        status=HoldStatus.REQUESTED,
        reason=reason,
        duration_seconds=int(duration.total_seconds()),
        requested_by_user_id=officer_id,
        requested_at=now,
        renews_hold_id=renews.id if renews is not None else None,
    )
    session.add(hold)
    session.flush()
    message_service.record(
        session,
        message,
        EventKind.HOLD_REQUESTED,
        at=now,
        actor_user_id=officer_id,
        details=_signed(
            {
                "hold": hold.id,
                "minutes": duration.total_seconds() / 60,
                "renews": hold.renews_hold_id,
            },
            assertion,
        ),
    )
    return hold


def approve_hold(
    session: Session,
    *,
    public_id: str,
    hold_id: int,
    officer_id: int,
    now: datetime,
    assertion: str | None = None,
) -> Hold:
    """The second officer's approval: the hold takes effect now."""
    message, hold = _hold_of(
        session,
        public_id=public_id,
        hold_id=hold_id,
        status=HoldStatus.REQUESTED,
        refusal=", not waiting for approval",
    )
    if hold.requested_by_user_id == officer_id:
        raise PermissionDenied("a hold must be approved by a second officer, not its requester")
    if message.state not in (MessageState.ACCEPTED, MessageState.HELD):
        raise Conflict(f"message {public_id} was {message.state.value} meanwhile")
    previous = message_service.active_hold(message)
    if previous is not None:
        # A renewal replaces the hold in force; its time starts now.
        previous.status = HoldStatus.RELEASED
        previous.ended_at = now
        previous.ended_by_user_id = officer_id
    hold.status = HoldStatus.ACTIVE
    hold.approved_by_user_id = officer_id
    hold.approved_at = now
    hold.until = now + timedelta(seconds=hold.duration_seconds)
    message.state = MessageState.HELD
    message_service.record(
        session,
        message,
        EventKind.HOLD_APPROVED,
        at=now,
        actor_user_id=officer_id,
        details=_signed({"hold": hold.id, "until": format_time(hold.until)}, assertion),
    )
    notify.message_step(
        session,
        message,
        "held",
        at=now,
        details={"until": format_time(hold.until), "reason_given": True},
        audience=("sender", "addressee"),
    )
    return hold


def withdraw_hold(
    session: Session,
    *,
    public_id: str,
    hold_id: int,
    officer_id: int,
    now: datetime,
    assertion: str | None = None,
) -> Hold:
    """Take back a request that was never approved."""
    message, hold = _hold_of(
        session,
        public_id=public_id,
        hold_id=hold_id,
        status=HoldStatus.REQUESTED,
        refusal="; only a request can be withdrawn",
    )
    message_service.end_hold(
        session,
        message=message,
        hold=hold,
        status=HoldStatus.WITHDRAWN,
        kind=EventKind.HOLD_WITHDRAWN,
        at=now,
        officer_id=officer_id,
        assertion=assertion,
    )
    return hold


def _end_hold(
    session: Session,
    message: Message,
    hold: Hold,
    *,
    status: HoldStatus,
    now: datetime,
    officer_id: int | None,
    assertion: str | None = None,
) -> None:
    """A hold released or expired: the message is delivered at once."""
    kind = EventKind.HOLD_RELEASED if status == HoldStatus.RELEASED else EventKind.HOLD_EXPIRED
    message_service.end_hold(
        session,
        message=message,
        hold=hold,
        status=status,
        kind=kind,
        at=now,
        officer_id=officer_id,
        assertion=assertion,
    )
    message.state = MessageState.ACCEPTED
    message_service.deliver(session, message, at=now, actor_user_id=officer_id, how=kind)


def release_hold(
    session: Session,
    *,
    public_id: str,
    hold_id: int,
    officer_id: int,
    now: datetime,
    assertion: str | None = None,
) -> Hold:
    """End a hold early; the message is delivered at once."""
    message, hold = _hold_of(
        session,
        public_id=public_id,
        hold_id=hold_id,
        status=HoldStatus.ACTIVE,
        refusal=", not in force",
    )
    _end_hold(
        session,
        message,
        hold,
        status=HoldStatus.RELEASED,
        now=now,
        officer_id=officer_id,
        assertion=assertion,
    )
    return hold


#: What an officer does to a hold once asked for.
HoldAction = Literal["approve", "release", "withdraw"]


def act(
    session: Session,
    *,
    action: HoldAction,
    public_id: str,
    hold_id: int,
    officer_id: int,
    now: datetime,
    assertion: str | None = None,
) -> Hold:
    """Approve (a second officer), release or withdraw a hold: the API, the pages and
    the command line name the action."""
    function = {"approve": approve_hold, "release": release_hold, "withdraw": withdraw_hold}[action]
    return function(
        session,
        public_id=public_id,
        hold_id=hold_id,
        officer_id=officer_id,
        now=now,
        assertion=assertion,
    )


def expired_holds(session: Session, *, now: datetime, limit: int) -> Sequence[int]:
    """The ids of holds in force whose time is up, earliest first, claimed."""
    return claims.claim(
        session,
        select(Hold.id).where(Hold.status == HoldStatus.ACTIVE, Hold.until <= now),
        first=Hold.until,
        limit=limit,
    )


def expire_hold(session: Session, *, hold_id: int, now: datetime) -> None:
    """The hold ran out: it ends, and its message is delivered."""
    hold = session.get(Hold, hold_id)
    if hold is None or hold.status != HoldStatus.ACTIVE:
        return
    message = message_service.get_message(session, hold.message.public_id)
    _end_hold(session, message, hold, status=HoldStatus.EXPIRED, now=now, officer_id=None)


def quarantine_attachment(
    session: Session,
    *,
    public_id: str,
    attachment_id: int,
    officer_id: int,
    reason: str,
    now: datetime,
    assertion: str | None = None,
) -> Attachment:
    message = message_service.get_message(session, public_id, for_update=True)
    attachment = message_service.attachment_of(
        session, message=message, attachment_id=attachment_id
    )
    if attachment.quarantined_at is not None:
        raise Conflict("the attachment is already quarantined")
    attachment.quarantined_at = now
    attachment.quarantine_reason = reason
    message_service.record(
        session,
        message,
        EventKind.ATTACHMENT_QUARANTINED,
        at=now,
        actor_user_id=officer_id,
        details=_signed({"attachment": attachment.sha256}, assertion),
    )
    notify.message_step(
        session,
        message,
        EventKind.ATTACHMENT_QUARANTINED,
        at=now,
        details={"attachment": attachment.filename},
        audience=("sender", "addressee"),
    )
    return attachment
