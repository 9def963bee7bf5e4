"""Scheduling: the open requests of a principal's office, planned from now.

Three steps, so that the solve runs outside any transaction (a long solve must
not hold the write lock every acceptance takes): :func:`prepare_schedule`
reads the database into a pure :class:`~pouch.calls.problem.Problem`,
:func:`compute_schedule` runs the greedy baseline or the solver on it, and
:func:`store_schedule` writes the run, logged as ``calls.scheduled`` (counts,
never names), unless another run was written meanwhile. :func:`schedule_now`
does the three with a transaction around each step but the solve;
:func:`run_schedule` does them in one session, for one-off callers.

Re-planning starts from now: the principal is busy from local midnight until
now; a confirmed call keeps its slot as ``confirmed_start`` (the solver's third
objective is to move as few as it can); a confirmed call that started today is
carried into the new run as it is. A request whose window has passed, that
opens beyond the planning horizon, or whose data no longer make a valid
request is left out before the scheduler sees it, with its reason. The
interpreters are the language desk's roster (``pouch.language.roster``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pouch.calls import calendar as calendar_service
from pouch.calls import invalid, snapshot
from pouch.calls import parties as party_service
from pouch.calls import precedence as precedence_service
from pouch.calls import problem as core
from pouch.calls import requests as request_service
from pouch.calls.greedy import schedule_greedily
from pouch.calls.models import (
    BusyBlock,
    CallRequest,
    CallStatus,
    ScheduledCall,
    ScheduleRun,
    UnscheduledRequest,
)
from pouch.clock import Clock
from pouch.db import Database
from pouch.directory.models import Office, Person
from pouch.errors import Conflict
from pouch.events import EventKind
from pouch.language import roster as roster_service
from pouch.language.models import Interpreter
from pouch.ledger import service as ledger_service

#: Reasons a run leaves a request out before the scheduler sees it (the core's come after).
WINDOW_PASSED = "window-passed"


BEYOND_HORIZON = "beyond-horizon"


INVALID = "invalid"


TOO_LONG = core.Reason.TOO_LONG.value


if TYPE_CHECKING:
    # The solver brings OR-Tools (and pandas): imported only when a schedule is
    # solved, so that starting Pouch stays quick.
    from pouch.calls.solver import ProgressCallback, SolverOptions


Method = Literal["solver", "greedy"]


@dataclass(frozen=True)
class LeftOut:
    """A request left out before the scheduler saw it (its window passed, it is too
    far ahead, or its data no longer make a valid request)."""

    request_id: str
    reason: str
    detail: str


@dataclass(frozen=True)
class PreparedSchedule:
    """What a run solves: the pure problem, and how it maps back to the database."""

    office_id: int
    problem: core.Problem
    row_ids: Mapping[str, int]
    carried: tuple[core.Assignment, ...]
    carried_requests: tuple[core.CallRequest, ...]
    left_out: tuple[LeftOut, ...]
    skipped_interpreters: tuple[str, ...]
    #: The office's latest run when the problem was read: a run written meanwhile
    #: (by another officer, another process) makes this one stale.
    basis: int | None = None


def _core_request(
    request: CallRequest,
    leader: Person,
    *,
    rank: tuple[int, int],
    principal_languages: tuple[str, ...],
    earliest: date,
    latest: date,
    confirmed_start: datetime | None,
    email: str | None,
) -> core.CallRequest:
    return core.CallRequest(
        id=request.public_id,
        leader_name=leader.name,
        leader_country=leader.country_code,
        leader_time_zone=leader.time_zone,
        leader_languages=tuple(request.languages),
        earliest_date=earliest,
        latest_date=latest,
        talk_minutes=request.talk_minutes,
        precedence_tier=rank[0],
        precedence_position=rank[1],
        arrived_at=request.created_at,
        urgency=request.urgency,
        principal_languages=principal_languages,
        interpretation=core.Interpretation(request.interpretation),
        leader_hours=request_service.leader_hours(
            request.leader_hours_start, request.leader_hours_end
        ),
        confirmed_start=confirmed_start,
        leader_email=email,
        leader_subdivision=leader.subdivision,
        leader_busy=request_service.leader_busy(request),
        dates_in_leader_zone=request.dates_in_leader_zone,
    )


def _today(request: CallRequest, leader: Person, today: date, now: datetime) -> date:
    """Today as the request's dates count: the principal's ``today``, or the leader's."""
    if request.dates_in_leader_zone:
        return now.astimezone(ZoneInfo(leader.time_zone)).date()
    return today


def _core_interpreter(row: Interpreter) -> core.Interpreter:
    """A roster entry as the scheduler reads it."""
    return core.Interpreter(
        id=str(row.id),
        name=row.name,
        language_pairs=tuple((a, b) for a, b in row.language_pairs),
        availability=tuple(
            core.TimeWindow(window.start, window.end) for window in roster_service.windows_of(row)
        ),
        max_minutes_per_day=row.max_minutes_per_day,
        time_zone=row.time_zone,
        email=row.email,
    )


def prepare_schedule(session: Session, *, office_id: int | None, now: datetime) -> PreparedSchedule:
    """Read the open requests of a principal's office into a problem to solve from ``now``."""
    office = party_service.principal_office(session, office_id)
    calendar = calendar_service.calendar_of(session, office)
    zone = ZoneInfo(calendar.time_zone)
    today, midnight = calendar_service.today_and_midnight(now, zone)
    horizon_end = today + timedelta(days=core.MAX_HORIZON_DAYS - 1)
    ranks = precedence_service.ranks(session)
    principal_languages = party_service.principal_languages(session, office)
    emails = dict(session.execute(select(Office.id, Office.email)).all())
    rows = session.execute(
        select(CallRequest, Person)
        .join(Person, Person.id == CallRequest.person_id)
        .where(
            CallRequest.principal_office_id == office.id,
            CallRequest.status != CallStatus.CANCELLED,
        )
        .order_by(CallRequest.id)
    ).all()
    confirmed_calls: dict[int, ScheduledCall] = {}
    for call in session.scalars(
        select(ScheduledCall)
        .join(CallRequest, CallRequest.id == ScheduledCall.request_id)
        .where(
            CallRequest.principal_office_id == office.id,
            CallRequest.status == CallStatus.CONFIRMED,
            ScheduledCall.confirmed.is_(True),
        )
        .order_by(ScheduledCall.run_id)
    ):
        confirmed_calls[call.request_id] = call  # the latest run's wins
    buffer = timedelta(minutes=calendar.buffer_minutes)
    busy_until = now
    requests: list[core.CallRequest] = []
    carried: list[core.Assignment] = []
    carried_requests: list[core.CallRequest] = []
    left_out: list[LeftOut] = []
    row_ids: dict[str, int] = {}
    principal = calendar_service.principal(session, office)
    window = principal.daily_window
    for request, leader in rows:
        public_id = request.public_id
        confirmed = confirmed_calls.get(request.id)
        today_of = _today(request, leader, today, now)
        if confirmed is not None and confirmed.start < now:
            if confirmed.start < midnight:
                continue  # held on an earlier day: it is in the runs of its day
            busy_until = max(busy_until, confirmed.end + buffer)
        elif request.latest_date < today_of:
            if request.status != CallStatus.UNSCHEDULED:  # reported once, by one run
                where = leader.time_zone if request.dates_in_leader_zone else calendar.time_zone
                detail = (
                    f"the window {request.earliest_date} to {request.latest_date} has passed "
                    f"(today is {today_of} in {where})"
                )
                left_out.append(LeftOut(public_id, WINDOW_PASSED, detail))
                row_ids[public_id] = request.id
            continue
        elif request.earliest_date > horizon_end:
            detail = (
                f"the window opens on {request.earliest_date}, beyond the "
                f"{core.MAX_HORIZON_DAYS}-day planning horizon (until {horizon_end}); "
                "a later run will place it"
            )
            left_out.append(LeftOut(public_id, BEYOND_HORIZON, detail))
            row_ids[public_id] = request.id
            continue
        row_ids[public_id] = request.id
        try:
            made = _core_request(
                request,
                leader,
                rank=ranks.get(leader.id, (precedence_service.UNRANKED_TIER, 0)),
                principal_languages=principal_languages,
                earliest=max(request.earliest_date, today_of),
                latest=min(request.latest_date, horizon_end),
                confirmed_start=confirmed.start if confirmed is not None else None,
                email=emails.get(leader.office_id) if leader.office_id else None,
            )
        except core.ProblemError as error:
            left_out.append(LeftOut(public_id, INVALID, f"the request is no longer valid: {error}"))
            continue
        if confirmed is not None and confirmed.start < now:
            carried_requests.append(made)
            carried.append(
                core.Assignment(
                    public_id, confirmed.start, confirmed.end, tuple(confirmed.interpreter_ids)
                )
            )
        elif made.call_minutes > window.minutes:
            detail = (
                f"the call takes {made.duration_label} but the principal's daily window "
                f"{window} lasts only {window.minutes} min"
            )
            left_out.append(LeftOut(public_id, TOO_LONG, detail))
        else:
            requests.append(made)
    # The past is busy; so is a call under way, until it ends. (Its interpreters'
    # minutes today are not counted against their caps: a call is rarely that long.)
    busy = [
        core.TimeWindow(block.start, block.end)
        for block in session.scalars(
            select(BusyBlock).where(BusyBlock.office_id == office.id, BusyBlock.end > midnight)
        )
    ]
    busy += calendar_service.past_block(midnight, busy_until)
    interpreters: list[core.Interpreter] = []
    skipped: list[str] = []
    # The language desk's roster, active entries in the order they were added.
    for row in sorted(roster_service.list_interpreters(session), key=lambda row: row.id):
        try:
            interpreters.append(_core_interpreter(row))
        except (core.ProblemError, ValueError, TypeError) as error:
            skipped.append(f"{row.name} (id {row.id}): {error}")
    try:
        problem = core.Problem(
            principal=replace(principal, busy=tuple(busy)),
            requests=tuple(requests),
            interpreters=tuple(interpreters),
            rank_policy=calendar_service.rank_policy_of(calendar),
        )
    except core.ProblemError as error:
        raise invalid.from_problem(error, request_service.REQUEST_FIELDS) from None
    return PreparedSchedule(
        office_id=office.id,
        problem=problem,
        row_ids=row_ids,
        carried=tuple(carried),
        carried_requests=tuple(carried_requests),
        left_out=tuple(left_out),
        skipped_interpreters=tuple(skipped),
        basis=_latest_run_id(session, office.id),
    )


def _latest_run_id(session: Session, office_id: int, *, lock: bool = False) -> int | None:
    if lock:
        # Writers of one office's runs take turns (PostgreSQL; SQLite has one writer).
        session.execute(select(Office.id).where(Office.id == office_id).with_for_update())
    latest: int | None = session.scalar(
        select(func.max(ScheduleRun.id)).where(ScheduleRun.principal_office_id == office_id)
    )
    return latest


@dataclass(frozen=True)
class RunOptions:
    """How a run is solved: the method, and the solver's budget and seed (the solver's
    options, deterministic, so that the same seed gives the same schedule)."""

    method: Method
    time_limit_s: float
    seed: int
    solver: SolverOptions

    def stored(self) -> dict[str, Any]:
        """What the run keeps of them."""
        return {"method": self.method, "time_limit_s": self.time_limit_s, "seed": self.seed}


def run_options(*, method: Method, time_limit_s: float, seed: int) -> RunOptions:
    """A run's options, checked (a seed the solver refuses is an error on ``seed``)."""
    from pouch.calls.solver import SolverOptions

    try:
        solver = SolverOptions(
            time_limit_s=time_limit_s, random_seed=seed, num_workers=2, deterministic=True
        )
    except core.ProblemError as error:
        raise invalid.from_problem(error, {"random_seed": "seed"}) from None
    return RunOptions(method=method, time_limit_s=time_limit_s, seed=seed, solver=solver)


def compute_schedule(
    prepared: PreparedSchedule,
    *,
    options: RunOptions,
    progress: ProgressCallback | None = None,
) -> core.Schedule:
    """Solve (CP-SAT, reporting each better solution to ``progress``) or place greedily."""
    if options.method == "greedy":
        return schedule_greedily(prepared.problem)
    from pouch.calls.solver import solve

    return solve(prepared.problem, options.solver, progress=progress)


def store_schedule(
    session: Session,
    *,
    prepared: PreparedSchedule,
    schedule: core.Schedule,
    by_user_id: int | None,
    options: RunOptions,
    now: datetime,
) -> ScheduleRun:
    """Write a run with its calls and left-out requests, logged as ``calls.scheduled``.

    A confirmed call still at its slot stays confirmed; one the solver had to
    move is scheduled again, to be confirmed anew. A request cancelled while
    the run was being solved stays cancelled. A run that another was written
    over while this one was solved is refused (409): schedule again.
    """
    latest = _latest_run_id(session, prepared.office_id, lock=True)
    if latest != prepared.basis:
        raise Conflict(
            f"schedule run {latest} was made while this one was being solved; "
            "schedule again to plan from it"
        )
    confirmed_starts = {
        r.id: r.confirmed_start for r in prepared.problem.requests if r.confirmed_start
    }
    assignments = [*prepared.carried, *schedule.assignments]
    carried_ids = {a.request_id for a in prepared.carried}
    kept = {
        a.request_id
        for a in assignments
        if a.request_id in carried_ids or confirmed_starts.get(a.request_id) == a.start
    }
    left_out = [
        *(LeftOut(u.request_id, u.reason.value, u.detail) for u in schedule.unscheduled),
        *prepared.left_out,
    ]
    counts = {
        "requests": len(assignments) + len(left_out),
        "scheduled": len(assignments),
        "left_out": len(left_out),
        "confirmed_kept": len(kept),
        "moves": schedule.moves,
        "inversions": schedule.inversions,
    }
    recorded = ledger_service.record_event(
        session,
        kind=EventKind.CALLS_SCHEDULED,
        at=now,
        details={
            "office": prepared.office_id,
            "method": schedule.method,
            "status": schedule.status,
            **counts,
        },
        parties=(prepared.office_id,),
    )
    run = ScheduleRun(
        principal_office_id=prepared.office_id,
        created_at=now,
        created_by_user_id=by_user_id,
        method=schedule.method,
        status=schedule.status,
        gap=schedule.gap,
        wall_time_s=schedule.wall_time_s,
        weighted_score=schedule.weighted_score,
        inversions=schedule.inversions,
        moves=schedule.moves,
        details={
            "counts": counts,
            "options": options.stored(),
            "stages": [
                {
                    "name": s.name,
                    "status": s.status,
                    "objective": s.objective,
                    "bound": s.bound,
                    "wall_time_s": s.wall_time_s,
                }
                for s in schedule.stages
            ],
            "skipped_interpreters": list(prepared.skipped_interpreters),
            "problem": snapshot.problem_json(prepared.problem, prepared.carried_requests),
        },
        ledger_index=recorded.index,
    )
    session.add(run)
    session.flush()
    rows = {
        r.id: r
        for r in session.scalars(
            select(CallRequest).where(CallRequest.id.in_(list(prepared.row_ids.values())))
        )
    }
    for a in assignments:
        request = rows[prepared.row_ids[a.request_id]]
        confirmed = a.request_id in kept
        session.add(
            ScheduledCall(
                run_id=run.id,
                request_id=request.id,
                start=a.start,
                end=a.end,
                interpreter_ids=list(a.interpreter_ids),
                confirmed=confirmed,
            )
        )
        if request.status != CallStatus.CANCELLED:
            request.status = CallStatus.CONFIRMED if confirmed else CallStatus.SCHEDULED
    for out in left_out:
        request = rows[prepared.row_ids[out.request_id]]
        session.add(
            UnscheduledRequest(
                run_id=run.id, request_id=request.id, reason=out.reason, detail=out.detail
            )
        )
        if request.status != CallStatus.CANCELLED:
            request.status = CallStatus.UNSCHEDULED
    session.flush()
    return run


T = TypeVar("T")


def schedule_now(
    database: Database,
    *,
    office_id: int | None,
    options: RunOptions,
    by_user_id: int | None,
    clock: Clock,
    present: Callable[[Session, ScheduleRun], T],
) -> T:
    """Plan a principal's calls from now, holding no transaction while solving: read the
    problem in a short read transaction, solve with none open, write the run in a
    short write transaction (refused if another run was written meanwhile), and
    return what ``present`` makes of it there. The one function of the call desk
    that opens its own transactions (the API, the pages, the command line)."""
    now = clock.now()
    with database.transaction(write=False) as session:
        prepared = prepare_schedule(session, office_id=office_id, now=now)
    schedule = compute_schedule(prepared, options=options)
    with database.transaction() as session:
        run = store_schedule(
            session,
            prepared=prepared,
            schedule=schedule,
            options=options,
            by_user_id=by_user_id,
            now=now,
        )
        return present(session, run)


def run_schedule(
    session: Session,
    *,
    office_id: int | None,
    method: Method,
    time_limit_s: float,
    seed: int,
    by_user_id: int | None,
    now: datetime,
    progress: ProgressCallback | None = None,
) -> ScheduleRun:
    """Prepare, solve and store a run in the caller's session: for a one-off caller that
    holds its transaction anyway (the demo's loader, tests); a server uses
    :func:`schedule_now`."""
    options = run_options(method=method, time_limit_s=time_limit_s, seed=seed)
    prepared = prepare_schedule(session, office_id=office_id, now=now)
    schedule = compute_schedule(prepared, options=options, progress=progress)
    return store_schedule(
        session,
        prepared=prepared,
        schedule=schedule,
        options=options,
        by_user_id=by_user_id,
        now=now,
    )
