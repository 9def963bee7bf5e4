"""The principal's calendar: when the principal takes calls, and the busy blocks.

An office without a saved calendar has a default one: the office's zone,
07:00–22:00 every day (no weekends or holidays kept), no cap on calls a day, no
buffer between them, the order of precedence before urgency. ``principal``
turns the calendar into the scheduler's ``Principal``; the time before now is
busy (``past_block``, from local midnight, rounded up to the five-minute grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pouch.calls import invalid
from pouch.calls import parties as party_service
from pouch.calls import problem as core
from pouch.calls.access import DESK, Viewer
from pouch.calls.models import BusyBlock, PrincipalCalendar
from pouch.calls.schemas import BusyBlockIn, CalendarIn
from pouch.directory.models import Office
from pouch.errors import NotFound, PermissionDenied


@dataclass(frozen=True)
class CalendarView:
    office_id: int
    time_zone: str
    window_start: time
    window_end: time
    max_calls_per_day: int | None
    buffer_minutes: int
    days_off_country: str | None
    days_off_subdivision: str | None
    rank_policy: core.RankPolicy
    is_default: bool
    busy: tuple[BusyBlock, ...]


def calendar_of(session: Session, office: Office) -> PrincipalCalendar:
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
        days_off_country=None,
        days_off_subdivision=None,
        rank_policy=core.RankPolicy.PRECEDENCE.value,
    )


def get_calendar(session: Session, *, office_id: int, viewer: Viewer) -> CalendarView:
    """When the principal of the office takes calls, and the busy blocks."""
    office = party_service.principal_office(session, office_id, field="office_id")
    if not viewer.sees_schedule(office.id):
        raise PermissionDenied("only the call desk and the principal's office see this calendar")
    calendar = calendar_of(session, office)
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
        days_off_country=calendar.days_off_country,
        days_off_subdivision=calendar.days_off_subdivision,
        rank_policy=rank_policy_of(calendar),
        is_default=session.get(PrincipalCalendar, office.id) is None,
        busy=tuple(busy),
    )


def set_calendar(session: Session, *, office_id: int, data: CalendarIn) -> CalendarView:
    """Set the principal's zone, daily window, cap on calls per day and buffer."""
    office = party_service.principal_office(session, office_id, field="office_id")
    zone = data.time_zone or office.time_zone
    try:
        core.Principal(
            time_zone=zone,
            daily_window=core.LocalHours(data.window_start, data.window_end),
            max_calls_per_day=data.max_calls_per_day,
            buffer_minutes=data.buffer_minutes,
            days_off_country=data.days_off_country,
            days_off_subdivision=data.days_off_subdivision,
        )
    except core.ProblemError as error:
        raise invalid.from_problem(error, {"start": "window_start", "end": "window_end"}) from None
    calendar = session.get(PrincipalCalendar, office.id) or PrincipalCalendar(office_id=office.id)
    calendar.time_zone = zone
    calendar.window_start = data.window_start
    calendar.window_end = data.window_end
    calendar.max_calls_per_day = data.max_calls_per_day
    calendar.buffer_minutes = data.buffer_minutes
    calendar.days_off_country = data.days_off_country
    calendar.days_off_subdivision = data.days_off_subdivision
    calendar.rank_policy = data.rank_policy.value
    session.add(calendar)
    session.flush()
    return get_calendar(session, office_id=office.id, viewer=DESK)


def add_busy_block(session: Session, *, office_id: int, data: BusyBlockIn) -> BusyBlock:
    """Time the principal takes no calls (blocks may overlap: the scheduler merges them)."""
    office = party_service.principal_office(session, office_id, field="office_id")
    try:
        core.TimeWindow(data.start, data.end)
    except core.ProblemError as error:
        raise invalid.from_problem(error, {}) from None
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
    """Free a busy block of the office again."""
    block = session.get(BusyBlock, block_id)
    if block is None or block.office_id != office_id:
        raise NotFound(f"office {office_id} has no busy block {block_id}")
    session.delete(block)
    session.flush()


def principal(
    session: Session, office: Office, *, busy: Sequence[core.TimeWindow] = ()
) -> core.Principal:
    """The principal as the scheduler sees them: the calendar, with ``busy`` blocked."""
    calendar = calendar_of(session, office)
    person = party_service.principal_person(session, office)
    try:
        return core.Principal(
            time_zone=calendar.time_zone,
            daily_window=core.LocalHours(calendar.window_start, calendar.window_end),
            busy=tuple(busy),
            max_calls_per_day=calendar.max_calls_per_day,
            buffer_minutes=calendar.buffer_minutes,
            days_off_country=calendar.days_off_country,
            days_off_subdivision=calendar.days_off_subdivision,
            name=person.name if person is not None else office.name,
            email=office.email,
        )
    except core.ProblemError as error:
        raise invalid.field(
            "principal_office_id", f"the calendar of {office.name} is unusable: {error}"
        ) from None


def rank_policy_of(calendar: PrincipalCalendar) -> core.RankPolicy:
    """Which comes first on this principal's desk where two calls cannot both fit."""
    return core.RankPolicy(calendar.rank_policy or core.RankPolicy.PRECEDENCE)


def today_and_midnight(now: datetime, zone: ZoneInfo) -> tuple[date, datetime]:
    """Today in ``zone``, and the UTC instant of its local midnight."""
    today = now.astimezone(zone).date()
    return today, core.wall_to_utc(today, time(0), zone)


def _ceil_to_grid(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    floor = utc.replace(second=0, microsecond=0) - timedelta(minutes=utc.minute % core.GRID_MINUTES)
    return floor if floor == utc else floor + core.GRID


def past_block(midnight: datetime, until: datetime) -> list[core.TimeWindow]:
    """The time before ``until`` (rounded up to the grid) as busy, from a day before
    local midnight: a window in a leader's dates may open before the principal's day."""
    end = _ceil_to_grid(until)
    start = midnight - timedelta(days=1)
    return [core.TimeWindow(start, end)] if end > start else []
