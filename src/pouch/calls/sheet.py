"""What the desk hands out: the call sheet, and iCalendar files (RFC 5545).

The call sheet lists the scheduled calls in order, each at its UTC time, the
principal's local time and the leader's, with interpreters and mode. The
iCalendar output is the principal's calendar: times carry the principal's
``TZID`` (with its ``VTIMEZONE``), the principal organizes, and the leader and
interpreters attend. Attendees without an e-mail address get a ``urn:pouch:``
address so that they still appear. ``stamp`` (``DTSTAMP``) is passed in, so
the output is the same for the same schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from pouch.calls.problem import Assignment, Interpretation, Problem, Schedule
from pouch.calls.vtimezone import vtimezone

CALL_SHEET_COLUMNS = ("UTC", "Principal's time", "Leader", "Leader's time", "Interpreters", "Mode")
PRODID = "-//Pouch//Call desk//EN"


@dataclass(frozen=True)
class CallSheetRow:
    """One scheduled call as the call sheet shows it."""

    request_id: str
    leader_name: str
    start_utc: datetime
    end_utc: datetime
    principal_local: datetime
    leader_local: datetime
    interpreters: tuple[str, ...]
    mode: Interpretation

    @property
    def minutes(self) -> int:
        return (self.end_utc - self.start_utc) // timedelta(minutes=1)

    def cells(self) -> tuple[str, ...]:
        """The row as text, in the order of :data:`CALL_SHEET_COLUMNS`."""
        return (
            f"{self.start_utc:%Y-%m-%d %H:%M}",
            _local(self.principal_local),
            self.leader_name,
            _local(self.leader_local),
            ", ".join(self.interpreters) or "—",
            self.mode.value,
        )


def _local(moment: datetime) -> str:
    return f"{moment:%a %d %b %H:%M} {moment.tzname()}"


def call_sheet(problem: Problem, schedule: Schedule) -> tuple[CallSheetRow, ...]:
    """The scheduled calls in order of time.

    >>> from pouch.calls.greedy import schedule_greedily
    >>> from pouch.calls.scenarios import generate_scenario
    >>> problem = generate_scenario(seed=3, requests=4, interpreters=2, days=3)
    >>> rows = call_sheet(problem, schedule_greedily(problem))
    >>> all(a.start_utc <= b.start_utc for a, b in zip(rows, rows[1:]))
    True
    """
    principal_zone = ZoneInfo(problem.principal.time_zone)
    rows = []
    for assignment in schedule.assignments:
        request = problem.requests_by_id[assignment.request_id]
        rows.append(
            CallSheetRow(
                request_id=request.id,
                leader_name=request.leader_name,
                start_utc=assignment.start.astimezone(UTC),
                end_utc=assignment.end.astimezone(UTC),
                principal_local=assignment.start.astimezone(principal_zone),
                leader_local=assignment.start.astimezone(ZoneInfo(request.leader_time_zone)),
                interpreters=tuple(
                    problem.interpreters_by_id[i].name for i in assignment.interpreter_ids
                ),
                mode=request.interpretation,
            )
        )
    return tuple(sorted(rows, key=lambda row: (row.start_utc, row.request_id)))


def _address(email: str | None, fallback: str, name: str, role: str) -> icalendar.vCalAddress:
    address = icalendar.vCalAddress(f"mailto:{email}" if email else fallback)
    address.params["CN"] = name
    address.params["ROLE"] = role
    address.params["CUTYPE"] = "INDIVIDUAL"
    return address


def call_event(
    problem: Problem, assignment: Assignment, *, stamp: datetime, domain: str = "pouch.invalid"
) -> icalendar.Event:
    """The VEVENT of one call, timed in the principal's zone, with every participant."""
    principal = problem.principal
    request = problem.requests_by_id[assignment.request_id]
    principal_zone = ZoneInfo(principal.time_zone)
    leader_local = assignment.start.astimezone(ZoneInfo(request.leader_time_zone))
    interpreters = [problem.interpreters_by_id[i] for i in assignment.interpreter_ids]
    lines = [
        f"{request.leader_name} ({request.leader_country}), "
        f"{_local(leader_local)} ({request.leader_time_zone})",
        f"Interpretation: {request.interpretation.value}"
        + (f" by {', '.join(i.name for i in interpreters)}" if interpreters else ""),
    ]
    event = icalendar.Event()
    event.add("uid", f"call-{request.id}@{domain}")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", assignment.start.astimezone(principal_zone))
    event.add("dtend", assignment.end.astimezone(principal_zone))
    event.add("summary", f"Call: {principal.name} – {request.leader_name}")
    event.add("description", "\n".join(lines))
    event.add(
        "organizer",
        _address(principal.email, "urn:pouch:principal", principal.name, "CHAIR"),
    )
    event.add(
        "attendee",
        _address(principal.email, "urn:pouch:principal", principal.name, "CHAIR"),
    )
    event.add(
        "attendee",
        _address(
            request.leader_email,
            f"urn:pouch:leader:{request.id}",
            request.leader_name,
            "REQ-PARTICIPANT",
        ),
    )
    for interpreter in interpreters:
        event.add(
            "attendee",
            _address(
                interpreter.email,
                f"urn:pouch:interpreter:{interpreter.id}",
                interpreter.name,
                "REQ-PARTICIPANT",
            ),
        )
    return event


def calendar_file(problem: Problem, events: Sequence[icalendar.Event]) -> bytes:
    """An iCalendar file of ``events`` (timed in the principal's zone) with that zone's
    VTIMEZONE for the days of the problem's grid (``vtimezone``)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    grid = problem.grid
    first = (grid.start - timedelta(days=1)).date()
    last = (grid.end + timedelta(days=1)).date()
    calendar.add_component(vtimezone(problem.principal.time_zone, first, last))
    for event in events:
        calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


def call_calendar(
    problem: Problem, assignment: Assignment, *, stamp: datetime, domain: str = "pouch.invalid"
) -> bytes:
    """An iCalendar file with one call."""
    return calendar_file(problem, [call_event(problem, assignment, stamp=stamp, domain=domain)])


def schedule_calendar(
    problem: Problem, schedule: Schedule, *, stamp: datetime, domain: str = "pouch.invalid"
) -> bytes:
    """An iCalendar file with every scheduled call."""
    return calendar_file(
        problem,
        [call_event(problem, a, stamp=stamp, domain=domain) for a in schedule.assignments],
    )
