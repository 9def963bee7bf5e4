"""The call sheet, and iCalendar files that parse back with TZID and attendees."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import icalendar

from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    CallRequest,
    Interpretation,
    Interpreter,
    Principal,
    Problem,
    Schedule,
    TimeWindow,
)
from pouch.calls.sheet import (
    CALL_SHEET_COLUMNS,
    call_calendar,
    call_sheet,
    schedule_calendar,
)

DAY = date(2025, 3, 4)
STAMP = datetime(2025, 3, 1, 12, tzinfo=UTC)


def scheduled() -> tuple[Problem, Schedule]:
    problem = Problem(
        principal=Principal(
            time_zone="America/New_York", name="The President-elect", email="office@example.org"
        ),
        requests=(
            CallRequest(
                id="ke",
                leader_name="President of Kenya",
                leader_country="KE",
                leader_time_zone="Africa/Nairobi",
                leader_languages=("sw", "en"),
                earliest_date=DAY,
                latest_date=DAY,
                talk_minutes=20,
                precedence_tier=1,
                precedence_position=2,
                arrived_at=STAMP,
            ),
            CallRequest(
                id="et",
                leader_name="Prime Minister of Ethiopia",
                leader_country="ET",
                leader_time_zone="Africa/Addis_Ababa",
                leader_languages=("am",),
                principal_languages=("en",),
                interpretation=Interpretation.CONSECUTIVE,
                earliest_date=DAY,
                latest_date=DAY,
                talk_minutes=30,
                precedence_tier=1,
                precedence_position=1,
                arrived_at=STAMP,
                leader_email="pm@example.et",
            ),
        ),
        interpreters=(
            Interpreter(
                id="abebe",
                name="Abebe Bekele",
                language_pairs=(("am", "en"),),
                availability=(
                    TimeWindow(
                        datetime(2025, 3, 4, 13, tzinfo=UTC), datetime(2025, 3, 4, 20, tzinfo=UTC)
                    ),
                ),
            ),
        ),
    )
    return problem, schedule_greedily(problem)


def test_call_sheet_rows_in_order_with_both_local_times() -> None:
    problem, schedule = scheduled()
    rows = call_sheet(problem, schedule)
    assert [row.request_id for row in rows] == ["ke", "et"]
    kenya, ethiopia = rows
    # Nairobi 08:00 is 05:00 UTC, before the principal's 07:00 in New York (12:00 UTC).
    assert kenya.start_utc == datetime(2025, 3, 4, 12, tzinfo=UTC)
    assert kenya.principal_local.tzinfo == ZoneInfo("America/New_York")
    assert kenya.cells() == (
        "2025-03-04 12:00",
        "Tue 04 Mar 07:00 EST",
        "President of Kenya",
        "Tue 04 Mar 15:00 EAT",
        "—",
        "none",
    )
    assert ethiopia.minutes == 60
    assert ethiopia.interpreters == ("Abebe Bekele",)
    assert ethiopia.cells()[1] == "Tue 04 Mar 08:00 EST"
    assert ethiopia.cells()[3:] == ("Tue 04 Mar 16:00 EAT", "Abebe Bekele", "consecutive")
    assert len(CALL_SHEET_COLUMNS) == len(kenya.cells())


def test_one_call_as_icalendar_parses_back_with_tzid_and_attendees() -> None:
    problem, schedule = scheduled()
    call = schedule.assignment("et")
    assert call is not None
    text = call_calendar(problem, call, stamp=STAMP)
    assert b"DTSTART;TZID=America/New_York:20250304T080000" in text
    parsed = icalendar.Calendar.from_ical(text)
    assert [tz.tz_name for tz in parsed.timezones] == ["America/New_York"]
    (event,) = parsed.events
    assert event.start == call.start
    assert event.end == call.end
    assert str(event["uid"]) == "call-et@pouch.invalid"
    assert event["dtstamp"].dt == STAMP
    attendees = {str(a): a.params for a in event["attendee"]}
    assert attendees["mailto:office@example.org"]["ROLE"] == "CHAIR"
    assert attendees["mailto:pm@example.et"]["CN"] == "Prime Minister of Ethiopia"
    assert attendees["urn:pouch:interpreter:abebe"]["CN"] == "Abebe Bekele"
    assert str(event["organizer"]) == "mailto:office@example.org"
    assert "Tue 04 Mar 16:00 EAT" in str(event["description"])
    assert "consecutive by Abebe Bekele" in str(event["description"])


def test_the_whole_schedule_as_one_calendar() -> None:
    problem, schedule = scheduled()
    text = schedule_calendar(problem, schedule, stamp=STAMP)
    assert text == schedule_calendar(problem, schedule, stamp=STAMP)  # same input, same bytes
    parsed = icalendar.Calendar.from_ical(text)
    assert str(parsed["prodid"]) == "-//Pouch//Call desk//EN"
    assert sorted(str(e["uid"]) for e in parsed.events) == [
        "call-et@pouch.invalid",
        "call-ke@pouch.invalid",
    ]
    kenya = next(e for e in parsed.events if str(e["uid"]).startswith("call-ke"))
    assert str(kenya["dtstart"].params["TZID"]) == "America/New_York"
    assert {str(a) for a in kenya["attendee"]} == {
        "mailto:office@example.org",
        "urn:pouch:leader:ke",
    }
    assert parsed.get_missing_tzids() == set()
    assert time(7) == kenya.start.astimezone(ZoneInfo("America/New_York")).time()
