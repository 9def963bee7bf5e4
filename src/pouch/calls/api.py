"""JSON API of the call desk, under ``/api/calls``.

Who may do what is ``pouch.calls.access``'s: watch officers and protocol
officers manage requests, calendars and schedules; protocol officers and
administrators keep the order of precedence; a sender office requests calls
for its own leaders and sees its own requests; the principal and staff of a
principal's office read its schedule; auditors read everything. iCalendar files are
served as ``text/calendar``. The interpreters' roster the scheduler reads is
the language desk's (``/api/interpreters``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.responses import Response

from pouch.calls import access
from pouch.calls import calendar as calendar_service
from pouch.calls import ical as ical_service
from pouch.calls import precedence as precedence_service
from pouch.calls import requests as request_service
from pouch.calls import runs as run_service
from pouch.calls import scheduling as scheduling_service
from pouch.calls.models import CallStatus, PrecedenceVersion, ScheduleRun
from pouch.calls.schemas import (
    BusyBlockIn,
    BusyBlockOut,
    CalendarIn,
    CalendarOut,
    CallOut,
    CallRequestIn,
    CallRequestOut,
    CancelIn,
    HoursOut,
    LeftOutOut,
    PrecedenceIn,
    PrecedenceOut,
    PrecedenceVersionOut,
    RankingTextIn,
    RankOut,
    RunOut,
    ScheduleIn,
    ScheduleOut,
    SlotOut,
    SpanOut,
)
from pouch.identity.service import Actor
from pouch.schema import RowId
from pouch.web.deps import (
    AppClock,
    AppDatabase,
    AppSettings,
    Authorize,
    AuthorizeUnheld,
    DbSession,
)

router = APIRouter(prefix="/api/calls", tags=["calls"])

ICALENDAR = "text/calendar"
YAML = "application/yaml"

Manager = Annotated[Actor, Depends(Authorize(*access.MANAGER_ROLES))]
ManagerUnheld = Annotated[Actor, Depends(AuthorizeUnheld(*access.MANAGER_ROLES))]
PrecedenceReader = Annotated[Actor, Depends(Authorize(*access.PRECEDENCE_READER_ROLES))]
PrecedenceEditor = Annotated[Actor, Depends(Authorize(*access.PRECEDENCE_EDITOR_ROLES))]
# Roles held in any office: which offices count, the viewer says (``access.viewer_of``).
Requester = Annotated[Actor, Depends(Authorize(*access.REQUESTER_ROLES, where="any"))]
RequestReader = Annotated[Actor, Depends(Authorize(*access.REQUEST_READER_ROLES, where="any"))]
ScheduleReader = Annotated[Actor, Depends(Authorize(*access.SCHEDULE_READER_ROLES, where="any"))]


def _calendar(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type=ICALENDAR,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- order of precedence -----------------------------------------------------------


def _version_out(version: PrecedenceVersion, leaders: int) -> PrecedenceVersionOut:
    return PrecedenceVersionOut(
        number=version.number,
        reason=version.reason,
        author_user_id=version.author_user_id,
        created_at=version.created_at,
        ledger_index=version.ledger_index,
        leaders=leaders,
    )


def _precedence_out(view: precedence_service.PrecedenceView) -> PrecedenceOut:
    return PrecedenceOut(
        **_version_out(view.version, len(view.ranks)).model_dump(),
        ranks=[
            RankOut(
                person_id=person.id,
                name=person.name,
                country_code=person.country_code,
                tier=rank.tier,
                position=rank.position,
            )
            for rank, person in view.ranks
        ],
    )


@router.get("/precedence", response_model=PrecedenceOut)
def get_precedence(
    session: DbSession, _: PrecedenceReader, version: RowId | None = None
) -> PrecedenceOut:
    """The order of precedence, current or an earlier version (the call desk, auditors and
    administrators)."""
    return _precedence_out(precedence_service.get_precedence(session, number=version))


@router.put("/precedence", response_model=PrecedenceOut)
def set_precedence(
    data: PrecedenceIn, session: DbSession, clock: AppClock, actor: PrecedenceEditor
) -> PrecedenceOut:
    """Replace the order of precedence with a new version, logged with author and reason
    (protocol officers and administrators)."""
    view = precedence_service.set_precedence(
        session, data=data, author_user_id=actor.user_id, now=clock.now()
    )
    return _precedence_out(view)


@router.get(
    "/precedence/text",
    response_class=Response,
    responses={200: {"content": {YAML: {}}, "description": "The ranking as YAML."}},
)
def get_precedence_text(
    session: DbSession, _: PrecedenceReader, version: RowId | None = None
) -> Response:
    """The order of precedence as the YAML file PUT /api/calls/precedence/text reads (what
    `pouch calls precedence show --output` writes)."""
    view = precedence_service.get_precedence(session, number=version)
    return Response(precedence_service.ranking_to_yaml(view), media_type=YAML)


@router.put("/precedence/text", response_model=PrecedenceOut)
def set_precedence_text(
    data: RankingTextIn, session: DbSession, clock: AppClock, actor: PrecedenceEditor
) -> PrecedenceOut:
    """Replace the order of precedence from a ranking file, YAML or CSV, leaders named by id
    or exact name (protocol officers and administrators; `pouch calls precedence set`)."""
    view = precedence_service.set_from_text(
        session,
        text=data.text,
        format=data.format,
        reason=data.reason,
        author_user_id=actor.user_id,
        now=clock.now(),
    )
    return _precedence_out(view)


@router.get("/precedence/versions", response_model=list[PrecedenceVersionOut])
def list_precedence_versions(session: DbSession, _: PrecedenceReader) -> list[PrecedenceVersionOut]:
    """Every version of the order of precedence, newest first, with author and reason."""
    return [
        _version_out(version, count)
        for version, count in precedence_service.list_precedence_versions(session)
    ]


# --- the principal's calendar ------------------------------------------------------


def _calendar_out(view: calendar_service.CalendarView) -> CalendarOut:
    return CalendarOut(
        office_id=view.office_id,
        time_zone=view.time_zone,
        window_start=view.window_start,
        window_end=view.window_end,
        max_calls_per_day=view.max_calls_per_day,
        buffer_minutes=view.buffer_minutes,
        days_off_country=view.days_off_country,
        days_off_subdivision=view.days_off_subdivision,
        rank_policy=view.rank_policy,
        is_default=view.is_default,
        busy=[BusyBlockOut.model_validate(block) for block in view.busy],
    )


@router.get("/calendars/{office_id}", response_model=CalendarOut)
def get_calendar(office_id: RowId, session: DbSession, actor: ScheduleReader) -> CalendarOut:
    """When the principal takes calls: zone, daily window, cap, buffer, busy blocks (the
    call desk, auditors, and the principal's office)."""
    return _calendar_out(
        calendar_service.get_calendar(session, office_id=office_id, viewer=access.viewer_of(actor))
    )


@router.put("/calendars/{office_id}", response_model=CalendarOut)
def set_calendar(office_id: RowId, data: CalendarIn, session: DbSession, _: Manager) -> CalendarOut:
    """Set the principal's zone, daily window, cap on calls per day and buffer (watch and
    protocol officers)."""
    return _calendar_out(calendar_service.set_calendar(session, office_id=office_id, data=data))


@router.post(
    "/calendars/{office_id}/busy", response_model=BusyBlockOut, status_code=status.HTTP_201_CREATED
)
def add_busy_block(
    office_id: RowId, data: BusyBlockIn, session: DbSession, _: Manager
) -> BusyBlockOut:
    """Block time in the principal's calendar (watch and protocol officers)."""
    block = calendar_service.add_busy_block(session, office_id=office_id, data=data)
    return BusyBlockOut.model_validate(block)


@router.delete("/calendars/{office_id}/busy/{block_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_busy_block(office_id: RowId, block_id: RowId, session: DbSession, _: Manager) -> None:
    """Free a busy block again (watch and protocol officers)."""
    calendar_service.remove_busy_block(session, office_id=office_id, block_id=block_id)


# --- call requests -----------------------------------------------------------------


def _request_out(view: request_service.RequestView) -> CallRequestOut:
    request, leader = view.request, view.leader
    hours = None
    if request.leader_hours_start is not None and request.leader_hours_end is not None:
        hours = HoursOut(start=request.leader_hours_start, end=request.leader_hours_end)
    return CallRequestOut(
        id=request.public_id,
        leader_id=leader.id,
        leader_name=leader.name,
        leader_country=leader.country_code,
        leader_time_zone=leader.time_zone,
        principal_office_id=request.principal_office_id,
        requested_by_office_id=request.requested_by_office_id,
        message_id=view.message_id,
        earliest_date=request.earliest_date,
        latest_date=request.latest_date,
        talk_minutes=request.talk_minutes,
        languages=list(request.languages),
        interpretation=request.interpretation,
        urgency=request.urgency,
        notes=request.notes,
        leader_hours=hours,
        leader_busy=[
            SpanOut(start=span.start, end=span.end) for span in request_service.leader_busy(request)
        ],
        dates_in_leader_zone=request.dates_in_leader_zone,
        status=request.status,
        created_at=request.created_at,
        ledger_index=request.ledger_index,
        call=(
            SlotOut(
                run_id=view.call.run_id,
                start=view.call.start,
                end=view.call.end,
                confirmed=view.call.confirmed,
                interpreters=list(view.call.interpreters),
            )
            if view.call
            else None
        ),
        left_out=_left_out(view.left_out) if view.left_out else None,
    )


def _left_out(view: run_service.LeftOutView) -> LeftOutOut:
    return LeftOutOut(
        request_id=view.request_id,
        leader_name=view.leader_name,
        reason=view.reason,
        detail=view.detail,
    )


@router.post("/requests", response_model=CallRequestOut, status_code=status.HTTP_201_CREATED)
def create_request(
    data: CallRequestIn, session: DbSession, clock: AppClock, actor: Requester
) -> CallRequestOut:
    """Request a call with a leader: a sender office for its own leaders, or the call desk
    (watch and protocol officers) for any. Refused, with the reason, when no schedule could
    ever place it."""
    viewer = access.viewer_of(actor)
    request = request_service.create_request(
        session,
        data=data,
        sender_offices=viewer.leader_offices(),
        entered_by_user_id=actor.user_id,
        now=clock.now(),
    )
    out = _request_out(
        request_service.get_request(session, public_id=request.public_id, viewer=viewer)
    )
    out.notice = request_service.horizon_notice_for(session, request, now=clock.now())
    return out


@router.get("/requests", response_model=list[CallRequestOut])
def list_requests(
    session: DbSession,
    actor: RequestReader,
    office_id: RowId | None = None,
    status: CallStatus | None = None,
) -> list[CallRequestOut]:
    """The requests the caller may see: all of them for the call desk and auditors, a
    principal's office its own, a sender office those of its leaders."""
    views = request_service.list_requests(
        session, viewer=access.viewer_of(actor), office_id=office_id, status=status
    )
    return [_request_out(view) for view in views]


@router.get("/requests/{public_id}", response_model=CallRequestOut)
def get_request(public_id: str, session: DbSession, actor: RequestReader) -> CallRequestOut:
    """One request with its place in the latest schedule, or why it was left out."""
    return _request_out(
        request_service.get_request(session, public_id=public_id, viewer=access.viewer_of(actor))
    )


@router.post("/requests/{public_id}/cancel", response_model=CallRequestOut)
def cancel_request(
    public_id: str, data: CancelIn, session: DbSession, clock: AppClock, actor: Manager
) -> CallRequestOut:
    """Withdraw a request; its call leaves the sheet and the calendars (watch and protocol
    officers)."""
    request_service.cancel_request(
        session, public_id=public_id, by_user_id=actor.user_id, reason=data.reason, now=clock.now()
    )
    return _request_out(
        request_service.get_request(session, public_id=public_id, viewer=access.viewer_of(actor))
    )


@router.post("/requests/{public_id}/confirm", response_model=CallRequestOut)
def confirm_call(
    public_id: str, session: DbSession, clock: AppClock, actor: Manager
) -> CallRequestOut:
    """Confirm a call at its time in the latest schedule; re-planning keeps it there when it
    can (watch and protocol officers)."""
    request_service.confirm_call(
        session, public_id=public_id, by_user_id=actor.user_id, now=clock.now()
    )
    return _request_out(
        request_service.get_request(session, public_id=public_id, viewer=access.viewer_of(actor))
    )


@router.get(
    "/requests/{public_id}/ical",
    response_class=Response,
    responses={200: {"content": {ICALENDAR: {}}, "description": "An iCalendar file."}},
)
def call_ical(
    public_id: str, session: DbSession, settings: AppSettings, actor: RequestReader
) -> Response:
    """The request's call as an iCalendar file (text/calendar); a sender office gets it once
    the call is confirmed."""
    domain = ical_service.domain_of(settings.public_url)
    viewer = access.viewer_of(actor)
    content = ical_service.call_ical(session, public_id=public_id, viewer=viewer, domain=domain)
    return _calendar(content, f"call-{public_id}.ics")


# --- schedules ---------------------------------------------------------------------


def _run_out(run: ScheduleRun) -> RunOut:
    counts = run.details.get("counts", {})
    return RunOut(
        run_id=run.id,
        principal_office_id=run.principal_office_id,
        created_at=run.created_at,
        created_by_user_id=run.created_by_user_id,
        method=run.method,
        status=run.status,
        gap=run.gap,
        wall_time_s=run.wall_time_s,
        weighted_score=run.weighted_score,
        inversions=run.inversions,
        moves=run.moves,
        scheduled=counts.get("scheduled", 0),
        left_out=counts.get("left_out", 0),
        ledger_index=run.ledger_index,
    )


def _schedule_out(view: run_service.ScheduleView) -> ScheduleOut:
    return ScheduleOut(
        run=_run_out(view.run),
        principal_time_zone=view.principal_time_zone,
        calls=[
            CallOut(
                request_id=call.request.public_id,
                leader_id=call.leader.id,
                leader_name=call.row.leader_name,
                leader_country=call.leader_country,
                leader_time_zone=call.leader_time_zone,
                start=call.row.start_utc,
                end=call.row.end_utc,
                minutes=call.row.minutes,
                principal_local=call.row.principal_local,
                leader_local=call.row.leader_local,
                interpreters=list(call.row.interpreters),
                interpreter_ids=[int(i) for i in call.interpreter_ids],
                mode=call.row.mode,
                confirmed=call.confirmed,
                status=call.request.status,
            )
            for call in view.calls
        ],
        left_out=[_left_out(out) for out in view.left_out],
    )


@router.post("/schedule", response_model=ScheduleOut, status_code=status.HTTP_201_CREATED)
def run_schedule(
    data: ScheduleIn, database: AppDatabase, clock: AppClock, actor: ManagerUnheld
) -> ScheduleOut:
    """Schedule every open request from now on (the solver within the time limit, or the
    greedy baseline), keeping confirmed calls where it can; every request left out gets its
    reason (watch and protocol officers). The solve holds no transaction; a run written by
    someone else meanwhile makes this one 409."""
    return scheduling_service.schedule_now(
        database,
        office_id=data.principal_office_id,
        options=scheduling_service.run_options(
            method=data.method, time_limit_s=data.time_limit_s, seed=data.seed
        ),
        by_user_id=actor.user_id,
        clock=clock,
        present=lambda session, run: _schedule_out(run_service.schedule_view(session, run=run)),
    )


@router.get("/schedule", response_model=ScheduleOut)
def get_schedule(
    session: DbSession, actor: ScheduleReader, office_id: RowId | None = None
) -> ScheduleOut:
    """The latest schedule: the call sheet (UTC, the principal's and the leader's local
    times, interpreters, mode) and the requests left out with why (the call desk, auditors,
    and the principal's office)."""
    view = run_service.get_schedule(session, office_id=office_id, viewer=access.viewer_of(actor))
    return _schedule_out(view)


@router.get(
    "/schedule/ical",
    response_class=Response,
    responses={200: {"content": {ICALENDAR: {}}, "description": "An iCalendar file."}},
)
def schedule_ical(
    session: DbSession, settings: AppSettings, actor: ScheduleReader, office_id: RowId | None = None
) -> Response:
    """The latest schedule as one iCalendar file (text/calendar), timed in the principal's
    zone, with the leader and interpreters as attendees."""
    view = run_service.get_schedule(session, office_id=office_id, viewer=access.viewer_of(actor))
    content = ical_service.schedule_ical(view, domain=ical_service.domain_of(settings.public_url))
    return _calendar(content, "calls.ics")


@router.get("/runs", response_model=list[RunOut])
def list_runs(
    session: DbSession, actor: ScheduleReader, office_id: RowId | None = None
) -> list[RunOut]:
    """Every run of the scheduler for a principal's office, newest first."""
    runs = run_service.list_runs(session, office_id=office_id, viewer=access.viewer_of(actor))
    return [_run_out(run) for run in runs]


@router.get("/runs/{run_id}", response_model=ScheduleOut)
def get_run(run_id: RowId, session: DbSession, actor: ScheduleReader) -> ScheduleOut:
    """One earlier run, as the schedule it made."""
    viewer = access.viewer_of(actor)
    view = run_service.get_schedule(session, office_id=None, viewer=viewer, run_id=run_id)
    return _schedule_out(view)
