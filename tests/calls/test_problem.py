"""The pure model: validation, rank, durations, objective values and the independent checker."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from pouch.calls.problem import (
    Assignment,
    CallRequest,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    ProblemError,
    Reason,
    Schedule,
    TimeWindow,
    Unscheduled,
    check_schedule,
    confirmed_moves,
    precedence_inversions,
    rank_order,
    rank_weights,
    weighted_score,
)

MONDAY = date(2025, 6, 2)  # no French, German or US holiday that week


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def request(id: str = "r1", **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": f"Leader {id}",
        "leader_country": "FR",
        "leader_time_zone": "Europe/Paris",
        "leader_languages": ("fr",),
        "earliest_date": MONDAY,
        "latest_date": MONDAY,
        "talk_minutes": 30,
        "precedence_tier": 1,
        "precedence_position": 1,
        "arrived_at": at(MONDAY - timedelta(days=3), 9),
        "principal_languages": ("fr", "en"),
    }
    fields.update(changes)
    return CallRequest(**fields)


def problem(*requests: CallRequest, **principal: Any) -> Problem:
    return Problem(
        principal=Principal(time_zone=principal.pop("time_zone", "Europe/London"), **principal),
        requests=requests,
    )


def schedule(assignments: list[Assignment], unscheduled: Sequence[Unscheduled] = ()) -> Schedule:
    return Schedule(
        method="test",
        status="FEASIBLE",
        assignments=tuple(assignments),
        unscheduled=tuple(unscheduled),
        weighted_score=0,
        inversions=0,
        moves=0,
        gap=None,
        wall_time_s=0.0,
    )


# Bad input: each error names its field.


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"leader_time_zone": "Mars/Olympus"}, "leader_time_zone", "not a known IANA time zone"),
        ({"leader_time_zone": "America"}, "leader_time_zone", "not a known IANA time zone"),
        ({"leader_country": "ZZ"}, "leader_country", "not a known ISO 3166-1"),
        ({"leader_country": "fr"}, "leader_country", "not a known ISO 3166-1"),
        ({"talk_minutes": 0}, "talk_minutes", "must be positive"),
        ({"talk_minutes": -15}, "talk_minutes", "must be positive"),
        ({"talk_minutes": 30.5}, "talk_minutes", "whole minutes"),
        ({"latest_date": MONDAY - timedelta(days=1)}, "latest_date", "before earliest_date"),
        ({"latest_date": MONDAY + timedelta(days=120)}, "latest_date", "more than 100 days"),
        ({"arrived_at": datetime(2025, 6, 1, 9)}, "arrived_at", "no time zone"),
        ({"leader_languages": "fr"}, "leader_languages", "tuple of language codes"),
        ({"leader_languages": ()}, "leader_languages", "tuple of language codes"),
        (
            {"leader_languages": ("am",), "principal_languages": ("en",)},
            "interpretation",
            "have none in common",
        ),
        (
            {"talk_minutes": 400, "interpretation": Interpretation.CONSECUTIVE},
            "talk_minutes",
            "800 min (consecutive interpretation) but the leader's reasonable hours",
        ),
        (
            {"leader_hours": LocalHours(time(9), time(10)), "talk_minutes": 90},
            "talk_minutes",
            "last only 60 min",
        ),
        ({"confirmed_start": at(MONDAY, 9, 2)}, "confirmed_start", "5-minute grid"),
        ({"leader_name": " "}, "leader_name", "no leader name"),
        ({"id": ""}, "id", "non-empty id"),
        ({"urgency": True}, "urgency", "expected an integer"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ProblemError) as raised:
        request(**changes)
    assert raised.value.field == field
    assert words in str(raised.value)


def test_inverted_and_midnight_crossing_windows_are_refused() -> None:
    with pytest.raises(ProblemError, match="end: 08:00 is not after 20:00"):
        LocalHours(time(20), time(8))
    with pytest.raises(ProblemError, match="is not after"):
        LocalHours(time(9), time(9))
    with pytest.raises(ProblemError) as raised:
        TimeWindow(at(MONDAY, 10), at(MONDAY, 9))
    assert raised.value.field == "end"
    with pytest.raises(ProblemError, match="no time zone"):
        TimeWindow(datetime(2025, 6, 2, 9), at(MONDAY, 10))


def test_bad_principals_and_interpreters_are_refused() -> None:
    with pytest.raises(ProblemError, match="time_zone: 'Europe/Londres'"):
        Principal(time_zone="Europe/Londres")
    with pytest.raises(ProblemError, match="max_calls_per_day"):
        Principal(time_zone="Europe/London", max_calls_per_day=0)
    with pytest.raises(ProblemError, match="buffer_minutes"):
        Principal(time_zone="Europe/London", buffer_minutes=-5)
    with pytest.raises(ProblemError, match="pairs a language with itself"):
        Interpreter(id="i1", name="A", language_pairs=(("fr", "fr"),), availability=())
    with pytest.raises(ProblemError, match="is not a language pair"):
        Interpreter(id="i1", name="A", language_pairs=(("fr",),), availability=())  # type: ignore[arg-type]
    with pytest.raises(ProblemError, match="max_minutes_per_day"):
        Interpreter(id="i1", name="A", language_pairs=(), availability=(), max_minutes_per_day=0)
    with pytest.raises(ProblemError, match="time_zone"):
        Interpreter(id="i1", name="A", language_pairs=(), availability=(), time_zone="Nowhere")


def test_problem_level_contradictions_are_refused() -> None:
    with pytest.raises(ProblemError, match="ids used more than once: r1"):
        problem(request("r1"), request("r1"))
    too_long = request(talk_minutes=120, leader_hours=LocalHours(time(0, 5), time(23, 55)))
    with pytest.raises(ProblemError) as raised:
        problem(too_long, daily_window=LocalHours(time(9), time(10)))
    assert raised.value.field == "requests[r1].talk_minutes"
    assert "principal's daily window 09:00–10:00 lasts only 60 min" in str(raised.value)
    with pytest.raises(ProblemError, match="more than 100 days"):
        problem(
            request("a"),
            request(
                "b",
                earliest_date=MONDAY + timedelta(days=100),
                latest_date=MONDAY + timedelta(days=101),
            ),
        )
    with pytest.raises(ProblemError, match="tuple of CallRequest"):
        Problem(principal=Principal(time_zone="UTC"), requests=[request()])  # type: ignore[arg-type]


# Rank, durations, interpreters.


def test_rank_is_precedence_then_urgency_then_arrival() -> None:
    early = at(MONDAY - timedelta(days=5), 9)
    late = at(MONDAY - timedelta(days=1), 9)
    requests = [
        request("tier2", precedence_tier=2, precedence_position=0),
        request("late", arrived_at=late),
        request("urgent", arrived_at=late, urgency=2),
        request("early", arrived_at=early),
        request("second", precedence_position=2, urgency=5),
    ]
    assert [r.id for r in rank_order(requests)] == ["urgent", "early", "late", "second", "tier2"]
    weights = rank_weights(requests)
    assert weights == {"urgent": 10, "early": 9, "late": 8, "second": 7, "tier2": 6}


def test_interpretation_sets_duration_and_interpreters() -> None:
    plain = request(talk_minutes=22)
    consecutive = request(
        talk_minutes=45, leader_languages=("am",), interpretation=Interpretation.CONSECUTIVE
    )
    short_simultaneous = request(
        talk_minutes=40, leader_languages=("am",), interpretation=Interpretation.SIMULTANEOUS
    )
    long_simultaneous = dataclasses.replace(short_simultaneous, talk_minutes=41)
    assert (plain.call_minutes, plain.interpreters_needed) == (25, 0)
    assert (consecutive.call_minutes, consecutive.interpreters_needed) == (90, 1)
    assert consecutive.duration_label == "90 min (consecutive interpretation)"
    assert (short_simultaneous.call_minutes, short_simultaneous.interpreters_needed) == (40, 1)
    assert (long_simultaneous.call_minutes, long_simultaneous.interpreters_needed) == (45, 2)


def test_which_interpreters_can_serve_a_request() -> None:
    amharic = request(
        leader_languages=("am",),
        interpretation=Interpretation.CONSECUTIVE,
        principal_languages=("en",),
        talk_minutes=60,
    )
    reverse = Interpreter(id="a", name="A", language_pairs=(("en", "am"),), availability=())
    capped = Interpreter(
        id="b", name="B", language_pairs=(("am", "en"),), availability=(), max_minutes_per_day=90
    )
    french = Interpreter(id="c", name="C", language_pairs=(("fr", "en"),), availability=())
    built = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(amharic,),
        interpreters=(reverse, capped, french),
    )
    assert [i.id for i in built.interpreters_for(amharic)] == ["a"]
    assert capped.interprets(amharic) and not french.interprets(amharic)
    assert built.interpreters_for(request(principal_languages=("fr",))) == ()


def test_grid_runs_from_the_principals_first_midnight_to_the_last() -> None:
    built = problem(
        request("a"),
        request(
            "b", earliest_date=MONDAY + timedelta(days=1), latest_date=MONDAY + timedelta(days=2)
        ),
        time_zone="Asia/Kathmandu",
    )
    assert built.grid.start == datetime(2025, 6, 1, 18, 15, tzinfo=UTC)
    assert built.grid.end == datetime(2025, 6, 4, 18, 15, tzinfo=UTC)
    assert built.grid.slots == 3 * 288
    empty = Problem(principal=Principal(time_zone="UTC"), requests=())
    assert empty.grid.slots == 0


# Objective values.


def test_inversions_score_and_moves_of_a_plan() -> None:
    a = request("a", precedence_position=1, confirmed_start=at(MONDAY, 9))
    b = request("b", precedence_position=2)
    c = request("c", precedence_position=3, confirmed_start=at(MONDAY, 15))
    built = problem(a, b, c)
    plan = [
        Assignment("c", at(MONDAY, 9), at(MONDAY, 9, 30)),
        Assignment("b", at(MONDAY, 10), at(MONDAY, 10, 30)),
        Assignment("a", at(MONDAY, 11), at(MONDAY, 11, 30)),
    ]
    assert precedence_inversions(built, plan) == 3
    assert precedence_inversions(built, plan[1:]) == 1
    assert weighted_score(built, plan) == 6 + 5 + 4
    assert confirmed_moves(built, plan) == 2
    assert confirmed_moves(built, [Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 30))]) == 1


# The checker must catch what it claims to check.


def test_checker_accepts_a_valid_schedule() -> None:
    built = problem(request("a"), request("b", precedence_position=2), buffer_minutes=10)
    plan = [
        Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 30)),
        Assignment("b", at(MONDAY, 9, 40), at(MONDAY, 10, 10)),
    ]
    assert check_schedule(built, schedule(plan)) == []


@pytest.mark.parametrize(
    ("plan", "unscheduled", "expected"),
    [
        ([], [], "a: neither scheduled nor explained"),
        (
            [Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 30))],
            [Unscheduled("a", Reason.CROWDED_OUT, "x")],
            "a: appears 2 times",
        ),
        ([Assignment("zz", at(MONDAY, 9), at(MONDAY, 9, 30))], [], "zz: not a request"),
        ([], [Unscheduled("a", Reason.CROWDED_OUT, "")], "left out without a reason"),
        ([Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 45))], [], "needs 30 min"),
        ([Assignment("a", at(MONDAY, 9, 1), at(MONDAY, 9, 31))], [], "off the grid"),
        ([Assignment("a", at(MONDAY, 5), at(MONDAY, 5, 30))], [], "outside the leader's hours"),
        (
            [Assignment("a", at(MONDAY, 21, 45), at(MONDAY, 22, 15))],
            [],
            "outside the principal's window",
        ),
        (
            [
                Assignment(
                    "a", at(MONDAY + timedelta(days=1), 9), at(MONDAY + timedelta(days=1), 9, 30)
                )
            ],
            [],
            "outside 2025-06-02–2025-06-02",
        ),
        (
            [Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 30), ("i1",))],
            [],
            "1 interpreters, needs 0",
        ),
    ],
)
def test_checker_reports_each_kind_of_violation(
    plan: list[Assignment], unscheduled: list[Unscheduled], expected: str
) -> None:
    built = Problem(
        principal=Principal(time_zone="Europe/London"),
        requests=(request("a"),),
        interpreters=(
            Interpreter(id="i1", name="I", language_pairs=(("fr", "en"),), availability=()),
        ),
    )
    violations = check_schedule(built, schedule(plan, unscheduled))
    assert any(expected in v for v in violations), violations


def test_checker_reports_days_off_busy_blocks_buffers_and_caps() -> None:
    bastille = date(2025, 7, 14)
    holiday = problem(request("a", earliest_date=bastille, latest_date=bastille))
    plan = [Assignment("a", at(bastille, 9), at(bastille, 9, 30))]
    assert any("holiday or weekend in FR" in v for v in check_schedule(holiday, schedule(plan)))

    busy = TimeWindow(at(MONDAY, 9, 15), at(MONDAY, 9, 45))
    crowded = problem(
        request("a"),
        request("b"),
        request("c"),
        busy=(busy,),
        buffer_minutes=15,
        max_calls_per_day=2,
    )
    plan = [
        Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 30)),
        Assignment("b", at(MONDAY, 10), at(MONDAY, 10, 30)),
        Assignment("c", at(MONDAY, 10, 40), at(MONDAY, 11, 10)),
    ]
    violations = check_schedule(crowded, schedule(plan))
    assert any("overlaps a busy block" in v for v in violations)
    assert any("b and c: less than 15 min apart" in v for v in violations)
    assert any("3 calls, more than the cap of 2" in v for v in violations)


def test_checker_reports_interpreter_faults() -> None:
    needs = {
        "leader_languages": ("de",),
        "principal_languages": ("en",),
        "interpretation": Interpretation.SIMULTANEOUS,
        "leader_country": "DE",
        "leader_time_zone": "Europe/Berlin",
    }
    window = (TimeWindow(at(MONDAY, 8), at(MONDAY, 12)),)
    built = Problem(
        principal=Principal(time_zone="Europe/London"),
        requests=(
            request("a", **needs),
            request("b", **needs),
            request("c", **needs, talk_minutes=60),
        ),
        interpreters=(
            Interpreter(
                id="i1",
                name="I1",
                language_pairs=(("de", "en"),),
                availability=window,
                max_minutes_per_day=45,
            ),
            Interpreter(id="i2", name="I2", language_pairs=(("fr", "en"),), availability=window),
        ),
    )
    plan = [
        Assignment("a", at(MONDAY, 9), at(MONDAY, 9, 30), ("i1",)),
        Assignment("b", at(MONDAY, 9, 15), at(MONDAY, 9, 45), ("i1",)),
        Assignment("c", at(MONDAY, 11, 30), at(MONDAY, 12, 30), ("i2", "i2")),
    ]
    violations = check_schedule(built, schedule(plan))
    for expected in (
        "i1: double-booked on a and b",
        "i1: 60 min on 2025-06-02, cap 45",
        "c: the same interpreter twice",
        "c: i2 lacks the language pair",
        "c: i2 is not available throughout",
    ):
        assert any(expected in v for v in violations), (expected, violations)
