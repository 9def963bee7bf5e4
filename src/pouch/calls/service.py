"""The call desk as Pouch stores it: precedence, calendars, interpreters, requests, schedules.

Service functions are typed and keyword-only, take their session and never
commit. Bad input raises :class:`~pouch.errors.InvalidInput` naming the field;
the pure core's :class:`~pouch.calls.problem.ProblemError` becomes one too.
Each change is one ledger event, written through ``ledger_service.record_event``:
``precedence.changed``, ``call.requested``, ``calls.scheduled`` (counts, never
names), ``call.confirmed`` and ``call.cancelled``.

Scheduling is three steps, so that a caller may solve outside a transaction
(SQLite has one writer: a long solve must not hold its lock):
:func:`prepare_schedule` reads the database into a pure
:class:`~pouch.calls.problem.Problem`, :func:`compute_schedule` runs the greedy
baseline or the solver on it, and :func:`store_schedule` writes the run.
:func:`run_schedule` does the three in one session.

Re-planning starts from now: the principal is busy from local midnight until
now; a confirmed call keeps its slot as ``confirmed_start`` (the solver's third
objective is to move as few as it can); a confirmed call that started today is
carried into the new run as it is. A run keeps a snapshot of the problem it
solved, so its call sheet and calendar read the same later.
"""

from __future__ import annotations

import csv
import io
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import icalendar
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pouch.calls import problem as core
from pouch.calls import sheet
from pouch.calls.availability import compute_availability
from pouch.calls.explain import explain_unscheduled
from pouch.calls.greedy import schedule_greedily
from pouch.calls.models import (
    BusyBlock,
    CallRequest,
    CallStatus,
    PrecedenceRank,
    PrecedenceVersion,
    PrincipalCalendar,
    ScheduledCall,
    ScheduleRun,
    UnscheduledRequest,
)
from pouch.calls.schemas import (
    BusyBlockIn,
    CalendarIn,
    CallRequestIn,
    PrecedenceIn,
    RankIn,
)
from pouch.directory.models import Office, OfficeKind, Person
from pouch.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pouch.events import EventKind
from pouch.language import roster as roster_service
from pouch.language.models import Interpreter
from pouch.ledger import service as ledger_service
from pouch.messages import service as message_service

CALL_ID_PREFIX = "c-"
#: Leaders missing from the order of precedence come after every ranked one.
UNRANKED_TIER = 1_000_000
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


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", field_errors=[FieldError(field, message)])


def _from_problem(error: core.ProblemError, fields: Mapping[str, str]) -> InvalidInput:
    """The core's error, named after the caller's field (``fields`` maps core names to them)."""
    name = error.field.rsplit(".", 1)[-1] if error.field.startswith("requests[") else error.field
    return _invalid(fields.get(name, name), error.message)


def new_public_id() -> str:
    return CALL_ID_PREFIX + secrets.token_hex(10)


@dataclass(frozen=True)
class Viewer:
    """Whose requests and schedules a caller may see; the API builds it from the roles.

    ``desk``: the call desk and the auditors see everything; ``manager``: watch
    and protocol officers enter requests for any leader; a sender office sees
    the requests of its leaders; a principal's office sees its own schedule.
    """

    desk: bool = False
    manager: bool = False
    sender_offices: frozenset[int] = frozenset()
    principal_offices: frozenset[int] = frozenset()

    def sees_schedule(self, office_id: int) -> bool:
        return self.desk or office_id in self.principal_offices

    def sees_request(self, request: CallRequest, leader: Person) -> bool:
        return (
            self.sees_schedule(request.principal_office_id)
            or request.requested_by_office_id in self.sender_offices
            or leader.office_id in self.sender_offices
        )


#: The desk itself: the CLI and the demo act as it.
DESK = Viewer(desk=True, manager=True)


# --- offices and people ------------------------------------------------------------


def principal_office(
    session: Session, office_id: int | None, *, field: str = "principal_office_id"
) -> Office:
    """The principal's office named, or the only one there is."""
    if office_id is None:
        offices = list(
            session.scalars(
                select(Office).where(Office.kind == OfficeKind.PRINCIPAL).order_by(Office.id)
            )
        )
        if len(offices) != 1:
            found = "there is no principal office" if not offices else "there are several"
            raise _invalid(field, f"{found}: name the principal's office")
        return offices[0]
    office = session.get(Office, office_id)
    if office is None:
        raise _invalid(field, f"no office with id {office_id}")
    if office.kind != OfficeKind.PRINCIPAL:
        raise _invalid(field, f"{office.name} is not a principal's office")
    return office


def principal_office_by_slug(session: Session, slug: str | None) -> Office:
    if slug is None:
        return principal_office(session, None, field="office")
    office = session.scalar(select(Office).where(Office.slug == slug))
    if office is None:
        raise _invalid("office", f"no office {slug!r}")
    return principal_office(session, office.id, field="office")


def find_leader(session: Session, key: str, *, field: str = "leader") -> Person:
    """A person by id, or by exact name (case apart)."""
    if key.strip().isdigit():
        person = session.get(Person, int(key))
        if person is None:
            raise _invalid(field, f"no person with id {key.strip()}")
        return person
    # Compared in Python: SQLite's lower() folds ASCII only ("Ó" stays "Ó").
    wanted = unicodedata.normalize("NFC", key.strip()).casefold()
    matches = [
        person
        for person in session.scalars(select(Person).order_by(Person.id))
        if unicodedata.normalize("NFC", person.name).casefold() == wanted
    ]
    if not matches:
        raise _invalid(field, f"no person named {key!r}")
    if len(matches) > 1:
        ids = ", ".join(str(p.id) for p in matches)
        raise _invalid(field, f"several people are named {key!r} (ids {ids}): give the id")
    return matches[0]


def _principal_person(session: Session, office: Office) -> Person | None:
    return session.scalar(select(Person).where(Person.office_id == office.id).order_by(Person.id))


# --- order of precedence -----------------------------------------------------------


@dataclass(frozen=True)
class PrecedenceView:
    version: PrecedenceVersion
    ranks: tuple[tuple[PrecedenceRank, Person], ...]


def _current_version(session: Session) -> PrecedenceVersion | None:
    return session.scalar(
        select(PrecedenceVersion).order_by(PrecedenceVersion.number.desc()).limit(1)
    )


def get_precedence(session: Session, *, number: int | None = None) -> PrecedenceView:
    """The current order of precedence, or an earlier version by number."""
    if number is None:
        version = _current_version(session)
        if version is None:
            raise NotFound("no order of precedence has been set yet")
    else:
        version = session.scalar(
            select(PrecedenceVersion).where(PrecedenceVersion.number == number)
        )
        if version is None:
            raise NotFound(f"no version {number} of the order of precedence")
    rows = session.execute(
        select(PrecedenceRank, Person)
        .join(Person, Person.id == PrecedenceRank.person_id)
        .where(PrecedenceRank.version_id == version.id)
        .order_by(PrecedenceRank.tier, PrecedenceRank.position)
    ).all()
    return PrecedenceView(version=version, ranks=tuple((rank, person) for rank, person in rows))


def list_precedence_versions(session: Session) -> list[tuple[PrecedenceVersion, int]]:
    """Every version, newest first, with how many leaders it ranks."""
    rows = session.execute(
        select(PrecedenceVersion, func.count(PrecedenceRank.id))
        .outerjoin(PrecedenceRank, PrecedenceRank.version_id == PrecedenceVersion.id)
        .group_by(PrecedenceVersion.id)
        .order_by(PrecedenceVersion.number.desc())
    ).all()
    return [(version, count) for version, count in rows]


def set_precedence(
    session: Session, *, data: PrecedenceIn, author_user_id: int | None, now: datetime
) -> PrecedenceView:
    """A new version of the order of precedence, from the whole ranking; logged with its
    author and reason."""
    persons: dict[int, int] = {}
    places: dict[tuple[int, int], int] = {}
    for i, rank in enumerate(data.ranks):
        if rank.person_id in persons:
            raise _invalid(
                f"ranks.{i}.person_id",
                f"person {rank.person_id} is ranked twice (also ranks.{persons[rank.person_id]})",
            )
        place = (rank.tier, rank.position)
        if place in places:
            raise _invalid(
                f"ranks.{i}.position",
                f"tier {rank.tier}, position {rank.position} is also given to "
                f"ranks.{places[place]}: two leaders cannot share a place",
            )
        persons[rank.person_id] = i
        places[place] = i
    known = set(session.scalars(select(Person.id).where(Person.id.in_(persons))))
    for person_id, i in persons.items():
        if person_id not in known:
            raise _invalid(f"ranks.{i}.person_id", f"no person with id {person_id}")
    current = _current_version(session)
    number = (current.number if current else 0) + 1
    recorded = ledger_service.record_event(
        session,
        kind=EventKind.PRECEDENCE_CHANGED,
        at=now,
        details={
            "version": number,
            "by": author_user_id,
            "reason": data.reason,
            "leaders": len(data.ranks),
        },
    )
    version = PrecedenceVersion(
        number=number,
        reason=data.reason,
        author_user_id=author_user_id,
        created_at=now,
        ledger_index=recorded.index,
        ranks=[
            PrecedenceRank(person_id=r.person_id, tier=r.tier, position=r.position)
            for r in data.ranks
        ],
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "the order of precedence changed meanwhile: read it again and resubmit"
        ) from None
    return get_precedence(session, number=number)


def ranking_from_text(
    session: Session, *, text: str, format: Literal["yaml", "csv"]
) -> list[RankIn]:
    """A ranking from a file: YAML ``tiers:`` (lists of leaders, in order) or CSV
    ``person,tier,position``; a leader is an id or an exact name."""
    entries: list[tuple[str, str, int, int]] = []  # (where, person, tier, position)
    if format == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not {"person", "tier", "position"} <= set(
            reader.fieldnames
        ):
            raise _invalid("file", "a CSV ranking needs the columns person, tier, position")
        for line, row in enumerate(reader, start=2):
            try:
                entries.append(
                    (f"line {line}", row["person"], int(row["tier"]), int(row["position"]))
                )
            except (TypeError, ValueError):
                raise _invalid(f"line {line}", "tier and position must be whole numbers") from None
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise _invalid("file", f"not valid YAML: {error}") from None
        tiers = document.get("tiers") if isinstance(document, dict) else None
        if not isinstance(tiers, list) or not all(isinstance(t, list) for t in tiers):
            raise _invalid("file", "a YAML ranking is 'tiers:', a list of lists of leaders")
        for tier, leaders in enumerate(tiers, start=1):
            for position, leader in enumerate(leaders, start=1):
                entries.append((f"tiers[{tier}][{position}]", str(leader), tier, position))
    ranks = []
    for where, key, tier, position in entries:
        person = find_leader(session, key, field=where)
        ranks.append(RankIn(person_id=person.id, tier=tier, position=position))
    return ranks


def ranking_to_yaml(view: PrecedenceView) -> str:
    """The ranking in the YAML form :func:`ranking_from_text` reads."""
    tiers: dict[int, list[str]] = {}
    for rank, person in view.ranks:
        tiers.setdefault(rank.tier, []).append(person.name)
    header = (
        f"# Order of precedence, version {view.version.number}: {view.version.reason}\n"
        "# Tiers in order; within a tier, leaders in order. Names or person ids.\n"
    )
    body = yaml.safe_dump(
        {"tiers": [tiers[t] for t in sorted(tiers)]}, allow_unicode=True, sort_keys=False
    )
    return header + body


def _ranks(session: Session) -> dict[int, tuple[int, int]]:
    version = _current_version(session)
    if version is None:
        return {}
    return {
        rank.person_id: (rank.tier, rank.position)
        for rank in session.scalars(
            select(PrecedenceRank).where(PrecedenceRank.version_id == version.id)
        )
    }


# --- the principal's calendar ------------------------------------------------------


@dataclass(frozen=True)
class CalendarView:
    office_id: int
    time_zone: str
    window_start: time
    window_end: time
    max_calls_per_day: int | None
    buffer_minutes: int
    is_default: bool
    busy: tuple[BusyBlock, ...]


def _calendar_of(session: Session, office: Office) -> PrincipalCalendar:
    """The office's calendar, or an unsaved default: its own zone, 07:00–22:00."""
    calendar = session.get(PrincipalCalendar, office.id)
    if calendar is not None:
        return calendar
    window = core.DEFAULT_PRINCIPAL_WINDOW
    return PrincipalCalendar(
        office_id=office.id,
        time_zone=office.time_zone,
        window_start=window.start,
        window_end=window.end,
        max_calls_per_day=None,
        buffer_minutes=0,
    )


def get_calendar(session: Session, *, office_id: int, viewer: Viewer) -> CalendarView:
    """When the principal of the office takes calls, and the busy blocks."""
    office = principal_office(session, office_id, field="office_id")
    if not viewer.sees_schedule(office.id):
        raise PermissionDenied("only the call desk and the principal's office see this calendar")
    calendar = _calendar_of(session, office)
    busy = session.scalars(
        select(BusyBlock).where(BusyBlock.office_id == office.id).order_by(BusyBlock.start)
    )
    return CalendarView(
        office_id=office.id,
        time_zone=calendar.time_zone,
        window_start=calendar.window_start,
        window_end=calendar.window_end,
        max_calls_per_day=calendar.max_calls_per_day,
        buffer_minutes=calendar.buffer_minutes,
        is_default=session.get(PrincipalCalendar, office.id) is None,
        busy=tuple(busy),
    )


def set_calendar(session: Session, *, office_id: int, data: CalendarIn) -> CalendarView:
    """Set the principal's zone, daily window, cap on calls per day and buffer."""
    office = principal_office(session, office_id, field="office_id")
    zone = data.time_zone or office.time_zone
    try:
        core.Principal(
            time_zone=zone,
            daily_window=core.LocalHours(data.window_start, data.window_end),
            max_calls_per_day=data.max_calls_per_day,
            buffer_minutes=data.buffer_minutes,
        )
    except core.ProblemError as error:
        raise _from_problem(error, {"start": "window_start", "end": "window_end"}) from None
    calendar = session.get(PrincipalCalendar, office.id) or PrincipalCalendar(office_id=office.id)
    calendar.time_zone = zone
    calendar.window_start = data.window_start
    calendar.window_end = data.window_end
    calendar.max_calls_per_day = data.max_calls_per_day
    calendar.buffer_minutes = data.buffer_minutes
    session.add(calendar)
    session.flush()
    return get_calendar(session, office_id=office.id, viewer=DESK)


def add_busy_block(session: Session, *, office_id: int, data: BusyBlockIn) -> BusyBlock:
    """Time the principal takes no calls (blocks may overlap: the scheduler merges them)."""
    office = principal_office(session, office_id, field="office_id")
    try:
        core.TimeWindow(data.start, data.end)
    except core.ProblemError as error:
        raise _from_problem(error, {}) from None
    block = BusyBlock(
        office_id=office.id,
        start=data.start.astimezone(UTC),
        end=data.end.astimezone(UTC),
        note=data.note,
    )
    session.add(block)
    session.flush()
    return block


def remove_busy_block(session: Session, *, office_id: int, block_id: int) -> None:
    block = session.get(BusyBlock, block_id)
    if block is None or block.office_id != office_id:
        raise NotFound(f"office {office_id} has no busy block {block_id}")
    session.delete(block)
    session.flush()


# --- call requests -----------------------------------------------------------------

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
    core.Reason.TOO_LONG: ("talk_minutes",),
}


def _principal(
    session: Session, office: Office, *, busy: Sequence[core.TimeWindow] = ()
) -> core.Principal:
    calendar = _calendar_of(session, office)
    person = _principal_person(session, office)
    try:
        return core.Principal(
            time_zone=calendar.time_zone,
            daily_window=core.LocalHours(calendar.window_start, calendar.window_end),
            busy=tuple(busy),
            max_calls_per_day=calendar.max_calls_per_day,
            buffer_minutes=calendar.buffer_minutes,
            name=person.name if person is not None else office.name,
            email=office.email,
        )
    except core.ProblemError as error:
        raise _invalid(
            "principal_office_id", f"the calendar of {office.name} is unusable: {error}"
        ) from None


def _principal_languages(session: Session, office: Office) -> tuple[str, ...]:
    person = _principal_person(session, office)
    return tuple(person.languages) if person is not None and person.languages else ("en",)


def _leader_hours(start: time | None, end: time | None) -> core.LocalHours:
    if start is None or end is None:
        return core.DEFAULT_LEADER_HOURS
    return core.LocalHours(start, end)


def _past(now: datetime, zone: ZoneInfo) -> tuple[date, datetime]:
    """Today in ``zone``, and the UTC instant of its local midnight."""
    today = now.astimezone(zone).date()
    return today, core.wall_to_utc(today, time(0), zone)


def _ceil_to_grid(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    floor = utc.replace(second=0, microsecond=0) - timedelta(minutes=utc.minute % core.GRID_MINUTES)
    return floor if floor == utc else floor + core.GRID


def _past_block(midnight: datetime, until: datetime) -> list[core.TimeWindow]:
    end = _ceil_to_grid(until)
    return [core.TimeWindow(midnight, end)] if end > midnight else []


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
        raise _invalid("leader_id", f"no person with id {data.leader_id}")
    office = principal_office(session, data.principal_office_id)
    if leader.office_id == office.id:
        raise _invalid("leader_id", f"{leader.name} is of the principal's own office")
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
            raise _invalid("message_id", f"no message {data.message_id!r}")
        message_pk = message.id
    languages = tuple(dict.fromkeys(data.languages or leader.languages))
    if not languages:
        raise _invalid(
            "languages", f"the directory lists no language for {leader.name}: give languages"
        )
    principal_languages = _principal_languages(session, office)
    interpretation = data.interpretation
    if interpretation is None:
        shared = set(languages) & set(principal_languages)
        interpretation = core.Interpretation.NONE if shared else core.Interpretation.CONSECUTIVE
    hours = (data.leader_hours.start, data.leader_hours.end) if data.leader_hours else (None, None)
    calendar = _calendar_of(session, office)
    zone = ZoneInfo(calendar.time_zone)
    today, midnight = _past(now, zone)
    if data.latest_date < today:
        raise _invalid(
            "latest_date",
            f"{data.latest_date} has passed (today is {today} in {calendar.time_zone})",
        )
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
            precedence_tier=UNRANKED_TIER,
            precedence_position=0,
            arrived_at=now,
            urgency=data.urgency,
            principal_languages=principal_languages,
            interpretation=interpretation,
            leader_hours=_leader_hours(*hours),
        )
        # Alone with the principal's window and the time left: can it ever happen?
        alone = core.Problem(
            principal=_principal(session, office, busy=_past_block(midnight, now)),
            requests=(replace(request, earliest_date=max(request.earliest_date, today)),),
        )
    except core.ProblemError as error:
        raise _from_problem(error, REQUEST_FIELDS) from None
    (reason,) = explain_unscheduled(compute_availability(alone), ())
    if reason.reason == core.Reason.PRINCIPAL_BUSY:
        # Nothing but the past is busy here: the window's common hours are over.
        raise _invalid(
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
class LeftOutView:
    request_id: str
    leader_name: str
    reason: str
    detail: str | None


@dataclass(frozen=True)
class RequestView:
    """A request as a viewer may see it: a sender office sees a call once it is
    confirmed, and why a request was left out but not the details (they name
    other leaders)."""

    request: CallRequest
    leader: Person
    message_id: str | None
    call: SlotView | None
    left_out: LeftOutView | None


def _get_request(session: Session, public_id: str) -> tuple[CallRequest, Person]:
    row = session.execute(
        select(CallRequest, Person)
        .join(Person, Person.id == CallRequest.person_id)
        .where(CallRequest.public_id == public_id)
    ).first()
    if row is None:
        raise NotFound(f"no call request {public_id!r}")
    return row[0], row[1]


def _latest_run(session: Session, office_id: int) -> ScheduleRun | None:
    return session.scalar(
        select(ScheduleRun)
        .where(ScheduleRun.principal_office_id == office_id)
        .order_by(ScheduleRun.id.desc())
        .limit(1)
    )


def _interpreter_names(run: ScheduleRun) -> dict[str, str]:
    return {i["id"]: i["name"] for i in run.details.get("problem", {}).get("interpreters", [])}


def _views(
    session: Session, rows: Sequence[tuple[CallRequest, Person]], viewer: Viewer
) -> list[RequestView]:
    runs = {
        office_id: _latest_run(session, office_id)
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
                names = _interpreter_names(run)
                slot = SlotView(
                    run_id=run.id,
                    start=call.start,
                    end=call.end,
                    confirmed=call.confirmed,
                    interpreters=tuple(names.get(i, i) for i in call.interpreter_ids),
                )
            out = left.get((run.id, request.id))
            if out is not None:
                left_out = LeftOutView(
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
    run = _latest_run(session, request.principal_office_id)
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
    )
    call.confirmed = True
    request.status = CallStatus.CONFIRMED
    session.flush()
    return request


# --- scheduling --------------------------------------------------------------------


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
        leader_hours=_leader_hours(request.leader_hours_start, request.leader_hours_end),
        confirmed_start=confirmed_start,
        leader_email=email,
    )


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
    office = principal_office(session, office_id)
    calendar = _calendar_of(session, office)
    zone = ZoneInfo(calendar.time_zone)
    today, midnight = _past(now, zone)
    horizon_end = today + timedelta(days=core.MAX_HORIZON_DAYS - 1)
    ranks = _ranks(session)
    principal_languages = _principal_languages(session, office)
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
    principal = _principal(session, office)
    window = principal.daily_window
    for request, leader in rows:
        public_id = request.public_id
        confirmed = confirmed_calls.get(request.id)
        if confirmed is not None and confirmed.start < now:
            if confirmed.start < midnight:
                continue  # held on an earlier day: it is in the runs of its day
            busy_until = max(busy_until, confirmed.end + buffer)
        elif request.latest_date < today:
            if request.status != CallStatus.UNSCHEDULED:  # reported once, by one run
                detail = (
                    f"the window {request.earliest_date} to {request.latest_date} has passed "
                    f"(today is {today} in {calendar.time_zone})"
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
                rank=ranks.get(leader.id, (UNRANKED_TIER, 0)),
                principal_languages=principal_languages,
                earliest=max(request.earliest_date, today),
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
    busy += _past_block(midnight, busy_until)
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
        )
    except core.ProblemError as error:
        raise _from_problem(error, REQUEST_FIELDS) from None
    return PreparedSchedule(
        office_id=office.id,
        problem=problem,
        row_ids=row_ids,
        carried=tuple(carried),
        carried_requests=tuple(carried_requests),
        left_out=tuple(left_out),
        skipped_interpreters=tuple(skipped),
    )


def compute_schedule(
    prepared: PreparedSchedule,
    *,
    method: Method,
    options: SolverOptions,
    progress: ProgressCallback | None = None,
) -> core.Schedule:
    """Solve (CP-SAT, reporting each better solution to ``progress``) or place greedily."""
    if method == "greedy":
        return schedule_greedily(prepared.problem)
    from pouch.calls.solver import solve

    return solve(prepared.problem, options, progress=progress)


def solver_options(*, time_limit_s: float, seed: int) -> SolverOptions:
    """The options of a run: deterministic, so the same seed gives the same schedule."""
    from pouch.calls.solver import SolverOptions

    try:
        return SolverOptions(
            time_limit_s=time_limit_s, random_seed=seed, num_workers=2, deterministic=True
        )
    except core.ProblemError as error:
        raise _from_problem(error, {"random_seed": "seed"}) from None


def _request_json(request: core.CallRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "leader_name": request.leader_name,
        "leader_country": request.leader_country,
        "leader_time_zone": request.leader_time_zone,
        "leader_languages": list(request.leader_languages),
        "earliest_date": request.earliest_date.isoformat(),
        "latest_date": request.latest_date.isoformat(),
        "talk_minutes": request.talk_minutes,
        "precedence_tier": request.precedence_tier,
        "precedence_position": request.precedence_position,
        "arrived_at": request.arrived_at.isoformat(),
        "urgency": request.urgency,
        "principal_languages": list(request.principal_languages),
        "interpretation": request.interpretation.value,
        "leader_hours": [
            request.leader_hours.start.isoformat(),
            request.leader_hours.end.isoformat(),
        ],
        "confirmed_start": request.confirmed_start.isoformat() if request.confirmed_start else None,
        "leader_email": request.leader_email,
    }


def _request_from_json(data: Mapping[str, Any]) -> core.CallRequest:
    confirmed = data["confirmed_start"]
    return core.CallRequest(
        id=data["id"],
        leader_name=data["leader_name"],
        leader_country=data["leader_country"],
        leader_time_zone=data["leader_time_zone"],
        leader_languages=tuple(data["leader_languages"]),
        earliest_date=date.fromisoformat(data["earliest_date"]),
        latest_date=date.fromisoformat(data["latest_date"]),
        talk_minutes=data["talk_minutes"],
        precedence_tier=data["precedence_tier"],
        precedence_position=data["precedence_position"],
        arrived_at=datetime.fromisoformat(data["arrived_at"]),
        urgency=data["urgency"],
        principal_languages=tuple(data["principal_languages"]),
        interpretation=core.Interpretation(data["interpretation"]),
        leader_hours=core.LocalHours(*(time.fromisoformat(t) for t in data["leader_hours"])),
        confirmed_start=datetime.fromisoformat(confirmed) if confirmed else None,
        leader_email=data["leader_email"],
    )


def _snapshot(prepared: PreparedSchedule) -> dict[str, Any]:
    """What the run's outputs need: principal, requests, interpreters' names."""
    principal = prepared.problem.principal
    return {
        "principal": {
            "time_zone": principal.time_zone,
            "window": [
                principal.daily_window.start.isoformat(),
                principal.daily_window.end.isoformat(),
            ],
            "name": principal.name,
            "email": principal.email,
        },
        "requests": [
            _request_json(r) for r in (*prepared.problem.requests, *prepared.carried_requests)
        ],
        "interpreters": [
            {
                "id": i.id,
                "name": i.name,
                "email": i.email,
                "language_pairs": [list(pair) for pair in i.language_pairs],
            }
            for i in prepared.problem.interpreters
        ],
    }


def snapshot_problem(run: ScheduleRun) -> core.Problem:
    """The problem a run solved, as far as its outputs need it."""
    data = run.details["problem"]
    principal = data["principal"]
    return core.Problem(
        principal=core.Principal(
            time_zone=principal["time_zone"],
            daily_window=core.LocalHours(*(time.fromisoformat(t) for t in principal["window"])),
            name=principal["name"],
            email=principal["email"],
        ),
        requests=tuple(_request_from_json(r) for r in data["requests"]),
        interpreters=tuple(
            core.Interpreter(
                id=i["id"],
                name=i["name"],
                email=i["email"],
                language_pairs=tuple((a, b) for a, b in i["language_pairs"]),
                availability=(),
            )
            for i in data["interpreters"]
        ),
    )


def store_schedule(
    session: Session,
    *,
    prepared: PreparedSchedule,
    schedule: core.Schedule,
    by_user_id: int | None,
    options: Mapping[str, Any],
    now: datetime,
) -> ScheduleRun:
    """Write a run with its calls and left-out requests, logged as ``calls.scheduled``.

    A confirmed call still at its slot stays confirmed; one the solver had to
    move is scheduled again, to be confirmed anew. A request cancelled while
    the run was being solved stays cancelled.
    """
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
            "options": dict(options),
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
            "problem": _snapshot(prepared),
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
    """Prepare, solve and store a run in one session."""
    options = solver_options(time_limit_s=time_limit_s, seed=seed)
    prepared = prepare_schedule(session, office_id=office_id, now=now)
    schedule = compute_schedule(prepared, method=method, options=options, progress=progress)
    return store_schedule(
        session,
        prepared=prepared,
        schedule=schedule,
        by_user_id=by_user_id,
        options={"method": method, "time_limit_s": time_limit_s, "seed": seed},
        now=now,
    )


# --- outputs -----------------------------------------------------------------------


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


def schedule_view(session: Session, *, run: ScheduleRun) -> ScheduleView:
    """The run's call sheet (cancelled calls left off) and its left-out requests."""
    problem = snapshot_problem(run)
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
        snapshot = problem.requests_by_id[row.request_id]
        views.append(
            CallView(
                row=row,
                request=request,
                leader=leader,
                leader_time_zone=snapshot.leader_time_zone,
                leader_country=snapshot.leader_country,
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
        office = principal_office(session, run.principal_office_id)
    else:
        office = principal_office(session, office_id, field="office_id")
        found = _latest_run(session, office.id)
        if found is None:
            raise NotFound(f"no schedule has been made for {office.name} yet")
        run = found
    if not viewer.sees_schedule(office.id):
        raise PermissionDenied("only the call desk and the principal's office see its schedule")
    return schedule_view(session, run=run)


def list_runs(session: Session, *, office_id: int | None, viewer: Viewer) -> list[ScheduleRun]:
    """The runs of a principal's office, newest first."""
    office = principal_office(session, office_id, field="office_id")
    if not viewer.sees_schedule(office.id):
        raise PermissionDenied("only the call desk and the principal's office see its schedule")
    return list(
        session.scalars(
            select(ScheduleRun)
            .where(ScheduleRun.principal_office_id == office.id)
            .order_by(ScheduleRun.id.desc())
        )
    )


def _ics(view: ScheduleView, calls: Sequence[CallView], *, domain: str) -> bytes:
    # As sheet.schedule_calendar, plus STATUS (tentative until confirmed) and the
    # run as SEQUENCE, so that a subscribed calendar takes a re-plan as an update.
    calendar = icalendar.Calendar()
    calendar.add("prodid", sheet.PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    for call in calls:
        assignment = core.Assignment(
            call.request.public_id, call.row.start_utc, call.row.end_utc, call.interpreter_ids
        )
        event = sheet.call_event(view.problem, assignment, stamp=view.run.created_at, domain=domain)
        event.add("status", "CONFIRMED" if call.confirmed else "TENTATIVE")
        event.add("sequence", view.run.id)
        calendar.add_component(event)
    grid = view.problem.grid
    calendar.add_missing_timezones(
        first_date=(grid.start - timedelta(days=1)).date(),
        last_date=(grid.end + timedelta(days=1)).date(),
    )
    ical: bytes = calendar.to_ical()
    return ical


def schedule_ical(view: ScheduleView, *, domain: str) -> bytes:
    """The whole schedule as one iCalendar file (RFC 5545), in the principal's zone."""
    return _ics(view, view.calls, domain=domain)


def call_ical(session: Session, *, public_id: str, viewer: Viewer, domain: str) -> bytes:
    """One call of the latest schedule as an iCalendar file; a sender office gets it
    once the call is confirmed."""
    found = get_request(session, public_id=public_id, viewer=viewer)
    if found.call is None:
        raise NotFound(f"call request {public_id} has no call in the latest schedule")
    run = session.get(ScheduleRun, found.call.run_id)
    assert run is not None  # the view came from it
    view = schedule_view(session, run=run)
    call = view.call(public_id)
    if call is None:
        raise NotFound(f"call request {public_id} has no call in the latest schedule")
    return _ics(view, [call], domain=domain)
