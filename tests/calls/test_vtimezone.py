"""The VTIMEZONE blocks of the call desk's iCalendar files, read back by a reader we
did not write (dateutil's ``tzical``, which computes offsets from the VTIMEZONE
itself rather than looking the TZID up): on every day a zone changes its offset,
every quarter of an hour of that day reads the same local time as the IANA
database says."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from dateutil import tz

from pouch.calls import vtimezone

# Northern and southern changes, half-hour and 45-minute offsets, a half-hour change
# (Lord Howe), a "negative" daylight time (Dublin), and zones with no change at all.
ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Santiago",
    "Asia/Jerusalem",
    "Asia/Kathmandu",
    "Asia/Tokyo",
]
FIRST, LAST = date(2026, 1, 1), date(2026, 12, 31)


def _read_back(name: str) -> tz.tzical:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//test//")
    calendar.add("version", "2.0")
    calendar.add_component(vtimezone.vtimezone(name, FIRST, LAST))
    return tz.tzical(io.StringIO(calendar.to_ical().decode()))


@pytest.mark.parametrize("name", ZONES)
def test_every_quarter_hour_of_a_change_day_reads_as_the_iana_database_says(name: str) -> None:
    zone = ZoneInfo(name)
    read = _read_back(name).get(name)
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    changes = vtimezone.changes(zone, start, datetime(2026, 12, 30, tzinfo=UTC))
    if name in {"Asia/Kathmandu", "Asia/Tokyo"}:
        assert changes == []
    else:
        assert len(changes) == 2, changes
    # The change days, and a day without one for every zone.
    days = [c.at - timedelta(hours=12) for c in changes] + [start]
    for day in days:
        for quarter in range(24 * 4):
            instant = day + timedelta(minutes=15 * quarter)
            expected = instant.astimezone(zone)
            got = instant.astimezone(read)
            assert (got.replace(tzinfo=None), got.utcoffset()) == (
                expected.replace(tzinfo=None),
                expected.utcoffset(),
            ), (name, instant)


def test_new_yorks_spring_onset_is_written_at_two_in_the_old_offset() -> None:
    """RFC 5545 §3.6.5: DTSTART of an observance is in TZOFFSETFROM's offset."""
    block = vtimezone.vtimezone("America/New_York", FIRST, LAST)
    onsets = {
        (c.name, c["TZNAME"]): (c.decoded("DTSTART"), c["TZOFFSETFROM"].td, c["TZOFFSETTO"].td)
        for c in block.subcomponents
        if c.decoded("DTSTART").date() != FIRST
    }
    hour = timedelta(hours=1)
    assert onsets == {
        ("DAYLIGHT", "EDT"): (datetime(2026, 3, 8, 2, 0), -5 * hour, -4 * hour),
        ("STANDARD", "EST"): (datetime(2026, 11, 1, 2, 0), -4 * hour, -5 * hour),
    }


def test_a_change_is_found_to_the_second() -> None:
    """Lord Howe moves by half an hour, at 02:00 local in the old offset."""
    found = vtimezone.changes(
        ZoneInfo("Australia/Lord_Howe"),
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert [(c.at, c.after - c.before) for c in found] == [
        (datetime(2026, 10, 3, 15, 30, tzinfo=UTC), timedelta(minutes=30))
    ]
