"""Call requests: entered, seen, cancelled, confirmed.

A request is entered by the call desk for any leader, or by a sender office
for its own leaders, and logged as ``call.requested``; one that no schedule
could ever place (the leader off every day of the window, no common hour,
too long for every common stretch) is refused with the reason. Whoever may
see a request sees it with its place in the latest schedule, or why that
schedule left it out; a sender office sees its call once confirmed, and why
it was left out without the details (they name other leaders). Cancelling
(``call.cancelled``) takes a call out of every output; confirming
(``call.confirmed``) keeps it at its time when the desk re-plans.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.calls import calendar as calendar_service
from pouch.calls import invalid
from pouch.calls import parties as party_service
from pouch.calls import precedence as precedence_service
from pouch.calls import problem as core
from pouch.calls import runs as run_service
from pouch.calls.access import Viewer
from pouch.calls.availability import compute_availability
from pouch.calls.explain import explain_unscheduled
from pouch.calls.models import CallRequest, CallStatus, ScheduledCall, UnscheduledRequest
from pouch.calls.schemas import CallRequestIn
from pouch.directory.models import Person
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.ledger import service as ledger_service
from pouch.messages import service as message_service

CALL_ID_PREFIX = "c-"


#: The core's names for a request's fields, as the API calls them.
REQUEST_FIELDS = {
    "leader_name": "leader_id",
    "leader_country": "leader_id",
    "leader_time_zone": "leader_id",
    "leader_languages": "languages",
    "principal_languages": "principal_office_id",
    "start": "leader_hours.start",
    "end": "leader_hours.end",
}


#: Left-out reasons that are the request's own fault, whatever the desk does: refused.
_HOPELESS = {
    core.Reason.LEADER_DAYS_OFF: ("earliest_date", "latest_date"),
    core.Reason.NO_COMMON_HOUR: ("leader_hours",),
    core.Reason.PRINCIPAL_DAYS_OFF: ("earliest_date", "latest_date"),
    core.Reason.LEADER_BUSY: ("leader_busy",),
    core.Reason.TOO_LONG: ("talk_minutes",),
}


def new_public_id() -> str:
    """A call request's public id: ``c-`` and 20 hex digits."""
    return CALL_ID_PREFIX + secrets.token_hex(10)


def _offices_concerned(principal_office: int, requesting_office: int | None) -> list[int]:
    """Whose tags a call's events carry: the principal's office and the office that
    asked for the call (none when a watch officer entered it)."""
    return [principal_office] + ([requesting_office] if requesting_office is not None else [])


def leader_hours(start: time | None, end: time | None) -> core.LocalHours:
    """The leader's reasonable hours, 08:00–20:00 unless the request sets them."""
    if start is None or end is None:
        return core.DEFAULT_LEADER_HOURS
    return core.LocalHours(start, end)


def leader_busy(request: CallRequest) -> tuple[core.TimeWindow, ...]:
    """The times the request says the leader cannot take the call."""
    return tuple(
        core.TimeWindow(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end in request.leader_busy or []
    )


def horizon_notice(earliest: date, today: date) -> str | None:
    """What to tell whoever asks for a call whose window opens beyond the planning
    horizon: accepted, but no run places it yet.

    >>> horizon_notice(date(2027, 6, 1), date(2027, 1, 1))  # doctest: +NORMALIZE_WHITESPACE
    'the window opens on 2027-06-01, beyond the 100-day planning horizon (until
    2027-04-10): the request waits, and runs place it from 2027-02-22 on'
    >>> horizon_notice(date(2027, 2, 1), date(2027, 1, 1)) is None
    True
    """
    horizon_end = today + timedelta(days=core.MAX_HORIZON_DAYS - 1)
    if earliest <= horizon_end:
        return None
    from_day = earliest - timedelta(days=core.MAX_HORIZON_DAYS - 1)
    return (
        f"the window opens on {earliest}, beyond the {core.MAX_HORIZON_DAYS}-day planning "
        f"horizon (until {horizon_end}): the request waits, and runs place it from "
        f"{from_day} on"
    )


def horizon_notice_for(session: Session, request: CallRequest, *, now: datetime) -> str | None:
    """``horizon_notice`` for a request just made, counting today where its dates are."""
    leader = session.get(Person, request.person_id)
    office = party_service.principal_office(session, request.principal_office_id)
    zone = calendar_service.calendar_of(session, office).time_zone
    if request.dates_in_leader_zone and leader is not None:
        zone = leader.time_zone
    return horizon_notice(request.earliest_date, now.astimezone(ZoneInfo(zone)).date())


def create_request(
    session: Session,
    *,
    data: CallRequestIn,
    sender_offices: frozenset[int] | None,
    entered_by_user_id: int | None,
    now: datetime,
) -> CallRequest:
    """Record a call request, logged as ``call.requested``.

    ``sender_offices`` is ``None`` when the call desk enters the request;
    otherwise the leader must be a person of one of those offices. A request
    that no schedule could ever place (the leader off every day of the window,
    no common hour, too long for every common stretch) is refused with the reason.
    """
    leader = session.get(Person, data.leader_id)
    if leader is None:
        raise invalid.field("leader_id", f"no person with id {data.leader_id}")
    office = party_service.principal_office(session, data.principal_office_id)
    if leader.office_id == office.id:
        raise invalid.field("leader_id", f"{leader.name} is of the principal's own office")
    requested_by: int | None = None
    if sender_offices is not None:
        if leader.office_id is None or leader.office_id not in sender_offices:
            raise PermissionDenied(
                f"a sender office requests calls for its own leaders only; {leader.name} "
                "is not of your office",
                field_errors=[FieldError("leader_id", "not a leader of your office")],
            )
        requested_by = leader.office_id
    message_pk: int | None = None
    if data.message_id is not None:
        try:
            message = message_service.get_message(session, data.message_id)
        except NotFound:
            message = None
        if message is None or (
            sender_offices is not None
            and not {message.sender_office_id, message.addressee_office_id} & sender_offices
        ):
            raise invalid.field("message_id", f"no message {data.message_id!r}")
        message_pk = message.id
    languages = tuple(dict.fromkeys(data.languages or leader.languages))
    if not languages:
        raise invalid.field(
            "languages", f"the directory lists no language for {leader.name}: give languages"
        )
    principal_languages = party_service.principal_languages(session, office)
    interpretation = data.interpretation
    if interpretation is None:
        shared = set(languages) & set(principal_languages)
        interpretation = core.Interpretation.NONE if shared else core.Interpretation.CONSECUTIVE
    hours = (data.leader_hours.start, data.leader_hours.end) if data.leader_hours else (None, None)
    calendar = calendar_service.calendar_of(session, office)
    zone = ZoneInfo(calendar.time_zone)
    _, midnight = calendar_service.today_and_midnight(now, zone)
    dates_zone = leader.time_zone if data.dates_in_leader_zone else calendar.time_zone
    today_there = now.astimezone(ZoneInfo(dates_zone)).date()
    if data.latest_date < today_there:
        raise invalid.field(
            "latest_date",
            f"{data.latest_date} has passed (today is {today_there} in {dates_zone})",
        )
    busy = [(span.start.astimezone(UTC), span.end.astimezone(UTC)) for span in data.leader_busy]
    try:
        request = core.CallRequest(
            id="new",
            leader_name=leader.name,
            leader_country=leader.country_code,
            leader_time_zone=leader.time_zone,
            leader_languages=languages,
            earliest_date=data.earliest_date,
            latest_date=data.latest_date,
            talk_minutes=data.talk_minutes,
            precedence_tier=precedence_service.UNRANKED_TIER,
            precedence_position=0,
            arrived_at=now,
            urgency=data.urgency,
            principal_languages=principal_languages,
            interpretation=interpretation,
            leader_hours=leader_hours(*hours),
            leader_subdivision=leader.subdivision,
            leader_busy=tuple(core.TimeWindow(start, end) for start, end in busy),
            dates_in_leader_zone=data.dates_in_leader_zone,
        )
        # Alone with the principal's window and the time left: can it ever happen?
        alone = core.Problem(
            principal=calendar_service.principal(
                session, office, busy=calendar_service.past_block(midnight, now)
            ),
            requests=(replace(request, earliest_date=max(request.earliest_date, today_there)),),
        )
    except core.ProblemError as error:
        raise invalid.from_problem(error, REQUEST_FIELDS) from None
    (reason,) = explain_unscheduled(compute_availability(alone), ())
    if reason.reason == core.Reason.PRINCIPAL_BUSY:
        # Nothing but the past is busy here: the window's common hours are over.
        raise invalid.field(
            "latest_date", f"every common hour of the window has passed: {reason.detail}"
        )
    if reason.reason in _HOPELESS:
        fields = _HOPELESS[reason.reason]
        raise InvalidInput(
            f"{fields[0]}: {reason.detail}",
            field_errors=[FieldError(field, reason.detail) for field in fields],
        )
    public_id = new_public_id()
    recorded = ledger_service.record_event(
        session,
        kind=EventKind.CALL_REQUESTED,
        at=now,
        details={
            "call": public_id,
            "leader": leader.id,
            "principal_office": office.id,
            "office": requested_by,
            "by": entered_by_user_id,
            "message": data.message_id,
        },
        parties=_offices_concerned(office.id, requested_by),
    )
    row = CallRequest(
        public_id=public_id,
        person_id=leader.id,
        principal_office_id=office.id,
        requested_by_office_id=requested_by,
        entered_by_user_id=entered_by_user_id,
        message_id=message_pk,
        earliest_date=data.earliest_date,
        latest_date=data.latest_date,
        talk_minutes=data.talk_minutes,
        languages=list(languages),
        interpretation=interpretation.value,
        urgency=data.urgency,
        notes=data.notes,
        leader_hours_start=hours[0],
        leader_hours_end=hours[1],
        leader_busy=[[start.isoformat(), end.isoformat()] for start, end in busy],
        dates_in_leader_zone=data.dates_in_leader_zone,
        status=CallStatus.REQUESTED,
        created_at=now,
        ledger_index=recorded.index,
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class SlotView:
    """A request's call in a schedule."""

    run_id: int
    start: datetime
    end: datetime
    confirmed: bool
    interpreters: tuple[str, ...]


@dataclass(frozen=True)
class RequestView:
    """A request as a viewer may see it: a sender office sees a call once it is
    confirmed, and why a request was left out but not the details (they name
    other leaders)."""

    request: CallRequest
    leader: Person
    message_id: str | None
    call: SlotView | None
    left_out: run_service.LeftOutView | None


def _get_request(session: Session, public_id: str) -> tuple[CallRequest, Person]:
    row = session.execute(
        select(CallRequest, Person)
        .join(Person, Person.id == CallRequest.person_id)
        .where(CallRequest.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound(f"no call request {public_id!r}")
    return row[0], row[1]


def _views(
    session: Session, rows: Sequence[tuple[CallRequest, Person]], viewer: Viewer
) -> list[RequestView]:
    runs = {
        office_id: run_service.latest_run(session, office_id)
        for office_id in {request.principal_office_id for request, _ in rows}
    }
    run_ids = [run.id for run in runs.values() if run is not None]
    request_ids = [request.id for request, _ in rows]
    calls = {
        (c.run_id, c.request_id): c
        for c in session.scalars(
            select(ScheduledCall).where(
                ScheduledCall.run_id.in_(run_ids), ScheduledCall.request_id.in_(request_ids)
            )
        )
    }
    left = {
        (u.run_id, u.request_id): u
        for u in session.scalars(
            select(UnscheduledRequest).where(
                UnscheduledRequest.run_id.in_(run_ids),
                UnscheduledRequest.request_id.in_(request_ids),
            )
        )
    }
    messages = {
        request.message_id: message_service.public_id_of(session, request.message_id)
        for request, _ in rows
        if request.message_id is not None
    }
    views = []
    for request, leader in rows:
        run = runs[request.principal_office_id]
        full = viewer.sees_schedule(request.principal_office_id)
        slot = left_out = None
        if run is not None and request.status != CallStatus.CANCELLED:
            call = calls.get((run.id, request.id))
            if call is not None and (full or call.confirmed):
                names = run_service.interpreter_names(run)
                slot = SlotView(
                    run_id=run.id,
                    start=call.start,
                    end=call.end,
                    confirmed=call.confirmed,
                    interpreters=tuple(names.get(i, i) for i in call.interpreter_ids),
                )
            out = left.get((run.id, request.id))
            if out is not None:
                left_out = run_service.LeftOutView(
                    request.public_id, leader.name, out.reason, out.detail if full else None
                )
        views.append(
            RequestView(
                request=request,
                leader=leader,
                message_id=messages.get(request.message_id) if request.message_id else None,
                call=slot,
                left_out=left_out,
            )
        )
    return views


def get_request(session: Session, *, public_id: str, viewer: Viewer) -> RequestView:
    """One request, to whoever may see it (to anyone else it does not exist)."""
    request, leader = _get_request(session, public_id)
    if not viewer.sees_request(request, leader):
        raise NotFound(f"no call request {public_id!r}")
    return _views(session, [(request, leader)], viewer)[0]


def list_requests(
    session: Session,
    *,
    viewer: Viewer,
    office_id: int | None = None,
    status: CallStatus | None = None,
) -> list[RequestView]:
    """The requests the viewer may see, oldest first."""
    query = select(CallRequest, Person).join(Person, Person.id == CallRequest.person_id)
    if office_id is not None:
        query = query.where(CallRequest.principal_office_id == office_id)
    if status is not None:
        query = query.where(CallRequest.status == status)
    rows = [
        (request, leader)
        for request, leader in session.execute(query.order_by(CallRequest.id)).all()
        if viewer.sees_request(request, leader)
    ]
    return _views(session, rows, viewer)


def cancel_request(
    session: Session, *, public_id: str, by_user_id: int | None, reason: str, now: datetime
) -> CallRequest:
    """Withdraw a request (its call leaves every output), logged as ``call.cancelled``."""
    request, _ = _get_request(session, public_id)
    if request.status == CallStatus.CANCELLED:
        raise Conflict(f"call request {public_id} is already cancelled")
    ledger_service.record_event(
        session,
        kind=EventKind.CALL_CANCELLED,
        at=now,
        details={"call": public_id, "by": by_user_id, "reason": reason},
        parties=_offices_concerned(request.principal_office_id, request.requested_by_office_id),
    )
    request.status = CallStatus.CANCELLED
    session.flush()
    return request


def confirm_call(
    session: Session, *, public_id: str, by_user_id: int | None, now: datetime
) -> CallRequest:
    """Confirm the request's call at its time in the latest schedule, logged as
    ``call.confirmed``; re-planning keeps it there when it can."""
    request, _ = _get_request(session, public_id)
    if request.status == CallStatus.CONFIRMED:
        raise Conflict(f"the call of {public_id} is already confirmed")
    if request.status != CallStatus.SCHEDULED:
        raise Conflict(
            f"call request {public_id} is {request.status.value}: only a scheduled call "
            "can be confirmed"
        )
    run = run_service.latest_run(session, request.principal_office_id)
    call = (
        session.scalar(
            select(ScheduledCall).where(
                ScheduledCall.run_id == run.id, ScheduledCall.request_id == request.id
            )
        )
        if run is not None
        else None
    )
    if run is None or call is None:
        raise Conflict(f"call request {public_id} has no call in the latest schedule")
    if call.start <= now:
        raise Conflict(f"the call of {public_id} was due at {call.start.isoformat()}: too late")
    ledger_service.record_event(
        session,
        kind=EventKind.CALL_CONFIRMED,
        at=now,
        details={
            "call": public_id,
            "run": run.id,
            "start": call.start.isoformat(),
            "by": by_user_id,
        },
        parties=_offices_concerned(request.principal_office_id, request.requested_by_office_id),
    )
    call.confirmed = True
    request.status = CallStatus.CONFIRMED
    session.flush()
    return request
