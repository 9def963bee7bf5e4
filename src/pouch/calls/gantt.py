"""The calls page's chart of a schedule: days down, hours across, in the principal's zone.

Pure layout: it takes a schedule's calls and the busy blocks and returns the
coordinates and labels of an SVG (``web/templates/calls.html`` draws it). Each
call's tooltip gives the leader's own local time; a bar's label is left off
when the name does not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from pouch.calls.runs import ScheduleView

LABEL_WIDTH = 110
HOUR_WIDTH = 56
#: Room on the right for the last hour's label.
RIGHT_MARGIN = 16
#: About how wide a character of a bar's label is; a label that does not fit is left off.
CHAR_WIDTH = 6.5
ROW_HEIGHT = 30
AXIS_HEIGHT = 22


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    label: str
    title: str
    confirmed: bool


@dataclass(frozen=True)
class Gantt:
    """Days down, hours across, in the principal's zone."""

    width: float
    height: float
    rows: tuple[tuple[float, str], ...]
    hours: tuple[tuple[float, str], ...]
    calls: tuple[Bar, ...]
    busy: tuple[Bar, ...]


def chart(view: ScheduleView, busy: list[tuple[datetime, datetime, str]]) -> Gantt | None:
    """The chart of a schedule: one row per day from the first call to the last.

    Each call's ``title`` (its tooltip) gives the leader's own local time.
    """
    if not view.calls:
        return None
    zone = ZoneInfo(view.principal_time_zone)
    window = view.problem.principal.daily_window
    first_hour = window.start.hour
    last_hour = window.end.hour + (1 if window.end.minute else 0)
    days = sorted({c.row.principal_local.date() for c in view.calls})
    all_days = [days[0] + timedelta(days=i) for i in range((days[-1] - days[0]).days + 1)]
    row_of = {day: AXIS_HEIGHT + i * ROW_HEIGHT for i, day in enumerate(all_days)}

    def x(local: datetime) -> float:
        hours = local.hour + local.minute / 60 - first_hour
        return round(LABEL_WIDTH + max(hours, 0) * HOUR_WIDTH, 1)

    calls = []
    for call in view.calls:
        start = call.row.principal_local
        end = call.row.end_utc.astimezone(zone)
        interpreters = ", ".join(call.row.interpreters) or "no interpreter"
        title = (
            f"{call.row.leader_name}: {start:%H:%M}–{end:%H:%M} here, "
            f"{call.row.leader_local:%a %H:%M} {call.leader_time_zone} for the leader; "
            f"{call.row.mode.value}, {interpreters}"
            + ("; confirmed" if call.confirmed else "; to confirm")
        )
        width = max(x(end) - x(start), 2)
        name = call.row.leader_name.split()[-1]
        calls.append(
            Bar(
                x=x(start),
                y=row_of[start.date()] + 3,
                width=width,
                label=name if len(name) * CHAR_WIDTH + 6 <= width else "",
                title=title,
                confirmed=call.confirmed,
            )
        )
    blocks = []
    for start_utc, end_utc, note in busy:
        for day in all_days:
            opens = datetime.combine(day, time(first_hour), zone)
            closes = datetime.combine(day, time(0), zone) + timedelta(hours=last_hour)
            start, end = (
                max(start_utc.astimezone(zone), opens),
                min(end_utc.astimezone(zone), closes),
            )
            if start < end:
                blocks.append(
                    Bar(
                        x=x(start),
                        y=row_of[day],
                        width=x(end) - x(start),
                        label="",
                        title=f"Busy {start:%H:%M}–{end:%H:%M}: {note or 'no reason given'}",
                        confirmed=False,
                    )
                )
    return Gantt(
        width=LABEL_WIDTH + (last_hour - first_hour) * HOUR_WIDTH + RIGHT_MARGIN,
        height=AXIS_HEIGHT + len(all_days) * ROW_HEIGHT,
        rows=tuple((row_of[day], f"{day:%a %d %b}") for day in all_days),
        hours=tuple(
            (LABEL_WIDTH + (h - first_hour) * HOUR_WIDTH, f"{h:02d}")
            for h in range(first_hour, last_hour + 1)
        ),
        calls=tuple(calls),
        busy=tuple(blocks),
    )
