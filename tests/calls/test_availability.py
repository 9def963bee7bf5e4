"""Slot sets, local hours in UTC across offset changes, days off, and what bookings leave free."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from pouch.calls.availability import (
    DayPartition,
    Occupancy,
    SlotSet,
    compute_availability,
    day_off,
    local_windows,
    merge_windows,
    offset_pieces,
    principal_busy_slots,
    weekend_days,
)
from pouch.calls.problem import (
    CallRequest,
    Grid,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    TimeWindow,
)

spans = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=6)


def members(slots: SlotSet) -> set[int]:
    return {slot for start, end in slots for slot in range(start, end)}


def as_set(raw: list[tuple[int, int]]) -> set[int]:
    return {slot for start, end in raw for slot in range(start, end)}


@given(spans, spans)
def test_slot_sets_behave_like_sets_of_slots(
    a: list[tuple[int, int]], b: list[tuple[int, int]]
) -> None:
    left, right = SlotSet(a), SlotSet(b)
    assert members(left) == as_set(a)
    assert members(left | right) == as_set(a) | as_set(b)
    assert members(left & right) == as_set(a) & as_set(b)
    assert members(left - right) == as_set(a) - as_set(b)
    assert len(left) == len(as_set(a))
    assert all((slot in left) == (slot in as_set(a)) for slot in range(-1, 62))
    spans_ = left.spans
    assert all(s1[1] < s2[0] for s1, s2 in pairwise(spans_))


@given(spans, st.integers(1, 8))
def test_starts_fitting_are_exactly_the_starts_of_runs_inside(
    a: list[tuple[int, int]], length: int
) -> None:
    inside = as_set(a)
    expected = {s for s in range(0, 61) if all(t in inside for t in range(s, s + length))}
    assert members(SlotSet(a).starts_fitting(length)) == expected


@given(st.lists(spans, max_size=4), st.integers(1, 3))
def test_covered_counts_how_many_sets_hold_a_slot(
    sets: list[list[tuple[int, int]]], times: int
) -> None:
    expected = {s for s in range(61) if sum(s in as_set(raw) for raw in sets) >= times}
    assert members(SlotSet.covered([SlotSet(raw) for raw in sets], times)) == expected


def test_slot_set_helpers() -> None:
    slots = SlotSet([(3, 5), (10, 20)])
    assert (slots.first(), slots.last(), slots.longest()) == (3, 19, 10)
    assert SlotSet().first() is None and SlotSet().last() is None and not SlotSet()
    assert "x" not in slots
    assert slots == SlotSet([(10, 15), (3, 5), (15, 20)])
    assert hash(slots) == hash(SlotSet([(10, 20), (3, 5)]))
    assert repr(slots) == "SlotSet([(3, 5), (10, 20)])"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_busy_blocks_are_merged_and_round_outwards() -> None:
    blocks = [
        TimeWindow(utc(2025, 3, 3, 14), utc(2025, 3, 3, 15)),
        TimeWindow(utc(2025, 3, 3, 9), utc(2025, 3, 3, 11)),
        TimeWindow(utc(2025, 3, 3, 10, 30), utc(2025, 3, 3, 12)),
        TimeWindow(utc(2025, 3, 3, 12), utc(2025, 3, 3, 12, 7)),
    ]
    merged = merge_windows(blocks)
    assert [(w.start.hour, w.end.hour, w.end.minute) for w in merged] == [(9, 12, 7), (14, 15, 0)]
    request = CallRequest(
        id="r",
        leader_name="L",
        leader_country="GB",
        leader_time_zone="Europe/London",
        leader_languages=("en",),
        earliest_date=date(2025, 3, 3),
        latest_date=date(2025, 3, 3),
        talk_minutes=30,
        precedence_tier=1,
        precedence_position=1,
        arrived_at=utc(2025, 3, 1),
    )
    problem = Problem(principal=Principal(time_zone="UTC", busy=tuple(blocks)), requests=(request,))
    # 09:00–12:07 touches slots up to 12:10; 14:00–15:00 exactly.
    assert principal_busy_slots(problem) == SlotSet([(108, 146), (168, 180)])


def test_offset_pieces_find_the_change_to_the_minute() -> None:
    pieces = offset_pieces("America/New_York", utc(2025, 3, 8), utc(2025, 3, 10))
    assert [(a, str(o)) for a, _, o in pieces] == [
        (utc(2025, 3, 8), "-1 day, 19:00:00"),
        (utc(2025, 3, 9, 7), "-1 day, 20:00:00"),
    ]
    # Lord Howe moves by half an hour; a change exactly at the end is not inside.
    before = offset_pieces("Australia/Lord_Howe", utc(2025, 4, 5), utc(2025, 4, 5, 15))
    assert [(a, str(o)) for a, _, o in before] == [(utc(2025, 4, 5), "11:00:00")]
    across = offset_pieces("Australia/Lord_Howe", utc(2025, 4, 5), utc(2025, 4, 5, 15, 1))
    assert [(a, str(o)) for a, _, o in across] == [
        (utc(2025, 4, 5), "11:00:00"),
        (utc(2025, 4, 5, 15), "10:30:00"),
    ]


def test_local_hours_across_spring_forward_and_fall_back() -> None:
    night = LocalHours(time(0), time(4))
    spring = local_windows("America/New_York", night, utc(2025, 3, 9, 4), utc(2025, 3, 9, 12))
    assert [(w.day, w.start, w.end) for w in spring] == [
        (date(2025, 3, 9), utc(2025, 3, 9, 5), utc(2025, 3, 9, 8))  # three real hours
    ]
    autumn = local_windows("America/New_York", night, utc(2025, 11, 2, 3), utc(2025, 11, 2, 12))
    assert [(w.day, w.start, w.end) for w in autumn] == [
        (date(2025, 11, 2), utc(2025, 11, 2, 4), utc(2025, 11, 2, 9))  # five real hours
    ]


def test_local_hours_at_half_and_three_quarter_hour_offsets() -> None:
    hours = LocalHours(time(8), time(20))
    start, end = utc(2025, 3, 3), utc(2025, 3, 4)
    kolkata = local_windows("Asia/Kolkata", hours, start, end)
    kathmandu = local_windows("Asia/Kathmandu", hours, start, end)
    assert [(w.start, w.end) for w in kolkata] == [
        (utc(2025, 3, 3, 2, 30), utc(2025, 3, 3, 14, 30))
    ]
    assert [(w.start, w.end) for w in kathmandu] == [
        (utc(2025, 3, 3, 2, 15), utc(2025, 3, 3, 14, 15))
    ]


def test_days_off_follow_each_country() -> None:
    assert weekend_days("SA", 2025) == {4, 5}
    assert weekend_days("IR", 2025) == {4}
    assert weekend_days("US", 2025) == {5, 6}
    assert day_off("SA", date(2025, 3, 7)) == "weekend (Friday)"
    assert day_off("SA", date(2025, 3, 9)) is None  # Sunday is a working day in Riyadh
    assert day_off("IR", date(2025, 3, 8)) is None  # Saturday is a working day in Tehran
    assert day_off("IL", date(2025, 3, 8)) == "weekend (Saturday)"
    assert day_off("US", date(2025, 7, 4)) == "Independence Day"
    assert day_off("FR", date(2025, 3, 4)) is None


def test_day_partition_has_short_and_long_days() -> None:
    grid = Grid(utc(2025, 3, 8, 5), (24 + 23 + 24) * 12)
    days = DayPartition.of(grid, "America/New_York")
    assert days.dates == (date(2025, 3, 8), date(2025, 3, 9), date(2025, 3, 10))
    assert [days.span(k)[1] - days.span(k)[0] for k in range(3)] == [288, 276, 288]
    assert days.day_of(287) == 0 and days.day_of(288) == 1 and days.day_of(600) == 2
    assert days.split(SlotSet([(280, 300)])) == [
        (0, SlotSet([(280, 288)])),
        (1, SlotSet([(288, 300)])),
    ]
    assert days.split(SlotSet()) == []
    assert DayPartition.of(Grid(utc(2025, 3, 8), 0), "UTC").bounds == (0,)


MONDAY = date(2025, 6, 2)


def _request(id: str, **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": id,
        "leader_country": "GB",
        "leader_time_zone": "Europe/London",
        "leader_languages": ("en",),
        "earliest_date": MONDAY,
        "latest_date": MONDAY,
        "talk_minutes": 30,
        "precedence_tier": 1,
        "precedence_position": 1,
        "arrived_at": utc(2025, 5, 30),
    }
    fields.update(changes)
    return CallRequest(**fields)


def test_occupancy_applies_buffers_daily_caps_and_interpreter_limits() -> None:
    german = {
        "leader_languages": ("de",),
        "leader_country": "DE",
        "leader_time_zone": "Europe/Berlin",
        "interpretation": Interpretation.CONSECUTIVE,
    }
    problem = Problem(
        principal=Principal(
            time_zone="UTC",
            daily_window=LocalHours(time(9), time(12)),
            buffer_minutes=10,
            max_calls_per_day=3,
        ),
        requests=(
            _request("a"),
            _request("b"),
            _request("c"),
            _request("d"),
            _request("g1", **german),
            _request("g2", **german),
        ),
        interpreters=(
            Interpreter(
                id="i",
                name="I",
                language_pairs=(("de", "en"),),
                availability=(TimeWindow(utc(2025, 6, 2, 9), utc(2025, 6, 2, 12)),),
                max_minutes_per_day=60,
            ),
        ),
    )
    availability = compute_availability(problem)
    nine = availability.problem.grid.slot_at(utc(2025, 6, 2, 9))
    occupancy = Occupancy(availability)
    assert occupancy.free_starts("a")[0] == SlotSet([(nine, nine + 31)])
    occupancy.book("a", nine + 10, ())  # 09:50–10:20
    # b must end by 09:40 or start from 10:30.
    assert occupancy.free_starts("b")[0] == SlotSet([(nine, nine + 3), (nine + 18, nine + 31)])
    occupancy.book("g1", nine + 20, ("i",))  # 10:40–11:40, with the interpreter
    starts, per_interpreter = occupancy.free_starts("g2")
    assert not starts and per_interpreter == {}  # 60 more minutes would break the cap
    occupancy.book("b", nine, ())
    assert not occupancy.free_starts("c")[0]  # three calls today: the cap
