"""The scheduler's runs, read back: a run's call sheet, the latest schedule, every run.

A run keeps a snapshot of the problem it solved (``pouch.calls.snapshot``),
so its call sheet and calendar read the same later, whatever has changed in
the directory since; cancelled calls are left off. The call desk and auditors
read every schedule, a principal's office its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.calls import calendar as calendar_service
from pouch.calls import parties as party_service
from pouch.calls import problem as core
from pouch.calls import sheet, snapshot
from pouch.calls.access import Viewer
from pouch.calls.models import (
    CallRequest,
    CallStatus,
    ScheduledCall,
    ScheduleRun,
    UnscheduledRequest,
)
from pouch.directory.models import Office, Person
from pouch.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class LeftOutView:
    request_id: str
    leader_name: str
    reason: str
    detail: str | None


@dataclass(frozen=True)
class CallView:
    """A call of a run: its call-sheet row, and its request as it stands now."""

    row: sheet.CallSheetRow
    request: CallRequest
    leader: Person
    leader_time_zone: str
    leader_country: str
    confirmed: bool
    interpreter_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleView:
    run: ScheduleRun
    problem: core.Problem
    calls: tuple[CallView, ...]
    left_out: tuple[LeftOutView, ...]

    @property
    def principal_time_zone(self) -> str:
        return self.problem.principal.time_zone

    def call(self, public_id: str) -> CallView | None:
        return next((c for c in self.calls if c.request.public_id == public_id), None)


def latest_run(session: Session, office_id: int) -> ScheduleRun | None:
    """The newest run of the office's schedule, if any."""
    return session.scalar(
        select(ScheduleRun)
        .where(ScheduleRun.principal_office_id == office_id)
        .order_by(ScheduleRun.id.desc())
        .limit(1)
    )


def interpreter_names(run: ScheduleRun) -> dict[str, str]:
    """Interpreter ids to names, as the run's snapshot has them."""
    return {i["id"]: i["name"] for i in run.details.get("problem", {}).get("interpreters", [])}


def schedule_view(session: Session, *, run: ScheduleRun) -> ScheduleView:
    """The run's call sheet (cancelled calls left off) and its left-out requests."""
    problem = snapshot.problem_from_json(run.details["problem"])
    rows = session.execute(
        select(ScheduledCall, CallRequest, Person)
        .join(CallRequest, CallRequest.id == ScheduledCall.request_id)
        .join(Person, Person.id == CallRequest.person_id)
        .where(ScheduledCall.run_id == run.id, CallRequest.status != CallStatus.CANCELLED)
    ).all()
    calls = {request.public_id: (call, request, leader) for call, request, leader in rows}
    schedule = core.Schedule(
        method=run.method,
        status=run.status,
        assignments=tuple(
            core.Assignment(public_id, call.start, call.end, tuple(call.interpreter_ids))
            for public_id, (call, _, _) in calls.items()
        ),
        unscheduled=(),
        weighted_score=run.weighted_score,
        inversions=run.inversions,
        moves=run.moves,
        gap=run.gap,
        wall_time_s=run.wall_time_s,
    )
    views = []
    for row in sheet.call_sheet(problem, schedule):
        call, request, leader = calls[row.request_id]
        as_solved = problem.requests_by_id[row.request_id]
        views.append(
            CallView(
                row=row,
                request=request,
                leader=leader,
                leader_time_zone=as_solved.leader_time_zone,
                leader_country=as_solved.leader_country,
                confirmed=call.confirmed,
                interpreter_ids=tuple(call.interpreter_ids),
            )
        )
    left_out = tuple(
        LeftOutView(request.public_id, leader.name, out.reason, out.detail)
        for out, request, leader in session.execute(
            select(UnscheduledRequest, CallRequest, Person)
            .join(CallRequest, CallRequest.id == UnscheduledRequest.request_id)
            .join(Person, Person.id == CallRequest.person_id)
            .where(UnscheduledRequest.run_id == run.id, CallRequest.status != CallStatus.CANCELLED)
            .order_by(UnscheduledRequest.id)
        ).all()
    )
    return ScheduleView(run=run, problem=problem, calls=tuple(views), left_out=left_out)


def get_schedule(
    session: Session, *, office_id: int | None, viewer: Viewer, run_id: int | None = None
) -> ScheduleView:
    """The latest schedule of a principal's office, or one run of it."""
    if run_id is not None:
        run = session.get(ScheduleRun, run_id)
        if run is None:
            raise NotFound(f"no schedule run {run_id}")
        office = party_service.principal_office(session, run.principal_office_id)
    else:
        office = party_service.principal_office(session, office_id, field="office_id")
        found = latest_run(session, office.id)
        if found is None:
            raise NotFound(f"no schedule has been made for {office.name} yet")
        run = found
    if not viewer.sees_schedule(office.id):
        raise PermissionDenied("only the call desk and the principal's office see its schedule")
    return schedule_view(session, run=run)


def latest_schedule(
    session: Session, *, office_id: int | None, viewer: Viewer
) -> ScheduleView | None:
    """The latest schedule of a principal's office, or None before its first run."""
    try:
        return get_schedule(session, office_id=office_id, viewer=viewer)
    except NotFound:
        return None


@dataclass(frozen=True)
class Overview:
    """The call desk at a glance: the principal's office, its latest schedule (None
    before the first run) and its calendar."""

    office: Office
    schedule: ScheduleView | None
    calendar: calendar_service.CalendarView


def overview(session: Session, *, viewer: Viewer) -> Overview:
    """The only principal's office, as the viewer may see it."""
    office = party_service.principal_office(session, None, field="office")
    schedule = latest_schedule(session, office_id=office.id, viewer=viewer)
    calendar = calendar_service.get_calendar(session, office_id=office.id, viewer=viewer)
    return Overview(office=office, schedule=schedule, calendar=calendar)


def list_runs(session: Session, *, office_id: int | None, viewer: Viewer) -> list[ScheduleRun]:
    """The runs of a principal's office, newest first."""
    office = party_service.principal_office(session, office_id, field="office_id")
    if not viewer.sees_schedule(office.id):
        raise PermissionDenied("only the call desk and the principal's office see its schedule")
    return list(
        session.scalars(
            select(ScheduleRun)
            .where(ScheduleRun.principal_office_id == office.id)
            .order_by(ScheduleRun.id.desc())
        )
    )
