"""Running a call: its record, its transitions, its participants and their check-ins.

Each transition is one step with its time and actor and one event in the log. The
call desk's own events serve where they exist: confirming is the desk's
``call.confirmed`` (the schedule then keeps the call at its time) and cancelling
its ``call.cancelled``. A missed or rescheduled call goes back to the scheduler:
a follow-up request for the same leader (so the same place in the order of
precedence), urgency, length and languages enters as ``call.requested``; a
rescheduled call's own request is withdrawn so that its slot frees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.briefings import access
from pouch.briefings.models import CallParticipant, CallRecord, CallStep, Packet
from pouch.briefings.states import (
    BACK_TO_SCHEDULER,
    CHECK_IN_STATES,
    CallState,
    Mode,
    ParticipantKind,
    may_move,
    refusal,
)
from pouch.calls import access as calls_access
from pouch.calls import calendar as calendar_service
from pouch.calls import parties as party_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls.models import CallRequest, CallStatus, ScheduledCall
from pouch.calls.schemas import CallRequestIn, HoursIn
from pouch.directory.models import Office, OfficeKind, Person
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.identity.models import Membership, Role, User
from pouch.identity.service import Actor
from pouch.ledger import service as ledger_service
from pouch.messages import service as message_service

#: The event of each transition this module writes itself.
STEP_EVENTS = {
    CallState.PLACING: EventKind.CALL_PLACING,
    CallState.CONNECTED: EventKind.CALL_CONNECTED,
    CallState.COMPLETED: EventKind.CALL_COMPLETED,
    CallState.MISSED: EventKind.CALL_MISSED,
    CallState.RESCHEDULED: EventKind.CALL_RESCHEDULED,
}
#: A follow-up's window stays open at least this long from today: the desk needs room.
FOLLOW_UP_DAYS = 7


#: States the call desk's request also records (confirm, cancel on /calls): the request leads.
_DESK_STATES = frozenset({CallState.SCHEDULED, CallState.CONFIRMED})


@dataclass
class CallContext:
    """A call as its papers need it: the request, the leader, the record if any yet,
    its slot in the latest schedule, who takes part."""

    request: CallRequest
    leader: Person
    record: CallRecord | None
    slot: ScheduledCall | None

    @property
    def public_id(self) -> str:
        return self.request.public_id

    @property
    def state(self) -> CallState | None:
        """The call's state (None: no call yet, only a request). Until the call is
        placed, the desk's request leads: confirmed, cancelled or re-planned on the call
        desk's own pages, the call follows."""
        if self.record is not None and self.record.state not in _DESK_STATES:
            return self.record.state
        return {
            CallStatus.SCHEDULED: CallState.SCHEDULED,
            CallStatus.CONFIRMED: CallState.CONFIRMED,
            CallStatus.CANCELLED: CallState.CANCELLED,
        }.get(self.request.status)

    @property
    def participants(self) -> list[tuple[int, ParticipantKind]]:
        if self.record is None:
            return []
        return [(p.user_id, p.kind) for p in self.record.participants]


def _offices(request: CallRequest) -> list[int]:
    return request_service._offices_concerned(
        request.principal_office_id, request.requested_by_office_id
    )


def load(session: Session, public_id: str, *, actor: Actor | None) -> CallContext:
    """The call of request ``public_id``, if ``actor`` may see it (None: the desk itself);
    to anyone else it does not exist."""
    row = session.execute(
        select(CallRequest, Person)
        .join(Person, Person.id == CallRequest.person_id)
        .where(CallRequest.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound(f"no call {public_id!r}")
    request, leader = row[0], row[1]
    record = session.scalar(select(CallRecord).where(CallRecord.request_id == request.id))
    run = run_service.latest_run(session, request.principal_office_id)
    slot = (
        session.scalar(
            select(ScheduledCall).where(
                ScheduledCall.run_id == run.id, ScheduledCall.request_id == request.id
            )
        )
        if run is not None
        else None
    )
    context = CallContext(request=request, leader=leader, record=record, slot=slot)
    if actor is not None and not access.sees_call(
        actor,
        principal_office_id=request.principal_office_id,
        participants=context.participants,
    ):
        raise NotFound(f"no call {public_id!r}")
    return context


def ensure_record(session: Session, context: CallContext, *, now: datetime) -> CallRecord:
    """The call's record, written at the first action on it (never by reading)."""
    if context.record is not None:
        return context.record
    state = context.state
    if state is None:
        raise Conflict(
            f"call request {context.public_id} is {context.request.status.value}: "
            "there is no call until the scheduler places it"
        )
    record = CallRecord(request_id=context.request.id, state=state, created_at=now, updated_at=now)
    session.add(record)
    session.flush()
    context.record = record
    return record


def _follow_up(session: Session, request: CallRequest, leader: Person, now: datetime) -> str:
    """A new request for the same call, from today, through the desk's own service."""
    office = party_service.principal_office(session, request.principal_office_id)
    zone = calendar_service.calendar_of(session, office).time_zone
    today, _ = calendar_service.today_and_midnight(now, ZoneInfo(zone))
    hours = (
        HoursIn(start=request.leader_hours_start, end=request.leader_hours_end)
        if request.leader_hours_start is not None and request.leader_hours_end is not None
        else None
    )
    data = CallRequestIn(
        leader_id=leader.id,
        principal_office_id=office.id,
        earliest_date=max(request.earliest_date, today),
        latest_date=max(request.latest_date, today + timedelta(days=FOLLOW_UP_DAYS)),
        talk_minutes=request.talk_minutes,
        languages=list(request.languages),
        interpretation=request.interpretation,
        urgency=request.urgency,
        notes=f"Follow-up of {request.public_id}. {request.notes}".strip(),
        leader_hours=hours,
        message_id=(
            message_service.public_id_of(session, request.message_id)
            if request.message_id is not None
            else None
        ),
    )
    # Entered for the office that asked, if one did, so that it sees its follow-up.
    senders = (
        frozenset({request.requested_by_office_id})
        if request.requested_by_office_id is not None
        else None
    )
    new = request_service.create_request(
        session, data=data, sender_offices=senders, entered_by_user_id=None, now=now
    )
    return new.public_id


def move(
    session: Session,
    public_id: str,
    *,
    target: CallState,
    actor: Actor,
    note: str,
    now: datetime,
) -> CallContext:
    """Move the call to ``target``, one step and one event; an illegal move is a Conflict
    naming the moves that are allowed."""
    if not access.runs_calls(actor):
        raise PermissionDenied("the call desk moves a call")
    context = load(session, public_id, actor=actor)
    current = context.state
    if current is None:
        raise Conflict(
            f"call request {public_id} is {context.request.status.value}: "
            "there is no call until the scheduler places it"
        )
    if not may_move(current, target):
        raise Conflict(refusal(current, target))
    record = ensure_record(session, context, now=now)
    request = context.request
    follow_up: str | None = None
    if target == CallState.CONFIRMED:
        request_service.confirm_call(
            session, public_id=public_id, by_user_id=actor.user_id, now=now
        )
        # The desk's call.confirmed was the last entry appended, in this transaction.
        index = ledger_service.sequenced_size(session) - 1
    elif target == CallState.CANCELLED:
        request_service.cancel_request(
            session, public_id=public_id, by_user_id=actor.user_id, reason=note, now=now
        )
        index = ledger_service.sequenced_size(session) - 1
    else:
        if target in BACK_TO_SCHEDULER:
            follow_up = _follow_up(session, request, context.leader, now)
            record.follow_up_request_id = session.scalar(
                select(CallRequest.id).where(CallRequest.public_id == follow_up)
            )
        details = {
            "call": public_id,
            "from": current.value,
            "to": target.value,
            "by": actor.user_id,
            "follow_up": follow_up,
        }
        index = ledger_service.record_event(
            session, kind=STEP_EVENTS[target], at=now, details=details, parties=_offices(request)
        ).index
        if target == CallState.RESCHEDULED:
            # The old slot frees; the follow-up takes the call's place in the queue.
            request_service.cancel_request(
                session,
                public_id=public_id,
                by_user_id=actor.user_id,
                reason=f"rescheduled as {follow_up}",
                now=now,
            )
    record.steps.append(
        CallStep(
            from_state=current,
            to_state=target,
            at=now,
            by_user_id=actor.user_id,
            note=note,
            ledger_index=index,
        )
    )
    record.state = target
    record.updated_at = now
    session.flush()
    return context


def set_logistics(
    session: Session,
    public_id: str,
    *,
    mode: Mode,
    placed_by: str,
    actor: Actor,
    now: datetime,
) -> CallContext:
    """How the call is made: phone or video, and who dials."""
    if not access.runs_calls(actor):
        raise PermissionDenied("the call desk sets a call's logistics")
    if placed_by not in ("us", "them"):
        raise InvalidInput(
            "placed_by is 'us' or 'them'", field_errors=[FieldError("placed_by", "us or them")]
        )
    context = load(session, public_id, actor=actor)
    record = ensure_record(session, context, now=now)
    record.mode, record.placed_by, record.updated_at = mode, placed_by, now
    session.flush()
    return context


def designate(
    session: Session,
    public_id: str,
    *,
    user_id: int,
    kind: ParticipantKind,
    actor: Actor,
    now: datetime,
) -> CallContext:
    """Designate a user as the call's interpreter, notetaker or clearing officer, logged.
    Only a user of the operations office or the principal's, and never one who sends
    for a foreign office: the papers are not theirs to read."""
    if not access.runs_calls(actor):
        raise PermissionDenied("the call desk designates a call's participants")
    context = load(session, public_id, actor=actor)
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise InvalidInput(
            f"no active user {user_id}", field_errors=[FieldError("user_id", "no such user")]
        )
    held = session.execute(
        select(Membership.office_id, Membership.role).where(Membership.user_id == user_id)
    ).all()
    operations = set(session.scalars(select(Office.id).where(Office.kind == OfficeKind.OPERATIONS)))
    allowed = {context.request.principal_office_id, *operations}
    if any(role == Role.SENDER for _, role in held) or not any(
        office in allowed and role in access.DESIGNABLE_ROLES for office, role in held
    ):
        raise InvalidInput(
            f"{user.username} cannot take part: a participant is an officer of the operations "
            "office or of the principal's, and sends for no foreign office",
            field_errors=[FieldError("user_id", "not an officer who may take part")],
        )
    if (user_id, kind) in context.participants:
        raise Conflict(f"{user.username} is already the call's {kind}")
    record = ensure_record(session, context, now=now)
    ledger_service.record_event(
        session,
        kind=EventKind.CALL_PARTICIPANT_DESIGNATED,
        at=now,
        details={"call": public_id, "user": user_id, "as": kind.value, "by": actor.user_id},
        parties=[context.request.principal_office_id],
    )
    record.participants.append(CallParticipant(user_id=user_id, kind=kind, designated_at=now))
    session.flush()
    return context


def check_in(session: Session, public_id: str, *, actor: Actor, now: datetime) -> CallContext:
    """The actor checks in as the call's interpreter and/or notetaker, logged."""
    context = load(session, public_id, actor=actor)
    kinds = access.checks_in_as(actor, context.participants)
    if not kinds:
        raise PermissionDenied("only the call's interpreters and notetakers check in")
    if context.state not in CHECK_IN_STATES:
        raise Conflict(f"the call is {context.state}: check-in is before or while it is placed")
    record = ensure_record(session, context, now=now)
    mine = [p for p in record.participants if p.user_id == actor.user_id and p.kind in kinds]
    if all(p.checked_in_at is not None for p in mine):
        raise Conflict("you have already checked in for this call")
    index = ledger_service.record_event(
        session,
        kind=EventKind.CALL_CHECKED_IN,
        at=now,
        details={"call": public_id, "user": actor.user_id, "as": [k.value for k in kinds]},
        parties=[context.request.principal_office_id],
    ).index
    for participant in mine:
        participant.checked_in_at = participant.checked_in_at or now
        participant.check_in_ledger_index = participant.check_in_ledger_index or index
    session.flush()
    return context


@dataclass(frozen=True)
class SheetLine:
    """A call as the call-day sheet shows it: its state, and who has checked in."""

    state: CallState
    checked_in: tuple[str, ...]
    waiting: tuple[str, ...]


def sheet_lines(session: Session, request_ids: list[int]) -> dict[int, SheetLine]:
    """The run of each of these requests' calls that has a record, by request id."""
    if not request_ids:
        return {}
    records = session.scalars(
        select(CallRecord).where(CallRecord.request_id.in_(request_ids))
    ).all()
    users = {p.user_id for r in records for p in r.participants}
    names = (
        dict(session.execute(select(User.id, User.display_name).where(User.id.in_(users))).all())
        if users
        else {}
    )
    lines = {}
    for record in records:
        people = [p for p in record.participants if p.kind != ParticipantKind.CLEARING]
        lines[record.request_id] = SheetLine(
            state=record.state,
            checked_in=tuple(
                f"{names.get(p.user_id, p.user_id)} ({p.kind})"
                for p in people
                if p.checked_in_at is not None
            ),
            waiting=tuple(
                f"{names.get(p.user_id, p.user_id)} ({p.kind})"
                for p in people
                if p.checked_in_at is None
            ),
        )
    return lines


@dataclass(frozen=True)
class DayCall:
    """A call as the watch floor and the principal's inbox list it."""

    public_id: str
    leader_name: str
    start: datetime
    end: datetime
    confirmed: bool
    line: SheetLine | None
    #: The SHA-256 of the newest packet issued for it, if any.
    packet: str | None


#: How far back and ahead the watch floor's list of the day's calls reaches.
DAY_BEFORE = timedelta(hours=2)
DAY_AHEAD = timedelta(hours=24)


def day_calls(
    session: Session, *, actor: Actor, now: datetime, ahead: timedelta | None = DAY_AHEAD
) -> list[DayCall]:
    """The calls of the latest schedule from two hours ago to ``ahead`` (a day; None:
    every later one), each with its run (state, check-in) and its issued packet: the
    call-day sheet as the watch floor shows it, the calls ahead as the inbox does."""
    overview = run_service.overview(session, viewer=calls_access.viewer_of(actor))
    if overview.schedule is None:
        return []
    calls = [
        call
        for call in overview.schedule.calls
        if now - DAY_BEFORE <= call.row.start_utc
        and (ahead is None or call.row.start_utc < now + ahead)
    ]
    request_ids = [call.request.id for call in calls]
    lines = sheet_lines(session, request_ids)
    packets: dict[int, str] = {}
    if request_ids:
        for request_id, sha256 in session.execute(
            select(CallRecord.request_id, Packet.sha256)
            .join(Packet, Packet.record_id == CallRecord.id)
            .where(CallRecord.request_id.in_(request_ids))
            .order_by(Packet.number)
        ):
            packets[request_id] = sha256  # the newest last
    return [
        DayCall(
            public_id=call.request.public_id,
            leader_name=call.row.leader_name,
            start=call.row.start_utc,
            end=call.row.end_utc,
            confirmed=call.confirmed,
            line=lines.get(call.request.id),
            packet=packets.get(call.request.id),
        )
        for call in sorted(calls, key=lambda c: c.row.start_utc)
    ]
