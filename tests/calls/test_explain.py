"""Every left-out request gets a precise reason, the same from the solver and the greedy."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from pouch.calls.availability import compute_availability
from pouch.calls.explain import explain_unscheduled, language_name
from pouch.calls.greedy import schedule_greedily
from pouch.calls.problem import (
    Assignment,
    CallRequest,
    Interpretation,
    Interpreter,
    LocalHours,
    Principal,
    Problem,
    Reason,
    TimeWindow,
    Unscheduled,
    check_schedule,
)
from pouch.calls.solver import SolverOptions, solve

TUESDAY = date(2025, 6, 3)


def at(hour: int, minute: int = 0, day: date = TUESDAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def request(id: str = "r1", position: int = 1, **changes: Any) -> CallRequest:
    fields: dict[str, Any] = {
        "id": id,
        "leader_name": f"Leader {id}",
        "leader_country": "GB",
        "leader_time_zone": "Europe/London",
        "leader_languages": ("en",),
        "earliest_date": TUESDAY,
        "latest_date": TUESDAY,
        "talk_minutes": 30,
        "precedence_tier": 1,
        "precedence_position": position,
        "arrived_at": datetime(2025, 6, 1, tzinfo=UTC),
    }
    fields.update(changes)
    return CallRequest(**fields)


AMHARIC: dict[str, Any] = {
    "leader_country": "ET",
    "leader_time_zone": "Africa/Addis_Ababa",
    "leader_languages": ("am",),
    "principal_languages": ("en",),
    "interpretation": Interpretation.CONSECUTIVE,
}


def abebe(**changes: Any) -> Interpreter:
    fields: dict[str, Any] = {
        "id": "abebe",
        "name": "Abebe",
        "language_pairs": (("am", "en"),),
        "availability": (TimeWindow(at(6), at(18)),),
    }
    fields.update(changes)
    return Interpreter(**fields)


def reasons(problem: Problem) -> list[Unscheduled]:
    """The reasons of both schedulers, checked to agree."""
    by_solver = solve(problem, SolverOptions(time_limit_s=5, num_workers=2))
    by_greedy = schedule_greedily(problem)
    for schedule in (by_solver, by_greedy):
        assert check_schedule(problem, schedule) == []
    assert by_solver.unscheduled == by_greedy.unscheduled
    return list(by_solver.unscheduled)


def only_reason(problem: Problem) -> Unscheduled:
    found = reasons(problem)
    assert len(found) == 1
    return found[0]


def test_leader_on_weekend_or_holiday_every_day_of_the_window() -> None:
    weekend = request(
        leader_country="FR",
        leader_time_zone="Europe/Paris",
        leader_languages=("fr", "en"),
        earliest_date=date(2025, 6, 7),
        latest_date=date(2025, 6, 8),
    )
    bastille = request(
        "r2",
        2,
        leader_country="FR",
        leader_time_zone="Europe/Paris",
        leader_languages=("fr", "en"),
        earliest_date=date(2025, 7, 14),
        latest_date=date(2025, 7, 14),
    )
    first, second = reasons(
        Problem(principal=Principal(time_zone="Europe/London"), requests=(weekend, bastille))
    )
    assert first.reason is Reason.LEADER_DAYS_OFF
    assert first.detail == (
        "leader on holiday or weekend every day of the window "
        "(Sat 2025-06-07 weekend (Saturday), Sun 2025-06-08 weekend (Sunday))"
    )
    assert (
        second.detail
        == "leader on holiday or weekend every day of the window (Mon 2025-07-14 National Day)"
    )


def test_no_common_hour() -> None:
    auckland = request(
        leader_country="NZ", leader_time_zone="Pacific/Auckland", latest_date=date(2025, 6, 5)
    )
    problem = Problem(
        principal=Principal(
            time_zone="America/New_York", daily_window=LocalHours(time(7), time(12))
        ),
        requests=(auckland,),
    )
    found = only_reason(problem)
    assert found.reason is Reason.NO_COMMON_HOUR
    assert found.detail == (
        "no common hour: leader 08:00–20:00 Pacific/Auckland vs principal 07:00–12:00 "
        "America/New_York on the leader's working days from 2025-06-03 to 2025-06-05"
    )


def test_principal_busy_at_every_common_hour() -> None:
    problem = Problem(
        principal=Principal(
            time_zone="UTC",
            daily_window=LocalHours(time(9), time(10)),
            busy=(TimeWindow(at(8), at(9, 30)), TimeWindow(at(9, 20), at(10))),
        ),
        requests=(request(),),
    )
    found = only_reason(problem)
    assert found.reason is Reason.PRINCIPAL_BUSY
    assert found.detail.startswith("principal busy at every common hour: leader 08:00–20:00")


def test_too_long_for_any_common_window() -> None:
    # Berlin 08:00 is 06:00 UTC; the principal stops at 07:30 UTC: 90 minutes in common.
    problem = Problem(
        principal=Principal(time_zone="UTC", daily_window=LocalHours(time(5), time(7, 30))),
        requests=(
            request(
                leader_country="DE",
                leader_time_zone="Europe/Berlin",
                leader_languages=("de",),
                principal_languages=("en",),
                interpretation=Interpretation.CONSECUTIVE,
                talk_minutes=60,
            ),
        ),
        interpreters=(
            Interpreter(
                id="i",
                name="I",
                language_pairs=(("de", "en"),),
                availability=(TimeWindow(at(0), at(23)),),
            ),
        ),
    )
    found = only_reason(problem)
    assert found.reason is Reason.TOO_LONG
    assert found.detail.startswith(
        "duration 120 min (consecutive interpretation) does not fit in any common window "
        "(longest 90 min: leader 08:00–20:00 Europe/Berlin vs principal 05:00–07:30 UTC"
    )


@pytest.mark.parametrize(
    ("interpreters", "expected"),
    [
        ((), "no interpreter for Amharic: none of the 0 interpreters has a pair with English"),
        (
            (abebe(language_pairs=(("ti", "en"),)),),
            "no interpreter for Amharic: none of the 1 interpreters has a pair with English",
        ),
        (
            (abebe(max_minutes_per_day=45),),
            "no interpreter for Amharic can take a 60 min (consecutive interpretation) call "
            "(daily caps: Abebe 45 min)",
        ),
        (
            (abebe(availability=(TimeWindow(at(19), at(21)),)),),
            "no interpreter for Amharic in the window: Abebe not available while the leader "
            "and the principal are",
        ),
    ],
)
def test_no_interpreter(interpreters: tuple[Interpreter, ...], expected: str) -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC"),
        requests=(request(**AMHARIC),),
        interpreters=interpreters,
    )
    found = only_reason(problem)
    assert found.reason is Reason.NO_INTERPRETER
    assert found.detail == expected


def test_crowded_out_by_higher_ranked_calls_names_them() -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC", daily_window=LocalHours(time(9), time(10))),
        requests=(request("r1", 1), request("r2", 2), request("r3", 3)),
    )
    found = only_reason(problem)
    assert found == Unscheduled(
        "r3",
        Reason.CROWDED_OUT,
        "crowded out by higher-ranked calls: every slot it fits is taken "
        "(by calls with Leader r1, Leader r2)",
    )


def test_a_call_crowded_out_partly_by_lower_ranked_ones_says_so() -> None:
    problem = Problem(
        principal=Principal(time_zone="UTC", daily_window=LocalHours(time(9), time(10))),
        requests=(request("top", 1), request("low", 2)),
    )
    availability = compute_availability(problem)
    plan = [Assignment("low", at(9, 15), at(9, 45))]
    (found,) = explain_unscheduled(availability, plan)
    assert found.reason is Reason.CROWDED_OUT
    assert found.detail == (
        "crowded out by other calls, including lower-ranked ones that together weigh more "
        "(with Leader low)"
    )


def test_a_call_left_out_with_room_to_spare_is_not_placed() -> None:
    problem = Problem(principal=Principal(time_zone="UTC"), requests=(request(),))
    (found,) = explain_unscheduled(compute_availability(problem), [])
    assert found.reason is Reason.NOT_PLACED
    assert found.detail == (
        "not placed although 2025-06-03 07:00 UTC is free: the search stopped at its time "
        "limit first"
    )


def test_language_names() -> None:
    assert [language_name(code) for code in ("am", "fr", "xx")] == ["Amharic", "French", "xx"]
