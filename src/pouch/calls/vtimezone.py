"""VTIMEZONE blocks (RFC 5545 §3.6.5) made from the IANA database, for the call
desk's iCalendar files.

Why not icalendar's ``add_missing_timezones``: it writes a daylight-time onset at
the wall time *after* the change (03:00 for New York's spring change), where the
RFC counts an onset's DTSTART in the offset in force *before* it (TZOFFSETFROM),
that is 02:00. A client that reads the VTIMEZONE itself (rather than looking the
TZID up) then puts the hour after the change an hour wrong. Here each change of
offset in the window is found from ``zoneinfo`` to the second and written as one
observance whose DTSTART is the instant of the change in the old offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

#: Steps of the scan for changes of offset: every change in the IANA database since
#: 1970 is more than an hour from the next one.
STEP = timedelta(hours=1)
#: How far before the window to look for the change that began the observance in
#: force at its start (zones with daylight time change twice a year).
LOOK_BACK = timedelta(days=400)


@dataclass(frozen=True)
class Change:
    """The zone's offset changes at ``at`` (UTC) from ``before`` to ``after``."""

    at: datetime
    before: timedelta
    after: timedelta
    name: str


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset


def changes(zone: ZoneInfo, start: datetime, end: datetime) -> list[Change]:
    """Every change of ``zone``'s offset in [``start``, ``end``), to the second.

    >>> [(c.at.isoformat(), c.name) for c in changes(ZoneInfo("America/New_York"),
    ...     datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))]
    [('2026-03-08T07:00:00+00:00', 'EDT'), ('2026-11-01T06:00:00+00:00', 'EST')]
    """
    found: list[Change] = []
    low = start
    low_offset = _offset(zone, low)
    while low < end:
        high = min(low + STEP, end)
        high_offset = _offset(zone, high)
        if high_offset != low_offset:
            # The change lies in (low, high]: halve to the second.
            a, b = low, high
            while b - a > timedelta(seconds=1):
                middle = a + (b - a) / 2
                middle = middle.replace(microsecond=0)
                if middle <= a:
                    break
                if _offset(zone, middle) == low_offset:
                    a = middle
                else:
                    b = middle
            found.append(
                Change(
                    at=b,
                    before=low_offset,
                    after=high_offset,
                    name=b.astimezone(zone).tzname() or "",
                )
            )
        low, low_offset = high, high_offset
    return found


def _observance(
    kind: type[icalendar.TimezoneStandard] | type[icalendar.TimezoneDaylight],
    *,
    onset: datetime,
    before: timedelta,
    after: timedelta,
    name: str,
) -> icalendar.Component:
    observance = kind()
    observance.add("dtstart", onset.replace(tzinfo=None))
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", after)
    if name:
        observance.add("tzname", name)
    return observance


def vtimezone(name: str, first: date, last: date) -> icalendar.Timezone:
    """The VTIMEZONE of zone ``name`` valid for local dates ``first`` to ``last``: the
    observance in force at the start, from the change that began it (a reader that
    works out daylight time from the offsets needs the true "from"), then each
    change, its DTSTART in the offset before it."""
    zone = ZoneInfo(name)
    start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=zone).astimezone(UTC) + timedelta(days=1)
    found = changes(zone, start - LOOK_BACK, end)
    earlier = [change for change in found if change.at < start]
    block = icalendar.Timezone()
    block.add("tzid", name)
    if not earlier:
        # No change for a long time: one observance from the start of the window.
        offset = _offset(zone, start)
        earlier = [Change(start, offset, offset, start.astimezone(zone).tzname() or "")]
    observed = [earlier[-1], *(change for change in found if change.at >= start)]
    # Daylight is the zone's larger offset. Not ``dst()``: the IANA database gives
    # Dublin's winter a negative one, and a reader that tells the hour repeated in
    # autumn by the observance's kind (dateutil's) needs summer to be DAYLIGHT.
    lowest = min(min(change.before, change.after) for change in observed)
    for change in observed:
        block.add_component(
            _observance(
                icalendar.TimezoneDaylight if change.after > lowest else icalendar.TimezoneStandard,
                onset=change.at + change.before,
                before=change.before,
                after=change.after,
                name=change.name,
            )
        )
    return block
